#!/usr/bin/env bash
# Builds the Lambda artefacts the Pulumi program deploys. Output:
#   build/rotation/bootstrap     - Secrets Manager rotation function (cmd/rotation-lambda)
#   build/queue-depth/bootstrap  - Celery queue-depth metrics function (cmd/queue-depth-lambda)
#   build/archive-lock/bootstrap - locks the log archive's objects (cmd/archive-lock-lambda)
# All for runtime provided.al2023, architecture arm64, handler bootstrap.
# Run from anywhere; paths are relative to the repository root. build/ is not committed.
set -euo pipefail
shopt -s inherit_errexit

usage() {
	cat <<'EOF'
Usage: scripts/build-lambdas.sh

Builds the functions the Pulumi program deploys (runtime provided.al2023, arm64, handler
bootstrap), each into an emptied directory:
  build/rotation/bootstrap      the Secrets Manager rotation function (cmd/rotation-lambda)
  build/queue-depth/bootstrap   the Celery queue-depth metrics function (cmd/queue-depth-lambda)
  build/archive-lock/bootstrap  the log archive's object lock (cmd/archive-lock-lambda)
Run it before `pulumi preview` or `pulumi up` of any stack; create-environment.sh runs it.
Takes no arguments.

Options:
  -h, --help  this help
EOF
}

case ${1:-} in
-h | --help)
	usage
	exit 0
	;;
"") ;;
*)
	usage >&2
	echo "error: unknown argument $1 (see --help)" >&2
	exit 2
	;;
esac

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# build OUT PACKAGE: OUT/bootstrap from PACKAGE, OUT emptied first.
# provided.al2023 runs an executable named bootstrap; CGO off gives a static binary that needs
# nothing from the image, and lambda.norpc drops the legacy go1.x RPC server.
build() {
	local out=$1 pkg=$2
	rm -rf "$out"
	mkdir -p "$out"
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 \
		go build -tags lambda.norpc -trimpath -ldflags=-s -o "$out/bootstrap" "$pkg"
	echo "built $out/bootstrap"
}

build build/rotation ./cmd/rotation-lambda
build build/queue-depth ./cmd/queue-depth-lambda
build build/archive-lock ./cmd/archive-lock-lambda
