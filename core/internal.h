/* SPDX-License-Identifier: MIT */
/*
 * internal.h - what the files of librlc share and users never see.
 *
 * A limiter is a vtable plus the state every kind has (closed flag, capacity
 * callbacks). Internal non-static names are rlc__*.
 */
#ifndef RLC_INTERNAL_H
#define RLC_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "rlc.h"

/* Clock: fn == NULL means CLOCK_MONOTONIC, read inline. */
typedef struct rlc__clock {
    rlc_clock_fn fn;
    void *arg;
} rlc__clock;

static inline int64_t rlc__monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * RLC_SECOND + ts.tv_nsec;
}

static inline int64_t rlc__clock_now(const rlc__clock *c)
{
    return c->fn == NULL ? rlc__monotonic_ns() : c->fn(c->arg);
}

static inline int64_t rlc__realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * RLC_SECOND + ts.tv_nsec;
}

/* a + b, held within int64 instead of overflowing. */
static inline int64_t rlc__add_sat(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

/* A resource name checked once at the API boundary. */
typedef struct rlc__name {
    const char *s;
    size_t len;
} rlc__name;

/* resource as a name: false for NULL, or no NUL within RLC_RESOURCE_MAX
 * bytes. */
bool rlc__name_of(const char *resource, rlc__name *out);

typedef struct rlc__limiter_ops {
    rlc_status (*acquire)(rlc_limiter *l, rlc__name r, int64_t timeout_ns,
                          rlc_cancel *c);
    bool (*try_acquire)(rlc_limiter *l, rlc__name r);
    void (*release)(rlc_limiter *l, rlc__name r);
    rlc_status (*set_capacity)(rlc_limiter *l, rlc__name r, int capacity,
                               int64_t window_ns);
    /* epoch NULL: cut in any epoch; else only if still in *epoch */
    void (*announce_reduced)(rlc_limiter *l, rlc__name r, const char *why,
                             const uint64_t *epoch);
    /* until: Unix ns. Returns true when it lengthened the pause. */
    bool (*pause)(rlc_limiter *l, rlc__name r, int64_t until, const char *why);
    bool (*get_capacity)(rlc_limiter *l, rlc__name r, rlc_capacity *out);
    /* rlc_grow_capacity; NULL: the limiter recovers by itself, or never */
    bool (*grow)(rlc_limiter *l, rlc__name r, int from, int to);
    void (*wake_all)(rlc_limiter *l); /* after close, or a clock move */
    void (*destroy)(rlc_limiter *l);
} rlc__limiter_ops;

struct rlc__callback {
    rlc_capacity_cb cb;
    void *arg;
    struct rlc__callback *next;
};

struct rlc_limiter {
    const rlc__limiter_ops *ops;
    atomic_bool closed;
    /* Prepend-only list: readers walk it without a lock; freed with l. */
    _Atomic(struct rlc__callback *) callbacks;
};

void rlc__limiter_init(rlc_limiter *l, const rlc__limiter_ops *ops);
void rlc__limiter_fini(rlc_limiter *l);
/* Calls every capacity callback of l; no lock may be held. */
void rlc__limiter_notify(rlc_limiter *l, const rlc_capacity_update *u);

/* Futex-based sleeping (wait.c). A waiter sleeps on its own word. */
struct rlc__waiter {
    _Atomic uint32_t seq;              /* bumped by every wake-up */
    struct rlc__waiter *prev, *next;   /* a bucket's queue */
    struct rlc__waiter *cprev, *cnext; /* a cancel handle's list */
};

/* Sleeps while w->seq == seen, until deadline (CLOCK_MONOTONIC ns; < 0:
 * none). Returns on any wake-up, signal or time-out: callers re-check. */
void rlc__waiter_sleep(struct rlc__waiter *w, uint32_t seen, int64_t deadline);
/* Wakes w. The caller holds a lock w must take before it goes away. */
void rlc__waiter_wake(struct rlc__waiter *w);

/* Cancel handles (cancel.c). */
void rlc__cancel_register(rlc_cancel *c, struct rlc__waiter *w);
void rlc__cancel_unregister(rlc_cancel *c, struct rlc__waiter *w);

#endif /* RLC_INTERNAL_H */
