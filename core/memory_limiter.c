/* SPDX-License-Identifier: MIT */
/*
 * memory_limiter.c - the process-local limiter: resources by name in an
 * open-addressing table that readers probe without a lock.
 *
 * Buckets are created under the mutex and never freed before the limiter
 * (a removed resource keeps its bucket, marked removed, and gets it back
 * when configured again), and a grown table leaves the old one readable
 * until then, so a lookup racing with an insert or a growth is always safe.
 */
#include <stdlib.h>
#include <string.h>

#include "bucket.h"

struct table {
    size_t mask;         /* slots - 1, slots a power of two */
    struct table *older; /* replaced tables, freed with the limiter */
    _Atomic(rlc__bucket *) slot[];
};

typedef struct memory_limiter {
    rlc_limiter base;
    rlc__clock clock;
    pthread_mutex_t mu; /* inserts and growth */
    _Atomic(struct table *) table;
    size_t count;
} memory_limiter;

#define INITIAL_SLOTS 16

static memory_limiter *ml(rlc_limiter *l)
{
    return (memory_limiter *)l;
}

/* FNV-1a: names are short, and this is cheaper than the clock read. */
static uint32_t hash_of(rlc__name r)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < r.len; i++)
        h = (h ^ (unsigned char)r.s[i]) * 16777619u;
    return h;
}

static struct table *table_new(size_t slots)
{
    struct table *t = calloc(1, sizeof(*t) + slots * sizeof(t->slot[0]));

    if (t != NULL)
        t->mask = slots - 1;
    return t;
}

static rlc__bucket *lookup_in(struct table *t, rlc__name r, uint32_t h)
{
    size_t i;

    for (i = h & t->mask;; i = (i + 1) & t->mask) {
        rlc__bucket *b =
            atomic_load_explicit(&t->slot[i], memory_order_acquire);

        if (b == NULL)
            return NULL;
        if (b->hash == h && b->len == r.len && memcmp(b->name, r.s, r.len) == 0)
            return b;
    }
}

static rlc__bucket *lookup(memory_limiter *m, rlc__name r)
{
    return lookup_in(atomic_load_explicit(&m->table, memory_order_acquire), r,
                     hash_of(r));
}

static void place(struct table *t, rlc__bucket *b)
{
    size_t i = b->hash & t->mask;

    while (atomic_load_explicit(&t->slot[i], memory_order_relaxed) != NULL)
        i = (i + 1) & t->mask;
    atomic_store_explicit(&t->slot[i], b, memory_order_release);
}

/* The bucket named r, created (removed, cap 0) if need be; m->mu held. */
static rlc__bucket *lookup_or_insert(memory_limiter *m, rlc__name r)
{
    struct table *t = atomic_load(&m->table);
    uint32_t h = hash_of(r);
    rlc__bucket *b = lookup_in(t, r, h);

    if (b != NULL)
        return b;
    if ((m->count + 1) * 2 > t->mask + 1) { /* keep probes short */
        struct table *bigger = table_new((t->mask + 1) * 2);
        size_t i;

        if (bigger == NULL)
            return NULL;
        for (i = 0; i <= t->mask; i++) {
            rlc__bucket *old = atomic_load(&t->slot[i]);

            if (old != NULL)
                place(bigger, old);
        }
        bigger->older = t;
        atomic_store_explicit(&m->table, bigger, memory_order_release);
        t = bigger;
    }
    if (posix_memalign((void **)&b, 64, sizeof(*b)) != 0)
        return NULL;
    rlc__bucket_init(b, r.s, r.len, h);
    place(t, b);
    m->count++;
    return b;
}

static rlc_status ml_acquire(rlc_limiter *l, rlc__name r, int64_t timeout_ns,
                             rlc_cancel *c)
{
    rlc__bucket *b = lookup(ml(l), r);

    if (b == NULL)
        return atomic_load(&l->closed) ? RLC_ECLOSED : RLC_EUNKNOWN;
    return rlc__bucket_acquire(b, &ml(l)->clock, &l->closed, timeout_ns, c);
}

static bool ml_try_acquire(rlc_limiter *l, rlc__name r)
{
    rlc__bucket *b;

    if (atomic_load_explicit(&l->closed, memory_order_relaxed))
        return false;
    b = lookup(ml(l), r);
    return b != NULL &&
           rlc__bucket_try(b, rlc__clock_now(&ml(l)->clock)) == RLC_OK;
}

static void ml_release(rlc_limiter *l, rlc__name r)
{
    rlc__bucket *b;

    if (atomic_load(&l->closed))
        return;
    b = lookup(ml(l), r);
    if (b != NULL)
        rlc__bucket_release(b, rlc__clock_now(&ml(l)->clock));
}

