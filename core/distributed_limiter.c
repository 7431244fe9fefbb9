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
 * With split_by_demand the shares are max-min fair by what each agent
 * asked for lately, which its heartbeat carries (see demand_share()).
 * Pauses (Retry-After) travel on their own subject, each receiver adding
 * a random delay so that the swarm does not resume in lockstep.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "fair_share.h"
#include "internal.h"
#include "wire.h"

#define PRESENCE_INTERVAL RLC_SECOND
#define PRESENCE_MISSED 3 /* heartbeats missed before an agent is gone */
#define MAX_PEERS 1024
#define SUBJECT_MAX 160
#define PAUSE_MAX (60 * RLC_MINUTE) /* a pause heard is cut to this */
#define PAUSE_JITTER_MAX RLC_SECOND

#define DEMAND_HEADROOM 1.25 /* on the rate an unhindered agent asked for */
#define DEMAND_DECAY 0.5     /* per heartbeat, when it asks for less */
#define DEMAND_RESHARE 0.01  /* a peer's change that moves shares */

/*
 * A resource. Nodes are never freed before the limiter (a removed one is
 * only not live, and comes back in place), and the list only grows at its
 * head, so acquire can count demand on it without the mutex.
 */
struct dres {
    char name[RLC_RESOURCE_MAX];
    size_t len;
    bool live;    /* configured; the fields below hold only then */
    int original; /* as configured: the swarm total with split */
    int current;  /* after cuts and recoveries */
    int64_t window_ns;
    uint64_t epoch;     /* cuts applied */
    int64_t changed_at; /* monotonic ns of the last cut, 0 if none */
    /* split_by_demand: calls to acquire, and those that found no token at
     * once (lock-free); their values at the last heartbeat (mu); what this
     * agent said it asks for (tokens/s) and what its share is computed
     * from, raised to said only at raise_at. */
    _Atomic uint64_t asked, held;
    uint64_t asked_seen, held_seen;
    double said, in_force;
    int64_t raise_at; /* monotonic ns; 0: nothing to raise */
    bool fresh;       /* not said yet: the next heartbeat asks the most */
    int applied_cap;  /* what the local bucket was last given */
    int64_t applied_window;
    struct dres *next; /* set before the node is published, then fixed */
};

/* What a peer asks for of one resource of ours, tokens per second. */
struct peer_demand {
    const struct dres *r;
    double rate;
};

struct peer {
    char id[RLC_RESOURCE_MAX];
    int64_t seen; /* monotonic ns */
    int64_t interval;
    /* has_demand false: an agent that says nothing of demand, counted as
     * asking for the most of everything. Else a resource it does not list
     * is one it does not use, unless partial (names were dropped). */
    bool has_demand, partial;
    int ndemand;
    struct peer_demand demand[RLC_PRESENCE_RESOURCES];
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
    bool max_recovery, split, by_demand;
    int min_capacity;
    int assumed; /* agents counted at least until warm */

    pthread_mutex_t mu;         /* everything below */
    _Atomic(struct dres *) res; /* pushed under mu, read by acquire */
    struct peer *peers;         /* other live agents (split only) */
    int npeers;
    rlc__bus_sub *sub_capacity, *sub_presence, *sub_pause;
    atomic_uint_least64_t dropped; /* messages that did not parse */
    uint64_t rng;                  /* pause delays (splitmix64) */

    int64_t next_presence; /* when the next heartbeat is due */
    int64_t last_beat;     /* when the last one was sent, 0: none yet */
    bool announced;        /* a heartbeat was published once */
    uint64_t beat_losses;  /* the bus's losses when it was measured */
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

static struct dres *first(dist_limiter *d)
{
    return atomic_load_explicit(&d->res, memory_order_acquire);
}

/* The node named name, live or not; NULL if none. No lock needed. */
static struct dres *node(dist_limiter *d, const char *name, size_t len)
{
    for (struct dres *r = first(d); r != NULL; r = r->next)
        if (r->len == len && memcmp(r->name, name, len) == 0)
            return r;
    return NULL;
}

/* The live resource named name (mu held), or NULL. */
static struct dres *find(dist_limiter *d, const char *name, size_t len)
{
    struct dres *r = node(d, name, len);

