/* SPDX-License-Identifier: MIT */
/*
 * wire.h - messages on the bus, as JSON: the reference Go package's
 * CapacityUpdate on <prefix>.capacity, plus rlc's own fields and subjects,
 * which a Go agent ignores.
 *
 * Every decoder here reads untrusted bytes: it never crashes, never reads
 * past len, and reports anything malformed instead of guessing. All these
 * functions keep no state: any thread may call them at any time.
 */
#ifndef RLC_WIRE_H
#define RLC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rlc.h"

#define RLC_REASON_MAX 256 /* longer reasons are cut (at a UTF-8 boundary) */
#define RLC_WIRE_MAX 65536 /* longest message a decoder reads, in bytes */

/* A capacity update, as the Go package writes it, with rlc's additions. */
typedef struct rlc__capacity_msg {
    char resource[RLC_RESOURCE_MAX];
    char agent_id[RLC_RESOURCE_MAX];
    char reason[RLC_REASON_MAX];
    int64_t new_capacity; /* as sent: may be 0, negative, huge */
    int64_t timestamp_ns; /* Unix ns; valid only if has_timestamp */
    bool has_timestamp;   /* present and within int64 ns (1678..2262) */
    /* rlc's additions (absent in a Go agent's messages) */
    bool has_epoch;
    uint64_t epoch; /* "rlc_epoch": capacity epoch the cut was made in */
    bool has_total;
    int64_t total; /* "rlc_total": the swarm total (split mode) */
    bool has_pause;
    int64_t pause_until_ns; /* "rlc_pause_until": Unix ns, Retry-After */
} rlc__capacity_msg;

/*
 * Decodes one message of len bytes (not NUL-terminated) into *out, which
 * is cleared first. Returns RLC_OK; RLC_ENOMEM; or RLC_EINVAL, and *out
 * then holds nothing useful, when:
 *   - data or out is NULL, len is 0 or above RLC_WIRE_MAX;
 *   - the bytes are not one JSON object (trailing bytes, invalid UTF-8,
 *     a duplicate key anywhere, nesting deeper than jansson's limit);
 *   - resource, agent_id or new_capacity is missing, null or of the wrong
 *     type: new_capacity must be a JSON integer within int64 (30.0, 3e1
 *     and "30" are refused, as Go refuses them for an int);
 *   - a name does not fit RLC_RESOURCE_MAX (with its NUL) or holds a NUL;
 *   - reason is neither a string nor null (Go refuses that too);
 *   - an rlc field is present and malformed: rlc_epoch not a non-negative
 *     integer, rlc_total not an integer, rlc_pause_until not an RFC 3339
 *     string within int64 ns.
 * Lenient where Go is or where nothing depends on it: unknown fields are
 * ignored; a null field counts as missing (Go leaves it zero); a missing
 * reason is empty, a reason is cut at its first NUL and to at most
 * RLC_REASON_MAX - 1 bytes at a UTF-8 boundary; a timestamp that is
 * missing, not a string, not RFC 3339 or out of range only leaves
 * has_timestamp false (Go's zero time, "0001-01-01T00:00:00Z", is so).
 * Field names are matched exactly (Go would also take "Resource").
 */
rlc_status rlc__wire_decode_capacity(const void *data, size_t len,
                                     rlc__capacity_msg *out);

/*
 * Encodes m as Go's encoding/json encodes the CapacityUpdate struct: the
 * same fields in the same order (resource, agent_id, new_capacity, reason,
 * timestamp), compact, <, >, &, U+2028 and U+2029 escaped as \u003c...;
 * the timestamp in UTC as RFC3339Nano, or Go's zero time when
 * !has_timestamp. Then rlc_epoch, rlc_total, rlc_pause_until when set.
 * Invalid UTF-8 in reason becomes U+FFFD, as in Go.
 *
 * Returns the length written (without a NUL; buf is NUL-terminated when
 * there is room), or -1 when it does not fit in n bytes, when a name is not
 * NUL-terminated within its array or not valid UTF-8, when epoch is above
 * INT64_MAX, or when memory runs out.
 */
