/* SPDX-License-Identifier: MIT */
/*
 * test_limiter.c - the limiters through the public API, on an injected
 * clock: nothing here sleeps to let time pass. Each test runs on the memory
 * limiter, then on a host limiter on a private table (host_mode marks where
 * it differs by design). Blocking calls run in a helper thread; the test
 * waits until it is queued, moves the clock, calls rlc_clock_advanced().
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "rlc.h"

static _Atomic int64_t fake_now;

static int64_t fake_clock(void *arg)
{
    (void)arg;
    return atomic_load(&fake_now);
}

static void advance(rlc_limiter *l, int64_t ns)
{
    atomic_fetch_add(&fake_now, ns);
    rlc_clock_advanced(l);
}

/* Which limiter the tests run on, and where the host one's table is. */
static bool host_mode;
static char host_dir[64];

static int setup(void **state)
{
    host_mode = false;
    atomic_store(&fake_now, 1000 * RLC_SECOND);
    *state = rlc_memory_limiter_new_with_clock(fake_clock, NULL);
    return *state == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    rlc_free(*state);
    return 0;
}

/* A fresh table for each test, so that none sees another's resources. */
static int setup_host(void **state)
{
    rlc_host_limiter_options o = {.ns = "conformance", .now = fake_clock};
    rlc_limiter *l;
    char err[256];
    rlc_status st;

    host_mode = true;
    atomic_store(&fake_now, 1000 * RLC_SECOND);
    snprintf(host_dir, sizeof(host_dir), "/tmp/rlc-test-limiter-XXXXXX");
    if (mkdtemp(host_dir) == NULL)
        return -1;
    o.dir = host_dir;
    st = rlc_host_limiter_open(&o, &l, err, sizeof(err));
    if (st != RLC_OK) {
        print_error("host limiter: %s: %s\n", rlc_strerror(st), err);
        return -1;
    }
    *state = l;
    return 0;
}

static int teardown_host(void **state)
{
    char path[128];

    rlc_free(*state);
    snprintf(path, sizeof(path), "%s/rlc-%u-conformance", host_dir,
             (unsigned)geteuid());
    unlink(path);
    rmdir(host_dir);
    return 0;
}

static int available(rlc_limiter *l, const char *r)
{
    rlc_capacity c;

    assert_true(rlc_get_capacity(l, r, &c));
    return c.available;
}

static int waiting(rlc_limiter *l, const char *r)
{
    rlc_capacity c;

    return rlc_get_capacity(l, r, &c) ? c.waiting : -1;
}

/* Real time passes here only to let another thread reach its wait. */
static void wait_for_waiting(rlc_limiter *l, const char *r, int n)
{
    struct timespec pause = {0, 200000};
    int i;

    for (i = 0; i < 25000 && waiting(l, r) != n; i++)
        nanosleep(&pause, NULL);
    assert_int_equal(waiting(l, r), n);
}

/* A blocking acquire in its own thread. */
struct waiter {
    pthread_t thread;
    rlc_limiter *l;
    const char *resource;
    int64_t timeout;
    rlc_cancel *cancel;
    atomic_int done;
    rlc_status status;
    atomic_int *order; /* where to count completions, if set */
    int rank;
};

static void *waiter_main(void *arg)
{
    struct waiter *w = arg;

    w->status = rlc_acquire_cancel(w->l, w->resource, w->timeout, w->cancel);
    if (w->order != NULL)
        w->rank = atomic_fetch_add(w->order, 1);
    atomic_store(&w->done, 1);
    return NULL;
}

static void start_counted(struct waiter *w, rlc_limiter *l, const char *r,
                          int64_t timeout, rlc_cancel *c, atomic_int *order)
{
    memset(w, 0, sizeof(*w));
    w->order = order;
    w->l = l;
    w->resource = r;
    w->timeout = timeout;
    w->cancel = c;
    assert_int_equal(pthread_create(&w->thread, NULL, waiter_main, w), 0);
}

static void start(struct waiter *w, rlc_limiter *l, const char *r,
                  int64_t timeout, rlc_cancel *c)
{
    start_counted(w, l, r, timeout, c, NULL);
}

static rlc_status finish(struct waiter *w)
{
    pthread_join(w->thread, NULL);
    return w->status;
}

static void test_status_table_is_complete(void **state)
{
    (void)state;
    assert_string_equal(rlc_strerror(RLC_OK), "success");
    assert_string_equal(rlc_status_name(RLC_EUNKNOWN), "RLC_EUNKNOWN");
    assert_string_equal(rlc_status_name(RLC_EINVAL), "RLC_EINVAL");
    /* the contract's numbering */
    assert_int_equal(RLC_ECLOSED, 1);
    assert_int_equal(RLC_EBUS, 10);
    assert_int_equal(RLC_EFULL, RLC_EINVAL + 1);
    assert_int_equal(RLC_ESHARED, RLC_EFULL + 1);
    for (int s = RLC_OK; s <= RLC_ESHARED; s++) {
        assert_true(strlen(rlc_strerror((rlc_status)s)) > 0);
        assert_string_not_equal(rlc_status_name((rlc_status)s),
                                "RLC_UNKNOWN_STATUS");
        for (int t = RLC_OK; t < s; t++)
            assert_string_not_equal(rlc_strerror((rlc_status)s),
                                    rlc_strerror((rlc_status)t));
    }
    assert_string_equal(rlc_strerror((rlc_status)999), "unknown status");
}

