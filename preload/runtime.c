/* SPDX-License-Identifier: MIT */
/*
 * runtime.c - the preload's configuration and limiters: loaded on the
 * first network call (never in a constructor), reloaded when the file
 * changes, and the per-resource state the hooks charge and cut.
 *
 * A broken file is reported once and changes nothing: the configuration
 * in force stays (or, at start, rlc stays out of the way). Replaced
 * configurations are kept, not freed: a hook on another thread may still
 * be matching against one, and edits are rare.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "host_limiter.h"
#include "preload.h"

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static _Atomic(const rlc_config *) current;
static char path[PATH_MAX];
static struct stat seen;
static _Atomic int64_t next_check;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER; /* loads, the list */
static char last_error[RLC_CONFIG_ERR_MAX];
static rlc_limiter *limiter;  /* scope process, and what cannot be shared */
static rlc_limiter *host_lim; /* scope host: the user's shared table */
static char host_ns[RLC_NAMESPACE_MAX];
static bool host_tried, ns_noted;
static atomic_bool swarm_wanted, swarm_joining;
static _Atomic(struct rlp_resource *) resources;

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * RLC_SECOND + ts.tv_nsec;
}

struct rlp_resource *rlp_resource_named(const char *name)
{
    struct rlp_resource *r = atomic_load(&resources);

    for (; r != NULL; r = r->next)
        if (strcmp(r->name, name) == 0)
            return r;
    return NULL;
}

/* mu held. */
static struct rlp_resource *find_or_create(const char *name)
{
    struct rlp_resource *r = rlp_resource_named(name);

