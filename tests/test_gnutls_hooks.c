/* SPDX-License-Identifier: MIT */
/*
 * test_gnutls_hooks.c - the preload's GnuTLS hooks linked into the test in
 * front of the real libgnutls: the test's own gnutls_record_send,
 * gnutls_record_recv and the rest go through tls.c as a program's would,
 * so the sanitizer builds check it.
 *
 * GnuTLS's headers are not needed to build rlc, nor is linking with it:
 * the few prototypes and constants used are declared here, and
 * libgnutls.so.30 is opened RTLD_GLOBAL at start. The hooked functions
 * are called by their plain names, which bind to the preload's exported
 * definitions linked into this binary; those find the real ones in the
 * global scope. The others are called through pointers from dlsym.
 *
 * One ini file, written before the first network call, maps 127.0.0.x
 * addresses and one TLS server name to resources. A TLS server in threads
 * of this process answers HTTP/1.1 by path and counts the requests; it
 * runs GnuTLS server sessions (through the same hooks: never followed)
 * with a self-signed certificate made in memory at start.
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
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* What the server records of a connection besides inproc.h's fields. */
struct sconn_own {
    atomic_bool release; /* hold: the server may read now */
    atomic_llong body;   /* request body bytes received */
};

#include "inproc.h"

/* ---- GnuTLS, as far as the test needs it -------------------------------- */

typedef struct gnutls_session_int *gnutls_session_t;
typedef struct gnutls_certificate_credentials_st
    *gnutls_certificate_credentials_t;
typedef struct {
    unsigned char *data;
    unsigned int size;
} gnutls_datum_t;

#define GNUTLS_SERVER 1
#define GNUTLS_CLIENT (1 << 1)
#define GNUTLS_NONBLOCK (1 << 3)
#define GNUTLS_NO_TICKETS (1 << 10)
#define GNUTLS_CRD_CERTIFICATE 1
#define GNUTLS_X509_FMT_PEM 1
#define GNUTLS_NAME_DNS 1
#define GNUTLS_SHUT_WR 1
#define GNUTLS_E_AGAIN (-28)
#define GNUTLS_E_INTERRUPTED (-52)
#define GNUTLS_E_PUSH_ERROR (-53)

/* The hooked ones: these names are the preload's (hooks_tls.c). */
int gnutls_init(gnutls_session_t *session, unsigned int flags);
void gnutls_deinit(gnutls_session_t session);
ssize_t gnutls_record_send(gnutls_session_t session, const void *data,
                           size_t len);
ssize_t gnutls_record_recv(gnutls_session_t session, void *data, size_t len);
int gnutls_server_name_set(gnutls_session_t session, int type, const void *name,
                           size_t len);
void gnutls_transport_set_int2(gnutls_session_t session, int recv_fd,
                               int send_fd);
int gnutls_handshake(gnutls_session_t session);

/* The others, and the real functions behind the hooks (for errno). */
static struct {
    int (*global_init)(void);
    int (*cert_alloc)(gnutls_certificate_credentials_t *);
    int (*cert_key_mem)(gnutls_certificate_credentials_t,
                        const gnutls_datum_t *, const gnutls_datum_t *, int);
    int (*credentials_set)(gnutls_session_t, int, void *);
    int (*default_priority)(gnutls_session_t);
    int (*bye)(gnutls_session_t, int);
    const char *(*strerror)(int);
    int (*get_direction)(gnutls_session_t);
    size_t (*check_pending)(gnutls_session_t);
    void (*transport_set_ptr)(gnutls_session_t, void *);
    void (*set_push)(gnutls_session_t,
                     ssize_t (*)(void *, const void *, size_t));
    void (*set_pull)(gnutls_session_t, ssize_t (*)(void *, void *, size_t));
    void (*transport_set_errno)(gnutls_session_t, int);
    int (*init)(gnutls_session_t *, unsigned int);
    void (*deinit)(gnutls_session_t);
    ssize_t (*record_send)(gnutls_session_t, const void *, size_t);
    ssize_t (*record_recv)(gnutls_session_t, void *, size_t);
    int (*server_name_set)(gnutls_session_t, int, const void *, size_t);
    void (*transport_set_int2)(gnutls_session_t, int, int);
    int (*handshake)(gnutls_session_t);
} gt;

static gnutls_certificate_credentials_t server_cred, client_cred;

/* ---- the resources ------------------------------------------------------ */

/* Every 127.x.y.z is loopback: one address per resource. */
#define A_UNMAPPED "127.0.0.1"
#define A_COUNT "127.0.0.2"
#define A_CONN "127.0.0.4"
#define A_CUT "127.0.0.5"
#define A_HOLD "127.0.0.6"
#define A_FULL "127.0.0.7"
#define A_PAUSE "127.0.0.8"
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
    {"full", A_FULL, "1", "1000h", "request"},
    {"pause", A_PAUSE, "100", "1000h", "request"},
    {"errno", A_ERRNO, "1000", "1000h", "request"},
};

/* What the server sends for /mirror: a request for [sni], which would be
 * charged were the server's session followed as a client's is. */
static const char MIRROR[] = "GET /x HTTP/1.1\r\nHost: " SNI_NAME "\r\n\r\n";
#define MIRROR_LEN (sizeof(MIRROR) - 1)

/* A session's priorities and (empty: nothing verified) credentials. */
static bool session_setup(gnutls_session_t s, bool server)
{
    return gt.default_priority(s) == 0 &&
           gt.credentials_set(s, GNUTLS_CRD_CERTIFICATE,
                              server ? server_cred : client_cred) == 0;
}

/* ---- the server --------------------------------------------------------- */

