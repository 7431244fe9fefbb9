/* SPDX-License-Identifier: MIT */
/*
 * bus_nats.c - the bus over NATS servers, on the nats.c client (libnats);
 * the only file that includes its header.
 *
 * The connection retries forever in the background, so a server that is
 * down costs messages, never a caller's time. Publish only queues into a
 * bounded outbox that one sender thread hands to nats: nats holds its
 * connection lock through each reconnect attempt's TCP connect and
 * handshake, which would stall a caller for up to the connect timeout.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nats/nats.h>

#include "bus.h"
#include "internal.h"

#define DEFAULT_URL "nats://127.0.0.1:4222"
#define RECONNECT_WAIT_MS 250   /* the first retry, doubling... */
#define RECONNECT_MAX_MS 5000   /* ...up to this */
#define PING_INTERVAL_MS 10000  /* a silent server is dropped in ~30 s */
#define OUTBOX_MAX (1 << 20)    /* bytes waiting for the sender thread */
#define RECONNECT_BUF (1 << 20) /* bytes nats keeps while disconnected */
#define SUB_FLUSH_MS 2000       /* how long subscribe waits for the server */
#define ERR_MAX 256

/* Connection state, as the connection callbacks report it. */
enum { ST_UNKNOWN = -1, ST_DOWN, ST_UP, ST_CLOSED };

/* A queued message: payload, then the subject and its NUL. */
struct omsg {
    struct omsg *next;
    size_t size; /* counted against OUTBOX_MAX */
    size_t len;
    const char *subject;
    char data[];
};

struct nbus;

typedef struct nsub {
    rlc__bus_sub base;
    struct nbus *bus;
    natsSubscription *ns;
    struct nsub *next;
    atomic_bool dead; /* unsubscribed: fn is never called again */
    /* under bus->mu */
    bool complete; /* nats is done with it: its handler will never run */
    bool orphan;   /* unsubscribed from its own callback: freed once
                      complete, by the next (un)subscribe or destroy */
    bool zombie;   /* closed before the completion callback was set */
} nsub;

typedef struct nbus {
    rlc_bus base;
    natsConnection *nc;
    natsOptions *opts;
    _Atomic int state;
    atomic_bool full;        /* nats's reconnect buffer overflowed */
    _Atomic uint64_t losses; /* disconnections so far */
    int64_t wait_ms, max_ms;
    _Atomic uint64_t rng;

    pthread_mutex_t mu;
    pthread_cond_t done; /* closed_seen, or a subscription completed */
    pthread_cond_t work; /* the outbox has messages, or stopping */
    nsub *subs;
    bool closed_seen; /* the closed callback ran: no more callbacks */
    char err[ERR_MAX];
    struct omsg *head, **tail;
    size_t queued;
    bool stopping;
    bool has_sender;
    pthread_t sender;
} nbus;

/* nats's error text carries its source position: "(conn.c:1905): ". */
static const char *nats_text(natsStatus s)
{
    natsStatus ls;
    const char *t = nats_GetLastError(&ls), *p;

    if (t == NULL || *t == '\0')
        return natsStatus_GetText(s);
    if (t[0] == '(') {
        p = strstr(t, "): ");
        if (p != NULL)
            t = p + 3;
    }
    return t;
}

/* Why the nats call this thread just made failed, for a person. */
static void describe(char *buf, size_t n, const char *what, natsStatus s)
{
    if (buf != NULL && n > 0)
        snprintf(buf, n, "nats: %s: %s", what, nats_text(s));
}

static void set_err(nbus *b, const char *what, natsStatus s)
{
    char text[ERR_MAX];

    describe(text, sizeof(text), what, s);
    pthread_mutex_lock(&b->mu);
    memcpy(b->err, text, sizeof(b->err));
    pthread_mutex_unlock(&b->mu);
}

static void set_err_text(nbus *b, const char *text)
{
    pthread_mutex_lock(&b->mu);
    snprintf(b->err, sizeof(b->err), "nats: %s", text);
    pthread_mutex_unlock(&b->mu);
}

static rlc_status status_of(natsStatus s)
{
    return s == NATS_NO_MEMORY ? RLC_ENOMEM : RLC_EBUS;
}

/*
 * Connection callbacks: nats runs all of them, for every connection, on
 * one thread in the order they were posted, so the last one wins and the
 * closed callback is the last of all.
 */

