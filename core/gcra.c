/* SPDX-License-Identifier: MIT */
/*
 * gcra.c - exact token-bucket arithmetic (see gcra.h for the model).
 *
 * Comparisons "S(t) - N >= k" become "(t - origin) * C >= (N - C + k) * W"
 * in 128 bits: elapsed time and counts stay below 2^63, C below 2^31, so no
 * product overflows and no rounding ever happens.
 */
#include "gcra.h"

__extension__ typedef __int128 i128;

static int64_t elapsed(const rlc__gcra *g, int64_t now)
{
    /* A reader whose clock read precedes the origin set by a concurrent
     * writer sees the bucket as at the origin: never more tokens. */
    return now > g->origin ? now - g->origin : 0;
}

/* floor(e * C / W), e >= 0; a plain 64-bit division when it fits. */
static i128 refilled(const rlc__gcra *g, int64_t e)
{
    uint64_t ue = (uint64_t)e, c = (uint64_t)g->cap;

    if (ue <= UINT64_MAX / c)
        return (i128)(ue * c / (uint64_t)g->window);
    return (i128)((unsigned __int128)ue * c / (uint64_t)g->window);
}

/* S(now) - consumed >= k ? */
static bool has(const rlc__gcra *g, uint64_t consumed, int64_t e, int64_t k)
{
    i128 need = (i128)consumed - g->cap + k;

    if (need <= 0)
        return true;
    return (i128)e * g->cap >= need * g->window;
}

/* Is the bucket full (more supplied than it can hold)? */
static bool full(const rlc__gcra *g, uint64_t consumed, int64_t e)
{
    return (i128)e * g->cap >= ((i128)consumed + 1) * g->window;
}

bool rlc__gcra_overflowing(const rlc__gcra *g, uint64_t consumed, int64_t now)
{
    int64_t e = elapsed(g, now);

    /* At capacity (S - N >= C, that is e * C >= N * W) and time has run on
     * past the origin: what has grown since would spill over. */
    return e > 0 && (i128)e * g->cap >= (i128)consumed * g->window;
}

int64_t rlc__gcra_available(const rlc__gcra *g, uint64_t consumed, int64_t now)
{
    int64_t e = elapsed(g, now);
    i128 avail;

    if (full(g, consumed, e))
        return g->cap;
    avail = (i128)g->cap + refilled(g, e) - consumed;
    return avail < 0 ? 0 : (int64_t)avail;
}

bool rlc__gcra_take(const rlc__gcra *g, uint64_t consumed, int64_t now,
                    uint64_t *out)
{
    int64_t e = elapsed(g, now);

    if (full(g, consumed, e)) {
        /* Top up: what was supplied beyond the capacity is dropped. A count
         * beyond 64 bits saturates; the caller rebases before storing. */
        i128 n = refilled(g, e) + 1;

        *out = n >= (i128)UINT64_MAX ? UINT64_MAX : (uint64_t)n;
        return true;
    }
    if (!has(g, consumed, e, 1))
        return false;
    *out = consumed + 1;
    return true;
}

int64_t rlc__gcra_next_due(const rlc__gcra *g, uint64_t consumed)
{
    i128 need = (i128)consumed - g->cap + 1, e;

    if (need <= 0)
        return g->origin;
    /* Smallest e with e * C >= need * W. */
    e = (need * g->window + g->cap - 1) / g->cap;
    if ((i128)g->origin + e > INT64_MAX)
        return INT64_MAX;
    return g->origin + (int64_t)e;
}

uint64_t rlc__gcra_give(const rlc__gcra *g, uint64_t consumed, int64_t now)
{
    int64_t e = elapsed(g, now);

    /* Only a bucket below capacity takes a token back: S - N < C, that is
     * floor(e * C / W) < N, that is e * C < N * W. */
    if (consumed == 0 || (i128)e * g->cap >= (i128)consumed * g->window)
        return consumed;
    return consumed - 1;
}

uint64_t rlc__gcra_convert(const rlc__gcra *from, uint64_t consumed,
                           rlc__gcra *to, int64_t now)
{
    int64_t avail = rlc__gcra_available(from, consumed, now);

    to->origin = now;
    if (avail >= to->cap)
        return 0;           /* full */
    if (avail >= from->cap) /* was full: what grew beyond it is spilled */
        return (uint64_t)(to->cap - avail);
    /* The part of the next token grown so far, rem / W of one, is kept:
     * the origin goes back by as much of the new interval W' / C', so a
     * bucket whose parameters change often still fills. back < W' / C',
     * so S'(now) is exactly C'. Never before the old origin, though: a
     * part of a token is dropped rather than the origin put before any
     * time this bucket has known. */
    {
        unsigned __int128 rem = (unsigned __int128)elapsed(from, now) *
                                (uint64_t)from->cap % (uint64_t)from->window;
        unsigned __int128 back =
            rem * (uint64_t)to->window /
            ((unsigned __int128)(uint64_t)from->window * (uint64_t)to->cap);

        int64_t e = elapsed(from, now);

        to->origin = now - (back < (unsigned __int128)e ? (int64_t)back : e);
    }
    /* At the new origin S = C', so N' = C' - available. */
    return (uint64_t)(to->cap - avail);
}

uint64_t rlc__gcra_rebase(rlc__gcra *g, uint64_t consumed, int64_t now)
{
    int64_t e = elapsed(g, now);
    uint64_t windows = (uint64_t)(e / g->window);
    unsigned __int128 shift = (unsigned __int128)windows * (uint64_t)g->cap;

    g->origin += (int64_t)windows * g->window;
    /* Consumed below the shift means the bucket was full: it stays so. */
    return consumed > shift ? (uint64_t)(consumed - shift) : 0;
}
