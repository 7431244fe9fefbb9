/* SPDX-License-Identifier: MIT */
/*
 * shm_bucket.c - a token bucket shared by processes, lock-free, with the
 * exact arithmetic of gcra.c. SIGKILL-safe because every change is one
 * compare-and-swap: a take moves the state word's count; a parameter change
 * fills a record that no state word names, then swings the word to it. The
 * table is always before or after a change, never half-way through one.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gcra.h"
#include "shm_bucket.h"

/*
 * The state word is record:3 | version:21 | count:40. A waiter reserves
 * its token by counting it (the count may run ahead of the supply: the
 * excess is the queue, in order) and sleeps on the slot's futex until the
 * token is due. A change re-queues the waiters: it drops what was reserved
 * and is not yet due, and a waiter whose version moved knows its token was
 * kept only if it was due when the one change came; else it reserves
 * again. So nothing a dead process held is ever handed out twice: at worst
 * a token goes unused.
 */

#define REC_SHIFT 61
#define VER_SHIFT 40
#define COUNT_MASK ((UINT64_C(1) << VER_SHIFT) - 1)
#define VER_MASK UINT64_C(0x1fffff)
/* Counts past this are rebased (exactly) before storing. */
#define REBASE_AT (UINT64_C(1) << 39)
/* An origin further ahead of now is not this boot's clock (a table file
 * on a disk, kept across a reboot) nor this test's: not trusted. */
#define FUTURE_SLACK (60 * RLC_SECOND)

/* A private value for "reserve again": never a status of rlc.h. */
#define REQUEUE ((rlc_status)-1)

static unsigned rec_of(uint64_t s)
{
    return (unsigned)(s >> REC_SHIFT);
}

static uint32_t ver_of(uint64_t s)
{
    return (uint32_t)((s >> VER_SHIFT) & VER_MASK);
}

static uint64_t pack(unsigned rec, uint32_t ver, uint64_t count)
{
    return (uint64_t)rec << REC_SHIFT |
           (uint64_t)(ver & VER_MASK) << VER_SHIFT | count;
}

/* A record's contents, read consistently (see snap). */
typedef struct params {
    int64_t cap, window, origin, pause;
    int64_t changed_at, absorbed, cap_at;
    uint64_t epoch;
    int64_t cfg_cap, cfg_window;
    uint64_t cfg_by;
} params;

/*
 * The state word and the record it names. The record may be recycled by
 * a change while it is read; the version read again after tells: a reader
 * that saw any value written since (acquire) also sees the version moved.
 */
static uint64_t snap(struct rlc__shm_slot *sl, params *p, bool all)
{
    for (;;) {
        uint64_t s = atomic_load_explicit(&sl->state, memory_order_acquire);
        struct rlc__shm_record *r = &sl->rec[rec_of(s)];

        p->cap = atomic_load_explicit(&r->cap, memory_order_acquire);
        p->window = atomic_load_explicit(&r->window, memory_order_acquire);
        p->origin = atomic_load_explicit(&r->origin, memory_order_acquire);
        p->pause = atomic_load_explicit(&r->pause_until, memory_order_acquire);
        if (all) {
            p->changed_at =
                atomic_load_explicit(&r->changed_at, memory_order_acquire);
            p->absorbed =
                atomic_load_explicit(&r->absorbed, memory_order_acquire);
            p->cap_at = atomic_load_explicit(&r->cap_at, memory_order_acquire);
            p->epoch = atomic_load_explicit(&r->epoch, memory_order_acquire);
            p->cfg_cap =
                atomic_load_explicit(&r->cfg_cap, memory_order_acquire);
            p->cfg_window =
                atomic_load_explicit(&r->cfg_window, memory_order_acquire);
            p->cfg_by = atomic_load_explicit(&r->cfg_by, memory_order_acquire);
        }
        if (((atomic_load_explicit(&sl->state, memory_order_relaxed) ^ s) >>
             VER_SHIFT) == 0)
            return s;
    }
}

/* Can these parameters be computed with? Anything else is a removed
 * resource: a value out of range never divides by zero nor overflows. */
static bool live(const params *p, int64_t now)
{
    return p->cap >= 1 && p->cap <= INT_MAX && p->window >= 1 &&
           p->origin >= 0 && p->origin <= rlc__add_sat(now, FUTURE_SLACK);
}

