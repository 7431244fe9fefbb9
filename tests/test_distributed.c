/* SPDX-License-Identifier: MIT */
/*
 * test_distributed.c - the distributed limiter on in-process buses and an
 * injected clock: cuts, what is ignored, epochs, recovery, fair shares.
 *
 * Besides the memory bus, a "held" bus defined here queues what is
 * published until the test delivers it, so agents can act "at the same
 * time", before hearing each other, and can be cut off from the bus.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "bus.h"
#include "fair_share.h"
#include "rlc.h"
#include "wire.h"

/* "ünïcode-资源", the fourth reference message's resource */
#define UNICODE_NAME                                                           \
    "\xc3\xbcn\xc3\xaf"                                                        \
    "code-\xe8\xb5\x84\xe6\xba\x90"

static _Atomic int64_t fake_now;

static int64_t fake_clock(void *arg)
{
    (void)arg;
    return atomic_load(&fake_now);
}

/* ---- a bus that holds messages until told to deliver -------------------- */

struct held_sub {
    rlc__bus_sub base; /* fn, arg */
    char subject[64];
    bool gone;
};

struct held_msg {
    char subject[64];
    char data[2048];
    size_t len;
};

typedef struct held_bus {
    rlc_bus base;
    struct held_sub *subs[64];
    int nsubs;
    struct held_msg *queue;
    int nqueue;
    bool up;
    bool fail;       /* publish fails though connected */
    uint64_t losses; /* connections lost (and found again) */
} held_bus;

static rlc_status held_publish(rlc_bus *b, const char *subject,
                               const void *data, size_t len)
{
    held_bus *h = (held_bus *)b;
    struct held_msg *m;

    if (!h->up || h->fail || len > sizeof(m->data))
        return RLC_EBUS;
    h->queue = realloc(h->queue, sizeof(*m) * (size_t)(h->nqueue + 1));
    m = &h->queue[h->nqueue++];
    snprintf(m->subject, sizeof(m->subject), "%s", subject);
    memcpy(m->data, data, len);
    m->len = len;
    return RLC_OK;
}

static rlc_status held_subscribe(rlc_bus *b, const char *subject,
                                 rlc__bus_msg_fn fn, void *arg,
                                 rlc__bus_sub **out)
{
    held_bus *h = (held_bus *)b;
    struct held_sub *s = calloc(1, sizeof(*s));

    snprintf(s->subject, sizeof(s->subject), "%s", subject);
    s->base.fn = fn;
    s->base.arg = arg;
    h->subs[h->nsubs++] = s;
    *out = &s->base;
    return RLC_OK;
}

static void held_unsubscribe(rlc_bus *b, rlc__bus_sub *s)
{
    (void)b;
    ((struct held_sub *)s)->gone = true;
}

static bool held_connected(const rlc_bus *b)
{
    return ((const held_bus *)b)->up;
}

static uint64_t held_losses(const rlc_bus *b)
{
    return ((const held_bus *)b)->losses;
}

static void held_destroy(rlc_bus *b)
{
    held_bus *h = (held_bus *)b;

    for (int i = 0; i < h->nsubs; i++)
        free(h->subs[i]);
    free(h->queue);
    free(h);
}

static const rlc__bus_ops held_ops = {
    .publish = held_publish,
    .subscribe = held_subscribe,
    .unsubscribe = held_unsubscribe,
    .connected = held_connected,
    .losses = held_losses,
    .destroy = held_destroy,
};

static held_bus *held_bus_new(void)
{
    held_bus *h = calloc(1, sizeof(*h));

    h->base.ops = &held_ops;
    h->up = true;
    return h;
}

/* Delivers everything queued (and what that causes), in order. */
static int deliver(held_bus *h)
{
    int n = 0;

    while (h->nqueue > 0) {
        struct held_msg m = h->queue[0];

        memmove(h->queue, h->queue + 1, sizeof(m) * (size_t)--h->nqueue);
        for (int i = 0; i < h->nsubs; i++)
            if (!h->subs[i]->gone &&
                strcmp(h->subs[i]->subject, m.subject) == 0)
                h->subs[i]->base.fn(m.subject, m.data, m.len,
                                    h->subs[i]->base.arg);
        n++;
    }
    return n;
}

/* ---- helpers ------------------------------------------------------------ */

static rlc_limiter *agent_assuming(rlc_bus *bus, const char *id, bool split,
                                   int assumed)
{
    rlc_distributed_config c = rlc_distributed_config_default();
    rlc_limiter *l = NULL;

    c.bus = bus;
    c.agent_id = id;
    c.split = split;
    c.assumed_agents = assumed;
    assert_int_equal(
        rlc_distributed_limiter_new_with_clock(&c, fake_clock, NULL, &l),
        RLC_OK);
    return l;
}

static rlc_limiter *agent(rlc_bus *bus, const char *id, bool split)
{
    return agent_assuming(bus, id, split, 0);
}

static int total(rlc_limiter *l, const char *r)
{
    rlc_capacity c;

    assert_true(rlc_get_capacity(l, r, &c));
    return c.total;
}

static void advance(rlc_limiter **agents, int n, int64_t ns)
{
    atomic_fetch_add(&fake_now, ns);
    for (int i = 0; i < n; i++)
        rlc_clock_advanced(agents[i]);
}

struct seen {
    int calls;
    char agent[64], reason[128];
    int capacity;
};

static void on_change(const rlc_capacity_update *u, void *arg)
{
    struct seen *s = arg;

    s->calls++;
    snprintf(s->agent, sizeof(s->agent), "%s", u->agent_id);
    snprintf(s->reason, sizeof(s->reason), "%s", u->reason);
    s->capacity = u->new_capacity;
}

static int setup(void **state)
{
    (void)state;
    atomic_store(&fake_now, 5000 * RLC_SECOND);
    return 0;
}

static rlc_limiter *agent_by_demand(rlc_bus *bus, const char *id)
{
    rlc_distributed_config c = rlc_distributed_config_default();
    rlc_limiter *l = NULL;

    c.bus = bus;
    c.agent_id = id;
    c.split = true;
    c.split_by_demand = true;
    assert_int_equal(
        rlc_distributed_limiter_new_with_clock(&c, fake_clock, NULL, &l),
        RLC_OK);
    return l;
}

