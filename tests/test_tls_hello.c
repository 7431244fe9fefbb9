/* SPDX-License-Identifier: MIT */
/*
 * test_tls_hello.c - the ClientHello reader on hellos captured from real
 * clients (tls_hello_vectors.h) and on hellos built here, byte by byte, to
 * reach each rule: fragmentation, server names, ALPN, versions, lengths.
 *
 * Every hello expected OK is also cut short at every length (PARTIAL) and
 * followed by junk (the same answer); the real ones and some built ones
 * are re-cut into 2 and 3 records at every offset, and 1-byte records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tls_hello.h"
#include "tls_hello_vectors.h"

/* Bytes being built: big enough for a hello over several full records. */
struct buf {
    unsigned char b[1 << 17];
    size_t n;
};

static struct buf exts, msg, rec, frag;

static void put(struct buf *b, const void *p, size_t n)
{
    assert_true(n <= sizeof(b->b) - b->n);
    memcpy(b->b + b->n, p, n);
    b->n += n;
}

static void put8(struct buf *b, size_t v)
{
    unsigned char c = (unsigned char)v;

    put(b, &c, 1);
}

static void put16(struct buf *b, size_t v)
{
    put8(b, v >> 8 & 0xff);
    put8(b, v & 0xff);
}

static void put24(struct buf *b, size_t v)
{
    put8(b, v >> 16 & 0xff);
    put16(b, v & 0xffff);
}

static void set16(struct buf *b, size_t at, size_t v)
{
    b->b[at] = (unsigned char)(v >> 8);
    b->b[at + 1] = (unsigned char)v;
}

/* One extension: its type, then data[0..n) with its length. */
static void ext(struct buf *e, size_t type, const void *data, size_t n)
{
    put16(e, type);
    put16(e, n);
    put(e, data, n);
}

/* server_name with one host_name of n bytes. */
static void ext_sni(struct buf *e, const char *name, size_t n)
{
    put16(e, 0);
    put16(e, n + 5);
    put16(e, n + 3);
    put8(e, 0);
    put16(e, n);
    put(e, name, n);
}

/* ALPN offering the NULL-terminated names. */
static void ext_alpn(struct buf *e, const char *const *names)
{
    size_t n = 0;

    for (size_t i = 0; names[i] != NULL; i++)
        n += 1 + strlen(names[i]);
    put16(e, 16);
    put16(e, n + 2);
    put16(e, n);
    for (size_t i = 0; names[i] != NULL; i++) {
        put8(e, strlen(names[i]));
        put(e, names[i], strlen(names[i]));
    }
}

/* supported_versions listing v[0..n). */
static void ext_versions(struct buf *e, const uint16_t *v, size_t n)
{
    put16(e, 43);
    put16(e, 1 + 2 * n);
    put8(e, 2 * n);
    for (size_t i = 0; i < n; i++)
        put16(e, v[i]);
}

/* The handshake message of a ClientHello with legacy_version legacy, a
 * 32-byte session id, two suites, null compression and the extensions in
 * e (the block left out when e is NULL). Random byte i is i * 7 + 1. */
static void hello(struct buf *m, size_t legacy, const struct buf *e)
{
    size_t body = 2 + 32 + 1 + 32 + 2 + 4 + 1 + 1 + (e ? 2 + e->n : 0);

    m->n = 0;
    put8(m, 1);
    put24(m, body);
    put16(m, legacy);
    for (size_t i = 0; i < 32; i++)
        put8(m, i * 7 + 1);
    put8(m, 32);
    for (size_t i = 0; i < 32; i++)
        put8(m, 0xa0 + i);
    put16(m, 4);
    put16(m, 0x1301);
    put16(m, 0xc02f);
    put8(m, 1);
    put8(m, 0);
    if (e != NULL) {
        put16(m, e->n);
        put(m, e->b, e->n);
    }
}

/* m[0..n) in records of version 3.minor cut at cuts[0..ncuts), ascending:
 * ncuts + 1 records. */
static void records(struct buf *r, const unsigned char *m, size_t n,
                    const size_t *cuts, size_t ncuts, unsigned minor)
{
    size_t from = 0;

    r->n = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : n;

        put8(r, 22);
        put8(r, 3);
        put8(r, minor);
        put16(r, to - from);
        put(r, m + from, to - from);
        from = to;
    }
}

/* The handshake messages of the real hellos (one record each) go through
 * frag to be cut differently. */
static size_t unwrap(const unsigned char *h, size_t n, struct buf *m)
{
    size_t len = (size_t)h[3] << 8 | h[4];

    assert_int_equal(len + 5, n);
    m->n = 0;
    put(m, h + 5, len);
    return len;
}