    return r != NULL && r->live ? r : NULL;
}

static int cmp_ids(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What p asks for of r, tokens per second: INFINITY for the most, -1 when
 * it does not use r. */
static double peer_asks(const struct peer *p, const struct dres *r)
{
    if (!p->has_demand)
        return INFINITY;
    for (int i = 0; i < p->ndemand; i++)
        if (p->demand[i].r == r)
            return p->demand[i].rate;
    return p->partial ? INFINITY : -1;
}

/* r's total in tokens per second. */
static double total_rate(const struct dres *r)
{
    return (double)r->current * 1e9 / (double)r->window_ns;
}

/*
 * This agent's part of r by demand, tokens per second (mu held): max-min
 * fair, by water-filling. Every agent that uses r (and, before the swarm
 * is known, the assumed ones not heard of, asking for the most) asks for
 * at least RLC__DEMAND_FLOOR of an equal share; in increasing order of what
 * they ask for, each is given it while it is no more than an equal share
 * of what is left, and the rest share what is left equally. If everyone
 * is given what they ask for, what is left is spread over all. Every agent
 * computes the same from the same heartbeats, so the parts add up to the
 * total. An agent that has not said yet that it uses r holds the floor
 * (an equal share when it has never been heard and the bus is down: a cold
 * start, as with equal shares).
 */
static double demand_share(const dist_limiter *d, const struct dres *r)
{
    double asks[MAX_PEERS + 1], total = total_rate(r);
    int n = 0, i;

    asks[n++] = r->in_force;
    for (i = 0; i < d->npeers && n <= MAX_PEERS; i++) {
        double a = peer_asks(&d->peers[i], r);

        if (a >= 0)
            asks[n++] = a;
    }
    while (!d->warm && n < d->assumed && n <= MAX_PEERS)
        asks[n++] = INFINITY;
    /* The others do not know this agent uses r yet; before it has been
     * heard at all, while the bus is down, it is cold-started as with
     * equal shares. */
    if (r->fresh)
        return !d->announced && !rlc_bus_connected(d->bus)
                   ? total / n
                   : total / n * RLC__DEMAND_FLOOR;
    return rlc__fair_share(asks, n, total, r->in_force);
}

/* The bucket for a share of rate tokens per second: floor(share) tokens
 * per window (at least one), the window stretched to the exact rate. */
static void bucket_for(const struct dres *r, double rate, int *cap,
                       int64_t *window)
{
    double t = rate * (double)r->window_ns / 1e9, w;

    if (!(t < r->current)) { /* all of it (or not a number: never) */
        *cap = r->current;
        *window = r->window_ns;
        return;
    }
    *cap = t >= 1 ? (int)t : 1;
    w = ceil((double)r->window_ns * *cap / t);
    *window = w >= 0x1p62 ? (int64_t)0x1p62 : w < 1 ? 1 : (int64_t)w;
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
    if (d->by_demand) {
        bucket_for(r, demand_share(d, r), cap, window);
        return;
    }
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

/* Puts r's capacity (this agent's part) into the local bucket. mu held.
 * By demand, a share that grew by less than half a percent stays (one that
 * shrank never does: others may count on it). */
static void apply(dist_limiter *d, struct dres *r)
{
    int cap;
    int64_t window;

    share(d, r, &cap, &window);
    if (d->by_demand && r->applied_cap > 0) {
        double now = (double)cap / (double)window,
               was = (double)r->applied_cap / (double)r->applied_window;

        if (now >= was && now < was * 1.005)
            return;
    }
    r->applied_cap = cap;
    r->applied_window = window;
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
    for (struct dres *r = first(d); r != NULL; r = r->next)
        if (r->live)
            apply(d, r);
}

/*
 * Takes what m says p asks for (mu held), keeping the resources of ours
 * only. Returns whether that moves shares: p starts or stops saying, a
 * resource comes or goes, or a rate moves by more than DEMAND_RESHARE.
 */
static bool take_demand(dist_limiter *d, struct peer *p,
                        const rlc__presence_msg *m)
{
    struct peer_demand now[RLC_PRESENCE_RESOURCES];
    int n = 0;
    bool moved;

    for (int i = 0; i < m->nresources; i++) {
        const struct dres *r =
            find(d, m->resources[i].name, strlen(m->resources[i].name));

        if (r != NULL) {
            now[n].r = r;
            now[n++].rate = m->resources[i].demand;
        }
    }
    moved = p->has_demand != m->has_demand || p->partial != m->demand_partial ||
            p->ndemand != n;
    for (int i = 0; i < n && !moved; i++) {
        double was = peer_asks(p, now[i].r);

        /* Any rise counts (that peer takes it in a quarter heartbeat);
         * a fall only beyond DEMAND_RESHARE. */
        moved = was < 0 || now[i].rate > was ||
                was - now[i].rate > DEMAND_RESHARE * was;
    }
    p->has_demand = m->has_demand;
    p->partial = m->demand_partial;
    p->ndemand = n;
    memcpy(p->demand, now, (size_t)n * sizeof(now[0]));
    return moved;
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
        if (d->by_demand && take_demand(d, &d->peers[i], &m))
            reshare_all(d);
    } else if (d->npeers < MAX_PEERS) {
        struct peer *p = &d->peers[d->npeers++];

        snprintf(p->id, sizeof(p->id), "%s", m.agent_id);
        p->seen = rlc__clock_now(&d->clock);
        p->interval = interval_of(&m);
        p->has_demand = p->partial = false;
        p->ndemand = 0;
        if (d->by_demand)
            take_demand(d, p, &m);
        reshare_all(d);
    }
    pthread_mutex_unlock(&d->mu);
}

/* A heartbeat (or a goodbye) without demand. */
static void presence_of(const dist_limiter *d, bool leaving,
                        rlc__presence_msg *m)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->agent_id, sizeof(m->agent_id), "%s", d->agent_id);
    m->interval_ms = PRESENCE_INTERVAL / RLC_MILLISECOND;
    m->leaving = leaving;
}

