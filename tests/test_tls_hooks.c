/* SPDX-License-Identifier: MIT */
/*
 * test_tls_hooks.c - the preload's OpenSSL hooks linked into the test in
 * front of the real libssl: the test's own SSL_write, SSL_read and the rest
 * go through tls.c as a program's would, so the sanitizer builds check it.
 *
 * One ini file, written before the first network call, maps 127.0.0.x
 * addresses and one TLS server name to resources. A TLS server in threads
 * of this process (accepted sockets, never tracked; server-side SSLs, never
 * followed) answers HTTP/1.1 and, by ALPN, HTTP/2 by path and counts the
 * requests; its self-signed certificate is made in memory at start.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <nghttp2/nghttp2.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* What the server records of a connection besides inproc.h's fields. */
struct sconn_own {
    atomic_llong body; /* request body bytes received */
    atomic_bool h2;    /* ALPN chose h2 */
};

#include "inproc.h"

/* Every 127.x.y.z is loopback: one address per resource. */
#define A_UNMAPPED "127.0.0.1"
#define A_COUNT "127.0.0.2"
#define A_CONN "127.0.0.4"
#define A_CUT "127.0.0.5"
#define A_HOLD "127.0.0.6"
#define A_PAUSE "127.0.0.8"
#define A_THREADS "127.0.0.10"
#define A_H2 "127.0.0.12"
#define A_ERRNO "127.0.0.13"
/* Resolves to nothing: only the TLS server name can map to it. */
#define SNI_NAME "tls.example"

/* The resources, one ini section each. Windows of 1000 h never refill
 * during a run: token counts are exact. */
static const struct ini_section sections[] = {
    {"count", A_COUNT, "1000", "1000h", "request"},
    {"sni", SNI_NAME, "1000", "1000h", "request"},
    {"conn", A_CONN, "1000", "1000h", "connection"},
    {"cut", A_CUT, "100", "1000h", "request"},
    {"hold", A_HOLD, "1000", "1000h", "request"},
    {"pause", A_PAUSE, "100", "1000h", "request"},
    {"threads", A_THREADS, "1000", "1000h", "request"},
    {"h2", A_H2, "100", "1000h", "request"},
    {"errno", A_ERRNO, "1000", "1000h", "request"},
};

/* What the server sends for /mirror: a request for [sni], which would be
 * charged were the server's session followed as a client's is. */
static const char MIRROR[] = "GET /x HTTP/1.1\r\nHost: " SNI_NAME "\r\n\r\n";
#define MIRROR_LEN (sizeof(MIRROR) - 1)

static SSL_CTX *server_ctx;
static SSL_CTX *client_ctx;  /* TLS_client_method: a client from SSL_new */
static SSL_CTX *generic_ctx; /* TLS_method: a client once set_connect_state */
static BIO_METHOD *sock_method;

/* ---- HTTP/2 framing, HPACK by libnghttp2 -------------------------------- */

#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_HEADERS 1
#define H2_SETTINGS 4
#define H2_GOAWAY 7
#define H2_END_STREAM 0x1
#define H2_ACK 0x1
#define H2_END_HEADERS 0x4
#define H2_FRAME_MAX 4096

/* A frame into out (9 + len bytes); returns its length. */
static size_t h2_frame(unsigned char *out, int type, int flags, uint32_t sid,
                       const void *payload, size_t len)
{
    out[0] = (unsigned char)(len >> 16);
    out[1] = (unsigned char)(len >> 8);
    out[2] = (unsigned char)len;
    out[3] = (unsigned char)type;
    out[4] = (unsigned char)flags;
    out[5] = (unsigned char)((sid >> 24) & 0x7f);
    out[6] = (unsigned char)(sid >> 16);
    out[7] = (unsigned char)(sid >> 8);
    out[8] = (unsigned char)sid;
    if (len > 0)
        memcpy(out + 9, payload, len);
    return 9 + len;
}

/* A HEADERS frame ending its stream, the fields deflated by def. */
static size_t h2_headers(unsigned char *out, nghttp2_hd_deflater *def,
                         uint32_t sid, const nghttp2_nv *nva, size_t n)
{
    unsigned char block[H2_FRAME_MAX];
    ssize_t len = nghttp2_hd_deflate_hd(def, block, sizeof(block), nva, n);

    if (len < 0)
        return 0;
    return h2_frame(out, H2_HEADERS, H2_END_HEADERS | H2_END_STREAM, sid, block,
                    (size_t)len);
}

#define NV(name, value)                                                        \
    {                                                                          \
        (uint8_t *)(name), (uint8_t *)(value), strlen(name), strlen(value),    \
            NGHTTP2_NV_FLAG_NONE                                               \
    }

/* Inflates one header block; copies the value of field want into out. */
static bool h2_field(nghttp2_hd_inflater *inf, const unsigned char *in,
                     size_t len, const char *want, char *out, size_t n)
{
    out[0] = '\0';
    for (;;) {
        nghttp2_nv nv;
        int fl = 0;
        ssize_t rv = nghttp2_hd_inflate_hd2(inf, &nv, &fl, in, len, 1);

        if (rv < 0)
            return false;
        in += rv;
        len -= (size_t)rv;
        if ((fl & NGHTTP2_HD_INFLATE_EMIT) && nv.namelen == strlen(want) &&
            memcmp(nv.name, want, nv.namelen) == 0)
            snprintf(out, n, "%.*s", (int)nv.valuelen, (const char *)nv.value);
        if (fl & NGHTTP2_HD_INFLATE_FINAL) {
            nghttp2_hd_inflate_end_headers(inf);
            return true;
        }
        if (!(fl & NGHTTP2_HD_INFLATE_EMIT) && len == 0)
            return true;
    }
}

/* ---- the server --------------------------------------------------------- */

static atomic_bool hold_open; /* the hold listener's connections may read */

static int ssl_write_all(SSL *ssl, const void *buf, size_t len)
{
    size_t done = 0;

    return len == 0 || (SSL_write_ex(ssl, buf, len, &done) == 1 && done == len)
               ? 0
               : -1;
}