static int send_all(gnutls_session_t s, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = gnutls_record_send(s, p, len);

        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Some plaintext from the server's session: > 0, or the end. */
static ssize_t server_recv(gnutls_session_t s, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = gnutls_record_recv(s, buf, len);

        if (n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED)
            return n;
    }
}

/* write_all for answer_http1(). */
static int write_io(void *io, const void *buf, size_t len)
{
    return send_all(io, buf, len);
}

/* serve_http1() through the server's session. */
static ssize_t read_session(struct sconn *sc, void *io, void *buf, size_t len)
{
    (void)sc;
    return server_recv(io, buf, len);
}

static void count_body(struct sconn *sc, size_t n)
{
    atomic_fetch_add(&sc->own.body, (long long)n);
}

static bool answer_session(struct sconn *sc, void *io, const char *path)
{
    (void)sc;
    return answer_http1(io, path, write_io, MIRROR);
}

static void serve(struct sconn *sc)
{
    gnutls_session_t s = NULL;
    int rc;

    /* A server session, by gnutls_init's flags: never followed. */
    if (gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NO_TICKETS) != 0) {
        s = NULL;
        goto out;
    }
    if (!session_setup(s, true))
        goto out;
    gnutls_transport_set_int2(s, sc->fd, sc->fd);
    do
        rc = gnutls_handshake(s);
    while (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED);
    if (rc != 0)
        goto out;
    if (sc->hold)
        wait_flag(&sc->own.release);
    serve_http1(sc, &(struct http1_io){s, read_session, NULL, count_body,
                                       answer_session});
    gt.bye(s, GNUTLS_SHUT_WR);
out:
    if (s != NULL)
        gnutls_deinit(s);
}

/* The server's credentials: a P-256 key and a self-signed certificate for
 * localhost, made here by libcrypto and handed to GnuTLS in PEM. */
static bool make_server_cred(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = X509_new();
    BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
    X509_NAME *name;
    char *cp = NULL, *kp = NULL;
    long clen, klen;
    gnutls_datum_t c, k;
    bool ok = false;

    if (key == NULL || cert == NULL || cb == NULL || kb == NULL)
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
    if (X509_sign(cert, key, EVP_sha256()) == 0 ||
        PEM_write_bio_X509(cb, cert) != 1 ||
        PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) != 1)
        goto out;
    clen = BIO_get_mem_data(cb, &cp);
    klen = BIO_get_mem_data(kb, &kp);
    c.data = (unsigned char *)cp;
    c.size = (unsigned int)clen;
    k.data = (unsigned char *)kp;
    k.size = (unsigned int)klen;
    ok = gt.cert_alloc(&server_cred) == 0 &&
         gt.cert_key_mem(server_cred, &c, &k, GNUTLS_X509_FMT_PEM) == 0 &&
         gt.cert_alloc(&client_cred) == 0;
out:
    BIO_free(cb);
    BIO_free(kb);
    X509_free(cert);
    EVP_PKEY_free(key);
    return ok;
}

/* ---- the client: plain versions return -1 ------------------------------- */

struct gtls {
    int fd;
    gnutls_session_t s;
};

/* A new client session, not attached to anything yet. */
static bool gtls_new(struct gtls *t)
{
    t->fd = -1;
    t->s = NULL;
    if (gnutls_init(&t->s, GNUTLS_CLIENT) != 0) {
        t->s = NULL;
        return false;
    }
    return session_setup(t->s, false);
}

/* t's session over the connected socket fd, which t then owns. */
static void gtls_attach(struct gtls *t, int fd)
{
    t->fd = fd;
    gnutls_transport_set_int2(t->s, fd, fd);
}

/* After a call returned rc: waits for what it wants. False on an error. */
static bool gtls_wait(struct gtls *t, ssize_t rc)
{
    if (rc != GNUTLS_E_AGAIN && rc != GNUTLS_E_INTERRUPTED)
        return false;
    if (rc == GNUTLS_E_INTERRUPTED || gt.check_pending(t->s) > 0)
        return true;
    return wait_io(t->fd, gt.get_direction(t->s) == 1 ? POLLOUT : POLLIN) == 0;
}

static bool gtls_handshake(struct gtls *t)
{
    for (;;) {
        int rc = gnutls_handshake(t->s);

        if (rc == 0)
            return true;
        if (!gtls_wait(t, rc)) {
            print_message("handshake: %s\n", gt.strerror(rc));
            return false;
        }
    }
}

static void gtls_close(struct gtls *t)
{
    if (t->s != NULL)
        gnutls_deinit(t->s);
    if (t->fd >= 0)
        close(t->fd);
    t->s = NULL;
    t->fd = -1;
}

static bool gtls_open_raw(struct gtls *t, const char *ip, int p)
{
    int fd;

    if (!gtls_new(t)) {
        gtls_close(t);
        return false;
    }
    fd = dial_raw(ip, p);
    if (fd < 0) {
        gtls_close(t);
        return false;
    }
    gtls_attach(t, fd);
    if (!gtls_handshake(t)) {
        gtls_close(t);
        return false;
    }
    return true;
}

/* Sends all of buf, a record at a time as GnuTLS takes it. */
static int gtls_send_raw(struct gtls *t, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = gnutls_record_send(t->s, p, len);

        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        /* Again, with the same arguments, as GnuTLS requires. */
        while (gtls_wait(t, n)) {
            n = gnutls_record_send(t->s, p, len);
            if (n > 0)
                break;
        }
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Some plaintext: its length, 0 at the end, -1 on an error. */
static ssize_t gtls_recv_raw(struct gtls *t, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = gnutls_record_recv(t->s, buf, len);

        if (n >= 0)
            return n;
        if (!gtls_wait(t, n))
            return -1;
    }
}

static ssize_t gtls_recv_conn(void *t, void *buf, size_t len)
{
    return gtls_recv_raw(t, buf, len);
}

