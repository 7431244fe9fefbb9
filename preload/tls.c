/* SPDX-License-Identifier: MIT */
/*
 * tls.c - HTTPS seen in plaintext: OpenSSL's and GnuTLS's calls charge the
 * requests an application writes and read the responses it reads, with
 * the same flows as plaintext sockets (flow.c); the TLS records those
 * calls put on the socket then cost nothing.
 *
 * A session is linked to its socket in one of three ways: the fd given to
 * SSL_set_fd and the like; a raw write made from inside the library's own
 * call (a thread-local says which session is inside); or, for a session
 * over memory BIOs whose bytes the application moves itself (asyncio), the
 * client random of the ClientHello the socket then carries. The real
 * functions are looked up on first use, in the global scope and else in a
 * libssl already loaded privately (python's _ssl), never loading one.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preload.h"

#define TABLE_SIZE 4096 /* sessions followed at once; more pass unseen */
#define UNLINKED_MAX 64 /* sessions waiting for their socket, by random */

struct rlp_tls {
    _Atomic(const void *) key; /* the SSL * or gnutls_session_t */
    atomic_bool ignored;       /* a server, or bound for no resource */
    atomic_bool role_known;    /* asked whether it is a client */
    atomic_int refs;           /* SSL_up_ref's: SSL_free's to come first */
    atomic_int fd;             /* its socket, once known; else -1 */
    atomic_bool random_known;
    unsigned char random[32];
    char sni[RLC_HOSTNAME_MAX]; /* the server name it asked for */
    struct rlp_flow flow;
    struct rlp_tls *next_free;
};

/* Never freed: a lookup racing a removal reads a recycled entry, whose
 * key then does not match, never freed memory. */
static _Atomic(struct rlp_tls *) table[TABLE_SIZE];
static struct rlp_tls tombstone;
static struct rlp_tls *free_list;
static struct rlp_tls *unlinked[UNLINKED_MAX];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER; /* adds, removals */

/* The session whose library call this thread is inside. */
static __thread struct rlp_tls *inside
    __attribute__((tls_model("initial-exec")));

static size_t slot_of(const void *key)
{
    uint64_t h = (uint64_t)(uintptr_t)key;

    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    return (size_t)(h & (TABLE_SIZE - 1));
}

static struct rlp_tls *lookup(const void *key)
{
    size_t i = slot_of(key);

    for (size_t probes = 0; probes < TABLE_SIZE; probes++) {
        struct rlp_tls *s = atomic_load(&table[i]);

        if (s == NULL)
            return NULL;
        if (s != &tombstone && atomic_load(&s->key) == key)
            return s;
        i = (i + 1) & (TABLE_SIZE - 1);
    }
    return NULL;
}

/* The session for key, made if new and rlc has resources; NULL if not. */
static struct rlp_tls *find_or_add(const void *key)
{
    struct rlp_tls *s = lookup(key);
    const rlc_config *cfg;
    size_t i;

    if (s != NULL || key == NULL)
        return s;
    cfg = rlp_config();
    if (cfg == NULL || cfg->nresources == 0)
        return NULL;
    pthread_mutex_lock(&mu);
    s = lookup(key);
    if (s != NULL)
        goto out;
    i = slot_of(key);
    for (size_t probes = 0; probes < TABLE_SIZE; probes++) {
        struct rlp_tls *at = atomic_load(&table[i]);

        if (at == NULL || at == &tombstone)
            break;
        i = (i + 1) & (TABLE_SIZE - 1);
    }
    if (atomic_load(&table[i]) != NULL && atomic_load(&table[i]) != &tombstone)
        goto out; /* full */
    s = free_list;
    if (s != NULL)
        free_list = s->next_free;
    else
        s = calloc(1, sizeof(*s));
    if (s == NULL)
        goto out;
    atomic_store(&s->ignored, false);
    atomic_store(&s->role_known, false);
    atomic_store(&s->refs, 0);
    atomic_store(&s->fd, -1);
    atomic_store(&s->random_known, false);
    s->sni[0] = '\0';
    rlp_flow_init(&s->flow);
    atomic_store(&s->key, key);
    atomic_store(&table[i], s);
out:
    pthread_mutex_unlock(&mu);
    return s;
}