static int ssl_read_exact(SSL *ssl, void *buf, size_t len)
{
    char *p = buf;

    while (len > 0) {
        int n = SSL_read(ssl, p, len > INT_MAX ? INT_MAX : (int)len);

        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* write_all for answer_http1(). */
static int write_io(void *io, const void *buf, size_t len)
{
    return ssl_write_all(io, buf, len);
}

/* serve_http1() through the server's SSL. */
static ssize_t read_ssl(struct sconn *s, void *io, void *buf, size_t len)
{
    (void)s;
    return SSL_read(io, buf, (int)len);
}

static void count_body(struct sconn *s, size_t n)
{
    atomic_fetch_add(&s->own.body, (long long)n);
}

static bool answer_ssl(struct sconn *s, void *io, const char *path)
{
    (void)s;
    return answer_http1(io, path, write_io, MIRROR);
}

/* HTTP/2 as far as the tests need: SETTINGS, and a response on each stream
 * its HEADERS end (:status 429 for :path /429, else 200). */
static void serve_h2(struct sconn *s, SSL *ssl)
{
    unsigned char hdr[9], payload[H2_FRAME_MAX], out[H2_FRAME_MAX + 9];
    unsigned char settings[9], ack[9];
    size_t settings_len = h2_frame(settings, H2_SETTINGS, 0, 0, NULL, 0);
    size_t ack_len = h2_frame(ack, H2_SETTINGS, H2_ACK, 0, NULL, 0);
    char path[256];
    nghttp2_hd_inflater *inf = NULL;
    nghttp2_hd_deflater *def = NULL;

    if (ssl_read_exact(ssl, payload, 24) != 0 ||
        memcmp(payload, H2_PREFACE, 24) != 0 ||
        nghttp2_hd_inflate_new(&inf) != 0 ||
        nghttp2_hd_deflate_new(&def, 4096) != 0 ||
        ssl_write_all(ssl, settings, settings_len) != 0)
        goto out;
    for (;;) {
        size_t len;
        uint32_t sid;

        if (ssl_read_exact(ssl, hdr, 9) != 0)
            break;
        len = (size_t)hdr[0] << 16 | (size_t)hdr[1] << 8 | hdr[2];
        sid = ((uint32_t)hdr[5] & 0x7f) << 24 | (uint32_t)hdr[6] << 16 |
              (uint32_t)hdr[7] << 8 | hdr[8];
        if (len > sizeof(payload) || ssl_read_exact(ssl, payload, len) != 0)
            break;
        if (hdr[3] == H2_SETTINGS && !(hdr[4] & H2_ACK)) {
            if (ssl_write_all(ssl, ack, ack_len) != 0)
                break;
        } else if (hdr[3] == H2_HEADERS) {
            nghttp2_nv ok[] = {NV(":status", "200")};
            nghttp2_nv slow[] = {NV(":status", "429")};
            bool is429;

            if (!h2_field(inf, payload, len, ":path", path, sizeof(path)))
                break;
            atomic_fetch_add(&s->requests, 1);
            is429 = strcmp(path, "/429") == 0;
            len = h2_headers(out, def, sid, is429 ? slow : ok, 1);
            if (len == 0 || ssl_write_all(ssl, out, len) != 0)
                break;
        } else if (hdr[3] == H2_GOAWAY) {
            break;
        }
    }
out:
    nghttp2_hd_inflate_del(inf);
    nghttp2_hd_deflate_del(def);
}

static void serve(struct sconn *s)
{
    SSL *ssl = SSL_new(server_ctx);
    const unsigned char *alpn = NULL;
    unsigned int alpn_len = 0;

    if (ssl == NULL || SSL_set_fd(ssl, s->fd) != 1 || SSL_accept(ssl) != 1)
        goto out;
    if (s->hold)
        wait_flag(&hold_open);
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    if (alpn_len == 2 && memcmp(alpn, "h2", 2) == 0) {
        atomic_store(&s->own.h2, true);
        serve_h2(s, ssl);
    } else {
        serve_http1(
            s, &(struct http1_io){ssl, read_ssl, NULL, count_body, answer_ssl});
    }
    SSL_shutdown(ssl);
out:
    SSL_free(ssl);
    ERR_clear_error();
}

static int select_alpn(SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
    static const unsigned char mine[] = "\x02h2\x08http/1.1";

    (void)ssl;
    (void)arg;
    if (SSL_select_next_proto((unsigned char **)out, outlen, mine,
                              sizeof(mine) - 1, in,
                              inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    return SSL_TLSEXT_ERR_OK;
}

/* The server's context: a P-256 key and a self-signed certificate for
 * localhost, made here. */
static SSL_CTX *make_server_ctx(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = X509_new();
    X509_NAME *name;
    SSL_CTX *ctx = NULL;

    if (key == NULL || cert == NULL)
        goto out;
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
    X509_set_pubkey(cert, key);
    name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(cert, name);
    if (X509_sign(cert, key, EVP_sha256()) == 0)
        goto out;
    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL || SSL_CTX_use_certificate(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, key) != 1) {
        SSL_CTX_free(ctx);
        ctx = NULL;
        goto out;
    }
    /* No session tickets: the first bytes a client reads are a response. */
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
out:
    X509_free(cert);
    EVP_PKEY_free(key);
    return ctx;
}

/* ---- the client: plain versions return -1, so threads can use them ------ */

/* How a client's SSL reaches its socket. */
enum via {
    VIA_FD,  /* SSL_set_fd: OpenSSL's socket BIO (TLS_client_method) */
    VIA_BIO, /* a BIO of the application's that send()s and recv()s, as
                curl's does (TLS_method, SSL_set_connect_state) */
    VIA_MEM  /* memory BIOs whose bytes the application moves itself
                outside any SSL call, as python's asyncio does (TLS_method) */
};

struct tls {
    int fd;
    SSL *ssl;
    enum via via;
    BIO *rbio, *wbio; /* VIA_MEM: what the test moves to and from fd */
    bool ex;          /* SSL_write_ex and SSL_read_ex, not SSL_write... */
};

static int bio_write(BIO *b, const char *buf, int len)
{
    ssize_t n = send((int)(intptr_t)BIO_get_data(b), buf, (size_t)len, 0);

    BIO_clear_retry_flags(b);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        BIO_set_retry_write(b);
    return (int)n;
}

static int bio_read(BIO *b, char *buf, int len)
{
    ssize_t n = recv((int)(intptr_t)BIO_get_data(b), buf, (size_t)len, 0);

    BIO_clear_retry_flags(b);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        BIO_set_retry_read(b);
    return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

/* A new client SSL, not attached to anything yet. */
static bool tls_new(struct tls *t, enum via via)
{
    memset(t, 0, sizeof(*t));
    t->fd = -1;
    t->via = via;
    t->ex = via == VIA_MEM;
    t->ssl = SSL_new(via == VIA_FD ? client_ctx : generic_ctx);
    if (t->ssl == NULL)
        return false;
    if (via != VIA_FD)
        SSL_set_connect_state(t->ssl);
    return true;
}

/* t's SSL over the connected socket fd, which t then owns. */
static bool tls_attach(struct tls *t, int fd)
{
    BIO *b;

    t->fd = fd;
    switch (t->via) {
    case VIA_FD:
        return SSL_set_fd(t->ssl, fd) == 1;
    case VIA_BIO:
        b = BIO_new(sock_method);
        if (b == NULL)
            return false;
        BIO_set_data(b, (void *)(intptr_t)fd);
        SSL_set_bio(t->ssl, b, b);
        return true;
    default:
        t->rbio = BIO_new(BIO_s_mem());
        t->wbio = BIO_new(BIO_s_mem());
        if (t->rbio == NULL || t->wbio == NULL) {
            BIO_free(t->rbio);
            BIO_free(t->wbio);
            return false;
        }
        SSL_set_bio(t->ssl, t->rbio, t->wbio);
        return true;
    }
}

/* VIA_MEM: what the SSL wrote goes to the socket, by plain send(). */
static int flush_wbio(struct tls *t)
{
    char buf[16384];
    int n;

    while ((n = BIO_read(t->wbio, buf, sizeof(buf))) > 0)
        if (send_all_raw(t->fd, buf, (size_t)n) != 0)
            return -1;
    return 0;
}

/* VIA_MEM: what the socket has (waiting for some) goes to the SSL. */
static int fill_rbio(struct tls *t)
{
    char buf[16384];

    for (;;) {
        ssize_t n = recv(t->fd, buf, sizeof(buf), 0);

        if (n < 0 && errno == EAGAIN && wait_io(t->fd, POLLIN) == 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        return BIO_write(t->rbio, buf, (int)n) == (int)n ? 0 : -1;
    }
}

/* After a call returned ret: waits for what it wants. False on an error. */
static bool tls_wait(struct tls *t, int ret)
{
    switch (SSL_get_error(t->ssl, ret)) {
    case SSL_ERROR_WANT_READ:
        if (t->via == VIA_MEM)
            return flush_wbio(t) == 0 && fill_rbio(t) == 0;
        return wait_io(t->fd, POLLIN) == 0;
    case SSL_ERROR_WANT_WRITE:
        return wait_io(t->fd, POLLOUT) == 0;
    default:
        return false;
    }
}

static bool tls_handshake(struct tls *t)
{
    for (;;) {
        int rc;

        if (t->via == VIA_FD)
            rc = SSL_connect(t->ssl);
        else
            rc = SSL_do_handshake(t->ssl);

        if (t->via == VIA_MEM && flush_wbio(t) != 0)
            return false;
        if (rc == 1)
            return true;
        if (!tls_wait(t, rc))
            return false;
    }
}

static void tls_close(struct tls *t)
{
    SSL_free(t->ssl); /* and the BIOs it was given */
    if (t->fd >= 0)
        close(t->fd);
    t->ssl = NULL;
    t->fd = -1;
    ERR_clear_error();
}

static bool tls_open_raw(struct tls *t, const char *ip, int p, enum via via)
{
    int fd;

    if (!tls_new(t, via))
        return false;
    fd = dial_raw(ip, p);
    if (fd < 0 || !tls_attach(t, fd) || !tls_handshake(t)) {
        if (fd >= 0 && t->fd < 0)
            close(fd);
        tls_close(t);
        return false;
    }
    return true;
}

static int tls_send_raw(struct tls *t, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        size_t done = 0;
        int ret;

        if (t->ex) {
            ret = SSL_write_ex(t->ssl, p, len, &done);
        } else {
            ret = SSL_write(t->ssl, p, (int)len);
            done = ret > 0 ? (size_t)ret : 0;
        }
        if (ret > 0) {
            p += done;
            len -= done;
        } else if (!tls_wait(t, ret)) {
            return -1;
        }
    }
    return t->via == VIA_MEM ? flush_wbio(t) : 0;
}

/* Some plaintext: its length, 0 at the end, -1 on an error. */
static ssize_t tls_recv_raw(struct tls *t, void *buf, size_t len)
{
    for (;;) {
        size_t done = 0;
        int ret;

        if (t->ex) {
            ret = SSL_read_ex(t->ssl, buf, len, &done);
        } else {
            ret = SSL_read(t->ssl, buf, (int)len);
            done = ret > 0 ? (size_t)ret : 0;
        }
        if (ret > 0)
            return (ssize_t)done;
        if (SSL_get_error(t->ssl, ret) == SSL_ERROR_ZERO_RETURN)
            return 0;
        if (!tls_wait(t, ret))
            return -1;
    }
}

static ssize_t tls_recv_conn(void *t, void *buf, size_t len)
{
    return tls_recv_raw(t, buf, len);
}

static int tls_read_exact(struct tls *t, void *buf, size_t len)
{
    return read_exact(tls_recv_conn, t, buf, len);
}

static int tls_response_raw(struct tls *t)
{
    return read_response(tls_recv_conn, t);
}

static int tls_roundtrip_raw(struct tls *t, const char *path)
{
    char req[256];
    size_t len = request(req, sizeof(req), path);

    return tls_send_raw(t, req, len) == 0 ? tls_response_raw(t) : -1;
}

/* ---- the same, asserting ------------------------------------------------ */

static void tls_open(struct tls *t, const char *ip, enum via via)
{
    assert_true(tls_open_raw(t, ip, port, via));
}

static void tls_send(struct tls *t, const void *buf, size_t len)
{
    assert_int_equal(tls_send_raw(t, buf, len), 0);
}

static int tls_roundtrip(struct tls *t, const char *path)
{
    return tls_roundtrip_raw(t, path);
}

/* ---- the preload's state ------------------------------------------------ */

/* The socket's own flow never saw a byte: its TLS records were free. */
static void raw_records_untouched(int fd)
{
    struct rlp_conn *c = tracked(fd);

    assert_true(atomic_load(&c->tls_inside));
    assert_false(c->flow.decided);
    assert_false(c->flow.charged);
    assert_int_equal(c->flow.proto, RLP_PROTO_UNKNOWN);
}

/* ---- 1. how a session finds its socket ---------------------------------- */

static void test_tls_hooks_socket_bio_charges_once_per_request(void **state)
{
    enum { N = 6 };
    struct rlp_resource *r = resource(A_COUNT);
    int base = in_flight(r), fd = dial(A_COUNT);
    struct rlp_conn *c = tracked(fd);
    char two[128];
    size_t len;
    struct sconn *s;
    struct tls t;

    (void)state;
    assert_int_equal(c->flow.state, RLP_MAPPED);
    assert_true(tls_new(&t, VIA_FD));
    assert_true(tls_attach(&t, fd));
    /* SSL_set_fd links the socket before a byte moves. */
    assert_true(atomic_load(&c->tls_inside));
    assert_true(tls_handshake(&t));
    s = server_side(fd);
    assert_int_equal(in_flight(r), base); /* the handshake costs nothing */
    for (int i = 1; i <= N; i++) {
        t.ex = i % 2 == 0; /* SSL_write/SSL_read, then the _ex pair */
        assert_int_equal(tls_roundtrip(&t, "/ok"), 200);
        assert_int_equal(in_flight(r), base + i);
    }
    /* Two requests pipelined in one SSL_write cost two. */
    len = request(two, sizeof(two), "/ok");
    memcpy(two + len, two, len);
    tls_send(&t, two, 2 * len);
    assert_int_equal(in_flight(r), base + N + 2);
    assert_int_equal(tls_response_raw(&t), 200);
    assert_int_equal(tls_response_raw(&t), 200);
    assert_int_equal(in_flight(r), base + N + 2);
    assert_int_equal(atomic_load(&s->requests), N + 2);
    raw_records_untouched(fd);
    tls_close(&t);
    assert_null(rlp_conn_get(fd));
}

static void test_tls_hooks_custom_bio_links_from_inside(void **state)
{
    enum { N = 5 };
    struct rlp_resource *r = resource(A_COUNT);
    int base = in_flight(r), fd = dial(A_COUNT);
    struct rlp_conn *c = tracked(fd);
    struct sconn *s;
    struct tls t;

    (void)state;
    assert_true(tls_new(&t, VIA_BIO));
    assert_true(tls_attach(&t, fd));
    /* The BIO is the application's: the preload cannot know its fd. */
    assert_false(atomic_load(&c->tls_inside));
    assert_true(tls_handshake(&t));
    /* The ClientHello was send() from inside SSL_connect: linked then. */
    assert_true(atomic_load(&c->tls_inside));
    s = server_side(fd);
    assert_int_equal(in_flight(r), base);
    for (int i = 1; i <= N; i++) {
        assert_int_equal(tls_roundtrip(&t, "/ok"), 200);
        assert_int_equal(in_flight(r), base + i);
    }
    assert_int_equal(atomic_load(&s->requests), N);
    raw_records_untouched(fd);
    tls_close(&t);
}

static void test_tls_hooks_memory_bios_link_by_client_random(void **state)
{
    enum { N = 5 };
    struct rlp_resource *r = resource(A_COUNT);
    int base = in_flight(r), fd = dial(A_COUNT), rc;
    struct rlp_conn *c = tracked(fd);
    struct sconn *s;
    struct tls t;

    (void)state;
    assert_true(tls_new(&t, VIA_MEM));
    assert_true(tls_attach(&t, fd));
    /* The ClientHello goes into the memory BIO; the socket knows nothing. */
    rc = SSL_do_handshake(t.ssl);
    assert_int_equal(rc, -1);
    assert_int_equal(SSL_get_error(t.ssl, rc), SSL_ERROR_WANT_READ);
    assert_false(atomic_load(&c->tls_inside));
    assert_false(c->flow.decided);
    /* Moved by a plain send(), outside any SSL call: its client random
     * names the session, and the socket is linked to it. */
    assert_int_equal(flush_wbio(&t), 0);
    assert_true(atomic_load(&c->tls_inside));
    assert_false(c->flow.decided);
    assert_true(tls_handshake(&t));
    s = server_side(fd);
    assert_int_equal(in_flight(r), base);
    for (int i = 1; i <= N; i++) {
        assert_int_equal(tls_roundtrip(&t, "/ok"), 200);
        assert_int_equal(in_flight(r), base + i);
    }
    assert_int_equal(atomic_load(&s->requests), N);
    raw_records_untouched(fd);
    tls_close(&t);
}

/* ---- 2. where a session belongs ----------------------------------------- */

static void test_tls_hooks_server_name_maps_the_session(void **state)
{
    struct rlp_resource *sni = resource_matching(SNI_NAME, NULL);
    int before = in_flight_everywhere(), base = in_flight(sni), fd;
    struct rlp_conn *c;
    char req[128];
    struct tls t;

    (void)state;
    /* 127.0.0.1 matches nothing, and tls.example is never resolved: the
     * server name is all that maps the session. */
    assert_true(tls_new(&t, VIA_FD));
    fd = dial(A_UNMAPPED);
    c = tracked(fd);
    assert_int_equal(c->flow.state, RLP_PENDING);
    assert_int_equal(SSL_set_tlsext_host_name(t.ssl, SNI_NAME), 1);
    assert_true(tls_attach(&t, fd));
    assert_true(tls_handshake(&t));
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(tls_roundtrip(&t, "/ok"), 200);
        assert_int_equal(in_flight(sni), base + i);
    }
    assert_int_equal(in_flight_everywhere(), before + 3);
    assert_ptr_equal(rlp_conn_get(fd), c); /* never dropped as unmapped */
    assert_int_equal(c->flow.state, RLP_PENDING);
    raw_records_untouched(fd);
    tls_close(&t);

    /* No server name, and a Host: that matches nothing: never charged. */
    tls_open(&t, A_UNMAPPED, VIA_FD);
    for (int i = 0; i < 3; i++)
        assert_int_equal(tls_roundtrip(&t, "/ok"), 200);
    assert_int_equal(in_flight_everywhere(), before + 3);
    tls_close(&t);

    /* No server name, but the Host: names it: charged by that. */
    tls_open(&t, A_UNMAPPED, VIA_MEM);
    for (int i = 1; i <= 2; i++) {
        tls_send(&t, req, request_to(req, sizeof(req), "/ok", "TLS.Example"));
        assert_int_equal(tls_response_raw(&t), 200);
        assert_int_equal(in_flight(sni), base + 3 + i);
    }
    assert_int_equal(in_flight_everywhere(), before + 5);
    tls_close(&t);
}

static void test_tls_hooks_server_sessions_cost_nothing(void **state)
{
    int before = in_flight_everywhere();
    char req[64], buf[MIRROR_LEN];
    struct tls t;

    (void)state;
    /* The server's SSL_write carries a request for [sni]: were the
     * server's session followed like a client's, it would be charged. */
    tls_open(&t, A_UNMAPPED, VIA_FD);
    tls_send(&t, req, request(req, sizeof(req), "/mirror"));
    assert_int_equal(tls_read_exact(&t, buf, MIRROR_LEN), 0);
    assert_memory_equal(buf, MIRROR, MIRROR_LEN);
    tls_close(&t);
    /* And its reads and writes of a mapped connection's requests. */
    tls_open(&t, A_COUNT, VIA_FD);
    assert_int_equal(tls_roundtrip(&t, "/ok"), 200);
    assert_int_equal(in_flight_everywhere(), before + 1);
    tls_close(&t);
}

static void test_tls_hooks_per_connection_charges_once(void **state)
{
    struct rlp_resource *r = resource(A_CONN);
    int base = in_flight(r);
    struct tls a, b, c;

    (void)state;
    /* Were the records charged too, the ClientHello alone would cost. */
    tls_open(&a, A_CONN, VIA_FD);
    assert_int_equal(in_flight(r), base);
    for (int i = 0; i < 3; i++)
        assert_int_equal(tls_roundtrip(&a, "/ok"), 200);
    assert_int_equal(in_flight(r), base + 1);
    tls_open(&b, A_CONN, VIA_MEM);
    assert_int_equal(tls_roundtrip(&b, "/ok"), 200);
    assert_int_equal(tls_roundtrip(&a, "/ok"), 200);
    assert_int_equal(tls_roundtrip(&b, "/ok"), 200);
    assert_int_equal(in_flight(r), base + 2);
    tls_open(&c, A_CONN, VIA_BIO);
    assert_int_equal(tls_roundtrip(&c, "/ok"), 200);
    assert_int_equal(tls_roundtrip(&c, "/ok"), 200);
    assert_int_equal(in_flight(r), base + 3);
    raw_records_untouched(a.fd);
    raw_records_untouched(b.fd);
    raw_records_untouched(c.fd);
    tls_close(&a);
    tls_close(&b);
    tls_close(&c);
}

/* ---- 3. 429 and Retry-After --------------------------------------------- */

static void test_tls_hooks_429_cuts_once_per_epoch(void **state)
{
    struct rlp_resource *r = resource(A_CUT);
    uint32_t epoch = atomic_load(&r->epoch);
    struct tls t[3];
    struct sconn *s[3];
    char req[64];

    (void)state;
    assert_int_equal(capacity(r).total, 100);
    for (int i = 0; i < 3; i++) {
        tls_open(&t[i], A_CUT, (enum via)i);
        s[i] = server_side(t[i].fd);
        tls_send(&t[i], req, request(req, sizeof(req), "/gate/429"));
    }
    /* All three were sent at the same epoch before any answer. */
    for (int i = 0; i < 3; i++) {
        for (int k = 0; k < 5000 && atomic_load(&s[i]->requests) < 1; k++)
            nap_ms(1);
        assert_int_equal(atomic_load(&s[i]->requests), 1);
    }
    atomic_store(&gate_open, true);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tls_response_raw(&t[i]), 429);
        assert_int_equal(capacity(r).total, 75);
        assert_int_equal(atomic_load(&r->epoch), epoch + 1);
    }
    /* Sent after the cut, a 429 cuts again. */
    assert_int_equal(tls_roundtrip(&t[1], "/429"), 429);
    assert_int_equal(capacity(r).total, 56);
    assert_int_equal(atomic_load(&r->epoch), epoch + 2);
    assert_int_equal(tls_roundtrip(&t[2], "/ok"), 200);
    assert_int_equal(capacity(r).total, 56);
    assert_int_equal(atomic_load(&r->pause_until), 0);
    for (int i = 0; i < 3; i++)
        tls_close(&t[i]);
}

static void test_tls_hooks_retry_after_pauses_the_resource(void **state)
{
    struct rlp_resource *r = resource(A_PAUSE);
    int base, rc;
    int64_t t0, t1, until;
    char req[64];
    size_t len = request(req, sizeof(req), "/ok"), done = KEEP;
    struct sconn *s;
    struct tls t;

    (void)state;
    assert_int_equal(atomic_load(&r->pause_until), 0);
    tls_open(&t, A_PAUSE, VIA_FD);
    s = server_side(t.fd);
    t0 = now_ns();
    assert_int_equal(tls_roundtrip(&t, "/429ra"), 429);
    t1 = now_ns();
    /* Retry-After: 2, in whole seconds of the wall clock: 1 to 2 s on. */
    until = atomic_load(&r->pause_until);
    assert_true(until >= t0 + RLC_SECOND);
    assert_true(until <= t1 + 2 * RLC_SECOND);
    assert_int_equal(capacity(r).total, 75);

    /* Longer than max_wait: with on_timeout = fail, the next SSL_write
     * fails after max_wait with ETIMEDOUT, and nothing of it
     * leaves. */
    base = in_flight(r);
    t0 = now_ns();
    errno = 0;
    rc = SSL_write(t.ssl, req, (int)len);
    assert_int_equal(rc, -1);
    assert_int_equal(errno, ETIMEDOUT);
    /* the end of this connection for any caller, and why */
    assert_int_equal(SSL_get_error(t.ssl, rc), SSL_ERROR_SSL);
    ERR_clear_error();
    assert_true(now_ns() - t0 >= MAX_WAIT_NS);
    errno = 0;
    assert_int_equal(SSL_write_ex(t.ssl, req, len, &done), 0);
    assert_int_equal(errno, ETIMEDOUT);
    assert_int_equal(done, KEEP); /* untouched, as on any failure */
    assert_int_equal(in_flight(r), base);
    assert_int_equal(atomic_load(&s->requests), 1);
    tls_close(&t);
}

/* ---- 4. partial writes -------------------------------------------------- */

static void test_tls_hooks_want_write_retry_charges_once(void **state)
{
    enum { BODY = 256 * 1024, TRIES = 100000 };
    struct rlp_resource *r = resource(A_HOLD);
    int base = in_flight(r), rc = 0, tries;
    /* a's socket takes less than a record, b's a few, never all. */
    int sndbuf[2] = {4096, 64 * 1024};
    char *post = malloc(BODY + 512);
    size_t head, total, two, off = 0;
    struct sconn *sa, *sb;
    struct tls a, b;

    (void)state;
    assert_non_null(post);
    head = (size_t)snprintf(post, 256,
                            "POST /body HTTP/1.1\r\nHost: t\r\n"
                            "Content-Length: %d\r\n\r\n",
                            BODY);
    memset(post + head, 'x', BODY);
    total = head + BODY;
    two = total + request(post + total, 256, "/ok"); /* POST, then a GET */
    assert_true(tls_open_raw(&a, A_HOLD, hold_port, VIA_FD));
    assert_true(tls_open_raw(&b, A_HOLD, hold_port, VIA_FD));
    sa = server_side(a.fd);
    sb = server_side(b.fd);
    SSL_set_mode(b.ssl, SSL_MODE_ENABLE_PARTIAL_WRITE);
    for (int i = 0; i < 2; i++) {
        int fd = i == 0 ? a.fd : b.fd;

        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf[i],
                                    sizeof(sndbuf[i])),
                         0);
        set_nonblocking(fd);
    }

    /* a: the server reads nothing; SSL_write wants to write, and is
     * called again with the same buffer, as OpenSSL requires. */
    for (int i = 0; i < 3; i++) {
        rc = SSL_write(a.ssl, post, (int)total);
        assert_int_equal(rc, -1);
        assert_int_equal(SSL_get_error(a.ssl, rc), SSL_ERROR_WANT_WRITE);
        assert_int_equal(in_flight(r), base + 1);
    }
    /* b: partial writes, the POST and a GET in one buffer, until the
     * socket takes no more: both paid for by the first call. */
    for (tries = 0; tries < TRIES; tries++) {
        rc = SSL_write(b.ssl, post + off, (int)(two - off));
        if (rc <= 0)
            break;
        off += (size_t)rc;
        assert_int_equal(in_flight(r), base + 3);
    }
    assert_int_equal(SSL_get_error(b.ssl, rc), SSL_ERROR_WANT_WRITE);
    assert_true(off > 0 && off < total);
    assert_int_equal(in_flight(r), base + 3);

    /* The server reads now: everything goes, nothing more is charged. */
    atomic_store(&hold_open, true);
    for (tries = 0; tries < TRIES; tries++) {
        rc = SSL_write(a.ssl, post, (int)total);
        if (rc > 0 || SSL_get_error(a.ssl, rc) != SSL_ERROR_WANT_WRITE)
            break;
        assert_int_equal(wait_io(a.fd, POLLOUT), 0);
    }
    assert_int_equal(rc, (int)total);
    while (off < two) {
        rc = SSL_write(b.ssl, post + off, (int)(two - off));
        if (rc > 0)
            off += (size_t)rc;
        else
            assert_true(tls_wait(&b, rc));
    }
    assert_int_equal(in_flight(r), base + 3);
    set_blocking(a.fd);
    set_blocking(b.fd);
    assert_int_equal(tls_response_raw(&a), 200);
    assert_int_equal(tls_response_raw(&b), 200);
    assert_int_equal(tls_response_raw(&b), 200);
    assert_int_equal(atomic_load(&sa->requests), 1);
    assert_int_equal(atomic_load(&sa->own.body), BODY);
    assert_int_equal(atomic_load(&sb->requests), 2);
    assert_int_equal(atomic_load(&sb->own.body), BODY);
    assert_int_equal(in_flight(r), base + 3);
    free(post);
    tls_close(&a);
    tls_close(&b);
}

