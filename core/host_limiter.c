/* SPDX-License-Identifier: MIT */
/*
 * host_limiter.c - scope = host: the limiter whose buckets are slots of a
 * table in shared memory (shm_table.c), shared by every process of this
 * user and namespace, with no daemon. Everything shared is changed by
 * compare-and-swap only (shm_bucket.c), so a process killed at any instant
 * leaves nothing locked; what is kept here, per process, is only what this
 * limiter configured (to report disagreements) and its last error.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "host_limiter.h"
#include "shm_bucket.h"

/* What this limiter last configured for a slot, and what that replaced. */
struct setting {
    int64_t cap, window; /* 0: not configured here */
    bool replaced;       /* a different configuration, of another's */
    int64_t their_cap, their_window;
    uint64_t their_by;
};

typedef struct host_limiter {
    rlc_limiter base;
    rlc__clock clock;
    rlc__shm_table table;
    uint32_t id;        /* random: this limiter's configurations from others' */
    pthread_mutex_t mu; /* err and set[] (process-local) */
    char err[512];
    size_t errlen;
    struct setting set[RLC__SHM_SLOTS];
} host_limiter;

static const rlc__limiter_ops host_ops;

static host_limiter *hl(rlc_limiter *l)
{
    return (host_limiter *)l;
}

/* pid << 32 | id: who set a configuration. The pid is read each time: a
 * forked child configures as itself. */
static uint64_t me(const host_limiter *h)
{
    return (uint64_t)(uint32_t)getpid() << 32 | h->id;
}

static void set_error(host_limiter *h, const char *msg)
{
    pthread_mutex_lock(&h->mu);
    snprintf(h->err, sizeof(h->err), "%s", msg);
    h->errlen = strlen(msg);
    pthread_mutex_unlock(&h->mu);
}

static struct rlc__shm_slot *find(host_limiter *h, rlc__name r)
{
    return rlc__shm_find(&h->table, r.s, r.len, rlc__shm_hash(r.s, r.len));
}

static size_t index_of(const host_limiter *h, const struct rlc__shm_slot *sl)
{
    return (size_t)(sl - h->table.slots);
}

static rlc_status hl_acquire(rlc_limiter *l, rlc__name r, int64_t timeout_ns,
                             rlc_cancel *c)
{
    struct rlc__shm_slot *sl = find(hl(l), r);

    if (sl == NULL)
        return atomic_load(&l->closed) ? RLC_ECLOSED : RLC_EUNKNOWN;
    return rlc__shm_bucket_acquire(sl, &hl(l)->clock, &l->closed, timeout_ns,
                                   c);
}

static bool hl_try_acquire(rlc_limiter *l, rlc__name r)
{
    struct rlc__shm_slot *sl;

    if (atomic_load_explicit(&l->closed, memory_order_relaxed))
        return false;
    sl = find(hl(l), r);
    return sl != NULL && rlc__shm_bucket_try(sl, &hl(l)->clock) == RLC_OK;
}

static void hl_release(rlc_limiter *l, rlc__name r)
{
    struct rlc__shm_slot *sl;

    if (atomic_load(&l->closed))
        return;
    sl = find(hl(l), r);
    if (sl != NULL)
        rlc__shm_bucket_release(sl, &hl(l)->clock);
}

static rlc_status hl_set_capacity(rlc_limiter *l, rlc__name r, int capacity,
                                  int64_t window_ns)
{
    host_limiter *h = hl(l);
    struct rlc__shm_slot *sl;
    struct rlc__shm_prior prior;
    struct setting *set;
    bool remove = capacity <= 0 || window_ns <= 0;

    if (atomic_load(&l->closed))
        return RLC_ECLOSED;
    if (remove) {
        sl = find(h, r);
    } else {
        char err[sizeof(h->err)];
        rlc_status st = rlc__shm_find_or_claim(&h->table, r.s, r.len,
                                               rlc__shm_hash(r.s, r.len), &sl,
                                               err, sizeof(err));

        if (st != RLC_OK) {
            set_error(h, err);
            return st;
        }
    }
    if (sl != NULL) {
        rlc__shm_bucket_configure(sl, &h->clock, remove ? 0 : capacity,
                                  window_ns, me(h), &prior);
        set = &h->set[index_of(h, sl)];
        pthread_mutex_lock(&h->mu);
        set->cap = remove ? 0 : capacity;
        set->window = remove ? 0 : window_ns;
        /* Replacing someone else's different configuration is worth a
         * line in the caller's log: the last one wins for everyone. */
        set->replaced =
            !remove && prior.changed && prior.cfg_cap > 0 &&
            prior.cfg_by != me(h) &&
            (prior.cfg_cap != capacity || prior.cfg_window != window_ns);
        set->their_cap = prior.cfg_cap;
        set->their_window = prior.cfg_window;
        set->their_by = prior.cfg_by;
        pthread_mutex_unlock(&h->mu);
    }
    if (capacity <= 0)
        return RLC_EINVALCAP;
    return window_ns <= 0 ? RLC_EINVALWINDOW : RLC_OK;
}