/* l's share of r, tokens per second. */
static double share_rate(rlc_limiter *l, const char *r)
{
    rlc_capacity c;

    assert_true(rlc_get_capacity(l, r, &c));
    return (double)c.total * 1e9 / (double)c.window_ns;
}

/* Takes every token l has of r: an agent with more work than tokens. */
static int take_all(rlc_limiter *l, const char *r)
{
    int n = 0;

    while (rlc_try_acquire(l, r))
        n++;
    return n;
}

/* count steps of 125 ms for agents ag[0] and ag[1], heartbeats delivered
 * after each: the agents in the busy mask take every token of "api" they
 * have; with most > 0, their shares must add up to at most most. */
static void steps(held_bus *h, rlc_limiter **ag, int count, unsigned busy,
                  double most)
{
    for (int step = 0; step < count; step++) {
        advance(ag, 2, RLC_SECOND / 8);
        deliver(h);
        for (int i = 0; i < 2; i++)
            if (busy & (1u << i))
                take_all(ag[i], "api");
        if (most > 0)
            assert_true(share_rate(ag[0], "api") + share_rate(ag[1], "api") <=
                        most);
    }
}

#define A_BUSY 1u
#define B_BUSY 2u
#define BOTH_BUSY 3u

static void publish_presence(rlc_bus *bus, const char *json)
{
    assert_int_equal(
        rlc_bus_publish(bus, "ratelimit.presence", json, strlen(json)), RLC_OK);
}

/* ---- tests -------------------------------------------------------------- */

static void test_distributed_cut_is_applied_by_the_others(void **state)
{
    rlc_bus *bus = rlc_memory_bus_new();
    rlc_limiter *a = agent(bus, "a", false), *b = agent(bus, "b", false);
    struct seen sa = {0}, sb = {0};

    (void)state;
    rlc_on_capacity_change(a, on_change, &sa);
    rlc_on_capacity_change(b, on_change, &sb);
    assert_int_equal(rlc_set_capacity(a, "api", 100, RLC_MINUTE), RLC_OK);
    assert_int_equal(rlc_set_capacity(b, "api", 100, RLC_MINUTE), RLC_OK);
    rlc_announce_reduced(a, "api", "HTTP 429 from api.example.com");
    assert_int_equal(total(a, "api"), 50);
    assert_int_equal(total(b, "api"), 50);
    assert_int_equal(sa.calls, 1);
    assert_int_equal(sb.calls, 1);
    assert_string_equal(sb.agent, "a");
    assert_string_equal(sb.reason, "HTTP 429 from api.example.com");
    assert_int_equal(sb.capacity, 50);
    /* a second 429, seen after the first cut: a second cut */
    rlc_announce_reduced(b, "api", "again");
    assert_int_equal(total(a, "api"), 25);
    assert_int_equal(total(b, "api"), 25);
    rlc_free(a);
    rlc_free(b);
    rlc_bus_free(bus);
}

/* A 429 for a request sent before a cut another agent made: no new cut. */
static void test_distributed_announce_at_an_old_epoch(void **state)
{
    rlc_bus *bus = rlc_memory_bus_new();
    rlc_limiter *a = agent(bus, "a", false), *b = agent(bus, "b", false);
    rlc_capacity c;
    uint64_t sent_in;

    (void)state;
    assert_int_equal(rlc_set_capacity(a, "api", 80, RLC_MINUTE), RLC_OK);
    assert_int_equal(rlc_set_capacity(b, "api", 80, RLC_MINUTE), RLC_OK);
    assert_true(rlc_get_capacity(b, "api", &c));
    sent_in = c.epoch;
    rlc_announce_reduced(a, "api", "429"); /* heard by b: epoch 1 */
    assert_true(rlc_get_capacity(b, "api", &c));
    assert_int_equal(c.epoch, 1);
    rlc_announce_reduced_at(b, "api", "429", sent_in);
    assert_int_equal(total(a, "api"), 40);
    assert_int_equal(total(b, "api"), 40);
    rlc_announce_reduced_at(b, "api", "429", 1);
    assert_int_equal(total(a, "api"), 20);
    rlc_free(a);
    rlc_free(b);
    rlc_bus_free(bus);
}

/* Ten agents see the same burst of 429s before hearing each other: one
 * cut (50 %), not ten (0.1 %). */
static void test_distributed_simultaneous_cuts_cost_one(void **state)
{
    held_bus *h = held_bus_new();
    rlc_limiter *agents[10];
    char id[16];

    (void)state;
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "agent-%d", i);
        agents[i] = agent(&h->base, id, false);
        assert_int_equal(rlc_set_capacity(agents[i], "api", 60, RLC_MINUTE),
                         RLC_OK);
    }
    for (int i = 0; i < 10; i++)
        rlc_announce_reduced(agents[i], "api", "429");
    assert_int_equal(deliver(h), 10);
    for (int i = 0; i < 10; i++)
        assert_int_equal(total(agents[i], "api"), 30);
    /* and the next cut, once everyone has heard, is one more */
    rlc_announce_reduced(agents[3], "api", "429");
    deliver(h);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(total(agents[i], "api"), 15);
        rlc_free(agents[i]);
    }
    rlc_bus_free(&h->base);
}

static void publish_json(rlc_bus *bus, const char *json)
{
    assert_int_equal(
        rlc_bus_publish(bus, "ratelimit.capacity", json, strlen(json)), RLC_OK);
}