/* ---- 5. errno ----------------------------------------------------------- */

/* Runs hook (on SSL a) and the real function (on SSL b) from errno =
 * KEEP and an empty error queue, and compares what they returned, what
 * SSL_get_error makes of it and what they left in errno. */
#define SAME_AS_REAL(a, hook, b, real)                                         \
    do {                                                                       \
        long got_, want_;                                                      \
        int got_errno_, want_errno_, got_err_, want_err_;                      \
        ERR_clear_error();                                                     \
        errno = KEEP;                                                          \
        got_ = (long)(hook);                                                   \
        got_errno_ = errno;                                                    \
        got_err_ = SSL_get_error((a), (int)got_);                              \
        ERR_clear_error();                                                     \
        errno = KEEP;                                                          \
        want_ = (long)(real);                                                  \
        want_errno_ = errno;                                                   \
        want_err_ = SSL_get_error((b), (int)want_);                            \
        assert_int_equal(got_, want_);                                         \
        assert_int_equal(got_errno_, want_errno_);                             \
        assert_int_equal(got_err_, want_err_);                                 \
    } while (0)

typedef int (*set_fd_fn)(SSL *, int);
typedef long (*ctrl_fn)(SSL *, int, long, void *);
typedef int (*connect_fn)(SSL *);
typedef int (*write_fn)(SSL *, const void *, int);
typedef int (*read_fn)(SSL *, void *, int);
typedef int (*write_ex_fn)(SSL *, const void *, size_t, size_t *);
typedef int (*read_ex_fn)(SSL *, void *, size_t, size_t *);

