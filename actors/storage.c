/*  storage.c -- the storage actor: LevelDB (store/store.h) behind a PAIR.

    Protocol (the wire format of every PAIR message is msg/msg_store.h):

      pipe, from main:
        "$TERM"      end the actor (the database is closed on the way out)
        "DROPPED"    reply with picture "8": how many malformed messages from
                     the PAIR were dropped so far (for tests and monitoring)

      PAIR (bound on args->endpoint; the raft actor connects), in:
        write        staged; every write waiting together goes into ONE
                     LevelDB batch written with sync (group commit), then
                     ONE "persisted" with the highest seq of the group.
                     Writes must be numbered 1, 2, 3... (as raft_ready
                     numbers them): a gap means a write was lost, and is
                     an error, since "persisted" would vouch for it
        apply        the KV changes and the new applied index, staged in the
                     group's batch (see "Durable in order" below), then
                     "applied" with a result per NORMAL entry
        get          read the KV data as applied so far, then "value"
        compact      record the log's new base and delete the entries up to
                     it, in one synced batch (no answer)
        after        messages to send once every write before them is
                     durable (raft_options_t.async_sends): forwarded to the
                     transport (PUSH to args->send_endpoint) once the group
                     is committed, each only if the log entry it vouches
                     for is still ours (msg_store.h)
        get, compact and snap_read first commit what the group staged
        before them, so each sees every apply that arrived before it.
      PAIR, out:
        boot         first, once: hard state, applied index, the whole log
        persisted, applied, value  as above
        error        storage failed (cannot open, cannot write, an invalid
                     request that would break the log); the actor then stays
                     idle until "$TERM" and the node must stop

      monitor (PUSH to args->monitor_endpoint, never blocking), out:
        slow_fsync   a = microseconds, b = entries, for a synced write
                     slower than args->slow_fsync_ms (msg/msg_trace.h)
      PAIR, out, unasked:
        usage        what the database takes on disk and what the file
                     system has left (actors/storage_space.h): after
                     writes at most every 100 ms, idle every second, when
                     the reading changed. Near the quota, a full LevelDB
                     compaction runs in its own thread once data was
                     deleted, so that the space comes back
      /metrics (actors/metrics.h): the fsync histogram, entries synced and
      applied, and the size of the database directory (as "usage").

    Malformed messages on the PAIR are dropped, counted and logged. Replies
    are queued and sent without blocking: a bound PAIR with no peer yet
    blocks a sender, and an actor never blocks on another (STYLE.md), so
    "boot" waits in the queue until the raft actor has connected.

    The actor's other files: storage_int.h.
*/
#include "storage_int.h"

#include "actor.h"

#include "log.h"
#include "metrics.h"
#include "monitor.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* At most this many messages are taken into one group: bounds the memory
   and the latency of one turn under a flood. */
#define S_GROUP_MAX 1024

/*  ---------------------------------------------------------------------
    Sending                                                              */

void
storage_flush (storage_t *self)
{
    zframe_t *f;
    while (self->pair && (f = zlist_first (self->outbox))) {
        if (zmq_send (zsock_resolve (self->pair), zframe_data (f),
                      zframe_size (f), ZMQ_DONTWAIT) == -1) {
            if (errno == EAGAIN || errno == EINTR)
                return; /* no peer yet, or full: retried on POLLOUT */
            log_error ("storage: send failed (%s); reply dropped",
                       zmq_strerror (errno));
        }
        zlist_remove (self->outbox, f);
        zframe_destroy (&f);
    }
}

zframe_t *
storage_encode (const msg_store_t *m)
{
    zmsg_t *zm = msg_store_encode (m);
    if (!zm) {
        log_error ("storage: cannot encode a reply (kind %d)", (int)m->kind);
        return NULL;
    }
    zframe_t *f = zmsg_pop (zm);
    zmsg_destroy (&zm);
    return f;
}

void
storage_send (storage_t *self, const msg_store_t *m)
{
    zframe_t *f = storage_encode (m);
    if (!f)
        return;
    if (!self->pair) {
        zframe_destroy (&f);
        return;
    }
    zlist_append (self->outbox, f);
    storage_flush (self);
}

/* Storage failed: tell the raft actor (the node must stop) and go idle. */
void
storage_fail (storage_t *self, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (text, sizeof text, fmt, ap);
    va_end (ap);
    log_error ("storage: %s; stopping", text);
    if (self->failed)
        return;
    self->failed = true;
    msg_store_t m = {.kind = MSG_STORE_ERROR, .error = text};
    storage_send (self, &m);
}

