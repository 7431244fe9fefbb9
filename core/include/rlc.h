/* SPDX-License-Identifier: MIT */
/*
 * rlc.h - rate limit coordination for swarms of agents: the public C API.
 *
 * One header for the whole library. Public names are rlc_* and RLC_*; the
 * names, numbers and layouts here are a contract: things are added, never
 * renamed or renumbered. Every function is safe to call from any thread at
 * any time unless its comment says otherwise.
 */
#ifndef RLC_H
#define RLC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RLC_VERSION_MAJOR 0
#define RLC_VERSION_MINOR 1
#define RLC_VERSION_PATCH 0
#define RLC_VERSION "0.1.0"

/* Marks the library's exported symbols; everything else stays hidden. */
#if defined(__GNUC__)
#define RLC_EXPORT __attribute__((visibility("default")))
#else
#define RLC_EXPORT
#endif

/* Durations and timeouts are int64_t nanoseconds. */
#define RLC_MILLISECOND INT64_C(1000000)
#define RLC_SECOND INT64_C(1000000000)
#define RLC_MINUTE (60 * RLC_SECOND)
#define RLC_FOREVER INT64_C(-1) /* a timeout that never expires */
#define RLC_RESOURCE_MAX 128    /* longest resource name, NUL included */

/*
 * Status codes. One table generates the enum, rlc_strerror() and
 * rlc_status_name(); a code's number never changes.
 *
 *   OK           success.
 *   ECLOSED      the limiter was closed (rlc_close): no more tokens.
 *   EUNKNOWN     no such resource: never configured, or removed.
 *   EEXHAUSTED   no token now and the caller asked not to wait (timeout 0).
 *   EINVALCAP    a capacity <= 0 was given; the resource was removed.
 *   EINVALWINDOW a window <= 0 was given; the resource was removed.
 *   EINVALCONFIG a configuration struct holds an invalid value.
 *   ETIMEDOUT    the deadline passed before a token was due.
 *   ECANCELED    the wait was cancelled with rlc_cancel_fire().
 *   ENOMEM       an allocation failed; nothing was changed.
 *   EBUS         the message bus failed (connect, publish).
 *   EINVAL       a NULL limiter or name, or a name of RLC_RESOURCE_MAX bytes
 *                or more: misuse of the API, reported instead of crashing.
 *   EFULL        the host limiter's shared table has no slot left for one
 *                more resource (RLC_HOST_SLOTS names per namespace).
 *   ESHARED      the host limiter's shared table file was refused (another
 *                owner, group/other access, wrong magic, version or size,
 *                a symbolic link) or cannot be made; the limiter's error
 *                string (rlc_host_limiter_error) says which file and why.
 */
#define RLC_STATUS_MAP(X)                                                      \
    X(OK, "success")                                                           \
    X(ECLOSED, "limiter is closed")                                            \
    X(EUNKNOWN, "unknown resource")                                            \
    X(EEXHAUSTED, "no token available")                                        \
    X(EINVALCAP, "capacity must be a positive integer")                        \
    X(EINVALWINDOW, "window must be a positive duration")                      \
    X(EINVALCONFIG, "invalid configuration")                                   \
    X(ETIMEDOUT, "timed out waiting for a token")                              \
    X(ECANCELED, "wait cancelled")                                             \
    X(ENOMEM, "out of memory")                                                 \
    X(EBUS, "message bus error")                                               \
    X(EINVAL, "invalid argument (NULL, or resource name too long)")            \
    X(EFULL, "shared table full")                                              \
    X(ESHARED, "shared table refused or unusable")

typedef enum rlc_status {
#define RLC__STATUS_ENUM(name, msg) RLC_##name,
    RLC_STATUS_MAP(RLC__STATUS_ENUM)
#undef RLC__STATUS_ENUM
} rlc_status;

/* A sentence for a person ("unknown resource"); never NULL, static. */
RLC_EXPORT const char *rlc_strerror(rlc_status s);
/* The code's name ("RLC_EUNKNOWN"); never NULL, static. */
RLC_EXPORT const char *rlc_status_name(rlc_status s);

/* A limiter: a set of named resources, each with its own token bucket. */
typedef struct rlc_limiter rlc_limiter;
/* A message bus that distributed limiters share (scope = swarm). */
typedef struct rlc_bus rlc_bus;
/* A cancellation handle: the C form of Go's context cancellation. */
typedef struct rlc_cancel rlc_cancel;
/* A clock: returns monotonic nanoseconds; must never go backwards. */
typedef int64_t (*rlc_clock_fn)(void *arg);

