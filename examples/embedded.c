/* SPDX-License-Identifier: MIT */
/*
 * embedded.c - rlc embedded in a C program: four worker threads share one
 * API quota of 10 requests per second, one of them sees a (simulated) HTTP
 * 429 and cuts the quota, and every status an acquire can return is
 * handled. Copy it as a starting point.
 *
 *   cc embedded.c $(pkg-config --cflags --libs rlc) -o embedded
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <rlc.h>

#define WORKERS 4
#define REQUESTS_EACH 10

static rlc_limiter *limiter;
static struct timespec started;

static double seconds_since_start(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - started.tv_sec) +
           (double)(now.tv_nsec - started.tv_nsec) / 1e9;
}

/* Stands for a real HTTP call; request 25 of the run is "rate limited". */
static int call_api(int worker, int n)
{
    static int calls;
    int call = __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);

    printf("%6.3f s  worker %d  request %2d  -> %s\n", seconds_since_start(),
           worker, n, call == 25 ? "429 Too Many Requests" : "200 OK");
    return call == 25 ? 429 : 200;
}

static void *worker_main(void *arg)
{
    int worker = (int)(long)arg;

    for (int n = 1; n <= REQUESTS_EACH; n++) {
        /* Wait at most 10 s for our turn; waiters are served in order. */
        rlc_status st = rlc_acquire(limiter, "example-api", 10 * RLC_SECOND);

        switch (st) {
        case RLC_OK:
            if (call_api(worker, n) == 429)
                rlc_announce_reduced(limiter, "example-api",
                                     "HTTP 429 from api.example.com");
            /* The request is over: it is no longer in flight. Release
             * also hands the token back, which suits a concurrency limit;
             * a pure rate limit need not call it. */
            break;
        case RLC_ETIMEDOUT:  /* the quota is badly oversubscribed */
        case RLC_EEXHAUSTED: /* only with a timeout of 0 */
            fprintf(stderr, "worker %d: %s, skipping request %d\n", worker,
                    rlc_strerror(st), n);
            break;
        case RLC_ECLOSED:   /* shutting down */
        case RLC_ECANCELED: /* only with rlc_acquire_cancel() */
            return NULL;
        case RLC_EUNKNOWN: /* the resource was removed */
        default:           /* RLC_EINVAL: a bug in the caller */
            fprintf(stderr, "worker %d: %s (%s)\n", worker, rlc_strerror(st),
                    rlc_status_name(st));
            return NULL;
        }
    }
    return NULL;
}

static void on_cut(const rlc_capacity_update *u, void *arg)
{
    (void)arg;
    printf("%6.3f s  capacity of %s cut to %d per second: %s\n",
           seconds_since_start(), u->resource, u->new_capacity, u->reason);
}

int main(void)
{
    pthread_t workers[WORKERS];
    rlc_capacity cap;
    rlc_status st;

    limiter = rlc_memory_limiter_new();
    if (limiter == NULL) {
        fprintf(stderr, "embedded: out of memory\n");
        return 1;
    }
    /* 10 requests per second; the bucket starts full (a burst of 10). */
    st = rlc_set_capacity(limiter, "example-api", 10, RLC_SECOND);
    if (st != RLC_OK) {
        fprintf(stderr, "embedded: %s\n", rlc_strerror(st));
        rlc_free(limiter);
        return 1;
    }
    rlc_on_capacity_change(limiter, on_cut, NULL);

    printf("%d workers x %d requests, sharing 10 requests per second\n",
           WORKERS, REQUESTS_EACH);
    clock_gettime(CLOCK_MONOTONIC, &started);
    for (long i = 0; i < WORKERS; i++)
        pthread_create(&workers[i], NULL, worker_main, (void *)i);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(workers[i], NULL);

    if (rlc_get_capacity(limiter, "example-api", &cap))
        printf("done in %.2f s; capacity now %d per %.0f s, %d available\n",
               seconds_since_start(), cap.total, cap.window_ns / 1e9,
               cap.available);
    rlc_free(limiter); /* closes it too */
    return 0;
}
