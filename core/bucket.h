/* SPDX-License-Identifier: MIT */
/*
 * bucket.h - one resource's token bucket, lock-free to take from, with a
 * FIFO of blocked waiters.
 */
#ifndef RLC_BUCKET_H
#define RLC_BUCKET_H

#include <pthread.h>
#include <stdatomic.h>

#include "gcra.h"
#include "internal.h"

struct rlc__bucket_params {
    _Atomic int64_t cap, window, origin; /* cap 0: removed */
};

typedef struct rlc__bucket {
    /* The hot line: the state word and the parameters it refers to. */
    _Atomic uint64_t state;         /* version << 48 | tokens consumed */
    struct rlc__bucket_params p[2]; /* p[version & 1] is current */
    atomic_int in_flight;
    atomic_int nwaiters;
    _Atomic uint64_t epoch; /* cuts so far (rlc__bucket_scale) */
    /* Right after the 64 bytes above, in a line that takers only read:
     * changed under mu, once per Retry-After, so it never bounces. */
    _Atomic int64_t pause_until; /* bucket clock ns; 0: none */

    pthread_mutex_t mu; /* parameter changes, the waiter queue */
    struct rlc__waiter *head, *tail;
    uint32_t hash;
    size_t len;
    char name[RLC_RESOURCE_MAX];
} rlc__bucket;

/* A removed bucket (cap 0) named name. */
void rlc__bucket_init(rlc__bucket *b, const char *name, size_t len,
                      uint32_t hash);
void rlc__bucket_destroy(rlc__bucket *b);

/* Takes a token unless none is there, the bucket is paused or others
 * wait. Returns RLC_OK, RLC_EEXHAUSTED or RLC_EUNKNOWN (removed). */
rlc_status rlc__bucket_try(rlc__bucket *b, int64_t now);

/* rlc_acquire() on b. closed is the owner's closed flag. */
rlc_status rlc__bucket_acquire(rlc__bucket *b, const rlc__clock *clk,
                               const atomic_bool *closed, int64_t timeout_ns,
                               rlc_cancel *c);

void rlc__bucket_release(rlc__bucket *b, int64_t now);

/* Sets capacity and window (cap 0: removes). A removed bucket comes back
 * full. Returns the capacity it had (0 if removed). Wakes the first
 * waiter. */
int rlc__bucket_configure(rlc__bucket *b, int cap, int64_t window,
                          const rlc__clock *clk);

/* Multiplies the capacity by num/den (truncating), not below floor, not
 * above the current, and counts a cut epoch when it changes anything; if
 * epoch is given and is not the bucket's any more, changes nothing.
 * Returns the new capacity, 0 if removed; *old gets the previous one. */
int rlc__bucket_scale(rlc__bucket *b, int num, int den, int floor,
                      const rlc__clock *clk, const uint64_t *epoch, int *old);

/* Holds every token back until `until` (bucket clock ns) unless a longer
 * pause is in force. Returns true when it lengthened the pause, false if
 * not or if removed. The first waiter looks again; none is woken early. */
bool rlc__bucket_pause(rlc__bucket *b, int64_t until);

/* false when removed. out->paused_until_ns is on the bucket's clock (0:
 * not paused at now); the limiter converts it to Unix time. */
bool rlc__bucket_snapshot(rlc__bucket *b, int64_t now, rlc_capacity *out);

/* Wakes every waiter (close, clock moved). */
void rlc__bucket_wake_all(rlc__bucket *b);

#endif /* RLC_BUCKET_H */