static int gtls_read_exact(struct gtls *t, void *buf, size_t len)
{
    return read_exact(gtls_recv_conn, t, buf, len);
}

static int gtls_response_raw(struct gtls *t)
{
    return read_response(gtls_recv_conn, t);
}

/* ---- the same, asserting ------------------------------------------------ */

static void gtls_open_port(struct gtls *t, const char *ip, int p)
{
    assert_true(gtls_open_raw(t, ip, p));
}

static void gtls_open(struct gtls *t, const char *ip)
{
    gtls_open_port(t, ip, port);
}

static void gtls_send(struct gtls *t, const void *buf, size_t len)
{
    assert_int_equal(gtls_send_raw(t, buf, len), 0);
}

static int gtls_roundtrip(struct gtls *t, const char *path)
{
    char req[256];
    size_t len = request(req, sizeof(req), path);

    return gtls_send_raw(t, req, len) == 0 ? gtls_response_raw(t) : -1;
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

/* Waits for the server to have counted n requests on sc. */
static void server_saw(struct sconn *sc, int n)
{
    for (int k = 0; k < 5000 && atomic_load(&sc->requests) < n; k++)
        nap_ms(1);
    assert_int_equal(atomic_load(&sc->requests), n);
}

/* ---- 1. keep-alive, and how a session finds its socket ------------------ */

static void test_gnutls_hooks_keep_alive_charges_once_per_request(void **state)
{
    enum { N = 6 };
    struct rlp_resource *r = resource(A_COUNT);
    int before = in_flight_everywhere(), base = in_flight(r),
        fd = dial(A_COUNT);
    struct rlp_conn *c = tracked(fd);
    char two[128];
    size_t len;
    struct sconn *sc;
    struct gtls t;

    (void)state;
    assert_int_equal(c->flow.state, RLP_MAPPED);
    assert_true(gtls_new(&t));
    gtls_attach(&t, fd);
    /* gnutls_transport_set_int2 links the socket before a byte moves. */
    assert_true(atomic_load(&c->tls_inside));
    assert_true(gtls_handshake(&t));
    sc = server_side(fd);
    assert_int_equal(in_flight(r), base); /* the handshake costs nothing */
    for (int i = 1; i <= N; i++) {
        assert_int_equal(gtls_roundtrip(&t, "/ok"), 200);
        assert_int_equal(in_flight(r), base + i);
    }
    /* Two requests pipelined in one gnutls_record_send cost two. */
    len = request(two, sizeof(two), "/ok");
    memcpy(two + len, two, len);
    gtls_send(&t, two, 2 * len);
    assert_int_equal(in_flight(r), base + N + 2);
    assert_int_equal(gtls_response_raw(&t), 200);
    assert_int_equal(gtls_response_raw(&t), 200);
    assert_int_equal(atomic_load(&sc->requests), N + 2);
    /* A close_notify is a record like any other: free. */
    assert_int_equal(gt.bye(t.s, GNUTLS_SHUT_WR), 0);
    assert_int_equal(in_flight(r), base + N + 2);
    assert_int_equal(in_flight_everywhere(), before + N + 2);
    raw_records_untouched(fd);
    gtls_close(&t);
    assert_null(rlp_conn_get(fd));
}

/* gnutls_transport_set_ptr, not hooked: GnuTLS's own push function
 * writes the ClientHello to the fd from inside gnutls_handshake, which
 * links it. */
static void test_gnutls_hooks_transport_ptr_links_from_inside(void **state)
{
    enum { N = 4 };
    struct rlp_resource *r = resource(A_COUNT);
    int base = in_flight(r), fd = dial(A_COUNT);
    struct rlp_conn *c = tracked(fd);
    struct sconn *sc;
    struct gtls t;

    (void)state;
    assert_true(gtls_new(&t));
    t.fd = fd;
    gt.transport_set_ptr(t.s, (void *)(intptr_t)fd);
    assert_false(atomic_load(&c->tls_inside));
    assert_true(gtls_handshake(&t));
    assert_true(atomic_load(&c->tls_inside));
    sc = server_side(fd);
    assert_int_equal(in_flight(r), base);
    for (int i = 1; i <= N; i++) {
        assert_int_equal(gtls_roundtrip(&t, "/ok"), 200);
        assert_int_equal(in_flight(r), base + i);
    }
    assert_int_equal(atomic_load(&sc->requests), N);
    raw_records_untouched(fd);
    gtls_close(&t);
}

/* A transport of the application's own: GnuTLS pushes into memory and
 * pulls from it; the test moves the bytes with plain send() and recv(),
 * outside any GnuTLS call, as an event loop would. */
struct memt {
    gnutls_session_t s;
    int fd;
    char out[65536], in[65536];
    size_t out_len, in_len, in_off;
};

static ssize_t mem_push(void *ptr, const void *buf, size_t len)
{
    struct memt *m = ptr;

    if (len > sizeof(m->out) - m->out_len) {
        gt.transport_set_errno(m->s, EAGAIN);
        return -1;
    }
    memcpy(m->out + m->out_len, buf, len);
    m->out_len += len;
    return (ssize_t)len;
}

static ssize_t mem_pull(void *ptr, void *buf, size_t len)
{
    struct memt *m = ptr;
    size_t n = m->in_len - m->in_off;

    if (n == 0) {
        gt.transport_set_errno(m->s, EAGAIN);
        return -1;
    }
    if (n > len)
        n = len;
    memcpy(buf, m->in + m->in_off, n);
    m->in_off += n;
    return (ssize_t)n;
}

/* What GnuTLS pushed goes to the socket, by plain send(). */
static void mem_flush(struct memt *m)
{
    size_t off = 0;

    while (off < m->out_len) {
        ssize_t n = send(m->fd, m->out + off, m->out_len - off, 0);

        assert_true(n > 0);
        off += (size_t)n;
    }
    m->out_len = 0;
}

/* What the socket has (waiting for some) goes to GnuTLS. */
static void mem_fill(struct memt *m)
{
    ssize_t n = recv(m->fd, m->in, sizeof(m->in), 0);

    assert_true(n > 0);
    m->in_len = (size_t)n;
    m->in_off = 0;
}

static ssize_t mem_recv(struct memt *m, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = gnutls_record_recv(m->s, buf, len);

        if (n != GNUTLS_E_AGAIN)
            return n;
        mem_flush(m);
        mem_fill(m);
    }
}

