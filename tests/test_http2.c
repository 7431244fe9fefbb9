/* SPDX-License-Identifier: MIT */
/*
 * test_http2.c - HTTP/2 as the preload sees it: new client streams and
 * :authority on the way out, :status and retry-after on the way in.
 *
 * Header blocks are real HPACK from nghttp2's deflater (a few are built
 * by hand to pin an encoding). check() runs each script whole, split at
 * every offset, byte by byte and in random pieces (the sent ones through
 * the preload's dry run), and asserts every run finds the same things.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nghttp2/nghttp2.h>

#include "http2.h"

#define NOW INT64_C(1700000000)       /* Tue, 14 Nov 2023 22:13:20 GMT */
#define DATE_2037 INT64_C(2139722880) /* Wed, 21 Oct 2037 07:28:00 GMT */
#define MAXSTEPS 160
#define ARENA (1 << 16)
#define MAXRESP 256
#define SPLIT_MAX 2048 /* longer scripts get random splits only */
#define SEEDS 40

/* Frame types and flags. */
enum {
    DATA = 0,
    HEADERS = 1,
    PRIORITY = 2,
    RST_STREAM = 3,
    SETTINGS = 4,
    PUSH_PROMISE = 5,
    PING = 6,
    GOAWAY = 7,
    WINDOW_UPDATE = 8,
    CONTINUATION = 9
};
enum {
    ACK = 0x1,
    END_STREAM = 0x1,
    END_HEADERS = 0x4,
    PADDED = 0x8,
    PRIO = 0x20
};

