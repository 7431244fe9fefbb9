/* SPDX-License-Identifier: MIT */
/*
 * preload.h - what the files of librlpreload.so share.
 *
 * hooks.c exports the libc symbols as one-line forwarders to the rlp_*
 * policy functions of policy.c, and hooks_tls.c OpenSSL's and GnuTLS's
 * to tls.c (which finds the right library copy with tls_libs.c); flow.c
 * follows one connection's requests and responses, whoever shows them;
 * real.c binds the real functions lazily;
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
#include "http2.h"
#include "rlc.h"
#include "tls_hello.h"

struct rlp_conn;

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
    _Atomic int64_t next_look;  /* scope host: next look at recovery */
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

/* The capacity epoch requests to r leave in, their tag: cuts so far, in
 * this process or (scope host) on the whole host. */
uint32_t rlp_epoch(struct rlp_resource *r);

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

/* ---- tls_libs.c: the copy of a TLS library a call was meant for --------- */

/* The functions rlc calls in a TLS library: the hooked ones, and those it
 * asks (OpenSSL's role and client random, its error queue). */
#define RLP_TLS_FNS(X)                                                         \
    X(RLP_SSL_write, SSL_write)                                                \
    X(RLP_SSL_write_ex, SSL_write_ex)                                          \
    X(RLP_SSL_read, SSL_read)                                                  \
    X(RLP_SSL_read_ex, SSL_read_ex)                                            \
    X(RLP_SSL_set_fd, SSL_set_fd)                                              \
    X(RLP_SSL_set_rfd, SSL_set_rfd)                                            \
    X(RLP_SSL_set_wfd, SSL_set_wfd)                                            \
    X(RLP_SSL_connect, SSL_connect)                                            \
    X(RLP_SSL_do_handshake, SSL_do_handshake)                                  \
    X(RLP_SSL_free, SSL_free)                                                  \
    X(RLP_SSL_up_ref, SSL_up_ref)                                              \
    X(RLP_SSL_ctrl, SSL_ctrl)                                                  \
    X(RLP_SSL_get_client_random, SSL_get_client_random)                        \
    X(RLP_SSL_is_server, SSL_is_server)                                        \
    X(RLP_ERR_new, ERR_new)                                                    \
    X(RLP_ERR_set_debug, ERR_set_debug)                                        \
    X(RLP_ERR_set_error, ERR_set_error)                                        \
    X(RLP_ERR_put_error, ERR_put_error)                                        \
    X(RLP_CRYPTO_get_ex_new_index, CRYPTO_get_ex_new_index)                    \
    X(RLP_SSL_get_ex_new_index, SSL_get_ex_new_index)                          \
    X(RLP_OpenSSL_version, OpenSSL_version)                                    \
    X(RLP_OPENSSL_init_ssl, OPENSSL_init_ssl)                                  \
    X(RLP_gnutls_init, gnutls_init)                                            \
    X(RLP_gnutls_deinit, gnutls_deinit)                                        \
    X(RLP_gnutls_record_send, gnutls_record_send)                              \
    X(RLP_gnutls_record_recv, gnutls_record_recv)                              \
    X(RLP_gnutls_server_name_set, gnutls_server_name_set)                      \
    X(RLP_gnutls_transport_set_int2, gnutls_transport_set_int2)                \
    X(RLP_gnutls_handshake, gnutls_handshake)                                  \
    X(RLP_gnutls_session_get_random, gnutls_session_get_random)

enum rlp_tls_fn {
#define ID(id, sym) id,
    RLP_TLS_FNS(ID)
#undef ID
        RLP_TLS_FN_COUNT
};

/* One copy of a TLS library: its functions, NULL where it has none. */
struct rlp_tls_lib {
    void *fn[RLP_TLS_FN_COUNT];
    atomic_bool watch_tried;
    atomic_bool watched; /* its SSLs' destruction is reported to rlc */
};

/* The copy a call to function id from return address `caller` was meant
 * for: the one the caller's own object binds the name to (so a module's
 * private libssl gets its calls, and libssl its own). Never NULL; its
 * fn[id] is NULL only when no loaded copy has the function (said once).
 * Never loads a library. Thread-safe; errno is kept. */
