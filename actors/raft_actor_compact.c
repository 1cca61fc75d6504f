/*  raft_actor_compact.c -- when the raft actor compacts the log.
*/
#include "raft_actor_int.h"

/* Log compaction (chapter 5):
   - by count (off if compact_entries is 0): once compact_entries applied
     entries are in the log beyond the compact_trailing most recent ones,
     drop them;
   - by memory (off if compact_bytes is 0): the log is held in memory, so
     once its entries hold compact_bytes of data, drop applied entries
     until at most a quarter of that, and at most compact_trailing
     entries, of applied data stays (the quarter leaves room to grow
     before the next compaction, so large values do not compact at every
     write; and at most every S_MEM_COMPACT_MS, for when unapplied entries
     alone hold that much and each turn could free only a few).
   - under the space alarm: every applied entry but the compact_trailing
     most recent ones, at most every S_ALARM_COMPACT_MS, so that the log
     gives its share of the space back without waiting for the count.
   The state machine in LevelDB is the snapshot, so nothing is copied:
   storage records the new base and deletes the entries in one synced
   batch. */
#define S_MEM_COMPACT_MS 100
#define S_ALARM_COMPACT_MS 1000

void
ra_maybe_compact (ra_self_t *self)
{
    raft_status_t st;
    raft_status (self->r, &st);
    raft_index_t keep = self->args.compact_trailing;
    raft_index_t to = 0;
    if (self->args.compact_entries && st.applied > keep &&
        st.applied - keep - st.base_index >= self->args.compact_entries)
        to = st.applied - keep;
    int64_t now = zclock_mono ();
    if (self->quota.alarm && st.applied > keep &&
        st.applied - keep > st.base_index &&
        now - self->alarm_compacted >= S_ALARM_COMPACT_MS) {
        to = st.applied - keep;
        self->alarm_compacted = now;
    }
    if (self->args.compact_bytes && st.log_bytes >= self->args.compact_bytes &&
        st.applied > st.base_index &&
        now - self->mem_compacted >= S_MEM_COMPACT_MS) {
        /* walk back from applied while the kept data stays small */
        raft_index_t from = st.applied;
        size_t kept = 0;
        while (from > st.base_index && st.applied - from < keep) {
            size_t b = raft_log_bytes (self->r, from - 1, from);
            if (kept + b > self->args.compact_bytes / 4)
                break;
            kept += b;
            from--;
        }
        if (from > to) {
            to = from;
            self->mem_compacted = now;
        }
    }
    if (to <= st.base_index || raft_compact (self->r, to) != RAFT_OK)
        return;
    raft_status (self->r, &st);
    msg_store_t c = {.kind = MSG_STORE_COMPACT};
    c.base = (raft_entry_t){
        .index = st.base_index,
        .term = st.base_term,
        .type = RAFT_ENTRY_CONF,
        .data = raft_buf_new (raft_base_conf (self->r), sizeof (raft_conf_t))};
    ra_store_send (self, &c);
    raft_buf_unref (c.base.data);
    metrics_add (METRICS_COMPACTIONS, 1);
}