static void test_distributed_ignores_what_is_not_a_cut(void **state)
{
    rlc_bus *bus = rlc_memory_bus_new();
    rlc_limiter *b = agent(bus, "b", false);
    struct seen sb = {0};

    (void)state;
    rlc_on_capacity_change(b, on_change, &sb);
    assert_int_equal(rlc_set_capacity(b, "api", 100, RLC_MINUTE), RLC_OK);
    /* its own agent id */
    publish_json(bus, "{\"resource\":\"api\",\"agent_id\":\"b\","
                      "\"new_capacity\":10,\"reason\":\"\"}");
    /* an unknown resource */
    publish_json(bus, "{\"resource\":\"other\",\"agent_id\":\"x\","
                      "\"new_capacity\":10,\"reason\":\"\"}");
    /* not below the configured capacity */
    publish_json(bus, "{\"resource\":\"api\",\"agent_id\":\"x\","
                      "\"new_capacity\":100,\"reason\":\"\"}");
    publish_json(bus, "{\"resource\":\"api\",\"agent_id\":\"x\","
                      "\"new_capacity\":150,\"reason\":\"\"}");
    /* not a positive integer, or not JSON at all */
    publish_json(bus, "{\"resource\":\"api\",\"agent_id\":\"x\","
                      "\"new_capacity\":0,\"reason\":\"\"}");
    publish_json(bus, "{\"resource\":\"api\",\"agent_id\":\"x\","
                      "\"new_capacity\":-5,\"reason\":\"\"}");
    publish_json(bus, "{\"resource\":\"api\",\"agent_id\":\"x\","
                      "\"new_capacity\":\"10\",\"reason\":\"\"}");
    publish_json(bus, "{\"resource\":\"api\",\"agent_id\":\"x\","
                      "\"new_capacity\":10.5,\"reason\":\"\"}");
    publish_json(bus, "not json");
    publish_json(bus, "{\"resource\":\"api\"");
    assert_int_equal(total(b, "api"), 100);
    assert_int_equal(sb.calls, 0);
    /* a real one still works after all that */
    publish_json(bus, "{\"resource\":\"api\",\"agent_id\":\"x\","
                      "\"new_capacity\":40,\"reason\":\"429\"}");
    assert_int_equal(total(b, "api"), 40);
    assert_int_equal(sb.calls, 1);
    /* a cut never raises a capacity */
    publish_json(bus, "{\"resource\":\"api\",\"agent_id\":\"y\","
                      "\"new_capacity\":70,\"reason\":\"429\"}");
    assert_int_equal(total(b, "api"), 40);
    rlc_free(b);
    rlc_bus_free(bus);
}

/* Messages exactly as the reference Go package encodes them. */
static void test_distributed_applies_reference_go_messages(void **state)
{
    char path[4096], line[4096];
    const char *shared = getenv("RLC_SHARED");
    rlc_bus *bus = rlc_memory_bus_new();
    rlc_limiter *l = agent(bus, "c-agent", false);
    FILE *f;
    int n = 0;

    (void)state;
    snprintf(path, sizeof(path), "%s/wire/reference-go-capacity-updates.jsonl",
             shared != NULL ? shared : "../shared");
    f = fopen(path, "r");
    assert_non_null(f);
    assert_int_equal(rlc_set_capacity(l, "openai-api", 60, RLC_MINUTE), RLC_OK);
    assert_int_equal(rlc_set_capacity(l, "shared-api", 100, RLC_MINUTE),
                     RLC_OK);
    assert_int_equal(rlc_set_capacity(l, "anthropic", 5, RLC_MINUTE), RLC_OK);
    assert_int_equal(rlc_set_capacity(l, UNICODE_NAME, 20, RLC_MINUTE), RLC_OK);
    assert_int_equal(rlc_set_capacity(l, "api", 10, RLC_MINUTE), RLC_OK);
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        publish_json(bus, line);
        n++;
    }
    fclose(f);
    assert_int_equal(n, 5);
    assert_int_equal(total(l, "openai-api"), 30);
    assert_int_equal(total(l, "shared-api"), 50);
    assert_int_equal(total(l, "anthropic"), 1);
    assert_int_equal(total(l, UNICODE_NAME), 12);
    assert_int_equal(total(l, "api"), 10); /* capacity 0: ignored */
    rlc_free(l);
    rlc_bus_free(bus);
}

/* What we publish, a Go agent can read: the reference field names. */
static void test_distributed_publishes_the_reference_format(void **state)
{
    held_bus *h = held_bus_new();
    rlc_limiter *a = agent(&h->base, "agent-7", false);
    rlc__capacity_msg m;

    (void)state;
    assert_int_equal(rlc_set_capacity(a, "openai", 60, RLC_MINUTE), RLC_OK);
    rlc_announce_reduced(a, "openai", "HTTP 429 from api.openai.com");
    assert_int_equal(h->nqueue, 1);
    assert_string_equal(h->queue[0].subject, "ratelimit.capacity");
    assert_int_equal(
        rlc__wire_decode_capacity(h->queue[0].data, h->queue[0].len, &m),
        RLC_OK);
    assert_string_equal(m.resource, "openai");
    assert_string_equal(m.agent_id, "agent-7");
    assert_int_equal(m.new_capacity, 30);
    assert_string_equal(m.reason, "HTTP 429 from api.openai.com");
    assert_true(m.has_timestamp);
    assert_true(m.has_epoch);
    assert_int_equal(m.epoch, 0);
    h->queue[0].data[h->queue[0].len] = '\0';
    assert_non_null(strstr(h->queue[0].data, "\"new_capacity\":30"));
    rlc_free(a);
    rlc_bus_free(&h->base);
}

static void test_distributed_recovers_by_factor_up_to_the_original(void **s)
{
    rlc_bus *bus = rlc_memory_bus_new();
    rlc_limiter *a = agent(bus, "a", false);
    struct seen sa = {0};
    static const int steps[] = {55, 60, 66, 72, 79, 86, 94, 100, 100};

    (void)s;
    assert_int_equal(rlc_set_capacity(a, "api", 100, RLC_MINUTE), RLC_OK);
    rlc_announce_reduced(a, "api", "429");
    assert_int_equal(total(a, "api"), 50);
    rlc_on_capacity_change(a, on_change, &sa);
    advance(&a, 1, 30 * RLC_SECOND - 1);
    assert_int_equal(total(a, "api"), 50); /* not a nanosecond early */
    advance(&a, 1, 1);
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        assert_int_equal(total(a, "api"), steps[i]);
        advance(&a, 1, 30 * RLC_SECOND);
    }
    assert_int_equal(sa.calls, 8); /* one per step, none once recovered */
    assert_string_equal(sa.reason, "recovery");
    rlc_free(a);
    rlc_bus_free(bus);
}

