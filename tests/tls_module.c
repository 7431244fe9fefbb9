/* SPDX-License-Identifier: MIT */
/*
 * tls_module.c - a module with its own copy of OpenSSL, the way Python
 * wheels bundle one under a name of their own: test_tls.py links it
 * against a libssl renamed for the test and loads it privately (ctypes,
 * RTLD_LOCAL), so the preload's SSL_* hooks must find that copy, not the
 * system's.
 *
 * requests(port, host, n): n keep-alive HTTPS GETs to 127.0.0.1:port
 * (SNI and Host: host) over one connection, made with TLS_method() and
 * SSL_connect alone; returns how many got a 200, or -1.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int requests(int port, const char *host, int n);

/* One response: headers, then a Content-Length body. */
static int response(SSL *ssl)
{
    char buf[16384];
    int got = 0;

    for (;;) {
        int r = SSL_read(ssl, buf + got, (int)sizeof(buf) - 1 - got);
        char *end, *cl;

        if (r <= 0)
            return -1;
        got += r;
        buf[got] = '\0';
        end = strstr(buf, "\r\n\r\n");
        cl = strcasestr(buf, "content-length:");
        if (end != NULL && cl != NULL &&
            got >= (int)(end + 4 - buf) + atoi(cl + 15))
            return strncmp(buf, "HTTP/1.1 200", 12) == 0;
    }
}

int requests(int port, const char *host, int n)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((unsigned short)port)};
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    SSL *ssl;
    int fd, ok = 0;

    if (ctx == NULL)
        return -1;
    fd = socket(AF_INET, SOCK_STREAM, 0);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        return -1;
    ssl = SSL_new(ctx);
    SSL_set_tlsext_host_name(ssl, host);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1)
        return -1;
    for (int i = 0; i < n; i++) {
        char req[256];
        int len = snprintf(req, sizeof(req),
                           "GET /m%d HTTP/1.1\r\nHost: %s\r\n\r\n", i, host);

        if (SSL_write(ssl, req, len) != len)
            break;
        if (response(ssl) == 1)
            ok++;
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    return ok;
}