/* Sends m; if its demand cannot be encoded (a name that is not UTF-8, or
 * too long escaped), without demand, so that the agent is still heard (as
 * asking for the most). Returns whether it was published. */
static bool send_presence(dist_limiter *d, const rlc__presence_msg *m)
{
    char buf[8192];
    int n = rlc__wire_encode_presence(m, buf, sizeof(buf));

    if (n <= 0 && m->has_demand) {
        rlc__presence_msg plain;

        presence_of(d, m->leaving, &plain);
        n = rlc__wire_encode_presence(&plain, buf, sizeof(buf));
    }
    return n > 0 &&
           rlc_bus_publish(d->bus, d->subj_presence, buf, (size_t)n) == RLC_OK;
}

/* Agents that use r, this one and the assumed ones included. mu held. */
static int users_of(const dist_limiter *d, const struct dres *r)
{
    int n = 1;

    for (int i = 0; i < d->npeers; i++)
        n += peer_asks(&d->peers[i], r) >= 0;
    return !d->warm && n < d->assumed ? d->assumed : n;
}

/*
 * At a heartbeat, by demand (mu held): what this agent asks for of each
 * resource, from the calls to acquire since the last one, into m. One
 * that found a token every time asks for its rate and a quarter more; one
 * that did not (or has callers waiting) for at least an equal share and
 * twice its own; neither less than half what it said last time. A rise
 * takes effect here a quarter heartbeat after it is sent, so that the
 * others have lowered their shares by then; a fall at once. A resource new
 * here starts at the floor and asks for the most at its first heartbeat.
 * While the bus is down nobody hears: nothing rises, and the heartbeat
 * (should it be sent later) says nothing of demand, which counts as asking
 * for the most. The same when there are too many resources to say.
 */
static void measure_demand(dist_limiter *d, int64_t now, rlc__presence_msg *m)
{
    int64_t dt = d->last_beat > 0 && now > d->last_beat ? now - d->last_beat
                                                        : PRESENCE_INTERVAL;
    bool up = rlc_bus_connected(d->bus);

    m->has_demand = true;
    for (struct dres *r = first(d); r != NULL; r = r->next) {
        uint64_t asked = atomic_load_explicit(&r->asked, memory_order_relaxed);
        uint64_t held = atomic_load_explicit(&r->held, memory_order_relaxed);
        double rate = (double)(asked - r->asked_seen) * 1e9 / (double)dt;
        double want, total, mine;
        rlc_capacity c;
        bool hindered = held != r->held_seen;

        r->asked_seen = asked;
        r->held_seen = held;
        if (!r->live || r->applied_window <= 0 || (r->fresh && !up))
            continue;
        total = total_rate(r);
        mine = (double)r->applied_cap * 1e9 / (double)r->applied_window;
        if (rlc_get_capacity(d->local, r->name, &c) && c.waiting > 0)
            hindered = true;
        if (r->fresh)
            want = INFINITY;
        else if (hindered)
            want = fmax(rate, fmax(2 * mine, total / users_of(d, r)));
        else
            want = rate * DEMAND_HEADROOM;
        if (!r->fresh && !isinf(r->said) && want < r->said * DEMAND_DECAY)
            want = r->said * DEMAND_DECAY;
        if (r->fresh) {
            r->fresh = false;
            apply(d, r); /* from a cold start's share to the floor */
        }
        r->said = want;
        r->raise_at = 0;
        if (want <= r->in_force) {
            r->in_force = want;
            apply(d, r);
        } else if (up) {
            r->raise_at = now + PRESENCE_INTERVAL / 4;
        }
        if (m->nresources == RLC_PRESENCE_RESOURCES)
            m->has_demand = false; /* too many to say */
        if (!m->has_demand)
            continue;
        snprintf(m->resources[m->nresources].name, RLC_RESOURCE_MAX, "%s",
                 r->name);
        /* Asking for the whole total is asking for the most. */
        m->resources[m->nresources++].demand = fmin(want, total);
    }
    if (!up)
        m->has_demand = false;
    if (!m->has_demand)
        m->nresources = 0;
}

