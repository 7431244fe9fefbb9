/* SPDX-License-Identifier: MIT */
/*
 * preload.h - what the files of librlpreload.so share.
 *
 * hooks.c exports the libc symbols as one-line forwarders to the rlp_*
 * policy functions of policy.c; real.c binds the real functions lazily;
 * fdtable.c maps fds to connection state; runtime.c holds the
 * configuration, the limiters and the per-resource state; names.c
 * remembers which name an address was resolved from; log.c writes the
 * "rlc:" lines.
 */
#ifndef RLC_PRELOAD_H
#define RLC_PRELOAD_H

#include <netdb.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "config.h"
#include "http1.h"
#include "rlc.h"

/* ---- real.c: the functions the hooks stand in front of ---------------- */

struct rlp_real {
    int (*connect)(int, const struct sockaddr *, socklen_t);
    int (*getaddrinfo)(const char *, const char *, const struct addrinfo *,
                       struct addrinfo **);
    ssize_t (*send)(int, const void *, size_t, int);
    ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *,
                      socklen_t);
    ssize_t (*sendmsg)(int, const struct msghdr *, int);
    int (*sendmmsg)(int, struct mmsghdr *, unsigned int, int);
    ssize_t (*write)(int, const void *, size_t);
    ssize_t (*writev)(int, const struct iovec *, int);
    ssize_t (*recv)(int, void *, size_t, int);
    ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *,
                        socklen_t *);
    ssize_t (*recvmsg)(int, struct msghdr *, int);
    ssize_t (*read)(int, void *, size_t);
    ssize_t (*readv)(int, const struct iovec *, int);
    ssize_t (*read_chk)(int, void *, size_t, size_t);
    ssize_t (*recv_chk)(int, void *, size_t, size_t, int);
    ssize_t (*recvfrom_chk)(int, void *, size_t, size_t, int, struct sockaddr *,
                            socklen_t *);
    int (*close)(int);
    int (*close_range)(unsigned int, unsigned int, int);
    int (*dup)(int);
    int (*dup2)(int, int);
    int (*dup3)(int, int, int);
    int (*fcntl)(int, int, ...);
    int (*fcntl64)(int, int, ...);
    pid_t (*fork)(void);
};

extern struct rlp_real rlp_real;
extern atomic_bool rlp_bound;

/* Binds every real function once (pthread_once); cheap after the first. */
void rlp_bind_slow(void);

static inline const struct rlp_real *rlp_r(void)
{
    if (__builtin_expect(
            !atomic_load_explicit(&rlp_bound, memory_order_acquire), 0))
        rlp_bind_slow();
    return &rlp_real;
}

/* ---- log.c -------------------------------------------------------------- */

extern _Atomic int rlp_log_level; /* an rlc_log_level */

