/* SPDX-License-Identifier: MIT */
/*
 * bucket.c - one resource's token bucket: a lock-free fast path, a FIFO of
 * waiters that each sleep until their own token is due.
 *
 * State is one 64-bit word, version:24 | consumed:40 (see gcra.h), taken
 * from with compare-and-swap. The parameters it is measured against live in
 * two slots; a change (under the mutex) writes the other slot, then swings
 * the word to the next version with the count re-expressed. A reader checks
 * that the version did not move while it read the slot, so it never mixes
 * parameters of one version with a count of another, and a take computed on
 * old parameters fails its compare-and-swap. Acquire loads and release
 * stores carry the ordering (no fences, so TSan can check it). Waiters
 * queue under the mutex; only the first sleeps on a deadline, the rest
 * until they are first. A pause (Retry-After) is one more word that every
 * take reads: before its end, no token leaves, and the first waiter's
 * deadline is the pause's end.
 */
#include <string.h>

#include "bucket.h"

/* 24 bits of version: a taker would have to stall through 16 million
 * parameter changes for its compare-and-swap to meet the same word again.
 * Counts stay below 2^33 after a rebase (twice the largest capacity). */
#define VER_SHIFT 40
#define COUNT_MASK ((UINT64_C(1) << VER_SHIFT) - 1)
#define VER_MASK UINT64_C(0xffffff)
/* Counts past this are rebased (exactly) under the mutex before storing. */
#define REBASE_AT (UINT64_C(1) << 39)

static unsigned version(uint64_t s)
{
    return (unsigned)((s >> VER_SHIFT) & VER_MASK);
}

static uint64_t pack(unsigned ver, uint64_t count)
{
    return ((uint64_t)(ver & VER_MASK) << VER_SHIFT) | count;
}

/* A consistent (state, parameters) pair. */
static uint64_t snapshot(rlc__bucket *b, rlc__gcra *g)
{
    for (;;) {
        uint64_t s = atomic_load_explicit(&b->state, memory_order_acquire);
        struct rlc__bucket_params *p = &b->p[version(s) & 1];

        /* Acquire: a new value seen here (a writer reusing this slot)
         * makes the version it moved visible to the check below. */
        g->cap = atomic_load_explicit(&p->cap, memory_order_acquire);
        g->window = atomic_load_explicit(&p->window, memory_order_acquire);
        g->origin = atomic_load_explicit(&p->origin, memory_order_acquire);
        if (version(atomic_load_explicit(&b->state, memory_order_relaxed)) ==
            version(s))
            return s;
    }
}

/* May move to->origin back (a part of a token kept). */
typedef uint64_t (*recount_fn)(const rlc__gcra *from, uint64_t count,
                               rlc__gcra *to, int64_t now);

/*
 * Publishes parameters *to (b->mu held), the count re-expressed by fn from
 * whatever the count is at the moment of the swap.
 */
static void publish(rlc__bucket *b, const rlc__gcra *to, recount_fn fn,
                    int64_t now)
{
    uint64_t s = atomic_load(&b->state);

    for (;;) {
        unsigned nv = version(s) + 1;
        struct rlc__bucket_params *p = &b->p[nv & 1];
        rlc__gcra from, t = *to;
        uint64_t count;

        from.cap = atomic_load_explicit(&b->p[version(s) & 1].cap,
                                        memory_order_relaxed);
        from.window = atomic_load_explicit(&b->p[version(s) & 1].window,
                                           memory_order_relaxed);
        from.origin = atomic_load_explicit(&b->p[version(s) & 1].origin,
                                           memory_order_relaxed);
        count = fn(&from, s & COUNT_MASK, &t, now);
        /* Readers of the version before may still read this slot. Release
         * stores: one who sees any of them also sees the version that has
         * moved since, and retries. */
        atomic_store_explicit(&p->cap, t.cap, memory_order_release);
        atomic_store_explicit(&p->window, t.window, memory_order_release);
        atomic_store_explicit(&p->origin, t.origin, memory_order_release);
        if (atomic_compare_exchange_strong(&b->state, &s, pack(nv, count)))
            return;
    }
}

static uint64_t recount_convert(const rlc__gcra *from, uint64_t count,
                                rlc__gcra *to, int64_t now)
{
    if (from->cap == 0 || to->cap == 0)
        return 0; /* removed, or coming back full */
    return rlc__gcra_convert(from, count, to, now);
}

