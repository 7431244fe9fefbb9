/* SPDX-License-Identifier: MIT */
/*
 * errno_probe.c - prints what a series of socket calls returned and the
 * errno they left, one line each, so that a run under the preload can be
 * compared with a plain run byte for byte. Argument: the test API's port.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *name(int e)
{
    switch (e) {
    case 0:
        return "0";
    case EAGAIN:
        return "EAGAIN";
    case EBADF:
        return "EBADF";
    case ECONNREFUSED:
        return "ECONNREFUSED";
    case ENOTSOCK:
        return "ENOTSOCK";
    case 777:
        return "777(untouched)";
    default:
        return strerror(e);
    }
}

static void show(const char *what, long rc)
{
    printf("%s %s %s\n", what, rc < 0 ? "-1" : "ok", name(errno));
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

int main(int argc, char **argv)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    char buf[4096];
    const char req[] = "GET /probe HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    int s, d, p[2];
    long rc;
    struct addrinfo *res = NULL;

    if (argc != 2)
        return 2;
    setvbuf(stdout, NULL, _IONBF, 0);

    /* A port nobody listens on: bind one, note it, close it. */
    s = socket(AF_INET, SOCK_STREAM, 0);
    a = loopback(0);
    bind(s, (struct sockaddr *)&a, sizeof(a));
    getsockname(s, (struct sockaddr *)&a, &len);
    close(s);
    s = socket(AF_INET, SOCK_STREAM, 0);
    errno = 0;
    rc = connect(s, (struct sockaddr *)&a, sizeof(a));
    printf("connect-refused %ld %s\n", rc, name(errno));
    close(s);

    s = socket(AF_INET, SOCK_STREAM, 0);
    a = loopback(atoi(argv[1]));
    errno = 777;
    show("connect", connect(s, (struct sockaddr *)&a, sizeof(a)));
    errno = 777;
    show("recv-nothing-yet", recv(s, buf, sizeof(buf), MSG_DONTWAIT));
    errno = 777;
    show("send-request", send(s, req, sizeof(req) - 1, 0));
    errno = 777;
    rc = 0;
    /* the whole response, body "ok\n" included, so nothing is left */
    while (rc < (long)sizeof(buf) - 1) {
        long n = recv(s, buf + rc, sizeof(buf) - 1 - (size_t)rc, 0);

        if (n <= 0)
            break;
        rc += n;
        buf[rc] = '\0';
        if (strstr(buf, "\r\n\r\nok\n") != NULL)
            break;
    }
    buf[rc > 0 ? rc : 0] = '\0';
    printf("recv-response %s %s\n",
           strncmp(buf, "HTTP/1.1 200", 12) == 0 ? "HTTP/1.1-200"
                                                 : "unexpected",
           name(errno));
    errno = 777;
    show("peek", recv(s, buf, 1, MSG_PEEK | MSG_DONTWAIT));
    d = dup(s);
    errno = 777;
    show("close-original", close(s));
    errno = 777;
    show("send-on-closed", send(s, req, sizeof(req) - 1, 0));
    errno = 777;
    show("send-on-dup", send(d, req, sizeof(req) - 1, 0));
    errno = 777;
    show("fcntl-dupfd", fcntl(d, F_DUPFD_CLOEXEC, 100));
    close(100);
    close(d);

    errno = 777;
    show("read-bad-fd", read(-1, buf, 1));
    errno = 777;
    show("write-bad-fd", write(9999, buf, 1));
    errno = 777;
    show("recv-not-socket", recv(0, buf, 0, 0));
    pipe(p);
    errno = 777;
    show("write-pipe", write(p[1], "x", 1));
    errno = 777;
    show("read-pipe", read(p[0], buf, 1));
    close(p[0]);
    close(p[1]);
    errno = 777;
    rc = getaddrinfo("localhost", NULL, NULL, &res);
    printf("getaddrinfo %ld %s\n", rc, name(errno));
    if (res != NULL)
        freeaddrinfo(res);
    return 0;
}
