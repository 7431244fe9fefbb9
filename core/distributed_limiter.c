/* SPDX-License-Identifier: MIT */
/*
 * distributed_limiter.c - the swarm's limiter: local buckets (a memory
 * limiter) whose capacities follow the cuts every agent publishes on a bus,
 * in the reference Go package's wire format.
 *
 * Cuts are cascade-safe: each resource has a capacity epoch, bumped by
 * every cut; a cut says which epoch it was made in, and one made in an
 * epoch already cut is ignored, so ten agents that see the same burst of
 * 429s cost one cut, not ten. With split, capacity is the swarm's total and
 * each agent holds an equal share of it, the live agents being those heard
 * on the presence subject lately; while the bus is down membership is
 * frozen, so a share never jumps to the whole total, and until the bus has
 * been up for a whole expiry period at least assumed_agents are counted,
 * so an agent started in an outage does not take the whole total either.
 * Pauses (Retry-After) travel on their own subject, each receiver adding
 * a random delay so that the swarm does not resume in lockstep.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "internal.h"
#include "wire.h"

#define PRESENCE_INTERVAL RLC_SECOND
#define PRESENCE_MISSED 3 /* heartbeats missed before an agent is gone */
#define MAX_PEERS 1024
#define SUBJECT_MAX 160
#define PAUSE_MAX (60 * RLC_MINUTE) /* a pause heard is cut to this */
#define PAUSE_JITTER_MAX RLC_SECOND

struct dres {
    char name[RLC_RESOURCE_MAX];
    int original; /* as configured: the swarm total with split */
    int current;  /* after cuts and recoveries */
    int64_t window_ns;
    uint64_t epoch;     /* cuts applied */
    int64_t changed_at; /* monotonic ns of the last cut, 0 if none */
    struct dres *next;
};

struct peer {
    char id[RLC_RESOURCE_MAX];
    int64_t seen; /* monotonic ns */
    int64_t interval;
};

typedef struct dist_limiter {
    rlc_limiter base;
    rlc_limiter *local;
    rlc__clock clock;
    rlc_bus *bus;
    char agent_id[RLC_RESOURCE_MAX];
    char subj_capacity[SUBJECT_MAX], subj_presence[SUBJECT_MAX];
    char subj_recovery[SUBJECT_MAX], subj_pause[SUBJECT_MAX];
    double reduce_factor, recovery_factor;
    int64_t recovery_interval;
    bool max_recovery, split;
    int min_capacity;
    int assumed; /* agents counted at least until warm */

    pthread_mutex_t mu; /* everything below */
    struct dres *res;
    struct peer *peers; /* other live agents (split only) */
    int npeers;
    rlc__bus_sub *sub_capacity, *sub_presence, *sub_pause;
    atomic_uint_least64_t dropped; /* messages that did not parse */
    uint64_t rng;                  /* pause delays (splitmix64) */

    int64_t next_presence; /* when the next heartbeat is due */
    bool was_connected;    /* the bus, at the last tick */
    int64_t up_since;      /* since when, if it was */
    bool warm;             /* up a whole expiry period once: live agents
                              alone count from then on */
    pthread_t thread;      /* runs tick() on the real clock */
    bool has_thread, stop;
    pthread_cond_t wake;
} dist_limiter;

static dist_limiter *dl(rlc_limiter *l)
{
    return (dist_limiter *)l;
}

static struct dres *find(dist_limiter *d, const char *name, size_t len)
{
    struct dres *r;

    for (r = d->res; r != NULL; r = r->next)
        if (strlen(r->name) == len && memcmp(r->name, name, len) == 0)
            return r;
    return NULL;
}

