/* SPDX-License-Identifier: MIT */
/*
 * hosts.c - hosts = patterns: parsing them, and matching a destination.
 *
 * Patterns are normalised once, when the file is loaded (names lower case
 * without a trailing dot, IPv4-mapped IPv6 stored as IPv4), so that
 * rlc_config_match, which runs in the preload's connect hook, only compares
 * bytes: no allocation, no lock, no locale.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

#define NAME_MAX_LEN 253 /* the longest DNS name, in text */
#define LABEL_MAX_LEN 63

/* An address to match, in the form patterns store. */
struct addr {
    int family;
    uint8_t b[16];
};

static bool fail(char *err, size_t errlen, const char *s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool fail(char *err, size_t errlen, const char *s, const char *fmt, ...)
{
    char why[160];
    va_list ap;

    if (err == NULL || errlen == 0)
        return false;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "host pattern '%.200s': %s", s, why);
    return false;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool all_digits(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!is_digit(s[i]))
            return false;
    return n > 0;
}

/* ::ffff:a.b.c.d becomes a.b.c.d; *prefix follows when given. */
static void unmap(struct addr *a, int *prefix)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
                                       0, 0, 0, 0, 0xff, 0xff};

    if (a->family != AF_INET6 || memcmp(a->b, mapped, 12) != 0)
        return;
    if (prefix != NULL && *prefix < 96)
        return;
    a->family = AF_INET;
    memmove(a->b, a->b + 12, 4);
    memset(a->b + 4, 0, 12);
    if (prefix != NULL)
        *prefix -= 96;
}

/* An address literal (no brackets) into *a; false when it is none. */
static bool literal(const char *s, struct addr *a)
{
    memset(a, 0, sizeof(*a));
    if (inet_pton(AF_INET, s, a->b) == 1) {
        a->family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, s, a->b) == 1) {
        a->family = AF_INET6;
        return true;
    }
    return false;
}

/* Whether the first prefix bits of x and y agree. */
static bool same_prefix(const uint8_t *x, const uint8_t *y, int prefix)
{
    int whole = prefix / 8, rest = prefix % 8;
    uint8_t mask;

    if (memcmp(x, y, (size_t)whole) != 0)
        return false;
    if (rest == 0)
        return true;
    mask = (uint8_t)(0xff << (8 - rest));
    return (x[whole] & mask) == (y[whole] & mask);
}

/* A number of at most maxdigits digits, or -1. */
static int number(const char *s, size_t n, size_t maxdigits)
{
    int v = 0;
    size_t i;

    if (n == 0 || n > maxdigits || !all_digits(s, n))
        return -1;
    for (i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* The address part of s (text, with prefix text after '/', if any). */
static bool parse_addr(const char *s, const char *text, const char *pfx,
                       rlc_host_pattern *out, char *err, size_t errlen)
{
    struct addr a;
    int max, prefix, i;

    if (!literal(text, &a)) {
        if (strchr(text, ':') != NULL)
            return fail(err, errlen, s, "not a valid IPv6 address");
        return fail(err, errlen, s, "not a valid IPv4 address");
    }
    max = a.family == AF_INET ? 32 : 128;
    prefix = max;
    if (pfx != NULL) {
        prefix = number(pfx, strlen(pfx), 3);
        if (prefix < 0)
            return fail(err, errlen, s, "prefix must be a number, got '%s'",
                        pfx);
        if (prefix > max)
            return fail(err, errlen, s, "prefix longer than %d", max);
        /* the bits after the prefix must be zero: 10.1.2.3/8 is a typo */
        for (i = prefix; i < max; i++)
            if (a.b[i / 8] & (0x80 >> (i % 8)))
                return fail(err, errlen, s,
                            "address has bits set after the /%d prefix",
                            prefix);
    }
    unmap(&a, &prefix);
    out->kind = RLC_HOST_ADDR;
    out->family = a.family;
    memcpy(out->addr, a.b, sizeof(out->addr));
    out->prefix = prefix;
    return true;
}

/* A host name or *.suffix, lower-cased into out->name. */
static bool parse_name(const char *s, const char *text, rlc_host_pattern *out,
                       char *err, size_t errlen)
{
    size_t n, i, label = 0, last = 0;
    const char *name = text;

    out->kind = RLC_HOST_NAME;
    if (name[0] == '*') {
        if (name[1] != '.' || name[2] == '\0')
            return fail(err, errlen, s,
                        "a wildcard needs a suffix, as in '*.example.com'");
        out->kind = RLC_HOST_SUFFIX;
        name += 2;
    }
    n = strlen(name);
    if (n > 0 && name[n - 1] == '.')
        n--; /* the root: "api.example.com." */
    if (n == 0)
        return fail(err, errlen, s, "empty name");
    if (n > NAME_MAX_LEN)
        return fail(err, errlen, s, "name longer than %d characters",
                    NAME_MAX_LEN);
    for (i = 0; i <= n; i++) {
        char c = i < n ? name[i] : '.';

        if (c == '.') {
            if (label == 0)
                return fail(err, errlen, s, "empty label");
            if (label > LABEL_MAX_LEN)
                return fail(err, errlen, s, "label longer than %d characters",
                            LABEL_MAX_LEN);
            if (name[i - 1] == '-' || name[i - label] == '-')
                return fail(err, errlen, s,
                            "a label cannot start or end with '-'");
            last = i - label;
            label = 0;
            if (i < n)
                out->name[i] = '.';
            continue;
        }
        if (c == '*')
            return fail(err, errlen, s,
                        "'*' must be the whole first label, as in "
                        "'*.example.com'");
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
              c == '-' || c == '_')) {
            if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
                return fail(err, errlen, s, "invalid character 0x%02x",
                            (unsigned char)c);
            return fail(err, errlen, s, "invalid character '%c'", c);
        }
        out->name[i] = lower(c);
        label++;
    }
    out->name[n] = '\0';
    /* no top-level domain is numeric: this was meant as an address */
    if (out->kind == RLC_HOST_NAME && all_digits(name + last, n - last))
        return fail(err, errlen, s, "not a valid IPv4 address");
    return true;
}

