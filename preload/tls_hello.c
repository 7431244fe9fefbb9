/* SPDX-License-Identifier: MIT */
/*
 * tls_hello.c - reads a TLS ClientHello in place, however it is cut into
 * records: a cursor walks the handshake bytes across record headers, so
 * nothing is reassembled and the stack stays small inside other programs'
 * hooks. Every length is checked against its parent before it is used; the
 * first failure sticks, so the parser reads straight through without
 * checking after every field.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tls_hello.h"

#define CT_HANDSHAKE 22
#define HT_CLIENT_HELLO 1
#define REC_HDR 5
#define HS_HDR 4

#define EXT_SERVER_NAME 0
#define EXT_ALPN 16
#define EXT_SUPPORTED_VERSIONS 43
#define NAME_HOST 0

/* The handshake bytes of buf, record by record. */
struct rd {
    const uint8_t *p;
    size_t len;
    size_t at;   /* next byte of p */
    size_t left; /* bytes of the current record's payload from at */
    size_t off;  /* handshake bytes consumed: logical offset */
    rlc_tls_hello_status err; /* first failure; OK while there is none */
};

static void fail(struct rd *r, rlc_tls_hello_status st)
{
    if (r->err == RLC_TLS_HELLO_OK)
        r->err = st;
}

/* The header bytes of a record present so far are those of a handshake
 * record in versions 3.0..3.4. */
static bool header_ok(const uint8_t *h, size_t n)
{
    return (n < 1 || h[0] == CT_HANDSHAKE) && (n < 2 || h[1] == 3) &&
           (n < 3 || h[2] <= 4);
}

/* Make at least one payload byte ready at r->at, stepping over record
 * headers. False (with err set) when there is none. */
static bool ready(struct rd *r)
{
    while (r->left == 0) {
        const uint8_t *h = r->p + r->at;
        size_t n;

        if (r->len - r->at < REC_HDR) {
            fail(r, header_ok(h, r->len - r->at) ? RLC_TLS_HELLO_PARTIAL
                                                 : RLC_TLS_HELLO_MALFORMED);
            return false;
        }
        n = (size_t)h[3] << 8 | h[4];
        /* Handshake messages may not interleave with other content, and
         * an empty handshake fragment is forbidden (RFC 8446 5.1). */
        if (!header_ok(h, REC_HDR) || n == 0 || n > RLC_TLS_RECORD_MAX) {
            fail(r, RLC_TLS_HELLO_MALFORMED);
            return false;
        }
        r->at += REC_HDR;
        r->left = n;
    }
    if (r->at == r->len) {
        fail(r, RLC_TLS_HELLO_PARTIAL);
        return false;
    }
    return true;
}

/* Read n handshake bytes into dst (NULL: skip them), none beyond the
 * logical offset end. */
static void take(struct rd *r, void *dst, size_t n, size_t end)
{
    uint8_t *d = dst;

    if (r->err != RLC_TLS_HELLO_OK)
        return;
    if (n > end - r->off) {
        fail(r, RLC_TLS_HELLO_MALFORMED);
        return;
    }
    while (n > 0) {
        size_t k = n;

        if (!ready(r))
            return;
        if (k > r->left)
            k = r->left;
        if (k > r->len - r->at)
            k = r->len - r->at;
        if (d != NULL) {
            memcpy(d, r->p + r->at, k);
            d += k;
        }
        r->at += k;
        r->left -= k;
        r->off += k;
        n -= k;
    }
}

/* Skip to the logical offset vend, the end of a vector just opened. */
static void skip_to(struct rd *r, size_t vend)
{
    if (r->err == RLC_TLS_HELLO_OK)
        take(r, NULL, vend - r->off, vend);
}

/* A big-endian integer of n (1..3) bytes; 0 after a failure. */
static size_t num(struct rd *r, size_t n, size_t end)
{
    uint8_t b[3] = {0, 0, 0};
    size_t v = 0;

    take(r, b, n, end);
    for (size_t i = 0; i < n; i++)
        v = v << 8 | b[i];
    return r->err == RLC_TLS_HELLO_OK ? v : 0;
}

/* A vector's length prefix of n bytes: the logical offset where the
 * vector ends, which must be within end; its length must be at least min.
 * After a failure, r->off, so loops over the vector stop. */
