/* SPDX-License-Identifier: MIT */
/*
 * config.c - the ini file into a validated rlc_config, through inih.
 *
 * inih hands its handler neither line numbers nor section headers, and
 * splits an over-long line silently; so inih reads through our own reader,
 * which feeds it one whole line at a time and sees each line first: it
 * counts lines, rejects long ones, and tracks sections itself, mirroring
 * inih's rules for what a line is. The first error stops the parse.
 */
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

#define FILE_MAX (1 << 20) /* a bigger file is surely a mistake */
#define QUOTE "%.100s"     /* how much of a bad value a message repeats */

enum key {
    K_NAMESPACE,
    K_AGENT_ID,
    K_NATS_URL,
    K_REDUCE_FACTOR,
    K_RECOVERY_INTERVAL,
    K_RECOVERY_FACTOR,
    K_MAX_RECOVERY,
    K_MAX_WAIT,
    K_ON_TIMEOUT,
    K_LOG,
    K_ASSUMED_AGENTS,
    K_SHARE,
    K_HOSTS,
    K_CAPACITY,
    K_WINDOW,
    K_PER,
    K_SCOPE,
    K_SPLIT,
    NKEYS
};

static const char *const key_names[NKEYS] = {
    [K_NAMESPACE] = "namespace",
    [K_AGENT_ID] = "agent_id",
    [K_NATS_URL] = "nats_url",
    [K_REDUCE_FACTOR] = "reduce_factor",
    [K_RECOVERY_INTERVAL] = "recovery_interval",
    [K_RECOVERY_FACTOR] = "recovery_factor",
    [K_MAX_RECOVERY] = "max_recovery",
    [K_MAX_WAIT] = "max_wait",
    [K_ON_TIMEOUT] = "on_timeout",
    [K_LOG] = "log",
    [K_ASSUMED_AGENTS] = "assumed_agents",
    [K_SHARE] = "share",
    [K_HOSTS] = "hosts",
    [K_CAPACITY] = "capacity",
    [K_WINDOW] = "window",
    [K_PER] = "per",
    [K_SCOPE] = "scope",
    [K_SPLIT] = "split",
};

enum section { NONE, LIMITER, RESOURCE };

struct parser {
    const char *name;    /* the file, for messages */
    const char *p, *end; /* the text not yet read */
    int line;            /* the line inih is on */
    bool cont;           /* inih takes it as the continuation of a key */
    bool have_key;       /* inih's prev_name is set */
    enum key key;        /* the last key, which a continuation extends */
    enum section in;     /* the current section */
    int limiter_line;    /* where [limiter] was, 0 if not yet */
    int seen[NKEYS];     /* line of each key in the current section */
    size_t res_cap, hosts_cap;
    bool failed;
    char *err;
    size_t errlen;
    rlc_config *c;
};

