/* SPDX-License-Identifier: MIT */
/*
 * swarm_plugin.c - librlpreload-swarm.so: one NATS connection per process
 * and the distributed limiters on it, for the preload's scope = swarm.
 *
 * The limiters it returns are driven through the preload's own copy of the
 * public API, which only checks arguments and calls through the limiter's
 * operations: those are this library's.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "bus.h"
#include "swarm_plugin.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static rlc_bus *bus;

__attribute__((visibility("default"))) rlc_limiter *
rlp_swarm_open(const struct rlp_swarm_params *p, char *err, size_t errlen);

rlc_limiter *rlp_swarm_open(const struct rlp_swarm_params *p, char *err,
                            size_t errlen)
{
    rlc_distributed_config c = rlc_distributed_config_default();
    rlc_limiter *l = NULL;
    rlc_status st = RLC_OK;

    pthread_mutex_lock(&mu);
    if (bus == NULL) {
        rlc_nats_options o;

        memset(&o, 0, sizeof(o));
        o.url = p->nats_url;
        o.name = p->agent_id;
        st = rlc__nats_bus_connect_err(&o, &bus, err, errlen);
        if (st != RLC_OK)
            bus = NULL;
    }
    if (bus != NULL) {
        c.bus = bus;
        c.agent_id = p->agent_id;
        c.subject_prefix = p->subject_prefix;
        c.reduce_factor = p->reduce_factor;
        c.recovery_interval_ns = p->recovery_interval_ns;
        c.recovery_factor = p->recovery_factor;
        c.max_recovery = p->max_recovery;
        c.split = p->split;
        c.assumed_agents = p->assumed_agents;
        c.split_by_demand = p->split_by_demand;
        st = rlc_distributed_limiter_new(&c, &l);
        if (st != RLC_OK)
            snprintf(err, errlen, "distributed limiter: %s", rlc_strerror(st));
    }
    pthread_mutex_unlock(&mu);
    return l;
}