static void test_distributed_never_below_the_floor(void **state)
{
    rlc_bus *bus = rlc_memory_bus_new();
    rlc_distributed_config c = rlc_distributed_config_default();
    rlc_limiter *a = NULL;

    (void)state;
    c.bus = bus;
    c.agent_id = "a";
    c.min_capacity = 3;
    assert_int_equal(
        rlc_distributed_limiter_new_with_clock(&c, fake_clock, NULL, &a),
        RLC_OK);
    assert_int_equal(rlc_set_capacity(a, "api", 40, RLC_MINUTE), RLC_OK);
    for (int i = 0; i < 20; i++)
        rlc_announce_reduced(a, "api", "429");
    assert_int_equal(total(a, "api"), 3);
    /* nor do other agents' cuts take it lower */
    publish_json(bus, "{\"resource\":\"api\",\"agent_id\":\"x\","
                      "\"new_capacity\":1,\"reason\":\"\"}");
    assert_int_equal(total(a, "api"), 3);
    rlc_free(a);
    rlc_bus_free(bus);
}

/* split: the configured capacity is the swarm's; agents share it. */
static void test_distributed_split_shares_among_live_agents(void **state)
{
    held_bus *h = held_bus_new();
    rlc_limiter *ag[3];
    const char *ids[3] = {"a", "b", "c"};

    (void)state;
    for (int i = 0; i < 3; i++) {
        ag[i] = agent(&h->base, ids[i], true);
        assert_int_equal(rlc_set_capacity(ag[i], "api", 10, RLC_SECOND),
                         RLC_OK);
    }
    deliver(h); /* the first heartbeats */
    /* 10 among a, b, c: 4, 3, 3 — adding up to 10 exactly */
    assert_int_equal(total(ag[0], "api"), 4);
    assert_int_equal(total(ag[1], "api"), 3);
    assert_int_equal(total(ag[2], "api"), 3);
    /* c leaves cleanly: 5, 5 */
    rlc_free(ag[2]);
    deliver(h);
    assert_int_equal(total(ag[0], "api"), 5);
    assert_int_equal(total(ag[1], "api"), 5);
    /* b goes silent: after three missed heartbeats a has it all */
    for (int i = 0; i < 3; i++) {
        advance(ag, 1, RLC_SECOND);
        deliver(h);
    }
    assert_int_equal(total(ag[0], "api"), 5);
    advance(ag, 1, RLC_SECOND + 1);
    deliver(h);
    assert_int_equal(total(ag[0], "api"), 10);
    rlc_free(ag[0]);
    rlc_free(ag[1]);
    rlc_bus_free(&h->base);
}

/* The water-filling itself: what each gets, and that it adds up. */
static void test_distributed_fair_share_adds_up(void **state)
{
    const double asks[] = {10, 30, INFINITY}, few[] = {1, 2};
    const double big[] = {80, 10, INFINITY, INFINITY};
    double w[4], sum = 0;

    (void)state;
    memcpy(w, asks, sizeof(asks));
    assert_true(fabs(rlc__fair_share(w, 3, 100, INFINITY) - 60) < 1e-9);
    memcpy(w, asks, sizeof(asks));
    assert_true(fabs(rlc__fair_share(w, 3, 100, 10) - 10) < 1e-9);
    memcpy(w, asks, sizeof(asks));
    assert_true(fabs(rlc__fair_share(w, 3, 100, 30) - 30) < 1e-9);
    /* All asking less than there is: floors (5 each), then the rest
     * spread over all. */
    memcpy(w, few, sizeof(few));
    assert_true(fabs(rlc__fair_share(w, 2, 100, 1) - 50) < 1e-9);
    /* 10 is given, 80 is above an equal share of what is left (30). */
    for (int i = 0; i < 4; i++) {
        memcpy(w, big, sizeof(big));
        sum += rlc__fair_share(w, 4, 100, big[i]);
    }
    assert_true(fabs(sum - 100) < 1e-9);
    memcpy(w, big, sizeof(big));
    assert_true(fabs(rlc__fair_share(w, 4, 100, 80) - 30) < 1e-9);
}

/*
 * split_by_demand: an idle agent's share goes to the busy one, and comes
 * back within a few heartbeats when it gets busy too; at no instant do
 * the shares add up to more than the total.
 */
static void test_distributed_demand_idle_share_goes_to_the_busy(void **state)
{
    held_bus *h = held_bus_new();
    rlc_limiter *ag[2];
    int taken[2] = {0, 0};

    (void)state;
    ag[0] = agent_by_demand(&h->base, "a");
    ag[1] = agent_by_demand(&h->base, "b");
    for (int i = 0; i < 2; i++)
        assert_int_equal(rlc_set_capacity(ag[i], "api", 100, RLC_SECOND),
                         RLC_OK);
    deliver(h);
    /* Before they have said they use it, each holds a tenth of an equal
     * share; then each asks for the most, and they share equally. */
    deliver(h);
    assert_true(share_rate(ag[0], "api") <= 10);
    advance(ag, 2, RLC_SECOND / 8);
    deliver(h);
    advance(ag, 2, RLC_SECOND / 4);
    deliver(h);
    assert_true(fabs(share_rate(ag[0], "api") - 50) < 0.5);
    assert_true(fabs(share_rate(ag[1], "api") - 50) < 0.5);
    /* a works flat out, b idles: 8 s in steps of 125 ms. */
    for (int step = 0; step < 64; step++) {
        advance(ag, 2, RLC_SECOND / 8);
        assert_true(share_rate(ag[0], "api") + share_rate(ag[1], "api") <=
                    100.5);
        deliver(h);
        assert_true(share_rate(ag[0], "api") + share_rate(ag[1], "api") <=
                    100.5);
        taken[0] += step >= 32 ? take_all(ag[0], "api") : 0;
        if (step < 32)
            take_all(ag[0], "api");
    }
    /* b holds a tenth of an equal share, a the rest. */
    assert_true(fabs(share_rate(ag[0], "api") - 95) < 1);
    assert_true(fabs(share_rate(ag[1], "api") - 5) < 0.5);
    /* Over the last 4 s a took what its share gave, 95/s. */
    assert_true(taken[0] >= 4 * 93 && taken[0] <= 4 * 96 + 1);
    /* Now b works too: within 3 heartbeats they share equally. */
    taken[0] = 0;
    for (int step = 0; step < 64; step++) {
        advance(ag, 2, RLC_SECOND / 8);
        assert_true(share_rate(ag[0], "api") + share_rate(ag[1], "api") <=
                    100.5);
        deliver(h);
        assert_true(share_rate(ag[0], "api") + share_rate(ag[1], "api") <=
                    100.5);
        for (int i = 0; i < 2; i++) {
            int n = take_all(ag[i], "api");

            if (step >= 32)
                taken[i] += n;
        }
        if (step == 24) {
            assert_true(fabs(share_rate(ag[0], "api") - 50) < 1);
            assert_true(fabs(share_rate(ag[1], "api") - 50) < 1);
        }
    }
    assert_true(taken[0] >= 4 * 48 && taken[0] <= 4 * 51 + 1);
    assert_true(taken[1] >= 4 * 48 && taken[1] <= 4 * 51 + 1);
    rlc_free(ag[0]);
    rlc_free(ag[1]);
    rlc_bus_free(&h->base);
}