static uint64_t recount_rebase(const rlc__gcra *from, uint64_t count,
                               rlc__gcra *to, int64_t now)
{
    /* The origin moved by whole windows: as many whole capacities. */
    unsigned __int128 shift =
        (unsigned __int128)((to->origin - from->origin) / from->window) *
        (uint64_t)from->cap;

    (void)now;
    return count > shift ? (uint64_t)(count - shift) : 0;
}

/*
 * A bucket at capacity starts its clock again at now (b->mu held): what it
 * grew beyond capacity is dropped, as a bucket that cannot hold more must,
 * so the token after a take comes a whole interval after it, not at the
 * next tick of a grid laid down earlier (the generic cell rate algorithm's
 * TAT = max(TAT, now) + T, on a count).
 */
static void restart_full_locked(rlc__bucket *b, int64_t now)
{
    rlc__gcra to;
    uint64_t s = snapshot(b, &to);

    if (to.cap > 0 && rlc__gcra_overflowing(&to, s & COUNT_MASK, now)) {
        to.origin = now;
        publish(b, &to, recount_convert, now);
    }
}

/* Moves the origin forward so counts stay small; exact. b->mu held. */
static void rebase_locked(rlc__bucket *b, int64_t now)
{
    rlc__gcra to;

    snapshot(b, &to);
    if (to.cap > 0) {
        (void)rlc__gcra_rebase(&to, 0, now);
        publish(b, &to, recount_rebase, now);
    }
}

typedef enum { TAKEN, EMPTY, GONE } take_result;

/*
 * One token, lock-free. *due gets when the next token is due if EMPTY.
 * locked: the caller holds b->mu (needed only for the rare rebase).
 */
static take_result take(rlc__bucket *b, int64_t now, int64_t *due, bool locked)
{
    for (;;) {
        rlc__gcra g;
        uint64_t s = snapshot(b, &g), n;
        int64_t pause;

        if (g.cap == 0)
            return GONE;
        /* A pause holds back every token, the waiters' too: the first
         * sleeps until it ends. Relaxed: set once per Retry-After, it
         * needs no ordering with the count, only to be seen soon. */
        pause = atomic_load_explicit(&b->pause_until, memory_order_relaxed);
        if (pause > now) {
            if (due != NULL)
                *due = pause;
            return EMPTY;
        }
        /* Taking from a bucket at capacity restarts its clock (a slow
         * path, once per idle spell: a draining bucket is never at
         * capacity). Below a microsecond per token an early tick is
         * harmless and the lock-free top-up is kept. */
        if (g.window > g.cap * INT64_C(1000) &&
            rlc__gcra_overflowing(&g, s & COUNT_MASK, now)) {
            if (!locked)
                pthread_mutex_lock(&b->mu);
            restart_full_locked(b, now);
            if (!locked)
                pthread_mutex_unlock(&b->mu);
            continue;
        }
        if (!rlc__gcra_take(&g, s & COUNT_MASK, now, &n)) {
            if (due != NULL)
                *due = rlc__gcra_next_due(&g, s & COUNT_MASK);
            return EMPTY;
        }
        if (n >= REBASE_AT) {
            if (!locked)
                pthread_mutex_lock(&b->mu);
            rebase_locked(b, now);
            if (!locked)
                pthread_mutex_unlock(&b->mu);
            continue;
        }
        if (atomic_compare_exchange_weak(&b->state, &s, pack(version(s), n))) {
            atomic_fetch_add_explicit(&b->in_flight, 1, memory_order_relaxed);
            return TAKEN;
        }
    }
}

void rlc__bucket_init(rlc__bucket *b, const char *name, size_t len,
                      uint32_t hash)
{
    memset(b, 0, sizeof(*b));
    pthread_mutex_init(&b->mu, NULL);
    memcpy(b->name, name, len);
    b->name[len] = '\0';
    b->len = len;
    b->hash = hash;
}

void rlc__bucket_destroy(rlc__bucket *b)
{
    pthread_mutex_destroy(&b->mu);
}

rlc_status rlc__bucket_try(rlc__bucket *b, int64_t now)
{
    /* Waiters come first: a token in sight is theirs. */
    if (atomic_load(&b->nwaiters) > 0) {
        rlc__gcra g;

        snapshot(b, &g);
        return g.cap == 0 ? RLC_EUNKNOWN : RLC_EEXHAUSTED;
    }
    switch (take(b, now, NULL, false)) {
    case TAKEN:
        return RLC_OK;
    case GONE:
        return RLC_EUNKNOWN;
    default:
        return RLC_EEXHAUSTED;
    }
}

