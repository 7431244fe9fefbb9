/* SPDX-License-Identifier: MIT */
/*
 * http1.c - HTTP/1.x framing for the preload: request starts and Host: on
 * the way out, status and Retry-After on the way in.
 *
 * Each direction is a byte-level state machine that never looks back, so a
 * message split anywhere parses the same. Only the few headers that matter
 * are copied (bounded); other lines are skipped with memchr, and body bytes
 * of a known length are stepped over without being read.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http1.h"

#define START_MAX 8192 /* longest start line; longer is not HTTP/1.x */
#define NAMELEN 20     /* longest header name read ("transfer-encoding") */
#define VALLEN 256     /* longest header value kept: a whole Host: fits */
#define CL_MAX (UINT64_C(1) << 62)
#define CHUNK_DIGITS 15 /* hex digits of a chunk size: below 2^60 */
#define NPEND RLC_HTTP1_PENDING

/* Framing state of one direction. Zero is the start of a connection. */
enum {
    F_IDLE,    /* between messages: blank lines, then a start line */
    F_START,   /* inside the start line */
    F_HEAD,    /* header lines */
    F_BODY,    /* n body bytes left (Content-Length) */
    F_CSIZE,   /* chunk-size hex digits */
    F_CLINE,   /* rest of the chunk-size line: extensions, CR */
    F_CDATA,   /* n chunk-data bytes left */
    F_CCR,     /* the CRLF after chunk data */
    F_CLF,     /* its LF */
    F_TRAILER, /* trailer lines after the last chunk */
    F_REST,    /* everything until close belongs to the last message */
    F_OPAQUE   /* not HTTP/1.x, or a tunnel: never parsed again */
};

/* Steps of a request line (sent) or a status line (received). */
enum { R_METHOD, R_TARGET, R_VERSION, R_CR };
enum { S_VERSION, S_CODE, S_REASON, S_CR };

/* Where a header line is. */
enum { H_BOL, H_BOL_CR, H_NAME, H_OWS, H_VALUE, H_SKIP };

/* The headers that are read; every other one is skipped. */
enum { X_NONE, X_HOST, X_CL, X_TE, X_RA, X_CONN };

/* What the headers of the current message said. */
enum {
    M_CL = 1,      /* a valid Content-Length, in cl */
    M_CLBAD = 2,   /* an invalid or conflicting Content-Length */
    M_TE = 4,      /* a Transfer-Encoding */
    M_CHUNKED = 8, /* ... whose last coding is chunked */
    M_CLOSE = 16   /* Connection: close */
};

/* What is remembered of a request until its response. */
enum { P_HEAD = 1, P_CONNECT = 2 };

struct dir {
    uint8_t st;    /* F_* */
    uint8_t sub;   /* R_*, S_* in F_START; H_* in F_HEAD, F_TRAILER */
    uint8_t hdr;   /* X_* being read, or waiting for a possible fold */
    uint8_t nlen;  /* bytes in name */
    uint8_t msg;   /* M_* */
    uint8_t vpos;  /* position in "HTTP/1.x", status or chunk digits */
    bool vover;    /* the value did not fit in val */
    uint16_t vlen; /* bytes in val */
    uint32_t pos;  /* bytes of the start line so far */
    uint64_t n;    /* body or chunk bytes left; chunk size being read */
    uint64_t cl;   /* Content-Length, with M_CL */
    char name[NAMELEN];
    char val[VALLEN];
};

/*
 * may_alias: the state lives in the caller's uint64_t array and is only
 * ever reached through this type.
 */
