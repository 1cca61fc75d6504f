/*  peer_keys.c -- see peer_keys.h for the file format, the derivation and
    how the keys are used.
*/
#include "peer_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_PREFIX "nsxd cluster secret v1\n"
#define S_LINE_MAX 4096

typedef struct {
    uint8_t pk[32], sk[32];
} s_pair_t;

typedef struct {
    uint8_t master[crypto_kdf_KEYBYTES];
    s_pair_t self;                            /* this node's member keys */
    s_pair_t monitor, trace;                  /* the monitoring socket's */
    uint8_t preset[PEER_KEYS_PRESET_IDS][32]; /* public key of ids 1.. */
} s_secret_t;

struct peer_keys {
    raft_id_t self_id;
    size_t n;
    s_secret_t *secrets; /* n of them */
    pthread_mutex_t lock;
    /* ids learned beyond the preset range, with their public key per
       secret: learned_pk[i * n + k] */
    raft_id_t *learned;
    uint8_t (*learned_pk)[32];
    size_t n_learned;
};

static void
s_pair (const uint8_t *master, uint64_t subkey, const char ctx[8],
        s_pair_t *out)
{
    uint8_t seed[crypto_box_SEEDBYTES];
    crypto_kdf_derive_from_key (seed, sizeof seed, subkey, ctx, master);
    crypto_box_seed_keypair (out->pk, out->sk, seed);
    sodium_memzero (seed, sizeof seed);
}

static void
s_secret_init (s_secret_t *s, const char *secret, size_t len, raft_id_t self)
{
    memset (s, 0, sizeof *s);
    crypto_generichash_state st;
    crypto_generichash_init (&st, NULL, 0, sizeof s->master);
    crypto_generichash_update (&st, (const uint8_t *)S_PREFIX,
                               strlen (S_PREFIX));
    crypto_generichash_update (&st, (const uint8_t *)secret, len);
    crypto_generichash_final (&st, s->master, sizeof s->master);
    if (self)
        s_pair (s->master, self, "nsxdpeer", &s->self);
    s_pair (s->master, 0, "nsxdmont", &s->monitor);
    s_pair (s->master, 0, "nsxdtrce", &s->trace);
    if (!self)
        return; /* a client: no member table */
    for (uint64_t id = 1; id <= PEER_KEYS_PRESET_IDS; id++) {
        s_pair_t p;
        s_pair (s->master, id, "nsxdpeer", &p);
        memcpy (s->preset[id - 1], p.pk, 32);
        sodium_memzero (p.sk, sizeof p.sk);
    }
}

/* Read the secret lines of path into lines[] (each malloc'ed). */
static int
s_read (const char *path, char **lines, size_t *n, char *err, size_t err_len)
{
    FILE *f = fopen (path, "r");
    if (!f) {
        snprintf (err, err_len, "cannot open %s: %s", path, strerror (errno));
        return -1;
    }
    struct stat st;
    if (fstat (fileno (f), &st) == 0 && (st.st_mode & 077)) {
        snprintf (err, err_len,
                  "%s is readable by others (mode %03o): chmod 600 it", path,
                  (unsigned)(st.st_mode & 0777));
        fclose (f);
        return -1;
    }
    char buf[S_LINE_MAX];
    int rc = 0;
    *n = 0;
    while (rc == 0 && fgets (buf, sizeof buf, f)) {
        size_t len = strlen (buf);
        if (len == sizeof buf - 1 && buf[len - 1] != '\n') {
            snprintf (err, err_len, "%s: a line is too long", path);
            rc = -1;
            break;
        }
        while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
                       buf[len - 1] == ' ' || buf[len - 1] == '\t'))
            buf[--len] = 0;
        size_t skip = strspn (buf, " \t");
        if (buf[skip] == 0 || buf[skip] == '#')
            continue;
        if (len - skip < PEER_KEYS_MIN_SECRET) {
            snprintf (err, err_len,
                      "%s: a secret is shorter than %d characters", path,
                      PEER_KEYS_MIN_SECRET);
            rc = -1;
        } else if (*n == PEER_KEYS_MAX_SECRETS) {
            snprintf (err, err_len, "%s: more than %d secrets", path,
                      PEER_KEYS_MAX_SECRETS);
            rc = -1;
        } else if (!(lines[(*n)++] = strdup (buf + skip))) {
            snprintf (err, err_len, "out of memory");
            rc = -1;
        }
    }
    sodium_memzero (buf, sizeof buf);
    fclose (f);
    if (rc == 0 && *n == 0) {
        snprintf (err, err_len, "%s holds no secret", path);
        rc = -1;
    }
    return rc;
}

peer_keys_t *
peer_keys_load (const char *path, raft_id_t self_id, char *err, size_t err_len)
{
    if (sodium_init () < 0) {
        snprintf (err, err_len, "libsodium failed to initialise");
        return NULL;
    }
    char *lines[PEER_KEYS_MAX_SECRETS] = {0};
    size_t n = 0;
    peer_keys_t *self = NULL;
    if (s_read (path, lines, &n, err, err_len) == 0) {
        self = calloc (1, sizeof *self);
        if (self)
            self->secrets = sodium_malloc (n * sizeof *self->secrets);
        if (!self || !self->secrets) {
            snprintf (err, err_len, "out of memory");
            free (self);
            self = NULL;
        }
    }
    if (self) {
        self->self_id = self_id;
        self->n = n;
        pthread_mutex_init (&self->lock, NULL);
        for (size_t k = 0; k < n; k++)
            s_secret_init (&self->secrets[k], lines[k], strlen (lines[k]),
                           self_id);
        peer_keys_learn (self, self_id);
    }
    for (size_t k = 0; k < n; k++) {
        sodium_memzero (lines[k], strlen (lines[k]));
        free (lines[k]);
    }
    return self;
}

