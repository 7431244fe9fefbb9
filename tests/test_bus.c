/* SPDX-License-Identifier: MIT */
/*
 * test_bus.c - the buses: NATS subject matching, the memory bus's
 * delivery and unsubscribe guarantees, and the NATS bus against real
 * nats-server processes on free loopback ports, stopped and restarted
 * under it. A missing nats-server is a failure, never a skip.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bus.h"
#include "internal.h"

static int64_t now_ns(void)
{
    return rlc__monotonic_ns();
}

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&t, &t) != 0 && errno == EINTR)
        ;
}

/* A subscriber that counts, remembers the last message, and counts the
 * messages on one subject of interest (want). */
struct inbox {
    pthread_mutex_t mu;
    int count;
    int wanted;
    char want[64];
    char subject[128];
    char data[256];
    size_t len;
};

static void inbox_init(struct inbox *in, const char *want)
{
    memset(in, 0, sizeof(*in));
    pthread_mutex_init(&in->mu, NULL);
    snprintf(in->want, sizeof(in->want), "%s", want != NULL ? want : "");
}

static void on_inbox(const char *subject, const void *data, size_t len,
                     void *arg)
{
    struct inbox *in = arg;

    pthread_mutex_lock(&in->mu);
    in->count++;
    if (strcmp(subject, in->want) == 0)
        in->wanted++;
    snprintf(in->subject, sizeof(in->subject), "%s", subject);
    in->len = len;
    memcpy(in->data, data, len < sizeof(in->data) ? len : sizeof(in->data));
    pthread_mutex_unlock(&in->mu);
}

static int inbox_count(struct inbox *in)
{
    int n;

    pthread_mutex_lock(&in->mu);
    n = in->count;
    pthread_mutex_unlock(&in->mu);
    return n;
}

static int inbox_wanted(struct inbox *in)
{
    int n;

    pthread_mutex_lock(&in->mu);
    n = in->wanted;
    pthread_mutex_unlock(&in->mu);
    return n;
}

/* Waits (real time) until in has n messages or more. */
static bool inbox_wait(struct inbox *in, int n, int64_t timeout_ns)
{
    int64_t end = now_ns() + timeout_ns;

    while (inbox_count(in) < n) {
        if (now_ns() > end)
            return false;
        sleep_ms(2);
    }
    return true;
}

/*
 * Subject matching.
 */

static void test_bus_subject_matches_table(void **state)
{
    static const struct {
        const char *pattern, *subject;
        bool match;
    } rows[] = {
        {"a", "a", true},
        {"a", "b", false},
        {"ab", "a", false},
        {"a", "ab", false},
        {"a.b", "a.b", true},
        {"a.b", "a.b.c", false},
        {"a.b.c", "a.b", false},
        {"a.*", "a.b", true},
        {"a.*", "a", false},
        {"a.*", "a.b.c", false},
        {"*", "a", true},
        {"*", "a.b", false},
        {"*.b", "a.b", true},
        {"*.b", "a.c", false},
        {"a.*.c", "a.x.c", true},
        {"a.*.c", "a.x.d", false},
        {"*.*", "a.b", true},
        {"a.>", "a.b", true},
        {"a.>", "a.b.c.d", true},
        {"a.>", "a", false},
        {">", "a", true},
        {">", "a.b.c", true},
        {"*.>", "a", false},
        {"*.>", "a.b", true},
        {"ratelimit.capacity", "ratelimit.capacity", true},
        {"ratelimit.*", "ratelimit.presence", true},
        {"ratelimit.*", "ratelimitx.presence", false},
        {"a*", "a*", true}, /* a wildcard is a whole token, else literal */
        {"a*", "ab", false},
        {"a>", "a>", true},
        {"a>", "a.b", false},
        /* invalid patterns match nothing */
        {"a.>.b", "a.x.b", false},
        {"a..b", "a..b", false},
        {"", "", false},
        {"a.", "a.", false},
        {".a", ".a", false},
        {"a b", "a b", false},
        {NULL, "a", false},
        /* subjects hold no wildcards, and no empty tokens */
        {"a", NULL, false},
        {"a.*", "a.*", false},
        {">", "a.>", false},
        {">", "a..b", false},
        {"*", "", false},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (rlc__subject_matches(rows[i].pattern, rows[i].subject) !=
            rows[i].match)
            fail_msg("'%s' vs '%s': expected %s",
                     rows[i].pattern ? rows[i].pattern : "(null)",
                     rows[i].subject ? rows[i].subject : "(null)",
                     rows[i].match ? "a match" : "no match");
    }
}

static void test_bus_subject_valid_table(void **state)
{
    static const struct {
        const char *s;
        bool subject, pattern;
    } rows[] = {
        {"a", true, true},
        {"a.b.c", true, true},
        {"ratelimit.capacity", true, true},
        {"a-b_c.D9", true, true},
        {"*", false, true},
        {">", false, true},
        {"a.*.c", false, true},
        {"a.>", false, true},
        {"a.>.c", false, false},
        {">.a", false, false},
        {"a*", true, true},
        {"", false, false},
        {".", false, false},
        {"a.", false, false},
        {".a", false, false},
        {"a..b", false, false},
        {"a b", false, false},
        {"a\tb", false, false},
        {"a\n", false, false},
        {NULL, false, false},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (rlc__subject_valid(rows[i].s, false) != rows[i].subject ||
            rlc__subject_valid(rows[i].s, true) != rows[i].pattern)
            fail_msg("'%s': expected subject %d, pattern %d",
                     rows[i].s ? rows[i].s : "(null)", rows[i].subject,
                     rows[i].pattern);
    }
}

/*
 * The memory bus.
 */

struct order {
    int ids[16];
    int n;
};

struct tagged {
    int id;
    struct order *log;
    struct inbox in;
};

static void on_tagged(const char *subject, const void *data, size_t len,
                      void *arg)
{
    struct tagged *t = arg;

    t->log->ids[t->log->n++] = t->id;
    on_inbox(subject, data, len, &t->in);
}