static void sni_is_host_name(const char *s)
{
    size_t n = strnlen(s, RLC_TLS_SNI_MAX);

    assert_true(n < RLC_TLS_SNI_MAX);
    for (size_t i = 0; i < n; i++)
        assert_non_null(
            strchr("abcdefghijklmnopqrstuvwxyz0123456789.-_", s[i]));
}

static bool all_zero(const rlc_tls_hello *h)
{
    static const rlc_tls_hello zero;

    return memcmp(h, &zero, sizeof(zero)) == 0;
}

static void same(const rlc_tls_hello *a, const rlc_tls_hello *b)
{
    assert_string_equal(a->sni, b->sni);
    assert_memory_equal(a->random, b->random, sizeof(a->random));
    assert_int_equal(a->alpn_h2, b->alpn_h2);
    assert_int_equal(a->alpn_http11, b->alpn_http11);
    assert_int_equal(a->version, b->version);
}

/* Parses p[0..n), which must be OK; then checks that every prefix is
 * PARTIAL and the bytes with anything after them read the same. */
static rlc_tls_hello parse_ok(const unsigned char *p, size_t n)
{
    static const char tail[] = "\x17\x03\x03\xff\xff and garbage";
    static unsigned char more[sizeof(rec.b) + sizeof(tail)];
    rlc_tls_hello h, o;

    assert_int_equal(rlc_tls_hello_parse(p, n, &h), RLC_TLS_HELLO_OK);
    assert_true(rlc_tls_looks_like_hello(p, n));
    sni_is_host_name(h.sni);
    for (size_t k = 1; k < n; k++) {
        memset(&o, 0xa5, sizeof(o));
        assert_true(rlc_tls_looks_like_hello(p, k));
        assert_int_equal(rlc_tls_hello_parse(p, k, &o), RLC_TLS_HELLO_PARTIAL);
        assert_true(all_zero(&o));
    }
    assert_int_equal(rlc_tls_hello_parse(p, 0, &o), RLC_TLS_HELLO_NOT_TLS);
    assert_true(n + sizeof(tail) <= sizeof(more));
    memcpy(more, p, n);
    memcpy(more + n, tail, sizeof(tail));
    assert_int_equal(rlc_tls_hello_parse(more, n + sizeof(tail), &o),
                     RLC_TLS_HELLO_OK);
    same(&h, &o);
    return h;
}

static rlc_tls_hello_status parse(const struct buf *b, rlc_tls_hello *h)
{
    return rlc_tls_hello_parse(b->b, b->n, h);
}

/* The message m cut into 2 records at every offset, and into 3 at every
 * pair of offsets (step 1 below 600 bytes): each reads as want. */
static void refragment(const struct buf *m, const rlc_tls_hello *want)
{
    size_t step = m->n < 600 ? 1 : m->n / 64;
    rlc_tls_hello h;

    for (size_t i = 1; i < m->n; i++) {
        records(&frag, m->b, m->n, &i, 1, i % 4);
        assert_int_equal(parse(&frag, &h), RLC_TLS_HELLO_OK);
        same(want, &h);
        for (size_t j = i + 1; j < m->n; j += step) {
            size_t cuts[2] = {i, j};

            records(&frag, m->b, m->n, cuts, 2, 3);
            assert_int_equal(parse(&frag, &h), RLC_TLS_HELLO_OK);
            same(want, &h);
        }
    }
}

/* A hello built from exts in one TLS 1.0 record: OK, checked as above. */
static rlc_tls_hello built(size_t legacy, const struct buf *e)
{
    hello(&msg, legacy, e);
    records(&rec, msg.b, msg.n, NULL, 0, 1);
    return parse_ok(rec.b, rec.n);
}

/* Real clients */

struct real {
    const unsigned char *b;
    size_t n;
    const char *sni;
    bool h2, http11;
    uint16_t version;
};

#define REAL(v) hello_##v, sizeof(hello_##v)

static const struct real reals[] = {
    {REAL(openssl), "api.example.com", true, true, 0x0304},
    {REAL(curl), "api.example.com", true, true, 0x0304},
    {REAL(node), "api.example.com", true, true, 0x0304},
    {REAL(openssl_tls12), "api.example.com", false, true, 0x0303},
    {REAL(openssl_nosni), "", false, false, 0x0304},
};

static void test_tls_hello_real_clients(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
        const struct real *r = &reals[i];
        rlc_tls_hello h = parse_ok(r->b, r->n);

        assert_string_equal(h.sni, r->sni);
        assert_int_equal(h.alpn_h2, r->h2);
        assert_int_equal(h.alpn_http11, r->http11);
        assert_int_equal(h.version, r->version);
        /* record header, handshake header, legacy_version */
        assert_memory_equal(h.random, r->b + 5 + 4 + 2, 32);
    }
}