static void test_limiter_misuse_gets_a_status(void **state)
{
    rlc_limiter *l = *state;
    char longest[RLC_RESOURCE_MAX], too_long[RLC_RESOURCE_MAX + 1];
    rlc_capacity c;

    memset(longest, 'a', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';
    memset(too_long, 'b', sizeof(too_long) - 1);
    too_long[sizeof(too_long) - 1] = '\0';

    assert_int_equal(rlc_set_capacity(NULL, "r", 1, RLC_SECOND), RLC_EINVAL);
    assert_int_equal(rlc_set_capacity(l, NULL, 1, RLC_SECOND), RLC_EINVAL);
    assert_int_equal(rlc_set_capacity(l, too_long, 1, RLC_SECOND), RLC_EINVAL);
    assert_int_equal(rlc_acquire(NULL, "r", 0), RLC_EINVAL);
    assert_int_equal(rlc_acquire(l, NULL, 0), RLC_EINVAL);
    assert_int_equal(rlc_acquire(l, too_long, 0), RLC_EINVAL);
    assert_false(rlc_try_acquire(NULL, "r"));
    assert_false(rlc_try_acquire(l, too_long));
    assert_false(rlc_get_capacity(l, "r", NULL));
    assert_false(rlc_get_capacity(NULL, "r", &c));
    rlc_release(NULL, "r");
    rlc_release(l, NULL);
    rlc_announce_reduced(NULL, "r", "x");
    rlc_announce_reduced(l, NULL, "x");
    rlc_on_capacity_change(NULL, NULL, NULL);
    rlc_pause(NULL, "r", INT64_MAX, "x");
    rlc_pause(l, NULL, INT64_MAX, NULL);
    rlc_pause(l, too_long, INT64_MAX, NULL);
    rlc_clock_advanced(NULL);
    assert_int_equal(rlc_close(NULL), RLC_EINVAL);
    rlc_free(NULL);
    rlc_cancel_fire(NULL);
    rlc_cancel_free(NULL);
    assert_false(rlc_cancel_fired(NULL));
    assert_null(rlc_memory_limiter_new_with_clock(NULL, NULL));

    /* the longest legal name works */
    assert_int_equal(rlc_set_capacity(l, longest, 1, RLC_SECOND), RLC_OK);
    assert_true(rlc_get_capacity(l, longest, &c));
    assert_string_equal(c.resource, longest);
    assert_true(rlc_try_acquire(l, longest));
}

static void test_limiter_unknown_resource(void **state)
{
    rlc_limiter *l = *state;
    rlc_capacity c;

    assert_int_equal(rlc_acquire(l, "nope", RLC_FOREVER), RLC_EUNKNOWN);
    assert_false(rlc_try_acquire(l, "nope"));
    assert_false(rlc_get_capacity(l, "nope", &c));
    rlc_release(l, "nope");
    rlc_announce_reduced(l, "nope", "429");
    assert_false(rlc_get_capacity(l, "nope", &c));
}

static void test_limiter_starts_full_and_refills_at_the_rate(void **state)
{
    rlc_limiter *l = *state;
    rlc_capacity c;
    int i;

    assert_int_equal(rlc_set_capacity(l, "api", 60, RLC_MINUTE), RLC_OK);
    assert_true(rlc_get_capacity(l, "api", &c));
    assert_string_equal(c.resource, "api");
    assert_int_equal(c.available, 60);
    assert_int_equal(c.total, 60);
    assert_int_equal(c.in_flight, 0);
    assert_int_equal(c.window_ns, RLC_MINUTE);
    assert_int_equal(c.waiting, 0);
    for (i = 0; i < 60; i++)
        assert_true(rlc_try_acquire(l, "api"));
    assert_false(rlc_try_acquire(l, "api"));
    assert_int_equal(rlc_acquire(l, "api", 0), RLC_EEXHAUSTED);
    assert_true(rlc_get_capacity(l, "api", &c));
    assert_int_equal(c.in_flight, 60);
    advance(l, RLC_SECOND - 1);
    assert_false(rlc_try_acquire(l, "api"));
    advance(l, 1);
    assert_true(rlc_try_acquire(l, "api"));
    assert_false(rlc_try_acquire(l, "api"));
    advance(l, 10 * RLC_SECOND);
    assert_int_equal(available(l, "api"), 10);
}

/* After an idle spell, a burst of the capacity, then the next token a
 * whole interval later: never one more soon after (a strict server would
 * answer it 429). */
static void
test_limiter_after_idle_next_token_is_a_full_interval_away(void **state)
{
    rlc_limiter *l = *state;

    assert_int_equal(rlc_set_capacity(l, "a", 1, 50 * RLC_MILLISECOND), RLC_OK);
    assert_true(rlc_try_acquire(l, "a"));
    advance(l, 10 * RLC_SECOND + 30 * RLC_MILLISECOND); /* off the grid */
    assert_true(rlc_try_acquire(l, "a"));
    advance(l, 20 * RLC_MILLISECOND); /* the old grid's next tick */
    assert_false(rlc_try_acquire(l, "a"));
    advance(l, 30 * RLC_MILLISECOND - 1);
    assert_false(rlc_try_acquire(l, "a"));
    advance(l, 1);
    assert_true(rlc_try_acquire(l, "a"));

    /* the same with a burst: 3, then one each 100 ms from the burst */
    assert_int_equal(rlc_set_capacity(l, "b", 3, 300 * RLC_MILLISECOND),
                     RLC_OK);
    advance(l, RLC_MINUTE + 70 * RLC_MILLISECOND);
    for (int i = 0; i < 3; i++)
        assert_true(rlc_try_acquire(l, "b"));
    assert_false(rlc_try_acquire(l, "b"));
    advance(l, 100 * RLC_MILLISECOND - 1);
    assert_false(rlc_try_acquire(l, "b"));
    advance(l, 1);
    assert_true(rlc_try_acquire(l, "b"));
}

static void test_limiter_set_capacity_removes_on_invalid(void **state)
{
    rlc_limiter *l = *state;
    rlc_capacity c;

    assert_int_equal(rlc_set_capacity(l, "a", 5, RLC_SECOND), RLC_OK);
    assert_int_equal(rlc_set_capacity(l, "a", 0, RLC_SECOND), RLC_EINVALCAP);
    assert_false(rlc_get_capacity(l, "a", &c));
    assert_false(rlc_try_acquire(l, "a"));
    assert_int_equal(rlc_set_capacity(l, "a", 5, RLC_SECOND), RLC_OK);
    assert_int_equal(available(l, "a"), 5); /* back, and full */
    assert_int_equal(rlc_set_capacity(l, "a", 5, 0), RLC_EINVALWINDOW);
    assert_false(rlc_get_capacity(l, "a", &c));
    assert_int_equal(rlc_set_capacity(l, "a", -3, RLC_SECOND), RLC_EINVALCAP);
    assert_int_equal(rlc_set_capacity(l, "never", -1, -1), RLC_EINVALCAP);
    assert_false(rlc_get_capacity(l, "never", &c));
}

static void test_limiter_lowering_caps_raising_keeps(void **state)
{
    rlc_limiter *l = *state;

    assert_int_equal(rlc_set_capacity(l, "a", 10, RLC_SECOND), RLC_OK);
    assert_true(rlc_try_acquire(l, "a"));
    assert_true(rlc_try_acquire(l, "a"));
    assert_int_equal(available(l, "a"), 8);
    assert_int_equal(rlc_set_capacity(l, "a", 4, RLC_SECOND), RLC_OK);
    assert_int_equal(available(l, "a"), 4);
    assert_int_equal(rlc_set_capacity(l, "a", 100, RLC_SECOND), RLC_OK);
    assert_int_equal(available(l, "a"), 4);
    advance(l, RLC_SECOND / 100); /* the new rate: one per 10 ms */
    assert_int_equal(available(l, "a"), 5);
}

/* The part of a token grown when the parameters change is kept: half a
 * token at 3/s is half a token at 6/s, due in 1/12 s rather than 1/6 s. */
static void test_limiter_a_change_keeps_the_part_of_a_token_grown(void **state)
{
    rlc_limiter *l = *state;
    int taken = 0;

    assert_int_equal(rlc_set_capacity(l, "a", 3, RLC_SECOND), RLC_OK);
    while (rlc_try_acquire(l, "a"))
        taken++;
    assert_int_equal(taken, 3);
    advance(l, RLC_SECOND / 6);
    assert_int_equal(available(l, "a"), 0);
    assert_int_equal(rlc_set_capacity(l, "a", 6, RLC_SECOND), RLC_OK);
    advance(l, RLC_SECOND / 12 - RLC_MILLISECOND);
    assert_int_equal(available(l, "a"), 0);
    advance(l, 2 * RLC_MILLISECOND);
    assert_int_equal(available(l, "a"), 1);

    /* So a bucket whose rate is changed every 100 ms (as a swarm share
     * moves) still yields its rate: 1/s (a hair less every other time)
     * for 5.5 s is 5 tokens, not none. */
    assert_int_equal(rlc_set_capacity(l, "b", 1, RLC_SECOND), RLC_OK);
    assert_true(rlc_try_acquire(l, "b"));
    taken = 0;
    for (int i = 1; i <= 55; i++) {
        advance(l, RLC_SECOND / 10);
        assert_int_equal(
            rlc_set_capacity(l, "b", 1, RLC_SECOND + (i % 2) * 1000), RLC_OK);
        if (rlc_try_acquire(l, "b"))
            taken++;
    }
    assert_int_equal(taken, 5);

    /* A new interval longer than the time the bucket has known: the part
     * kept never puts its origin before the old one (the clock is at
     * 1000 s; 1 per 2 h is a 7200 s interval), and the bucket lives on. */
    assert_int_equal(rlc_set_capacity(l, "c", 10, (60 * RLC_MINUTE)), RLC_OK);
    while (rlc_try_acquire(l, "c"))
        ;
    advance(l, 300 * RLC_SECOND); /* 0.83 of a token at 10/h */
    assert_int_equal(rlc_set_capacity(l, "c", 1, 2 * (60 * RLC_MINUTE)),
                     RLC_OK);
    assert_int_equal(available(l, "c"), 0);
    advance(l, 2 * (60 * RLC_MINUTE));
    assert_int_equal(available(l, "c"), 1);
}

static void test_limiter_release_returns_a_token_never_above_total(void **s)
{
    rlc_limiter *l = *s;
    rlc_capacity c;

    assert_int_equal(rlc_set_capacity(l, "a", 2, RLC_MINUTE), RLC_OK);
    assert_true(rlc_try_acquire(l, "a"));
    assert_true(rlc_try_acquire(l, "a"));
    assert_false(rlc_try_acquire(l, "a"));
    rlc_release(l, "a");
    assert_true(rlc_get_capacity(l, "a", &c));
    assert_int_equal(c.available, 1);
    assert_int_equal(c.in_flight, 1);
    rlc_release(l, "a");
    rlc_release(l, "a");
    rlc_release(l, "a");
    assert_true(rlc_get_capacity(l, "a", &c));
    assert_int_equal(c.available, 2);
    assert_int_equal(c.in_flight, 0);
}

struct seen_update {
    int calls;
    char resource[RLC_RESOURCE_MAX], reason[64], agent[16];
    int capacity;
    int64_t when;
};

static void on_change(const rlc_capacity_update *u, void *arg)
{
    struct seen_update *seen = arg;

    seen->calls++;
    snprintf(seen->resource, sizeof(seen->resource), "%s", u->resource);
    snprintf(seen->reason, sizeof(seen->reason), "%s", u->reason);
    snprintf(seen->agent, sizeof(seen->agent), "%s", u->agent_id);
    seen->capacity = u->new_capacity;
    seen->when = u->timestamp_ns;
}

static void test_limiter_announce_cuts_to_three_quarters(void **state)
{
    rlc_limiter *l = *state;
    struct seen_update seen = {0};
    rlc_capacity c;

    rlc_on_capacity_change(l, on_change, &seen);
    assert_int_equal(rlc_set_capacity(l, "a", 10, RLC_MINUTE), RLC_OK);
    rlc_announce_reduced(l, "a", "HTTP 429 from api.example.com");
    assert_true(rlc_get_capacity(l, "a", &c));
    assert_int_equal(c.total, 7);
    assert_int_equal(c.available, 7);
    assert_int_equal(c.window_ns, RLC_MINUTE);
    assert_int_equal(seen.calls, 1);
    assert_string_equal(seen.resource, "a");
    assert_string_equal(seen.reason, "HTTP 429 from api.example.com");
    assert_string_equal(seen.agent, "");
    assert_int_equal(seen.capacity, 7);
    assert_true(seen.when > INT64_C(1700000000) * RLC_SECOND);

    rlc_announce_reduced(l, "a", NULL); /* 7 -> 5 */
    rlc_announce_reduced(l, "a", NULL); /* 5 -> 3 */
    rlc_announce_reduced(l, "a", NULL); /* 3 -> 2 */
    rlc_announce_reduced(l, "a", NULL); /* 2 -> 1 */
    assert_true(rlc_get_capacity(l, "a", &c));
    assert_int_equal(c.total, 1);
    assert_int_equal(seen.calls, 5);
    assert_string_equal(seen.reason, "");
    rlc_announce_reduced(l, "a", "again"); /* never below 1: no change */
    assert_true(rlc_get_capacity(l, "a", &c));
    assert_int_equal(c.total, 1);
    assert_int_equal(seen.calls, 5);
}

/* A 429 for a request sent before the latest cut cuts nothing more. */
static void test_limiter_announce_at_an_old_epoch_is_ignored(void **state)
{
    rlc_limiter *l = *state;
    rlc_capacity c;
    uint64_t sent_in;

    assert_int_equal(rlc_set_capacity(l, "a", 100, RLC_MINUTE), RLC_OK);
    assert_true(rlc_get_capacity(l, "a", &c));
    assert_int_equal(c.epoch, 0);
    sent_in = c.epoch; /* three requests leave, all in epoch 0 */
    rlc_announce_reduced_at(l, "a", "429", sent_in);
    rlc_announce_reduced_at(l, "a", "429", sent_in);
    rlc_announce_reduced_at(l, "a", "429", sent_in);
    assert_true(rlc_get_capacity(l, "a", &c));
    assert_int_equal(c.total, 75);
    assert_int_equal(c.epoch, 1);
    rlc_announce_reduced_at(l, "a", "429", 1); /* sent after the cut */
    assert_true(rlc_get_capacity(l, "a", &c));
    assert_int_equal(c.total, 56);
    assert_int_equal(c.epoch, 2);
    rlc_announce_reduced(l, "a", "any epoch");
    assert_true(rlc_get_capacity(l, "a", &c));
    assert_int_equal(c.total, 42);
    assert_int_equal(c.epoch, 3);
}

static void test_limiter_close_twice_and_after(void **state)
{
    rlc_limiter *l = *state;
    rlc_capacity c;

    assert_int_equal(rlc_set_capacity(l, "a", 3, RLC_SECOND), RLC_OK);
    assert_int_equal(rlc_close(l), RLC_OK);
    assert_int_equal(rlc_close(l), RLC_ECLOSED);
    assert_int_equal(rlc_acquire(l, "a", RLC_FOREVER), RLC_ECLOSED);
    assert_int_equal(rlc_acquire(l, "b", RLC_FOREVER), RLC_ECLOSED);
    assert_false(rlc_try_acquire(l, "a"));
    assert_int_equal(rlc_set_capacity(l, "a", 5, RLC_SECOND), RLC_ECLOSED);
    rlc_release(l, "a");
    rlc_announce_reduced(l, "a", "429");
    assert_true(rlc_get_capacity(l, "a", &c)); /* still readable */
    assert_int_equal(c.total, 3);
}

static void test_limiter_waiter_sleeps_until_its_token(void **state)
{
    rlc_limiter *l = *state;
    struct waiter w;
    struct timespec pause = {0, 20000000};

    assert_int_equal(rlc_set_capacity(l, "a", 2, RLC_SECOND), RLC_OK);
    assert_true(rlc_try_acquire(l, "a"));
    assert_true(rlc_try_acquire(l, "a"));
    start(&w, l, "a", RLC_FOREVER, NULL);
    wait_for_waiting(l, "a", 1);
    advance(l, RLC_SECOND / 2 - 1); /* one nanosecond short */
    nanosleep(&pause, NULL);
    assert_int_equal(atomic_load(&w.done), 0);
    assert_int_equal(waiting(l, "a"), 1);
    advance(l, 1);
    assert_int_equal(finish(&w), RLC_OK);
    assert_int_equal(waiting(l, "a"), 0);
    assert_int_equal(available(l, "a"), 0);
}

static void test_limiter_waiters_are_served_in_arrival_order(void **state)
{
    rlc_limiter *l = *state;
    struct waiter w[3];
    atomic_int order = 0;
    int i;

    assert_int_equal(rlc_set_capacity(l, "a", 1, RLC_SECOND), RLC_OK);
    assert_true(rlc_try_acquire(l, "a"));
    for (i = 0; i < 3; i++) {
        start_counted(&w[i], l, "a", RLC_FOREVER, NULL, &order);
        wait_for_waiting(l, "a", i + 1);
    }
    /* A token is due, but it belongs to the queue, not to a newcomer. */
    atomic_fetch_add(&fake_now, RLC_SECOND);
    assert_false(rlc_try_acquire(l, "a"));
    rlc_clock_advanced(l);
    for (i = 0; i < 3; i++) {
        /* the head, and only the head, got the token */
        assert_int_equal(finish(&w[i]), RLC_OK);
        assert_int_equal(w[i].rank, i);
        wait_for_waiting(l, "a", 2 - i);
        if (i < 2)
            advance(l, RLC_SECOND);
    }
}

static void test_limiter_timeout_on_the_injected_clock(void **state)
{
    rlc_limiter *l = *state;
    struct waiter w;

    assert_int_equal(rlc_set_capacity(l, "a", 1, 60 * RLC_MINUTE), RLC_OK);
    assert_true(rlc_try_acquire(l, "a"));
    if (host_mode) {
        /* The host limiter reserves the token a waiter will get; one due
         * an hour on is past a 5 s deadline: it says so at once. */
        int64_t t0 = atomic_load(&fake_now);

        assert_int_equal(rlc_acquire(l, "a", 5 * RLC_SECOND), RLC_ETIMEDOUT);
        assert_int_equal(atomic_load(&fake_now), t0);
    } else {
        start(&w, l, "a", 5 * RLC_SECOND, NULL);
        wait_for_waiting(l, "a", 1);
        advance(l, 5 * RLC_SECOND);
        assert_int_equal(finish(&w), RLC_ETIMEDOUT);
    }
    assert_int_equal(waiting(l, "a"), 0);

    /* a token due before the deadline is taken */
    assert_int_equal(rlc_set_capacity(l, "b", 1, RLC_SECOND), RLC_OK);
    assert_true(rlc_try_acquire(l, "b"));
    start(&w, l, "b", 5 * RLC_SECOND, NULL);
    wait_for_waiting(l, "b", 1);
    advance(l, RLC_SECOND);
    assert_int_equal(finish(&w), RLC_OK);
}

/* Each of these wakes a waiter at once, with no clock movement. */
static void test_limiter_release_wakes_the_waiter(void **state)
{
    rlc_limiter *l = *state;
    struct waiter w;

    assert_int_equal(rlc_set_capacity(l, "a", 1, 60 * RLC_MINUTE), RLC_OK);
    assert_true(rlc_try_acquire(l, "a"));
    start(&w, l, "a", RLC_FOREVER, NULL);
    wait_for_waiting(l, "a", 1);
    rlc_release(l, "a");
    assert_int_equal(finish(&w), RLC_OK);
}

static void test_limiter_removal_wakes_waiters_unknown(void **state)
{
    rlc_limiter *l = *state;
    struct waiter w[2];

    assert_int_equal(rlc_set_capacity(l, "a", 1, 60 * RLC_MINUTE), RLC_OK);
    assert_true(rlc_try_acquire(l, "a"));
    start(&w[0], l, "a", RLC_FOREVER, NULL);
    wait_for_waiting(l, "a", 1);
    start(&w[1], l, "a", RLC_FOREVER, NULL);
    wait_for_waiting(l, "a", 2);
    assert_int_equal(rlc_set_capacity(l, "a", 0, RLC_SECOND), RLC_EINVALCAP);
    assert_int_equal(finish(&w[0]), RLC_EUNKNOWN);
    assert_int_equal(finish(&w[1]), RLC_EUNKNOWN);
}

static void test_limiter_close_wakes_every_waiter(void **state)
{
    rlc_limiter *l = *state;
    struct waiter w[3];
    int i;

    assert_int_equal(rlc_set_capacity(l, "a", 1, 60 * RLC_MINUTE), RLC_OK);
    assert_true(rlc_try_acquire(l, "a"));
    for (i = 0; i < 3; i++) {
        /* A host waiter whose token is due after its deadline does not
         * wait at all (tokens here are due 1, 2 and 3 hours on). */
        int64_t t = host_mode ? 4 * 60 * RLC_MINUTE : RLC_MINUTE;

        start(&w[i], l, "a", i == 0 ? RLC_FOREVER : t, NULL);
        wait_for_waiting(l, "a", i + 1);
    }
    assert_int_equal(rlc_close(l), RLC_OK);
    for (i = 0; i < 3; i++)
        assert_int_equal(finish(&w[i]), RLC_ECLOSED);
}

static void test_limiter_cancel_wakes_only_its_waiters(void **state)
{
    rlc_limiter *l = *state;
    rlc_cancel *c = rlc_cancel_new(), *other = rlc_cancel_new();
    struct waiter w[3];

    assert_non_null(c);
    assert_int_equal(rlc_set_capacity(l, "a", 1, 60 * RLC_MINUTE), RLC_OK);
    assert_true(rlc_try_acquire(l, "a"));
    start(&w[0], l, "a", RLC_FOREVER, c);
    wait_for_waiting(l, "a", 1);
    start(&w[1], l, "a", RLC_FOREVER, other);
    wait_for_waiting(l, "a", 2);
    start(&w[2], l, "a", RLC_FOREVER, c);
    wait_for_waiting(l, "a", 3);
    assert_false(rlc_cancel_fired(c));
    rlc_cancel_fire(c);
    rlc_cancel_fire(c); /* twice is harmless */
    assert_true(rlc_cancel_fired(c));
    assert_int_equal(finish(&w[0]), RLC_ECANCELED);
    assert_int_equal(finish(&w[2]), RLC_ECANCELED);
    /* A host waiter that gives up can only hand back its reservation if
     * it is the last one; w[0]'s, ahead of w[1], is lost (counted in
     * `waiting` until its time passes). The release below re-queues. */
    assert_int_equal(waiting(l, "a"), host_mode ? 2 : 1);
    /* a fired handle cancels before any token is taken */
    rlc_release(l, "a");
    assert_int_equal(finish(&w[1]), RLC_OK);
    rlc_release(l, "a");
    assert_int_equal(rlc_acquire_cancel(l, "a", RLC_FOREVER, c), RLC_ECANCELED);
    assert_int_equal(available(l, "a"), 1);
    assert_int_equal(rlc_acquire_cancel(l, "a", RLC_FOREVER, other), RLC_OK);
    rlc_cancel_free(c);
    rlc_cancel_free(other);
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

/*
 * A pause is set in Unix time and kept on the limiter's clock: its end
 * there is known to within the real time rlc_pause() took, so tests here
 * stop SLACK short of it, where they would otherwise stop 1 ns short.
 */
#define SLACK (50 * RLC_MILLISECOND)

static void test_limiter_pause_holds_every_token(void **state)
{
    rlc_limiter *l = *state;
    int64_t until;

    assert_int_equal(rlc_set_capacity(l, "a", 10, RLC_SECOND), RLC_OK);
    assert_int_equal(paused_until(l, "a"), 0);
    until = unix_now() + 10 * RLC_SECOND;
    rlc_pause(l, "a", until, "Retry-After from api.example.com");
    assert_false(rlc_try_acquire(l, "a"));
    assert_int_equal(rlc_acquire(l, "a", 0), RLC_EEXHAUSTED);
    /* reported in Unix time: later only by the real time gone by */
    assert_true(paused_until(l, "a") >= until);
    assert_true(paused_until(l, "a") < until + SLACK);
    assert_int_equal(available(l, "a"), 10); /* the tokens are kept */
    advance(l, 10 * RLC_SECOND - SLACK);
    assert_false(rlc_try_acquire(l, "a"));
    advance(l, SLACK);
    assert_true(rlc_try_acquire(l, "a"));
    assert_int_equal(paused_until(l, "a"), 0);
    assert_int_equal(available(l, "a"), 9);
}

/* A waiter never takes a token during a pause, even one due before it
 * began; when the pause ends, it gets the next token as usual. */
static void test_limiter_pause_waiter_sleeps_through_it(void **state)
{
    rlc_limiter *l = *state;
    struct waiter w;
    struct timespec pause = {0, 20000000};

    assert_int_equal(rlc_set_capacity(l, "a", 1, RLC_SECOND), RLC_OK);
    assert_true(rlc_try_acquire(l, "a"));
    start(&w, l, "a", RLC_FOREVER, NULL);
    wait_for_waiting(l, "a", 1);
    rlc_pause(l, "a", unix_now() + 10 * RLC_SECOND, "Retry-After");
    advance(l, RLC_SECOND); /* its token is due, but held back */
    nanosleep(&pause, NULL);
    assert_int_equal(atomic_load(&w.done), 0);
    advance(l, 9 * RLC_SECOND - SLACK);
    nanosleep(&pause, NULL);
    assert_int_equal(atomic_load(&w.done), 0);
    assert_int_equal(available(l, "a"), 1);
    advance(l, SLACK);
    assert_int_equal(finish(&w), RLC_OK);

    /* a pause shorter than the wait for a token changes nothing */
    assert_int_equal(rlc_set_capacity(l, "b", 1, RLC_MINUTE), RLC_OK);
    assert_true(rlc_try_acquire(l, "b"));
    rlc_pause(l, "b", unix_now() + 10 * RLC_SECOND, "Retry-After");
    start(&w, l, "b", RLC_FOREVER, NULL);
    wait_for_waiting(l, "b", 1);
    advance(l, 10 * RLC_SECOND);
    assert_int_equal(paused_until(l, "b"), 0);
    advance(l, 50 * RLC_SECOND - 1);
    nanosleep(&pause, NULL);
    assert_int_equal(atomic_load(&w.done), 0);
    advance(l, 1);
    assert_int_equal(finish(&w), RLC_OK);
}

/* A deadline inside the pause: RLC_ETIMEDOUT at the deadline, no sooner. */
static void test_limiter_pause_past_the_deadline_times_out(void **state)
{
    rlc_limiter *l = *state;
    struct waiter w;
    struct timespec pause = {0, 20000000};

    assert_int_equal(rlc_set_capacity(l, "a", 1, RLC_SECOND), RLC_OK);
    assert_true(rlc_try_acquire(l, "a"));
    rlc_pause(l, "a", unix_now() + 10 * RLC_SECOND, "Retry-After");
    if (host_mode) {
        /* No token can come before the deadline: the host limiter does
         * not wait for nothing, it times out at once. */
        assert_int_equal(rlc_acquire(l, "a", 5 * RLC_SECOND), RLC_ETIMEDOUT);
        assert_int_equal(waiting(l, "a"), 0);
        return;
    }
    start(&w, l, "a", 5 * RLC_SECOND, NULL);
    wait_for_waiting(l, "a", 1);
    advance(l, 5 * RLC_SECOND - 1);
    nanosleep(&pause, NULL);
    assert_int_equal(atomic_load(&w.done), 0);
    advance(l, 1);
    assert_int_equal(finish(&w), RLC_ETIMEDOUT);
    assert_int_equal(waiting(l, "a"), 0);
}

static void test_limiter_pause_never_shortens_past_does_nothing(void **s)
{
    rlc_limiter *l = *s;
    int64_t until = unix_now() + 20 * RLC_SECOND;

    assert_int_equal(rlc_set_capacity(l, "a", 5, RLC_SECOND), RLC_OK);
    assert_int_equal(rlc_set_capacity(l, "b", 5, RLC_SECOND), RLC_OK);
    rlc_pause(l, "a", until, "long");
    rlc_pause(l, "a", unix_now() + 5 * RLC_SECOND, "short");
    rlc_pause(l, "a", unix_now() - RLC_SECOND, "over");
    assert_true(paused_until(l, "a") >= until);
    advance(l, 10 * RLC_SECOND);
    assert_false(rlc_try_acquire(l, "a")); /* the shorter one did not end it */
    advance(l, 10 * RLC_SECOND);
    assert_true(rlc_try_acquire(l, "a"));

    /* times not in the future, unknown resources: nothing happens */
    rlc_pause(l, "b", unix_now() - RLC_SECOND, NULL);
    rlc_pause(l, "b", INT64_MIN, NULL);
    rlc_pause(l, "b", 0, NULL);
    rlc_pause(l, "nope", unix_now() + RLC_SECOND, NULL);
    assert_int_equal(paused_until(l, "b"), 0);
    assert_true(rlc_try_acquire(l, "b"));

    /* for ever, without overflowing anything */
    rlc_pause(l, "b", INT64_MAX, NULL);
    assert_int_equal(paused_until(l, "b"), INT64_MAX);
    advance(l, 1000 * 60 * RLC_MINUTE);
    assert_false(rlc_try_acquire(l, "b"));
    assert_int_equal(rlc_acquire(l, "b", 0), RLC_EEXHAUSTED);

    /* removing the resource ends its pause */
    assert_int_equal(rlc_set_capacity(l, "b", 0, RLC_SECOND), RLC_EINVALCAP);
    rlc_pause(l, "b", INT64_MAX, NULL); /* removed: ignored */
    assert_int_equal(rlc_set_capacity(l, "b", 5, RLC_SECOND), RLC_OK);
    assert_int_equal(paused_until(l, "b"), 0);
    assert_true(rlc_try_acquire(l, "b"));

    /* a closed limiter takes no pause */
    assert_int_equal(rlc_close(l), RLC_OK);
    rlc_pause(l, "a", INT64_MAX, NULL);
    assert_int_equal(paused_until(l, "a"), 0);
}

/* A count that would pass 2^47 is rebased on the way: the answers stay
 * exact however long the bucket lives. */
static void test_limiter_long_life_rebases_exactly(void **state)
{
    rlc_limiter *l = *state;
    int i;

    /* a billion per millisecond: 2^47 tokens in under 2 minutes */
    assert_int_equal(rlc_set_capacity(l, "fast", 1000000000, RLC_MILLISECOND),
                     RLC_OK);
    for (i = 0; i < 20; i++) {
        advance(l, 60 * RLC_MINUTE);
        assert_int_equal(available(l, "fast"), 1000000000);
        assert_true(rlc_try_acquire(l, "fast"));
        assert_int_equal(available(l, "fast"), 1000000000 - 1);
    }
    /* and a slow bucket beside it is untouched by all that */
    assert_int_equal(rlc_set_capacity(l, "slow", 3, RLC_SECOND), RLC_OK);
    assert_true(rlc_try_acquire(l, "slow"));
    assert_int_equal(available(l, "slow"), 2);
}

static void test_limiter_many_resources(void **state)
{
    rlc_limiter *l = *state;
    char name[32];
    int i;

    /* The host table has a fixed number of slots: one more is refused. */
    int n = host_mode ? RLC_HOST_SLOTS : 1000;

    for (i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "resource-%d", i);
        assert_int_equal(rlc_set_capacity(l, name, i + 1, RLC_SECOND), RLC_OK);
    }
    if (host_mode) {
        char err[256];

        assert_int_equal(rlc_set_capacity(l, "one-more", 1, RLC_SECOND),
                         RLC_EFULL);
        assert_false(rlc_try_acquire(l, "one-more"));
        assert_true(rlc_host_limiter_error(l, err, sizeof(err)) > 0);
        assert_non_null(strstr(err, "slots"));
    }
    for (i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "resource-%d", i);
        assert_int_equal(available(l, name), i + 1);
    }
}

