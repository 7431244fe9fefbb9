/* SPDX-License-Identifier: MIT */
/*
 * cancel.c - cancellation handles: firing one wakes every wait using it.
 *
 * Waits register their waiter here for their whole duration, so firing,
 * done under the handle's mutex, only ever wakes waiters that still exist.
 */
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"

struct rlc_cancel {
    pthread_mutex_t mu;
    atomic_bool fired;
    struct rlc__waiter *waiters;
};

rlc_cancel *rlc_cancel_new(void)
{
    rlc_cancel *c = calloc(1, sizeof(*c));

    if (c != NULL)
        pthread_mutex_init(&c->mu, NULL);
    return c;
}

void rlc_cancel_fire(rlc_cancel *c)
{
    struct rlc__waiter *w;

    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    atomic_store(&c->fired, true);
    for (w = c->waiters; w != NULL; w = w->cnext)
        rlc__waiter_wake(w);
    pthread_mutex_unlock(&c->mu);
}

bool rlc_cancel_fired(const rlc_cancel *c)
{
    return c != NULL && atomic_load(&c->fired);
}

void rlc_cancel_free(rlc_cancel *c)
{
    if (c == NULL)
        return;
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void rlc__cancel_register(rlc_cancel *c, struct rlc__waiter *w)
{
    pthread_mutex_lock(&c->mu);
    w->cprev = NULL;
    w->cnext = c->waiters;
    if (c->waiters != NULL)
        c->waiters->cprev = w;
    c->waiters = w;
    pthread_mutex_unlock(&c->mu);
}

void rlc__cancel_unregister(rlc_cancel *c, struct rlc__waiter *w)
{
    pthread_mutex_lock(&c->mu);
    if (w->cprev != NULL)
        w->cprev->cnext = w->cnext;
    else
        c->waiters = w->cnext;
    if (w->cnext != NULL)
        w->cnext->cprev = w->cprev;
    pthread_mutex_unlock(&c->mu);
}
