/* SPDX-License-Identifier: MIT */
/*
 * http_sink.c - the fastest HTTP/1.1 keep-alive server we can write simply:
 * every request gets the same "200 ok", so that the client, not the server,
 * is what `make bench` measures. One thread per connection, blocking I/O:
 * the benchmark has one connection, and a thread on it never waits on epoll.
 *
 * usage: http_sink [LIFETIME_SECONDS]   (loopback, a free port, "PORT <n>")
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
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

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t done = write(fd, p, n);

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

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char in[BUF_SIZE], out[OUT_MAX * RESPONSE_LEN];
    size_t have = 0, skip = 0; /* skip: body bytes still to come */

    for (;;) {
        ssize_t got = read(fd, in + have, sizeof(in) - have);
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
                goto out;
            start = (size_t)(end + 4 - in);
            skip = (size_t)body;
            memcpy(out + nout, response, RESPONSE_LEN);
            nout += RESPONSE_LEN;
            if (nout == sizeof(out)) {
                if (write_all(fd, out, nout) != 0)
                    goto out;
                nout = 0;
            }
        }
        if (nout > 0 && write_all(fd, out, nout) != 0)
            break;
        memmove(in, in + start, have - start);
        have -= start;
        if (have == sizeof(in))
            break; /* a head larger than the buffer */
    }
out:
    close(fd);
    return NULL;
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
    int64_t deadline = now_ms() + (argc > 1 ? atol(argv[1]) : 60) * 1000;
    pthread_attr_t attr;
    int one = 1, lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

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
