/* SPDX-License-Identifier: MIT */
/*
 * test_concurrency.c - the memory limiter on the real clock, hammered by
 * threads. Assertions are bounds that hold however the threads are
 * scheduled: the admitted count never exceeds burst + rate x elapsed, and
 * a waiter never wakes before its token is due.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <cmocka.h>

#include "rlc.h"

#define THREADS 8

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * RLC_SECOND + ts.tv_nsec;
}

/* The most a bucket of cap per window can admit over elapsed ns. */
static int64_t bound(int64_t cap, int64_t window, int64_t elapsed)
{
    return cap + (int64_t)((__extension__(__int128) elapsed * cap) / window);
}

struct hammer {
    rlc_limiter *l;
    const char *resource;
    int64_t until;
    bool blocking;
    atomic_long admitted;
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;

    while (now_ns() < h->until) {
        bool ok = h->blocking ? rlc_acquire(h->l, h->resource,
                                            20 * RLC_MILLISECOND) == RLC_OK
                              : rlc_try_acquire(h->l, h->resource);

        if (ok)
            atomic_fetch_add(&h->admitted, 1);
    }
    return NULL;
}

static void hammer(bool blocking)
{
    rlc_limiter *l = rlc_memory_limiter_new();
    struct hammer h = {.l = l, .resource = "api", .blocking = blocking};
    pthread_t t[THREADS];
    int64_t start, elapsed;
    long admitted;
    int i;

    assert_non_null(l);
    start = now_ns(); /* before the bucket exists: the bound is safe */
    assert_int_equal(rlc_set_capacity(l, "api", 50, 100 * RLC_MILLISECOND),
                     RLC_OK);
    h.until = start + 400 * RLC_MILLISECOND;
    for (i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer_main, &h), 0);
    for (i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    elapsed = now_ns() - start;
    admitted = atomic_load(&h.admitted);
    print_message("  %s: %ld admitted in %.1f ms, bound %lld\n",
                  blocking ? "acquire" : "try_acquire", admitted, elapsed / 1e6,
                  (long long)bound(50, 100 * RLC_MILLISECOND, elapsed));
    assert_true(admitted <= bound(50, 100 * RLC_MILLISECOND, elapsed));
    /* the burst alone was there for the taking */
    assert_true(admitted >= 50);
    rlc_free(l);
}

static void test_concurrency_try_acquire_never_over_admits(void **state)
{
    (void)state;
    hammer(false);
}

static void test_concurrency_acquire_never_over_admits(void **state)
{
    (void)state;
    hammer(true);
}

/* A blocked acquire returns no earlier than its token is due. */
static void test_concurrency_waiter_is_never_early(void **state)
{
    rlc_limiter *l = rlc_memory_limiter_new();
    int64_t start;
    int i;

    (void)state;
    start = now_ns();
    assert_int_equal(rlc_set_capacity(l, "a", 1, 20 * RLC_MILLISECOND), RLC_OK);
    for (i = 1; i <= 5; i++) {
        assert_int_equal(rlc_acquire(l, "a", RLC_SECOND), RLC_OK);
        /* token i - 1 is due 20 ms x (i - 1) after the origin */
        assert_true(now_ns() - start >= (i - 1) * 20 * RLC_MILLISECOND);
    }
    rlc_free(l);
}

static void test_concurrency_real_timeout(void **state)
{
    rlc_limiter *l = rlc_memory_limiter_new();
    int64_t start;

    (void)state;
    assert_int_equal(rlc_set_capacity(l, "a", 1, RLC_MINUTE), RLC_OK);
    assert_true(rlc_try_acquire(l, "a"));
    start = now_ns();
    assert_int_equal(rlc_acquire(l, "a", 30 * RLC_MILLISECOND), RLC_ETIMEDOUT);
    assert_true(now_ns() - start >= 30 * RLC_MILLISECOND);
    rlc_free(l);
}

struct sleeper {
    rlc_limiter *l;
    rlc_status st;
};

static void *sleeper_main(void *arg)
{
    struct sleeper *s = arg;

    s->st = rlc_acquire(s->l, "a", 10 * RLC_SECOND);
    return NULL;
}

