/*  promcheck_main.c -- `build/promcheck [FILE]`: check a Prometheus text
    exposition (stdin without FILE) with the strict rules of promcheck.h.
    Prints "promcheck: ok, N lines" or "promcheck: line N: ...", exit
    status 0 or 1. tests/cluster/cluster_test.sh runs it on every node's
    GET /metrics.
*/
#include "promcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main (int argc, char **argv)
{
    FILE *f = argc > 1 ? fopen (argv[1], "rb") : stdin;
    if (!f) {
        perror (argv[1]);
        return 2;
    }
    size_t cap = 1 << 16, len = 0, n;
    char *buf = malloc (cap + 1);
    while (buf && (n = fread (buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            cap *= 2;
            buf = realloc (buf, cap + 1);
        }
    }
    if (!buf)
        return 2;
    buf[len] = 0;
    char err[512];
    int rc = promcheck (buf, len, err, sizeof err);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += buf[i] == '\n';
    if (rc == 0)
        printf ("promcheck: ok, %zu lines\n", lines);
    else
        printf ("promcheck: %s\n", err);
    free (buf);
    return rc == 0 ? 0 : 1;
}
