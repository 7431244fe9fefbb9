/* SPDX-License-Identifier: MIT */
/*
 * bench_core.c - the memory limiter's costs and accuracy, measured in one
 * run and printed side by side, as ratios where the machine's speed would
 * otherwise decide the figure: try_acquire against one clock read, achieved
 * against configured rate, and how late a woken waiter is.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "rlc.h"

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * RLC_SECOND + ts.tv_nsec;
}

static void machine(void)
{
    char line[256], model[256] = "unknown cpu";
    struct utsname u;
    FILE *f = fopen("/proc/cpuinfo", "r");

    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        char *colon = strchr(line, ':');

        if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
            snprintf(model, sizeof(model), "%s", colon + 2);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    }
    if (f != NULL)
        fclose(f);
    uname(&u);
    printf("machine: %s, %ld cpus, %s %s\n", model,
           sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.release);
}

/* Best of a few rounds: noise on a shared machine only ever adds. */
#define ROUNDS 5

static double clock_read_ns(void)
{
    double best = 1e9;

    for (int r = 0; r < ROUNDS; r++) {
        const int n = 2000000;
        volatile int64_t sink = 0;
        int64_t t0 = now_ns();

        for (int i = 0; i < n; i++)
            sink += now_ns();
        double per = (double)(now_ns() - t0) / n;
        if (per < best)
            best = per;
        (void)sink;
    }
    return best;
}

struct spinner {
    rlc_limiter *l;
    const char *resource;
    int n;
    atomic_int *go;
    double ns_per_call;
    long granted;
};

static void *spin_main(void *arg)
{
    struct spinner *s = arg;
    long granted = 0;
    int64_t t0;

    while (!atomic_load(s->go))
        ;
    t0 = now_ns();
    for (int i = 0; i < s->n; i++)
        granted += rlc_try_acquire(s->l, s->resource);
    s->ns_per_call = (double)(now_ns() - t0) / s->n;
    s->granted = granted;
    return NULL;
}

/* ns per try_acquire with `threads` threads on one resource (best round). */
static double try_acquire_ns(int threads, int capacity, int64_t window)
{
    double best = 1e9;

    for (int r = 0; r < ROUNDS; r++) {
        rlc_limiter *l = rlc_memory_limiter_new();
        struct spinner s[2];
        pthread_t t[2];
        atomic_int go = 0;
        double worst = 0;

        rlc_set_capacity(l, "api", capacity, window);
        for (int i = 0; i < threads; i++) {
            s[i] = (struct spinner){l, "api", 2000000, &go, 0, 0};
            pthread_create(&t[i], NULL, spin_main, &s[i]);
        }
        atomic_store(&go, 1);
        for (int i = 0; i < threads; i++) {
            pthread_join(t[i], NULL);
            if (s[i].ns_per_call > worst)
                worst = s[i].ns_per_call;
        }
        if (worst < best)
            best = worst;
        rlc_free(l);
    }
    return best;
}

struct taker {
    rlc_limiter *l;
    int64_t until;
    long granted;
};

static void *take_main(void *arg)
{
    struct taker *t = arg;

    for (;;) {
        int64_t left = t->until - now_ns();

        if (left <= 0 || rlc_acquire(t->l, "api", left) != RLC_OK)
            break;
        if (now_ns() <= t->until)
            t->granted++;
    }
    return NULL;
}