static void on_connected(natsConnection *nc, void *closure)
{
    nbus *b = closure;

    (void)nc;
    atomic_store(&b->state, ST_UP);
}

static void on_reconnected(natsConnection *nc, void *closure)
{
    nbus *b = closure;

    (void)nc;
    atomic_store(&b->full, false);
    atomic_store(&b->state, ST_UP);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
    nbus *b = closure;

    (void)nc;
    atomic_fetch_add(&b->losses, 1);
    atomic_store(&b->state, ST_DOWN);
}

static void on_closed(natsConnection *nc, void *closure)
{
    nbus *b = closure;
    const char *text = NULL;
    natsStatus s = natsConnection_GetLastError(nc, &text);

    pthread_mutex_lock(&b->mu);
    /* Closed by nats itself: it gave up (the servers refused us). */
    if (!b->stopping)
        snprintf(b->err, sizeof(b->err), "nats: connection closed: %s",
                 s != NATS_OK && text != NULL && *text != '\0'
                     ? text
                     : natsStatus_GetText(s));
    atomic_store(&b->state, ST_CLOSED);
    b->closed_seen = true;
    pthread_cond_broadcast(&b->done);
    pthread_mutex_unlock(&b->mu);
}

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus err,
                     void *closure)
{
    nbus *b = closure;

    (void)nc;
    pthread_mutex_lock(&b->mu);
    snprintf(b->err, sizeof(b->err), "nats: %s%s%s", natsStatus_GetText(err),
             sub != NULL ? " on " : "",
             sub != NULL ? natsSubscription_GetSubject(sub) : "");
    pthread_mutex_unlock(&b->mu);
}

/* xorshift64*: jitter needs no quality, only to differ between agents. */
static uint64_t next_rand(nbus *b)
{
    uint64_t x = atomic_load_explicit(&b->rng, memory_order_relaxed);

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    atomic_store_explicit(&b->rng, x, memory_order_relaxed);
    return x * UINT64_C(2685821657736338717);
}

/* Called by nats after each pass over the server list that failed. A
 * whole swarm loses its server at once: +-25 % jitter keeps it from
 * coming back at once. */
static int64_t reconnect_delay(natsConnection *nc, int attempts, void *closure)
{
    nbus *b = closure;
    int64_t d = b->wait_ms;
    int i;

    (void)nc;
    for (i = 1; i < attempts && d < b->max_ms; i++)
        d *= 2;
    if (d > b->max_ms)
        d = b->max_ms;
    return d - d / 4 + (int64_t)(next_rand(b) % (uint64_t)(d / 2 + 1));
}

/*
 * The outbox. One thread publishes what callers queued, in order; when
 * nats refuses a message (its reconnect buffer is full) the message is
 * lost and later publishes fail fast until the connection is back.
 */

