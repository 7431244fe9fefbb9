/* SPDX-License-Identifier: MIT */
/*
 * test_wire.c - bus messages and RFC 3339 time against the reference Go
 * package's own output (shared/wire/, located by $RLC_SHARED or ../shared),
 * byte-exact encodings, and tables of malformed input.
 *
 * gmtime_r() appears here only as an independent oracle for the calendar.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "wire.h"

/* A string literal and its length, embedded NULs included. */
#define LIT(s) s, sizeof(s) - 1

/* The fields every capacity message needs, for tables to build on. */
#define RES "\"resource\":\"openai\""
#define AGT "\"agent_id\":\"a1\""
#define CAP "\"new_capacity\":30"
#define BASE RES "," AGT "," CAP
#define N127                                                                   \
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"          \
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

_Static_assert(sizeof(N127) == RLC_RESOURCE_MAX, "N127 is the longest name");

static rlc_status decode(const char *s, rlc__capacity_msg *m)
{
    return rlc__wire_decode_capacity(s, strlen(s), m);
}

static void assert_encodes(const rlc__capacity_msg *m, const char *want)
{
    char buf[2048];
    int n = rlc__wire_encode_capacity(m, buf, sizeof(buf));

    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(buf, want);
}

static void assert_same_capacity(const rlc__capacity_msg *a,
                                 const rlc__capacity_msg *b)
{
    assert_string_equal(a->resource, b->resource);
    assert_string_equal(a->agent_id, b->agent_id);
    assert_string_equal(a->reason, b->reason);
    assert_true(a->new_capacity == b->new_capacity);
    assert_int_equal(a->has_timestamp, b->has_timestamp);
    if (a->has_timestamp)
        assert_true(a->timestamp_ns == b->timestamp_ns);
    assert_int_equal(a->has_epoch, b->has_epoch);
    if (a->has_epoch)
        assert_true(a->epoch == b->epoch);
    assert_int_equal(a->has_total, b->has_total);
    if (a->has_total)
        assert_true(a->total == b->total);
    assert_int_equal(a->has_pause, b->has_pause);
    if (a->has_pause)
        assert_true(a->pause_until_ns == b->pause_until_ns);
}

/* The reference vectors */

static const struct {
    const char *resource, *agent_id, *reason;
    int64_t new_capacity;
    bool has_timestamp;
    int64_t timestamp_ns;
    const char *sent; /* what rlc encodes for it: Go's line, in UTC */
} vectors[] = {
    {"openai-api", "agent-1", "received 429 from API", 30, true,
     INT64_C(1795871963123456789),
     "{\"resource\":\"openai-api\",\"agent_id\":\"agent-1\","
     "\"new_capacity\":30,\"reason\":\"received 429 from API\","
     "\"timestamp\":\"2026-11-28T13:19:23.123456789Z\"}"},
    {"shared-api", "agent-2", "rate limited", 50, true,
     INT64_C(1795871963123456789),
     "{\"resource\":\"shared-api\",\"agent_id\":\"agent-2\","
     "\"new_capacity\":50,\"reason\":\"rate limited\","
     "\"timestamp\":\"2026-11-28T13:19:23.123456789Z\"}"},
    {"anthropic", "worker-7@host", "429 \"Too Many Requests\" <retry>\n", 1,
     true, INT64_C(1767341045000000000),
     "{\"resource\":\"anthropic\",\"agent_id\":\"worker-7@host\","
     "\"new_capacity\":1,\"reason\":\"429 \\\"Too Many Requests\\\" "
     "\\u003cretry\\u003e\\n\",\"timestamp\":\"2026-01-02T08:04:05Z\"}"},
    {"\xC3\xBCn\xC3\xAF"
     "code-\xE8\xB5\x84\xE6\xBA\x90",
     "agent-\xCE\xB2", "tab\there & \xE2\x80\xA8 sep", 12, true,
     INT64_C(1782863999500000000),
     "{\"resource\":\"\xC3\xBCn\xC3\xAF"
     "code-\xE8\xB5\x84\xE6\xBA\x90\",\"agent_id\":\"agent-\xCE\xB2\","
     "\"new_capacity\":12,\"reason\":\"tab\\there \\u0026 \\u2028 sep\","
     "\"timestamp\":\"2026-06-30T23:59:59.5Z\"}"},
    {"api", "", "", 0, false, 0,
     "{\"resource\":\"api\",\"agent_id\":\"\",\"new_capacity\":0,"
     "\"reason\":\"\",\"timestamp\":\"0001-01-01T00:00:00Z\"}"},
};
#define NVECTORS (sizeof(vectors) / sizeof(vectors[0]))

/* The Go package's lines, without their newlines. A missing file fails
 * the test: skipping would hide that nothing was checked. */
static size_t read_vectors(char *lines[], size_t max)
{
    const char *dir = getenv("RLC_SHARED");
    char path[4096], *line = NULL;
    size_t cap = 0, n = 0;
    ssize_t len;
    FILE *f;

    if (dir == NULL || dir[0] == '\0')
        dir = "../shared";
    snprintf(path, sizeof(path), "%s/wire/reference-go-capacity-updates.jsonl",
             dir);
    f = fopen(path, "r");
    if (f == NULL)
        fail_msg("cannot open %s (set RLC_SHARED to the shared/ directory)",
                 path);
    while ((len = getline(&line, &cap, f)) >= 0) {
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        if (len == 0)
            continue;
        assert_true(n < max);
        lines[n++] = strdup(line);
    }
    free(line);
    fclose(f);
    return n;
}

static void test_wire_vectors_decode(void **state)
{
    char *lines[16];
    size_t n, i;

    (void)state;
    n = read_vectors(lines, 16);
    assert_int_equal(n, NVECTORS);
    for (i = 0; i < n; i++) {
        rlc__capacity_msg m;

        assert_int_equal(decode(lines[i], &m), RLC_OK);
        assert_string_equal(m.resource, vectors[i].resource);
        assert_string_equal(m.agent_id, vectors[i].agent_id);
        assert_string_equal(m.reason, vectors[i].reason);
        assert_true(m.new_capacity == vectors[i].new_capacity);
        assert_int_equal(m.has_timestamp, vectors[i].has_timestamp);
        if (m.has_timestamp)
            assert_true(m.timestamp_ns == vectors[i].timestamp_ns);
        assert_false(m.has_epoch || m.has_total || m.has_pause);
        free(lines[i]);
    }
}

