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
 * client random of the ClientHello the socket then carries. Each call goes
 * on to the copy of the library its caller binds to (tls_libs.c).
 */
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
    char sni[RLC_HOSTNAME_MAX];    /* the server name it asked for */
    const struct rlp_tls_lib *lib; /* the library copy it belongs to */
    /* GnuTLS: a send that returned E_AGAIN holds one record of its bytes
     * inside GnuTLS already; the retry (the same bytes, or NULL, 0) only
     * flushes it and says how many bytes that record took. What it will
     * have sent is settled then, from a copy of those bytes (the caller's
     * buffer may be gone by a NULL, 0 retry). */
    const void *pending;
    size_t pending_len;
    bool again_planned;
    struct rlp_plan again;
    unsigned char *again_copy; /* its first record's bytes, while pending */
    size_t again_kept;         /* how many: GNUTLS_RECORD_MAX at most */
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
    s->lib = NULL;
    s->pending = NULL;
    s->pending_len = 0;
    s->again_planned = false;
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
        /* A run of tombstones just before an empty slot ends no search
         * that the empty slot would not: empty them, so that lookups keep
         * stopping early however many sessions come and go. */
        if (atomic_load(&table[(i + 1) & (TABLE_SIZE - 1)]) == NULL)
            for (size_t j = i; atomic_load(&table[j]) == &tombstone;
                 j = (j - 1) & (TABLE_SIZE - 1))
                atomic_store(&table[j], NULL);
        for (int k = 0; k < UNLINKED_MAX; k++)
            if (unlinked[k] == s)
                unlinked[k] = NULL;
        atomic_store(&s->key, NULL);
        rlp_flow_release(&s->flow);
        free(s->again_copy);
        s->again_copy = NULL;
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
    s->pending = NULL;
    s->again_planned = false;
    free(s->again_copy);
    s->again_copy = NULL;
}

/* ---- linking sessions and sockets --------------------------------------- */

/* s runs over fd (c its state, NULL if untracked): fd's records are then
 * free, and s inherits what fd was matched to at connect, and a token fd
 * paid already (a CONNECT through a proxy: the tunnel's first request is
 * paid for). c_locked: the caller holds c's flow lock. */
static void link_socket(struct rlp_tls *s, int fd, struct rlp_conn *c,
                        bool c_locked)
{
    int none = -1;
    struct rlp_flow was;

    atomic_compare_exchange_strong(&s->fd, &none, fd);
    if (c == NULL || atomic_exchange(&c->tls_inside, true))
        return; /* untracked, or linked already */
    if (!c_locked)
        rlp_flow_lock(&c->flow);
    was.peer = c->flow.peer;
    was.port = c->flow.port;
    was.state = c->flow.state;
    was.res = c->flow.res;
    was.charged = c->flow.charged;
    memcpy(was.host, c->flow.host, sizeof(was.host));
    if (!c_locked)
        rlp_flow_unlock(&c->flow);
    rlp_flow_lock(&s->flow);
    if (!s->flow.decided && s->flow.peer.ss_family == AF_UNSPEC) {
        s->flow.peer = was.peer;
        s->flow.port = was.port;
        if (s->flow.state != RLP_MAPPED && was.state == RLP_MAPPED) {
            s->flow.res = was.res;
            s->flow.state = RLP_MAPPED;
            if (s->flow.host[0] == '\0')
                memcpy(s->flow.host, was.host, sizeof(s->flow.host));
        }
    }
    if (was.charged)
        s->flow.prepaid++;
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
    link_socket(s, fd, c, false);
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
    link_socket(s, fd, c, false);
    return true;
}

bool rlp_tls_claim_socket(const unsigned char random[32], int fd,
                          struct rlp_conn *c)
{
    bool found = false;