static int mem_roundtrip(struct memt *m, const char *path)
{
    char req[64], head[256];
    size_t len = request(req, sizeof(req), path), n = 0;

    assert_int_equal(gnutls_record_send(m->s, req, len), len);
    mem_flush(m);
    /* The head a byte a call, then the body of /ok's answer. */
    while (n < 4 || memcmp(head + n - 4, "\r\n\r\n", 4) != 0) {
        assert_true(n < sizeof(head) - 1);
        assert_int_equal(mem_recv(m, head + n, 1), 1);
        n++;
    }
    assert_int_equal(mem_recv(m, head + n, 2), 2); /* Content-Length: 2 */
    return atoi(head + 9);
}

static void
test_gnutls_hooks_memory_transport_links_by_client_random(void **state)
{
    enum { N = 4 };
    struct rlp_resource *r = resource(A_COUNT);
    struct memt *m = calloc(1, sizeof(*m));
    struct rlp_conn *c;
    struct sconn *sc;
    int base = in_flight(r), rc;

    (void)state;
    assert_non_null(m);
    m->fd = dial(A_COUNT);
    c = tracked(m->fd);
    assert_int_equal(gnutls_init(&m->s, GNUTLS_CLIENT | GNUTLS_NONBLOCK), 0);
    assert_true(session_setup(m->s, false));
    gt.transport_set_ptr(m->s, m);
    gt.set_push(m->s, mem_push);
    gt.set_pull(m->s, mem_pull);
    /* The ClientHello goes into memory; the socket knows nothing. */
    assert_int_equal(gnutls_handshake(m->s), GNUTLS_E_AGAIN);
    assert_true(m->out_len > 0);
    assert_false(atomic_load(&c->tls_inside));
    assert_false(c->flow.decided);
    /* Moved by a plain send(), outside any GnuTLS call: its client
     * random names the session, and the socket is linked to it. */
    mem_flush(m);
    assert_true(atomic_load(&c->tls_inside));
    assert_false(c->flow.decided);
    for (;;) {
        mem_fill(m);
        rc = gnutls_handshake(m->s);
        mem_flush(m);
        if (rc == 0)
            break;
        assert_int_equal(rc, GNUTLS_E_AGAIN);
    }
    sc = server_side(m->fd);
    assert_int_equal(in_flight(r), base);
    for (int i = 1; i <= N; i++) {
        assert_int_equal(mem_roundtrip(m, "/ok"), 200);
        assert_int_equal(in_flight(r), base + i);
    }
    assert_int_equal(atomic_load(&sc->requests), N);
    raw_records_untouched(m->fd);
    gnutls_deinit(m->s);
    close(m->fd);
    free(m);
}

/* ---- 2. the server name ------------------------------------------------- */

static void test_gnutls_hooks_server_name_maps_the_session(void **state)
{
    struct rlp_resource *sni = resource_matching(SNI_NAME, NULL);
    int before = in_flight_everywhere(), base = in_flight(sni), fd;
    /* Upper case, and the length given stops before the NUL. */
    static const char longer[] = "TLS.Example.invalid";
    struct rlp_conn *c;
    struct gtls t;

    (void)state;
    /* 127.0.0.1 matches nothing, and tls.example is never resolved: the
     * server name is all that maps the session. */
    assert_true(gtls_new(&t));
    fd = dial(A_UNMAPPED);
    c = tracked(fd);
    assert_int_equal(c->flow.state, RLP_PENDING);
    assert_int_equal(gnutls_server_name_set(t.s, GNUTLS_NAME_DNS, SNI_NAME,
                                            strlen(SNI_NAME)),
                     0);
    gtls_attach(&t, fd);
    assert_true(gtls_handshake(&t));
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(gtls_roundtrip(&t, "/ok"), 200);
        assert_int_equal(in_flight(sni), base + i);
    }
    assert_int_equal(in_flight_everywhere(), before + 3);
    assert_ptr_equal(rlp_conn_get(fd), c); /* never dropped as unmapped */
    assert_int_equal(c->flow.state, RLP_PENDING);
    raw_records_untouched(fd);
    gtls_close(&t);

    /* The name is the len bytes given, in any case. */
    assert_true(gtls_new(&t));
    assert_int_equal(
        gnutls_server_name_set(t.s, GNUTLS_NAME_DNS, longer, strlen(SNI_NAME)),
        0);
    gtls_attach(&t, dial(A_UNMAPPED));
    assert_true(gtls_handshake(&t));
    assert_int_equal(gtls_roundtrip(&t, "/ok"), 200);
    assert_int_equal(in_flight(sni), base + 4);
    raw_records_untouched(t.fd);
    gtls_close(&t);

    /* No server name, and a Host: that matches nothing: never charged. */
    gtls_open(&t, A_UNMAPPED);
    for (int i = 0; i < 3; i++)
        assert_int_equal(gtls_roundtrip(&t, "/ok"), 200);
    assert_int_equal(in_flight_everywhere(), before + 4);
    gtls_close(&t);
}

