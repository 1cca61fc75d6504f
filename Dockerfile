# nsxd: a multi-stage build from debian:bookworm-slim.
# (docker-compose.secure.yml runs it with tokens and TLS.)
#   build stage:   the -dev packages and the compiler; builds nsxd and nsxctl
#   runtime stage: only the shared libraries, a non-root user, data in a
#                  volume, a HEALTHCHECK on /health (through nsxctl, so no
#                  curl in the image)
FROM debian:bookworm-slim AS build
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        gcc make libc6-dev pkg-config libczmq-dev libzmq3-dev libmsgpack-dev \
        libcivetweb-dev libleveldb-dev libjansson-dev libssl-dev libsodium-dev xxd \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY actors actors
COPY msg msg
COPY store store
COPY http http
RUN make build/nsxd build/nsxctl CFLAGS="-O2 -g0" && strip build/nsxd build/nsxctl

FROM debian:bookworm-slim
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        libczmq4 libmsgpackc2 libcivetweb1 libleveldb1d libjansson4 libssl3 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /usr/share/doc/* /usr/share/man/* \
 && useradd --system --uid 10001 --home-dir /var/lib/nsxd --create-home nsxd \
 && install -d -o nsxd -g nsxd -m 0700 /etc/nsxd
COPY --from=build /src/build/nsxd /src/build/nsxctl /usr/local/bin/
COPY deploy/docker-entrypoint.sh /usr/local/bin/nsxd-entrypoint
# HTTPS: civetweb loads "libssl.so" and "libcrypto.so" at run time and
# needs a function OpenSSL 3 dropped; nsxd loads these two small shims
# from ../lib/nsxd/ first (http/tls_compat.c), so no -dev package here.
COPY --from=build /src/build/nsxd-tls/ /usr/local/lib/nsxd/
USER nsxd
WORKDIR /var/lib/nsxd
VOLUME /var/lib/nsxd
# Each container serves HTTP on 8000 and Raft on 9000; compose sets the id,
# the advertised names and the cluster.
# The cluster secret (peer links, the monitoring socket) is read from
# /etc/nsxd; compose shares one volume there and has the first node make it
# (deploy/docker-entrypoint.sh).
ENV NSXD_HTTP_LISTEN=0.0.0.0:8000 \
    NSXD_PEER_LISTEN=tcp://0.0.0.0:9000 \
    NSXD_DATA_DIR=/var/lib/nsxd/data \
    NSXD_PEER_SECRET_FILE=/etc/nsxd/cluster.key
EXPOSE 8000 9000
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
    CMD ["nsxctl", "--endpoints", "127.0.0.1:8000", "--timeout", "2000", "status"]
ENTRYPOINT ["nsxd-entrypoint"]
