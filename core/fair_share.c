/* SPDX-License-Identifier: MIT */
/*
 * fair_share.c - max-min fair sharing by water-filling (see fair_share.h).
 */
#include <stdlib.h>

#include "fair_share.h"

static int cmp_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

double rlc__fair_share(double *asks, int n, double total, double ask)
{
    double floor = total / n * RLC__DEMAND_FLOOR, left = total;
    int i;

    for (i = 0; i < n; i++)
        if (asks[i] < floor)
            asks[i] = floor;
    if (ask < floor)
        ask = floor;
    qsort(asks, (size_t)n, sizeof(asks[0]), cmp_doubles);
    for (i = 0; i < n; i++) {
        if (asks[i] > left / (n - i))
            break;
        left -= asks[i];
    }
    if (i == n)
        return ask + left / n;
    return ask < left / (n - i) ? ask : left / (n - i);
}
