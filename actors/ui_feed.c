/*  ui_feed.c -- see ui_feed.h. Item n lives in slot (n - 1) % cap.
*/
#include "ui_feed.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    char *text;
    size_t len;
} item_t;

struct ui_feed_t {
    pthread_mutex_t mutex;
    pthread_cond_t cond; /* CLOCK_MONOTONIC: a push, a stop */
    item_t *items;
    size_t cap;
    uint64_t last; /* the number of the last item pushed */
    char *state;
    size_t state_len;
    int viewers;
    bool stopped;
};

ui_feed_t *
ui_feed_new (size_t cap)
{
    ui_feed_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cap = cap ? cap : 1;
    self->items = calloc (self->cap, sizeof *self->items);
    if (!self->items) {
        free (self);
        return NULL;
    }
    pthread_mutex_init (&self->mutex, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init (&attr);
    pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
    pthread_cond_init (&self->cond, &attr);
    pthread_condattr_destroy (&attr);
    return self;
}

void
ui_feed_destroy (ui_feed_t **self_p)
{
    ui_feed_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->cap; i++)
        free (self->items[i].text);
    free (self->items);
    free (self->state);
    pthread_cond_destroy (&self->cond);
    pthread_mutex_destroy (&self->mutex);
    free (self);
    *self_p = NULL;
}

static char *
s_copy (const char *text, size_t len)
{
    char *c = malloc (len + 1);
    if (c) {
        memcpy (c, text, len);
        c[len] = 0;
    }
    return c;
}

uint64_t
ui_feed_push (ui_feed_t *self, const char *text, size_t len)
{
    pthread_mutex_lock (&self->mutex);
    uint64_t n = ++self->last;
    char head[32];
    int hn = snprintf (head, sizeof head, "id: %llu\n", (unsigned long long)n);
    char *c = malloc ((size_t)hn + len + 1);
    if (c) {
        memcpy (c, head, (size_t)hn);
        memcpy (c + hn, text, len);
        c[(size_t)hn + len] = 0;
    }
    item_t *it = &self->items[(n - 1) % self->cap];
    free (it->text);
    *it = (item_t){.text = c, .len = c ? (size_t)hn + len : 0};
    pthread_cond_broadcast (&self->cond);
    pthread_mutex_unlock (&self->mutex);
    return c ? n : 0;
}

void
ui_feed_set_state (ui_feed_t *self, const char *text, size_t len)
{
    char *c = s_copy (text, len);
    if (!c)
        return; /* the old state stays */
    pthread_mutex_lock (&self->mutex);
    free (self->state);
    self->state = c;
    self->state_len = len;
    pthread_mutex_unlock (&self->mutex);
}

bool
ui_feed_join (ui_feed_t *self, int max_viewers)
{
    pthread_mutex_lock (&self->mutex);
    bool ok = !self->stopped && self->viewers < max_viewers;
    if (ok)
        self->viewers++;
    pthread_mutex_unlock (&self->mutex);
    return ok;
}

void
ui_feed_leave (ui_feed_t *self)
{
    pthread_mutex_lock (&self->mutex);
    if (self->viewers > 0)
        self->viewers--;
    pthread_mutex_unlock (&self->mutex);
}

int
ui_feed_viewers (ui_feed_t *self)
{
    pthread_mutex_lock (&self->mutex);
    int n = self->viewers;
    pthread_mutex_unlock (&self->mutex);
    return n;
}

uint64_t
ui_feed_last (ui_feed_t *self)
{
    pthread_mutex_lock (&self->mutex);
    uint64_t n = self->last;
    pthread_mutex_unlock (&self->mutex);
    return n;
}

/* REQUIRES: the mutex held. Append text to out; false on out of memory. */
static bool
s_append (ui_feed_read_t *out, size_t *cap, const char *text, size_t len)
{
    if (out->len + len + 1 > *cap) {
        size_t c = (*cap ? *cap * 2 : 4096) + len;
        char *t = realloc (out->text, c);
        if (!t)
            return false;
        out->text = t;
        *cap = c;
    }
    memcpy (out->text + out->len, text, len);
    out->len += len;
    out->text[out->len] = 0;
    return true;
}

int
ui_feed_read (ui_feed_t *self, uint64_t from, size_t max_items,
              int64_t deadline_ms, bool state, ui_feed_read_t *out)
{
    *out = (ui_feed_read_t){.next = from};
    struct timespec ts = {.tv_sec = deadline_ms / 1000,
                          .tv_nsec = (long)(deadline_ms % 1000) * 1000000L};
    pthread_mutex_lock (&self->mutex);
    while (!self->stopped && !state && self->last <= from &&
           pthread_cond_timedwait (&self->cond, &self->mutex, &ts) == 0)
        ;
    if (self->stopped) {
        pthread_mutex_unlock (&self->mutex);
        return -1;
    }
    size_t cap = 0;
    bool ok = true;
    if (state && self->state)
        ok = s_append (out, &cap, self->state, self->state_len);
    uint64_t first = from + 1;
    uint64_t oldest = self->last >= self->cap ? self->last - self->cap + 1 : 1;
    if (from > self->last)
        first = self->last + 1; /* a number from before a restart */
    if (first < oldest) {
        out->lost = oldest - first;
        first = oldest;
    }
    uint64_t n = first;
    for (; ok && n <= self->last && n - first < max_items; n++) {
        const item_t *it = &self->items[(n - 1) % self->cap];
        if (it->text)
            ok = s_append (out, &cap, it->text, it->len);
    }
    out->next = n - 1;
    pthread_mutex_unlock (&self->mutex);
    if (!ok) {
        ui_feed_read_clear (out);
        return -1;
    }
    return 0;
}

void
ui_feed_read_clear (ui_feed_read_t *r)
{
    free (r->text);
    r->text = NULL;
    r->len = 0;
}

void
ui_feed_stop (ui_feed_t *self)
{
    pthread_mutex_lock (&self->mutex);
    self->stopped = true;
    pthread_cond_broadcast (&self->cond);
    pthread_mutex_unlock (&self->mutex);
}
