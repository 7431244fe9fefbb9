/* SPDX-License-Identifier: MIT */
/*
 * http2.c - HTTP/2 framing for the preload: new streams on the way out,
 * :status and retry-after on the way in.
 *
 * Both directions follow frames by length with byte-level state that
 * never looks back, so a frame split anywhere parses the same. Only the
 * server's header blocks need HPACK: their fragments are streamed into
 * one nghttp2 inflater per connection as they arrive, never buffered.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "http1.h"
#include "http2.h"

#define NPEND RLC_H2_PENDING
#define HDRLEN 9             /* a frame header */
#define DEFAULT_TABLE 4096   /* SETTINGS_HEADER_TABLE_SIZE's initial value */
#define TMP_TABLE (1u << 20) /* bound for the temporary inflater */
#define SID_MASK 0x7fffffffu

/* Frame types and flags (RFC 9113, section 6). */
enum {
    T_DATA,
    T_HEADERS,
    T_PRIORITY,
    T_RST_STREAM,
    T_SETTINGS,
    T_PUSH_PROMISE,
    T_PING,
    T_GOAWAY,
    T_WINDOW_UPDATE,
    T_CONTINUATION
};
enum { F_ACK = 0x1, F_END_HEADERS = 0x4, F_PADDED = 0x8, F_PRIORITY = 0x20 };
enum { SETTINGS_HEADER_TABLE_SIZE = 0x1 };

/* Where the sent direction is. */
enum {
    S_PREFACE,  /* matching the client preface */
    S_HEAD,     /* frame header bytes */
    S_SETTINGS, /* SETTINGS entries */
    S_SKIP,     /* payload bytes stepped over */
    S_OPAQUE    /* not HTTP/2: never parsed again */
};

/* Where the received direction is. */
enum {
    R_HEAD,   /* frame header bytes */
    R_PADLEN, /* the Pad Length byte of HEADERS or PUSH_PROMISE */
    R_FIXED,  /* priority fields or the promised stream id, stepped over */
    R_FRAG,   /* header block fragment, streamed into the inflater */
    R_SKIP,   /* padding or a payload that is not a header block */
    R_OPAQUE  /* decoding stopped for good */
};

/* The sent side: plain data only, so a copy can be fed (the dry run). */
struct tx {
    uint8_t st;  /* S_* */
    uint8_t pos; /* bytes of the preface, frame header or entry so far */
    uint8_t hdr[HDRLEN];
    uint8_t ent[6];    /* the SETTINGS entry being read */
    bool settings;     /* the SETTINGS frame after the preface was seen */
    bool headers_seen; /* a HEADERS frame was seen: later blocks may use
                          the dynamic table, so :authority is not read */
    uint8_t rhead, rcount;
    uint32_t left;    /* payload bytes left in this frame */
    uint32_t max_sid; /* highest stream opened by HEADERS */
    uint32_t hts;     /* largest SETTINGS_HEADER_TABLE_SIZE sent, or 0 */
    /* Ring of the newest streams opened, with the tag given to each. */
    uint32_t rsid[NPEND];
    uint32_t rtag[NPEND];
};

/* The received side: owns the inflater, which a copy merely points at. */
struct rx {
    uint8_t st;  /* R_* */
    uint8_t pos; /* bytes of the frame header so far */
    uint8_t hdr[HDRLEN];
    uint8_t flags;   /* of the current frame */
    uint8_t pad;     /* padding bytes at the end of this frame */
    uint8_t fixed;   /* bytes left in R_FIXED */
    bool started;    /* the server's first frame (SETTINGS) was seen */
    bool in_block;   /* a header block continues in CONTINUATION frames */
    bool report;     /* the block is HEADERS on a client stream */
    bool has_status; /* :status was seen in this block */
    bool has_ra;     /* a valid retry-after was seen in this block */
    int status;      /* its value, 0 if not three digits */
    uint32_t left;   /* payload bytes left in this frame */
    uint32_t frag;   /* fragment bytes left in this frame */
    uint32_t sid;    /* stream of the current header block */
    uint32_t bound;  /* table size bound given to the inflater, or 0 */
    int64_t ra;      /* retry-after, with has_ra */
    nghttp2_hd_inflater *inf; /* NULL until the first header block */
};

