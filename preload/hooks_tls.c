/* SPDX-License-Identifier: MIT */
/*
 * hooks_tls.c - the OpenSSL and GnuTLS functions librlpreload.so exports:
 * each a one-line forwarder to its policy in tls.c, nothing else.
 *
 * OpenSSL's own header checks the definitions; GnuTLS's is not needed to
 * build rlc, so its session is declared here as the opaque pointer it is.
 * A program that never loads either library never calls these. Each
 * passes on its return address: the caller says which copy of the library
 * it meant.
 */
#include <openssl/ssl.h>

#include "preload.h"

#define EXPORT __attribute__((visibility("default")))
#define CALLER __builtin_return_address(0)

typedef struct gnutls_session_int *gnutls_session_t;

EXPORT int SSL_write(SSL *ssl, const void *buf, int num)
{
    return rlp_ssl_write(CALLER, ssl, buf, num);
}

EXPORT int SSL_write_ex(SSL *ssl, const void *buf, size_t num, size_t *written)
{
    return rlp_ssl_write_ex(CALLER, ssl, buf, num, written);
}

EXPORT int SSL_read(SSL *ssl, void *buf, int num)
{
    return rlp_ssl_read(CALLER, ssl, buf, num);
}

EXPORT int SSL_read_ex(SSL *ssl, void *buf, size_t num, size_t *readbytes)
{
    return rlp_ssl_read_ex(CALLER, ssl, buf, num, readbytes);
}

EXPORT int SSL_set_fd(SSL *ssl, int fd)
{
    return rlp_ssl_set_fd(CALLER, ssl, fd);
}

EXPORT int SSL_set_rfd(SSL *ssl, int fd)
{
    return rlp_ssl_set_rfd(CALLER, ssl, fd);
}

EXPORT int SSL_set_wfd(SSL *ssl, int fd)
{
    return rlp_ssl_set_wfd(CALLER, ssl, fd);
}

EXPORT int SSL_connect(SSL *ssl)
{
    return rlp_ssl_connect(CALLER, ssl);
}

EXPORT int SSL_do_handshake(SSL *ssl)
{
    return rlp_ssl_do_handshake(CALLER, ssl);
}

EXPORT void SSL_free(SSL *ssl)
{
    rlp_ssl_free(CALLER, ssl);
}

EXPORT int SSL_up_ref(SSL *ssl)
{
    return rlp_ssl_up_ref(CALLER, ssl);
}

EXPORT long SSL_ctrl(SSL *ssl, int cmd, long larg, void *parg)
{
    return rlp_ssl_ctrl(CALLER, ssl, cmd, larg, parg);
}

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

EXPORT int gnutls_init(gnutls_session_t *session, unsigned int flags)
{
    return rlp_gnutls_init(CALLER, (void **)session, flags);
}

EXPORT void gnutls_deinit(gnutls_session_t session)
{
    rlp_gnutls_deinit(CALLER, session);
}

EXPORT ssize_t gnutls_record_send(gnutls_session_t session, const void *data,
                                  size_t len)
{
    return rlp_gnutls_record_send(CALLER, session, data, len);
}

EXPORT ssize_t gnutls_record_recv(gnutls_session_t session, void *data,
                                  size_t len)
{
    return rlp_gnutls_record_recv(CALLER, session, data, len);
}

EXPORT int gnutls_server_name_set(gnutls_session_t session, int type,
                                  const void *name, size_t len)
{
    return rlp_gnutls_server_name_set(CALLER, session, type, name, len);
}

EXPORT void gnutls_transport_set_int2(gnutls_session_t session, int recv_fd,
                                      int send_fd)
{
    rlp_gnutls_transport_set_int2(CALLER, session, recv_fd, send_fd);
}

EXPORT int gnutls_handshake(gnutls_session_t session)
{
    return rlp_gnutls_handshake(CALLER, session);
}
