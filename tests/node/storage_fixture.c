/*  storage_fixture.c -- see storage_fixture.h. */
#include "storage_fixture.h"
#include "check.h"
#include "log.h"
#include "rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rng_t s_rng; /* seeded by sf_init: TEST_SEED replays a run */
uint64_t
sf_rand (void)
{
    return rng_next (&s_rng);
}

const char *
sf_dir (const char *name)
{
    return fixture_path (name);
}

raft_conf_t
sf_conf (void)
{
    raft_conf_t c;
    memset (&c, 0, sizeof c);
    c.n = 3;
    for (uint32_t i = 0; i < c.n; i++) {
        c.servers[i].id = i + 1;
        c.servers[i].voter = true;
        snprintf (c.servers[i].addr, RAFT_ADDR_MAX,
                  "tcp://127.0.0.%u:9000 127.0.0.%u:8000", i + 1, i + 1);
    }
    return c;
}

/* The transport's PULL for "after", when a test binds one; else NULL. */
const char *sf_send_ep;

void
sf_start (sf_node_t *n, const char *dir, const raft_conf_t *bootstrap)
{
    storage_args_t args = {
        .data_dir = dir, .bootstrap = bootstrap, .send_endpoint = sf_send_ep};
    CHECK (fixture_storage_start (n, &args) == 0);
}

void
sf_stop (sf_node_t *n)
{
    fixture_storage_stop (n);
}

void
sf_send (sf_node_t *n, const msg_store_t *m)
{
    zmsg_t *zm = msg_store_encode (m);
    CHECK (zm != NULL);
    zmsg_send (&zm, n->pair);
}

void
sf_send_raw (sf_node_t *n, const void *data, size_t len)
{
    zmsg_t *zm = zmsg_new ();
    zmsg_addmem (zm, data, len);
    zmsg_send (&zm, n->pair);
}

/* How many "usage" reports sf_recv passed over, and the last one. */
size_t sf_usage_seen;
static uint64_t s_usage_bytes;

/* 0 and *m (clear it), or -1 on timeout or a malformed reply. "usage"
   comes unasked (after writes, at most every S_USAGE_MS): noted and
   skipped, so that each test sees the replies it asked for. */
int
sf_recv (sf_node_t *n, msg_store_t *m)
{
    for (;;) {
        memset (m, 0, sizeof *m);
        zmsg_t *zm = zmsg_recv (n->pair);
        if (!zm)
            return -1;
        int rc = msg_store_decode (zm, m);
        zmsg_destroy (&zm);
        if (rc != 0 || m->kind != MSG_STORE_USAGE)
            return rc;
        sf_usage_seen++;
        s_usage_bytes = m->db_bytes;
        msg_store_clear (m);
    }
}

bool
sf_recv_kind (sf_node_t *n, msg_store_t *m, msg_store_kind_t kind)
{
    if (sf_recv (n, m) != 0)
        return false;
    if (m->kind == kind)
        return true;
    fprintf (stderr, "expected message kind %d, got %d\n", kind, m->kind);
    msg_store_clear (m);
    return false;
}

/* Start and take "boot" into *boot (clear it). */
bool
sf_boot (sf_node_t *n, const char *dir, const raft_conf_t *bootstrap,
         msg_store_t *boot)
{
    sf_start (n, dir, bootstrap);
    return sf_recv_kind (n, boot, MSG_STORE_BOOT);
}

raft_entry_t
sf_kv_entry (raft_term_t term, raft_index_t index, msg_kv_op_t op,
             const char *key, const char *value)
{
    msg_kv_t cmd = {.op = op,
                    .key = raft_buf_new (key, strlen (key)),
                    .value =
                        value ? raft_buf_new (value, strlen (value)) : NULL};
    raft_entry_t e = {.term = term,
                      .index = index,
                      .type = RAFT_ENTRY_NORMAL,
                      .data = msg_kv_encode (&cmd)};
    msg_kv_clear (&cmd);
    return e;
}

/* count NORMAL entries from index first, term term, each a put of
   "k<index>" = "v<index>" */
raft_entry_t *
sf_entries (raft_term_t term, raft_index_t first, size_t count)
{
    raft_entry_t *es = calloc (count, sizeof *es);
    for (size_t i = 0; i < count; i++) {
        char k[32], v[32];
        snprintf (k, sizeof k, "k%llu", (unsigned long long)(first + i));
        snprintf (v, sizeof v, "v%llu", (unsigned long long)(first + i));
        es[i] = sf_kv_entry (term, first + i, MSG_KV_PUT, k, v);
    }
    return es;
}

void
sf_entries_free (raft_entry_t *es, size_t count)
{
    for (size_t i = 0; i < count; i++)
        raft_buf_unref (es[i].data);
    free (es);
}

bool
sf_entry_equal (const raft_entry_t *a, const raft_entry_t *b)
{
    if (a->term != b->term || a->index != b->index || a->type != b->type)
        return false;
    if (!a->data || !b->data)
        return !a->data && !b->data;
    return a->data->len == b->data->len &&
           memcmp (a->data->data, b->data->data, a->data->len) == 0;
}

/* Send a write and wait for its "persisted". */
bool
sf_write (sf_node_t *n, uint64_t seq, bool hs_changed, raft_term_t term,
          raft_id_t vote, raft_entry_t *entries, size_t count)
{
    msg_store_t w = {.kind = MSG_STORE_WRITE,
                     .seq = seq,
                     .hs_changed = hs_changed,
                     .hs = {term, vote},
                     .entries = entries,
                     .n_entries = count};
    sf_send (n, &w);
    msg_store_t r;
    if (!sf_recv_kind (n, &r, MSG_STORE_PERSISTED))
        return false;
    bool ok = r.seq == seq;
    msg_store_clear (&r);
    return ok;
}

void
sf_get (sf_node_t *n, uint64_t req_id, const char *key)
{
    raft_buf_t *k = raft_buf_new (key, strlen (key));
    msg_store_t g = {.kind = MSG_STORE_GET, .req_id = req_id, .key = k};
    sf_send (n, &g);
    raft_buf_unref (k);
}

/* Get and check the answer: value NULL means "not found". */
bool
sf_get_is (sf_node_t *n, uint64_t req_id, const char *key, const char *value)
{
    sf_get (n, req_id, key);
    msg_store_t r;
    if (!sf_recv_kind (n, &r, MSG_STORE_VALUE))
        return false;
    bool ok = r.req_id == req_id && r.found == (value != NULL);
    if (ok && value)
        ok = r.value && r.value->len == strlen (value) &&
             memcmp (r.value->data, value, r.value->len) == 0;
    if (ok && !value)
        ok = r.value == NULL;
    msg_store_clear (&r);
    return ok;
}

uint64_t
sf_dropped (sf_node_t *n)
{
    uint64_t count = UINT64_MAX;
    zstr_send (n->actor, "DROPPED");
    zsock_recv (n->actor, "8", &count);
    return count;
}

int
sf_init (const char *name)
{
    /* the tests provoke warnings on purpose */
    log_init (0, (log_level_t)(LOG_LEVEL_ERROR + 1));
    check_watchdog (name, 120);
    if (!fixture_tmpdir (name))
        return -1;
    rng_seed_from_env (&s_rng, name, 0x9e3779b97f4a7c15ULL);
    return 0;
}

int
sf_done (void)
{
    fixture_tmpdir_remove ();
    return check_report ();
}