static size_t vec(struct rd *r, size_t n, size_t min, size_t end)
{
    size_t v = num(r, n, end);

    if (r->err == RLC_TLS_HELLO_OK && (v < min || v > end - r->off))
        fail(r, RLC_TLS_HELLO_MALFORMED);
    return r->err == RLC_TLS_HELLO_OK ? r->off + v : r->off;
}

/* The vector ending at vend must end its extension exactly. */
static void fills(struct rd *r, size_t vend, size_t eend)
{
    if (r->err == RLC_TLS_HELLO_OK && vend != eend)
        fail(r, RLC_TLS_HELLO_MALFORMED);
}

static bool digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static bool hexdigit(uint8_t c)
{
    return digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* The last label reads as an IPv4 number (all digits, or 0x and hex), as
 * a browser would take "1.2.3.4", "127.1" or "0x7f000001". */
static bool ip_literal(const uint8_t *s, size_t n)
{
    size_t b = n, i;

    while (b > 0 && s[b - 1] != '.')
        b--;
    if (n - b >= 2 && s[b] == '0' && (s[b + 1] | 0x20) == 'x') {
        for (i = b + 2; i < n && hexdigit(s[i]); i++)
            ;
        return i == n;
    }
    for (i = b; i < n && digit(s[i]); i++)
        ;
    return i == n;
}

/* Copy s[0..n) to sni lower-cased when it is a host name; else sni "". */
static void host_name(const uint8_t *s, size_t n, char *sni)
{
    if (n > 0 && s[n - 1] == '.')
        n--;
    sni[0] = '\0';
    if (n == 0 || n >= RLC_TLS_SNI_MAX || s[n - 1] == '.' || ip_literal(s, n))
        return;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        bool ok = digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
                  c == '-' || c == '_' ||
                  (c == '.' && i > 0 && s[i - 1] != '.');

        if (!ok)
            return;
    }
    for (size_t i = 0; i < n; i++)
        sni[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] | 0x20 : s[i]);
    sni[n] = '\0';
}

/* server_name (RFC 6066 3): a non-empty list of (type, name) filling the
 * extension; at most one host_name. */
static void server_name(struct rd *r, size_t eend, rlc_tls_hello *out)
{
    size_t lend = vec(r, 2, 1, eend);
    bool seen = false;

    fills(r, lend, eend);
    while (r->err == RLC_TLS_HELLO_OK && r->off < lend) {
        size_t type = num(r, 1, lend);
        size_t nend = vec(r, 2, 0, lend);
        size_t n = nend - r->off;
        uint8_t name[RLC_TLS_SNI_MAX]; /* 255 bytes and a trailing dot */

        if (type != NAME_HOST) {
            skip_to(r, nend);
            continue;
        }
        if (seen) {
            fail(r, RLC_TLS_HELLO_MALFORMED);
            return;
        }
        seen = true;
        if (n > sizeof(name)) {
            skip_to(r, nend);
            continue;
        }
        take(r, name, n, nend);
        if (r->err == RLC_TLS_HELLO_OK)
            host_name(name, n, out->sni);
    }
}

/* ALPN (RFC 7301 3.1): a non-empty list of non-empty names. */
static void alpn(struct rd *r, size_t eend, rlc_tls_hello *out)
{
    size_t lend = vec(r, 2, 2, eend);

    fills(r, lend, eend);
    while (r->err == RLC_TLS_HELLO_OK && r->off < lend) {
        size_t pend = vec(r, 1, 1, lend);
        size_t n = pend - r->off;
        char name[8];

        if (n != 2 && n != 8) {
            skip_to(r, pend);
            continue;
        }
        take(r, name, n, pend);
        if (r->err != RLC_TLS_HELLO_OK)
            return;
        if (n == 2 && memcmp(name, "h2", 2) == 0)
            out->alpn_h2 = true;
        if (n == 8 && memcmp(name, "http/1.1", 8) == 0)
            out->alpn_http11 = true;
    }
}

/* supported_versions (RFC 8446 4.2.1), ClientHello form: 1..127 versions.
 * Returns the highest of 0x0300..0x0304 listed, or 0. */
