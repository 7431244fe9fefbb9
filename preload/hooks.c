/* SPDX-License-Identifier: MIT */
/*
 * hooks.c - the libc symbols librlpreload.so exports: each a one-line
 * forwarder to its policy in policy.c, nothing else.
 *
 * Built with _GNU_SOURCE, where glibc declares socket addresses as
 * transparent unions; the definitions follow the declarations exactly.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <unistd.h>

#include "preload.h"

#define EXPORT __attribute__((visibility("default")))

/* glibc declares these only under _FORTIFY_SOURCE. */
ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *restrict buf, size_t len, size_t buflen,
                       int flags, __SOCKADDR_ARG from,
                       socklen_t *restrict fromlen);

EXPORT int connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
    return rlp_connect(fd, addr.__sockaddr__, len);
}

EXPORT int getaddrinfo(const char *restrict node, const char *restrict service,
                       const struct addrinfo *restrict hints,
                       struct addrinfo **restrict res)
{
    return rlp_getaddrinfo(node, service, hints, res);
}

EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    return rlp_send(fd, buf, len, flags);
}

EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
                      __CONST_SOCKADDR_ARG to, socklen_t tolen)
{
    return rlp_sendto(fd, buf, len, flags, to.__sockaddr__, tolen);
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    return rlp_sendmsg(fd, msg, flags);
}

EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int n, int flags)
{
    return rlp_sendmmsg(fd, vec, n, flags);
}

EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
    return rlp_write(fd, buf, len);
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int n)
{
    return rlp_writev(fd, iov, n);
}

EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    return rlp_recv(fd, buf, len, flags);
}

EXPORT ssize_t recvfrom(int fd, void *restrict buf, size_t len, int flags,
                        __SOCKADDR_ARG from, socklen_t *restrict fromlen)
{
    return rlp_recvfrom(fd, buf, len, flags, from.__sockaddr__, fromlen);
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    return rlp_recvmsg(fd, msg, flags);
}

EXPORT ssize_t read(int fd, void *buf, size_t len)
{
    return rlp_read(fd, buf, len);
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int n)
{
    return rlp_readv(fd, iov, n);
}

EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
    return rlp_read_chk(fd, buf, len, buflen);
}

EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen,
                          int flags)
{
    return rlp_recv_chk(fd, buf, len, buflen, flags);
}

EXPORT ssize_t __recvfrom_chk(int fd, void *restrict buf, size_t len,
                              size_t buflen, int flags, __SOCKADDR_ARG from,
                              socklen_t *restrict fromlen)
{
    return rlp_recvfrom_chk(fd, buf, len, buflen, flags, from.__sockaddr__,
                            fromlen);
}

EXPORT int close(int fd)
{
    return rlp_close(fd);
}

EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
    return rlp_close_range(first, last, flags);
}

EXPORT int dup(int fd)
{
    return rlp_dup(fd);
}

EXPORT int dup2(int oldfd, int newfd)
{
    return rlp_dup2(oldfd, newfd);
}

EXPORT int dup3(int oldfd, int newfd, int flags)
{
    return rlp_dup3(oldfd, newfd, flags);
}

/* The third argument, when there is one, is an int or a pointer; taking
 * it as a pointer passes either through unchanged. */
EXPORT int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    void *arg;

    va_start(ap, cmd);
    arg = va_arg(ap, void *);
    va_end(ap);
    return rlp_fcntl(fd, cmd, arg, false);
}

EXPORT int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    void *arg;

    va_start(ap, cmd);
    arg = va_arg(ap, void *);
    va_end(ap);
    return rlp_fcntl(fd, cmd, arg, true);
}

EXPORT pid_t fork(void)
{
    return rlp_fork();
}