/*  ---------------------------------------------------------------------
    Start: open, bootstrap, boot                                         */

/* Open the database, write the bootstrap state into a new one, queue
   "boot". On failure, queue "error" instead. */
static void
s_self_open (storage_t *self, const storage_args_t *args)
{
    char *err = NULL;
    self->store = store_open (args->data_dir, &err);
    if (!self->store) {
        storage_fail (self, "cannot open the database in %s: %s",
                      args->data_dir ? args->data_dir : "(null)", err);
        free (err);
        return;
    }
    store_state_t st;
    if (store_load (self->store, &st, &err) != 0) {
        storage_fail (self, "cannot load %s: %s", args->data_dir, err);
        free (err);
        return;
    }
    if (st.upgraded)
        log_info ("storage: upgraded the database from format 1 to 2: %llu "
                  "KV values became records with an unknown history "
                  "(store_format.h)",
                  (unsigned long long)st.upgraded_keys);
    if (st.fresh) {
        /* A new database: stamp it, and for a founding server write the
           bootstrap entry with term 1, as every founding server does, so
           that Log Matching holds from the start (raft.h). A joining
           server starts empty and learns the log from the leader. */
        raft_hard_state_t hs = {0, 0};
        raft_entry_t e = {0};
        if (args->bootstrap) {
            e = raft_bootstrap_entry (args->bootstrap);
            hs.term = 1;
            if (!raft_entry_conf (&e)) {
                raft_buf_unref (e.data);
                storage_fail (self, "the bootstrap configuration is invalid");
                return;
            }
        }
        int rc =
            store_create (self->store, &hs, &e, args->bootstrap ? 1 : 0, &err);
        raft_buf_unref (e.data);
        if (rc != 0) {
            storage_fail (self, "cannot initialise %s: %s", args->data_dir,
                          err);
            free (err);
            return;
        }
        log_info ("storage: new database in %s%s", args->data_dir,
                  args->bootstrap ? ", bootstrapped" : "");
        /* Boot from what is on disk now, not from what we meant to write. */
        if (store_load (self->store, &st, &err) != 0) {
            storage_fail (self, "cannot load %s: %s", args->data_dir, err);
            free (err);
            return;
        }
    }
    self->base_index = st.base.index;
    self->last_index =
        st.n_entries ? st.entries[st.n_entries - 1].index : st.base.index;
    self->applied = st.applied;
    self->applied_term = st.applied_term;
    for (size_t i = 0; i < st.n_entries; i++)
        if (st.entries[i].index > st.applied &&
            !storage_tail_push (self, &st.entries[i])) {
            storage_fail (self, "out of memory at start");
            store_state_clear (&st);
            return;
        }
    /* Generations older than the current one are garbage: a restart may
       have cut their deletion short (housekeeping goes on with them). */
    for (uint64_t g = store_gen (self->store), k = 1; k <= 2 && g >= k; k++)
        self->cleanup_gen[self->n_cleanup++] = g - k;
    self->space = storage_space_new (self->store, self->quota_bytes);
    if (!self->space) {
        storage_fail (self, "out of memory at start");
        store_state_clear (&st);
        return;
    }
    log_info ("storage: opened %s: term %llu, vote %llu, %zu log entries "
              "(last %llu), applied %llu",
              args->data_dir, (unsigned long long)st.hs.term,
              (unsigned long long)st.hs.vote, st.n_entries,
              (unsigned long long)self->last_index,
              (unsigned long long)self->applied);
    msg_store_t boot = {.kind = MSG_STORE_BOOT,
                        .hs = st.hs,
                        .applied = st.applied,
                        .entries = st.entries,
                        .n_entries = st.n_entries,
                        .base = st.base};
    storage_send (self, &boot);
    store_state_clear (&st);
    if (args->shared)
        atomic_store_explicit (&args->shared->store, self->store,
                               memory_order_release);
    self->shared = args->shared;
}

static void
s_self_destroy (storage_t **self_p)
{
    storage_t *self = *self_p;
    if (!self)
        return;
    /* copies pin LevelDB versions: released before the database closes */
    for (size_t i = 0; i < RAFT_MAX_SERVERS; i++)
        if (self->sending[i].peer)
            storage_session_close (self, i);
    /* a compaction in its thread uses the store: done before it closes */
    storage_space_destroy (&self->space);
    if (self->shared)
        atomic_store_explicit (&self->shared->store, NULL,
                               memory_order_release);
    store_close (&self->store);
    store_batch_destroy (&self->log_batch);
    store_batch_destroy (&self->kv_batch);
    store_batch_destroy (&self->unsynced);
    storage_tail_cut_from (self, 0);
    free (self->tail);
    zhashx_destroy (&self->overlay);
    if (self->held) {
        zframe_t *f;
        while ((f = zlist_pop (self->held)))
            zframe_destroy (&f);
        zlist_destroy (&self->held);
    }
    if (self->outbox) {
        zframe_t *f;
        while ((f = zlist_pop (self->outbox)))
            zframe_destroy (&f);
        zlist_destroy (&self->outbox);
    }
    free (self->group);
    zsock_destroy (&self->pair);
    zsock_destroy (&self->send);
    zsock_destroy (&self->mon);
    free (self);
    *self_p = NULL;
}