static void test_tls_hello_real_clients_refragmented(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
        rlc_tls_hello want = parse_ok(reals[i].b, reals[i].n);

        unwrap(reals[i].b, reals[i].n, &msg);
        refragment(&msg, &want);
    }
}

static void test_tls_hello_real_clients_one_byte_records(void **state)
{
    static size_t cuts[1024];

    (void)state;
    for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
        rlc_tls_hello want = parse_ok(reals[i].b, reals[i].n), h;
        size_t n = unwrap(reals[i].b, reals[i].n, &msg);

        assert_true(n <= sizeof(cuts) / sizeof(cuts[0]));
        for (size_t k = 1; k < n; k++)
            cuts[k - 1] = k;
        records(&rec, msg.b, n, cuts, n - 1, 3);
        assert_int_equal(rec.n, 6 * n);
        h = parse_ok(rec.b, rec.n);
        same(&want, &h);
    }
}

/* Each bit of a real hello flipped: any status but a crash, and an OK
 * answer still has a valid sni. */
static void test_tls_hello_real_clients_bit_flips(void **state)
{
    static unsigned char b[1024];

    (void)state;
    for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
        size_t n = reals[i].n;

        memcpy(b, reals[i].b, n);
        for (size_t k = 0; k < 8 * n; k++) {
            rlc_tls_hello h;
            rlc_tls_hello_status st;

            b[k / 8] ^= (unsigned char)(1u << k % 8);
            st = rlc_tls_hello_parse(b, n, &h);
            assert_true(st <= RLC_TLS_HELLO_MALFORMED);
            assert_int_equal(st == RLC_TLS_HELLO_NOT_TLS,
                             !rlc_tls_looks_like_hello(b, n));
            if (st == RLC_TLS_HELLO_OK)
                sni_is_host_name(h.sni);
            else
                assert_true(all_zero(&h));
            b[k / 8] ^= (unsigned char)(1u << k % 8);
        }
    }
}

/* Built hellos */

static void test_tls_hello_no_extensions(void **state)
{
    rlc_tls_hello h;

    (void)state;
    hello(&msg, 0x0300, NULL);
    records(&rec, msg.b, msg.n, NULL, 0, 0); /* SSL 3.0 record */
    h = parse_ok(rec.b, rec.n);
    assert_string_equal(h.sni, "");
    assert_false(h.alpn_h2);
    assert_false(h.alpn_http11);
    assert_int_equal(h.version, 0x0300);
    for (size_t i = 0; i < 32; i++)
        assert_int_equal(h.random[i], i * 7 + 1);
    refragment(&msg, &h);

    exts.n = 0; /* an empty extension block */
    h = built(0x0301, &exts);
    assert_string_equal(h.sni, "");
    assert_int_equal(h.version, 0x0301);
}

static void test_tls_hello_sni_uppercase_and_trailing_dot(void **state)
{
    rlc_tls_hello h;

    (void)state;
    exts.n = 0;
    ext_sni(&exts, "API.Example.COM.", 16);
    h = built(0x0303, &exts);
    assert_string_equal(h.sni, "api.example.com");
    assert_int_equal(h.version, 0x0303);
}

static void test_tls_hello_sni_valid_names(void **state)
{
    static const char *const ok[][2] = {
        {"a", "a"},
        {"Under_Score.Example", "under_score.example"},
        {"xn--bcher-kva.example", "xn--bcher-kva.example"},
        {"1.2.3.4.example", "1.2.3.4.example"},
        {"0xyz.example", "0xyz.example"},
        {"host-1.example.", "host-1.example"},
        {"localhost", "localhost"},
    };
    char name[300];
    rlc_tls_hello h;

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        exts.n = 0;
        ext_sni(&exts, ok[i][0], strlen(ok[i][0]));
        h = built(0x0303, &exts);
        assert_string_equal(h.sni, ok[i][1]);
    }
    /* 255 bytes, with and without the trailing dot */
    memset(name, 'a', sizeof(name));
    for (size_t i = 63; i < 255; i += 64)
        name[i] = '.';
    name[255] = '.';
    for (size_t n = 255; n <= 256; n++) {
        exts.n = 0;
        ext_sni(&exts, name, n);
        h = built(0x0303, &exts);
        assert_int_equal(strlen(h.sni), 255);
        assert_memory_equal(h.sni, name, 255);
    }
}