/* A snapshot of one resource, filled by rlc_get_capacity(). */
typedef struct rlc_capacity {
    char resource[RLC_RESOURCE_MAX];
    int available;     /* tokens that can be taken now, 0..total */
    int total;         /* the capacity: tokens per window, and the burst */
    int in_flight;     /* acquired and not yet released */
    int64_t window_ns; /* the refill window */
    int waiting;       /* callers blocked in rlc_acquire() for a token */
    uint64_t epoch;    /* capacity cuts so far: see rlc_announce_reduced_at */
    int64_t paused_until_ns; /* Unix ns; 0: not paused */
} rlc_capacity;

/* A capacity change, passed to rlc_capacity_cb. */
typedef struct rlc_capacity_update { /* valid during the callback only */
    const char *resource, *agent_id, *reason;
    int new_capacity;
    int64_t timestamp_ns; /* Unix time */
} rlc_capacity_update;
typedef void (*rlc_capacity_cb)(const rlc_capacity_update *u, void *arg);

/* Configuration of a distributed limiter (scope = swarm). Fields after
 * max_recovery were added later; their zero values keep the reference
 * package's behaviour. */
typedef struct rlc_distributed_config {
    rlc_bus *bus;
    const char *agent_id;
    double reduce_factor;         /* 0 -> 0.5 */
    int64_t recovery_interval_ns; /* 0 -> 30 s */
    double recovery_factor;       /* 0 -> 1.1 */
    bool max_recovery;            /* default() sets true */
    const char *subject_prefix;   /* NULL -> "ratelimit" */
    bool split;           /* capacity is the swarm's total, shared by agents */
    int min_capacity;     /* no cut goes below it; 0 -> 1 */
    int assumed_agents;   /* split: agents counted at least, until the bus
                             has been up for 3 heartbeats; 0 -> 1 */
    bool split_by_demand; /* split: shares follow what each agent asks
                             for (max-min fair); false: equal shares */
} rlc_distributed_config;

/*
 * rlc_distributed_config_default - the reference defaults: reduce_factor
 * 0.5, recovery_interval 30 s, recovery_factor 1.1, max_recovery true; bus
 * and agent_id NULL (the caller sets them).
 */
RLC_EXPORT rlc_distributed_config rlc_distributed_config_default(void);

/*
 * rlc_distributed_config_validate - RLC_OK when c can build a limiter:
 * bus and agent_id set (agent_id shorter than RLC_RESOURCE_MAX),
 * reduce_factor in (0, 1) or 0, recovery_interval_ns >= 0,
 * recovery_factor > 1 (below 1e6) or 0, assumed_agents >= 0. Else
 * RLC_EINVALCONFIG (RLC_EINVAL for NULL c). Zero values stand for the
 * defaults.
 */
RLC_EXPORT rlc_status
rlc_distributed_config_validate(const rlc_distributed_config *c);

/*
 * Message buses. A distributed limiter publishes capacity cuts on a bus and
 * hears the other agents' there. A bus may be shared by any number of
 * limiters; free it after the last of them.
 */

/*
 * rlc_memory_bus_new - a bus inside this process, for tests and for
 * several limiters of one program: a message published reaches every
 * subscriber on the bus, in the publisher's thread, before publish
 * returns. NULL when out of memory.
 */
RLC_EXPORT rlc_bus *rlc_memory_bus_new(void);

/* How to reach a NATS server; NULL or 0 fields are not used. */
typedef struct rlc_nats_options {
    const char *url;   /* "nats://host:4222", or a comma-separated list;
                          NULL -> "nats://127.0.0.1:4222" */
    const char *name;  /* connection name, shown by the server */
    const char *token; /* token authentication */
    const char *user;  /* user/password authentication */
    const char *password;
    const char *creds_file; /* a .creds file: user JWT and nkey seed */
    const char *tls_ca;     /* PEM file of CAs to trust (turns TLS on) */
    const char *tls_cert;   /* PEM client certificate and key, for mTLS */
    const char *tls_key;
    int64_t reconnect_wait_ns; /* first retry delay; 0 -> 250 ms, doubling
                                  up to 5 s */
} rlc_nats_options;

