/* SPDX-License-Identifier: MIT */
/*
 * test_hooks.c - the preload's hooks linked into the test itself, so that
 * every connect, send, recv, close and dup of this process goes through
 * them and the sanitizer builds check the preload as programs drive it.
 *
 * One ini file, written before the first network call, maps 127.0.0.x
 * addresses to resources; an HTTP/1.1 server in threads of this process
 * (accept()ed sockets, never tracked) answers by path and records what it
 * received and when.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define MAX_SCONN 1024
#define MAX_ARRIVALS 64

/* What the server records of a connection besides inproc.h's fields. */
struct sconn_own {
    atomic_llong bytes;                    /* received */
    _Atomic int64_t arrival[MAX_ARRIVALS]; /* monotonic ns, per request */
};

#include "inproc.h"

/* glibc declares these only under _FORTIFY_SOURCE; hooks.c defines them. */
ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *restrict buf, size_t len, size_t buflen,
                       int flags, __SOCKADDR_ARG from,
                       socklen_t *restrict fromlen);

/* Every 127.x.y.z is loopback: one address per resource. */
#define A_UNMAPPED "127.0.0.1"
#define A_COUNT "127.0.0.2"
#define A_SLOW "127.0.0.3"
#define A_CONN "127.0.0.4"
#define A_CUT "127.0.0.5"
#define A_HOLD "127.0.0.6"
#define A_FAIL "127.0.0.7"
#define A_PAUSE "127.0.0.8"
#define A_FORK "127.0.0.9"
#define A_FAST "127.0.0.10"
#define A_PEEK "127.0.0.11"
#define A_CHURN "127.0.0.12"

/* The resources, one ini section each. Windows of 1000 h never refill
 * during a run: token counts are exact. */
static const struct ini_section sections[] = {
    {"count", A_COUNT ", named.example", "1000", "1000h", "request"},
    {"slow", A_SLOW, "1", "50ms", "request"},
    {"conn", A_CONN, "1000", "1000h", "connection"},
    {"cut", A_CUT, "100", "1000h", "request"},
    {"hold", A_HOLD, "1000", "1000h", "request"},
    {"fail", A_FAIL, "1", "1000h", "request"},
    {"pause", A_PAUSE, "100", "1000h", "request"},
    {"fork", A_FORK, "1", "1000h", "request"},
    {"fast", A_FAST, "20", "100ms", "request"},
    {"peek", A_PEEK, "100", "1000h", "request"},
    {"churn", A_CHURN, "1000", "1000h", "connection"},
};

static const char REQ_OK[] = "GET /ok HTTP/1.1\r\nHost: t\r\n\r\n";
static const char RESP_OK[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
#define RESP_OK_LEN (sizeof(RESP_OK) - 1)
static const char RESP_429_PIECES[] =
    "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 9\r\n\r\nslow down";

/* ---- the server --------------------------------------------------------- */

static atomic_bool hold_open; /* the hold listener's connections may read */

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void respond(int fd, const char *path)
{
    static const char r429[] =
        "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\n\r\n";
    static const char r429ra[] = "HTTP/1.1 429 Too Many Requests\r\n"
                                 "Retry-After: 2\r\nContent-Length: 0\r\n\r\n";

    if (strncmp(path, "/gate/", 6) == 0) {
        wait_flag(&gate_open);
        path += 5;
    }
    if (strcmp(path, "/429ra") == 0) {
        write_all(fd, r429ra, sizeof(r429ra) - 1);
    } else if (strcmp(path, "/429pieces") == 0) {
        /* A byte per write, so the client sees it arrive in pieces. */
        for (size_t i = 0; i < sizeof(RESP_429_PIECES) - 1; i++) {
            if (write_all(fd, RESP_429_PIECES + i, 1) != 0)
                return;
            nap_ms(1);
        }
    } else if (strcmp(path, "/429") == 0) {
        write_all(fd, r429, sizeof(r429) - 1);
    } else {
        write_all(fd, RESP_OK, RESP_OK_LEN);
    }
}

/* serve_http1() on the socket, counting bytes and arrival times. */
static ssize_t read_fd(struct sconn *s, void *io, void *buf, size_t len)
{
    ssize_t n;

    (void)io;
    do
        n = read(s->fd, buf, len);
    while (n < 0 && errno == EINTR);
    if (n > 0)
        atomic_fetch_add(&s->own.bytes, n);
    return n;
}

static void note_arrival(struct sconn *s)
{
    int r = atomic_load(&s->requests);

    if (r < MAX_ARRIVALS)
        atomic_store(&s->own.arrival[r], now_ns());
}

static bool answer_fd(struct sconn *s, void *io, const char *path)
{
    (void)io;
    respond(s->fd, path);
    return true;
}

static void serve(struct sconn *s)
{
    static const struct http1_io h = {NULL, read_fd, note_arrival, NULL,
                                      answer_fd};

    if (s->hold)
        wait_flag(&hold_open);
    serve_http1(s, &h);
}

/* ---- the client: plain versions return -1, so a child can use them ------ */

static ssize_t recv_some(int fd, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = recv(fd, buf, len, 0);

        if (n < 0 && errno == EAGAIN && wait_io(fd, POLLIN) == 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        return n;
    }
}

static ssize_t recv_fd(void *fd, void *buf, size_t len)
{
    return recv_some(*(int *)fd, buf, len);
}

static int read_response_raw(int fd)
{
    return read_response(recv_fd, &fd);
}

static int roundtrip_raw(int fd, const char *path)
{
    char req[256];
    size_t len = request(req, sizeof(req), path);

    return send_all_raw(fd, req, len) == 0 ? read_response_raw(fd) : -1;
}

/* ---- the same, asserting ------------------------------------------------ */

static int roundtrip(int fd, const char *path)
{
    return roundtrip_raw(fd, path);
}

static void send_all(int fd, const void *buf, size_t len)
{
    assert_int_equal(send_all_raw(fd, buf, len), 0);
}

/* ---- the preload's state ------------------------------------------------ */

static int refs(struct rlp_conn *c)
{
    return atomic_load(&c->refs);
}

static bool fd_open(int fd)
{
    return rlp_r()->fcntl(fd, F_GETFD) >= 0;
}

/* ---- 1. what is charged ------------------------------------------------- */

static void test_hooks_keepalive_charges_once_per_request(void **state)
{
    struct rlp_resource *r = resource(A_COUNT);
    int base = in_flight(r), avail = capacity(r).available;
    int fd = dial(A_COUNT);
    struct rlp_conn *c = tracked(fd);
    struct sconn *s = server_side(fd);
    char two[2 * sizeof(REQ_OK)];

    (void)state;
    assert_int_equal(c->flow.state, RLP_MAPPED);
    assert_ptr_equal(c->flow.res, r);
    assert_int_equal(in_flight(r), base); /* connecting costs nothing */
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(roundtrip(fd, "/ok"), 200);
        assert_int_equal(in_flight(r), base + i);
        assert_int_equal(capacity(r).available, avail - i);
    }
    /* Two requests pipelined in one send cost two. */
    memcpy(two, REQ_OK, sizeof(REQ_OK) - 1);
    memcpy(two + sizeof(REQ_OK) - 1, REQ_OK, sizeof(REQ_OK) - 1);
    send_all(fd, two, 2 * (sizeof(REQ_OK) - 1));
    assert_int_equal(in_flight(r), base + 5);
    assert_int_equal(read_response_raw(fd), 200);
    assert_int_equal(read_response_raw(fd), 200);
    assert_int_equal(in_flight(r), base + 5);
    assert_int_equal(capacity(r).available, avail - 5);
    assert_int_equal(c->flow.prepaid, 0);
    assert_int_equal(atomic_load(&s->requests), 5);
    close(fd);
    assert_null(rlp_conn_get(fd));
}

