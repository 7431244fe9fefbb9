/* SPDX-License-Identifier: MIT */
/*
 * real.c - the libc functions behind the hooks, bound on first use.
 *
 * Binding is lazy (never in a constructor: a constructor runs before the
 * program's own, and dlsym may allocate) and happens once under
 * pthread_once. The fork handlers are registered at the same moment.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "preload.h"

struct rlp_real rlp_real;
atomic_bool rlp_bound;

static pthread_once_t once = PTHREAD_ONCE_INIT;

#define BIND(field, symbol) *(void **)&rlp_real.field = dlsym(RTLD_NEXT, symbol)

static void bind_all(void)
{
    BIND(connect, "connect");
    BIND(getaddrinfo, "getaddrinfo");
    BIND(send, "send");
    BIND(sendto, "sendto");
    BIND(sendmsg, "sendmsg");
    BIND(sendmmsg, "sendmmsg");
    BIND(write, "write");
    BIND(writev, "writev");
    BIND(recv, "recv");
    BIND(recvfrom, "recvfrom");
    BIND(recvmsg, "recvmsg");
    BIND(read, "read");
    BIND(readv, "readv");
    BIND(read_chk, "__read_chk");
    BIND(recv_chk, "__recv_chk");
    BIND(recvfrom_chk, "__recvfrom_chk");
    BIND(close, "close");
    BIND(close_range, "close_range");
    BIND(dup, "dup");
    BIND(dup2, "dup2");
    BIND(dup3, "dup3");
    BIND(fcntl, "fcntl");
    BIND(fcntl64, "fcntl64");
    BIND(fork, "fork");
    atomic_store_explicit(&rlp_bound, true, memory_order_release);
}

void rlp_bind_slow(void)
{
    pthread_once(&once, bind_all);
}
