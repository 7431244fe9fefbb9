/* SPDX-License-Identifier: MIT */
/*
 * test_http1.c - HTTP/1.x framing as the preload sees it: request starts,
 * Host:, responses with their tags and Retry-After, opaque streams.
 *
 * Every framing test is a script of sent and received pieces. check()
 * runs it whole, then again with each piece split at every offset, then
 * one byte at a time, and asserts the three runs find the same things.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "http1.h"

#define NOW INT64_C(1700000000) /* Tue, 14 Nov 2023 22:13:20 GMT */
#define MAXSTEPS 160
#define MAXRESP 256

struct step {
    bool sent; /* else received */
    const char *bytes;
    size_t len;
    uint32_t tag;
};

struct script {
    struct step s[MAXSTEPS];
    size_t n;
};

struct result {
    int starts;
    int nresp; /* reported or dropped */
    rlc_http1_response resp[MAXRESP];
    bool reported[MAXRESP];
    bool tx_opaque, rx_opaque;
    char host[MAXSTEPS][RLC_HTTP1_HOST_MAX]; /* per step, whole runs */
};

enum mode { WHOLE, SPLIT, BYTES };

static void txn(struct script *sc, uint32_t tag, const void *b, size_t len)
{
    assert_true(sc->n < MAXSTEPS);
    sc->s[sc->n++] = (struct step){true, b, len, tag};
}

static void tx(struct script *sc, uint32_t tag, const char *s)
{
    txn(sc, tag, s, strlen(s));
}

static void rxn(struct script *sc, const void *b, size_t len)
{
    assert_true(sc->n < MAXSTEPS);
    sc->s[sc->n++] = (struct step){false, b, len, 0};
}

static void rx(struct script *sc, const char *s)
{
    rxn(sc, s, strlen(s));
}

static void feed(rlc_http1_conn *c, const struct step *st, size_t off,
                 size_t len, size_t k, struct result *r)
{
    if (st->sent) {
        rlc_http1_sent o;

        rlc_http1_feed_sent(c, st->bytes + off, len, st->tag, &o);
        assert_true(o.requests_started >= 0);
        assert_true(strlen(o.host) < RLC_HTTP1_HOST_MAX);
        r->starts += o.requests_started;
        if (o.host[0] != '\0')
            strcpy(r->host[k], o.host);
        if (r->tx_opaque)
            assert_true(o.opaque); /* for good */
        r->tx_opaque = o.opaque;
    } else {
        rlc_http1_received o;

        rlc_http1_feed_received(c, st->bytes + off, len, NOW, &o);
        assert_true(o.nresponses >= 0 && o.nresponses <= 4);
        assert_true(o.dropped >= 0);
        assert_true(r->nresp + o.nresponses + o.dropped <= MAXRESP);
        for (int i = 0; i < o.nresponses; i++) {
            r->resp[r->nresp + i] = o.responses[i];
            /* a piece that dropped some may put a later 429 in an
             * earlier place: only those that dropped none compare */
            r->reported[r->nresp + i] = o.dropped == 0;
        }
        r->nresp += o.nresponses + o.dropped;
        if (r->rx_opaque)
            assert_true(o.opaque);
        r->rx_opaque = o.opaque;
    }
}

/* One run of the script; in SPLIT mode step `which` is cut at `at`. */
static void run(const struct script *sc, enum mode m, size_t which, size_t at,
                struct result *r)
{
    rlc_http1_conn c;
    struct step none[2] = {{true, "", 0, 0}, {false, "", 0, 0}};

    memset(r, 0, sizeof(*r));
    rlc_http1_init(&c);
    for (size_t k = 0; k < sc->n; k++) {
        const struct step *st = &sc->s[k];

        if (m == BYTES) {
            for (size_t i = 0; i < st->len; i++)
                feed(&c, st, i, 1, k, r);
        } else if (m == SPLIT && k == which) {
            feed(&c, st, 0, at, k, r);
            feed(&c, st, at, st->len - at, k, r);
        } else {
            feed(&c, st, 0, st->len, k, r);
        }
    }
    /* Empty pieces change nothing and tell where each direction is. */
    feed(&c, &none[0], 0, 0, 0, r);
    feed(&c, &none[1], 0, 0, 0, r);
}

static void same(const struct result *a, const struct result *b)
{
    assert_int_equal(a->starts, b->starts);
    assert_int_equal(a->nresp, b->nresp);
    assert_int_equal(a->tx_opaque, b->tx_opaque);
    assert_int_equal(a->rx_opaque, b->rx_opaque);
    for (int i = 0; i < a->nresp; i++) {
        const rlc_http1_response *x = &a->resp[i], *y = &b->resp[i];

        if (!a->reported[i] || !b->reported[i])
            continue;
        assert_int_equal(x->status, y->status);
        assert_int_equal(x->request_tag, y->request_tag);
        assert_int_equal(x->tag_known, y->tag_known);
        assert_int_equal(x->has_retry_after, y->has_retry_after);
        assert_int_equal(x->retry_after_unix, y->retry_after_unix);
    }
}

static struct result whole_r, other_r;

/* Runs the script whole, split everywhere, byte by byte: one answer. */
static const struct result *check(const struct script *sc)
{
    run(sc, WHOLE, 0, 0, &whole_r);
    for (size_t k = 0; k < sc->n; k++) {
        for (size_t at = 0; at <= sc->s[k].len; at++) {
            run(sc, SPLIT, k, at, &other_r);
            same(&whole_r, &other_r);
        }
    }
    run(sc, BYTES, 0, 0, &other_r);
    same(&whole_r, &other_r);
    for (int i = 0; i < other_r.nresp; i++)
        assert_true(other_r.reported[i]); /* one byte ends one response */
    return &whole_r;
}

