#!/usr/bin/env bash
# The test suite. Installs what the tests run against where it is missing
# (scripts/install-test-servers.sh); builds every package's test binary into build/test/ with
# `go test -c`, which relinks only the binaries whose code changed (three of them link the whole
# AWS SDK, about 8 s each, and `go test` would relink all of them on every run); then runs the
# binaries at once, each in its package's directory as `go test` runs it, and prints what
# `go test` prints: the output of the packages that failed, then "ok" or "FAIL" for each.
# Arguments are go test's test flags, given to every binary: scripts/test.sh -run TestDelta -v.
# Outside CI the run is -short: the lifecycle scripts' exhaustive fault matrix (some 230 script
# runs, a third of the suite's CPU) is left to CI; `scripts/test.sh -short=false` runs it too.
# With CI=true everything runs, and a test that cannot start its server fails instead of being
# skipped. `go test ./...` runs every test (and vets them), relinking every time.
set -euo pipefail
shopt -s inherit_errexit

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-test-servers.sh

out=$PWD/build/test
mkdir -p "$out"

# tmpfs_dir: a directory of this user's on /dev/shm where that has room, for the tests' temporary
# files: the lifecycle scripts' tests create and delete some 10,000 small files, and a disk
# file system's bookkeeping for them costs seconds. One fixed directory, so that plan delta's
# extracted bases (under TMPDIR) are found again and not rebuilt.
tmpfs_dir() {
	local dir=/dev/shm/taskmanager-tests-$UID available
	[[ -d /dev/shm && -w /dev/shm ]] || return 1
	available=$(df -Pk /dev/shm | awk 'NR == 2 { print $4 }') || return 1
	((available > 1024 * 1024)) || return 1
	[[ -d $dir ]] || mkdir "$dir" || return 1
	[[ -O $dir && ! -L $dir ]] || return 1
	# Others may pass through, not list: the test servers run as nobody when this is root.
	chmod 711 "$dir" || return 1
	printf '%s' "$dir"
}
if [[ -z ${TMPDIR:-} ]]; then
	if dir=$(tmpfs_dir); then
		export TMPDIR=$dir
	fi
fi

# The binaries' own flag names: -run is -test.run, -v is -test.v.
flags=(-test.paniconexit0 -test.timeout=10m)
if [[ ${CI:-} != true ]]; then
	flags+=(-test.short)
fi
verbose=0
for arg in "$@"; do
	if [[ $arg == -* && $arg != -test.* ]]; then
		arg=-test.${arg#-}
		arg=${arg#-test.-}
	fi
	[[ $arg == -test.v || $arg == -test.v=true ]] && verbose=1
	flags+=("$arg")
done

listing=$(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{"\t"}}{{.Dir}}{{end}}' ./...)
packages=() dirs=()
while IFS=$'\t' read -r package dir; do
	packages+=("$package") dirs+=("$dir")
done <<<"$listing"

# One go command for all: it builds in parallel, and names each binary after its package's last
# element (two packages with tests may not share one).
go test -c -o "$out/" "${packages[@]}"

# run I: package I's binary, its output in <name>.log, "<exit code> <microseconds>" in <name>.result.
run() {
	local name=${packages[$1]##*/} start code=0
	start=${EPOCHREALTIME/./}
	(cd "${dirs[$1]}" && exec "$out/$name.test" "${flags[@]}") >"$out/$name.log" 2>&1 || code=$?
	printf '%d %d\n' "$code" $((${EPOCHREALTIME/./} - start)) >"$out/$name.result"
}

rm -f "$out"/*.result
for i in "${!packages[@]}"; do
	run "$i" &
done
wait

failed=0
for i in "${!packages[@]}"; do
	name=${packages[$i]##*/}
	read -r code micros <"$out/$name.result"
	status=ok
	if ((code != 0)); then
		status=FAIL failed=1
	fi
	if ((code != 0 || verbose)); then
		cat "$out/$name.log"
	fi
	seconds=$((micros / 1000000))
	millis=$((micros / 1000 % 1000))
	printf '%-4s\t%s\t%d.%03ds\n' "$status" "${packages[$i]}" "$seconds" "$millis"
done
exit "$failed"