    /* Linked under mu: a session taken off the list cannot be forgotten
     * and recycled for another SSL meanwhile. */
    pthread_mutex_lock(&mu);
    for (int k = 0; k < UNLINKED_MAX && !found; k++) {
        struct rlp_tls *s = unlinked[k];

        if (s != NULL && memcmp(s->random, random, 32) == 0) {
            unlinked[k] = NULL;
            link_socket(s, fd, c, true);
            found = true;
        }
    }
    pthread_mutex_unlock(&mu);
    return found;
}

/* After a handshaking call: a session whose socket is still unknown has
 * now written its ClientHello somewhere; its random will find it. */
static void note_random(struct rlp_tls *s,
                        bool (*get)(const struct rlp_tls_lib *, const void *,
                                    unsigned char[32]))
{
    unsigned char r[32];
    static const unsigned char zero[32];

    if (atomic_load(&s->random_known) || atomic_load(&s->fd) >= 0)
        return;
    if (s->lib == NULL || !get(s->lib, atomic_load(&s->key), r) ||
        memcmp(r, zero, 32) == 0)
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

typedef int (*ssl_write_fn)(void *, const void *, int);
typedef int (*ssl_write_ex_fn)(void *, const void *, size_t, size_t *);
typedef int (*ssl_read_fn)(void *, void *, int);
typedef int (*ssl_read_ex_fn)(void *, void *, size_t, size_t *);
typedef int (*ssl_set_fd_fn)(void *, int);
typedef int (*ssl_one_fn)(void *);
typedef void (*ssl_free_fn)(void *);
typedef long (*ssl_ctrl_fn)(void *, int, long, void *);
typedef size_t (*ssl_get_random_fn)(const void *, unsigned char *, size_t);
typedef int (*ssl_is_server_fn)(const void *);
typedef void (*err_new_fn)(void);
typedef void (*err_set_debug_fn)(const char *, int, const char *);
typedef void (*err_set_error_fn)(int, int, const char *, ...);
typedef void (*err_put_error_fn)(int, int, int, const char *, int);
typedef void (*ex_free_fn)(void *, void *, void *, int, long, void *);
typedef int (*ex_new_index_fn)(int, long, void *, void *, void *, ex_free_fn);
typedef int (*ssl_ex_new_index_fn)(long, void *, void *, void *, ex_free_fn);

#define SSL_CTRL_SET_TLSEXT_HOSTNAME 55
#define TLSEXT_NAMETYPE_host_name 0
#define ERR_LIB_SSL 20

/* The function id of the copy lib, cast to the type it has. */
#define FN(lib, type, id) ((type)(lib)->fn[id])

static bool ssl_random(const struct rlp_tls_lib *lib, const void *ssl,
                       unsigned char out[32])
{
    ssl_get_random_fn fn =
        FN(lib, ssl_get_random_fn, RLP_SSL_get_client_random);

    return fn != NULL && fn(ssl, out, 32) == 32;
}

/* Calls a real function of copy lib: a tail call it makes to another
 * hooked function is then sent back to lib (see tls_libs.c). */
#define CALLING(lib, call)                                                     \
    do {                                                                       \
        const struct rlp_tls_lib *outer_lib_ = rlp_tls_calling;                \
        rlp_tls_calling = (lib);                                               \
        call;                                                                  \
        rlp_tls_calling = outer_lib_;                                          \
    } while (0)

/* The same, inside session s (NULL: as is). */
#define INSIDE(s, lib, call)                                                   \
    do {                                                                       \
        struct rlp_tls *outer_ = inside;                                       \
        if ((s) != NULL)                                                       \
            inside = (s);                                                      \
        CALLING(lib, call);                                                    \
        inside = outer_;                                                       \
    } while (0)

#define CRYPTO_EX_INDEX_SSL 0

/* libssl reports each SSL's destruction: the session goes with it, even
 * when the last SSL_free is one rlc does not see (a pointer looked up
 * with dlsym, a free inside libssl itself). */
static void ssl_destroyed(void *ssl, void *data, void *ad, int idx, long argl,
                          void *argp)
{
    int saved = errno;

    (void)data;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    if (ssl != NULL && lookup(ssl) != NULL)
        forget(ssl);
    errno = saved;
}

typedef const char *(*version_fn)(int);

/* Asks copy lib to report its SSLs' destruction, once: through its
 * SSL_get_ex_new_index where that is a function (OpenSSL 1.0, LibreSSL,
 * BoringSSL), else, in OpenSSL 1.1 and 3 only (whose class numbers and
 * arguments these are), CRYPTO_get_ex_new_index. A copy that cannot say
 * is left unwatched: SSL_free's hook forgets its sessions. */
static void watch(const struct rlp_tls_lib *lib)
{
    struct rlp_tls_lib *l = (struct rlp_tls_lib *)lib;
    ex_new_index_fn crypto;
    ssl_ex_new_index_fn ssl_index;
    version_fn version;
    const char *v;
    int index = -1;

    if (lib == NULL || lib->fn[RLP_SSL_write] == NULL)
        return; /* the all-NULL copy (read-only), or not an OpenSSL */
    if (atomic_load(&l->watch_tried) || atomic_exchange(&l->watch_tried, true))
        return;
    ssl_index = FN(lib, ssl_ex_new_index_fn, RLP_SSL_get_ex_new_index);
    crypto = FN(lib, ex_new_index_fn, RLP_CRYPTO_get_ex_new_index);
    version = FN(lib, version_fn, RLP_OpenSSL_version);
    if (ssl_index != NULL) {
        CALLING(lib, index = ssl_index(0, NULL, NULL, NULL, ssl_destroyed));
    } else if (crypto != NULL && version != NULL &&
               lib->fn[RLP_OPENSSL_init_ssl] != NULL) {
        CALLING(lib, v = version(0));
        if (v != NULL && (strncmp(v, "OpenSSL 1.1", 11) == 0 ||
                          strncmp(v, "OpenSSL 3", 9) == 0))
            CALLING(lib, index = crypto(CRYPTO_EX_INDEX_SSL, 0, NULL, NULL,
                                        NULL, ssl_destroyed));
    }
    if (index >= 0)
        atomic_store(&l->watched, true);
}

/* The session of a client-side SSL, or NULL (a server, nothing to do).
 * An SSL of a generic method is a server until SSL_connect or
 * SSL_set_connect_state: its role is asked once it handshakes, writes or
 * reads. */
static struct rlp_tls *ssl_session(const struct rlp_tls_lib *lib, void *ssl,
                                   bool role_set)
{
    struct rlp_tls *s;

    if (rlp_busy || ssl == NULL)
        return NULL;
    s = lookup(ssl);
    if (s == NULL) {
        rlp_busy++;
        s = find_or_add(ssl);
        if (s != NULL && s->lib == NULL)
            s->lib = lib;
        if (s != NULL)
            watch(lib);
        rlp_busy--;
    }
    if (s == NULL || atomic_load(&s->ignored))
        return NULL;
    if (role_set && !atomic_load(&s->role_known)) {
        ssl_is_server_fn is_server =
            FN(s->lib, ssl_is_server_fn, RLP_SSL_is_server);

        atomic_store(&s->role_known, true);
        if (is_server == NULL || is_server(ssl)) {
            atomic_store(&s->ignored, true);
            return NULL;
        }
    }
    return s;
}

/* A write refused for want of a token (on_timeout = fail): errno is
 * ETIMEDOUT and libssl's error queue says why, so that SSL_get_error()
 * answers SSL_ERROR_SSL, which every caller takes as the end of the
 * connection. Not SSL_ERROR_SYSCALL: curl reads that as "again" when its
 * last socket call was EAGAIN, and would retry, refused, forever; nor a
 * stale SSL_ERROR_WANT_READ, which would have it wait for nothing. */
static void refuse_ssl(const struct rlp_tls_lib *lib)
{
    err_new_fn err_new = FN(lib, err_new_fn, RLP_ERR_new);
    err_set_debug_fn set_debug = FN(lib, err_set_debug_fn, RLP_ERR_set_debug);
    err_set_error_fn set_error = FN(lib, err_set_error_fn, RLP_ERR_set_error);
    err_put_error_fn put_error = FN(lib, err_put_error_fn, RLP_ERR_put_error);

    if (err_new != NULL && set_debug != NULL && set_error != NULL) {
        err_new();
        set_debug("rlc", 0, "SSL_write");
        set_error(ERR_LIB_SSL, ETIMEDOUT, "%s",
                  "rlc: no token within max_wait (on_timeout = fail)");
    } else if (put_error != NULL) {
        put_error(ERR_LIB_SSL, 0, ETIMEDOUT, "rlc", 0);
    }
    errno = ETIMEDOUT;
}

int rlp_ssl_write(const void *caller, void *ssl, const void *buf, int num)
{
    int saved = errno, rc, err;
    const struct rlp_tls_lib *lib = rlp_tls_lib_for(caller, RLP_SSL_write);
    ssl_write_fn real = FN(lib, ssl_write_fn, RLP_SSL_write);
    struct rlp_tls *s = ssl_session(lib, ssl, true);
    struct rlp_plan plan;
    bool planned;

    if (real == NULL) {
        errno = ENOSYS;
        return -1;
    }
    if (s == NULL || num <= 0) {
        errno = saved;
        CALLING(lib, rc = real(ssl, buf, num));
        return rc;
    }
    if (before_write(s, buf, (size_t)num, &plan, &planned) != 0) {
        refuse_ssl(s->lib);
        return -1;
    }
    errno = saved;
    INSIDE(s, lib, rc = real(ssl, buf, num));
    err = errno;
    if (planned)
        after_write(s, buf, rc > 0 ? rc : -1, &plan);
    note_random(s, ssl_random);
    errno = err;
    return rc;
}

int rlp_ssl_write_ex(const void *caller, void *ssl, const void *buf, size_t num,
                     size_t *written)
{
    int saved = errno, rc, err;
    const struct rlp_tls_lib *lib = rlp_tls_lib_for(caller, RLP_SSL_write_ex);
    ssl_write_ex_fn real = FN(lib, ssl_write_ex_fn, RLP_SSL_write_ex);
    struct rlp_tls *s = ssl_session(lib, ssl, true);
    struct rlp_plan plan;
    bool planned;
    size_t done = 0;

    if (real == NULL) {
        errno = ENOSYS;
        return 0;
    }
    if (s == NULL || num == 0) {
        errno = saved;
        CALLING(lib, rc = real(ssl, buf, num, written));
        return rc;
    }
    if (before_write(s, buf, num, &plan, &planned) != 0) {
        refuse_ssl(s->lib); /* *written untouched, as on any failure */
        return 0;
    }
    errno = saved;
    /* The caller's own count, when it gave one: written as libssl writes
     * it (and left alone as libssl leaves it). */
    if (written == NULL)
        written = &done;
    INSIDE(s, lib, rc = real(ssl, buf, num, written));
    err = errno;
    if (planned)
        after_write(s, buf, rc == 1 ? (ssize_t)*written : -1, &plan);
    note_random(s, ssl_random);
    errno = err;
    return rc;
}

int rlp_ssl_read(const void *caller, void *ssl, void *buf, int num)
{
    int saved = errno, rc, err;
    const struct rlp_tls_lib *lib = rlp_tls_lib_for(caller, RLP_SSL_read);
    ssl_read_fn real = FN(lib, ssl_read_fn, RLP_SSL_read);
    struct rlp_tls *s = ssl_session(lib, ssl, true);

    if (real == NULL) {
        errno = ENOSYS;
        return -1;
    }
    errno = saved;
    if (s == NULL) {
        CALLING(lib, rc = real(ssl, buf, num));
        return rc;
    }
    INSIDE(s, lib, rc = real(ssl, buf, num));
    err = errno;
    if (rc > 0)
        after_read(s, buf, (size_t)rc);
    note_random(s, ssl_random);
    errno = err;
    return rc;
}

int rlp_ssl_read_ex(const void *caller, void *ssl, void *buf, size_t num,
                    size_t *readbytes)
{
    int saved = errno, rc, err;
    const struct rlp_tls_lib *lib = rlp_tls_lib_for(caller, RLP_SSL_read_ex);
    ssl_read_ex_fn real = FN(lib, ssl_read_ex_fn, RLP_SSL_read_ex);
    struct rlp_tls *s = ssl_session(lib, ssl, true);
    size_t done = 0;

    if (real == NULL) {
        errno = ENOSYS;
        return 0;
    }
    errno = saved;
    if (s == NULL) {
        CALLING(lib, rc = real(ssl, buf, num, readbytes));
        return rc;
    }
    if (readbytes == NULL)
        readbytes = &done;
    INSIDE(s, lib, rc = real(ssl, buf, num, readbytes));
    err = errno;
    if (rc == 1)
        after_read(s, buf, *readbytes);
    note_random(s, ssl_random);
    errno = err;
    return rc;
}

static int set_fd(const void *caller, int id, void *ssl, int fd, bool both)
{
    int saved = errno, rc, err;
    const struct rlp_tls_lib *lib = rlp_tls_lib_for(caller, id);
    ssl_set_fd_fn real = FN(lib, ssl_set_fd_fn, id);
    struct rlp_tls *s;

    if (real == NULL) {
        errno = ENOSYS;
        return 0;
    }
    errno = saved;
    CALLING(lib, rc = real(ssl, fd));
    err = errno;
    s = rc == 1 ? ssl_session(lib, ssl, false) : NULL;
    /* Given a socket again (its number may well be the old one's): a new
     * connection, after SSL_clear. */
    if (s != NULL && both && atomic_load(&s->fd) >= 0)
        restart(s);
    if (s != NULL)
        link_fd(s, fd);
    errno = err;
    return rc;
}

int rlp_ssl_set_fd(const void *caller, void *ssl, int fd)
{
    return set_fd(caller, RLP_SSL_set_fd, ssl, fd, true);
}

int rlp_ssl_set_rfd(const void *caller, void *ssl, int fd)
{
    return set_fd(caller, RLP_SSL_set_rfd, ssl, fd, false);
}

int rlp_ssl_set_wfd(const void *caller, void *ssl, int fd)
{
    return set_fd(caller, RLP_SSL_set_wfd, ssl, fd, false);
}

/* A handshake: SSL_connect makes an SSL a client (one of a generic method
 * is a server until then); for SSL_do_handshake the role is set before,
 * and asked after. */
static int handshake(const void *caller, int id, void *ssl)
{
    int saved = errno, rc, err;
    const struct rlp_tls_lib *lib = rlp_tls_lib_for(caller, id);
    ssl_one_fn real = FN(lib, ssl_one_fn, id);
    struct rlp_tls *s;

    if (real == NULL) {
        errno = ENOSYS;
        return -1;
    }
    s = ssl_session(lib, ssl, false);
    if (s != NULL && id == RLP_SSL_connect)
        atomic_store(&s->role_known, true);
    errno = saved;
    INSIDE(s, lib, rc = real(ssl));
    err = errno;
    if (s != NULL && ssl_session(lib, ssl, true) != NULL)
        note_random(s, ssl_random);
    errno = err;
    return rc;
}

int rlp_ssl_connect(const void *caller, void *ssl)
{
    return handshake(caller, RLP_SSL_connect, ssl);
}

int rlp_ssl_do_handshake(const void *caller, void *ssl)
{
    return handshake(caller, RLP_SSL_do_handshake, ssl);
}

/* SSL_up_ref: one SSL_free more before the SSL is gone. */
int rlp_ssl_up_ref(const void *caller, void *ssl)
{
    int saved = errno, rc, err;
    const struct rlp_tls_lib *lib = rlp_tls_lib_for(caller, RLP_SSL_up_ref);
    ssl_one_fn real = FN(lib, ssl_one_fn, RLP_SSL_up_ref);
    struct rlp_tls *s;

    if (real == NULL) {
        errno = ENOSYS;
        return 0;
    }
    errno = saved;
    CALLING(lib, rc = real(ssl));
    err = errno;
    s = rc == 1 ? lookup(ssl) : NULL;
    if (s != NULL)
        atomic_fetch_add(&s->refs, 1);
    errno = err;
    return rc;
}

void rlp_ssl_free(const void *caller, void *ssl)
{
    int saved = errno, refs;
    const struct rlp_tls_lib *lib = rlp_tls_lib_for(caller, RLP_SSL_free);
    ssl_free_fn real = FN(lib, ssl_free_fn, RLP_SSL_free);
    struct rlp_tls *s = ssl != NULL ? lookup(ssl) : NULL;

    /* Only the last reference's free frees it (see SSL_up_ref). */
    refs = s != NULL ? atomic_load(&s->refs) : 0;
    while (refs > 0 && !atomic_compare_exchange_weak(&s->refs, &refs, refs - 1))
        ;
    /* A watched copy reports the destruction itself, also past an
     * SSL_up_ref rlc did not see; else the last free seen forgets. */
    if (s != NULL && refs == 0 &&
        (s->lib == NULL || !atomic_load(&s->lib->watched)))
        forget(ssl);
    errno = saved;
    if (real != NULL)
        CALLING(lib, real(ssl));
}

long rlp_ssl_ctrl(const void *caller, void *ssl, int cmd, long larg, void *parg)
{
    int saved = errno, err;
    const struct rlp_tls_lib *lib = rlp_tls_lib_for(caller, RLP_SSL_ctrl);
    ssl_ctrl_fn real = FN(lib, ssl_ctrl_fn, RLP_SSL_ctrl);
    long rc;

    if (real == NULL) {
        errno = ENOSYS;
        return 0;
    }
    errno = saved;
    CALLING(lib, rc = real(ssl, cmd, larg, parg));
    if (cmd != SSL_CTRL_SET_TLSEXT_HOSTNAME ||
        larg != TLSEXT_NAMETYPE_host_name || rc != 1 || parg == NULL)
        return rc;
    err = errno;
    set_name(ssl_session(lib, ssl, false), parg, strlen(parg));
    errno = err;
    return rc;
}

/* ---- GnuTLS -------------------------------------------------------------- */

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

#define GNUTLS_SERVER 1
#define GNUTLS_NAME_DNS 1
#define GNUTLS_E_AGAIN (-28)
#define GNUTLS_E_INTERRUPTED (-52)
#define GNUTLS_E_PUSH_ERROR (-53)
#define GNUTLS_E_INTERNAL_ERROR (-59)
#define GNUTLS_RECORD_MAX 16384 /* plaintext one record carries, at most */

/* The send GNUTLS_E_AGAIN interrupted is over: done bytes of it (-1:
 * none that rlc can tell) left, read from bytes. */
static void settle_again(struct rlp_tls *s, const void *bytes, ssize_t done)
{
    s->pending = NULL;
    if (!s->again_planned)
        return;
    s->again_planned = false;
    after_write(s, bytes != NULL ? bytes : s->again_copy, done, &s->again);
    free(s->again_copy);
    s->again_copy = NULL;
}

static bool gnutls_random(const struct rlp_tls_lib *lib, const void *session,
                          unsigned char out[32])
{
    gnutls_get_random_fn fn =
        FN(lib, gnutls_get_random_fn, RLP_gnutls_session_get_random);
    datum client = {NULL, 0}, server = {NULL, 0};

    if (fn == NULL)
        return false;
    fn((void *)session, &client, &server);
    if (client.data == NULL || client.size != 32)
        return false;
    memcpy(out, client.data, 32);
    return true;
}

static struct rlp_tls *gnutls_session(const struct rlp_tls_lib *lib,
                                      void *session)
{
    struct rlp_tls *s;

    if (rlp_busy || session == NULL)
        return NULL;
    s = lookup(session);
    if (s == NULL) {
        rlp_busy++;
        s = find_or_add(session);
        if (s != NULL && s->lib == NULL)
            s->lib = lib;
        rlp_busy--;
    }
    return s != NULL && !atomic_load(&s->ignored) ? s : NULL;
}

/* gnutls_init says which end a session is: servers are never followed. */
int rlp_gnutls_init(const void *caller, void **session, unsigned int flags)
{
    int saved = errno, rc, err;
    const struct rlp_tls_lib *lib = rlp_tls_lib_for(caller, RLP_gnutls_init);
    gnutls_init_fn real = FN(lib, gnutls_init_fn, RLP_gnutls_init);

    if (real == NULL)
        return GNUTLS_E_INTERNAL_ERROR;
    errno = saved;
    CALLING(lib, rc = real(session, flags));
    err = errno;
    /* A new session: whatever rlc kept at its address (a deinit it did
     * not see) goes. */
    if (rc == 0 && session != NULL && *session != NULL)
        forget(*session);
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

void rlp_gnutls_deinit(const void *caller, void *session)
{
    int saved = errno;
    const struct rlp_tls_lib *lib = rlp_tls_lib_for(caller, RLP_gnutls_deinit);
    gnutls_deinit_fn real = FN(lib, gnutls_deinit_fn, RLP_gnutls_deinit);

    if (session != NULL)
        forget(session);
    errno = saved;
    if (real != NULL)
        CALLING(lib, real(session));
}

ssize_t rlp_gnutls_record_send(const void *caller, void *session,
                               const void *data, size_t len)
{
    int saved = errno, err;
    const struct rlp_tls_lib *lib =
        rlp_tls_lib_for(caller, RLP_gnutls_record_send);
    gnutls_send_fn real = FN(lib, gnutls_send_fn, RLP_gnutls_record_send);
    struct rlp_tls *s = gnutls_session(lib, session);
    struct rlp_plan plan;
    bool planned;
    ssize_t rc;

    if (real == NULL)
        return GNUTLS_E_INTERNAL_ERROR;
    errno = saved;
    if (s == NULL) {
        CALLING(lib, rc = real(session, data, len));
        return rc;
    }
    /* The retry of a send that GNUTLS_E_AGAIN interrupted, which GnuTLS
     * takes as one whatever it is given (NULL, 0; the same bytes, maybe
     * moved or with more after them): charged then; what its record
     * carried is settled now, from the caller's bytes if it gave them
     * again, else from the copy. */
    if (s->pending != NULL &&
        (data == NULL || len == 0 ||
         (data == s->pending && len == s->pending_len) ||
         (s->again_planned && len >= s->again_kept &&
          memcmp(data, s->again_copy, s->again_kept) == 0))) {
        const void *bytes = data != NULL && len > 0 ? data : s->again_copy;
        size_t have = data != NULL && len > 0 ? len : s->again_kept;

        INSIDE(s, lib, rc = real(session, data, len));
        err = errno;
        if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED)
            return rc;
        settle_again(s, bytes, rc > 0 && (size_t)rc <= have ? rc : -1);
        errno = err;
        return rc;
    }
    /* Something else instead: the interrupted send's requests, never
     * settled, stay paid for. */
    settle_again(s, NULL, -1);
    if (data == NULL || len == 0) {
        CALLING(lib, rc = real(session, data, len));
        return rc;
    }
    if (before_write(s, data, len, &plan, &planned) != 0) {
        errno = ETIMEDOUT;
        return GNUTLS_E_PUSH_ERROR;
    }
    errno = saved;
    INSIDE(s, lib, rc = real(session, data, len));
    err = errno;
    if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
        size_t keep = len < GNUTLS_RECORD_MAX ? len : GNUTLS_RECORD_MAX;

        s->pending = data;
        s->pending_len = len;
        if (planned)
            s->again_copy = malloc(keep);
        if (planned && s->again_copy != NULL) {
            memcpy(s->again_copy, data, keep);
            s->again = plan; /* its requests stay paid for till then */
            s->again_kept = keep;
            s->again_planned = true;
        } else if (planned) {
            after_write(s, data, -1, &plan); /* out of memory: prepaid */
        }
    } else if (planned) {
        after_write(s, data, rc > 0 ? rc : -1, &plan);
    }
    note_random(s, gnutls_random);
    errno = err;
    return rc;
}

