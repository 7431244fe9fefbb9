/* SPDX-License-Identifier: MIT */
/*
 * fdtable.c - connection state by fd: an array indexed by fd, so that an
 * untracked fd costs one load and a branch.
 *
 * States are reference counted (dup'd fds share one) and come from a pool
 * whose memory is never given back to malloc, so a hook that loaded a
 * pointer just before another thread closed the fd still points at a
 * connection state, never at freed memory; it pins it and checks that
 * the slot still holds it before using it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "preload.h"

_Atomic(struct rlp_conn *) rlp_fds[RLP_FD_MAX];
/* One past the highest fd ever given state: what a child walks after a
 * fork, instead of the whole table (whose untouched pages would fault). */
static atomic_int fd_limit;

static struct rlp_conn *free_list;
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;

static void put(struct rlp_conn *c)
{
    if (atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    /* Only one path returns it, even if a stale pin raced the last put. */
    if (atomic_exchange(&c->pooled, true))
        return;
    rlp_flow_release(&c->flow);
    pthread_mutex_lock(&pool_mu);
    c->next_free = free_list;
    free_list = c;
    pthread_mutex_unlock(&pool_mu);
}

struct rlp_conn *rlp_conn_new(void)
{
    struct rlp_conn *c;

    pthread_mutex_lock(&pool_mu);
    c = free_list;
    if (c != NULL)
        free_list = c->next_free;
    pthread_mutex_unlock(&pool_mu);
    if (c == NULL) {
        c = calloc(1, sizeof(*c));
        if (c == NULL)
            return NULL;
    }
    c->dev = 0;
    c->ino = 0;
    atomic_store(&c->tls_inside, false);
    rlp_flow_init(&c->flow);
    /* An add, not a store: a stale pin may hold a count on it right now. */
    atomic_fetch_add(&c->refs, 1);
    atomic_store(&c->pooled, false);
    return c;
}

bool rlp_conn_pin(int fd, struct rlp_conn *c)
{
    atomic_fetch_add(&c->refs, 1);
    if (atomic_load(&rlp_fds[fd]) == c && !atomic_load(&c->pooled))
        return true;
    put(c);
    return false;
}

void rlp_conn_unpin(struct rlp_conn *c)
{
    put(c);
}

void rlp_fd_attach(int fd, struct rlp_conn *c)
{
    struct rlp_conn *old;

    if ((unsigned)fd >= RLP_FD_MAX) {
        put(c);
        return;
    }
    int limit = atomic_load(&fd_limit);

    while (limit <= fd &&
           !atomic_compare_exchange_weak(&fd_limit, &limit, fd + 1))
        ;
    old = atomic_exchange(&rlp_fds[fd], c);
    if (old != NULL)
        put(old);
}

void rlp_fd_detach(int fd)
{
    struct rlp_conn *old;

    if ((unsigned)fd >= RLP_FD_MAX)
        return;
    if (atomic_load_explicit(&rlp_fds[fd], memory_order_relaxed) == NULL)
        return;
    old = atomic_exchange(&rlp_fds[fd], NULL);
    if (old != NULL)
        put(old);
}

void rlp_fd_dup(int oldfd, int newfd)
{
    struct rlp_conn *c = rlp_conn_get(oldfd);

    if (c == NULL || !rlp_conn_pin(oldfd, c)) {
        rlp_fd_detach(newfd);
        return;
    }
    rlp_fd_attach(newfd, c); /* the pin becomes newfd's reference */
}

void rlp_fdtable_after_fork_child(void)
{
    /* Locks held by threads that do not exist in the child are let go. */
    pthread_mutex_init(&pool_mu, NULL);
    for (int fd = 0; fd < atomic_load(&fd_limit); fd++) {
        struct rlp_conn *c = atomic_load(&rlp_fds[fd]);

        if (c != NULL)
            atomic_store(&c->flow.lock, 0);
    }
}