/* rlc sends what Go sends; only the zone differs (rlc writes UTC), so the
 * lines written in UTC come back byte for byte. */
static void test_wire_vectors_reencode(void **state)
{
    char *lines[16];
    size_t n, i;

    (void)state;
    n = read_vectors(lines, 16);
    assert_int_equal(n, NVECTORS);
    for (i = 0; i < n; i++) {
        rlc__capacity_msg m;

        assert_int_equal(decode(lines[i], &m), RLC_OK);
        assert_encodes(&m, vectors[i].sent);
        if (i == 0 || i == 3 || i == 4)
            assert_string_equal(lines[i], vectors[i].sent);
        free(lines[i]);
    }
}

/* Capacity messages */

static void test_wire_encode_known_message(void **state)
{
    rlc__capacity_msg m = {
        .resource = "openai",
        .agent_id = "host-1234",
        .reason = "HTTP 429 from api.openai.com",
        .new_capacity = 30,
        .has_timestamp = true,
        .timestamp_ns = INT64_C(1795871963123000000),
        .has_epoch = true,
        .epoch = 7,
        .has_total = true,
        .total = 120,
        .has_pause = true,
        .pause_until_ns = INT64_C(1795871993000000000),
    };

    (void)state;
    assert_encodes(&m, "{\"resource\":\"openai\",\"agent_id\":\"host-1234\","
                       "\"new_capacity\":30,"
                       "\"reason\":\"HTTP 429 from api.openai.com\","
                       "\"timestamp\":\"2026-11-28T13:19:23.123Z\","
                       "\"rlc_epoch\":7,\"rlc_total\":120,"
                       "\"rlc_pause_until\":\"2026-11-28T13:19:53Z\"}");
    m.has_timestamp = false;
    m.has_epoch = m.has_total = m.has_pause = false;
    assert_encodes(&m, "{\"resource\":\"openai\",\"agent_id\":\"host-1234\","
                       "\"new_capacity\":30,"
                       "\"reason\":\"HTTP 429 from api.openai.com\","
                       "\"timestamp\":\"0001-01-01T00:00:00Z\"}");
}

/* Go's escapes: \b and \f short (Go 1.22 on), other controls as lowercase
 * \u00xx, <>& and U+2028/9 as \u, "/" and DEL as they are. */
static void test_wire_encode_escapes_as_go(void **state)
{
    rlc__capacity_msg m = {.resource = "r<&>",
                           .agent_id = "a\\b",
                           .reason = "\x01\x1f\b\f\r\n\t\"\\/\x7f<>&"
                                     "\xE2\x80\xA8\xE2\x80\xA9\xE2\x80\xAA"};

    (void)state;
    assert_encodes(&m, "{\"resource\":\"r\\u003c\\u0026\\u003e\","
                       "\"agent_id\":\"a\\\\b\",\"new_capacity\":0,"
                       "\"reason\":\"\\u0001\\u001f\\b\\f\\r\\n\\t\\\"\\\\/"
                       "\x7f\\u003c\\u003e\\u0026\\u2028\\u2029\xE2\x80\xAA\","
                       "\"timestamp\":\"0001-01-01T00:00:00Z\"}");
}

static void test_wire_encode_invalid_utf8_reason(void **state)
{
    rlc__capacity_msg m = {.resource = "r",
                           .agent_id = "a",
                           .reason = "ok\xFF\xC0\xAF\xED\xA0\x80\xE2\x82"};

    (void)state;
    /* One U+FFFD per byte that starts no valid sequence, as Go. */
    assert_encodes(&m, "{\"resource\":\"r\",\"agent_id\":\"a\","
                       "\"new_capacity\":0,\"reason\":\"ok"
                       "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                       "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                       "\",\"timestamp\":\"0001-01-01T00:00:00Z\"}");

    /* Overlong, above U+10FFFF, past F4; the edges that are valid stay. */
    strcpy(m.reason, "\xE0\x80\xAF\xF0\x80\x80\x80\xF4\x90\x80\x80\xF5\x80"
                     "\x80\x80\xE0\xA0\x80\xF0\x90\x80\x80\xF4\x8F\xBF\xBF");
    assert_encodes(&m, "{\"resource\":\"r\",\"agent_id\":\"a\","
                       "\"new_capacity\":0,\"reason\":\""
                       "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                       "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                       "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                       "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                       "\xE0\xA0\x80\xF0\x90\x80\x80\xF4\x8F\xBF\xBF"
                       "\",\"timestamp\":\"0001-01-01T00:00:00Z\"}");
}

static void test_wire_encode_refuses_bad_input(void **state)
{
    rlc__capacity_msg m = {.resource = "r", .agent_id = "a"};
    char buf[1024];

    (void)state;
    assert_int_equal(rlc__wire_encode_capacity(NULL, buf, sizeof(buf)), -1);
    assert_int_equal(rlc__wire_encode_capacity(&m, NULL, 10), -1);

    strcpy(m.resource, "bad\xFF");
    assert_int_equal(rlc__wire_encode_capacity(&m, buf, sizeof(buf)), -1);
    strcpy(m.resource, "r");
    strcpy(m.agent_id, "\xC3");
    assert_int_equal(rlc__wire_encode_capacity(&m, buf, sizeof(buf)), -1);
    memset(m.agent_id, 'x', sizeof(m.agent_id)); /* no NUL */
    assert_int_equal(rlc__wire_encode_capacity(&m, buf, sizeof(buf)), -1);
    strcpy(m.agent_id, "a");
    memset(m.reason, 'x', sizeof(m.reason));
    assert_int_equal(rlc__wire_encode_capacity(&m, buf, sizeof(buf)), -1);
    m.reason[0] = '\0';
    m.has_epoch = true;
    m.epoch = (uint64_t)INT64_MAX + 1;
    assert_int_equal(rlc__wire_encode_capacity(&m, buf, sizeof(buf)), -1);
    m.epoch = (uint64_t)INT64_MAX;
    assert_true(rlc__wire_encode_capacity(&m, buf, sizeof(buf)) > 0);
}

