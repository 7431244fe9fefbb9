/* SPDX-License-Identifier: MIT */
/*
 * policy.c - what each intercepted call does: learn where a connection
 * goes, charge a token before each request's first byte leaves, and read
 * the responses for 429 and Retry-After, without changing a byte or errno.
 *
 * Every sending call is described by a struct out_call and every receiving
 * one by a struct in_call, so one path (outgoing/incoming) serves them all.
 * Requests are found by a dry run of the HTTP parser over what is about to
 * be sent; only the bytes the kernel took are then fed for real, and
 * requests paid for but not sent yet (a short write, EAGAIN) stay prepaid.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "preload.h"

__thread int rlp_busy __attribute__((tls_model("initial-exec")));

/* ---- describing calls --------------------------------------------------- */

enum out_kind { O_SEND, O_SENDTO, O_SENDMSG, O_WRITE, O_WRITEV };

struct out_call {
    enum out_kind kind;
    int fd, flags;
    const void *buf;
    size_t len;
    const struct sockaddr *to;
    socklen_t tolen;
    const struct msghdr *msg;
    const struct iovec *iov;
    int iovcnt;
};

static ssize_t real_out(const struct out_call *o)
{
    const struct rlp_real *r = rlp_r();

    switch (o->kind) {
    case O_SEND:
        return r->send(o->fd, o->buf, o->len, o->flags);
    case O_SENDTO:
        return r->sendto(o->fd, o->buf, o->len, o->flags, o->to, o->tolen);
    case O_SENDMSG:
        return r->sendmsg(o->fd, o->msg, o->flags);
    case O_WRITE:
        return r->write(o->fd, o->buf, o->len);
    default:
        return r->writev(o->fd, o->iov, o->iovcnt);
    }
}

/* The call's bytes as iovecs (a plain buffer is one). */
static const struct iovec *out_iov(const struct out_call *o, struct iovec *one,
                                   int *n)
{
    if (o->kind == O_SENDMSG) {
        *n = o->msg != NULL ? (int)o->msg->msg_iovlen : 0;
        return o->msg != NULL ? o->msg->msg_iov : NULL;
    }
    if (o->kind == O_WRITEV) {
        *n = o->iovcnt;
        return o->iov;
    }
    one->iov_base = (void *)o->buf;
    one->iov_len = o->len;
    *n = 1;
    return one;
}

enum in_kind {
    I_RECV,
    I_RECVFROM,
    I_RECVMSG,
    I_READ,
    I_READV,
    I_READ_CHK,
    I_RECV_CHK,
    I_RECVFROM_CHK
};

struct in_call {
    enum in_kind kind;
    int fd, flags;
    void *buf;
    size_t len, buflen;
    struct sockaddr *from;
    socklen_t *fromlen;
    struct msghdr *msg;
    const struct iovec *iov;
    int iovcnt;
};

static ssize_t real_in(const struct in_call *i)
{
    const struct rlp_real *r = rlp_r();

    switch (i->kind) {
    case I_RECV:
        return r->recv(i->fd, i->buf, i->len, i->flags);
    case I_RECVFROM:
        return r->recvfrom(i->fd, i->buf, i->len, i->flags, i->from,
                           i->fromlen);
    case I_RECVMSG:
        return r->recvmsg(i->fd, i->msg, i->flags);
    case I_READ:
        return r->read(i->fd, i->buf, i->len);
    case I_READV:
        return r->readv(i->fd, i->iov, i->iovcnt);
    case I_READ_CHK:
        return r->read_chk(i->fd, i->buf, i->len, i->buflen);
    case I_RECV_CHK:
        return r->recv_chk(i->fd, i->buf, i->len, i->buflen, i->flags);
    default:
        return r->recvfrom_chk(i->fd, i->buf, i->len, i->buflen, i->flags,
                               i->from, i->fromlen);
    }
}

/* ---- the two paths ------------------------------------------------------ */

/*
 * Is fd still the socket c was made for? A close that bypasses the close
 * hook (fclose of an fdopen'ed socket, closefrom) leaves c in the slot,
 * and the number may now be a file or another socket. Checked before the
 * moments that matter (a caller held for a token, a 429 acted on), not on
 * every call.
 */