/*
 * Max-min fair among what peers say they ask for: 10 and 30 of 100 leave
 * 60 to a busy agent; 10 and 80 leave it 45. An agent that says nothing
 * of demand counts as asking for the most; one whose demand does not list
 * the resource does not count.
 */
static void test_distributed_demand_is_max_min_fair(void **state)
{
    held_bus *h = held_bus_new();
    rlc_limiter *a;
    const char *p1 = "{\"agent_id\":\"p1\",\"interval_ms\":1000,"
                     "\"demand\":{\"api\":10}}";
    const char *p2 = "{\"agent_id\":\"p2\",\"interval_ms\":1000,"
                     "\"demand\":{\"api\":30,\"else\":5}}";
    const char *p2_more = "{\"agent_id\":\"p2\",\"interval_ms\":1000,"
                          "\"demand\":{\"api\":80}}";
    const char *other = "{\"agent_id\":\"o\",\"interval_ms\":1000,"
                        "\"demand\":{\"else\":7}}";
    const char *old = "{\"agent_id\":\"old\",\"interval_ms\":1000}";

    (void)state;
    a = agent_by_demand(&h->base, "a");
    assert_int_equal(rlc_set_capacity(a, "api", 100, RLC_SECOND), RLC_OK);
    for (int step = 0; step < 24; step++) {
        publish_presence(&h->base, p1);
        publish_presence(&h->base, step < 12 ? p2 : p2_more);
        publish_presence(&h->base, other);
        advance(&a, 1, RLC_SECOND / 4);
        deliver(h);
        take_all(a, "api");
        if (step == 11)
            assert_true(fabs(share_rate(a, "api") - 60) < 0.6);
    }
    assert_true(fabs(share_rate(a, "api") - 45) < 0.5);
    /* One that says nothing of demand: p1 10, p2, a and old 30 each. */
    for (int step = 0; step < 8; step++) {
        publish_presence(&h->base, p1);
        publish_presence(&h->base, p2_more);
        publish_presence(&h->base, old);
        advance(&a, 1, RLC_SECOND / 4);
        deliver(h);
        take_all(a, "api");
    }
    assert_true(fabs(share_rate(a, "api") - 30) < 0.5);
    rlc_free(a);
    rlc_bus_free(&h->base);
}

/* Both idle, then the bus goes down and both get busy: nobody hears the
 * other ask for more, so neither share rises. */
static void test_distributed_demand_outage_raises_nothing(void **state)
{
    held_bus *h = held_bus_new();
    rlc_limiter *ag[2];

    (void)state;
    ag[0] = agent_by_demand(&h->base, "a");
    ag[1] = agent_by_demand(&h->base, "b");
    for (int i = 0; i < 2; i++)
        assert_int_equal(rlc_set_capacity(ag[i], "api", 100, RLC_SECOND),
                         RLC_OK);
    steps(h, ag, 40, 0, 0);
    h->up = false;
    steps(h, ag, 80, BOTH_BUSY, 100.5);
    /* Back: they say so, and share equally. */
    h->up = true;
    steps(h, ag, 40, BOTH_BUSY, 100.5);
    assert_true(fabs(share_rate(ag[0], "api") - 50) < 1);
    assert_true(fabs(share_rate(ag[1], "api") - 50) < 1);
    rlc_free(ag[0]);
    rlc_free(ag[1]);
    rlc_bus_free(&h->base);
}

/* A resource an agent starts using while the bus is down: the others do
 * not count it as a user, so it holds the floor (a tenth of an equal
 * share) until its heartbeat is heard, and a heartbeat that fails to go
 * out raises nothing. */
static void test_distributed_demand_new_use_in_an_outage(void **state)
{
    held_bus *h = held_bus_new();
    rlc_limiter *ag[2];

    (void)state;
    ag[0] = agent_by_demand(&h->base, "a");
    ag[1] = agent_by_demand(&h->base, "b");
    assert_int_equal(rlc_set_capacity(ag[0], "api", 100, RLC_SECOND), RLC_OK);
    assert_int_equal(rlc_set_capacity(ag[1], "other", 100, RLC_SECOND), RLC_OK);
    steps(h, ag, 40, A_BUSY, 0);
    assert_true(share_rate(ag[0], "api") > 99);
    h->up = false;
    assert_int_equal(rlc_set_capacity(ag[1], "api", 100, RLC_SECOND), RLC_OK);
    for (int step = 0; step < 40; step++) {
        advance(ag, 2, RLC_SECOND / 8);
        deliver(h);
        take_all(ag[0], "api");
        take_all(ag[1], "api");
        assert_true(share_rate(ag[1], "api") <= 5.01);
    }
    /* (for less than the three heartbeats after which peers unheard are
     * gone: then each would hold it all, as with equal shares) */
    h->up = true;
    h->fail = true;
    for (int step = 0; step < 16; step++) {
        advance(ag, 2, RLC_SECOND / 8);
        deliver(h);
        take_all(ag[0], "api");
        take_all(ag[1], "api");
        assert_true(share_rate(ag[1], "api") <= 5.01);
    }
    h->fail = false;
    /* Heard at last: they share. */
    steps(h, ag, 40, BOTH_BUSY, 0);
    assert_true(fabs(share_rate(ag[0], "api") - 50) < 1);
    assert_true(fabs(share_rate(ag[1], "api") - 50) < 1);
    rlc_free(ag[0]);
    rlc_free(ag[1]);
    rlc_bus_free(&h->base);
}