static void test_hooks_per_connection_charges_once(void **state)
{
    struct rlp_resource *r = resource(A_CONN);
    int base = in_flight(r);
    int a = dial(A_CONN), b;

    (void)state;
    assert_false(tracked(a)->flow.charged);
    for (int i = 0; i < 3; i++)
        assert_int_equal(roundtrip(a, "/ok"), 200);
    assert_int_equal(in_flight(r), base + 1);
    assert_true(tracked(a)->flow.charged);
    b = dial(A_CONN);
    assert_int_equal(roundtrip(b, "/ok"), 200);
    assert_int_equal(roundtrip(a, "/ok"), 200);
    assert_int_equal(roundtrip(b, "/ok"), 200);
    assert_int_equal(in_flight(r), base + 2);
    close(a);
    close(b);
}

static void test_hooks_unmapped_destination_is_dropped_uncharged(void **state)
{
    int before = in_flight_everywhere();
    int fd = dial(A_UNMAPPED);
    struct rlp_conn *c = tracked(fd);

    (void)state;
    /* Pending until the first request's Host: says where it goes. */
    assert_int_equal(c->flow.state, RLP_PENDING);
    assert_int_equal(roundtrip(fd, "/ok"), 200);
    assert_null(rlp_conn_get(fd));
    assert_true(atomic_load(&c->pooled)); /* nothing kept */
    assert_int_equal(roundtrip(fd, "/ok"), 200);
    assert_null(rlp_conn_get(fd));
    assert_int_equal(in_flight_everywhere(), before);
    close(fd);
}

static void test_hooks_host_header_maps_a_pending_connection(void **state)
{
    static const char req[] =
        "GET /ok HTTP/1.1\r\nHost: Named.Example:8080\r\n\r\n";
    struct rlp_resource *r = resource(A_COUNT);
    int base = in_flight(r), fd = dial(A_UNMAPPED);
    struct rlp_conn *c = tracked(fd);

    (void)state;
    assert_int_equal(c->flow.state, RLP_PENDING);
    send_all(fd, req, sizeof(req) - 1);
    assert_ptr_equal(rlp_conn_get(fd), c);
    assert_int_equal(c->flow.state, RLP_MAPPED);
    assert_ptr_equal(c->flow.res, r);
    assert_string_equal(c->flow.host, "named.example");
    assert_int_equal(in_flight(r), base + 1);
    assert_int_equal(read_response_raw(fd), 200);
    close(fd);
}