const struct rlp_tls_lib *rlp_tls_lib_for(const void *caller, int id);
/* The copy whose function this thread is calling now (set around every
 * call rlc makes to a real TLS function), for the tail calls it makes. */
extern __thread const struct rlp_tls_lib *rlp_tls_calling
    __attribute__((tls_model("initial-exec")));
void rlp_tls_libs_after_fork_child(void);

/* ---- tls.c: HTTPS in plaintext, through the TLS library's calls -------- */

/* Is this thread inside a call of a TLS session rlc follows? Then fd (c
 * its state) carries that session's records: it is linked to it, and
 * its bytes cost nothing. */
bool rlp_tls_current_claims(int fd, struct rlp_conn *c, bool writing);
/* Is random the client random of a followed session whose socket is not
 * known yet (one over memory BIOs)? Then fd is linked to it. */
bool rlp_tls_claim_socket(const unsigned char random[32], int fd,
                          struct rlp_conn *c);
void rlp_tls_after_fork_child(void);

/*
 * What the exported OpenSSL and GnuTLS functions do (hooks_tls.c). Each
 * takes, first, the caller's return address, which picks the copy of the
 * library the call goes on to (rlp_tls_lib_for), then the real function's
 * arguments, and returns what the real function returned, with the errno
 * it left. A session of a client (never a server's) bound for a resource
 * is charged in SSL_write/gnutls_record_send before its requests leave,
 * and its responses are read in SSL_read/gnutls_record_recv. When a token
 * cannot be had in max_wait and on_timeout = fail, nothing is sent: the
 * write returns -1 (SSL_write; 0 for SSL_write_ex) with errno ETIMEDOUT
 * and an error queued for SSL_get_error (SSL_ERROR_SSL, "rlc: no token
 * within max_wait"), or GNUTLS_E_PUSH_ERROR. Thread-safe as the libraries are:
 * one thread at a time per session.
 */
int rlp_ssl_write(const void *caller, void *ssl, const void *buf, int num);
int rlp_ssl_write_ex(const void *caller, void *ssl, const void *buf, size_t num,
                     size_t *written);
int rlp_ssl_read(const void *caller, void *ssl, void *buf, int num);
int rlp_ssl_read_ex(const void *caller, void *ssl, void *buf, size_t num,
                    size_t *readbytes);
int rlp_ssl_set_fd(const void *caller, void *ssl, int fd);
int rlp_ssl_set_rfd(const void *caller, void *ssl, int fd);
int rlp_ssl_set_wfd(const void *caller, void *ssl, int fd);
int rlp_ssl_connect(const void *caller, void *ssl);
int rlp_ssl_do_handshake(const void *caller, void *ssl);
void rlp_ssl_free(const void *caller, void *ssl);
int rlp_ssl_up_ref(const void *caller, void *ssl);
long rlp_ssl_ctrl(const void *caller, void *ssl, int cmd, long larg,
                  void *parg);

int rlp_gnutls_init(const void *caller, void **session, unsigned int flags);
void rlp_gnutls_deinit(const void *caller, void *session);
ssize_t rlp_gnutls_record_send(const void *caller, void *session,
                               const void *data, size_t len);
ssize_t rlp_gnutls_record_recv(const void *caller, void *session, void *data,
                               size_t len);
int rlp_gnutls_server_name_set(const void *caller, void *session, int type,
                               const void *name, size_t len);
void rlp_gnutls_transport_set_int2(const void *caller, void *session,
                                   int recv_fd, int send_fd);
int rlp_gnutls_handshake(const void *caller, void *session);

/* ---- names.c: address -> the name it was resolved from ------------------ */

void rlp_names_learn(const char *name, const struct addrinfo *res);
/* Copies the name for sa into out (n bytes); false if unknown. */
bool rlp_names_lookup(const struct sockaddr *sa, char *out, size_t n);
void rlp_names_after_fork_child(void);

/* ---- flow.c: one connection's requests and responses ------------------- */

