#!/usr/bin/env bash
# Install the Debian packages a target needs, if any are missing.
#   deploy/deps.sh build    compilers and tools for `make` and `make test`
#   deploy/deps.sh promtool build/tools/promtool, from Debian's prometheus
#                           package, unpacked, not installed (no daemon);
#                           never fails: the tests say SKIPPED without it
#   deploy/deps.sh etcd     build/tools/etcd, from Debian's etcd-server
#                           package, unpacked, not installed (no service),
#                           for make bench
# Uses sudo when not root. Does nothing when everything is present.
set -euo pipefail
# unpack PACKAGE BINARY: build/tools/BINARY from the package's
# /usr/bin/BINARY, without installing the package.
unpack() {
    local pkg=$1 bin=$2 dest=build/tools/$2
    [ -x "$dest" ] && return 0
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    fetch() { (cd "$tmp" && apt-get download "$pkg" >/dev/null 2>&1); }
    if ! fetch; then
        sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
        $sudo apt-get update -q >/dev/null 2>&1 || true
        fetch || return 1
    fi
    dpkg-deb -x "$tmp"/"$pkg"_*.deb "$tmp/x"
    mkdir -p "$(dirname "$dest")"
    cp "$tmp/x/usr/bin/$bin" "$dest"
    echo "deps.sh: $("$dest" --version 2>&1 | head -1) in $dest"
}
if [ "${1:-}" = promtool ]; then
    unpack prometheus promtool ||
        echo "deps.sh: could not fetch promtool (prometheus package); its check is skipped"
    exit 0
fi
if [ "${1:-}" = etcd ]; then
    unpack etcd-server etcd || { echo "deps.sh: could not fetch etcd-server" >&2; exit 1; }
    exit 0
fi
case "${1:-build}" in
# libssl-dev: OpenSSL's headers for nsxd's TLS and tokens, and the
# unversioned libcrypto.so / libssl.so that civetweb dlopens for HTTPS
# (nsxd's build/nsxd-tls/ shims stand in for them: http/tls_compat.c);
# openssl: deploy/gen-secrets.sh and the tests' certificates; libsodium-dev:
# the peer keys (actors/peer_keys.c); clang and libclang-rt-14-dev
# (libFuzzer, ASan, UBSan): the fuzz harnesses that make test runs
# (make fuzz-ci); xxd: the /ui page's files compiled in (http/ui/embed.sh);
# chromium and nodejs: the page's test in a real browser (make ui, headless
# chromium driven through the DevTools protocol by tests/ui/cdp.js).
build) pkgs=(gcc make binutils libc6-dev pkg-config libmsgpack-dev libczmq-dev
       libzmq3-dev libcivetweb-dev libleveldb-dev libjansson-dev libssl-dev
       libsodium-dev openssl curl jq iptables wrk clang libclang-rt-14-dev
       xxd chromium nodejs) ;;
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
