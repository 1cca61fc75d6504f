#!/usr/bin/env bash
# Make the secrets for an nsxd cluster with tokens and TLS, with Debian's
# openssl:
#
#   deploy/gen-secrets.sh DIR [--uid UID] [NAME...]
#
# DIR/ca.pem, ca.key    a new CA (P-256, 10 years); keep ca.key offline
# DIR/node.pem, node.key  one server certificate for every node, signed by
#                       the CA, for the names NAME... (default node1..node4)
#                       plus localhost and 127.0.0.1
# DIR/tokens            the --auth-file: an admin, a write and a read token
#                       (32 random bytes each, hex)
# DIR/admin.token, write.token, read.token
#                       each token alone (for --join-token-file, nsxctl
#                       --token "$(cat ...)", curl)
#
# Keys and tokens are mode 600; --uid UID makes them owned by UID (the
# image's user nsxd is 10001), so that a container running as that user can
# read them (needs root). Existing files are never overwritten.
set -euo pipefail
dir=${1:?usage: gen-secrets.sh DIR [--uid UID] [NAME...]}; shift
uid=""
if [ "${1:-}" = --uid ]; then uid=${2:?--uid needs a number}; shift 2; fi
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(node1 node2 node3 node4)
mkdir -p "$dir"
cd "$dir"
for f in ca.pem node.pem tokens; do
    [ ! -e "$f" ] || { echo "gen-secrets.sh: $dir/$f exists; not overwriting" >&2; exit 1; }
done
umask 077
san="DNS:localhost,IP:127.0.0.1"
for n in "${names[@]}"; do
    if [[ $n =~ ^[0-9.]+$ ]]; then san+=",IP:$n"; else san+=",DNS:$n"; fi
done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout ca.key -out ca.pem -days 3650 -subj "/CN=nsxd cluster CA" \
    -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout node.key -out node.csr -subj "/CN=nsxd node" 2>/dev/null
printf '%s\n' "subjectAltName=$san" "basicConstraints=CA:FALSE" \
    "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth,clientAuth" >node.ext
openssl x509 -req -in node.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -out node.pem -days 825 -extfile node.ext 2>/dev/null
rm -f node.csr node.ext ca.srl
chmod 644 ca.pem node.pem
for role in admin write read; do
    openssl rand -hex 32 >"$role.token"
done
{
    echo "# nsxd tokens: ROLE TOKEN [NAME] (see README, Security)"
    for role in admin write read; do echo "$role $(cat "$role.token") $role"; done
} >tokens
# the server's files go to the server's user; the client copies stay yours
if [ -n "$uid" ]; then chown "$uid" node.key tokens; fi
echo "gen-secrets.sh: $dir: ca.pem node.pem node.key tokens {admin,write,read}.token (names: $san)"