enum rlp_conn_state {
    RLP_PENDING, /* nothing matched at connect; the first request decides */
    RLP_MAPPED   /* limited as resource res */
};

enum rlp_proto {
    RLP_PROTO_UNKNOWN, /* nothing sent yet */
    RLP_PROTO_HTTP1,   /* HTTP/1.x, or opaque (the parser says which) */
    RLP_PROTO_H2       /* began with the HTTP/2 client preface */
};

/*
 * What rlc follows of one connection, wherever its plaintext is seen: a
 * TCP socket's own bytes (policy.c) or what a TLS library encrypts and
 * decrypts for it (tls.c). Used under its lock, one thread at a time.
 */
struct rlp_flow {
    atomic_int lock; /* spin lock over what follows; never held long */
    int state;
    bool decided; /* the first request's Host: has been looked at */
    struct rlp_resource *res;
    bool charged;    /* a token was taken for this connection */
    bool recv_blind; /* bytes were received unseen (MSG_TRUNC): no sniffing */
    int prepaid;     /* requests charged whose bytes have not left yet */
    char host[RLC_HOSTNAME_MAX];  /* name it is known by, or "" */
    struct sockaddr_storage peer; /* the address, if known (else AF_UNSPEC) */
    int port;
    int proto;         /* enum rlp_proto */
    uint32_t received; /* feeds of received bytes so far */
    union rlp_parser {
        rlc_http1_conn http;
        rlc_h2_conn h2;
    } p;
};

/* What sending some bytes on a flow will cost, worked out before they
 * leave (a dry run of the parser) and settled after. */
struct rlp_plan {
    int tokens;        /* to charge before the bytes leave */
    int starts;        /* requests whose first byte is in these bytes */
    uint32_t tag;      /* the capacity epoch they leave in */
    uint32_t received; /* the flow's count of received feeds then */
    struct rlp_resource *res;
    size_t total;
    union rlp_parser dry; /* the parser after all of the bytes */
};

/* A fresh flow: pending, nothing seen. */
void rlp_flow_init(struct rlp_flow *f);
/* Frees what the flow allocated (an HPACK decoder); it may be _init'ed
 * again after. */
void rlp_flow_release(struct rlp_flow *f);
void rlp_flow_lock(struct rlp_flow *f);
void rlp_flow_unlock(struct rlp_flow *f);

/* Plans sending iov[0..n) (total bytes > 0); f locked. The first bytes
 * decide the resource: their Host: or :authority if a section matches
 * it, else what f was mapped to before. Returns false when f belongs to
 * no resource (it is then never looked at again); else fills *p. */
bool rlp_flow_plan(struct rlp_flow *f, const struct iovec *iov, int n,
                   size_t total, struct rlp_plan *p);
/* The charge for p failed: nothing is sent; f locked. */
void rlp_flow_unplan(struct rlp_flow *f, const struct rlp_plan *p);
/* done bytes of the planned ones left (done < 0: none); f locked. */
void rlp_flow_commit(struct rlp_flow *f, const struct iovec *iov, int n,
                     ssize_t done, struct rlp_plan *p);

/* done bytes were received into iov: feeds them and acts on each
 * response (429, Retry-After). f unlocked; it is locked while parsing.
 * still_ours (may be NULL) is asked before a 429 is acted on. */
void rlp_flow_received(struct rlp_flow *f, const struct iovec *iov, int n,
                       size_t done, bool (*still_ours)(void *), void *arg);

/* ---- fdtable.c: per-fd connection state --------------------------------- */

#define RLP_FD_MAX 65536 /* fds at or above are never tracked */

struct rlp_conn {
    atomic_int refs;    /* fd slots + hooks using it */
    atomic_bool pooled; /* on the free list */
    struct rlp_conn *next_free;

    dev_t dev; /* the socket's identity, to notice an fd closed */
    ino_t ino; /* behind our back and its number reused */
    /* Its bytes are TLS records of a session rlc follows through the TLS
     * library's own calls (tls.c): they cost nothing here. */
    atomic_bool tls_inside;
    struct rlp_flow flow;
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
