/* SPDX-License-Identifier: MIT */
/*
 * fuzz_http2.c - libFuzzer target for the HTTP/2 framing: an input is a
 * client stream and a server stream, fed in pieces whose sizes it encodes.
 *
 * Input: 1 byte of flags (1: put the client preface and SETTINGS before
 * the sent bytes; 2: an empty SETTINGS before the received ones; 4: also
 * run with allocations failing), 2 bytes (little endian) where the sent
 * part ends, 1 byte seeding the piece sizes, then the bytes. Fed whole,
 * in pieces (the sent ones through the preload's dry run) and byte by
 * byte, the streams must give the same results; a dry-run copy fed what
 * the real state is fed must end byte for byte the same.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "http2.h"

#define NOW INT64_C(1700000000)
#define MAXR 65536
#define MAXIN (1 << 16)

enum { F_PREFACE = 1, F_SERVER_SETTINGS = 2, F_FAIL_ALLOC = 4 };

struct outcome {
    int starts, nresp;
    bool tx_opaque, rx_opaque;
    rlc_h2_response *resp; /* [MAXR], by position in the stream */
    bool *seen;            /* [MAXR]: reported, not only counted */
};

static rlc_h2_response resp_buf[3][MAXR];
static bool seen_buf[3][MAXR];
static uint8_t tx_buf[MAXIN + 64], rx_buf[MAXIN + 16];

static const uint8_t client_preface[] =
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\4\0\0\0\0\0";
static const uint8_t server_settings[] = "\0\0\0\4\0\0\0\0\0";