/* A heartbeat that said a rise was not sent: the rises wait (mu held). */
static void cancel_raises(dist_limiter *d)
{
    for (struct dres *r = first(d); r != NULL; r = r->next)
        r->raise_at = 0;
}

/* Rises said a quarter heartbeat ago take effect (mu held), unless the bus
 * is down or was lost since: the others may not have heard. */
static void raise_due(dist_limiter *d, int64_t now)
{
    if (!rlc_bus_connected(d->bus) ||
        rlc__bus_losses(d->bus) != d->beat_losses) {
        cancel_raises(d);
        return;
    }
    for (struct dres *r = first(d); r != NULL; r = r->next)
        if (r->live && r->raise_at != 0 && now >= r->raise_at) {
            r->raise_at = 0;
            r->in_force = r->said;
            apply(d, r);
        }
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
    rlc__presence_msg m;

    pthread_mutex_lock(&d->mu);
    if (d->by_demand)
        raise_due(d, now);
    if (d->split && now >= d->next_presence) {
        d->next_presence = now + PRESENCE_INTERVAL;
        beat = true;
        presence_of(d, false, &m);
        if (d->by_demand) {
            d->beat_losses = rlc__bus_losses(d->bus);
            measure_demand(d, now, &m);
        }
        d->last_beat = now;
    }
    for (struct dres *r = first(d); r != NULL; r = r->next) {
        int64_t grown;

        if (!r->live || r->changed_at == 0 ||
            now - r->changed_at < d->recovery_interval)
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
    if (beat) {
        bool sent = send_presence(d, &m);

        pthread_mutex_lock(&d->mu);
        if (sent && rlc_bus_connected(d->bus))
            d->announced = true;
        else if (d->by_demand)
            cancel_raises(d);
        pthread_mutex_unlock(&d->mu);
    }
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

/* By demand, every call is counted, and whether it found a token at once:
 * a try first, then the wait (a try never jumps the queue). */
static rlc_status dl_acquire(rlc_limiter *l, rlc__name r, int64_t timeout_ns,
                             rlc_cancel *c)
{
    dist_limiter *d = dl(l);
    struct dres *n = d->by_demand ? node(d, r.s, r.len) : NULL;

    if (n != NULL) {
        atomic_fetch_add_explicit(&n->asked, 1, memory_order_relaxed);
        if ((c == NULL || !rlc_cancel_fired(c)) &&
            rlc_try_acquire(d->local, r.s))
            return RLC_OK;
        atomic_fetch_add_explicit(&n->held, 1, memory_order_relaxed);
    }
    return rlc_acquire_cancel(d->local, r.s, timeout_ns, c);
}

static bool dl_try_acquire(rlc_limiter *l, rlc__name r)
{
    dist_limiter *d = dl(l);
    struct dres *n = d->by_demand ? node(d, r.s, r.len) : NULL;
    bool got = rlc_try_acquire(d->local, r.s);

    if (n != NULL) {
        atomic_fetch_add_explicit(&n->asked, 1, memory_order_relaxed);
        if (!got)
            atomic_fetch_add_explicit(&n->held, 1, memory_order_relaxed);
    }
    return got;
}

static void dl_release(rlc_limiter *l, rlc__name r)
{
    rlc_release(dl(l)->local, r.s);
}

static rlc_status dl_set_capacity(rlc_limiter *l, rlc__name name, int capacity,
                                  int64_t window_ns)
{
    dist_limiter *d = dl(l);
    struct dres *r;

    if (atomic_load(&l->closed))
        return RLC_ECLOSED;
    pthread_mutex_lock(&d->mu);
    r = node(d, name.s, name.len);
    if (capacity <= 0 || window_ns <= 0) {
        if (r != NULL)
            r->live = false; /* kept: acquire may be reading it */
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
        r->len = name.len;
        r->next = first(d);
        atomic_store_explicit(&d->res, r, memory_order_release);
    }
    if (!r->live) {
        /* New, or back: no cut yet. Peers do not count this agent as a
         * user of it before they hear so: it holds the floor until its
         * next heartbeat, brought forward, asks for the most. Peers'
         * demands were taken without it: until they say again, they count
         * as maybe using it. */
        r->live = true;
        r->epoch = 0;
        r->said = INFINITY;
        r->in_force = 0;
        r->raise_at = 0;
        r->fresh = true;
        for (int i = 0; i < d->npeers; i++)
            d->peers[i].partial = true;
        if (d->by_demand) {
            d->next_presence = 0;
            pthread_cond_signal(&d->wake);
        }
    }
    r->applied_cap = 0; /* apply whatever the share */
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
    if (d->split) {
        rlc__presence_msg m;

        presence_of(d, true, &m);
        send_presence(d, &m);
    }
    for (r = first(d); r != NULL; r = next) {
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
    d->by_demand = c->split && c->split_by_demand;
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
