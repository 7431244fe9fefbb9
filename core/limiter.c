/* SPDX-License-Identifier: MIT */
/*
 * limiter.c - the public API: checks its arguments, then dispatches to the
 * limiter's kind. Misuse (NULL, an over-long name) is answered here, once,
 * so no kind ever sees it.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void rlc__limiter_init(rlc_limiter *l, const rlc__limiter_ops *ops)
{
    l->ops = ops;
    atomic_init(&l->closed, false);
    atomic_init(&l->callbacks, NULL);
}

void rlc__limiter_fini(rlc_limiter *l)
{
    struct rlc__callback *cb = atomic_load(&l->callbacks), *next;

    for (; cb != NULL; cb = next) {
        next = cb->next;
        free(cb);
    }
}

void rlc__limiter_notify(rlc_limiter *l, const rlc_capacity_update *u)
{
    struct rlc__callback *cb = atomic_load(&l->callbacks);

    for (; cb != NULL; cb = cb->next)
        cb->cb(u, cb->arg);
}

/* A valid name, or false: NULL, or no NUL within RLC_RESOURCE_MAX bytes. */
bool rlc__name_of(const char *resource, rlc__name *out)
{
    if (resource == NULL)
        return false;
    out->s = resource;
    out->len = strnlen(resource, RLC_RESOURCE_MAX);
    return out->len < RLC_RESOURCE_MAX;
}

rlc_status rlc_acquire(rlc_limiter *l, const char *resource, int64_t timeout_ns)
{
    return rlc_acquire_cancel(l, resource, timeout_ns, NULL);
}

rlc_status rlc_acquire_cancel(rlc_limiter *l, const char *resource,
                              int64_t timeout_ns, rlc_cancel *c)
{
    rlc__name r;

    if (l == NULL || !rlc__name_of(resource, &r))
        return RLC_EINVAL;
    return l->ops->acquire(l, r, timeout_ns, c);
}

bool rlc_try_acquire(rlc_limiter *l, const char *resource)
{
    rlc__name r;

    if (l == NULL || !rlc__name_of(resource, &r))
        return false;
    return l->ops->try_acquire(l, r);
}

void rlc_release(rlc_limiter *l, const char *resource)
{
    rlc__name r;

    if (l != NULL && rlc__name_of(resource, &r))
        l->ops->release(l, r);
}

rlc_status rlc_set_capacity(rlc_limiter *l, const char *resource, int capacity,
                            int64_t window_ns)
{
    rlc__name r;

    if (l == NULL || !rlc__name_of(resource, &r))
        return RLC_EINVAL;
    return l->ops->set_capacity(l, r, capacity, window_ns);
}

void rlc_announce_reduced(rlc_limiter *l, const char *resource,
                          const char *reason)
{
    rlc__name r;

    if (l != NULL && rlc__name_of(resource, &r))
        l->ops->announce_reduced(l, r, reason != NULL ? reason : "", NULL);
}

void rlc_announce_reduced_at(rlc_limiter *l, const char *resource,
                             const char *reason, uint64_t epoch)
{
    rlc__name r;

    if (l != NULL && rlc__name_of(resource, &r))
        l->ops->announce_reduced(l, r, reason != NULL ? reason : "", &epoch);
}

void rlc_pause(rlc_limiter *l, const char *resource, int64_t until_unix_ns,
               const char *reason)
{
    rlc__name r;

    if (l != NULL && rlc__name_of(resource, &r))
        (void)l->ops->pause(l, r, until_unix_ns, reason != NULL ? reason : "");
}

bool rlc_grow_capacity(rlc_limiter *l, const char *resource, int from, int to)
{
    rlc__name r;

    if (l == NULL || !rlc__name_of(resource, &r) || from <= 0 || to <= from ||
        l->ops->grow == NULL || atomic_load(&l->closed))
        return false;
    return l->ops->grow(l, r, from, to);
}

bool rlc_get_capacity(rlc_limiter *l, const char *resource, rlc_capacity *out)
{
    rlc__name r;

    if (l == NULL || out == NULL || !rlc__name_of(resource, &r))
        return false;
    return l->ops->get_capacity(l, r, out);
}

void rlc_on_capacity_change(rlc_limiter *l, rlc_capacity_cb cb, void *arg)
{
    struct rlc__callback *node;

    if (l == NULL || cb == NULL)
        return;
    node = malloc(sizeof(*node));
    if (node == NULL)
        return;
    node->cb = cb;
    node->arg = arg;
    node->next = atomic_load(&l->callbacks);
    while (!atomic_compare_exchange_weak(&l->callbacks, &node->next, node))
        ;
}

void rlc_clock_advanced(rlc_limiter *l)
{
    if (l != NULL)
        l->ops->wake_all(l);
}

rlc_status rlc_close(rlc_limiter *l)
{
    if (l == NULL)
        return RLC_EINVAL;
    if (atomic_exchange(&l->closed, true))
        return RLC_ECLOSED;
    l->ops->wake_all(l);
    return RLC_OK;
}

void rlc_free(rlc_limiter *l)
{
    if (l == NULL)
        return;
    rlc_close(l);
    l->ops->destroy(l);
}

rlc_distributed_config rlc_distributed_config_default(void)
{
    rlc_distributed_config c;

    memset(&c, 0, sizeof(c));
    c.reduce_factor = 0.5;
    c.recovery_interval_ns = 30 * RLC_SECOND;
    c.recovery_factor = 1.1;
    c.max_recovery = true;
    return c;
}

rlc_status rlc_distributed_config_validate(const rlc_distributed_config *c)
{
    if (c == NULL)
        return RLC_EINVAL;
    if (c->bus == NULL || c->agent_id == NULL || c->agent_id[0] == '\0' ||
        strnlen(c->agent_id, RLC_RESOURCE_MAX) >= RLC_RESOURCE_MAX)
        return RLC_EINVALCONFIG;
    /* Written so that NaN fails every test. */
    if (!(c->reduce_factor == 0 ||
          (c->reduce_factor > 0 && c->reduce_factor < 1)))
        return RLC_EINVALCONFIG;
    if (c->recovery_interval_ns < 0)
        return RLC_EINVALCONFIG;
    if (!(c->recovery_factor == 0 ||
          (c->recovery_factor > 1 && c->recovery_factor < 1e6)))
        return RLC_EINVALCONFIG;
    if (c->assumed_agents < 0)
        return RLC_EINVALCONFIG;
    return RLC_OK;
}
