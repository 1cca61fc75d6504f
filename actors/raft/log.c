/*  log.c -- the in-memory Raft log.

    The log holds entries (base_index, last]. The base is the last entry
    covered by a snapshot (0/0 until snapshots exist), so that compaction can
    move it later without reshaping the rest: every lookup goes through the
    base, and the term at the base stays known (Figure 3.1's prevLogTerm for
    the first entry after it; §5.1).
*/
#include "raft_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void
raft_log_init (raft_log_t *log, raft_index_t base_index, raft_term_t base_term)
{
    memset (log, 0, sizeof *log);
    log->base_index = base_index;
    log->base_term = base_term;
}

void
raft_log_fini (raft_log_t *log)
{
    for (size_t i = 0; i < log->n; i++)
        raft_buf_unref (log->entries[i].data);
    free (log->entries);
    memset (log, 0, sizeof *log);
}

raft_index_t
raft_log_last_index (const raft_log_t *log)
{
    return log->base_index + log->n;
}

raft_term_t
raft_log_last_term (const raft_log_t *log)
{
    return log->n ? log->entries[log->n - 1].term : log->base_term;
}

raft_term_t
raft_log_term_at (const raft_log_t *log, raft_index_t index)
{
    if (index == log->base_index)
        return log->base_term;
    if (index < log->base_index || index > raft_log_last_index (log))
        return 0;
    return log->entries[index - log->base_index - 1].term;
}

raft_entry_t *
raft_log_entry (const raft_log_t *log, raft_index_t index)
{
    if (index <= log->base_index || index > raft_log_last_index (log))
        return NULL;
    return &log->entries[index - log->base_index - 1];
}

int
raft_log_append (raft_log_t *log, const raft_entry_t *e)
{
    assert (e->index == raft_log_last_index (log) + 1);
    assert (e->term >= raft_log_last_term (log));
    if (log->n == log->cap)
        log->entries = raft_vec_grow (log->entries, &log->cap, log->n + 1,
                                      sizeof *log->entries);
    log->entries[log->n] = *e;
    if (e->data) {
        raft_buf_ref (e->data);
        log->bytes += e->data->len;
    }
    log->n++;
    return 0;
}

void
raft_log_truncate (raft_log_t *log, raft_index_t from)
{
    assert (from > log->base_index);
    while (raft_log_last_index (log) >= from) {
        log->n--;
        if (log->entries[log->n].data)
            log->bytes -= log->entries[log->n].data->len;
        raft_buf_unref (log->entries[log->n].data);
        log->entries[log->n].data = NULL;
    }
}

raft_index_t
raft_log_term_start (const raft_log_t *log, raft_index_t index)
{
    raft_term_t term = raft_log_term_at (log, index);
    while (index > log->base_index + 1 &&
           raft_log_term_at (log, index - 1) == term)
        index--;
    return index;
}

raft_index_t
raft_log_last_of_term (const raft_log_t *log, raft_term_t term)
{
    /* Terms never decrease along the log, so scan back until below term. */
    for (raft_index_t i = raft_log_last_index (log); i > log->base_index; i--) {
        raft_term_t t = raft_log_term_at (log, i);
        if (t == term)
            return i;
        if (t < term)
            return 0;
    }
    return 0;
}

void
raft_log_compact (raft_log_t *log, raft_index_t index)
{
    assert (index > log->base_index && index <= raft_log_last_index (log));
    size_t drop = (size_t)(index - log->base_index);
    raft_term_t term = raft_log_term_at (log, index);
    for (size_t i = 0; i < drop; i++) {
        if (log->entries[i].data)
            log->bytes -= log->entries[i].data->len;
        raft_buf_unref (log->entries[i].data);
    }
    memmove (log->entries, log->entries + drop,
             (log->n - drop) * sizeof *log->entries);
    log->n -= drop;
    log->base_index = index;
    log->base_term = term;
}

void
raft_log_reset (raft_log_t *log, raft_index_t index, raft_term_t term)
{
    for (size_t i = 0; i < log->n; i++) {
        raft_buf_unref (log->entries[i].data);
        log->entries[i].data = NULL;
    }
    log->n = 0;
    log->bytes = 0;
    log->base_index = index;
    log->base_term = term;
}

size_t
raft_log_bytes_between (const raft_log_t *log, raft_index_t from,
                        raft_index_t to)
{
    size_t sum = 0;
    for (raft_index_t i = from + 1; i <= to; i++) {
        const raft_entry_t *e = raft_log_entry (log, i);
        if (e && e->data)
            sum += e->data->len;
    }
    return sum;
}
