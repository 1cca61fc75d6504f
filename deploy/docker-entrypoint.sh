#!/bin/sh
# The image's entrypoint: nsxd, after making the cluster secret when asked.
#
# Peer links are authenticated with keys derived from one cluster secret
# that every member shares (README, "Security"). docker-compose.yml mounts
# one volume at /etc/nsxd on every node and sets NSXD_PEER_SECRET_CREATE=1:
# the first node to start writes the secret there (nsxctl keygen creates the
# file with link(2), so racing nodes agree on one), the others read it. A
# deployment across hosts gives every node the same file instead, and leaves
# NSXD_PEER_SECRET_CREATE unset, so that a missing file is an error rather
# than a second cluster secret.
set -e
if [ "${NSXD_PEER_SECRET_CREATE:-0}" = 1 ] && [ -n "${NSXD_PEER_SECRET_FILE:-}" ] &&
    [ ! -f "$NSXD_PEER_SECRET_FILE" ]; then
    nsxctl keygen "$NSXD_PEER_SECRET_FILE" 2>/dev/null || [ -f "$NSXD_PEER_SECRET_FILE" ]
fi
exec nsxd "$@"