static void errorf(struct parser *ps, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Records the first error only, as one printable line: control bytes of a
 * quoted value become '?'. Line 0 leaves the line out; a negative line,
 * the file name too (for what does not come from the file).
 */
static void errorf(struct parser *ps, int line, const char *fmt, ...)
{
    char what[RLC_CONFIG_ERR_MAX];
    va_list ap;
    size_t i;

    if (ps->failed)
        return;
    ps->failed = true;
    if (ps->err == NULL || ps->errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    for (i = 0; what[i] != '\0'; i++)
        if ((unsigned char)what[i] < 0x20 || what[i] == 0x7f)
            what[i] = '?';
    if (line > 0)
        snprintf(ps->err, ps->errlen, "%s:%d: %s", ps->name, line, what);
    else if (line == 0)
        snprintf(ps->err, ps->errlen, "%s: %s", ps->name, what);
    else
        snprintf(ps->err, ps->errlen, "%s", what);
}

static void nomem(struct parser *ps)
{
    errorf(ps, 0, "out of memory");
}

/* inih's (and the C locale's) white space; no locale is consulted. */
static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
           c == '\r';
}

static const char *skip_space(const char *s)
{
    while (is_space(*s))
        s++;
    return s;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool same_word(const char *a, const char *b)
{
    while (*a != '\0' && lower(*a) == lower(*b)) {
        a++;
        b++;
    }
    return lower(*a) == lower(*b);
}

/*
 * Where inih's find_chars_or_comment() stops: at a char of chars or at an
 * inline ';' comment (a ';' after white space), else at the end.
 */
static const char *find_or_comment(const char *s, const char *chars)
{
    bool was_space = false;

    for (; *s != '\0'; s++) {
        if (chars != NULL && strchr(chars, *s) != NULL)
            break;
        if (was_space && *s == ';')
            break;
        was_space = is_space(*s);
    }
    return s;
}

/* ---- values ---- */

/* A growing string. */
struct str {
    char *s;
    size_t len, cap;
    bool nomem;
};

static void put(struct str *b, const char *s, size_t n)
{
    char *t;

    if (b->nomem)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap == 0 ? 64 : b->cap;

        while (b->len + n + 1 > cap)
            cap *= 2;
        t = realloc(b->s, cap);
        if (t == NULL) {
            b->nomem = true;
            return;
        }
        b->s = t;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static bool var_char(char c, bool first)
{
    return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (!first && c >= '0' && c <= '9');
}

/* The value of variable name (n bytes) into buf; NULL when unset. */
static const char *variable(const char *name, size_t n, char *buf, size_t size)
{
    const char *v;

    if (n == 3 && memcmp(name, "PID", 3) == 0) {
        snprintf(buf, size, "%ld", (long)getpid());
        return buf;
    }
    if (n >= size)
        return NULL;
    memcpy(buf, name, n);
    buf[n] = '\0';
    v = getenv(buf);
    if (v != NULL || strcmp(buf, "HOSTNAME") != 0)
        return v;
    if (gethostname(buf, size - 1) != 0)
        snprintf(buf, size, "localhost");
    buf[size - 1] = '\0';
    return buf;
}

/*
 * value with ${VAR} expanded, newly allocated; NULL after an error. "$$"
 * is one '$'; any other '$' stands for itself.
 */
static char *expand(struct parser *ps, const char *key, const char *value)
{
    struct str b = {0};
    const char *s = value;
    char buf[RLC_HOSTNAME_MAX];

    put(&b, "", 0);
    while (*s != '\0') {
        const char *dollar = strchr(s, '$'), *name, *close, *v;
        size_t n;

        if (dollar == NULL) {
            put(&b, s, strlen(s));
            break;
        }
        put(&b, s, (size_t)(dollar - s));
        if (dollar[1] != '{') {
            put(&b, "$", 1);
            s = dollar + (dollar[1] == '$' ? 2 : 1);
            continue;
        }
        name = dollar + 2;
        close = strchr(name, '}');
        if (close == NULL) {
            errorf(ps, ps->line, "%s: unterminated '${' in '" QUOTE "'", key,
                   value);
            goto fail;
        }
        n = (size_t)(close - name);
        for (size_t i = 0; i < n; i++) {
            if (!var_char(name[i], i == 0)) {
                n = 0;
                break;
            }
        }
        if (n == 0) {
            errorf(ps, ps->line, "%s: invalid variable name '${%.*s}'", key,
                   (int)(close - name < 64 ? close - name : 64), name);
            goto fail;
        }
        v = variable(name, n, buf, sizeof(buf));
        if (v == NULL) {
            errorf(ps, ps->line, "%s: ${%.*s} is not set in the environment",
                   key, (int)(n < 64 ? n : 64), name);
            goto fail;
        }
        put(&b, v, strlen(v));
        s = close + 1;
    }
    if (!b.nomem)
        return b.s;
    nomem(ps);
fail:
    free(b.s);
    return NULL;
}

/*
 * A non-negative decimal ("0.5", "1.", ".5", "2") without the locale's
 * help: strtod would want "0,5" in a German locale of the host program.
 * Digits past what a double holds are dropped.
 */
static bool decimal(const char *s, double *out)
{
    uint64_t m = 0;
    double scale = 1;
    bool digits = false;

    for (; *s >= '0' && *s <= '9'; s++, digits = true) {
        if (m > UINT64_MAX / 100)
            return false;
        m = m * 10 + (uint64_t)(*s - '0');
    }
    if (*s == '.') {
        for (s++; *s >= '0' && *s <= '9'; s++, digits = true) {
            if (m <= UINT64_MAX / 100 && scale < 1e22) {
                m = m * 10 + (uint64_t)(*s - '0');
                scale *= 10;
            }
        }
    }
    if (!digits || *s != '\0')
        return false;
    *out = (double)m / scale;
    return true;
}

/* true/false (also yes/no, on/off, 1/0), any case. */
static bool boolean(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    size_t i;

    for (i = 0; i < 4; i++) {
        if (same_word(s, yes[i]) || same_word(s, no[i])) {
            *out = same_word(s, yes[i]);
            return true;
        }
    }
    return false;
}

/* The index of s in words (any case), or -1. */
static int word(const char *s, const char *const *words, int n)
{
    int i;

    for (i = 0; i < n; i++)
        if (same_word(s, words[i]))
            return i;
    return -1;
}

static bool log_level(const char *s, rlc_log_level *out)
{
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    int i = word(s, levels, 4);

    if (i < 0)
        return false;
    *out = (rlc_log_level)i;
    return true;
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* 1 to RLC_RESOURCE_MAX - 1 bytes, each accepted by ok (or printable). */
static bool text_ok(const char *s, bool (*ok)(char))
{
    size_t n = strlen(s), i;

    if (n == 0 || n >= RLC_RESOURCE_MAX)
        return false;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (ok != NULL ? !ok(s[i]) : (c < 0x20 || c == 0x7f))
            return false;
    }
    return true;
}

static bool url_char(char c)
{
    return (unsigned char)c > 0x20 && (unsigned char)c != 0x7f;
}

static bool set_string(struct parser *ps, char **field, const char *v)
{
    *field = strdup(v);
    if (*field == NULL)
        nomem(ps);
    return *field != NULL;
}

static bool add_host(struct parser *ps, const rlc_host_pattern *h)
{
    rlc_resource_config *r = &ps->c->resources[ps->c->nresources - 1];

    if (r->nhosts == ps->hosts_cap) {
        size_t cap = ps->hosts_cap == 0 ? 4 : 2 * ps->hosts_cap;
        rlc_host_pattern *t = realloc(r->hosts, cap * sizeof(*t));

        if (t == NULL) {
            nomem(ps);
            return false;
        }
        r->hosts = t;
        ps->hosts_cap = cap;
    }
    r->hosts[r->nhosts++] = *h;
    return true;
}

/* A hosts list: patterns separated by commas and/or white space. */
static bool hosts(struct parser *ps, const char *v)
{
    char one[RLC_HOSTNAME_MAX + 64], why[RLC_CONFIG_ERR_MAX];
    rlc_host_pattern h;

    while (*v != '\0') {
        size_t n = 0;

        while (*v == ',' || is_space(*v))
            v++;
        while (v[n] != '\0' && v[n] != ',' && !is_space(v[n]))
            n++;
        if (n == 0)
            break;
        /* a longer one fails to parse anyway; say so with what fits */
        if (n >= sizeof(one))
            n = sizeof(one) - 1;
        memcpy(one, v, n);
        one[n] = '\0';
        v += n;
        while (v[0] != '\0' && v[0] != ',' && !is_space(v[0]))
            v++;
        if (!rlc_host_pattern_parse(one, &h, why, sizeof(why))) {
            errorf(ps, ps->line, "hosts: %s", why);
            return false;
        }
        if (!add_host(ps, &h))
            return false;
    }
    return true;
}

static bool capacity(struct parser *ps, int *out, const char *v)
{
    long long n = 0;
    const char *s;

    for (s = v; *s >= '0' && *s <= '9'; s++)
        if (n <= INT_MAX)
            n = n * 10 + (*s - '0');
    if (s == v || *s != '\0' || n == 0) {
        errorf(ps, ps->line,
               "capacity must be a positive integer, got '" QUOTE "'", v);
        return false;
    }
    if (n > INT_MAX) {
        errorf(ps, ps->line, "capacity must be at most %d, got '" QUOTE "'",
               INT_MAX, v);
        return false;
    }
    *out = (int)n;
    return true;
}

static bool resource_value(struct parser *ps, enum key k, const char *v)
{
    static const char *const pers[] = {"request", "connection"};
    static const char *const scopes[] = {"process", "host", "swarm"};
    rlc_resource_config *r = &ps->c->resources[ps->c->nresources - 1];
    int i;

    switch (k) {
    case K_HOSTS:
        return hosts(ps, v);
    case K_CAPACITY:
        return capacity(ps, &r->capacity, v);
    case K_WINDOW:
        if (rlc_parse_duration(v, &r->window_ns) && r->window_ns > 0)
            return true;
        errorf(ps, ps->line,
               "window must be a positive duration (like 500ms, 30s, 1m, "
               "1h), got '" QUOTE "'",
               v);
        return false;
    case K_PER:
        i = word(v, pers, 2);
        if (i >= 0) {
            r->per = (rlc_per)i;
            return true;
        }
        errorf(ps, ps->line, "unknown per '" QUOTE "' (request or connection)",
               v);
        return false;
    case K_SCOPE:
        i = word(v, scopes, 3);
        if (i >= 0) {
            r->scope = (rlc_scope)i;
            return true;
        }
        errorf(ps, ps->line,
               "unknown scope '" QUOTE "' (process, host or swarm)", v);
        return false;
    case K_SPLIT:
        if (boolean(v, &r->split))
            return true;
        errorf(ps, ps->line, "split must be true or false, got '" QUOTE "'", v);
        return false;
    default:
        return false;
    }
}

static bool limiter_value(struct parser *ps, enum key k, const char *v)
{
    static const char *const timeouts[] = {"pass", "fail"};
    rlc_config *c = ps->c;
    double d;
    int i;

    switch (k) {
    case K_NAMESPACE:
        if (text_ok(v, name_char))
            return set_string(ps, &c->namespace_, v);
        errorf(ps, ps->line,
               "namespace must be 1 to %d letters, digits, '.', '_' or '-', "
               "got '" QUOTE "'",
               RLC_RESOURCE_MAX - 1, v);
        return false;
    case K_AGENT_ID:
        if (text_ok(v, NULL))
            return set_string(ps, &c->agent_id, v);
        errorf(ps, ps->line,
               "agent_id must be 1 to %d printable characters, got '" QUOTE "'",
               RLC_RESOURCE_MAX - 1, v);
        return false;
    case K_NATS_URL:
        for (i = 0; v[i] != '\0' && url_char(v[i]); i++)
            ;
        if (i > 0 && v[i] == '\0')
            return set_string(ps, &c->nats_url, v);
        errorf(ps, ps->line,
               "nats_url must be a URL like nats://127.0.0.1:4222, got '" QUOTE
               "'",
               v);
        return false;
    case K_REDUCE_FACTOR:
        if (decimal(v, &d) && d > 0 && d < 1) {
            c->reduce_factor = d;
            return true;
        }
        errorf(ps, ps->line,
               "reduce_factor must be a number between 0 and 1 (exclusive), "
               "got '" QUOTE "'",
               v);
        return false;
    case K_RECOVERY_FACTOR:
        if (decimal(v, &d) && d > 1 && d < 1e6) {
            c->recovery_factor = d;
            return true;
        }
        errorf(ps, ps->line,
               "recovery_factor must be a number above 1 (and below "
               "1000000), got '" QUOTE "'",
               v);
        return false;
    case K_RECOVERY_INTERVAL:
        if (rlc_parse_duration(v, &c->recovery_interval_ns) &&
            c->recovery_interval_ns > 0)
            return true;
        errorf(ps, ps->line,
               "recovery_interval must be a positive duration (like 500ms, "
               "30s, 1m, 1h), got '" QUOTE "'",
               v);
        return false;
    case K_MAX_WAIT:
        if (rlc_parse_duration(v, &c->max_wait_ns))
            return true;
        errorf(ps, ps->line,
               "max_wait must be a duration (like 0, 500ms, 30s, 1m, 1h), "
               "got '" QUOTE "'",
               v);
        return false;
    case K_ASSUMED_AGENTS: {
        long n = 0;

        for (i = 0; v[i] >= '0' && v[i] <= '9' && n <= 100000; i++)
            n = n * 10 + (v[i] - '0');
        if (i > 0 && v[i] == '\0' && n <= 100000) {
            c->assumed_agents = (int)n;
            return true;
        }
        errorf(ps, ps->line,
               "assumed_agents must be a whole number from 0 to 100000, got "
               "'" QUOTE "'",
               v);
        return false;
    }
    case K_SHARE:
        if (strcmp(v, "demand") == 0 || strcmp(v, "equal") == 0) {
            c->share_by_demand = v[0] == 'd';
            return true;
        }
        errorf(ps, ps->line, "unknown share '" QUOTE "' (demand or equal)", v);
        return false;
    case K_MAX_RECOVERY:
        if (boolean(v, &c->max_recovery))
            return true;
        errorf(ps, ps->line,
               "max_recovery must be true or false, got '" QUOTE "'", v);
        return false;
    case K_ON_TIMEOUT:
        i = word(v, timeouts, 2);
        if (i >= 0) {
            c->on_timeout = (rlc_on_timeout)i;
            return true;
        }
        errorf(ps, ps->line, "unknown on_timeout '" QUOTE "' (pass or fail)",
               v);
        return false;
    case K_LOG:
        if (log_level(v, &c->log))
            return true;
        errorf(ps, ps->line,
               "unknown log level '" QUOTE "' (error, warn, info or debug)", v);
        return false;
    default:
        return false;
    }
}

static bool apply(struct parser *ps, enum key k, const char *value)
{
    char *v = expand(ps, key_names[k], value);
    bool ok;

    if (v == NULL)
        return false;
    ok = ps->in == LIMITER ? limiter_value(ps, k, v) : resource_value(ps, k, v);
    free(v);
    return ok;
}

/* ---- sections ---- */

static const char *section_name(const struct parser *ps)
{
    return ps->in == LIMITER ? "limiter"
                             : ps->c->resources[ps->c->nresources - 1].name;
}

/* The section just read is complete: check it, fill in its defaults. */
static bool end_section(struct parser *ps)
{
    rlc_resource_config *r;

    if (ps->in != RESOURCE)
        return true;
    r = &ps->c->resources[ps->c->nresources - 1];
    if (ps->seen[K_CAPACITY] == 0) {
        errorf(ps, r->line, "[%s] has no capacity", r->name);
        return false;
    }
    if (ps->seen[K_WINDOW] == 0) {
        errorf(ps, r->line, "[%s] has no window", r->name);
        return false;
    }
    if (ps->seen[K_SPLIT] == 0)
        r->split = r->scope == RLC_SCOPE_SWARM;
    return true;
}

static bool new_resource(struct parser *ps, const char *name, size_t n)
{
    rlc_config *c = ps->c;
    rlc_resource_config *r;

    if (c->nresources == ps->res_cap) {
        size_t cap = ps->res_cap == 0 ? 4 : 2 * ps->res_cap;

        r = realloc(c->resources, cap * sizeof(*r));
        if (r == NULL) {
            nomem(ps);
            return false;
        }
        c->resources = r;
        ps->res_cap = cap;
    }
    r = &c->resources[c->nresources++];
    memset(r, 0, sizeof(*r));
    memcpy(r->name, name, n);
    r->name[n] = '\0';
    r->per = RLC_PER_REQUEST;
    r->scope = RLC_SCOPE_HOST;
    r->line = ps->line;
    ps->hosts_cap = 0;
    return true;
}

/* A "[name]" line; t is at the '['. */
static bool section(struct parser *ps, const char *t)
{
    const char *close = find_or_comment(t + 1, "]"), *name, *after;
    size_t n, i;

    if (*close != ']') {
        errorf(ps, ps->line, "section header without a closing ']'");
        return false;
    }
    after = skip_space(close + 1);
    if (*after != '\0' && *after != ';' && *after != '#') {
        n = strlen(after);
        while (is_space(after[n - 1]))
            n--;
        errorf(ps, ps->line, "unexpected '%.*s' after ']'",
               (int)(n < 40 ? n : 40), after);
        return false;
    }
    name = skip_space(t + 1);
    n = (size_t)(close - name);
    while (n > 0 && is_space(name[n - 1]))
        n--;
    if (!end_section(ps))
        return false;
    if (n == 0) {
        errorf(ps, ps->line, "empty section name []");
        return false;
    }
    if (n >= RLC_RESOURCE_MAX) {
        errorf(ps, ps->line, "section name '%.40s...' is longer than %d bytes",
               name, RLC_RESOURCE_MAX - 1);
        return false;
    }
    for (i = 0; i < n; i++) {
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f) {
            errorf(ps, ps->line, "control character in section name");
            return false;
        }
    }
    if (n == 7 && memcmp(name, "limiter", 7) == 0) {
        if (ps->limiter_line > 0) {
            errorf(ps, ps->line,
                   "duplicate section [limiter] (first at line "
                   "%d)",
                   ps->limiter_line);
            return false;
        }
        ps->limiter_line = ps->line;
        ps->in = LIMITER;
    } else {
        for (i = 0; i < ps->c->nresources; i++) {
            const rlc_resource_config *r = &ps->c->resources[i];

            if (strlen(r->name) == n && memcmp(r->name, name, n) == 0) {
                errorf(ps, ps->line,
                       "duplicate section [%s] (first at line %d)", r->name,
                       r->line);
                return false;
            }
        }
        if (!new_resource(ps, name, n))
            return false;
        ps->in = RESOURCE;
    }
    memset(ps->seen, 0, sizeof(ps->seen));
    ps->have_key = false;
    return true;
}

/* ---- inih's callbacks ---- */

/*
 * What inih will make of line (as its ini_parse_stream does): a comment, a
 * continuation of the last key, a section header, or key = value. Sections
 * are handled here, where the line number is known; so are lines inih
 * would reject, so that each error gets its reason.
 */
static bool scan(struct parser *ps, const char *line)
{
    const char *t = line, *sep;

    if (ps->line == 1 && strncmp(t, "\xEF\xBB\xBF", 3) == 0)
        t += 3; /* a UTF-8 byte order mark */
    t = skip_space(t);
    ps->cont = false;
    if (*t == '\0' || *t == ';' || *t == '#')
        return true;
    if (ps->have_key && t > line) {
        ps->cont = true;
        return true;
    }
    if (*t == '[')
        return section(ps, t);
    sep = find_or_comment(t, "=:");
    if (*sep != '=' && *sep != ':') {
        size_t n = strlen(t);

        while (n > 0 && is_space(t[n - 1]))
            n--;
        errorf(ps, ps->line,
               "expected 'key = value' or '[section]', got "
               "'%.*s'",
               (int)(n < 60 ? n : 60), t);
        return false;
    }
    return true;
}

/* inih's reader: one whole line of the text, or NULL to stop. */
static char *reader(char *str, int num, void *stream)
{
    struct parser *ps = stream;
    const char *nl;
    size_t n, content;

    if (ps->failed || ps->p >= ps->end || num < 4)
        return NULL;
    ps->line++;
    nl = memchr(ps->p, '\n', (size_t)(ps->end - ps->p));
    n = nl != NULL ? (size_t)(nl - ps->p) + 1 : (size_t)(ps->end - ps->p);
    content = n;
    if (content > 0 && ps->p[content - 1] == '\n')
        content--;
    if (content > 0 && ps->p[content - 1] == '\r')
        content--;
    if (content > (size_t)num - 3) {
        errorf(ps, ps->line, "line longer than %d characters", num - 3);
        return NULL;
    }
    if (memchr(ps->p, '\0', n) != NULL) {
        errorf(ps, ps->line, "NUL byte in line");
        return NULL;
    }
    memcpy(str, ps->p, n);
    str[n] = '\0';
    ps->p += n;
    return scan(ps, str) ? str : NULL;
}

static int continuation(struct parser *ps, const char *value)
{
    char buf[INI_MAX_LINE + 1];
    size_t n;

    if (ps->key != K_HOSTS) {
        errorf(ps, ps->line,
               "indented line continues %s (only hosts can span lines; do not "
               "indent keys)",
               key_names[ps->key]);
        return 0;
    }
    /* older inih keeps an inline comment on a continuation line */
    n = (size_t)(find_or_comment(value, NULL) - value);
    if (n >= sizeof(buf))
        n = sizeof(buf) - 1;
    memcpy(buf, value, n);
    buf[n] = '\0';
    return apply(ps, K_HOSTS, buf);
}

static int handler(void *user, const char *section_, const char *name,
                   const char *value)
{
    struct parser *ps = user;
    const char *const *names = key_names;
    int k, first, last;

    (void)section_; /* inih truncates it; ours is the one tracked */
    if (ps->failed)
        return 0;
    if (ps->cont)
        return continuation(ps, value);
    ps->have_key = name[0] != '\0';
    if (name[0] == '\0') {
        errorf(ps, ps->line, "missing key before '='");
        return 0;
    }
    if (ps->in == NONE) {
        errorf(ps, ps->line, "key '%.60s' outside any section", name);
        return 0;
    }
    first = ps->in == LIMITER ? K_NAMESPACE : K_HOSTS;
    last = ps->in == LIMITER ? K_SHARE : K_SPLIT;
    for (k = first; k <= last; k++)
        if (strcmp(name, names[k]) == 0)
            break;
    if (k > last) {
        errorf(ps, ps->line, "unknown key '%.60s' in [%s]", name,
               section_name(ps));
        return 0;
    }
    if (ps->seen[k] > 0) {
        errorf(ps, ps->line, "duplicate key '%s' in [%s] (first at line %d)",
               name, section_name(ps), ps->seen[k]);
        return 0;
    }
    ps->seen[k] = ps->line;
    ps->key = (enum key)k;
    return apply(ps, (enum key)k, value);
}

/* ---- the whole ---- */

static bool finish(struct parser *ps)
{
    rlc_config *c = ps->c;
    const char *env = getenv("RLC_LOG");

    if (!end_section(ps))
        return false;
    if (env != NULL && *env != '\0' && !log_level(env, &c->log)) {
        /* not in the file: its name would mislead */
        errorf(ps, -1,
               "RLC_LOG: unknown log level '" QUOTE
               "' (error, warn, info or debug)",
               env);
        return false;
    }
    if (c->namespace_ == NULL && !set_string(ps, &c->namespace_, "default"))
        return false;
    if (c->nats_url == NULL &&
        !set_string(ps, &c->nats_url, "nats://127.0.0.1:4222"))
        return false;
    if (c->agent_id == NULL) {
        c->agent_id = expand(ps, "agent_id", "${HOSTNAME}-${PID}");
        if (c->agent_id == NULL)
            return false;
        /* a long host name must not make the default invalid */
        if (strlen(c->agent_id) >= RLC_RESOURCE_MAX)
            c->agent_id[RLC_RESOURCE_MAX - 1] = '\0';
    }
    return true;
}

rlc_config *rlc_config_parse(const char *text, size_t len, const char *name,
                             char *err, size_t errlen)
{
    struct parser ps;
    rlc_config *c;
    int rc;

    memset(&ps, 0, sizeof(ps));
    ps.name = name != NULL ? name : "<string>";
    ps.p = text != NULL ? text : "";
    ps.end = text != NULL ? text + len : ps.p;
    ps.err = err;
    ps.errlen = errlen;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        nomem(&ps);
        return NULL;
    }
    ps.c = c;
    c->reduce_factor = 0.5;
    c->recovery_interval_ns = 30 * RLC_SECOND;
    c->recovery_factor = 1.1;
    c->max_recovery = true;
    c->max_wait_ns = 5 * RLC_MINUTE;
    c->on_timeout = RLC_ON_TIMEOUT_PASS;
    c->log = RLC_LOG_WARN;
    c->share_by_demand = true;
    if (!set_string(&ps, &c->path, ps.name))
        goto fail;

    rc = ini_parse_stream(reader, &ps, handler, &ps);
    if (ps.failed)
        goto fail;
    if (rc == -2) {
        nomem(&ps);
        goto fail;
    }
    if (rc != 0) {
        /* inih saw an error that scan() did not predict */
        errorf(&ps, rc, "syntax error");
        goto fail;
    }
    if (!finish(&ps))
        goto fail;
    return c;
fail:
    rlc_config_free(c);
    return NULL;
}

static void sys_error(const char *path, int e, char *err, size_t errlen)
{
    char buf[128];

    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s: %s", path, strerror_r(e, buf, sizeof(buf)));
}

rlc_config *rlc_config_load(const char *path, char *err, size_t errlen)
{
    struct stat st;
    char *text = NULL, *t;
    size_t len = 0, cap = 0;
    rlc_config *c;
    ssize_t got;
    int fd;

    if (path == NULL) {
        sys_error("(null)", EINVAL, err, errlen);
        return NULL;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        sys_error(path, errno, err, errlen);
        return NULL;
    }
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        sys_error(path, EISDIR, err, errlen);
        return NULL;
    }
    for (;;) {
        if (len == cap) {
            cap = cap == 0 ? 4096 : 2 * cap;
            t = cap > FILE_MAX + 1 ? NULL : realloc(text, cap);
            if (t == NULL) {
                int e = cap > FILE_MAX + 1 ? EFBIG : ENOMEM;

                free(text);
                close(fd);
                sys_error(path, e, err, errlen);
                return NULL;
            }
            text = t;
        }
        got = read(fd, text + len, cap - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int e = errno;

            free(text);
            close(fd);
            sys_error(path, e, err, errlen);
            return NULL;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    c = rlc_config_parse(text, len, path, err, errlen);
    free(text);
    return c;
}

void rlc_config_free(rlc_config *c)
{
    size_t i;

    if (c == NULL)
        return;
    for (i = 0; i < c->nresources; i++)
        free(c->resources[i].hosts);
    free(c->resources);
    free(c->path);
    free(c->namespace_);
    free(c->agent_id);
    free(c->nats_url);
    free(c);
}

/* Writes a + b to out; false when it does not fit. */
static bool join(char *out, size_t n, const char *a, const char *b)
{
    int w = snprintf(out, n, "%s%s", a, b);

    return w >= 0 && (size_t)w < n;
}

static bool exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

bool rlc_config_find(char *out, size_t n)
{
    const char *env = getenv("RLC_CONFIG");
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    char path[PATH_MAX];

    if (out == NULL || n == 0)
        return false;
    if (env != NULL && *env != '\0')
        return join(out, n, env, "");
    if (exists("rlc.ini"))
        return join(out, n, "rlc.ini", "");
    /* a relative XDG_CONFIG_HOME is invalid and ignored, as the spec says */
    if (xdg != NULL && xdg[0] == '/') {
        if (join(path, sizeof(path), xdg, "/rlc/rlc.ini") && exists(path))
            return join(out, n, path, "");
    } else if (home != NULL && *home != '\0') {
        if (join(path, sizeof(path), home, "/.config/rlc/rlc.ini") &&
            exists(path))
            return join(out, n, path, "");
    }
    if (exists("/etc/rlc.ini"))
        return join(out, n, "/etc/rlc.ini", "");
    return false;
}