static void test_hooks_only_tcp_to_inet_is_tracked(void **state)
{
    struct sockaddr_in a = addr_of(A_COUNT, port);
    struct sockaddr_in6 a6;
    struct sockaddr_un un;
    int before = in_flight_everywhere(), u, l, s, sv[2];
    socklen_t len = sizeof(un);

    (void)state;
    /* UDP: connect() names a peer, but it is not HTTP over TCP. */
    u = socket(AF_INET, SOCK_DGRAM, 0);
    assert_int_equal(connect(u, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_null(rlp_conn_get(u));
    assert_int_equal(send(u, REQ_OK, sizeof(REQ_OK) - 1, 0),
                     (ssize_t)sizeof(REQ_OK) - 1);
    close(u);
    /* AF_UNIX, connected and as a pair. */
    l = socket(AF_UNIX, SOCK_STREAM, 0);
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX; /* autobind: an abstract address */
    assert_int_equal(bind(l, (struct sockaddr *)&un, sizeof(sa_family_t)), 0);
    assert_int_equal(listen(l, 1), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&un, &len), 0);
    s = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(connect(s, (struct sockaddr *)&un, len), 0);
    assert_null(rlp_conn_get(s));
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(write(sv[0], REQ_OK, sizeof(REQ_OK) - 1),
                     (ssize_t)sizeof(REQ_OK) - 1);
    assert_null(rlp_conn_get(sv[0]));
    close(s);
    close(l);
    close(sv[0]);
    close(sv[1]);
    assert_int_equal(in_flight_everywhere(), before);
    /* An IPv4-mapped IPv6 destination matches as IPv4. */
    s = socket(AF_INET6, SOCK_STREAM, 0);
    if (s < 0)
        return; /* no IPv6 here */
    memset(&a6, 0, sizeof(a6));
    a6.sin6_family = AF_INET6;
    a6.sin6_port = htons((uint16_t)port);
    inet_pton(AF_INET6, "::ffff:" A_COUNT, &a6.sin6_addr);
    assert_int_equal(connect(s, (struct sockaddr *)&a6, sizeof(a6)), 0);
    assert_int_equal(tracked(s)->flow.state, RLP_MAPPED);
    assert_ptr_equal(tracked(s)->flow.res, resource(A_COUNT));
    assert_int_equal(roundtrip(s, "/ok"), 200);
    assert_int_equal(in_flight_everywhere(), before + 1);
    close(s);
}

/* ---- 2. the rate -------------------------------------------------------- */

static void test_hooks_rate_is_held(void **state)
{
    enum { N = 6 };
    const int64_t period = 50 * RLC_MILLISECOND;
    int fd = dial(A_SLOW);
    struct sconn *s = server_side(fd);
    int64_t before[N], after[N];

    (void)state;
    for (int i = 0; i < N; i++) {
        before[i] = now_ns();
        errno = KEEP;
        assert_int_equal(send(fd, REQ_OK, sizeof(REQ_OK) - 1, 0),
                         (ssize_t)sizeof(REQ_OK) - 1);
        assert_int_equal(errno, KEEP); /* a wait leaves errno alone */
        after[i] = now_ns();
        assert_int_equal(read_response_raw(fd), 200);
    }
    assert_int_equal(atomic_load(&s->requests), N);
    /* Token j is due j periods after token 0 was taken (a full bucket
     * restarts its clock when taken from), so neither send j nor the
     * server can see it before. */
    for (int j = 1; j < N; j++) {
        assert_true(after[j] - before[0] >= j * period);
        assert_true(atomic_load(&s->own.arrival[j]) - before[0] >= j * period);
    }
    assert_true(after[N - 1] - before[0] < 5 * RLC_SECOND);
    close(fd);
}

/*
 * After an idle spell the bucket hands out its capacity, then the next
 * token a whole period later: [slow] is 1 per 50 ms, so the second of two
 * back-to-back requests after 120 ms of silence leaves 50 ms after the
 * first, never at the next multiple of 50 ms since the bucket's origin
 * (a server enforcing "1 per 50 ms" would answer that one 429).
 */
static void test_hooks_after_idle_next_request_waits_a_period(void **state)
{
    const int64_t period = 50 * RLC_MILLISECOND;
    int fd = dial(A_SLOW);

    (void)state;
    for (int i = 0; i < 5; i++) {
        int64_t t0;

        nap_ms(120);
        t0 = now_ns();
        assert_int_equal(roundtrip(fd, "/ok"), 200);
        assert_int_equal(roundtrip(fd, "/ok"), 200);
        assert_true(now_ns() - t0 >= period);
    }
    close(fd);
}

/* ---- 3. short writes and EAGAIN ----------------------------------------- */

static void test_hooks_short_writes_and_eagain_charge_once(void **state)
{
    enum { BODY = 1 << 20, PADDED = 4096, TRIES = 100000 };
    struct rlp_resource *r = resource(A_HOLD);
    int base = in_flight(r), small = 4096, a, b, k = 0, tries, both[2];
    char *post = malloc(BODY + 256), padded[PADDED], two[2 * PADDED];
    size_t total, off_a, off, rest;
    struct sconn *sa, *sb;
    struct rlp_conn *cb;
    ssize_t n;

    (void)state;
    assert_non_null(post);
    a = dial_port(A_HOLD, hold_port);
    b = dial_port(A_HOLD, hold_port);
    sa = server_side(a);
    sb = server_side(b);
    cb = tracked(b);
    both[0] = a;
    both[1] = b;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(
            setsockopt(both[i], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)),
            0);
        set_nonblocking(both[i]);
    }

    /* a: a POST and its 1 MiB body in one call, while the server reads
     * nothing: the kernel takes part of it, then nothing more. */
    total = (size_t)snprintf(post, 256,
                             "POST /body HTTP/1.1\r\nHost: t\r\n"
                             "Content-Length: %d\r\n\r\n",
                             BODY);
    memset(post + total, 'x', BODY);
    total += BODY;
    n = send(a, post, total, 0);
    assert_true(n > 0 && (size_t)n < total);
    assert_int_equal(in_flight(r), base + 1);
    off_a = (size_t)n;
    for (tries = 0; tries < TRIES; tries++) {
        n = send(a, post + off_a, total - off_a, 0);
        if (n < 0)
            break;
        off_a += (size_t)n;
    }
    assert_int_equal(n, -1);
    assert_int_equal(errno, EAGAIN);
    assert_true(off_a < total);
    assert_int_equal(in_flight(r), base + 1);

    /* b: requests padded to 4 KiB, one after the other, until the
     * kernel takes no more; the last may stop anywhere in a request. */
    memset(padded, 'p', sizeof(padded));
    request(two, sizeof(two), "/ok");
    rest = strlen(two) - 2; /* the blank line goes after the padding */
    memcpy(padded, two, rest);
    memcpy(padded + rest, "X-Pad: ", 7);
    memcpy(padded + PADDED - 4, "\r\n\r\n", 4);
    off = 0;
    for (tries = 0; tries < TRIES; tries++) {
        n = send(b, padded + off, PADDED - off, 0);
        if (n < 0)
            break;
        off += (size_t)n;
        if (off == PADDED) {
            k++;
            off = 0;
        }
    }
    assert_int_equal(n, -1);
    assert_int_equal(errno, EAGAIN);
    /* Requests 0..k-1 went out; request k either started (off > 0) or was
     * paid for by the call that got EAGAIN: k + 1 tokens either way. */
    assert_int_equal(in_flight(r), base + 1 + k + 1);
    assert_int_equal(cb->flow.prepaid, off == 0 ? 1 : 0);
    /* The rest of request k and all of request k + 1 in one call: only
     * what was not paid for yet is charged, once however often it is
     * retried. */
    memcpy(two, padded + off, PADDED - off);
    memcpy(two + PADDED - off, padded, PADDED);
    rest = 2 * PADDED - off;
    for (int i = 0; i < 3; i++) {
        errno = KEEP;
        assert_int_equal(send(b, two, rest, 0), -1);
        assert_int_equal(errno, EAGAIN);
        assert_int_equal(in_flight(r), base + 1 + k + 2);
        assert_int_equal(cb->flow.prepaid, off == 0 ? 2 : 1);
    }

    /* The server reads now: everything goes, nothing more is charged. */
    atomic_store(&hold_open, true);
    send_all(a, post + off_a, total - off_a);
    send_all(b, two, rest);
    assert_int_equal(in_flight(r), base + 1 + k + 2);
    assert_int_equal(cb->flow.prepaid, 0);
    assert_int_equal(read_response_raw(a), 200);
    for (int i = 0; i < k + 2; i++)
        assert_int_equal(read_response_raw(b), 200);
    assert_int_equal(atomic_load(&sa->requests), 1);
    assert_int_equal(atomic_load(&sa->own.bytes), (long long)total);
    assert_int_equal(atomic_load(&sb->requests), k + 2);
    assert_int_equal(atomic_load(&sb->own.bytes), (long long)(k + 2) * PADDED);
    assert_int_equal(in_flight(r), base + 1 + k + 2);
    free(post);
    close(a);
    close(b);
}

/* ---- 4. errno ----------------------------------------------------------- */

/* Reads exactly the OK response with one call of the kind given. */
enum in_kind {
    BY_RECV,
    BY_RECVFROM,
    BY_RECVMSG,
    BY_READ,
    BY_READV,
    BY_RECV_CHK,
    BY_RECVFROM_CHK,
    BY_READ_CHK
};

static void read_ok_untouched(int fd, enum in_kind how)
{
    char buf[RESP_OK_LEN + 16];
    size_t have = 0;

    memset(buf, 0, sizeof(buf));
    while (have < RESP_OK_LEN) {
        char *p = buf + have;
        size_t want = RESP_OK_LEN - have;
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof(from);
        /* Split so the status line and the headers end in different
         * iovecs: the parser must follow across them. */
        size_t cut = want > 7 ? 7 : want / 2;
        struct iovec iov[2] = {{p, cut}, {p + cut, want - cut}};
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
        ssize_t n = 0;

        errno = KEEP;
        switch (how) {
        case BY_RECV:
            n = recv(fd, p, want, MSG_WAITALL);
            break;
        case BY_RECVFROM:
            n = recvfrom(fd, p, want, MSG_WAITALL, (struct sockaddr *)&from,
                         &fromlen);
            break;
        case BY_RECVMSG:
            n = recvmsg(fd, &msg, MSG_WAITALL);
            break;
        case BY_READ:
            n = read(fd, p, want);
            break;
        case BY_READV:
            n = readv(fd, iov, 2);
            break;
        case BY_RECV_CHK:
            n = __recv_chk(fd, p, want, sizeof(buf) - have, MSG_WAITALL);
            break;
        case BY_RECVFROM_CHK:
            n = __recvfrom_chk(fd, p, want, sizeof(buf) - have, MSG_WAITALL,
                               (struct sockaddr *)&from, &fromlen);
            break;
        case BY_READ_CHK:
            n = __read_chk(fd, p, want, sizeof(buf) - have);
            break;
        }
        assert_true(n > 0);
        assert_int_equal(errno, KEEP);
        have += (size_t)n;
    }
    assert_memory_equal(buf, RESP_OK, RESP_OK_LEN);
}