/* A bus that keeps losing its connection and finding it again within a
 * quarter heartbeat: a heartbeat sent before a loss may have been lost with
 * it, so no rise it said takes effect; once the bus holds, it does. */
static void
test_distributed_demand_no_rise_across_a_lost_connection(void **state)
{
    held_bus *h = held_bus_new();
    rlc_limiter *ag[2];

    (void)state;
    ag[0] = agent_by_demand(&h->base, "a");
    ag[1] = agent_by_demand(&h->base, "b");
    for (int i = 0; i < 2; i++)
        assert_int_equal(rlc_set_capacity(ag[i], "api", 100, RLC_SECOND),
                         RLC_OK);
    for (int step = 0; step < 40; step++) { /* a busy, b idle */
        advance(ag, 2, RLC_SECOND / 8);
        deliver(h);
        take_all(ag[0], "api");
    }
    assert_true(share_rate(ag[1], "api") <= 5.01);
    for (int step = 0; step < 24; step++) { /* both busy, the bus flaps */
        advance(ag, 2, RLC_SECOND / 8);
        h->losses++;
        deliver(h);
        take_all(ag[0], "api");
        take_all(ag[1], "api");
        assert_true(share_rate(ag[1], "api") <= 5.01);
    }
    steps(h, ag, 24, BOTH_BUSY, 0);
    assert_true(fabs(share_rate(ag[1], "api") - 50) < 1);
    rlc_free(ag[0]);
    rlc_free(ag[1]);
    rlc_bus_free(&h->base);
}

/* More resources than a heartbeat can say, and one whose name cannot be
 * said (not UTF-8): the agent still beats, asking for the most of each,
 * and every resource is shared, none stuck at the floor. */
static void test_distributed_demand_what_cannot_be_said(void **state)
{
    held_bus *h = held_bus_new();
    rlc_limiter *ag[2];
    char name[32];

    (void)state;
    ag[0] = agent_by_demand(&h->base, "a");
    ag[1] = agent_by_demand(&h->base, "b");
    for (int k = 0; k < 40; k++) {
        snprintf(name, sizeof(name), "r%02d", k);
        for (int i = 0; i < 2; i++)
            assert_int_equal(rlc_set_capacity(ag[i], name, 100, RLC_SECOND),
                             RLC_OK);
    }
    for (int step = 0; step < 40; step++) {
        advance(ag, 2, RLC_SECOND / 8);
        deliver(h);
        for (int k = 0; k < 40; k++) {
            snprintf(name, sizeof(name), "r%02d", k);
            take_all(ag[0], name);
            take_all(ag[1], name);
        }
    }
    for (int k = 0; k < 40; k++) {
        snprintf(name, sizeof(name), "r%02d", k);
        assert_true(fabs(share_rate(ag[0], name) - 50) < 1);
        assert_true(fabs(share_rate(ag[1], name) - 50) < 1);
    }
    rlc_free(ag[0]);
    rlc_free(ag[1]);

    ag[0] = agent_by_demand(&h->base, "c");
    ag[1] = agent_by_demand(&h->base, "d");
    for (int i = 0; i < 2; i++) {
        assert_int_equal(rlc_set_capacity(ag[i], "api", 100, RLC_SECOND),
                         RLC_OK);
        assert_int_equal(rlc_set_capacity(ag[i], "x\xff", 100, RLC_SECOND),
                         RLC_OK);
    }
    steps(h, ag, 40, BOTH_BUSY, 100.5);
    assert_true(fabs(share_rate(ag[0], "api") - 50) < 1);
    rlc_free(ag[0]);
    rlc_free(ag[1]);
    rlc_bus_free(&h->base);
}

/* A peer that asks for a little more is heard at once, however little:
 * it takes its rise a quarter heartbeat later. */
static void test_distributed_demand_small_rise_is_heard(void **state)
{
    held_bus *h = held_bus_new();
    rlc_limiter *a;
    const char *p1 = "{\"agent_id\":\"p\",\"interval_ms\":1000,"
                     "\"demand\":{\"api\":10.15}}";
    const char *p2 = "{\"agent_id\":\"p\",\"interval_ms\":1000,"
                     "\"demand\":{\"api\":10.30}}";

    (void)state;
    a = agent_by_demand(&h->base, "a");
    assert_int_equal(rlc_set_capacity(a, "api", 100, RLC_SECOND), RLC_OK);
    for (int step = 0; step < 40; step++) {
        publish_presence(&h->base, step < 20 ? p1 : p2);
        advance(&a, 1, RLC_SECOND / 4);
        deliver(h);
        take_all(a, "api");
        if (step == 19)
            assert_true(share_rate(a, "api") <= 100 - 10.15 + 1e-6);
    }
    assert_true(share_rate(a, "api") <= 100 - 10.30 + 1e-6);
    assert_true(share_rate(a, "api") >= 100 - 10.30 - 0.5);
    rlc_free(a);
    rlc_bus_free(&h->base);
}

/* Fewer tokens than agents: each gets one token per longer window. */
static void test_distributed_split_below_one_token_each(void **state)
{
    held_bus *h = held_bus_new();
    rlc_limiter *ag[4];
    const char *ids[4] = {"a", "b", "c", "d"};
    rlc_capacity c;

    (void)state;
    for (int i = 0; i < 4; i++) {
        ag[i] = agent(&h->base, ids[i], true);
        assert_int_equal(rlc_set_capacity(ag[i], "api", 2, RLC_SECOND), RLC_OK);
    }
    deliver(h);
    for (int i = 0; i < 4; i++) {
        assert_true(rlc_get_capacity(ag[i], "api", &c));
        assert_int_equal(c.total, 1);
        assert_int_equal(c.window_ns, 2 * RLC_SECOND);
    }
    for (int i = 0; i < 4; i++)
        rlc_free(ag[i]);
    rlc_bus_free(&h->base);
}