/* ---- 3. 429 and Retry-After --------------------------------------------- */

static void test_gnutls_hooks_429_cuts_once_per_epoch(void **state)
{
    struct rlp_resource *r = resource(A_CUT);
    uint32_t epoch = atomic_load(&r->epoch);
    int base = in_flight(r);
    struct gtls t[3];
    struct sconn *sc[3];
    char req[64];

    (void)state;
    assert_int_equal(capacity(r).total, 100);
    for (int i = 0; i < 3; i++) {
        gtls_open(&t[i], A_CUT);
        sc[i] = server_side(t[i].fd);
        gtls_send(&t[i], req, request(req, sizeof(req), "/gate/429"));
    }
    /* All three were sent at the same epoch before any answer. */
    for (int i = 0; i < 3; i++)
        server_saw(sc[i], 1);
    atomic_store(&gate_open, true);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(gtls_response_raw(&t[i]), 429);
        assert_int_equal(capacity(r).total, 75);
        assert_int_equal(atomic_load(&r->epoch), epoch + 1);
    }
    /* Sent after the cut, a 429 cuts again. */
    assert_int_equal(gtls_roundtrip(&t[1], "/429"), 429);
    assert_int_equal(capacity(r).total, 56);
    assert_int_equal(atomic_load(&r->epoch), epoch + 2);
    assert_int_equal(gtls_roundtrip(&t[2], "/ok"), 200);
    assert_int_equal(capacity(r).total, 56);
    assert_int_equal(atomic_load(&r->pause_until), 0);
    assert_int_equal(in_flight(r), base + 5);
    for (int i = 0; i < 3; i++) {
        raw_records_untouched(t[i].fd);
        gtls_close(&t[i]);
    }
}

static void test_gnutls_hooks_retry_after_pauses_the_resource(void **state)
{
    struct rlp_resource *r = resource(A_PAUSE);
    int64_t t0, t1, until;
    char req[64];
    size_t len = request(req, sizeof(req), "/ok");
    struct sconn *sc;
    ssize_t rc;
    int base;
    struct gtls t;

    (void)state;
    assert_int_equal(atomic_load(&r->pause_until), 0);
    gtls_open(&t, A_PAUSE);
    sc = server_side(t.fd);
    t0 = now_ns();
    assert_int_equal(gtls_roundtrip(&t, "/429ra"), 429);
    t1 = now_ns();
    /* Retry-After: 2, in whole seconds of the wall clock: 1 to 2 s on. */
    until = atomic_load(&r->pause_until);
    assert_true(until >= t0 + RLC_SECOND);
    assert_true(until <= t1 + 2 * RLC_SECOND);
    assert_int_equal(capacity(r).total, 75);

    /* Longer than max_wait: the next request waits max_wait, then fails
     * (on_timeout = fail), and nothing of it leaves. */
    base = in_flight(r);
    t0 = now_ns();
    errno = 0;
    rc = gnutls_record_send(t.s, req, len);
    assert_int_equal(rc, GNUTLS_E_PUSH_ERROR);
    assert_int_equal(errno, ETIMEDOUT);
    assert_true(now_ns() - t0 >= MAX_WAIT_NS);
    assert_int_equal(in_flight(r), base);
    assert_int_equal(atomic_load(&sc->requests), 1);
    gtls_close(&t);
}

/* ---- 4. on_timeout = fail ----------------------------------------------- */

static void test_gnutls_hooks_timeout_fails_the_send(void **state)
{
    struct rlp_resource *r = resource(A_FULL);
    int base = in_flight(r);
    char req[64];
    size_t len = request(req, sizeof(req), "/ok");
    struct sconn *sc;
    struct gtls t;

    (void)state;
    /* [full] has one token: the first request takes it. */
    gtls_open(&t, A_FULL);
    sc = server_side(t.fd);
    assert_int_equal(gtls_roundtrip(&t, "/ok"), 200);
    assert_int_equal(in_flight(r), base + 1);
    for (int i = 0; i < 2; i++) {
        errno = 0;
        assert_int_equal(gnutls_record_send(t.s, req, len),
                         GNUTLS_E_PUSH_ERROR);
        assert_int_equal(errno, ETIMEDOUT);
        assert_int_equal(in_flight(r), base + 1);
    }
    /* Nothing reached the server: it would have answered by now. */
    nap_ms(50);
    set_nonblocking(t.fd);
    assert_int_equal(gnutls_record_recv(t.s, req, sizeof(req)), GNUTLS_E_AGAIN);
    set_blocking(t.fd);
    assert_int_equal(atomic_load(&sc->requests), 1);
    gtls_close(&t);
}

/* ---- 5. a full send buffer ---------------------------------------------- */

enum { PAD = 6000, PIPELINE_MAX = 200 };

/* A request of about PAD bytes: a record of its own, well under 16 KiB. */
static size_t padded_request(char *out, size_t n, const char *path)
{
    char pad[PAD + 1];

    memset(pad, 'p', PAD);
    pad[PAD] = '\0';
    return (size_t)snprintf(
        out, n, "GET %s HTTP/1.1\r\nHost: t\r\nX-Pad: %s\r\n\r\n", path, pad);
}

/* One session on the hold listener, whose server reads nothing until
 * told: padded requests, each by its own gnutls_record_send, until the
 * socket takes no more and one returns GNUTLS_E_AGAIN. It is resumed
 * with (NULL, 0) or with the same buffer. Each request costs one. */