static void test_hooks_errno_untouched_on_success(void **state)
{
    const size_t len = sizeof(REQ_OK) - 1;
    struct rlp_resource *r = resource(A_COUNT);
    int base = in_flight(r), fd, d;
    struct iovec three[3] = {{(void *)REQ_OK, 2},
                             {(void *)(REQ_OK + 2), 15},
                             {(void *)(REQ_OK + 17), len - 17}};
    struct msghdr msg = {.msg_iov = three, .msg_iovlen = 3};
    struct mmsghdr mm[2];
    struct sconn *s;

    (void)state;
    errno = KEEP;
    fd = dial(A_COUNT);
    assert_int_equal(errno, KEEP);
    s = server_side(fd);

    errno = KEEP;
    assert_int_equal(send(fd, REQ_OK, len, 0), (ssize_t)len);
    assert_int_equal(errno, KEEP);
    read_ok_untouched(fd, BY_RECV);
    errno = KEEP;
    assert_int_equal(sendto(fd, REQ_OK, len, 0, NULL, 0), (ssize_t)len);
    assert_int_equal(errno, KEEP);
    read_ok_untouched(fd, BY_RECVFROM);
    errno = KEEP;
    assert_int_equal(sendmsg(fd, &msg, 0), (ssize_t)len);
    assert_int_equal(errno, KEEP);
    read_ok_untouched(fd, BY_RECVMSG);
    errno = KEEP;
    assert_int_equal(write(fd, REQ_OK, len), (ssize_t)len);
    assert_int_equal(errno, KEEP);
    read_ok_untouched(fd, BY_READ);
    errno = KEEP;
    assert_int_equal(writev(fd, three, 3), (ssize_t)len);
    assert_int_equal(errno, KEEP);
    read_ok_untouched(fd, BY_READV);
    memset(mm, 0, sizeof(mm));
    mm[0].msg_hdr = msg;
    mm[1].msg_hdr = msg;
    errno = KEEP;
    assert_int_equal(sendmmsg(fd, mm, 2, 0), 2);
    assert_int_equal(errno, KEEP);
    assert_int_equal(mm[0].msg_len, len);
    assert_int_equal(mm[1].msg_len, len);
    read_ok_untouched(fd, BY_RECV_CHK);
    read_ok_untouched(fd, BY_RECVFROM_CHK);
    errno = KEEP;
    assert_int_equal(send(fd, REQ_OK, len, 0), (ssize_t)len);
    read_ok_untouched(fd, BY_READ_CHK);
    /* One token per request, whichever call carried it. */
    assert_int_equal(in_flight(r), base + 8);
    assert_int_equal(atomic_load(&s->requests), 8);

    errno = KEEP;
    d = dup(fd);
    assert_true(d >= 0);
    assert_int_equal(errno, KEEP);
    assert_int_equal(dup2(fd, d), d);
    assert_int_equal(errno, KEEP);
    assert_int_equal(dup3(fd, d, O_CLOEXEC), d);
    assert_int_equal(errno, KEEP);
    assert_int_equal(close(d), 0);
    assert_int_equal(errno, KEEP);
    d = fcntl(fd, F_DUPFD, 0);
    assert_true(d >= 0);
    assert_int_equal(errno, KEEP);
    assert_ptr_equal(rlp_conn_get(d), rlp_conn_get(fd));
    assert_int_equal(close(d), 0);
    d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    assert_true(d >= 0);
    assert_int_equal(errno, KEEP);
    assert_int_equal(close(d), 0);
    assert_int_equal(errno, KEEP);
    assert_int_equal(close(fd), 0);
    assert_int_equal(errno, KEEP);
}

/* Runs the hook, then the real function (call with r = rlp_r()) on the
 * same arguments, and compares what they returned and left in errno. */
#define SAME_AS_REAL(hook, real)                                               \
    do {                                                                       \
        long got_, want_;                                                      \
        int got_errno_, want_errno_;                                           \
        errno = 0;                                                             \
        got_ = (long)(hook);                                                   \
        got_errno_ = errno;                                                    \
        errno = 0;                                                             \
        want_ = (long)(real);                                                  \
        want_errno_ = errno;                                                   \
        assert_int_equal(got_, want_);                                         \
        assert_int_equal(got_errno_, want_errno_);                             \
        assert_int_equal(got_, -1);                                            \
    } while (0)