int rlc__wire_encode_capacity(const rlc__capacity_msg *m, char *buf, size_t n);

#define RLC_PRESENCE_RESOURCES 32 /* per message; more are ignored */

/* "I am alive" on <prefix>.presence, every interval, from each rlc agent:
 * {"agent_id":"a","interval_ms":1000,"leaving":false,
 *  "demand":{"openai":3.5,"other":0}} (demand: tokens per second it
 * asked for lately, per resource; an agent leaving says so). */
typedef struct rlc__presence_msg {
    char agent_id[RLC_RESOURCE_MAX];
    int64_t interval_ms; /* > 0 */
    bool leaving;
    /* has_demand: a demand object came (or is to be sent); then a resource
     * missing from it is one the agent does not use, unless
     * demand_partial: some names were skipped (too long, or past
     * RLC_PRESENCE_RESOURCES), so a missing one may be in use. */
    bool has_demand, demand_partial;
    int nresources;
    struct {
        char name[RLC_RESOURCE_MAX];
        double demand; /* finite, >= 0 */
    } resources[RLC_PRESENCE_RESOURCES];
} rlc__presence_msg;

/*
 * Decodes a presence message into *out (cleared first). RLC_OK, RLC_ENOMEM,
 * or RLC_EINVAL: NULL arguments, len 0 or above RLC_WIRE_MAX, not one JSON
 * object (as above; a NUL in any key is refused by the parser), agent_id
 * missing, not a string, too long or holding a NUL, interval_ms missing or
 * not a positive integer, leaving present and not a boolean, demand present
 * and not an object whose every value is a finite number >= 0 (integers
 * are fine). A missing or null leaving is false, a missing or null demand
 * has no resources and leaves has_demand false. Demand names too long are
 * skipped; after RLC_PRESENCE_RESOURCES names the rest are checked, then
 * ignored; either sets demand_partial.
 */
rlc_status rlc__wire_decode_presence(const void *data, size_t len,
                                     rlc__presence_msg *out);
/*
 * Encodes m compactly: agent_id, interval_ms, leaving, and demand when
 * has_demand (numbers as JSON reals, 17 significant digits, so they decode
 * to the same double; demand_partial is the receiver's to find).
 * Returns the length as rlc__wire_encode_capacity, or -1 when it does not
 * fit, or when m is not something the decoder would accept: a name not
 * NUL-terminated in its array or not UTF-8, interval_ms <= 0, nresources
 * outside 0..RLC_PRESENCE_RESOURCES, a demand negative or not finite, the
 * same name twice.
 */
int rlc__wire_encode_presence(const rlc__presence_msg *m, char *buf, size_t n);

/*
 * RFC 3339 timestamps as Go writes and reads time.Time: exactly
 * "YYYY-MM-DDThh:mm:ss", an optional fraction of 1 to 9 digits, then "Z"
 * or "+hh:mm"/"-hh:mm" (hh <= 23, mm <= 59). Like Go, lowercase "t" and
 * "z", hour 24, second 60 and days a month lacks are refused; unlike Go,
 * which truncates them, 10 or more fraction digits are too. Reads exactly
 * len bytes of s (no NUL needed). Returns false for anything else, or for
 * a time outside int64 nanoseconds (1677-09-21T00:12:43.145224192Z to
 * 2262-04-11T23:47:16.854775807Z); *unix_ns is set only on success.
 */
bool rlc__rfc3339_parse(const char *s, size_t len, int64_t *unix_ns);
/* Formats in UTC with trailing fraction zeros trimmed, as Go's
 * RFC3339Nano, NUL-terminated; returns the length (without the NUL), or 0
 * if n is too small for it and its NUL (n >= 36 is always enough). */
size_t rlc__rfc3339_format(int64_t unix_ns, char *buf, size_t n);

#endif /* RLC_WIRE_H */