/*
 * may_alias: the state lives in the caller's uint64_t array and is only
 * ever reached through this type.
 */
struct __attribute__((may_alias)) conn {
    struct tx tx;
    struct rx rx;
};

_Static_assert(sizeof(struct conn) <= sizeof(((rlc_h2_conn *)0)->priv),
               "rlc_h2_conn.priv is too small");
_Static_assert(_Alignof(struct conn) <= _Alignof(uint64_t),
               "rlc_h2_conn.priv is not aligned enough");

void *rlc__h2_mem;

static const char preface[RLC_H2_PREFACE_LEN + 1] =
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static struct conn *state(rlc_h2_conn *c)
{
    return (struct conn *)(void *)c->priv;
}

static const struct conn *cstate(const rlc_h2_conn *c)
{
    return (const struct conn *)(const void *)c->priv;
}

static uint32_t be24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

static bool name_is(const nghttp2_nv *nv, const char *lit)
{
    size_t n = strlen(lit);

    if (nv->namelen != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = nv->name[i];

        if ((c >= 'A' && c <= 'Z' ? c | 0x20 : c) != (uint8_t)lit[i])
            return false;
    }
    return true;
}

static nghttp2_hd_inflater *inflater_new(void)
{
    nghttp2_hd_inflater *inf = NULL;

    if (nghttp2_hd_inflate_new2(&inf, rlc__h2_mem) != 0)
        return NULL;
    return inf;
}

typedef void on_header(void *arg, const nghttp2_nv *nv);

/*
 * Streams in[0..n) of a header block into inf, calling fn for each header
 * field; final: these bytes end the block. Returns false when HPACK fails
 * or memory runs out (inf can then only be deleted).
 */
static bool hpack_feed(nghttp2_hd_inflater *inf, const uint8_t *in, size_t n,
                       bool final, on_header *fn, void *arg)
{
    for (;;) {
        nghttp2_nv nv;
        int fl = 0;
        ssize_t rv = nghttp2_hd_inflate_hd2(inf, &nv, &fl, in, n, final);

        if (rv < 0 || (size_t)rv > n)
            return false;
        in += rv;
        n -= (size_t)rv;
        if (fl & NGHTTP2_HD_INFLATE_EMIT)
            fn(arg, &nv);
        if (fl & NGHTTP2_HD_INFLATE_FINAL) {
            nghttp2_hd_inflate_end_headers(inf);
            return true;
        }
        if (!(fl & NGHTTP2_HD_INFLATE_EMIT) && n == 0)
            return !final; /* a final piece must end the block */
        if (!(fl & NGHTTP2_HD_INFLATE_EMIT) && rv == 0)
            return false; /* no progress: never loop forever */
    }
}

/* Sent direction */

/* What the first header block named, while it is decoded. */
struct authority {
    char value[RLC_H2_AUTHORITY_MAX];
    char host[RLC_H2_AUTHORITY_MAX];
};