/* A port on which nothing listens (bound, so no one else takes it). */
static int refusing_port(int *keep)
{
    struct sockaddr_in a = addr_of("0.0.0.0", 0);
    socklen_t len = sizeof(a);

    *keep = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(bind(*keep, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(*keep, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.sin_port);
}

static void test_hooks_errno_of_failures_is_the_real_one(void **state)
{
    const struct rlp_real *r = rlp_r();
    const size_t len = sizeof(REQ_OK) - 1;
    char buf[64];
    struct iovec iov = {buf, sizeof(buf)};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    const int bad = 60000; /* never open */
    struct sockaddr_in refused;
    struct rlp_resource *res = resource(A_COUNT);
    int keep, fd, plain, base;

    (void)state;
    /* EBADF, through every hook. */
    SAME_AS_REAL(send(bad, REQ_OK, len, 0), r->send(bad, REQ_OK, len, 0));
    SAME_AS_REAL(sendto(bad, REQ_OK, len, 0, NULL, 0),
                 r->sendto(bad, REQ_OK, len, 0, NULL, 0));
    SAME_AS_REAL(sendmsg(bad, &msg, 0), r->sendmsg(bad, &msg, 0));
    SAME_AS_REAL(write(bad, REQ_OK, len), r->write(bad, REQ_OK, len));
    SAME_AS_REAL(writev(bad, &iov, 1), r->writev(bad, &iov, 1));
    SAME_AS_REAL(recv(bad, buf, 1, 0), r->recv(bad, buf, 1, 0));
    SAME_AS_REAL(recvfrom(bad, buf, 1, 0, NULL, NULL),
                 r->recvfrom(bad, buf, 1, 0, NULL, NULL));
    SAME_AS_REAL(recvmsg(bad, &msg, 0), r->recvmsg(bad, &msg, 0));
    SAME_AS_REAL(read(bad, buf, 1), r->read(bad, buf, 1));
    SAME_AS_REAL(readv(bad, &iov, 1), r->readv(bad, &iov, 1));
    SAME_AS_REAL(close(bad), r->close(bad));
    SAME_AS_REAL(dup(bad), r->dup(bad));
    SAME_AS_REAL(dup2(bad, 3), r->dup2(bad, 3));
    SAME_AS_REAL(dup3(bad, 3, 0), r->dup3(bad, 3, 0));
    SAME_AS_REAL(fcntl(bad, F_DUPFD, 0), r->fcntl(bad, F_DUPFD, 0));
    assert_int_equal(errno, EBADF);

    /* EAGAIN and EINVAL on a tracked socket. */
    fd = dial(A_COUNT);
    set_nonblocking(fd);
    SAME_AS_REAL(recv(fd, buf, 1, 0), r->recv(fd, buf, 1, 0));
    assert_int_equal(errno, EAGAIN);
    SAME_AS_REAL(recvfrom(fd, buf, 1, 0, NULL, NULL),
                 r->recvfrom(fd, buf, 1, 0, NULL, NULL));
    SAME_AS_REAL(recvmsg(fd, &msg, 0), r->recvmsg(fd, &msg, 0));
    SAME_AS_REAL(read(fd, buf, 1), r->read(fd, buf, 1));
    SAME_AS_REAL(readv(fd, &iov, 1), r->readv(fd, &iov, 1));
    assert_int_equal(errno, EAGAIN);
    SAME_AS_REAL(dup3(fd, fd, 0), r->dup3(fd, fd, 0));
    assert_int_equal(errno, EINVAL);
    assert_non_null(rlp_conn_get(fd));
    close(fd);

    /* ECONNREFUSED: a failed connect is not tracked. */
    refused = addr_of(A_COUNT, refusing_port(&keep));
    fd = socket(AF_INET, SOCK_STREAM, 0);
    plain = socket(AF_INET, SOCK_STREAM, 0);
    SAME_AS_REAL(
        connect(fd, (struct sockaddr *)&refused, sizeof(refused)),
        r->connect(plain, (struct sockaddr *)&refused, sizeof(refused)));
    assert_int_equal(errno, ECONNREFUSED);
    assert_null(rlp_conn_get(fd));
    close(fd);
    close(plain);

    /* Non-blocking, the refusal comes with the first send: a token is
     * paid for that request, and kept for it (prepaid), not paid twice. */
    base = in_flight(res);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    plain = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    SAME_AS_REAL(
        connect(fd, (struct sockaddr *)&refused, sizeof(refused)),
        r->connect(plain, (struct sockaddr *)&refused, sizeof(refused)));
    assert_int_equal(errno, EINPROGRESS);
    assert_int_equal(tracked(fd)->flow.state, RLP_MAPPED);
    assert_int_equal(wait_io(fd, POLLOUT), 0);
    assert_int_equal(wait_io(plain, POLLOUT), 0);
    SAME_AS_REAL(send(fd, REQ_OK, len, 0), r->send(plain, REQ_OK, len, 0));
    assert_int_equal(errno, ECONNREFUSED);
    SAME_AS_REAL(send(fd, REQ_OK, len, 0), r->send(plain, REQ_OK, len, 0));
    assert_int_equal(errno, EPIPE);
    assert_int_equal(in_flight(res), base + 1);
    assert_int_equal(tracked(fd)->flow.prepaid, 1);
    close(fd);
    close(plain);
    close(keep);
}

/* ---- 5. dup, close ------------------------------------------------------ */

/* fd is not open: dup2 onto it closes nothing of anyone's. */
static int free_fd(int fd)
{
    assert_false(fd_open(fd));
    return fd;
}

static void test_hooks_dup_family_shares_state(void **state)
{
    struct rlp_resource *r = resource(A_COUNT);
    int base = in_flight(r), fd = dial(A_COUNT), d, d2, d3, d4, d5;
    struct rlp_conn *c = tracked(fd);

    (void)state;
    assert_int_equal(refs(c), 1);
    d = dup(fd);
    assert_ptr_equal(rlp_conn_get(d), c);
    assert_int_equal(refs(c), 2);
    d2 = dup2(fd, free_fd(500));
    assert_int_equal(d2, 500);
    assert_ptr_equal(rlp_conn_get(d2), c);
    assert_int_equal(refs(c), 3);
    d3 = dup3(fd, free_fd(501), O_CLOEXEC);
    assert_int_equal(d3, 501);
    assert_ptr_equal(rlp_conn_get(d3), c);
    assert_true(fcntl(d3, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(refs(c), 4);
    d4 = fcntl(fd, F_DUPFD, 502);
    assert_true(d4 >= 502);
    assert_ptr_equal(rlp_conn_get(d4), c);
    d5 = fcntl(fd, F_DUPFD_CLOEXEC, 502);
    assert_true(d5 >= 502);
    assert_ptr_equal(rlp_conn_get(d5), c);
    assert_true(fcntl(d5, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(refs(c), 6);
    /* Neither a dup onto itself nor other fcntl commands change a thing. */
    assert_int_equal(dup2(fd, fd), fd);
    assert_true(fcntl(fd, F_GETFL) >= 0);
    assert_int_equal(fcntl(fd, F_SETFD, 0), 0);
    assert_int_equal(refs(c), 6);

    /* Closing one keeps the others tracked, and the parser is shared:
     * requests alternate between the fds on one connection. */
    assert_int_equal(close(fd), 0);
    assert_null(rlp_conn_get(fd));
    assert_int_equal(refs(c), 5);
    assert_int_equal(roundtrip(d, "/ok"), 200);
    assert_int_equal(roundtrip(d2, "/ok"), 200);
    assert_int_equal(roundtrip(d5, "/ok"), 200);
    assert_int_equal(in_flight(r), base + 3);
    assert_int_equal(c->flow.state, RLP_MAPPED);
    close(d);
    close(d2);
    close(d3);
    close(d4);
    assert_int_equal(refs(c), 1);
    assert_false(atomic_load(&c->pooled));
    close(d5);
    assert_int_equal(refs(c), 0);
    assert_true(atomic_load(&c->pooled));
}

static void test_hooks_dup2_onto_tracked_drops_old_state(void **state)
{
    int a = dial(A_COUNT), b = dial(A_CONN), p[2];
    struct rlp_conn *ca = tracked(a), *cb = tracked(b);

    (void)state;
    /* A failed dup2 changes nothing. */
    errno = 0;
    assert_int_equal(dup2(60000, b), -1);
    assert_int_equal(errno, EBADF);
    assert_ptr_equal(rlp_conn_get(b), cb);
    /* b becomes a: its own state goes. */
    assert_int_equal(dup2(a, b), b);
    assert_ptr_equal(rlp_conn_get(b), ca);
    assert_int_equal(refs(ca), 2);
    assert_int_equal(refs(cb), 0);
    assert_true(atomic_load(&cb->pooled));
    /* An untracked fd onto a tracked one: nothing is left in the slot. */
    assert_int_equal(pipe(p), 0);
    assert_int_equal(dup2(p[0], b), b);
    assert_null(rlp_conn_get(b));
    assert_int_equal(refs(ca), 1);
    assert_int_equal(dup3(p[1], a, 0), a);
    assert_null(rlp_conn_get(a));
    assert_true(atomic_load(&ca->pooled));
    close(a);
    close(b);
    close(p[0]);
    close(p[1]);
}

/* Stands in for the real close: what the slot held when it ran. */
static int (*real_close)(int);
static atomic_int spied_fd = -1;
static struct rlp_conn *slot_at_real_close;

static int spy_close(int fd)
{
    if (fd == atomic_load(&spied_fd))
        slot_at_real_close = rlp_conn_get(fd);
    return real_close(fd);
}

/* Every connection the server had is over, but for any a failed test
 * left open (whose server thread then waits for good): no server thread
 * closes anything until this test makes a new connection. The backlog
 * is first in, first out: once a last connection is accepted, all
 * earlier ones are. */
static void wait_server_quiet(void)
{
    int fd = dial(A_UNMAPPED), n;
    int64_t deadline;

    server_side(fd);
    close(fd);
    n = atomic_load(&nsconns);
    deadline = now_ns() + 2 * RLC_SECOND;
    for (int i = 0; i < n && i < MAX_SCONN; i++)
        while (!atomic_load(&sconns[i].done) && now_ns() < deadline)
            nap_ms(1);
}

static void test_hooks_close_clears_the_slot_first(void **state)
{
    struct sockaddr_in a = addr_of(A_COUNT, 0);
    socklen_t len = sizeof(a);
    int l, fd;
    struct rlp_conn *c;

    (void)state;
    /* Once the number is free another thread's socket may get it: the
     * slot must be empty before the real close runs. The spy replaces
     * the real close while no other thread can call it: the server is
     * quiet, and this connection waits in a backlog no one accepts. */
    wait_server_quiet();
    l = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(l, 1), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&a, &len), 0);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    c = tracked(fd);
    real_close = rlp_r()->close;
    atomic_store(&spied_fd, fd);
    slot_at_real_close = c;
    rlp_real.close = spy_close;
    assert_int_equal(close(fd), 0);
    rlp_real.close = real_close;
    atomic_fetch_add_explicit(&server_sync, 1, memory_order_release);
    atomic_store(&spied_fd, -1);
    assert_null(slot_at_real_close);
    assert_null(rlp_conn_get(fd));
    assert_true(atomic_load(&c->pooled));
    close(l);

    /* Closed behind the hooks' back, the slot is stale; the hook's close
     * then fails in the real close, and the slot is cleared all the same.
     * (The accept is done: the number freed is not the server's.) */
    fd = dial(A_COUNT);
    c = tracked(fd);
    server_side(fd);
    assert_int_equal(syscall(SYS_close, fd), 0);
    assert_ptr_equal(rlp_conn_get(fd), c);
    errno = 0;
    assert_int_equal(close(fd), -1);
    assert_int_equal(errno, EBADF);
    assert_null(rlp_conn_get(fd));
    assert_true(atomic_load(&c->pooled));
}

static void test_hooks_close_range_clears_a_range(void **state)
{
    int fd = dial(A_COUNT);
    struct rlp_conn *c = tracked(fd);

    (void)state;
    if (rlp_r()->close_range == NULL)
        skip();
    for (int i = 600; i <= 602; i++)
        assert_int_equal(dup2(fd, free_fd(i)), i);
    assert_int_equal(refs(c), 4);
    /* CLOSE_RANGE_CLOEXEC closes nothing: the state stays. */
    errno = KEEP;
    if (close_range(600, 602, CLOSE_RANGE_CLOEXEC) != 0 && errno == ENOSYS)
        skip();
    assert_int_equal(errno, KEEP);
    for (int i = 600; i <= 602; i++) {
        assert_ptr_equal(rlp_conn_get(i), c);
        assert_true(fcntl(i, F_GETFD) & FD_CLOEXEC);
    }
    assert_int_equal(refs(c), 4);
    assert_int_equal(close_range(600, 601, 0), 0);
    assert_int_equal(errno, KEEP);
    assert_null(rlp_conn_get(600));
    assert_null(rlp_conn_get(601));
    assert_false(fd_open(600));
    assert_false(fd_open(601));
    assert_ptr_equal(rlp_conn_get(602), c);
    assert_int_equal(refs(c), 2);
    close(602);
    close(fd);
    assert_true(atomic_load(&c->pooled));
}

/* ---- 6. MSG_PEEK -------------------------------------------------------- */

static void test_hooks_peeked_429_is_not_parsed(void **state)
{
    const size_t len = sizeof(RESP_429_PIECES) - 1;
    const size_t head = strstr(RESP_429_PIECES, "\r\n\r\n") + 4 -
                        RESP_429_PIECES; /* the response ends its head */
    struct rlp_resource *r = resource(A_PEEK);
    int fd = dial(A_PEEK), total = capacity(r).total;
    uint32_t epoch = atomic_load(&r->epoch);
    char buf[256], req[64];
    ssize_t n = 0;

    (void)state;
    assert_int_equal(total, 100);
    send_all(fd, req, request(req, sizeof(req), "/429pieces"));
    /* Peek until all of it is there: it comes a byte per write. */
    for (int i = 0; i < 5000 && (size_t)n < len; i++) {
        n = recv(fd, buf, sizeof(buf), MSG_PEEK);
        assert_true(n > 0);
        assert_int_equal(capacity(r).total, total);
        if ((size_t)n < len)
            nap_ms(1);
    }
    assert_int_equal(n, (ssize_t)len);
    assert_int_equal(recv(fd, buf, sizeof(buf), MSG_PEEK), (ssize_t)len);
    assert_int_equal(atomic_load(&r->epoch), epoch);
    assert_int_equal(capacity(r).total, total);
    /* Read for real, a byte at a time: the cut comes with the byte that
     * ends the head, and only then. */
    for (size_t i = 0; i < len; i++) {
        assert_int_equal(recv(fd, buf, 1, 0), 1);
        assert_int_equal(buf[0], RESP_429_PIECES[i]);
        assert_int_equal(capacity(r).total, i + 1 < head ? total : 75);
    }
    assert_int_equal(atomic_load(&r->epoch), epoch + 1);
    assert_int_equal(roundtrip(fd, "/ok"), 200);
    assert_int_equal(capacity(r).total, 75);
    close(fd);
}

/* ---- 7. 429 and Retry-After --------------------------------------------- */

static void test_hooks_429_cuts_once_per_epoch(void **state)
{
    struct rlp_resource *r = resource(A_CUT);
    int fd[3];
    uint32_t epoch = atomic_load(&r->epoch);
    struct sconn *s[3];

    (void)state;
    assert_int_equal(capacity(r).total, 100);
    for (int i = 0; i < 3; i++) {
        char req[64];

        fd[i] = dial(A_CUT);
        s[i] = server_side(fd[i]);
        send_all(fd[i], req, request(req, sizeof(req), "/gate/429"));
    }
    /* All three were sent at the same epoch before any answer. */
    for (int i = 0; i < 3; i++) {
        for (int t = 0; t < 5000 && atomic_load(&s[i]->requests) < 1; t++)
            nap_ms(1);
        assert_int_equal(atomic_load(&s[i]->requests), 1);
    }
    atomic_store(&gate_open, true);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(read_response_raw(fd[i]), 429);
        assert_int_equal(capacity(r).total, 75);
        assert_int_equal(atomic_load(&r->epoch), epoch + 1);
    }
    /* Sent after the cut, a 429 cuts again. */
    assert_int_equal(roundtrip(fd[1], "/429"), 429);
    assert_int_equal(capacity(r).total, 56);
    assert_int_equal(atomic_load(&r->epoch), epoch + 2);
    assert_int_equal(atomic_load(&r->pause_until), 0);
    for (int i = 0; i < 3; i++)
        close(fd[i]);
}

static void test_hooks_retry_after_pauses_the_resource(void **state)
{
    struct rlp_resource *r = resource(A_PAUSE);
    int fd = dial(A_PAUSE), base;
    int64_t t0, t1, until;
    struct rlp_conn *c;
    struct sconn *s;

    (void)state;
    assert_int_equal(atomic_load(&r->pause_until), 0);
    t0 = now_ns();
    assert_int_equal(roundtrip(fd, "/429ra"), 429);
    t1 = now_ns();
    /* Retry-After: 2, in whole seconds of the wall clock: 1 to 2 s on. */
    until = atomic_load(&r->pause_until);
    assert_true(until >= t0 + RLC_SECOND);
    assert_true(until <= t1 + 2 * RLC_SECOND);
    assert_int_equal(capacity(r).total, 75);
    close(fd);

    /* Longer than max_wait: with on_timeout = fail, the next request
     * fails after max_wait, and nothing of it leaves. */
    base = in_flight(r);
    fd = dial(A_PAUSE);
    c = tracked(fd);
    s = server_side(fd);
    t0 = now_ns();
    errno = 0;
    assert_int_equal(send(fd, REQ_OK, sizeof(REQ_OK) - 1, 0), -1);
    assert_int_equal(errno, ETIMEDOUT);
    assert_true(now_ns() - t0 >= MAX_WAIT_NS);
    assert_int_equal(in_flight(r), base);
    assert_int_equal(c->flow.prepaid, 0);
    close(fd);
    wait_done(s);
    assert_int_equal(atomic_load(&s->own.bytes), 0);
}

/* ---- 8. on_timeout = fail ----------------------------------------------- */

static void test_hooks_timeout_fails_with_nothing_sent(void **state)
{
    const size_t len = sizeof(REQ_OK) - 1;
    struct iovec iov[2] = {{(void *)REQ_OK, 5},
                           {(void *)(REQ_OK + 5), len - 5}};
    struct rlp_resource *r = resource(A_FAIL);
    int fd = dial(A_FAIL), base;
    struct rlp_conn *c = tracked(fd);
    struct sconn *s = server_side(fd);
    int64_t t0;

    (void)state;
    drain(r);
    base = in_flight(r);
    t0 = now_ns();
    errno = KEEP;
    assert_int_equal(send(fd, REQ_OK, len, 0), -1);
    assert_int_equal(errno, ETIMEDOUT);
    assert_true(now_ns() - t0 >= MAX_WAIT_NS);
    assert_true(now_ns() - t0 < 5 * RLC_SECOND);
    /* Nothing taken, nothing owed: a retry is a new attempt. */
    assert_int_equal(c->flow.prepaid, 0);
    assert_int_equal(in_flight(r), base);
    t0 = now_ns();
    errno = KEEP;
    assert_int_equal(writev(fd, iov, 2), -1);
    assert_int_equal(errno, ETIMEDOUT);
    assert_true(now_ns() - t0 >= MAX_WAIT_NS);
    assert_int_equal(c->flow.prepaid, 0);
    assert_int_equal(in_flight(r), base);
    close(fd);
    wait_done(s);
    assert_int_equal(atomic_load(&s->own.bytes), 0);
    assert_int_equal(atomic_load(&s->requests), 0);
}

/* ---- 9. fork ------------------------------------------------------------ */

struct blocked {
    pthread_t thread;
    int fd;
    ssize_t rc;
    int err;
};

static void *send_blocked(void *arg)
{
    struct blocked *b = arg;

    b->rc = send(b->fd, REQ_OK, sizeof(REQ_OK) - 1, 0);
    b->err = errno;
    return NULL;
}

struct churn {
    pthread_t thread;
    int fd; /* tracked; dup'd and closed over and over */
    atomic_bool stop;
    atomic_int rounds, wrong;
    const char *dial_to; /* also connects and closes now and then, or NULL */
};

static void *churn_main(void *arg)
{
    struct churn *ch = arg;
    struct rlp_conn *c = rlp_conn_get(ch->fd);
    int dials = 0;

    while (!atomic_load(&ch->stop)) {
        int d = dup(ch->fd), d2 = fcntl(d, F_DUPFD_CLOEXEC, 0);

        if (d < 0 || d2 < 0 || rlp_conn_get(d) != c || rlp_conn_get(d2) != c ||
            dup2(d, d2) != d2 || rlp_conn_get(d2) != c)
            atomic_fetch_add(&ch->wrong, 1);
        /* Once closed, the numbers may be another thread's at once. */
        close(d);
        close(d2);
        if (ch->dial_to != NULL && atomic_load(&ch->rounds) % 50 == 0 &&
            dials < 40) {
            int s = dial_raw(ch->dial_to, port);

            dials++;
            if (s < 0 || rlp_conn_get(s) == NULL)
                atomic_fetch_add(&ch->wrong, 1);
            close(s);
        }
        atomic_fetch_add(&ch->rounds, 1);
    }
    return NULL;
}

static void churn_start(struct churn *ch, int fd, const char *dial_to)
{
    memset(ch, 0, sizeof(*ch));
    ch->fd = fd;
    ch->dial_to = dial_to;
    assert_int_equal(pthread_create(&ch->thread, NULL, churn_main, ch), 0);
    for (int i = 0; i < 5000 && atomic_load(&ch->rounds) < 10; i++)
        nap_ms(1);
}

static void churn_stop(struct churn *ch)
{
    atomic_store(&ch->stop, true);
    pthread_join(ch->thread, NULL);
    assert_true(atomic_load(&ch->rounds) >= 10);
    assert_int_equal(atomic_load(&ch->wrong), 0);
}

/* A forked child dies of its crashes: cmocka's handlers, inherited, would
 * go on to run the rest of the suite in it. */
static void child_defaults(void)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGSYS};

    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        signal(sigs[i], SIG_DFL);
}

/* In the child: no cmocka asserts (a failure would run the rest of the
 * suite here); an exit code per check instead. */
static int in_child(int inherited, struct rlp_conn *c, struct rlp_resource *r,
                    rlc_limiter *parents)
{
    rlc_capacity cap;
    int fd;
    int64_t t0;

    child_defaults();
    if (rlp_conn_get(inherited) != c)
        return 10;
    if (c->flow.state != RLP_MAPPED || c->flow.res != r)
        return 11;
    if (r->limiter == parents)
        return 12;
    if (!rlc_get_capacity(r->limiter, r->name, &cap) || cap.total != 1 ||
        cap.waiting != 0 || cap.available != 1)
        return 13;
    fd = dial_raw(A_FORK, port);
    if (fd < 0 || rlp_conn_get(fd) == NULL)
        return 14;
    if (roundtrip_raw(fd, "/ok") != 200)
        return 15; /* the fresh limiter's token */
    t0 = now_ns();
    errno = 0;
    if (send(fd, REQ_OK, sizeof(REQ_OK) - 1, 0) != -1 || errno != ETIMEDOUT)
        return 16; /* still limited */
    if (now_ns() - t0 < MAX_WAIT_NS)
        return 17;
    close(fd);
    return 0;
}

static void test_hooks_fork_child_has_state_and_a_new_limiter(void **state)
{
    struct rlp_resource *r = resource(A_FORK);
    int fd = dial(A_FORK), status = 0;
    struct rlp_conn *c = tracked(fd);
    rlc_limiter *parents = r->limiter;
    struct blocked b = {.fd = dial(A_FORK)};
    struct churn ch;
    pid_t pid, done = 0;

    (void)state;
    drain(r);
    /* Another thread blocked in a charge, one dup'ing and closing, one
     * connecting: fork happens in the middle of all that. */
    churn_start(&ch, fd, A_CHURN);
    assert_int_equal(pthread_create(&b.thread, NULL, send_blocked, &b), 0);
    for (int i = 0; i < 5000 && capacity(r).waiting < 1; i++)
        nap_ms(1);
    assert_int_equal(capacity(r).waiting, 1);
    pid = fork();
    if (pid == 0)
        _exit(in_child(fd, c, r, parents));
    assert_true(pid > 0);
    for (int i = 0; i < 1000 && done == 0; i++) {
        done = waitpid(pid, &status, WNOHANG);
        if (done == 0)
            nap_ms(10);
    }
    if (done == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("the child hung");
    }
    churn_stop(&ch);
    pthread_join(b.thread, NULL);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The parent's own waiter timed out as usual. */
    assert_int_equal(b.rc, -1);
    assert_int_equal(b.err, ETIMEDOUT);
    assert_ptr_equal(r->limiter, parents);
    assert_int_equal(capacity(r).waiting, 0);
    assert_int_equal(refs(c), 1);
    close(b.fd);
    close(fd);
}

/* ---- 10. threads -------------------------------------------------------- */

enum { WORKERS = 4, PER_WORKER = 25, PER_CONN = 5 };

struct worker {
    pthread_t thread;
    int ok, bad;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;

    for (int i = 0; i < PER_WORKER / PER_CONN; i++) {
        int fd = dial_raw(A_FAST, port);

        if (fd < 0) {
            w->bad++;
            continue;
        }
        for (int j = 0; j < PER_CONN; j++) {
            errno = KEEP;
            if (send_all_raw(fd, REQ_OK, sizeof(REQ_OK) - 1) == 0 &&
                errno == KEEP && read_response_raw(fd) == 200)
                w->ok++;
            else
                w->bad++;
        }
        close(fd);
    }
    return NULL;
}

static void test_hooks_threads_share_the_budget(void **state)
{
    struct rlp_resource *r = resource(A_FAST);
    int base = in_flight(r), mark = atomic_load(&nsconns), ok = 0, bad = 0;
    int keeper = dial(A_CHURN);
    struct rlp_conn *kc = tracked(keeper);
    struct worker w[WORKERS];
    struct churn ch;
    int64_t t0;

    (void)state;
    churn_start(&ch, keeper, A_CHURN);
    t0 = now_ns();
    for (int i = 0; i < WORKERS; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        assert_int_equal(pthread_create(&w[i].thread, NULL, worker_main, &w[i]),
                         0);
    }
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(w[i].thread, NULL);
        ok += w[i].ok;
        bad += w[i].bad;
    }
    /* 20 at once, then one per 5 ms from the next multiple of 5 ms since
     * the bucket's origin (its fraction kept while full, as in
     * test_hooks_rate_is_held): the 100th more than 79 periods on. */
    assert_true(now_ns() - t0 > 79 * 5 * RLC_MILLISECOND);
    churn_stop(&ch);
    assert_int_equal(bad, 0);
    assert_int_equal(ok, WORKERS * PER_WORKER);
    assert_int_equal(in_flight(r), base + WORKERS * PER_WORKER);
    assert_int_equal(server_requests(A_FAST, mark), WORKERS * PER_WORKER);
    assert_int_equal(capacity(r).waiting, 0);
    /* Every dup was closed: the keeper's state has its own slot only. */
    assert_ptr_equal(rlp_conn_get(keeper), kc);
    assert_int_equal(refs(kc), 1);
    close(keeper);
}

