#!/usr/bin/env bash
# One command on a fresh Debian machine: install the Debian packages (Apache,
# Lua 5.1 + WSAPI + Orbit, wrk, curl) and the npm dependencies, build, then run
# Debian's Apache on 127.0.0.1:8080 in front of lwt-sidecar on 127.0.0.1:8070,
# both serving the bundled site (fixtures/httpd-conf/site). Ctrl-C stops both.
#
#   deploy/demo.sh [--port 8080] [--sidecar-port 8070] [-- lwt-sidecar serve options]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-debian-packages.sh

# Node.js 20 or later (package.json "engines"). Debian 13 ships it; on Debian 12
# install it from https://github.com/nodesource/distributions or with nvm.
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(node_major)" -lt 20 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm || true
fi
if [ "$(node_major)" -lt 20 ]; then
  echo "demo: Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none))." >&2
  echo "      Install it from https://github.com/nodesource/distributions, then run deploy/demo.sh again." >&2
  exit 1
fi

# npm ci when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci
fi

npx tsc -p tsconfig.json

exec node deploy/demo.js "$@"