static storage_t *
s_self_new (zsock_t *pipe, const storage_args_t *args)
{
    storage_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->pipe = pipe;
    self->quota_bytes = args->quota_bytes;
    self->slow_fsync_us =
        1000 * (int64_t)(args->slow_fsync_ms > 0 ? args->slow_fsync_ms : 0);
    if (args->monitor_endpoint)
        self->mon = monitor_push_new (args->monitor_endpoint);
    self->outbox = zlist_new ();
    self->group = calloc (S_GROUP_MAX, sizeof *self->group);
    self->log_batch = store_batch_new ();
    self->kv_batch = store_batch_new ();
    self->unsynced = store_batch_new ();
    self->overlay = storage_overlay_new ();
    self->held = zlist_new ();
    if (!self->outbox || !self->group || !self->log_batch || !self->kv_batch ||
        !self->unsynced || !self->overlay || !self->held) {
        s_self_destroy (&self);
        return NULL;
    }
    self->pair = zsock_new (ZMQ_PAIR);
    if (self->pair) {
        /* No high-water mark either way (checked: with ours at 0 the
           inproc pipe is unbounded in both directions whatever the raft
           actor sets, in either connect order; with defaults it holds
           2000). A write or apply the raft actor could not queue would be
           lost; replies must not be dropped either. Memory stays bounded
           by the raft actor, which sends one write and one apply per
           batch. */
        zsock_set_sndhwm (self->pair, 0);
        zsock_set_rcvhwm (self->pair, 0);
        if (zsock_bind (self->pair, "%s", args->endpoint) == -1) {
            log_error ("storage: cannot bind %s: %s", args->endpoint,
                       zmq_strerror (errno));
            zsock_destroy (&self->pair);
        }
    }
    if (!self->pair) {
        /* Nobody to tell: main sees the raft actor never boot. */
        self->failed = true;
        return self;
    }
    if (args->send_endpoint) {
        /* Connecting first is fine over inproc (ZeroMQ 4). No high-water
           mark: what goes here is bounded by the raft actor's writes, and
           a dropped acknowledgement would cost a retry, not safety. */
        self->send = zsock_new (ZMQ_PUSH);
        if (self->send) {
            zsock_set_sndhwm (self->send, 0);
            if (zsock_connect (self->send, "%s", args->send_endpoint) == -1)
                zsock_destroy (&self->send);
        }
        if (!self->send)
            log_error ("storage: cannot connect to %s", args->send_endpoint);
    }
    s_self_open (self, args);
    return self;
}

/*  ---------------------------------------------------------------------
    Handlers                                                             */

static void
s_self_handle_pipe (storage_t *self)
{
    zmsg_t *msg = zmsg_recv (self->pipe);
    if (!msg) {
        self->terminated = true; /* interrupted */
        return;
    }
    char *command = zmsg_popstr (msg);
    if (command && streq (command, "$TERM"))
        self->terminated = true;
    else if (command && streq (command, "DROPPED"))
        zsock_send (self->pipe, "8", self->dropped);
    else
        log_warn ("storage: unknown pipe command '%s'", command ? command : "");
    zstr_free (&command);
    zmsg_destroy (&msg);
}

/* Take the message that woke us and every other one already waiting,
   then handle them as one group. */