/* ---- calls that bypass what the preload normally sees ------------------- */

/*
 * recv(fd, NULL, n, MSG_TRUNC) on a TCP socket discards n bytes without
 * writing anywhere (tcp(7)): the hook must not parse "the n bytes
 * received" from the NULL buffer. Run in a child so that a crash is a
 * failed assertion.
 */
static void test_hooks_msg_trunc_is_not_parsed(void **state)
{
    int fd = dial(A_COUNT), status;
    pid_t pid;

    (void)state;
    send_all(fd, REQ_OK, sizeof(REQ_OK) - 1);
    for (int i = 0; i < 5000; i++) {
        char b[RESP_OK_LEN];

        if (recv(fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT) ==
            (ssize_t)RESP_OK_LEN)
            break;
        nap_ms(1);
    }
    pid = fork();
    if (pid == 0) {
        child_defaults();
        _exit(recv(fd, NULL, RESP_OK_LEN, MSG_TRUNC) == (ssize_t)RESP_OK_LEN
                  ? 0
                  : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(fd);
}

/*
 * State is kept by fd number, and a tracked socket closed without the
 * close() hook (fclose of an fdopen()ed socket: glibc closes it
 * internally) leaves its state in the slot. The next file given that
 * number must not inherit it: a write to /dev/null is not charged (on a
 * drained resource it would fail with ETIMEDOUT) and the stale state goes.
 */
static void test_hooks_fclose_behind_our_back_leaves_no_state(void **state)
{
    struct rlp_resource *r = resource(A_FAIL);
    int fd = dial(A_FAIL), nul, extra[64], n = 0;
    FILE *f;

    (void)state;
    server_side(fd);
    drain(r);
    f = fdopen(fd, "r+");
    assert_non_null(f);
    assert_int_equal(fclose(f), 0);
    /* The next open() to get that number (lower ones may be free). */
    while ((nul = open("/dev/null", O_WRONLY)) >= 0 && nul != fd && n < 64)
        extra[n++] = nul;
    assert_int_equal(nul, fd);
    errno = 0;
    assert_int_equal(write(nul, REQ_OK, sizeof(REQ_OK) - 1),
                     (ssize_t)sizeof(REQ_OK) - 1); /* -1, ETIMEDOUT */
    assert_null(rlp_conn_get(nul));
    close(nul);
    while (n > 0)
        close(extra[--n]);
}

/* ---- main --------------------------------------------------------------- */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hooks_keepalive_charges_once_per_request),
        cmocka_unit_test(test_hooks_per_connection_charges_once),
        cmocka_unit_test(test_hooks_unmapped_destination_is_dropped_uncharged),
        cmocka_unit_test(test_hooks_host_header_maps_a_pending_connection),
        cmocka_unit_test(test_hooks_only_tcp_to_inet_is_tracked),
        cmocka_unit_test(test_hooks_rate_is_held),
        cmocka_unit_test(test_hooks_short_writes_and_eagain_charge_once),
        cmocka_unit_test(test_hooks_errno_untouched_on_success),
        cmocka_unit_test(test_hooks_errno_of_failures_is_the_real_one),
        cmocka_unit_test(test_hooks_dup_family_shares_state),
        cmocka_unit_test(test_hooks_dup2_onto_tracked_drops_old_state),
        cmocka_unit_test(test_hooks_close_clears_the_slot_first),
        cmocka_unit_test(test_hooks_close_range_clears_a_range),
        cmocka_unit_test(test_hooks_peeked_429_is_not_parsed),
        cmocka_unit_test(test_hooks_429_cuts_once_per_epoch),
        cmocka_unit_test(test_hooks_retry_after_pauses_the_resource),
        cmocka_unit_test(test_hooks_timeout_fails_with_nothing_sent),
        cmocka_unit_test(test_hooks_fork_child_has_state_and_a_new_limiter),
        cmocka_unit_test(test_hooks_threads_share_the_budget),
        cmocka_unit_test(test_hooks_after_idle_next_request_waits_a_period),
        cmocka_unit_test(test_hooks_msg_trunc_is_not_parsed),
        cmocka_unit_test(test_hooks_fclose_behind_our_back_leaves_no_state),
    };
    int rc;

    signal(SIGPIPE, SIG_IGN);
    if (write_ini("test_hooks", "/tmp/rlc-hooks-XXXXXX", sections,
                  sizeof(sections) / sizeof(sections[0])) != 0)
        return 1;
    setenv("RLC_CONFIG", ini_path, 1);
    if (start_server(serve, A_HOLD) != 0) {
        perror("test_hooks: the test server");
        return 1;
    }
    rc = cmocka_run_group_tests_name("hooks", tests, NULL, NULL);
    unlink(ini_path);
    rmdir(ini_dir);
    return rc;
}
