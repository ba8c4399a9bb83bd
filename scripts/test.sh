#!/usr/bin/env bash
# The test suite: installs the test servers if they are missing (scripts/install-test-servers.sh),
# then runs go test on every package. Arguments go to go test, e.g. scripts/test.sh -count=1.
# With CI=true a test that cannot start its server fails instead of being skipped.
set -euo pipefail
shopt -s inherit_errexit

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-test-servers.sh
go test ./... "$@"