static void keep(char *dst, const nghttp2_nv *nv)
{
    if (dst[0] != '\0' || nv->valuelen == 0 ||
        nv->valuelen >= RLC_H2_AUTHORITY_MAX)
        return;
    for (size_t i = 0; i < nv->valuelen; i++) {
        uint8_t c = nv->value[i];

        dst[i] = (char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
    }
    dst[nv->valuelen] = '\0';
}

static void authority_header(void *arg, const nghttp2_nv *nv)
{
    struct authority *a = arg;

    if (name_is(nv, ":authority"))
        keep(a->value, nv);
    else if (name_is(nv, "host"))
        keep(a->host, nv);
}

/*
 * Walks the header block whose HEADERS payload (flen bytes, flags fl,
 * stream sid) starts at p[0], within p[0..n). With inf NULL, only checks
 * that the whole block is there; else inflates it into *a. Returns false
 * when the block is not all there or is malformed.
 */
static bool first_block(const uint8_t *p, size_t n, uint32_t flen, uint8_t fl,
                        uint32_t sid, nghttp2_hd_inflater *inf,
                        struct authority *a)
{
    size_t off = 0, pad = 0;

    if (flen > n)
        return false;
    if (fl & F_PADDED) {
        if (flen < 1)
            return false;
        pad = p[0];
        off = 1;
    }
    if (fl & F_PRIORITY)
        off += 5;
    if (off + pad > flen)
        return false;
    for (;;) {
        const uint8_t *frag = p + off;
        size_t fraglen = flen - off - pad;
        bool end = (fl & F_END_HEADERS) != 0;

        if (inf != NULL &&
            !hpack_feed(inf, frag, fraglen, end, authority_header, a))
            return false;
        if (end)
            return true;
        p += flen;
        n -= flen;
        if (n < HDRLEN || p[3] != T_CONTINUATION ||
            (be32(p + 5) & SID_MASK) != sid)
            return false;
        flen = be24(p);
        fl = p[4];
        p += HDRLEN;
        n -= HDRLEN;
        if (flen > n)
            return false;
        off = pad = 0;
    }
}

/* The connection's first header block, if all in p[0..n): its authority. */
static void read_authority(const uint8_t *p, size_t n, uint32_t flen,
                           uint8_t fl, uint32_t sid, rlc_h2_sent *out)
{
    struct authority a;
    nghttp2_hd_inflater *inf;

    if (!first_block(p, n, flen, fl, sid, NULL, NULL))
        return;
    inf = inflater_new();
    if (inf == NULL)
        return;
    a.value[0] = a.host[0] = '\0';
    /* The server's SETTINGS may already have let the client's encoder
     * grow its table; only this one block is decoded, so allow it. */
    if (nghttp2_hd_inflate_change_table_size(inf, TMP_TABLE) == 0 &&
        first_block(p, n, flen, fl, sid, inf, &a))
        strcpy(out->authority, a.value[0] != '\0' ? a.value : a.host);
    nghttp2_hd_inflate_del(inf);
}

static void remember(struct tx *t, uint32_t sid, uint32_t tag)
{
    unsigned idx;

    if (t->rcount == NPEND) {
        idx = t->rhead; /* the oldest is forgotten */
        t->rhead = (uint8_t)((t->rhead + 1u) % NPEND);
    } else {
        idx = (t->rhead + (unsigned)t->rcount) % NPEND;
        t->rcount++;
    }
    t->rsid[idx] = sid;
    t->rtag[idx] = tag;
}

/* A whole frame header: p[0..n) is the rest of the piece after it. */
static void sent_frame(struct tx *t, const uint8_t *p, size_t n, uint32_t tag,
                       rlc_h2_sent *out)
{
    uint32_t len = be24(t->hdr);
    uint8_t type = t->hdr[3], fl = t->hdr[4];
    uint32_t sid = be32(t->hdr + 5) & SID_MASK;

    t->left = len;
    t->st = S_SKIP;
    if (!t->settings) {
        /* The preface goes on with a SETTINGS frame: anything else here
         * is not HTTP/2 (an HTTP/1.1 request after a stray "PRI"). */
        if (type != T_SETTINGS || (fl & F_ACK) || sid != 0 || len % 6 != 0) {
            t->st = S_OPAQUE;
            return;
        }
        t->settings = true;
    }
    if (type == T_HEADERS) {
        if (sid % 2 == 1 && sid > t->max_sid) {
            if (!t->headers_seen && out->streams_started == 0)
                read_authority(p, n, len, fl, sid, out);
            out->streams_started++;
            t->max_sid = sid;
            remember(t, sid, tag);
        }
        t->headers_seen = true;
    } else if (type == T_SETTINGS && !(fl & F_ACK) && sid == 0) {
        t->st = S_SETTINGS;
        t->pos = 0;
    }
    if (t->left == 0)
        t->st = S_HEAD;
}

static void setting(struct tx *t)
{
    uint32_t id = (uint32_t)t->ent[0] << 8 | t->ent[1];
    uint32_t v = be32(t->ent + 2);

    if (id == SETTINGS_HEADER_TABLE_SIZE && v > t->hts)
        t->hts = v;
}

/* One step of the sent direction; returns the bytes used (at least 1). */
static size_t sent_step(struct tx *t, const uint8_t *p, size_t n, uint32_t tag,
                        rlc_h2_sent *out)
{
    size_t k;

    switch (t->st) {
    case S_PREFACE:
        if ((char)p[0] != preface[t->pos]) {
            t->st = S_OPAQUE;
            return 1;
        }
        if (++t->pos == RLC_H2_PREFACE_LEN) {
            t->st = S_HEAD;
            t->pos = 0;
        }
        return 1;
    case S_HEAD:
        k = min_size(n, HDRLEN - t->pos);
        memcpy(t->hdr + t->pos, p, k);
        t->pos = (uint8_t)(t->pos + k);
        if (t->pos == HDRLEN) {
            t->pos = 0;
            sent_frame(t, p + k, n - k, tag, out);
        }
        return k;
    case S_SETTINGS:
        t->ent[t->pos++] = p[0];
        if (t->pos == sizeof(t->ent)) {
            setting(t);
            t->pos = 0;
        }
        if (--t->left == 0) {
            t->st = S_HEAD;
            t->pos = 0; /* a partial entry is not a setting */
        }
        return 1;
    case S_SKIP:
        k = min_size(n, t->left);
        t->left -= (uint32_t)k;
        if (t->left == 0)
            t->st = S_HEAD;
        return k;
    }
    return n; /* S_OPAQUE */
}

/* Received direction */

/* What one received piece is feeding. */
struct rctx {
    struct conn *k;
    rlc_h2_received *out;
    int64_t now;
};

static void response_header(void *arg, const nghttp2_nv *nv)
{
    struct rctx *x = arg;
    struct rx *r = &x->k->rx;

    if (!r->report)
        return;
    if (name_is(nv, ":status") && !r->has_status) {
        const uint8_t *v = nv->value;

        r->has_status = true;
        r->status = 0;
        if (nv->valuelen == 3 && v[0] >= '1' && v[0] <= '9' && v[1] >= '0' &&
            v[1] <= '9' && v[2] >= '0' && v[2] <= '9')
            r->status = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
    } else if (name_is(nv, "retry-after") && !r->has_ra) {
        r->has_ra = rlc_http1_parse_retry_after((const char *)nv->value,
                                                nv->valuelen, x->now, &r->ra);
    }
}

/* nghttp2_hd_inflate_del(NULL) would crash. */
static void inflater_del(struct rx *r)
{
    if (r->inf != NULL)
        nghttp2_hd_inflate_del(r->inf);
    r->inf = NULL;
}

static void give_up(struct rx *r)
{
    r->st = R_OPAQUE;
    inflater_del(r); /* decoding never resumes: free the table now */
}

static bool tag_of(const struct tx *t, uint32_t sid, uint32_t *tag)
{
    for (unsigned i = t->rcount; i-- > 0;) {
        unsigned idx = (t->rhead + i) % NPEND;

        if (t->rsid[idx] == sid) {
            *tag = t->rtag[idx];
            return true;
        }
    }
    *tag = 0;
    return false;
}

/* A header block has ended: report it if it is a final response. */
static void block_end(struct rctx *x)
{
    struct rx *r = &x->k->rx;
    rlc_h2_response *resp;

    r->in_block = false;
    if (!r->report || !r->has_status || r->status < 200)
        return; /* a push, trailers, 1xx, or a :status we cannot read */
    if (x->out->nresponses == 4) {
        /* Full: a 429, the one that matters, takes the place of the
         * latest response that is not one. */
        int k = 3;

        x->out->dropped++;
        while (k >= 0 && x->out->responses[k].status == 429)
            k--;
        if (r->status != 429 || k < 0)
            return;
        resp = &x->out->responses[k];
    } else {
        resp = &x->out->responses[x->out->nresponses++];
    }
    resp->status = r->status;
    resp->stream_id = r->sid;
    resp->tag_known = tag_of(&x->k->tx, r->sid, &resp->request_tag);
    resp->has_retry_after = r->has_ra;
    resp->retry_after_unix = r->has_ra ? r->ra : 0;
}

/*
 * A HEADERS or PUSH_PROMISE frame starts a block. The inflater is made
 * now, and learns the client's table size bound while it is between
 * blocks, the only time nghttp2 accepts it.
 */
static bool block_begin(struct conn *k, uint32_t sid, bool report)
{
    struct rx *r = &k->rx;
    uint32_t want = k->tx.hts > DEFAULT_TABLE ? k->tx.hts : DEFAULT_TABLE;

    if (r->inf == NULL) {
        r->inf = inflater_new();
        if (r->inf == NULL)
            return false;
    }
    /* Only ever raised: the server shrinks the real table itself, with
     * a size update it must send, and a lower bound given before the
     * server acts on it would reject what it legally sends meanwhile. */
    if (want > (r->bound > 0 ? r->bound : DEFAULT_TABLE)) {
        if (nghttp2_hd_inflate_change_table_size(r->inf, want) != 0)
            return false;
        r->bound = want;
    }
    r->in_block = true;
    r->sid = sid;
    r->report = report;
    r->has_status = r->has_ra = false;
    r->status = 0;
    r->ra = 0;
    return true;
}

/* The frame's fragment starts (after padding length and fixed fields). */
static void frag_begin(struct rx *r)
{
    r->frag = r->left - r->pad;
    r->st = R_FRAG;
}

/* A whole frame header. Returns false when framing cannot be followed. */
static bool received_frame(struct rctx *x)
{
    struct conn *k = x->k;
    struct rx *r = &k->rx;
    uint32_t len = be24(r->hdr);
    uint8_t type = r->hdr[3], fl = r->hdr[4];
    uint32_t sid = be32(r->hdr + 5) & SID_MASK;
    unsigned need = 0;

    r->left = len;
    r->flags = fl;
    r->pad = 0;
    r->st = R_SKIP;
    if (!r->started) {
        /* The server's preface is a SETTINGS frame: anything else (an
         * HTTP/1.1 error page) is not HTTP/2. */
        if (type != T_SETTINGS || (fl & F_ACK) || sid != 0 || len % 6 != 0)
            return false;
        r->started = true;
    }
    if (r->in_block && (type != T_CONTINUATION || sid != r->sid))
        return false;
    switch (type) {
    case T_HEADERS:
        need = (fl & F_PADDED ? 1u : 0u) + (fl & F_PRIORITY ? 5u : 0u);
        r->fixed = fl & F_PRIORITY ? 5 : 0;
        if (len < need || !block_begin(k, sid, sid % 2 == 1))
            return false;
        break;
    case T_PUSH_PROMISE:
        need = (fl & F_PADDED ? 1u : 0u) + 4u;
        r->fixed = 4;
        if (len < need || !block_begin(k, sid, false))
            return false;
        break;
    case T_CONTINUATION:
        if (!r->in_block)
            return false;
        r->fixed = 0;
        break;
    default:
        if (r->left == 0)
            r->st = R_HEAD;
        return true;
    }
    if (fl & F_PADDED)
        r->st = R_PADLEN;
    else if (r->fixed > 0)
        r->st = R_FIXED;
    else
        frag_begin(r);
    return true;
}

/* Streams fragment bytes p[0..n) of the current frame. */
static bool fragment(struct rctx *x, const uint8_t *p, size_t n)
{
    struct rx *r = &x->k->rx;
    bool last = n == r->frag;
    bool final = last && (r->flags & F_END_HEADERS);

    if ((n > 0 || final) &&
        !hpack_feed(r->inf, p, n, final, response_header, x))
        return false;
    r->frag -= (uint32_t)n;
    r->left -= (uint32_t)n;
    if (final)
        block_end(x);
    if (last)
        r->st = r->left > 0 ? R_SKIP : R_HEAD;
    return true;
}

/* One step of the received direction; returns the bytes used. */
static size_t received_step(struct rctx *x, const uint8_t *p, size_t n)
{
    struct rx *r = &x->k->rx;
    size_t k;

    switch (r->st) {
    case R_HEAD:
        k = min_size(n, HDRLEN - r->pos);
        memcpy(r->hdr + r->pos, p, k);
        r->pos = (uint8_t)(r->pos + k);
        if (r->pos < HDRLEN)
            return k;
        r->pos = 0;
        if (!received_frame(x))
            give_up(r);
        else if (r->st == R_FRAG && r->frag == 0 && !fragment(x, p, 0))
            give_up(r); /* an empty fragment may still end the block */
        return k;
    case R_PADLEN:
        r->pad = p[0];
        r->left--;
        if ((uint32_t)r->pad + r->fixed > r->left) {
            give_up(r);
            return 1;
        }
        if (r->fixed > 0)
            r->st = R_FIXED;
        else
            frag_begin(r);
        break;
    case R_FIXED:
        k = min_size(n, r->fixed);
        r->fixed = (uint8_t)(r->fixed - k);
        r->left -= (uint32_t)k;
        if (r->fixed == 0)
            frag_begin(r);
        if (r->st == R_FRAG && r->frag == 0 && !fragment(x, p, 0))
            give_up(r);
        return k;
    case R_FRAG:
        k = min_size(n, r->frag);
        if (!fragment(x, p, k))
            give_up(r);
        return k;
    case R_SKIP:
        k = min_size(n, r->left);
        r->left -= (uint32_t)k;
        if (r->left == 0)
            r->st = R_HEAD;
        return k;
    default:
        return n; /* R_OPAQUE */
    }
    /* R_PADLEN used its byte; an empty fragment may end the block now. */
    if (r->st == R_FRAG && r->frag == 0 && !fragment(x, p, 0))
        give_up(r);
    return 1;
}

/* API */

void rlc_h2_init(rlc_h2_conn *c)
{
    memset(c, 0, sizeof(*c));
}

bool rlc_h2_is_preface_start(const void *buf, size_t len)
{
    return len == 0 ||
           memcmp(buf, preface, min_size(len, RLC_H2_PREFACE_LEN)) == 0;
}

void rlc_h2_feed_sent(rlc_h2_conn *c, const void *buf, size_t len, uint32_t tag,
                      rlc_h2_sent *out)
{
    struct tx *t = &state(c)->tx;
    const uint8_t *p = buf;
    size_t i = 0;

    out->streams_started = 0;
    out->authority[0] = '\0';
    while (i < len && t->st != S_OPAQUE)
        i += sent_step(t, p + i, len - i, tag, out);
    out->opaque = t->st == S_OPAQUE;
}

void rlc_h2_feed_received(rlc_h2_conn *c, const void *buf, size_t len,
                          int64_t now_unix, rlc_h2_received *out)
{
    struct rctx x = {state(c), out, now_unix};
    struct rx *r = &x.k->rx;
    const uint8_t *p = buf;
    size_t i = 0;

    out->nresponses = 0;
    out->dropped = 0;
    while (i < len && r->st != R_OPAQUE)
        i += received_step(&x, p + i, len - i);
    out->opaque = r->st == R_OPAQUE;
}

void rlc_h2_conn_adopt_sent(rlc_h2_conn *c, const rlc_h2_conn *dry)
{
    state(c)->tx = cstate(dry)->tx;
}

void rlc_h2_conn_release(rlc_h2_conn *c)
{
    inflater_del(&state(c)->rx);
}