static void *sender_main(void *arg)
{
    nbus *b = arg;
    struct omsg *m;
    natsStatus s;

    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (b->head == NULL && !b->stopping)
            pthread_cond_wait(&b->work, &b->mu);
        m = b->head;
        if (m == NULL)
            break;
        b->head = m->next;
        if (b->head == NULL)
            b->tail = &b->head;
        pthread_mutex_unlock(&b->mu);

        s = natsConnection_Publish(b->nc, m->subject, m->data, (int)m->len);
        if (s == NATS_INSUFFICIENT_BUFFER)
            atomic_store(&b->full, true);
        /* Once closed, why it closed says more than each lost message. */
        if (s != NATS_OK && atomic_load(&b->state) != ST_CLOSED)
            set_err(b, "publish", s);

        pthread_mutex_lock(&b->mu);
        b->queued -= m->size;
        free(m);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

static rlc_status nats_publish(rlc_bus *bus, const char *subject,
                               const void *data, size_t len)
{
    nbus *b = (nbus *)bus;
    size_t sl = strlen(subject), size;
    struct omsg *m;

    if (atomic_load(&b->state) == ST_CLOSED || atomic_load(&b->full))
        return RLC_EBUS;
    if (len > OUTBOX_MAX || sl > OUTBOX_MAX) {
        set_err_text(b, "message too large: dropped");
        return RLC_EBUS;
    }
    size = sizeof(*m) + len + sl + 1;
    m = malloc(size);
    if (m == NULL)
        return RLC_ENOMEM;
    m->next = NULL;
    m->size = size;
    m->len = len;
    if (len > 0)
        memcpy(m->data, data, len);
    memcpy(m->data + len, subject, sl + 1);
    m->subject = m->data + len;

    pthread_mutex_lock(&b->mu);
    if (b->stopping || b->queued + size > OUTBOX_MAX) {
        snprintf(b->err, sizeof(b->err), "nats: outbox full: dropped");
        pthread_mutex_unlock(&b->mu);
        free(m);
        return RLC_EBUS;
    }
    *b->tail = m;
    b->tail = &m->next;
    b->queued += size;
    pthread_cond_signal(&b->work);
    pthread_mutex_unlock(&b->mu);
    return RLC_OK;
}

/*
 * Subscriptions. nats calls on_complete once a closed subscription's
 * handler has returned for the last time; unsubscribe waits for it, so
 * that the caller may free the callback's argument.
 */

static void on_msg(natsConnection *nc, natsSubscription *ns, natsMsg *msg,
                   void *closure)
{
    nsub *s = closure;
    const char *data = natsMsg_GetData(msg);

    (void)nc;
    (void)ns;
    if (!atomic_load(&s->dead))
        rlc__bus_deliver(&s->base, natsMsg_GetSubject(msg),
                         data != NULL ? data : "",
                         (size_t)natsMsg_GetDataLength(msg));
    natsMsg_Destroy(msg);
}

static void on_complete(void *closure)
{
    nsub *s = closure;
    nbus *b = s->bus;

    pthread_mutex_lock(&b->mu);
    s->complete = true;
    pthread_cond_broadcast(&b->done);
    pthread_mutex_unlock(&b->mu);
}

static void free_sub(nsub *s)
{
    natsSubscription_Destroy(s->ns);
    free(s);
}

/* Frees the subscriptions that unsubscribed themselves and are done. */
static void sweep(nbus *b)
{
    nsub *gone = NULL, **p, *s;

    pthread_mutex_lock(&b->mu);
    for (p = &b->subs; (s = *p) != NULL;) {
        if (s->orphan && s->complete) {
            *p = s->next;
            s->next = gone;
            gone = s;
        } else {
            p = &s->next;
        }
    }
    pthread_mutex_unlock(&b->mu);
    while ((s = gone) != NULL) {
        gone = s->next;
        free_sub(s);
    }
}

static rlc_status nats_subscribe(rlc_bus *bus, const char *subject,
                                 rlc__bus_msg_fn fn, void *arg,
                                 rlc__bus_sub **out)
{
    nbus *b = (nbus *)bus;
    nsub *s;
    natsStatus st;

    sweep(b);
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return RLC_ENOMEM;
    s->base.fn = fn;
    s->base.arg = arg;
    s->bus = b;
    atomic_init(&s->dead, false);

    st = natsConnection_Subscribe(&s->ns, b->nc, subject, on_msg, s);
    if (st != NATS_OK) {
        set_err(b, "subscribe", st);
        free(s);
        return status_of(st);
    }
    st = natsSubscription_SetOnCompleteCB(s->ns, on_complete, s);
    pthread_mutex_lock(&b->mu);
    if (st != NATS_OK) {
        /* Already closed (the connection gave up): its handler may still
         * be running, so it is kept, unused, until the bus is freed. */
        atomic_store(&s->dead, true);
        s->zombie = true;
    }
    s->next = b->subs;
    b->subs = s;
    pthread_mutex_unlock(&b->mu);
    if (st != NATS_OK) {
        set_err(b, "subscribe", st);
        return RLC_EBUS;
    }
    /* A PING round trip: the server has the interest when we return. */
    if (atomic_load(&b->state) == ST_UP)
        (void)natsConnection_FlushTimeout(b->nc, SUB_FLUSH_MS);
    *out = &s->base;
    return RLC_OK;
}

static void nats_unsubscribe(rlc_bus *bus, rlc__bus_sub *sub)
{
    nbus *b = (nbus *)bus;
    nsub *s = (nsub *)sub, **p;

    atomic_store(&s->dead, true);
    /* Fails only if already closed; on_complete comes either way. */
    (void)natsSubscription_Unsubscribe(s->ns);

    pthread_mutex_lock(&b->mu);
    if (rlc__bus_delivering(sub)) {
        /* Inside its own handler: waiting would wait for ourselves. */
        s->orphan = true;
        pthread_mutex_unlock(&b->mu);
        return;
    }
    while (!s->complete)
        pthread_cond_wait(&b->done, &b->mu);
    for (p = &b->subs; *p != NULL; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            break;
        }
    }
    pthread_mutex_unlock(&b->mu);
    free_sub(s);
    sweep(b);
}