static void test_tls_hello_sni_invalid_names_give_empty(void **state)
{
    static const char *const bad[] = {
        "",           ".",           "..",           ".example",
        "a..example", "a.example..", "a example",    "api.example.com:443",
        "1.2.3.4",    "1.2.3.4.",    "127.1",        "2130706433",
        "0x7f000001", "0X7F.1",      "example.123",  "::1",
        "[::1]",      "fe80::1%25",  "b\xc3\xbc.de", "a/b",
        "a\\b",       "a*.example",  "a\tb",         "a@b",
    };
    char name[300];
    rlc_tls_hello h;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        exts.n = 0;
        ext_sni(&exts, bad[i], strlen(bad[i]));
        h = built(0x0303, &exts);
        assert_string_equal(h.sni, "");
    }
    /* a NUL inside */
    exts.n = 0;
    ext_sni(&exts, "evil.example\0.good.example", 26);
    assert_string_equal(built(0x0303, &exts).sni, "");
    /* 256 bytes without a trailing dot; 300 bytes */
    memset(name, 'a', sizeof(name));
    for (size_t n = 256; n <= 300; n += 44) {
        exts.n = 0;
        ext_sni(&exts, name, n);
        assert_string_equal(built(0x0303, &exts).sni, "");
    }
}

static void test_tls_hello_sni_other_name_types_skipped(void **state)
{
    /* list length; type 7 "xyz"; host_name "example.com" */
    static const char list[] = "\x00\x14"
                               "\x07\x00\x03"
                               "xyz"
                               "\x00\x00\x0b"
                               "example.com";
    rlc_tls_hello h;

    (void)state;
    exts.n = 0;
    ext(&exts, 0, list, sizeof(list) - 1);
    h = built(0x0303, &exts);
    assert_string_equal(h.sni, "example.com");
}

static void test_tls_hello_sni_two_host_names_malformed(void **state)
{
    static const char list[] = "\x00\x0c"
                               "\x00\x00\x03"
                               "a.b"
                               "\x00\x00\x03"
                               "c.d";
    rlc_tls_hello h;

    (void)state;
    exts.n = 0;
    ext(&exts, 0, list, sizeof(list) - 1);
    hello(&msg, 0x0303, &exts);
    records(&rec, msg.b, msg.n, NULL, 0, 1);
    assert_int_equal(parse(&rec, &h), RLC_TLS_HELLO_MALFORMED);
    assert_true(all_zero(&h));
}

static void test_tls_hello_repeated_extension_malformed(void **state)
{
    static const char *const h2[] = {"h2", NULL};
    static const uint16_t v13[] = {0x0304};
    rlc_tls_hello h;

    (void)state;
    for (int which = 0; which < 3; which++) {
        exts.n = 0;
        for (int twice = 0; twice < 2; twice++) {
            if (which == 0)
                ext_sni(&exts, "a.example", 9);
            else if (which == 1)
                ext_alpn(&exts, h2);
            else
                ext_versions(&exts, v13, 1);
            ext(&exts, 0x1234, "x", 1); /* unknown ones may repeat */
        }
        hello(&msg, 0x0303, &exts);
        records(&rec, msg.b, msg.n, NULL, 0, 1);
        assert_int_equal(parse(&rec, &h), RLC_TLS_HELLO_MALFORMED);
    }
}

static void test_tls_hello_alpn_flags(void **state)
{
    static const char *const a[] = {"h2c", "spdy/3", "h2", NULL};
    static const char *const b[] = {"http/1.1", NULL};
    static const char *const c[] = {"http/1.0", "h3", "HTTP/1.1", "H2", NULL};
    static const char *const d[] = {"acme-tls/1", "http/1.1", "h2", NULL};
    rlc_tls_hello h;

    (void)state;
    exts.n = 0;
    ext_alpn(&exts, a);
    h = built(0x0303, &exts);
    assert_true(h.alpn_h2);
    assert_false(h.alpn_http11);
    exts.n = 0;
    ext_alpn(&exts, b);
    h = built(0x0303, &exts);
    assert_false(h.alpn_h2);
    assert_true(h.alpn_http11);
    exts.n = 0;
    ext_alpn(&exts, c);
    h = built(0x0303, &exts);
    assert_false(h.alpn_h2);
    assert_false(h.alpn_http11);
    exts.n = 0;
    ext_alpn(&exts, d);
    h = built(0x0303, &exts);
    assert_true(h.alpn_h2);
    assert_true(h.alpn_http11);
}