static void test_wire_encode_buffer_bounds(void **state)
{
    rlc__capacity_msg m = {.resource = "r<", .agent_id = "a"};
    const char *want = "{\"resource\":\"r\\u003c\",\"agent_id\":\"a\","
                       "\"new_capacity\":0,\"reason\":\"\","
                       "\"timestamp\":\"0001-01-01T00:00:00Z\"}";
    int len = (int)strlen(want);
    char buf[256];

    (void)state;
    memset(buf, '#', sizeof(buf));
    assert_int_equal(rlc__wire_encode_capacity(&m, buf, (size_t)len), len);
    assert_memory_equal(buf, want, (size_t)len);
    assert_int_equal(buf[len], '#'); /* no room: no NUL written */
    assert_int_equal(rlc__wire_encode_capacity(&m, buf, (size_t)len + 1), len);
    assert_string_equal(buf, want);
    /* One byte short, even if it is an escape's byte. */
    assert_int_equal(rlc__wire_encode_capacity(&m, buf, (size_t)len - 1), -1);
    assert_int_equal(rlc__wire_encode_capacity(&m, buf, 20), -1);
    assert_int_equal(rlc__wire_encode_capacity(&m, NULL, 0), -1);
}

static void test_wire_roundtrip(void **state)
{
    static const rlc__capacity_msg msgs[] = {
        {.resource = "openai", .agent_id = "host-1", .new_capacity = 30},
        {.resource = N127,
         .agent_id = N127,
         .reason = "\xE2\x80\xA8<&>\"\\\x01",
         .new_capacity = INT64_MIN,
         .has_timestamp = true,
         .timestamp_ns = INT64_MIN,
         .has_epoch = true,
         .epoch = INT64_MAX,
         .has_total = true,
         .total = INT64_MIN,
         .has_pause = true,
         .pause_until_ns = INT64_MAX},
        {.resource = "\xE8\xB5\x84",
         .agent_id = "",
         .new_capacity = INT64_MAX,
         .has_timestamp = true,
         .timestamp_ns = -1,
         .has_epoch = true,
         .epoch = 0,
         .has_pause = true,
         .pause_until_ns = 0},
        {.resource = "a",
         .agent_id = "b",
         .new_capacity = -5,
         .has_timestamp = true,
         .timestamp_ns = 1,
         .has_total = true,
         .total = 0},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
        rlc__capacity_msg back;
        char buf[2048];
        int n = rlc__wire_encode_capacity(&msgs[i], buf, sizeof(buf));

        assert_true(n > 0);
        assert_int_equal(rlc__wire_decode_capacity(buf, (size_t)n, &back),
                         RLC_OK);
        assert_same_capacity(&msgs[i], &back);
    }
}

static void test_wire_decode_reason_rules(void **state)
{
    rlc__capacity_msg m;
    char json[2048], *p;
    int i;

    (void)state;
    assert_int_equal(decode("{" BASE "}", &m), RLC_OK);
    assert_string_equal(m.reason, "");
    assert_int_equal(decode("{" BASE ",\"reason\":null}", &m), RLC_OK);
    assert_string_equal(m.reason, "");
    assert_int_equal(decode("{" BASE ",\"reason\":\"a\\u0000b\"}", &m), RLC_OK);
    assert_string_equal(m.reason, "a");

    /* 300 two-byte characters: cut to 127 of them (254 bytes), not 255. */
    p = json + sprintf(json, "{" BASE ",\"reason\":\"");
    for (i = 0; i < 300; i++)
        p += sprintf(p, "\xC3\xA9");
    strcpy(p, "\"}");
    assert_int_equal(decode(json, &m), RLC_OK);
    assert_int_equal(strlen(m.reason), 254);
    assert_int_equal((unsigned char)m.reason[252], 0xC3);

    /* 253 bytes then a four-byte character: cut before it. */
    p = json + sprintf(json, "{" BASE ",\"reason\":\"");
    for (i = 0; i < 253; i++)
        *p++ = 'a';
    strcpy(p, "\xF0\x9F\x98\x80\"}");
    assert_int_equal(decode(json, &m), RLC_OK);
    assert_int_equal(strlen(m.reason), 253);

    /* Exactly 255 bytes fit. */
    p = json + sprintf(json, "{" BASE ",\"reason\":\"");
    for (i = 0; i < 252; i++)
        *p++ = 'a';
    strcpy(p, "\xE2\x82\xAC\"}");
    assert_int_equal(decode(json, &m), RLC_OK);
    assert_int_equal(strlen(m.reason), 255);
}

static void test_wire_decode_timestamp_is_lenient(void **state)
{
    static const char *const cases[] = {
        "{" BASE "}",
        "{" BASE ",\"timestamp\":null}",
        "{" BASE ",\"timestamp\":1795871963}",
        "{" BASE ",\"timestamp\":{}}",
        "{" BASE ",\"timestamp\":\"\"}",
        "{" BASE ",\"timestamp\":\"yesterday\"}",
        "{" BASE ",\"timestamp\":\"0001-01-01T00:00:00Z\"}",
        "{" BASE ",\"timestamp\":\"9999-12-31T23:59:59Z\"}",
        "{" BASE ",\"timestamp\":\"2026-11-28t13:19:23z\"}",
        "{" BASE ",\"timestamp\":\"2026-11-28T24:00:00Z\"}",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rlc__capacity_msg m;

        assert_int_equal(decode(cases[i], &m), RLC_OK);
        assert_false(m.has_timestamp);
        assert_true(m.new_capacity == 30);
    }
}

static void test_wire_decode_extensions(void **state)
{
    rlc__capacity_msg m;

    (void)state;
    assert_int_equal(
        decode("{" BASE ",\"rlc_epoch\":9223372036854775807,\"rlc_total\":-3,"
               "\"rlc_pause_until\":\"2026-11-28T14:19:53.5+01:00\"}",
               &m),
        RLC_OK);
    assert_true(m.has_epoch && m.epoch == INT64_MAX);
    assert_true(m.has_total && m.total == -3);
    assert_true(m.has_pause &&
                m.pause_until_ns == INT64_C(1795871993500000000));
    assert_int_equal(decode("{" BASE ",\"rlc_epoch\":null,\"rlc_total\":null,"
                            "\"rlc_pause_until\":null}",
                            &m),
                     RLC_OK);
    assert_false(m.has_epoch || m.has_total || m.has_pause);
}