struct __attribute__((may_alias)) conn {
    struct dir tx, rx;
    /* FIFO of requests sent and not yet answered. */
    uint32_t ptag[NPEND];
    uint8_t pfl[NPEND];
    uint8_t phead, pcount;
    uint32_t lost; /* requests dropped from the FIFO's front, unanswered */
    /* The request line being read. */
    uint8_t mlen;   /* method bytes seen, saturating */
    uint8_t mfl;    /* P_* once the method is known */
    uint8_t pri;    /* bytes of the h2 preface matched while deferred */
    bool started;   /* a request has been counted on this connection */
    bool deferred;  /* this request is not counted yet: maybe h2 preface */
    bool want_host; /* this piece's first request: report its Host: */
    char method[8];
    /* The response being read. */
    bool has_ra;
    int status;
    int64_t ra;
};

_Static_assert(sizeof(struct conn) <= sizeof(((rlc_http1_conn *)0)->priv),
               "rlc_http1_conn.priv is too small");
_Static_assert(_Alignof(struct conn) <= _Alignof(uint64_t),
               "rlc_http1_conn.priv is not aligned enough");

/* What one call is feeding: exactly one of sent, recv is set. */
struct ctx {
    struct conn *k;
    rlc_http1_sent *sent;
    rlc_http1_received *recv;
    uint32_t tag;
    int64_t now;
};

static const char preface[] = "PRI * HTTP/2";
static const char version[] = "HTTP/1.";

static struct conn *state(rlc_http1_conn *c)
{
    return (struct conn *)(void *)c->priv;
}

/* RFC 9110 tchar: ALPHA, DIGIT and !#$%&'*+-.^_`|~, one bit each. */
static bool tchar(uint8_t c)
{
    static const uint32_t set[4] = {0x0, 0x3ff6cfa, 0xc7fffffe, 0x57ffffff};

    return c < 128 && (set[c >> 5] >> (c & 31) & 1) != 0;
}

