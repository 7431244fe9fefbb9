/* SPDX-License-Identifier: MIT */
/*
 * http2.h - HTTP/2 framing of one connection, as the preload sees it: the
 * client's plaintext (to count new streams before they leave) and the
 * server's (to find :status 429 and retry-after in its header blocks).
 *
 * The sent side is plain fixed-size data, so the preload can dry-run a
 * piece on a copy before it leaves; the received side owns an HPACK
 * inflater (libnghttp2), the one allocation, made on first use.
 */
#ifndef RLC_HTTP2_H
#define RLC_HTTP2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RLC_H2_PENDING 64        /* stream -> tag pairs remembered */
#define RLC_H2_AUTHORITY_MAX 256 /* :authority kept, NUL included */
#define RLC_H2_PREFACE_LEN 24    /* "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" */

/*
 * State of one connection: zero-initialise (or rlc_h2_init) to start, and
 * rlc_h2_conn_release when done. Fixed size, so it can be embedded.
 *
 * Copying with `=` is how the preload dry-runs a piece: the copy may be
 * fed sent bytes (that touches only plain data in the copy), then either
 * dropped or adopted (rlc_h2_conn_adopt_sent). A copy shares the
 * original's inflater: it must never be fed received bytes or released.
 */
typedef struct rlc_h2_conn rlc_h2_conn;

/* What feeding outgoing bytes found. */
typedef struct rlc_h2_sent {
    /* New client streams whose HEADERS frame header ends in this piece
     * (its 9th byte is here): a HEADERS frame on an odd stream id above
     * every one seen so far. The caller charges one token each before
     * the piece leaves. */
    int streams_started;
    /* The :authority (else host) of the first stream started in this
     * piece, lower-cased, when it is the connection's first header block
     * and that whole block is in this piece; else "" (also when longer
     * than 255 bytes or not decodable). */
    char authority[RLC_H2_AUTHORITY_MAX];
    /* Not HTTP/2: the bytes do not start with the client preface and a
     * SETTINGS frame (decided on this piece or before, for good). */
    bool opaque;
} rlc_h2_sent;

/* One response header block found while feeding incoming bytes. */
typedef struct rlc_h2_response {
    int status;           /* 200..999 (1xx blocks are skipped) */
    uint32_t stream_id;   /* the client (odd) stream it answers */
    uint32_t request_tag; /* the tag given when its HEADERS were sent */
    /* false (and request_tag 0): the stream was not seen being opened,
     * or more than RLC_H2_PENDING streams were opened after it. */
    bool tag_known;
    bool has_retry_after;     /* a valid retry-after came with it */
    int64_t retry_after_unix; /* Unix seconds: now + delta, or the date;
                                 the first valid header wins; 0 if none */
} rlc_h2_response;

/* Outcome of feeding incoming bytes. */
typedef struct rlc_h2_received {
    /* Final responses whose header block ended in this piece, in order.
     * Trailers (a block without :status), 1xx, push promises and pushed
     * responses (even streams) are decoded but not reported. */
    int nresponses;
    rlc_h2_response responses[4];
    int dropped; /* responses beyond the array: counted, not reported;
                    a 429 takes the place of the latest other one */
    /* Decoding stopped for good (on this piece or before): the first
     * frame was not SETTINGS, the framing broke (bad padding, a missing
     * or stray CONTINUATION), HPACK failed, or memory ran out. */
    bool opaque;
} rlc_h2_received;

struct rlc_h2_conn {
    /* Opaque to callers; fields are private to http2.c. */
    uint64_t priv[96];
};

/* rlc_h2_init - start a connection: the same as zero-filling *c. One conn
 * is used by one thread at a time (the caller serialises per fd). */
void rlc_h2_init(rlc_h2_conn *c);

/*
 * rlc_h2_is_preface_start - whether buf[0..len) begins like the client
 * connection preface: its first min(len, 24) bytes match it (so len 0 is
 * true). Pure; safe anywhere.
 */
bool rlc_h2_is_preface_start(const void *buf, size_t len);

/*
 * rlc_h2_feed_sent - the client sends buf[0..len) (len may be 0); the
 * connection's first sent bytes must be the preface. tag is stored with
 * each stream started here (the preload passes the capacity epoch at
 * send time) and comes back with its response. Fills *out. Never fails:
 * a bad preface makes the direction opaque. Framing is followed by frame
 * length only (any length up to 2^24-1; header fields split across
 * pieces are normal). SETTINGS_HEADER_TABLE_SIZE values are remembered
 * for the received side. Touches only plain data in *c (safe on a copy).
 * To read :authority it allocates a temporary inflater and frees it
 * before returning; when that fails, authority is "" (nothing else
 * changes).
 */
void rlc_h2_feed_sent(rlc_h2_conn *c, const void *buf, size_t len, uint32_t tag,
                      rlc_h2_sent *out);

/*
 * rlc_h2_feed_received - the client received buf[0..len) (the server's
 * frames; it sends no preface). now_unix is the current Unix time in
 * seconds, used to turn a retry-after delta into an absolute time. Fills
 * *out. Never fails: see opaque. Every header block (HEADERS, PUSH_PROMISE
 * and their CONTINUATIONs) is streamed through the connection's HPACK
 * inflater, allocated on the first block and owned by *c until
 * rlc_h2_conn_release; when it cannot be allocated, or any later
 * allocation fails, the direction turns opaque and the inflater is freed
 * at once. The inflater admits a dynamic table up to the largest
 * SETTINGS_HEADER_TABLE_SIZE the client has sent (at least 4096).
 */
void rlc_h2_feed_received(rlc_h2_conn *c, const void *buf, size_t len,
                          int64_t now_unix, rlc_h2_received *out);

/*
 * rlc_h2_conn_adopt_sent - take the sent-side state of dry (a copy of *c
 * fed sent bytes) into *c, leaving *c's received side as it is, so bytes
 * received between the copy and now are not forgotten. Equivalent to
 * `*c = *dry` when nothing was received meanwhile.
 */
void rlc_h2_conn_adopt_sent(rlc_h2_conn *c, const rlc_h2_conn *dry);

/*
 * rlc_h2_conn_release - free what *c owns (its inflater). Harmless on a
 * conn never fed, or already released. *c may be used again only after
 * rlc_h2_init. Never call it on a dry-run copy.
 */
void rlc_h2_conn_release(rlc_h2_conn *c);

/*
 * Tests and fuzzers only: when non-NULL, the nghttp2_mem * every inflater
 * allocates with (to inject allocation failures); NULL means malloc. Not
 * synchronised; the preload never sets it.
 */
extern void *rlc__h2_mem;

#endif /* RLC_HTTP2_H */