static int cmp_ids(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * This agent's part of r (mu held): with split, an equal share of the
 * total among the live agents, the remainder going to the first ones in
 * the order of their ids so that the shares add up to the total exactly;
 * fewer tokens than agents stretch the window instead. Before the bus has
 * been up long enough to know the swarm, agents not heard of may exist:
 * up to assumed_agents are counted, and nobody takes a remainder, since
 * agents that do not know each other could all think it theirs.
 */
static void share(const dist_limiter *d, const struct dres *r, int *cap,
                  int64_t *window)
{
    const char *ids[MAX_PEERS + 1];
    int live = 0, n, rank = 0;

    *cap = r->current;
    *window = r->window_ns;
    if (!d->split)
        return;
    ids[live++] = d->agent_id;
    for (int i = 0; i < d->npeers && live <= MAX_PEERS; i++)
        ids[live++] = d->peers[i].id;
    n = !d->warm && d->assumed > live ? d->assumed : live;
    if (n == 1)
        return;
    qsort(ids, (size_t)live, sizeof(ids[0]), cmp_ids);
    while (rank < live && ids[rank] != d->agent_id)
        rank++;
    if (r->current >= n) {
        *cap = r->current / n + (n == live && rank < r->current % n ? 1 : 0);
    } else {
        /* One token per n/current windows each: the swarm still gets
         * current per window. */
        __extension__ __int128 w = (__int128)r->window_ns * n;

        w = (w + r->current - 1) / r->current;
        *cap = 1;
        *window = w > INT64_MAX ? INT64_MAX : (int64_t)w;
    }
}

/* Puts r's capacity (this agent's part) into the local bucket. mu held. */
static void apply(dist_limiter *d, const struct dres *r)
{
    int cap;
    int64_t window;

    share(d, r, &cap, &window);
    rlc_set_capacity(d->local, r->name, cap, window);
}

static void notify(dist_limiter *d, const char *resource, const char *agent,
                   const char *reason, int capacity)
{
    rlc_capacity_update u;

    u.resource = resource;
    u.agent_id = agent;
    u.reason = reason;
    u.new_capacity = capacity;
    u.timestamp_ns = rlc__realtime_ns();
    rlc__limiter_notify(&d->base, &u);
}

/* ---- messages ----------------------------------------------------------- */

static void on_capacity(const char *subject, const void *data, size_t len,
                        void *arg)
{
    dist_limiter *d = arg;
    rlc__capacity_msg m;
    struct dres *r;
    int applied = 0;

    (void)subject;
    if (rlc__wire_decode_capacity(data, len, &m) != RLC_OK) {
        atomic_fetch_add(&d->dropped, 1);
        return;
    }
    if (strcmp(m.agent_id, d->agent_id) == 0 || m.new_capacity <= 0)
        return;
    pthread_mutex_lock(&d->mu);
    r = find(d, m.resource, strlen(m.resource));
    /* Unknown resources, and anything not below the configured capacity
     * (as the reference does), are not cuts. */
    if (r == NULL || m.new_capacity >= r->original)
        goto out;
    if (m.has_epoch) {
        if (m.epoch < r->epoch)
            goto out; /* that epoch was cut already */
        r->epoch = m.epoch + 1;
    } else if (m.new_capacity < r->current) {
        r->epoch++; /* a reference agent's cut counts as one */
    }
    /* A cut never raises a capacity, and never goes below the floor. */
    if (m.new_capacity < r->current) {
        r->current = m.new_capacity < d->min_capacity ? d->min_capacity
                                                      : (int)m.new_capacity;
        r->changed_at = rlc__clock_now(&d->clock);
        apply(d, r);
        applied = r->current;
    }
out:
    pthread_mutex_unlock(&d->mu);
    if (applied > 0)
        notify(d, m.resource, m.agent_id, m.reason, applied);
}

/* Uniform in 0..bound (mu held); splitmix64 is plenty for a delay. */
static int64_t random_upto(dist_limiter *d, int64_t bound)
{
    uint64_t z = d->rng += UINT64_C(0x9e3779b97f4a7c15);

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    z ^= z >> 31;
    return bound <= 0 ? 0 : (int64_t)(z % ((uint64_t)bound + 1));
}

/*
 * Another agent's pause: applied until its end plus a random delay of up
 * to 10 % of what is left (at most PAUSE_JITTER_MAX), so that agents that
 * all heard it do not all send again at the same instant. Not republished:
 * every agent hears the original.
 */
static void on_pause(const char *subject, const void *data, size_t len,
                     void *arg)
{
    dist_limiter *d = arg;
    rlc__capacity_msg m;
    int64_t now, left, delay = 0;
    bool known;

    (void)subject;
    if (rlc__wire_decode_capacity(data, len, &m) != RLC_OK || !m.has_pause) {
        atomic_fetch_add(&d->dropped, 1);
        return;
    }
    if (strcmp(m.agent_id, d->agent_id) == 0)
        return;
    now = rlc__realtime_ns();
    left = rlc__add_sat(m.pause_until_ns, -now);
    if (left <= 0)
        return; /* over already (or a clock far behind ours) */
    if (left > PAUSE_MAX)
        left = PAUSE_MAX; /* no agent can stop the swarm for a day */
    pthread_mutex_lock(&d->mu);
    known = find(d, m.resource, strlen(m.resource)) != NULL;
    if (known)
        delay = random_upto(d, left / 10 < PAUSE_JITTER_MAX ? left / 10
                                                            : PAUSE_JITTER_MAX);
    pthread_mutex_unlock(&d->mu);
    if (known)
        rlc_pause(d->local, m.resource, now + left + delay, m.reason);
}

static void forget_peer(dist_limiter *d, int i)
{
    d->peers[i] = d->peers[--d->npeers];
}

static void reshare_all(dist_limiter *d)
{
    for (struct dres *r = d->res; r != NULL; r = r->next)
        apply(d, r);
}

/* A peer's heartbeat interval, bounded: it comes from the network. */
static int64_t interval_of(const rlc__presence_msg *m)
{
    int64_t ms = m->interval_ms < 1         ? 1
                 : m->interval_ms > 3600000 ? 3600000
                                            : m->interval_ms;

    return ms * RLC_MILLISECOND;
}

static void on_presence(const char *subject, const void *data, size_t len,
                        void *arg)
{
    dist_limiter *d = arg;
    rlc__presence_msg m;
    int i;

    (void)subject;
    if (rlc__wire_decode_presence(data, len, &m) != RLC_OK) {
        atomic_fetch_add(&d->dropped, 1);
        return;
    }
    if (strcmp(m.agent_id, d->agent_id) == 0)
        return;
    pthread_mutex_lock(&d->mu);
    for (i = 0; i < d->npeers; i++)
        if (strcmp(d->peers[i].id, m.agent_id) == 0)
            break;
    if (m.leaving) {
        if (i < d->npeers) {
            forget_peer(d, i);
            reshare_all(d);
        }
    } else if (i < d->npeers) {
        d->peers[i].seen = rlc__clock_now(&d->clock);
        d->peers[i].interval = interval_of(&m);
    } else if (d->npeers < MAX_PEERS) {
        struct peer *p = &d->peers[d->npeers++];

        snprintf(p->id, sizeof(p->id), "%s", m.agent_id);
        p->seen = rlc__clock_now(&d->clock);
        p->interval = interval_of(&m);
        reshare_all(d);
    }
    pthread_mutex_unlock(&d->mu);
}

static void send_presence(dist_limiter *d, bool leaving)
{
    rlc__presence_msg m;
    char buf[4096];
    int n;

    memset(&m, 0, sizeof(m));
    snprintf(m.agent_id, sizeof(m.agent_id), "%s", d->agent_id);
    m.interval_ms = PRESENCE_INTERVAL / RLC_MILLISECOND;
    m.leaving = leaving;
    n = rlc__wire_encode_presence(&m, buf, sizeof(buf));
    if (n > 0)
        rlc_bus_publish(d->bus, d->subj_presence, buf, (size_t)n);
}

/* Publishes a capacity update made here (epoch: the one it was cut in;
 * pause_until: Unix ns of a pause, 0 for none). */
static void publish_update(dist_limiter *d, const char *subject,
                           const char *resource, const char *reason,
                           int capacity, const uint64_t *epoch,
                           int64_t pause_until)
{
    rlc__capacity_msg m;
    char buf[1024];
    int n;

    memset(&m, 0, sizeof(m));
    snprintf(m.resource, sizeof(m.resource), "%s", resource);
    snprintf(m.agent_id, sizeof(m.agent_id), "%s", d->agent_id);
    snprintf(m.reason, sizeof(m.reason), "%s", reason);
    m.new_capacity = capacity;
    m.timestamp_ns = rlc__realtime_ns();
    m.has_timestamp = true;
    if (epoch != NULL) {
        m.epoch = *epoch;
        m.has_epoch = true;
    }
    if (pause_until != 0) {
        m.pause_until_ns = pause_until;
        m.has_pause = true;
    }
    n = rlc__wire_encode_capacity(&m, buf, sizeof(buf));
    if (n > 0)
        rlc_bus_publish(d->bus, subject, buf, (size_t)n);
}

/*
 * Time passes (mu not held): recovers cut capacities, forgets agents not
 * heard for a while (only while the bus is up: an outage must not make
 * every share jump to the whole total).
 */
static void tick(dist_limiter *d, int64_t now)
{
    struct recovered {
        char name[RLC_RESOURCE_MAX];
        int capacity;
    } done[16];
    int ndone = 0;
    bool changed = false, beat = false;

    pthread_mutex_lock(&d->mu);
    if (d->split && now >= d->next_presence) {
        d->next_presence = now + PRESENCE_INTERVAL;
        beat = true;
    }
    for (struct dres *r = d->res; r != NULL; r = r->next) {
        int64_t grown;

        if (r->changed_at == 0 || now - r->changed_at < d->recovery_interval)
            continue;
        if (d->max_recovery && r->current >= r->original) {
            r->changed_at = 0;
            continue;
        }
        /* Truncating as the reference does (1e-9: 50 x 1.1 is 55, not
         * 55.000000000000007 rounding either way), but always by one at
         * least, or 1 x 1.1 would stay 1 for ever. */
        grown = (int64_t)(r->current * d->recovery_factor + 1e-9);
        if (grown <= r->current)
            grown = r->current + 1;
        if (d->max_recovery && grown > r->original)
            grown = r->original;
        if (grown > INT32_MAX)
            grown = INT32_MAX;
        r->current = (int)grown;
        r->changed_at = r->current >= r->original && d->max_recovery ? 0 : now;
        apply(d, r);
        if (ndone < 16) {
            snprintf(done[ndone].name, sizeof(done[0].name), "%s", r->name);
            done[ndone++].capacity = r->current;
        }
    }
    if (d->split && rlc_bus_connected(d->bus)) {
        /* Back from an outage: everyone gets a fresh grace period to be
         * heard again before being counted gone. */
        if (!d->was_connected) {
            for (int i = 0; i < d->npeers; i++)
                d->peers[i].seen = now;
            d->up_since = now;
        }
        d->was_connected = true;
        /* Up for as long as an agent may stay unheard: every agent alive
         * has been heard by now, so the assumed ones are let go. */
        if (!d->warm &&
            now - d->up_since >= PRESENCE_INTERVAL * PRESENCE_MISSED) {
            d->warm = true;
            changed = true;
        }
        for (int i = 0; i < d->npeers;) {
            int64_t late = d->peers[i].interval * PRESENCE_MISSED;

            if (now - d->peers[i].seen > late) {
                forget_peer(d, i);
                changed = true;
            } else {
                i++;
            }
        }
        if (changed)
            reshare_all(d);
    }
    if (!rlc_bus_connected(d->bus))
        d->was_connected = false;
    pthread_mutex_unlock(&d->mu);
    if (beat)
        send_presence(d, false);
    for (int i = 0; i < ndone; i++) {
        publish_update(d, d->subj_recovery, done[i].name, "recovery",
                       done[i].capacity, NULL, 0);
        notify(d, done[i].name, d->agent_id, "recovery", done[i].capacity);
    }
}

static void *loop(void *arg)
{
    dist_limiter *d = arg;

    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        int64_t now = rlc__monotonic_ns(), wait;
        struct timespec until;

        pthread_mutex_unlock(&d->mu);
        tick(d, now);
        pthread_mutex_lock(&d->mu);
        wait = d->split ? PRESENCE_INTERVAL / 4 : d->recovery_interval / 4;
        if (wait > RLC_SECOND)
            wait = RLC_SECOND;
        now = rlc__monotonic_ns() + wait;
        until.tv_sec = (time_t)(now / RLC_SECOND);
        until.tv_nsec = (long)(now % RLC_SECOND);
        if (!d->stop)
            pthread_cond_timedwait(&d->wake, &d->mu, &until);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

/* ---- the limiter's operations -------------------------------------------- */

static rlc_status dl_acquire(rlc_limiter *l, rlc__name r, int64_t timeout_ns,
                             rlc_cancel *c)
{
    return rlc_acquire_cancel(dl(l)->local, r.s, timeout_ns, c);
}

static bool dl_try_acquire(rlc_limiter *l, rlc__name r)
{
    return rlc_try_acquire(dl(l)->local, r.s);
}

static void dl_release(rlc_limiter *l, rlc__name r)
{
    rlc_release(dl(l)->local, r.s);
}

static rlc_status dl_set_capacity(rlc_limiter *l, rlc__name name, int capacity,
                                  int64_t window_ns)
{
    dist_limiter *d = dl(l);
    struct dres *r, **pp;

    if (atomic_load(&l->closed))
        return RLC_ECLOSED;
    pthread_mutex_lock(&d->mu);
    r = find(d, name.s, name.len);
    if (capacity <= 0 || window_ns <= 0) {
        for (pp = &d->res; *pp != NULL; pp = &(*pp)->next)
            if (*pp == r) {
                *pp = r->next;
                free(r);
                break;
            }
        pthread_mutex_unlock(&d->mu);
        return rlc_set_capacity(d->local, name.s, capacity, window_ns);
    }
    if (r == NULL) {
        r = calloc(1, sizeof(*r));
        if (r == NULL) {
            pthread_mutex_unlock(&d->mu);
            return RLC_ENOMEM;
        }
        memcpy(r->name, name.s, name.len);
        r->next = d->res;
        d->res = r;
    }
    r->original = capacity;
    r->current = capacity;
    r->window_ns = window_ns;
    r->changed_at = 0;
    apply(d, r);
    pthread_mutex_unlock(&d->mu);
    return RLC_OK;
}

static void dl_announce_reduced(rlc_limiter *l, rlc__name name, const char *why,
                                const uint64_t *epoch)
{
    dist_limiter *d = dl(l);
    char resource[RLC_RESOURCE_MAX];
    struct dres *r;
    uint64_t cut_in;
    int64_t cut;

    if (atomic_load(&l->closed))
        return;
    pthread_mutex_lock(&d->mu);
    r = find(d, name.s, name.len);
    /* Unknown, at the floor, or cut since that request was sent. */
    if (r == NULL || r->current <= d->min_capacity ||
        (epoch != NULL && *epoch != r->epoch)) {
        pthread_mutex_unlock(&d->mu);
        return;
    }
    cut = (int64_t)(r->current * d->reduce_factor);
    if (cut < d->min_capacity)
        cut = d->min_capacity;
    if (cut >= r->current)
        cut = r->current - 1;
    cut_in = r->epoch++;
    r->current = (int)cut;
    r->changed_at = rlc__clock_now(&d->clock);
    apply(d, r);
    pthread_mutex_unlock(&d->mu);

    memcpy(resource, name.s, name.len);
    resource[name.len] = '\0';
    publish_update(d, d->subj_capacity, resource, why, (int)cut, &cut_in, 0);
    notify(d, resource, d->agent_id, why, (int)cut);
}

/* Pauses here, and tells the swarm if that lengthened the pause: a
 * Retry-After the swarm heard already (every agent's 429s in one burst)
 * is not sent again. */
static bool dl_pause(rlc_limiter *l, rlc__name name, int64_t until,
                     const char *why)
{
    dist_limiter *d = dl(l);
    char resource[RLC_RESOURCE_MAX];
    struct dres *r;
    int capacity;

    if (atomic_load(&l->closed))
        return false;
    pthread_mutex_lock(&d->mu);
    r = find(d, name.s, name.len);
    capacity = r != NULL ? r->current : 0;
    pthread_mutex_unlock(&d->mu);
    if (capacity == 0 || !d->local->ops->pause(d->local, name, until, why))
        return false;
    memcpy(resource, name.s, name.len);
    resource[name.len] = '\0';
    publish_update(d, d->subj_pause, resource, why, capacity, NULL, until);
    return true;
}

static bool dl_get_capacity(rlc_limiter *l, rlc__name name, rlc_capacity *out)
{
    dist_limiter *d = dl(l);
    struct dres *r;
    bool found = rlc_get_capacity(d->local, name.s, out);

    pthread_mutex_lock(&d->mu);
    r = find(d, name.s, name.len);
    if (found && r != NULL)
        out->epoch = r->epoch;
    pthread_mutex_unlock(&d->mu);
    return found;
}

static void dl_wake_all(rlc_limiter *l)
{
    dist_limiter *d = dl(l);

    if (atomic_load(&l->closed)) {
        pthread_mutex_lock(&d->mu);
        d->stop = true;
        pthread_cond_broadcast(&d->wake);
        pthread_mutex_unlock(&d->mu);
        rlc_close(d->local);
        return;
    }
    /* An injected clock moved: nothing runs on a thread then. */
    if (d->clock.fn != NULL)
        tick(d, rlc__clock_now(&d->clock));
    rlc_clock_advanced(d->local);
}

static void dl_destroy(rlc_limiter *l)
{
    dist_limiter *d = dl(l);
    struct dres *r, *next;

    if (d->has_thread)
        pthread_join(d->thread, NULL);
    if (d->sub_capacity != NULL)
        rlc__bus_unsubscribe(d->bus, d->sub_capacity);
    if (d->sub_presence != NULL)
        rlc__bus_unsubscribe(d->bus, d->sub_presence);
    if (d->sub_pause != NULL)
        rlc__bus_unsubscribe(d->bus, d->sub_pause);
    if (d->split)
        send_presence(d, true);
    for (r = d->res; r != NULL; r = next) {
        next = r->next;
        free(r);
    }
    free(d->peers);
    rlc_free(d->local);
    pthread_cond_destroy(&d->wake);
    pthread_mutex_destroy(&d->mu);
    rlc__limiter_fini(l);
    free(d);
}

static const rlc__limiter_ops distributed_ops = {
    .acquire = dl_acquire,
    .try_acquire = dl_try_acquire,
    .release = dl_release,
    .set_capacity = dl_set_capacity,
    .announce_reduced = dl_announce_reduced,
    .pause = dl_pause,
    .get_capacity = dl_get_capacity,
    .wake_all = dl_wake_all,
    .destroy = dl_destroy,
};

rlc_status
rlc_distributed_limiter_new_with_clock(const rlc_distributed_config *c,
                                       rlc_clock_fn now, void *arg,
                                       rlc_limiter **out)
{
    dist_limiter *d;
    const char *prefix;
    rlc_status st;

    if (out == NULL)
        return RLC_EINVAL;
    *out = NULL;
    st = rlc_distributed_config_validate(c);
    if (st != RLC_OK)
        return st;
    prefix = c->subject_prefix != NULL && c->subject_prefix[0] != '\0'
                 ? c->subject_prefix
                 : "ratelimit";
    if (strlen(prefix) > SUBJECT_MAX - 16)
        return RLC_EINVALCONFIG;
    d = calloc(1, sizeof(*d));
    if (d == NULL)
        return RLC_ENOMEM;
    d->peers = calloc(MAX_PEERS, sizeof(*d->peers));
    d->local = now != NULL ? rlc_memory_limiter_new_with_clock(now, arg)
                           : rlc_memory_limiter_new();
    if (d->peers == NULL || d->local == NULL) {
        rlc_free(d->local);
        free(d->peers);
        free(d);
        return RLC_ENOMEM;
    }
    rlc__limiter_init(&d->base, &distributed_ops);
    d->clock.fn = now;
    d->clock.arg = arg;
    d->bus = c->bus;
    snprintf(d->agent_id, sizeof(d->agent_id), "%s", c->agent_id);
    snprintf(d->subj_capacity, sizeof(d->subj_capacity), "%s.capacity", prefix);
    snprintf(d->subj_presence, sizeof(d->subj_presence), "%s.presence", prefix);
    snprintf(d->subj_recovery, sizeof(d->subj_recovery), "%s.recovery", prefix);
    snprintf(d->subj_pause, sizeof(d->subj_pause), "%s.pause", prefix);
    d->reduce_factor = c->reduce_factor != 0 ? c->reduce_factor : 0.5;
    d->recovery_factor = c->recovery_factor != 0 ? c->recovery_factor : 1.1;
    d->recovery_interval = c->recovery_interval_ns != 0
                               ? c->recovery_interval_ns
                               : 30 * RLC_SECOND;
    d->max_recovery = c->max_recovery;
    d->split = c->split;
    d->min_capacity = c->min_capacity > 0 ? c->min_capacity : 1;
    d->assumed = c->assumed_agents > 0 ? c->assumed_agents : 1;
    d->warm = d->assumed <= 1;
    /* Agents started together must not draw the same delays. */
    d->rng = (uint64_t)rlc__realtime_ns() ^ (uint64_t)(uintptr_t)d;
    for (const char *p = d->agent_id; *p != '\0'; p++)
        d->rng = (d->rng ^ (unsigned char)*p) * UINT64_C(0x100000001b3);
    pthread_mutex_init(&d->mu, NULL);
    {
        pthread_condattr_t ca;

        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&d->wake, &ca);
        pthread_condattr_destroy(&ca);
    }
    st = rlc__bus_subscribe(d->bus, d->subj_capacity, on_capacity, d,
                            &d->sub_capacity);
    if (st == RLC_OK)
        st = rlc__bus_subscribe(d->bus, d->subj_pause, on_pause, d,
                                &d->sub_pause);
    if (st == RLC_OK && d->split)
        st = rlc__bus_subscribe(d->bus, d->subj_presence, on_presence, d,
                                &d->sub_presence);
    if (st == RLC_OK && now == NULL) {
        if (pthread_create(&d->thread, NULL, loop, d) == 0)
            d->has_thread = true;
        else
            st = RLC_ENOMEM;
    } else if (st == RLC_OK) {
        tick(d, rlc__clock_now(&d->clock)); /* the first heartbeat */
    }
    if (st != RLC_OK) {
        atomic_store(&d->base.closed, true);
        dl_destroy(&d->base);
        return st;
    }
    *out = &d->base;
    return RLC_OK;
}

rlc_status rlc_distributed_limiter_new(const rlc_distributed_config *c,
                                       rlc_limiter **out)
{
    return rlc_distributed_limiter_new_with_clock(c, NULL, NULL, out);
}