static char lower(uint8_t c)
{
    return (char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
}

static bool ows(char c)
{
    return c == ' ' || c == '\t';
}

/* s[0..n) equals the lower-case lit, ignoring case. */
static bool ieq(const char *s, size_t n, const char *lit)
{
    size_t i;

    for (i = 0; i < n && lit[i] != '\0'; i++)
        if (lower((uint8_t)s[i]) != lit[i])
            return false;
    return i == n && lit[i] == '\0';
}

/*
 * The next element of a comma-separated list in s[0..n), from *i, with its
 * blanks trimmed: s[*b..*e). Returns false when the list is exhausted.
 */
static bool element(const char *s, size_t n, size_t *i, size_t *b, size_t *e)
{
    if (*i > n)
        return false;
    *b = *i;
    while (*i < n && s[*i] != ',')
        (*i)++;
    *e = *i;
    (*i)++;
    while (*b < *e && ows(s[*b]))
        (*b)++;
    while (*e > *b && ows(s[*e - 1]))
        (*e)--;
    return true;
}

/* FIFO of pending requests */

static void push(struct conn *k, uint32_t tag, uint8_t fl)
{
    unsigned idx;

    if (k->pcount == NPEND) {
        /* The oldest is forgotten: its response will be tag_known=false. */
        k->phead = (uint8_t)((k->phead + 1u) % NPEND);
        k->pcount--;
        if (k->lost < UINT32_MAX)
            k->lost++;
    }
    idx = (k->phead + (unsigned)k->pcount) % NPEND;
    k->ptag[idx] = tag;
    k->pfl[idx] = fl;
    k->pcount++;
}

/* The newest request's method is now known. */
static void mark(struct conn *k, uint8_t fl)
{
    if (k->pcount > 0)
        k->pfl[(k->phead + k->pcount - 1u) % NPEND] = fl;
}

static bool pop(struct conn *k, uint32_t *tag, uint8_t *fl)
{
    *tag = 0;
    *fl = 0;
    if (k->lost > 0) {
        k->lost--;
        return false;
    }
    if (k->pcount == 0)
        return false;
    *tag = k->ptag[k->phead];
    *fl = k->pfl[k->phead];
    k->phead = (uint8_t)((k->phead + 1u) % NPEND);
    k->pcount--;
    return true;
}

/* Header values */

/* Blanks beyond the buffer are dropped: they are trailing unless a byte
 * that does not fit follows them. */
static void put(struct dir *d, char c)
{
    if (d->vlen < VALLEN)
        d->val[d->vlen++] = c;
    else if (!ows(c) && c != '\r')
        d->vover = true;
}

/* 1#DIGIT, or a list of identical ones ("42, 42"), at most CL_MAX. */
static bool parse_cl(const char *s, size_t n, uint64_t *out)
{
    size_t i = 0, b, e;
    bool any = false;
    uint64_t first = 0;

    while (element(s, n, &i, &b, &e)) {
        uint64_t v = 0;

        if (b == e)
            return false;
        for (; b < e; b++) {
            if (s[b] < '0' || s[b] > '9' || v > CL_MAX / 10)
                return false;
            v = v * 10 + (uint64_t)(s[b] - '0');
        }
        if (any && v != first)
            return false;
        first = v;
        any = true;
    }
    *out = first;
    return true;
}

static void content_length(struct dir *d)
{
    uint64_t v;

    if (d->vover || !parse_cl(d->val, d->vlen, &v) ||
        ((d->msg & M_CL) && d->cl != v)) {
        d->msg |= M_CLBAD;
        return;
    }
    d->msg |= M_CL;
    d->cl = v;
}

/* Only the last coding matters: chunked must be last to frame a body. */
static void transfer_encoding(struct dir *d)
{
    size_t i = 0, b, e, lb = 0, le = 0;
    bool any = false;

    if (d->vover) {
        d->msg = (uint8_t)((d->msg | M_TE) & ~M_CHUNKED);
        return;
    }
    while (element(d->val, d->vlen, &i, &b, &e)) {
        if (b < e) {
            lb = b;
            le = e;
            any = true;
        }
    }
    if (!any)
        return;
    d->msg |= M_TE;
    if (ieq(d->val + lb, le - lb, "chunked"))
        d->msg |= M_CHUNKED;
    else
        d->msg &= (uint8_t)~M_CHUNKED;
}

static void connection(struct dir *d)
{
    size_t i = 0, b, e;

    if (d->vover)
        return;
    while (element(d->val, d->vlen, &i, &b, &e))
        if (ieq(d->val + b, e - b, "close"))
            d->msg |= M_CLOSE;
}

static void host(struct ctx *x, struct dir *d)
{
    x->k->want_host = false; /* the first Host: only */
    if (d->vover || d->vlen >= RLC_HTTP1_HOST_MAX)
        return;
    for (size_t i = 0; i < d->vlen; i++)
        x->sent->host[i] = lower((uint8_t)d->val[i]);
    x->sent->host[d->vlen] = '\0';
}

/* A header line (with its folds) is complete. */
static void finish(struct ctx *x, struct dir *d)
{
    struct conn *k = x->k;

    switch (d->hdr) {
    case X_HOST:
        host(x, d);
        break;
    case X_CL:
        content_length(d);
        break;
    case X_TE:
        transfer_encoding(d);
        break;
    case X_RA:
        if (!k->has_ra && !d->vover)
            k->has_ra =
                rlc_http1_parse_retry_after(d->val, d->vlen, x->now, &k->ra);
        break;
    case X_CONN:
        connection(d);
        break;
    }
    d->hdr = X_NONE;
}

static bool named(const struct dir *d, const char *s)
{
    size_t n = strlen(s);

    return d->nlen == n && memcmp(d->name, s, n) == 0;
}

static uint8_t lookup(const struct ctx *x, const struct dir *d)
{
    if (d->st == F_TRAILER)
        return X_NONE; /* trailers never change framing */
    if (named(d, "content-length"))
        return X_CL;
    if (named(d, "transfer-encoding"))
        return X_TE;
    if (x->sent != NULL)
        return x->k->want_host && named(d, "host") ? X_HOST : X_NONE;
    if (named(d, "retry-after"))
        return X_RA;
    if (named(d, "connection"))
        return X_CONN;
    return X_NONE;
}

static size_t value(struct dir *d, const uint8_t *p, size_t n, size_t i)
{
    for (; i < n; i++) {
        if (p[i] == '\n') {
            while (d->vlen > 0 &&
                   (ows(d->val[d->vlen - 1]) || d->val[d->vlen - 1] == '\r'))
                d->vlen--;
            d->sub = H_BOL;
            return i + 1;
        }
        put(d, (char)p[i]);
    }
    return n;
}

static void head_begin(struct dir *d, uint8_t st)
{
    d->st = st;
    d->sub = H_BOL;
    d->hdr = X_NONE;
}

/*
 * Header (or trailer) lines. A header is finished only when the next line
 * does not start with a blank, so an obs-fold continues its value.
 * Returns the bytes used; *done when the empty line has been used.
 */
static size_t headers(struct ctx *x, struct dir *d, const uint8_t *p, size_t n,
                      bool *done)
{
    size_t i = 0;

    *done = false;
    while (i < n) {
        uint8_t c = p[i];

        switch (d->sub) {
        case H_BOL:
            if (ows((char)c)) {
                i++;
                if (d->hdr == X_NONE) {
                    d->sub = H_SKIP;
                } else {
                    if (d->vlen > 0)
                        put(d, ' ');
                    d->sub = H_OWS;
                }
                break;
            }
            if (d->hdr != X_NONE)
                finish(x, d);
            if (c == '\n') {
                *done = true;
                return i + 1;
            }
            if (c == '\r') {
                d->sub = H_BOL_CR;
                i++;
                break;
            }
            d->nlen = 0;
            d->sub = H_NAME;
            break;
        case H_BOL_CR:
            if (c != '\n') {
                d->st = F_OPAQUE; /* a bare CR where the block ends */
                return i;
            }
            *done = true;
            return i + 1;
        case H_NAME:
            i++;
            if (c == ':') {
                d->hdr = lookup(x, d);
                d->vlen = 0;
                d->vover = false;
                d->sub = d->hdr == X_NONE ? H_SKIP : H_OWS;
            } else if (c == '\n') {
                d->sub = H_BOL; /* no colon: not a field, ignored */
            } else if (tchar(c) && d->nlen < NAMELEN) {
                d->name[d->nlen++] = lower(c);
            } else {
                d->sub = H_SKIP; /* not a name we read */
            }
            break;
        case H_OWS:
            if (ows((char)c))
                i++;
            else
                d->sub = H_VALUE;
            break;
        case H_VALUE:
            i = value(d, p, n, i);
            break;
        default: { /* H_SKIP */
            const uint8_t *q = memchr(p + i, '\n', n - i);

            if (q == NULL)
                return n;
            i = (size_t)(q - p) + 1;
            d->sub = H_BOL;
            break;
        }
        }
    }
    return i;
}

/* Bodies */

static void csize_begin(struct dir *d)
{
    d->st = F_CSIZE;
    d->n = 0;
    d->vpos = 0;
}

static void msg_end(struct dir *d)
{
    d->st = d->msg & M_CLOSE ? F_REST : F_IDLE;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (uint8_t)(c | 0x20);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static void chunk_line_end(struct dir *d)
{
    if (d->n == 0) {
        head_begin(d, F_TRAILER);
    } else {
        d->st = F_CDATA;
    }
}

/* Body states shared by both directions; returns the bytes used. */
static size_t body(struct ctx *x, struct dir *d, const uint8_t *p, size_t n)
{
    size_t i = 0;
    bool done;

    switch (d->st) {
    case F_BODY:
    case F_CDATA:
        i = d->n < n ? (size_t)d->n : n;
        d->n -= i;
        if (d->n == 0) {
            if (d->st == F_BODY)
                msg_end(d);
            else
                d->st = F_CCR;
        }
        return i;
    case F_CSIZE:
        for (; i < n; i++) {
            int h = hexval(p[i]);

            if (h >= 0 && d->vpos < CHUNK_DIGITS) {
                d->n = d->n << 4 | (unsigned)h;
                d->vpos++;
                continue;
            }
            if (h >= 0 || d->vpos == 0)
                break;
            if (p[i] == '\n') {
                chunk_line_end(d);
                return i + 1;
            }
            if (p[i] == ';' || ows((char)p[i]) || p[i] == '\r') {
                d->st = F_CLINE;
                return i + 1;
            }
            break;
        }
        if (i < n)
            d->st = F_OPAQUE; /* no way to find the next chunk */
        return i;
    case F_CLINE: {
        const uint8_t *q = memchr(p, '\n', n);

        if (q == NULL)
            return n;
        chunk_line_end(d);
        return (size_t)(q - p) + 1;
    }
    case F_CCR:
        if (p[0] == '\r') {
            d->st = F_CLF;
        } else if (p[0] == '\n') {
            csize_begin(d);
        } else {
            d->st = F_OPAQUE;
            return 0;
        }
        return 1;
    case F_CLF:
        if (p[0] != '\n') {
            d->st = F_OPAQUE;
            return 0;
        }
        csize_begin(d);
        return 1;
    case F_TRAILER:
        i = headers(x, d, p, n, &done);
        if (done)
            msg_end(d);
        return i;
    default: /* F_REST */
        return n;
    }
}

/* Sent direction */

static void count(struct ctx *x)
{
    struct conn *k = x->k;

    k->started = true;
    k->deferred = false;
    push(k, x->tag, k->mfl);
    if (x->sent->requests_started++ == 0)
        k->want_host = true;
}

static void method_end(struct conn *k)
{
    k->mfl = 0;
    if (k->mlen == 4 && memcmp(k->method, "HEAD", 4) == 0)
        k->mfl = P_HEAD;
    else if (k->mlen == 7 && memcmp(k->method, "CONNECT", 7) == 0)
        k->mfl = P_CONNECT;
    if (!k->deferred)
        mark(k, k->mfl);
}

/* One byte of a request line: false when it cannot be one. */
static bool request_byte(struct conn *k, struct dir *d, uint8_t c, bool *end)
{
    switch (d->sub) {
    case R_METHOD:
        if (c == ' ') {
            method_end(k);
            d->sub = R_TARGET;
            d->vpos = 0;
            return true;
        }
        if (!tchar(c))
            return false;
        if (k->mlen < sizeof(k->method))
            k->method[k->mlen] = (char)c;
        if (k->mlen < UINT8_MAX)
            k->mlen++;
        return true;
    case R_TARGET:
        if (c == ' ' && d->vpos > 0) {
            d->sub = R_VERSION;
            d->vpos = 0;
            return true;
        }
        d->vpos = 1;
        return c > ' ' && c != 0x7f;
    case R_VERSION:
        if (d->vpos < sizeof(version) - 1) {
            if (c != (uint8_t)version[d->vpos])
                return false;
        } else if (d->vpos == sizeof(version) - 1) {
            if (c < '0' || c > '9')
                return false;
        } else if (c == '\r') {
            d->sub = R_CR;
            return true;
        } else {
            *end = c == '\n';
            return *end;
        }
        d->vpos++;
        return true;
    default: /* R_CR */
        *end = c == '\n';
        return *end;
    }
}

static size_t request_line(struct ctx *x, struct dir *d, const uint8_t *p,
                           size_t n)
{
    struct conn *k = x->k;

    for (size_t i = 0; i < n; i++) {
        bool end = false;

        if (++d->pos > START_MAX || !request_byte(k, d, p[i], &end)) {
            d->st = F_OPAQUE;
            return i;
        }
        if (k->deferred) {
            if (k->pri < sizeof(preface) - 1 &&
                p[i] == (uint8_t)preface[k->pri])
                k->pri++;
            else
                count(x);
        }
        if (end) {
            head_begin(d, F_HEAD);
            d->msg = 0;
            return i + 1;
        }
    }
    return n;
}

static void request_end(struct ctx *x, struct dir *d)
{
    x->k->want_host = false;
    if (d->msg & M_TE) {
        /* A server cannot frame another coding: it rejects the request. */
        if (d->msg & M_CHUNKED)
            csize_begin(d);
        else
            d->st = F_OPAQUE;
    } else if (d->msg & M_CLBAD) {
        d->st = F_OPAQUE;
    } else if ((d->msg & M_CL) && d->cl > 0) {
        d->st = F_BODY;
        d->n = d->cl;
    } else {
        d->st = F_IDLE;
    }
}

static size_t sent_step(struct ctx *x, struct dir *d, const uint8_t *p,
                        size_t n)
{
    struct conn *k = x->k;
    size_t i = 0, used;
    bool done;

    switch (d->st) {
    case F_IDLE:
        while (i < n && (p[i] == '\r' || p[i] == '\n'))
            i++;
        if (i == n)
            return n;
        if (!tchar(p[i])) {
            d->st = F_OPAQUE; /* TLS, binary: not a method */
            return i;
        }
        d->st = F_START;
        d->sub = R_METHOD;
        d->pos = 0;
        k->mlen = 0;
        k->mfl = 0;
        if (!k->started && p[i] == 'P') {
            k->deferred = true;
            k->pri = 0;
        } else {
            count(x);
        }
        return i;
    case F_START:
        return request_line(x, d, p, n);
    case F_HEAD:
        used = headers(x, d, p, n, &done);
        if (done)
            request_end(x, d);
        return used;
    default:
        return body(x, d, p, n);
    }
}

void rlc_http1_init(rlc_http1_conn *c)
{
    memset(c, 0, sizeof(*c));
}

void rlc_http1_feed_sent(rlc_http1_conn *c, const void *buf, size_t len,
                         uint32_t tag, rlc_http1_sent *out)
{
    struct ctx x = {state(c), out, NULL, tag, 0};
    struct dir *d = &x.k->tx;
    const uint8_t *p = buf;
    size_t i = 0;

    out->requests_started = 0;
    out->host[0] = '\0';
    x.k->want_host = false;
    /* A Host: still being read belongs to a request of an earlier piece. */
    if (d->hdr == X_HOST)
        d->hdr = X_NONE;
    while (i < len && d->st != F_OPAQUE)
        i += sent_step(&x, d, p + i, len - i);
    /* A Host: line ending the piece is complete but for an obs-fold, which
     * requests may not use: report it now, while it belongs here. */
    if (d->st == F_HEAD && d->sub == H_BOL && d->hdr == X_HOST)
        finish(&x, d);
    x.k->want_host = false;
    out->opaque = d->st == F_OPAQUE;
}

/* Received direction */

static bool status_byte(struct conn *k, struct dir *d, uint8_t c, bool *end)
{
    switch (d->sub) {
    case S_VERSION:
        if (d->vpos < sizeof(version) - 1) {
            if (c != (uint8_t)version[d->vpos])
                return false;
        } else if (d->vpos == sizeof(version) - 1) {
            if (c < '0' || c > '9')
                return false;
        } else {
            if (c != ' ')
                return false;
            d->sub = S_CODE;
            d->vpos = 0;
            return true;
        }
        d->vpos++;
        return true;
    case S_CODE:
        if (d->vpos < 3) {
            if (c < '0' || c > '9' || (d->vpos == 0 && c == '0'))
                return false;
            k->status = k->status * 10 + (c - '0');
            d->vpos++;
            return true;
        }
        /* Some servers end the line right after the code. */
        if (c == ' ')
            d->sub = S_REASON;
        else if (c == '\r')
            d->sub = S_CR;
        else if (c == '\n')
            *end = true;
        else
            return false;
        return true;
    case S_REASON:
        if (c == '\r')
            d->sub = S_CR;
        else if (c == '\n')
            *end = true;
        return true;
    default: /* S_CR */
        *end = c == '\n';
        return *end;
    }
}

static size_t status_line(struct ctx *x, struct dir *d, const uint8_t *p,
                          size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool end = false;

        if (++d->pos > START_MAX || !status_byte(x->k, d, p[i], &end)) {
            d->st = F_OPAQUE;
            return i;
        }
        if (end) {
            head_begin(d, F_HEAD);
            d->msg = 0;
            return i + 1;
        }
    }
    return n;
}

static void report(struct ctx *x, int status, uint32_t tag, bool known)
{
    rlc_http1_received *o = x->recv;
    rlc_http1_response *r;

    if (o->nresponses >= (int)(sizeof(o->responses) / sizeof(*r))) {
        /* Full: a 429, the one that matters, takes the place of the
         * latest response that is not one. */
        int k = o->nresponses - 1;

        o->dropped++;
        while (k >= 0 && o->responses[k].status == 429)
            k--;
        if (status != 429 || k < 0)
            return;
        r = &o->responses[k];
    } else {
        r = &o->responses[o->nresponses++];
    }
    r->status = status;
    r->request_tag = tag;
    r->tag_known = known;
    r->has_retry_after = x->k->has_ra;
    r->retry_after_unix = x->k->has_ra ? x->k->ra : 0;
}

static void response_end(struct ctx *x, struct dir *d)
{
    struct conn *k = x->k;
    int s = k->status;
    uint32_t tag;
    uint8_t fl;
    bool known;

    if (s < 200 && s != 101) {
        d->st = F_IDLE; /* interim: the final response is still to come */
        return;
    }
    known = pop(k, &tag, &fl);
    report(x, s, tag, known);
    if (s == 101 || ((fl & P_CONNECT) && s / 100 == 2)) {
        d->st = F_OPAQUE; /* a tunnel now, both ways */
        k->tx.st = F_OPAQUE;
    } else if ((fl & P_HEAD) || s == 204 || s == 304) {
        msg_end(d);
    } else if (d->msg & M_TE) {
        if (d->msg & M_CHUNKED)
            csize_begin(d);
        else
            d->st = F_REST;
    } else if (d->msg & M_CLBAD) {
        /* RFC 9112 6.3: unrecoverable; the client drops the connection. */
        d->st = F_OPAQUE;
    } else if (d->msg & M_CL) {
        d->n = d->cl;
        if (d->n > 0)
            d->st = F_BODY;
        else
            msg_end(d);
    } else {
        d->st = F_REST;
    }
}

static size_t received_step(struct ctx *x, struct dir *d, const uint8_t *p,
                            size_t n)
{
    struct conn *k = x->k;
    size_t i = 0, used;
    bool done;

    switch (d->st) {
    case F_IDLE:
        while (i < n && (p[i] == '\r' || p[i] == '\n'))
            i++;
        if (i == n)
            return n;
        d->st = F_START;
        d->sub = S_VERSION;
        d->pos = 0;
        d->vpos = 0;
        k->status = 0;
        k->has_ra = false;
        k->ra = 0;
        return i;
    case F_START:
        return status_line(x, d, p, n);
    case F_HEAD:
        used = headers(x, d, p, n, &done);
        if (done)
            response_end(x, d);
        return used;
    default:
        return body(x, d, p, n);
    }
}

void rlc_http1_feed_received(rlc_http1_conn *c, const void *buf, size_t len,
                             int64_t now_unix, rlc_http1_received *out)
{
    struct ctx x = {state(c), NULL, out, 0, now_unix};
    struct dir *d = &x.k->rx;
    const uint8_t *p = buf;
    size_t i = 0;

    out->nresponses = 0;
    out->dropped = 0;
    while (i < len && d->st != F_OPAQUE)
        i += received_step(&x, d, p + i, len - i);
    out->opaque = d->st == F_OPAQUE;
}
