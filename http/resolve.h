/*  resolve.h -- a host name resolved within a deadline.

    getaddrinfo () blocks for as long as the system's resolver takes (five
    seconds and more per try for a name server that does not answer), and a
    request must not outlive its deadline: each lookup runs getaddrinfo in a
    detached thread of its own, and the caller waits for it at most until
    the deadline. A lookup abandoned at the deadline finishes in the
    background and frees what it found. At most HTTP_RESOLVE_MAX_PENDING
    lookups run at once, so a name server that never answers cannot make
    threads pile up.
*/
#ifndef HTTP_RESOLVE_H_INCLUDED
#define HTTP_RESOLVE_H_INCLUDED

#include <netdb.h>

#define HTTP_RESOLVE_MAX_PENDING 16

/* Resolve host (a name or a numeric IPv4/IPv6 address) and port for TCP,
   waiting at most timeout_ms. 0 with *res (free it with freeaddrinfo), or
   -1 with *why: "cannot resolve the host", "name lookup timed out",
   "too many name lookups in progress". */
int http_resolve (const char *host, int port, int timeout_ms,
                  struct addrinfo **res, const char **why);

#endif
