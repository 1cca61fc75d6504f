/*  node_ctx.c -- see node_ctx.h. */
#include "node_ctx.h"
#include "monitor.h"

#include <stdlib.h>

static _Thread_local node_ctx_t *s_bound;

node_ctx_t *
node_ctx_new (uint64_t id, log_level_t min_level)
{
    node_ctx_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->log = (log_ctx_t){.node_id = id, .min_level = min_level};
    self->metrics = metrics_new ();
    atomic_init (&self->monitor_listeners, 0);
    if (!self->metrics)
        node_ctx_destroy (&self);
    return self;
}

void
node_ctx_destroy (node_ctx_t **self_p)
{
    node_ctx_t *self = *self_p;
    if (!self)
        return;
    metrics_destroy (&self->metrics);
    free (self);
    *self_p = NULL;
}

void
node_ctx_bind (node_ctx_t *ctx)
{
    s_bound = ctx;
    log_bind (ctx ? &ctx->log : NULL);
    metrics_bind (ctx ? ctx->metrics : NULL);
    monitor_bind (ctx ? &ctx->monitor_listeners : NULL);
}

node_ctx_t *
node_ctx_current (void)
{
    return s_bound;
}