static void forget(const void *key)
{
    struct rlp_tls *s;

    if (lookup(key) == NULL)
        return;
    pthread_mutex_lock(&mu);
    s = lookup(key);
    if (s != NULL) {
        size_t i = slot_of(key);

        while (atomic_load(&table[i]) != s)
            i = (i + 1) & (TABLE_SIZE - 1);
        atomic_store(&table[i], &tombstone);
        for (int k = 0; k < UNLINKED_MAX; k++)
            if (unlinked[k] == s)
                unlinked[k] = NULL;
        atomic_store(&s->key, NULL);
        rlp_flow_release(&s->flow);
        s->next_free = free_list;
        free_list = s;
    }
    pthread_mutex_unlock(&mu);
}

/* s's SSL is used for a new connection (SSL_clear, then another fd):
 * what rlc knew of the old one goes, but the server name. SSL_clear is
 * not hooked for it: libssl calls it itself, mid-handshake. */
static void restart(struct rlp_tls *s)
{
    pthread_mutex_lock(&mu);
    for (int k = 0; k < UNLINKED_MAX; k++)
        if (unlinked[k] == s)
            unlinked[k] = NULL;
    pthread_mutex_unlock(&mu);
    rlp_flow_lock(&s->flow);
    rlp_flow_release(&s->flow);
    rlp_flow_init(&s->flow); /* unlocks it too */
    atomic_store(&s->ignored, false);
    atomic_store(&s->role_known, false);
    atomic_store(&s->fd, -1);
    atomic_store(&s->random_known, false);
}

/* ---- linking sessions and sockets --------------------------------------- */

/* s runs over fd (c its state, NULL if untracked): fd's records are then
 * free, and s inherits what fd was matched to at connect. */
static void link_socket(struct rlp_tls *s, int fd, struct rlp_conn *c)
{
    int none = -1;

    atomic_compare_exchange_strong(&s->fd, &none, fd);
    if (c == NULL)
        return;
    atomic_store(&c->tls_inside, true);
    rlp_flow_lock(&s->flow);
    if (!s->flow.decided && s->flow.peer.ss_family == AF_UNSPEC) {
        s->flow.peer = c->flow.peer;
        s->flow.port = c->flow.port;
        if (s->flow.state != RLP_MAPPED && c->flow.state == RLP_MAPPED) {
            s->flow.res = c->flow.res;
            s->flow.state = RLP_MAPPED;
            if (s->flow.host[0] == '\0')
                memcpy(s->flow.host, c->flow.host, sizeof(s->flow.host));
        }
    }
    rlp_flow_unlock(&s->flow);
}

/* s is given fd (SSL_set_fd and the like): linked if rlc tracks it; the
 * session's socket either way, so that no other is taken for it. */
static void link_fd(struct rlp_tls *s, int fd)
{
    struct rlp_conn *c = rlp_conn_get(fd);
    int none = -1;

    if (c == NULL || !rlp_conn_pin(fd, c)) {
        atomic_compare_exchange_strong(&s->fd, &none, fd);
        return;
    }
    link_socket(s, fd, c);
    rlp_conn_unpin(c);
}

bool rlp_tls_current_claims(int fd, struct rlp_conn *c, bool writing)
{
    struct rlp_tls *s = inside;
    int mine;

    if (__builtin_expect(s == NULL, 1))
        return false;
    /* The session's socket is the one it writes its ClientHello to, the
     * first write of its handshake; another socket used meanwhile (by a
     * verify callback, say) is not its. */
    mine = atomic_load(&s->fd);
    if (mine >= 0 ? mine != fd : !writing)
        return false;
    link_socket(s, fd, c);
    return true;
}

bool rlp_tls_claim_socket(const unsigned char random[32], int fd,
                          struct rlp_conn *c)
{
    struct rlp_tls *found = NULL;

    pthread_mutex_lock(&mu);
    for (int k = 0; k < UNLINKED_MAX && found == NULL; k++) {
        struct rlp_tls *s = unlinked[k];

        if (s != NULL && memcmp(s->random, random, 32) == 0) {
            found = s;
            unlinked[k] = NULL;
        }
    }
    pthread_mutex_unlock(&mu);
    if (found == NULL)
        return false;
    link_socket(found, fd, c);
    return true;
}

/* After a handshaking call: a session whose socket is still unknown has
 * now written its ClientHello somewhere; its random will find it. */