/* Piece sizes: a small xorshift seeded from the input. */
static uint32_t next(uint32_t *s)
{
    uint32_t x = *s;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

static size_t next_size(uint32_t *s, size_t left)
{
    uint32_t x = next(s);

    /* mostly small, sometimes large pieces */
    x = x % 8 == 0 ? x % 4096 + 1 : x % 24 + 1;
    return left < x ? left : x;
}

/* Allocations fail once a budget is spent (F_FAIL_ALLOC). */
static int alloc_left;

static void *f_malloc(size_t size, void *ud)
{
    (void)ud;
    if (alloc_left <= 0)
        return NULL;
    alloc_left--;
    return malloc(size);
}

static void f_free(void *p, void *ud)
{
    (void)ud;
    free(p);
}

static void *f_calloc(size_t nmemb, size_t size, void *ud)
{
    (void)ud;
    if (alloc_left <= 0)
        return NULL;
    alloc_left--;
    return calloc(nmemb, size);
}

static void *f_realloc(void *p, size_t size, void *ud)
{
    (void)ud;
    if (alloc_left <= 0)
        return NULL;
    alloc_left--;
    return realloc(p, size);
}

static nghttp2_mem failing = {NULL, f_malloc, f_free, f_calloc, f_realloc};

static void check_sent(const rlc_h2_sent *o, bool was_opaque)
{
    size_t n = strnlen(o->authority, sizeof(o->authority));

    if (n == sizeof(o->authority) || o->streams_started < 0)
        abort();
    if (n > 0 && o->streams_started < 1)
        abort();
    for (size_t i = 0; i < n; i++)
        if (o->authority[i] >= 'A' && o->authority[i] <= 'Z')
            abort();
    if (was_opaque && (!o->opaque || o->streams_started != 0))
        abort();
}

static void check_received(const rlc_h2_received *o, bool was_opaque)
{
    if (o->nresponses < 0 || o->nresponses > 4 || o->dropped < 0)
        abort();
    if (o->dropped > 0 && o->nresponses != 4)
        abort();
    if (was_opaque && (!o->opaque || o->nresponses + o->dropped != 0))
        abort();
    for (int i = 0; i < o->nresponses; i++) {
        const rlc_h2_response *r = &o->responses[i];

        if (r->status < 200 || r->status > 999 || r->stream_id % 2 != 1)
            abort();
        if (!r->tag_known && r->request_tag != 0)
            abort();
        if (r->tag_known && r->request_tag != 7)
            abort();
        if (!r->has_retry_after && r->retry_after_unix != 0)
            abort();
    }
}

static void sent(rlc_h2_conn *c, const uint8_t *p, size_t n, struct outcome *o)
{
    rlc_h2_sent s;

    rlc_h2_feed_sent(c, p, n, 7, &s);
    check_sent(&s, o->tx_opaque);
    o->starts += s.streams_started;
    o->tx_opaque = s.opaque;
}

/*
 * The preload's dry run: a copy is fed the piece, then the real state is
 * fed what "left" (all of it, or a prefix). Fed all, the copy must equal
 * the real state byte for byte, and their findings must match.
 */
static void dry_sent(rlc_h2_conn *c, const uint8_t *p, size_t n, uint32_t *seed,
                     struct outcome *o)
{
    while (n > 0) {
        rlc_h2_conn dry = *c;
        rlc_h2_sent ds, s;
        uint32_t x = next(seed);
        size_t took = x % 2 == 0 ? n : x / 2 % n + 1;

        rlc_h2_feed_sent(&dry, p, n, 7, &ds);
        rlc_h2_feed_sent(c, p, took, 7, &s);
        if (took == n) {
            if (memcmp(&dry, c, sizeof(dry)) != 0 ||
                ds.streams_started != s.streams_started ||
                ds.opaque != s.opaque || strcmp(ds.authority, s.authority) != 0)
                abort();
        } else if (s.streams_started > ds.streams_started ||
                   (s.opaque && !ds.opaque)) {
            abort();
        }
        check_sent(&s, o->tx_opaque);
        o->starts += s.streams_started;
        o->tx_opaque = s.opaque;
        p += took;
        n -= took;
    }
}

static void received(rlc_h2_conn *c, const uint8_t *p, size_t n,
                     struct outcome *o)
{
    rlc_h2_received r;

    rlc_h2_feed_received(c, p, n, NOW, &r);
    check_received(&r, o->rx_opaque);
    for (int i = 0; i < r.nresponses && o->nresp + i < MAXR; i++) {
        o->resp[o->nresp + i] = r.responses[i];
        /* a piece that dropped some may put a later 429 in an earlier
         * place: only places of pieces that dropped none compare */
        o->seen[o->nresp + i] = r.dropped == 0;
    }
    o->nresp += r.nresponses + r.dropped;
    o->rx_opaque = r.opaque;
}

/* All sent bytes, then all received ones, in pieces of `mode` bytes
 * (0: whole; 1: byte by byte; else sizes from the seed). */
static void run(const uint8_t *tx, size_t ntx, const uint8_t *rx, size_t nrx,
                int mode, uint32_t seed, struct outcome *o)
{
    rlc_h2_conn c;
    size_t i, k;

    rlc_h2_init(&c);
    memset(o->seen, 0, MAXR * sizeof(*o->seen));
    o->starts = o->nresp = 0;
    o->tx_opaque = o->rx_opaque = false;
    for (i = 0; i < ntx; i += k) {
        k = mode == 0 ? ntx : mode == 1 ? 1 : next_size(&seed, ntx - i);
        if (mode == 2)
            dry_sent(&c, tx + i, k, &seed, o);
        else
            sent(&c, tx + i, k, o);
    }
    for (i = 0; i < nrx; i += k) {
        k = mode == 0 ? nrx : mode == 1 ? 1 : next_size(&seed, nrx - i);
        received(&c, rx + i, k, o);
    }
    sent(&c, NULL, 0, o);
    received(&c, NULL, 0, o);
    rlc_h2_conn_release(&c);
}

static void same(const struct outcome *a, const struct outcome *b)
{
    if (a->starts != b->starts || a->nresp != b->nresp ||
        a->tx_opaque != b->tx_opaque || a->rx_opaque != b->rx_opaque)
        abort();
    for (int i = 0; i < a->nresp && i < MAXR; i++) {
        const rlc_h2_response *x = &a->resp[i], *y = &b->resp[i];

        if (!a->seen[i] || !b->seen[i])
            continue;
        if (x->status != y->status || x->stream_id != y->stream_id ||
            x->request_tag != y->request_tag || x->tag_known != y->tag_known ||
            x->has_retry_after != y->has_retry_after ||
            x->retry_after_unix != y->retry_after_unix)
            abort();
    }
}

/* The streams interleaved, with allocations failing after a budget: only
 * the invariants hold, and nothing leaks. */
static void failing_run(const uint8_t *tx, size_t ntx, const uint8_t *rx,
                        size_t nrx, uint32_t seed)
{
    struct outcome o = {0, 0, false, false, resp_buf[0], seen_buf[0]};
    rlc_h2_conn c;
    size_t i = 0, j = 0;

    alloc_left = (int)(seed % 64);
    rlc__h2_mem = &failing;
    rlc_h2_init(&c);
    memset(o.seen, 0, MAXR * sizeof(*o.seen));
    while (i < ntx || j < nrx) {
        size_t k;

        if (i < ntx) {
            k = next_size(&seed, ntx - i);
            sent(&c, tx + i, k, &o);
            i += k;
        }
        if (j < nrx) {
            k = next_size(&seed, nrx - j);
            received(&c, rx + j, k, &o);
            j += k;
        }
    }
    rlc_h2_conn_release(&c);
    rlc__h2_mem = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct outcome whole = {0, 0, false, false, resp_buf[0], seen_buf[0]};
    struct outcome pieces = {0, 0, false, false, resp_buf[1], seen_buf[1]};
    struct outcome bytes = {0, 0, false, false, resp_buf[2], seen_buf[2]};
    const uint8_t *p;
    size_t n, split, ntx = 0, nrx = 0;
    uint32_t seed;
    uint8_t flags;

    if (size < 4 || size - 4 > MAXIN)
        return 0;
    flags = data[0];
    p = data + 4;
    n = size - 4;
    split = ((size_t)data[1] | (size_t)data[2] << 8) % (n + 1);
    seed = 0x9e3779b9u ^ data[3] ^ (uint32_t)size << 8;

    if (flags & F_PREFACE) {
        memcpy(tx_buf, client_preface, sizeof(client_preface) - 1);
        ntx = sizeof(client_preface) - 1;
    }
    memcpy(tx_buf + ntx, p, split);
    ntx += split;
    if (flags & F_SERVER_SETTINGS) {
        memcpy(rx_buf, server_settings, sizeof(server_settings) - 1);
        nrx = sizeof(server_settings) - 1;
    }
    memcpy(rx_buf + nrx, p + split, n - split);
    nrx += n - split;

    (void)rlc_h2_is_preface_start(tx_buf, ntx);
    run(tx_buf, ntx, rx_buf, nrx, 0, seed, &whole);
    run(tx_buf, ntx, rx_buf, nrx, 2, seed, &pieces);
    run(tx_buf, ntx, rx_buf, nrx, 1, seed, &bytes);
    same(&whole, &pieces);
    same(&whole, &bytes);
    for (int i = 0; i < bytes.nresp && i < MAXR; i++)
        if (!bytes.seen[i])
            abort(); /* one byte ends at most one block */
    if (flags & F_FAIL_ALLOC)
        failing_run(tx_buf, ntx, rx_buf, nrx, seed);
    return 0;
}
