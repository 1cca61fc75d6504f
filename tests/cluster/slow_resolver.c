/*  slow_resolver.c -- a name server that does not answer, for one name
    suffix, preloaded into nsxd by tests/cluster/http_security_test.sh
    (LD_PRELOAD=build/slow_resolver.so):

        getaddrinfo ("<anything>.slow.invalid", ...)  sleeps 10 s, then
                                                      fails with EAI_AGAIN
        any other name                                glibc's getaddrinfo

    That is what a lookup does when the configured name server is down
    (five seconds per try, and more tries), without touching the machine's
    resolver configuration. /raft/join must answer within its deadline
    anyway.
*/
#include <dlfcn.h>
#include <netdb.h>
#include <string.h>
#include <unistd.h>

typedef int (*s_gai_t) (const char *, const char *, const struct addrinfo *,
                        struct addrinfo **);

int
getaddrinfo (const char *node, const char *service,
             const struct addrinfo *hints, struct addrinfo **res)
{
    static const char suffix[] = ".slow.invalid";
    size_t n = node ? strlen (node) : 0;
    if (n >= sizeof suffix - 1 &&
        strcmp (node + n - (sizeof suffix - 1), suffix) == 0) {
        sleep (10);
        return EAI_AGAIN;
    }
    s_gai_t real = (s_gai_t)dlsym (RTLD_NEXT, "getaddrinfo");
    return real ? real (node, service, hints, res) : EAI_SYSTEM;
}