ssize_t rlp_gnutls_record_recv(const void *caller, void *session, void *data,
                               size_t len)
{
    int saved = errno, err;
    const struct rlp_tls_lib *lib =
        rlp_tls_lib_for(caller, RLP_gnutls_record_recv);
    gnutls_recv_fn real = FN(lib, gnutls_recv_fn, RLP_gnutls_record_recv);
    struct rlp_tls *s = gnutls_session(lib, session);
    ssize_t rc;

    if (real == NULL)
        return GNUTLS_E_INTERNAL_ERROR;
    errno = saved;
    if (s == NULL) {
        CALLING(lib, rc = real(session, data, len));
        return rc;
    }
    INSIDE(s, lib, rc = real(session, data, len));
    err = errno;
    if (rc > 0)
        after_read(s, data, (size_t)rc);
    note_random(s, gnutls_random);
    errno = err;
    return rc;
}

int rlp_gnutls_server_name_set(const void *caller, void *session, int type,
                               const void *name, size_t len)
{
    int saved = errno, rc, err;
    const struct rlp_tls_lib *lib =
        rlp_tls_lib_for(caller, RLP_gnutls_server_name_set);
    gnutls_name_set_fn real =
        FN(lib, gnutls_name_set_fn, RLP_gnutls_server_name_set);

    if (real == NULL)
        return GNUTLS_E_INTERNAL_ERROR;
    errno = saved;
    CALLING(lib, rc = real(session, type, name, len));
    err = errno;
    if (rc == 0 && type == GNUTLS_NAME_DNS)
        set_name(gnutls_session(lib, session), name, len);
    errno = err;
    return rc;
}

