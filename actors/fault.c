/*  fault.c -- see fault.h.
*/
#include "fault.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef NSXD_PLANTED_BUG
#define NSXD_PLANTED_BUG 0
#endif
/* -DNSXD_PLANTED_BUG=9 (fault_drop_one_way, caught by test_faults): a drop
   "both" cuts only the messages this node sends; what the peer sends
   still arrives. */
#define S_BUG_DROP_ONE_WAY (NSXD_PLANTED_BUG == 9)

struct fault {
    bool enabled;
    atomic_bool any;        /* some fault is set: readers look closer */
    atomic_bool stop_asked; /* POST /debug/stop, not yet taken */
    pthread_mutex_t lock;   /* guards st */
    fault_state_t st;
};

fault_t *
fault_new (bool enabled)
{
    fault_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->enabled = enabled;
    atomic_init (&self->any, false);
    atomic_init (&self->stop_asked, false);
    pthread_mutex_init (&self->lock, NULL);
    return self;
}

void
fault_destroy (fault_t **self_p)
{
    fault_t *self = *self_p;
    if (!self)
        return;
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

bool
fault_enabled (const fault_t *self)
{
    return self && self->enabled;
}

bool
fault_any (const fault_t *self)
{
    return self && atomic_load_explicit (&self->any, memory_order_acquire);
}

/* The entry of peer in st->links, added if absent; NULL if full. */
static fault_link_t *
s_link (fault_state_t *st, raft_id_t peer, bool add)
{
    for (size_t i = 0; i < st->n_links; i++)
        if (st->links[i].peer == peer)
            return &st->links[i];
    if (!add || st->n_links == RAFT_MAX_SERVERS)
        return NULL;
    fault_link_t *l = &st->links[st->n_links++];
    memset (l, 0, sizeof *l);
    l->peer = peer;
    return l;
}

static bool
s_state_any (const fault_state_t *st)
{
    return st->isolate || st->delay_ms || st->slow_fsync_ms || st->n_links;
}

int
fault_apply (fault_t *self, const fault_cmd_t *cmd)
{
    assert (self && self->enabled);
    int rc = 0;
    pthread_mutex_lock (&self->lock);
    fault_state_t *st = &self->st;
    switch (cmd->action) {
    case FAULT_ISOLATE: st->isolate = true; break;
    case FAULT_DROP: {
        fault_link_t *l = s_link (st, cmd->peer, true);
        if (l)
            l->drop |= (unsigned)cmd->dir;
        else
            rc = -1;
        break;
    }
    case FAULT_DELAY:
        if (cmd->peer == 0) {
            st->delay_ms = cmd->ms;
        } else {
            fault_link_t *l = s_link (st, cmd->peer, true);
            if (l)
                l->delay_ms = cmd->ms;
            else
                rc = -1;
        }
        break;
    case FAULT_SLOW_FSYNC: st->slow_fsync_ms = cmd->ms; break;
    case FAULT_CLEAR: memset (st, 0, sizeof *st); break;
    }
    atomic_store_explicit (&self->any, s_state_any (st), memory_order_release);
    pthread_mutex_unlock (&self->lock);
    return rc;
}

void
fault_get (fault_t *self, fault_state_t *out)
{
    memset (out, 0, sizeof *out);
    if (!self)
        return;
    pthread_mutex_lock (&self->lock);
    *out = self->st;
    pthread_mutex_unlock (&self->lock);
}

bool
fault_drops (fault_t *self, raft_id_t peer, fault_dir_t dir)
{
    if (!fault_any (self))
        return false;
    pthread_mutex_lock (&self->lock);
    bool drop = self->st.isolate;
    if (!drop && peer) {
        fault_link_t *l = s_link (&self->st, peer, false);
        unsigned bits = l ? l->drop : 0;
        if (S_BUG_DROP_ONE_WAY && bits == FAULT_DIR_BOTH)
            bits = FAULT_DIR_OUT;
        drop = (bits & (unsigned)dir) != 0;
    }
    pthread_mutex_unlock (&self->lock);
    return drop;
}

uint32_t
fault_delay_ms (fault_t *self, raft_id_t peer)
{
    if (!fault_any (self))
        return 0;
    pthread_mutex_lock (&self->lock);
    fault_link_t *l = s_link (&self->st, peer, false);
    uint32_t ms = l && l->delay_ms ? l->delay_ms : self->st.delay_ms;
    pthread_mutex_unlock (&self->lock);
    return ms;
}

/* Slices of at most S_SLICE_MS, each after a fresh look at the setting:
   a "clear" (or a shorter slow_fsync) ends a 10 s wait within a slice,
   rather than leaving the disk slow until it is over. */
#define S_SLICE_MS 50

void
fault_fsync_wait (fault_t *self)
{
    for (uint32_t waited = 0;;) {
        if (!fault_any (self))
            return;
        pthread_mutex_lock (&self->lock);
        uint32_t ms = self->st.slow_fsync_ms;
        pthread_mutex_unlock (&self->lock);
        if (waited >= ms)
            return;
        uint32_t slice = ms - waited < S_SLICE_MS ? ms - waited : S_SLICE_MS;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)slice * 1000000L};
        while (nanosleep (&ts, &ts) != 0)
            ; /* a signal: sleep the rest */
        waited += slice;
    }
}

void
fault_ask_stop (fault_t *self)
{
    if (self)
        atomic_store (&self->stop_asked, true);
}

bool
fault_take_stop (fault_t *self)
{
    return self && atomic_exchange (&self->stop_asked, false);
}

const char *
fault_dir_name (unsigned dir)
{
    return dir == FAULT_DIR_BOTH  ? "both"
           : dir == FAULT_DIR_OUT ? "out"
           : dir == FAULT_DIR_IN  ? "in"
                                  : "none";
}
