/*  equal.h -- byte-for-byte equality of the core's buffers and entries,
    for the tests and the fuzz harnesses that compare what a codec gave
    back with what went in (header-only: the harnesses link no tests/lib
    archive).

        CHECK (equal_buf (out.key, in.key));     NULL equals only NULL
        CHECK (equal_entry (&got, &want));       term, index, type, data
        CHECK (equal_frames (e1, e2));           same frames, same bytes
*/
#ifndef EQUAL_H_INCLUDED
#define EQUAL_H_INCLUDED

#include "raft.h"

#include <czmq.h>

#include <stdbool.h>
#include <string.h>

static inline bool
equal_buf (const raft_buf_t *a, const raft_buf_t *b)
{
    if (!a || !b)
        return a == b;
    return a->len == b->len && memcmp (a->data, b->data, a->len) == 0;
}

static inline bool
equal_entry (const raft_entry_t *a, const raft_entry_t *b)
{
    return a->term == b->term && a->index == b->index && a->type == b->type &&
           equal_buf (a->data, b->data);
}

/* The same number of frames, each of the same bytes. */
static inline bool
equal_frames (zmsg_t *a, zmsg_t *b)
{
    if (zmsg_size (a) != zmsg_size (b))
        return false;
    for (zframe_t *x = zmsg_first (a), *y = zmsg_first (b); x && y;
         x = zmsg_next (a), y = zmsg_next (b))
        if (!zframe_eq (x, y))
            return false;
    return true;
}

#endif
