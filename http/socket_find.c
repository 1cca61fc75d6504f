/*  socket_find.c -- see socket_find.h.
*/
#include "socket_find.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Whether a (from getpeername or getsockname) has port, and ip if given. */
static bool
s_matches (const struct sockaddr_storage *a, const char *ip, int port)
{
    char text[INET6_ADDRSTRLEN];
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)a;
        if (ntohs (v4->sin_port) != port)
            return false;
        return !ip || (inet_ntop (AF_INET, &v4->sin_addr, text, sizeof text) &&
                       strcmp (text, ip) == 0);
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)a;
        if (ntohs (v6->sin6_port) != port)
            return false;
        return !ip ||
               (inet_ntop (AF_INET6, &v6->sin6_addr, text, sizeof text) &&
                strcmp (text, ip) == 0);
    }
    return false;
}

int
http_socket_find (const char *peer_ip, int peer_port, int local_port)
{
    DIR *d = opendir ("/proc/self/fd");
    if (!d)
        return -1;
    int found = -1;
    struct dirent *e;
    while (found < 0 && (e = readdir (d)) != NULL) {
        char *end;
        long fd = strtol (e->d_name, &end, 10);
        if (*end || end == e->d_name || fd < 0 || fd == dirfd (d))
            continue;
        struct sockaddr_storage a;
        socklen_t len = sizeof a;
        if (getsockname ((int)fd, (struct sockaddr *)&a, &len) != 0 ||
            !s_matches (&a, NULL, local_port))
            continue;
        len = sizeof a;
        if (getpeername ((int)fd, (struct sockaddr *)&a, &len) == 0 &&
            s_matches (&a, peer_ip, peer_port))
            found = (int)fd;
    }
    closedir (d);
    return found;
}