static void test_wire_decode_as_sent(void **state)
{
    rlc__capacity_msg m;

    (void)state;
    /* Not the decoder's business: the limiter ignores what makes no
     * sense. Negative and zero capacities, empty names, -0 pass. */
    assert_int_equal(decode("{\"resource\":\"\",\"agent_id\":\"\","
                            "\"new_capacity\":-9223372036854775808}",
                            &m),
                     RLC_OK);
    assert_true(m.new_capacity == INT64_MIN);
    assert_int_equal(decode("{" RES "," AGT ",\"new_capacity\":-0}", &m),
                     RLC_OK);
    assert_true(m.new_capacity == 0);
    /* Unknown fields, of any shape, and other spellings are ignored. */
    assert_int_equal(
        decode(" \n{\"Resource\":\"no\",\"x\":[1,{\"y\":[null,true]}]," BASE
               ",\"agent\":5}\r\n\t",
               &m),
        RLC_OK);
    assert_string_equal(m.resource, "openai");
    assert_string_equal(m.agent_id, "a1");
    /* The longest names that fit. */
    assert_int_equal(decode("{\"resource\":\"" N127 "\",\"agent_id\":\"" N127
                            "\"," CAP "}",
                            &m),
                     RLC_OK);
    assert_int_equal(strlen(m.resource), RLC_RESOURCE_MAX - 1);
    /* len is honoured: the bytes after it are never read. */
    assert_int_equal(rlc__wire_decode_capacity("{" BASE "}garbage",
                                               sizeof("{" BASE "}") - 1, &m),
                     RLC_OK);
}

static const struct {
    const char *json;
    size_t len;
} malformed[] = {
    {LIT("")},
    {LIT(" \n")},
    {LIT("null")},
    {LIT("42")},
    {LIT("\"openai\"")},
    {LIT("[]")},
    {LIT("[{" BASE "}]")},
    {LIT("{")},
    {LIT("{" BASE)},
    {LIT("{\"resource\":\"open")},
    {LIT("{" BASE "} x")},
    {LIT("{" BASE "}{" BASE "}")},
    {LIT("{" BASE ",}")},
    {LIT("{'resource':'openai'," AGT "," CAP "}")},
    {LIT("/* c */{" BASE "}")},
    {LIT("\xEF\xBB\xBF{" BASE "}")},
    {LIT("{" BASE "}\0")},
    {LIT("{}")},
    {LIT("{" AGT "," CAP "}")},
    {LIT("{" RES "," CAP "}")},
    {LIT("{" RES "," AGT "}")},
    {LIT("{" RES "," AGT ",\"new_capacity\":null}")},
    {LIT("{" RES "," AGT ",\"new_capacity\":30.0}")},
    {LIT("{" RES "," AGT ",\"new_capacity\":3e1}")},
    {LIT("{" RES "," AGT ",\"new_capacity\":\"30\"}")},
    {LIT("{" RES "," AGT ",\"new_capacity\":true}")},
    {LIT("{" RES "," AGT ",\"new_capacity\":[30]}")},
    {LIT("{" RES "," AGT ",\"new_capacity\":NaN}")},
    {LIT("{" RES "," AGT ",\"new_capacity\":Infinity}")},
    {LIT("{" RES "," AGT ",\"new_capacity\":-Infinity}")},
    {LIT("{" RES "," AGT ",\"new_capacity\":1e400}")},
    {LIT("{" RES "," AGT ",\"new_capacity\":-1e400}")},
    {LIT("{" RES "," AGT ",\"new_capacity\":99999999999999999999}")},
    {LIT("{" RES "," AGT ",\"new_capacity\":-99999999999999999999}")},
    {LIT("{" RES "," AGT ",\"new_capacity\":9223372036854775808}")},
    {LIT("{" RES "," AGT ",\"new_capacity\":030}")},
    {LIT("{" RES "," AGT ",\"new_capacity\":+30}")},
    {LIT("{" RES "," AGT ",\"new_capacity\":0x1e}")},
    {LIT("{\"resource\":null," AGT "," CAP "}")},
    {LIT("{\"resource\":7," AGT "," CAP "}")},
    {LIT("{\"resource\":[\"openai\"]," AGT "," CAP "}")},
    {LIT("{" RES ",\"agent_id\":{}," CAP "}")},
    {LIT("{" RES ",\"agent_id\":false," CAP "}")},
    {LIT("{\"resource\":\"" N127 "x\"," AGT "," CAP "}")},
    {LIT("{" RES ",\"agent_id\":\"" N127 "x\"," CAP "}")},
    {LIT("{\"resource\":\"open\\u0000ai\"," AGT "," CAP "}")},
    {LIT("{" RES ",\"agent_id\":\"\\u0000\"," CAP "}")},
    {LIT("{\"resource\":\"open\0ai\"," AGT "," CAP "}")},
    {LIT("{\"resource\":\"open\nai\"," AGT "," CAP "}")},
    {LIT("{\"resource\":\"open\xFF"
         "ai\"," AGT "," CAP "}")},
    {LIT("{\"resource\":\"\xC0\xAF\"," AGT "," CAP "}")},
    {LIT("{\"resource\":\"\xED\xA0\x80\"," AGT "," CAP "}")},
    {LIT("{\"resource\":\"\\ud800\"," AGT "," CAP "}")},
    {LIT("{\"resource\":\"\\x41\"," AGT "," CAP "}")},
    {LIT("{" BASE ",\"resource\":\"other\"}")},
    {LIT("{" BASE ",\"new_capacity\":30}")},
    {LIT("{" BASE ",\"x\":{\"y\":1,\"y\":2}}")},
    {LIT("{" BASE ",\"a\\u0000b\":1}")},
    {LIT("{" BASE ",\"reason\":429}")},
    {LIT("{" BASE ",\"reason\":[\"429\"]}")},
    {LIT("{" BASE ",\"rlc_epoch\":-1}")},
    {LIT("{" BASE ",\"rlc_epoch\":1.5}")},
    {LIT("{" BASE ",\"rlc_epoch\":\"1\"}")},
    {LIT("{" BASE ",\"rlc_total\":\"120\"}")},
    {LIT("{" BASE ",\"rlc_total\":120.0}")},
    {LIT("{" BASE ",\"rlc_pause_until\":\"tomorrow\"}")},
    {LIT("{" BASE ",\"rlc_pause_until\":1795871993}")},
    {LIT("{" BASE ",\"rlc_pause_until\":\"0001-01-01T00:00:00Z\"}")},
    {LIT("{" BASE ",\"rlc_pause_until\":\"2026-11-28t13:19:53Z\"}")},
};