static void resp_is(const struct result *r, int i, int status, uint32_t tag,
                    bool known)
{
    assert_true(i < r->nresp);
    assert_true(r->reported[i]);
    assert_int_equal(r->resp[i].status, status);
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

/* Requests and Host: */

static void test_http1_single_request(void **state)
{
    struct script sc = {0};
    const struct result *r;

    (void)state;
    tx(&sc, 1,
       "GET /v1/models HTTP/1.1\r\nHost: API.Example.COM\r\n"
       "User-Agent: test\r\nAccept: */*\r\n\r\n");
    rx(&sc, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
            "Content-Type: text/plain\r\n\r\nhello");
    r = check(&sc);
    assert_int_equal(r->starts, 1);
    assert_string_equal(r->host[0], "api.example.com");
    assert_int_equal(r->nresp, 1);
    resp_is(r, 0, 200, 1, true);
    no_retry(r, 0);
    assert_false(r->tx_opaque);
    assert_false(r->rx_opaque);
}

static void test_http1_host_absent(void **state)
{
    struct script sc = {0};
    const struct result *r;

    (void)state;
    tx(&sc, 1, "GET / HTTP/1.0\r\nAccept: */*\r\nX-Host: no\r\n\r\n");
    tx(&sc, 2, "GET / HTTP/1.1\r\nHostname: no\r\n\r\n");
    r = check(&sc);
    assert_int_equal(r->starts, 2);
    assert_string_equal(r->host[0], "");
    assert_string_equal(r->host[1], "");
}

static void test_http1_host_in_later_piece(void **state)
{
    struct script sc = {0};
    const struct result *r;

    (void)state;
    tx(&sc, 1, "GET /1 HTTP/1.1\r\nAccept: */*\r\n");
    tx(&sc, 1, "Host: late.example\r\n\r\n");
    tx(&sc, 2, "GET /2 HTTP/1.1\r\nHo");
    tx(&sc, 2, "st: split.example\r\n\r\n");
    tx(&sc, 3, "GET /3 HTTP/1.1\r\nHost: c.example:8443");
    tx(&sc, 3, "\r\n\r\n");
    tx(&sc, 4, "GET /4 HTTP/1.1\r\nHost: d.example\r\n\r\n");
    /* the line is whole: only a fold could follow, and requests have none */
    tx(&sc, 5, "GET /5 HTTP/1.1\r\nHost: e.example\r\n");
    tx(&sc, 5, " folded\r\nHost: second.example\r\n\r\n");
    r = check(&sc);
    assert_int_equal(r->starts, 5);
    for (int k = 0; k < 6; k++)
        assert_string_equal(r->host[k], "");
    assert_string_equal(r->host[6], "d.example");
    assert_string_equal(r->host[7], "e.example");
    assert_string_equal(r->host[8], "");
}

static char host_req[512], host_req2[512];

static void test_http1_host_of_first_request_in_piece(void **state)
{
    struct script sc = {0};
    char longhost[400], longest[256];
    const struct result *r;

    (void)state;
    /* two in one piece: the first one's */
    tx(&sc, 1,
       "GET /a HTTP/1.1\r\nHost: A.example:8080\r\n\r\n"
       "GET /b HTTP/1.1\r\nHost: b.example\r\n\r\n");
    /* the piece ends an earlier request, then starts one */
    tx(&sc, 2, "GET /c HTTP/1.1\r\n");
    tx(&sc, 2,
       "Host: c.example\r\n\r\n"
       "GET /d HTTP/1.1\r\nUser-Agent: x\r\nHOST: D.Example\r\n"
       "Host: second.example\r\n\r\n");
    /* a value too long to be kept reports none */
    memset(longhost, 'h', sizeof(longhost));
    memcpy(longhost, "GET / HTTP/1.1\r\nHost: ", 22);
    memcpy(longhost + sizeof(longhost) - 4, "\r\n\r\n", 4);
    txn(&sc, 3, longhost, sizeof(longhost));
    /* the longest kept: 255 bytes */
    memset(longest, 'a', 255);
    longest[255] = '\0';
    snprintf(host_req, sizeof(host_req),
             "GET / HTTP/1.1\r\nHost:   %s  \r\n\r\n", longest);
    tx(&sc, 4, host_req);
    /* one more is too many */
    snprintf(host_req2, sizeof(host_req2),
             "GET / HTTP/1.1\r\nHost: b%s\r\n\r\n", longest);
    tx(&sc, 5, host_req2);
    r = check(&sc);
    assert_int_equal(r->starts, 7);
    assert_string_equal(r->host[0], "a.example:8080");
    assert_string_equal(r->host[1], "");
    assert_string_equal(r->host[2], "d.example");
    assert_string_equal(r->host[3], "");
    assert_int_equal(strlen(r->host[4]), 255);
    assert_true(strspn(r->host[4], "a") == 255);
    assert_string_equal(r->host[5], "");
}

static void test_http1_pipelined_requests(void **state)
{
    struct script sc = {0};
    const struct result *r;

    (void)state;
    tx(&sc, 9,
       "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
       "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 18\r\n\r\n"
       "GET / HTTP/1.1\r\n\r\n"
       "HEAD /c HTTP/1.1\r\nHost: x\r\n\r\n"
       "PROPFIND /d HTTP/1.1\r\nHost: x\r\nContent-length: 0\r\n\r\n"
       "M-SEARCH * HTTP/1.1\r\nHost: x\r\n\r\n");
    rx(&sc, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
            "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
            "HTTP/1.1 207 Multi-Status\r\nContent-Length: 3\r\n\r\n<a>");
    rx(&sc, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    r = check(&sc);
    assert_int_equal(r->starts, 5);
    assert_string_equal(r->host[0], "x");
    assert_int_equal(r->nresp, 5);
    resp_is(r, 0, 200, 9, true);
    resp_is(r, 1, 201, 9, true);
    resp_is(r, 2, 200, 9, true); /* HEAD: no body follows */
    resp_is(r, 3, 207, 9, true);
    resp_is(r, 4, 200, 9, true);
    assert_false(r->tx_opaque);
    assert_false(r->rx_opaque);
}

static char ka_req[60][64], ka_resp[60][128];

static void test_http1_keep_alive_sixty_requests(void **state)
{
    struct script sc = {0};
    const struct result *r;

    (void)state;
    for (int i = 0; i < 60; i++) {
        snprintf(ka_req[i], sizeof(ka_req[i]),
                 "GET /item/%d HTTP/1.1\r\nHost: api.example\r\n\r\n", i);
        snprintf(ka_resp[i], sizeof(ka_resp[i]),
                 "HTTP/1.1 %d OK\r\nContent-Length: %d\r\n\r\n%*s",
                 i % 2 ? 429 : 200, i, i, "");
        tx(&sc, (uint32_t)i, ka_req[i]);
        rx(&sc, ka_resp[i]);
    }
    r = check(&sc);
    assert_int_equal(r->starts, 60);
    assert_int_equal(r->nresp, 60);
    for (int i = 0; i < 60; i++) {
        assert_string_equal(r->host[2 * i], "api.example");
        resp_is(r, i, i % 2 ? 429 : 200, (uint32_t)i, true);
    }
}

static char big_body[3000];

static void test_http1_post_body_spanning_pieces(void **state)
{
    struct script sc = {0};
    const struct result *r;

    (void)state;
    /* The body looks like requests: none may count. */
    for (size_t i = 0; i < sizeof(big_body); i++)
        big_body[i] = "GET / HTTP/1.1\r\n\r\n"[i % 18];
    tx(&sc, 1,
       "POST /upload HTTP/1.1\r\nHost: up.example\r\n"
       "Content-Length: 3000\r\n\r\n");
    txn(&sc, 1, big_body, 1000);
    txn(&sc, 1, big_body + 1000, 1999);
    txn(&sc, 1, big_body + 2999, 1);
    tx(&sc, 2, "GET /next HTTP/1.1\r\nHost: next.example\r\n\r\n");
    rx(&sc, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    r = check(&sc);
    assert_int_equal(r->starts, 2);
    assert_string_equal(r->host[0], "up.example");
    assert_string_equal(r->host[4], "next.example");
    assert_int_equal(r->nresp, 2);
    resp_is(r, 0, 201, 1, true);
    resp_is(r, 1, 200, 2, true);
    assert_false(r->tx_opaque);
}

static void test_http1_chunked_request_body(void **state)
{
    struct script sc = {0};
    const struct result *r;

    (void)state;
    tx(&sc, 1,
       "POST /c HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked\r\n\r\n"
       "5;name=val;x\r\nhello\r\n"
       "A \r\nGET / HTTP\r\n"
       "0\r\nX-Trailer: GET / HTTP/1.1\r\nContent-Length: 99\r\n\r\n");
    tx(&sc, 2,
       "POST /d HTTP/1.1\r\nTransfer-Encoding: gzip,\r\n"
       "Transfer-Encoding: chunked\r\n\r\n"
       "1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n");
    tx(&sc, 3, "GET /e HTTP/1.1\r\nHost: e\r\n\r\n");
    r = check(&sc);
    assert_int_equal(r->starts, 3);
    assert_string_equal(r->host[0], "c");
    assert_string_equal(r->host[2], "e");
    assert_false(r->tx_opaque);
}

static void test_http1_leading_blank_lines_are_skipped(void **state)
{
    struct script sc = {0};
    const struct result *r;

    (void)state;
    tx(&sc, 1, "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n\r\n");
    tx(&sc, 2, "\nGET / HTTP/1.1\r\n\r\n");
    rx(&sc, "\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n\r\n"
            "HTTP/1.1 204 No Content\r\n\r\n");
    r = check(&sc);
    assert_int_equal(r->starts, 2);
    assert_string_equal(r->host[0], "a");
    assert_int_equal(r->nresp, 2);
    resp_is(r, 0, 200, 1, true);
    resp_is(r, 1, 204, 2, true);
}

/* Responses */

static void test_http1_head_response_has_no_body(void **state)
{
    struct script sc = {0};
    const struct result *r;

    (void)state;
    tx(&sc, 1, "HEAD /big HTTP/1.1\r\nHost: h\r\n\r\n");
    tx(&sc, 2, "GET /big HTTP/1.1\r\nHost: h\r\n\r\n");
    tx(&sc, 3, "HEAD /chunked HTTP/1.1\r\nHost: h\r\n\r\n");
    rx(&sc, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
            "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody"
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    tx(&sc, 4, "GET /next HTTP/1.1\r\nHost: h\r\n\r\n");
    rx(&sc, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    r = check(&sc);
    assert_int_equal(r->starts, 4);
    assert_int_equal(r->nresp, 4);
    resp_is(r, 0, 200, 1, true);
    resp_is(r, 1, 200, 2, true);
    resp_is(r, 2, 200, 3, true);
    resp_is(r, 3, 404, 4, true);
    assert_false(r->rx_opaque);
}

static void test_http1_204_and_304_have_no_body(void **state)
{
    struct script sc = {0};
    const struct result *r;

    (void)state;
    tx(&sc, 1, "DELETE /x HTTP/1.1\r\n\r\n");
    tx(&sc, 2, "GET /y HTTP/1.1\r\nIf-None-Match: \"e\"\r\n\r\n");
    tx(&sc, 3, "GET /z HTTP/1.1\r\n\r\n");
    rx(&sc, "HTTP/1.1 204 No Content\r\nContent-Length: 77\r\n\r\n"
            "HTTP/1.1 304 Not Modified\r\nContent-Length: 5000\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\n"
            "Content-Length: 0\r\n\r\n");
    r = check(&sc);
    assert_int_equal(r->nresp, 3);
    resp_is(r, 0, 204, 1, true);
    resp_is(r, 1, 304, 2, true);
    resp_is(r, 2, 429, 3, true);
    retry_is(r, 2, NOW + 7);
    no_retry(r, 0);
}

static void test_http1_100_continue_then_200(void **state)
{
    struct script sc = {0};
    const struct result *r;

    (void)state;
    tx(&sc, 3,
       "POST /up HTTP/1.1\r\nHost: u\r\nExpect: 100-continue\r\n"
       "Content-Length: 4\r\n\r\n");
    rx(&sc, "HTTP/1.1 100 Continue\r\n\r\n");
    tx(&sc, 3, "data");
    rx(&sc, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n"
            "Retry-After: 5\r\nContent-Length: 9\r\n\r\n"
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    tx(&sc, 4, "GET / HTTP/1.1\r\n\r\n");
    rx(&sc, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
            "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n");
    r = check(&sc);
    assert_int_equal(r->starts, 2);
    assert_int_equal(r->nresp, 2);
    resp_is(r, 0, 200, 3, true);
    no_retry(r, 0); /* the 103's does not carry over */
    resp_is(r, 1, 500, 4, true);
}

static void test_http1_chunked_response_extensions_and_trailers(void **state)
{
    struct script sc = {0};
    const struct result *r;

    (void)state;
    tx(&sc, 1, "GET /a HTTP/1.1\r\n\r\n");
    tx(&sc, 2, "GET /b HTTP/1.1\r\n\r\n");
    rx(&sc, "HTTP/1.1 429 Too Many Requests\r\n"
            "Transfer-Encoding: chunked\r\nRetry-After: 30\r\n\r\n"
            "1a;foo=bar;baz=\"q;\\\"\"\r\n"
            "HTTP/1.1 200 OK\r\n\r\nxxxxxxx\r\n"
            "00000A  ; ext\r\n0123456789\r\n"
            "0;last\r\nExpires: never\r\nRetry-After: 99\r\n"
            "Transfer-Encoding: gzip\r\n\r\n");
    rx(&sc, "HTTP/1.1 200 OK\r\ntransfer-encoding:  Chunked \r\n\r\n"
            "Ef\r\n");
    rx(&sc, "0123456789012345678901234567890123456789012345678901234567890"
            "1234567890123456789012345678901234567890123456789012345678901"
            "2345678901234567890123456789012345678901234567890123456789012"
            "34567890123456789012345678901234567890123456789012345678\r\n"
            "0\r\n\r\n");
    tx(&sc, 3, "GET /c HTTP/1.1\r\n\r\n");
    rx(&sc, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    r = check(&sc);
    assert_int_equal(r->nresp, 3);
    resp_is(r, 0, 429, 1, true);
    retry_is(r, 0, NOW + 30); /* the trailer's is not read */
    resp_is(r, 1, 200, 2, true);
    resp_is(r, 2, 200, 3, true);
    assert_false(r->rx_opaque);
}

static void test_http1_content_length_response(void **state)
{
    struct script sc = {0};
    const struct result *r;

    (void)state;
    tx(&sc, 1, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
    tx(&sc, 2, "GET /c HTTP/1.1\r\n\r\n");
    rx(&sc, "HTTP/1.1 200 OK\r\nContent-Length: 41\r\n\r\n"
            "HTTP/1.1 429 Too Many\r\nRetry-After: 1\r\n\r\n"
            "HTTP/1.0 503 Busy\r\ncontent-length:0 \r\nRetry-After: 2\r\n\r\n");
    rx(&sc, "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n"
            "Content-Length: 3\r\n\r\nabc");
    r = check(&sc);
    assert_int_equal(r->nresp, 3);
    resp_is(r, 0, 200, 1, true);
    resp_is(r, 1, 503, 1, true);
    retry_is(r, 1, NOW + 2);
    resp_is(r, 2, 200, 2, true);
    assert_false(r->rx_opaque);
}

static void test_http1_429_retry_after_seconds(void **state)
{
    struct script sc = {0};
    const struct result *r;

    (void)state;
    tx(&sc, 5, "POST /v1/chat HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
    rx(&sc, "HTTP/1.1 429 Too Many Requests\r\nRETRY-AFTER:120\r\n"
            "Retry-After: 5\r\nContent-Length: 0\r\n\r\n");
    tx(&sc, 6, "POST /v1/chat HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
    rx(&sc, "HTTP/1.1 429 \r\nRetry-After: soon\r\nRetry-After: 0\r\n"
            "Content-Length: 0\r\n\r\n");
    tx(&sc, 7, "GET / HTTP/1.1\r\n\r\n");
    rx(&sc, "HTTP/1.1 429\r\nRetry-After: -1\r\nContent-Length: 0\r\n\r\n");
    r = check(&sc);
    assert_int_equal(r->nresp, 3);
    resp_is(r, 0, 429, 5, true);
    retry_is(r, 0, NOW + 120); /* the first valid one */
    resp_is(r, 1, 429, 6, true);
    retry_is(r, 1, NOW);
    resp_is(r, 2, 429, 7, true);
    no_retry(r, 2);
}

static void test_http1_429_retry_after_dates(void **state)
{
    struct script sc = {0};
    const struct result *r;

    (void)state;
    tx(&sc, 1, "GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n");
    tx(&sc, 2, "GET / HTTP/1.1\r\n\r\n");
    rx(&sc, "HTTP/1.1 429 Slow down\r\n"
            "Retry-After: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Content-Length: 0\r\n\r\n"
            "HTTP/1.1 429 Slow down\r\n"
            "Retry-After: Sunday, 06-Nov-94 08:49:37 GMT\r\n"
            "Content-Length: 0\r\n\r\n");
    rx(&sc, "HTTP/1.1 503 Slow down\r\n"
            "Retry-After:    Sun Nov  6 08:49:37 1994   \r\n"
            "Content-Length: 0\r\n\r\n");
    r = check(&sc);
    assert_int_equal(r->nresp, 3);
    for (int i = 0; i < 3; i++)
        retry_is(r, i, 784111777);
    resp_is(r, 2, 503, 2, true);
}

static void test_http1_tags_come_back_in_fifo_order(void **state)
{
    struct script sc = {0};
    const struct result *r;

    (void)state;
    tx(&sc, 7, "GET /1 HTTP/1.1\r\n\r\n");
    tx(&sc, 8, "GET /2 HTTP/1.1\r\n\r\n");
    tx(&sc, 9, "GET /3 HTTP/1.1\r\n\r\n");
    rx(&sc, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
            "HTTP/1.1 429 No\r\nContent-Length: 0\r\n\r\n"
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    tx(&sc, 10, "GET /4 HTTP/1.1\r\n\r\n");
    rx(&sc, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
            "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n");
    r = check(&sc);
    assert_int_equal(r->nresp, 5);
    resp_is(r, 0, 200, 7, true);
    resp_is(r, 1, 429, 8, true);
    resp_is(r, 2, 200, 9, true);
    resp_is(r, 3, 200, 10, true);
    resp_is(r, 4, 408, 0, false); /* more responses than requests */
}

static void test_http1_pending_overflow_forgets_the_oldest(void **state)
{
    struct script sc = {0};
    const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    const struct result *r;
    const int n = RLC_HTTP1_PENDING + 8;

    (void)state;
    for (int i = 0; i < n; i++)
        tx(&sc, (uint32_t)(100 + i), "GET / HTTP/1.1\r\n\r\n");
    for (int i = 0; i < n + 1; i++)
        rx(&sc, resp);
    r = check(&sc);
    assert_int_equal(r->starts, n);
    assert_int_equal(r->nresp, n + 1);
    for (int i = 0; i < 8; i++)
        resp_is(r, i, 200, 0, false);
    for (int i = 8; i < n; i++)
        resp_is(r, i, 200, (uint32_t)(100 + i), true);
    resp_is(r, n, 200, 0, false);
}

/* Beyond the array: counted; a 429 takes the place of the latest other. */
static void test_http1_responses_beyond_the_array_are_counted(void **state)
{
    struct script sc = {0};
    const char *six = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
                      "HTTP/1.1 201 OK\r\nContent-Length: 0\r\n\r\n"
                      "HTTP/1.1 202 OK\r\nContent-Length: 0\r\n\r\n"
                      "HTTP/1.1 203 OK\r\nContent-Length: 0\r\n\r\n"
                      "HTTP/1.1 429 OK\r\nContent-Length: 0\r\n\r\n"
                      "HTTP/1.1 205 OK\r\nContent-Length: 0\r\n\r\n";
    rlc_http1_conn c;
    rlc_http1_received o;
    const struct result *r;

    (void)state;
    rlc_http1_init(&c);
    rlc_http1_feed_received(&c, six, strlen(six), NOW, &o);
    assert_int_equal(o.nresponses, 4);
    assert_int_equal(o.dropped, 2);
    assert_int_equal(o.responses[2].status, 202);
    assert_int_equal(o.responses[3].status, 429);
    rx(&sc, six);
    r = check(&sc);
    assert_int_equal(r->nresp, 6);
}

/* Opaque streams */

static void test_http1_tls_is_opaque(void **state)
{
    static const unsigned char hello[] = {0x16, 0x03, 0x01, 0x00, 0xa5, 0x01,
                                          0x00, 0x00, 0xa1, 0x03, 0x03, 'G'};
    static const unsigned char server[] = {0x16, 0x03, 0x03, 0x00, 0x5d,
                                           0x02, 0x00, 0x00, 0x59, 0x03};
    struct script sc = {0};
    const struct result *r;

    (void)state;
    txn(&sc, 1, hello, sizeof(hello));
    rxn(&sc, server, sizeof(server));
    tx(&sc, 2, "GET / HTTP/1.1\r\n\r\n");
    rx(&sc, "HTTP/1.1 429 No\r\n\r\n");
    r = check(&sc);
    assert_int_equal(r->starts, 0);
    assert_int_equal(r->nresp, 0);
    assert_true(r->tx_opaque);
    assert_true(r->rx_opaque);
}

static void test_http1_h2_preface_is_opaque(void **state)
{
    struct script sc = {0}, pri = {0}, put = {0};
    const struct result *r;

    (void)state;
    tx(&sc, 1, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    r = check(&sc);
    assert_int_equal(r->starts, 0);
    assert_true(r->tx_opaque);
    /* a method that starts like it is still a request */
    tx(&pri, 1, "PRI * HTTP/1.1\r\nHost: p\r\n\r\n");
    r = check(&pri);
    assert_int_equal(r->starts, 1);
    assert_string_equal(r->host[0], "p");
    assert_false(r->tx_opaque);
    tx(&put, 1, "PUT /x HTTP/1.1\r\nContent-Length: 1\r\nHost: q\r\n\r\n!");
    tx(&put, 2, "PRI * HTTP/1.1\r\n\r\n");
    r = check(&put);
    assert_int_equal(r->starts, 2);
    assert_string_equal(r->host[0], "q");
}

static void test_http1_upgrade_101_is_opaque(void **state)
{
    struct script sc = {0};
    const struct result *r;

    (void)state;
    tx(&sc, 5,
       "GET /chat HTTP/1.1\r\nHost: ws\r\nUpgrade: websocket\r\n"
       "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n");
    rx(&sc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\n\r\n\x81\x05hello");
    tx(&sc, 6, "\x81\x85\x01\x02\x03\x04GET / HTTP/1.1\r\n\r\n");
    rx(&sc, "HTTP/1.1 429 No\r\n\r\n");
    r = check(&sc);
    assert_int_equal(r->starts, 1);
    assert_int_equal(r->nresp, 1);
    resp_is(r, 0, 101, 5, true);
    assert_true(r->tx_opaque);
    assert_true(r->rx_opaque);
}

static void test_http1_connect_tunnel_is_opaque(void **state)
{
    struct script sc = {0};
    const struct result *r;

    (void)state;
    tx(&sc, 1,
       "CONNECT api.example:443 HTTP/1.1\r\nHost: api.example:443\r\n\r\n");
    rx(&sc, "HTTP/1.1 407 Proxy Authentication Required\r\n"
            "Content-Length: 3\r\n\r\nno!");
    tx(&sc, 2,
       "CONNECT api.example:443 HTTP/1.1\r\nHost: api.example:443\r\n"
       "Proxy-Authorization: Basic eDp5\r\n\r\n");
    rx(&sc, "HTTP/1.1 200 Connection established\r\n\r\n"
            "\x16\x03\x03\x00\x5d");
    tx(&sc, 3, "\x16\x03\x01\x00\xa5");
    r = check(&sc);
    assert_int_equal(r->starts, 2);
    assert_string_equal(r->host[0], "api.example:443");
    assert_int_equal(r->nresp, 2);
    resp_is(r, 0, 407, 1, true);
    resp_is(r, 1, 200, 2, true);
    assert_true(r->tx_opaque);
    assert_true(r->rx_opaque);
}

/* A script of one piece each way, checked, then its outcome. */
static void opaque_case(const char *sent, const char *received, int starts,
                        bool tx_opaque, bool rx_opaque)
{
    struct script sc = {0};
    const struct result *r;

    if (sent != NULL)
        tx(&sc, 1, sent);
    if (received != NULL)
        rx(&sc, received);
    r = check(&sc);
    assert_int_equal(r->starts, starts);
    assert_int_equal(r->tx_opaque, tx_opaque);
    assert_int_equal(r->rx_opaque, rx_opaque);
}

static void test_http1_garbage_is_opaque(void **state)
{
    static const unsigned char bin[] = {0x00, 0x01, 0xff, 'G', 'E', 'T'};
    struct script sc = {0};
    const struct result *r;

    (void)state;
    txn(&sc, 1, bin, sizeof(bin));
    rxn(&sc, bin, sizeof(bin));
    r = check(&sc);
    assert_int_equal(r->starts, 0);
    assert_true(r->tx_opaque);
    assert_true(r->rx_opaque);
    /* counted at the first byte, then found not to be a request */
    opaque_case("hello world\r\n", NULL, 1, true, false);
    opaque_case("*1\r\n$4\r\nPING\r\n", NULL, 1, true, false);
    opaque_case("GET / HTTP/1.1 extra\r\n\r\n", NULL, 1, true, false);
    opaque_case("GET /\r\n\r\n", NULL, 1, true, false);
    opaque_case("GET  / HTTP/1.1\r\n\r\n", NULL, 1, true, false);
    opaque_case("GET / HTTP/2.0\r\n\r\n", NULL, 1, true, false);
    opaque_case("GET / http/1.1\r\n\r\n", NULL, 1, true, false);
    opaque_case("GET /\x01 HTTP/1.1\r\n\r\n", NULL, 1, true, false);
    opaque_case("GET / HTTP/1.1\rX\n\r\n", NULL, 1, true, false);
    opaque_case("GET / HTTP/1.1\r\nA: b\r\n\rGET", NULL, 1, true, false);
    opaque_case("G\xc3\x89T / HTTP/1.1\r\n\r\n", NULL, 1, true, false);
    opaque_case("GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nGET", NULL, 1,
                true, false);
    opaque_case("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                "zz\r\n",
                NULL, 1, true, false);
    opaque_case(NULL, "SSH-2.0-OpenSSH_9.2\r\n", 0, false, true);
    opaque_case(NULL, "HTTP/1.1 20 OK\r\n\r\n", 0, false, true);
    opaque_case(NULL, "HTTP/1.1 099 OK\r\n\r\n", 0, false, true);
    opaque_case(NULL, "HTTP/1.1 2000 OK\r\n\r\n", 0, false, true);
    opaque_case(NULL, "HTTP/2 200\r\n\r\n", 0, false, true);
    opaque_case(NULL, "HTTP/1.1  200 OK\r\n\r\n", 0, false, true);
    opaque_case(NULL,
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\nhelloX",
                0, false, true);
    opaque_case(NULL,
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "1234567890abcdef0\r\n",
                0, false, true);
    opaque_case(NULL,
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                ";x\r\n",
                0, false, true);
}

/* Limits and leniency */

static char overlong[16384 + 64];

static void test_http1_overlong_request_line_is_opaque(void **state)
{
    struct script sc = {0};
    const struct result *r;
    size_t n;

    (void)state;
    /* 8192 bytes, CRLF included: the longest accepted */
    memset(overlong, 'a', sizeof(overlong));
    memcpy(overlong, "GET /", 5);
    memcpy(overlong + 8192 - 11, " HTTP/1.1\r\n\r\n", 13);
    txn(&sc, 1, overlong, 8192 + 2);
    tx(&sc, 2, "GET / HTTP/1.1\r\n\r\n");
    r = check(&sc);
    assert_int_equal(r->starts, 2);
    assert_false(r->tx_opaque);

    sc.n = 0;
    memcpy(overlong + 8192 - 11, "a HTTP/1.1\r\n\r\n", 15);
    txn(&sc, 1, overlong, 8192 + 3);
    r = check(&sc);
    assert_int_equal(r->starts, 1);
    assert_true(r->tx_opaque);

    /* a status line with an endless reason */
    sc.n = 0;
    memset(overlong, 'r', sizeof(overlong));
    n = 8300;
    memcpy(overlong, "HTTP/1.1 200 ", 13);
    rxn(&sc, overlong, n);
    r = check(&sc);
    assert_int_equal(r->nresp, 0);
    assert_true(r->rx_opaque);
}

static char long_req[40000], long_resp[60000];

static void test_http1_overlong_header_lines_are_skipped(void **state)
{
    struct script sc = {0};
    const struct result *r;
    size_t n;

    (void)state;
    n = (size_t)snprintf(long_req, sizeof(long_req),
                         "GET / HTTP/1.1\r\nCookie: ");
    memset(long_req + n, 'c', 20000);
    n += 20000;
    n += (size_t)snprintf(long_req + n, sizeof(long_req) - n,
                          "\r\nX-An-Extremely-Long-Header-Name-%0300d: 1\r\n"
                          "Host: after.example\r\n\r\n",
                          0);
    txn(&sc, 1, long_req, n);
    n = (size_t)snprintf(long_resp, sizeof(long_resp),
                         "HTTP/1.1 429 Too Many\r\nX-Long: ");
    memset(long_resp + n, 'x', 30000);
    n += 30000;
    n += (size_t)snprintf(long_resp + n, sizeof(long_resp) - n,
                          "\r\nRetry-After: %0300d\r\n"
                          "Content-Length: %0250d7\r\nContent-Length: 7\r\n"
                          "\r\n",
                          10, 0);
    n += (size_t)snprintf(long_resp + n, sizeof(long_resp) - n,
                          "1234567HTTP/1.1 200 OK\r\nRetry-After: 10\r\n"
                          "Content-Length: 0\r\n\r\n");
    rxn(&sc, long_resp, n);
    tx(&sc, 2, "GET / HTTP/1.1\r\n\r\n");
    r = check(&sc);
    assert_int_equal(r->starts, 2);
    assert_string_equal(r->host[0], "after.example");
    assert_int_equal(r->nresp, 2);
    resp_is(r, 0, 429, 1, true);
    no_retry(r, 0); /* too long to be kept */
    resp_is(r, 1, 200, 0, false);
    retry_is(r, 1, NOW + 10);
    assert_false(r->rx_opaque);
}

static void test_http1_bare_lf_line_endings(void **state)
{
    struct script sc = {0};
    const struct result *r;

    (void)state;
    tx(&sc, 1,
       "POST /a HTTP/1.1\nHost: lf.example\nContent-Length: 2\n\nok"
       "GET /b HTTP/1.0\n\n");
    tx(&sc, 2,
       "POST /c HTTP/1.1\nTransfer-Encoding: chunked\n\n"
       "3\nabc\n0\nT: 1\n\n");
    rx(&sc, "HTTP/1.1 429 Too Many\nRetry-After: 3\nContent-Length: 2\n\nno"
            "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n"
            "2;x\nok\n0\n\n"
            "HTTP/1.1 200\nContent-Length: 0\n\n");
    r = check(&sc);
    assert_int_equal(r->starts, 3);
    assert_string_equal(r->host[0], "lf.example");
    assert_int_equal(r->nresp, 3);
    resp_is(r, 0, 429, 1, true);
    retry_is(r, 0, NOW + 3);
    resp_is(r, 1, 200, 1, true);
    resp_is(r, 2, 200, 2, true);
    assert_false(r->tx_opaque);
    assert_false(r->rx_opaque);
}

static void test_http1_obs_fold_continues_a_value(void **state)
{
    struct script sc = {0};
    const struct result *r;

    (void)state;
    tx(&sc, 1,
       "GET / HTTP/1.1\r\nX-Folded: a\r\n b\r\n\tc\r\nHost:\r\n"
       "  fold.example\r\n\r\n");
    rx(&sc, "HTTP/1.1 429 No\r\nX-Folded: a\r\n Content-Length: 5\r\n"
            "Retry-After:\r\n   60\r\nContent-Length: 0\r\n\r\n");
    tx(&sc, 2, "GET / HTTP/1.1\r\n\r\n");
    rx(&sc, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n 0\r\n\r\n");
    r = check(&sc);
    assert_string_equal(r->host[0], "fold.example");
    assert_int_equal(r->nresp, 2);
    resp_is(r, 0, 429, 1, true);
    retry_is(r, 0, NOW + 60);
    resp_is(r, 1, 200, 2, true);
    assert_true(r->rx_opaque); /* "1 0" is no Content-Length */
}

static void test_http1_invalid_content_length(void **state)
{
    static const char *const bad[] = {
        "5\r\nContent-Length: 6", "-1", "1x", "", "5, 6", "1,", "0x10",
        "99999999999999999999"};

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char resp[128], req[128];
        struct script sc = {0};
        const struct result *r;

        snprintf(resp, sizeof(resp),
                 "HTTP/1.1 429 No\r\nRetry-After: 1\r\n"
                 "Content-Length: %s\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
                 bad[i]);
        snprintf(req, sizeof(req),
                 "POST / HTTP/1.1\r\nContent-Length: %s\r\n\r\n"
                 "GET / HTTP/1.1\r\n\r\n",
                 bad[i]);
        tx(&sc, 1, req);
        rx(&sc, resp);
        r = check(&sc);
        /* reported, then nothing more can be framed */
        assert_int_equal(r->starts, 1);
        assert_int_equal(r->nresp, 1);
        resp_is(r, 0, 429, 1, true);
        retry_is(r, 0, NOW + 1);
        assert_true(r->tx_opaque);
        assert_true(r->rx_opaque);
    }
}

static void test_http1_transfer_encoding_wins_over_length(void **state)
{
    struct script sc = {0};
    const struct result *r;

    (void)state;
    tx(&sc, 1,
       "POST / HTTP/1.1\r\nContent-Length: 100\r\n"
       "Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n");
    tx(&sc, 2, "GET / HTTP/1.1\r\n\r\n");
    rx(&sc, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n"
            "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            "HTTP/1.1 202 OK\r\nContent-Length: 0\r\n\r\n");
    r = check(&sc);
    assert_int_equal(r->starts, 2);
    assert_int_equal(r->nresp, 2);
    resp_is(r, 1, 202, 2, true);
    assert_false(r->tx_opaque);
    assert_false(r->rx_opaque);
}

static void test_http1_body_until_close(void **state)
{
    struct script sc = {0}, te = {0};
    const struct result *r;

    (void)state;
    tx(&sc, 1, "GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n");
    rx(&sc, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"
            "HTTP/1.1 429 Too Many Requests\r\n\r\n");
    rx(&sc, "HTTP/1.1 429 Too Many Requests\r\n\r\n");
    r = check(&sc);
    assert_int_equal(r->nresp, 1);
    resp_is(r, 0, 200, 1, true);
    assert_false(r->rx_opaque);
    /* a coding other than chunked last: until close too */
    tx(&te, 1, "GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n");
    rx(&te, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"
            "0\r\n\r\nHTTP/1.1 429 Too Many Requests\r\n\r\n");
    r = check(&te);
    assert_int_equal(r->nresp, 1);
    assert_false(r->rx_opaque);
}

static void test_http1_connection_close_ends_the_stream(void **state)
{
    struct script sc = {0};
    const struct result *r;

    (void)state;
    tx(&sc, 1, "GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n");
    rx(&sc, "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\n"
            "Content-Length: 2\r\n\r\nok"
            "HTTP/1.1 429 Too Many Requests\r\n\r\n");
    r = check(&sc);
    assert_int_equal(r->nresp, 1);
    resp_is(r, 0, 200, 1, true);
    assert_false(r->rx_opaque);
}

static void test_http1_init_is_zero_fill(void **state)
{
    rlc_http1_conn a, b;
    rlc_http1_sent o;

    (void)state;
    memset(&a, 0xa5, sizeof(a));
    rlc_http1_init(&a);
    memset(&b, 0, sizeof(b));
    assert_memory_equal(&a, &b, sizeof(a));
    assert_true(sizeof(a) <= 1024);
    rlc_http1_feed_sent(&b, NULL, 0, 0, &o);
    assert_int_equal(o.requests_started, 0);
    assert_string_equal(o.host, "");
    assert_false(o.opaque);
}

/* Retry-After values */

static bool ra(const char *v, int64_t *t)
{
    return rlc_http1_parse_retry_after(v, strlen(v), NOW, t);
}

static void test_http1_parse_retry_after_valid(void **state)
{
    int64_t t;

    (void)state;
    assert_true(ra("0", &t));
    assert_int_equal(t, NOW);
    assert_true(ra(" 120\t", &t));
    assert_int_equal(t, NOW + 120);
    assert_true(ra("000042", &t));
    assert_int_equal(t, NOW + 42);
    assert_true(ra("9223372035154775807", &t)); /* INT64_MAX - NOW */
    assert_int_equal(t, INT64_MAX);
    assert_true(ra("Sun, 06 Nov 1994 08:49:37 GMT", &t));
    assert_int_equal(t, 784111777);
    assert_true(ra("Sunday, 06-Nov-94 08:49:37 GMT", &t));
    assert_int_equal(t, 784111777);
    assert_true(ra("Sun Nov  6 08:49:37 1994", &t));
    assert_int_equal(t, 784111777);
    assert_true(ra("Sun Nov 06 08:49:37 1994", &t));
    assert_int_equal(t, 784111777);
    assert_true(ra("Thu, 01 Jan 1970 00:00:00 GMT", &t));
    assert_int_equal(t, 0);
    assert_true(ra("Wed, 31 Dec 1969 23:59:59 GMT", &t));
    assert_int_equal(t, -1);
    assert_true(ra("Tue, 29 Feb 2000 12:00:00 GMT", &t));
    assert_int_equal(t, 951825600);
    assert_true(ra("Fri, 31 Dec 9999 23:59:59 GMT", &t));
    assert_int_equal(t, INT64_C(253402300799));
    assert_true(ra("Tue, 14 Nov 2023 22:13:80 GMT", &t) == false);
    assert_true(ra("Tue, 14 Nov 2023 23:59:60 GMT", &t)); /* leap second */
    assert_int_equal(t, INT64_C(1700006400));
    /* RFC 850: not more than 50 years ahead of now (2023) */
    assert_true(ra("Monday, 01-Jan-73 00:00:00 GMT", &t));
    assert_int_equal(t, INT64_C(3250454400)); /* 2073 */
    assert_true(ra("Sunday, 01-Jan-74 00:00:00 GMT", &t));
    assert_int_equal(t, INT64_C(126230400)); /* 1974 */
    assert_true(ra("Saturday, 01-Jan-00 00:00:00 GMT", &t));
    assert_int_equal(t, INT64_C(946684800)); /* 2000 */
}

static void test_http1_parse_retry_after_rejects(void **state)
{
    static const char *const bad[] = {"",
                                      " ",
                                      "-1",
                                      "+1",
                                      "1.5",
                                      "12a",
                                      "1 2",
                                      "0x10",
                                      "1e3",
                                      "99999999999999999999",
                                      "9223372035154775808",
                                      "Sun, 06 Nov 1994 08:49:37 UTC",
                                      "Sun, 06 Nov 1994 08:49:37 gmt",
                                      "sun, 06 Nov 1994 08:49:37 GMT",
                                      "Sun, 06 nov 1994 08:49:37 GMT",
                                      "Sun, 6 Nov 1994 08:49:37 GMT",
                                      "Sun, 06 Nov 94 08:49:37 GMT",
                                      "Sun,06 Nov 1994 08:49:37 GMT",
                                      "Sun, 06 Nov 1994 08:49:37 GMTx",
                                      "Sun, 06 Nov 1994 08:49:37",
                                      "Sun, 06 Nov 1994 8:49:37 GMT",
                                      "Sun, 31 Feb 1994 08:49:37 GMT",
                                      "Sun, 29 Feb 1900 08:49:37 GMT",
                                      "Sun, 00 Nov 1994 08:49:37 GMT",
                                      "Sun, 06 Nov 0000 08:49:37 GMT",
                                      "Sun, 06 Nov 1994 24:00:00 GMT",
                                      "Sun, 06 Nov 1994 08:60:00 GMT",
                                      "Sun, 06 Nov 1994 08:49:61 GMT",
                                      "Sun, 06 Xyz 1994 08:49:37 GMT",
                                      "Sun, 06 Nov 1994 08:49:37 GMT GMT",
                                      "Sun, 06 Nov 1994 08-49-37 GMT",
                                      "Sunday, 06-Nov-1994 08:49:37 GMT",
                                      "Sunday, 06 Nov 94 08:49:37 GMT",
                                      "Sunday, 6-Nov-94 08:49:37 GMT",
                                      "Sonntag, 06-Nov-94 08:49:37 GMT",
                                      "Sun Nov 6 08:49:37 1994",
                                      "Sun Nov  6 08:49:37 94",
                                      "Sun Nov   6 08:49:37 1994",
                                      "Sun Nov  6 08:49:37 1994 GMT",
                                      "Sun  Nov 6 08:49:37 1994",
                                      "Mon, 06 Nov 1994 08:49:37 GMT\r",
                                      "tomorrow",
                                      "Sun",
                                      "Sun, ",
                                      "\x01"};
    int64_t t = 12345;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (ra(bad[i], &t))
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(t, 12345); /* untouched */
    }
    assert_false(rlc_http1_parse_retry_after("5", 0, NOW, &t));
    assert_false(rlc_http1_parse_retry_after(NULL, 3, NOW, &t));
    assert_true(rlc_http1_parse_retry_after("12345", 2, NOW, &t));
    assert_int_equal(t, NOW + 12);
    assert_true(rlc_http1_parse_retry_after("5", 1, INT64_MAX - 5, &t));
    assert_false(rlc_http1_parse_retry_after("6", 1, INT64_MAX - 5, &t));
}

/* Every day of 1 .. 9999 against the C library's timegm, in UTC. */
static void test_http1_parse_retry_after_matches_timegm(void **state)
{
    static const char *const mon[12] = {"Jan", "Feb", "Mar", "Apr",
                                        "May", "Jun", "Jul", "Aug",
                                        "Sep", "Oct", "Nov", "Dec"};
    static const char *const wd[7] = {"Sun", "Mon", "Tue", "Wed",
                                      "Thu", "Fri", "Sat"};
    int64_t t;
    int days = 0;

    (void)state;
    for (int y = 1; y <= 9999; y += y < 1800 || y > 2200 ? 37 : 1) {
        for (int m = 0; m < 12; m++) {
            for (int d = 1; d <= 31; d++) {
                struct tm tm = {0};
                char buf[64];
                time_t want;

                tm.tm_year = y - 1900;
                tm.tm_mon = m;
                tm.tm_mday = d;
                tm.tm_hour = (d * 7) % 24;
                tm.tm_min = (d * 13) % 60;
                tm.tm_sec = (d * 17) % 60;
                want = timegm(&tm);
                if (tm.tm_mday != d) { /* normalised: no such day */
                    snprintf(buf, sizeof(buf), "Mon, %02d %s %04d 00:00:00 GMT",
                             d, mon[m], y);
                    assert_false(ra(buf, &t));
                    continue;
                }
                snprintf(buf, sizeof(buf),
                         "%s, %02d %s %04d %02d:%02d:%02d GMT", wd[tm.tm_wday],
                         d, mon[m], y, tm.tm_hour, tm.tm_min, tm.tm_sec);
                assert_true(ra(buf, &t));
                assert_int_equal(t, (int64_t)want);
                snprintf(buf, sizeof(buf), "%s %s %2d %02d:%02d:%02d %04d",
                         wd[tm.tm_wday], mon[m], d, tm.tm_hour, tm.tm_min,
                         tm.tm_sec, y);
                assert_true(ra(buf, &t));
                assert_int_equal(t, (int64_t)want);
                days++;
            }
        }
    }
    assert_true(days > 100000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http1_single_request),
        cmocka_unit_test(test_http1_host_absent),
        cmocka_unit_test(test_http1_host_in_later_piece),
        cmocka_unit_test(test_http1_host_of_first_request_in_piece),
        cmocka_unit_test(test_http1_pipelined_requests),
        cmocka_unit_test(test_http1_keep_alive_sixty_requests),
        cmocka_unit_test(test_http1_post_body_spanning_pieces),
        cmocka_unit_test(test_http1_chunked_request_body),
        cmocka_unit_test(test_http1_leading_blank_lines_are_skipped),
        cmocka_unit_test(test_http1_head_response_has_no_body),
        cmocka_unit_test(test_http1_204_and_304_have_no_body),
        cmocka_unit_test(test_http1_100_continue_then_200),
        cmocka_unit_test(test_http1_chunked_response_extensions_and_trailers),
        cmocka_unit_test(test_http1_content_length_response),
        cmocka_unit_test(test_http1_429_retry_after_seconds),
        cmocka_unit_test(test_http1_429_retry_after_dates),
        cmocka_unit_test(test_http1_tags_come_back_in_fifo_order),
        cmocka_unit_test(test_http1_pending_overflow_forgets_the_oldest),
        cmocka_unit_test(test_http1_responses_beyond_the_array_are_counted),
        cmocka_unit_test(test_http1_tls_is_opaque),
        cmocka_unit_test(test_http1_h2_preface_is_opaque),
        cmocka_unit_test(test_http1_upgrade_101_is_opaque),
        cmocka_unit_test(test_http1_connect_tunnel_is_opaque),
        cmocka_unit_test(test_http1_garbage_is_opaque),
        cmocka_unit_test(test_http1_overlong_request_line_is_opaque),
        cmocka_unit_test(test_http1_overlong_header_lines_are_skipped),
        cmocka_unit_test(test_http1_bare_lf_line_endings),
        cmocka_unit_test(test_http1_obs_fold_continues_a_value),
        cmocka_unit_test(test_http1_invalid_content_length),
        cmocka_unit_test(test_http1_transfer_encoding_wins_over_length),
        cmocka_unit_test(test_http1_body_until_close),
        cmocka_unit_test(test_http1_connection_close_ends_the_stream),
        cmocka_unit_test(test_http1_init_is_zero_fill),
        cmocka_unit_test(test_http1_parse_retry_after_valid),
        cmocka_unit_test(test_http1_parse_retry_after_rejects),
        cmocka_unit_test(test_http1_parse_retry_after_matches_timegm),
    };

    return cmocka_run_group_tests_name("http1", tests, NULL, NULL);
}
