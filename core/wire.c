/* SPDX-License-Identifier: MIT */
/*
 * wire.c - bus messages as JSON, and RFC 3339 time written by hand.
 *
 * jansson parses (strict: duplicate keys, bad UTF-8, overflowing numbers
 * are refused) and escapes; this file checks types and ranges. The encoder
 * then redoes the few escapes where jansson and Go's encoding/json differ,
 * so a capacity update is byte for byte what a Go agent would send.
 */
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

/* What Go's encoding/json writes for time.Time{}. */
static const char go_zero_time[] = "0001-01-01T00:00:00Z";

/* RFC 3339 */

#define SECS_PER_DAY INT64_C(86400)

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil): exact for any year, no table, no libc. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : days[m - 1];
}

/* n ASCII digits as a number, or -1 (isdigit() would follow the locale). */
static int digits(const char *s, size_t n)
{
    int v = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

bool rlc__rfc3339_parse(const char *s, size_t len, int64_t *unix_ns)
{
    int year, month, day, hour, min, sec, off = 0;
    int64_t nsec = 0, secs;
    size_t i = 19;

    if (s == NULL || unix_ns == NULL || len < 20)
        return false;
    if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':')
        return false;
    year = digits(s, 4);
    month = digits(s + 5, 2);
    day = digits(s + 8, 2);
    hour = digits(s + 11, 2);
    min = digits(s + 14, 2);
    sec = digits(s + 17, 2);
    if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 ||
        hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 59)
        return false;
    if (day > days_in_month(year, month))
        return false;

    if (s[i] == '.') {
        size_t start = ++i;
        int64_t scale = RLC_SECOND;

        while (i < len && i - start < 10 && s[i] >= '0' && s[i] <= '9') {
            scale /= 10;
            nsec += (s[i] - '0') * scale;
            i++;
        }
        if (i == start || i - start > 9)
            return false;
    }

    if (len - i == 1 && s[i] == 'Z') {
        off = 0;
    } else if (len - i == 6 && (s[i] == '+' || s[i] == '-') &&
               s[i + 3] == ':') {
        int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);

        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return false;
        off = (oh * 60 + om) * 60 * (s[i] == '-' ? -1 : 1);
    } else {
        return false;
    }

    /* Years 0..9999 keep this far inside int64; the range check is on
     * seconds first so that the multiplication cannot overflow. */
    secs = days_from_civil(year, month, day) * SECS_PER_DAY + hour * 3600 +
           min * 60 + sec - off;
    if (secs > INT64_MAX / RLC_SECOND ||
        (secs == INT64_MAX / RLC_SECOND && nsec > INT64_MAX % RLC_SECOND))
        return false;
    /* INT64_MIN is -9223372037 s + 145224192 ns. */
    if (secs < INT64_MIN / RLC_SECOND - 1 ||
        (secs == INT64_MIN / RLC_SECOND - 1 &&
         nsec < RLC_SECOND + INT64_MIN % RLC_SECOND))
        return false;
    if (secs < 0) /* (secs + 1) * 1e9 fits where secs * 1e9 may not */
        *unix_ns = (secs + 1) * RLC_SECOND + (nsec - RLC_SECOND);
    else
        *unix_ns = secs * RLC_SECOND + nsec;
    return true;
}