/* A waiter asleep until a token an hour away hears of a higher rate. */
static void test_concurrency_raising_capacity_wakes_the_waiter(void **state)
{
    rlc_limiter *l = rlc_memory_limiter_new();
    struct sleeper s = {.l = l};
    struct timespec pause = {0, 1000000};
    rlc_capacity c;
    pthread_t t;
    int64_t start;

    (void)state;
    assert_int_equal(rlc_set_capacity(l, "a", 1, 60 * RLC_MINUTE), RLC_OK);
    assert_true(rlc_try_acquire(l, "a"));
    assert_int_equal(pthread_create(&t, NULL, sleeper_main, &s), 0);
    for (int i = 0; i < 10000; i++) {
        nanosleep(&pause, NULL);
        assert_true(rlc_get_capacity(l, "a", &c));
        if (c.waiting == 1)
            break;
    }
    assert_int_equal(c.waiting, 1);
    start = now_ns();
    /* one per 10 ms from now on */
    assert_int_equal(rlc_set_capacity(l, "a", 100, RLC_SECOND), RLC_OK);
    pthread_join(t, NULL);
    assert_int_equal(s.st, RLC_OK);
    assert_true(now_ns() - start < 5 * RLC_SECOND);
    rlc_free(l);
}

/* Everything at once: takers, releasers, a capacity changer, lookups of
 * resources being created. Meant for TSan and ASan; the invariants are
 * checked at the end. */
struct chaos {
    rlc_limiter *l;
    int64_t until;
    int id;
};

static void *chaos_main(void *arg)
{
    struct chaos *c = arg;
    char name[32];
    int n = 0;

    /* The name creator also runs until every name exists. */
    while (now_ns() < c->until || (c->id % 4 == 3 && n < 500)) {
        switch (c->id % 4) {
        case 0:
            if (rlc_try_acquire(c->l, "shared"))
                rlc_release(c->l, "shared");
            break;
        case 1:
            if (rlc_acquire(c->l, "shared", RLC_MILLISECOND) == RLC_OK)
                rlc_release(c->l, "shared");
            break;
        case 2:
            rlc_set_capacity(c->l, "shared", 1 + n % 7,
                             (1 + n % 3) * RLC_MILLISECOND);
            if (n % 50 == 0)
                rlc_announce_reduced(c->l, "shared", "chaos");
            break;
        default:
            snprintf(name, sizeof(name), "r%d", n % 500);
            rlc_set_capacity(c->l, name, 3, RLC_SECOND);
            (void)rlc_try_acquire(c->l, name);
            break;
        }
        n++;
    }
    return NULL;
}

static void test_concurrency_chaos_keeps_invariants(void **state)
{
    rlc_limiter *l = rlc_memory_limiter_new();
    struct chaos c[THREADS];
    pthread_t t[THREADS];
    rlc_capacity cap;
    char name[32];
    int i;

    (void)state;
    assert_int_equal(rlc_set_capacity(l, "shared", 5, RLC_MILLISECOND), RLC_OK);
    for (i = 0; i < THREADS; i++) {
        c[i].l = l;
        c[i].until = now_ns() + 300 * RLC_MILLISECOND;
        c[i].id = i;
        assert_int_equal(pthread_create(&t[i], NULL, chaos_main, &c[i]), 0);
    }
    for (i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    assert_true(rlc_get_capacity(l, "shared", &cap));
    assert_true(cap.available >= 0 && cap.available <= cap.total);
    assert_true(cap.total >= 1 && cap.total <= 7);
    assert_int_equal(cap.waiting, 0);
    for (i = 0; i < 500; i++) {
        snprintf(name, sizeof(name), "r%d", i);
        assert_true(rlc_get_capacity(l, name, &cap));
        assert_int_equal(cap.total, 3);
    }
    rlc_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrency_try_acquire_never_over_admits),
        cmocka_unit_test(test_concurrency_acquire_never_over_admits),
        cmocka_unit_test(test_concurrency_waiter_is_never_early),
        cmocka_unit_test(test_concurrency_real_timeout),
        cmocka_unit_test(test_concurrency_raising_capacity_wakes_the_waiter),
        cmocka_unit_test(test_concurrency_chaos_keeps_invariants),
    };

    return cmocka_run_group_tests_name("concurrency", tests, NULL, NULL);
}