    if (r != NULL)
        return r;
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->limiter = limiter;
    r->next = atomic_load(&resources);
    atomic_store(&resources, r);
    return r;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
           a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* The host limiter of namespace ns, opened on first need (mu held); NULL
 * when the table cannot be had: said once, and the process's own buckets
 * stand in. */
static rlc_limiter *host_limiter(const char *ns)
{
    char err[256];
    rlc_host_limiter_options o = {.ns = ns};
    rlc_status st;

    if (host_tried) {
        if (host_lim != NULL && strcmp(ns, host_ns) != 0 && !ns_noted) {
            ns_noted = true;
            rlp_log(RLC_LOG_WARN,
                    "namespace '%s': processes started from now on use it; "
                    "this one stays with '%s'",
                    ns, host_ns);
        }
        return host_lim;
    }
    host_tried = true;
    st = rlc_host_limiter_open(&o, &host_lim, err, sizeof(err));
    if (st != RLC_OK) {
        host_lim = NULL;
        rlp_log(RLC_LOG_ERROR, "scope host: %s",
                err[0] != '\0' ? err : rlc_strerror(st));
        rlp_log(RLC_LOG_ERROR,
                "scope host: each process limits by itself instead");
    } else {
        snprintf(host_ns, sizeof(host_ns), "%s", ns);
    }
    return host_lim;
}

/* Only this process stops using r there: a shared table's resource stays
 * for the other processes. */
static void leave(rlc_limiter *l, const char *name)
{
    if (l != host_lim)
        rlc_set_capacity(l, name, 0, 0);
}

/* Puts cfg in force (mu held). */
static void apply(const rlc_config *cfg, const rlc_config *old)
{
    rlc_limiter *target;
    int want;

    atomic_store(&rlp_log_level, (int)cfg->log);
    for (size_t i = 0; i < cfg->nresources; i++) {
        const rlc_resource_config *rc = &cfg->resources[i];
        struct rlp_resource *r = find_or_create(rc->name);

        if (r == NULL) {
            rlp_log(RLC_LOG_ERROR, "%s: out of memory", rc->name);
            continue;
        }
        atomic_store(&r->per, (int)rc->per);
        target = limiter;
        if (rc->scope == RLC_SCOPE_HOST) {
            rlc_limiter *shared = host_limiter(cfg->namespace_);

            if (shared != NULL)
                target = shared;
        }
        if (rc->scope == RLC_SCOPE_SWARM) {
            rlc_limiter *swarm = rlp_swarm_limiter(rc->split);

            /* Until the swarm is joined (outside every lock, see
             * join_swarm) the process's own bucket holds the line. */
            if (swarm != NULL)
                target = swarm;
            else
                atomic_store(&swarm_wanted, true);
        }
        if (r->limiter != target) {
            leave(r->limiter, r->name);
            r->limiter = target;
            atomic_store(&r->configured, 0); /* set it on the new one */
        }
        atomic_store(&r->scope, target == limiter    ? (int)RLC_SCOPE_PROCESS
                                : target == host_lim ? (int)RLC_SCOPE_HOST
                                                     : (int)RLC_SCOPE_SWARM);
        /* A swarm's total waiting here for the swarm to be joined is
         * shared as the swarm would share it before hearing anyone. */
        want = rc->capacity;
        if (rc->scope == RLC_SCOPE_SWARM && target == limiter && rc->split &&
            cfg->assumed_agents > 1)
            want = rc->capacity / cfg->assumed_agents > 0
                       ? rc->capacity / cfg->assumed_agents
                       : 1;
        /* A capacity the file did not change keeps its cuts. */
        if (atomic_load(&r->configured) != want ||
            atomic_load(&r->window_ns) != rc->window_ns) {
            atomic_store(&r->configured, want);
            atomic_store(&r->window_ns, rc->window_ns);
            if (rlc_set_capacity(r->limiter, r->name, want, rc->window_ns) !=
                    RLC_OK &&
                r->limiter == host_lim) {
                char why[256] = "";

                /* No slot in the table (full, say): limited within this
                 * process rather than not at all. */
                rlc_host_limiter_error(host_lim, why, sizeof(why));
                rlp_log(RLC_LOG_ERROR,
                        "%s: scope host: %s; limited within this process",
                        r->name, why[0] != '\0' ? why : "no slot");
                r->limiter = limiter;
                atomic_store(&r->scope, (int)RLC_SCOPE_PROCESS);
                rlc_set_capacity(limiter, r->name, want, rc->window_ns);
            }
            if (old != NULL)
                rlp_log(RLC_LOG_INFO, "%s: %d per %lld ms", r->name, want,
                        (long long)(rc->window_ns / 1000000));
            if (r->limiter == host_lim) {
                char why[512];

                /* The last configuration wins for every process. */
                if (rlc_host_limiter_conflict(host_lim, r->name, why,
                                              sizeof(why)))
                    rlp_log(RLC_LOG_WARN, "%s", why);
            }
        }
    }
    for (size_t i = 0; old != NULL && i < old->nresources; i++) {
        const char *name = old->resources[i].name;
        bool kept = false;

        for (size_t j = 0; j < cfg->nresources && !kept; j++)
            kept = strcmp(cfg->resources[j].name, name) == 0;
        if (!kept) {
            struct rlp_resource *r = rlp_resource_named(name);

            if (r != NULL) {
                leave(r->limiter, name);
                atomic_store(&r->configured, 0);
            }
            rlp_log(RLC_LOG_INFO, "%s: no longer limited", name);
        }
    }
}

/* Loads path; reports a failure once per distinct message (mu held). */
static const rlc_config *load(void)
{
    char err[RLC_CONFIG_ERR_MAX];
    rlc_config *cfg = rlc_config_load(path, err, sizeof(err));

    if (cfg == NULL && strcmp(err, last_error) != 0) {
        snprintf(last_error, sizeof(last_error), "%s", err);
        rlp_log(RLC_LOG_ERROR, "%s", err);
        rlp_log(RLC_LOG_ERROR, "%s",
                atomic_load(&current) != NULL
                    ? "keeping the configuration in force"
                    : "nothing is limited until the file is fixed");
    }
    if (cfg != NULL)
        last_error[0] = '\0';
    return cfg;
}

static void first_load(void)
{
    const char *env = getenv("RLC_CONFIG");
    const char *level = getenv("RLC_LOG");
    const rlc_config *cfg;

    if (level != NULL) {
        static const char *names[] = {"error", "warn", "info", "debug"};

        for (int i = 0; i < 4; i++)
            if (strcmp(level, names[i]) == 0)
                atomic_store(&rlp_log_level, i);
    }
    limiter = rlc_memory_limiter_new();
    if (limiter == NULL) {
        rlp_log(RLC_LOG_ERROR, "out of memory; nothing is limited");
        return;
    }
    if (env != NULL && env[0] != '\0')
        snprintf(path, sizeof(path), "%s", env);
    else if (!rlc_config_find(path, sizeof(path))) {
        rlp_log(RLC_LOG_DEBUG, "no configuration file; nothing is limited");
        path[0] = '\0';
        return;
    }
    pthread_mutex_lock(&mu);
    if (stat(path, &seen) != 0)
        memset(&seen, 0, sizeof(seen));
    cfg = load();
    if (cfg != NULL) {
        apply(cfg, NULL);
        atomic_store(&current, cfg);
    }
    atomic_store(&next_check, mono_ns() + RLC_SECOND);
    pthread_mutex_unlock(&mu);
}

/*
 * The host's table file was removed (systemd's RemoveIPC at logout, a
 * person cleaning /dev/shm) or replaced: processes started since share
 * another table, and this one would be alone. It maps the file now at the
 * path and puts its host resources there (mu held). The old limiter is
 * left, never freed: a hook may be using it.
 */
static void follow_host_table(void)
{
    rlc_host_limiter_options o = {.ns = host_ns};
    rlc_limiter *fresh = NULL;
    struct rlp_resource *r;

    if (host_lim == NULL || rlc__host_limiter_file_current(host_lim))
        return;
    if (rlc_host_limiter_open(&o, &fresh, NULL, 0) != RLC_OK)
        return; /* tried again in a second */
    rlp_log(RLC_LOG_WARN,
            "scope host: the table of namespace '%s' was "
            "removed or replaced; sharing the new one",
            host_ns);
    for (r = atomic_load(&resources); r != NULL; r = r->next) {
        int want = atomic_load(&r->configured);
        int64_t window = atomic_load(&r->window_ns);

        if (r->limiter != host_lim)
            continue;
        if (want > 0 &&
            rlc_set_capacity(fresh, r->name, want, window) != RLC_OK) {
            /* no slot in the new table: limited within this process */
            rlp_log(RLC_LOG_ERROR,
                    "%s: scope host: no slot in the new table; limited "
                    "within this process",
                    r->name);
            rlc_set_capacity(limiter, r->name, want, window);
            r->limiter = limiter;
            atomic_store(&r->scope, (int)RLC_SCOPE_PROCESS);
            continue;
        }
        r->limiter = fresh;
    }
    host_lim = fresh;
}

static void maybe_reload(int64_t now)
{
    struct stat st;
    const rlc_config *cfg, *old;

    if (pthread_mutex_trylock(&mu) != 0)
        return; /* another thread is at it */
    atomic_store(&next_check, now + RLC_SECOND);
    follow_host_table();
    if (stat(path, &st) == 0 && !same_file(&st, &seen)) {
        seen = st;
        cfg = load();
        if (cfg != NULL) {
            old = atomic_load(&current);
            apply(cfg, old);
            atomic_store(&current, cfg);
            rlp_log(RLC_LOG_INFO, "reloaded %s", path);
        }
    }
    pthread_mutex_unlock(&mu);
}

/*
 * Joins the swarm the configuration asks for, in the calling thread but
 * outside pthread_once and the mutex: connecting can take seconds, and the
 * NATS library's own threads call our hooks meanwhile. One thread does it;
 * the others go on with the process's buckets until it is done.
 */
static void join_swarm(void)
{
    const rlc_config *cfg = atomic_load(&current);
    bool expected = false;

    if (cfg == NULL ||
        !atomic_compare_exchange_strong(&swarm_joining, &expected, true))
        return;
    rlp_busy++;
    atomic_store(&swarm_wanted, false);
    if (rlp_swarm_open(cfg)) {
        pthread_mutex_lock(&mu);
        apply(atomic_load(&current), atomic_load(&current)); /* move over */
        pthread_mutex_unlock(&mu);
    } else {
        rlp_log(RLC_LOG_WARN, "no swarm: swarm resources are limited within "
                              "this process");
    }
    rlp_busy--;
    atomic_store(&swarm_joining, false);
}

const rlc_config *rlp_config(void)
{
    int64_t now;
    int saved = errno;

    pthread_once(&load_once, first_load);
    if (atomic_load_explicit(&swarm_wanted, memory_order_relaxed))
        join_swarm();
    if (path[0] != '\0') {
        now = mono_ns();
        if (now >= atomic_load_explicit(&next_check, memory_order_relaxed))
            maybe_reload(now);
    }
    errno = saved;
    return atomic_load(&current);
}

struct rlp_resource *rlp_resource_for(const rlc_resource_config *rc)
{
    struct rlp_resource *r = rlp_resource_named(rc->name);