static void test_bus_memory_fan_out(void **state)
{
    rlc_bus *b = rlc_memory_bus_new();
    struct order log = {{0}, 0};
    struct tagged t[4];
    rlc__bus_sub *s[4];
    int i;

    (void)state;
    assert_non_null(b);
    assert_true(rlc_bus_connected(b));
    for (i = 0; i < 4; i++) {
        t[i].id = i;
        t[i].log = &log;
        inbox_init(&t[i].in, NULL);
        assert_int_equal(
            rlc__bus_subscribe(b, i < 3 ? "rl.capacity" : "rl.presence",
                               on_tagged, &t[i], &s[i]),
            RLC_OK);
        assert_non_null(s[i]);
    }
    /* Delivered before publish returns, in subscription order. */
    assert_int_equal(rlc_bus_publish(b, "rl.capacity", "hello", 5), RLC_OK);
    assert_int_equal(log.n, 3);
    for (i = 0; i < 3; i++) {
        assert_int_equal(log.ids[i], i);
        assert_int_equal(t[i].in.count, 1);
        assert_string_equal(t[i].in.subject, "rl.capacity");
        assert_int_equal(t[i].in.len, 5);
        assert_memory_equal(t[i].in.data, "hello", 5);
    }
    assert_int_equal(t[3].in.count, 0);

    /* Binary payloads, empty payloads. */
    assert_int_equal(rlc_bus_publish(b, "rl.presence", "a\0b", 3), RLC_OK);
    assert_int_equal(t[3].in.count, 1);
    assert_int_equal(t[3].in.len, 3);
    assert_memory_equal(t[3].in.data, "a\0b", 3);
    assert_int_equal(rlc_bus_publish(b, "rl.presence", NULL, 0), RLC_OK);
    assert_int_equal(t[3].in.count, 2);
    assert_int_equal(t[3].in.len, 0);

    /* Nobody listening is not an error. */
    assert_int_equal(rlc_bus_publish(b, "nobody.home", "x", 1), RLC_OK);

    for (i = 0; i < 4; i++)
        rlc__bus_unsubscribe(b, s[i]);
    rlc_bus_free(b);
}

static void test_bus_memory_wildcards(void **state)
{
    static const char *patterns[] = {"a.*", "a.>", ">", "*.b", "a.b"};
    rlc_bus *b = rlc_memory_bus_new();
    struct inbox in[5];
    rlc__bus_sub *s[5];
    int i;

    (void)state;
    assert_non_null(b);
    for (i = 0; i < 5; i++) {
        inbox_init(&in[i], NULL);
        assert_int_equal(
            rlc__bus_subscribe(b, patterns[i], on_inbox, &in[i], &s[i]),
            RLC_OK);
    }
    assert_int_equal(rlc_bus_publish(b, "a.b", "1", 1), RLC_OK);
    for (i = 0; i < 5; i++)
        assert_int_equal(in[i].count, 1);

    assert_int_equal(rlc_bus_publish(b, "a.b.c", "2", 1), RLC_OK);
    assert_int_equal(in[0].count, 1); /* a.*: one token only */
    assert_int_equal(in[1].count, 2); /* a.> */
    assert_int_equal(in[2].count, 2); /* > */
    assert_int_equal(in[3].count, 1);
    assert_int_equal(in[4].count, 1);

    assert_int_equal(rlc_bus_publish(b, "x.b", "3", 1), RLC_OK);
    assert_int_equal(in[1].count, 2);
    assert_int_equal(in[2].count, 3);
    assert_int_equal(in[3].count, 2); /* *.b */

    assert_int_equal(rlc_bus_publish(b, "a", "4", 1), RLC_OK);
    assert_int_equal(in[0].count, 1); /* a.* needs a second token */
    assert_int_equal(in[1].count, 2); /* so does a.> */
    assert_int_equal(in[2].count, 4);

    for (i = 0; i < 5; i++)
        rlc__bus_unsubscribe(b, s[i]);
    rlc_bus_free(b);
}

static void test_bus_memory_unsubscribe_stops_delivery(void **state)
{
    rlc_bus *b = rlc_memory_bus_new();
    struct inbox in, other;
    rlc__bus_sub *s, *s2;

    (void)state;
    inbox_init(&in, NULL);
    inbox_init(&other, NULL);
    assert_int_equal(rlc__bus_subscribe(b, "x", on_inbox, &in, &s), RLC_OK);
    assert_int_equal(rlc__bus_subscribe(b, "x", on_inbox, &other, &s2), RLC_OK);
    assert_int_equal(rlc_bus_publish(b, "x", "1", 1), RLC_OK);
    rlc__bus_unsubscribe(b, s);
    assert_int_equal(rlc_bus_publish(b, "x", "2", 1), RLC_OK);
    assert_int_equal(in.count, 1);
    assert_int_equal(other.count, 2);
    /* Freed with the bus: a subscription still there is not a leak. */
    rlc_bus_free(b);
}

/* A callback that takes its time, in whatever thread publishes. */
struct slow {
    atomic_int entered, left;
    int ms;
};

static void on_slow(const char *subject, const void *data, size_t len,
                    void *arg)
{
    struct slow *s = arg;

    (void)subject;
    (void)data;
    (void)len;
    atomic_fetch_add(&s->entered, 1);
    sleep_ms(s->ms);
    atomic_fetch_add(&s->left, 1);
}

struct publisher {
    rlc_bus *bus;
    const char *subject;
    int times;
};

static void *publish_main(void *arg)
{
    struct publisher *p = arg;
    int i;

    for (i = 0; i < p->times; i++)
        rlc_bus_publish(p->bus, p->subject, "x", 1);
    return NULL;
}

static void wait_entered(struct slow *s, int n)
{
    int64_t end = now_ns() + 5 * RLC_SECOND;

    while (atomic_load(&s->entered) < n && now_ns() < end)
        sleep_ms(1);
    assert_int_equal(atomic_load(&s->entered), n);
}

static void test_bus_memory_unsubscribe_waits_for_callback(void **state)
{
    rlc_bus *b = rlc_memory_bus_new();
    struct slow *sl = calloc(1, sizeof(*sl));
    struct publisher p = {b, "slow", 1};
    rlc__bus_sub *s;
    pthread_t t;
    int64_t t0, took;

    (void)state;
    sl->ms = 150;
    assert_int_equal(rlc__bus_subscribe(b, "slow", on_slow, sl, &s), RLC_OK);
    assert_int_equal(pthread_create(&t, NULL, publish_main, &p), 0);
    wait_entered(sl, 1);

    t0 = now_ns();
    rlc__bus_unsubscribe(b, s);
    took = now_ns() - t0;
    /* It waited for the call in the other thread to end... */
    assert_int_equal(atomic_load(&sl->left), 1);
    assert_true(took >= 50 * RLC_MILLISECOND);
    pthread_join(t, NULL);

    /* ...and none starts after. */
    assert_int_equal(rlc_bus_publish(b, "slow", "x", 1), RLC_OK);
    assert_int_equal(atomic_load(&sl->entered), 1);
    free(sl);
    rlc_bus_free(b);
}

/* Unsubscribes itself, or another subscription, from its callback. */
struct self {
    rlc_bus *bus;
    _Atomic(rlc__bus_sub *) sub; /* unsubscribed on the first call */
    const char *publish;         /* published from the callback, if not NULL */
    rlc__bus_sub **late;         /* subscribed from the callback, if not NULL */
    struct inbox *late_in;
    atomic_int calls;
};