static void note_random(struct rlp_tls *s,
                        bool (*get)(const void *, unsigned char[32]))
{
    unsigned char r[32];
    static const unsigned char zero[32];

    if (atomic_load(&s->random_known) || atomic_load(&s->fd) >= 0)
        return;
    if (!get(atomic_load(&s->key), r) || memcmp(r, zero, 32) == 0)
        return;
    memcpy(s->random, r, 32);
    atomic_store(&s->random_known, true);
    pthread_mutex_lock(&mu);
    for (int k = 0; k < UNLINKED_MAX; k++)
        if (unlinked[k] == NULL) {
            unlinked[k] = s;
            break;
        }
    pthread_mutex_unlock(&mu);
}

/* ---- the flow of a session ---------------------------------------------- */

/* Before the first request: the server name maps the session, else the
 * socket it was linked to. s->flow locked. */
static void map_by_name(struct rlp_tls *s)
{
    const rlc_config *cfg;
    const rlc_resource_config *rc;
    struct rlp_resource *res;

    if (s->flow.decided || s->sni[0] == '\0')
        return;
    cfg = rlp_config();
    rc = cfg != NULL ? rlc_config_match(cfg, s->sni, NULL, s->flow.port) : NULL;
    res = rc != NULL ? rlp_resource_for(rc) : NULL;
    if (res != NULL) {
        s->flow.res = res;
        s->flow.state = RLP_MAPPED;
        snprintf(s->flow.host, sizeof(s->flow.host), "%s", s->sni);
    }
}

/* Charges what writing buf[0..len) starts. Returns 0, or -1 when
 * on_timeout = fail ran out (nothing may be sent). */
static int before_write(struct rlp_tls *s, const void *buf, size_t len,
                        struct rlp_plan *plan, bool *planned)
{
    struct iovec iov = {(void *)buf, len};

    *planned = false;
    if (len == 0 || atomic_load(&s->ignored))
        return 0;
    rlp_flow_lock(&s->flow);
    map_by_name(s);
    if (!rlp_flow_plan(&s->flow, &iov, 1, len, plan)) {
        atomic_store(&s->ignored, true);
        rlp_flow_unlock(&s->flow);
        return 0;
    }
    rlp_flow_unlock(&s->flow);
    *planned = true;
    if (plan->tokens > 0 && rlp_charge(plan->res, plan->tokens) != 0) {
        rlp_flow_lock(&s->flow);
        rlp_flow_unplan(&s->flow, plan);
        rlp_flow_unlock(&s->flow);
        *planned = false;
        return -1;
    }
    return 0;
}

static void after_write(struct rlp_tls *s, const void *buf, ssize_t done,
                        struct rlp_plan *plan)
{
    struct iovec iov = {(void *)buf, plan->total};

    rlp_flow_lock(&s->flow);
    rlp_flow_commit(&s->flow, &iov, 1, done, plan);
    rlp_flow_unlock(&s->flow);
}

static void after_read(struct rlp_tls *s, void *buf, size_t done)
{
    struct iovec iov = {buf, done};

    if (done > 0 && !atomic_load(&s->ignored))
        rlp_flow_received(&s->flow, &iov, 1, done, NULL, NULL);
}

static void set_name(struct rlp_tls *s, const char *name, size_t len)
{
    size_t k;

    if (s == NULL || name == NULL)
        return;
    rlp_flow_lock(&s->flow);
    for (k = 0; k < len && k + 1 < sizeof(s->sni) && name[k] != '\0'; k++)
        s->sni[k] =
            (char)(name[k] >= 'A' && name[k] <= 'Z' ? name[k] + 32 : name[k]);
    s->sni[k] = '\0';
    rlp_flow_unlock(&s->flow);
}

/* ---- OpenSSL ------------------------------------------------------------- */

/* libssl may be in the global scope (curl) or loaded privately by a
 * module (python's _ssl): RTLD_NEXT finds the first, RTLD_NOLOAD the
 * second. Either way it is loaded before its functions can be called. */
static void *find_real(const char *const *libs, const char *name)
{
    void *fn = dlsym(RTLD_NEXT, name);

    for (int i = 0; fn == NULL && libs[i] != NULL; i++) {
        void *h = dlopen(libs[i], RTLD_LAZY | RTLD_NOLOAD);

        if (h != NULL) {
            fn = dlsym(h, name);
            dlclose(h);
        }
    }
    if (fn == NULL)
        rlp_log(RLC_LOG_ERROR, "cannot find the real %s", name);
    return fn;
}