static void again_run(bool resume_with_null)
{
    struct rlp_resource *r = resource(A_HOLD);
    int base = in_flight(r), sndbuf = 4096, sent = 0, agains = 0;
    uint32_t epoch = atomic_load(&r->epoch);
    int total = capacity(r).total;
    static char req[PAD + 256];
    size_t len = padded_request(req, sizeof(req), "/ok");
    ssize_t rc;
    struct sconn *sc;
    struct gtls t;

    gtls_open_port(&t, A_HOLD, hold_port);
    sc = server_side(t.fd);
    assert_int_equal(
        setsockopt(t.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
    set_nonblocking(t.fd);
    for (;;) {
        rc = gnutls_record_send(t.s, req, len);
        if (rc < 0)
            break;
        assert_int_equal(rc, len);
        sent++;
        assert_int_equal(in_flight(r), base + sent);
        assert_true(sent < PIPELINE_MAX);
    }
    assert_int_equal(rc, GNUTLS_E_AGAIN);
    /* The request that found the buffer full is paid for, once. */
    assert_int_equal(in_flight(r), base + sent + 1);
    for (;;) {
        if (resume_with_null)
            rc = gnutls_record_send(t.s, NULL, 0);
        else
            rc = gnutls_record_send(t.s, req, len);
        if (rc != GNUTLS_E_AGAIN)
            break;
        assert_int_equal(in_flight(r), base + sent + 1);
        /* A few tries on a full buffer; then the server reads. */
        if (++agains == 3)
            atomic_store(&sc->own.release, true);
        if (agains >= 3)
            assert_int_equal(wait_io(t.fd, POLLOUT), 0);
    }
    assert_int_equal(rc, len);
    sent++;
    assert_int_equal(in_flight(r), base + sent);
    atomic_store(&sc->own.release, true); /* had the buffer drained first */
    set_blocking(t.fd);
    for (int i = 0; i < sent; i++)
        assert_int_equal(gtls_response_raw(&t), 200);

    /* The next request: charged, and its 429 read as one. */
    assert_int_equal(gtls_roundtrip(&t, "/429"), 429);
    assert_int_equal(in_flight(r), base + sent + 1);
    assert_int_equal(atomic_load(&r->epoch), epoch + 1);
    assert_int_equal(capacity(r).total, total * 3 / 4);
    assert_int_equal(atomic_load(&sc->requests), sent + 1);
    raw_records_untouched(t.fd);
    gtls_close(&t);
}

static void test_gnutls_hooks_again_resumed_charges_once(void **state)
{
    (void)state;
    again_run(false); /* the same buffer, as GnuTLS asks */
    again_run(true);  /* (NULL, 0), as GnuTLS allows */
}

/* A POST and a GET in one buffer of many records, given whole to each
 * gnutls_record_send as curl gives its upload buffer: GnuTLS takes one
 * record (16 KiB) a call. Resumed after GNUTLS_E_AGAIN with the same
 * arguments or with (NULL, 0); then the rest of the buffer, from where
 * the call said it got to. */
static void again_large_run(bool resume_with_null)
{
    enum { BODY = 256 * 1024 };
    struct rlp_resource *r = resource(A_HOLD);
    int base = in_flight(r), sndbuf = 4096, agains = 0;
    uint32_t epoch = atomic_load(&r->epoch);
    int total_cap = capacity(r).total;
    char *post = malloc(BODY + 512);
    size_t head, total, two, off = 0;
    struct sconn *sc;
    struct gtls t;

    assert_non_null(post);
    head = (size_t)snprintf(post, 256,
                            "POST /body HTTP/1.1\r\nHost: t\r\n"
                            "Content-Length: %d\r\n\r\n",
                            BODY);
    memset(post + head, 'x', BODY);
    total = head + BODY;
    two = total + request(post + total, 256, "/429"); /* POST, then a GET */
    gtls_open_port(&t, A_HOLD, hold_port);
    sc = server_side(t.fd);
    assert_int_equal(
        setsockopt(t.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
    set_nonblocking(t.fd);
    while (off < two) {
        ssize_t rc = gnutls_record_send(t.s, post + off, two - off);

        while (rc == GNUTLS_E_AGAIN) {
            assert_int_equal(in_flight(r), base + 2);
            if (++agains == 3)
                atomic_store(&sc->own.release, true);
            if (agains >= 3)
                assert_int_equal(wait_io(t.fd, POLLOUT), 0);
            if (resume_with_null)
                rc = gnutls_record_send(t.s, NULL, 0);
            else
                rc = gnutls_record_send(t.s, post + off, two - off);
        }
        assert_true(rc > 0);
        off += (size_t)rc;
        assert_int_equal(in_flight(r), base + 2);
    }
    assert_true(agains >= 3);
    set_blocking(t.fd);
    assert_int_equal(gtls_response_raw(&t), 200);
    assert_int_equal(gtls_response_raw(&t), 429);
    assert_int_equal(atomic_load(&sc->requests), 2);
    assert_int_equal(atomic_load(&sc->own.body), BODY);
    assert_int_equal(in_flight(r), base + 2);
    assert_int_equal(atomic_load(&r->epoch), epoch + 1);
    assert_int_equal(capacity(r).total, total_cap * 3 / 4);
    /* And the next request is charged, and read, as the first. */
    assert_int_equal(gtls_roundtrip(&t, "/ok"), 200);
    assert_int_equal(in_flight(r), base + 3);
    raw_records_untouched(t.fd);
    free(post);
    gtls_close(&t);
}

static void test_gnutls_hooks_again_on_many_records_charges_once(void **state)
{
    (void)state;
    again_large_run(false);
    again_large_run(true);
}

/* ---- 6. server sessions ------------------------------------------------- */

static void test_gnutls_hooks_server_sessions_cost_nothing(void **state)
{
    int before = in_flight_everywhere();
    char req[64], buf[MIRROR_LEN];
    struct gtls t;

    (void)state;
    /* The server's gnutls_record_send carries a request for [sni]: were
     * the server's session followed like a client's, it would be
     * charged. */
    gtls_open(&t, A_UNMAPPED);
    gtls_send(&t, req, request(req, sizeof(req), "/mirror"));
    assert_int_equal(gtls_read_exact(&t, buf, MIRROR_LEN), 0);
    assert_memory_equal(buf, MIRROR, MIRROR_LEN);
    gtls_close(&t);
    /* And its reads and writes of a mapped connection's requests. */
    gtls_open(&t, A_COUNT);
    assert_int_equal(gtls_roundtrip(&t, "/ok"), 200);
    assert_int_equal(in_flight_everywhere(), before + 1);
    gtls_close(&t);
    assert_int_equal(in_flight_everywhere(), before + 1);
}

/* ---- 7. errno ----------------------------------------------------------- */

/* Runs hook (on session a) and the real function (on session b) from
 * errno = KEEP, and compares what they returned and left in errno. */
#define SAME_AS_REAL(hook, real)                                               \
    do {                                                                       \
        long got_, want_;                                                      \
        int got_errno_, want_errno_;                                           \
        errno = KEEP;                                                          \
        got_ = (long)(hook);                                                   \
        got_errno_ = errno;                                                    \
        errno = KEEP;                                                          \
        want_ = (long)(real);                                                  \
        want_errno_ = errno;                                                   \
        assert_int_equal(got_, want_);                                         \
        assert_int_equal(got_errno_, want_errno_);                             \
    } while (0)

#define SAME_AS_REAL_VOID(hook, real)                                          \
    do {                                                                       \
        int got_errno_, want_errno_;                                           \
        errno = KEEP;                                                          \
        hook;                                                                  \
        got_errno_ = errno;                                                    \
        errno = KEEP;                                                          \
        real;                                                                  \
        want_errno_ = errno;                                                   \
        assert_int_equal(got_errno_, want_errno_);                             \
    } while (0)

static void test_gnutls_hooks_errno_is_the_real_ones(void **state)
{
    struct rlp_resource *r = resource(A_ERRNO);
    int base = in_flight(r), fa, fb;
    gnutls_session_t a = NULL, b = NULL;
    char req[64], bye[64], ra[256], rb[256];
    size_t len = request(req, sizeof(req), "/ok");
    size_t blen = request(bye, sizeof(bye), "/bye");
    ssize_t na = 0, nb = 0;
    struct sconn *sc;

    (void)state;
    /* a goes through the hooks and is followed ([errno]); b, the control,
     * is driven by libgnutls's own functions on a connection to nowhere
     * rlc limits. The first calls of each hook in the process are here:
     * they bind their real functions in them. */
    fa = dial(A_ERRNO);
    fb = dial(A_UNMAPPED);
    SAME_AS_REAL(gnutls_init(&a, GNUTLS_CLIENT), gt.init(&b, GNUTLS_CLIENT));
    assert_non_null(a);
    assert_non_null(b);
    assert_true(session_setup(a, false));
    assert_true(session_setup(b, false));
    SAME_AS_REAL_VOID(gnutls_transport_set_int2(a, fa, fa),
                      gt.transport_set_int2(b, fb, fb));
    SAME_AS_REAL(gnutls_server_name_set(a, GNUTLS_NAME_DNS, "localhost", 9),
                 gt.server_name_set(b, GNUTLS_NAME_DNS, "localhost", 9));
    SAME_AS_REAL(gnutls_handshake(a), gt.handshake(b));
    sc = server_side(fa);

    SAME_AS_REAL(gnutls_record_send(a, req, len), gt.record_send(b, req, len));
    SAME_AS_REAL(na = gnutls_record_recv(a, ra, sizeof(ra)),
                 nb = gt.record_recv(b, rb, sizeof(rb)));
    assert_true(na > 0);
    assert_int_equal(na, nb);
    assert_memory_equal(ra, rb, (size_t)na);
    SAME_AS_REAL(gnutls_record_send(a, NULL, 0), gt.record_send(b, NULL, 0));
    SAME_AS_REAL(gnutls_record_send(a, req, 0), gt.record_send(b, req, 0));
    assert_int_equal(in_flight(r), base + 1);

    /* Nothing to read on a non-blocking socket: GNUTLS_E_AGAIN. */
    set_nonblocking(fa);
    set_nonblocking(fb);
    SAME_AS_REAL(na = gnutls_record_recv(a, ra, sizeof(ra)),
                 gt.record_recv(b, rb, sizeof(rb)));
    assert_int_equal(na, GNUTLS_E_AGAIN);
    set_blocking(fa);
    set_blocking(fb);

    /* The server answers, says close_notify and closes: the end. */
    SAME_AS_REAL(gnutls_record_send(a, bye, blen),
                 gt.record_send(b, bye, blen));
    SAME_AS_REAL(na = gnutls_record_recv(a, ra, sizeof(ra)),
                 nb = gt.record_recv(b, rb, sizeof(rb)));
    assert_true(na > 0);
    SAME_AS_REAL(na = gnutls_record_recv(a, ra, sizeof(ra)),
                 gt.record_recv(b, rb, sizeof(rb)));
    assert_int_equal(na, 0);
    assert_int_equal(in_flight(r), base + 2);
    assert_int_equal(atomic_load(&sc->requests), 2);
    SAME_AS_REAL_VOID(gnutls_deinit(a), gt.deinit(b));
    close(fa);
    close(fb);
}

/* ---- 8. a session's lifetime -------------------------------------------- */

static void test_gnutls_hooks_new_session_after_deinit_starts_fresh(void **s)
{
    struct rlp_resource *conn = resource(A_CONN), *count = resource(A_COUNT);
    int cbase = in_flight(conn), nbase = in_flight(count);
    struct gtls t;

    (void)s;
    gtls_open(&t, A_CONN);
    assert_int_equal(gtls_roundtrip(&t, "/ok"), 200);
    assert_int_equal(gtls_roundtrip(&t, "/ok"), 200);
    assert_int_equal(in_flight(conn), cbase + 1); /* per connection */
    gtls_close(&t);
    /* malloc is likely to give the next session the same address (the
     * key the preload knows sessions by): it is a new session all the
     * same, decided again, and charged again. */
    gtls_open(&t, A_COUNT);
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(gtls_roundtrip(&t, "/ok"), 200);
        assert_int_equal(in_flight(count), nbase + i);
    }
    assert_int_equal(in_flight(conn), cbase + 1);
    gtls_close(&t);
    gtls_open(&t, A_CONN);
    assert_int_equal(gtls_roundtrip(&t, "/ok"), 200);
    assert_int_equal(gtls_roundtrip(&t, "/ok"), 200);
    assert_int_equal(in_flight(conn), cbase + 2);
    assert_int_equal(in_flight(count), nbase + 3);
    raw_records_untouched(t.fd);
    gtls_close(&t);
}

/* ---- main --------------------------------------------------------------- */

#define LOAD(h, field, name)                                                   \
    ((gt.field = (__typeof__(gt.field))dlsym((h), (name))) != NULL)

/* libgnutls into the global scope, where the hooks look for it. */
static bool load_gnutls(void)
{
    void *h = dlopen("libgnutls.so.30", RTLD_NOW | RTLD_GLOBAL);

    if (h == NULL) {
        fprintf(stderr, "test_gnutls_hooks: %s: skipped\n", dlerror());
        return false;
    }
    if (!LOAD(h, global_init, "gnutls_global_init") ||
        !LOAD(h, cert_alloc, "gnutls_certificate_allocate_credentials") ||
        !LOAD(h, cert_key_mem, "gnutls_certificate_set_x509_key_mem") ||
        !LOAD(h, credentials_set, "gnutls_credentials_set") ||
        !LOAD(h, default_priority, "gnutls_set_default_priority") ||
        !LOAD(h, bye, "gnutls_bye") || !LOAD(h, strerror, "gnutls_strerror") ||
        !LOAD(h, get_direction, "gnutls_record_get_direction") ||
        !LOAD(h, check_pending, "gnutls_record_check_pending") ||
        !LOAD(h, transport_set_ptr, "gnutls_transport_set_ptr") ||
        !LOAD(h, set_push, "gnutls_transport_set_push_function") ||
        !LOAD(h, set_pull, "gnutls_transport_set_pull_function") ||
        !LOAD(h, transport_set_errno, "gnutls_transport_set_errno") ||
        !LOAD(h, init, "gnutls_init") || !LOAD(h, deinit, "gnutls_deinit") ||
        !LOAD(h, record_send, "gnutls_record_send") ||
        !LOAD(h, record_recv, "gnutls_record_recv") ||
        !LOAD(h, server_name_set, "gnutls_server_name_set") ||
        !LOAD(h, transport_set_int2, "gnutls_transport_set_int2") ||
        !LOAD(h, handshake, "gnutls_handshake")) {
        fprintf(stderr, "test_gnutls_hooks: %s\n", dlerror());
        return false;
    }
    return gt.global_init() == 0;
}

/* libgnutls.so.30 comes with wget, which the build installs: without it
 * the suite fails, never passes for having tested nothing. */
static void test_gnutls_hooks_need_libgnutls(void **state)
{
    (void)state;
    fail_msg("libgnutls.so.30 cannot be loaded: install wget (libgnutls30)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gnutls_hooks_errno_is_the_real_ones),
        cmocka_unit_test(test_gnutls_hooks_keep_alive_charges_once_per_request),
        cmocka_unit_test(test_gnutls_hooks_transport_ptr_links_from_inside),
        cmocka_unit_test(
            test_gnutls_hooks_memory_transport_links_by_client_random),
        cmocka_unit_test(test_gnutls_hooks_server_name_maps_the_session),
        cmocka_unit_test(test_gnutls_hooks_server_sessions_cost_nothing),
        cmocka_unit_test(test_gnutls_hooks_429_cuts_once_per_epoch),
        cmocka_unit_test(test_gnutls_hooks_retry_after_pauses_the_resource),
        cmocka_unit_test(test_gnutls_hooks_timeout_fails_the_send),
        cmocka_unit_test(test_gnutls_hooks_again_resumed_charges_once),
        cmocka_unit_test(test_gnutls_hooks_again_on_many_records_charges_once),
        cmocka_unit_test(
            test_gnutls_hooks_new_session_after_deinit_starts_fresh),
    };
    int rc;

    signal(SIGPIPE, SIG_IGN);
    if (write_ini("test_gnutls_hooks", "/tmp/rlc-gnutls-hooks-XXXXXX", sections,
                  sizeof(sections) / sizeof(sections[0])) != 0)
        return 1;
    setenv("RLC_CONFIG", ini_path, 1);
    if (!load_gnutls()) {
        const struct CMUnitTest none[] = {
            cmocka_unit_test(test_gnutls_hooks_need_libgnutls),
        };

        rc = cmocka_run_group_tests_name("gnutls_hooks", none, NULL, NULL);
        goto out;
    }
    if (!make_server_cred()) {
        ERR_print_errors_fp(stderr);
        fprintf(stderr, "test_gnutls_hooks: the server's credentials\n");
        return 1;
    }
    if (start_server(serve, A_HOLD) != 0) {
        perror("test_gnutls_hooks: the test server");
        return 1;
    }
    rc = cmocka_run_group_tests_name("gnutls_hooks", tests, NULL, NULL);
out:
    unlink(ini_path);
    rmdir(ini_dir);
    return rc;
}