static void enqueue(rlc__bucket *b, struct rlc__waiter *w)
{
    w->next = NULL;
    w->prev = b->tail;
    if (b->tail != NULL)
        b->tail->next = w;
    else
        b->head = w;
    b->tail = w;
    atomic_fetch_add(&b->nwaiters, 1);
}

static void dequeue(rlc__bucket *b, struct rlc__waiter *w)
{
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        b->head = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    else
        b->tail = w->prev;
    atomic_fetch_sub(&b->nwaiters, 1);
}

static rlc_status wait_for_token(rlc__bucket *b, const rlc__clock *clk,
                                 const atomic_bool *closed, int64_t deadline,
                                 rlc_cancel *c)
{
    struct rlc__waiter w;
    rlc_status st;

    memset(&w, 0, sizeof(w));
    if (c != NULL)
        rlc__cancel_register(c, &w);
    pthread_mutex_lock(&b->mu);
    enqueue(b, &w);
    /* Dekker with rlc__bucket_release(): a seq_cst read of the state
     * after our seq_cst count of waiters, so that a token given back in
     * between is seen here or the releaser sees us waiting. */
    (void)atomic_load(&b->state);
    for (;;) {
        /* Read before the checks: a wake-up after them ends the sleep. */
        uint32_t seen = atomic_load(&w.seq);
        int64_t due = INT64_MAX, now, until;

        if (atomic_load(closed)) {
            st = RLC_ECLOSED;
            break;
        }
        if (c != NULL && rlc_cancel_fired(c)) {
            st = RLC_ECANCELED;
            break;
        }
        now = rlc__clock_now(clk);
        if (b->head == &w) {
            take_result r = take(b, now, &due, true);

            if (r == TAKEN) {
                st = RLC_OK;
                break;
            }
            if (r == GONE) {
                st = RLC_EUNKNOWN;
                break;
            }
        }
        if (deadline >= 0 && now >= deadline) {
            st = RLC_ETIMEDOUT;
            break;
        }
        until = due;
        if (deadline >= 0 && deadline < until)
            until = deadline;
        /* An injected clock cannot be slept on: its owner wakes us. */
        if (clk->fn != NULL || until == INT64_MAX)
            until = -1;
        pthread_mutex_unlock(&b->mu);
        rlc__waiter_sleep(&w, seen, until);
        pthread_mutex_lock(&b->mu);
    }
    dequeue(b, &w);
    if (b->head != NULL)
        rlc__waiter_wake(b->head); /* its turn: maybe a token is there */
    pthread_mutex_unlock(&b->mu);
    if (c != NULL)
        rlc__cancel_unregister(c, &w);
    return st;
}

rlc_status rlc__bucket_acquire(rlc__bucket *b, const rlc__clock *clk,
                               const atomic_bool *closed, int64_t timeout_ns,
                               rlc_cancel *c)
{
    int64_t now, deadline = -1;
    rlc_status st;

    if (c != NULL && rlc_cancel_fired(c))
        return RLC_ECANCELED;
    if (atomic_load(closed))
        return RLC_ECLOSED;
    now = rlc__clock_now(clk);
    st = rlc__bucket_try(b, now);
    if (st != RLC_EEXHAUSTED || timeout_ns == 0)
        return st;
    if (timeout_ns > 0 && timeout_ns <= INT64_MAX - now)
        deadline = now + timeout_ns;
    return wait_for_token(b, clk, closed, deadline, c);
}

void rlc__bucket_release(rlc__bucket *b, int64_t now)
{
    int n;

    for (;;) {
        rlc__gcra g;
        uint64_t s = snapshot(b, &g), count;

        if (g.cap == 0)
            return; /* removed: nothing is in flight any more */
        count = rlc__gcra_give(&g, s & COUNT_MASK, now);
        if (count == (s & COUNT_MASK))
            break; /* already full */
        if (atomic_compare_exchange_weak(&b->state, &s,
                                         pack(version(s), count)))
            break;
    }
    n = atomic_load_explicit(&b->in_flight, memory_order_relaxed);
    while (n > 0 && !atomic_compare_exchange_weak(&b->in_flight, &n, n - 1))
        ;
    /* Pairs with enqueue()'s increment before the head's take(): either
     * the head saw this token, or this sees the head. */
    if (atomic_load(&b->nwaiters) > 0) {
        pthread_mutex_lock(&b->mu);
        if (b->head != NULL)
            rlc__waiter_wake(b->head);
        pthread_mutex_unlock(&b->mu);
    }
}

