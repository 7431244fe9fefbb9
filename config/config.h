/* SPDX-License-Identifier: MIT */
/*
 * config.h - the ini file, loaded and validated into one immutable struct
 * that the preload, rlrun and rlctl share.
 *
 * A configuration is all or nothing: a loader returns either a complete,
 * valid rlc_config or NULL with a message naming file, line and key
 * ("rlc.ini:12: unknown key 'capcity' in [openai]"). Nothing half-loaded is
 * ever returned. A loaded configuration is never modified; a reload builds
 * a new one.
 */
#ifndef RLC_CONFIG_H
#define RLC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rlc.h"

#define RLC_CONFIG_ERR_MAX 512 /* room for one error message */
#define RLC_HOSTNAME_MAX 256   /* a DNS name, NUL included */

typedef enum rlc_scope {
    RLC_SCOPE_PROCESS, /* a bucket in this process */
    RLC_SCOPE_HOST,    /* shared by this user's processes on the host */
    RLC_SCOPE_SWARM    /* shared over NATS */
} rlc_scope;

typedef enum rlc_per {
    RLC_PER_REQUEST,   /* one token per HTTP request */
    RLC_PER_CONNECTION /* one token per connection */
} rlc_per;

typedef enum rlc_on_timeout {
    RLC_ON_TIMEOUT_PASS, /* let the request go after max_wait */
    RLC_ON_TIMEOUT_FAIL  /* fail it with ETIMEDOUT */
} rlc_on_timeout;

typedef enum rlc_log_level {
    RLC_LOG_ERROR,
    RLC_LOG_WARN,
    RLC_LOG_INFO,
    RLC_LOG_DEBUG
} rlc_log_level;

typedef enum rlc_host_kind {
    RLC_HOST_NAME,   /* api.openai.com: this name exactly */
    RLC_HOST_SUFFIX, /* *.openai.azure.com: any name below the suffix */
    RLC_HOST_ADDR    /* 10.1.0.0/16, 192.0.2.7, [2001:db8::]/32 */
} rlc_host_kind;

/*
 * One entry of a hosts = list. The list separates entries with commas
 * and/or white space and may go on over indented lines:
 *     hosts = api.openai.com, *.openai.azure.com:443,
 *         10.1.0.0/16, [2001:db8::]/32
 * An entry is a name, *.suffix, an IPv4 or IPv6 address (IPv6 with or
 * without brackets) or a CIDR block, then optionally :port (IPv6 with a
 * port needs the brackets: [2001:db8::1]:443, [2001:db8::]/32:443).
 */
typedef struct rlc_host_pattern {
    rlc_host_kind kind;
    /* NAME, SUFFIX: lower case, no trailing dot; SUFFIX without the "*." */
    char name[RLC_HOSTNAME_MAX];
    /* ADDR: family AF_INET or AF_INET6, address in network byte order in
     * the first 4 or 16 bytes, prefix length 0..32 or 0..128 (a single
     * address has the full length). ::ffff:a.b.c.d is stored as IPv4. */
    int family;
    uint8_t addr[16];
    int prefix;
    int port; /* 0: any port */
} rlc_host_pattern;

/* One [section] other than [limiter]. */
typedef struct rlc_resource_config {
    char name[RLC_RESOURCE_MAX]; /* the section name */
    rlc_host_pattern *hosts;
    size_t nhosts;
    int capacity;      /* > 0 */
    int64_t window_ns; /* > 0 */
    rlc_per per;       /* default request */
    rlc_scope scope;   /* default host */
    bool split;        /* default: true for swarm, false otherwise */
    int line;          /* line of the [section] header */
} rlc_resource_config;

typedef struct rlc_config {
    char *path; /* the file it came from (parse: name, or "<string>") */
    /* [limiter] */
    char *namespace_;             /* default "default" */
    char *agent_id;               /* default "${HOSTNAME}-${PID}" expanded */
    char *nats_url;               /* default "nats://127.0.0.1:4222" */
    double reduce_factor;         /* default 0.5, in (0, 1) */
    int64_t recovery_interval_ns; /* default 30 s, > 0 */
    double recovery_factor;       /* default 1.1, > 1 */
    bool max_recovery;            /* default true */
    int64_t max_wait_ns;          /* default 5 min, >= 0 */
    rlc_on_timeout on_timeout;    /* default pass */
    rlc_log_level log;            /* default warn; RLC_LOG overrides */
    int assumed_agents;   /* swarm size to assume before hearing it; 0 */
    bool share_by_demand; /* share = demand (default) | equal: how a split
                             swarm total is shared among agents */
    /* every other section, in file order */
    rlc_resource_config *resources;
    size_t nresources;
} rlc_config;