static bool same_socket(int fd, const struct rlp_conn *c)
{
    struct stat st;
    int saved = errno;
    bool same =
        fstat(fd, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino;

    errno = saved;
    return same;
}

static size_t iov_total(const struct iovec *iov, int n)
{
    size_t total = 0;

    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    return total;
}

/* The first bytes on a socket are a TLS ClientHello: a session rlc
 * follows through its library (tls.c) costs nothing here; any other is
 * opaque, mapped by its server name and charged once. c locked. */
static bool hello_of_followed_session(int fd, struct rlp_conn *c,
                                      const struct iovec *iov, int n)
{
    rlc_tls_hello hello;
    const struct iovec *first = NULL;
    rlc_tls_hello_status st;

    for (int i = 0; i < n && first == NULL; i++)
        if (iov[i].iov_len > 0)
            first = &iov[i];
    if (first == NULL ||
        !rlc_tls_looks_like_hello(first->iov_base, first->iov_len))
        return false;
    st = rlc_tls_hello_parse(first->iov_base, first->iov_len, &hello);
    if (st == RLC_TLS_HELLO_PARTIAL && first < iov + n - 1) {
        /* A hello gathered from several buffers (writev) */
        unsigned char joined[4096];
        size_t len = 0;

        for (const struct iovec *v = first; v < iov + n; v++) {
            size_t k = v->iov_len < sizeof(joined) - len ? v->iov_len
                                                         : sizeof(joined) - len;

            memcpy(joined + len, v->iov_base, k);
            len += k;
        }
        st = rlc_tls_hello_parse(joined, len, &hello);
    }
    if (st != RLC_TLS_HELLO_OK)
        return false;
    if (rlp_tls_claim_socket(hello.random, fd, c))
        return true;
    if (hello.sni[0] != '\0') {
        const rlc_config *cfg = rlp_config();
        const rlc_resource_config *rc =
            cfg != NULL ? rlc_config_match(cfg, hello.sni, NULL, c->flow.port)
                        : NULL;
        struct rlp_resource *res = rc != NULL ? rlp_resource_for(rc) : NULL;

        if (res != NULL) {
            c->flow.res = res;
            c->flow.state = RLP_MAPPED;
            snprintf(c->flow.host, sizeof(c->flow.host), "%s", hello.sni);
        }
    }
    rlp_log(RLC_LOG_DEBUG, "TLS to %s that rlc cannot look into: %s",
            hello.sni[0] != '\0' ? hello.sni : "an unnamed server",
            c->flow.state == RLP_MAPPED ? "one token per connection"
                                        : "not limited");
    return false;
}

static ssize_t outgoing(const struct out_call *o)
{
    struct rlp_conn *c = rlp_conn_get(o->fd);
    struct iovec one;
    const struct iovec *iov;
    struct rlp_plan plan;
    int n, saved, err;
    ssize_t done;
    size_t total;

    if (c == NULL || rlp_busy)
        return real_out(o);
    if (!rlp_conn_pin(o->fd, c))
        return real_out(o);
    saved = errno;
    iov = out_iov(o, &one, &n);
    total = iov_total(iov, n);
    if (total == 0 || atomic_load(&c->tls_inside)) {
        rlp_conn_unpin(c);
        errno = saved;
        return real_out(o);
    }
    /* Records written by a TLS library rlc follows, from inside its call:
     * its requests are charged there, in plaintext. */
    if (rlp_tls_current_claims(o->fd, c, true)) {
        rlp_conn_unpin(c);
        errno = saved;
        return real_out(o);
    }

    rlp_flow_lock(&c->flow);
    if (!c->flow.decided && hello_of_followed_session(o->fd, c, iov, n)) {
        rlp_flow_unlock(&c->flow);
        rlp_conn_unpin(c);
        errno = saved;
        return real_out(o);
    }
    if (!rlp_flow_plan(&c->flow, iov, n, total, &plan)) {
        rlp_flow_unlock(&c->flow);
        rlp_conn_unpin(c);
        rlp_fd_detach(o->fd); /* unmapped: never looked at again */
        errno = saved;
        return real_out(o);
    }
    rlp_flow_unlock(&c->flow);

    if (plan.tokens > 0 && !same_socket(o->fd, c)) {
        rlp_conn_unpin(c);
        rlp_fd_detach(o->fd); /* stale: closed behind our back */
        errno = saved;
        return real_out(o);
    }
    if (plan.tokens > 0 && rlp_charge(plan.res, plan.tokens) != 0) {
        /* Nothing is sent: undo what this call took. */
        rlp_flow_lock(&c->flow);
        rlp_flow_unplan(&c->flow, &plan);
        rlp_flow_unlock(&c->flow);
        rlp_conn_unpin(c);
        errno = ETIMEDOUT;
        return -1;
    }

    errno = saved;
    done = real_out(o);
    err = errno;

    rlp_flow_lock(&c->flow);
    rlp_flow_commit(&c->flow, iov, n, done, &plan);
    rlp_flow_unlock(&c->flow);
    rlp_conn_unpin(c);
    errno = err;
    return done;
}

struct still {
    int fd;
    const struct rlp_conn *c;
};

static bool still_same_socket(void *arg)
{
    const struct still *s = arg;

    return same_socket(s->fd, s->c);
}

/* Feeds what a receiving call returned (done bytes) to the flow. */
static void feed_received(struct rlp_conn *c, const struct in_call *i,
                          size_t done)
{
    struct iovec one;
    const struct iovec *iov;
    int n;
    struct still still = {i->fd, c};

    if (i->kind == I_RECVMSG) {
        iov = i->msg->msg_iov;
        n = (int)i->msg->msg_iovlen;
    } else if (i->kind == I_READV) {
        iov = i->iov;
        n = i->iovcnt;
    } else {
        one.iov_base = i->buf;
        one.iov_len = i->len;
        iov = &one;
        n = 1;
    }
    rlp_flow_received(&c->flow, iov, n, done, still_same_socket, &still);
}

static ssize_t incoming(const struct in_call *i)
{
    struct rlp_conn *c = rlp_conn_get(i->fd);
    ssize_t done;
    int err;

    if (c == NULL || rlp_busy)
        return real_in(i);
    if (!rlp_conn_pin(i->fd, c))
        return real_in(i);
    if (!atomic_load(&c->tls_inside))
        rlp_tls_current_claims(i->fd, c, false);
    done = real_in(i);
    err = errno;
    /* Peeked bytes will be read again: they are parsed then. MSG_TRUNC
     * discards bytes unseen (the buffer may even be NULL): the responses
     * can no longer be followed on this connection. TLS records of a
     * followed session are read in plaintext by its library. */
    if (done > 0 && (i->flags & MSG_TRUNC))
        c->flow.recv_blind = true;
    else if (done > 0 && !(i->flags & MSG_PEEK) && !atomic_load(&c->tls_inside))
        feed_received(c, i, (size_t)done);
    rlp_conn_unpin(c);
    errno = err;
    return done;
}

/* ---- the hooks' policies ------------------------------------------------ */

/* Remembers where fd is connected; the first send decides the rest. */
static void track(int fd, const struct sockaddr *sa, socklen_t len)
{
    const rlc_config *cfg;
    const rlc_resource_config *rc;
    struct rlp_conn *c;
    struct stat st;
    int type = 0;
    socklen_t tlen = sizeof(type);

    if ((unsigned)fd >= RLP_FD_MAX || len > sizeof(c->flow.peer))
        return;
    if (rlp_swarm_is_own(sa))
        return; /* rlc's own NATS connection, before any wait for config */
    cfg = rlp_config();
    if (cfg == NULL || cfg->nresources == 0)
        return;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 ||
        type != SOCK_STREAM)
        return; /* DNS over UDP, and anything else that is not TCP */
    if (fstat(fd, &st) != 0)
        return;
    c = rlp_conn_new();
    if (c == NULL)
        return;
    c->dev = st.st_dev;
    c->ino = st.st_ino;
    memcpy(&c->flow.peer, sa, len);
    c->flow.port = ntohs(sa->sa_family == AF_INET
                             ? ((const struct sockaddr_in *)sa)->sin_port
                             : ((const struct sockaddr_in6 *)sa)->sin6_port);
    rlp_names_lookup(sa, c->flow.host, sizeof(c->flow.host));
    rc = rlc_config_match(cfg, c->flow.host[0] != '\0' ? c->flow.host : NULL,
                          sa, c->flow.port);
    if (rc != NULL) {
        c->flow.res = rlp_resource_for(rc);
        if (c->flow.res != NULL)
            c->flow.state = RLP_MAPPED;
    }
    rlp_fd_attach(fd, c);
}

