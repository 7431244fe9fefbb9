/* SPDX-License-Identifier: MIT */
/*
 * gcra.h - exact token-bucket arithmetic, as pure functions.
 *
 * A bucket is described by its parameters (capacity C tokens per window W
 * ns, counted from an origin time) and one integer: the tokens consumed
 * since the origin, N. The tokens supplied by time t are
 *     S(t) = C + floor((t - origin) * C / W)
 * and the tokens available are min(C, S(t) - N). This is the generic cell
 * rate algorithm (virtual scheduling) with the theoretical arrival time kept
 * as a token count instead of a rounded time, so a rate such as 3 per second
 * loses nothing: every comparison is a 128-bit cross-multiplication, and a
 * division happens only when a full bucket is topped up.
 */
#ifndef RLC_GCRA_H
#define RLC_GCRA_H

#include <stdbool.h>
#include <stdint.h>

typedef struct rlc__gcra {
    int64_t cap;    /* C, > 0 */
    int64_t window; /* W, ns, > 0 */
    int64_t origin; /* ns on the bucket's clock */
} rlc__gcra;

/* Is the bucket at capacity at now, with time gone by since the origin?
 * Then part of a token may have grown beyond what it holds, and the next
 * token after a take would come at the next multiple of W/C on the
 * origin's grid, sooner than W/C after the take. */
bool rlc__gcra_overflowing(const rlc__gcra *g, uint64_t consumed, int64_t now);

/* Tokens available at now, 0..cap. */
int64_t rlc__gcra_available(const rlc__gcra *g, uint64_t consumed, int64_t now);

/* Takes one token at now. Returns true and the new consumed count, or false
 * when no token is available. */
bool rlc__gcra_take(const rlc__gcra *g, uint64_t consumed, int64_t now,
                    uint64_t *out);

/* The first time at which a token is available (<= now if one is). */
int64_t rlc__gcra_next_due(const rlc__gcra *g, uint64_t consumed);

/* Gives one token back at now (never above cap): the new consumed count. */
uint64_t rlc__gcra_give(const rlc__gcra *g, uint64_t consumed, int64_t now);

/* Re-expresses consumed under new parameters, keeping the tokens available
 * (capped at the new capacity) and, unless the bucket is full, the part of
 * the next token grown so far: sets to->origin to now, or before it by that
 * part of the new interval. Returns the new count. */
uint64_t rlc__gcra_convert(const rlc__gcra *from, uint64_t consumed,
                           rlc__gcra *to, int64_t now);

/* Moves the origin forward by whole windows, up to now, so that consumed
 * stays small; exact (no fraction of a token changes). Updates *g. */
uint64_t rlc__gcra_rebase(rlc__gcra *g, uint64_t consumed, int64_t now);

#endif /* RLC_GCRA_H */
