/* SPDX-License-Identifier: MIT */
/*
 * bench_core.c - the memory and host limiters' costs and accuracy,
 * measured in one run and printed side by side, as ratios where the
 * machine's speed would otherwise decide the figure: try_acquire against
 * one clock read (and the shared table's against the process-local one),
 * achieved against configured rate (threads; processes, one of them
 * SIGKILLed), and how late a woken waiter is.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rlc.h"

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * RLC_SECOND + ts.tv_nsec;
}

static void sleep_until(int64_t t)
{
    struct timespec ts = {(time_t)(t / RLC_SECOND), (long)(t % RLC_SECOND)};

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
        ;
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

/* --- the host limiter: a table in shared memory, several processes --- */

static char host_dir[64]; /* a private table directory, on tmpfs */

static rlc_limiter *host_limiter(void)
{
    rlc_host_limiter_options o = {.ns = "bench", .dir = host_dir};
    rlc_limiter *l = NULL;
    char err[256];

    if (rlc_host_limiter_open(&o, &l, err, sizeof(err)) != RLC_OK) {
        fprintf(stderr, "bench_core: host limiter: %s\n", err);
        exit(1);
    }
    return l;
}

/* What the processes of a round share. */
struct across {
    atomic_int ready, go;
    atomic_long admitted;
    double ns_per_call[4];
};

static struct across *shared_block(void)
{
    struct across *a = mmap(NULL, sizeof(*a), PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (a == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    memset(a, 0, sizeof(*a));
    return a;
}

/* ns per try_acquire on the shared table, `procs` processes (1 thread
 * each) on one resource: the worst process of the best round. */
static double host_try_acquire_ns(int procs)
{
    double best = 1e9;

    for (int r = 0; r < ROUNDS; r++) {
        struct across *a = shared_block();
        rlc_limiter *l = host_limiter();
        pid_t pid[4];
        double worst = 0;

        rlc_set_capacity(l, "try", 0, RLC_SECOND); /* afresh each round */
        rlc_set_capacity(l, "try", 1000000000, RLC_SECOND);
        for (int i = 0; i < procs; i++) {
            pid[i] = fork();
            if (pid[i] == 0) {
                rlc_limiter *mine = host_limiter();
                const int n = 2000000;
                long granted = 0;
                int64_t t0;

                atomic_fetch_add(&a->ready, 1);
                while (!atomic_load(&a->go))
                    ;
                t0 = now_ns();
                for (int k = 0; k < n; k++)
                    granted += rlc_try_acquire(mine, "try");
                a->ns_per_call[i] = (double)(now_ns() - t0) / n;
                _exit(granted == n ? 0 : 1);
            }
        }
        while (atomic_load(&a->ready) < procs)
            ;
        atomic_store(&a->go, 1);
        for (int i = 0; i < procs; i++) {
            int st;

            waitpid(pid[i], &st, 0);
            if (a->ns_per_call[i] > worst)
                worst = a->ns_per_call[i];
        }
        if (worst < best)
            best = worst;
        rlc_free(l);
        munmap(a, sizeof(*a));
    }
    return best;
}

/* One of the processes holding the rate: blocking acquires, for ever. */
static void host_taker(struct across *a)
{
    rlc_limiter *l = host_limiter();

    atomic_fetch_add(&a->ready, 1);
    for (;;)
        if (rlc_acquire(l, "rate", RLC_FOREVER) == RLC_OK)
            atomic_fetch_add(&a->admitted, 1);
}

/*
 * 4 processes on one resource at per_second, for `phase` ns; then one is
 * SIGKILLed (most likely while it holds a reservation: they all wait) and
 * the 3 left go on for another phase. *before and *after get achieved /
 * configured in each phase.
 */
static void host_rate(int per_second, int64_t phase, double *before,
                      double *after)
{
    struct across *a = shared_block();
    rlc_limiter *l = host_limiter();
    pid_t pid[4];
    long c0, c1, c2;
    int64_t t0, t1, t2;
    double want = (double)per_second * (double)phase / RLC_SECOND;

    rlc_set_capacity(l, "rate", per_second, RLC_SECOND);
    while (rlc_try_acquire(l, "rate"))
        ; /* the burst is not the rate */
    for (int i = 0; i < 4; i++) {
        pid[i] = fork();
        if (pid[i] == 0)
            host_taker(a);
    }
    while (atomic_load(&a->ready) < 4)
        ;
    t0 = now_ns();
    c0 = atomic_load(&a->admitted);
    sleep_until(t0 + phase);
    c1 = atomic_load(&a->admitted);
    t1 = now_ns();
    kill(pid[0], SIGKILL);
    waitpid(pid[0], NULL, 0);
    sleep_until(t1 + phase);
    c2 = atomic_load(&a->admitted);
    t2 = now_ns();
    for (int i = 1; i < 4; i++) {
        kill(pid[i], SIGKILL);
        waitpid(pid[i], NULL, 0);
    }
    *before = (double)(c1 - c0) / (want * (double)(t1 - t0) / phase);
    *after = (double)(c2 - c1) / (want * (double)(t2 - t1) / phase);
    rlc_free(l);
    munmap(a, sizeof(*a));
}

int main(void)
{
    double clock_ns, one, two, empty, p50, p99, q50, q99;
    double host_one, host_two, rate_before, rate_after;
    char table[128];

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

    /* The host limiter's table where it lives in production: tmpfs. */
    snprintf(host_dir, sizeof(host_dir), "%s/rlc-bench-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (mkdtemp(host_dir) == NULL) {
        perror(host_dir);
        return 1;
    }
    host_one = host_try_acquire_ns(1);
    host_two = host_try_acquire_ns(2);
    printf("%-44s %10.1f %10.2f\n", "try_acquire, host table, 1 process",
           host_one, host_one / clock_ns);
    printf("%-44s %10.1f %10.2f\n", "try_acquire, host table, 2 processes",
           host_two, host_two / clock_ns);
    printf("%-44s %10s %10.2f %8s\n", "host table / process-local, 1 caller",
           "", host_one / one, "<= 2");
    printf("%-44s %10s %10.2f\n", "host table / process-local, 2 callers", "",
           host_two / two);

    printf("\n%-44s %21s %14s\n", "rate, 2 threads blocking, 2 s",
           "achieved/configured", "target");
    printf("%-44s %21.5f %14s\n", "1 000 per second",
           rate_ratio(1000, 2 * RLC_SECOND), "0.998..1.002");
    printf("%-44s %21.5f %14s\n", "20 000 per second",
           rate_ratio(20000, 2 * RLC_SECOND), "0.998..1.002");

    host_rate(20, 3 * RLC_SECOND, &rate_before, &rate_after);
    printf("\n%-44s %21s %14s\n", "rate, host table, 20/s, 3 s each",
           "achieved/configured", "target");
    printf("%-44s %21.5f %14s\n", "4 processes", rate_before, "0.95..1.05");
    printf("%-44s %21.5f %14s\n", "3 left, after one is SIGKILLed", rate_after,
           "0.95..1.05");
    snprintf(table, sizeof(table), "%s/rlc-%u-bench", host_dir,
             (unsigned)geteuid());
    unlink(table);
    rmdir(host_dir);

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