static void test_wire_decode_malformed(void **state)
{
    size_t i;

    (void)state;
    assert_true(sizeof(malformed) / sizeof(malformed[0]) >= 25);
    for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        rlc__capacity_msg m;
        rlc_status st =
            rlc__wire_decode_capacity(malformed[i].json, malformed[i].len, &m);

        if (st != RLC_EINVAL)
            fail_msg("malformed[%zu] %s: got %s", i, malformed[i].json,
                     rlc_status_name(st));
    }
}

static void test_wire_decode_null_arguments(void **state)
{
    rlc__capacity_msg m;
    rlc__presence_msg p;

    (void)state;
    assert_int_equal(rlc__wire_decode_capacity(NULL, 10, &m), RLC_EINVAL);
    assert_int_equal(rlc__wire_decode_capacity("{" BASE "}", 0, &m),
                     RLC_EINVAL);
    assert_int_equal(rlc__wire_decode_capacity("{" BASE "}", 5, NULL),
                     RLC_EINVAL);
    assert_int_equal(rlc__wire_decode_presence(NULL, 10, &p), RLC_EINVAL);
    assert_int_equal(rlc__wire_decode_presence("{}", 2, NULL), RLC_EINVAL);
}

static void test_wire_decode_size_limit(void **state)
{
    const char msg[] = "{" BASE "}";
    char *big = malloc(RLC_WIRE_MAX + 2);
    rlc__capacity_msg m;

    (void)state;
    assert_non_null(big);
    memset(big, ' ', RLC_WIRE_MAX + 1);
    memcpy(big, msg, sizeof(msg) - 1);
    assert_int_equal(rlc__wire_decode_capacity(big, RLC_WIRE_MAX, &m), RLC_OK);
    assert_int_equal(rlc__wire_decode_capacity(big, RLC_WIRE_MAX + 1, &m),
                     RLC_EINVAL);
    free(big);
}

static void test_wire_decode_deep_nesting(void **state)
{
    char *json = malloc(32768);
    rlc__capacity_msg m;
    size_t depth, len;

    (void)state;
    assert_non_null(json);
    for (depth = 100; depth <= 10000; depth += 9900) {
        len = (size_t)sprintf(json, "{" BASE ",\"x\":");
        memset(json + len, '[', depth);
        memset(json + len + depth, ']', depth);
        len += 2 * depth;
        json[len++] = '}';
        assert_int_equal(rlc__wire_decode_capacity(json, len, &m),
                         depth == 100 ? RLC_OK : RLC_EINVAL);
    }
    free(json);
}

/* RFC 3339 */

static const struct {
    const char *s;
    int64_t ns;
} rfc_valid[] = {
    {"1970-01-01T00:00:00Z", 0},
    {"1970-01-01T00:00:00.000000001Z", 1},
    {"1969-12-31T23:59:59.999999999Z", -1},
    {"2026-11-28T13:19:23.1Z", INT64_C(1795871963100000000)},
    {"2026-11-28T13:19:23.12Z", INT64_C(1795871963120000000)},
    {"2026-11-28T13:19:23.123Z", INT64_C(1795871963123000000)},
    {"2026-11-28T13:19:23.1234Z", INT64_C(1795871963123400000)},
    {"2026-11-28T13:19:23.12345Z", INT64_C(1795871963123450000)},
    {"2026-11-28T13:19:23.123456Z", INT64_C(1795871963123456000)},
    {"2026-11-28T13:19:23.1234567Z", INT64_C(1795871963123456700)},
    {"2026-11-28T13:19:23.12345678Z", INT64_C(1795871963123456780)},
    {"2026-11-28T13:19:23.123456789Z", INT64_C(1795871963123456789)},
    {"2026-11-28T13:19:23.000000000Z", INT64_C(1795871963000000000)},
    {"2026-11-28T14:19:23.123456789+01:00", INT64_C(1795871963123456789)},
    {"2026-01-02T03:04:05-05:00", INT64_C(1767341045000000000)},
    {"2026-11-28T13:19:23.1+23:59", INT64_C(1795785623100000000)},
    {"2026-11-28T13:19:23.12-00:00", INT64_C(1795871963120000000)},
    {"2026-06-30T23:59:59.5Z", INT64_C(1782863999500000000)},
    {"2024-02-29T12:00:00Z", INT64_C(1709208000000000000)},
    {"2000-02-29T00:00:00Z", INT64_C(951782400000000000)},
    {"1900-03-01T00:00:00Z", INT64_C(-2203891200000000000)},
    {"2020-12-31T23:59:59Z", INT64_C(1609459199000000000)},
    {"2021-01-01T00:00:00Z", INT64_C(1609459200000000000)},
    {"1776-07-04T12:00:00-04:56", INT64_C(-6105999840000000000)},
    {"1677-09-21T00:12:43.145224192Z", INT64_MIN},
    {"1677-09-20T23:12:43.145224192-01:00", INT64_MIN},
    {"2262-04-11T23:47:16.854775807Z", INT64_MAX},
    {"2262-04-12T00:47:16.854775807+01:00", INT64_MAX},
};

