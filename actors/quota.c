/*  quota.c -- see quota.h. */
#include "quota.h"

void
quota_init (quota_t *q, uint64_t bytes)
{
    *q = (quota_t){.bytes = bytes};
}

uint64_t
quota_clear_bytes (uint64_t bytes)
{
    return bytes / 100 * QUOTA_CLEAR_PCT + bytes % 100 * QUOTA_CLEAR_PCT / 100;
}

int
quota_update (quota_t *q, uint64_t used, uint64_t fs_free)
{
    q->known = true;
    q->used = used;
    q->fs_free = fs_free;
    if (!q->bytes)
        return 0;
    if (!q->alarm && used >= q->bytes) {
        q->alarm = true;
        q->alarms++;
        return 1;
    }
    if (q->alarm && used < quota_clear_bytes (q->bytes)) {
        q->alarm = false;
        return -1;
    }
    return 0;
}

int
quota_raise (quota_t *q)
{
    if (!q->bytes || q->alarm)
        return 0;
    q->alarm = true;
    q->alarms++;
    return 1;
}

bool
quota_admit (const quota_t *q, uint64_t grow)
{
    if (!q->bytes || !q->known)
        return true;
    if (q->alarm)
        return false;
    return grow < q->bytes && q->used <= q->bytes - grow;
}
