/*  trickle.c -- slow HTTP clients against one nsxd node, and how /health
    answers meanwhile.

        trickle HOST PORT [--clients N] [--mode body|headers]
                [--seconds S] [--probe-every-ms MS] [--probe-timeout-ms MS]
                [--max-probe-ms MS]

    Opens N connections at once. body mode: each sends the headers of a
    POST /kv/put announcing a 100,000-byte body, then one byte of it a
    second. headers mode: each sends "GET /health HTTP/1.1\r\n", then one
    byte of a never-ending header a second. A thread meanwhile asks
    GET /health on a new connection every MS (default 100), each within
    --probe-timeout-ms (default 2000), starting once every slow client is
    connected. After S seconds (default 10) it prints what became of the
    slow clients (the server's status codes, or closed without an answer,
    or still open) and the probes' latencies, and exits 1 if a probe failed
    or took longer than --max-probe-ms (if given). Everything it does is
    bounded by S plus one probe timeout.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_CLIENTS 4096
#define S_MAX_PROBES 100000

static struct sockaddr_in s_addr;
static int s_probe_every = 100, s_probe_timeout = 2000;
static volatile int s_stop;
static volatile int s_start_probes;
static double s_lat[S_MAX_PROBES];
static int s_n_probes, s_failed;

static int64_t
s_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* One GET /health on a new connection: its latency in ms, or -1. */
static double
s_probe (void)
{
    int64_t t0 = s_now_us ();
    int64_t deadline = t0 + (int64_t)s_probe_timeout * 1000;
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    const char req[] = "GET /health HTTP/1.1\r\nHost: x\r\nConnection: "
                       "close\r\n\r\n";
    bool sent = false;
    char buf[8192];
    size_t got = 0;
    double rc = -1;
    if (connect (fd, (struct sockaddr *)&s_addr, sizeof s_addr) != 0 &&
        errno != EINPROGRESS)
        goto done;
    while (true) {
        int64_t left = (deadline - s_now_us ()) / 1000;
        if (left <= 0)
            goto done;
        struct pollfd p = {.fd = fd, .events = sent ? POLLIN : POLLOUT};
        if (poll (&p, 1, (int)left) <= 0)
            continue;
        if (!sent) {
            if (send (fd, req, sizeof req - 1, MSG_NOSIGNAL) !=
                (ssize_t)sizeof req - 1)
                goto done;
            sent = true;
            continue;
        }
        ssize_t n = recv (fd, buf + got, sizeof buf - 1 - got, 0);
        if (n < 0 && errno == EAGAIN)
            continue;
        if (n <= 0)
            break; /* closed: the whole response is in */
        got += (size_t)n;
        if (got == sizeof buf - 1)
            break;
    }
    buf[got] = 0;
    if (strncmp (buf, "HTTP/1.1 200", 12) == 0)
        rc = (double)(s_now_us () - t0) / 1000.0;
done:
    close (fd);
    return rc;
}

static void *
s_prober (void *arg)
{
    (void)arg;
    while (!s_start_probes && !s_stop)
        usleep (1000);
    while (!s_stop && s_n_probes < S_MAX_PROBES) {
        int64_t t0 = s_now_us ();
        double ms = s_probe ();
        if (ms < 0)
            s_failed++;
        else
            s_lat[s_n_probes++] = ms;
        int64_t spent = (s_now_us () - t0) / 1000;
        if (spent < s_probe_every)
            usleep ((useconds_t)(s_probe_every - spent) * 1000);
    }
    return NULL;
}

static int
s_cmp (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    int fd;
    bool connected;
    bool closed;
    int status; /* the server's answer, 0: none */
    size_t sent;
} s_client_t;

