/* SPDX-License-Identifier: MIT */
/*
 * http1_date.c - Retry-After values: delta-seconds and the three HTTP-date
 * forms (IMF-fixdate, RFC 850, asctime) as Unix seconds.
 *
 * The calendar is computed here from the civil date (no timegm, no TZ, no
 * locale, no allocation), so it can run inside any hooked libc call.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "http1.h"

static const char *const wkday[7] = {"Mon", "Tue", "Wed", "Thu",
                                     "Fri", "Sat", "Sun"};
static const char *const weekday[7] = {"Monday",   "Tuesday", "Wednesday",
                                       "Thursday", "Friday",  "Saturday",
                                       "Sunday"};
static const char *const month[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

struct cur {
    const char *p;
    size_t n, i;
};

static bool leap(int64_t y)
{
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static int mdays(int64_t y, int m)
{
    static const uint8_t n[12] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};

    return n[m] + (m == 1 && leap(y));
}

/*
 * Days from 1970-01-01 to y-(m+1)-d: whole years since year 1 with their
 * leap days, then the months of this year. 719162 is the same count for
 * 1970-01-01. Monotonic in y, which year_of() relies on.
 */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    static const int16_t before[12] = {0,   31,  59,  90,  120, 151,
                                       181, 212, 243, 273, 304, 334};
    int64_t p = y - 1;

    return 365 * p + p / 4 - p / 100 + p / 400 + before[m] +
           (m > 1 && leap(y)) + d - 1 - 719162;
}

/* The civil year containing Unix time t. */
static int64_t year_of(int64_t t)
{
    int64_t days = t / 86400 - (t % 86400 < 0);
    int64_t y = 1970 + days * 400 / 146097;

    while (days_from_civil(y, 0, 1) > days)
        y--;
    while (days_from_civil(y + 1, 0, 1) <= days)
        y++;
    return y;
}

static bool lit(struct cur *c, const char *s)
{
    size_t k = strlen(s);

    if (c->n - c->i < k || memcmp(c->p + c->i, s, k) != 0)
        return false;
    c->i += k;
    return true;
}

/* Exactly w digits. */
static bool num(struct cur *c, int w, int *out)
{
    int v = 0;

    if (c->n - c->i < (size_t)w)
        return false;
    for (int k = 0; k < w; k++) {
        char ch = c->p[c->i + k];

        if (ch < '0' || ch > '9')
            return false;
        v = v * 10 + (ch - '0');
    }
    c->i += (size_t)w;
    *out = v;
    return true;
}

/* Which of names[0..count) comes next (case-sensitive, as the RFC says). */
static int pick(struct cur *c, const char *const *names, int count)
{
    for (int k = 0; k < count; k++)
        if (lit(c, names[k]))
            return k;
    return -1;
}

/* hh:mm:ss, a leap second allowed. */
static bool clock_time(struct cur *c, int *secs)
{
    int h, m, s;

    if (!num(c, 2, &h) || !lit(c, ":") || !num(c, 2, &m) || !lit(c, ":") ||
        !num(c, 2, &s))
        return false;
    if (h > 23 || m > 59 || s > 60)
        return false;
    *secs = h * 3600 + m * 60 + s;
    return true;
}

static bool to_unix(int64_t y, int m, int d, int secs, int64_t *out)
{
    if (y < 1 || y > 9999 || m < 0 || d < 1 || d > mdays(y, m))
        return false;
    *out = days_from_civil(y, m, d) * 86400 + secs;
    return true;
}

/* Sun, 06 Nov 1994 08:49:37 GMT */
static bool imf_fixdate(struct cur c, int64_t *out)
{
    int d, y, secs, m;

    if (pick(&c, wkday, 7) < 0 || !lit(&c, ", ") || !num(&c, 2, &d) ||
        !lit(&c, " "))
        return false;
    m = pick(&c, month, 12);
    if (m < 0 || !lit(&c, " ") || !num(&c, 4, &y) || !lit(&c, " ") ||
        !clock_time(&c, &secs) || !lit(&c, " GMT") || c.i != c.n)
        return false;
    return to_unix(y, m, d, secs, out);
}

/* Sunday, 06-Nov-94 08:49:37 GMT */
static bool rfc850(struct cur c, int64_t now, int64_t *out)
{
    int d, yy, secs, m;
    int64_t cur, y;

    if (pick(&c, weekday, 7) < 0 || !lit(&c, ", ") || !num(&c, 2, &d) ||
        !lit(&c, "-"))
        return false;
    m = pick(&c, month, 12);
    if (m < 0 || !lit(&c, "-") || !num(&c, 2, &yy) || !lit(&c, " ") ||
        !clock_time(&c, &secs) || !lit(&c, " GMT") || c.i != c.n)
        return false;
    /* RFC 9110 5.6.7: more than 50 years ahead means the last century. */
    cur = year_of(now);
    y = cur - cur % 100 + yy;
    if (y > cur + 50)
        y -= 100;
    return to_unix(y, m, d, secs, out);
}

/* Sun Nov  6 08:49:37 1994 */
static bool asctime_date(struct cur c, int64_t *out)
{
    int d, y, secs, m;

    if (pick(&c, wkday, 7) < 0 || !lit(&c, " "))
        return false;
    m = pick(&c, month, 12);
    if (m < 0 || !lit(&c, " "))
        return false;
    if (lit(&c, " ")) {
        if (!num(&c, 1, &d))
            return false;
    } else if (!num(&c, 2, &d)) {
        return false;
    }
    if (!lit(&c, " ") || !clock_time(&c, &secs) || !lit(&c, " ") ||
        !num(&c, 4, &y) || c.i != c.n)
        return false;
    return to_unix(y, m, d, secs, out);
}

static bool delta_seconds(struct cur c, int64_t now, int64_t *out)
{
    int64_t v = 0;

    for (; c.i < c.n; c.i++) {
        int dig = c.p[c.i] - '0';

        if (dig < 0 || dig > 9 || v > (INT64_MAX - dig) / 10)
            return false;
        v = v * 10 + dig;
    }
    if (now > 0 && v > INT64_MAX - now)
        return false;
    *out = now + v;
    return true;
}

bool rlc_http1_parse_retry_after(const char *v, size_t len, int64_t now_unix,
                                 int64_t *out_unix)
{
    struct cur c = {v, len, 0};
    int64_t t;
    bool ok;

    if (v == NULL || out_unix == NULL)
        return false;
    while (c.n > 0 && (v[c.n - 1] == ' ' || v[c.n - 1] == '\t'))
        c.n--;
    while (c.i < c.n && (v[c.i] == ' ' || v[c.i] == '\t'))
        c.i++;
    if (c.i == c.n)
        return false;
    if (v[c.i] >= '0' && v[c.i] <= '9')
        ok = delta_seconds(c, now_unix, &t);
    else
        ok = imf_fixdate(c, &t) || rfc850(c, now_unix, &t) ||
             asctime_date(c, &t);
    if (ok)
        *out_unix = t;
    return ok;
}