static uint64_t nats_losses(const rlc_bus *bus)
{
    return atomic_load(&((const nbus *)bus)->losses);
}

static bool nats_connected(const rlc_bus *bus)
{
    const nbus *b = (const nbus *)bus;

    /* Not natsConnection_Status(): it takes the connection lock, held
     * for seconds during a reconnect attempt. */
    return atomic_load(&b->state) == ST_UP;
}

static bool nats_last_error(const rlc_bus *bus, char *buf, size_t len)
{
    nbus *b = (nbus *)bus;
    bool any;

    pthread_mutex_lock(&b->mu);
    any = b->err[0] != '\0';
    snprintf(buf, len, "%s", b->err);
    pthread_mutex_unlock(&b->mu);
    return any;
}

static void stop_sender(nbus *b)
{
    pthread_mutex_lock(&b->mu);
    b->stopping = true;
    pthread_cond_signal(&b->work);
    pthread_mutex_unlock(&b->mu);
    if (b->has_sender)
        pthread_join(b->sender, NULL); /* after it emptied the outbox */
    b->has_sender = false;
}

static void free_bus(nbus *b)
{
    natsOptions_Destroy(b->opts);
    pthread_cond_destroy(&b->work);
    pthread_cond_destroy(&b->done);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

/*
 * nats_Close(), which frees the library's global state, is never called:
 * another part of the process (a second bus, the program itself) may be
 * using nats, and the library cannot tell. Its threads and memory stay
 * until exit.
 */
static void nats_destroy(rlc_bus *bus)
{
    nbus *b = (nbus *)bus;
    nsub *s, *next;

    stop_sender(b);
    /* Flushes what is buffered (up to 500 ms) when connected, closes
     * every subscription and ends the reconnect thread. */
    natsConnection_Close(b->nc);

    pthread_mutex_lock(&b->mu);
    while (!b->closed_seen)
        pthread_cond_wait(&b->done, &b->mu);
    for (s = b->subs; s != NULL; s = s->next)
        while (!s->complete && !s->zombie)
            pthread_cond_wait(&b->done, &b->mu);
    pthread_mutex_unlock(&b->mu);

    for (s = b->subs; s != NULL; s = next) {
        next = s->next;
        free_sub(s);
    }
    natsConnection_Destroy(b->nc);
    free_bus(b);
}

static const rlc__bus_ops nats_ops = {
    .publish = nats_publish,
    .subscribe = nats_subscribe,
    .unsubscribe = nats_unsubscribe,
    .connected = nats_connected,
    .losses = nats_losses,
    .last_error = nats_last_error,
    .destroy = nats_destroy,
};

/*
 * Connecting.
 */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* nats accepts nearly anything as a URL and then retries it forever;
 * catch the typos: [nats|tls://][user[:pass]@]host[:port], host or
 * [v6] without white space or '/', port 1..65535. */
static bool url_ok(const char *u, size_t n)
{
    const char *end = u + n, *p, *host, *hend, *port = NULL;
    unsigned long v = 0;

    p = strstr(u, "://");
    if (p != NULL && p < end) {
        if (!((p - u == 4 && strncasecmp(u, "nats", 4) == 0) ||
              (p - u == 3 && strncasecmp(u, "tls", 3) == 0)))
            return false;
        u = p + 3;
    }
    for (p = end; p > u; p--)
        if (p[-1] == '@')
            break;
    host = p > u ? p : u;
    if (host < end && *host == '[') {
        hend = memchr(host, ']', (size_t)(end - host));
        if (hend == NULL || hend == host + 1)
            return false;
        hend++;
        if (hend < end && *hend != ':')
            return false;
    } else {
        for (hend = host; hend < end && *hend != ':'; hend++)
            ;
        if (hend == host)
            return false;
    }
    for (p = host; p < hend; p++)
        if (is_space(*p) || *p == '/' || *p == '@')
            return false;
    if (hend < end) {
        port = hend + 1;
        if (port == end || end - port > 5)
            return false;
        for (p = port; p < end; p++) {
            if (*p < '0' || *p > '9')
                return false;
            v = v * 10 + (unsigned long)(*p - '0');
        }
        if (v == 0 || v > 65535)
            return false;
    }
    return true;
}

/* Splits the comma-separated list into urls[] (pointing into *copy). */
static rlc_status split_urls(const char *list, char **copy, const char ***urls,
                             int *count, char *err, size_t errlen)
{
    size_t n = 1, i = 0, len;
    const char *c;
    char *s, *tok, *save = NULL, *e;

    for (c = list; *c != '\0'; c++)
        n += *c == ',';
    *copy = strdup(list);
    *urls = calloc(n, sizeof(**urls));
    if (*copy == NULL || *urls == NULL)
        return RLC_ENOMEM;
    for (s = *copy; (tok = strtok_r(s, ",", &save)) != NULL; s = NULL) {
        while (is_space(*tok))
            tok++;
        len = strlen(tok);
        for (e = tok + len; e > tok && is_space(e[-1]); e--)
            *(e - 1) = '\0';
        if (*tok == '\0')
            continue;
        if (!url_ok(tok, strlen(tok))) {
            if (err != NULL && errlen > 0)
                snprintf(err, errlen, "nats: malformed URL '%s'", tok);
            return RLC_EBUS;
        }
        (*urls)[i++] = tok;
    }
    if (i == 0) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "nats: no URL in '%s'", list);
        return RLC_EBUS;
    }
    *count = (int)i;
    return RLC_OK;
}