static const char *const rfc_invalid[] = {
    "",
    "2026",
    "2026-11-28",
    "2026-11-28T13:19:23",
    "2026-11-28T13:19Z",
    "2026-11-28 13:19:23Z",
    "2026-11-28t13:19:23Z",
    "2026-11-28T13:19:23z",
    "2026-11-28T13:19:23+0100",
    "2026-11-28T13:19:23+01",
    "2026-11-28T13:19:23+01:00Z",
    "2026-11-28T13:19:23Zx",
    "2026-11-28T13:19:23 Z",
    " 2026-11-28T13:19:23Z",
    "2026-11-28T13:19:23.Z",
    "2026-11-28T13:19:23.1234567890Z",
    "2026-11-28T13:19:23,5Z",
    "2026-11-28T13:19:23.5",
    "2026-11-28T13:19:23.-5Z",
    "2026-11-28T24:00:00Z",
    "2026-11-28T23:60:00Z",
    "2026-11-28T23:59:60Z",
    "2026-00-28T13:19:23Z",
    "2026-13-28T13:19:23Z",
    "2026-11-00T13:19:23Z",
    "2026-11-31T13:19:23Z",
    "2026-04-31T13:19:23Z",
    "2023-02-29T00:00:00Z",
    "1900-02-29T00:00:00Z",
    "2100-02-29T00:00:00Z",
    "2026-11-28T13:19:23+24:00",
    "2026-11-28T13:19:23+01:60",
    "2026-11-28T13:19:23*01:00",
    "2026-1-28T13:19:23Z",
    "+2026-11-28T13:19:23Z",
    "20261-11-28T13:19:23Z",
    "2026-11-28T13:19:2aZ",
    "2026-11-28T-3:19:23Z",
    "2026/11/28T13:19:23Z",
    "0001-01-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "1677-09-21T00:12:43.145224191Z",
    "2262-04-11T23:47:16.854775808Z",
    "2262-04-11T22:47:16.854775808-01:00",
    "1600-01-01T00:00:00Z",
    "\xEF\xBC\x92\xEF\xBC\x90\xEF\xBC\x92\xEF\xBC\x96-11-28T13:19:23Z",
};

static void test_wire_rfc3339_parse_valid(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rfc_valid) / sizeof(rfc_valid[0]); i++) {
        int64_t ns = 42;

        if (!rlc__rfc3339_parse(rfc_valid[i].s, strlen(rfc_valid[i].s), &ns))
            fail_msg("refused %s", rfc_valid[i].s);
        if (ns != rfc_valid[i].ns)
            fail_msg("%s: %lld, want %lld", rfc_valid[i].s, (long long)ns,
                     (long long)rfc_valid[i].ns);
    }
}

static void test_wire_rfc3339_parse_invalid(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rfc_invalid) / sizeof(rfc_invalid[0]); i++) {
        int64_t ns = 42;

        if (rlc__rfc3339_parse(rfc_invalid[i], strlen(rfc_invalid[i]), &ns))
            fail_msg("accepted %s", rfc_invalid[i]);
        assert_true(ns == 42);
    }
}

static void test_wire_rfc3339_parse_reads_len_bytes(void **state)
{
    const char s[] = "2026-11-28T13:19:23Z2026-11-28T13:19:23.5Z";
    int64_t ns;

    (void)state;
    assert_true(rlc__rfc3339_parse(s, 20, &ns));
    assert_true(ns == INT64_C(1795871963000000000));
    assert_false(rlc__rfc3339_parse(s, 19, &ns));
    assert_false(rlc__rfc3339_parse(s, 21, &ns));
    assert_false(rlc__rfc3339_parse("2026-11-28T13:19:23\0Z", 21, &ns));
    assert_false(rlc__rfc3339_parse(NULL, 20, &ns));
    assert_false(rlc__rfc3339_parse(s, 20, NULL));
}

static void test_wire_rfc3339_format(void **state)
{
    static const struct {
        int64_t ns;
        const char *s;
    } cases[] = {
        {0, "1970-01-01T00:00:00Z"},
        {1, "1970-01-01T00:00:00.000000001Z"},
        {-1, "1969-12-31T23:59:59.999999999Z"},
        {1000, "1970-01-01T00:00:00.000001Z"},
        {-RLC_SECOND, "1969-12-31T23:59:59Z"},
        {INT64_C(1795871963123456789), "2026-11-28T13:19:23.123456789Z"},
        {INT64_C(1795871963120000000), "2026-11-28T13:19:23.12Z"},
        {INT64_C(1782863999500000000), "2026-06-30T23:59:59.5Z"},
        {INT64_C(1709208000000000000), "2024-02-29T12:00:00Z"},
        {INT64_C(-2203891200000000000), "1900-03-01T00:00:00Z"},
        {INT64_MIN, "1677-09-21T00:12:43.145224192Z"},
        {INT64_MAX, "2262-04-11T23:47:16.854775807Z"},
    };
    char buf[64];
    size_t i, len;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        len = rlc__rfc3339_format(cases[i].ns, buf, sizeof(buf));
        assert_int_equal(len, strlen(cases[i].s));
        assert_string_equal(buf, cases[i].s);
    }
    len = strlen("1970-01-01T00:00:00.000001Z");
    assert_int_equal(rlc__rfc3339_format(1000, buf, len), 0);
    assert_int_equal(rlc__rfc3339_format(1000, buf, len + 1), len);
    assert_int_equal(rlc__rfc3339_format(1000, NULL, 0), 0);
    assert_int_equal(rlc__rfc3339_format(INT64_MIN, buf, 36), 30);
}

/* Every day of the int64 range, at a time of day that moves: format and
 * parse agree, and gmtime_r() agrees on the calendar. */
static void test_wire_rfc3339_every_day(void **state)
{
    const int64_t day_ns = 86400 * RLC_SECOND;
    int64_t d;

    (void)state;
    for (d = -106750; d < 106750; d++) {
        int64_t ns = d * day_ns + (d * INT64_C(7777777777777)) % day_ns;
        int64_t back = 0;
        char buf[40], want[40];
        time_t secs = (time_t)(ns / RLC_SECOND - (ns % RLC_SECOND < 0));
        struct tm tm;
        size_t len = rlc__rfc3339_format(ns, buf, sizeof(buf));

        assert_true(len > 0);
        assert_true(rlc__rfc3339_parse(buf, len, &back));
        assert_true(back == ns);
        assert_non_null(gmtime_r(&secs, &tm));
        strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
        assert_memory_equal(buf, want, 19);
    }
}

/* Presence */