int rlp_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    const struct rlp_real *r = rlp_r();
    int rc = r->connect(fd, sa, len), err = errno;

    if (rlp_busy || sa == NULL || len < sizeof(sa->sa_family))
        return rc;
    if (rc != 0 && err != EINPROGRESS && err != EINTR)
        return rc;
    if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
        rlp_busy++;
        track(fd, sa, len);
        rlp_busy--;
    }
    errno = err;
    return rc;
}

int rlp_getaddrinfo(const char *node, const char *service,
                    const struct addrinfo *hints, struct addrinfo **res)
{
    int rc = rlp_r()->getaddrinfo(node, service, hints, res), err = errno;

    if (rc == 0 && node != NULL && res != NULL && !rlp_busy) {
        rlp_busy++;
        if (rlp_config() != NULL)
            rlp_names_learn(node, *res);
        rlp_busy--;
    }
    errno = err;
    return rc;
}

ssize_t rlp_send(int fd, const void *buf, size_t len, int flags)
{
    struct out_call o = {
        .kind = O_SEND, .fd = fd, .buf = buf, .len = len, .flags = flags};

    return outgoing(&o);
}

ssize_t rlp_sendto(int fd, const void *buf, size_t len, int flags,
                   const struct sockaddr *to, socklen_t tolen)
{
    struct out_call o = {.kind = O_SENDTO,
                         .fd = fd,
                         .buf = buf,
                         .len = len,
                         .flags = flags,
                         .to = to,
                         .tolen = tolen};

    /* TCP Fast Open: connect and first bytes in one call. */
    if ((flags & MSG_FASTOPEN) && to != NULL && !rlp_busy &&
        (to->sa_family == AF_INET || to->sa_family == AF_INET6) &&
        rlp_conn_get(fd) == NULL) {
        int saved = errno;

        rlp_busy++;
        track(fd, to, tolen);
        rlp_busy--;
        errno = saved;
    }
    return outgoing(&o);
}