/* TLS 1.3 as browsers send it: GREASE values first (RFC 8701). */
static void test_tls_hello_tls13_supported_versions(void **state)
{
    static const char *const alpn[] = {"h2", "http/1.1", NULL};
    static const uint16_t v[] = {0x3a3a, 0x0304, 0x0303};
    static const uint16_t grease_only[] = {0x1a1a, 0x7f1c};
    static const uint16_t tls12[] = {0x0303, 0x0302};
    rlc_tls_hello h;

    (void)state;
    exts.n = 0;
    ext(&exts, 0x0a0a, "", 0); /* a GREASE extension */
    ext_sni(&exts, "www.example.org", 15);
    ext_versions(&exts, v, 3);
    ext_alpn(&exts, alpn);
    ext(&exts, 0x4a4a, "\0", 1);
    h = built(0x0303, &exts);
    assert_string_equal(h.sni, "www.example.org");
    assert_int_equal(h.version, 0x0304);
    assert_true(h.alpn_h2 && h.alpn_http11);
    refragment(&msg, &h);

    exts.n = 0;
    ext_versions(&exts, grease_only, 2);
    assert_int_equal(built(0x0303, &exts).version, 0x0303); /* legacy */
    exts.n = 0;
    ext_versions(&exts, tls12, 2);
    assert_int_equal(built(0x0301, &exts).version, 0x0303);
}

static void test_tls_hello_fragmented_two_and_three_records(void **state)
{
    static const char *const alpn[] = {"h2", NULL};
    size_t two[] = {7}, three[] = {40, 90};
    rlc_tls_hello h;

    (void)state;
    exts.n = 0;
    ext_sni(&exts, "api.example.com", 15);
    ext_alpn(&exts, alpn);
    hello(&msg, 0x0303, &exts);
    records(&rec, msg.b, msg.n, two, 1, 1);
    h = parse_ok(rec.b, rec.n);
    assert_string_equal(h.sni, "api.example.com");
    assert_true(h.alpn_h2);
    records(&rec, msg.b, msg.n, three, 2, 3);
    h = parse_ok(rec.b, rec.n);
    assert_string_equal(h.sni, "api.example.com");
    assert_int_equal(h.random[31], 31 * 7 + 1);
    /* The records' versions may differ from one another. */
    rec.b[2] = 1;
    assert_int_equal(parse(&rec, &h), RLC_TLS_HELLO_OK);
}

/* A hello bigger than one record: full records, then the rest. */
static void test_tls_hello_large_hello_over_full_records(void **state)
{
    static unsigned char pad[40000];
    size_t cuts[] = {16384, 32768};
    rlc_tls_hello h;

    (void)state;
    exts.n = 0;
    ext_sni(&exts, "big.example", 11);
    ext(&exts, 21, pad, sizeof(pad)); /* padding */
    hello(&msg, 0x0303, &exts);
    records(&rec, msg.b, msg.n, cuts, 2, 3);
    assert_int_equal(parse(&rec, &h), RLC_TLS_HELLO_OK);
    assert_string_equal(h.sni, "big.example");
    assert_int_equal(rlc_tls_hello_parse(rec.b, rec.n - 1, &h),
                     RLC_TLS_HELLO_PARTIAL);
    /* records up to 2^14 + 2048 bytes, not one more */
    cuts[0] = 16384 + 2048;
    cuts[1] = cuts[0] + 16384;
    records(&rec, msg.b, msg.n, cuts, 2, 3);
    assert_int_equal(parse(&rec, &h), RLC_TLS_HELLO_OK);
    cuts[0]++;
    records(&rec, msg.b, msg.n, cuts, 2, 3);
    assert_int_equal(parse(&rec, &h), RLC_TLS_HELLO_MALFORMED);
}

static void test_tls_hello_oversized_message_malformed(void **state)
{
    static const unsigned char big[] = {0x16, 0x03, 0x01, 0x00, 0x06, 0x01,
                                        0x01, 0x00, 0x01, 0x03, 0x03};
    static const unsigned char max[] = {0x16, 0x03, 0x01, 0x00, 0x06, 0x01,
                                        0x01, 0x00, 0x00, 0x03, 0x03};
    rlc_tls_hello h;

    (void)state;
    assert_int_equal(rlc_tls_hello_parse(big, sizeof(big), &h),
                     RLC_TLS_HELLO_MALFORMED);
    assert_int_equal(rlc_tls_hello_parse(max, sizeof(max), &h),
                     RLC_TLS_HELLO_PARTIAL);
}

/* Offsets in the reference hello: one TLS 1.0 record holding a ClientHello
 * whose extensions are server_name, ALPN, supported_versions, in order. */
enum {
    AT_RECLEN = 3,
    AT_HSLEN = 6,
    AT_LEGACY = 9,
    AT_SID = 43,
    AT_SUITES = 76,
    AT_COMP = 82,
    AT_EXTS = 84,
    AT_SNI = 86,   /* type, length, list length, name type, name length */
    AT_ALPN = 110, /* type, length, list length, first name length */
    AT_VERS = 128, /* type, length, list length */
    REF_LEN = 137
};