static void assert_same_presence(const rlc__presence_msg *a,
                                 const rlc__presence_msg *b)
{
    int i;

    assert_string_equal(a->agent_id, b->agent_id);
    assert_true(a->interval_ms == b->interval_ms);
    assert_int_equal(a->leaving, b->leaving);
    assert_int_equal(a->has_demand, b->has_demand);
    assert_int_equal(a->nresources, b->nresources);
    for (i = 0; i < a->nresources; i++) {
        assert_string_equal(a->resources[i].name, b->resources[i].name);
        assert_true(a->resources[i].demand == b->resources[i].demand);
    }
}

static void test_wire_presence_decode(void **state)
{
    const char *s = "{\"agent_id\":\"a\",\"interval_ms\":1000,"
                    "\"leaving\":false,"
                    "\"demand\":{\"openai\":3.5,\"other\":0}}";
    rlc__presence_msg p;

    (void)state;
    assert_int_equal(rlc__wire_decode_presence(s, strlen(s), &p), RLC_OK);
    assert_string_equal(p.agent_id, "a");
    assert_true(p.interval_ms == 1000);
    assert_false(p.leaving);
    assert_true(p.has_demand);
    assert_false(p.demand_partial);
    assert_int_equal(p.nresources, 2);
    assert_string_equal(p.resources[0].name, "openai");
    assert_true(p.resources[0].demand == 3.5);
    assert_string_equal(p.resources[1].name, "other");
    assert_true(p.resources[1].demand == 0);

    s = "{\"agent_id\":\"b\",\"interval_ms\":5,\"leaving\":true,\"x\":[]}";
    assert_int_equal(rlc__wire_decode_presence(s, strlen(s), &p), RLC_OK);
    assert_true(p.leaving);
    assert_false(p.has_demand); /* an agent that says nothing of demand */
    assert_int_equal(p.nresources, 0);
    s = "{\"agent_id\":\"b\",\"interval_ms\":5,\"leaving\":null,"
        "\"demand\":null}";
    assert_int_equal(rlc__wire_decode_presence(s, strlen(s), &p), RLC_OK);
    assert_false(p.leaving);
    assert_false(p.has_demand);
    assert_int_equal(p.nresources, 0);
    s = "{\"agent_id\":\"b\",\"interval_ms\":5,\"demand\":{}}";
    assert_int_equal(rlc__wire_decode_presence(s, strlen(s), &p), RLC_OK);
    assert_true(p.has_demand); /* an agent that uses no resource */
    assert_false(p.demand_partial);
    assert_int_equal(p.nresources, 0);
}

static void test_wire_presence_skips_and_caps(void **state)
{
    char json[4096], *p = json;
    rlc__presence_msg m;
    int i;

    (void)state;
    p += sprintf(p, "{\"agent_id\":\"a\",\"interval_ms\":1,\"demand\":{"
                    "\"" N127 "x\":1");
    for (i = 0; i < 40; i++)
        p += sprintf(p, ",\"r%d\":%d", i, i);
    strcpy(p, "}}");
    assert_int_equal(rlc__wire_decode_presence(json, strlen(json), &m), RLC_OK);
    assert_int_equal(m.nresources, RLC_PRESENCE_RESOURCES);
    assert_true(m.has_demand);
    assert_true(m.demand_partial); /* some may be in use, unsaid */
    for (i = 0; i < RLC_PRESENCE_RESOURCES; i++) {
        char name[8];

        snprintf(name, sizeof(name), "r%d", i);
        assert_string_equal(m.resources[i].name, name);
        assert_true(m.resources[i].demand == i);
    }
    /* Values past the cap are still checked. */
    strcpy(p, ",\"late\":-1}}");
    assert_int_equal(rlc__wire_decode_presence(json, strlen(json), &m),
                     RLC_EINVAL);
}

static void test_wire_presence_encode_known(void **state)
{
    rlc__presence_msg m = {.agent_id = "a<",
                           .interval_ms = 1000,
                           .has_demand = true,
                           .nresources = 2,
                           .resources = {{"openai", 3.5}, {"other", 0}}};
    const char *want = "{\"agent_id\":\"a\\u003c\",\"interval_ms\":1000,"
                       "\"leaving\":false,"
                       "\"demand\":{\"openai\":3.5,\"other\":0.0}}";
    char buf[256];

    (void)state;
    assert_int_equal(rlc__wire_encode_presence(&m, buf, sizeof(buf)),
                     (int)strlen(want));
    assert_string_equal(buf, want);
    assert_int_equal(rlc__wire_encode_presence(&m, buf, strlen(want) - 1), -1);
    /* Without has_demand no demand object goes out, and names are an
     * error: they would be lost. */
    m.nresources = 0;
    m.has_demand = false;
    want = "{\"agent_id\":\"a\\u003c\",\"interval_ms\":1000,"
           "\"leaving\":false}";
    assert_int_equal(rlc__wire_encode_presence(&m, buf, sizeof(buf)),
                     (int)strlen(want));
    assert_string_equal(buf, want);
    m.nresources = 1;
    assert_int_equal(rlc__wire_encode_presence(&m, buf, sizeof(buf)), -1);
}