/* One line on stderr, "rlc: " + message, written with the real write(). */
void rlp_log(rlc_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- runtime.c: configuration, limiters, per-resource state ------------ */

/* Everything known of one resource; never freed, stable across reloads. */
struct rlp_resource {
    char name[RLC_RESOURCE_MAX];
    /* Swapped when a swarm's limiter becomes available: atomic. */
    _Atomic(rlc_limiter *) limiter;
    _Atomic int last_total;      /* swarm: the share seen at the last */
    _Atomic int64_t last_window; /* charge, for a forked child */
    _Atomic uint32_t epoch;      /* bumped by every capacity cut */
    _Atomic int64_t pause_until; /* CLOCK_MONOTONIC ns; 0: none */
    _Atomic int per;             /* rlc_per, from the latest config */
    _Atomic int scope;           /* rlc_scope in force (swarm may fall back) */
    _Atomic int configured;      /* capacity the config asks for */
    _Atomic int64_t window_ns;
    _Atomic int64_t changed_at; /* last cut or recovery, monotonic ns */
    struct rlp_resource *next;
};

/* The configuration in force, loading it on first use; NULL when there
 * is none or it is broken (then rlc stays out of the way). Checks the
 * file for edits at most once a second. */
const rlc_config *rlp_config(void);

/* The resource state for the resource named in the current config. */
struct rlp_resource *rlp_resource_for(const rlc_resource_config *rc);
/* The state of resource name, configured or not any more; NULL if never. */
struct rlp_resource *rlp_resource_named(const char *name);

/* Takes n tokens for r, waiting as the configuration says. Returns 0, or
 * -1 when on_timeout = fail and the wait ran out. */
int rlp_charge(struct rlp_resource *r, int n);

/* A response with this status came back on a request sent at epoch. */
void rlp_response(struct rlp_resource *r, const char *host,
                  const rlc_http1_response *resp);

/* After fork, in the child. */
void rlp_runtime_after_fork_child(void);

/* ---- swarm.c: scope = swarm, from a plugin loaded on first need -------- */

/* The distributed limiter for swarm resources (one per split value) if it
 * is open; NULL if not (yet). Never blocks. */
rlc_limiter *rlp_swarm_limiter(bool split);
/* Opens the limiters cfg's swarm resources need: loads the plugin and
 * connects (which may take seconds). Called with no lock held and
 * rlp_busy set. False when the swarm cannot be had (said once). */
bool rlp_swarm_open(const rlc_config *cfg);
/* Is sa rlc's own NATS server? Its connection is never limited. */
bool rlp_swarm_is_own(const struct sockaddr *sa);
void rlp_swarm_after_fork_child(void);

/* ---- names.c: address -> the name it was resolved from ------------------ */

void rlp_names_learn(const char *name, const struct addrinfo *res);
/* Copies the name for sa into out (n bytes); false if unknown. */
bool rlp_names_lookup(const struct sockaddr *sa, char *out, size_t n);
void rlp_names_after_fork_child(void);

/* ---- fdtable.c: per-fd connection state --------------------------------- */

#define RLP_FD_MAX 65536 /* fds at or above are never tracked */

enum rlp_conn_state {
    RLP_PENDING, /* nothing matched at connect; the first request decides */
    RLP_MAPPED   /* limited as resource res */
};

struct rlp_conn {
    atomic_int refs;    /* fd slots + hooks using it */
    atomic_bool pooled; /* on the free list */
    atomic_int lock;    /* spin lock over what follows; never held long */
    struct rlp_conn *next_free;

    int state;
    bool decided; /* the first request's Host: has been looked at */
    struct rlp_resource *res;
    bool charged;    /* a token was taken for this connection */
    bool recv_blind; /* bytes were received unseen (MSG_TRUNC): no sniffing */
    dev_t dev;       /* the socket's identity, to notice an fd closed */
    ino_t ino;       /* behind our back and its number reused */
    int prepaid;     /* requests charged whose bytes have not left yet */
    char host[RLC_HOSTNAME_MAX]; /* name learned at connect, or "" */
    struct sockaddr_storage peer;
    int port;
    rlc_http1_conn http;
};

extern _Atomic(struct rlp_conn *) rlp_fds[RLP_FD_MAX];

/* The state in fd's slot, not yet pinned, or NULL: for an untracked fd
 * this is one load and a branch. */
static inline struct rlp_conn *rlp_conn_get(int fd)
{
    struct rlp_conn *c;

    if ((unsigned)fd >= RLP_FD_MAX)
        return NULL;
    c = atomic_load_explicit(&rlp_fds[fd], memory_order_acquire);
    if (__builtin_expect(c == NULL, 1))
        return NULL;
    return c;
}

/* Pins c (found in fd's slot) for use; false if fd was closed meanwhile. */
bool rlp_conn_pin(int fd, struct rlp_conn *c);
void rlp_conn_unpin(struct rlp_conn *c);

/* A fresh connection state (one reference), or NULL when out of memory. */
struct rlp_conn *rlp_conn_new(void);
/* Puts c (a reference the caller gives away) in fd's slot. */
void rlp_fd_attach(int fd, struct rlp_conn *c);
/* Empties fd's slot, dropping its reference. */
void rlp_fd_detach(int fd);
/* newfd shares oldfd's state (dup); newfd's old state is dropped. */
void rlp_fd_dup(int oldfd, int newfd);

void rlp_conn_lock(struct rlp_conn *c);
void rlp_conn_unlock(struct rlp_conn *c);

void rlp_fdtable_after_fork_child(void);

/* ---- policy.c: what each hook does -------------------------------------- */

/* Set while rlc itself does I/O: its own sockets are never limited. */
extern __thread int rlp_busy __attribute__((tls_model("initial-exec")));

int rlp_connect(int fd, const struct sockaddr *sa, socklen_t len);
int rlp_getaddrinfo(const char *node, const char *service,
                    const struct addrinfo *hints, struct addrinfo **res);
ssize_t rlp_send(int fd, const void *buf, size_t len, int flags);
ssize_t rlp_sendto(int fd, const void *buf, size_t len, int flags,
                   const struct sockaddr *to, socklen_t tolen);
ssize_t rlp_sendmsg(int fd, const struct msghdr *msg, int flags);
int rlp_sendmmsg(int fd, struct mmsghdr *vec, unsigned int n, int flags);
ssize_t rlp_write(int fd, const void *buf, size_t len);
ssize_t rlp_writev(int fd, const struct iovec *iov, int n);
ssize_t rlp_recv(int fd, void *buf, size_t len, int flags);
ssize_t rlp_recvfrom(int fd, void *buf, size_t len, int flags,
                     struct sockaddr *from, socklen_t *fromlen);
ssize_t rlp_recvmsg(int fd, struct msghdr *msg, int flags);
ssize_t rlp_read(int fd, void *buf, size_t len);
ssize_t rlp_readv(int fd, const struct iovec *iov, int n);
ssize_t rlp_read_chk(int fd, void *buf, size_t len, size_t buflen);
ssize_t rlp_recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t rlp_recvfrom_chk(int fd, void *buf, size_t len, size_t buflen,
                         int flags, struct sockaddr *from, socklen_t *fromlen);
int rlp_close(int fd);
int rlp_close_range(unsigned int first, unsigned int last, int flags);
int rlp_dup(int fd);
int rlp_dup2(int oldfd, int newfd);
int rlp_dup3(int oldfd, int newfd, int flags);
int rlp_fcntl(int fd, int cmd, void *arg, bool is64);
pid_t rlp_fork(void);

#endif /* RLC_PRELOAD_H */