/*
 * rlc_nats_bus_connect - a bus over the NATS server at url (NULL: the
 * default above). rlc_nats_bus_connect_opts - the same with options.
 *
 * Returns RLC_OK and *out even when the server cannot be reached yet: the
 * bus keeps reconnecting, forever, with backoff, and rlc_bus_connected()
 * tells whether it is connected now. Returns RLC_EBUS (and *out NULL) only
 * for what retrying cannot fix: a malformed URL, an unreadable credentials
 * or certificate file; RLC_EINVAL for NULL out; RLC_ENOMEM.
 */
RLC_EXPORT rlc_status rlc_nats_bus_connect(const char *url, rlc_bus **out);
RLC_EXPORT rlc_status rlc_nats_bus_connect_opts(const rlc_nats_options *o,
                                                rlc_bus **out);

/* rlc_bus_connected - whether messages can flow now (always, in memory). */
RLC_EXPORT bool rlc_bus_connected(const rlc_bus *b);

/*
 * rlc_bus_publish - send len bytes of data on subject. Never blocks: while
 * a NATS bus is disconnected messages are buffered (up to a bound) or
 * dropped. Returns RLC_OK, RLC_EBUS (dropped), RLC_EINVAL.
 */
RLC_EXPORT rlc_status rlc_bus_publish(rlc_bus *b, const char *subject,
                                      const void *data, size_t len);

/* rlc_bus_free - close and free b. NULL is fine. */
RLC_EXPORT void rlc_bus_free(rlc_bus *b);

/*
 * rlc_distributed_limiter_new - a limiter for a swarm: buckets in this
 * process whose capacities follow the cuts of every agent on c->bus.
 *
 * rlc_announce_reduced() cuts by reduce_factor (not below min_capacity)
 * and publishes the cut on <prefix>.capacity in the reference Go package's
 * format; cuts from other agents are applied unless they come from this
 * agent_id, name an unknown resource, do not parse, or are not below the
 * configured capacity. A cut never raises a capacity. Each cut carries the
 * capacity epoch it was made in, and a cut for an epoch already cut is
 * ignored: agents that see the same burst of 429s together cut once. A cut
 * capacity grows back by recovery_factor every recovery_interval (up to the
 * configured one with max_recovery). With split, the configured capacity
 * is the swarm's total: live agents (heartbeats on <prefix>.presence) hold
 * equal shares of it. Capacity callbacks run for every cut and recovery.
 *
 * split_by_demand: each heartbeat also says how many tokens per second the
 * agent asked for lately, per resource, and the total is shared max-min
 * fairly: an agent that asks for less than an equal share holds what it
 * asks (a quarter more, and never below a tenth of an equal share, so it
 * can start again at once); the rest is shared equally by the agents that
 * ask for more; what nobody asks for is spread over all. An agent that
 * found no token at once asks for at least an equal share and twice what
 * it holds. What an agent asks for decays by half a heartbeat when it asks
 * for less. Raising its own share waits a quarter heartbeat after saying
 * so, while others lower theirs as soon as they hear, so the shares add up
 * to at most the total as the swarm moves (given a bus faster than that);
 * while the bus is down no share rises. A resource an agent starts using
 * holds the floor until a heartbeat naming it has gone out (the one time
 * the shares may pass the total, by that floor), or an equal share if the
 * agent has never been heard and the bus is down (a cold start).
 * An agent that sends no demand (an older one) counts as asking for the
 * most; one whose demand does not list a resource does not use it.
 * The share is the bucket's capacity (a burst of floor(share) tokens per
 * window, at least one) with the window stretched to the exact rate.
 *
 * Cold start (split): an agent that starts while the bus is down knows no
 * peers. Until the limiter has been connected for one full presence-expiry
 * period (3 heartbeats) it counts max(live agents, assumed_agents) agents;
 * the ones it has not heard are virtual, and while there are any, every
 * share is rounded down (total / n), so that the shares of all agents add
 * up to at most the total whoever knows whom. After that period live
 * membership alone decides, as before, even across later outages.
 *
 * rlc_pause() pauses the resource here and publishes the pause on
 * <prefix>.pause (a subject Go agents do not listen to). Pauses from
 * other agents are applied unless they come from this agent_id, name an
 * unknown resource, do not parse or have already ended; one more than an
 * hour away is cut to an hour. Each agent adds a random delay of up to
 * 10 % of the pause left (at most 1 s) to a pause it hears, so that the
 * swarm does not resume in lockstep. A pause is not a capacity change:
 * no capacity callback runs for it.
 *
 * Returns RLC_OK and *out, RLC_EINVALCONFIG / RLC_EINVAL (see
 * rlc_distributed_config_validate), RLC_EBUS, RLC_ENOMEM. The bus must
 * outlive the limiter. A thread of the limiter's runs recovery and
 * heartbeats; rlc_free() stops it.
 */