/*
 * rlc_config_load - read and validate the ini file at path.
 *
 * Returns a new configuration the caller frees with rlc_config_free(), or
 * NULL with a one-line message in err (at most errlen bytes, NUL
 * included) of the form "<path>:<line>: <what is wrong>", naming the key
 * and, for a resource, its section. An unreadable file is reported as
 * "<path>: <strerror>" (a directory: "Is a directory"; over 1 MiB: "File
 * too large"). ${VAR} in values (not in section names) expands from the
 * environment: an unset variable is an error naming it; ${HOSTNAME} (the
 * machine's name unless the environment sets it) and ${PID} are always
 * set; "$$" is a literal '$', as is a '$' not followed by '{'. RLC_LOG in
 * the environment overrides log (an invalid one fails the load with
 * "RLC_LOG: ..."). Keys are lower case; keyword values (true, swarm, ...)
 * may be in any case. A line may hold 197 characters; a longer one is an
 * error, never cut. Thread-safe (as far as getenv is); allocates.
 */
rlc_config *rlc_config_load(const char *path, char *err, size_t errlen);

/*
 * rlc_config_parse - the same from text in memory (len bytes, need not be
 * NUL-terminated; a NUL byte in it is an error); name stands for the file
 * in messages and in path (NULL: "<string>"). err and errlen may be 0.
 */
rlc_config *rlc_config_parse(const char *text, size_t len, const char *name,
                             char *err, size_t errlen);

/* rlc_config_free - free c and everything in it. NULL is fine. */
void rlc_config_free(rlc_config *c);

/*
 * rlc_config_find - the file to use when none is given: $RLC_CONFIG, else
 * the first that exists of ./rlc.ini, $XDG_CONFIG_HOME/rlc/rlc.ini (or
 * ~/.config/rlc/rlc.ini), /etc/rlc.ini. Writes it to out (size n) and
 * returns true; false when there is none (or it does not fit). An empty
 * variable counts as unset; a relative XDG_CONFIG_HOME is ignored, as the
 * XDG spec says; a directory does not count as a file. $RLC_CONFIG is
 * returned whether or not it exists (loading it reports what is wrong);
 * ./rlc.ini is returned as "rlc.ini".
 */
bool rlc_config_find(char *out, size_t n);

/*
 * rlc_config_match - the first resource (in file order) one of whose
 * patterns matches: by host name (exact, or below a *.suffix; case does
 * not matter, a trailing dot neither), else by address (sa may be NULL;
 * an IPv4-mapped IPv6 address matches as IPv4), and the port when the
 * pattern names one (port is in host byte order; 0 matches only patterns
 * without a port). host may be NULL or an address literal (IPv6 with or
 * without brackets), in which case it is compared as an address, like sa:
 * an address pattern matches when either address is in it. Returns NULL
 * when nothing matches.
 * Never allocates; safe to call from any thread and from the preload's
 * hooks.
 */
const rlc_resource_config *rlc_config_match(const rlc_config *c,
                                            const char *host,
                                            const struct sockaddr *sa,
                                            int port);

/*
 * rlc_parse_duration - "500ms", "30s", "1m", "1h" (also "2h30m", "1.5s",
 * "100us", "10ns"; a plain number is seconds) into nanoseconds, exactly
 * (what is below a nanosecond is dropped). Returns false, leaving *out_ns
 * alone, for anything else (signs, spaces, exponents), and on overflow.
 * "0" is valid: callers that need a positive duration check.
 */
bool rlc_parse_duration(const char *s, int64_t *out_ns);

/*
 * rlc_host_pattern_parse - one hosts entry into *out, normalised: names
 * lower case without the trailing dot, ::ffff:a.b.c.d as IPv4. False when
 * it cannot parse, with "host pattern '<s>': <reason>" in err (errlen
 * bytes; err may be NULL); a CIDR block with bits set after its prefix
 * (10.1.2.3/8) is refused as a likely typo.
 */
bool rlc_host_pattern_parse(const char *s, rlc_host_pattern *out, char *err,
                            size_t errlen);

#endif /* RLC_CONFIG_H */
