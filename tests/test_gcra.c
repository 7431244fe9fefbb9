/* SPDX-License-Identifier: MIT */
/*
 * test_gcra.c - the exact token arithmetic, as pure functions: no clock,
 * no threads, every figure computed by hand.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gcra.h"
#include "rlc.h"

/* Takes greedily at now; returns how many were taken. */
static int drain(const rlc__gcra *g, uint64_t *n, int64_t now)
{
    int taken = 0;
    uint64_t next;

    while (rlc__gcra_take(g, *n, now, &next)) {
        *n = next;
        taken++;
    }
    return taken;
}

/* 3 per second, the clock moving 1/9 s at a time: after 1000/3 s exactly
 * 1000 tokens were refilled on top of the burst. A refill that truncates
 * at every step and restarts its clock can lose a quarter of them. */
static void test_gcra_exact_refill_in_ninths(void **state)
{
    rlc__gcra g = {3, RLC_SECOND, 0};
    uint64_t n = 0;
    int total = 0, k;

    (void)state;
    for (k = 0; k <= 3000; k++) {
        /* ceil(k * 1e9 / 9): the first nanosecond of each ninth */
        int64_t now = ((int64_t)k * RLC_SECOND + 8) / 9;

        total += drain(&g, &n, now);
    }
    assert_int_equal(total, 3 + 1000);
}

static void test_gcra_starts_full_then_refills_one_by_one(void **state)
{
    rlc__gcra g = {3, RLC_SECOND, 1000};
    uint64_t n = 0;

    (void)state;
    assert_int_equal(rlc__gcra_available(&g, n, 1000), 3);
    assert_int_equal(drain(&g, &n, 1000), 3);
    assert_int_equal(rlc__gcra_available(&g, n, 1000), 0);
    /* ceil(1e9 / 3) ns after the origin, not a nanosecond earlier */
    assert_int_equal(rlc__gcra_next_due(&g, n), 1000 + 333333334);
    assert_int_equal(drain(&g, &n, 1000 + 333333333), 0);
    assert_int_equal(drain(&g, &n, 1000 + 333333334), 1);
    assert_int_equal(rlc__gcra_next_due(&g, n), 1000 + 666666667);
}

static void test_gcra_full_bucket_never_holds_more_than_capacity(void **state)
{
    rlc__gcra g = {10, RLC_SECOND, 0};
    uint64_t n = 0;

    (void)state;
    /* An hour idle is still 10 tokens, and the one after is 1/10 s away. */
    assert_int_equal(rlc__gcra_available(&g, n, 3600 * RLC_SECOND), 10);
    assert_int_equal(drain(&g, &n, 3600 * RLC_SECOND), 10);
    assert_int_equal(rlc__gcra_next_due(&g, n),
                     3600 * RLC_SECOND + RLC_SECOND / 10);
}

static void test_gcra_give_never_exceeds_capacity(void **state)
{
    rlc__gcra g = {2, RLC_SECOND, 0};
    uint64_t n = 0;

    (void)state;
    n = rlc__gcra_give(&g, n, 0); /* full: nothing to give back to */
    assert_int_equal(rlc__gcra_available(&g, n, 0), 2);
    assert_int_equal(drain(&g, &n, 0), 2);
    n = rlc__gcra_give(&g, n, 0);
    assert_int_equal(rlc__gcra_available(&g, n, 0), 1);
    n = rlc__gcra_give(&g, n, 0);
    n = rlc__gcra_give(&g, n, 0);
    assert_int_equal(rlc__gcra_available(&g, n, 0), 2);
}

static void test_gcra_convert_caps_and_keeps_available(void **state)
{
    rlc__gcra from = {10, RLC_SECOND, 0}, lower = {4, RLC_SECOND, 500};
    rlc__gcra higher = {100, RLC_SECOND, 500};
    uint64_t n = 0, m;

    (void)state;
    m = rlc__gcra_convert(&from, n, &lower, 500);
    assert_int_equal(rlc__gcra_available(&lower, m, 500), 4);
    n = 3; /* 7 available */
    m = rlc__gcra_convert(&from, n, &higher, 500);
    assert_int_equal(rlc__gcra_available(&higher, m, 500), 7);
    /* and the new rate applies from there: 100/s is one per 10 ms */
    assert_int_equal(rlc__gcra_available(&higher, m, 500 + 10000000), 8);
}

/* Moving the origin by whole windows changes no answer. */
static void test_gcra_rebase_is_exact(void **state)
{
    rlc__gcra g = {7, 3 * RLC_SECOND, 12345}, r;
    uint64_t n = 0, rn;
    int64_t t;

    (void)state;
    drain(&g, &n, 12345);
    for (t = 12345; t < 100 * RLC_SECOND; t += 777777777)
        drain(&g, &n, t);
    r = g;
    rn = rlc__gcra_rebase(&r, n, 100 * RLC_SECOND);
    assert_true(r.origin > g.origin);
    assert_true(r.origin <= 100 * RLC_SECOND);
    assert_true(rn < n);
    for (t = 100 * RLC_SECOND; t < 110 * RLC_SECOND; t += 111111111) {
        assert_int_equal(rlc__gcra_available(&g, n, t),
                         rlc__gcra_available(&r, rn, t));
        assert_int_equal(rlc__gcra_next_due(&g, n), rlc__gcra_next_due(&r, rn));
    }
}

/* The largest capacity over a nanosecond window, years in: the 128-bit
 * path, and no overflow into a negative or wrapped answer. */
static void test_gcra_extremes_do_not_overflow(void **state)
{
    rlc__gcra g = {INT_MAX, 1, 0}, slow = {1, INT64_MAX / 2, 0};
    uint64_t n = 0, next;
    int64_t late = INT64_MAX / 4;

    (void)state;
    assert_int_equal(rlc__gcra_available(&g, n, late), INT_MAX);
    assert_true(rlc__gcra_take(&g, n, late, &next));
    assert_true(next == UINT64_MAX); /* saturated, never wrapped */
    assert_int_equal(rlc__gcra_available(&slow, 0, late), 1);
    assert_int_equal(rlc__gcra_available(&slow, 1, late), 0);
    assert_int_equal(rlc__gcra_next_due(&slow, 1), INT64_MAX / 2);
    assert_int_equal(rlc__gcra_next_due(&slow, 2), INT64_MAX - 1);
    assert_int_equal(rlc__gcra_next_due(&slow, 3), INT64_MAX);
}

/* A reader whose clock read came just before the origin gets no more than
 * the bucket held at the origin. */
static void test_gcra_time_before_origin_counts_as_origin(void **state)
{
    rlc__gcra g = {5, RLC_SECOND, 1000000};
    uint64_t n = 2;

    (void)state;
    assert_int_equal(rlc__gcra_available(&g, n, 0), 3);
    assert_int_equal(rlc__gcra_available(&g, n, 1000000), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gcra_exact_refill_in_ninths),
        cmocka_unit_test(test_gcra_starts_full_then_refills_one_by_one),
        cmocka_unit_test(test_gcra_full_bucket_never_holds_more_than_capacity),
        cmocka_unit_test(test_gcra_give_never_exceeds_capacity),
        cmocka_unit_test(test_gcra_convert_caps_and_keeps_available),
        cmocka_unit_test(test_gcra_rebase_is_exact),
        cmocka_unit_test(test_gcra_extremes_do_not_overflow),
        cmocka_unit_test(test_gcra_time_before_origin_counts_as_origin),
    };

    return cmocka_run_group_tests_name("gcra", tests, NULL, NULL);
}
