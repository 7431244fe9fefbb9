/* SPDX-License-Identifier: MIT */
/*
 * http1.h - HTTP/1.x framing of one connection, as the preload sees it:
 * the bytes a client sends (to count requests and find Host:) and the
 * bytes it receives (to find each response's status and Retry-After).
 *
 * Pure state machines over fixed-size state: no allocation, no I/O, no
 * locks. Bytes arrive in pieces of any size (a status line split across
 * three reads is normal) and are never modified. Anything that is not
 * HTTP/1.x (TLS, HTTP/2, a binary protocol) turns a direction opaque for
 * good; the caller then charges once per connection.
 */
#ifndef RLC_HTTP1_H
#define RLC_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RLC_HTTP1_HOST_MAX 256 /* Host: value kept, NUL included */
#define RLC_HTTP1_PENDING 32   /* requests in flight remembered per conn */

/* Parser state of one connection; zero-initialise (or _init) to start. */
typedef struct rlc_http1_conn rlc_http1_conn;

/* What feeding outgoing bytes found. */
typedef struct rlc_http1_sent {
    /* Requests whose first byte is in this piece, in order. The caller
     * charges one token each before the piece leaves. One exception: at
     * the very start of a connection, bytes that could still be the
     * HTTP/2 preface ("PRI * HTTP/2") are counted in the piece where they
     * stop matching it, so a prior-knowledge h2 connection counts none.
     * A request counted before its bytes turned out malformed stays
     * counted (the direction is then opaque). */
    int requests_started;
    /* The Host: of the first request started in this piece, when its
     * line ends in this piece too (lower case, port kept as sent, blanks
     * trimmed; the first Host: only; longer than 255 bytes: ""); else "". */
    char host[RLC_HTTP1_HOST_MAX];
    /* This direction is not HTTP/1.x (decided on this piece or before),
     * or the connection became a tunnel (101, 2xx to CONNECT). */
    bool opaque;
} rlc_http1_sent;

/* One response status line found while feeding incoming bytes. */
typedef struct rlc_http1_response {
    int status;           /* 100..999 */
    uint32_t request_tag; /* the tag given when its request was sent */
    /* false (and request_tag 0): more responses than requests seen, or
     * the request was among the oldest dropped when more than
     * RLC_HTTP1_PENDING were in flight. */
    bool tag_known;
    bool has_retry_after;     /* a valid Retry-After header came with it */
    int64_t retry_after_unix; /* Unix seconds: now + delta, or the date;
                                 the first valid header wins; 0 if none */
} rlc_http1_response;

/* Outcome of feeding incoming bytes. */
typedef struct rlc_http1_received {
    /* Responses whose headers ended in this piece, in order (interim 1xx
     * responses other than 101 are skipped, not reported, and answer no
     * request). */
    int nresponses;
    rlc_http1_response responses[4];
    int dropped; /* responses beyond the array: counted, not reported;
                    a 429 takes the place of the latest other one */
    /* Not HTTP/1.x, a tunnel (after 101 or a 2xx to CONNECT), or framing
     * that cannot be followed (a bad chunk size, an invalid or conflicting
     * Content-Length: that response is still reported). */
    bool opaque;
} rlc_http1_received;

struct rlc_http1_conn {
    /* Opaque to callers; fixed size (1 KiB) so the preload can embed it.
     * Fields are private to http1.c. */
    uint64_t priv[128];
};

/* rlc_http1_init - start a connection: the same as zero-filling *c. One
 * conn is used by one thread at a time (the caller serialises per fd). */
void rlc_http1_init(rlc_http1_conn *c);

/*
 * rlc_http1_feed_sent - the client sends buf[0..len) (len may be 0).
 * tag is stored with each request started here (the preload passes the
 * capacity epoch at send time) and comes back with its response.
 * Fills *out. Never fails: malformed input makes the direction opaque.
 * Request bodies are skipped by Content-Length or chunked framing; a
 * request whose framing is unknown (Transfer-Encoding not ending in
 * chunked, an invalid or conflicting Content-Length) makes it opaque.
 */
void rlc_http1_feed_sent(rlc_http1_conn *c, const void *buf, size_t len,
                         uint32_t tag, rlc_http1_sent *out);

/*
 * rlc_http1_feed_received - the client received buf[0..len). now_unix is
 * the current Unix time in seconds, used to turn a Retry-After delta into
 * an absolute time. Fills *out. Never fails. A response is matched to the
 * oldest request not yet answered; bodies are skipped (none for HEAD,
 * 1xx, 204 and 304; Content-Length; chunked; else until close, as after
 * a response carrying "Connection: close").
 */
void rlc_http1_feed_received(rlc_http1_conn *c, const void *buf, size_t len,
                             int64_t now_unix, rlc_http1_received *out);

/*
 * rlc_http1_parse_retry_after - a Retry-After value: delta-seconds or an
 * HTTP-date (IMF-fixdate, RFC 850, asctime), surrounding blanks allowed.
 * Returns false when it is neither, out of range (a delta whose sum with
 * now_unix overflows, a year outside 1..9999, a day not in its month) or
 * has trailing bytes; *out_unix then is untouched. Otherwise *out_unix
 * gets the absolute Unix time. An RFC 850 two-digit year is read as the
 * nearest one not more than 50 years after now_unix. No TZ, no locale, no
 * allocation: safe in any hook. The weekday is checked as a name only.
 */
bool rlc_http1_parse_retry_after(const char *v, size_t len, int64_t now_unix,
                                 int64_t *out_unix);

#endif /* RLC_HTTP1_H */