int
main (int argc, char **argv)
{
    if (argc < 3) {
        fprintf (stderr, "usage: trickle HOST PORT [--clients N] [--mode "
                         "body|headers] [--seconds S] [--probe-every-ms MS] "
                         "[--probe-timeout-ms MS] [--max-probe-ms MS]\n");
        return 2;
    }
    int clients = 200, seconds = 10;
    double max_probe = -1;
    bool body_mode = true;
    s_addr.sin_family = AF_INET;
    s_addr.sin_port = htons ((uint16_t)atoi (argv[2]));
    if (inet_pton (AF_INET, argv[1], &s_addr.sin_addr) != 1) {
        fprintf (stderr, "trickle: %s is not an IPv4 address\n", argv[1]);
        return 2;
    }
    for (int i = 3; i + 1 < argc; i += 2) {
        if (strcmp (argv[i], "--clients") == 0)
            clients = atoi (argv[i + 1]);
        else if (strcmp (argv[i], "--mode") == 0)
            body_mode = strcmp (argv[i + 1], "headers") != 0;
        else if (strcmp (argv[i], "--seconds") == 0)
            seconds = atoi (argv[i + 1]);
        else if (strcmp (argv[i], "--probe-every-ms") == 0)
            s_probe_every = atoi (argv[i + 1]);
        else if (strcmp (argv[i], "--probe-timeout-ms") == 0)
            s_probe_timeout = atoi (argv[i + 1]);
        else if (strcmp (argv[i], "--max-probe-ms") == 0)
            max_probe = atof (argv[i + 1]);
    }
    if (clients < 1 || clients > S_MAX_CLIENTS || seconds < 1) {
        fprintf (stderr, "trickle: 1..%d clients, at least 1 second\n",
                 S_MAX_CLIENTS);
        return 2;
    }
    static s_client_t c[S_MAX_CLIENTS];
    const char *head =
        body_mode ? "POST /kv/put HTTP/1.1\r\nHost: x\r\nContent-Type: "
                    "application/json\r\nContent-Length: 100000\r\n\r\n"
                  : "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    size_t head_len = strlen (head);
    for (int i = 0; i < clients; i++) {
        c[i].fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (c[i].fd < 0) {
            perror ("trickle: socket");
            return 2;
        }
        int one = 1;
        setsockopt (c[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect (c[i].fd, (struct sockaddr *)&s_addr, sizeof s_addr) != 0 &&
            errno != EINPROGRESS) {
            c[i].closed = true;
        }
    }
    pthread_t prober;
    pthread_create (&prober, NULL, s_prober, NULL);
    int64_t start = s_now_us ();
    int64_t end = start + (int64_t)seconds * 1000000;
    int64_t next_tick = start;
    static struct pollfd pfd[S_MAX_CLIENTS];
    while (s_now_us () < end) {
        int64_t now = s_now_us ();
        bool tick = now >= next_tick;
        if (tick)
            next_tick += 1000000;
        /* Once a second each connected client sends: first its whole head,
           then one more byte. */
        int connected = 0;
        for (int i = 0; i < clients; i++) {
            if (c[i].closed)
                continue;
            if (!c[i].connected) {
                int err = 0;
                socklen_t el = sizeof err;
                struct pollfd p = {.fd = c[i].fd, .events = POLLOUT};
                if (poll (&p, 1, 0) == 1 &&
                    getsockopt (c[i].fd, SOL_SOCKET, SO_ERROR, &err, &el) ==
                        0) {
                    if (err)
                        c[i].closed = true;
                    else
                        c[i].connected = true;
                }
            }
            if (!c[i].connected || c[i].closed)
                continue;
            connected++;
            if (c[i].sent == 0) {
                if (send (c[i].fd, head, head_len, MSG_NOSIGNAL) ==
                    (ssize_t)head_len)
                    c[i].sent = head_len;
            } else if (tick) {
                if (send (c[i].fd, "a", 1, MSG_NOSIGNAL) == 1)
                    c[i].sent++;
            }
        }
        if (connected + 0 >= clients)
            s_start_probes = 1;
        if (now - start > 2000000)
            s_start_probes = 1; /* some never connected: probe anyway */
        /* Answers and closes from the server. */
        int n = 0;
        int idx[S_MAX_CLIENTS];
        for (int i = 0; i < clients; i++)
            if (c[i].connected && !c[i].closed) {
                pfd[n] = (struct pollfd){.fd = c[i].fd, .events = POLLIN};
                idx[n++] = i;
            }
        int wait = (int)((next_tick - s_now_us ()) / 1000);
        if (wait > 20)
            wait = 20;
        if (wait < 0)
            wait = 0;
        if (poll (pfd, (nfds_t)n, wait) <= 0)
            continue;
        for (int k = 0; k < n; k++) {
            if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            s_client_t *cl = &c[idx[k]];
            char buf[4096];
            ssize_t r = recv (cl->fd, buf, sizeof buf - 1, 0);
            if (r > 0) {
                buf[r] = 0;
                if (!cl->status && strncmp (buf, "HTTP/1.", 7) == 0)
                    cl->status = atoi (buf + 9);
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                cl->closed = true;
            }
        }
    }
    s_stop = 1;
    pthread_join (prober, NULL);
    /* What became of the slow clients. */
    int statuses[600] = {0}, closed_silent = 0, open = 0, never = 0;
    for (int i = 0; i < clients; i++) {
        if (c[i].status > 0 && c[i].status < 600)
            statuses[c[i].status]++;
        else if (!c[i].connected)
            never++;
        else if (c[i].closed)
            closed_silent++;
        else
            open++;
        close (c[i].fd);
    }
    printf ("trickle: %d slow clients (%s, 1 byte/s) for %d s:", clients,
            body_mode ? "body" : "headers", seconds);
    for (int s = 0; s < 600; s++)
        if (statuses[s])
            printf (" %d answered %d;", statuses[s], s);
    printf (" %d closed without an answer; %d still open; %d never "
            "connected\n",
            closed_silent, open, never);
    qsort (s_lat, (size_t)s_n_probes, sizeof s_lat[0], s_cmp);
    double p50 = s_n_probes ? s_lat[s_n_probes / 2] : -1;
    double p99 = s_n_probes ? s_lat[(s_n_probes * 99) / 100] : -1;
    double mx = s_n_probes ? s_lat[s_n_probes - 1] : -1;
    printf ("trickle: /health probes: %d answered 200, %d failed (%d ms "
            "timeout); latency ms p50 %.2f p99 %.2f max %.2f\n",
            s_n_probes, s_failed, s_probe_timeout, p50, p99, mx);
    bool ok =
        s_failed == 0 && s_n_probes > 0 && (max_probe < 0 || mx <= max_probe);
    return ok ? 0 : 1;
}