/* libssl's own function, behind the preload's. */
/* ---- defects once found, kept found -------------------------------------- */

/* TLS_method() + SSL_set_fd + SSL_connect, no SSL_set_connect_state: the
 * SSL is a server until SSL_connect makes it a client. */
static void test_tls_hooks_generic_method_connect_is_a_client(void **state)
{
    struct rlp_resource *r = resource(A_COUNT);
    int base = in_flight(r), fd = dial(A_COUNT);
    struct tls t;

    (void)state;
    assert_true(tls_new(&t, VIA_FD));
    SSL_free(t.ssl);
    t.ssl = SSL_new(generic_ctx);
    assert_non_null(t.ssl);
    assert_true(tls_attach(&t, fd));
    assert_true(tls_handshake(&t));
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(tls_roundtrip(&t, "/ok"), 200);
        assert_int_equal(in_flight(r), base + i);
    }
    tls_close(&t);
}

/* An SSL_free that only drops an SSL_up_ref's reference forgets nothing. */
static void test_tls_hooks_up_ref_keeps_the_session(void **state)
{
    struct rlp_resource *r = resource(A_COUNT);
    int base = in_flight(r);
    struct tls t;

    (void)state;
    tls_open(&t, A_COUNT, VIA_FD);
    assert_int_equal(tls_roundtrip(&t, "/ok"), 200);
    assert_int_equal(SSL_up_ref(t.ssl), 1);
    SSL_free(t.ssl);
    for (int i = 2; i <= 4; i++) {
        assert_int_equal(tls_roundtrip(&t, "/ok"), 200);
        assert_int_equal(in_flight(r), base + i);
    }
    tls_close(&t);
}