static void on_self(const char *subject, const void *data, size_t len,
                    void *arg)
{
    struct self *s = arg;
    rlc__bus_sub *sub;

    (void)subject;
    (void)data;
    (void)len;
    atomic_fetch_add(&s->calls, 1);
    if (s->publish != NULL)
        assert_int_equal(rlc_bus_publish(s->bus, s->publish, "re", 2), RLC_OK);
    if (s->late != NULL && *s->late == NULL)
        assert_int_equal(
            rlc__bus_subscribe(s->bus, "late", on_inbox, s->late_in, s->late),
            RLC_OK);
    sub = atomic_exchange(&s->sub, NULL);
    if (sub != NULL)
        rlc__bus_unsubscribe(s->bus, sub);
}

static void test_bus_memory_unsubscribe_self(void **state)
{
    rlc_bus *b = rlc_memory_bus_new();
    struct self me = {b, NULL, NULL, NULL, NULL, 0};
    struct self outer = {b, NULL, "inner", NULL, NULL, 0};
    struct self inner = {b, NULL, NULL, NULL, NULL, 0};
    rlc__bus_sub *s, *so, *si;

    (void)state;
    /* Itself: no deadlock, never called again. */
    assert_int_equal(rlc__bus_subscribe(b, "me", on_self, &me, &s), RLC_OK);
    atomic_store(&me.sub, s);
    assert_int_equal(rlc_bus_publish(b, "me", "1", 1), RLC_OK);
    assert_int_equal(rlc_bus_publish(b, "me", "2", 1), RLC_OK);
    assert_int_equal(atomic_load(&me.calls), 1);

    /* outer publishes "inner", whose callback unsubscribes outer, which
     * is running further up the same thread's stack. */
    assert_int_equal(rlc__bus_subscribe(b, "outer", on_self, &outer, &so),
                     RLC_OK);
    assert_int_equal(rlc__bus_subscribe(b, "inner", on_self, &inner, &si),
                     RLC_OK);
    atomic_store(&inner.sub, so);
    assert_int_equal(rlc_bus_publish(b, "outer", "1", 1), RLC_OK);
    assert_int_equal(atomic_load(&outer.calls), 1);
    assert_int_equal(atomic_load(&inner.calls), 1);
    assert_int_equal(rlc_bus_publish(b, "outer", "2", 1), RLC_OK);
    assert_int_equal(atomic_load(&outer.calls), 1);
    rlc__bus_unsubscribe(b, si);
    rlc_bus_free(b);
}

static void test_bus_memory_callback_publishes(void **state)
{
    rlc_bus *b = rlc_memory_bus_new();
    struct inbox resp, late_in;
    rlc__bus_sub *late = NULL, *s, *r;
    struct self req = {b, NULL, "resp", &late, &late_in, 0};

    (void)state;
    inbox_init(&resp, NULL);
    inbox_init(&late_in, NULL);
    assert_int_equal(rlc__bus_subscribe(b, "req", on_self, &req, &s), RLC_OK);
    assert_int_equal(rlc__bus_subscribe(b, "resp", on_inbox, &resp, &r),
                     RLC_OK);
    assert_int_equal(rlc_bus_publish(b, "req", "q", 1), RLC_OK);
    /* The nested publish was delivered before the outer one returned. */
    assert_int_equal(resp.count, 1);
    assert_memory_equal(resp.data, "re", 2);
    /* The callback subscribed; that subscription works. */
    assert_non_null(late);
    assert_int_equal(rlc_bus_publish(b, "late", "l", 1), RLC_OK);
    assert_int_equal(late_in.count, 1);
    rlc__bus_unsubscribe(b, s);
    rlc__bus_unsubscribe(b, r);
    rlc__bus_unsubscribe(b, late);
    rlc_bus_free(b);
}

/* Publishers in several threads while another subscribes and
 * unsubscribes with a heap argument it frees at once: under ASan and TSan
 * this checks that no callback outlives its unsubscribe. */
struct churn {
    rlc_bus *bus;
    atomic_bool stop;
    atomic_int rounds;
};

static void on_count(const char *subject, const void *data, size_t len,
                     void *arg)
{
    (void)subject;
    (void)data;
    (void)len;
    atomic_fetch_add((atomic_int *)arg, 1);
}

static void *churn_main(void *arg)
{
    struct churn *c = arg;
    rlc__bus_sub *s;
    atomic_int *n;

    do {
        n = malloc(sizeof(*n));
        atomic_init(n, 0);
        if (rlc__bus_subscribe(c->bus, "t.*", on_count, n, &s) == RLC_OK)
            rlc__bus_unsubscribe(c->bus, s);
        free(n);
        atomic_fetch_add(&c->rounds, 1);
    } while (!atomic_load(&c->stop));
    return NULL;
}

static void test_bus_memory_threads(void **state)
{
    enum { PUBLISHERS = 4, TIMES = 2000 };
    rlc_bus *b = rlc_memory_bus_new();
    struct publisher p[PUBLISHERS];
    struct churn c;
    pthread_t pt[PUBLISHERS], ct;
    rlc__bus_sub *all;
    atomic_int total;
    int i;

    (void)state;
    atomic_init(&total, 0);
    c.bus = b;
    atomic_init(&c.rounds, 0);
    atomic_init(&c.stop, false);
    assert_int_equal(rlc__bus_subscribe(b, "t.>", on_count, &total, &all),
                     RLC_OK);
    assert_int_equal(pthread_create(&ct, NULL, churn_main, &c), 0);
    while (atomic_load(&c.rounds) == 0) /* churning before publishing */
        sleep_ms(1);
    for (i = 0; i < PUBLISHERS; i++) {
        p[i].bus = b;
        p[i].subject = i % 2 ? "t.odd" : "t.even";
        p[i].times = TIMES;
        assert_int_equal(pthread_create(&pt[i], NULL, publish_main, &p[i]), 0);
    }
    for (i = 0; i < PUBLISHERS; i++)
        pthread_join(pt[i], NULL);
    atomic_store(&c.stop, true);
    pthread_join(ct, NULL);
    assert_int_equal(atomic_load(&total), PUBLISHERS * TIMES);
    assert_true(atomic_load(&c.rounds) > 0);
    rlc__bus_unsubscribe(b, all);
    rlc_bus_free(b);
}

