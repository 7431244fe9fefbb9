/* SPDX-License-Identifier: MIT */
/*
 * flow.c - one connection's requests and responses, whoever shows rlc its
 * plaintext: the socket calls (policy.c) or the TLS library (tls.c).
 *
 * The first bytes sent pick the protocol (the HTTP/2 preface, else
 * HTTP/1.x, which may turn opaque), and requests are found by a dry run
 * of its parser over what is about to be sent; only the bytes that left
 * are then fed for real, and requests paid for but not sent yet (a short
 * write, EAGAIN) stay prepaid.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "preload.h"

void rlp_flow_init(struct rlp_flow *f)
{
    atomic_store(&f->lock, 0);
    f->state = RLP_PENDING;
    f->decided = false;
    f->res = NULL;
    f->charged = false;
    f->recv_blind = false;
    f->prepaid = 0;
    f->host[0] = '\0';
    memset(&f->peer, 0, sizeof(f->peer));
    f->port = 0;
    f->proto = RLP_PROTO_UNKNOWN;
    f->received = 0;
}

void rlp_flow_release(struct rlp_flow *f)
{
    if (f->proto == RLP_PROTO_H2)
        rlc_h2_conn_release(&f->p.h2);
    f->proto = RLP_PROTO_UNKNOWN;
}

void rlp_flow_lock(struct rlp_flow *f)
{
    int expected = 0;

    while (!atomic_compare_exchange_weak(&f->lock, &expected, 1)) {
        expected = 0;
        sched_yield();
    }
}

void rlp_flow_unlock(struct rlp_flow *f)
{
    atomic_store(&f->lock, 0);
}

/* What a dry or real feed of outgoing bytes found, whatever the
 * protocol. */
struct found {
    int starts;
    bool opaque;
    char host[RLC_HOSTNAME_MAX]; /* of the first request started */
};

static void feed_sent(int proto, void *parser, const struct iovec *iov, int n,
                      size_t limit, uint32_t tag, struct found *sum)
{
    memset(sum, 0, sizeof(*sum));
    for (int i = 0; i < n && limit > 0; i++) {
        size_t len = iov[i].iov_len < limit ? iov[i].iov_len : limit;
        rlc_h2_sent h2;
        rlc_http1_sent h1;
        const char *host;
        int starts;

        if (len == 0)
            continue;
        if (proto == RLP_PROTO_H2) {
            rlc_h2_feed_sent(parser, iov[i].iov_base, len, tag, &h2);
            starts = h2.streams_started;
            host = h2.authority;
            sum->opaque = h2.opaque;
        } else {
            rlc_http1_feed_sent(parser, iov[i].iov_base, len, tag, &h1);
            starts = h1.requests_started;
            host = h1.host;
            sum->opaque = h1.opaque;
        }
        if (sum->host[0] == '\0' && sum->starts == 0 && starts > 0)
            snprintf(sum->host, sizeof(sum->host), "%s", host);
        sum->starts += starts;
        limit -= len;
    }
}

/* "Api.Example.com:8080" -> "api.example.com" and 8080 (0 if none). */
static void split_host(const char *hostport, char *name, size_t n, int *port)
{
    const char *end = hostport + strlen(hostport), *colon;
    size_t len;

    *port = 0;
    if (hostport[0] == '[') { /* [v6]:port */
        const char *close = strchr(hostport, ']');

        if (close != NULL) {
            hostport++;
            end = close;
            if (close[1] == ':')
                *port = atoi(close + 2);
        }
    } else {
        colon = strrchr(hostport, ':');
        if (colon != NULL && strchr(hostport, ':') == colon) {
            end = colon;
            *port = atoi(colon + 1);
        }
    }
    len = (size_t)(end - hostport);
    if (len >= n)
        len = n - 1;
    memcpy(name, hostport, len);
    name[len] = '\0';
}

/*
 * The first request decides where a flow belongs: its Host: (or
 * :authority) wins, a name being authoritative whatever address it
 * resolved to; else what f was mapped to before (by the TLS server name,
 * the name resolved, or the address). False when nothing matches.
 */
static bool decide(struct rlp_flow *f, const char *hostport)
{
    const rlc_config *cfg = rlp_config();
    const rlc_resource_config *rc;
    struct rlp_resource *res;
    char name[RLC_HOSTNAME_MAX];
    int port;

    if (cfg != NULL && hostport[0] != '\0') {
        split_host(hostport, name, sizeof(name), &port);
        rc = rlc_config_match(cfg, name,
                              f->peer.ss_family != AF_UNSPEC
                                  ? (const struct sockaddr *)&f->peer
                                  : NULL,
                              f->port != 0 ? f->port : port);
        res = rc != NULL ? rlp_resource_for(rc) : NULL;
        if (res != NULL) {
            f->res = res;
            f->state = RLP_MAPPED;
            snprintf(f->host, sizeof(f->host), "%s", name);
        }
    }
    return f->state == RLP_MAPPED;
}

static bool starts_h2(const struct iovec *iov, int n)
{
    for (int i = 0; i < n; i++)
        if (iov[i].iov_len > 0)
            return rlc_h2_is_preface_start(iov[i].iov_base, iov[i].iov_len);
    return false;
}