ssize_t rlp_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    struct out_call o = {
        .kind = O_SENDMSG, .fd = fd, .msg = msg, .flags = flags};

    return outgoing(&o);
}

int rlp_sendmmsg(int fd, struct mmsghdr *vec, unsigned int n, int flags)
{
    unsigned int i;

    if (rlp_conn_get(fd) == NULL || rlp_busy)
        return rlp_r()->sendmmsg(fd, vec, n, flags);
    /* One message at a time, each charged for what it carries. */
    for (i = 0; i < n; i++) {
        ssize_t done = rlp_sendmsg(fd, &vec[i].msg_hdr, flags);

        if (done < 0)
            return i > 0 ? (int)i : -1;
        vec[i].msg_len = (unsigned int)done;
    }
    return (int)n;
}

ssize_t rlp_write(int fd, const void *buf, size_t len)
{
    struct out_call o = {.kind = O_WRITE, .fd = fd, .buf = buf, .len = len};

    return outgoing(&o);
}

ssize_t rlp_writev(int fd, const struct iovec *iov, int n)
{
    struct out_call o = {.kind = O_WRITEV, .fd = fd, .iov = iov, .iovcnt = n};

    return outgoing(&o);
}

ssize_t rlp_recv(int fd, void *buf, size_t len, int flags)
{
    struct in_call i = {
        .kind = I_RECV, .fd = fd, .buf = buf, .len = len, .flags = flags};

    return incoming(&i);
}

ssize_t rlp_recvfrom(int fd, void *buf, size_t len, int flags,
                     struct sockaddr *from, socklen_t *fromlen)
{
    struct in_call i = {.kind = I_RECVFROM,
                        .fd = fd,
                        .buf = buf,
                        .len = len,
                        .flags = flags,
                        .from = from,
                        .fromlen = fromlen};