static void test_bus_null_handling(void **state)
{
    rlc_bus *b = rlc_memory_bus_new();
    rlc__bus_sub *s = (rlc__bus_sub *)&s;
    struct inbox in;
    char err[64] = "junk";

    (void)state;
    inbox_init(&in, NULL);
    assert_int_equal(rlc_bus_publish(NULL, "a", "x", 1), RLC_EINVAL);
    assert_int_equal(rlc_bus_publish(b, NULL, "x", 1), RLC_EINVAL);
    assert_int_equal(rlc_bus_publish(b, "a", NULL, 1), RLC_EINVAL);
    assert_int_equal(rlc_bus_publish(b, "a", NULL, 0), RLC_OK);
    assert_int_equal(rlc_bus_publish(b, "", "x", 1), RLC_EINVAL);
    assert_int_equal(rlc_bus_publish(b, "a.*", "x", 1), RLC_EINVAL);
    assert_int_equal(rlc_bus_publish(b, "a.>", "x", 1), RLC_EINVAL);
    assert_int_equal(rlc_bus_publish(b, "a..b", "x", 1), RLC_EINVAL);
    assert_int_equal(rlc_bus_publish(b, "a b", "x", 1), RLC_EINVAL);

    assert_false(rlc_bus_connected(NULL));
    assert_true(rlc_bus_connected(b));

    assert_int_equal(rlc__bus_subscribe(NULL, "a", on_inbox, &in, &s),
                     RLC_EINVAL);
    assert_null(s); /* cleared on failure */
    assert_int_equal(rlc__bus_subscribe(b, NULL, on_inbox, &in, &s),
                     RLC_EINVAL);
    assert_int_equal(rlc__bus_subscribe(b, "a", NULL, &in, &s), RLC_EINVAL);
    assert_int_equal(rlc__bus_subscribe(b, "a", on_inbox, &in, NULL),
                     RLC_EINVAL);
    assert_int_equal(rlc__bus_subscribe(b, "a.>.b", on_inbox, &in, &s),
                     RLC_EINVAL);
    assert_int_equal(rlc__bus_subscribe(b, "", on_inbox, &in, &s), RLC_EINVAL);
    rlc__bus_unsubscribe(NULL, NULL);
    rlc__bus_unsubscribe(b, NULL);

    assert_false(rlc__bus_last_error(b, err, sizeof(err)));
    assert_string_equal(err, "");
    assert_false(rlc__bus_last_error(NULL, err, sizeof(err)));

    assert_int_equal(rlc_nats_bus_connect("nats://127.0.0.1:1", NULL),
                     RLC_EINVAL);
    assert_int_equal(rlc_nats_bus_connect_opts(NULL, NULL), RLC_EINVAL);
    rlc_bus_free(NULL);
    rlc_bus_free(b);
}

/*
 * The NATS bus. Configuration errors come back at once, without a server.
 */

static void test_bus_nats_bad_config(void **state)
{
    static const char *bad_urls[] = {
        "not a url",
        "nats://127.0.0.1:abc",
        "nats://:4222",
        "http://127.0.0.1:4222",
        "nats://127.0.0.1:99999",
        "nats://127.0.0.1:0",
        "nats://[::1",
        "nats://a/b:4222",
        "",
        " , ",
        "nats://127.0.0.1:4222, bad url",
    };
    rlc_nats_options o;
    rlc_bus *b;
    char err[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
        memset(&o, 0, sizeof(o));
        o.url = bad_urls[i];
        b = (rlc_bus *)&b;
        if (rlc__nats_bus_connect_err(&o, &b, err, sizeof(err)) != RLC_EBUS)
            fail_msg("'%s' accepted", bad_urls[i]);
        assert_null(b);
        assert_true(strlen(err) > 0);
    }
    assert_int_equal(rlc_nats_bus_connect("nats://x:4222 y", &b), RLC_EBUS);
    assert_null(b);

    memset(&o, 0, sizeof(o));
    o.url = "nats://127.0.0.1:1";
    o.creds_file = "/nonexistent/rlc-test.creds";
    assert_int_equal(rlc__nats_bus_connect_err(&o, &b, err, sizeof(err)),
                     RLC_EBUS);
    assert_null(b);
    assert_non_null(strstr(err, "rlc-test.creds"));

    memset(&o, 0, sizeof(o));
    o.url = "nats://127.0.0.1:1";
    o.tls_ca = "/nonexistent/rlc-test-ca.pem";
    assert_int_equal(rlc__nats_bus_connect_err(&o, &b, err, sizeof(err)),
                     RLC_EBUS);
    assert_null(b);
    assert_non_null(strstr(err, "rlc-test-ca.pem"));

    memset(&o, 0, sizeof(o));
    o.url = "nats://127.0.0.1:1";
    o.tls_key = "/nonexistent/key.pem";
    assert_int_equal(rlc_nats_bus_connect_opts(&o, &b), RLC_EBUS);
    assert_null(b);
}

/*
 * A real nats-server, on a port found free, as a child that dies with us.
 */

struct server {
    pid_t pid;
    int port;
};

static const char *server_path(void)
{
    static char path[1024];
    const char *env = getenv("RLC_NATS_SERVER"), *dirs = getenv("PATH");
    char list[2048], *dir, *save = NULL, *s;

    if (env != NULL && *env != '\0')
        return env;
    /* Debian installs it in /usr/sbin, often not in a user's PATH. */
    snprintf(list, sizeof(list), "%s:/usr/sbin:/usr/bin:/usr/local/bin",
             dirs != NULL ? dirs : "");
    for (s = list; (dir = strtok_r(s, ":", &save)) != NULL; s = NULL) {
        snprintf(path, sizeof(path), "%s/nats-server", dir);
        if (access(path, X_OK) == 0)
            return path;
    }
    return NULL;
}

static int free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    assert_true(fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static bool port_open(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bool ok;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

/* Starts nats-server on s->port with the extra arguments (NULL-ended,
 * or NULL), and waits until it accepts connections. */
static void server_start_args(struct server *s, const char *const *extra)
{
    const char *path = server_path();
    const char *argv[16] = {"nats-server", "-a", "127.0.0.1", "-p"};
    char port[16];
    int64_t end;
    int status, fd, n = 4;

    if (path == NULL)
        fail_msg("nats-server not found: install the nats-server package "
                 "(tools/bootstrap) or set RLC_NATS_SERVER");
    snprintf(port, sizeof(port), "%d", s->port);
    argv[n++] = port;
    while (extra != NULL && *extra != NULL && n < 15)
        argv[n++] = *extra++;
    argv[n] = NULL;
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        fd = open("/dev/null", O_RDWR);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execv(path, (char *const *)argv);
        _exit(127);
    }
    end = now_ns() + 5 * RLC_SECOND;
    while (!port_open(s->port)) {
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = 0;
            fail_msg("%s exited (status %d) before listening on %d", path,
                     status, s->port);
        }
        if (now_ns() > end)
            fail_msg("%s not listening on %d after 5 s", path, s->port);
        sleep_ms(5);
    }
}

/* token: --auth token; NULL: no authentication. */
static void server_start(struct server *s, const char *token)
{
    const char *const args[] = {"--auth", token, NULL};

    server_start_args(s, token != NULL ? args : NULL);
}

static void server_stop(struct server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
}