/* One SSL, SSL_clear, a new connection elsewhere: charged there, afresh. */
static void test_tls_hooks_cleared_ssl_on_a_new_socket_starts_fresh(void **s)
{
    struct rlp_resource *conn = resource(A_CONN), *count = resource(A_COUNT);
    int conn_base = in_flight(conn), count_base = in_flight(count), fd;
    struct tls t;

    (void)s;
    tls_open(&t, A_CONN, VIA_FD);
    assert_int_equal(tls_roundtrip(&t, "/ok"), 200);
    assert_int_equal(tls_roundtrip(&t, "/ok"), 200);
    assert_int_equal(in_flight(conn), conn_base + 1); /* per connection */
    SSL_shutdown(t.ssl);
    assert_int_equal(SSL_clear(t.ssl), 1);
    close(t.fd);
    fd = dial(A_COUNT);
    assert_true(tls_attach(&t, fd));
    assert_true(tls_handshake(&t));
    for (int i = 1; i <= 3; i++)
        assert_int_equal(tls_roundtrip(&t, "/ok"), 200);
    assert_int_equal(in_flight(count), count_base + 3);
    assert_int_equal(in_flight(conn), conn_base + 1);
    tls_close(&t);
}

/* A socket another part of the program uses from inside an SSL call (a
 * verify callback, say) is not taken for the session's. */