void
peer_keys_destroy (peer_keys_t **self_p)
{
    peer_keys_t *self = *self_p;
    if (!self)
        return;
    sodium_free (self->secrets); /* zeroes it */
    free (self->learned);
    free (self->learned_pk);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

int
peer_keys_generate (const char *path)
{
    if (sodium_init () < 0)
        return -1;
    uint8_t raw[32];
    char hex[sizeof raw * 2 + 1];
    randombytes_buf (raw, sizeof raw);
    sodium_bin2hex (hex, sizeof hex, raw, sizeof raw);
    sodium_memzero (raw, sizeof raw);
    /* Written whole to a temporary file, then linked to path: link fails
       if path exists, so nodes racing on one shared volume agree on one
       file, and a reader never sees it half written. */
    char tmp[4096];
    if (snprintf (tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid ()) >=
        (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    char text[sizeof hex + 64];
    int len =
        snprintf (text, sizeof text,
                  "# nsxd cluster secret: copy to every member\n%s\n", hex);
    int rc = write (fd, text, (size_t)len) == len && fsync (fd) == 0 ? 0 : -1;
    sodium_memzero (hex, sizeof hex);
    sodium_memzero (text, sizeof text);
    close (fd);
    if (rc == 0)
        rc = link (tmp, path);
    int saved = errno;
    unlink (tmp);
    errno = saved;
    return rc;
}

size_t
peer_keys_secrets (const peer_keys_t *self)
{
    return self->n;
}

static void
s_set_server (zsock_t *sock, const s_pair_t *p, const char *domain)
{
    zsock_set_curve_server (sock, 1);
    zsock_set_curve_publickey_bin (sock, p->pk);
    zsock_set_curve_secretkey_bin (sock, p->sk);
    zsock_set_zap_domain (sock, domain);
}

static void
s_set_client (zsock_t *sock, const s_pair_t *p, const uint8_t server[32])
{
    zsock_set_curve_serverkey_bin (sock, server);
    zsock_set_curve_publickey_bin (sock, p->pk);
    zsock_set_curve_secretkey_bin (sock, p->sk);
}

void
peer_keys_serve_peer (const peer_keys_t *self, zsock_t *sock)
{
    s_set_server (sock, &self->secrets[0].self, PEER_KEYS_DOMAIN_PEER);
}

void
peer_keys_connect_peer (const peer_keys_t *self, zsock_t *sock,
                        raft_id_t server, size_t secret)
{
    const s_secret_t *s = &self->secrets[secret < self->n ? secret : 0];
    s_pair_t p;
    s_pair (s->master, server, "nsxdpeer", &p);
    s_set_client (sock, &s->self, p.pk);
    sodium_memzero (&p, sizeof p);
}

void
peer_keys_serve_monitor (const peer_keys_t *self, zsock_t *sock)
{
    s_set_server (sock, &self->secrets[0].monitor, PEER_KEYS_DOMAIN_MONITOR);
}

void
peer_keys_connect_monitor (const peer_keys_t *self, zsock_t *sock,
                           size_t secret)
{
    const s_secret_t *s = &self->secrets[secret < self->n ? secret : 0];
    s_set_client (sock, &s->trace, s->monitor.pk);
}

raft_id_t
peer_keys_member_of (peer_keys_t *self, const uint8_t key[32])
{
    /* Every candidate is compared in full (sodium_memcmp is constant
       time), so how long a refusal takes says nothing about the key. */
    raft_id_t found = 0;
    for (size_t k = 0; k < self->n; k++)
        for (uint64_t id = 1; id <= PEER_KEYS_PRESET_IDS; id++)
            if (sodium_memcmp (self->secrets[k].preset[id - 1], key, 32) == 0)
                found = id;
    pthread_mutex_lock (&self->lock);
    for (size_t i = 0; i < self->n_learned; i++)
        for (size_t k = 0; k < self->n; k++)
            if (sodium_memcmp (self->learned_pk[i * self->n + k], key, 32) == 0)
                found = self->learned[i];
    pthread_mutex_unlock (&self->lock);
    return found;
}

bool
peer_keys_is_trace (peer_keys_t *self, const uint8_t key[32])
{
    bool found = false;
    for (size_t k = 0; k < self->n; k++)
        if (sodium_memcmp (self->secrets[k].trace.pk, key, 32) == 0)
            found = true;
    return found;
}

void
peer_keys_learn (peer_keys_t *self, raft_id_t id)
{
    if (id == 0 || id <= PEER_KEYS_PRESET_IDS)
        return;
    pthread_mutex_lock (&self->lock);
    bool known = false;
    for (size_t i = 0; i < self->n_learned && !known; i++)
        known = self->learned[i] == id;
    if (!known && self->n_learned == 0) {
        self->learned = calloc (PEER_KEYS_MAX_LEARNED, sizeof *self->learned);
        self->learned_pk =
            calloc (PEER_KEYS_MAX_LEARNED * self->n, sizeof *self->learned_pk);
        if (!self->learned || !self->learned_pk) {
            free (self->learned);
            free (self->learned_pk);
            self->learned = NULL;
            self->learned_pk = NULL;
            known = true; /* out of memory: the id stays unknown */
        }
    }
    if (!known && self->n_learned < PEER_KEYS_MAX_LEARNED) {
        size_t i = self->n_learned++;
        self->learned[i] = id;
        for (size_t k = 0; k < self->n; k++) {
            s_pair_t p;
            s_pair (self->secrets[k].master, id, "nsxdpeer", &p);
            memcpy (self->learned_pk[i * self->n + k], p.pk, 32);
            sodium_memzero (&p, sizeof p);
        }
    }
    pthread_mutex_unlock (&self->lock);
}
