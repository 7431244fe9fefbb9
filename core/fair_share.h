/* SPDX-License-Identifier: MIT */
/*
 * fair_share.h - max-min fair sharing (water-filling), as every agent of a
 * swarm computes it from the demands its peers announce, and as rlctl
 * shows it.
 */
#ifndef RLC_FAIR_SHARE_H
#define RLC_FAIR_SHARE_H

/* Of an equal share: what an idle agent holds. */
#define RLC__DEMAND_FLOOR 0.1

/*
 * rlc__fair_share - the share of total that an agent asking `ask` gets
 * among n >= 1 agents whose asks are asks[0..n-1] (its own among them;
 * INFINITY: as much as it can get). Each ask is first raised to at least
 * RLC__DEMAND_FLOOR of an equal share; then, in increasing order, each
 * agent is given what it asks while that is no more than an equal share of
 * what is left, and the others share what is left equally; if everyone is
 * given what they ask, what is left is spread over all. The shares of the
 * n agents add up to total. asks is reordered.
 */
double rlc__fair_share(double *asks, int n, double total, double ask);

#endif /* RLC_FAIR_SHARE_H */