/* Waits until connected(b) == want; returns the time it took, or -1. */
static int64_t wait_connected(rlc_bus *b, bool want, int64_t timeout_ns)
{
    int64_t t0 = now_ns();

    while (rlc_bus_connected(b) != want) {
        if (now_ns() - t0 > timeout_ns)
            return -1;
        sleep_ms(2);
    }
    return now_ns() - t0;
}

/* Publishes every 20 ms until in has counted n messages on its subject of
 * interest: after a (re)connection each bus resends its subscriptions on
 * its own schedule, so a first message may find no one. */
static bool publish_until(rlc_bus *from, const char *subject, struct inbox *in,
                          int n, int64_t timeout_ns)
{
    int64_t end = now_ns() + timeout_ns;

    while (inbox_wanted(in) < n) {
        if (now_ns() > end)
            return false;
        rlc_bus_publish(from, subject, "probe", 5);
        sleep_ms(20);
    }
    return true;
}

struct fix {
    struct server srv;
    char url[64];
    char dir[64]; /* files the test wrote, removed after it */
    rlc_bus *a, *b;
    rlc__bus_sub *sa, *sb;
    struct inbox ia, ib;
};

static int setup_nats(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    f->srv.port = free_port();
    snprintf(f->url, sizeof(f->url), "nats://127.0.0.1:%d", f->srv.port);
    inbox_init(&f->ia, NULL);
    inbox_init(&f->ib, NULL);
    *state = f;
    return 0;
}

static void remove_dir(const char *dir)
{
    char path[320];
    struct dirent *e;
    DIR *d = opendir(dir);

    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d != NULL)
        closedir(d);
    rmdir(dir);
}

static int teardown_nats(void **state)
{
    struct fix *f = *state;

    rlc__bus_unsubscribe(f->a, f->sa);
    rlc__bus_unsubscribe(f->b, f->sb);
    rlc_bus_free(f->a);
    rlc_bus_free(f->b);
    server_stop(&f->srv);
    if (f->dir[0] != '\0')
        remove_dir(f->dir);
    free(f);
    return 0;
}

static void connect_both(struct fix *f)
{
    assert_int_equal(rlc_nats_bus_connect(f->url, &f->a), RLC_OK);
    assert_int_equal(rlc_nats_bus_connect(f->url, &f->b), RLC_OK);
    assert_non_null(f->a);
    assert_non_null(f->b);
}

static void test_bus_nats_round_trip(void **state)
{
    struct fix *f = *state;
    struct inbox kept;
    rlc__bus_sub *live;
    char err[128];

    inbox_init(&kept, NULL);
    server_start(&f->srv, NULL);
    connect_both(f);
    /* A server that answers: connected when connect returns. */
    assert_true(rlc_bus_connected(f->a));
    assert_true(rlc_bus_connected(f->b));

    /* The server has the interest when subscribe returns. */
    assert_int_equal(
        rlc__bus_subscribe(f->a, "rlc.test.>", on_inbox, &f->ia, &f->sa),
        RLC_OK);
    assert_int_equal(
        rlc__bus_subscribe(f->b, "rlc.*.reply", on_inbox, &f->ib, &f->sb),
        RLC_OK);

    assert_int_equal(rlc_bus_publish(f->b, "rlc.test.one", "payload-1", 9),
                     RLC_OK);
    assert_true(inbox_wait(&f->ia, 1, 5 * RLC_SECOND));
    assert_string_equal(f->ia.subject, "rlc.test.one");
    assert_int_equal(f->ia.len, 9);
    assert_memory_equal(f->ia.data, "payload-1", 9);

    assert_int_equal(rlc_bus_publish(f->a, "rlc.x.reply", "a\0b", 3), RLC_OK);
    assert_true(inbox_wait(&f->ib, 1, 5 * RLC_SECOND));
    assert_string_equal(f->ib.subject, "rlc.x.reply");
    assert_int_equal(f->ib.len, 3);
    assert_memory_equal(f->ib.data, "a\0b", 3);

    /* Wildcards are the server's: no match, no delivery. */
    assert_int_equal(rlc_bus_publish(f->a, "rlc.x.y.reply", "no", 2), RLC_OK);
    assert_int_equal(rlc_bus_publish(f->b, "rlc.test", "no", 2), RLC_OK);
    assert_int_equal(rlc_bus_publish(f->b, "rlc.test.two.deep", "yes", 3),
                     RLC_OK);
    assert_true(inbox_wait(&f->ia, 2, 5 * RLC_SECOND));
    sleep_ms(100);
    assert_int_equal(inbox_count(&f->ia), 2);
    assert_string_equal(f->ia.subject, "rlc.test.two.deep");
    assert_int_equal(inbox_count(&f->ib), 1);
    assert_false(rlc__bus_last_error(f->a, err, sizeof(err)));

    /* A bus freed with a subscription still on it waits for its callback
     * and frees it. */
    assert_int_equal(rlc__bus_subscribe(f->b, "kept", on_inbox, &kept, &live),
                     RLC_OK);
    assert_int_equal(rlc_bus_publish(f->a, "kept", "k", 1), RLC_OK);
    assert_true(inbox_wait(&kept, 1, 5 * RLC_SECOND));
    rlc__bus_unsubscribe(f->b, f->sb);
    f->sb = NULL;
    rlc_bus_free(f->b);
    f->b = NULL;
}

static void test_bus_nats_token(void **state)
{
    struct fix *f = *state;
    rlc_nats_options o;
    rlc_bus *bad = (rlc_bus *)&bad;
    char err[256];

    server_start(&f->srv, "s3cret");
    memset(&o, 0, sizeof(o));
    o.url = f->url;
    o.name = "rlc-test";
    o.token = "s3cret";
    assert_int_equal(rlc_nats_bus_connect_opts(&o, &f->a), RLC_OK);
    assert_int_equal(rlc_nats_bus_connect_opts(&o, &f->b), RLC_OK);
    assert_true(rlc_bus_connected(f->a));
    assert_int_equal(
        rlc__bus_subscribe(f->a, "auth.ok", on_inbox, &f->ia, &f->sa), RLC_OK);
    assert_int_equal(rlc_bus_publish(f->b, "auth.ok", "in", 2), RLC_OK);
    assert_true(inbox_wait(&f->ia, 1, 5 * RLC_SECOND));

    /* A server that answers and refuses us: retrying cannot fix that, so
     * connect fails now instead of returning a bus that never connects. */
    o.token = "wrong";
    assert_int_equal(rlc__nats_bus_connect_err(&o, &bad, err, sizeof(err)),
                     RLC_EBUS);
    assert_null(bad);
    assert_non_null(strstr(err, "Authorization"));
    o.token = NULL;
    bad = (rlc_bus *)&bad;
    assert_int_equal(rlc_nats_bus_connect_opts(&o, &bad), RLC_EBUS);
    assert_null(bad);
}

/* The same wrong token while the server is still down: connect cannot
 * know yet. When the server comes up and refuses it, nats gives up: the
 * bus stays disconnected for good, says why, and publish fails fast. */