static void reference(void)
{
    static const char *const alpn[] = {"h2", "http/1.1", NULL};
    static const uint16_t v[] = {0x0304, 0x0303};

    exts.n = 0;
    ext_sni(&exts, "api.example.com", 15);
    ext_alpn(&exts, alpn);
    ext_versions(&exts, v, 2);
    hello(&msg, 0x0303, &exts);
    records(&rec, msg.b, msg.n, NULL, 0, 1);
}

static void test_tls_hello_reference_layout(void **state)
{
    rlc_tls_hello h;

    (void)state;
    reference();
    assert_int_equal(rec.n, REF_LEN);
    assert_int_equal(rec.b[AT_SNI + 8], 15);
    assert_int_equal(rec.b[AT_ALPN + 1], 16);
    assert_int_equal(rec.b[AT_VERS + 1], 43);
    h = parse_ok(rec.b, rec.n);
    assert_string_equal(h.sni, "api.example.com");
    assert_int_equal(h.version, 0x0304);
}

static void test_tls_hello_corrupted_lengths(void **state)
{
    static const struct {
        size_t at, width, value;
        rlc_tls_hello_status want;
    } cases[] = {
        {AT_RECLEN, 2, 0, RLC_TLS_HELLO_MALFORMED},
        {AT_RECLEN, 2, 16384 + 2049, RLC_TLS_HELLO_MALFORMED},
        {AT_RECLEN, 2, 0xffff, RLC_TLS_HELLO_MALFORMED},
        /* the record claims more than there is, but the message is whole:
         * the rest of the record is not needed */
        {AT_RECLEN, 2, REF_LEN - 5 + 1, RLC_TLS_HELLO_OK},
        /* the last byte (0x03) is read as the next record's type */
        {AT_RECLEN, 2, REF_LEN - 5 - 1, RLC_TLS_HELLO_MALFORMED},
        /* the message is a byte longer or shorter than its vectors */
        {AT_HSLEN + 1, 2, REF_LEN - 9 + 1, RLC_TLS_HELLO_MALFORMED},
        {AT_HSLEN + 1, 2, REF_LEN - 9 - 1, RLC_TLS_HELLO_MALFORMED},
        {AT_HSLEN + 1, 2, 40, RLC_TLS_HELLO_MALFORMED},
        {AT_HSLEN, 1, 1, RLC_TLS_HELLO_MALFORMED}, /* 2^16 + 128 */
        {AT_LEGACY, 2, 0x0203, RLC_TLS_HELLO_MALFORMED},
        {AT_LEGACY, 2, 0x0403, RLC_TLS_HELLO_MALFORMED},
        {AT_SID, 1, 33, RLC_TLS_HELLO_MALFORMED},
        {AT_SID, 1, 255, RLC_TLS_HELLO_MALFORMED},
        {AT_SUITES, 2, 0, RLC_TLS_HELLO_MALFORMED},
        {AT_SUITES, 2, 3, RLC_TLS_HELLO_MALFORMED},
        {AT_SUITES, 2, 0xfffe, RLC_TLS_HELLO_MALFORMED},
        {AT_COMP, 1, 0, RLC_TLS_HELLO_MALFORMED},
        {AT_COMP, 1, 200, RLC_TLS_HELLO_MALFORMED},
        {AT_EXTS, 2, REF_LEN - AT_EXTS - 2 + 1, RLC_TLS_HELLO_MALFORMED},
        {AT_EXTS, 2, REF_LEN - AT_EXTS - 2 - 1, RLC_TLS_HELLO_MALFORMED},
        {AT_EXTS, 2, 0, RLC_TLS_HELLO_MALFORMED},
        {AT_SNI + 2, 2, 21, RLC_TLS_HELLO_MALFORMED},
        {AT_SNI + 2, 2, 19, RLC_TLS_HELLO_MALFORMED},
        {AT_SNI + 2, 2, 0, RLC_TLS_HELLO_MALFORMED},
        {AT_SNI + 4, 2, 0, RLC_TLS_HELLO_MALFORMED},
        {AT_SNI + 4, 2, 17, RLC_TLS_HELLO_MALFORMED},
        {AT_SNI + 7, 2, 16, RLC_TLS_HELLO_MALFORMED},
        {AT_SNI + 7, 2, 14, RLC_TLS_HELLO_MALFORMED},
        {AT_SNI + 7, 2, 0, RLC_TLS_HELLO_MALFORMED},
        {AT_ALPN + 4, 2, 0, RLC_TLS_HELLO_MALFORMED},
        {AT_ALPN + 4, 2, 11, RLC_TLS_HELLO_MALFORMED},
        {AT_ALPN + 6, 1, 0, RLC_TLS_HELLO_MALFORMED},
        {AT_ALPN + 6, 1, 12, RLC_TLS_HELLO_MALFORMED},
        {AT_VERS + 2, 2, 0, RLC_TLS_HELLO_MALFORMED},
        {AT_VERS + 4, 1, 0, RLC_TLS_HELLO_MALFORMED},
        {AT_VERS + 4, 1, 3, RLC_TLS_HELLO_MALFORMED},
        {AT_VERS + 4, 1, 2, RLC_TLS_HELLO_MALFORMED},
        /* unknown types are skipped: still OK */
        {AT_ALPN, 2, 0x1234, RLC_TLS_HELLO_OK},
        {AT_VERS, 2, 0xfe0d, RLC_TLS_HELLO_OK},
    };
    rlc_tls_hello h;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        reference();
        if (cases[i].width == 2)
            set16(&rec, cases[i].at, cases[i].value);
        else
            rec.b[cases[i].at] = (unsigned char)cases[i].value;
        memset(&h, 0x5a, sizeof(h));
        assert_int_equal(parse(&rec, &h), cases[i].want);
        if (cases[i].want != RLC_TLS_HELLO_OK)
            assert_true(all_zero(&h));
        assert_true(rlc_tls_looks_like_hello(rec.b, rec.n));
    }
    /* the ALPN, versions unknown: flags off, legacy_version */
    reference();
    set16(&rec, AT_ALPN, 0x1234);
    set16(&rec, AT_VERS, 0xfe0d);
    h = parse_ok(rec.b, rec.n);
    assert_false(h.alpn_h2 || h.alpn_http11);
    assert_int_equal(h.version, 0x0303);
}