bool rlc_host_pattern_parse(const char *s, rlc_host_pattern *out, char *err,
                            size_t errlen)
{
    char buf[RLC_HOSTNAME_MAX + 64];
    char *host = buf, *port = NULL, *pfx = NULL, *p;
    struct addr a;
    size_t n;

    if (s == NULL || out == NULL)
        return fail(err, errlen, "", "missing");
    memset(out, 0, sizeof(*out));
    n = strlen(s);
    if (n == 0)
        return fail(err, errlen, s, "empty");
    if (n >= sizeof(buf))
        return fail(err, errlen, s, "longer than %zu characters",
                    sizeof(buf) - 1);
    memcpy(buf, s, n + 1);

    if (buf[0] == '[') {
        p = strchr(buf, ']');
        if (p == NULL)
            return fail(err, errlen, s, "missing ']'");
        host = buf + 1;
        *p++ = '\0';
        if (*p == '/') {
            *p++ = '\0';
            pfx = p;
            p += strcspn(p, ":");
        }
        if (*p == ':') {
            *p++ = '\0';
            port = p;
        } else if (*p != '\0') {
            return fail(err, errlen, s, "unexpected '%s' after ']'", p);
        }
        if (strchr(host, ':') == NULL)
            return fail(err, errlen, s, "not a valid IPv6 address");
    } else {
        p = strchr(buf, ':');
        /* two colons or more: an IPv6 literal without brackets, no port */
        if (p != NULL && strchr(p + 1, ':') == NULL) {
            *p++ = '\0';
            port = p;
        }
        p = strchr(buf, '/');
        if (p != NULL) {
            *p++ = '\0';
            pfx = p;
        }
    }

    if (port != NULL) {
        out->port = number(port, strlen(port), 5);
        if (out->port < 1 || out->port > 65535)
            return fail(err, errlen, s, "port must be 1 to 65535, got '%s'",
                        port);
    }
    if (*host == '\0')
        return fail(err, errlen, s, "no host before the port");
    if (pfx != NULL || strchr(host, ':') != NULL || literal(host, &a))
        return parse_addr(s, host, pfx, out, err, errlen);
    return parse_name(s, host, out, err, errlen);
}

/* host as a name to match: lower case, no trailing dot; false if none. */
static bool normal_name(const char *host, char *name, size_t *len)
{
    size_t n = strlen(host), i;

    if (n > 0 && host[n - 1] == '.')
        n--;
    if (n == 0 || n >= RLC_HOSTNAME_MAX)
        return false;
    for (i = 0; i < n; i++)
        name[i] = lower(host[i]);
    name[n] = '\0';
    *len = n;
    return true;
}

/* host as an address literal, bracketed or not. */
static bool host_addr(const char *host, struct addr *a)
{
    char buf[64];
    size_t n = strlen(host);

    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    if (n >= sizeof(buf))
        return false;
    memcpy(buf, host, n);
    buf[n] = '\0';
    if (!literal(buf, a))
        return false;
    unmap(a, NULL);
    return true;
}

static bool sock_addr(const struct sockaddr *sa, struct addr *a)
{
    memset(a, 0, sizeof(*a));
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in in;

        memcpy(&in, sa, sizeof(in));
        a->family = AF_INET;
        memcpy(a->b, &in.sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 in6;

        memcpy(&in6, sa, sizeof(in6));
        a->family = AF_INET6;
        memcpy(a->b, &in6.sin6_addr, 16);
        unmap(a, NULL);
    } else {
        return false;
    }
    return true;
}

static bool match_one(const rlc_host_pattern *p, const char *name, size_t nlen,
                      const struct addr *addrs, int naddrs)
{
    size_t slen;
    int i;

    switch (p->kind) {
    case RLC_HOST_NAME:
        return nlen > 0 && strcmp(p->name, name) == 0;
    case RLC_HOST_SUFFIX:
        slen = strlen(p->name);
        return nlen > slen + 1 && name[nlen - slen - 1] == '.' &&
               memcmp(name + nlen - slen, p->name, slen) == 0;
    case RLC_HOST_ADDR:
        for (i = 0; i < naddrs; i++)
            if (addrs[i].family == p->family &&
                same_prefix(addrs[i].b, p->addr, p->prefix))
                return true;
        return false;
    }
    return false;
}

const rlc_resource_config *rlc_config_match(const rlc_config *c,
                                            const char *host,
                                            const struct sockaddr *sa, int port)
{
    char name[RLC_HOSTNAME_MAX] = "";
    size_t nlen = 0, r, h;
    struct addr addrs[2];
    int naddrs = 0;

    if (c == NULL)
        return NULL;
    if (host != NULL && host_addr(host, &addrs[naddrs]))
        naddrs++;
    else if (host != NULL && !normal_name(host, name, &nlen))
        nlen = 0;
    if (sa != NULL && sock_addr(sa, &addrs[naddrs]))
        naddrs++;
    for (r = 0; r < c->nresources; r++) {
        const rlc_resource_config *res = &c->resources[r];

        for (h = 0; h < res->nhosts; h++) {
            const rlc_host_pattern *p = &res->hosts[h];

            if (p->port != 0 && p->port != port)
                continue;
            if (match_one(p, name, nlen, addrs, naddrs))
                return res;
        }
    }
    return NULL;
}