static void test_distributed_config_defaults_and_validation(void **state)
{
    rlc_distributed_config c = rlc_distributed_config_default();

    (void)state;
    assert_true(c.reduce_factor == 0.5);
    assert_int_equal(c.recovery_interval_ns, 30 * RLC_SECOND);
    assert_true(c.recovery_factor == 1.1);
    assert_true(c.max_recovery);
    assert_null(c.bus);
    assert_int_equal(rlc_distributed_config_validate(NULL), RLC_EINVAL);
    assert_int_equal(rlc_distributed_config_validate(&c), RLC_EINVALCONFIG);
    c.bus = (rlc_bus *)&c; /* validation never dereferences it */
    c.agent_id = "agent-1";
    assert_int_equal(rlc_distributed_config_validate(&c), RLC_OK);
    c.reduce_factor = 1.0;
    assert_int_equal(rlc_distributed_config_validate(&c), RLC_EINVALCONFIG);
    c.reduce_factor = 0;
    assert_int_equal(rlc_distributed_config_validate(&c), RLC_OK);
    c.recovery_factor = 0.9;
    assert_int_equal(rlc_distributed_config_validate(&c), RLC_EINVALCONFIG);
    c.recovery_factor = 0.0 / 0.0;
    assert_int_equal(rlc_distributed_config_validate(&c), RLC_EINVALCONFIG);
    c.recovery_factor = 0;
    c.recovery_interval_ns = -1;
    assert_int_equal(rlc_distributed_config_validate(&c), RLC_EINVALCONFIG);
    c.recovery_interval_ns = 0;
    c.assumed_agents = -1;
    assert_int_equal(rlc_distributed_config_validate(&c), RLC_EINVALCONFIG);
    c.assumed_agents = 5;
    assert_int_equal(rlc_distributed_config_validate(&c), RLC_OK);
    c.agent_id = "";
    assert_int_equal(rlc_distributed_config_validate(&c), RLC_EINVALCONFIG);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_table_is_complete),
        T(test_limiter_misuse_gets_a_status),
        T(test_limiter_unknown_resource),
        T(test_limiter_starts_full_and_refills_at_the_rate),
        T(test_limiter_after_idle_next_token_is_a_full_interval_away),
        T(test_limiter_set_capacity_removes_on_invalid),
        T(test_limiter_lowering_caps_raising_keeps),
        T(test_limiter_a_change_keeps_the_part_of_a_token_grown),
        T(test_limiter_release_returns_a_token_never_above_total),
        T(test_limiter_announce_cuts_to_three_quarters),
        T(test_limiter_announce_at_an_old_epoch_is_ignored),
        T(test_limiter_close_twice_and_after),
        T(test_limiter_waiter_sleeps_until_its_token),
        T(test_limiter_waiters_are_served_in_arrival_order),
        T(test_limiter_timeout_on_the_injected_clock),
        T(test_limiter_release_wakes_the_waiter),
        T(test_limiter_removal_wakes_waiters_unknown),
        T(test_limiter_close_wakes_every_waiter),
        T(test_limiter_cancel_wakes_only_its_waiters),
        T(test_limiter_pause_holds_every_token),
        T(test_limiter_pause_waiter_sleeps_through_it),
        T(test_limiter_pause_past_the_deadline_times_out),
        T(test_limiter_pause_never_shortens_past_does_nothing),
        T(test_limiter_long_life_rebases_exactly),
        T(test_limiter_many_resources),
        cmocka_unit_test(test_distributed_config_defaults_and_validation),
    };
    /* The conformance tests (all but the first and the last) again, each
     * on a host limiter of its own; in the same group, as tests/run reads
     * one tally per binary. */
    enum { N = sizeof(tests) / sizeof(tests[0]) };
    static char names[N][128];
    struct CMUnitTest all[2 * N - 2];
    size_t i;

    for (i = 0; i < N; i++)
        all[i] = tests[i];
    for (i = 1; i + 1 < N; i++) {
        snprintf(names[i], sizeof(names[i]), "%s (host)", tests[i].name);
        all[N + i - 1] = tests[i];
        all[N + i - 1].name = names[i];
        all[N + i - 1].setup_func = setup_host;
        all[N + i - 1].teardown_func = teardown_host;
    }
    return cmocka_run_group_tests_name("limiter", all, NULL, NULL);
}