/* b->mu held. Returns the previous capacity. */
static int configure_locked(rlc__bucket *b, int cap, int64_t window,
                            const rlc__clock *clk)
{
    rlc__gcra g, to;
    int64_t now;

    snapshot(b, &g);
    if (cap > 0 && g.cap == cap && g.window == window)
        return cap; /* nothing changes; keep the fraction of a token */
    /* Read under the mutex, and never before the origin in force: a stale
     * time would hand out the refill since then a second time. */
    now = rlc__clock_now(clk);
    if (now < g.origin)
        now = g.origin;
    if (cap <= 0 || g.cap == 0)
        atomic_store(&b->in_flight, 0); /* removed, or back afresh */
    if (cap <= 0)
        atomic_store(&b->pause_until, 0); /* forgotten with the resource */
    to.cap = cap > 0 ? cap : 0;
    to.window = cap > 0 ? window : 1;
    to.origin = now;
    publish(b, &to, recount_convert, now);
    if (b->head != NULL)
        rlc__waiter_wake(b->head);
    return (int)g.cap;
}

int rlc__bucket_configure(rlc__bucket *b, int cap, int64_t window,
                          const rlc__clock *clk)
{
    int old;

    pthread_mutex_lock(&b->mu);
    old = configure_locked(b, cap, window, clk);
    pthread_mutex_unlock(&b->mu);
    return old;
}

int rlc__bucket_scale(rlc__bucket *b, int num, int den, int floor,
                      const rlc__clock *clk, const uint64_t *epoch, int *old)
{
    rlc__gcra g;
    int64_t cap;

    pthread_mutex_lock(&b->mu);
    snapshot(b, &g);
    *old = (int)g.cap;
    cap = g.cap * num / den;
    if (cap < floor)
        cap = floor;
    if (cap > g.cap)
        cap = g.cap;
    if (g.cap == 0 || (epoch != NULL && *epoch != atomic_load(&b->epoch))) {
        pthread_mutex_unlock(&b->mu);
        return (int)g.cap; /* removed, or cut since that request left */
    }
    if (cap < g.cap) {
        configure_locked(b, (int)cap, g.window, clk);
        atomic_fetch_add(&b->epoch, 1);
    }
    pthread_mutex_unlock(&b->mu);
    return (int)cap;
}

bool rlc__bucket_pause(rlc__bucket *b, int64_t until)
{
    rlc__gcra g;
    bool longer = false;

    pthread_mutex_lock(&b->mu);
    snapshot(b, &g);
    if (g.cap > 0 && until > atomic_load(&b->pause_until)) {
        atomic_store(&b->pause_until, until);
        longer = true;
        /* It may be sleeping until a token due before the pause ends:
         * woken, it finds the pause and sleeps until its end instead. */
        if (b->head != NULL)
            rlc__waiter_wake(b->head);
    }
    pthread_mutex_unlock(&b->mu);
    return longer;
}

bool rlc__bucket_snapshot(rlc__bucket *b, int64_t now, rlc_capacity *out)
{
    rlc__gcra g;
    uint64_t s = snapshot(b, &g);
    int64_t pause = atomic_load(&b->pause_until);

    if (g.cap == 0)
        return false;
    memcpy(out->resource, b->name, b->len + 1);
    out->available = (int)rlc__gcra_available(&g, s & COUNT_MASK, now);
    out->total = (int)g.cap;
    out->in_flight = atomic_load(&b->in_flight);
    out->window_ns = g.window;
    out->waiting = atomic_load(&b->nwaiters);
    out->epoch = atomic_load(&b->epoch);
    out->paused_until_ns = pause > now ? pause : 0;
    return true;
}

void rlc__bucket_wake_all(rlc__bucket *b)
{
    struct rlc__waiter *w;

    pthread_mutex_lock(&b->mu);
    for (w = b->head; w != NULL; w = w->next)
        rlc__waiter_wake(w);
    pthread_mutex_unlock(&b->mu);
}