/* Bytes left in the message after the extensions; the message ending
 * inside a vector. */
static void test_tls_hello_message_and_vectors_disagree(void **state)
{
    rlc_tls_hello h;

    (void)state;
    exts.n = 0;
    ext_sni(&exts, "a.example", 9);
    hello(&msg, 0x0303, &exts);
    put8(&msg, 0);
    msg.b[3]++; /* handshake length: one trailing byte */
    records(&rec, msg.b, msg.n, NULL, 0, 1);
    assert_int_equal(parse(&rec, &h), RLC_TLS_HELLO_MALFORMED);

    /* the message ends in the middle of the cipher suites */
    hello(&msg, 0x0303, NULL);
    msg.b[3] = 2 + 32 + 1 + 32 + 1;
    records(&rec, msg.b, msg.n, NULL, 0, 1);
    assert_int_equal(parse(&rec, &h), RLC_TLS_HELLO_MALFORMED);
}

static void test_tls_hello_other_record_mid_message(void **state)
{
    size_t cut = 50;
    rlc_tls_hello h;

    (void)state;
    reference();
    records(&rec, msg.b, msg.n, &cut, 1, 3);
    rec.b[5 + cut] = 23; /* application data instead of the rest */
    assert_int_equal(parse(&rec, &h), RLC_TLS_HELLO_MALFORMED);
    rec.b[5 + cut] = 22;
    rec.b[5 + cut + 1] = 2; /* version 2.3 */
    assert_int_equal(parse(&rec, &h), RLC_TLS_HELLO_MALFORMED);
    rec.b[5 + cut + 1] = 3;
    rec.b[5 + cut + 2] = 5; /* version 3.5 */
    assert_int_equal(parse(&rec, &h), RLC_TLS_HELLO_MALFORMED);
    /* cut inside the second header: PARTIAL if what is there fits */
    rec.b[5 + cut + 2] = 3;
    for (size_t k = 5 + cut; k < 5 + cut + 5; k++)
        assert_int_equal(rlc_tls_hello_parse(rec.b, k, &h),
                         RLC_TLS_HELLO_PARTIAL);
    rec.b[5 + cut] = 21; /* an alert */
    assert_int_equal(rlc_tls_hello_parse(rec.b, 5 + cut + 1, &h),
                     RLC_TLS_HELLO_MALFORMED);
    /* an empty handshake record between the two */
    rec.b[5 + cut] = 22;
    memmove(rec.b + 5 + cut + 5, rec.b + 5 + cut, rec.n - 5 - cut);
    rec.n += 5;
    set16(&rec, 5 + cut + 3, 0);
    assert_int_equal(parse(&rec, &h), RLC_TLS_HELLO_MALFORMED);
}

/* Not TLS */