/* Achieved / configured rate, blocking acquires from 2 threads. */
static double rate_ratio(int per_second, int64_t duration)
{
    rlc_limiter *l = rlc_memory_limiter_new();
    struct taker tk[2];
    pthread_t t[2];
    int64_t start;

    rlc_set_capacity(l, "api", per_second, RLC_SECOND);
    while (rlc_try_acquire(l, "api"))
        ; /* the burst is not the rate */
    start = now_ns();
    for (int i = 0; i < 2; i++) {
        tk[i] = (struct taker){l, start + duration, 0};
        pthread_create(&t[i], NULL, take_main, &tk[i]);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    rlc_free(l);
    return (double)(tk[0].granted + tk[1].granted) /
           ((double)per_second * (double)duration / RLC_SECOND);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

struct late_waiter {
    rlc_limiter *l;
    int64_t ret;
    atomic_int done;
};

static void *late_main(void *arg)
{
    struct late_waiter *w = arg;

    rlc_acquire(w->l, "api", RLC_FOREVER);
    w->ret = now_ns();
    atomic_store(&w->done, 1);
    return NULL;
}

/* Is waiter i queued behind those before it, or already served? */
static bool queued(rlc_limiter *l, struct late_waiter *w, int i)
{
    rlc_capacity c;
    int finished = 0;

    for (int k = 0; k <= i; k++)
        finished += atomic_load(&w[k].done);
    return atomic_load(&w[i].done) ||
           (rlc_get_capacity(l, "api", &c) && c.waiting >= i + 1 - finished);
}

/*
 * Lateness of woken waiters: a fresh bucket of 1 token per period, taken,
 * then `queue` waiters whose tokens are due 1, 2, ... periods after the
 * bucket was made. Lateness is return time minus due time (an upper
 * bound: the due time is counted from just before the bucket exists).
 */
static void lateness(int queue, int samples, double *p50, double *p99)
{
    const int64_t period = 2 * RLC_MILLISECOND;
    int64_t *late = calloc((size_t)(samples * queue), sizeof(*late));
    rlc_limiter *l = rlc_memory_limiter_new();
    int n = 0;

    for (int s = 0; s < samples; s++) {
        struct late_waiter w[4];
        pthread_t t[4];
        int64_t made;

        rlc_set_capacity(l, "api", 0, period); /* remove */
        made = now_ns();
        rlc_set_capacity(l, "api", 1, period);
        rlc_try_acquire(l, "api");
        for (int i = 0; i < queue; i++) {
            w[i].l = l;
            atomic_store(&w[i].done, 0);
            pthread_create(&t[i], NULL, late_main, &w[i]);
            /* queue them in a known order (a thread slow to start may
             * find its token already due and never queue) */
            while (!queued(l, w, i))
                sched_yield();
        }
        for (int i = 0; i < queue; i++) {
            pthread_join(t[i], NULL);
            late[n++] = w[i].ret - (made + (i + 1) * period);
        }
    }
    qsort(late, (size_t)n, sizeof(*late), cmp_i64);
    *p50 = late[n / 2] / 1e3;
    *p99 = late[n * 99 / 100] / 1e3;
    free(late);
    rlc_free(l);
}

int main(void)
{
    double clock_ns, one, two, empty, p50, p99, q50, q99;

    setvbuf(stdout, NULL, _IOLBF, 0);
    machine();
    clock_ns = clock_read_ns();
    one = try_acquire_ns(1, 1000000000, RLC_SECOND);
    two = try_acquire_ns(2, 1000000000, RLC_SECOND);
    empty = try_acquire_ns(1, 1, RLC_MINUTE * 60);

    printf("\n%-44s %10s %10s %8s\n", "cost per call", "ns", "x clock",
           "target");
    printf("%-44s %10.1f %10.2f\n", "clock_gettime(CLOCK_MONOTONIC)", clock_ns,
           1.0);
    printf("%-44s %10.1f %10.2f %8s\n", "try_acquire, 1 thread, granted", one,
           one / clock_ns, "<= 3");
    printf("%-44s %10.1f %10.2f\n", "try_acquire, 1 thread, denied", empty,
           empty / clock_ns);
    printf("%-44s %10.1f %10.2f\n", "try_acquire, 2 threads on one resource",
           two, two / clock_ns);

    printf("\n%-44s %21s %14s\n", "rate, 2 threads blocking, 2 s",
           "achieved/configured", "target");
    printf("%-44s %21.5f %14s\n", "1 000 per second",
           rate_ratio(1000, 2 * RLC_SECOND), "0.998..1.002");
    printf("%-44s %21.5f %14s\n", "20 000 per second",
           rate_ratio(20000, 2 * RLC_SECOND), "0.998..1.002");

    lateness(1, 300, &p50, &p99);
    lateness(3, 100, &q50, &q99);
    printf("\n%-44s %10s %10s %8s\n", "woken waiter lateness", "p50 us",
           "p99 us", "target");
    printf("%-44s %10.1f %10.1f %8s\n", "alone, token due in 2 ms", p50, p99,
           "p99<=1ms");
    printf("%-44s %10.1f %10.1f %8s\n", "3 queued, tokens due 2/4/6 ms", q50,
           q99, "p99<=1ms");
    return 0;
}
