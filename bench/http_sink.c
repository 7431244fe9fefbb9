/* SPDX-License-Identifier: MIT */
/*
 * http_sink.c - the fastest HTTP/1.1 keep-alive server we can write simply:
 * every request gets the same "200 ok", so that the client, not the server,
 * is what `make bench` measures. One thread per connection, blocking I/O:
 * the benchmark has one connection, and a thread on it never waits on epoll.
 * With --tls the same responder speaks HTTPS (OpenSSL, ALPN "http/1.1").
 *
 * usage: http_sink [LIFETIME_SECONDS] [--tls CERT KEY]
 *        (loopback, a free port, "PORT <n>")
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE 65536
/* Room for this many responses at once: a pipelining client gets them
 * in one write. */
#define OUT_MAX 512

static const char response[] = "HTTP/1.1 200 OK\r\n"
                               "Content-Length: 2\r\n"
                               "\r\n"
                               "ok";
#define RESPONSE_LEN (sizeof(response) - 1)

/* --tls: the server's context, shared by every connection; else NULL. */
static SSL_CTX *tls;

/* A connection: its socket, and its session when it speaks TLS. */
struct conn {
    int fd;
    SSL *ssl;
};

/* read(2) on either kind: bytes read, 0 at the end, -1 with errno. A TLS
 * error, close_notify included, ends the connection like an EOF. */
static ssize_t conn_read(struct conn *c, char *p, size_t n)
{
    int got;

    if (c->ssl == NULL)
        return read(c->fd, p, n);
    got = SSL_read(c->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
    return got > 0 ? got : 0;
}

static ssize_t conn_write(struct conn *c, const char *p, size_t n)
{
    int done;

    if (c->ssl == NULL)
        return write(c->fd, p, n);
    done = SSL_write(c->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
    return done > 0 ? done : 0;
}

static int write_all(struct conn *c, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t done = conn_write(c, p, n);

        if (done < 0 && errno == EINTR)
            continue;
        if (done <= 0)
            return -1;
        p += done;
        n -= (size_t)done;
    }
    return 0;
}

/* The Content-Length of the request head [head, end), 0 if none; -1 for a
 * body the sink cannot frame (chunked, or a bad length). */
static long body_length(const char *head, const char *end)
{
    long length = 0;

    for (const char *line = head; line < end;) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        size_t n = (size_t)((eol != NULL ? eol : end) - line);

        if (n > 15 && strncasecmp(line, "content-length:", 15) == 0) {
            char *stop;

            errno = 0;
            length = strtol(line + 15, &stop, 10);
            if (errno != 0 || length < 0)
                return -1;
        } else if (n > 18 && strncasecmp(line, "transfer-encoding:", 18) == 0) {
            return -1;
        }
        line += n + 1;
    }
    return length;
}

/* The requests on a connection, answered until it ends. */
static void respond(struct conn *c)
{
    char in[BUF_SIZE], out[OUT_MAX * RESPONSE_LEN];
    size_t have = 0, skip = 0; /* skip: body bytes still to come */

    for (;;) {
        ssize_t got = conn_read(c, in + have, sizeof(in) - have);
        size_t start = 0, nout = 0;
        char *end;

        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        have += (size_t)got;
        for (;;) {
            long body;

            if (skip > 0) {
                size_t n = have - start < skip ? have - start : skip;

                start += n;
                skip -= n;
                if (skip > 0)
                    break;
            }
            end = memmem(in + start, have - start, "\r\n\r\n", 4);
            if (end == NULL)
                break;
            body = body_length(in + start, end);
            if (body < 0)
                return;
            start = (size_t)(end + 4 - in);
            skip = (size_t)body;
            memcpy(out + nout, response, RESPONSE_LEN);
            nout += RESPONSE_LEN;
            if (nout == sizeof(out)) {
                if (write_all(c, out, nout) != 0)
                    return;
                nout = 0;
            }
        }
        if (nout > 0 && write_all(c, out, nout) != 0)
            return;
        memmove(in, in + start, have - start);
        have -= start;
        if (have == sizeof(in))
            return; /* a head larger than the buffer */
    }
}

static void *serve(void *arg)
{
    struct conn c = {(int)(intptr_t)arg, NULL};

    if (tls == NULL) {
        respond(&c);
    } else {
        c.ssl = SSL_new(tls);
        if (c.ssl != NULL && SSL_set_fd(c.ssl, c.fd) == 1 &&
            SSL_accept(c.ssl) == 1) {
            respond(&c);
            SSL_shutdown(c.ssl);
        }
        SSL_free(c.ssl);
    }
    close(c.fd);
    return NULL;
}

/* ALPN: HTTP/1.1 or nothing, so that a client offering h2 falls back. */
static int alpn_select(SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
    static const unsigned char http11[] = "\x08http/1.1";
    unsigned char *chosen;

    (void)ssl;
    (void)arg;
    if (SSL_select_next_proto(&chosen, outlen, http11, sizeof(http11) - 1, in,
                              inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

/* The server context for CERT and KEY (PEM), or NULL after saying why. */
static SSL_CTX *tls_context(const char *cert, const char *key)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        fprintf(stderr, "http_sink: %s, %s: ", cert, key);
        ERR_print_errors_fp(stderr);
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* One connection per benchmark run: tickets would only add records
     * after the handshake that the client must read. */
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    return ctx;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int64_t deadline = now_ms() + 60 * 1000;
    pthread_attr_t attr;
    int one = 1, lfd;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tls") == 0 && i + 2 < argc) {
            tls = tls_context(argv[i + 1], argv[i + 2]);
            if (tls == NULL)
                return 1;
            i += 2;
        } else if (i == 1 && argv[i][0] != '-') {
            deadline = now_ms() + atol(argv[i]) * 1000;
        } else {
            fprintf(stderr, "usage: http_sink [LIFETIME_SECONDS] "
                            "[--tls CERT KEY]\n");
            return 2;
        }
    }
    /* A client that hangs up while its responses are on the way costs a
     * connection, not the sink. */
    signal(SIGPIPE, SIG_IGN);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(lfd, 128) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &len) != 0) {
        perror("http_sink");
        return 1;
    }
    printf("PORT %d\n", ntohs(sa.sin_port));
    fflush(stdout);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);

    /* Until the lifetime is over or whoever started us closes our stdin. */
    for (int64_t left; (left = deadline - now_ms()) > 0;) {
        struct pollfd p[2] = {{lfd, POLLIN, 0}, {0, POLLIN, 0}};
        char drain[256];
        pthread_t t;
        int fd;

        if (poll(p, 2, left > 1000 ? 1000 : (int)left) < 0 && errno != EINTR)
            break;
        if (p[1].revents & (POLLIN | POLLHUP)) {
            if (read(0, drain, sizeof(drain)) <= 0)
                break;
        }
        if (p[1].revents & (POLLERR | POLLNVAL))
            break;
        if (!(p[0].revents & POLLIN))
            continue;
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (pthread_create(&t, &attr, serve, (void *)(intptr_t)fd) != 0)
            close(fd);
    }
    return 0;
}
