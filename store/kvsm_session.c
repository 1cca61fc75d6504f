/*  kvsm_session.c -- client sessions of the KV state machine
    (kvsm_session.h). Pure: no clock but the stamps in the log.
*/
#include "kvsm_session.h"

#include <stdlib.h>
#include <string.h>

kvsm_sessions_t *
kvsm_sessions_new (void)
{
    return calloc (1, sizeof (kvsm_sessions_t));
}

void
kvsm_session_clear (kvsm_session_t *s)
{
    for (size_t i = 0; i < s->n_replies; i++)
        kvsm_result_clear (&s->replies[i].res);
    free (s->replies);
    memset (s, 0, sizeof *s);
}

void
kvsm_sessions_destroy (kvsm_sessions_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    kvsm_sessions_t *t = *self_p;
    for (size_t i = 0; i < t->n; i++)
        kvsm_session_clear (&t->v[i]);
    free (t->v);
    free (t);
    *self_p = NULL;
}

int
kvsm_reply_copy (kvsm_result_t *dst, const kvsm_result_t *src)
{
    memset (dst, 0, sizeof *dst);
    dst->status = src->status;
    dst->op = src->op;
    dst->succeeded = src->succeeded;
    if (!src->n_resps)
        return 0;
    dst->resps = calloc (src->n_resps, sizeof *dst->resps);
    if (!dst->resps)
        return -1;
    dst->n_resps = src->n_resps;
    for (size_t i = 0; i < src->n_resps; i++) {
        dst->resps[i] = src->resps[i];
        raft_buf_ref (src->resps[i].key);
        if (src->resps[i].value)
            raft_buf_ref (src->resps[i].value);
    }
    return 0;
}

static int
s_session_copy (kvsm_session_t *d, const kvsm_session_t *s)
{
    *d = *s;
    d->replies = NULL;
    d->n_replies = 0;
    if (!s->n_replies)
        return 0;
    d->replies = calloc (s->n_replies, sizeof *d->replies);
    if (!d->replies)
        return -1;
    for (size_t i = 0; i < s->n_replies; i++) {
        d->n_replies = i + 1;
        d->replies[i].seq = s->replies[i].seq;
        d->replies[i].index = s->replies[i].index;
        if (kvsm_reply_copy (&d->replies[i].res, &s->replies[i].res) != 0)
            return -1;
    }
    return 0;
}

kvsm_sessions_t *
kvsm_sessions_dup (const kvsm_sessions_t *self)
{
    kvsm_sessions_t *t = kvsm_sessions_new ();
    if (!t)
        return NULL;
    t->clock_ms = self->clock_ms;
    if (self->n) {
        t->v = calloc (self->n, sizeof *t->v);
        if (!t->v) {
            kvsm_sessions_destroy (&t);
            return NULL;
        }
        t->cap = self->n;
    }
    for (size_t i = 0; i < self->n; i++) {
        t->n = i + 1;
        if (s_session_copy (&t->v[i], &self->v[i]) != 0) {
            kvsm_sessions_destroy (&t);
            return NULL;
        }
    }
    return t;
}

static bool
s_buf_eq (const raft_buf_t *a, const raft_buf_t *b)
{
    if (!a || !b)
        return a == b;
    return a->len == b->len && (!a->len || !memcmp (a->data, b->data, a->len));
}

static bool
s_reply_eq (const kvsm_result_t *a, const kvsm_result_t *b)
{
    if (a->status != b->status || a->op != b->op ||
        a->succeeded != b->succeeded || a->n_resps != b->n_resps)
        return false;
    for (size_t i = 0; i < a->n_resps; i++) {
        const kvsm_resp_t *x = &a->resps[i], *y = &b->resps[i];
        if (x->op != y->op || x->found != y->found ||
            memcmp (&x->meta, &y->meta, sizeof x->meta) ||
            !s_buf_eq (x->key, y->key) || !s_buf_eq (x->value, y->value))
            return false;
    }
    return true;
}

bool
kvsm_sessions_eq (const kvsm_sessions_t *a, const kvsm_sessions_t *b)
{
    if (a->clock_ms != b->clock_ms || a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        const kvsm_session_t *x = &a->v[i], *y = &b->v[i];
        if (x->id != y->id || x->ttl_ms != y->ttl_ms ||
            x->last_ms != y->last_ms || x->acked != y->acked ||
            x->n_replies != y->n_replies)
            return false;
        for (size_t j = 0; j < x->n_replies; j++)
            if (x->replies[j].seq != y->replies[j].seq ||
                x->replies[j].index != y->replies[j].index ||
                !s_reply_eq (&x->replies[j].res, &y->replies[j].res))
                return false;
    }
    return true;
}