static int side_fd = -1;

static int verify_with_a_side_request(int ok, X509_STORE_CTX *ctx)
{
    char req[128];
    size_t len = request(req, sizeof(req), "/ok");

    (void)ctx;
    if (side_fd >= 0 && send(side_fd, req, len, 0) != (ssize_t)len)
        return 0;
    side_fd = -1;
    return 1 || ok;
}

static void test_tls_hooks_other_sockets_in_a_call_stay_plain(void **state)
{
    struct rlp_resource *count = resource(A_COUNT);
    int base = in_flight(count), plain = dial(A_COUNT), fd;
    struct rlp_conn *c = tracked(plain);
    struct tls t;

    (void)state;
    assert_true(tls_new(&t, VIA_FD));
    SSL_set_verify(t.ssl, SSL_VERIFY_PEER, verify_with_a_side_request);
    side_fd = plain;
    fd = dial(A_COUNT);
    assert_true(tls_attach(&t, fd));
    assert_true(tls_handshake(&t));
    assert_int_equal(side_fd, -1); /* the callback ran, inside the call */
    assert_false(atomic_load(&c->tls_inside));
    assert_int_equal(in_flight(count), base + 1); /* the side request */
    tls_close(&t);
    close(plain);
}

static void *real_ssl(const char *name)
{
    void *fn = dlsym(RTLD_NEXT, name);

    assert_non_null(fn);
    return fn;
}

