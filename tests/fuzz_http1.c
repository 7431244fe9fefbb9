/* SPDX-License-Identifier: MIT */
/*
 * fuzz_http1.c - libFuzzer target for the HTTP/1.x framing: an input is a
 * client stream and a server stream, fed in pieces whose sizes it encodes.
 *
 * Input: 2 bytes (little endian) where the sent part ends, 1 byte seeding
 * the piece sizes, then the bytes. Beyond not crashing, the streams fed
 * whole, in those pieces and byte by byte must give the same results.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

#define NOW INT64_C(1700000000)
#define MAXR 65536

struct outcome {
    int starts, nresp;
    bool tx_opaque, rx_opaque;
    rlc_http1_response *resp; /* [MAXR], by position in the stream */
    bool *seen;               /* [MAXR]: reported, not only counted */
};

static rlc_http1_response resp_buf[3][MAXR];
static bool seen_buf[3][MAXR];

/* Piece sizes: a small xorshift seeded from the input. */
static uint32_t next_size(uint32_t *s, size_t left)
{
    uint32_t x = *s;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    /* mostly small, sometimes large pieces */
    x = x % 8 == 0 ? x % 4096 + 1 : x % 24 + 1;
    return left < x ? (uint32_t)left : x;
}

static void check_sent(const rlc_http1_sent *o, bool was_opaque)
{
    size_t n = strnlen(o->host, sizeof(o->host));

    if (n == sizeof(o->host) || o->requests_started < 0)
        abort();
    for (size_t i = 0; i < n; i++)
        if (o->host[i] >= 'A' && o->host[i] <= 'Z')
            abort();
    if (was_opaque && (!o->opaque || o->requests_started != 0))
        abort();
}

static void check_received(const rlc_http1_received *o, bool was_opaque)
{
    if (o->nresponses < 0 || o->nresponses > 4 || o->dropped < 0)
        abort();
    if (was_opaque && (!o->opaque || o->nresponses + o->dropped != 0))
        abort();
    for (int i = 0; i < o->nresponses; i++) {
        const rlc_http1_response *r = &o->responses[i];

        if (r->status < 100 || r->status > 999 ||
            (r->status < 200 && r->status != 101))
            abort();
        if (!r->tag_known && r->request_tag != 0)
            abort();
        if (!r->has_retry_after && r->retry_after_unix != 0)
            abort();
    }
}

static void sent(rlc_http1_conn *c, const uint8_t *p, size_t n, uint32_t tag,
                 struct outcome *o)
{
    rlc_http1_sent s;

    rlc_http1_feed_sent(c, p, n, tag, &s);
    check_sent(&s, o->tx_opaque);
    o->starts += s.requests_started;
    o->tx_opaque = s.opaque;
}

static void received(rlc_http1_conn *c, const uint8_t *p, size_t n,
                     struct outcome *o)
{
    rlc_http1_received r;

    rlc_http1_feed_received(c, p, n, NOW, &r);
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
    rlc_http1_conn c;
    size_t i, k;

    rlc_http1_init(&c);
    memset(o->seen, 0, MAXR * sizeof(*o->seen));
    o->starts = o->nresp = 0;
    o->tx_opaque = o->rx_opaque = false;
    for (i = 0; i < ntx; i += k) {
        k = mode == 0 ? ntx : mode == 1 ? 1 : next_size(&seed, ntx - i);
        sent(&c, tx + i, k, 7, o);
    }
    for (i = 0; i < nrx; i += k) {
        k = mode == 0 ? nrx : mode == 1 ? 1 : next_size(&seed, nrx - i);
        received(&c, rx + i, k, o);
    }
    sent(&c, NULL, 0, 7, o);
    received(&c, NULL, 0, o);
}

static void same(const struct outcome *a, const struct outcome *b)
{
    if (a->starts != b->starts || a->nresp != b->nresp ||
        a->tx_opaque != b->tx_opaque || a->rx_opaque != b->rx_opaque)
        abort();
    for (int i = 0; i < a->nresp && i < MAXR; i++) {
        const rlc_http1_response *x = &a->resp[i], *y = &b->resp[i];

        if (!a->seen[i] || !b->seen[i])
            continue;
        if (x->status != y->status || x->request_tag != y->request_tag ||
            x->tag_known != y->tag_known ||
            x->has_retry_after != y->has_retry_after ||
            x->retry_after_unix != y->retry_after_unix)
            abort();
    }
}

/* The streams interleaved, each sent piece with its own tag: responses
 * must come back with tags in the order their requests were sent. */
static void interleaved(const uint8_t *tx, size_t ntx, const uint8_t *rx,
                        size_t nrx, uint32_t seed)
{
    rlc_http1_conn c;
    struct outcome o = {0, 0, false, false, resp_buf[0], seen_buf[0]};
    size_t i = 0, j = 0;
    uint32_t tag = 1, last = 0;

    rlc_http1_init(&c);
    memset(o.seen, 0, MAXR * sizeof(*o.seen));
    while (i < ntx || j < nrx) {
        size_t k;

        if (i < ntx) {
            k = next_size(&seed, ntx - i);
            sent(&c, tx + i, k, tag++, &o);
            i += k;
        }
        if (j < nrx) {
            k = next_size(&seed, nrx - j);
            received(&c, rx + j, k, &o);
            j += k;
        }
    }
    for (int r = 0; r < o.nresp && r < MAXR; r++) {
        if (!o.seen[r] || !o.resp[r].tag_known)
            continue;
        if (o.resp[r].request_tag < last)
            abort();
        last = o.resp[r].request_tag;
    }
}

/* A value accepted is accepted again with blanks around, same time. */
static void retry_after(const uint8_t *p, size_t n)
{
    char padded[2 + 64 + 2];
    int64_t t = 0, u = 1;

    if (n > 64)
        n = 64;
    if (!rlc_http1_parse_retry_after((const char *)p, n, NOW, &t))
        return;
    padded[0] = ' ';
    padded[1] = '\t';
    memcpy(padded + 2, p, n);
    padded[n + 2] = '\t';
    padded[n + 3] = ' ';
    if (!rlc_http1_parse_retry_after(padded, n + 4, NOW, &u) || u != t)
        abort();
    if (p[0] >= '0' && p[0] <= '9' && t < NOW)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct outcome whole = {0, 0, false, false, resp_buf[0], seen_buf[0]};
    struct outcome pieces = {0, 0, false, false, resp_buf[1], seen_buf[1]};
    struct outcome bytes = {0, 0, false, false, resp_buf[2], seen_buf[2]};
    const uint8_t *p;
    size_t n, split;
    uint32_t seed;

    if (size < 3)
        return 0;
    p = data + 3;
    n = size - 3;
    split = ((size_t)data[0] | (size_t)data[1] << 8) % (n + 1);
    seed = 0x9e3779b9u ^ data[2] ^ (uint32_t)size << 8;

    retry_after(p, n);
    interleaved(p, split, p + split, n - split, seed);
    run(p, split, p + split, n - split, 0, seed, &whole);
    run(p, split, p + split, n - split, 2, seed, &pieces);
    run(p, split, p + split, n - split, 1, seed, &bytes);
    same(&whole, &pieces);
    same(&whole, &bytes);
    for (int i = 0; i < bytes.nresp && i < MAXR; i++)
        if (!bytes.seen[i])
            abort();
    return 0;
}