static void
s_self_handle_pair (storage_t *self)
{
    size_t n = 0, taken = 0;
    do {
        zmsg_t *zm = zmsg_recv (self->pair);
        if (!zm)
            break;
        taken++;
        if (self->failed) {
            zmsg_destroy (&zm); /* stopping: nothing is acted on */
            continue;
        }
        msg_store_t *m = &self->group[n];
        if (msg_store_decode (zm, m) != 0) {
            self->dropped++;
            log_warn ("storage: malformed message dropped (%llu so far)",
                      (unsigned long long)self->dropped);
        } else if (m->kind != MSG_STORE_WRITE && m->kind != MSG_STORE_APPLY &&
                   m->kind != MSG_STORE_AFTER && m->kind != MSG_STORE_GET &&
                   m->kind != MSG_STORE_COMPACT &&
                   m->kind != MSG_STORE_SNAP_READ) {
            self->dropped++;
            log_warn ("storage: unexpected message kind %d dropped (%llu so "
                      "far)",
                      (int)m->kind, (unsigned long long)self->dropped);
            msg_store_clear (m);
        } else {
            n++;
        }
        zmsg_destroy (&zm);
    } while (taken < S_GROUP_MAX && (zsock_events (self->pair) & ZMQ_POLLIN));

    storage_stage_writes (self, n);
    for (size_t i = 0; i < n && !self->failed; i++) {
        msg_store_kind_t kind = self->group[i].kind;
        if (kind == MSG_STORE_APPLY) {
            storage_apply (self, &self->group[i]);
            continue;
        }
        if (kind == MSG_STORE_AFTER) {
            storage_check_after (self, &self->group[i]);
            continue;
        }
        /* the others see every apply before them, durable */
        if ((kind == MSG_STORE_GET || kind == MSG_STORE_COMPACT ||
             kind == MSG_STORE_SNAP_READ) &&
            !storage_commit (self))
            break;
        if (kind == MSG_STORE_GET)
            storage_get (self, &self->group[i]);
        else if (kind == MSG_STORE_COMPACT)
            storage_compact (self, &self->group[i]);
        else if (kind == MSG_STORE_SNAP_READ)
            storage_snap_read (self, &self->group[i]);
    }
    /* the group is durable: what waited on it may go */
    if (storage_commit (self))
        for (size_t i = 0; i < n; i++)
            if (self->group[i].kind == MSG_STORE_AFTER)
                storage_send_after (self, &self->group[i]);
    for (size_t i = 0; i < n; i++)
        msg_store_clear (&self->group[i]);
}

void
storage_actor (zsock_t *pipe, void *args)
{
    /* named for top -H and perf (--sort comm) */
    pthread_setname_np (pthread_self (), "storage");
    storage_t *self = s_self_new (pipe, args);
    if (!self) {
        log_error ("storage: out of memory at start");
        actor_ready (pipe, ACTOR_NO_MEMORY); /* waits for $TERM */
        return;
    }
    /* Ready once the database is open and "boot" (or "error") is queued;
       it leaves as soon as the raft actor's PAIR is there. A database
       that cannot be opened is not a failed start: storage answers
       "error" and the raft actor, which owns the node's verdict, reports
       it (actor.h, "FAILED <reason>"). */
    actor_ready (pipe, 0);

    while (!self->terminated) {
        zmq_pollitem_t items[2] = {
            {zsock_resolve (self->pipe), 0, ZMQ_POLLIN, 0}};
        int n_items = 1;
        if (self->pair) {
            /* While replies wait, read nothing more from the raft actor:
               that is the back-pressure that bounds the outbox. */
            short events = zlist_size (self->outbox) ? ZMQ_POLLOUT : ZMQ_POLLIN;
            items[1] =
                (zmq_pollitem_t){zsock_resolve (self->pair), 0, events, 0};
            n_items = 2;
        }
        int64_t now = zclock_mono ();
        uint64_t db, fs;
        if (self->space && !self->failed &&
            storage_space_poll (self->space, now, &db, &fs)) {
            metrics_set (METRICS_LEVELDB_BYTES, db);
            msg_store_t u = {
                .kind = MSG_STORE_USAGE, .db_bytes = db, .fs_free = fs};
            storage_send (self, &u);
        }
        int wait = self->space ? storage_space_wait_ms (self->space, now) : -1;
        /* Old generations are deleted in steps while nothing else waits. */
        if (self->n_cleanup && (wait < 0 || wait > 5))
            wait = 5;
        int rc = zmq_poll (items, n_items, wait);
        if (rc == -1) {
            if (errno == EINTR)
                continue; /* main owns shutdown: we end on $TERM only */
            log_error ("storage: poll failed: %s", zmq_strerror (errno));
            break;
        }
        if (rc == 0 && !self->failed)
            storage_housekeeping (self);
        if (items[0].revents & ZMQ_POLLIN)
            s_self_handle_pipe (self);
        if (self->terminated || n_items < 2)
            continue;
        if (items[1].revents & ZMQ_POLLOUT)
            storage_flush (self);
        if (items[1].revents & ZMQ_POLLIN)
            s_self_handle_pair (self);
    }
    if (self->dropped)
        log_info ("storage: closing; %llu malformed messages were dropped",
                  (unsigned long long)self->dropped);
    s_self_destroy (&self);
}