static void hl_announce_reduced(rlc_limiter *l, rlc__name r, const char *why,
                                const uint64_t *epoch)
{
    struct rlc__shm_slot *sl;
    rlc_capacity_update u;
    char name[RLC_RESOURCE_MAX];
    int old, cap;

    if (atomic_load(&l->closed))
        return;
    sl = find(hl(l), r);
    if (sl == NULL)
        return;
    cap = rlc__shm_bucket_scale(sl, &hl(l)->clock, 3, 4, 1, epoch, &old);
    if (cap == 0 || cap == old)
        return;
    memcpy(name, r.s, r.len);
    name[r.len] = '\0';
    u.resource = name;
    u.agent_id = "";
    u.reason = why;
    u.new_capacity = cap;
    u.timestamp_ns = rlc__realtime_ns();
    rlc__limiter_notify(l, &u);
}

/* The pause goes into the table on the clock: now plus the time left. */
static bool hl_pause(rlc_limiter *l, rlc__name r, int64_t until,
                     const char *why)
{
    struct rlc__shm_slot *sl;
    int64_t left;

    (void)why;
    if (atomic_load(&l->closed))
        return false;
    sl = find(hl(l), r);
    if (sl == NULL)
        return false;
    left = rlc__add_sat(until, -rlc__realtime_ns());
    if (left <= 0)
        return false;
    return rlc__shm_bucket_pause(
        sl, &hl(l)->clock, rlc__add_sat(rlc__clock_now(&hl(l)->clock), left));
}

static bool hl_grow(rlc_limiter *l, rlc__name r, int from, int to)
{
    struct rlc__shm_slot *sl = find(hl(l), r);

    return sl != NULL && rlc__shm_bucket_grow(sl, &hl(l)->clock, from, to, -1);
}

static bool hl_get_capacity(rlc_limiter *l, rlc__name r, rlc_capacity *out)
{
    struct rlc__shm_slot *sl = find(hl(l), r);
    int64_t now = rlc__clock_now(&hl(l)->clock);

    if (sl == NULL || !rlc__shm_bucket_snapshot(sl, now, out))
        return false;
    memcpy(out->resource, r.s, r.len); /* the name asked for, exactly */
    out->resource[r.len] = '\0';
    if (out->paused_until_ns != 0)
        out->paused_until_ns =
            rlc__add_sat(rlc__realtime_ns(), out->paused_until_ns - now);
    return true;
}

/* Close or a clock move: every sleeper of every slot looks again (other
 * processes' too, who find nothing new and sleep on). */
static void hl_wake_all(rlc_limiter *l)
{
    host_limiter *h = hl(l);
    unsigned i;

    for (i = 0; i < RLC__SHM_SLOTS; i++) {
        struct rlc__shm_slot *sl = &h->table.slots[i];

        if (RLC__WORD_STATE(atomic_load(&sl->claim)) == RLC__CLAIM_READY)
            rlc__shm_bucket_wake(sl);
    }
}

static void hl_destroy(rlc_limiter *l)
{
    host_limiter *h = hl(l);

    rlc__shm_close(&h->table);
    pthread_mutex_destroy(&h->mu);
    rlc__limiter_fini(l);
    free(h);
}

static const rlc__limiter_ops host_ops = {
    .acquire = hl_acquire,
    .try_acquire = hl_try_acquire,
    .release = hl_release,
    .set_capacity = hl_set_capacity,
    .announce_reduced = hl_announce_reduced,
    .pause = hl_pause,
    .get_capacity = hl_get_capacity,
    .grow = hl_grow,
    .wake_all = hl_wake_all,
    .destroy = hl_destroy,
};

static uint32_t random_id(void)
{
    uint32_t id;

    if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != (ssize_t)sizeof(id))
        id = (uint32_t)rlc__realtime_ns() ^ (uint32_t)(uintptr_t)&id;
    return id;
}

rlc_status rlc_host_limiter_open(const rlc_host_limiter_options *o,
                                 rlc_limiter **out, char *err, size_t err_len)
{
    rlc_host_limiter_options none;
    host_limiter *h;
    rlc_status st;

    if (err != NULL && err_len > 0)
        err[0] = '\0';
    if (out == NULL) {
        if (err != NULL && err_len > 0)
            snprintf(err, err_len, "rlc_host_limiter_open: out is NULL");
        return RLC_EINVAL;
    }
    *out = NULL;
    if (o == NULL) {
        memset(&none, 0, sizeof(none));
        o = &none;
    }
    h = calloc(1, sizeof(*h));
    if (h == NULL)
        return RLC_ENOMEM;
    st = rlc__shm_open(&h->table, o->dir, o->ns != NULL ? o->ns : "default",
                       err, err_len);
    if (st != RLC_OK) {
        free(h);
        return st;
    }
    rlc__limiter_init(&h->base, &host_ops);
    h->clock.fn = o->now;
    h->clock.arg = o->now_arg;
    h->id = random_id();
    pthread_mutex_init(&h->mu, NULL);
    *out = &h->base;
    return RLC_OK;
}