static void test_wire_presence_roundtrip(void **state)
{
    static const double values[] = {0,   0.1,     1e300, 5e-324,
                                    3.5, 1.0 / 3, 1e-7,  123456789.25};
    rlc__presence_msg m = {.agent_id = N127,
                           .interval_ms = INT64_MAX,
                           .leaving = true,
                           .has_demand = true};
    rlc__presence_msg back;
    char buf[16384];
    int i, n;

    (void)state;
    for (i = 0; i < RLC_PRESENCE_RESOURCES; i++) {
        snprintf(m.resources[i].name, RLC_RESOURCE_MAX, "res-\xCE\xB2-%d", i);
        m.resources[i].demand = values[i % 8] * (i + 1);
    }
    m.nresources = RLC_PRESENCE_RESOURCES;
    n = rlc__wire_encode_presence(&m, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(rlc__wire_decode_presence(buf, (size_t)n, &back), RLC_OK);
    assert_same_presence(&m, &back);
}

static void test_wire_presence_encode_refuses(void **state)
{
    rlc__presence_msg m = {.agent_id = "a",
                           .interval_ms = 1,
                           .has_demand = true,
                           .nresources = 2,
                           .resources = {{"x", 1}, {"y", 2}}};
    char buf[256];

    (void)state;
    assert_true(rlc__wire_encode_presence(&m, buf, sizeof(buf)) > 0);
    m.interval_ms = 0;
    assert_int_equal(rlc__wire_encode_presence(&m, buf, sizeof(buf)), -1);
    m.interval_ms = 1;
    m.resources[1].demand = -1;
    assert_int_equal(rlc__wire_encode_presence(&m, buf, sizeof(buf)), -1);
    m.resources[1].demand = NAN;
    assert_int_equal(rlc__wire_encode_presence(&m, buf, sizeof(buf)), -1);
    m.resources[1].demand = INFINITY;
    assert_int_equal(rlc__wire_encode_presence(&m, buf, sizeof(buf)), -1);
    m.resources[1].demand = 2;
    strcpy(m.resources[1].name, "x");
    assert_int_equal(rlc__wire_encode_presence(&m, buf, sizeof(buf)), -1);
    strcpy(m.resources[1].name, "\xFF");
    assert_int_equal(rlc__wire_encode_presence(&m, buf, sizeof(buf)), -1);
    strcpy(m.resources[1].name, "y");
    m.nresources = RLC_PRESENCE_RESOURCES + 1;
    assert_int_equal(rlc__wire_encode_presence(&m, buf, sizeof(buf)), -1);
    m.nresources = -1;
    assert_int_equal(rlc__wire_encode_presence(&m, buf, sizeof(buf)), -1);
    m.nresources = 2;
    memset(m.agent_id, 'a', sizeof(m.agent_id));
    assert_int_equal(rlc__wire_encode_presence(&m, buf, sizeof(buf)), -1);
    assert_int_equal(rlc__wire_encode_presence(NULL, buf, sizeof(buf)), -1);
}

#define PA "\"agent_id\":\"a\""
#define PI "\"interval_ms\":1000"

static const struct {
    const char *json;
    size_t len;
} presence_malformed[] = {
    {LIT("")},
    {LIT("[]")},
    {LIT("null")},
    {LIT("{" PA "," PI)},
    {LIT("{" PI "}")},
    {LIT("{\"agent_id\":null," PI "}")},
    {LIT("{\"agent_id\":1," PI "}")},
    {LIT("{\"agent_id\":\"" N127 "x\"," PI "}")},
    {LIT("{\"agent_id\":\"a\\u0000\"," PI "}")},
    {LIT("{" PA "}")},
    {LIT("{" PA ",\"interval_ms\":0}")},
    {LIT("{" PA ",\"interval_ms\":-1000}")},
    {LIT("{" PA ",\"interval_ms\":1000.0}")},
    {LIT("{" PA ",\"interval_ms\":\"1000\"}")},
    {LIT("{" PA ",\"interval_ms\":1e400}")},
    {LIT("{" PA "," PI ",\"leaving\":\"yes\"}")},
    {LIT("{" PA "," PI ",\"leaving\":1}")},
    {LIT("{" PA "," PI ",\"demand\":[]}")},
    {LIT("{" PA "," PI ",\"demand\":3.5}")},
    {LIT("{" PA "," PI ",\"demand\":{\"x\":-1}}")},
    {LIT("{" PA "," PI ",\"demand\":{\"x\":-0.5}}")},
    {LIT("{" PA "," PI ",\"demand\":{\"x\":\"1\"}}")},
    {LIT("{" PA "," PI ",\"demand\":{\"x\":null}}")},
    {LIT("{" PA "," PI ",\"demand\":{\"x\":{}}}")},
    {LIT("{" PA "," PI ",\"demand\":{\"x\":NaN}}")},
    {LIT("{" PA "," PI ",\"demand\":{\"x\":1e400}}")},
    {LIT("{" PA "," PI ",\"demand\":{\"x\":1,\"x\":2}}")},
    {LIT("{" PA "," PI ",\"demand\":{\"x\\u0000\":1}}")},
    {LIT("{" PA "," PI ",\"demand\":{\"\xFF\":1}}")},
    {LIT("{" PA "," PI "," PA "}")},
};

static void test_wire_presence_malformed(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(presence_malformed) / sizeof(presence_malformed[0]);
         i++) {
        rlc__presence_msg m;
        rlc_status st = rlc__wire_decode_presence(
            presence_malformed[i].json, presence_malformed[i].len, &m);

        if (st != RLC_EINVAL)
            fail_msg("presence_malformed[%zu] %s: got %s", i,
                     presence_malformed[i].json, rlc_status_name(st));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_vectors_decode),
        cmocka_unit_test(test_wire_vectors_reencode),
        cmocka_unit_test(test_wire_encode_known_message),
        cmocka_unit_test(test_wire_encode_escapes_as_go),
        cmocka_unit_test(test_wire_encode_invalid_utf8_reason),
        cmocka_unit_test(test_wire_encode_refuses_bad_input),
        cmocka_unit_test(test_wire_encode_buffer_bounds),
        cmocka_unit_test(test_wire_roundtrip),
        cmocka_unit_test(test_wire_decode_reason_rules),
        cmocka_unit_test(test_wire_decode_timestamp_is_lenient),
        cmocka_unit_test(test_wire_decode_extensions),
        cmocka_unit_test(test_wire_decode_as_sent),
        cmocka_unit_test(test_wire_decode_malformed),
        cmocka_unit_test(test_wire_decode_null_arguments),
        cmocka_unit_test(test_wire_decode_size_limit),
        cmocka_unit_test(test_wire_decode_deep_nesting),
        cmocka_unit_test(test_wire_rfc3339_parse_valid),
        cmocka_unit_test(test_wire_rfc3339_parse_invalid),
        cmocka_unit_test(test_wire_rfc3339_parse_reads_len_bytes),
        cmocka_unit_test(test_wire_rfc3339_format),
        cmocka_unit_test(test_wire_rfc3339_every_day),
        cmocka_unit_test(test_wire_presence_decode),
        cmocka_unit_test(test_wire_presence_skips_and_caps),
        cmocka_unit_test(test_wire_presence_encode_known),
        cmocka_unit_test(test_wire_presence_roundtrip),
        cmocka_unit_test(test_wire_presence_encode_refuses),
        cmocka_unit_test(test_wire_presence_malformed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
