#!/usr/bin/env bash
# Debian packages the sidecar's tests, demo and benchmarks use: the real Apache
# (mod_proxy, mod_cgi), C Lua 5.1 with WSAPI 1.6.1 and Orbit as the oracle, wrk
# for load. Idempotent; skips apt when everything is present.
#   --list   print the package names and exit
set -euo pipefail
pkgs=(apache2 lua5.1 lua-wsapi lua-orbit lua-filesystem lua-coxpcall wrk curl)
if [ "${1:-}" = "--list" ]; then echo "${pkgs[*]}"; exit 0; fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