RLC_EXPORT rlc_status
rlc_distributed_limiter_new(const rlc_distributed_config *c, rlc_limiter **out);

/*
 * rlc_distributed_limiter_new_with_clock - the same on an injected clock
 * (see rlc_memory_limiter_new_with_clock): no thread is started, and
 * recovery and heartbeats happen when rlc_clock_advanced() is called.
 */
RLC_EXPORT rlc_status rlc_distributed_limiter_new_with_clock(
    const rlc_distributed_config *c, rlc_clock_fn now, void *arg,
    rlc_limiter **out);

/*
 * rlc_memory_limiter_new - a limiter whose buckets live in this process.
 *
 * Returns a new limiter with no resources (add them with rlc_set_capacity),
 * or NULL when out of memory. The caller owns it and frees it with
 * rlc_free(). Waits use CLOCK_MONOTONIC. Each resource name ever configured
 * keeps a small bucket (about 300 bytes) until rlc_free(), even after it is
 * removed, so that lookups need no lock.
 *
 * Each bucket starts full and refills capacity tokens evenly over its
 * window, exactly: no fraction of a token is ever lost to rounding.
 */
RLC_EXPORT rlc_limiter *rlc_memory_limiter_new(void);

/*
 * rlc_memory_limiter_new_with_clock - the same, reading time from now(arg).
 *
 * For tests and simulations: now(arg) returns nanoseconds, never negative,
 * and must never go backwards. Blocked rlc_acquire() calls cannot know when
 * such a clock moves: after moving it forward, call rlc_clock_advanced() so
 * they look again. now(arg) is called from any thread that uses the limiter,
 * with internal locks held: it must not call back into the limiter. Returns
 * NULL when out of memory or when now is NULL.
 */
RLC_EXPORT rlc_limiter *rlc_memory_limiter_new_with_clock(rlc_clock_fn now,
                                                          void *arg);

/*
 * rlc_clock_advanced - tell a limiter that its injected clock has moved.
 *
 * Every blocked rlc_acquire() of the limiter reads the clock again: a token
 * that is now due is handed out, a deadline that has passed times out.
 * Harmless (and useless) for a limiter on the real clock. NULL is ignored.
 */
RLC_EXPORT void rlc_clock_advanced(rlc_limiter *l);

/*
 * rlc_acquire - take one token for resource, waiting for it if need be.
 *
 * timeout_ns: 0 does not wait (RLC_EEXHAUSTED when no token is there);
 * a positive value waits at most that long (RLC_ETIMEDOUT); RLC_FOREVER
 * (or any negative value) waits without deadline. Waiters of one resource
 * are served in arrival order, each sleeping until its own token is due.
 * A token taken counts as in flight until rlc_release().
 *
 * Returns RLC_OK (a token was taken), RLC_EEXHAUSTED, RLC_ETIMEDOUT,
 * RLC_EUNKNOWN (no such resource, or removed while waiting), RLC_ECLOSED,
 * or RLC_EINVAL (NULL limiter or resource, name too long).
 */
RLC_EXPORT rlc_status rlc_acquire(rlc_limiter *l, const char *resource,
                                  int64_t timeout_ns);

/*
 * rlc_acquire_cancel - rlc_acquire() that rlc_cancel_fire(c) can end.
 *
 * Returns as rlc_acquire(), plus RLC_ECANCELED when c is fired before a
 * token was taken (also when c was fired before the call). c may be NULL.
 * c must outlive the call.
 */
RLC_EXPORT rlc_status rlc_acquire_cancel(rlc_limiter *l, const char *resource,
                                         int64_t timeout_ns, rlc_cancel *c);

/*
 * rlc_cancel_new - a cancellation handle, not fired; NULL when out of memory.
 * One handle may serve any number of waits, on any limiters, at once.
 */
RLC_EXPORT rlc_cancel *rlc_cancel_new(void);

