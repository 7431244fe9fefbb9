/* SPDX-License-Identifier: MIT */
/*
 * swarm.c - scope = swarm in the preload: librlpreload-swarm.so (NATS,
 * JSON, the distributed limiter) is loaded from beside librlpreload.so the
 * first time a configuration names a swarm resource, never before, and
 * rlc's own connection to the NATS server is kept out of the limiting.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preload.h"
#include "swarm_plugin.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static rlp_swarm_open_fn open_fn;
static bool unavailable;                   /* tried and failed: said once */
static _Atomic(rlc_limiter *) limiters[2]; /* [split] */
static char server_url[1024];
static char own_host[RLC_HOSTNAME_MAX];
static _Atomic int own_port; /* of the NATS server; 0: none */
static char agent_id[RLC_RESOURCE_MAX];

/* The first URL's host and port: "nats://host:4222,nats://other". */
static void note_server(const char *url)
{
    const char *p = strstr(url, "://"), *end, *colon;
    size_t len;

    p = p != NULL ? p + 3 : url;
    end = p + strcspn(p, ",/");
    colon = memchr(p, ':', (size_t)(end - p));
    if (p[0] == '[') { /* [v6]:port */
        const char *close = memchr(p, ']', (size_t)(end - p));

        if (close != NULL) {
            colon = close[1] == ':' ? close + 1 : NULL;
            len = (size_t)(close - p - 1);
            p++;
        } else {
            len = (size_t)(end - p);
        }
    } else {
        len = (size_t)((colon != NULL ? colon : end) - p);
    }
    if (len >= sizeof(own_host))
        len = sizeof(own_host) - 1;
    memcpy(own_host, p, len);
    own_host[len] = '\0';
    atomic_store(&own_port, colon != NULL ? atoi(colon + 1) : 4222);
}

bool rlp_swarm_is_own(const struct sockaddr *sa)
{
    char name[RLC_HOSTNAME_MAX], text[INET6_ADDRSTRLEN] = "";
    int port = atomic_load(&own_port), sport;
    const void *addr;

    if (port == 0)
        return false;
    if (sa->sa_family == AF_INET) {
        sport = ntohs(((const struct sockaddr_in *)sa)->sin_port);
        addr = &((const struct sockaddr_in *)sa)->sin_addr;
    } else {
        sport = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
        addr = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    }
    if (sport != port)
        return false;
    if (inet_ntop(sa->sa_family, addr, text, sizeof(text)) != NULL &&
        strcmp(text, own_host) == 0)
        return true;
    if (rlp_names_lookup(sa, name, sizeof(name)) &&
        strcasecmp(name, own_host) == 0)
        return true;
    /* "localhost" may resolve without our hook seeing it. */
    return strcmp(own_host, "localhost") == 0 &&
           (strcmp(text, "127.0.0.1") == 0 || strcmp(text, "::1") == 0);
}

/* A cut another agent made is an epoch here too: a 429 for a request sent
 * before it says nothing about the cut capacity. */
static void on_change(const rlc_capacity_update *u, void *arg)
{
    struct rlp_resource *r;

    (void)arg;
    if (strcmp(u->agent_id, agent_id) == 0 ||
        strcmp(u->reason, "recovery") == 0)
        return;
    r = rlp_resource_named(u->resource);
    if (r == NULL)
        return;
    atomic_fetch_add(&r->epoch, 1);
    rlp_log(RLC_LOG_INFO, "%s: cut to %d by %s (%s)", u->resource,
            u->new_capacity, u->agent_id, u->reason);
}