static void test_tls_hello_plain_http_not_tls(void **state)
{
    static const char get[] = "GET / HTTP/1.1\r\nHost: api.example.com\r\n\r\n";
    static const char pri[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    rlc_tls_hello h;

    (void)state;
    for (size_t n = 0; n <= strlen(get); n++) {
        assert_false(rlc_tls_looks_like_hello(get, n));
        assert_int_equal(rlc_tls_hello_parse(get, n, &h),
                         RLC_TLS_HELLO_NOT_TLS);
        assert_true(all_zero(&h));
    }
    for (size_t n = 0; n <= strlen(pri); n++)
        assert_int_equal(rlc_tls_hello_parse(pri, n, &h),
                         RLC_TLS_HELLO_NOT_TLS);
    assert_int_equal(rlc_tls_hello_parse(NULL, 0, &h), RLC_TLS_HELLO_NOT_TLS);
}

static void test_tls_hello_other_tls_records_not_tls(void **state)
{
    static const unsigned char others[][6] = {
        {0x17, 0x03, 0x03, 0x00, 0x10, 0x01}, /* application data */
        {0x15, 0x03, 0x03, 0x00, 0x02, 0x02}, /* alert */
        {0x14, 0x03, 0x03, 0x00, 0x01, 0x01}, /* change_cipher_spec */
        {0x16, 0x03, 0x03, 0x00, 0x5d, 0x02}, /* ServerHello */
        {0x16, 0x03, 0x05, 0x00, 0x10, 0x01}, /* record version 3.5 */
        {0x16, 0x02, 0x00, 0x00, 0x10, 0x01}, /* SSL 2 version */
        {0x16, 0xfe, 0xfd, 0x00, 0x10, 0x01}, /* DTLS 1.2 */
        {0x80, 0x2e, 0x01, 0x00, 0x02, 0x00}, /* SSL 2 compatible hello */
    };
    rlc_tls_hello h;

    (void)state;
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        assert_false(rlc_tls_looks_like_hello(others[i], 6));
        assert_int_equal(rlc_tls_hello_parse(others[i], 6, &h),
                         RLC_TLS_HELLO_NOT_TLS);
    }
}

static void test_tls_hello_looks_like_short_prefixes(void **state)
{
    static const unsigned char yes[] = {0x16, 0x03, 0x04, 0x00, 0x01, 0x01};
    static const unsigned char ssl3[] = {0x16, 0x03, 0x00};

    (void)state;
    assert_false(rlc_tls_looks_like_hello(yes, 0));
    for (size_t n = 1; n <= sizeof(yes); n++)
        assert_true(rlc_tls_looks_like_hello(yes, n));
    assert_true(rlc_tls_looks_like_hello(ssl3, 3));
    assert_false(rlc_tls_looks_like_hello("\x17", 1));
    assert_false(rlc_tls_looks_like_hello("\x16\x02", 2));
    assert_false(rlc_tls_looks_like_hello("\x16\x03\x05", 3));
    assert_true(rlc_tls_looks_like_hello("\x16\x03\x01\xff\xff", 5));
    assert_false(rlc_tls_looks_like_hello("\x16\x03\x01\x00\x10\x02", 6));
    /* only the first six bytes are judged */
    assert_true(rlc_tls_looks_like_hello("\x16\x03\x01\x00\x10\x01zz", 8));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_hello_real_clients),
        cmocka_unit_test(test_tls_hello_real_clients_refragmented),
        cmocka_unit_test(test_tls_hello_real_clients_one_byte_records),
        cmocka_unit_test(test_tls_hello_real_clients_bit_flips),
        cmocka_unit_test(test_tls_hello_no_extensions),
        cmocka_unit_test(test_tls_hello_sni_uppercase_and_trailing_dot),
        cmocka_unit_test(test_tls_hello_sni_valid_names),
        cmocka_unit_test(test_tls_hello_sni_invalid_names_give_empty),
        cmocka_unit_test(test_tls_hello_sni_other_name_types_skipped),
        cmocka_unit_test(test_tls_hello_sni_two_host_names_malformed),
        cmocka_unit_test(test_tls_hello_repeated_extension_malformed),
        cmocka_unit_test(test_tls_hello_alpn_flags),
        cmocka_unit_test(test_tls_hello_tls13_supported_versions),
        cmocka_unit_test(test_tls_hello_fragmented_two_and_three_records),
        cmocka_unit_test(test_tls_hello_large_hello_over_full_records),
        cmocka_unit_test(test_tls_hello_oversized_message_malformed),
        cmocka_unit_test(test_tls_hello_reference_layout),
        cmocka_unit_test(test_tls_hello_corrupted_lengths),
        cmocka_unit_test(test_tls_hello_message_and_vectors_disagree),
        cmocka_unit_test(test_tls_hello_other_record_mid_message),
        cmocka_unit_test(test_tls_hello_plain_http_not_tls),
        cmocka_unit_test(test_tls_hello_other_tls_records_not_tls),
        cmocka_unit_test(test_tls_hello_looks_like_short_prefixes),
    };

    return cmocka_run_group_tests_name("tls_hello", tests, NULL, NULL);
}