static const char *const libssl[] = {"libssl.so.3", "libssl.so.1.1",
                                     "libssl.so", NULL};

#define REAL(libs, type, name)                                                 \
    static _Atomic(type) real_##name;                                          \
    static type get_##name(void)                                               \
    {                                                                          \
        type fn = atomic_load_explicit(&real_##name, memory_order_acquire);    \
        if (__builtin_expect(fn == NULL, 0)) {                                 \
            fn = (type)find_real(libs, #name);                                 \
            atomic_store_explicit(&real_##name, fn, memory_order_release);     \
        }                                                                      \
        return fn;                                                             \
    }

typedef int (*ssl_write_fn)(void *, const void *, int);
typedef int (*ssl_write_ex_fn)(void *, const void *, size_t, size_t *);
typedef int (*ssl_read_fn)(void *, void *, int);
typedef int (*ssl_read_ex_fn)(void *, void *, size_t, size_t *);
typedef int (*ssl_set_fd_fn)(void *, int);
typedef int (*ssl_handshake_fn)(void *);
typedef void (*ssl_free_fn)(void *);
typedef long (*ssl_ctrl_fn)(void *, int, long, void *);
typedef int (*ssl_up_ref_fn)(void *);
typedef size_t (*ssl_get_random_fn)(const void *, unsigned char *, size_t);
typedef int (*ssl_is_server_fn)(const void *);

REAL(libssl, ssl_write_fn, SSL_write)
REAL(libssl, ssl_write_ex_fn, SSL_write_ex)
REAL(libssl, ssl_read_fn, SSL_read)
REAL(libssl, ssl_read_ex_fn, SSL_read_ex)
REAL(libssl, ssl_set_fd_fn, SSL_set_fd)
REAL(libssl, ssl_set_fd_fn, SSL_set_rfd)
REAL(libssl, ssl_set_fd_fn, SSL_set_wfd)
REAL(libssl, ssl_handshake_fn, SSL_connect)
REAL(libssl, ssl_handshake_fn, SSL_do_handshake)
REAL(libssl, ssl_free_fn, SSL_free)
REAL(libssl, ssl_ctrl_fn, SSL_ctrl)
REAL(libssl, ssl_up_ref_fn, SSL_up_ref)
REAL(libssl, ssl_get_random_fn, SSL_get_client_random)
REAL(libssl, ssl_is_server_fn, SSL_is_server)

#define SSL_CTRL_SET_TLSEXT_HOSTNAME 55
#define TLSEXT_NAMETYPE_host_name 0

static bool ssl_random(const void *ssl, unsigned char out[32])
{
    ssl_get_random_fn fn = get_SSL_get_client_random();

    return fn != NULL && fn(ssl, out, 32) == 32;
}

/* The session of a client-side SSL, or NULL (a server, nothing to do).
 * An SSL of a generic method is a server until SSL_set_connect_state:
 * its role is asked once it handshakes, writes or reads. */
static struct rlp_tls *ssl_session(void *ssl, bool role_set)
{
    struct rlp_tls *s;

    if (rlp_busy || ssl == NULL)
        return NULL;
    s = lookup(ssl);
    if (s == NULL) {
        rlp_busy++;
        s = find_or_add(ssl);
        rlp_busy--;
    }
    if (s == NULL || atomic_load(&s->ignored))
        return NULL;
    if (role_set && !atomic_load(&s->role_known) && !rlp_busy) {
        ssl_is_server_fn is_server = get_SSL_is_server();

        atomic_store(&s->role_known, true);
        if (is_server == NULL || is_server(ssl)) {
            atomic_store(&s->ignored, true);
            return NULL;
        }
    }
    return s;
}

/* Runs call inside session s (NULL: as is), keeping errno. */
#define INSIDE(s, call)                                                        \
    do {                                                                       \
        struct rlp_tls *outer_ = inside;                                       \
        if ((s) != NULL)                                                       \
            inside = (s);                                                      \
        call;                                                                  \
        inside = outer_;                                                       \
    } while (0)

int rlp_ssl_write(void *ssl, const void *buf, int num)
{
    ssl_write_fn real = get_SSL_write();
    struct rlp_tls *s = ssl_session(ssl, true);
    struct rlp_plan plan;
    bool planned;
    int rc, saved = errno, err;

    if (real == NULL) {
        errno = ENOSYS;
        return -1;
    }
    if (s == NULL || num <= 0)
        return real(ssl, buf, num);
    if (before_write(s, buf, (size_t)num, &plan, &planned) != 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    errno = saved;
    INSIDE(s, rc = real(ssl, buf, num));
    err = errno;
    if (planned)
        after_write(s, buf, rc > 0 ? rc : -1, &plan);
    note_random(s, ssl_random);
    errno = err;
    return rc;
}

int rlp_ssl_write_ex(void *ssl, const void *buf, size_t num, size_t *written)
{
    ssl_write_ex_fn real = get_SSL_write_ex();
    struct rlp_tls *s = ssl_session(ssl, true);
    struct rlp_plan plan;
    bool planned;
    size_t done = 0;
    int rc, saved = errno, err;

    if (real == NULL) {
        errno = ENOSYS;
        return 0;
    }
    if (s == NULL || num == 0)
        return real(ssl, buf, num, written);
    if (before_write(s, buf, num, &plan, &planned) != 0) {
        errno = ETIMEDOUT;
        return 0;
    }
    errno = saved;
    INSIDE(s, rc = real(ssl, buf, num, &done));
    err = errno;
    if (written != NULL)
        *written = done;
    if (planned)
        after_write(s, buf, rc == 1 ? (ssize_t)done : -1, &plan);
    note_random(s, ssl_random);
    errno = err;
    return rc;
}

int rlp_ssl_read(void *ssl, void *buf, int num)
{
    ssl_read_fn real = get_SSL_read();
    struct rlp_tls *s = ssl_session(ssl, true);
    int rc, err;

    if (real == NULL) {
        errno = ENOSYS;
        return -1;
    }
    if (s == NULL)
        return real(ssl, buf, num);
    INSIDE(s, rc = real(ssl, buf, num));
    err = errno;
    if (rc > 0)
        after_read(s, buf, (size_t)rc);
    note_random(s, ssl_random);
    errno = err;
    return rc;
}

int rlp_ssl_read_ex(void *ssl, void *buf, size_t num, size_t *readbytes)
{
    ssl_read_ex_fn real = get_SSL_read_ex();
    struct rlp_tls *s = ssl_session(ssl, true);
    size_t done = 0;
    int rc, err;

    if (real == NULL) {
        errno = ENOSYS;
        return 0;
    }
    if (s == NULL)
        return real(ssl, buf, num, readbytes);
    INSIDE(s, rc = real(ssl, buf, num, &done));
    err = errno;
    if (readbytes != NULL)
        *readbytes = done;
    if (rc == 1)
        after_read(s, buf, done);
    note_random(s, ssl_random);
    errno = err;
    return rc;
}

static int set_fd(ssl_set_fd_fn real, void *ssl, int fd, bool both)
{
    struct rlp_tls *s;
    int rc, err;

    if (real == NULL) {
        errno = ENOSYS;
        return 0;
    }
    rc = real(ssl, fd);
    err = errno;
    s = rc == 1 ? ssl_session(ssl, false) : NULL;
    /* Given a socket again (its number may well be the old one's): a new
     * connection, after SSL_clear. */
    if (s != NULL && both && atomic_load(&s->fd) >= 0)
        restart(s);
    if (s != NULL)
        link_fd(s, fd);
    errno = err;
    return rc;
}

int rlp_ssl_set_fd(void *ssl, int fd)
{
    return set_fd(get_SSL_set_fd(), ssl, fd, true);
}

int rlp_ssl_set_rfd(void *ssl, int fd)
{
    return set_fd(get_SSL_set_rfd(), ssl, fd, false);
}

int rlp_ssl_set_wfd(void *ssl, int fd)
{
    return set_fd(get_SSL_set_wfd(), ssl, fd, false);
}

/* A handshake: SSL_connect makes an SSL a client (one of a generic method
 * is a server until then); for SSL_do_handshake the role is set before,
 * and asked after. */
static int handshake(ssl_handshake_fn real, void *ssl, bool connect)
{
    struct rlp_tls *s;
    int rc, err;

    if (real == NULL) {
        errno = ENOSYS;
        return -1;
    }
    s = ssl_session(ssl, false);
    if (s != NULL && connect)
        atomic_store(&s->role_known, true);
    INSIDE(s, rc = real(ssl));
    err = errno;
    if (s != NULL && ssl_session(ssl, true) != NULL)
        note_random(s, ssl_random);
    errno = err;
    return rc;
}

int rlp_ssl_connect(void *ssl)
{
    return handshake(get_SSL_connect(), ssl, true);
}

int rlp_ssl_do_handshake(void *ssl)
{
    return handshake(get_SSL_do_handshake(), ssl, false);
}

/* SSL_up_ref: one SSL_free more before the SSL is gone. */
int rlp_ssl_up_ref(void *ssl)
{
    ssl_up_ref_fn real = get_SSL_up_ref();
    struct rlp_tls *s;
    int rc, err;

    if (real == NULL) {
        errno = ENOSYS;
        return 0;
    }
    rc = real(ssl);
    err = errno;
    s = rc == 1 ? lookup(ssl) : NULL;
    if (s != NULL)
        atomic_fetch_add(&s->refs, 1);
    errno = err;
    return rc;
}

void rlp_ssl_free(void *ssl)
{
    ssl_free_fn real = get_SSL_free();
    struct rlp_tls *s = ssl != NULL ? lookup(ssl) : NULL;
    int saved = errno, refs;

    /* Only the last reference's free frees it (see SSL_up_ref). */
    refs = s != NULL ? atomic_load(&s->refs) : 0;
    while (refs > 0 && !atomic_compare_exchange_weak(&s->refs, &refs, refs - 1))
        ;
    if (s != NULL && refs == 0)
        forget(ssl);
    errno = saved;
    if (real != NULL)
        real(ssl);
}

long rlp_ssl_ctrl(void *ssl, int cmd, long larg, void *parg)
{
    ssl_ctrl_fn real = get_SSL_ctrl();
    long rc;
    int err;

    if (real == NULL) {
        errno = ENOSYS;
        return 0;
    }
    rc = real(ssl, cmd, larg, parg);
    if (cmd != SSL_CTRL_SET_TLSEXT_HOSTNAME ||
        larg != TLSEXT_NAMETYPE_host_name || rc != 1 || parg == NULL)
        return rc;
    err = errno;
    set_name(ssl_session(ssl, false), parg, strlen(parg));
    errno = err;
    return rc;
}

/* ---- GnuTLS -------------------------------------------------------------- */

static const char *const libgnutls[] = {"libgnutls.so.30", "libgnutls.so",
                                        NULL};

typedef struct {
    unsigned char *data;
    unsigned int size;
} datum;

typedef int (*gnutls_init_fn)(void **, unsigned int);
typedef void (*gnutls_deinit_fn)(void *);
typedef ssize_t (*gnutls_send_fn)(void *, const void *, size_t);
typedef ssize_t (*gnutls_recv_fn)(void *, void *, size_t);
typedef int (*gnutls_name_set_fn)(void *, int, const void *, size_t);
typedef void (*gnutls_set_int2_fn)(void *, int, int);
typedef int (*gnutls_handshake_fn)(void *);
typedef void (*gnutls_get_random_fn)(void *, datum *, datum *);

REAL(libgnutls, gnutls_init_fn, gnutls_init)
REAL(libgnutls, gnutls_deinit_fn, gnutls_deinit)
REAL(libgnutls, gnutls_send_fn, gnutls_record_send)
REAL(libgnutls, gnutls_recv_fn, gnutls_record_recv)
REAL(libgnutls, gnutls_name_set_fn, gnutls_server_name_set)
REAL(libgnutls, gnutls_set_int2_fn, gnutls_transport_set_int2)
REAL(libgnutls, gnutls_handshake_fn, gnutls_handshake)
REAL(libgnutls, gnutls_get_random_fn, gnutls_session_get_random)

#define GNUTLS_SERVER 1
#define GNUTLS_NAME_DNS 1
#define GNUTLS_E_PUSH_ERROR (-53)

static bool gnutls_random(const void *session, unsigned char out[32])
{
    gnutls_get_random_fn fn = get_gnutls_session_get_random();
    datum client = {NULL, 0}, server = {NULL, 0};

    if (fn == NULL)
        return false;
    fn((void *)session, &client, &server);
    if (client.data == NULL || client.size != 32)
        return false;
    memcpy(out, client.data, 32);
    return true;
}

/* gnutls_init says which end a session is: servers are never followed. */
int rlp_gnutls_init(void **session, unsigned int flags)
{
    gnutls_init_fn real = get_gnutls_init();
    int rc, err;

    if (real == NULL)
        return -1;
    rc = real(session, flags);
    err = errno;
    if (rc == 0 && session != NULL && (flags & GNUTLS_SERVER) && !rlp_busy) {
        struct rlp_tls *s;

        rlp_busy++;
        s = find_or_add(*session);
        if (s != NULL)
            atomic_store(&s->ignored, true);
        rlp_busy--;
    }
    errno = err;
    return rc;
}

static struct rlp_tls *gnutls_session(void *session)
{
    struct rlp_tls *s;

    if (rlp_busy || session == NULL)
        return NULL;
    s = lookup(session);
    if (s == NULL) {
        rlp_busy++;
        s = find_or_add(session);
        rlp_busy--;
    }
    return s != NULL && !atomic_load(&s->ignored) ? s : NULL;
}

void rlp_gnutls_deinit(void *session)
{
    gnutls_deinit_fn real = get_gnutls_deinit();
    int saved = errno;

    if (session != NULL)
        forget(session);
    errno = saved;
    if (real != NULL)
        real(session);
}

ssize_t rlp_gnutls_record_send(void *session, const void *data, size_t len)
{
    gnutls_send_fn real = get_gnutls_record_send();
    struct rlp_tls *s = gnutls_session(session);
    struct rlp_plan plan;
    bool planned;
    ssize_t rc;
    int saved = errno, err;

    if (real == NULL)
        return GNUTLS_E_PUSH_ERROR;
    if (s == NULL || data == NULL || len == 0)
        return real(session, data, len);
    if (before_write(s, data, len, &plan, &planned) != 0) {
        errno = ETIMEDOUT;
        return GNUTLS_E_PUSH_ERROR;
    }
    errno = saved;
    INSIDE(s, rc = real(session, data, len));
    err = errno;
    if (planned)
        after_write(s, data, rc > 0 ? rc : -1, &plan);
    note_random(s, gnutls_random);
    errno = err;
    return rc;
}

ssize_t rlp_gnutls_record_recv(void *session, void *data, size_t len)
{
    gnutls_recv_fn real = get_gnutls_record_recv();
    struct rlp_tls *s = gnutls_session(session);
    ssize_t rc;
    int err;

    if (real == NULL)
        return GNUTLS_E_PUSH_ERROR;
    if (s == NULL)
        return real(session, data, len);
    INSIDE(s, rc = real(session, data, len));
    err = errno;
    if (rc > 0)
        after_read(s, data, (size_t)rc);
    note_random(s, gnutls_random);
    errno = err;
    return rc;
}

int rlp_gnutls_server_name_set(void *session, int type, const void *name,
                               size_t len)
{
    gnutls_name_set_fn real = get_gnutls_server_name_set();
    int rc, err;

    if (real == NULL)
        return GNUTLS_E_PUSH_ERROR;
    rc = real(session, type, name, len);
    err = errno;
    if (rc == 0 && type == GNUTLS_NAME_DNS)
        set_name(gnutls_session(session), name, len);
    errno = err;
    return rc;
}

void rlp_gnutls_transport_set_int2(void *session, int recv_fd, int send_fd)
{
    gnutls_set_int2_fn real = get_gnutls_transport_set_int2();
    struct rlp_tls *s;
    int saved = errno;

    if (real != NULL)
        real(session, recv_fd, send_fd);
    s = gnutls_session(session);
    if (s != NULL && send_fd >= 0)
        link_fd(s, send_fd);
    errno = saved;
}

int rlp_gnutls_handshake(void *session)
{
    gnutls_handshake_fn real = get_gnutls_handshake();
    struct rlp_tls *s;
    int rc, err;

    if (real == NULL)
        return GNUTLS_E_PUSH_ERROR;
    s = gnutls_session(session);
    INSIDE(s, rc = real(session));
    err = errno;
    if (s != NULL)
        note_random(s, gnutls_random);
    errno = err;
    return rc;
}

void rlp_tls_after_fork_child(void)
{
    pthread_mutex_init(&mu, NULL);
    for (size_t i = 0; i < TABLE_SIZE; i++) {
        struct rlp_tls *s = atomic_load(&table[i]);

        if (s != NULL && s != &tombstone)
            atomic_store(&s->flow.lock, 0);
    }
}