    return r != NULL && atomic_load(&r->configured) > 0 ? r : NULL;
}

/* The capacity grown one recovery step from total, within configured. */
static int grown_from(int total, int configured, const rlc_config *cfg)
{
    int64_t grown = (int64_t)((double)total * cfg->recovery_factor + 0.999999);

    if (grown <= total)
        grown = total + 1;
    if (cfg->max_recovery && grown > configured)
        grown = configured;
    return grown > INT_MAX ? INT_MAX : (int)grown;
}

/*
 * A host's capacity is recovered by whichever process looks when a whole
 * recovery_interval has passed since it last changed (a cut, a step): the
 * table keeps that time, so processes however short-lived recover it, and
 * a step is taken only from the capacity and time seen, so processes never
 * stack their steps. Each process looks at most once an interval.
 */
static void maybe_recover_host(struct rlp_resource *r, const rlc_config *cfg,
                               int64_t now)
{
    int64_t next = atomic_load(&r->next_look), at;
    rlc_capacity cap;
    int configured = atomic_load(&r->configured), grown;

    if (now < next ||
        !atomic_compare_exchange_strong(&r->next_look, &next,
                                        now + cfg->recovery_interval_ns))
        return;
    if (!rlc_get_capacity(r->limiter, r->name, &cap) ||
        cap.total >= configured ||
        !rlc__host_limiter_capacity_changed(r->limiter, r->name, &at))
        return;
    if (now - at < cfg->recovery_interval_ns) {
        /* look again when the interval since that change is over */
        atomic_store(&r->next_look, at + cfg->recovery_interval_ns);
        return;
    }
    grown = grown_from(cap.total, configured, cfg);
    if (rlc__host_limiter_grow_since(r->limiter, r->name, cap.total, grown, at))
        rlp_log(RLC_LOG_INFO, "%s: recovered %d -> %d", r->name, cap.total,
                grown);
}

/* Grows a cut capacity back by recovery_factor every recovery_interval. */
static void maybe_recover(struct rlp_resource *r, const rlc_config *cfg,
                          int64_t now)
{
    int64_t at = atomic_load(&r->changed_at);
    rlc_capacity cap;
    int grown, configured = atomic_load(&r->configured);

    /* A swarm's limiter recovers by itself, in step with the swarm. */
    if (atomic_load(&r->scope) == (int)RLC_SCOPE_HOST) {
        maybe_recover_host(r, cfg, now);
        return;
    }
    if (at == 0 || now - at < cfg->recovery_interval_ns ||
        atomic_load(&r->scope) == (int)RLC_SCOPE_SWARM)
        return;
    if (!atomic_compare_exchange_strong(&r->changed_at, &at, now))
        return; /* another thread does it */
    if (!rlc_get_capacity(r->limiter, r->name, &cap) ||
        cap.total >= configured) {
        atomic_store(&r->changed_at, 0);
        return;
    }
    grown = grown_from(cap.total, configured, cfg);
    rlc_set_capacity(r->limiter, r->name, grown, cap.window_ns);
    if (grown >= configured)
        atomic_store(&r->changed_at, 0);
    rlp_log(RLC_LOG_INFO, "%s: recovered %d -> %d", r->name, cap.total, grown);
}

static void sleep_until(int64_t until)
{
    struct timespec ts = {(time_t)(until / RLC_SECOND),
                          (long)(until % RLC_SECOND)};

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* The wait ran out: pass (0) or fail (-1), as configured. */
static int timed_out(struct rlp_resource *r, const rlc_config *cfg)
{
    if (cfg->on_timeout == RLC_ON_TIMEOUT_FAIL) {
        rlp_log(RLC_LOG_WARN, "%s: no token within max_wait; failing", r->name);
        return -1;
    }
    rlp_log(RLC_LOG_WARN, "%s: no token within max_wait; sending anyway",
            r->name);
    return 0;
}

int rlp_charge(struct rlp_resource *r, int n)
{
    /* Also where a long keep-alive connection notices an edited file. */
    const rlc_config *cfg = rlp_config();
    int64_t now = mono_ns(), deadline, pause;
    int saved = errno, result = 0;
    bool retried = false;

    if (cfg == NULL)
        return 0;
    rlp_busy++;
    deadline =
        cfg->max_wait_ns > INT64_MAX - now ? INT64_MAX : now + cfg->max_wait_ns;
    maybe_recover(r, cfg, now);
    pause = atomic_load(&r->pause_until);
    if (pause > now) {
        sleep_until(pause < deadline ? pause : deadline);
        if (pause > deadline) {
            result = timed_out(r, cfg);
            goto out;
        }
    }
    for (int i = 0; i < n; i++) {
        rlc_status st;

        now = mono_ns();
        st = rlc_acquire(r->limiter, r->name,
                         deadline > now ? deadline - now : 0);
        if (st == RLC_ETIMEDOUT || st == RLC_EEXHAUSTED) {
            /* The host limiter says at once when no token can come in
             * time. The caller is held for max_wait all the same, as with
             * every other scope, looking again each second: a recovery,
             * a reload or another process's change may bring one. */
            if (st == RLC_ETIMEDOUT &&
                atomic_load(&r->scope) == (int)RLC_SCOPE_HOST &&
                (now = mono_ns()) < deadline) {
                sleep_until(deadline - now > RLC_SECOND ? now + RLC_SECOND
                                                        : deadline);
                if (rlp_config() != NULL) /* notices an edited file */
                    cfg = rlp_config();
                if (atomic_load(&r->configured) == 0)
                    break; /* no longer limited here: let it pass */
                maybe_recover(r, cfg, mono_ns());
                i--;
                continue;
            }
            result = timed_out(r, cfg);
            goto out;
        }
        if (st == RLC_EUNKNOWN &&
            atomic_load(&r->scope) == (int)RLC_SCOPE_HOST && !retried &&
            atomic_load(&r->configured) > 0) {
            /* Removed from the host's table by another program: this
             * process's configuration puts it back. */
            retried = true;
            rlc_set_capacity(r->limiter, r->name, atomic_load(&r->configured),
                             atomic_load(&r->window_ns));
            i--;
            continue;
        }
        if (st != RLC_OK)
            break; /* removed by a reload, or closing: let it pass */
    }
    if (atomic_load(&r->scope) == (int)RLC_SCOPE_SWARM) {
        rlc_capacity cap;

        if (rlc_get_capacity(r->limiter, r->name, &cap)) {
            atomic_store(&r->last_total, cap.total);
            atomic_store(&r->last_window, cap.window_ns);
        }
    }
out:
    rlp_busy--;
    errno = saved;
    return result;
}

uint32_t rlp_epoch(struct rlp_resource *r)
{
    rlc_capacity cap;

    if (atomic_load(&r->scope) == (int)RLC_SCOPE_HOST &&
        rlc_get_capacity(r->limiter, r->name, &cap))
        return (uint32_t)cap.epoch;
    return atomic_load(&r->epoch);
}

/* A 429 on a host's resource: the shared table keeps the epochs, so that
 * of several processes seeing 429s for requests sent in one epoch, one
 * cuts. */
static void cut_host(struct rlp_resource *r, const rlc_http1_response *resp,
                     const char *reason)
{
    rlc_capacity before, after;
    uint64_t epoch;

    if (!rlc_get_capacity(r->limiter, r->name, &before))
        return;
    epoch = before.epoch;
    if (resp->tag_known) /* the tag is the epoch's low 32 bits */
        epoch -= (uint32_t)((uint32_t)before.epoch - resp->request_tag);
    rlc_announce_reduced_at(r->limiter, r->name, reason, epoch);
    if (!rlc_get_capacity(r->limiter, r->name, &after) ||
        after.epoch == before.epoch) {
        rlp_log(RLC_LOG_DEBUG,
                "%s: 429 for a request sent before the latest cut; not "
                "cutting again",
                r->name);
        return;
    }
    rlp_log(RLC_LOG_INFO, "%s: %s: capacity %d -> %d", r->name, reason,
            before.total, after.total);
}

void rlp_response(struct rlp_resource *r, const char *host,
                  const rlc_http1_response *resp)
{
    char reason[RLC_HOSTNAME_MAX + 32];
    uint32_t epoch;
    rlc_capacity before, after;

    if (resp->status != 429)
        return;
    rlp_busy++;
    if (resp->has_retry_after) {
        struct timespec wall;
        int64_t delta, until, old;

        clock_gettime(CLOCK_REALTIME, &wall);
        delta = resp->retry_after_unix - wall.tv_sec;
        if (delta > 0) {
            if (delta > 24 * 3600)
                delta = 24 * 3600; /* a day is plenty; max_wait caps it */
            until = mono_ns() + delta * RLC_SECOND;
            old = atomic_load(&r->pause_until);
            while (old < until &&
                   !atomic_compare_exchange_weak(&r->pause_until, &old, until))
                ;
            if (old < until) {
                char why[RLC_HOSTNAME_MAX + 32];

                rlp_log(RLC_LOG_INFO, "%s: paused for %lld s (Retry-After)",
                        r->name, (long long)delta);
                /* The whole swarm waits too (a limiter of this process
                 * only pauses itself, which is the same as above). */
                snprintf(why, sizeof(why), "Retry-After from %s",
                         host != NULL && host[0] != '\0' ? host : "the server");
                rlc_pause(r->limiter, r->name,
                          (int64_t)wall.tv_sec * RLC_SECOND + wall.tv_nsec +
                              delta * RLC_SECOND,
                          why);
            }
        }
    }
    snprintf(reason, sizeof(reason), "HTTP 429 from %s",
             host != NULL && host[0] != '\0' ? host : "the server");
    if (atomic_load(&r->scope) == (int)RLC_SCOPE_HOST) {
        cut_host(r, resp, reason);
        rlp_busy--;
        return;
    }
    epoch = resp->tag_known ? resp->request_tag : atomic_load(&r->epoch);
    /* One cut per epoch: a 429 answering a request sent before the latest
     * cut says nothing about the cut capacity. */
    if (!atomic_compare_exchange_strong(&r->epoch, &epoch, epoch + 1)) {
        rlp_log(RLC_LOG_DEBUG,
                "%s: 429 for a request sent before the "
                "latest cut; not cutting again",
                r->name);
        rlp_busy--;
        return;
    }
    if (!rlc_get_capacity(r->limiter, r->name, &before))
        before.total = 0;
    rlc_announce_reduced(r->limiter, r->name, reason);
    if (rlc_get_capacity(r->limiter, r->name, &after)) {
        atomic_store(&r->changed_at, mono_ns());
        rlp_log(RLC_LOG_INFO, "%s: %s: capacity %d -> %d", r->name, reason,
                before.total, after.total);
    }
    rlp_busy--;
}

void rlp_runtime_after_fork_child(void)
{
    rlc_limiter *fresh, *shared = NULL;
    struct rlp_resource *r;

    /* The parent's limiters may hold locks and waiters of threads that do
     * not exist here: the child gets its own, at the same capacities; a
     * host's table is mapped again, and shared as before. */
    pthread_mutex_init(&mu, NULL);
    rlp_swarm_after_fork_child();
    if (limiter == NULL)
        return;
    fresh = rlc_memory_limiter_new();
    if (fresh == NULL)
        return;
    if (host_lim != NULL) {
        rlc_host_limiter_options o = {.ns = host_ns};

        if (rlc_host_limiter_open(&o, &shared, NULL, 0) != RLC_OK)
            shared = NULL;
    }
    for (r = atomic_load(&resources); r != NULL; r = r->next) {
        rlc_capacity cap;
        int scope = atomic_load(&r->scope);

        if (scope == (int)RLC_SCOPE_HOST && shared != NULL) {
            r->limiter = shared; /* the table has the capacities */
            continue;
        }
        /* A swarm's limiter may be locked by a thread left in the parent:
         * never called here; its last share seen stands in. */
        if (scope == (int)RLC_SCOPE_SWARM) {
            int total = atomic_load(&r->last_total);

            rlc_set_capacity(fresh, r->name,
                             total > 0 ? total : atomic_load(&r->configured),
                             total > 0 ? atomic_load(&r->last_window)
                                       : atomic_load(&r->window_ns));
        } else if (scope == (int)RLC_SCOPE_HOST) {
            rlc_set_capacity(fresh, r->name, atomic_load(&r->configured),
                             atomic_load(&r->window_ns));
        } else if (rlc_get_capacity(r->limiter, r->name, &cap)) {
            rlc_set_capacity(fresh, r->name, cap.total, cap.window_ns);
        }
        r->limiter = fresh;
        atomic_store(&r->scope, (int)RLC_SCOPE_PROCESS);
    }
    limiter = fresh;
    host_lim = shared; /* the parent's object is left alone, never freed */
}