static void test_tls_hooks_errno_is_the_real_ones(void **state)
{
    set_fd_fn real_set_fd = (set_fd_fn)real_ssl("SSL_set_fd");
    ctrl_fn real_ctrl = (ctrl_fn)real_ssl("SSL_ctrl");
    connect_fn real_connect = (connect_fn)real_ssl("SSL_connect");
    write_fn real_write = (write_fn)real_ssl("SSL_write");
    read_fn real_read = (read_fn)real_ssl("SSL_read");
    write_ex_fn real_write_ex = (write_ex_fn)real_ssl("SSL_write_ex");
    read_ex_fn real_read_ex = (read_ex_fn)real_ssl("SSL_read_ex");
    struct rlp_resource *r = resource(A_ERRNO);
    int base = in_flight(r), fa, fb;
    SSL *a = SSL_new(client_ctx), *b = SSL_new(client_ctx);
    char req[64], bye[64], ra[256], rb[256];
    size_t len = request(req, sizeof(req), "/ok"), wa = 0, wb = 0;
    size_t blen = request(bye, sizeof(bye), "/bye");
    struct sconn *s;

    (void)state;
    /* a goes through the hooks and is followed ([errno]); b, the control,
     * is driven by libssl's own functions on a connection to nowhere rlc
     * limits (libssl's SSL_connect still calls SSL_do_handshake through
     * the PLT, so that hook runs, passing it through). The first
     * SSL_write_ex and SSL_read_ex calls of the process are here: the
     * hooks bind their real functions in them. */
    assert_non_null(a);
    assert_non_null(b);
    fa = dial(A_ERRNO);
    fb = dial(A_UNMAPPED);
    SAME_AS_REAL(a, SSL_set_fd(a, fa), b, real_set_fd(b, fb));
    SAME_AS_REAL(a, SSL_set_tlsext_host_name(a, "localhost"), b,
                 real_ctrl(b, SSL_CTRL_SET_TLSEXT_HOSTNAME,
                           TLSEXT_NAMETYPE_host_name, (void *)"localhost"));
    SAME_AS_REAL(a, SSL_connect(a), b, real_connect(b));
    s = server_side(fa);

    SAME_AS_REAL(a, SSL_write_ex(a, req, len, &wa), b,
                 real_write_ex(b, req, len, &wb));
    assert_int_equal(wa, len);
    assert_int_equal(wb, len);
    SAME_AS_REAL(a, SSL_read_ex(a, ra, sizeof(ra), &wa), b,
                 real_read_ex(b, rb, sizeof(rb), &wb));
    assert_int_equal(wa, wb);
    assert_memory_equal(ra, rb, wa);
    SAME_AS_REAL(a, SSL_write(a, req, (int)len), b,
                 real_write(b, req, (int)len));
    SAME_AS_REAL(a, SSL_read(a, ra, sizeof(ra)), b,
                 real_read(b, rb, sizeof(rb)));
    SAME_AS_REAL(a, SSL_write(a, req, 0), b, real_write(b, req, 0));
    assert_int_equal(in_flight(r), base + 2);

    /* Nothing to read on a non-blocking socket: EAGAIN, WANT_READ. */
    set_nonblocking(fa);
    set_nonblocking(fb);
    SAME_AS_REAL(a, SSL_read(a, ra, sizeof(ra)), b,
                 real_read(b, rb, sizeof(rb)));
    assert_int_equal(SSL_get_error(a, -1), SSL_ERROR_WANT_READ);
    SAME_AS_REAL(a, SSL_read_ex(a, ra, sizeof(ra), &wa), b,
                 real_read_ex(b, rb, sizeof(rb), &wb));
    set_blocking(fa);
    set_blocking(fb);

    /* The server answers, says close_notify and closes: the end of the
     * stream, then a write to a peer that has gone. */
    SAME_AS_REAL(a, SSL_write(a, bye, (int)blen), b,
                 real_write(b, bye, (int)blen));
    SAME_AS_REAL(a, SSL_read(a, ra, sizeof(ra)), b,
                 real_read(b, rb, sizeof(rb)));
    SAME_AS_REAL(a, SSL_read(a, ra, sizeof(ra)), b,
                 real_read(b, rb, sizeof(rb)));
    assert_int_equal(SSL_get_error(a, 0), SSL_ERROR_ZERO_RETURN);
    assert_int_equal(in_flight(r), base + 3);
    assert_int_equal(atomic_load(&s->requests), 3);
    SAME_AS_REAL(a, SSL_write(a, req, (int)len), b,
                 real_write(b, req, (int)len));
    /* b is freed through the hook too: the preload met b in that inner
     * SSL_do_handshake, and only SSL_free makes it forget the address
     * (a later SSL given it by malloc would inherit b's state). */
    errno = KEEP;
    SSL_free(a);
    assert_int_equal(errno, KEEP);
    SSL_free(b);
    assert_int_equal(errno, KEEP);
    close(fa);
    close(fb);
}

/* ---- 6. a session's lifetime -------------------------------------------- */

static void test_tls_hooks_new_ssl_after_free_starts_fresh(void **state)
{
    struct rlp_resource *conn = resource(A_CONN), *count = resource(A_COUNT);
    int cbase = in_flight(conn), nbase = in_flight(count), fd;
    struct tls t;

    (void)state;
    tls_open(&t, A_CONN, VIA_FD);
    assert_int_equal(tls_roundtrip(&t, "/ok"), 200);
    assert_int_equal(tls_roundtrip(&t, "/ok"), 200);
    assert_int_equal(in_flight(conn), cbase + 1);
    tls_close(&t);
    /* malloc is likely to give the next SSL the same address (the key
     * the preload knows sessions by): it is a new session all the same,
     * decided again, and charged again. */
    assert_true(tls_new(&t, VIA_FD));
    fd = dial(A_COUNT);
    assert_true(tls_attach(&t, fd));
    assert_true(tls_handshake(&t));
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(tls_roundtrip(&t, "/ok"), 200);
        assert_int_equal(in_flight(count), nbase + i);
    }
    assert_int_equal(in_flight(conn), cbase + 1);
    tls_close(&t);
    assert_true(tls_new(&t, VIA_FD));
    fd = dial(A_CONN);
    assert_true(tls_attach(&t, fd));
    assert_true(tls_handshake(&t));
    assert_int_equal(tls_roundtrip(&t, "/ok"), 200);
    assert_int_equal(in_flight(conn), cbase + 2);
    assert_int_equal(in_flight(count), nbase + 3);
    tls_close(&t);
}

/* An SSL freed where rlc does not see it (libssl's own SSL_free, looked
 * up with dlsym): libssl reports the destruction, and an SSL made at the
 * same address later is a new session all the same. Over memory BIOs: no
 * SSL_set_fd comes to say it is a new connection. */
static void test_tls_hooks_unseen_free_forgets_the_session(void **state)
{
    struct rlp_resource *count = resource(A_COUNT);
    int base = in_flight(count), fd;
    void (*unseen_free)(SSL *) = (void (*)(SSL *))real_ssl("SSL_free");
    struct tls t;

    (void)state;
    for (int k = 1; k <= 3; k++) {
        assert_true(tls_new(&t, VIA_MEM));
        fd = dial(A_COUNT);
        assert_true(tls_attach(&t, fd));
        assert_true(tls_handshake(&t));
        assert_int_equal(tls_roundtrip(&t, "/ok"), 200);
        assert_int_equal(tls_roundtrip(&t, "/ok"), 200);
        /* two requests; the connection itself, linked by its ClientHello,
         * nothing */
        assert_int_equal(in_flight(count), base + 2 * k);
        unseen_free(t.ssl); /* the next SSL_new may well reuse it */
        t.ssl = NULL;
        tls_close(&t);
    }
}

/* ---- 7. HTTP/2 ---------------------------------------------------------- */

/* Reads frames until a response's HEADERS, acknowledging the server's
 * SETTINGS on the way. Returns the :status, or -1. */
static int h2_response(struct tls *t, nghttp2_hd_inflater *inf)
{
    unsigned char hdr[9], payload[H2_FRAME_MAX], ack[9];
    size_t ack_len = h2_frame(ack, H2_SETTINGS, H2_ACK, 0, NULL, 0);
    char status[8];

    for (;;) {
        size_t len;

        if (tls_read_exact(t, hdr, 9) != 0)
            return -1;
        len = (size_t)hdr[0] << 16 | (size_t)hdr[1] << 8 | hdr[2];
        if (len > sizeof(payload) || tls_read_exact(t, payload, len) != 0)
            return -1;
        if (hdr[3] == H2_SETTINGS && !(hdr[4] & H2_ACK)) {
            if (tls_send_raw(t, ack, ack_len) != 0)
                return -1;
        } else if (hdr[3] == H2_HEADERS) {
            if (!h2_field(inf, payload, len, ":status", status, sizeof(status)))
                return -1;
            return atoi(status);
        }
    }
}

static size_t h2_get(unsigned char *out, nghttp2_hd_deflater *def, uint32_t sid,
                     const char *path)
{
    nghttp2_nv nva[] = {NV(":method", "GET"), NV(":scheme", "https"),
                        NV(":authority", "t"), NV(":path", path)};

    return h2_headers(out, def, sid, nva, sizeof(nva) / sizeof(nva[0]));
}