    return incoming(&i);
}

ssize_t rlp_recvmsg(int fd, struct msghdr *msg, int flags)
{
    struct in_call i = {
        .kind = I_RECVMSG, .fd = fd, .msg = msg, .flags = flags};

    return incoming(&i);
}

ssize_t rlp_read(int fd, void *buf, size_t len)
{
    struct in_call i = {.kind = I_READ, .fd = fd, .buf = buf, .len = len};

    return incoming(&i);
}

ssize_t rlp_readv(int fd, const struct iovec *iov, int n)
{
    struct in_call i = {.kind = I_READV, .fd = fd, .iov = iov, .iovcnt = n};

    return incoming(&i);
}

ssize_t rlp_read_chk(int fd, void *buf, size_t len, size_t buflen)
{
    struct in_call i = {
        .kind = I_READ_CHK, .fd = fd, .buf = buf, .len = len, .buflen = buflen};

    return incoming(&i);
}

ssize_t rlp_recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
    struct in_call i = {.kind = I_RECV_CHK,
                        .fd = fd,
                        .buf = buf,
                        .len = len,
                        .buflen = buflen,
                        .flags = flags};

    return incoming(&i);
}

ssize_t rlp_recvfrom_chk(int fd, void *buf, size_t len, size_t buflen,
                         int flags, struct sockaddr *from, socklen_t *fromlen)
{
    struct in_call i = {.kind = I_RECVFROM_CHK,
                        .fd = fd,
                        .buf = buf,
                        .len = len,
                        .buflen = buflen,
                        .flags = flags,
                        .from = from,
                        .fromlen = fromlen};

    return incoming(&i);
}

int rlp_close(int fd)
{
    /* Cleared before the real close: once the number is free, another
     * thread's socket may get it, and must not inherit this state. */
    rlp_fd_detach(fd);
    return rlp_r()->close(fd);
}

int rlp_close_range(unsigned int first, unsigned int last, int flags)
{
    const struct rlp_real *r = rlp_r();

    if (r->close_range == NULL) {
        errno = ENOSYS;
        return -1;
    }
    if (!(flags & CLOSE_RANGE_CLOEXEC))
        for (unsigned int fd = first; fd <= last && fd < RLP_FD_MAX; fd++)
            rlp_fd_detach((int)fd);
    return r->close_range(first, last, flags);
}

int rlp_dup(int fd)
{
    int newfd = rlp_r()->dup(fd), err = errno;

    if (newfd >= 0 && rlp_conn_get(fd) != NULL)
        rlp_fd_dup(fd, newfd);
    errno = err;
    return newfd;
}

int rlp_dup2(int oldfd, int newfd)
{
    int rc = rlp_r()->dup2(oldfd, newfd), err = errno;

    if (rc >= 0 && oldfd != newfd)
        rlp_fd_dup(oldfd, newfd); /* also drops newfd's old state */
    errno = err;
    return rc;
}

int rlp_dup3(int oldfd, int newfd, int flags)
{
    int rc = rlp_r()->dup3(oldfd, newfd, flags), err = errno;

    if (rc >= 0)
        rlp_fd_dup(oldfd, newfd);
    errno = err;
    return rc;
}

int rlp_fcntl(int fd, int cmd, void *arg, bool is64)
{
    const struct rlp_real *r = rlp_r();
    int (*fn)(int, int, ...) =
        is64 && r->fcntl64 != NULL ? r->fcntl64 : r->fcntl;
    int rc = fn(fd, cmd, arg), err = errno;

    if (rc >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) &&
        rlp_conn_get(fd) != NULL)
        rlp_fd_dup(fd, rc);
    errno = err;
    return rc;
}

pid_t rlp_fork(void)
{
    pid_t pid = rlp_r()->fork();
    int err = errno;

    if (pid == 0) {
        rlp_fdtable_after_fork_child();
        rlp_tls_after_fork_child();
        rlp_names_after_fork_child();
        rlp_runtime_after_fork_child();
    }
    errno = err;
    return pid;
}
