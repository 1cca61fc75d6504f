#!/usr/bin/env bash
# Install the Debian packages a target needs, if any are missing.
#   deploy/deps.sh build    compiler and tools for `make` and `make test`
# Uses sudo when not root. Does nothing when everything is present.
set -euo pipefail
case "${1:-build}" in
build) pkgs=(gcc make binutils libc6-dev pkg-config libmsgpack-dev libczmq-dev
       libzmq3-dev libcivetweb-dev libleveldb-dev libjansson-dev curl jq iptables) ;;
*) echo "deps.sh: unknown set '$1'" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps.sh: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