static char *put_digits(char *p, int64_t v, int width)
{
    int i;

    for (i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

size_t rlc__rfc3339_format(int64_t unix_ns, char *buf, size_t n)
{
    char tmp[40], *p = tmp;
    int64_t secs = unix_ns / RLC_SECOND, nsec = unix_ns % RLC_SECOND;
    int64_t days, rem, year;
    int month, day, width = 9;
    size_t len;

    if (nsec < 0) {
        nsec += RLC_SECOND;
        secs--;
    }
    days = secs / SECS_PER_DAY;
    rem = secs % SECS_PER_DAY;
    if (rem < 0) {
        rem += SECS_PER_DAY;
        days--;
    }
    civil_from_days(days, &year, &month, &day);

    p = put_digits(p, year, 4);
    *p++ = '-';
    p = put_digits(p, month, 2);
    *p++ = '-';
    p = put_digits(p, day, 2);
    *p++ = 'T';
    p = put_digits(p, rem / 3600, 2);
    *p++ = ':';
    p = put_digits(p, rem / 60 % 60, 2);
    *p++ = ':';
    p = put_digits(p, rem % 60, 2);
    if (nsec != 0) {
        while (nsec % 10 == 0) {
            nsec /= 10;
            width--;
        }
        *p++ = '.';
        p = put_digits(p, nsec, width);
    }
    *p++ = 'Z';

    len = (size_t)(p - tmp);
    if (buf == NULL || n < len + 1)
        return 0;
    memcpy(buf, tmp, len);
    buf[len] = '\0';
    return len;
}

/* UTF-8 */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0: the same
 * rule as Go's utf8.DecodeRune (no overlong forms, no surrogates, nothing
 * above U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t len, i;
    unsigned char lo = 0x80, hi = 0xBF;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        len = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        len = 3;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        len = 4;
    else
        return 0;
    if (s[0] == 0xE0)
        lo = 0xA0;
    else if (s[0] == 0xED)
        hi = 0x9F;
    else if (s[0] == 0xF0)
        lo = 0x90;
    else if (s[0] == 0xF4)
        hi = 0x8F;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

/* Decoding */

static rlc_status load(const void *data, size_t len, json_t **root)
{
    json_error_t err;

    *root = NULL;
    if (data == NULL || len == 0 || len > RLC_WIRE_MAX)
        return RLC_EINVAL;
    /* JSON_ALLOW_NUL: a NUL in a reason is cut, not a reason to drop the
     * whole update; names with one are refused below. */
    *root =
        json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (*root == NULL)
        return json_error_code(&err) == json_error_out_of_memory ? RLC_ENOMEM
                                                                 : RLC_EINVAL;
    if (!json_is_object(*root)) {
        json_decref(*root);
        *root = NULL;
        return RLC_EINVAL;
    }
    return RLC_OK;
}

/* The field, or NULL when it is missing or null: Go reads null as "leave
 * the zero value", so a null field is as good as an absent one. */
static json_t *field(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    return json_is_null(v) ? NULL : v;
}

static bool get_name(const json_t *v, char *dst, size_t cap)
{
    size_t len;

    if (!json_is_string(v))
        return false;
    len = json_string_length(v);
    if (len >= cap || memchr(json_string_value(v), '\0', len) != NULL)
        return false;
    memcpy(dst, json_string_value(v), len);
    dst[len] = '\0';
    return true;
}

/* Cut at the first NUL and to cap - 1 bytes, never inside a character:
 * jansson has checked that the string is valid UTF-8. */
static void get_reason(const json_t *v, char *dst, size_t cap)
{
    const char *s = json_string_value(v);
    const char *nul = memchr(s, '\0', json_string_length(v));
    size_t len = nul != NULL ? (size_t)(nul - s) : json_string_length(v);

    if (len >= cap) {
        len = cap - 1;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
    }
    memcpy(dst, s, len);
    dst[len] = '\0';
}

static rlc_status decode_capacity(const json_t *o, rlc__capacity_msg *out)
{
    const json_t *v;

    if (!get_name(field(o, "resource"), out->resource, RLC_RESOURCE_MAX) ||
        !get_name(field(o, "agent_id"), out->agent_id, RLC_RESOURCE_MAX))
        return RLC_EINVAL;

    v = field(o, "new_capacity");
    if (!json_is_integer(v))
        return RLC_EINVAL;
    out->new_capacity = json_integer_value(v);

    v = field(o, "reason");
    if (v != NULL && !json_is_string(v))
        return RLC_EINVAL;
    if (v != NULL)
        get_reason(v, out->reason, RLC_REASON_MAX);

    /* Go's zero time and clocks far off are facts about the sender, not
     * malformed messages: the update still counts, without a time. */
    v = field(o, "timestamp");
    if (json_is_string(v))
        out->has_timestamp = rlc__rfc3339_parse(
            json_string_value(v), json_string_length(v), &out->timestamp_ns);

    v = field(o, "rlc_epoch");
    if (v != NULL) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return RLC_EINVAL;
        out->has_epoch = true;
        out->epoch = (uint64_t)json_integer_value(v);
    }
    v = field(o, "rlc_total");
    if (v != NULL) {
        if (!json_is_integer(v))
            return RLC_EINVAL;
        out->has_total = true;
        out->total = json_integer_value(v);
    }
    v = field(o, "rlc_pause_until");
    if (v != NULL) {
        if (!json_is_string(v) ||
            !rlc__rfc3339_parse(json_string_value(v), json_string_length(v),
                                &out->pause_until_ns))
            return RLC_EINVAL;
        out->has_pause = true;
    }
    return RLC_OK;
}

rlc_status rlc__wire_decode_capacity(const void *data, size_t len,
                                     rlc__capacity_msg *out)
{
    json_t *root;
    rlc_status st;

    if (out == NULL)
        return RLC_EINVAL;
    memset(out, 0, sizeof(*out));
    st = load(data, len, &root);
    if (st != RLC_OK)
        return st;
    st = decode_capacity(root, out);
    json_decref(root);
    return st;
}

static rlc_status decode_presence(const json_t *o, rlc__presence_msg *out)
{
    json_t *v, *d;
    const char *key;
    size_t key_len;

    if (!get_name(field(o, "agent_id"), out->agent_id, RLC_RESOURCE_MAX))
        return RLC_EINVAL;

    v = field(o, "interval_ms");
    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        return RLC_EINVAL;
    out->interval_ms = json_integer_value(v);

    v = field(o, "leaving");
    if (v != NULL && !json_is_boolean(v))
        return RLC_EINVAL;
    out->leaving = json_is_true(v);

    v = field(o, "demand");
    if (v == NULL)
        return RLC_OK;
    if (!json_is_object(v))
        return RLC_EINVAL;
    out->has_demand = true;
    json_object_keylen_foreach(v, key, key_len, d)
    {
        double x;
        int i = out->nresources;

        if (!json_is_number(d))
            return RLC_EINVAL;
        x = json_number_value(d);
        if (!isfinite(x) || x < 0)
            return RLC_EINVAL;
        /* The parser refuses NUL in keys; key_len is checked anyway. */
        if (i == RLC_PRESENCE_RESOURCES || key_len >= RLC_RESOURCE_MAX ||
            memchr(key, '\0', key_len) != NULL) {
            out->demand_partial = true;
            continue;
        }
        memcpy(out->resources[i].name, key, key_len);
        out->resources[i].name[key_len] = '\0';
        out->resources[i].demand = x;
        out->nresources++;
    }
    return RLC_OK;
}

rlc_status rlc__wire_decode_presence(const void *data, size_t len,
                                     rlc__presence_msg *out)
{
    json_t *root;
    rlc_status st;

    if (out == NULL)
        return RLC_EINVAL;
    memset(out, 0, sizeof(*out));
    st = load(data, len, &root);
    if (st != RLC_OK)
        return st;
    st = decode_presence(root, out);
    json_decref(root);
    return st;
}

/* Encoding */

/* A JSON string of a C string held in an array of cap bytes; NULL when it
 * is not NUL-terminated there or not UTF-8 (json_stringn checks). */
static json_t *name_value(const char *s, size_t cap)
{
    size_t len = strnlen(s, cap);

    return len == cap ? NULL : json_stringn(s, len);
}

/* As Go: each byte that does not start a valid sequence becomes U+FFFD. */
static json_t *reason_value(const char *s, size_t cap)
{
    size_t len = strnlen(s, cap), i = 0, o = 0, k;
    char fixed[3 * RLC_REASON_MAX];
    const unsigned char *u = (const unsigned char *)s;

    if (len == cap)
        return NULL;
    while (i < len) {
        k = utf8_seq(u + i, len - i);
        if (k == 0) {
            memcpy(fixed + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            memcpy(fixed + o, s + i, k);
            o += k;
            i += k;
        }
    }
    return json_stringn(fixed, o);
}

static void put(const char *src, size_t k, char *buf, size_t n, size_t *o)
{
    if (*o <= n && k <= n - *o)
        memcpy(buf + *o, src, k);
    *o += k;
}

/*
 * Copies jansson's compact output s to buf with Go's escapes: <, >, & and
 * U+2028/9 as \u003c..\u2029 (Go's HTML-safe default) and \u00XX in
 * lowercase hex. Outside strings JSON has none of these bytes, and inside a
 * string every backslash starts an escape, so a forward scan is exact.
 */
static int go_escape(const char *s, char *buf, size_t n)
{
    size_t i, o = 0;

    for (i = 0; s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '\\' && s[i + 1] == 'u') {
            char esc[6] = {'\\', 'u'};
            size_t k;

            for (k = 0; k < 4 && s[i + 2 + k] != '\0'; k++) {
                char h = s[i + 2 + k];

                esc[2 + k] = h >= 'A' && h <= 'F' ? (char)(h - 'A' + 'a') : h;
            }
            put(esc, 2 + k, buf, n, &o);
            i += 1 + k;
        } else if (c == '\\' && s[i + 1] != '\0') {
            put(s + i, 2, buf, n, &o);
            i++;
        } else if (c == '<') {
            put("\\u003c", 6, buf, n, &o);
        } else if (c == '>') {
            put("\\u003e", 6, buf, n, &o);
        } else if (c == '&') {
            put("\\u0026", 6, buf, n, &o);
        } else if (c == 0xE2 && (unsigned char)s[i + 1] == 0x80 &&
                   ((unsigned char)s[i + 2] == 0xA8 ||
                    (unsigned char)s[i + 2] == 0xA9)) {
            put((unsigned char)s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6, buf,
                n, &o);
            i += 2;
        } else {
            put(s + i, 1, buf, n, &o);
        }
    }
    if (o > n || o > INT_MAX)
        return -1;
    if (o < n)
        buf[o] = '\0';
    return (int)o;
}

/* Dumps and frees o; -1 when anything failed to be added (ok false). */
static int finish(json_t *o, bool ok, char *buf, size_t n)
{
    char *s = NULL;
    int len = -1;

    if (ok && o != NULL)
        s = json_dumps(o, JSON_COMPACT);
    if (s != NULL)
        len = go_escape(s, buf, n);
    free(s);
    json_decref(o);
    return len;
}

/* Adds v to o under key, taking v; a NULL v (an earlier failure) or a
 * failed set clears *ok. */
static void add(json_t *o, const char *key, json_t *v, bool *ok)
{
    if (o == NULL) {
        json_decref(v);
        *ok = false;
    } else if (json_object_set_new(o, key, v) != 0) {
        *ok = false;
    }
}

static json_t *time_value(int64_t unix_ns)
{
    char ts[40];
    size_t len = rlc__rfc3339_format(unix_ns, ts, sizeof(ts));

    return json_stringn(ts, len);
}

int rlc__wire_encode_capacity(const rlc__capacity_msg *m, char *buf, size_t n)
{
    json_t *o;
    bool ok = true;

    if (m == NULL || (buf == NULL && n > 0))
        return -1;
    if (m->has_epoch && m->epoch > INT64_MAX)
        return -1;
    o = json_object();
    /* Go's struct order; jansson keeps insertion order. */
    add(o, "resource", name_value(m->resource, RLC_RESOURCE_MAX), &ok);
    add(o, "agent_id", name_value(m->agent_id, RLC_RESOURCE_MAX), &ok);
    add(o, "new_capacity", json_integer(m->new_capacity), &ok);
    add(o, "reason", reason_value(m->reason, RLC_REASON_MAX), &ok);
    add(o, "timestamp",
        m->has_timestamp ? time_value(m->timestamp_ns)
                         : json_string(go_zero_time),
        &ok);
    if (m->has_epoch)
        add(o, "rlc_epoch", json_integer((json_int_t)m->epoch), &ok);
    if (m->has_total)
        add(o, "rlc_total", json_integer(m->total), &ok);
    if (m->has_pause)
        add(o, "rlc_pause_until", time_value(m->pause_until_ns), &ok);
    return finish(o, ok, buf, n);
}

int rlc__wire_encode_presence(const rlc__presence_msg *m, char *buf, size_t n)
{
    json_t *o, *d;
    bool ok = true;
    int i;

    if (m == NULL || (buf == NULL && n > 0) || m->interval_ms <= 0 ||
        m->nresources < 0 || m->nresources > RLC_PRESENCE_RESOURCES)
        return -1;
    o = json_object();
    add(o, "agent_id", name_value(m->agent_id, RLC_RESOURCE_MAX), &ok);
    add(o, "interval_ms", json_integer(m->interval_ms), &ok);
    add(o, "leaving", json_boolean(m->leaving), &ok);
    if (!m->has_demand)
        return finish(o, ok && m->nresources == 0, buf, n);
    d = json_object();
    for (i = 0; ok && d != NULL && i < m->nresources; i++) {
        const char *name = m->resources[i].name;
        double x = m->resources[i].demand;
        size_t len = strnlen(name, RLC_RESOURCE_MAX);

        /* json_real refuses NaN and infinities itself. */
        if (len == RLC_RESOURCE_MAX || !(x >= 0) ||
            json_object_getn(d, name, len) != NULL ||
            json_object_setn_new(d, name, len, json_real(x)) != 0)
            ok = false;
    }
    add(o, "demand", d, &ok);
    return finish(o, ok, buf, n);
}
