/* SPDX-License-Identifier: MIT */
/*
 * shm_bucket.h - a token bucket in a slot of the host table, shared by
 * processes: taken from with one compare-and-swap, changed by publishing a
 * whole new parameter record with another, waited for across processes on
 * a futex in the slot. No lock anywhere: see shm_bucket.c.
 */
#ifndef RLC_SHM_BUCKET_H
#define RLC_SHM_BUCKET_H

#include "internal.h"
#include "shm_table.h"

/* Takes a token unless none is there, it is paused, or waiters have
 * reserved what there is. RLC_OK, RLC_EEXHAUSTED, RLC_EUNKNOWN. */
rlc_status rlc__shm_bucket_try(struct rlc__shm_slot *sl, const rlc__clock *clk);

/* rlc_acquire() on sl (see rlc.h: waiters reserve, and a token due after
 * the deadline is not waited for). closed is the limiter's flag. */
rlc_status rlc__shm_bucket_acquire(struct rlc__shm_slot *sl,
                                   const rlc__clock *clk,
                                   const atomic_bool *closed,
                                   int64_t timeout_ns, rlc_cancel *c);

void rlc__shm_bucket_release(struct rlc__shm_slot *sl, const rlc__clock *clk);

/* What a configuration replaced: for rlc_host_limiter_conflict(). */
struct rlc__shm_prior {
    bool changed;    /* something was published */
    bool live;       /* the resource existed */
    int64_t cfg_cap; /* its configuration then (0: none) */
    int64_t cfg_window;
    uint64_t cfg_by;
};

/* Configures capacity per window (cap <= 0: removes) as set by `by`
 * (pid << 32 | limiter id). The configuration in force already changes
 * nothing (not even a cut since). *prior (if not NULL) gets what was. */
void rlc__shm_bucket_configure(struct rlc__shm_slot *sl, const rlc__clock *clk,
                               int64_t cap, int64_t window, uint64_t by,
                               struct rlc__shm_prior *prior);

/* rlc__bucket_scale() on sl: cuts to cap * num / den (not below floor),
 * counting an epoch, unless epoch is given and is not the current one.
 * Returns the new capacity (0: removed); *old gets the previous one. */
int rlc__shm_bucket_scale(struct rlc__shm_slot *sl, const rlc__clock *clk,
                          int num, int den, int floor, const uint64_t *epoch,
                          int *old);

/* Raises the capacity from `from` to `to` (not above the configured one)
 * if it is still `from` and (at >= 0) last changed at `at`; no epoch is
 * counted, the configuration stays. true when it changed it. */
bool rlc__shm_bucket_grow(struct rlc__shm_slot *sl, const rlc__clock *clk,
                          int from, int to, int64_t at);

/* When the capacity last changed (set, cut, grown), on the clock; 0 in a
 * table made before it was kept. false when removed. */
bool rlc__shm_bucket_cap_at(struct rlc__shm_slot *sl, int64_t now, int64_t *at);

/* Holds every token until `until` (on the clock) unless a longer pause is
 * in force. true when it lengthened the pause. */
bool rlc__shm_bucket_pause(struct rlc__shm_slot *sl, const rlc__clock *clk,
                           int64_t until);

/* false when removed; out->paused_until_ns is on the clock (0: none). */
bool rlc__shm_bucket_snapshot(struct rlc__shm_slot *sl, int64_t now,
                              rlc_capacity *out);

/* The configuration in force (false when removed). */
bool rlc__shm_bucket_config(struct rlc__shm_slot *sl, int64_t now, int64_t *cap,
                            int64_t *window, uint64_t *by);

/* Wakes every process's waiters of sl to look again. */
void rlc__shm_bucket_wake(struct rlc__shm_slot *sl);

#endif /* RLC_SHM_BUCKET_H */