static rlc__gcra gcra_of(const params *p)
{
    rlc__gcra g = {p->cap, p->window, p->origin};

    return g;
}

/* Tokens supplied by now, S = C + floor(e * C / W) (gcra.h), saturated. */
static uint64_t supplied(const rlc__gcra *g, int64_t now)
{
    uint64_t e = now > g->origin ? (uint64_t)(now - g->origin) : 0;
    unsigned __int128 s =
        (unsigned __int128)e * (uint64_t)g->cap / (uint64_t)g->window +
        (uint64_t)g->cap;

    return s > UINT64_MAX ? UINT64_MAX : (uint64_t)s;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Full: S - N >= C. Then every token counted is in the past, and the
 * bucket grew back to capacity since: a reservation not yet collected
 * was absorbed by the overflow, and is not a token any more. */
static bool full_at(const params *p, uint64_t count, int64_t now)
{
    rlc__gcra g = gcra_of(p);
    uint64_t have = supplied(&g, now);

    return have >= count && have - count >= (uint64_t)p->cap;
}

/* The futex word: changes << 1 | 1 when someone may sleep on it. */
static uint32_t arm(struct rlc__shm_slot *sl)
{
    uint32_t v = atomic_load(&sl->wake);

    while ((v & 1) == 0 && !atomic_compare_exchange_weak(&sl->wake, &v, v | 1))
        ;
    return v | 1;
}

void rlc__shm_bucket_wake(struct rlc__shm_slot *sl)
{
    uint32_t v = atomic_load(&sl->wake);

    while (!atomic_compare_exchange_weak(&sl->wake, &v, (v | 1) + 1))
        ;
    /* Shared (no FUTEX_PRIVATE_FLAG): the sleepers are other processes. */
    if (v & 1) {
        int saved = errno;

        syscall(SYS_futex, &sl->wake, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
        errno = saved;
    }
}

/*
 * Sleeps while sl->wake == seen (and, with a cancel handle, w->seq ==
 * cseen) until `until` (CLOCK_MONOTONIC ns; < 0: none). Returns on any
 * wake-up, signal or time-out: callers look again.
 */
static void nap(struct rlc__shm_slot *sl, uint32_t seen, struct rlc__waiter *w,
                uint32_t cseen, int64_t until)
{
    struct timespec ts, *tsp = NULL;
    int saved = errno;

    if (until >= 0) {
        ts.tv_sec = (time_t)(until / RLC_SECOND);
        ts.tv_nsec = (long)(until % RLC_SECOND);
        tsp = &ts;
    }
    if (w != NULL) {
#ifdef SYS_futex_waitv
        /* A cancel handle wakes its waiter's own (private) word; the
         * slot's word is shared: one sleep on both. */
        struct futex_waitv v[2];

        memset(v, 0, sizeof(v));
        v[0].val = seen;
        v[0].uaddr = (uintptr_t)&sl->wake;
        v[0].flags = FUTEX_32;
        v[1].val = cseen;
        v[1].uaddr = (uintptr_t)&w->seq;
        v[1].flags = FUTEX_32 | FUTEX_PRIVATE_FLAG;
        if (syscall(SYS_futex_waitv, v, 2, 0, tsp, CLOCK_MONOTONIC) >= 0 ||
            errno != ENOSYS) {
            errno = saved;
            return;
        }
#endif
        /* Before Linux 5.16: the cancel handle is looked at every 10 ms. */
        int64_t soon = rlc__monotonic_ns() + 10 * RLC_MILLISECOND;

        if (until < 0 || until > soon) {
            ts.tv_sec = (time_t)(soon / RLC_SECOND);
            ts.tv_nsec = (long)(soon % RLC_SECOND);
            tsp = &ts;
        }
    }
    syscall(SYS_futex, &sl->wake, FUTEX_WAIT_BITSET, seen, tsp, NULL,
            FUTEX_BITSET_MATCH_ANY);
    errno = saved;
}

/* A change: from the record in force and the count, the next record and
 * count; false when there is nothing to change. */
typedef bool (*change_fn)(const params *from, bool alive, uint64_t count,
                          int64_t now, params *to, uint64_t *n, void *arg);

static void write_record(struct rlc__shm_record *r, const params *p)
{
    /* Release: a reader of the record's previous life that sees any of
     * these also sees the version that has moved since, and retries. */
    atomic_store_explicit(&r->cap, p->cap, memory_order_release);
    atomic_store_explicit(&r->window, p->window, memory_order_release);
    atomic_store_explicit(&r->origin, p->origin, memory_order_release);
    atomic_store_explicit(&r->pause_until, p->pause, memory_order_release);
    atomic_store_explicit(&r->changed_at, p->changed_at, memory_order_release);
    atomic_store_explicit(&r->absorbed, p->absorbed, memory_order_release);
    atomic_store_explicit(&r->cap_at, p->cap_at, memory_order_release);
    atomic_store_explicit(&r->epoch, p->epoch, memory_order_release);
    atomic_store_explicit(&r->cfg_cap, p->cfg_cap, memory_order_release);
    atomic_store_explicit(&r->cfg_window, p->cfg_window, memory_order_release);
    atomic_store_explicit(&r->cfg_by, p->cfg_by, memory_order_release);
}

/*
 * Publishes fn's change: in a record claimed for it, then by one
 * compare-and-swap of the state word, retried (fn recomputing) until the
 * word it computed from is still the word in force. Killed before the
 * swap, the process leaves a claimed record that the next changer takes
 * back; after it, a record it had not yet given back, the same. Returns
 * true when it published (and woke the slot's sleepers).
 */
static bool change(struct rlc__shm_slot *sl, const rlc__clock *clk,
                   change_fn fn, void *arg)
{
    uint64_t word = 0;
    unsigned mine = RLC__SHM_RECORDS;

    for (;;) {
        params from, to;
        uint64_t s = snap(sl, &from, true), n;
        int64_t now = rlc__clock_now(clk);
        bool alive = live(&from, now);
        uint32_t old_tag;

        /* Never before the origin in force: a stale time would hand out
         * the refill since then a second time. */
        if (alive && now < from.origin)
            now = from.origin;
        if (!fn(&from, alive, s & COUNT_MASK, now, &to, &n, arg)) {
            if (mine < RLC__SHM_RECORDS)
                rlc__shm_record_free(sl, mine, RLC__WORD_TAG(word));
            return false;
        }
        to.changed_at = now;
        to.absorbed = alive && full_at(&from, s & COUNT_MASK, now);
        if (mine == RLC__SHM_RECORDS)
            mine = rlc__shm_record_claim(sl, &word);
        write_record(&sl->rec[mine], &to);
        /* The tag of the record in force, while it is in force (if it is
         * not any more, the swap below fails). */
        old_tag = RLC__WORD_TAG(atomic_load(&sl->rec[rec_of(s)].owner));
        if (atomic_compare_exchange_strong(&sl->state, &s,
                                           pack(mine, ver_of(s) + 1, n))) {
            rlc__shm_record_published(sl, mine, word);
            rlc__shm_record_free(sl, rec_of(s), old_tag);
            rlc__shm_bucket_wake(sl);
            return true;
        }
    }
}

/* A bucket at capacity starts its clock again (see bucket.c). */
static bool restart_fn(const params *from, bool alive, uint64_t count,
                       int64_t now, params *to, uint64_t *n, void *arg)
{
    rlc__gcra g = gcra_of(from), t;

    (void)arg;
    if (!alive || !rlc__gcra_overflowing(&g, count, now))
        return false;
    *to = *from;
    to->origin = now;
    t = gcra_of(to);
    *n = rlc__gcra_convert(&g, count, &t, now);
    to->origin = t.origin;
    return true;
}

/* The origin forward by whole windows, the count down by as many
 * capacities: exact. What is reserved and not due is dropped (re-queue). */
static bool rebase_fn(const params *from, bool alive, uint64_t count,
                      int64_t now, params *to, uint64_t *n, void *arg)
{
    rlc__gcra g = gcra_of(from), t = g;
    uint64_t held, shift;

    (void)arg;
    if (!alive)
        return false;
    (void)rlc__gcra_rebase(&t, 0, now);
    if (t.origin == g.origin)
        return false;
    shift = (uint64_t)((t.origin - g.origin) / g.window) * (uint64_t)g.cap;
    held = min_u64(count, supplied(&g, now));
    *to = *from;
    to->origin = t.origin;
    *n = held > shift ? held - shift : 0;
    return true;
}

/* A release while waiters have reserved beyond the supply: the token
 * goes back, the waiters re-queue and the first takes it. */
static bool release_fn(const params *from, bool alive, uint64_t count,
                       int64_t now, params *to, uint64_t *n, void *arg)
{
    rlc__gcra g = gcra_of(from);
    uint64_t have;

    (void)arg;
    if (!alive)
        return false;
    have = supplied(&g, now);
    if (count <= have)
        return false; /* no queue: a plain give-back will do */
    *to = *from;
    *n = have - 1; /* have >= C >= 1 */
    return true;
}

typedef enum { TAKEN, EMPTY, PAUSED, GONE, RESERVED } take_result;

/* A token counted for a waiter, due at `due`, in the version `head`. */
struct resv {
    uint64_t head; /* state >> VER_SHIFT after the reservation */
    uint64_t ticket;
    int64_t due;
};

/*
 * One token at now, lock-free; or, if may_reserve, the next one reserved
 * (counted) when it is due by deadline (< 0: none). *when gets the time a
 * token or the pause's end is due when EMPTY or PAUSED.
 */
static take_result take(struct rlc__shm_slot *sl, const rlc__clock *clk,
                        int64_t now, bool may_reserve, int64_t deadline,
                        int64_t *when, struct resv *rv)
{
    for (;;) {
        params p;
        uint64_t s = snap(sl, &p, false), count = s & COUNT_MASK, n;
        rlc__gcra g;
        int64_t due;

        if (!live(&p, now))
            return GONE;
        g = gcra_of(&p);
        if (p.pause > now) {
            /* A token due after the pause keeps its place in line; one
             * due before waits for the end, unreserved. */
            due = rlc__gcra_next_due(&g, count);
            if (!may_reserve || due < p.pause) {
                *when = p.pause;
                return PAUSED;
            }
        } else {
            /* Restart at capacity: a slow path, once per idle spell.
             * Below a microsecond per token the lock-free top-up is kept
             * (an early tick is harmless there). */
            if (g.window > g.cap * INT64_C(1000) &&
                rlc__gcra_overflowing(&g, count, now)) {
                change(sl, clk, restart_fn, NULL);
                continue;
            }
            if (rlc__gcra_take(&g, count, now, &n)) {
                if (n >= REBASE_AT) {
                    if (!change(sl, clk, rebase_fn, NULL)) {
                        *when = INT64_MAX; /* a count no clock explains */
                        return EMPTY;
                    }
                    continue;
                }
                if (atomic_compare_exchange_weak(&sl->state, &s,
                                                 (s & ~COUNT_MASK) | n)) {
                    atomic_fetch_add_explicit(&sl->in_flight, 1,
                                              memory_order_relaxed);
                    return TAKEN;
                }
                continue;
            }
            due = rlc__gcra_next_due(&g, count);
        }
        if (!may_reserve || (deadline >= 0 && due > deadline) ||
            count + 1 >= REBASE_AT) {
            *when = due;
            return EMPTY;
        }
        if (atomic_compare_exchange_weak(&sl->state, &s, s + 1)) {
            rv->head = (s + 1) >> VER_SHIFT;
            rv->ticket = count + 1;
            rv->due = due;
            return RESERVED;
        }
    }
}

rlc_status rlc__shm_bucket_try(struct rlc__shm_slot *sl, const rlc__clock *clk)
{
    int64_t when;

    switch (take(sl, clk, rlc__clock_now(clk), false, -1, &when, NULL)) {
    case TAKEN:
        return RLC_OK;
    case GONE:
        return RLC_EUNKNOWN;
    default:
        return RLC_EEXHAUSTED;
    }
}

/* A waiter giving up: its token back if it is still the last counted
 * (else it is lost: the host admits one less, never one more). */
static void give_back(struct rlc__shm_slot *sl, const struct resv *rv)
{
    uint64_t s = atomic_load(&sl->state);

    while ((s >> VER_SHIFT) == rv->head && (s & COUNT_MASK) == rv->ticket &&
           !atomic_compare_exchange_weak(&sl->state, &s, s - 1))
        ;
}

/*
 * Holds reservation rv until it is due: RLC_OK, or RLC_ECLOSED,
 * RLC_ECANCELED (given back), RLC_EUNKNOWN (removed), REQUEUE (a change
 * dropped it: reserve again).
 */
static rlc_status hold(struct rlc__shm_slot *sl, const rlc__clock *clk,
                       const atomic_bool *closed, rlc_cancel *c,
                       struct rlc__waiter *w, const struct resv *rv)
{
    for (;;) {
        /* Armed before looking: a change after the look ends the nap. */
        uint32_t seen = arm(sl), cseen = atomic_load(&w->seq), moved;
        params p;
        uint64_t s;
        int64_t now;

        if (atomic_load(closed)) {
            give_back(sl, rv);
            return RLC_ECLOSED;
        }
        if (c != NULL && rlc_cancel_fired(c)) {
            give_back(sl, rv);
            return RLC_ECANCELED;
        }
        s = snap(sl, &p, true);
        now = rlc__clock_now(clk);
        moved = (ver_of(s) - (uint32_t)(rv->head & VER_MASK)) & VER_MASK;
        if (!live(&p, now))
            return RLC_EUNKNOWN;
        /* Collected so late that the bucket has filled up since: the
         * token was absorbed, take one now (there is one) instead. */
        if (now >= rv->due && full_at(&p, s & COUNT_MASK, now))
            return REQUEUE;
        if (moved == 0) {
            if (now >= rv->due) {
                atomic_fetch_add_explicit(&sl->in_flight, 1,
                                          memory_order_relaxed);
                return RLC_OK;
            }
            /* An injected clock cannot be slept on: its owner wakes us. */
            nap(sl, seen, c != NULL ? w : NULL, cseen,
                clk->fn != NULL ? -1 : rv->due);
            continue;
        }
        /* One change, made when the token was due: it kept it (unless
         * it found the bucket full). After more than one, which of them
         * dropped it is not known: re-queue. */
        if (moved == 1 && p.changed_at >= rv->due && !p.absorbed) {
            atomic_fetch_add_explicit(&sl->in_flight, 1, memory_order_relaxed);
            return RLC_OK;
        }
        return REQUEUE;
    }
}

rlc_status rlc__shm_bucket_acquire(struct rlc__shm_slot *sl,
                                   const rlc__clock *clk,
                                   const atomic_bool *closed,
                                   int64_t timeout_ns, rlc_cancel *c)
{
    struct rlc__waiter w;
    int64_t now, deadline = -1;
    bool armed = false;
    rlc_status st;

    if (c != NULL && rlc_cancel_fired(c))
        return RLC_ECANCELED;
    if (atomic_load(closed))
        return RLC_ECLOSED;
    memset(&w, 0, sizeof(w));
    now = rlc__clock_now(clk);
    if (timeout_ns > 0)
        deadline = rlc__add_sat(now, timeout_ns);
    for (;;) {
        uint32_t seen = 0, cseen = 0;
        struct resv rv;
        int64_t when;

        if (armed) {
            seen = arm(sl);
            cseen = atomic_load(&w.seq);
            if (atomic_load(closed)) {
                st = RLC_ECLOSED;
                break;
            }
            if (c != NULL && rlc_cancel_fired(c)) {
                st = RLC_ECANCELED;
                break;
            }
            now = rlc__clock_now(clk);
        }
        switch (take(sl, clk, now, timeout_ns != 0, deadline, &when, &rv)) {
        case TAKEN:
            st = RLC_OK;
            break;
        case GONE:
            st = RLC_EUNKNOWN;
            break;
        case EMPTY:
            /* Not by the deadline: no use waiting for it. */
            st = timeout_ns == 0 ? RLC_EEXHAUSTED : RLC_ETIMEDOUT;
            break;
        case PAUSED:
            if (timeout_ns == 0) {
                st = RLC_EEXHAUSTED;
                break;
            }
            if (deadline >= 0 && when > deadline) {
                st = RLC_ETIMEDOUT;
                break;
            }
            if (armed)
                nap(sl, seen, c != NULL ? &w : NULL, cseen,
                    clk->fn != NULL ? -1 : when);
            else if (c != NULL)
                rlc__cancel_register(c, &w);
            armed = true; /* then look again, armed, before a nap */
            continue;
        case RESERVED:
            if (!armed && c != NULL)
                rlc__cancel_register(c, &w);
            armed = true;
            st = hold(sl, clk, closed, c, &w, &rv);
            if (st == REQUEUE)
                continue;
            break;
        }
        break;
    }
    if (armed && c != NULL)
        rlc__cancel_unregister(c, &w);
    return st;
}

void rlc__shm_bucket_release(struct rlc__shm_slot *sl, const rlc__clock *clk)
{
    int32_t n;

    for (;;) {
        params p;
        uint64_t s = snap(sl, &p, false), count = s & COUNT_MASK, back;
        int64_t now = rlc__clock_now(clk);
        rlc__gcra g;

        if (!live(&p, now))
            return; /* removed: nothing is in flight any more */
        g = gcra_of(&p);
        if (count > supplied(&g, now)) {
            if (change(sl, clk, release_fn, NULL))
                break;
            continue;
        }
        back = rlc__gcra_give(&g, count, now);
        if (back == count)
            break; /* already full */
        if (atomic_compare_exchange_weak(&sl->state, &s,
                                         (s & ~COUNT_MASK) | back))
            break;
    }
    n = atomic_load_explicit(&sl->in_flight, memory_order_relaxed);
    while (n > 0 && !atomic_compare_exchange_weak(&sl->in_flight, &n, n - 1))
        ;
}

struct configure_arg {
    int64_t cap, window;
    uint64_t by;
    struct rlc__shm_prior prior;
};

static bool configure_fn(const params *from, bool alive, uint64_t count,
                         int64_t now, params *to, uint64_t *n, void *arg)
{
    struct configure_arg *a = arg;
    rlc__gcra g = gcra_of(from), t;

    a->prior.live = alive;
    a->prior.cfg_cap = alive ? from->cfg_cap : 0;
    a->prior.cfg_window = alive ? from->cfg_window : 0;
    a->prior.cfg_by = alive ? from->cfg_by : 0;
    if (a->cap > 0 && alive && from->cfg_cap == a->cap &&
        from->cfg_window == a->window)
        return false; /* in force already: keep any cut made since */
    if (a->cap <= 0 && from->cap == 0 && from->pause == 0)
        return false; /* removed already */
    *to = *from;
    to->origin = now;
    if (a->cap <= 0) {
        to->cap = 0;
        to->window = 1;
        to->pause = 0; /* forgotten with the resource */
        to->cfg_cap = 0;
        to->cfg_window = 0;
        to->cfg_by = 0;
        *n = 0;
        return true;
    }
    to->cap = a->cap;
    to->window = a->window;
    to->cap_at = now;
    to->cfg_cap = a->cap;
    to->cfg_window = a->window;
    to->cfg_by = a->by;
    if (!alive) {
        to->pause = 0;
        *n = 0; /* new, or back: full */
        return true;
    }
    t = gcra_of(to);
    /* Tokens available kept (capped); reservations not due dropped. */
    *n = rlc__gcra_convert(&g, count, &t, now);
    to->origin = t.origin;
    return true;
}

void rlc__shm_bucket_configure(struct rlc__shm_slot *sl, const rlc__clock *clk,
                               int64_t cap, int64_t window, uint64_t by,
                               struct rlc__shm_prior *prior)
{
    struct configure_arg a;

    memset(&a, 0, sizeof(a));
    a.cap = cap;
    a.window = window;
    a.by = by;
    a.prior.changed = change(sl, clk, configure_fn, &a);
    /* Removed, or back afresh: nothing is in flight (a report only). */
    if (a.prior.changed && (cap <= 0 || !a.prior.live))
        atomic_store(&sl->in_flight, 0);
    if (prior != NULL)
        *prior = a.prior;
}

struct scale_arg {
    int num, den, floor;
    const uint64_t *epoch;
    int old, cap;
};

static bool scale_fn(const params *from, bool alive, uint64_t count,
                     int64_t now, params *to, uint64_t *n, void *arg)
{
    struct scale_arg *a = arg;
    rlc__gcra g = gcra_of(from), t;
    int64_t cap;

    if (!alive) {
        a->old = a->cap = 0;
        return false;
    }
    a->old = a->cap = (int)from->cap;
    cap = from->cap * a->num / a->den;
    if (cap < a->floor)
        cap = a->floor;
    if (cap > from->cap)
        cap = from->cap;
    if (cap == from->cap || (a->epoch != NULL && *a->epoch != from->epoch))
        return false; /* nothing to cut, or cut since that request left */
    *to = *from;
    to->cap = cap;
    to->origin = now;
    to->cap_at = now;
    to->epoch = from->epoch + 1;
    t = gcra_of(to);
    *n = rlc__gcra_convert(&g, count, &t, now);
    to->origin = t.origin;
    a->cap = (int)cap;
    return true;
}

int rlc__shm_bucket_scale(struct rlc__shm_slot *sl, const rlc__clock *clk,
                          int num, int den, int floor, const uint64_t *epoch,
                          int *old)
{
    struct scale_arg a = {num, den, floor, epoch, 0, 0};

    change(sl, clk, scale_fn, &a);
    *old = a.old;
    return a.cap;
}

struct grow_arg {
    int from, to;
    int64_t at; /* the capacity's change time seen; -1: not checked */
};

static bool grow_fn(const params *from, bool alive, uint64_t count, int64_t now,
                    params *to, uint64_t *n, void *arg)
{
    struct grow_arg *a = arg;
    rlc__gcra g = gcra_of(from), t;
    int64_t cap = a->to;

    if (!alive || from->cap != a->from || (a->at >= 0 && from->cap_at != a->at))
        return false; /* removed, or changed since the caller looked */
    if (from->cfg_cap > 0 && cap > from->cfg_cap)
        cap = from->cfg_cap;
    if (cap <= from->cap)
        return false;
    *to = *from;
    to->cap = cap;
    to->origin = now;
    to->cap_at = now;
    t = gcra_of(to);
    *n = rlc__gcra_convert(&g, count, &t, now);
    to->origin = t.origin;
    return true;
}

bool rlc__shm_bucket_grow(struct rlc__shm_slot *sl, const rlc__clock *clk,
                          int from, int to, int64_t at)
{
    struct grow_arg a = {from, to, at};

    return change(sl, clk, grow_fn, &a);
}

struct pause_arg {
    int64_t until;
};

static bool pause_fn(const params *from, bool alive, uint64_t count,
                     int64_t now, params *to, uint64_t *n, void *arg)
{
    struct pause_arg *a = arg;
    rlc__gcra g = gcra_of(from);

    if (!alive || a->until <= from->pause)
        return false;
    *to = *from;
    to->pause = a->until;
    /* The grid is kept (no fraction of a token lost); what is reserved
     * and not due is dropped: those waiters wait for the end instead. */
    *n = min_u64(count, supplied(&g, now));
    return true;
}

bool rlc__shm_bucket_pause(struct rlc__shm_slot *sl, const rlc__clock *clk,
                           int64_t until)
{
    struct pause_arg a = {until};

    return change(sl, clk, pause_fn, &a);
}

bool rlc__shm_bucket_snapshot(struct rlc__shm_slot *sl, int64_t now,
                              rlc_capacity *out)
{
    params p;
    uint64_t s = snap(sl, &p, true), count = s & COUNT_MASK, have;
    int32_t in_flight = atomic_load(&sl->in_flight);
    size_t len = sl->len < RLC_RESOURCE_MAX ? sl->len : RLC_RESOURCE_MAX - 1;
    rlc__gcra g;

    if (!live(&p, now))
        return false;
    g = gcra_of(&p);
    have = supplied(&g, now);
    memcpy(out->resource, sl->name, len);
    out->resource[len] = '\0';
    out->available = (int)rlc__gcra_available(&g, count, now);
    out->total = (int)p.cap;
    out->in_flight = in_flight > 0 ? in_flight : 0;
    out->window_ns = p.window;
    out->waiting =
        count > have ? (int)min_u64(count - have, (uint64_t)INT_MAX) : 0;
    out->epoch = p.epoch;
    out->paused_until_ns = p.pause > now ? p.pause : 0;
    return true;
}

bool rlc__shm_bucket_cap_at(struct rlc__shm_slot *sl, int64_t now, int64_t *at)
{
    params p;

    snap(sl, &p, true);
    if (!live(&p, now))
        return false;
    *at = p.cap_at;
    return true;
}

bool rlc__shm_bucket_config(struct rlc__shm_slot *sl, int64_t now, int64_t *cap,
                            int64_t *window, uint64_t *by)
{
    params p;

    snap(sl, &p, true);
    if (!live(&p, now))
        return false;
    *cap = p.cfg_cap;
    *window = p.cfg_window;
    *by = p.cfg_by;
    return true;
}