/* While the bus is down nobody is forgotten: shares do not grow. */
static void test_distributed_outage_freezes_shares(void **state)
{
    held_bus *h = held_bus_new();
    rlc_limiter *ag[2];

    (void)state;
    ag[0] = agent(&h->base, "a", true);
    ag[1] = agent(&h->base, "b", true);
    for (int i = 0; i < 2; i++)
        assert_int_equal(rlc_set_capacity(ag[i], "api", 20, RLC_SECOND),
                         RLC_OK);
    deliver(h);
    assert_int_equal(total(ag[0], "api"), 10);
    h->up = false;
    h->nqueue = 0;
    advance(ag, 2, 60 * RLC_SECOND);
    assert_int_equal(total(ag[0], "api"), 10);
    assert_int_equal(total(ag[1], "api"), 10);
    h->up = true;
    advance(ag, 2, RLC_SECOND);
    deliver(h);
    assert_int_equal(total(ag[0], "api"), 10);
    rlc_free(ag[0]);
    rlc_free(ag[1]);
    rlc_bus_free(&h->base);
}

/* Cold start: started while the bus is down, an agent knows no peers;
 * it counts assumed_agents until the bus has been up three heartbeats. */
static void test_distributed_split_assumes_agents_until_warm(void **state)
{
    held_bus *h = held_bus_new();
    rlc_limiter *ag[2];

    (void)state;
    h->up = false;
    ag[0] = agent_assuming(&h->base, "a", true, 4);
    /* 22 among 4 agents it cannot see: 5 (rounded down, as any of them
     * may think itself first) */
    assert_int_equal(rlc_set_capacity(ag[0], "api", 22, RLC_SECOND), RLC_OK);
    assert_int_equal(total(ag[0], "api"), 5);
    advance(ag, 1, 60 * RLC_SECOND);
    assert_int_equal(total(ag[0], "api"), 5); /* down: still cold */
    h->up = true;
    ag[1] = agent(&h->base, "b", true);
    assert_int_equal(rlc_set_capacity(ag[1], "api", 22, RLC_SECOND), RLC_OK);
    deliver(h);
    assert_int_equal(total(ag[0], "api"), 5); /* 2 live, 4 assumed */
    advance(ag, 2, RLC_SECOND); /* a sees the bus up: its clock starts */
    deliver(h);
    assert_int_equal(total(ag[1], "api"), 11); /* b assumes nothing */
    for (int i = 0; i < 2; i++) {
        advance(ag, 2, RLC_SECOND);
        deliver(h);
        assert_int_equal(total(ag[0], "api"), 5);
    }
    advance(ag, 2, RLC_SECOND); /* up for three heartbeats */
    deliver(h);
    assert_int_equal(total(ag[0], "api"), 11);
    assert_int_equal(total(ag[1], "api"), 11);
    /* warm for good: an outage now freezes shares as before */
    h->up = false;
    advance(ag, 2, 10 * RLC_SECOND);
    assert_int_equal(total(ag[0], "api"), 11);
    rlc_free(ag[0]);
    rlc_free(ag[1]);
    rlc_bus_free(&h->base);
}

static int64_t unix_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * RLC_SECOND + ts.tv_nsec;
}

static int64_t paused_until(rlc_limiter *l, const char *r)
{
    rlc_capacity c;

    assert_true(rlc_get_capacity(l, r, &c));
    return c.paused_until_ns;
}

/* Real time that may pass between computing a pause and reading it. */
#define SLACK (50 * RLC_MILLISECOND)

/* A Retry-After seen by one agent pauses every agent, each until the
 * pause's end plus a delay of its own of at most 10 % (here 200 ms). */
static void test_distributed_pause_reaches_the_others(void **state)
{
    held_bus *h = held_bus_new();
    rlc_limiter *ag[9];
    struct seen seen[9];
    rlc__capacity_msg m;
    int64_t until, lo = INT64_MAX, hi = 0;
    char id[16];

    (void)state;
    memset(seen, 0, sizeof(seen));
    for (int i = 0; i < 9; i++) {
        snprintf(id, sizeof(id), "agent-%d", i);
        ag[i] = agent(&h->base, id, false);
        assert_int_equal(rlc_set_capacity(ag[i], "api", 60, RLC_MINUTE),
                         RLC_OK);
        rlc_on_capacity_change(ag[i], on_change, &seen[i]);
    }
    until = unix_now() + 2 * RLC_SECOND;
    rlc_pause(ag[0], "api", until, "Retry-After from api.example.com");
    assert_false(rlc_try_acquire(ag[0], "api"));
    assert_true(rlc_try_acquire(ag[1], "api")); /* not heard yet */
    assert_int_equal(h->nqueue, 1);
    assert_string_equal(h->queue[0].subject, "ratelimit.pause");
    assert_int_equal(
        rlc__wire_decode_capacity(h->queue[0].data, h->queue[0].len, &m),
        RLC_OK);
    assert_string_equal(m.resource, "api");
    assert_string_equal(m.agent_id, "agent-0");
    assert_string_equal(m.reason, "Retry-After from api.example.com");
    assert_int_equal(m.new_capacity, 60);
    assert_true(m.has_pause);
    assert_int_equal(m.pause_until_ns, until);
    assert_int_equal(deliver(h), 1);
    for (int i = 1; i < 9; i++) {
        int64_t p = paused_until(ag[i], "api");

        assert_false(rlc_try_acquire(ag[i], "api"));
        assert_true(p >= until);
        assert_true(p <= until + 200 * RLC_MILLISECOND + SLACK);
        lo = p < lo ? p : lo;
        hi = p > hi ? p : hi;
        assert_int_equal(seen[i].calls, 0); /* not a capacity change */
    }
    /* the delays are drawn, not all alike (all eight within 10 ms of one
     * another: about one chance in 10^8) */
    assert_true(hi - lo > 10 * RLC_MILLISECOND);
    assert_int_equal(seen[0].calls, 0);
    /* a pause no longer than the one in force is not sent again */
    rlc_pause(ag[3], "api", until - RLC_SECOND, "Retry-After");
    rlc_pause(ag[0], "api", until, "Retry-After");
    assert_int_equal(h->nqueue, 0);
    advance(ag, 9, 2 * RLC_SECOND - SLACK);
    assert_false(rlc_try_acquire(ag[0], "api"));
    advance(ag, 9, 200 * RLC_MILLISECOND + 2 * SLACK);
    for (int i = 0; i < 9; i++) {
        assert_true(rlc_try_acquire(ag[i], "api"));
        assert_int_equal(paused_until(ag[i], "api"), 0);
        rlc_free(ag[i]);
    }
    rlc_bus_free(&h->base);
}