bool rlp_flow_plan(struct rlp_flow *f, const struct iovec *iov, int n,
                   size_t total, struct rlp_plan *p)
{
    struct found found;
    struct rlp_resource *res;

    p->tokens = 0;
    p->starts = 0;
    p->total = total;
    p->received = f->received;
    if (f->proto == RLP_PROTO_UNKNOWN) {
        if (starts_h2(iov, n)) {
            f->proto = RLP_PROTO_H2;
            rlc_h2_init(&f->p.h2);
        } else {
            f->proto = RLP_PROTO_HTTP1;
            rlc_http1_init(&f->p.http);
        }
    }
    if (!f->decided) {
        p->dry = f->p;
        feed_sent(f->proto, &p->dry, iov, n, total, 0, &found);
        if (found.starts == 0 && !found.opaque) {
            /* Nothing says where it goes yet (HTTP/2's preface and
             * SETTINGS come before its first HEADERS, whose :authority
             * decides): no request, no charge, a later write decides. */
            p->res = NULL;
            p->tag = 0;
            return true;
        }
        f->decided = true;
        if (!decide(f, found.host))
            return false;
    }
    if (f->state != RLP_MAPPED)
        return false;
    res = f->res;
    p->res = res;
    p->tag = rlp_epoch(res);
    p->dry = f->p;
    feed_sent(f->proto, &p->dry, iov, n, total, p->tag, &found);
    if (found.opaque || atomic_load(&res->per) == (int)RLC_PER_CONNECTION) {
        if (!f->charged && f->prepaid > 0) { /* paid before, on the socket */
            f->prepaid--;
            f->charged = true;
        }
        p->tokens = f->charged ? 0 : 1;
        f->charged = true;
    } else {
        int from_prepaid;

        p->starts = found.starts;
        from_prepaid = p->starts < f->prepaid ? p->starts : f->prepaid;
        f->prepaid -= from_prepaid;
        p->tokens = p->starts - from_prepaid;
        if (p->starts > 0)
            f->charged = true; /* if it turns opaque, it was paid for */
    }
    return true;
}

void rlp_flow_unplan(struct rlp_flow *f, const struct rlp_plan *p)
{
    if (p->starts == 0)
        f->charged = false;
    else
        f->prepaid += p->starts - p->tokens;
}

void rlp_flow_commit(struct rlp_flow *f, const struct iovec *iov, int n,
                     ssize_t done, struct rlp_plan *p)
{
    struct found sent;
    uint32_t tag = p->res != NULL ? rlp_epoch(p->res) : 0;

    if (done == (ssize_t)p->total && tag == p->tag) {
        if (f->proto == RLP_PROTO_H2) {
            rlc_h2_conn_adopt_sent(&f->p.h2, &p->dry.h2);
            return;
        }
        /* HTTP/1.x's two directions share the queue of requests: a copy
         * made before a response was read meanwhile would undo it. */
        if (f->received == p->received) {
            f->p.http = p->dry.http;
            return;
        }
    }
    /* A short write, a failure, or a cut while we waited: feed for real
     * what left, tagged with the epoch it left in. */
    feed_sent(f->proto, &f->p, iov, n, done > 0 ? (size_t)done : 0, tag, &sent);
    if (p->starts > sent.starts)
        f->prepaid += p->starts - sent.starts;
}

/* An HTTP/2 response as rlp_response takes it. */
static void from_h2(const rlc_h2_response *in, rlc_http1_response *out)
{
    memset(out, 0, sizeof(*out));
    out->status = in->status;
    out->request_tag = in->request_tag;
    out->tag_known = in->tag_known;
    out->has_retry_after = in->has_retry_after;
    out->retry_after_unix = in->retry_after_unix;
}

void rlp_flow_received(struct rlp_flow *f, const struct iovec *iov, int n,
                       size_t done, bool (*still_ours)(void *), void *arg)
{
    struct rlp_resource *res;
    char host[RLC_HOSTNAME_MAX];
    struct timespec now;
    bool followed;

    rlp_flow_lock(f);
    followed = f->state == RLP_MAPPED && !f->recv_blind;
    res = f->res;
    rlp_flow_unlock(f);
    if (!followed)
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    for (int k = 0; k < n && done > 0; k++) {
        size_t len = iov[k].iov_len < done ? iov[k].iov_len : done;
        rlc_http1_response resp[4];
        int nresp = 0;

        rlp_flow_lock(f);
        if (f->proto == RLP_PROTO_H2) {
            rlc_h2_received got;

            rlc_h2_feed_received(&f->p.h2, iov[k].iov_base, len, now.tv_sec,
                                 &got);
            for (int r = 0; r < got.nresponses && r < 4; r++)
                from_h2(&got.responses[r], &resp[nresp++]);
        } else if (f->proto == RLP_PROTO_HTTP1) {
            rlc_http1_received got;

            rlc_http1_feed_received(&f->p.http, iov[k].iov_base, len,
                                    now.tv_sec, &got);
            f->received++;
            for (int r = 0; r < got.nresponses && r < 4; r++)
                resp[nresp++] = got.responses[r];
        }
        memcpy(host, f->host, sizeof(host));
        rlp_flow_unlock(f);
        for (int r = 0; r < nresp; r++)
            if (resp[r].status != 429 || still_ours == NULL || still_ours(arg))
                rlp_response(res, host, &resp[r]);
        done -= len;
    }
}