static const char preface_bytes[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/* Scripts: pieces of one connection, sent or received, in order. */

struct step {
    bool sent;       /* else received */
    size_t off, len; /* in the script's arena */
    uint32_t tag;
};

struct script {
    struct step s[MAXSTEPS];
    size_t n;
    uint8_t buf[ARENA];
    size_t used;
};

static struct script script_buf;

static struct script *script(void)
{
    memset(&script_buf, 0, sizeof(script_buf));
    return &script_buf;
}

static void piece(struct script *sc, bool sent, uint32_t tag)
{
    assert_true(sc->n < MAXSTEPS);
    sc->s[sc->n++] = (struct step){sent, sc->used, 0, tag};
}

static void put(struct script *sc, const void *b, size_t n)
{
    assert_true(sc->n > 0 && sc->used + n <= ARENA);
    if (n == 0)
        return; /* b may be NULL */
    memcpy(sc->buf + sc->used, b, n);
    sc->used += n;
    sc->s[sc->n - 1].len += n;
}

static void frame(struct script *sc, uint8_t type, uint8_t flags, uint32_t sid,
                  const void *payload, size_t n)
{
    uint8_t h[9] = {(uint8_t)(n >> 16),
                    (uint8_t)(n >> 8),
                    (uint8_t)n,
                    type,
                    flags,
                    (uint8_t)(sid >> 24),
                    (uint8_t)(sid >> 16),
                    (uint8_t)(sid >> 8),
                    (uint8_t)sid};

    assert_true(n < (1u << 24));
    put(sc, h, sizeof(h));
    put(sc, payload, n);
}

static void settings(struct script *sc, uint16_t id, uint32_t v)
{
    uint8_t e[6] = {(uint8_t)(id >> 8), (uint8_t)id,       (uint8_t)(v >> 24),
                    (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

    frame(sc, SETTINGS, 0, 0, e, sizeof(e));
}

/* The client's first piece: preface, SETTINGS, WINDOW_UPDATE. */
static void client_start(struct script *sc, uint32_t tag)
{
    static const uint8_t wu[4] = {0x00, 0xff, 0x00, 0x01};

    piece(sc, true, tag);
    put(sc, preface_bytes, 24);
    settings(sc, 0x3, 100); /* SETTINGS_MAX_CONCURRENT_STREAMS */
    frame(sc, WINDOW_UPDATE, 0, 0, wu, sizeof(wu));
}

/* The server's first piece: its SETTINGS, and an ACK of the client's. */
static void server_start(struct script *sc)
{
    piece(sc, false, 0);
    settings(sc, 0x4, 65535);
    frame(sc, SETTINGS, ACK, 0, NULL, 0);
}

/* HPACK */

static nghttp2_hd_deflater *deflater(size_t max)
{
    nghttp2_hd_deflater *d = NULL;

    assert_int_equal(nghttp2_hd_deflate_new(&d, max), 0);
    return d;
}

/* The pairs name, value, ..., NULL, encoded by d into out. */
static size_t vblock(nghttp2_hd_deflater *d, uint8_t *out, size_t cap,
                     va_list ap)
{
    nghttp2_nv nv[40];
    size_t n = 0;
    const char *name;
    ssize_t rv;

    while ((name = va_arg(ap, const char *)) != NULL) {
        const char *value = va_arg(ap, const char *);

        assert_true(n < 40);
        nv[n++] = (nghttp2_nv){(uint8_t *)(uintptr_t)name,
                               (uint8_t *)(uintptr_t)value, strlen(name),
                               strlen(value), NGHTTP2_NV_FLAG_NONE};
    }
    rv = nghttp2_hd_deflate_hd(d, out, cap, nv, n);
    assert_true(rv > 0);
    return (size_t)rv;
}

static size_t block(nghttp2_hd_deflater *d, uint8_t *out, size_t cap, ...)
{
    va_list ap;
    size_t n;

    va_start(ap, cap);
    n = vblock(d, out, cap, ap);
    va_end(ap);
    return n;
}

/* A HEADERS frame (END_HEADERS added) whose block is the pairs given. */
static size_t headers(struct script *sc, nghttp2_hd_deflater *d, uint32_t sid,
                      unsigned flags, ...)
{
    uint8_t b[8192];
    va_list ap;
    size_t n;

    va_start(ap, flags);
    n = vblock(d, b, sizeof(b), ap);
    va_end(ap);
    frame(sc, HEADERS, (uint8_t)(flags | END_HEADERS), sid, b, n);
    return n;
}

static void request(struct script *sc, nghttp2_hd_deflater *d, uint32_t sid,
                    const char *authority, const char *path)
{
    headers(sc, d, sid, END_STREAM, ":method", "GET", ":scheme", "https",
            ":authority", authority, ":path", path, "user-agent", "test/1",
            NULL);
}

/* Running a script */

struct result {
    int starts;
    int nresp; /* reported or dropped */
    rlc_h2_response resp[MAXRESP];
    bool reported[MAXRESP];
    bool tx_opaque, rx_opaque;
    char authority[MAXSTEPS][RLC_H2_AUTHORITY_MAX]; /* per step, WHOLE */
};

enum mode { WHOLE, SPLIT, BYTES, RANDOM };

static uint32_t xorshift(uint32_t *s)
{
    uint32_t x = *s;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

static void sent_out(const rlc_h2_sent *o, size_t k, struct result *r)
{
    assert_true(o->streams_started >= 0);
    assert_true(strlen(o->authority) < RLC_H2_AUTHORITY_MAX);
    if (o->authority[0] != '\0') {
        assert_true(o->streams_started >= 1);
        strcpy(r->authority[k], o->authority);
    }
    if (r->tx_opaque)
        assert_true(o->opaque); /* for good */
    r->starts += o->streams_started;
    r->tx_opaque = o->opaque;
}

static void feed_sent(rlc_h2_conn *c, const uint8_t *b, size_t n, uint32_t tag,
                      size_t k, struct result *r)
{
    rlc_h2_sent o;

    rlc_h2_feed_sent(c, b, n, tag, &o);
    sent_out(&o, k, r);
}

/*
 * The preload's way: feed a copy, then the socket takes some of the
 * piece; all of it: keep the copy (by assignment or adoption); else feed
 * the real state what left, and try the rest again.
 */
static void dry_sent(rlc_h2_conn *c, const uint8_t *b, size_t n, uint32_t tag,
                     uint32_t *seed, size_t k, struct result *r)
{
    while (n > 0) {
        rlc_h2_conn dry = *c;
        rlc_h2_sent ds, o;
        uint32_t x = xorshift(seed);
        size_t took = x % 2 == 0 ? n : x / 2 % n + 1;

        rlc_h2_feed_sent(&dry, b, n, tag, &ds);
        if (took == n && x % 4 == 0) {
            *c = dry;
            o = ds;
        } else if (took == n) {
            rlc_h2_conn_adopt_sent(c, &dry);
            o = ds;
        } else {
            rlc_h2_feed_sent(c, b, took, tag, &o);
            assert_true(o.streams_started <= ds.streams_started);
            assert_true(!o.opaque || ds.opaque);
        }
        sent_out(&o, k, r);
        b += took;
        n -= took;
    }
}

static void feed_received(rlc_h2_conn *c, const uint8_t *b, size_t n,
                          struct result *r)
{
    rlc_h2_received o;

    rlc_h2_feed_received(c, b, n, NOW, &o);
    assert_true(o.nresponses >= 0 && o.nresponses <= 4);
    assert_true(o.dropped >= 0);
    assert_true(r->nresp + o.nresponses + o.dropped <= MAXRESP);
    if (r->rx_opaque)
        assert_true(o.opaque && o.nresponses + o.dropped == 0);
    for (int i = 0; i < o.nresponses; i++) {
        const rlc_h2_response *x = &o.responses[i];

        assert_true(x->status >= 200 && x->status <= 999);
        assert_true(x->stream_id % 2 == 1);
        assert_true(x->tag_known || x->request_tag == 0);
        assert_true(x->has_retry_after || x->retry_after_unix == 0);
        r->resp[r->nresp + i] = *x;
        /* a piece that dropped some may put a later 429 in an earlier
         * place: only those of pieces that dropped none compare */
        r->reported[r->nresp + i] = o.dropped == 0;
    }
    r->nresp += o.nresponses + o.dropped;
    r->rx_opaque = o.opaque;
}

static void feed(rlc_h2_conn *c, const struct step *st, const uint8_t *b,
                 size_t n, enum mode m, uint32_t *seed, size_t k,
                 struct result *r)
{
    if (st->sent && m == RANDOM)
        dry_sent(c, b, n, st->tag, seed, k, r);
    else if (st->sent)
        feed_sent(c, b, n, st->tag, k, r);
    else
        feed_received(c, b, n, r);
}

/* One run; in SPLIT mode step `which` is cut at `at`. */
static void run(const struct script *sc, enum mode m, size_t which, size_t at,
                uint32_t seed, struct result *r)
{
    rlc_h2_conn c;

    memset(r, 0, sizeof(*r));
    rlc_h2_init(&c);
    for (size_t k = 0; k < sc->n; k++) {
        const struct step *st = &sc->s[k];
        const uint8_t *b = sc->buf + st->off;

        if (m == WHOLE || (m == SPLIT && k != which)) {
            feed(&c, st, b, st->len, m, &seed, k, r);
        } else if (m == SPLIT) {
            feed(&c, st, b, at, m, &seed, k, r);
            feed(&c, st, b + at, st->len - at, m, &seed, k, r);
        } else {
            for (size_t i = 0, n; i < st->len; i += n) {
                n = m == BYTES ? 1 : xorshift(&seed) % 40 + 1;
                if (n > st->len - i)
                    n = st->len - i;
                feed(&c, st, b + i, n, m, &seed, k, r);
            }
        }
    }
    /* Empty pieces change nothing and tell where each direction is. */
    feed_sent(&c, NULL, 0, 0, 0, r);
    feed_received(&c, NULL, 0, r);
    rlc_h2_conn_release(&c);
}

static void same(const struct result *a, const struct result *b)
{
    assert_int_equal(a->starts, b->starts);
    assert_int_equal(a->nresp, b->nresp);
    assert_int_equal(a->tx_opaque, b->tx_opaque);
    assert_int_equal(a->rx_opaque, b->rx_opaque);
    for (int i = 0; i < a->nresp; i++) {
        const rlc_h2_response *x = &a->resp[i], *y = &b->resp[i];

        if (!a->reported[i] || !b->reported[i])
            continue;
        assert_int_equal(x->status, y->status);
        assert_int_equal(x->stream_id, y->stream_id);
        assert_int_equal(x->request_tag, y->request_tag);
        assert_int_equal(x->tag_known, y->tag_known);
        assert_int_equal(x->has_retry_after, y->has_retry_after);
        assert_int_equal(x->retry_after_unix, y->retry_after_unix);
    }
}

static struct result whole_r, other_r;

/* Whole, split everywhere, byte by byte, random pieces: one answer. */
static const struct result *check(const struct script *sc)
{
    run(sc, WHOLE, 0, 0, 0, &whole_r);
    if (sc->used <= SPLIT_MAX) {
        for (size_t k = 0; k < sc->n; k++) {
            for (size_t at = 0; at <= sc->s[k].len; at++) {
                run(sc, SPLIT, k, at, 0, &other_r);
                same(&whole_r, &other_r);
            }
        }
    }
    for (uint32_t seed = 1; seed <= SEEDS; seed++) {
        run(sc, RANDOM, 0, 0, seed * 0x9e3779b9u, &other_r);
        same(&whole_r, &other_r);
    }
    run(sc, BYTES, 0, 0, 0, &other_r);
    same(&whole_r, &other_r);
    for (int i = 0; i < other_r.nresp; i++)
        assert_true(other_r.reported[i]); /* one byte ends one block */
    return &whole_r;
}

static void resp_is(const struct result *r, int i, int status, uint32_t sid,
                    uint32_t tag, bool known)
{
    assert_true(i < r->nresp);
    assert_true(r->reported[i]);
    assert_int_equal(r->resp[i].status, status);
    assert_int_equal(r->resp[i].stream_id, sid);
    assert_int_equal(r->resp[i].request_tag, tag);
    assert_int_equal(r->resp[i].tag_known, known);
}

static void retry_is(const struct result *r, int i, int64_t when)
{
    assert_true(r->resp[i].has_retry_after);
    assert_int_equal(r->resp[i].retry_after_unix, when);
}

static void no_retry(const struct result *r, int i)
{
    assert_false(r->resp[i].has_retry_after);
    assert_int_equal(r->resp[i].retry_after_unix, 0);
}

/* Responses */

/* :status 429 as a literal with incremental indexing, Huffman-coded (the
 * deflater would not: "429" is no shorter in Huffman), then the second
 * response refers to it in the dynamic table (index 62). */
static void test_http2_429_huffman_literal_then_indexed(void **state)
{
    static const uint8_t huff429[] = {0x48, 0x83, 0x68, 0x4f, 0xff};
    static const uint8_t indexed[] = {0xbe};
    struct script *sc = script();
    nghttp2_hd_deflater *cd = deflater(4096);
    const struct result *r;

    (void)state;
    client_start(sc, 11);
    request(sc, cd, 1, "api.example.com", "/a");
    server_start(sc);
    frame(sc, HEADERS, END_HEADERS | END_STREAM, 1, huff429, sizeof(huff429));
    piece(sc, true, 12);
    request(sc, cd, 3, "api.example.com", "/b");
    piece(sc, false, 0);
    frame(sc, HEADERS, END_HEADERS | END_STREAM, 3, indexed, sizeof(indexed));
    r = check(sc);
    assert_int_equal(r->starts, 2);
    assert_int_equal(r->nresp, 2);
    resp_is(r, 0, 429, 1, 11, true);
    no_retry(r, 0);
    resp_is(r, 1, 429, 3, 12, true);
    assert_false(r->rx_opaque);
    assert_false(r->tx_opaque);
    nghttp2_hd_deflate_del(cd);
}

static void test_http2_second_429_from_dynamic_table(void **state)
{
    struct script *sc = script();
    nghttp2_hd_deflater *cd = deflater(4096), *sd = deflater(4096);
    const struct result *r;
    size_t first, second;

    (void)state;
    client_start(sc, 1);
    request(sc, cd, 1, "api.example.com", "/a");
    server_start(sc);
    first = headers(sc, sd, 1, END_STREAM, ":status", "429", "retry-after",
                    "30", "content-type", "application/json", NULL);
    piece(sc, true, 2);
    request(sc, cd, 3, "api.example.com", "/a");
    piece(sc, false, 0);
    second = headers(sc, sd, 3, END_STREAM, ":status", "429", "retry-after",
                     "30", "content-type", "application/json", NULL);
    assert_true(second <= 3); /* three indexed fields */
    assert_true(first > second);
    r = check(sc);
    assert_int_equal(r->nresp, 2);
    resp_is(r, 0, 429, 1, 1, true);
    retry_is(r, 0, NOW + 30);
    resp_is(r, 1, 429, 3, 2, true);
    retry_is(r, 1, NOW + 30);
    nghttp2_hd_deflate_del(cd);
    nghttp2_hd_deflate_del(sd);
}

static void test_http2_interleaved_streams_200_then_429(void **state)
{
    struct script *sc = script();
    nghttp2_hd_deflater *cd = deflater(4096), *sd = deflater(4096);
    const struct result *r;

    (void)state;
    client_start(sc, 5);
    request(sc, cd, 1, "api.example.com", "/slow");
    piece(sc, true, 6);
    request(sc, cd, 3, "api.example.com", "/fast");
    server_start(sc);
    headers(sc, sd, 3, 0, ":status", "200", "content-type", "text/plain", NULL);
    frame(sc, DATA, 0, 3, "hello ", 6);
    headers(sc, sd, 1, 0, ":status", "429", "retry-after", "2", NULL);
    frame(sc, DATA, 0, 1, "{}", 2);
    frame(sc, DATA, END_STREAM, 3, "world", 5);
    frame(sc, DATA, END_STREAM, 1, "", 0);
    r = check(sc);
    assert_int_equal(r->starts, 2);
    assert_int_equal(r->nresp, 2);
    resp_is(r, 0, 200, 3, 6, true);
    no_retry(r, 0);
    resp_is(r, 1, 429, 1, 5, true);
    retry_is(r, 1, NOW + 2);
    nghttp2_hd_deflate_del(cd);
    nghttp2_hd_deflate_del(sd);
}

static void test_http2_retry_after_seconds_and_dates(void **state)
{
    struct script *sc = script();
    nghttp2_hd_deflater *cd = deflater(4096), *sd = deflater(4096);
    const struct result *r;

    (void)state;
    client_start(sc, 1);
    for (uint32_t sid = 1; sid <= 9; sid += 2)
        request(sc, cd, sid, "api.example.com", "/");
    server_start(sc);
    headers(sc, sd, 1, END_STREAM, ":status", "429", "retry-after", "120",
            NULL);
    headers(sc, sd, 3, END_STREAM, ":status", "429", "retry-after",
            "Wed, 21 Oct 2037 07:28:00 GMT", NULL);
    headers(sc, sd, 5, END_STREAM, ":status", "503", "retry-after", "soon",
            NULL);
    /* The first valid value wins. */
    headers(sc, sd, 7, END_STREAM, ":status", "429", "retry-after", "later",
            "retry-after", "5", "retry-after", "6", NULL);
    piece(sc, false, 0); /* four responses a piece are reported */
    headers(sc, sd, 9, END_STREAM, ":status", "429", "retry-after",
            "Wednesday, 21-Oct-37 07:28:00 GMT", NULL);
    r = check(sc);
    assert_int_equal(r->nresp, 5);
    resp_is(r, 0, 429, 1, 1, true);
    retry_is(r, 0, NOW + 120);
    resp_is(r, 1, 429, 3, 1, true);
    retry_is(r, 1, DATE_2037);
    resp_is(r, 2, 503, 5, 1, true);
    no_retry(r, 2);
    retry_is(r, 3, NOW + 5);
    retry_is(r, 4, DATE_2037);
    nghttp2_hd_deflate_del(cd);
    nghttp2_hd_deflate_del(sd);
}

static void test_http2_continuation_frames(void **state)
{
    struct script *sc = script();
    nghttp2_hd_deflater *cd = deflater(4096), *sd = deflater(4096);
    const struct result *r;
    uint8_t b[4096];
    size_t n, a, c;

    (void)state;
    client_start(sc, 3);
    request(sc, cd, 1, "api.example.com", "/");
    server_start(sc);
    n = block(sd, b, sizeof(b), "x-request-id", "0123456789abcdef0123456789",
              ":status", "429", "x-ratelimit-remaining", "0",
              "x-ratelimit-reset", "1700000060", "retry-after", "7",
              "content-type", "application/problem+json", NULL);
    a = n / 3;
    c = 2 * n / 3;
    frame(sc, HEADERS, 0, 1, b, a);
    frame(sc, CONTINUATION, 0, 1, b + a, c - a);
    frame(sc, CONTINUATION, 0, 1, NULL, 0); /* empty: allowed */
    frame(sc, CONTINUATION, END_HEADERS, 1, b + c, n - c);
    frame(sc, DATA, END_STREAM, 1, "{}", 2);
    r = check(sc);
    assert_int_equal(r->nresp, 1);
    resp_is(r, 0, 429, 1, 3, true);
    retry_is(r, 0, NOW + 7);
    assert_false(r->rx_opaque);
    nghttp2_hd_deflate_del(cd);
    nghttp2_hd_deflate_del(sd);
}

/* A block that ends in an empty CONTINUATION, or is empty altogether. */
static void test_http2_empty_fragments_end_blocks(void **state)
{
    struct script *sc = script();
    nghttp2_hd_deflater *cd = deflater(4096), *sd = deflater(4096);
    const struct result *r;
    uint8_t b[256];
    size_t n;

    (void)state;
    client_start(sc, 3);
    request(sc, cd, 1, "api.example.com", "/");
    request(sc, cd, 3, "api.example.com", "/");
    server_start(sc);
    n = block(sd, b, sizeof(b), ":status", "429", NULL);
    frame(sc, HEADERS, 0, 1, b, n);
    frame(sc, CONTINUATION, END_HEADERS, 1, NULL, 0);
    frame(sc, HEADERS, END_HEADERS | END_STREAM, 3, NULL, 0); /* no fields */
    n = block(sd, b, sizeof(b), ":status", "429", NULL);
    frame(sc, HEADERS, 0, 3, NULL, 0);
    frame(sc, CONTINUATION, END_HEADERS, 3, b, n);
    r = check(sc);
    assert_int_equal(r->nresp, 2);
    resp_is(r, 0, 429, 1, 3, true);
    resp_is(r, 1, 429, 3, 3, true);
    assert_false(r->rx_opaque);
    nghttp2_hd_deflate_del(cd);
    nghttp2_hd_deflate_del(sd);
}

static void test_http2_padded_and_priority_headers(void **state)
{
    struct script *sc = script();
    nghttp2_hd_deflater *cd = deflater(4096), *sd = deflater(4096);
    const struct result *r;
    uint8_t b[512], p[600];
    size_t n;

    (void)state;
    client_start(sc, 9);
    for (uint32_t sid = 1; sid <= 7; sid += 2)
        request(sc, cd, sid, "api.example.com", "/");
    server_start(sc);
    /* PADDED and PRIORITY: pad length 6, dependency, weight, fragment,
     * padding (nonzero here: a receiver need not check it). */
    n = block(sd, b, sizeof(b), ":status", "429", "retry-after", "11", NULL);
    p[0] = 6;
    memcpy(p + 1, "\x80\x00\x00\x00\x0f", 5);
    memcpy(p + 6, b, n);
    memset(p + 6 + n, 0xaa, 6);
    frame(sc, HEADERS, PADDED | PRIO | END_HEADERS | END_STREAM, 1, p, n + 12);
    /* PADDED with no padding. */
    n = block(sd, b, sizeof(b), ":status", "200", NULL);
    p[0] = 0;
    memcpy(p + 1, b, n);
    frame(sc, HEADERS, PADDED | END_HEADERS | END_STREAM, 3, p, n + 1);
    /* PRIORITY only. */
    n = block(sd, b, sizeof(b), ":status", "429", "retry-after", "12", NULL);
    memcpy(p, "\x00\x00\x00\x03\x10", 5);
    memcpy(p + 5, b, n);
    frame(sc, HEADERS, PRIO | END_HEADERS | END_STREAM, 5, p, n + 5);
    /* PADDED and PRIORITY on HEADERS, the rest in a CONTINUATION. */
    n = block(sd, b, sizeof(b), ":status", "429", "retry-after", "13",
              "x-padding-test", "yes", NULL);
    p[0] = 200;
    memcpy(p + 1, "\x00\x00\x00\x00\x01", 5);
    memcpy(p + 6, b, 2);
    memset(p + 8, 0, 200);
    frame(sc, HEADERS, PADDED | PRIO, 7, p, 208);
    frame(sc, CONTINUATION, END_HEADERS, 7, b + 2, n - 2);
    r = check(sc);
    assert_int_equal(r->nresp, 4);
    resp_is(r, 0, 429, 1, 9, true);
    retry_is(r, 0, NOW + 11);
    resp_is(r, 1, 200, 3, 9, true);
    resp_is(r, 2, 429, 5, 9, true);
    retry_is(r, 2, NOW + 12);
    resp_is(r, 3, 429, 7, 9, true);
    retry_is(r, 3, NOW + 13);
    assert_false(r->rx_opaque);
    nghttp2_hd_deflate_del(cd);
    nghttp2_hd_deflate_del(sd);
}

/* The push's block adds entries the 429 then refers to: skipping it would
 * leave the table out of step (an index beyond it: opaque). */
static void test_http2_push_promise_keeps_table_in_sync(void **state)
{
    struct script *sc = script();
    nghttp2_hd_deflater *cd = deflater(4096), *sd = deflater(4096);
    const struct result *r;
    uint8_t b[1024], p[1200];
    size_t n;

    (void)state;
    client_start(sc, 4);
    request(sc, cd, 1, "api.example.com", "/");
    server_start(sc);
    n = block(sd, b, sizeof(b), ":method", "GET", ":scheme", "https",
              ":authority", "api.example.com", ":path", "/pushed.css",
              "x-trace", "push-trace-0123456789", NULL);
    p[0] = 3; /* PADDED */
    memcpy(p + 1, "\x00\x00\x00\x02", 4);
    memcpy(p + 5, b, n);
    memset(p + 5 + n, 0, 3);
    frame(sc, PUSH_PROMISE, PADDED | END_HEADERS, 1, p, n + 8);
    /* The pushed response (stream 2) is decoded but not reported. */
    headers(sc, sd, 2, 0, ":status", "200", "x-trace", "push-trace-0123456789",
            NULL);
    /* An unpadded PUSH_PROMISE whose block goes on in a CONTINUATION. */
    n = block(sd, b, sizeof(b), ":method", "GET", ":scheme", "https",
              ":authority", "api.example.com", ":path", "/pushed.js",
              "x-trace2", "second-push", NULL);
    memcpy(p, "\x00\x00\x00\x04", 4);
    memcpy(p + 4, b, 3);
    frame(sc, PUSH_PROMISE, 0, 1, p, 7);
    frame(sc, CONTINUATION, END_HEADERS, 1, b + 3, n - 3);
    n = headers(sc, sd, 1, END_STREAM, ":status", "429", "x-trace",
                "push-trace-0123456789", "x-trace2", "second-push",
                "retry-after", "3", NULL);
    assert_true(n < 20); /* it did use the entries the pushes added */
    frame(sc, DATA, END_STREAM, 2, "css", 3);
    r = check(sc);
    assert_false(r->rx_opaque);
    assert_int_equal(r->nresp, 1);
    resp_is(r, 0, 429, 1, 4, true);
    retry_is(r, 0, NOW + 3);
    nghttp2_hd_deflate_del(cd);
    nghttp2_hd_deflate_del(sd);
}

static void test_http2_trailers_are_ignored(void **state)
{
    struct script *sc = script();
    nghttp2_hd_deflater *cd = deflater(4096), *sd = deflater(4096);
    const struct result *r;

    (void)state;
    client_start(sc, 2);
    request(sc, cd, 1, "grpc.example.com", "/svc/Method");
    server_start(sc);
    headers(sc, sd, 1, 0, ":status", "200", "content-type", "application/grpc",
            NULL);
    frame(sc, DATA, 0, 1, "\0\0\0\0\0", 5);
    headers(sc, sd, 1, END_STREAM, "grpc-status", "8", "grpc-message",
            "rate limited", "retry-after", "9", NULL);
    r = check(sc);
    assert_int_equal(r->nresp, 1);
    resp_is(r, 0, 200, 1, 2, true);
    no_retry(r, 0);
    nghttp2_hd_deflate_del(cd);
    nghttp2_hd_deflate_del(sd);
}

static void test_http2_informational_responses_are_skipped(void **state)
{
    struct script *sc = script();
    nghttp2_hd_deflater *cd = deflater(4096), *sd = deflater(4096);
    const struct result *r;

    (void)state;
    client_start(sc, 8);
    headers(sc, cd, 1, 0, ":method", "POST", ":scheme", "https", ":authority",
            "api.example.com", ":path", "/upload", "expect", "100-continue",
            NULL);
    server_start(sc);
    headers(sc, sd, 1, 0, ":status", "100", NULL);
    piece(sc, true, 9);
    frame(sc, DATA, END_STREAM, 1, "payload", 7);
    piece(sc, false, 0);
    headers(sc, sd, 1, 0, ":status", "103", "link", "</a.css>; rel=preload",
            NULL);
    headers(sc, sd, 1, END_STREAM, ":status", "429", "retry-after", "1", NULL);
    r = check(sc);
    assert_int_equal(r->starts, 1);
    assert_int_equal(r->nresp, 1);
    resp_is(r, 0, 429, 1, 8, true);
    retry_is(r, 0, NOW + 1);
    nghttp2_hd_deflate_del(cd);
    nghttp2_hd_deflate_del(sd);
}

/* An unreadable :status (not three digits) is no response. */
static void test_http2_unreadable_status_is_not_reported(void **state)
{
    struct script *sc = script();
    nghttp2_hd_deflater *cd = deflater(4096), *sd = deflater(4096);
    const struct result *r;

    (void)state;
    client_start(sc, 1);
    for (uint32_t sid = 1; sid <= 7; sid += 2)
        request(sc, cd, sid, "api.example.com", "/");
    server_start(sc);
    headers(sc, sd, 1, END_STREAM, ":status", "42", NULL);
    headers(sc, sd, 3, END_STREAM, ":status", "4290", NULL);
    headers(sc, sd, 5, END_STREAM, ":status", "abc", NULL);
    /* Only the first :status counts. */
    headers(sc, sd, 7, END_STREAM, ":status", "429", ":status", "200", NULL);
    r = check(sc);
    assert_int_equal(r->nresp, 1);
    resp_is(r, 0, 429, 7, 1, true);
    assert_false(r->rx_opaque);
    nghttp2_hd_deflate_del(cd);
    nghttp2_hd_deflate_del(sd);
}

static void test_http2_responses_beyond_the_array_are_counted(void **state)
{
    struct script *sc = script();
    nghttp2_hd_deflater *cd = deflater(4096), *sd = deflater(4096);
    const struct result *r;

    (void)state;
    client_start(sc, 1);
    for (uint32_t sid = 1; sid <= 11; sid += 2)
        request(sc, cd, sid, "api.example.com", "/");
    server_start(sc);
    for (uint32_t sid = 1; sid <= 11; sid += 2)
        headers(sc, sd, sid, END_STREAM, ":status", "429", NULL);
    r = check(sc); /* byte by byte, each is reported in its place */
    assert_int_equal(r->starts, 6);
    assert_int_equal(r->nresp, 6); /* in one piece: 4 reported, 2 counted */
    nghttp2_hd_deflate_del(cd);
    nghttp2_hd_deflate_del(sd);
}

static void test_http2_ring_forgets_the_oldest_streams(void **state)
{
    struct script *sc = script();
    nghttp2_hd_deflater *cd = deflater(4096), *sd = deflater(4096);
    const struct result *r;

    (void)state;
    client_start(sc, 0);
    /* 70 streams (1..139), each in its own piece, tagged by its id. */
    for (uint32_t sid = 1; sid <= 139; sid += 2) {
        piece(sc, true, sid);
        request(sc, cd, sid, "api.example.com", "/");
    }
    server_start(sc);
    headers(sc, sd, 11, END_STREAM, ":status", "429", NULL);
    headers(sc, sd, 13, END_STREAM, ":status", "429", NULL);
    headers(sc, sd, 139, END_STREAM, ":status", "429", NULL);
    headers(sc, sd, 201, END_STREAM, ":status", "429", NULL);
    r = check(sc);
    assert_int_equal(r->starts, 70);
    assert_int_equal(r->nresp, 4);
    resp_is(r, 0, 429, 11, 0, false); /* 64 newer streams since */
    resp_is(r, 1, 429, 13, 13, true);
    resp_is(r, 2, 429, 139, 139, true);
    resp_is(r, 3, 429, 201, 0, false); /* never opened */
    nghttp2_hd_deflate_del(cd);
    nghttp2_hd_deflate_del(sd);
}

/* The client's SETTINGS_HEADER_TABLE_SIZE lets the server's encoder use a
 * bigger table, which the inflater must allow: here the last block uses
 * an entry that 4096 bytes would have evicted long before. */
static void table_script(struct script *sc, bool client_allows, uint32_t table)
{
    nghttp2_hd_deflater *cd = deflater(4096), *sd = deflater(table);
    char name[16], value[600];

    piece(sc, true, 1);
    put(sc, preface_bytes, 24);
    if (client_allows)
        settings(sc, 0x1, table);
    else
        frame(sc, SETTINGS, 0, 0, NULL, 0);
    request(sc, cd, 1, "api.example.com", "/");
    request(sc, cd, 3, "api.example.com", "/");
    server_start(sc);
    assert_int_equal(nghttp2_hd_deflate_change_table_size(sd, table), 0);
    memset(value, 'v', sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    for (int i = 0; i < 12; i++) {
        snprintf(name, sizeof(name), "x-big-%d", i);
        value[0] = (char)('a' + i);
        headers(sc, sd, 1, 0, ":status", i == 0 ? "200" : "100", name, value,
                NULL);
    }
    /* Refers to x-big-0, 12 entries of 600+ bytes ago. */
    value[0] = 'a';
    assert_true(headers(sc, sd, 3, END_STREAM, ":status", "429", "x-big-0",
                        value, NULL) < 8);
    nghttp2_hd_deflate_del(cd);
    nghttp2_hd_deflate_del(sd);
}

static void test_http2_client_header_table_size_bounds_server(void **state)
{
    struct script *sc = script();
    const struct result *r;

    (void)state;
    table_script(sc, true, 65536);
    r = check(sc);
    assert_false(r->rx_opaque);
    assert_int_equal(r->nresp, 2);
    resp_is(r, 0, 200, 1, 1, true);
    resp_is(r, 1, 429, 3, 1, true);

    /* Without the client's leave, the size update is a decoding error. */
    sc = script();
    table_script(sc, false, 65536);
    r = check(sc);
    assert_true(r->rx_opaque);
    assert_int_equal(r->nresp, 0);
}

/* A client that shrinks the table to 0: the server says so in a size
 * update and indexes nothing. */
static void test_http2_client_shrinks_the_table(void **state)
{
    struct script *sc = script();
    nghttp2_hd_deflater *cd = deflater(4096), *sd = deflater(4096);
    const struct result *r;

    (void)state;
    piece(sc, true, 1);
    put(sc, preface_bytes, 24);
    settings(sc, 0x1, 0);
    request(sc, cd, 1, "api.example.com", "/");
    request(sc, cd, 3, "api.example.com", "/");
    server_start(sc);
    assert_int_equal(nghttp2_hd_deflate_change_table_size(sd, 0), 0);
    headers(sc, sd, 1, END_STREAM, ":status", "429", "retry-after", "4", NULL);
    headers(sc, sd, 3, END_STREAM, ":status", "429", "retry-after", "4", NULL);
    r = check(sc);
    assert_false(r->rx_opaque);
    assert_int_equal(r->nresp, 2);
    retry_is(r, 0, NOW + 4);
    retry_is(r, 1, NOW + 4);
    nghttp2_hd_deflate_del(cd);
    nghttp2_hd_deflate_del(sd);
}

/* Streams and :authority */

static void test_http2_sent_counts_new_streams(void **state)
{
    struct script *sc = script();
    nghttp2_hd_deflater *cd = deflater(4096);
    const struct result *r;

    (void)state;
    client_start(sc, 1);
    request(sc, cd, 1, "api.example.com", "/1");
    request(sc, cd, 3, "api.example.com", "/3");
    request(sc, cd, 5, "api.example.com", "/5");
    r = check(sc);
    assert_int_equal(r->starts, 3);
    assert_false(r->tx_opaque);
    nghttp2_hd_deflate_del(cd);
}

static void test_http2_sent_other_frames_count_nothing(void **state)
{
    static const uint8_t zero4[4] = {0}, zero5[5] = {0}, zero8[8] = {0};
    struct script *sc = script();
    nghttp2_hd_deflater *cd = deflater(4096);
    const struct result *r;
    uint8_t b[256];
    size_t n;

    (void)state;
    client_start(sc, 1);
    n = block(cd, b, sizeof(b), ":method", "POST", ":scheme", "https",
              ":authority", "api.example.com", ":path", "/5", NULL);
    frame(sc, HEADERS, 0, 5, b, 4); /* counted once, with its CONTINUATION */
    frame(sc, CONTINUATION, END_HEADERS, 5, b + 4, n - 4);
    piece(sc, true, 2);
    frame(sc, DATA, 0, 5, "body", 4);
    frame(sc, CONTINUATION, END_HEADERS, 7, b, n);
    frame(sc, RST_STREAM, 0, 9, zero4, 4);
    frame(sc, PING, 0, 0, zero8, 8);
    frame(sc, PRIORITY, 0, 11, zero5, 5);
    frame(sc, WINDOW_UPDATE, 0, 5, "\0\0\1\0", 4);
    frame(sc, SETTINGS, ACK, 0, NULL, 0);
    /* Trailers from the client: HEADERS on a stream already open. */
    headers(sc, cd, 5, END_STREAM, "x-checksum", "abc", NULL);
    /* An even stream, and an odd one below the highest. */
    headers(sc, cd, 8, 0, "x-bad", "1", NULL);
    headers(sc, cd, 3, 0, ":method", "GET", ":path", "/3", NULL);
    frame(sc, GOAWAY, 0, 0, zero8, 8);
    r = check(sc);
    assert_int_equal(r->starts, 1);
    assert_false(r->tx_opaque);
    nghttp2_hd_deflate_del(cd);
}

static void test_http2_sent_large_frames_are_followed(void **state)
{
    static uint8_t big[100000];
    struct script *sc = script();
    nghttp2_hd_deflater *cd = deflater(4096);
    rlc_h2_conn c;
    rlc_h2_sent o;
    uint8_t b[512];
    size_t n;

    (void)state;
    client_start(sc, 1);
    headers(sc, cd, 1, 0, ":method", "POST", ":scheme", "https", ":authority",
            "up.example.com", ":path", "/", NULL);
    rlc_h2_init(&c);
    rlc_h2_feed_sent(&c, sc->buf, sc->used, 1, &o);
    assert_int_equal(o.streams_started, 1);
    /* A DATA frame far above 16384 bytes (the server allowed it), whose
     * payload looks like frame headers, then a new stream. */
    memset(big, 0x01, sizeof(big));
    big[0] = 0x01;
    big[1] = 0x86;
    big[2] = 0x97;
    big[3] = DATA;
    big[8] = 5;
    rlc_h2_feed_sent(&c, big, 9, 1, &o);
    assert_int_equal(o.streams_started, 0);
    rlc_h2_feed_sent(&c, big + 9, sizeof(big) - 9, 1, &o);
    assert_int_equal(o.streams_started, 0);
    n = block(cd, b, sizeof(b), ":method", "GET", ":scheme", "https",
              ":authority", "up.example.com", ":path", "/next", NULL);
    assert_true(n < 200);
    memcpy(big, "\0\0", 2);
    big[2] = (uint8_t)n;
    big[3] = HEADERS;
    big[4] = END_HEADERS;
    memcpy(big + 5, "\0\0\0\x07", 4);
    memcpy(big + 9, b, n);
    rlc_h2_feed_sent(&c, big, 9 + n, 2, &o);
    assert_int_equal(o.streams_started, 1);
    assert_false(o.opaque);
    rlc_h2_conn_release(&c);
    nghttp2_hd_deflate_del(cd);
}

static void test_http2_authority_of_the_first_block(void **state)
{
    struct script *sc = script();
    nghttp2_hd_deflater *cd = deflater(4096), *fresh = deflater(4096);
    const struct result *r;

    (void)state;
    client_start(sc, 1);
    request(sc, cd, 1, "API.Example.COM:8443", "/1");
    request(sc, cd, 3, "other.example.com", "/3");
    piece(sc, true, 2);
    request(sc, cd, 5, "third.example.com", "/5");
    /* The dynamic table may be in use after the first block: even a block
     * a fresh inflater could read is not read. */
    piece(sc, true, 3);
    request(sc, fresh, 7, "fourth.example.com", "/7");
    run(sc, WHOLE, 0, 0, 0, &whole_r);
    r = &whole_r;
    assert_int_equal(r->starts, 4);
    assert_string_equal(r->authority[0], "api.example.com:8443");
    assert_string_equal(r->authority[1], "");
    assert_string_equal(r->authority[2], "");
    check(sc);
    nghttp2_hd_deflate_del(cd);
    nghttp2_hd_deflate_del(fresh);
}

static void test_http2_authority_needs_the_whole_block(void **state)
{
    struct script *sc = script();
    nghttp2_hd_deflater *cd = deflater(4096);
    uint8_t b[512];
    size_t n;

    (void)state;
    /* The block ends in the next piece: counted now, no authority. */
    client_start(sc, 1);
    n = block(cd, b, sizeof(b), ":method", "GET", ":scheme", "https",
              ":authority", "api.example.com", ":path", "/", NULL);
    frame(sc, HEADERS, 0, 1, b, 5);
    piece(sc, true, 1);
    frame(sc, CONTINUATION, END_HEADERS, 1, b + 5, n - 5);
    run(sc, WHOLE, 0, 0, 0, &whole_r);
    assert_int_equal(whole_r.starts, 1);
    assert_string_equal(whole_r.authority[0], "");
    assert_string_equal(whole_r.authority[1], "");
    check(sc);

    /* With its CONTINUATIONs in the same piece: found. */
    sc = script();
    nghttp2_hd_deflate_del(cd);
    cd = deflater(4096);
    client_start(sc, 1);
    n = block(cd, b, sizeof(b), ":method", "GET", ":scheme", "https",
              ":authority", "api.example.com", ":path", "/", NULL);
    {
        uint8_t p[8] = {2}; /* pad length 2, 3 bytes of block, padding */

        memcpy(p + 1, b, 3);
        frame(sc, HEADERS, PADDED, 1, p, 6);
    }
    frame(sc, CONTINUATION, 0, 1, b + 3, 4);
    frame(sc, CONTINUATION, END_HEADERS, 1, b + 7, n - 7);
    run(sc, WHOLE, 0, 0, 0, &whole_r);
    assert_int_equal(whole_r.starts, 1);
    assert_string_equal(whole_r.authority[0], "api.example.com");
    check(sc);

    /* The preface alone, then SETTINGS and HEADERS: found there. */
    sc = script();
    nghttp2_hd_deflate_del(cd);
    cd = deflater(4096);
    piece(sc, true, 1);
    put(sc, preface_bytes, 24);
    piece(sc, true, 1);
    frame(sc, SETTINGS, 0, 0, NULL, 0);
    request(sc, cd, 1, "late.example.com", "/");
    run(sc, WHOLE, 0, 0, 0, &whole_r);
    assert_string_equal(whole_r.authority[1], "late.example.com");
    nghttp2_hd_deflate_del(cd);
}

static void test_http2_authority_falls_back_to_host(void **state)
{
    struct script *sc = script();
    nghttp2_hd_deflater *cd = deflater(4096);
    char lng[300];

    (void)state;
    client_start(sc, 1);
    headers(sc, cd, 1, END_STREAM, ":method", "GET", ":scheme", "https",
            ":path", "/", "host", "Legacy.Example.com", NULL);
    run(sc, WHOLE, 0, 0, 0, &whole_r);
    assert_string_equal(whole_r.authority[0], "legacy.example.com");
    nghttp2_hd_deflate_del(cd);

    /* Longer than 255 bytes: "" (but counted). */
    sc = script();
    cd = deflater(4096);
    memset(lng, 'a', sizeof(lng) - 1);
    lng[sizeof(lng) - 1] = '\0';
    client_start(sc, 1);
    request(sc, cd, 1, lng, "/");
    run(sc, WHOLE, 0, 0, 0, &whole_r);
    assert_int_equal(whole_r.starts, 1);
    assert_string_equal(whole_r.authority[0], "");
    nghttp2_hd_deflate_del(cd);
}

/* The dry run: a copy fed the piece ends as the original fed it does. */
static void test_http2_dry_run_copy_matches_real_feed(void **state)
{
    struct script *sc = script();
    nghttp2_hd_deflater *cd = deflater(4096), *sd = deflater(4096);
    rlc_h2_conn c, dry;
    rlc_h2_sent ds, rs;
    rlc_h2_received rr;
    const struct step *st;
    uint8_t b[256];
    size_t n;

    (void)state;
    client_start(sc, 1);
    request(sc, cd, 1, "api.example.com", "/");
    request(sc, cd, 3, "api.example.com", "/");
    rlc_h2_init(&c);
    st = &sc->s[0];
    dry = c;
    rlc_h2_feed_sent(&dry, sc->buf + st->off, st->len, 1, &ds);
    rlc_h2_feed_sent(&c, sc->buf + st->off, st->len, 1, &rs);
    assert_int_equal(ds.streams_started, 2);
    assert_int_equal(rs.streams_started, 2);
    assert_string_equal(ds.authority, "api.example.com");
    assert_string_equal(rs.authority, ds.authority);
    assert_memory_equal(&dry, &c, sizeof(c));

    /* Bytes received between the copy and its adoption are kept. */
    sc = script();
    server_start(sc);
    n = block(sd, b, sizeof(b), ":status", "429", "retry-after", "8", NULL);
    frame(sc, HEADERS, END_HEADERS, 1, b, n);
    n = block(sd, b, sizeof(b), ":status", "429", "retry-after", "8", NULL);
    frame(sc, HEADERS, 0, 5, b, 1); /* its block is not over */
    piece(sc, true, 7);
    request(sc, cd, 5, "api.example.com", "/");
    dry = c;
    rlc_h2_feed_sent(&dry, sc->buf + sc->s[1].off, sc->s[1].len, 7, &ds);
    assert_int_equal(ds.streams_started, 1);
    rlc_h2_feed_received(&c, sc->buf, sc->s[0].len, NOW, &rr);
    assert_int_equal(rr.nresponses, 1);
    rlc_h2_conn_adopt_sent(&c, &dry);
    sc = script();
    piece(sc, false, 0);
    frame(sc, CONTINUATION, END_HEADERS, 5, b + 1, n - 1);
    rlc_h2_feed_received(&c, sc->buf, sc->used, NOW, &rr);
    assert_false(rr.opaque);
    assert_int_equal(rr.nresponses, 1);
    assert_int_equal(rr.responses[0].status, 429);
    assert_int_equal(rr.responses[0].request_tag, 7);
    assert_true(rr.responses[0].tag_known);
    assert_int_equal(rr.responses[0].retry_after_unix, NOW + 8);
    rlc_h2_conn_release(&c);
    nghttp2_hd_deflate_del(cd);
    nghttp2_hd_deflate_del(sd);
}

/* Malformed input */

static void test_http2_bad_preface_is_opaque(void **state)
{
    static const char *const bad[] = {
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "PRI * HTTP/1.1\r\n\r\n",
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nhello, this is not a frame at all",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    };
    struct script *sc;
    nghttp2_hd_deflater *cd;
    const struct result *r;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sc = script();
        piece(sc, true, 1);
        put(sc, bad[i], strlen(bad[i]));
        r = check(sc);
        assert_true(r->tx_opaque);
        assert_int_equal(r->starts, 0);
    }
    /* HEADERS right after the preface: no SETTINGS, not HTTP/2. */
    sc = script();
    cd = deflater(4096);
    piece(sc, true, 1);
    put(sc, preface_bytes, 24);
    request(sc, cd, 1, "a", "/");
    r = check(sc);
    assert_true(r->tx_opaque);
    assert_int_equal(r->starts, 0);
    nghttp2_hd_deflate_del(cd);
}

static void test_http2_truncated_input_reports_nothing(void **state)
{
    struct script *sc = script();
    nghttp2_hd_deflater *cd = deflater(4096), *sd = deflater(4096);
    uint8_t b[256];
    size_t n;
    const struct result *r;

    (void)state;
    client_start(sc, 1);
    request(sc, cd, 1, "api.example.com", "/");
    put(sc, "\x00\x00\x10\x01\x04", 5); /* half a frame header */
    server_start(sc);
    n = block(sd, b, sizeof(b), ":status", "429", "retry-after", "8", NULL);
    frame(sc, HEADERS, END_HEADERS, 1, b, n);
    sc->used -= 2; /* the block's last bytes never come */
    sc->s[sc->n - 1].len -= 2;
    r = check(sc);
    assert_int_equal(r->starts, 1);
    assert_int_equal(r->nresp, 0);
    assert_false(r->tx_opaque);
    assert_false(r->rx_opaque);
    nghttp2_hd_deflate_del(cd);
    nghttp2_hd_deflate_del(sd);
}

/* Received framing that cannot be followed turns the direction opaque for
 * good; what came before in the same piece is still reported. */
static void bad_received(void (*build)(struct script *, uint8_t *, size_t),
                         int reported)
{
    struct script *sc = script();
    nghttp2_hd_deflater *cd = deflater(4096), *sd = deflater(4096);
    const struct result *r;
    uint8_t b[256];
    size_t n;

    client_start(sc, 1);
    request(sc, cd, 1, "api.example.com", "/");
    request(sc, cd, 3, "api.example.com", "/");
    server_start(sc);
    if (reported > 0)
        headers(sc, sd, 1, END_STREAM, ":status", "429", NULL);
    n = block(sd, b, sizeof(b), ":status", "429", NULL);
    build(sc, b, n);
    /* A good response after: never reported. */
    piece(sc, false, 0);
    headers(sc, sd, 3, END_STREAM, ":status", "200", NULL);
    r = check(sc);
    assert_true(r->rx_opaque);
    assert_int_equal(r->nresp, reported);
    nghttp2_hd_deflate_del(cd);
    nghttp2_hd_deflate_del(sd);
}

static void stray_continuation(struct script *sc, uint8_t *b, size_t n)
{
    frame(sc, CONTINUATION, END_HEADERS, 3, b, n);
}

static void data_inside_a_block(struct script *sc, uint8_t *b, size_t n)
{
    frame(sc, HEADERS, 0, 3, b, n);
    frame(sc, DATA, 0, 3, "x", 1);
}

static void continuation_of_another_stream(struct script *sc, uint8_t *b,
                                           size_t n)
{
    frame(sc, HEADERS, 0, 3, b, 1);
    frame(sc, CONTINUATION, END_HEADERS, 5, b + 1, n - 1);
}

static void padding_too_long(struct script *sc, uint8_t *b, size_t n)
{
    uint8_t p[64];

    p[0] = (uint8_t)(n + 1);
    memcpy(p + 1, b, n);
    frame(sc, HEADERS, PADDED | END_HEADERS, 3, p, n + 1);
}

static void priority_too_short(struct script *sc, uint8_t *b, size_t n)
{
    (void)b;
    (void)n;
    frame(sc, HEADERS, PRIO | END_HEADERS, 3, "\0\0\0", 3);
}

static void push_promise_too_short(struct script *sc, uint8_t *b, size_t n)
{
    (void)b;
    (void)n;
    frame(sc, PUSH_PROMISE, PADDED | END_HEADERS, 3, "\0\0\0\0", 4);
}

static void hpack_index_zero(struct script *sc, uint8_t *b, size_t n)
{
    (void)b;
    (void)n;
    frame(sc, HEADERS, END_HEADERS, 3, "\x80", 1);
}

static void hpack_index_beyond_table(struct script *sc, uint8_t *b, size_t n)
{
    (void)b;
    (void)n;
    frame(sc, HEADERS, END_HEADERS, 3, "\xff\xff\x7f", 3);
}

static void hpack_truncated_literal(struct script *sc, uint8_t *b, size_t n)
{
    (void)b;
    (void)n;
    frame(sc, HEADERS, END_HEADERS, 3, "\x48\x0a\x34\x32", 4);
}

static void hpack_bad_huffman(struct script *sc, uint8_t *b, size_t n)
{
    (void)b;
    (void)n;
    /* EOS inside a Huffman string. */
    frame(sc, HEADERS, END_HEADERS, 3, "\x48\x84\xff\xff\xff\xff", 6);
}

static void test_http2_received_malformed_is_opaque(void **state)
{
    (void)state;
    bad_received(stray_continuation, 1);
    bad_received(data_inside_a_block, 1);
    bad_received(continuation_of_another_stream, 1);
    bad_received(padding_too_long, 1);
    bad_received(priority_too_short, 0);
    bad_received(push_promise_too_short, 0);
    bad_received(hpack_index_zero, 1);
    bad_received(hpack_index_beyond_table, 0);
    bad_received(hpack_truncated_literal, 1);
    bad_received(hpack_bad_huffman, 1);
}

static void test_http2_received_not_settings_first_is_opaque(void **state)
{
    static const char *const first[] = {
        "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
        "\x00\x00\x00\x04\x01\x00\x00\x00\x00", /* an ACK first */
        "\x00\x00\x05\x04\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00",
        "\x00\x00\x00\x01\x05\x00\x00\x00\x01", /* HEADERS first */
    };
    const struct result *r;

    (void)state;
    for (size_t i = 0; i < sizeof(first) / sizeof(first[0]); i++) {
        struct script *sc = script();

        piece(sc, false, 0);
        put(sc, first[i], i == 0 ? strlen(first[i]) : i == 2 ? 14 : 9);
        r = check(sc);
        assert_true(r->rx_opaque);
        assert_int_equal(r->nresp, 0);
    }
}

/* Random bytes after valid prefaces: anything, but never a crash. */
static void test_http2_garbage_never_crashes(void **state)
{
    static uint8_t junk[4096];
    uint32_t seed = 12345;

    (void)state;
    for (int round = 0; round < 200; round++) {
        rlc_h2_conn c;
        rlc_h2_sent s;
        rlc_h2_received rr;
        size_t n = xorshift(&seed) % sizeof(junk);

        for (size_t i = 0; i < n; i++)
            junk[i] = (uint8_t)xorshift(&seed);
        rlc_h2_init(&c);
        rlc_h2_feed_sent(&c, preface_bytes, 24, 1, &s);
        rlc_h2_feed_sent(&c, "\0\0\0\4\0\0\0\0\0", 9, 1, &s);
        rlc_h2_feed_sent(&c, junk, n, 1, &s);
        rlc_h2_feed_received(&c, "\0\0\0\4\0\0\0\0\0", 9, NOW, &rr);
        rlc_h2_feed_received(&c, junk, n, NOW, &rr);
        assert_true(rr.nresponses >= 0 && rr.nresponses <= 4);
        rlc_h2_conn_release(&c);
    }
}

/* Memory */

struct failing {
    int left; /* allocations that succeed before they all fail */
    int calls;
};

static void *f_malloc(size_t size, void *ud)
{
    struct failing *f = ud;

    f->calls++;
    if (f->left <= 0)
        return NULL;
    f->left--;
    return malloc(size);
}

static void f_free(void *p, void *ud)
{
    (void)ud;
    free(p);
}

static void *f_calloc(size_t nmemb, size_t size, void *ud)
{
    struct failing *f = ud;

    f->calls++;
    if (f->left <= 0)
        return NULL;
    f->left--;
    return calloc(nmemb, size);
}

static void *f_realloc(void *p, size_t size, void *ud)
{
    struct failing *f = ud;

    f->calls++;
    if (f->left <= 0)
        return NULL;
    f->left--;
    return realloc(p, size);
}

static void build_node_h2c(struct script *sc);

/* Memory running out at every point of a real exchange: opaque, never a
 * crash or a leak (the sanitizer builds check), counting unchanged. */
static void test_http2_allocation_failure_is_opaque(void **state)
{
    struct failing f;
    nghttp2_mem mem = {&f, f_malloc, f_free, f_calloc, f_realloc};
    struct script *sc = script();
    struct result normal;
    bool all_ok = false;

    (void)state;
    build_node_h2c(sc);
    run(sc, WHOLE, 0, 0, 0, &normal);
    assert_false(normal.rx_opaque);
    rlc__h2_mem = &mem;
    for (int budget = 0; budget < 400 && !all_ok; budget++) {
        f.left = budget;
        f.calls = 0;
        run(sc, WHOLE, 0, 0, 0, &whole_r);
        assert_int_equal(whole_r.starts, normal.starts);
        if (budget == 0) {
            assert_true(whole_r.rx_opaque);
            assert_int_equal(whole_r.nresp, 0);
            assert_string_equal(whole_r.authority[0], "");
        }
        if (f.left > 0) { /* nothing failed */
            all_ok = true;
            same(&normal, &whole_r);
        }
    }
    rlc__h2_mem = NULL;
    assert_true(all_ok);
}

static void test_http2_release_and_reuse(void **state)
{
    rlc_h2_conn c;
    rlc_h2_sent s;
    rlc_h2_received rr;
    struct script *sc = script();

    (void)state;
    rlc_h2_init(&c);
    rlc_h2_conn_release(&c); /* never fed */
    rlc_h2_conn_release(&c);
    build_node_h2c(sc);
    for (int round = 0; round < 2; round++) {
        int n = 0;

        rlc_h2_init(&c);
        for (size_t k = 0; k < sc->n; k++) {
            const struct step *st = &sc->s[k];

            if (st->sent) {
                rlc_h2_feed_sent(&c, sc->buf + st->off, st->len, 1, &s);
            } else {
                rlc_h2_feed_received(&c, sc->buf + st->off, st->len, NOW, &rr);
                n += rr.nresponses;
            }
        }
        assert_int_equal(n, 4);
        rlc_h2_conn_release(&c);
        rlc_h2_conn_release(&c);
    }
}

static void test_http2_init_is_zero_fill(void **state)
{
    rlc_h2_conn a, b;

    (void)state;
    memset(&a, 0, sizeof(a));
    memset(&b, 0xa5, sizeof(b));
    rlc_h2_init(&b);
    assert_memory_equal(&a, &b, sizeof(a));
}

static void test_http2_is_preface_start(void **state)
{
    (void)state;
    assert_true(rlc_h2_is_preface_start(preface_bytes, 24));
    assert_true(rlc_h2_is_preface_start("PRI * HT", 8));
    assert_true(rlc_h2_is_preface_start(NULL, 0));
    assert_true(rlc_h2_is_preface_start(
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\4\0\0\0\0\0", 33));
    assert_false(rlc_h2_is_preface_start("PRI * HTTP/1.1\r\n", 16));
    assert_false(rlc_h2_is_preface_start("GET / HTTP/1.1\r\n", 16));
    assert_false(
        rlc_h2_is_preface_start("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\r", 24));
}

/* Real traffic */

struct capture {
    bool sent;
    const uint8_t *bytes;
    size_t len;
};

/*
 * curl 7.88.1 (nghttp2 1.52) --http2-prior-knowledge, GET /a, against
 * node 20's http2.createServer answering 429 with "retry-after: 30",
 * captured by a relay on loopback: each array is one read by the relay.
 */
static const uint8_t curl_h2c_0[] = {
    0x50, 0x52, 0x49, 0x20, 0x2a, 0x20, 0x48, 0x54, 0x54, 0x50, 0x2f, 0x32,
    0x2e, 0x30, 0x0d, 0x0a, 0x0d, 0x0a, 0x53, 0x4d, 0x0d, 0x0a, 0x0d, 0x0a,
    0x00, 0x00, 0x12, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00,
    0x00, 0x00, 0x64, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x01, 0xff, 0x00, 0x01, 0x00, 0x00, 0x22, 0x01, 0x05, 0x00, 0x00, 0x00,
    0x01, 0x82, 0x04, 0x02, 0x2f, 0x61, 0x86, 0x41, 0x8b, 0x08, 0x9d, 0x5c,
    0x0b, 0x81, 0x70, 0xdc, 0x65, 0xc0, 0xbc, 0xef, 0x7a, 0x88, 0x25, 0xb6,
    0x50, 0xc3, 0xab, 0xbc, 0xf2, 0xe1, 0x53, 0x03, 0x2a, 0x2f, 0x2a,
};
static const uint8_t curl_h2c_1[] = {
    0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00,
};
static const uint8_t curl_h2c_2[] = {
    0x00, 0x00, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00,
};
static const uint8_t curl_h2c_3[] = {
    0x00, 0x00, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a,
    0x01, 0x04, 0x00, 0x00, 0x00, 0x01, 0x48, 0x03, 0x34, 0x32, 0x39, 0x75,
    0x02, 0x33, 0x30, 0x5f, 0x87, 0x49, 0x7c, 0xa5, 0x8a, 0xe8, 0x19, 0xaa,
    0x61, 0x96, 0xdf, 0x69, 0x7e, 0x94, 0x00, 0x54, 0xbe, 0x52, 0x28, 0x20,
    0x09, 0xc5, 0x00, 0x0b, 0x8d, 0x0a, 0xe0, 0x40, 0xa6, 0x2d, 0x1b, 0xff,
    0x00, 0x00, 0x0a, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x73, 0x6c, 0x6f,
    0x77, 0x20, 0x64, 0x6f, 0x77, 0x6e, 0x0a,
};
static const struct capture curl_h2c[] = {
    {true, curl_h2c_0, sizeof(curl_h2c_0)},
    {false, curl_h2c_1, sizeof(curl_h2c_1)},
    {true, curl_h2c_2, sizeof(curl_h2c_2)},
    {false, curl_h2c_3, sizeof(curl_h2c_3)},
};

/*
 * node 20's http2.connect, four GETs one after the other on one
 * connection (/a, /ok, /b, /date) against the same server: 429 with
 * retry-after 30, 200, 429 again (mostly from the dynamic table), and 429
 * with "retry-after: Wed, 21 Oct 2037 07:28:00 GMT".
 */
static const uint8_t node_h2c_0[] = {
    0x50, 0x52, 0x49, 0x20, 0x2a, 0x20, 0x48, 0x54, 0x54, 0x50, 0x2f,
    0x32, 0x2e, 0x30, 0x0d, 0x0a, 0x0d, 0x0a, 0x53, 0x4d, 0x0d, 0x0a,
    0x0d, 0x0a, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x13, 0x01, 0x05, 0x00, 0x00, 0x00, 0x01, 0x04, 0x02,
    0x2f, 0x61, 0x82, 0x41, 0x8b, 0x08, 0x9d, 0x5c, 0x0b, 0x81, 0x70,
    0xdc, 0x65, 0x91, 0x3a, 0xdf, 0x86,
};
static const uint8_t node_h2c_1[] = {
    0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00,
};
static const uint8_t node_h2c_2[] = {
    0x00, 0x00, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00,
};
static const uint8_t node_h2c_3[] = {
    0x00, 0x00, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a,
    0x01, 0x04, 0x00, 0x00, 0x00, 0x01, 0x48, 0x03, 0x34, 0x32, 0x39, 0x75,
    0x02, 0x33, 0x30, 0x5f, 0x87, 0x49, 0x7c, 0xa5, 0x8a, 0xe8, 0x19, 0xaa,
    0x61, 0x96, 0xdf, 0x69, 0x7e, 0x94, 0x00, 0x54, 0xbe, 0x52, 0x28, 0x20,
    0x09, 0xc5, 0x00, 0x0b, 0x8d, 0x0a, 0xe0, 0x5d, 0x53, 0x16, 0x8d, 0xff,
    0x00, 0x00, 0x0a, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x73, 0x6c, 0x6f,
    0x77, 0x20, 0x64, 0x6f, 0x77, 0x6e, 0x0a,
};
static const uint8_t node_h2c_4[] = {
    0x00, 0x00, 0x08, 0x01, 0x05, 0x00, 0x00, 0x00, 0x03,
    0x04, 0x03, 0x2f, 0x6f, 0x6b, 0x82, 0xbe, 0x86,
};
static const uint8_t node_h2c_5[] = {
    0x00, 0x00, 0x03, 0x01, 0x04, 0x00, 0x00, 0x00, 0x03, 0x88, 0xbf, 0xbe,
    0x00, 0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x03, 0x6f, 0x6b, 0x0a,
};
static const uint8_t node_h2c_6[] = {
    0x00, 0x00, 0x07, 0x01, 0x05, 0x00, 0x00, 0x00,
    0x05, 0x04, 0x02, 0x2f, 0x62, 0x82, 0xbe, 0x86,
};
static const uint8_t node_h2c_7[] = {
    0x00, 0x00, 0x04, 0x01, 0x04, 0x00, 0x00, 0x00, 0x05, 0xc1, 0xc0,
    0xbf, 0xbe, 0x00, 0x00, 0x0a, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05,
    0x73, 0x6c, 0x6f, 0x77, 0x20, 0x64, 0x6f, 0x77, 0x6e, 0x0a,
};
static const uint8_t node_h2c_8[] = {
    0x00, 0x00, 0x09, 0x01, 0x05, 0x00, 0x00, 0x00, 0x07,
    0x04, 0x84, 0x62, 0x41, 0xa4, 0xbf, 0x82, 0xbe, 0x86,
};
static const uint8_t node_h2c_9[] = {
    0x00, 0x00, 0x1b, 0x01, 0x04, 0x00, 0x00, 0x00, 0x07, 0xc1, 0x75,
    0x96, 0xe4, 0x59, 0x3e, 0x94, 0x10, 0x54, 0xd4, 0x44, 0xa8, 0x20,
    0x32, 0xea, 0x80, 0x76, 0xe0, 0x9e, 0xb8, 0x00, 0x29, 0x8b, 0x46,
    0xff, 0xc0, 0xbf, 0x00, 0x00, 0x0a, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x07, 0x73, 0x6c, 0x6f, 0x77, 0x20, 0x64, 0x6f, 0x77, 0x6e, 0x0a,
};
static const uint8_t node_h2c_10[] = {
    0x00, 0x00, 0x08, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
static const uint8_t node_h2c_11[] = {
    0x00, 0x00, 0x08, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
static const uint8_t node_h2c_12[] = {
    0x00, 0x00, 0x08, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00,
};
static const uint8_t node_h2c_13[] = {
    0x00, 0x00, 0x08, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00,
};
static const struct capture node_h2c[] = {
    {true, node_h2c_0, sizeof(node_h2c_0)},
    {false, node_h2c_1, sizeof(node_h2c_1)},
    {true, node_h2c_2, sizeof(node_h2c_2)},
    {false, node_h2c_3, sizeof(node_h2c_3)},
    {true, node_h2c_4, sizeof(node_h2c_4)},
    {false, node_h2c_5, sizeof(node_h2c_5)},
    {true, node_h2c_6, sizeof(node_h2c_6)},
    {false, node_h2c_7, sizeof(node_h2c_7)},
    {true, node_h2c_8, sizeof(node_h2c_8)},
    {false, node_h2c_9, sizeof(node_h2c_9)},
    {true, node_h2c_10, sizeof(node_h2c_10)},
    {true, node_h2c_11, sizeof(node_h2c_11)},
    {false, node_h2c_12, sizeof(node_h2c_12)},
    {false, node_h2c_13, sizeof(node_h2c_13)},
};

static void build(struct script *sc, const struct capture *cap, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        piece(sc, cap[i].sent, (uint32_t)i + 1); /* tag: the piece */
        put(sc, cap[i].bytes, cap[i].len);
    }
}

static void build_node_h2c(struct script *sc)
{
    build(sc, node_h2c, sizeof(node_h2c) / sizeof(node_h2c[0]));
}

static void test_http2_real_curl_exchange(void **state)
{
    struct script *sc = script();
    const struct result *r;

    (void)state;
    build(sc, curl_h2c, sizeof(curl_h2c) / sizeof(curl_h2c[0]));
    r = check(sc);
    assert_int_equal(r->starts, 1);
    assert_string_equal(r->authority[0], "127.0.0.1:36187");
    assert_int_equal(r->nresp, 1);
    resp_is(r, 0, 429, 1, 1, true);
    retry_is(r, 0, NOW + 30);
    assert_false(r->tx_opaque);
    assert_false(r->rx_opaque);
}

static void test_http2_real_node_exchange(void **state)
{
    struct script *sc = script();
    const struct result *r;

    (void)state;
    build_node_h2c(sc);
    r = check(sc);
    assert_int_equal(r->starts, 4);
    assert_int_equal(strncmp(r->authority[0], "127.0.0.1:", 10), 0);
    assert_int_equal(r->nresp, 4);
    assert_int_equal(r->resp[0].status, 429);
    retry_is(r, 0, NOW + 30);
    assert_int_equal(r->resp[1].status, 200);
    no_retry(r, 1);
    assert_int_equal(r->resp[2].status, 429);
    retry_is(r, 2, NOW + 30);
    assert_int_equal(r->resp[3].status, 429);
    retry_is(r, 3, DATE_2037);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(r->resp[i].stream_id, (uint32_t)(2 * i + 1));
        assert_true(r->resp[i].tag_known);
    }
    assert_false(r->tx_opaque);
    assert_false(r->rx_opaque);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http2_429_huffman_literal_then_indexed),
        cmocka_unit_test(test_http2_second_429_from_dynamic_table),
        cmocka_unit_test(test_http2_interleaved_streams_200_then_429),
        cmocka_unit_test(test_http2_retry_after_seconds_and_dates),
        cmocka_unit_test(test_http2_continuation_frames),
        cmocka_unit_test(test_http2_empty_fragments_end_blocks),
        cmocka_unit_test(test_http2_padded_and_priority_headers),
        cmocka_unit_test(test_http2_push_promise_keeps_table_in_sync),
        cmocka_unit_test(test_http2_trailers_are_ignored),
        cmocka_unit_test(test_http2_informational_responses_are_skipped),
        cmocka_unit_test(test_http2_unreadable_status_is_not_reported),
        cmocka_unit_test(test_http2_responses_beyond_the_array_are_counted),
        cmocka_unit_test(test_http2_ring_forgets_the_oldest_streams),
        cmocka_unit_test(test_http2_client_header_table_size_bounds_server),
        cmocka_unit_test(test_http2_client_shrinks_the_table),
        cmocka_unit_test(test_http2_sent_counts_new_streams),
        cmocka_unit_test(test_http2_sent_other_frames_count_nothing),
        cmocka_unit_test(test_http2_sent_large_frames_are_followed),
        cmocka_unit_test(test_http2_authority_of_the_first_block),
        cmocka_unit_test(test_http2_authority_needs_the_whole_block),
        cmocka_unit_test(test_http2_authority_falls_back_to_host),
        cmocka_unit_test(test_http2_dry_run_copy_matches_real_feed),
        cmocka_unit_test(test_http2_bad_preface_is_opaque),
        cmocka_unit_test(test_http2_truncated_input_reports_nothing),
        cmocka_unit_test(test_http2_received_malformed_is_opaque),
        cmocka_unit_test(test_http2_received_not_settings_first_is_opaque),
        cmocka_unit_test(test_http2_garbage_never_crashes),
        cmocka_unit_test(test_http2_allocation_failure_is_opaque),
        cmocka_unit_test(test_http2_release_and_reuse),
        cmocka_unit_test(test_http2_init_is_zero_fill),
        cmocka_unit_test(test_http2_is_preface_start),
        cmocka_unit_test(test_http2_real_curl_exchange),
        cmocka_unit_test(test_http2_real_node_exchange),
    };

    return cmocka_run_group_tests_name("http2", tests, NULL, NULL);
}