static void test_bus_nats_token_refused_later(void **state)
{
    struct fix *f = *state;
    rlc_nats_options o;
    char err[256];
    int64_t end;

    memset(&o, 0, sizeof(o));
    o.url = f->url;
    o.token = "wrong";
    assert_int_equal(rlc_nats_bus_connect_opts(&o, &f->a), RLC_OK);
    assert_false(rlc_bus_connected(f->a));
    server_start(&f->srv, "s3cret");
    end = now_ns() + 8 * RLC_SECOND;
    while (rlc_bus_publish(f->a, "x", "y", 1) == RLC_OK && now_ns() < end)
        sleep_ms(20);
    assert_int_equal(rlc_bus_publish(f->a, "x", "y", 1), RLC_EBUS);
    assert_false(rlc_bus_connected(f->a));
    assert_true(rlc__bus_last_error(f->a, err, sizeof(err)));
    if (strstr(err, "Authorization") == NULL)
        fail_msg("last error: '%s'", err);
}

static void test_bus_nats_server_late(void **state)
{
    struct fix *f = *state;
    int64_t t0, took;

    /* Nothing listens on the port yet. */
    t0 = now_ns();
    connect_both(f);
    took = now_ns() - t0;
    assert_true(took < RLC_SECOND);
    assert_false(rlc_bus_connected(f->a));
    assert_false(rlc_bus_connected(f->b));
    snprintf(f->ia.want, sizeof(f->ia.want), "late.x");
    assert_int_equal(
        rlc__bus_subscribe(f->a, "late.>", on_inbox, &f->ia, &f->sa), RLC_OK);
    /* Buffered until connected (or dropped): never an error, never a
     * wait. */
    assert_int_equal(rlc_bus_publish(f->b, "late.early", "e", 1), RLC_OK);
    sleep_ms(300);
    assert_false(rlc_bus_connected(f->a));

    server_start(&f->srv, NULL);
    t0 = now_ns();
    took = wait_connected(f->a, true, 8 * RLC_SECOND);
    assert_true(took >= 0);
    assert_true(wait_connected(f->b, true, 8 * RLC_SECOND) >= 0);
    print_message("# late server: connected %.0f ms after it started\n",
                  (double)(now_ns() - t0) / 1e6);
    assert_true(publish_until(f->b, "late.x", &f->ia, 1, 5 * RLC_SECOND));
}

static void test_bus_nats_server_restart(void **state)
{
    enum { BIG = 64 * 1024 };
    struct fix *f = *state;
    int64_t t0, dt, worst = 0, took;
    int i, before, dropped = 0;
    rlc_status st;
    char *big;

    server_start(&f->srv, NULL);
    connect_both(f);
    snprintf(f->ia.want, sizeof(f->ia.want), "rs.after");
    assert_int_equal(rlc__bus_subscribe(f->a, "rs.>", on_inbox, &f->ia, &f->sa),
                     RLC_OK);
    assert_int_equal(rlc_bus_publish(f->b, "rs.before", "b", 1), RLC_OK);
    assert_true(inbox_wait(&f->ia, 1, 5 * RLC_SECOND));

    /* The server dies: both notice at once (the socket closes). */
    server_stop(&f->srv);
    t0 = now_ns();
    assert_true(wait_connected(f->a, false, 2 * RLC_SECOND) >= 0);
    assert_true(wait_connected(f->b, false, 2 * RLC_SECOND) >= 0);
    took = now_ns() - t0;
    print_message("# server killed: disconnected after %.1f ms\n",
                  (double)took / 1e6);

    /* Publishing while disconnected never blocks. */
    for (i = 0; i < 100; i++) {
        t0 = now_ns();
        assert_int_equal(rlc_bus_publish(f->b, "rs.down", "d", 1), RLC_OK);
        dt = now_ns() - t0;
        if (dt > worst)
            worst = dt;
    }
    print_message("# publish while disconnected: worst %.3f ms of 100\n",
                  (double)worst / 1e6);
    assert_true(worst < 50 * RLC_MILLISECOND);

    /* A long outage: what is kept is bounded; past that, messages are
     * dropped (RLC_EBUS), still without waiting. */
    big = calloc(1, BIG);
    assert_non_null(big);
    for (i = 0; i < 48; i++) {
        t0 = now_ns();
        st = rlc_bus_publish(f->b, "rs.big", big, BIG);
        dt = now_ns() - t0;
        if (dt > worst)
            worst = dt;
        if (st == RLC_EBUS)
            dropped++;
        else
            assert_int_equal(st, RLC_OK);
    }
    free(big);
    print_message("# 3 MiB published while disconnected: %d of 48 dropped, "
                  "worst %.3f ms\n",
                  dropped, (double)worst / 1e6);
    assert_true(dropped > 0);
    assert_true(worst < 50 * RLC_MILLISECOND);

    /* Back on the same port: both reconnect, the subscription resumes. */
    before = inbox_wanted(&f->ia);
    server_start(&f->srv, NULL);
    t0 = now_ns();
    assert_true(wait_connected(f->a, true, 10 * RLC_SECOND) >= 0);
    assert_true(wait_connected(f->b, true, 10 * RLC_SECOND) >= 0);
    print_message("# server restarted: both reconnected after %.0f ms\n",
                  (double)(now_ns() - t0) / 1e6);
    assert_int_equal(rlc_bus_publish(f->b, "rs.big", "ok", 2), RLC_OK);
    assert_true(
        publish_until(f->b, "rs.after", &f->ia, before + 1, 5 * RLC_SECOND));
}

/*
 * nats holds its connection lock through a reconnect attempt's TCP connect
 * and handshake. A listener that accepts and never speaks makes that last
 * the whole connect timeout (2 s): publish must not notice.
 */
static void test_bus_nats_publish_never_blocks(void **state)
{
    struct fix *f = *state;
    struct sockaddr_in addr;
    int fd, one = 1;
    int64_t t0, end, dt, worst = 0;
    int n = 0;

    server_start(&f->srv, NULL);
    assert_int_equal(rlc_nats_bus_connect(f->url, &f->b), RLC_OK);
    assert_true(rlc_bus_connected(f->b));
    server_stop(&f->srv);
    assert_true(wait_connected(f->b, false, 2 * RLC_SECOND) >= 0);

    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)f->srv.port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(listen(fd, 16), 0);

    end = now_ns() + 1500 * RLC_MILLISECOND;
    while (now_ns() < end) {
        t0 = now_ns();
        rlc_bus_publish(f->b, "silent.x", "s", 1);
        dt = now_ns() - t0;
        if (dt > worst)
            worst = dt;
        n++;
        sleep_ms(5);
    }
    close(fd);
    print_message("# publish during a stalled reconnect: worst %.3f ms "
                  "of %d\n",
                  (double)worst / 1e6, n);
    assert_true(worst < 50 * RLC_MILLISECOND);
    assert_false(rlc_bus_connected(f->b));
}