/* rlc_cancel_fire - fire c: every wait using it returns RLC_ECANCELED now,
 * and so does every later one. Firing twice is harmless. NULL is ignored. */
RLC_EXPORT void rlc_cancel_fire(rlc_cancel *c);

/* rlc_cancel_fired - whether c has been fired. */
RLC_EXPORT bool rlc_cancel_fired(const rlc_cancel *c);

/* rlc_cancel_free - free c. No wait may still be using it. NULL is fine. */
RLC_EXPORT void rlc_cancel_free(rlc_cancel *c);

/*
 * rlc_try_acquire - take one token if one is there now; never waits.
 *
 * Returns true when a token was taken (it is then in flight). Returns false
 * when none is available, when the resource is paused (rlc_pause), when
 * callers are already waiting for this resource (they come first), for an
 * unknown resource, a closed limiter, or misuse (NULL, name too long). A
 * denial is not an error. Lock-free when no one is waiting.
 */
RLC_EXPORT bool rlc_try_acquire(rlc_limiter *l, const char *resource);

/*
 * rlc_release - end one in-flight request of resource and give its token
 * back at once (the bucket never holds more than its capacity). The first
 * waiter, if any, is woken. Unknown resources, a closed limiter and NULL
 * are ignored.
 */
RLC_EXPORT void rlc_release(rlc_limiter *l, const char *resource);

/*
 * rlc_set_capacity - configure resource: capacity tokens per window_ns.
 *
 * A new resource starts full. For an existing one the tokens available are
 * kept, capped at the new capacity; the refill continues at the new rate.
 * capacity <= 0 or window_ns <= 0 removes the resource (its waiters get
 * RLC_EUNKNOWN) and returns RLC_EINVALCAP or RLC_EINVALWINDOW.
 *
 * Returns RLC_OK, RLC_EINVALCAP, RLC_EINVALWINDOW, RLC_ECLOSED, RLC_ENOMEM
 * or RLC_EINVAL. Waiters are woken to see the change.
 */
RLC_EXPORT rlc_status rlc_set_capacity(rlc_limiter *l, const char *resource,
                                       int capacity, int64_t window_ns);

/*
 * rlc_announce_reduced - report that resource was rate limited upstream
 * (an HTTP 429) and cut its capacity. The memory limiter cuts its own
 * capacity to 75 % (never below 1) and calls the capacity callbacks with an
 * empty agent_id. reason is for people (may be NULL). Unknown resources,
 * a closed limiter and NULL are ignored.
 */
RLC_EXPORT void rlc_announce_reduced(rlc_limiter *l, const char *resource,
                                     const char *reason);

/*
 * rlc_announce_reduced_at - rlc_announce_reduced() for a 429 answering a
 * request sent in capacity epoch `epoch` (rlc_capacity.epoch, read when the
 * request left). If the capacity has been cut since, the 429 was the old
 * capacity's answer and nothing is cut: a burst of 429s for requests sent
 * before one cut costs that one cut only.
 */
RLC_EXPORT void rlc_announce_reduced_at(rlc_limiter *l, const char *resource,
                                        const char *reason, uint64_t epoch);

/*
 * rlc_pause - hold resource until until_unix_ns (CLOCK_REALTIME ns): the
 * answer to an HTTP Retry-After. While paused, rlc_try_acquire() returns
 * false and rlc_acquire() waits until the pause ends, then for a token as
 * usual (tokens keep accruing meanwhile, up to the capacity). A wait whose
 * deadline comes before the pause ends returns RLC_ETIMEDOUT when the
 * deadline passes (with timeout 0: RLC_EEXHAUSTED at once). Waiters are
 * not woken early, but look again: none takes a token during the pause.
 *
 * A pause never shortens a longer one already in force; a time not in the
 * future does nothing. The pause is kept in the limiter's own clock (the
 * time left is added to its now), so an injected clock must pass that
 * time, and rlc_clock_advanced() be called, for it to end. A distributed
 * limiter also tells the swarm (see rlc_distributed_limiter_new). reason
 * is for people (may be NULL). Returns nothing: unknown resources, a
 * closed limiter and NULL are ignored. rlc_capacity.paused_until_ns
 * reports the pause in force. Removing the resource ends its pause.
 */
RLC_EXPORT void rlc_pause(rlc_limiter *l, const char *resource,
                          int64_t until_unix_ns, const char *reason);

