/* SPDX-License-Identifier: MIT */
/*
 * swarm_plugin.h - between librlpreload.so and librlpreload-swarm.so, the
 * plugin that holds NATS, JSON and the distributed limiter. The preload
 * loads it only in a process whose configuration has a swarm resource, so
 * every other process starts without libnats and its threads.
 */
#ifndef RLC_SWARM_PLUGIN_H
#define RLC_SWARM_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rlc.h"

#define RLP_SWARM_PLUGIN "librlpreload-swarm.so"
#define RLP_SWARM_OPEN "rlp_swarm_open"

struct rlp_swarm_params {
    const char *nats_url;
    const char *agent_id;
    const char *subject_prefix;
    double reduce_factor;
    int64_t recovery_interval_ns;
    double recovery_factor;
    bool max_recovery;
    bool split;
    int assumed_agents;
    bool split_by_demand;
};

/* A distributed limiter on the plugin's one NATS connection (made on the
 * first call), or NULL with a reason in err. */
typedef rlc_limiter *(*rlp_swarm_open_fn)(const struct rlp_swarm_params *p,
                                          char *err, size_t errlen);

#endif /* RLC_SWARM_PLUGIN_H */