static rlc_status ml_set_capacity(rlc_limiter *l, rlc__name r, int capacity,
                                  int64_t window_ns)
{
    memory_limiter *m = ml(l);
    rlc__bucket *b;
    bool remove = capacity <= 0 || window_ns <= 0;

    if (atomic_load(&l->closed))
        return RLC_ECLOSED;
    if (remove) {
        b = lookup(m, r);
    } else {
        pthread_mutex_lock(&m->mu);
        b = lookup_or_insert(m, r);
        pthread_mutex_unlock(&m->mu);
        if (b == NULL)
            return RLC_ENOMEM;
    }
    if (b != NULL)
        rlc__bucket_configure(b, remove ? 0 : capacity, window_ns, &m->clock);
    if (capacity <= 0)
        return RLC_EINVALCAP;
    return window_ns <= 0 ? RLC_EINVALWINDOW : RLC_OK;
}

static void ml_announce_reduced(rlc_limiter *l, rlc__name r, const char *why,
                                const uint64_t *epoch)
{
    rlc__bucket *b;
    rlc_capacity_update u;
    int old, cap;

    if (atomic_load(&l->closed))
        return;
    b = lookup(ml(l), r);
    if (b == NULL)
        return;
    cap = rlc__bucket_scale(b, 3, 4, 1, &ml(l)->clock, epoch, &old);
    if (cap == 0 || cap == old)
        return;
    u.resource = b->name;
    u.agent_id = "";
    u.reason = why;
    u.new_capacity = cap;
    u.timestamp_ns = rlc__realtime_ns();
    rlc__limiter_notify(l, &u);
}

/* The pause goes into the bucket's clock: now plus the time left. */
static bool ml_pause(rlc_limiter *l, rlc__name r, int64_t until,
                     const char *why)
{
    rlc__bucket *b;
    int64_t left;

    (void)why;
    if (atomic_load(&l->closed))
        return false;
    b = lookup(ml(l), r);
    if (b == NULL)
        return false;
    left = rlc__add_sat(until, -rlc__realtime_ns());
    if (left <= 0)
        return false;
    return rlc__bucket_pause(b,
                             rlc__add_sat(rlc__clock_now(&ml(l)->clock), left));
}

static bool ml_get_capacity(rlc_limiter *l, rlc__name r, rlc_capacity *out)
{
    rlc__bucket *b = lookup(ml(l), r);
    int64_t now = rlc__clock_now(&ml(l)->clock);

    if (b == NULL || !rlc__bucket_snapshot(b, now, out))
        return false;
    if (out->paused_until_ns != 0)
        out->paused_until_ns =
            rlc__add_sat(rlc__realtime_ns(), out->paused_until_ns - now);
    return true;
}

static void ml_wake_all(rlc_limiter *l)
{
    struct table *t = atomic_load(&ml(l)->table);
    size_t i;

    for (i = 0; i <= t->mask; i++) {
        rlc__bucket *b = atomic_load(&t->slot[i]);

        if (b != NULL)
            rlc__bucket_wake_all(b);
    }
}

static void ml_destroy(rlc_limiter *l)
{
    memory_limiter *m = ml(l);
    struct table *t = atomic_load(&m->table), *older;
    size_t i;

    for (i = 0; i <= t->mask; i++) {
        rlc__bucket *b = atomic_load(&t->slot[i]);

        if (b != NULL) {
            rlc__bucket_destroy(b);
            free(b);
        }
    }
    for (; t != NULL; t = older) {
        older = t->older;
        free(t);
    }
    pthread_mutex_destroy(&m->mu);
    rlc__limiter_fini(l);
    free(m);
}

static const rlc__limiter_ops memory_ops = {
    .acquire = ml_acquire,
    .try_acquire = ml_try_acquire,
    .release = ml_release,
    .set_capacity = ml_set_capacity,
    .announce_reduced = ml_announce_reduced,
    .pause = ml_pause,
    .get_capacity = ml_get_capacity,
    .wake_all = ml_wake_all,
    .destroy = ml_destroy,
};

static rlc_limiter *memory_limiter_new(rlc_clock_fn now, void *arg)
{
    memory_limiter *m = calloc(1, sizeof(*m));
    struct table *t = table_new(INITIAL_SLOTS);

    if (m == NULL || t == NULL) {
        free(m);
        free(t);
        return NULL;
    }
    rlc__limiter_init(&m->base, &memory_ops);
    m->clock.fn = now;
    m->clock.arg = arg;
    pthread_mutex_init(&m->mu, NULL);
    atomic_init(&m->table, t);
    return &m->base;
}

rlc_limiter *rlc_memory_limiter_new(void)
{
    return memory_limiter_new(NULL, NULL);
}

rlc_limiter *rlc_memory_limiter_new_with_clock(rlc_clock_fn now, void *arg)
{
    return now == NULL ? NULL : memory_limiter_new(now, arg);
}