static bool readable(const char *path, const char *what, char *err,
                     size_t errlen)
{
    FILE *f = fopen(path, "r");
    char buf[128];

    if (f != NULL) {
        fclose(f);
        return true;
    }
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "nats: cannot read %s '%s': %s", what, path,
                 strerror_r(errno, buf, sizeof(buf)));
    return false;
}

static rlc_status make_options(nbus *b, const rlc_nats_options *o, char *err,
                               size_t errlen)
{
    const char **urls = NULL;
    char *copy = NULL;
    int count = 0;
    natsStatus s;
    rlc_status st;

    st = split_urls(o->url != NULL ? o->url : DEFAULT_URL, &copy, &urls, &count,
                    err, errlen);
    if (st == RLC_OK && o->creds_file != NULL &&
        !readable(o->creds_file, "credentials file", err, errlen))
        st = RLC_EBUS;
    if (st == RLC_OK && o->tls_key != NULL && o->tls_cert == NULL) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "nats: tls_key without tls_cert");
        st = RLC_EBUS;
    }
    if (st != RLC_OK) {
        free(urls);
        free(copy);
        return st;
    }

    s = natsOptions_Create(&b->opts);
    if (s == NATS_OK)
        s = natsOptions_SetServers(b->opts, urls, count);
    if (s == NATS_OK && o->name != NULL)
        s = natsOptions_SetName(b->opts, o->name);
    if (s == NATS_OK && o->token != NULL)
        s = natsOptions_SetToken(b->opts, o->token);
    if (s == NATS_OK && o->user != NULL)
        s = natsOptions_SetUserInfo(b->opts, o->user, o->password);
    if (s == NATS_OK && o->creds_file != NULL)
        s = natsOptions_SetUserCredentialsFromFiles(b->opts, o->creds_file,
                                                    NULL);
    if (s == NATS_OK && (o->tls_ca != NULL || o->tls_cert != NULL))
        s = natsOptions_SetSecure(b->opts, true);
    if (s == NATS_OK && o->tls_ca != NULL)
        s = natsOptions_LoadCATrustedCertificates(b->opts, o->tls_ca);
    if (s == NATS_OK && o->tls_cert != NULL)
        s = natsOptions_LoadCertificatesChain(b->opts, o->tls_cert,
                                              o->tls_key != NULL ? o->tls_key
                                                                 : o->tls_cert);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(b->opts, -1);
    if (s == NATS_OK)
        s = natsOptions_SetCustomReconnectDelay(b->opts, reconnect_delay, b);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectBufSize(b->opts, RECONNECT_BUF);
    if (s == NATS_OK)
        s = natsOptions_SetPingInterval(b->opts, PING_INTERVAL_MS);
    if (s == NATS_OK)
        s = natsOptions_SetMaxPingsOut(b->opts, 2);
    if (s == NATS_OK)
        s = natsOptions_SetDisconnectedCB(b->opts, on_disconnected, b);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectedCB(b->opts, on_reconnected, b);
    if (s == NATS_OK)
        s = natsOptions_SetClosedCB(b->opts, on_closed, b);
    if (s == NATS_OK)
        s = natsOptions_SetErrorHandler(b->opts, on_error, b);
    if (s != NATS_OK)
        describe(err, errlen, "options", s);
    free(urls);
    free(copy);
    return s == NATS_OK ? RLC_OK : status_of(s);
}

