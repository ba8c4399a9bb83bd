#!/usr/bin/env bash
# The test suite. Installs what the tests run against where it is missing
# (scripts/install-test-servers.sh); builds every package's test binary into build/test/ with
# `go test -c`, which relinks only the binaries whose code changed (three of them link the whole
# AWS SDK, about 8 s each, and `go test` would relink all of them on every run); then runs the
# binaries at once, each in its package's directory as `go test` runs it, and prints what
# `go test` prints: the output of the packages that failed, then "ok" or "FAIL" for each.
# Arguments are go test's test flags, given to every binary: scripts/test.sh -run TestDelta -v
# (-run -skip -v -count -short -timeout -parallel -failfast -shuffle -list -bench -benchtime
# -benchmem -cpu). Packages, -race, -cover and build flags are go test's: use it for those.
# The run is -short: outside CI the lifecycle scripts' exhaustive fault matrix (some 230 script
# runs, a third of the suite's CPU) is left out; `scripts/test.sh -short=false` runs it too.
# With CI=true everything runs, and a test that cannot start its server fails instead of being
# skipped. `go test ./...` runs every test (and vets them), relinking every time.
# An interrupted run can leave its temporary files in /dev/shm/taskmanager-tests-$UID.
set -euo pipefail
shopt -s inherit_errexit

cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage_error() {
	printf 'scripts/test.sh: %s\n' "$*" >&2
	printf 'It takes go test'\''s test flags: -run -skip -v -count -short -timeout -parallel -failfast -shuffle -list -bench -benchtime -benchmem -cpu.\n' >&2
	printf 'For packages, -race, -cover or build flags use go test itself, e.g. go test -race ./internal/rotation.\n' >&2
	exit 2
}

# The binaries' own flag names: -run is -test.run, -v is -test.v. Checked before anything runs.
# -short leaves the fault matrix out, except in CI, where the test itself ignores it.
flags=(-test.paniconexit0 -test.timeout=10m -test.short)
show_logs=0
args=("$@")
i=0
while ((i < ${#args[@]})); do
	arg=${args[i]}
	i=$((i + 1))
	[[ $arg == -?* ]] || usage_error "\"$arg\" is not a test flag"
	name=${arg#"${arg%%[!-]*}"}
	name=${name#test.}
	case ${name%%=*} in
	run | skip | count | timeout | parallel | shuffle | list | bench | benchtime | cpu)
		if [[ $name != *=* ]]; then
			((i < ${#args[@]})) || usage_error "-$name needs a value"
			name+="=${args[i]}"
			i=$((i + 1))
		fi
		;;
	v | short | failfast | benchmem) ;;
	*) usage_error "\"$arg\" is not one of the test flags it passes on" ;;
	esac
	# Each binary's own output: all of it for -v, or where benchmarks and listings print.
	case $name in v | v=true | list=* | bench=*) show_logs=1 ;; esac
	flags+=("-test.$name")
done

bash scripts/install-test-servers.sh

out=$PWD/build/test
mkdir -p "$out"

# tmpfs_dir: a directory of this user's on /dev/shm where that has room and lets files run (the
# lifecycle scripts' tests run stubs from there), for the tests' temporary files: those tests
# create and delete some 10,000 small files, and a disk file system's bookkeeping for them costs
# seconds. One fixed directory, so that plan delta's extracted bases (under TMPDIR) are found
# again and not rebuilt.
tmpfs_dir() {
	local dir=/dev/shm/taskmanager-tests-$UID available probe
	[[ -d /dev/shm && -w /dev/shm ]] || return 1
	available=$(df -Pk /dev/shm | awk 'NR == 2 { print $4 }') || return 1
	((available > 1024 * 1024)) || return 1
	[[ -d $dir ]] || mkdir "$dir" || return 1
	if [[ ! -O $dir || -L $dir ]]; then
		printf 'scripts/test.sh: %s is not this user'\''s own directory; temporary files go to /tmp\n' "$dir" >&2
		return 1
	fi
	# Others may pass through, not list: the test servers run as nobody when this is root.
	chmod 711 "$dir" || return 1
	probe=$dir/probe.$$
	printf '#!/bin/sh\n' >"$probe" && chmod 700 "$probe" || return 1
	if ! "$probe" 2>/dev/null; then
		rm -f "$probe"
		return 1 # mounted noexec
	fi
	rm -f "$probe"
	printf '%s' "$dir"
}
if [[ -z ${TMPDIR:-} ]]; then
	if dir=$(tmpfs_dir); then
		export TMPDIR=$dir
	fi
fi

# built: the binaries in $out were built from the module as it is now: no file in it (build/ and
# .git/ aside) and no go env setting has changed, by path, size and time, since the last build.
# Go's own check (go list, then go test -c) takes a second of a warm run; this, some 30 ms.
inputs=$({
	go env
	find . \( -path ./build -o -path ./.git \) -prune -o -type f -printf '%p %s %T@\n' | LC_ALL=C sort
} | sha256sum)
built() {
	local line
	[[ -f $out/.inputs && -f $out/.packages && $(<"$out/.inputs") == "$inputs" ]] || return 1
	while IFS=$'\t' read -r line _; do
		[[ -x $out/${line##*/}.test ]] || return 1
	done <"$out/.packages"
}

if built; then
	listing=$(<"$out/.packages")
else
	rm -f "$out/.inputs"
	listing=$(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{"\t"}}{{.Dir}}{{end}}' ./...)
	printf '%s\n' "$listing" >"$out/.packages"
fi
packages=() dirs=()
while IFS=$'\t' read -r package dir; do
	packages+=("$package") dirs+=("$dir")
done <<<"$listing"

if [[ ! -f $out/.inputs ]]; then
	# One go command for all: it builds in parallel, and names each binary after its package's
	# last element (two packages with tests may not share one).
	go test -c -o "$out/" "${packages[@]}"
	printf '%s' "$inputs" >"$out/.inputs"
fi

# run I: package I's binary, its output in <name>.log, "<exit code> <microseconds>" in <name>.result.
# (EPOCHREALTIME in microseconds: its separator follows the locale.)
run() {
	local name=${packages[$1]##*/} start end code=0
	start=${EPOCHREALTIME//[!0-9]/}
	(cd "${dirs[$1]}" && exec "$out/$name.test" "${flags[@]}") >"$out/$name.log" 2>&1 || code=$?
	end=${EPOCHREALTIME//[!0-9]/}
	printf '%d %d\n' "$code" $((end - start)) >"$out/$name.result"
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
	if ((code != 0 || show_logs)); then
		cat "$out/$name.log"
	fi
	seconds=$((micros / 1000000))
	millis=$((micros / 1000 % 1000))
	printf '%-4s\t%s\t%d.%03ds\n' "$status" "${packages[$i]}" "$seconds" "$millis"
done
exit "$failed"
