/* SPDX-License-Identifier: MIT */
/*
 * inproc.h - what the in-process hook tests share: time helpers, the ini
 * file, a threaded server that hands each accepted connection to the test's
 * own serve function, dialling, and the preload's state as tests read it.
 * Define struct sconn_own (a connection's test-specific fields) first.
 */
#ifndef RLC_TESTS_INPROC_H
#define RLC_TESTS_INPROC_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "preload.h"

/* Waits stay under max_wait, or are meant to run out. */
static const char limiter_section[] = "[limiter]\n"
                                      "max_wait = 300ms\n"
                                      "on_timeout = fail\n"
                                      "recovery_interval = 1h\n"
                                      "log = error\n";

#define MAX_WAIT_NS (300 * RLC_MILLISECOND)
#define KEEP 777 /* an errno no call sets */

/* One resource: an ini section. */
struct ini_section {
    const char *name, *hosts, *capacity, *window, *per;
};

static char ini_dir[64], ini_path[96];

static inline int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * RLC_SECOND + ts.tv_nsec;
}

static inline void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static inline void wait_flag(atomic_bool *flag)
{
    for (int i = 0; i < 5000 && !atomic_load(flag); i++)
        nap_ms(1);
}

static inline int wait_io(int fd, short events)
{
    struct pollfd p = {fd, events, 0};

    return poll(&p, 1, 5000) == 1 ? 0 : -1;
}

/* ---- the ini file ------------------------------------------------------- */

