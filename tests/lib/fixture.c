/*  fixture.c -- start-up helpers for the node tests (see fixture.h).
*/
#include "fixture.h"
#include "store_format.h"

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char s_root[128];

const char *
fixture_tmpdir (const char *name)
{
    snprintf (s_root, sizeof s_root, "/tmp/%s.XXXXXX", name);
    if (!mkdtemp (s_root)) {
        perror ("fixture_tmpdir: mkdtemp");
        s_root[0] = '\0';
        return NULL;
    }
    return s_root;
}

const char *
fixture_path (const char *name)
{
    static char path[256];
    snprintf (path, sizeof path, "%s/%s", s_root, name);
    return path;
}

static int
s_remove (const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove (path);
}

int
fixture_rmtree (const char *path)
{
    return nftw (path, s_remove, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

void
fixture_tmpdir_remove (void)
{
    if (s_root[0])
        fixture_rmtree (s_root);
    s_root[0] = '\0';
}

const char *
fixture_endpoint (char *buf, size_t size, const char *name)
{
    static int n;
    snprintf (buf, size, "inproc://test-%s-%d-%d", name, (int)getpid (), ++n);
    return buf;
}

zsock_t *
fixture_pair (const char *endpoint, int rcvtimeo_ms, int sndtimeo_ms)
{
    zsock_t *pair = zsock_new (ZMQ_PAIR);
    if (!pair)
        return NULL;
    zsock_set_rcvtimeo (pair, rcvtimeo_ms);
    zsock_set_sndtimeo (pair, sndtimeo_ms);
    if (zsock_connect (pair, "%s", endpoint) != 0)
        zsock_destroy (&pair);
    return pair;
}

raft_entry_t
fixture_conf_entry (raft_index_t index, raft_term_t term, uint32_t n)
{
    raft_conf_t c;
    memset (&c, 0, sizeof c);
    c.n = n;
    for (uint32_t i = 0; i < n; i++) {
        c.servers[i].id = i + 1;
        c.servers[i].voter = true;
        snprintf (c.servers[i].addr, RAFT_ADDR_MAX,
                  "tcp://127.0.0.1:%u 127.0.0.1:%u", 9001 + i, 8001 + i);
    }
    return (raft_entry_t){.index = index,
                          .term = term,
                          .type = RAFT_ENTRY_CONF,
                          .data = raft_buf_new (&c, sizeof c)};
}

long
fixture_damage_table (const char *dir, char *path, size_t size)
{
    char table[600] = "";
    off_t biggest = 0;
    DIR *d = opendir (dir);
    struct dirent *e;
    while (d && (e = readdir (d))) {
        char p[520];
        struct stat sb;
        snprintf (p, sizeof p, "%s/%.300s", dir, e->d_name);
        if (strstr (e->d_name, ".ldb") && stat (p, &sb) == 0 &&
            sb.st_size > biggest) {
            biggest = sb.st_size;
            snprintf (table, sizeof table, "%s", p);
        }
    }
    if (d)
        closedir (d);
    FILE *f = biggest ? fopen (table, "r+b") : NULL;
    if (!f)
        return 0;
    fseek (f, (long)(biggest / 2), SEEK_SET);
    int c = fgetc (f);
    fseek (f, (long)(biggest / 2), SEEK_SET);
    fputc (c ^ 0x20, f);
    fclose (f);
    if (path)
        snprintf (path, size, "%s", table);
    return (long)biggest;
}

zmsg_t *
fixture_zmsg (const void *data, size_t len)
{
    zmsg_t *zm = zmsg_new ();
    zmsg_addmem (zm, data, len);
    return zm;
}

int
fixture_storage_start (fixture_storage_t *f, const storage_args_t *args)
{
    storage_args_t a = *args;
    if (a.endpoint)
        snprintf (f->endpoint, sizeof f->endpoint, "%s", a.endpoint);
    else
        a.endpoint =
            fixture_endpoint (f->endpoint, sizeof f->endpoint, "storage");
    /* zactor_new returns once the actor signalled: args are read by then */
    f->actor = zactor_new (storage_actor, &a);
    f->pair = fixture_pair (f->endpoint, 10000, -1);
    return f->actor && f->pair ? 0 : -1;
}

void
fixture_storage_stop (fixture_storage_t *f)
{
    zsock_destroy (&f->pair);
    zactor_destroy (&f->actor);
}

int
fixture_kv_open (kv_shared_t *shared, const char *dir)
{
    char *err = NULL;
    store_t *st = store_open (dir, &err);
    if (!st) {
        fprintf (stderr, "fixture_kv_open: %s: %s\n", dir, err ? err : "?");
        free (err);
        return -1;
    }
    atomic_store_explicit (&shared->store, st, memory_order_release);
    return 0;
}

char *
fixture_record (const char *value, size_t *len)
{
    size_t vl = strlen (value);
    char *r = malloc (STORE_REC_HEADER + vl + 1);
    if (!r)
        abort ();
    store_rec_header (r, 0, 0, 0);
    memcpy (r + STORE_REC_HEADER, value, vl + 1);
    *len = STORE_REC_HEADER + vl;
    return r;
}

int
fixture_kv_put (kv_shared_t *shared, const char *key, const char *value)
{
    store_t *st = atomic_load_explicit (&shared->store, memory_order_acquire);
    if (!st)
        return -1;
    store_batch_t *b = store_batch_new ();
    store_batch_set_gen (b, store_gen (st)); /* the live KV data */
    size_t rl;
    char *rec = value ? fixture_record (value, &rl) : NULL;
    if (value)
        store_batch_put_kv (b, key, strlen (key), rec, rl);
    else
        store_batch_del_kv (b, key, strlen (key));
    char *err = NULL;
    int rc = store_write (st, b, true, &err);
    free (rec);
    if (rc != 0) {
        fprintf (stderr, "fixture_kv_put: %s\n", err ? err : "?");
        free (err);
    }
    store_batch_destroy (&b);
    return rc;
}

void
fixture_kv_close (kv_shared_t *shared)
{
    store_t *st =
        atomic_exchange_explicit (&shared->store, NULL, memory_order_acq_rel);
    store_close (&st);
}