/*
 * rlc_get_capacity - fill *out with a snapshot of resource.
 * Returns false (and leaves *out alone) for an unknown resource or misuse.
 * Works after rlc_close() too.
 */
RLC_EXPORT bool rlc_get_capacity(rlc_limiter *l, const char *resource,
                                 rlc_capacity *out);

/*
 * rlc_on_capacity_change - call cb(update, arg) after each capacity cut or
 * recovery. Callbacks accumulate; each is called in the thread that made
 * the change, with no lock of the limiter held, so it may call the limiter.
 * The update is valid during the call only.
 */
RLC_EXPORT void rlc_on_capacity_change(rlc_limiter *l, rlc_capacity_cb cb,
                                       void *arg);

/*
 * rlc_close - stop the limiter: every blocked acquire returns RLC_ECLOSED,
 * and so do later ones. Returns RLC_OK, or RLC_ECLOSED on a second call.
 */
RLC_EXPORT rlc_status rlc_close(rlc_limiter *l);

/* rlc_free - close l if open and free it. No call may still be using it.
 * NULL is fine. */
RLC_EXPORT void rlc_free(rlc_limiter *l);

/*
 * Scope = host: one budget per resource shared by every process of this
 * user on this machine, with no daemon. The buckets live in a file mapped
 * by every process of a namespace, /dev/shm/rlc-<uid>-<namespace> (or in
 * $XDG_RUNTIME_DIR when /dev/shm is unusable), created 0600 and refused
 * when it is anyone else's, readable by group or others, a symbolic link,
 * or of a wrong magic, version or size. The table holds RLC_HOST_SLOTS
 * resource names; a name once configured keeps its slot (also when it is
 * removed) until the file is deleted, which is safe when no process of
 * the namespace runs (/dev/shm is emptied at boot).
 *
 * Every change is one lock-free compare-and-swap on the shared memory: a
 * process killed at any instant (SIGKILL too) never leaves a resource
 * locked or half-changed, and the others go on at the exact rate. What a
 * killed process held is lost, never doubled: a token it had reserved is
 * not handed to anyone else, and its in-flight requests stay counted in
 * rlc_capacity.in_flight (which is only a report).
 *
 * It behaves as the memory limiter, with these differences:
 * - Capacity: the last rlc_set_capacity() of a resource, by any process,
 *   wins for every process. One with the capacity and window already
 *   configured (by anyone) changes nothing, not even a cut made since:
 *   processes that start with the same configuration keep the host's cuts.
 *   rlc_host_limiter_conflict() tells when configurations disagree.
 * - Cuts (rlc_announce_reduced, 75 %, not below 1, once per epoch) and
 *   pauses are seen by every process at its next call; capacity callbacks
 *   run only in the process that made the cut.
 * - A waiter reserves its token when it starts waiting (the reservation
 *   is its place in line: waiters are served in order across processes)
 *   and sleeps until it is due. A token that would come after the
 *   deadline is not waited for: RLC_ETIMEDOUT at once, as Go's
 *   rate.Limiter does; so is a pause that ends after the deadline.
 * - A waiter that gives up (time-out, cancel, close) gives its reservation
 *   back if it is the last one taken; otherwise it is lost (the host admits
 *   one token less, never one more). A capacity change, a release that a
 *   waiter could use, or a pause re-queues the waiters of that resource:
 *   order among them is then the order in which they wake.
 * - rlc_capacity.waiting counts tokens reserved and not yet due, in every
 *   process (with any lost ones, until their time passes); callers held
 *   by a pause are not in it.
 * - rlc_close() closes this limiter only: its waiters get RLC_ECLOSED, the
 *   table and other processes go on.
 * - rlc_set_capacity() returns RLC_EFULL for a new name when the table is
 *   full (the resource is not created), RLC_ESHARED when the slot it needs
 *   has been mid-claim by a live process for over a second (a stopped
 *   one: a dead claimer's slot is taken back once it has been reaped).
 *
 * What a dead process held is recognised by its pid: so the table is
 * refused to processes of another pid namespace than its creator's. Claims
 * last a few microseconds; a process stopped (SIGSTOP) in one holds the
 * slot or record it claimed until it goes on or dies.
 *
 * Times in the table are on CLOCK_MONOTONIC, which every process of the
 * host shares. With an injected clock every process using the table must
 * read the same clock (a counter in shared memory, for tests). Values read
 * from the table are checked before use: a capacity or window out of range
 * (or an origin far in the future, as after a reboot with a table on a
 * disk) make the resource count as removed until it is configured again.
 */
