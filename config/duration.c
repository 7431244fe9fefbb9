/* SPDX-License-Identifier: MIT */
/*
 * duration.c - "500ms", "1h30m", "1.5s" into int64_t nanoseconds.
 *
 * Integer arithmetic only: a decimal fraction is scaled digit by digit from
 * its last digit, so "0.1s" is exactly 100000000 ns and no float rounding or
 * overflow can slip through.
 */
#include <stdint.h>
#include <string.h>

#include "config.h"

static const struct unit {
    const char *name;
    int64_t ns;
} units[] = {
    /* longest first, so that "ms" is not read as "m" */
    {"ms", RLC_MILLISECOND}, {"us", 1000},      {"ns", 1},
    {"h", 60 * RLC_MINUTE},  {"m", RLC_MINUTE}, {"s", RLC_SECOND},
};
static const struct unit seconds = {"s", RLC_SECOND};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The unit at s, or NULL; *len gets its length. */
static const struct unit *unit_at(const char *s, size_t *len)
{
    size_t i;

    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        *len = strlen(units[i].name);
        if (strncmp(s, units[i].name, *len) == 0)
            return &units[i];
    }
    return NULL;
}

/*
 * floor(0.frac * unit) for the digits frac[0..n): Horner's rule from the
 * last digit keeps every step below 10 * unit, and flooring at each step
 * gives the same result as flooring once.
 */
static int64_t fraction(const char *frac, size_t n, int64_t unit)
{
    int64_t x = 0;

    while (n-- > 0)
        x = ((frac[n] - '0') * unit + x) / 10;
    return x;
}

/* Adds a * b to *acc; false on overflow. a, b, *acc are >= 0. */
static bool add_product(int64_t *acc, int64_t a, int64_t b)
{
    if (a != 0 && b > (INT64_MAX - *acc) / a)
        return false;
    *acc += a * b;
    return true;
}

bool rlc_parse_duration(const char *s, int64_t *out_ns)
{
    int64_t total = 0;
    bool bare = true; /* no unit seen: a plain number of seconds */

    if (s == NULL || out_ns == NULL || *s == '\0')
        return false;
    while (*s != '\0') {
        int64_t whole = 0;
        const char *frac = NULL;
        size_t nfrac = 0, ulen = 0;
        const struct unit *u;
        bool digits = false;

        for (; is_digit(*s); s++) {
            if (whole > (INT64_MAX - (*s - '0')) / 10)
                return false;
            whole = whole * 10 + (*s - '0');
            digits = true;
        }
        if (*s == '.') {
            frac = ++s;
            while (is_digit(*s))
                s++;
            nfrac = (size_t)(s - frac);
            digits = digits || nfrac > 0;
        }
        if (!digits)
            return false;
        if (*s == '\0' && bare) {
            u = &seconds;
        } else {
            u = unit_at(s, &ulen);
            if (u == NULL)
                return false;
            bare = false;
            s += ulen;
        }
        if (!add_product(&total, whole, u->ns) ||
            !add_product(&total, 1, fraction(frac, nfrac, u->ns)))
            return false;
    }
    *out_ns = total;
    return true;
}