static void publish_pause(rlc_bus *bus, const char *agent_id,
                          const char *resource, int64_t until)
{
    rlc__capacity_msg m;
    char buf[1024];
    int n;

    memset(&m, 0, sizeof(m));
    snprintf(m.resource, sizeof(m.resource), "%s", resource);
    snprintf(m.agent_id, sizeof(m.agent_id), "%s", agent_id);
    m.new_capacity = 100;
    m.has_pause = true;
    m.pause_until_ns = until;
    n = rlc__wire_encode_capacity(&m, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(rlc_bus_publish(bus, "ratelimit.pause", buf, (size_t)n),
                     RLC_OK);
}

static void test_distributed_pause_ignores_what_is_not_one(void **state)
{
    rlc_bus *bus = rlc_memory_bus_new();
    rlc_limiter *b = agent(bus, "b", false);
    int64_t now = unix_now(), p;

    (void)state;
    assert_int_equal(rlc_set_capacity(b, "api", 100, RLC_MINUTE), RLC_OK);
    publish_pause(bus, "b", "api", now + RLC_MINUTE);   /* its own */
    publish_pause(bus, "x", "other", now + RLC_MINUTE); /* unknown */
    publish_pause(bus, "x", "api", now - RLC_SECOND);   /* over */
    publish_pause(bus, "x", "api", INT64_MIN + 1);      /* long over */
    /* not a pause: no time, not JSON, a time that is not RFC 3339 */
    publish_json(bus, "{\"resource\":\"api\",\"agent_id\":\"x\","
                      "\"new_capacity\":100,\"reason\":\"\"}");
    assert_int_equal(rlc_bus_publish(bus, "ratelimit.pause", "{", 1), RLC_OK);
    {
        const char *bad = "{\"resource\":\"api\",\"agent_id\":\"x\","
                          "\"new_capacity\":100,\"rlc_pause_until\":5}";

        assert_int_equal(
            rlc_bus_publish(bus, "ratelimit.pause", bad, strlen(bad)), RLC_OK);
    }
    assert_int_equal(paused_until(b, "api"), 0);
    assert_true(rlc_try_acquire(b, "api"));
    /* absurdly far: an hour at most (plus a delay of at most 1 s) */
    publish_pause(bus, "x", "api", INT64_MAX);
    p = paused_until(b, "api");
    assert_true(p >= now + 60 * RLC_MINUTE);
    assert_true(p <= unix_now() + 60 * RLC_MINUTE + RLC_SECOND);
    assert_false(rlc_try_acquire(b, "api"));
    rlc_free(b);
    rlc_bus_free(bus);
}

/* Thousands of hostile messages: no crash, the floor holds. */
static void test_distributed_flood_of_cuts(void **state)
{
    rlc_bus *bus = rlc_memory_bus_new();
    rlc_limiter *a = agent(bus, "a", false);
    char json[256];

    (void)state;
    assert_int_equal(rlc_set_capacity(a, "api", 1000, RLC_MINUTE), RLC_OK);
    for (int i = 0; i < 5000; i++) {
        snprintf(json, sizeof(json),
                 "{\"resource\":\"api\",\"agent_id\":\"x%d\","
                 "\"new_capacity\":%d,\"reason\":\"flood\","
                 "\"rlc_epoch\":%d}",
                 i, 1000 - i % 1000 - (i % 7 == 0 ? 2000 : 0), i % 3);
        publish_json(bus, json);
    }
    assert_true(total(a, "api") >= 1);
    assert_true(total(a, "api") <= 1000);
    rlc_free(a);
    rlc_bus_free(bus);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_distributed_cut_is_applied_by_the_others,
                               setup),
        cmocka_unit_test_setup(test_distributed_simultaneous_cuts_cost_one,
                               setup),
        cmocka_unit_test_setup(test_distributed_announce_at_an_old_epoch,
                               setup),
        cmocka_unit_test_setup(test_distributed_ignores_what_is_not_a_cut,
                               setup),
        cmocka_unit_test_setup(test_distributed_applies_reference_go_messages,
                               setup),
        cmocka_unit_test_setup(test_distributed_publishes_the_reference_format,
                               setup),
        cmocka_unit_test_setup(
            test_distributed_recovers_by_factor_up_to_the_original, setup),
        cmocka_unit_test_setup(test_distributed_never_below_the_floor, setup),
        cmocka_unit_test_setup(test_distributed_split_shares_among_live_agents,
                               setup),
        cmocka_unit_test_setup(test_distributed_split_below_one_token_each,
                               setup),
        cmocka_unit_test(test_distributed_fair_share_adds_up),
        cmocka_unit_test_setup(
            test_distributed_demand_idle_share_goes_to_the_busy, setup),
        cmocka_unit_test_setup(test_distributed_demand_is_max_min_fair, setup),
        cmocka_unit_test_setup(test_distributed_demand_outage_raises_nothing,
                               setup),
        cmocka_unit_test_setup(test_distributed_demand_what_cannot_be_said,
                               setup),
        cmocka_unit_test_setup(test_distributed_demand_new_use_in_an_outage,
                               setup),
        cmocka_unit_test_setup(
            test_distributed_demand_no_rise_across_a_lost_connection, setup),
        cmocka_unit_test_setup(test_distributed_demand_small_rise_is_heard,
                               setup),
        cmocka_unit_test_setup(test_distributed_outage_freezes_shares, setup),
        cmocka_unit_test_setup(test_distributed_flood_of_cuts, setup),
        cmocka_unit_test_setup(test_distributed_split_assumes_agents_until_warm,
                               setup),
        cmocka_unit_test_setup(test_distributed_pause_reaches_the_others,
                               setup),
        cmocka_unit_test_setup(test_distributed_pause_ignores_what_is_not_one,
                               setup),
    };

    return cmocka_run_group_tests_name("distributed", tests, NULL, NULL);
}
