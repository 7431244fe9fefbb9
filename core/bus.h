/* SPDX-License-Identifier: MIT */
/*
 * bus.h - the internal interface every message bus implements (memory,
 * NATS), and what limiters use to listen.
 *
 * Subjects are dot-separated tokens; a subscription may use NATS
 * wildcards: "*" matches one token, a final ">" one or more.
 */
#ifndef RLC_BUS_H
#define RLC_BUS_H

#include <stdbool.h>
#include <stddef.h>

#include "rlc.h"

/* A message arrived. data is valid during the call only; it is not
 * NUL-terminated, and never NULL (even when len is 0). Called on a thread of
 * the bus (NATS) or of the publisher (memory): it must not block for long. It
 * may publish, subscribe, and unsubscribe (itself included), but must not free
 * the bus. */
typedef void (*rlc__bus_msg_fn)(const char *subject, const void *data,
                                size_t len, void *arg);

/* What every bus keeps of a subscription; a backend's own struct starts
 * with it. */
typedef struct rlc__bus_sub {
    rlc__bus_msg_fn fn;
    void *arg;
} rlc__bus_sub;

typedef struct rlc__bus_ops {
    /* subject is valid (rlc__subject_valid, no wildcards), data is not
     * NULL: the wrapper checked. */
    rlc_status (*publish)(rlc_bus *b, const char *subject, const void *data,
                          size_t len);
    /* subject is a valid pattern; fn and out are not NULL. */
    rlc_status (*subscribe)(rlc_bus *b, const char *subject, rlc__bus_msg_fn fn,
                            void *arg, rlc__bus_sub **out);
    /* When it returns, fn is not running and will never run again for s
     * (see rlc__bus_unsubscribe for the one exception). */
    void (*unsubscribe)(rlc_bus *b, rlc__bus_sub *s);
    bool (*connected)(const rlc_bus *b);
    /* Connections lost so far; may be NULL (a bus that is never lost). */
    uint64_t (*losses)(const rlc_bus *b);
    /* Copies the last error's text into buf; false when there is none.
     * May be NULL (a bus that cannot fail). */
    bool (*last_error)(const rlc_bus *b, char *buf, size_t len);
    void (*destroy)(rlc_bus *b);
} rlc__bus_ops;

struct rlc_bus {
    const rlc__bus_ops *ops;
};

/* How many times b has lost its connection (0 for a bus that cannot): a
 * message published before a change may not have been delivered. */
uint64_t rlc__bus_losses(const rlc_bus *b);

/*
 * rlc__bus_subscribe - call fn(subject, data, len, arg) for every message
 * whose subject matches the pattern subject, from now until
 * rlc__bus_unsubscribe(b, *out). Returns RLC_OK, RLC_EINVAL (a NULL
 * argument, an invalid pattern), RLC_ENOMEM, or RLC_EBUS. On a NATS bus
 * the server knows of the subscription when this returns if the bus is
 * connected; otherwise it is sent on (re)connection.
 */
rlc_status rlc__bus_subscribe(rlc_bus *b, const char *subject,
                              rlc__bus_msg_fn fn, void *arg,
                              rlc__bus_sub **out);

/*
 * rlc__bus_unsubscribe - end subscription s and free it. When it returns,
 * s's fn is not running in any thread and will never be called again, so
 * its arg may be freed. The exception: called from inside s's own fn (in
 * that thread's call stack) it cannot wait for itself, so it returns at
 * once; fn is then never called again, but the calls in progress finish.
 * Must not be called for s from a callback that the fn of s waits for.
 * NULL b or s is ignored.
 */
void rlc__bus_unsubscribe(rlc_bus *b, rlc__bus_sub *s);

/*
 * rlc__bus_last_error - copy the text of b's last error (a failed connect
 * attempt is not one; a publish nats dropped, a slow consumer, a server
 * refusing our credentials are) into buf, NUL-terminated, for logs.
 * Returns false, with buf empty, when there was none. Thread-safe.
 */
bool rlc__bus_last_error(const rlc_bus *b, char *buf, size_t len);

/*
 * rlc__nats_bus_connect_err - rlc_nats_bus_connect_opts() that, when it
 * fails, also writes why into err (errlen bytes, NUL-terminated; err may
 * be NULL): "nats: Authorization Violation".
 */
rlc_status rlc__nats_bus_connect_err(const rlc_nats_options *o, rlc_bus **out,
                                     char *err, size_t errlen);

/* Does subject match the pattern (with * and > wildcards)? False when
 * either is not valid (the subject may not hold wildcards). */
bool rlc__subject_matches(const char *pattern, const char *subject);

/* Is s a valid subject: non-empty tokens without white space, separated
 * by single dots? With wildcards, a "*" token or a last ">" token is
 * allowed too (a pattern); without, neither is. */
bool rlc__subject_valid(const char *s, bool wildcards);

/*
 * For backends: rlc__bus_deliver calls s's fn and records, for the
 * calling thread, that it is running, so that rlc__bus_delivering(s) can
 * tell an unsubscribe from inside that call (which must not wait for
 * itself) from one in another thread.
 */
void rlc__bus_deliver(rlc__bus_sub *s, const char *subject, const void *data,
                      size_t len);
bool rlc__bus_delivering(const rlc__bus_sub *s);

#endif /* RLC_BUS_H */