rlc_status rlc_host_limiter_new(const char *ns, rlc_limiter **out)
{
    rlc_host_limiter_options o;

    memset(&o, 0, sizeof(o));
    o.ns = ns;
    return rlc_host_limiter_open(&o, out, NULL, 0);
}

rlc_status rlc_host_limiter_new_with_clock(const char *ns, rlc_clock_fn now,
                                           void *arg, rlc_limiter **out)
{
    rlc_host_limiter_options o;

    if (now == NULL) {
        if (out != NULL)
            *out = NULL;
        return RLC_EINVAL;
    }
    memset(&o, 0, sizeof(o));
    o.ns = ns;
    o.now = now;
    o.now_arg = arg;
    return rlc_host_limiter_open(&o, out, NULL, 0);
}

size_t rlc_host_limiter_error(rlc_limiter *l, char *buf, size_t len)
{
    host_limiter *h;
    size_t n;

    if (l == NULL || l->ops != &host_ops)
        return 0;
    h = hl(l);
    pthread_mutex_lock(&h->mu);
    n = h->errlen;
    if (buf != NULL && len > 0)
        snprintf(buf, len, "%s", h->err);
    pthread_mutex_unlock(&h->mu);
    return n;
}

/* "60 per 1m", "5 per 1500ms": as the ini file would say it. */
static void rate(char *buf, size_t len, int64_t cap, int64_t window)
{
    static const struct {
        int64_t ns;
        const char *unit;
    } units[] = {{60 * RLC_MINUTE, "h"}, {RLC_MINUTE, "m"},
                 {RLC_SECOND, "s"},      {RLC_MILLISECOND, "ms"},
                 {INT64_C(1000), "us"},  {1, "ns"}};
    size_t i = 0, n = sizeof(units) / sizeof(units[0]);

    while (i + 1 < n && (window <= 0 || window % units[i].ns != 0))
        i++;
    snprintf(buf, len, "%lld per %lld%s", (long long)cap,
             (long long)(window / units[i].ns), units[i].unit);
}

bool rlc_host_limiter_conflict(rlc_limiter *l, const char *resource, char *buf,
                               size_t len)
{
    host_limiter *h;
    struct rlc__shm_slot *sl;
    struct setting set;
    rlc__name r;
    char mine[64], theirs[64];
    int64_t cap, window;
    uint64_t by;

    if (l == NULL || l->ops != &host_ops || resource == NULL)
        return false;
    h = hl(l);
    r.s = resource;
    r.len = strnlen(resource, RLC_RESOURCE_MAX);
    if (r.len >= RLC_RESOURCE_MAX)
        return false;
    sl = find(h, r);
    if (sl == NULL)
        return false;
    pthread_mutex_lock(&h->mu);
    set = h->set[index_of(h, sl)];
    pthread_mutex_unlock(&h->mu);
    if (set.cap <= 0)
        return false;
    rate(mine, sizeof(mine), set.cap, set.window);
    if (set.replaced) {
        rate(theirs, sizeof(theirs), set.their_cap, set.their_window);
        if (buf != NULL && len > 0)
            snprintf(buf, len,
                     "resource '%s': this process's %s replaced %s set by "
                     "pid %u (the last configuration wins, for every process)",
                     resource, mine, theirs, (unsigned)(set.their_by >> 32));
        return true;
    }
    if (!rlc__shm_bucket_config(sl, rlc__clock_now(&h->clock), &cap, &window,
                                &by) ||
        by == me(h) || (cap == set.cap && window == set.window))
        return false;
    rate(theirs, sizeof(theirs), cap, window);
    if (buf != NULL && len > 0)
        snprintf(buf, len,
                 "resource '%s': %s set by pid %u replaced this process's %s "
                 "(the last configuration wins, for every process)",
                 resource, theirs, (unsigned)(by >> 32), mine);
    return true;
}

bool rlc__host_limiter_capacity_changed(rlc_limiter *l, const char *resource,
                                        int64_t *at)
{
    rlc__name r;
    struct rlc__shm_slot *sl;

    if (l == NULL || l->ops != &host_ops || !rlc__name_of(resource, &r))
        return false;
    sl = find(hl(l), r);
    return sl != NULL &&
           rlc__shm_bucket_cap_at(sl, rlc__clock_now(&hl(l)->clock), at);
}

bool rlc__host_limiter_grow_since(rlc_limiter *l, const char *resource,
                                  int from, int to, int64_t at)
{
    rlc__name r;
    struct rlc__shm_slot *sl;

    if (l == NULL || l->ops != &host_ops || !rlc__name_of(resource, &r) ||
        from <= 0 || to <= from || atomic_load(&l->closed))
        return false;
    sl = find(hl(l), r);
    return sl != NULL && rlc__shm_bucket_grow(sl, &hl(l)->clock, from, to, at);
}

bool rlc__host_limiter_file_current(rlc_limiter *l)
{
    return l == NULL || l->ops != &host_ops ||
           rlc__shm_still_linked(&hl(l)->table);
}