/* The position of id in t->v, or where it would go. */
static size_t
s_pos (const kvsm_sessions_t *t, uint64_t id)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->v[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

kvsm_session_t *
kvsm_sessions_find (const kvsm_sessions_t *self, uint64_t id)
{
    size_t i = s_pos (self, id);
    return i < self->n && self->v[i].id == id ? &self->v[i] : NULL;
}

int
kvsm_sessions_insert (kvsm_sessions_t *self, kvsm_session_t *s)
{
    size_t i = s_pos (self, s->id);
    if ((i < self->n && self->v[i].id == s->id) ||
        self->n >= KVSM_SESSIONS_MAX) {
        kvsm_session_clear (s);
        return -1;
    }
    if (self->n == self->cap) {
        size_t cap = self->cap ? 2 * self->cap : 8;
        kvsm_session_t *v = realloc (self->v, cap * sizeof *v);
        if (!v) {
            kvsm_session_clear (s);
            return -1;
        }
        self->v = v;
        self->cap = cap;
    }
    memmove (&self->v[i + 1], &self->v[i], (self->n - i) * sizeof *self->v);
    self->v[i] = *s;
    self->n++;
    memset (s, 0, sizeof *s);
    return 0;
}

/* Note that session id changed (for the caller's storage). */
static int
s_touch (kvsm_result_t *res, uint64_t id)
{
    for (size_t i = 0; i < res->n_sessions_touched; i++)
        if (res->sessions_touched[i] == id)
            return 0;
    uint64_t *v = realloc (res->sessions_touched,
                           (res->n_sessions_touched + 1) * sizeof *v);
    if (!v)
        return -1;
    res->sessions_touched = v;
    v[res->n_sessions_touched++] = id;
    return 0;
}

static int
s_remove (kvsm_sessions_t *t, size_t i, kvsm_result_t *res)
{
    uint64_t id = t->v[i].id;
    kvsm_session_clear (&t->v[i]);
    memmove (&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof *t->v);
    t->n--;
    return s_touch (res, id);
}

static bool
s_due (const kvsm_sessions_t *t, const kvsm_session_t *s)
{
    /* last + ttl < clock, without overflow (ttl is bounded at SOPEN) */
    return t->clock_ms > s->last_ms && t->clock_ms - s->last_ms > s->ttl_ms;
}

int
kvsm_session_stamp (kvsm_sessions_t *t, uint64_t stamp_ms, kvsm_result_t *res)
{
    /* The clock every replica sees: the max of the stamps in the log, so
       a new leader whose clock is behind does not turn it back. */
    if (stamp_ms > t->clock_ms) {
        t->clock_ms = stamp_ms;
        res->clock_changed = true;
    }
    /* Bounded work per entry, in id order: the scan of the table is in
       memory (at most KVSM_SESSIONS_MAX compares); what is written is at
       most EXPIRE_PER_ENTRY sessions. */
    unsigned expired = 0;
    for (size_t i = 0; i < t->n && expired < KVSM_SESSION_EXPIRE_PER_ENTRY;) {
        if (s_due (t, &t->v[i])) {
            if (s_remove (t, i, res) != 0)
                return -1;
            expired++;
        } else {
            i++;
        }
    }
    return 0;
}

int
kvsm_session_open (kvsm_sessions_t *t, raft_index_t index, uint64_t ttl_ms,
                   kvsm_result_t *res)
{
    res->op = KVSM_SOPEN;
    res->succeeded = true;
    if (t->n >= KVSM_SESSIONS_MAX) {
        res->status = KVSM_SESSION_LIMIT;
        res->succeeded = false;
        return 0;
    }
    /* the decoder bounds it; the state machine does too, whatever the
       caller built */
    if (ttl_ms == 0 || ttl_ms > KVSM_SESSION_TTL_MAX_MS)
        ttl_ms = KVSM_SESSION_TTL_DEFAULT_MS;
    kvsm_session_t s = {.id = index, .ttl_ms = ttl_ms, .last_ms = t->clock_ms};
    if (kvsm_sessions_insert (t, &s) != 0)
        return -1; /* index is new: only memory can fail */
    res->session = index;
    res->ttl_ms = ttl_ms;
    return s_touch (res, index);
}

int
kvsm_session_close (kvsm_sessions_t *t, uint64_t id, kvsm_result_t *res)
{
    res->op = KVSM_SCLOSE;
    res->session = id;
    size_t i = s_pos (t, id);
    if (i >= t->n || t->v[i].id != id) {
        res->status = KVSM_SESSION_EXPIRED;
        return 0;
    }
    res->succeeded = true;
    return s_remove (t, i, res);
}

static kvsm_reply_t *
s_kept (kvsm_session_t *s, uint64_t seq)
{
    for (size_t i = 0; i < s->n_replies; i++)
        if (s->replies[i].seq == seq)
            return &s->replies[i];
    return NULL;
}

/* Drop the kept replies the client has seen (seq <= ack, §6.3). */
static void
s_ack (kvsm_session_t *s, uint64_t ack)
{
    if (ack <= s->acked)
        return;
    s->acked = ack;
    size_t o = 0;
    for (size_t i = 0; i < s->n_replies; i++) {
        if (s->replies[i].seq <= ack)
            kvsm_result_clear (&s->replies[i].res);
        else
            s->replies[o++] = s->replies[i];
    }
    s->n_replies = o;
}

int
kvsm_session_check (kvsm_sessions_t *t, const kvsm_cmd_t *cmd,
                    kvsm_result_t *res, kvsm_session_t **sp, bool *dup)
{
    *sp = NULL;
    *dup = false;
    size_t i = s_pos (t, cmd->session);
    if (i >= t->n || t->v[i].id != cmd->session) {
        res->status = KVSM_SESSION_EXPIRED;
        return 1;
    }
    if (s_due (t, &t->v[i])) {
        /* the sweep's bound may not have reached it: the session named
           expires now whatever the bound */
        res->status = KVSM_SESSION_EXPIRED;
        return s_remove (t, i, res) == 0 ? 1 : -1;
    }
    kvsm_session_t *s = &t->v[i];
    if (cmd->seq == 0 || cmd->seq <= s->acked) {
        res->status = KVSM_SESSION_STALE;
        return 1;
    }
    /* ack < seq: the client cannot have seen the reply of this one */
    uint64_t ack = cmd->ack < cmd->seq ? cmd->ack : cmd->seq - 1;
    s->last_ms = t->clock_ms;
    if (s_touch (res, s->id) != 0)
        return -1;
    s_ack (s, ack);
    kvsm_reply_t *k = s_kept (s, cmd->seq);
    if (k) {
        /* §6.3: the first reply, and nothing applied again */
        kvsm_result_t r;
        if (kvsm_reply_copy (&r, &k->res) != 0)
            return -1;
        *dup = true;
        *sp = s;
        res->status = r.status;
        res->op = r.op;
        res->succeeded = r.succeeded;
        res->resps = r.resps;
        res->n_resps = r.n_resps;
        res->duplicate = true;
        res->first_index = k->index;
        return 1;
    }
    if (cmd->seq - s->acked > KVSM_SESSION_KEPT_MAX) {
        res->status = KVSM_SESSION_WINDOW;
        return 1;
    }
    *sp = s;
    return 0;
}

int
kvsm_session_record (kvsm_sessions_t *t, uint64_t id, uint64_t seq,
                     raft_index_t index, kvsm_result_t *res)
{
    kvsm_session_t *s = kvsm_sessions_find (t, id);
    if (!s || s_kept (s, seq))
        return 0; /* kept already: the first reply stays */
    kvsm_reply_t *v =
        realloc (s->replies, (s->n_replies + 1) * sizeof *s->replies);
    if (!v)
        return -1;
    s->replies = v;
    /* by seq: a window lets seqs apply out of order */
    size_t i = s->n_replies;
    while (i > 0 && v[i - 1].seq > seq) {
        v[i] = v[i - 1];
        i--;
    }
    v[i].seq = seq;
    v[i].index = index;
    s->n_replies++;
    if (kvsm_reply_copy (&v[i].res, res) != 0) {
        memmove (&v[i], &v[i + 1], (s->n_replies - i - 1) * sizeof *v);
        s->n_replies--;
        return -1;
    }
    return 0;
}