/* All of buf by send(), waiting while the socket is full; 0 or -1. */
static inline int send_all_raw(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, 0);

        if (n < 0 && errno == EAGAIN && wait_io(fd, POLLOUT) == 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The limiter section and sections[0..n) into ini_path, in a new directory
 * made from dir_template (ini_dir); who names the test in errors. */
static inline int write_ini(const char *who, const char *dir_template,
                            const struct ini_section *sections, size_t n)
{
    FILE *f;

    snprintf(ini_dir, sizeof(ini_dir), "%s", dir_template);
    if (mkdtemp(ini_dir) == NULL) {
        fprintf(stderr, "%s: mkdtemp: %s\n", who, strerror(errno));
        return -1;
    }
    snprintf(ini_path, sizeof(ini_path), "%s/rlc.ini", ini_dir);
    f = fopen(ini_path, "w");
    if (f == NULL) {
        perror(ini_path);
        return -1;
    }
    fputs(limiter_section, f);
    for (size_t i = 0; i < n; i++)
        fprintf(f,
                "[%s]\nhosts = %s\ncapacity = %s\nwindow = %s\nper = %s\n"
                "scope = process\n",
                sections[i].name, sections[i].hosts, sections[i].capacity,
                sections[i].window, sections[i].per);
    if (fclose(f) != 0) {
        perror(ini_path);
        return -1;
    }
    return 0;
}

/* ---- the server --------------------------------------------------------- */

#ifndef MAX_SCONN
#define MAX_SCONN 256
#endif

/* One accepted connection, as the server saw it. */
struct sconn {
    atomic_bool ready; /* the fields below the line are set */
    int fd;
    bool hold;       /* from the listener that reads nothing until told */
    in_addr_t local; /* the address the client connected to */
    int peer_port;
    /* ---- */
    atomic_int requests;  /* requests (or streams) seen */
    atomic_bool done;     /* the client closed; fd closed */
    struct sconn_own own; /* the test file's own */
};

struct listener {
    int fd;
    bool hold;
};

static struct sconn sconns[MAX_SCONN];
static atomic_int nsconns;
static int port, hold_port;
static struct listener main_listener, hold_listener;
static atomic_bool gate_open; /* /gate/... requests may be answered */
/* Bumped after a test changes what server threads read (rlp_real): TSan
 * does not see connect() as ordering the accept() it wakes. */
static atomic_int server_sync;
/* Serves one connection; its fd is closed and done set after. */
static void (*serve_conn)(struct sconn *s);

/* Answers one HTTP/1.1 request for path through write_all (0 or -1);
 * false when the connection is to end: 429 (with Retry-After: 2 for
 * /429ra), the bytes of mirror for /mirror, a last 200 for /bye, else 200;
 * /gate/... waits for gate_open first. */
static inline bool answer_http1(void *io, const char *path,
                                int (*write_all)(void *io, const void *buf,
                                                 size_t len),
                                const char *mirror)
{
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    static const char r429[] =
        "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\n\r\n";
    static const char r429ra[] = "HTTP/1.1 429 Too Many Requests\r\n"
                                 "Retry-After: 2\r\nContent-Length: 0\r\n\r\n";
    static const char bye[] = "HTTP/1.1 200 OK\r\nConnection: close\r\n"
                              "Content-Length: 2\r\n\r\nok";

    if (strncmp(path, "/gate/", 6) == 0) {
        wait_flag(&gate_open);
        path += 5;
    }
    if (strcmp(path, "/429ra") == 0)
        return write_all(io, r429ra, sizeof(r429ra) - 1) == 0;
    if (strcmp(path, "/429") == 0)
        return write_all(io, r429, sizeof(r429) - 1) == 0;
    if (strcmp(path, "/mirror") == 0)
        return write_all(io, mirror, strlen(mirror)) == 0;
    if (strcmp(path, "/bye") == 0) {
        write_all(io, bye, sizeof(bye) - 1);
        return false;
    }
    return write_all(io, ok, sizeof(ok) - 1) == 0;
}

/* How serve_http1() reads one connection and answers its requests. */
struct http1_io {
    void *io; /* the socket's session, passed back */
    /* Some bytes: > 0, or <= 0 at the end (or an error). */
    ssize_t (*read)(struct sconn *s, void *io, void *buf, size_t len);
    /* A request's headers are in (may be NULL). */
    void (*arrived)(struct sconn *s);
    /* n bytes of a request body read, and skipped (may be NULL). */
    void (*body)(struct sconn *s, size_t n);
    /* Answers a request for path; false: the connection ends. */
    bool (*answer)(struct sconn *s, void *io, const char *path);
};

/* Reads requests (headers, then a Content-Length body) and answers each,
 * counting them in s->requests, until the end or answer says so. */
static inline void serve_http1(struct sconn *s, const struct http1_io *h)
{
    char buf[16384], path[256];
    size_t have = 0;

    for (;;) {
        char *end, *cl;
        size_t head, body = 0, sp;

        while ((end = memmem(buf, have, "\r\n\r\n", 4)) == NULL) {
            ssize_t n;

            if (have == sizeof(buf))
                return;
            n = h->read(s, h->io, buf + have, sizeof(buf) - have);
            if (n <= 0)
                return;
            have += (size_t)n;
        }
        head = (size_t)(end + 4 - buf);
        end[2] = '\0'; /* headers as a string, the blank line cut */
        if (h->arrived != NULL)
            h->arrived(s);
        atomic_fetch_add(&s->requests, 1);
        sp = strcspn(buf, " ");
        snprintf(path, sizeof(path), "%.*s", (int)strcspn(buf + sp + 1, " "),
                 buf + sp + 1);
        cl = strcasestr(buf, "\r\ncontent-length:");
        if (cl != NULL)
            body = strtoul(cl + 17, NULL, 10);
        /* Skip the body: what is buffered, then what is still to come. */
        while (body > 0) {
            size_t take = have - head < body ? have - head : body;
            ssize_t n;

            head += take;
            body -= take;
            if (h->body != NULL && take > 0)
                h->body(s, take);
            if (body == 0)
                break;
            have = head = 0;
            n = h->read(s, h->io, buf, body < sizeof(buf) ? body : sizeof(buf));
            if (n <= 0)
                return;
            have = (size_t)n;
        }
        memmove(buf, buf + head, have - head);
        have -= head;
        if (!h->answer(s, h->io, path))
            return;
    }
}

static inline void *conn_main(void *arg)
{
    struct sconn *s = arg;

    serve_conn(s);
    close(s->fd);
    atomic_store(&s->done, true);
    return NULL;
}

static inline void *accept_main(void *arg)
{
    const struct listener *l = arg;

    for (;;) {
        struct sockaddr_in peer, local;
        socklen_t plen = sizeof(peer), llen = sizeof(local);
        int fd = accept(l->fd, (struct sockaddr *)&peer, &plen), i, one = 1;
        struct sconn *s;
        pthread_t t;

        if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
            continue;
        if (fd < 0)
            return NULL;
        (void)atomic_load_explicit(&server_sync, memory_order_acquire);
        i = atomic_fetch_add(&nsconns, 1);
        if (i >= MAX_SCONN) {
            close(fd);
            continue;
        }
        getsockname(fd, (struct sockaddr *)&local, &llen);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        s = &sconns[i];
        s->fd = fd;
        s->hold = l->hold;
        s->local = local.sin_addr.s_addr;
        s->peer_port = ntohs(peer.sin_port);
        atomic_store(&s->ready, true);
        if (pthread_create(&t, NULL, conn_main, s) != 0) {
            close(fd);
            atomic_store(&s->done, true);
            continue;
        }
        pthread_detach(t);
    }
}

static inline struct sockaddr_in addr_of(const char *ip, int p)
{
    struct sockaddr_in a;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)p);
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

