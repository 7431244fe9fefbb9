/* SPDX-License-Identifier: MIT */
/*
 * host_limiter.h - what the preload asks of a host limiter beyond the
 * public API: when a capacity last changed, and growing it only if it has
 * not changed since, so that the processes of a host, however short-lived,
 * recover a cut one step per interval between them.
 */
#ifndef RLC_HOST_LIMITER_H
#define RLC_HOST_LIMITER_H

#include "internal.h"

/* When resource's capacity was last set, cut or grown, on l's clock (0 in
 * a table made before this was kept). false when l is not a host limiter
 * or the resource is unknown. Thread-safe. */
bool rlc__host_limiter_capacity_changed(rlc_limiter *l, const char *resource,
                                        int64_t *at);

/* rlc_grow_capacity(l, resource, from, to), only if the capacity last
 * changed at `at` (as rlc__host_limiter_capacity_changed said). */
bool rlc__host_limiter_grow_since(rlc_limiter *l, const char *resource,
                                  int from, int to, int64_t at);

/* Is l's table file still the one at its path? false when it was removed
 * or replaced since l mapped it (systemd's RemoveIPC at logout, a person
 * cleaning /dev/shm): l then shares with no process opened after. true
 * for l not a host limiter. Thread-safe; one stat. */
bool rlc__host_limiter_file_current(rlc_limiter *l);

#endif /* RLC_HOST_LIMITER_H */