static void test_tls_hooks_h2_charges_per_stream(void **state)
{
    struct rlp_resource *r = resource(A_H2);
    int base = in_flight(r), fd;
    uint32_t epoch = atomic_load(&r->epoch);
    unsigned char out[3 * (H2_FRAME_MAX + 9)];
    const unsigned char *alpn = NULL;
    unsigned int alpn_len = 0;
    nghttp2_hd_deflater *def = NULL;
    nghttp2_hd_inflater *inf = NULL;
    size_t len;
    struct sconn *s;
    struct tls t;

    (void)state;
    assert_int_equal(nghttp2_hd_deflate_new(&def, 4096), 0);
    assert_int_equal(nghttp2_hd_inflate_new(&inf), 0);
    assert_true(tls_new(&t, VIA_FD));
    assert_int_equal(
        SSL_set_alpn_protos(t.ssl, (const unsigned char *)"\x02h2", 3), 0);
    fd = dial(A_H2);
    assert_true(tls_attach(&t, fd));
    assert_true(tls_handshake(&t));
    SSL_get0_alpn_selected(t.ssl, &alpn, &alpn_len);
    assert_int_equal(alpn_len, 2);
    assert_memory_equal(alpn, "h2", 2);
    s = server_side(fd);

    /* The preface and SETTINGS cost nothing, nor does a SETTINGS ack. */
    memcpy(out, H2_PREFACE, 24);
    len = 24 + h2_frame(out + 24, H2_SETTINGS, 0, 0, NULL, 0);
    tls_send(&t, out, len);
    assert_int_equal(in_flight(r), base);
    tls_send(&t, out, h2_get(out, def, 1, "/ok"));
    assert_int_equal(in_flight(r), base + 1);
    assert_int_equal(h2_response(&t, inf), 200);
    /* Two streams in one SSL_write cost two. */
    len = h2_get(out, def, 3, "/ok");
    len += h2_get(out + len, def, 5, "/ok");
    tls_send(&t, out, len);
    assert_int_equal(in_flight(r), base + 3);
    assert_int_equal(h2_response(&t, inf), 200);
    assert_int_equal(h2_response(&t, inf), 200);
    /* A 429 in an HTTP/2 header block cuts the capacity. */
    tls_send(&t, out, h2_get(out, def, 7, "/429"));
    assert_int_equal(h2_response(&t, inf), 429);
    assert_int_equal(in_flight(r), base + 4);
    assert_int_equal(capacity(r).total, 75);
    assert_int_equal(atomic_load(&r->epoch), epoch + 1);
    assert_true(atomic_load(&s->own.h2));
    assert_int_equal(atomic_load(&s->requests), 4);
    raw_records_untouched(fd);
    tls_send(&t, out, h2_frame(out, H2_GOAWAY, 0, 0, "\0\0\0\0\0\0\0\0", 8));
    tls_close(&t);
    nghttp2_hd_deflate_del(def);
    nghttp2_hd_inflate_del(inf);
}

/* ---- 8. threads --------------------------------------------------------- */

enum { WORKERS = 4, CONNS = 3, PER_CONN = 5 };

struct worker {
    pthread_t thread;
    int index;
    int ok, bad;
};

/* Each connection of each worker reaches its socket another way. */
static void *worker_main(void *arg)
{
    struct worker *w = arg;

    for (int k = 0; k < CONNS; k++) {
        struct tls t;

        if (!tls_open_raw(&t, A_THREADS, port,
                          (enum via)((w->index + k) % 3))) {
            w->bad += PER_CONN;
            continue;
        }
        for (int j = 0; j < PER_CONN; j++) {
            if (tls_roundtrip_raw(&t, "/ok") == 200)
                w->ok++;
            else
                w->bad++;
        }
        tls_close(&t);
    }
    return NULL;
}

static void test_tls_hooks_threads_share_one_resource(void **state)
{
    struct rlp_resource *r = resource(A_THREADS);
    int base = in_flight(r), mark = atomic_load(&nsconns), ok = 0, bad = 0;
    struct worker w[WORKERS];

    (void)state;
    for (int i = 0; i < WORKERS; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].index = i;
        assert_int_equal(pthread_create(&w[i].thread, NULL, worker_main, &w[i]),
                         0);
    }
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(w[i].thread, NULL);
        ok += w[i].ok;
        bad += w[i].bad;
    }
    assert_int_equal(bad, 0);
    assert_int_equal(ok, WORKERS * CONNS * PER_CONN);
    assert_int_equal(in_flight(r), base + WORKERS * CONNS * PER_CONN);
    assert_int_equal(server_requests(A_THREADS, mark),
                     WORKERS * CONNS * PER_CONN);
    assert_int_equal(capacity(r).waiting, 0);
}

/* ---- main --------------------------------------------------------------- */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_hooks_errno_is_the_real_ones),
        cmocka_unit_test(test_tls_hooks_generic_method_connect_is_a_client),
        cmocka_unit_test(test_tls_hooks_up_ref_keeps_the_session),
        cmocka_unit_test(
            test_tls_hooks_cleared_ssl_on_a_new_socket_starts_fresh),
        cmocka_unit_test(test_tls_hooks_other_sockets_in_a_call_stay_plain),
        cmocka_unit_test(test_tls_hooks_unseen_free_forgets_the_session),
        cmocka_unit_test(test_tls_hooks_socket_bio_charges_once_per_request),
        cmocka_unit_test(test_tls_hooks_custom_bio_links_from_inside),
        cmocka_unit_test(test_tls_hooks_memory_bios_link_by_client_random),
        cmocka_unit_test(test_tls_hooks_server_name_maps_the_session),
        cmocka_unit_test(test_tls_hooks_server_sessions_cost_nothing),
        cmocka_unit_test(test_tls_hooks_per_connection_charges_once),
        cmocka_unit_test(test_tls_hooks_429_cuts_once_per_epoch),
        cmocka_unit_test(test_tls_hooks_retry_after_pauses_the_resource),
        cmocka_unit_test(test_tls_hooks_want_write_retry_charges_once),
        cmocka_unit_test(test_tls_hooks_new_ssl_after_free_starts_fresh),
        cmocka_unit_test(test_tls_hooks_h2_charges_per_stream),
        cmocka_unit_test(test_tls_hooks_threads_share_one_resource),
    };
    int rc;

    signal(SIGPIPE, SIG_IGN);
    if (write_ini("test_tls_hooks", "/tmp/rlc-tls-hooks-XXXXXX", sections,
                  sizeof(sections) / sizeof(sections[0])) != 0)
        return 1;
    setenv("RLC_CONFIG", ini_path, 1);
    server_ctx = make_server_ctx();
    client_ctx = SSL_CTX_new(TLS_client_method());
    generic_ctx = SSL_CTX_new(TLS_method());
    sock_method =
        BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "rlc-test");
    if (server_ctx == NULL || client_ctx == NULL || generic_ctx == NULL ||
        sock_method == NULL) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    BIO_meth_set_write(sock_method, bio_write);
    BIO_meth_set_read(sock_method, bio_read);
    BIO_meth_set_ctrl(sock_method, bio_ctrl);
    BIO_meth_set_create(sock_method, bio_create);
    if (start_server(serve, A_HOLD) != 0) {
        perror("test_tls_hooks: the test server");
        return 1;
    }
    rc = cmocka_run_group_tests_name("tls_hooks", tests, NULL, NULL);
    SSL_CTX_free(client_ctx);
    SSL_CTX_free(generic_ctx);
    unlink(ini_path);
    rmdir(ini_dir);
    return rc;
}