/* Failures a later attempt may not see: the server is not there (yet). */
static bool transient(natsStatus s)
{
    switch (s) {
    case NATS_NO_SERVER:
    case NATS_IO_ERROR:
    case NATS_TIMEOUT:
    case NATS_STALE_CONNECTION:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_PROTOCOL_ERROR:
    case NATS_ERR:
        return true;
    default:
        return false;
    }
}

/*
 * One attempt first, without retrying: a server that answers and refuses
 * us (credentials, TLS) is an error for the caller now, not a bus that
 * silently never connects. If no server answers, connect again with
 * retries in the background: nats tries once more, then returns.
 */
static rlc_status start(nbus *b, char *err, size_t errlen)
{
    natsStatus s;
    int unknown = ST_UNKNOWN;

    s = natsOptions_SetRetryOnFailedConnect(b->opts, false, NULL, NULL);
    if (s == NATS_OK)
        s = natsConnection_Connect(&b->nc, b->opts);
    if (s == NATS_OK) {
        atomic_compare_exchange_strong(&b->state, &unknown, ST_UP);
        return RLC_OK;
    }
    b->nc = NULL;
    if (!transient(s)) {
        describe(err, errlen, "connect", s);
        return status_of(s);
    }

    s = natsOptions_SetRetryOnFailedConnect(b->opts, true, on_connected, b);
    if (s == NATS_OK)
        s = natsConnection_Connect(&b->nc, b->opts);
    if (s == NATS_OK || s == NATS_NOT_YET_CONNECTED) {
        atomic_compare_exchange_strong(&b->state, &unknown,
                                       s == NATS_OK ? ST_UP : ST_DOWN);
        return RLC_OK;
    }
    b->nc = NULL;
    describe(err, errlen, "connect", s);
    return status_of(s);
}

rlc_status rlc__nats_bus_connect_err(const rlc_nats_options *o, rlc_bus **out,
                                     char *err, size_t errlen)
{
    static const rlc_nats_options defaults;
    nbus *b;
    rlc_status st;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (out == NULL)
        return RLC_EINVAL;
    *out = NULL;
    if (o == NULL)
        o = &defaults;

    b = calloc(1, sizeof(*b));
    if (b == NULL)
        return RLC_ENOMEM;
    if (pthread_mutex_init(&b->mu, NULL) != 0) {
        free(b);
        return RLC_ENOMEM;
    }
    pthread_cond_init(&b->done, NULL);
    pthread_cond_init(&b->work, NULL);
    b->base.ops = &nats_ops;
    b->tail = &b->head;
    atomic_init(&b->state, ST_UNKNOWN);
    atomic_init(&b->full, false);
    atomic_init(&b->rng, (uint64_t)rlc__realtime_ns() ^ (uint64_t)(uintptr_t)b ^
                             UINT64_C(1));
    b->wait_ms =
        o->reconnect_wait_ns > 0
            ? (o->reconnect_wait_ns + RLC_MILLISECOND - 1) / RLC_MILLISECOND
            : RECONNECT_WAIT_MS;
    b->max_ms = b->wait_ms > RECONNECT_MAX_MS ? b->wait_ms : RECONNECT_MAX_MS;

    st = make_options(b, o, err, errlen);
    if (st == RLC_OK) {
        if (pthread_create(&b->sender, NULL, sender_main, b) == 0)
            b->has_sender = true;
        else
            st = RLC_ENOMEM;
    }
    if (st == RLC_OK)
        st = start(b, err, errlen);
    if (st != RLC_OK) {
        stop_sender(b);
        free_bus(b);
        return st;
    }
    *out = &b->base;
    return RLC_OK;
}

rlc_status rlc_nats_bus_connect_opts(const rlc_nats_options *o, rlc_bus **out)
{
    return rlc__nats_bus_connect_err(o, out, NULL, 0);
}

rlc_status rlc_nats_bus_connect(const char *url, rlc_bus **out)
{
    rlc_nats_options o;

    memset(&o, 0, sizeof(o));
    o.url = url;
    return rlc__nats_bus_connect_err(&o, out, NULL, 0);
}
