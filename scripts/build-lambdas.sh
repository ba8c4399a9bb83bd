#!/usr/bin/env bash
# Builds the Lambda artefacts the Pulumi program deploys. Output:
#   build/rotation/bootstrap  - Secrets Manager rotation function
#                               (runtime provided.al2023, architecture arm64, handler bootstrap)
# Run from anywhere; paths are relative to the repository root. build/ is not committed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=build/rotation
rm -rf "$out"
mkdir -p "$out"

# provided.al2023 runs an executable named bootstrap; CGO off gives a static binary that needs
# nothing from the image, and lambda.norpc drops the legacy go1.x RPC server.
CGO_ENABLED=0 GOOS=linux GOARCH=arm64 \
	go build -tags lambda.norpc -trimpath -ldflags=-s -o "$out/bootstrap" ./cmd/rotation-lambda

echo "built $out/bootstrap"
