/* SPDX-License-Identifier: MIT */
/*
 * fuzz_tls_hello.c - libFuzzer target for the ClientHello reader: the input
 * is what a client wrote first on a socket.
 *
 * Beyond not crashing: NOT_TLS exactly when rlc_tls_looks_like_hello() is
 * false, *out zero unless OK, and an OK hello has a clean sni, reads the
 * same cut into other records or followed by junk, and is PARTIAL cut short.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tls_hello.h"

static bool all_zero(const rlc_tls_hello *h)
{
    static const rlc_tls_hello zero;

    return memcmp(h, &zero, sizeof(zero)) == 0;
}

static bool digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Lower case, [a-z0-9._-], labels not empty, last label not a number. */
static void check_sni(const char *s)
{
    size_t n = strnlen(s, RLC_TLS_SNI_MAX), last = 0;
    bool numeric = true;

    if (n == RLC_TLS_SNI_MAX)
        abort();
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || digit(c) || c == '-' || c == '_' ||
              c == '.'))
            abort();
        if (c == '.' && (i == 0 || i == n - 1 || s[i - 1] == '.'))
            abort();
        if (c == '.')
            last = i + 1;
    }
    for (size_t i = last; i < n; i++)
        numeric = numeric && digit(s[i]);
    if (n > 0 && numeric)
        abort();
}

static void same(const rlc_tls_hello *a, const rlc_tls_hello *b)
{
    if (memcmp(a, b, sizeof(*a)) != 0)
        abort();
}

static rlc_tls_hello_status parse(const uint8_t *p, size_t n, rlc_tls_hello *h)
{
    rlc_tls_hello_status st = rlc_tls_hello_parse(p, n, h);

    if (st > RLC_TLS_HELLO_MALFORMED)
        abort();
    if ((st == RLC_TLS_HELLO_NOT_TLS) == rlc_tls_looks_like_hello(p, n))
        abort();
    if (st != RLC_TLS_HELLO_OK && !all_zero(h))
        abort();
    return st;
}

/* The handshake message of an OK input, gathered from its records into
 * msg (size bytes at least). Returns its length; *used is where it ends in
 * the input. */
static size_t gather(const uint8_t *p, size_t n, uint8_t *msg, size_t *used)
{
    size_t got = 0, need = 4;
    const uint8_t *p0 = p;

    while (got < need) {
        size_t len = (size_t)p[3] << 8 | p[4];
        size_t k = n - 5 < len ? n - 5 : len;

        memcpy(msg + got, p + 5, k);
        got += k;
        if (got >= 4)
            need = 4 + ((size_t)msg[1] << 16 | (size_t)msg[2] << 8 | msg[3]);
        if (got < need && k < len)
            abort(); /* OK, yet the message was cut short */
        p += k + 5;
        n -= k + 5;
    }
    *used = (size_t)(p - p0) - (got - need);
    return need;
}

/* msg[0..n) in records of at most k bytes, junk after them. */
static size_t recut(const uint8_t *msg, size_t n, size_t k, uint8_t *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i += k) {
        size_t m = n - i < k ? n - i : k;

        out[o++] = 22;
        out[o++] = 3;
        out[o++] = (uint8_t)(i % 5);
        out[o++] = (uint8_t)(m >> 8);
        out[o++] = (uint8_t)m;
        memcpy(out + o, msg + i, m);
        o += m;
    }
    memcpy(out + o, "\x15\x03\x03\x00", 4);
    return o + 4;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rlc_tls_hello h, o;
    uint8_t *msg, *again;
    size_t n, k, m, used;

    if (parse(data, size, &h) != RLC_TLS_HELLO_OK)
        return 0;
    check_sni(h.sni);
    if (h.version >> 8 != 3)
        abort();

    msg = malloc(size);
    if (msg == NULL)
        return 0;
    n = gather(data, size, msg, &used);
    /* Cut where the message ends: still OK; any shorter: PARTIAL. */
    if (parse(data, used, &o) != RLC_TLS_HELLO_OK)
        abort();
    same(&h, &o);
    if (parse(data, used - 1, &o) != RLC_TLS_HELLO_PARTIAL ||
        parse(data, used / 2, &o) != RLC_TLS_HELLO_PARTIAL)
        abort();
    if (memcmp(h.random, msg + 4 + 2, sizeof(h.random)) != 0)
        abort();
    /* Record sizes from the input's last byte: 1..256, and the largest. */
    k = (size_t)data[size - 1] + 1;
    again = malloc(n + 5 * (n / k + 1) + 4);
    if (again != NULL) {
        m = recut(msg, n, k, again);
        if (parse(again, m, &o) != RLC_TLS_HELLO_OK)
            abort();
        same(&h, &o);
        m = recut(msg, n, 16384, again);
        if (parse(again, m, &o) != RLC_TLS_HELLO_OK)
            abort();
        same(&h, &o);
        free(again);
    }
    free(msg);
    return 0;
}