#define RLC_HOST_SLOTS 256   /* resources per namespace (per table file) */
#define RLC_NAMESPACE_MAX 64 /* longest namespace, NUL included */

/* Where a host limiter's table is, and its clock. NULL or 0: the default. */
typedef struct rlc_host_limiter_options {
    const char *ns;   /* [A-Za-z0-9._-], 1..63 bytes; NULL -> "default" */
    const char *dir;  /* the table's directory; NULL -> /dev/shm, else
                         $XDG_RUNTIME_DIR. Tests give a private one. */
    rlc_clock_fn now; /* NULL -> CLOCK_MONOTONIC (see above) */
    void *now_arg;
} rlc_host_limiter_options;

/*
 * rlc_grow_capacity - recovery after cuts: raises resource's capacity from
 * `from` to `to`, only if it is still `from`, so that of several callers
 * (threads, or processes sharing a host limiter) that saw the same
 * capacity one step wins. Never above the capacity configured with
 * rlc_set_capacity, and the configuration stays as it was set (processes
 * that configure the same values later keep the grown capacity). Counts
 * no cut epoch. Returns true when it raised the capacity; false when it
 * was not `from` any more, to <= from, the resource is unknown, or the
 * limiter does not grow on request (the memory limiter, whose capacity
 * rlc_set_capacity sets directly; the distributed one, which recovers by
 * itself). Thread-safe.
 */
RLC_EXPORT bool rlc_grow_capacity(rlc_limiter *l, const char *resource,
                                  int from, int to);

/*
 * rlc_host_limiter_new - a host limiter on namespace ns (NULL: "default")
 * in the default directory, on CLOCK_MONOTONIC.
 *
 * Opens the namespace's table, creating it if need be (created whole under
 * a temporary name, then linked into place, so no process ever maps half a
 * table). Returns RLC_OK and *out, which the caller frees with rlc_free();
 * RLC_EINVAL (NULL out, a namespace of other characters or too long);
 * RLC_ESHARED (the file was refused or cannot be made); RLC_ENOMEM. Use
 * rlc_host_limiter_open() to learn why a file was refused.
 */
RLC_EXPORT rlc_status rlc_host_limiter_new(const char *ns, rlc_limiter **out);

/* rlc_host_limiter_new_with_clock - the same on an injected clock (see
 * rlc_memory_limiter_new_with_clock and, above, why every process of the
 * namespace must then share it). RLC_EINVAL for a NULL now. */
RLC_EXPORT rlc_status rlc_host_limiter_new_with_clock(const char *ns,
                                                      rlc_clock_fn now,
                                                      void *arg,
                                                      rlc_limiter **out);

/*
 * rlc_host_limiter_open - the same with options (o NULL: all defaults).
 * On failure, err (if not NULL) gets a sentence for a person, naming the
 * file and what is wrong with it ("/dev/shm/rlc-1000-default: mode 0644
 * lets group or others in (want 0600): refused"), NUL-terminated and cut
 * to err_len bytes.
 */
RLC_EXPORT rlc_status rlc_host_limiter_open(const rlc_host_limiter_options *o,
                                            rlc_limiter **out, char *err,
                                            size_t err_len);

/*
 * rlc_host_limiter_error - copy the last error of host limiter l (why a
 * call returned RLC_EFULL or RLC_ESHARED) into buf, NUL-terminated and cut
 * to len bytes. Returns the length of the whole message, 0 when there has
 * been none or l is not a host limiter. Thread-safe: the message lives in
 * l, under its lock.
 */
RLC_EXPORT size_t rlc_host_limiter_error(rlc_limiter *l, char *buf, size_t len);

/*
 * rlc_host_limiter_conflict - whether this limiter's configuration of
 * resource disagrees with another process's: its last rlc_set_capacity()
 * replaced a different capacity or window set by another process, or a
 * later one by another process replaced it. Then buf (if not NULL) gets a
 * sentence naming both configurations and the other pid, and true is
 * returned; the caller may log it once. false for no disagreement, an
 * unknown resource, or l not a host limiter.
 */
RLC_EXPORT bool rlc_host_limiter_conflict(rlc_limiter *l, const char *resource,
                                          char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* RLC_H */