/*
 * TLS: a throwaway CA, a server certificate for 127.0.0.1 and a client
 * certificate, valid 2000-2100, made with openssl for this test only.
 */
static const char TLS_CA[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBXzCCAQagAwIBAgICEAAwCgYIKoZIzj0EAwIwFjEUMBIGA1UEAwwLcmxjIHRl\n"
    "c3QgQ0EwIBcNMDAwMTAxMDAwMDAwWhgPMjEwMDAxMDEwMDAwMDBaMBYxFDASBgNV\n"
    "BAMMC3JsYyB0ZXN0IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEXiP6O0dd\n"
    "VXzCCSh8spH3f6wzfU+kYOgFpeq2Q49zhac9kMe554GhXGX5SZ8FRBglLos1yHQC\n"
    "YmjQoO2ncpEs8KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYw\n"
    "HQYDVR0OBBYEFJemJjim0rUAx9Tj1K6EM69A+VRBMAoGCCqGSM49BAMCA0cAMEQC\n"
    "IHX+oxgl1mVoFFyfJMgZ/NFVEjwr3ZssAcQvcXkVOretAiA9POvYmT60m1r6uRJm\n"
    "UKaSQk8oEILIGs4r2FpT7DOsng==\n"
    "-----END CERTIFICATE-----\n";

static const char TLS_SERVER_CERT[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBmTCCAUCgAwIBAgICEAEwCgYIKoZIzj0EAwIwFjEUMBIGA1UEAwwLcmxjIHRl\n"
    "c3QgQ0EwIBcNMDAwMTAxMDAwMDAwWhgPMjEwMDAxMDEwMDAwMDBaMBQxEjAQBgNV\n"
    "BAMMCWxvY2FsaG9zdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABGAgfkF/XRhu\n"
    "gyBagnsU/CbMTlI5D8FX3ZTGXX0A/rWMXcIDWiRN+xW/cJnsQYPB0foyOmYjroDR\n"
    "efgUYl2emw6jfjB8MAkGA1UdEwQCMAAwGgYDVR0RBBMwEYcEfwAAAYIJbG9jYWxo\n"
    "b3N0MBMGA1UdJQQMMAoGCCsGAQUFBwMBMB8GA1UdIwQYMBaAFJemJjim0rUAx9Tj\n"
    "1K6EM69A+VRBMB0GA1UdDgQWBBR95x8CxHOo0jc5HI8oI1ekaX91pTAKBggqhkjO\n"
    "PQQDAgNHADBEAiBVABjebVZxjQDFwh6mQOfu/pV2znMDCTzIKRMoavnUhAIgZ1mV\n"
    "XnDLpcjAQnYCJczt6kAlmaBG0rV9FkxrFrpuvYI=\n"
    "-----END CERTIFICATE-----\n";

static const char TLS_SERVER_KEY[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgwxR3SKhTIPXI012f\n"
    "oTOkzSwN3eK2/DjRbRtUD8E7mpuhRANCAARgIH5Bf10YboMgWoJ7FPwmzE5SOQ/B\n"
    "V92Uxl19AP61jF3CA1okTfsVv3CZ7EGDwdH6MjpmI66A0Xn4FGJdnpsO\n"
    "-----END PRIVATE KEY-----\n";

static const char TLS_CLIENT_CERT[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBhDCCASqgAwIBAgICEAIwCgYIKoZIzj0EAwIwFjEUMBIGA1UEAwwLcmxjIHRl\n"
    "c3QgQ0EwIBcNMDAwMTAxMDAwMDAwWhgPMjEwMDAxMDEwMDAwMDBaMBoxGDAWBgNV\n"
    "BAMMD3JsYyB0ZXN0IGNsaWVudDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABOnM\n"
    "U3Lxtt1hSuzSgjtVY0JTCD3u2mBLdP7fadEukp5JDRjqT07TzAmDlDIMjKDGZKXZ\n"
    "o+3ArSSSHxqJycr3lSmjYjBgMAkGA1UdEwQCMAAwEwYDVR0lBAwwCgYIKwYBBQUH\n"
    "AwIwHwYDVR0jBBgwFoAUl6YmOKbStQDH1OPUroQzr0D5VEEwHQYDVR0OBBYEFGLi\n"
    "KIYJNXcoURU8CDR9TFL7L8I6MAoGCCqGSM49BAMCA0gAMEUCIHuHAsGE6QlTw6DS\n"
    "F2x+TEQ0hIaPuwg3GGgxc5+ogd0EAiEA0Txy5vbVj0+xGflPq0IHoDPYACEmU8KR\n"
    "e1cPxUdGK08=\n"
    "-----END CERTIFICATE-----\n";

static const char TLS_CLIENT_KEY[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgRm7Vfq7pu78b/Bik\n"
    "tRUvxab2DcAwpzvUh0ppDc3p/U+hRANCAATpzFNy8bbdYUrs0oI7VWNCUwg97tpg\n"
    "S3T+32nRLpKeSQ0Y6k9O08wJg5QyDIygxmSl2aPtwK0kkh8aicnK95Up\n"
    "-----END PRIVATE KEY-----\n";

static const char TLS_OTHER_CA[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBWjCCAQCgAwIBAgICEAMwCgYIKoZIzj0EAwIwEzERMA8GA1UEAwwIb3RoZXIg\n"
    "Q0EwIBcNMDAwMTAxMDAwMDAwWhgPMjEwMDAxMDEwMDAwMDBaMBMxETAPBgNVBAMM\n"
    "CG90aGVyIENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEaDUgJ9f99x81v5GR\n"
    "07MpwCFCSdelBeVz62PKy4K0b5vqeNt2egXm3mek1ul5c2NemHB0+H51/9TSyPoY\n"
    "n2e+XqNCMEAwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwHQYDVR0O\n"
    "BBYEFGdbcCyyngo1eDc9JlEHWI2xk5zSMAoGCCqGSM49BAMCA0gAMEUCIQC70qvn\n"
    "dy59fj3KAcBvB9d5UiIKFHfvjoXy0R6k3fopTgIgbF41q4R3e/T1oMOJgXIaXBbp\n"
    "tH/PRU7i8Ru02l5ygs4=\n"
    "-----END CERTIFICATE-----\n";

/* Writes text (and text2, if not NULL) to f->dir/name; returns the path
 * in path. */
static void write_pem(struct fix *f, const char *name, const char *text,
                      const char *text2, char *path, size_t len)
{
    FILE *out;

    if (f->dir[0] == '\0') {
        snprintf(f->dir, sizeof(f->dir), "/tmp/rlc-test-bus-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
    }
    snprintf(path, len, "%s/%s", f->dir, name);
    out = fopen(path, "w");
    assert_non_null(out);
    fputs(text, out);
    if (text2 != NULL)
        fputs(text2, out);
    assert_int_equal(fclose(out), 0);
}

static void test_bus_nats_tls(void **state)
{
    struct fix *f = *state;
    char ca[128], cert[128], key[128], both[128], other[128], err[256];
    char url[64];
    rlc_nats_options o;
    rlc_bus *bad = (rlc_bus *)&bad;

    write_pem(f, "ca.pem", TLS_CA, NULL, ca, sizeof(ca));
    write_pem(f, "server.pem", TLS_SERVER_CERT, NULL, cert, sizeof(cert));
    write_pem(f, "server.key", TLS_SERVER_KEY, NULL, key, sizeof(key));
    {
        /* mutual TLS: the server checks our certificate too */
        const char *const args[] = {"--tls",       "--tlscert", cert,
                                    "--tlskey",    key,         "--tlsverify",
                                    "--tlscacert", ca,          NULL};

        server_start_args(&f->srv, args);
    }
    write_pem(f, "client.pem", TLS_CLIENT_CERT, NULL, cert, sizeof(cert));
    write_pem(f, "client.key", TLS_CLIENT_KEY, NULL, key, sizeof(key));
    write_pem(f, "client-both.pem", TLS_CLIENT_CERT, TLS_CLIENT_KEY, both,
              sizeof(both));
    write_pem(f, "other-ca.pem", TLS_OTHER_CA, NULL, other, sizeof(other));

    memset(&o, 0, sizeof(o));
    o.url = f->url;
    o.tls_ca = ca;
    o.tls_cert = cert;
    o.tls_key = key;
    assert_int_equal(rlc__nats_bus_connect_err(&o, &f->a, err, sizeof(err)),
                     RLC_OK);
    assert_true(rlc_bus_connected(f->a));
    /* The key in the certificate's file; tls:// in the URL. */
    snprintf(url, sizeof(url), "tls://127.0.0.1:%d", f->srv.port);
    o.url = url;
    o.tls_cert = both;
    o.tls_key = NULL;
    assert_int_equal(rlc__nats_bus_connect_err(&o, &f->b, err, sizeof(err)),
                     RLC_OK);
    assert_true(rlc_bus_connected(f->b));
    assert_int_equal(
        rlc__bus_subscribe(f->a, "tls.>", on_inbox, &f->ia, &f->sa), RLC_OK);
    assert_int_equal(rlc_bus_publish(f->b, "tls.x", "secret", 6), RLC_OK);
    assert_true(inbox_wait(&f->ia, 1, 5 * RLC_SECOND));
    assert_memory_equal(f->ia.data, "secret", 6);

    /* A server our CA did not sign: refused now, not retried forever. */
    o.tls_ca = other;
    assert_int_equal(rlc__nats_bus_connect_err(&o, &bad, err, sizeof(err)),
                     RLC_EBUS);
    assert_null(bad);
    assert_non_null(strstr(err, "SSL"));
}

static void test_bus_nats_unsubscribe_waits(void **state)
{
    struct fix *f = *state;
    struct slow *sl = calloc(1, sizeof(*sl));
    struct self me;
    rlc__bus_sub *s;
    int64_t t0, took;

    server_start(&f->srv, NULL);
    connect_both(f);

    /* A slow callback on nats's thread, unsubscribed from ours. */
    sl->ms = 300;
    assert_int_equal(rlc__bus_subscribe(f->a, "slow", on_slow, sl, &s), RLC_OK);
    assert_int_equal(rlc_bus_publish(f->b, "slow", "x", 1), RLC_OK);
    wait_entered(sl, 1);
    t0 = now_ns();
    rlc__bus_unsubscribe(f->a, s);
    took = now_ns() - t0;
    assert_int_equal(atomic_load(&sl->left), 1);
    assert_true(took >= 100 * RLC_MILLISECOND);
    assert_int_equal(rlc_bus_publish(f->b, "slow", "x", 1), RLC_OK);
    sleep_ms(200);
    assert_int_equal(atomic_load(&sl->entered), 1);
    free(sl); /* nothing may touch it now */

    /* A callback that unsubscribes itself: once, no deadlock, even with
     * more messages already on their way to it. */
    memset(&me, 0, sizeof(me));
    me.bus = f->a;
    assert_int_equal(rlc__bus_subscribe(f->a, "self", on_self, &me, &s),
                     RLC_OK);
    atomic_store(&me.sub, s);
    assert_int_equal(rlc_bus_publish(f->b, "self", "1", 1), RLC_OK);
    assert_int_equal(rlc_bus_publish(f->b, "self", "2", 1), RLC_OK);
    assert_int_equal(rlc_bus_publish(f->b, "self", "3", 1), RLC_OK);
    sleep_ms(300);
    assert_int_equal(atomic_load(&me.calls), 1);
    /* The bus frees it once nats is done with it. */
    assert_int_equal(
        rlc__bus_subscribe(f->a, "after", on_inbox, &f->ia, &f->sa), RLC_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bus_subject_matches_table),
        cmocka_unit_test(test_bus_subject_valid_table),
        cmocka_unit_test(test_bus_memory_fan_out),
        cmocka_unit_test(test_bus_memory_wildcards),
        cmocka_unit_test(test_bus_memory_unsubscribe_stops_delivery),
        cmocka_unit_test(test_bus_memory_unsubscribe_waits_for_callback),
        cmocka_unit_test(test_bus_memory_unsubscribe_self),
        cmocka_unit_test(test_bus_memory_callback_publishes),
        cmocka_unit_test(test_bus_memory_threads),
        cmocka_unit_test(test_bus_null_handling),
        cmocka_unit_test(test_bus_nats_bad_config),
        cmocka_unit_test_setup_teardown(test_bus_nats_round_trip, setup_nats,
                                        teardown_nats),
        cmocka_unit_test_setup_teardown(test_bus_nats_token, setup_nats,
                                        teardown_nats),
        cmocka_unit_test_setup_teardown(test_bus_nats_token_refused_later,
                                        setup_nats, teardown_nats),
        cmocka_unit_test_setup_teardown(test_bus_nats_server_late, setup_nats,
                                        teardown_nats),
        cmocka_unit_test_setup_teardown(test_bus_nats_server_restart,
                                        setup_nats, teardown_nats),
        cmocka_unit_test_setup_teardown(test_bus_nats_publish_never_blocks,
                                        setup_nats, teardown_nats),
        cmocka_unit_test_setup_teardown(test_bus_nats_tls, setup_nats,
                                        teardown_nats),
        cmocka_unit_test_setup_teardown(test_bus_nats_unsubscribe_waits,
                                        setup_nats, teardown_nats),
    };

    /* A dead server's socket must not kill us with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