static uint16_t versions(struct rd *r, size_t eend)
{
    size_t lend = vec(r, 1, 2, eend);
    uint16_t best = 0;

    fills(r, lend, eend);
    if (r->err == RLC_TLS_HELLO_OK && (lend - r->off) % 2 != 0)
        fail(r, RLC_TLS_HELLO_MALFORMED);
    while (r->err == RLC_TLS_HELLO_OK && r->off < lend) {
        size_t v = num(r, 2, lend);

        if (v >= 0x0300 && v <= 0x0304 && v > best)
            best = (uint16_t)v;
    }
    return best;
}

bool rlc_tls_looks_like_hello(const void *buf, size_t len)
{
    const uint8_t *p = buf;

    return len > 0 && header_ok(p, len < REC_HDR ? len : REC_HDR) &&
           (len <= REC_HDR || p[REC_HDR] == HT_CLIENT_HELLO);
}

static rlc_tls_hello_status parse(struct rd *r, rlc_tls_hello *out)
{
    size_t end, xend, legacy;
    uint16_t best = 0;
    unsigned seen = 0;

    /* The handshake type, 1 (rlc_tls_looks_like_hello saw to it), then
     * the message length. */
    (void)num(r, 1, HS_HDR);
    end = num(r, 3, HS_HDR);
    if (r->err == RLC_TLS_HELLO_OK && end > RLC_TLS_HELLO_MAX)
        fail(r, RLC_TLS_HELLO_MALFORMED);
    end += HS_HDR;

    legacy = num(r, 2, end);
    if (r->err == RLC_TLS_HELLO_OK && legacy >> 8 != 3)
        fail(r, RLC_TLS_HELLO_MALFORMED);
    take(r, out->random, sizeof(out->random), end);
    xend = vec(r, 1, 0, end); /* legacy_session_id<0..32> */
    if (r->err == RLC_TLS_HELLO_OK && xend - r->off > 32)
        fail(r, RLC_TLS_HELLO_MALFORMED);
    skip_to(r, xend);
    xend = vec(r, 2, 2, end); /* cipher_suites<2..2^16-2> */
    if (r->err == RLC_TLS_HELLO_OK && (xend - r->off) % 2 != 0)
        fail(r, RLC_TLS_HELLO_MALFORMED);
    skip_to(r, xend);
    xend = vec(r, 1, 1, end); /* legacy_compression_methods<1..2^8-1> */
    skip_to(r, xend);

    /* Extensions may be absent altogether (SSL 3.0, TLS 1.0 era). */
    if (r->err == RLC_TLS_HELLO_OK && r->off < end) {
        xend = vec(r, 2, 0, end);
        fills(r, xend, end);
        while (r->err == RLC_TLS_HELLO_OK && r->off < xend) {
            size_t type = num(r, 2, xend);
            size_t eend = vec(r, 2, 0, xend);
            unsigned bit = type == EXT_SERVER_NAME          ? 1u
                           : type == EXT_ALPN               ? 2u
                           : type == EXT_SUPPORTED_VERSIONS ? 4u
                                                            : 0u;

            /* A repeated extension is forbidden (RFC 8446 4.2); for these
             * it would also leave the server's reading in doubt. */
            if (r->err == RLC_TLS_HELLO_OK && (seen & bit) != 0)
                fail(r, RLC_TLS_HELLO_MALFORMED);
            seen |= bit;
            if (type == EXT_SERVER_NAME)
                server_name(r, eend, out);
            else if (type == EXT_ALPN)
                alpn(r, eend, out);
            else if (type == EXT_SUPPORTED_VERSIONS)
                best = versions(r, eend);
            else
                skip_to(r, eend);
        }
    }
    out->version = best != 0 ? best : (uint16_t)legacy;
    return r->err;
}

rlc_tls_hello_status rlc_tls_hello_parse(const void *buf, size_t len,
                                         rlc_tls_hello *out)
{
    struct rd r = {buf, len, 0, 0, 0, RLC_TLS_HELLO_OK};
    rlc_tls_hello_status st;

    memset(out, 0, sizeof(*out));
    if (!rlc_tls_looks_like_hello(buf, len))
        return RLC_TLS_HELLO_NOT_TLS;
    st = parse(&r, out);
    if (st != RLC_TLS_HELLO_OK)
        memset(out, 0, sizeof(*out));
    return st;
}