/* A listener on ip, port chosen by the kernel; rcvbuf 0: the default. */
static inline int start_listener(struct listener *l, const char *ip, int rcvbuf)
{
    struct sockaddr_in a = addr_of(ip, 0);
    socklen_t len = sizeof(a);
    pthread_t t;
    int one = 1;

    l->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (l->fd < 0)
        return -1;
    setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (rcvbuf > 0)
        setsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (bind(l->fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(l->fd, 128) != 0 ||
        getsockname(l->fd, (struct sockaddr *)&a, &len) != 0 ||
        pthread_create(&t, NULL, accept_main, l) != 0)
        return -1;
    pthread_detach(t);
    return ntohs(a.sin_port);
}

/* The server, each connection in a thread of its own running serve: port
 * on every address, hold_port on hold_ip (a small receive buffer, and its
 * connections marked hold). -1 when either listener fails. */
static inline int start_server(void (*serve)(struct sconn *s),
                               const char *hold_ip)
{
    serve_conn = serve;
    port = start_listener(&main_listener, "0.0.0.0", 0);
    hold_listener.hold = true;
    hold_port = start_listener(&hold_listener, hold_ip, 4096);
    return port > 0 && hold_port > 0 ? 0 : -1;
}

/* The server's record of client_fd's connection; client_fd must be open
 * (two open connections never share port and address). */
static inline struct sconn *server_side(int client_fd)
{
    struct sockaddr_in me, them;
    socklen_t len = sizeof(me), tlen = sizeof(them);
    int64_t deadline = now_ns() + 5 * RLC_SECOND;

    assert_int_equal(getsockname(client_fd, (struct sockaddr *)&me, &len), 0);
    assert_int_equal(getpeername(client_fd, (struct sockaddr *)&them, &tlen),
                     0);
    do {
        int n = atomic_load(&nsconns);

        for (int i = (n < MAX_SCONN ? n : MAX_SCONN) - 1; i >= 0; i--) {
            struct sconn *s = &sconns[i];

            if (atomic_load(&s->ready) && !atomic_load(&s->done) &&
                s->peer_port == ntohs(me.sin_port) &&
                s->local == them.sin_addr.s_addr)
                return s;
        }
        nap_ms(1);
    } while (now_ns() < deadline);
    fail_msg("the server never accepted fd %d", client_fd);
    return NULL;
}

static inline void wait_done(struct sconn *s)
{
    for (int i = 0; i < 5000 && !atomic_load(&s->done); i++)
        nap_ms(1);
    assert_true(atomic_load(&s->done));
}

/* Requests the server received on ip's connections from index from on. */
static inline int server_requests(const char *ip, int from)
{
    in_addr_t a = addr_of(ip, 0).sin_addr.s_addr;
    int n = atomic_load(&nsconns), total = 0;

    for (int i = from; i < n && i < MAX_SCONN; i++)
        if (atomic_load(&sconns[i].ready) && sconns[i].local == a)
            total += atomic_load(&sconns[i].requests);
    return total;
}

/* ---- the client --------------------------------------------------------- */

/* A connected socket, or -1. */
static inline int dial_raw(const char *ip, int p)
{
    struct sockaddr_in a = addr_of(ip, p);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static inline int dial_port(const char *ip, int p)
{
    int fd = dial_raw(ip, p);

    assert_true(fd >= 0);
    return fd;
}

static inline int dial(const char *ip)
{
    return dial_port(ip, port);
}

static inline size_t request_to(char *out, size_t n, const char *path,
                                const char *host)
{
    return (size_t)snprintf(out, n, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path,
                            host);
}

static inline size_t request(char *out, size_t n, const char *path)
{
    return request_to(out, n, path, "t");
}

static inline void set_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    assert_true(fl >= 0);
    assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

static inline void set_blocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    assert_true(fl >= 0);
    assert_int_equal(fcntl(fd, F_SETFL, fl & ~O_NONBLOCK), 0);
}

/* Some bytes from a client connection conn: > 0, 0 at the end, or -1. */
typedef ssize_t (*recv_fn)(void *conn, void *buf, size_t len);

static inline int read_exact(recv_fn recv_cb, void *conn, void *buf, size_t len)
{
    char *p = buf;

    while (len > 0) {
        ssize_t n = recv_cb(conn, p, len);

        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* One response: the head a byte per call (the parser gets it in tiny
 * pieces), the body by its Content-Length. Returns the status, or -1. */
static inline int read_response(recv_fn recv_cb, void *conn)
{
    char head[2048], body[256];
    size_t n = 0;
    long left = 0;
    const char *cl;

    while (n < 4 || memcmp(head + n - 4, "\r\n\r\n", 4) != 0) {
        if (n == sizeof(head) - 1 || recv_cb(conn, head + n, 1) != 1)
            return -1;
        n++;
    }
    head[n] = '\0';
    cl = strcasestr(head, "\r\ncontent-length:");
    if (cl != NULL)
        left = strtol(cl + 17, NULL, 10);
    while (left > 0) {
        size_t want = (size_t)left < sizeof(body) ? (size_t)left : sizeof(body);

        if (read_exact(recv_cb, conn, body, want) != 0)
            return -1;
        left -= (long)want;
    }
    return strncmp(head, "HTTP/1.1 ", 9) == 0 ? atoi(head + 9) : -1;
}

/* ---- the preload's state ------------------------------------------------ */

/* The resource for server name host and (unless NULL) address ip. */
static inline struct rlp_resource *resource_matching(const char *host,
                                                     const char *ip)
{
    struct sockaddr_in a = addr_of(ip != NULL ? ip : "127.0.0.1", port);
    const rlc_config *cfg = rlp_config();
    const rlc_resource_config *rc;
    struct rlp_resource *r;

    assert_non_null(cfg);
    rc = rlc_config_match(cfg, host, ip != NULL ? (struct sockaddr *)&a : NULL,
                          ip != NULL ? port : 0);
    assert_non_null(rc);
    r = rlp_resource_for(rc);
    assert_non_null(r);
    return r;
}

static inline struct rlp_resource *resource(const char *ip)
{
    return resource_matching(NULL, ip);
}

static inline rlc_capacity capacity(const struct rlp_resource *r)
{
    rlc_capacity c;

    assert_true(rlc_get_capacity(r->limiter, r->name, &c));
    return c;
}

/* The preload never releases a token: in_flight counts every one taken. */
static inline int in_flight(const struct rlp_resource *r)
{
    return capacity(r).in_flight;
}

static inline int in_flight_everywhere(void)
{
    const rlc_config *cfg = rlp_config();
    int total = 0;

    for (size_t i = 0; i < cfg->nresources; i++)
        total += in_flight(rlp_resource_for(&cfg->resources[i]));
    return total;
}

static inline void drain(const struct rlp_resource *r)
{
    while (rlc_try_acquire(r->limiter, r->name))
        ;
    assert_int_equal(capacity(r).available, 0);
}

static inline struct rlp_conn *tracked(int fd)
{
    struct rlp_conn *c = rlp_conn_get(fd);

    assert_non_null(c);
    return c;
}

#endif /* RLC_TESTS_INPROC_H */