static bool load_plugin(void)
{
    Dl_info self;
    char where[PATH_MAX], dir[PATH_MAX];
    void *h;

    if (dladdr((void *)rlp_swarm_limiter, &self) == 0 ||
        self.dli_fname == NULL) {
        rlp_log(RLC_LOG_ERROR, "scope = swarm: cannot locate the preload");
        return false;
    }
    snprintf(dir, sizeof(dir), "%s", self.dli_fname);
    snprintf(where, sizeof(where), "%s/%s", dirname(dir), RLP_SWARM_PLUGIN);
    h = dlopen(where, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        rlp_log(RLC_LOG_ERROR, "scope = swarm: %s", dlerror());
        return false;
    }
    *(void **)&open_fn = dlsym(h, RLP_SWARM_OPEN);
    if (open_fn == NULL) {
        rlp_log(RLC_LOG_ERROR, "scope = swarm: %s has no %s", where,
                RLP_SWARM_OPEN);
        return false;
    }
    return true;
}

rlc_limiter *rlp_swarm_limiter(bool split)
{
    return atomic_load(&limiters[split]);
}

/* One limiter (mu held). */
static bool open_one(const rlc_config *cfg, bool split)
{
    struct rlp_swarm_params p;
    char err[RLC_CONFIG_ERR_MAX] = "", prefix[RLC_RESOURCE_MAX + 16];
    rlc_limiter *l;

    /* The reference package's prefix for the default namespace, so Go
     * agents share the swarm; others are kept apart. */
    if (strcmp(cfg->namespace_, "default") == 0)
        snprintf(prefix, sizeof(prefix), "ratelimit");
    else
        snprintf(prefix, sizeof(prefix), "ratelimit.%s", cfg->namespace_);
    memset(&p, 0, sizeof(p));
    p.nats_url = server_url;
    p.agent_id = agent_id;
    p.subject_prefix = prefix;
    p.reduce_factor = cfg->reduce_factor;
    p.recovery_interval_ns = cfg->recovery_interval_ns;
    p.recovery_factor = cfg->recovery_factor;
    p.max_recovery = cfg->max_recovery;
    p.split = split;
    p.assumed_agents = cfg->assumed_agents;
    p.split_by_demand = cfg->share_by_demand;
    l = open_fn(&p, err, sizeof(err));
    if (l == NULL) {
        rlp_log(RLC_LOG_ERROR, "scope = swarm: %s", err);
        return false;
    }
    rlc_on_capacity_change(l, on_change, NULL);
    atomic_store(&limiters[split], l);
    rlp_log(RLC_LOG_INFO, "joined the swarm on %s as %s", server_url, agent_id);
    return true;
}

bool rlp_swarm_open(const rlc_config *cfg)
{
    bool ok = true;

    pthread_mutex_lock(&mu);
    if (unavailable) {
        pthread_mutex_unlock(&mu);
        return false;
    }
    if (open_fn == NULL && !load_plugin()) {
        unavailable = true;
        pthread_mutex_unlock(&mu);
        return false;
    }
    /* The first server and agent id stay: the plugin keeps its one
     * connection, and is_own must keep recognising it. */
    if (server_url[0] == '\0') {
        snprintf(server_url, sizeof(server_url), "%s", cfg->nats_url);
        snprintf(agent_id, sizeof(agent_id), "%s", cfg->agent_id);
        note_server(server_url);
    } else if (strcmp(server_url, cfg->nats_url) != 0) {
        rlp_log(RLC_LOG_WARN, "nats_url changed: restart to use %s",
                cfg->nats_url);
    }
    for (size_t i = 0; i < cfg->nresources && ok; i++) {
        const rlc_resource_config *rc = &cfg->resources[i];

        if (rc->scope == RLC_SCOPE_SWARM &&
            atomic_load(&limiters[rc->split]) == NULL)
            ok = open_one(cfg, rc->split);
    }
    if (!ok)
        unavailable = true;
    pthread_mutex_unlock(&mu);
    return ok;
}

void rlp_swarm_after_fork_child(void)
{
    /* The NATS connection's threads stayed in the parent. */
    pthread_mutex_init(&mu, NULL);
    atomic_store(&limiters[0], NULL);
    atomic_store(&limiters[1], NULL);
    unavailable = true;
}
