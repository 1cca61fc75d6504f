/*  ui_feed.h -- what the /ui page's browsers are sent (issue 16): the
    server-sent events the relay (ui_relay.c) makes of every member's
    trace events and states, held for the HTTP workers that stream them
    (http/http_ui.c).

    One writer (the relay), many readers (one worker per browser). A ring
    of at most `cap` items, each one whole SSE block ("id: N\nevent:
    ...\ndata: ...\n\n"), numbered from 1. The relay never waits for a
    reader: it overwrites the oldest item. A reader that fell more than
    `cap` items behind skips to the oldest one still held and is told how
    many it lost; the browser sees the gap in each node's #seq too. So
    each browser's buffer is bounded by `cap` items (its lag), and a slow
    browser slows nobody.

    Besides the ring, the latest "state" block (the members' boxes): a
    reader gets it first, so that a page that opens mid-way has every box.

    Who is watching: readers join (at most max_viewers at once) and leave;
    the relay subscribes to the members' monitoring sockets only while
    someone watches (a node traces nothing while nobody listens).

    Thread-safe: one mutex and one condition variable (CLOCK_MONOTONIC).
*/
#ifndef UI_FEED_H_INCLUDED
#define UI_FEED_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UI_FEED_DEFAULT_ITEMS 4096

typedef struct ui_feed_t ui_feed_t;

/* NULL on out of memory. REQUIRES: cap >= 1. */
ui_feed_t *ui_feed_new (size_t cap);
void ui_feed_destroy (ui_feed_t **self_p);

/* The relay: add one block, numbered last + 1: "id: N\n" and then text
   (copied: "event: ...\ndata: ...\n\n"). Returns N, or 0 on out of
   memory (the item is lost: the browser sees the gap in #seq). */
uint64_t ui_feed_push (ui_feed_t *self, const char *text, size_t len);
/* The relay: replace the state block (copied; sent first to a reader). */
void ui_feed_set_state (ui_feed_t *self, const char *text, size_t len);

/* A reader: take a viewer slot; false when max_viewers already watch. */
bool ui_feed_join (ui_feed_t *self, int max_viewers);
void ui_feed_leave (ui_feed_t *self);
int ui_feed_viewers (ui_feed_t *self);
/* The number of the last item pushed (0: none yet). */
uint64_t ui_feed_last (ui_feed_t *self);

typedef struct {
    char *text; /* malloc'ed, NUL-terminated: the blocks, in order */
    size_t len;
    uint64_t next; /* the last item included: read on from here */
    uint64_t lost; /* items after `from` overwritten before this read */
} ui_feed_read_t;

/* A reader: the items after `from` (at most max_items), at once when
   there are some, else the first ones pushed by deadline_ms
   (zclock_mono), else none (len 0, next = from). When state is true the
   state block comes first. 0, or -1 once the feed is stopped (nothing
   read) or on out of memory. */
int ui_feed_read (ui_feed_t *self, uint64_t from, size_t max_items,
                  int64_t deadline_ms, bool state, ui_feed_read_t *out);
void ui_feed_read_clear (ui_feed_read_t *r);

/* Wake every reader and refuse reads from now on (the node stops). */
void ui_feed_stop (ui_feed_t *self);

#endif
