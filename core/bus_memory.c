/* SPDX-License-Identifier: MIT */
/*
 * bus_memory.c - the in-process bus: publish calls every matching
 * subscriber in the publisher's thread before it returns.
 *
 * Callbacks run without the bus lock: publish takes a reference to each
 * matching subscription under the lock and calls them after, so a
 * callback may publish, subscribe or unsubscribe. Unsubscribe waits for
 * the calls in progress in other threads (a per-subscription count).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"

struct msub {
    rlc__bus_sub base;
    struct msub *next;
    unsigned refs;    /* the list's, plus one per publish holding it */
    unsigned running; /* calls of fn in progress */
    bool dead;        /* unsubscribed: fn is never called again */
    char pattern[];
};

typedef struct mbus {
    rlc_bus base;
    pthread_mutex_t mu;
    pthread_cond_t idle; /* a call of a dead subscription ended */
    struct msub *subs;   /* in subscription order */
    size_t nsubs;
} mbus;

/* Publishes to this many subscribers or fewer need no allocation. */
#define SNAP_LOCAL 16

/* Drops a reference; the bus lock is held. */
static void put(struct msub *s)
{
    if (--s->refs == 0)
        free(s);
}

static rlc_status mem_publish(rlc_bus *bus, const char *subject,
                              const void *data, size_t len)
{
    mbus *b = (mbus *)bus;
    struct msub *local[SNAP_LOCAL], **snap = local, *s;
    size_t n = 0, i;
    bool call;

    pthread_mutex_lock(&b->mu);
    if (b->nsubs > SNAP_LOCAL) {
        snap = malloc(b->nsubs * sizeof(*snap));
        if (snap == NULL) {
            pthread_mutex_unlock(&b->mu);
            return RLC_ENOMEM;
        }
    }
    for (s = b->subs; s != NULL; s = s->next) {
        if (rlc__subject_matches(s->pattern, subject)) {
            s->refs++;
            snap[n++] = s;
        }
    }
    pthread_mutex_unlock(&b->mu);

    for (i = 0; i < n; i++) {
        s = snap[i];
        pthread_mutex_lock(&b->mu);
        call = !s->dead;
        if (call)
            s->running++;
        pthread_mutex_unlock(&b->mu);

        if (call)
            rlc__bus_deliver(&s->base, subject, data, len);

        pthread_mutex_lock(&b->mu);
        if (call && --s->running == 0 && s->dead)
            pthread_cond_broadcast(&b->idle);
        put(s);
        pthread_mutex_unlock(&b->mu);
    }
    if (snap != local)
        free(snap);
    return RLC_OK;
}

static rlc_status mem_subscribe(rlc_bus *bus, const char *subject,
                                rlc__bus_msg_fn fn, void *arg,
                                rlc__bus_sub **out)
{
    mbus *b = (mbus *)bus;
    size_t n = strlen(subject);
    struct msub *s = malloc(sizeof(*s) + n + 1), **p;

    if (s == NULL)
        return RLC_ENOMEM;
    s->base.fn = fn;
    s->base.arg = arg;
    s->next = NULL;
    s->refs = 1;
    s->running = 0;
    s->dead = false;
    memcpy(s->pattern, subject, n + 1);

    pthread_mutex_lock(&b->mu);
    for (p = &b->subs; *p != NULL; p = &(*p)->next)
        ;
    *p = s;
    b->nsubs++;
    pthread_mutex_unlock(&b->mu);
    *out = &s->base;
    return RLC_OK;
}

static void mem_unsubscribe(rlc_bus *bus, rlc__bus_sub *sub)
{
    mbus *b = (mbus *)bus;
    struct msub *s = (struct msub *)sub, **p;

    pthread_mutex_lock(&b->mu);
    s->dead = true;
    for (p = &b->subs; *p != NULL; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            b->nsubs--;
            break;
        }
    }
    /* From inside its own callback, waiting would wait for ourselves;
     * the publish up the stack holds a reference and frees it. */
    if (!rlc__bus_delivering(sub))
        while (s->running > 0)
            pthread_cond_wait(&b->idle, &b->mu);
    put(s);
    pthread_mutex_unlock(&b->mu);
}

static bool mem_connected(const rlc_bus *bus)
{
    (void)bus;
    return true;
}

static void mem_destroy(rlc_bus *bus)
{
    mbus *b = (mbus *)bus;
    struct msub *s, *next;

    /* No publish may be running (the caller's promise): each remaining
     * subscription holds only the list's reference. */
    for (s = b->subs; s != NULL; s = next) {
        next = s->next;
        free(s);
    }
    pthread_cond_destroy(&b->idle);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

static const rlc__bus_ops mem_ops = {
    .publish = mem_publish,
    .subscribe = mem_subscribe,
    .unsubscribe = mem_unsubscribe,
    .connected = mem_connected,
    .last_error = NULL,
    .destroy = mem_destroy,
};

rlc_bus *rlc_memory_bus_new(void)
{
    mbus *b = calloc(1, sizeof(*b));

    if (b == NULL)
        return NULL;
    if (pthread_mutex_init(&b->mu, NULL) != 0) {
        free(b);
        return NULL;
    }
    if (pthread_cond_init(&b->idle, NULL) != 0) {
        pthread_mutex_destroy(&b->mu);
        free(b);
        return NULL;
    }
    b->base.ops = &mem_ops;
    return &b->base;
}