void rlp_gnutls_transport_set_int2(const void *caller, void *session,
                                   int recv_fd, int send_fd)
{
    int saved = errno;
    const struct rlp_tls_lib *lib =
        rlp_tls_lib_for(caller, RLP_gnutls_transport_set_int2);
    gnutls_set_int2_fn real =
        FN(lib, gnutls_set_int2_fn, RLP_gnutls_transport_set_int2);
    struct rlp_tls *s;

    errno = saved;
    if (real != NULL)
        CALLING(lib, real(session, recv_fd, send_fd));
    saved = errno;
    s = gnutls_session(lib, session);
    if (s != NULL && send_fd >= 0)
        link_fd(s, send_fd);
    errno = saved;
}

int rlp_gnutls_handshake(const void *caller, void *session)
{
    int saved = errno, rc, err;
    const struct rlp_tls_lib *lib =
        rlp_tls_lib_for(caller, RLP_gnutls_handshake);
    gnutls_handshake_fn real =
        FN(lib, gnutls_handshake_fn, RLP_gnutls_handshake);
    struct rlp_tls *s;

    if (real == NULL)
        return GNUTLS_E_INTERNAL_ERROR;
    s = gnutls_session(lib, session);
    errno = saved;
    INSIDE(s, lib, rc = real(session));
    err = errno;
    if (s != NULL)
        note_random(s, gnutls_random);
    errno = err;
    return rc;
}

void rlp_tls_after_fork_child(void)
{
    inside = NULL; /* the forking thread's, were it inside a call */
    pthread_mutex_init(&mu, NULL);
    rlp_tls_libs_after_fork_child();
    for (size_t i = 0; i < TABLE_SIZE; i++) {
        struct rlp_tls *s = atomic_load(&table[i]);

        if (s != NULL && s != &tombstone)
            atomic_store(&s->flow.lock, 0);
    }
}
