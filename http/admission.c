/*  admission.c -- see admission.h.
*/
#include "admission.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_ADDR_MAX 64

typedef struct {
    char addr[S_ADDR_MAX];
    int count; /* 0: a free entry */
} s_entry_t;

struct http_admission_t {
    pthread_mutex_t mutex;
    int total, per_addr;
    int in_use;
    /* one entry per address holding a slot: never more than total */
    s_entry_t *entries;
};

http_admission_t *
http_admission_new (int total, int per_addr)
{
    assert (per_addr >= 1 && per_addr <= total);
    http_admission_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->entries = calloc ((size_t)total, sizeof *self->entries);
    if (!self->entries) {
        free (self);
        return NULL;
    }
    pthread_mutex_init (&self->mutex, NULL);
    self->total = total;
    self->per_addr = per_addr;
    return self;
}

void
http_admission_destroy (http_admission_t **self_p)
{
    http_admission_t *self = *self_p;
    if (!self)
        return;
    pthread_mutex_destroy (&self->mutex);
    free (self->entries);
    free (self);
    *self_p = NULL;
}

static s_entry_t *
s_find (http_admission_t *self, const char *addr)
{
    for (int i = 0; i < self->total; i++)
        if (self->entries[i].count > 0 &&
            strncmp (self->entries[i].addr, addr, S_ADDR_MAX - 1) == 0)
            return &self->entries[i];
    return NULL;
}

http_admit_t
http_admission_enter (http_admission_t *self, const char *addr)
{
    http_admit_t rc = HTTP_ADMIT_OK;
    pthread_mutex_lock (&self->mutex);
    s_entry_t *e = s_find (self, addr);
    if (e && e->count >= self->per_addr)
        rc = HTTP_ADMIT_ADDR_FULL;
    else if (self->in_use >= self->total)
        rc = HTTP_ADMIT_FULL;
    else {
        if (!e) {
            /* in_use < total, so a free entry exists */
            for (int i = 0; !e && i < self->total; i++)
                if (self->entries[i].count == 0)
                    e = &self->entries[i];
            assert (e);
            snprintf (e->addr, sizeof e->addr, "%s", addr);
        }
        e->count++;
        self->in_use++;
    }
    pthread_mutex_unlock (&self->mutex);
    return rc;
}

void
http_admission_leave (http_admission_t *self, const char *addr)
{
    pthread_mutex_lock (&self->mutex);
    s_entry_t *e = s_find (self, addr);
    assert (e && self->in_use > 0); /* a leave without its enter */
    e->count--;
    self->in_use--;
    pthread_mutex_unlock (&self->mutex);
}

int
http_admission_in_use (http_admission_t *self)
{
    pthread_mutex_lock (&self->mutex);
    int n = self->in_use;
    pthread_mutex_unlock (&self->mutex);
    return n;
}
