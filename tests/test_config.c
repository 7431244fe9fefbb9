/* SPDX-License-Identifier: MIT */
/*
 * test_config.c - the ini file: loading, every error message, durations,
 * host patterns, matching and the search for the file.
 *
 * Errors are checked word for word from tables: the message is the user
 * interface of a configuration. Tests that touch the environment or the
 * working directory put them back as they found them.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

/* ---- helpers ---- */

static rlc_config *parse(const char *text, char *err)
{
    return rlc_config_parse(text, strlen(text), "rlc.ini", err,
                            RLC_CONFIG_ERR_MAX);
}

/* Parses text that must fail, and checks the message word for word. */
static void expect_error(const char *text, const char *message)
{
    char err[RLC_CONFIG_ERR_MAX] = "";
    rlc_config *c = parse(text, err);

    if (c != NULL || strcmp(err, message) != 0)
        print_error("input:\n%s\nwanted: %s\ngot:    %s\n", text, message,
                    c != NULL ? "(a configuration)" : err);
    assert_null(c);
    assert_string_equal(err, message);
}

static rlc_config *must_parse(const char *text)
{
    char err[RLC_CONFIG_ERR_MAX] = "";
    rlc_config *c = parse(text, err);

    if (c == NULL)
        print_error("unexpected error: %s\n", err);
    assert_non_null(c);
    assert_string_equal(err, "");
    return c;
}

/* An environment variable, saved so that restore_env() puts it back. */
struct saved_env {
    const char *name;
    char *value; /* NULL: was unset */
};

static void save_env(struct saved_env *s, const char *name)
{
    const char *v = getenv(name);

    s->name = name;
    s->value = v != NULL ? strdup(v) : NULL;
}

static void restore_env(struct saved_env *s)
{
    if (s->value != NULL)
        setenv(s->name, s->value, 1);
    else
        unsetenv(s->name);
    free(s->value);
    s->value = NULL;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void v4(struct sockaddr_in *sa, const char *addr)
{
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, addr, &sa->sin_addr), 1);
}

static void v6(struct sockaddr_in6 *sa, const char *addr)
{
    memset(sa, 0, sizeof(*sa));
    sa->sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, addr, &sa->sin6_addr), 1);
}

/* The name of the resource matched, or "-" for none. */
static const char *match(const rlc_config *c, const char *host, const void *sa,
                         int port)
{
    const rlc_resource_config *r = rlc_config_match(c, host, sa, port);

    return r != NULL ? r->name : "-";
}

/* ---- whole files ---- */

static void test_config_every_key(void **state)
{
    const char *text =
        "; a complete file\n"
        "[limiter]\n"
        "namespace = team-a.prod\n"
        "agent_id = worker-7\n"
        "nats_url = nats://10.0.0.5:4222\n"
        "reduce_factor = 0.25\n"
        "recovery_interval = 45s\n"
        "recovery_factor = 1.5\n"
        "max_recovery = false\n"
        "max_wait = 1m30s\n"
        "on_timeout = fail\n"
        "log = debug\n"
        "assumed_agents = 8\n"
        "share = equal\n"
        "\n"
        "[openai]                 ; a resource\n"
        "hosts = api.openai.com, *.openai.azure.com:443, 10.1.0.0/16, "
        "[2001:db8::]/32\n"
        "capacity = 60\n"
        "window = 1m\n"
        "per = connection\n"
        "scope = swarm\n"
        "split = false\n"
        "\n"
        "[anthropic]\n"
        "capacity = 5\n"
        "window = 500ms\n"
        "scope = process\n"
        "split = true\n";
    rlc_config *c = must_parse(text);
    const rlc_resource_config *r;

    (void)state;
    assert_string_equal(c->path, "rlc.ini");
    assert_string_equal(c->namespace_, "team-a.prod");
    assert_string_equal(c->agent_id, "worker-7");
    assert_string_equal(c->nats_url, "nats://10.0.0.5:4222");
    assert_true(c->reduce_factor == 0.25);
    assert_int_equal(c->recovery_interval_ns, 45 * RLC_SECOND);
    assert_true(c->recovery_factor == 1.5);
    assert_false(c->max_recovery);
    assert_int_equal(c->assumed_agents, 8);
    assert_false(c->share_by_demand);
    assert_int_equal(c->max_wait_ns, 90 * RLC_SECOND);
    assert_int_equal(c->on_timeout, RLC_ON_TIMEOUT_FAIL);
    assert_int_equal(c->log, RLC_LOG_DEBUG);
    assert_int_equal(c->nresources, 2);

    r = &c->resources[0];
    assert_string_equal(r->name, "openai");
    assert_int_equal(r->line, 16);
    assert_int_equal(r->capacity, 60);
    assert_int_equal(r->window_ns, RLC_MINUTE);
    assert_int_equal(r->per, RLC_PER_CONNECTION);
    assert_int_equal(r->scope, RLC_SCOPE_SWARM);
    assert_false(r->split);
    assert_int_equal(r->nhosts, 4);
    assert_int_equal(r->hosts[0].kind, RLC_HOST_NAME);
    assert_string_equal(r->hosts[0].name, "api.openai.com");
    assert_int_equal(r->hosts[0].port, 0);
    assert_int_equal(r->hosts[1].kind, RLC_HOST_SUFFIX);
    assert_string_equal(r->hosts[1].name, "openai.azure.com");
    assert_int_equal(r->hosts[1].port, 443);
    assert_int_equal(r->hosts[2].kind, RLC_HOST_ADDR);
    assert_int_equal(r->hosts[2].family, AF_INET);
    assert_int_equal(r->hosts[2].prefix, 16);
    assert_memory_equal(r->hosts[2].addr, "\x0a\x01\x00\x00", 4);
    assert_int_equal(r->hosts[3].family, AF_INET6);
    assert_int_equal(r->hosts[3].prefix, 32);
    assert_memory_equal(r->hosts[3].addr, "\x20\x01\x0d\xb8", 4);

    r = &c->resources[1];
    assert_string_equal(r->name, "anthropic");
    assert_int_equal(r->line, 24);
    assert_int_equal(r->capacity, 5);
    assert_int_equal(r->window_ns, 500 * RLC_MILLISECOND);
    assert_int_equal(r->per, RLC_PER_REQUEST);
    assert_int_equal(r->scope, RLC_SCOPE_PROCESS);
    assert_true(r->split);
    assert_int_equal(r->nhosts, 0);
    assert_null(r->hosts);
    rlc_config_free(c);
}

static void test_config_defaults(void **state)
{
    char expected[RLC_HOSTNAME_MAX + 32], host[RLC_HOSTNAME_MAX] = "";
    struct saved_env hostname;
    rlc_config *c;

    (void)state;
    save_env(&hostname, "HOSTNAME");
    unsetenv("HOSTNAME");
    assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
    snprintf(expected, sizeof(expected), "%s-%ld", host, (long)getpid());

    c = must_parse("[a]\ncapacity = 1\nwindow = 1\n"
                   "[b]\ncapacity = 2\nwindow = 2s\nscope = swarm\n"
                   "[c]\ncapacity = 3\nwindow = 3s\nscope = host\n");
    assert_string_equal(c->namespace_, "default");
    assert_string_equal(c->agent_id, expected);
    assert_string_equal(c->nats_url, "nats://127.0.0.1:4222");
    assert_true(c->reduce_factor == 0.5);
    assert_int_equal(c->recovery_interval_ns, 30 * RLC_SECOND);
    assert_true(c->recovery_factor == 1.1);
    assert_true(c->max_recovery);
    assert_int_equal(c->assumed_agents, 0);
    assert_true(c->share_by_demand);
    assert_int_equal(c->max_wait_ns, 5 * RLC_MINUTE);
    assert_int_equal(c->on_timeout, RLC_ON_TIMEOUT_PASS);
    assert_int_equal(c->log, RLC_LOG_WARN);
    assert_int_equal(c->nresources, 3);
    assert_int_equal(c->resources[0].window_ns, RLC_SECOND);
    assert_int_equal(c->resources[0].per, RLC_PER_REQUEST);
    assert_int_equal(c->resources[0].scope, RLC_SCOPE_HOST);
    assert_false(c->resources[0].split);
    assert_int_equal(c->resources[0].line, 1);
    assert_true(c->resources[1].split); /* only swarm splits by default */
    assert_false(c->resources[2].split);
    rlc_config_free(c);

    /* an empty file is a valid one: no resources, every default */
    c = rlc_config_parse(NULL, 0, NULL, NULL, 0);
    assert_non_null(c);
    assert_string_equal(c->path, "<string>");
    assert_int_equal(c->nresources, 0);
    assert_null(c->resources);
    assert_string_equal(c->namespace_, "default");
    rlc_config_free(c);
    rlc_config_free(NULL);
    restore_env(&hostname);
}

static void test_config_syntax_details(void **state)
{
    /* CRLF line ends, a byte order mark, '#' and ';' comments, key: value,
     * keywords in any case, [ spaced ] names, no final newline */
    const char *text = "\xEF\xBB\xBF# comment\r\n"
                       "[ spaced name ]  ; comment\r\n"
                       "capacity: 7\r\n"
                       "window = 2s\t; a comment after white space\r\n"
                       "scope = SWARM\r\n"
                       "split = No\r\n"
                       "\t; an indented comment\r\n"
                       "[limiter]\n"
                       "max_recovery = ON\n"
                       "on_timeout = Fail\n"
                       "log = INFO";
    rlc_config *c = must_parse(text);

    (void)state;
    assert_int_equal(c->nresources, 1);
    assert_string_equal(c->resources[0].name, "spaced name");
    assert_int_equal(c->resources[0].line, 2);
    assert_int_equal(c->resources[0].capacity, 7);
    assert_int_equal(c->resources[0].window_ns, 2 * RLC_SECOND);
    assert_int_equal(c->resources[0].scope, RLC_SCOPE_SWARM);
    assert_false(c->resources[0].split);
    assert_true(c->max_recovery);
    assert_int_equal(c->on_timeout, RLC_ON_TIMEOUT_FAIL);
    assert_int_equal(c->log, RLC_LOG_INFO);
    rlc_config_free(c);

    /* ';' starts a comment only after white space */
    expect_error("[a]\nwindow = 2s;x\ncapacity = 1\n",
                 "rlc.ini:2: window must be a positive duration (like 500ms, "
                 "30s, 1m, 1h), got '2s;x'");
}

static void test_config_section_name_limit(void **state)
{
    char text[RLC_RESOURCE_MAX + 64], want[RLC_CONFIG_ERR_MAX];
    rlc_config *c;

    (void)state;
    /* RLC_RESOURCE_MAX - 1 bytes fit (inih alone would cut at 49) */
    text[0] = '[';
    memset(text + 1, 'n', RLC_RESOURCE_MAX - 1);
    strcpy(text + RLC_RESOURCE_MAX, "]\ncapacity = 1\nwindow = 1s\n");
    c = must_parse(text);
    assert_int_equal(strlen(c->resources[0].name), RLC_RESOURCE_MAX - 1);
    assert_int_equal(c->resources[0].name[RLC_RESOURCE_MAX - 2], 'n');
    rlc_config_free(c);

    /* one more does not */
    text[0] = '[';
    memset(text + 1, 'n', RLC_RESOURCE_MAX);
    strcpy(text + RLC_RESOURCE_MAX + 1, "]\n");
    snprintf(want, sizeof(want),
             "rlc.ini:1: section name '%.40s...' is longer than %d bytes",
             text + 1, RLC_RESOURCE_MAX - 1);
    expect_error(text, want);
}

/* ---- every error, word for word ---- */

static const struct bad_file {
    const char *text;
    const char *message;
} bad_files[] = {
    /* keys */
    {"[openai]\ncapcity = 5\n", "rlc.ini:2: unknown key 'capcity' in [openai]"},
    {"[limiter]\ncapacity = 5\n",
     "rlc.ini:2: unknown key 'capacity' in [limiter]"},
    {"[openai]\nnamespace = x\n",
     "rlc.ini:2: unknown key 'namespace' in [openai]"},
    {"capacity = 5\n[openai]\n",
     "rlc.ini:1: key 'capacity' outside any section"},
    {"[a]\n= 5\n", "rlc.ini:2: missing key before '='"},
    {"[a]\ncapacity = 1\nwindow = 1s\nwindow = 2s\n",
     "rlc.ini:4: duplicate key 'window' in [a] (first at line 3)"},
    {"[limiter]\nlog = warn\n\nlog = info\n",
     "rlc.ini:4: duplicate key 'log' in [limiter] (first at line 2)"},
    /* sections */
    {"[openai]\ncapacity = 1\nwindow = 1s\n[x]\ncapacity = 1\nwindow = 1s\n"
     "[openai]\n",
     "rlc.ini:7: duplicate section [openai] (first at line 1)"},
    {"\n[limiter]\n[limiter]\n",
     "rlc.ini:3: duplicate section [limiter] (first at line 2)"},
    {"\n[openai]\nwindow = 1m\n[next]\n",
     "rlc.ini:2: [openai] has no capacity"},
    {"[openai]\nwindow = 1m\n", "rlc.ini:1: [openai] has no capacity"},
    {"[a]\ncapacity = 1\nwindow = 1s\n[openai]\ncapacity = 5\n",
     "rlc.ini:4: [openai] has no window"},
    {"[openai\n", "rlc.ini:1: section header without a closing ']'"},
    {"[open ;ai]\n", "rlc.ini:1: section header without a closing ']'"},
    {"[ ]\n", "rlc.ini:1: empty section name []"},
    {"[a] b\n", "rlc.ini:1: unexpected 'b' after ']'"},
    {"[a\tb]\n", "rlc.ini:1: control character in section name"},
    /* lines */
    {"[a]\ncapacity 5\n",
     "rlc.ini:2: expected 'key = value' or '[section]', got 'capacity 5'"},
    {"[a]\ncapacity ;= 5\n",
     "rlc.ini:2: expected 'key = value' or '[section]', got 'capacity ;= 5'"},
    {"[a]\ncapacity = 1\n  window = 1s\n",
     "rlc.ini:3: indented line continues capacity (only hosts can span "
     "lines; do not indent keys)"},
    {"[a]\nhosts = a.com\n  b.com\n\n  10.0.0.0/33\n",
     "rlc.ini:5: hosts: host pattern '10.0.0.0/33': prefix longer than 32"},
    {"[a]\ncapacity = 1\n\0window = 1s\n", "rlc.ini:3: NUL byte in line"},
    /* values */
    {"[a]\ncapacity = -3\n",
     "rlc.ini:2: capacity must be a positive integer, got '-3'"},
    {"[a]\ncapacity = 0\n",
     "rlc.ini:2: capacity must be a positive integer, got '0'"},
    {"[a]\ncapacity = 1.5\n",
     "rlc.ini:2: capacity must be a positive integer, got '1.5'"},
    {"[a]\ncapacity =\n",
     "rlc.ini:2: capacity must be a positive integer, got ''"},
    {"[a]\ncapacity = 2147483648\n",
     "rlc.ini:2: capacity must be at most 2147483647, got '2147483648'"},
    {"[a]\ncapacity = 99999999999999999999999\n",
     "rlc.ini:2: capacity must be at most 2147483647, got "
     "'99999999999999999999999'"},
    {"[a]\nwindow = 0\n",
     "rlc.ini:2: window must be a positive duration (like 500ms, 30s, 1m, "
     "1h), got '0'"},
    {"[a]\nwindow = -1s\n",
     "rlc.ini:2: window must be a positive duration (like 500ms, 30s, 1m, "
     "1h), got '-1s'"},
    {"[a]\nwindow = 1 minute\n",
     "rlc.ini:2: window must be a positive duration (like 500ms, 30s, 1m, "
     "1h), got '1 minute'"},
    {"[a]\nwindow = 99999999999h\n",
     "rlc.ini:2: window must be a positive duration (like 500ms, 30s, 1m, "
     "1h), got '99999999999h'"},
    {"[a]\nscope = galaxy\n",
     "rlc.ini:2: unknown scope 'galaxy' (process, host or swarm)"},
    {"[a]\nper = token\n",
     "rlc.ini:2: unknown per 'token' (request or connection)"},
    {"[a]\nsplit = maybe\n", "rlc.ini:2: split must be true or false, got "
                             "'maybe'"},
    {"[a]\nhosts = api.x.com, 10.0.0.0/33\n",
     "rlc.ini:2: hosts: host pattern '10.0.0.0/33': prefix longer than 32"},
    {"[a]\nhosts = api.x.com:99999\n",
     "rlc.ini:2: hosts: host pattern 'api.x.com:99999': port must be 1 to "
     "65535, got '99999'"},
    {"[limiter]\nnamespace = a b\n",
     "rlc.ini:2: namespace must be 1 to 127 letters, digits, '.', '_' or "
     "'-', got 'a b'"},
    {"[limiter]\nnamespace = a/b\n",
     "rlc.ini:2: namespace must be 1 to 127 letters, digits, '.', '_' or "
     "'-', got 'a/b'"},
    {"[limiter]\nagent_id =\n",
     "rlc.ini:2: agent_id must be 1 to 127 printable characters, got ''"},
    {"[limiter]\nnats_url = nats://a b\n",
     "rlc.ini:2: nats_url must be a URL like nats://127.0.0.1:4222, got "
     "'nats://a b'"},
    {"[limiter]\nreduce_factor = 1.5\n",
     "rlc.ini:2: reduce_factor must be a number between 0 and 1 "
     "(exclusive), got '1.5'"},
    {"[limiter]\nreduce_factor = 0\n",
     "rlc.ini:2: reduce_factor must be a number between 0 and 1 "
     "(exclusive), got '0'"},
    {"[limiter]\nreduce_factor = 0,5\n",
     "rlc.ini:2: reduce_factor must be a number between 0 and 1 "
     "(exclusive), got '0,5'"},
    {"[limiter]\nrecovery_factor = 1\n",
     "rlc.ini:2: recovery_factor must be a number above 1 (and below "
     "1000000), got '1'"},
    {"[limiter]\nrecovery_factor = 1e3\n",
     "rlc.ini:2: recovery_factor must be a number above 1 (and below "
     "1000000), got '1e3'"},
    {"[limiter]\nassumed_agents = -2\n",
     "rlc.ini:2: assumed_agents must be a whole number from 0 to 100000, "
     "got '-2'"},
    {"[limiter]\nassumed_agents = 100001\n",
     "rlc.ini:2: assumed_agents must be a whole number from 0 to 100000, "
     "got '100001'"},
    {"[limiter]\nrecovery_interval = 0s\n",
     "rlc.ini:2: recovery_interval must be a positive duration (like 500ms, "
     "30s, 1m, 1h), got '0s'"},
    {"[limiter]\nmax_wait = -5s\n",
     "rlc.ini:2: max_wait must be a duration (like 0, 500ms, 30s, 1m, 1h), "
     "got '-5s'"},
    {"[limiter]\nmax_recovery = sometimes\n",
     "rlc.ini:2: max_recovery must be true or false, got 'sometimes'"},
    {"[limiter]\nshare = fairly\n",
     "rlc.ini:2: unknown share 'fairly' (demand or equal)"},
    {"[limiter]\non_timeout = retry\n",
     "rlc.ini:2: unknown on_timeout 'retry' (pass or fail)"},
    {"[limiter]\nlog = loud\n",
     "rlc.ini:2: unknown log level 'loud' (error, warn, info or debug)"},
    /* ${VAR} */
    {"[limiter]\nagent_id = ${RLC_TEST_UNSET}-1\n",
     "rlc.ini:2: agent_id: ${RLC_TEST_UNSET} is not set in the environment"},
    {"[limiter]\nagent_id = x${HOME\n",
     "rlc.ini:2: agent_id: unterminated '${' in 'x${HOME'"},
    {"[limiter]\nagent_id = ${A-B}\n",
     "rlc.ini:2: agent_id: invalid variable name '${A-B}'"},
    {"[limiter]\nagent_id = ${}\n",
     "rlc.ini:2: agent_id: invalid variable name '${}'"},
    {"[limiter]\nagent_id = ${1A}\n",
     "rlc.ini:2: agent_id: invalid variable name '${1A}'"},
    {"[a]\nhosts = ${RLC_TEST_UNSET}\n",
     "rlc.ini:2: hosts: ${RLC_TEST_UNSET} is not set in the environment"},
    /* the first error wins */
    {"[a]\ncapacity = x\nwindow = y\n",
     "rlc.ini:2: capacity must be a positive integer, got 'x'"},
};

static void test_config_errors_table(void **state)
{
    struct saved_env unset;
    size_t i;

    (void)state;
    save_env(&unset, "RLC_TEST_UNSET");
    unsetenv("RLC_TEST_UNSET");
    for (i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
        const char *t = bad_files[i].text;
        size_t len = strlen(t);
        char err[RLC_CONFIG_ERR_MAX] = "";
        rlc_config *c;

        /* the NUL row: its text goes on after the NUL */
        if (strstr(bad_files[i].message, "NUL") != NULL)
            len += 1 + strlen(t + len + 1);
        c = rlc_config_parse(t, len, "rlc.ini", err, sizeof(err));
        if (c != NULL || strcmp(err, bad_files[i].message) != 0)
            print_error("row %zu: wanted: %s\n        got:    %s\n", i,
                        bad_files[i].message, c ? "(a configuration)" : err);
        assert_null(c);
        assert_string_equal(err, bad_files[i].message);
    }
    restore_env(&unset);
}

/* "[a]...hosts = a.a.a...": the hosts line is len characters long. */
static void hosts_line(char *text, size_t len, const char *eol)
{
    size_t n, i;

    strcpy(text, "[a]\ncapacity = 1\nwindow = 1s\nhosts = ");
    n = strlen(text);
    for (i = 0; i < len - strlen("hosts = "); i++)
        text[n + i] = i % 2 ? '.' : 'a';
    strcpy(text + n + i, eol);
}

static void test_config_line_length_limit(void **state)
{
    char text[512], err[RLC_CONFIG_ERR_MAX];
    rlc_config *c;

    (void)state;
    /* 197 characters is the longest line inih takes whole; never cut */
    hosts_line(text, 197, "\n");
    c = must_parse(text);
    assert_int_equal(strlen(c->resources[0].hosts[0].name), 197 - 8);
    rlc_config_free(c);
    hosts_line(text, 197, "\r\n");
    c = must_parse(text);
    assert_int_equal(strlen(c->resources[0].hosts[0].name), 197 - 8);
    rlc_config_free(c);
    hosts_line(text, 197, "");
    c = must_parse(text);
    rlc_config_free(c);

    hosts_line(text, 198, "\n");
    c = parse(text, err);
    assert_null(c);
    assert_string_equal(err, "rlc.ini:4: line longer than 197 characters");
    hosts_line(text, 198, "");
    c = parse(text, err);
    assert_null(c);
    assert_string_equal(err, "rlc.ini:4: line longer than 197 characters");
    /* a comment is a line like any other */
    memset(text, ';', 300);
    text[300] = '\0';
    expect_error(text, "rlc.ini:1: line longer than 197 characters");
}

static void test_config_multiline_hosts(void **state)
{
    const char *text = "[openai]\n"
                       "hosts = api.openai.com,\n"
                       "    *.openai.azure.com:443 ; a comment\n"
                       "\t10.1.0.0/16, [2001:db8::]/32\n"
                       "\n"
                       "    late.example.com\n"
                       "capacity = 60\n"
                       "window = 1m\n"
                       "[other]\n"
                       "hosts =\n"
                       "  a.example.com\n"
                       "  b.example.com\n"
                       "capacity = 1\n"
                       "window = 1s\n";
    rlc_config *c = must_parse(text);
    const rlc_resource_config *r = &c->resources[0];

    (void)state;
    assert_int_equal(c->nresources, 2);
    assert_int_equal(r->nhosts, 5);
    assert_string_equal(r->hosts[0].name, "api.openai.com");
    assert_int_equal(r->hosts[1].kind, RLC_HOST_SUFFIX);
    assert_int_equal(r->hosts[1].port, 443);
    assert_int_equal(r->hosts[2].family, AF_INET);
    assert_int_equal(r->hosts[3].family, AF_INET6);
    assert_string_equal(r->hosts[4].name, "late.example.com");
    assert_int_equal(r->capacity, 60);
    r = &c->resources[1];
    assert_int_equal(r->nhosts, 2);
    assert_string_equal(r->hosts[1].name, "b.example.com");
    rlc_config_free(c);

    /* commas, white space or both separate; empty entries are skipped */
    c = must_parse("[a]\nhosts = ,a.com  b.com,,\tc.com,\ncapacity = 1\n"
                   "window = 1s\n");
    assert_int_equal(c->resources[0].nhosts, 3);
    assert_string_equal(c->resources[0].hosts[0].name, "a.com");
    assert_string_equal(c->resources[0].hosts[1].name, "b.com");
    assert_string_equal(c->resources[0].hosts[2].name, "c.com");
    rlc_config_free(c);

    /* many continuation lines grow the array past its first sizes */
    {
        char big[8192];
        size_t n = 0;
        int i;

        n += (size_t)sprintf(big + n, "[many]\nhosts =\n");
        for (i = 0; i < 100; i++)
            n += (size_t)sprintf(big + n, "  h%d.example.com,\n", i);
        sprintf(big + n, "capacity = 1\nwindow = 1s\n");
        c = must_parse(big);
        assert_int_equal(c->resources[0].nhosts, 100);
        assert_string_equal(c->resources[0].hosts[99].name, "h99.example.com");
        rlc_config_free(c);
    }
}

static void test_config_error_buffer_is_bounded(void **state)
{
    char err[16];
    rlc_config *c;

    (void)state;
    memset(err, 'x', sizeof(err));
    c = rlc_config_parse("[a]\ncapcity = 1\n", 16, "rlc.ini", err, 12);
    assert_null(c);
    assert_string_equal(err, "rlc.ini:2: ");
    assert_int_equal(err[12], 'x');
    /* no room for a message at all is fine too */
    assert_null(rlc_config_parse("[a]\n", 4, "rlc.ini", NULL, 0));
    /* a success clears an old message */
    strcpy(err, "old");
    c = rlc_config_parse("", 0, "x", err, sizeof(err));
    assert_non_null(c);
    assert_string_equal(err, "");
    rlc_config_free(c);
}

/* ---- ${VAR} ---- */

static void test_config_expands_variables(void **state)
{
    struct saved_env ns, hosts, cap, hostname;
    char expected[64];
    rlc_config *c;

    (void)state;
    save_env(&ns, "RLC_TEST_NS");
    save_env(&hosts, "RLC_TEST_HOSTS");
    save_env(&cap, "RLC_TEST_CAP");
    save_env(&hostname, "HOSTNAME");
    setenv("RLC_TEST_NS", "team-a", 1);
    setenv("RLC_TEST_HOSTS", "a.example.com, 10.0.0.0/8", 1);
    setenv("RLC_TEST_CAP", "42", 1);
    setenv("HOSTNAME", "box", 1);

    c = must_parse("[limiter]\n"
                   "namespace = ${RLC_TEST_NS}\n"
                   "agent_id = ${HOSTNAME}-${PID}-x\n"
                   "nats_url = nats://u:pa$$w$rd@h:1\n"
                   "[r-${RLC_TEST_NS}]\n" /* names are not expanded */
                   "hosts = ${RLC_TEST_HOSTS}, b.example.com\n"
                   "capacity = ${RLC_TEST_CAP}\n"
                   "window = 1s\n");
    snprintf(expected, sizeof(expected), "box-%ld-x", (long)getpid());
    assert_string_equal(c->namespace_, "team-a");
    assert_string_equal(c->agent_id, expected);
    assert_string_equal(c->nats_url, "nats://u:pa$w$rd@h:1");
    assert_string_equal(c->resources[0].name, "r-${RLC_TEST_NS}");
    assert_int_equal(c->resources[0].nhosts, 3);
    assert_string_equal(c->resources[0].hosts[0].name, "a.example.com");
    assert_int_equal(c->resources[0].hosts[1].prefix, 8);
    assert_string_equal(c->resources[0].hosts[2].name, "b.example.com");
    assert_int_equal(c->resources[0].capacity, 42);
    rlc_config_free(c);

    /* a variable's value is checked like any value */
    setenv("RLC_TEST_CAP", "-1", 1);
    expect_error("[a]\ncapacity = ${RLC_TEST_CAP}\n",
                 "rlc.ini:2: capacity must be a positive integer, got '-1'");

    /* without HOSTNAME in the environment, the machine's name */
    unsetenv("HOSTNAME");
    {
        char host[RLC_HOSTNAME_MAX] = "";

        assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
        c = must_parse("[limiter]\nagent_id = ${HOSTNAME}\n");
        assert_string_equal(c->agent_id, host);
        rlc_config_free(c);
    }
    restore_env(&ns);
    restore_env(&hosts);
    restore_env(&cap);
    restore_env(&hostname);
}

static void test_config_rlc_log_overrides(void **state)
{
    struct saved_env log;
    char err[RLC_CONFIG_ERR_MAX];
    rlc_config *c;

    (void)state;
    save_env(&log, "RLC_LOG");
    setenv("RLC_LOG", "debug", 1);
    c = must_parse("[limiter]\nlog = error\n");
    assert_int_equal(c->log, RLC_LOG_DEBUG);
    rlc_config_free(c);

    setenv("RLC_LOG", "", 1); /* empty: as if unset */
    c = must_parse("[limiter]\nlog = error\n");
    assert_int_equal(c->log, RLC_LOG_ERROR);
    rlc_config_free(c);

    setenv("RLC_LOG", "loud", 1);
    c = parse("[limiter]\nlog = error\n", err);
    assert_null(c);
    assert_string_equal(
        err, "RLC_LOG: unknown log level 'loud' (error, warn, info or debug)");
    restore_env(&log);
}

/* ---- durations ---- */

static void test_config_durations(void **state)
{
    static const struct {
        const char *s;
        int64_t ns;
    } good[] = {
        {"500ms", 500 * RLC_MILLISECOND},
        {"30s", 30 * RLC_SECOND},
        {"1m", RLC_MINUTE},
        {"1h", 60 * RLC_MINUTE},
        {"1h30m", 90 * RLC_MINUTE},
        {"2h30m", 150 * RLC_MINUTE},
        {"1m30s500ms", 90 * RLC_SECOND + 500 * RLC_MILLISECOND},
        {"1.5s", 1500 * RLC_MILLISECOND},
        {"0.1s", 100 * RLC_MILLISECOND},
        {".5m", 30 * RLC_SECOND},
        {"1.5h", 90 * RLC_MINUTE},
        {"30", 30 * RLC_SECOND},
        {"1.25", 1250 * RLC_MILLISECOND},
        {"0", 0},
        {"007s", 7 * RLC_SECOND},
        {"100us", 100000},
        {"10ns", 10},
        {"0.000000001s", 1},
        {"0.0000000019s", 1}, /* below a nanosecond: truncated */
        {"9223372036s", INT64_C(9223372036) * RLC_SECOND},
        {"2562047h47m16s854ms775us807ns", INT64_MAX},
    };
    static const char *const bad[] = {
        "",
        "-1s",
        "+1s",
        "1x",
        "1h30",
        "s",
        ".",
        ".s",
        "1 s",
        " 1s",
        "1s ",
        "1.2.3s",
        "1e3s",
        "1S",
        "1hh",
        "ms",
        "1.s.",
        "9223372037s",
        "2562048h",
        "2562047h47m16s854ms775us808ns",
        "99999999999999999999s",
    };
    int64_t ns;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ns = -7;
        if (!rlc_parse_duration(good[i].s, &ns) || ns != good[i].ns)
            print_error("'%s' -> %lld\n", good[i].s, (long long)ns);
        assert_true(rlc_parse_duration(good[i].s, &ns));
        assert_int_equal(ns, good[i].ns);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ns = -7;
        if (rlc_parse_duration(bad[i], &ns))
            print_error("'%s' accepted as %lld\n", bad[i], (long long)ns);
        assert_false(rlc_parse_duration(bad[i], &ns));
        assert_int_equal(ns, -7); /* untouched */
    }
    assert_false(rlc_parse_duration(NULL, &ns));
    assert_false(rlc_parse_duration("1s", NULL));
}

/* ---- host patterns ---- */

static void test_config_host_patterns_good(void **state)
{
    static const struct {
        const char *s;
        rlc_host_kind kind;
        const char *name; /* NAME, SUFFIX */
        const char *addr; /* ADDR, in the form inet_ntop writes */
        int prefix, port;
    } good[] = {
        {"api.openai.com", RLC_HOST_NAME, "api.openai.com", NULL, 0, 0},
        {"API.OpenAI.Com.", RLC_HOST_NAME, "api.openai.com", NULL, 0, 0},
        {"api.x.com:443", RLC_HOST_NAME, "api.x.com", NULL, 0, 443},
        {"localhost", RLC_HOST_NAME, "localhost", NULL, 0, 0},
        {"my_host-1.internal:1", RLC_HOST_NAME, "my_host-1.internal", NULL, 0,
         1},
        {"*.openai.azure.com:443", RLC_HOST_SUFFIX, "openai.azure.com", NULL, 0,
         443},
        {"*.Example.COM.", RLC_HOST_SUFFIX, "example.com", NULL, 0, 0},
        {"192.0.2.7", RLC_HOST_ADDR, NULL, "192.0.2.7", 32, 0},
        {"192.0.2.7:65535", RLC_HOST_ADDR, NULL, "192.0.2.7", 32, 65535},
        {"10.1.0.0/16", RLC_HOST_ADDR, NULL, "10.1.0.0", 16, 0},
        {"10.0.0.0/8:443", RLC_HOST_ADDR, NULL, "10.0.0.0", 8, 443},
        {"0.0.0.0/0", RLC_HOST_ADDR, NULL, "0.0.0.0", 0, 0},
        {"2001:db8::1", RLC_HOST_ADDR, NULL, "2001:db8::1", 128, 0},
        {"::1", RLC_HOST_ADDR, NULL, "::1", 128, 0},
        {"[2001:db8::1]:443", RLC_HOST_ADDR, NULL, "2001:db8::1", 128, 443},
        {"[2001:DB8::]/32", RLC_HOST_ADDR, NULL, "2001:db8::", 32, 0},
        {"2001:db8::/32", RLC_HOST_ADDR, NULL, "2001:db8::", 32, 0},
        {"[2001:db8::]/32:8443", RLC_HOST_ADDR, NULL, "2001:db8::", 32, 8443},
        {"[::ffff:10.0.0.1]", RLC_HOST_ADDR, NULL, "10.0.0.1", 32, 0},
        {"::ffff:10.0.0.1", RLC_HOST_ADDR, NULL, "10.0.0.1", 32, 0},
        {"[::ffff:10.0.0.0]/104:80", RLC_HOST_ADDR, NULL, "10.0.0.0", 8, 80},
        {"[::ffff:0:0]/96", RLC_HOST_ADDR, NULL, "0.0.0.0", 0, 0},
        {"[::]/0", RLC_HOST_ADDR, NULL, "::", 0, 0},
        {"::ffff:192.0.2.128/121", RLC_HOST_ADDR, NULL, "192.0.2.128", 25, 0},
    };
    rlc_host_pattern p;
    char err[RLC_CONFIG_ERR_MAX], text[INET6_ADDRSTRLEN];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        err[0] = '\0';
        if (!rlc_host_pattern_parse(good[i].s, &p, err, sizeof(err)))
            print_error("'%s': %s\n", good[i].s, err);
        assert_true(rlc_host_pattern_parse(good[i].s, &p, err, sizeof(err)));
        assert_int_equal(p.kind, good[i].kind);
        assert_int_equal(p.port, good[i].port);
        if (good[i].name != NULL) {
            assert_string_equal(p.name, good[i].name);
            continue;
        }
        assert_non_null(inet_ntop(p.family, p.addr, text, sizeof(text)));
        assert_string_equal(text, good[i].addr);
        assert_int_equal(p.prefix, good[i].prefix);
        assert_int_equal(p.family,
                         strchr(good[i].addr, ':') ? AF_INET6 : AF_INET);
    }
}

static void test_config_host_patterns_bad(void **state)
{
    static const struct {
        const char *s, *message;
    } bad[] = {
        {"", "host pattern '': empty"},
        {"10.0.0.0/33", "host pattern '10.0.0.0/33': prefix longer than 32"},
        {"[2001:db8::]/129",
         "host pattern '[2001:db8::]/129': prefix longer than 128"},
        {"10.0.0.0/", "host pattern '10.0.0.0/': prefix must be a number, "
                      "got ''"},
        {"10.0.0.0/x", "host pattern '10.0.0.0/x': prefix must be a number, "
                       "got 'x'"},
        {"10.0.0.0/-1", "host pattern '10.0.0.0/-1': prefix must be a number, "
                        "got '-1'"},
        {"10.1.2.3/8",
         "host pattern '10.1.2.3/8': address has bits set after the /8 "
         "prefix"},
        {"[2001:db8::1]/32", "host pattern '[2001:db8::1]/32': address has "
                             "bits set after the /32 prefix"},
        {"10.0.0.256", "host pattern '10.0.0.256': not a valid IPv4 address"},
        {"1.2.3", "host pattern '1.2.3': not a valid IPv4 address"},
        {"010.0.0.1", "host pattern '010.0.0.1': not a valid IPv4 address"},
        {"api.com/8", "host pattern 'api.com/8': not a valid IPv4 address"},
        {"2001:db8::g", "host pattern '2001:db8::g': not a valid IPv6 "
                        "address"},
        {"[10.0.0.1]", "host pattern '[10.0.0.1]': not a valid IPv6 address"},
        {"[2001:db8::1", "host pattern '[2001:db8::1': missing ']'"},
        {"[::1]x", "host pattern '[::1]x': unexpected 'x' after ']'"},
        {"api.x.com:0",
         "host pattern 'api.x.com:0': port must be 1 to 65535, got '0'"},
        {"api.x.com:65536",
         "host pattern 'api.x.com:65536': port must be 1 to 65535, got "
         "'65536'"},
        {"api.x.com:", "host pattern 'api.x.com:': port must be 1 to 65535, "
                       "got ''"},
        {"api.x.com:https", "host pattern 'api.x.com:https': port must be 1 "
                            "to 65535, got 'https'"},
        {":443", "host pattern ':443': no host before the port"},
        {"*", "host pattern '*': a wildcard needs a suffix, as in "
              "'*.example.com'"},
        {"*.", "host pattern '*.': a wildcard needs a suffix, as in "
               "'*.example.com'"},
        {"*x.com", "host pattern '*x.com': a wildcard needs a suffix, as in "
                   "'*.example.com'"},
        {"a.*.com", "host pattern 'a.*.com': '*' must be the whole first "
                    "label, as in '*.example.com'"},
        {"*.*.com", "host pattern '*.*.com': '*' must be the whole first "
                    "label, as in '*.example.com'"},
        {"api..com", "host pattern 'api..com': empty label"},
        {".api.com", "host pattern '.api.com': empty label"},
        {"api.com..", "host pattern 'api.com..': empty label"},
        {"-api.com", "host pattern '-api.com': a label cannot start or end "
                     "with '-'"},
        {"api-.com", "host pattern 'api-.com': a label cannot start or end "
                     "with '-'"},
        {"ex@mple.com", "host pattern 'ex@mple.com': invalid character '@'"},
        {"a b", "host pattern 'a b': invalid character ' '"},
        {"caf\xc3\xa9.com", "host pattern 'caf\xc3\xa9.com': invalid "
                            "character 0xc3"},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
         "host pattern "
         "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
         "com': label longer than 63 characters"},
    };
    rlc_host_pattern p;
    char err[RLC_CONFIG_ERR_MAX], name[400];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (rlc_host_pattern_parse(bad[i].s, &p, err, sizeof(err)) ||
            strcmp(err, bad[i].message) != 0)
            print_error("'%s': got '%s'\n", bad[i].s, err);
        assert_false(rlc_host_pattern_parse(bad[i].s, &p, err, sizeof(err)));
        assert_string_equal(err, bad[i].message);
    }

    /* 253 characters is the longest name; 254 is one too many */
    for (i = 0; i < 253; i++)
        name[i] = i % 2 ? '.' : 'a';
    name[253] = '\0';
    assert_true(rlc_host_pattern_parse(name, &p, err, sizeof(err)));
    assert_string_equal(p.name, name);
    name[253] = 'a';
    name[254] = '\0';
    assert_false(rlc_host_pattern_parse(name, &p, err, sizeof(err)));
    assert_non_null(strstr(err, "': name longer than 253 characters"));
    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    assert_false(rlc_host_pattern_parse(name, &p, err, sizeof(err)));
    assert_non_null(strstr(err, "': longer than 319 characters"));
    /* NULL err is fine */
    assert_false(rlc_host_pattern_parse("*", &p, NULL, 0));
}

/* ---- matching ---- */

static const char *match_text = "[exact]\n"
                                "hosts = api.openai.com\n"
                                "capacity = 1\nwindow = 1s\n"
                                "[wild]\n"
                                "hosts = *.openai.azure.com:443\n"
                                "capacity = 1\nwindow = 1s\n"
                                "[v4]\n"
                                "hosts = 10.1.0.0/16, 192.0.2.7:8080\n"
                                "capacity = 1\nwindow = 1s\n"
                                "[v6]\n"
                                "hosts = [2001:db8::]/32, [2001:db8:1::1]:443\n"
                                "capacity = 1\nwindow = 1s\n"
                                "[mapped]\n"
                                "hosts = ::ffff:198.51.100.0/120\n"
                                "capacity = 1\nwindow = 1s\n"
                                "[none]\n"
                                "capacity = 1\nwindow = 1s\n";

static void test_config_match_names(void **state)
{
    rlc_config *c = must_parse(match_text);

    (void)state;
    assert_string_equal(match(c, "api.openai.com", NULL, 0), "exact");
    assert_string_equal(match(c, "api.openai.com", NULL, 443), "exact");
    assert_string_equal(match(c, "API.OpenAI.COM.", NULL, 80), "exact");
    assert_string_equal(match(c, "xapi.openai.com", NULL, 0), "-");
    assert_string_equal(match(c, "api.openai.com.evil", NULL, 0), "-");
    assert_string_equal(match(c, "openai.com", NULL, 0), "-");
    /* a suffix: any depth below it, never the suffix itself */
    assert_string_equal(match(c, "a.openai.azure.com", NULL, 443), "wild");
    assert_string_equal(match(c, "a.b.openai.azure.com", NULL, 443), "wild");
    assert_string_equal(match(c, "A.OPENAI.AZURE.COM.", NULL, 443), "wild");
    assert_string_equal(match(c, "openai.azure.com", NULL, 443), "-");
    assert_string_equal(match(c, "xopenai.azure.com", NULL, 443), "-");
    assert_string_equal(match(c, ".openai.azure.com", NULL, 443), "-");
    /* its port */
    assert_string_equal(match(c, "a.openai.azure.com", NULL, 80), "-");
    assert_string_equal(match(c, "a.openai.azure.com", NULL, 0), "-");
    /* nothing to match, or nothing to match with */
    assert_string_equal(match(c, NULL, NULL, 0), "-");
    assert_string_equal(match(c, "", NULL, 0), "-");
    assert_string_equal(match(c, ".", NULL, 0), "-");
    assert_null(rlc_config_match(NULL, "api.openai.com", NULL, 0));
    rlc_config_free(c);
}

static void test_config_match_addresses(void **state)
{
    rlc_config *c = must_parse(match_text);
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
    struct sockaddr un = {.sa_family = AF_UNIX};

    (void)state;
    /* IPv4 with CIDR, from a sockaddr or a literal host */
    v4(&in, "10.1.255.3");
    assert_string_equal(match(c, NULL, &in, 443), "v4");
    v4(&in, "10.2.0.1");
    assert_string_equal(match(c, NULL, &in, 443), "-");
    assert_string_equal(match(c, "10.1.0.9", NULL, 0), "v4");
    assert_string_equal(match(c, "10.0.255.255", NULL, 0), "-");
    /* a single address with a port */
    v4(&in, "192.0.2.7");
    assert_string_equal(match(c, NULL, &in, 8080), "v4");
    assert_string_equal(match(c, NULL, &in, 80), "-");
    assert_string_equal(match(c, NULL, &in, 0), "-");
    v4(&in, "192.0.2.8");
    assert_string_equal(match(c, NULL, &in, 8080), "-");
    /* IPv6 */
    v6(&in6, "2001:db8:ffff::1");
    assert_string_equal(match(c, NULL, &in6, 0), "v6");
    v6(&in6, "2001:db9::1");
    assert_string_equal(match(c, NULL, &in6, 0), "-");
    assert_string_equal(match(c, "[2001:db8::5]", NULL, 0), "v6");
    assert_string_equal(match(c, "2001:DB8::5", NULL, 0), "v6");
    /* mapped: the sockaddr or the literal matches the IPv4 pattern */
    v6(&in6, "::ffff:10.1.2.3");
    assert_string_equal(match(c, NULL, &in6, 0), "v4");
    assert_string_equal(match(c, "::ffff:10.1.2.3", NULL, 0), "v4");
    assert_string_equal(match(c, "[::ffff:10.1.2.3]", NULL, 0), "v4");
    /* and a pattern written mapped matches plain IPv4 */
    v4(&in, "198.51.100.77");
    assert_string_equal(match(c, NULL, &in, 0), "mapped");
    v4(&in, "198.51.101.77");
    assert_string_equal(match(c, NULL, &in, 0), "-");
    /* a family never matches the other */
    v6(&in6, "::a01:203"); /* 10.1.2.3's bits, as IPv6 */
    assert_string_equal(match(c, NULL, &in6, 0), "-");
    /* the name is used for names, the sockaddr for addresses */
    v4(&in, "10.1.2.3");
    assert_string_equal(match(c, "api.openai.com", &in, 0), "exact");
    assert_string_equal(match(c, "unknown.example", &in, 0), "v4");
    assert_string_equal(match(c, NULL, &un, 0), "-");
    /* a literal host is not a name */
    assert_string_equal(match(c, "10.9.9.9", &in, 0), "v4");
    rlc_config_free(c);
}

static void test_config_match_first_wins(void **state)
{
    rlc_config *c = must_parse("[first]\n"
                               "hosts = a.example.com:443, 10.0.0.0/8:443\n"
                               "capacity = 1\nwindow = 1s\n"
                               "[all]\n"
                               "hosts = *.example.com, a.example.com,"
                               " 10.0.0.0/8, 0.0.0.0/0\n"
                               "capacity = 1\nwindow = 1s\n"
                               "[later]\n"
                               "hosts = a.example.com\n"
                               "capacity = 1\nwindow = 1s\n");
    struct sockaddr_in in;

    (void)state;
    assert_string_equal(match(c, "a.example.com", NULL, 443), "first");
    assert_string_equal(match(c, "a.example.com", NULL, 80), "all");
    assert_string_equal(match(c, "b.example.com", NULL, 443), "all");
    v4(&in, "10.3.3.3");
    assert_string_equal(match(c, NULL, &in, 443), "first");
    assert_string_equal(match(c, NULL, &in, 22), "all");
    v4(&in, "203.0.113.1");
    assert_string_equal(match(c, NULL, &in, 22), "all");
    assert_string_equal(match(c, "example.com", NULL, 0), "-");
    rlc_config_free(c);
}

/* ---- files ---- */

struct tmp {
    char dir[64];
    char cwd[PATH_MAX];
    struct saved_env env[4];
};

static void tmp_enter(struct tmp *t)
{
    char path[PATH_MAX];

    strcpy(t->dir, "/tmp/rlc-test-config-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    assert_non_null(getcwd(t->cwd, sizeof(t->cwd)));
    snprintf(path, sizeof(path), "%s/work", t->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(chdir(path), 0);
    save_env(&t->env[0], "RLC_CONFIG");
    save_env(&t->env[1], "XDG_CONFIG_HOME");
    save_env(&t->env[2], "HOME");
    save_env(&t->env[3], "RLC_LOG");
}

static void tmp_leave(struct tmp *t)
{
    char cmd[PATH_MAX + 16];
    int i;

    assert_int_equal(chdir(t->cwd), 0);
    for (i = 0; i < 4; i++)
        restore_env(&t->env[i]);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
    assert_int_equal(system(cmd), 0);
}

static void test_config_find_order(void **state)
{
    struct tmp t;
    char out[PATH_MAX], want[PATH_MAX + 32], path[PATH_MAX];
    bool etc;

    (void)state;
    tmp_enter(&t);
    etc = access("/etc/rlc.ini", F_OK) == 0;

    /* $RLC_CONFIG first, whether or not it exists */
    setenv("RLC_CONFIG", "/nonexistent/x.ini", 1);
    assert_true(rlc_config_find(out, sizeof(out)));
    assert_string_equal(out, "/nonexistent/x.ini");
    assert_false(rlc_config_find(out, 5)); /* does not fit */
    setenv("RLC_CONFIG", "", 1);           /* empty: as if unset */

    /* nothing anywhere: /etc/rlc.ini, if this machine has one */
    snprintf(path, sizeof(path), "%s/xdg", t.dir);
    setenv("XDG_CONFIG_HOME", path, 1);
    snprintf(path, sizeof(path), "%s/home", t.dir);
    setenv("HOME", path, 1);
    assert_int_equal(rlc_config_find(out, sizeof(out)), etc);
    if (etc)
        assert_string_equal(out, "/etc/rlc.ini");

    /* $HOME/.config is used only without XDG_CONFIG_HOME */
    snprintf(path, sizeof(path), "%s/home/.config/rlc", t.dir);
    assert_int_equal(system("mkdir -p ../home/.config/rlc"), 0);
    write_file("../home/.config/rlc/rlc.ini", "");
    assert_int_equal(rlc_config_find(out, sizeof(out)), etc);
    unsetenv("XDG_CONFIG_HOME");
    snprintf(want, sizeof(want), "%s/rlc.ini", path);
    assert_true(rlc_config_find(out, sizeof(out)));
    assert_string_equal(out, want);
    setenv("XDG_CONFIG_HOME", "relative/dir", 1); /* invalid: ignored */
    assert_true(rlc_config_find(out, sizeof(out)));
    assert_string_equal(out, want);

    /* $XDG_CONFIG_HOME/rlc/rlc.ini */
    snprintf(path, sizeof(path), "%s/xdg", t.dir);
    setenv("XDG_CONFIG_HOME", path, 1);
    assert_int_equal(system("mkdir -p ../xdg/rlc"), 0);
    write_file("../xdg/rlc/rlc.ini", "");
    snprintf(want, sizeof(want), "%s/xdg/rlc/rlc.ini", t.dir);
    assert_true(rlc_config_find(out, sizeof(out)));
    assert_string_equal(out, want);

    /* ./rlc.ini before that; a directory of that name does not count */
    assert_int_equal(mkdir("rlc.ini", 0700), 0);
    assert_true(rlc_config_find(out, sizeof(out)));
    assert_string_equal(out, want);
    assert_int_equal(rmdir("rlc.ini"), 0);
    write_file("rlc.ini", "");
    assert_true(rlc_config_find(out, sizeof(out)));
    assert_string_equal(out, "rlc.ini");

    /* and $RLC_CONFIG before everything */
    setenv("RLC_CONFIG", "/elsewhere.ini", 1);
    assert_true(rlc_config_find(out, sizeof(out)));
    assert_string_equal(out, "/elsewhere.ini");
    assert_false(rlc_config_find(NULL, 10));
    assert_false(rlc_config_find(out, 0));
    tmp_leave(&t);
}

static void test_config_load_files(void **state)
{
    struct tmp t;
    char err[RLC_CONFIG_ERR_MAX], want[PATH_MAX + 64];
    rlc_config *c;

    (void)state;
    tmp_enter(&t);
    unsetenv("RLC_LOG");

    c = rlc_config_load("missing.ini", err, sizeof(err));
    assert_null(c);
    assert_string_equal(err, "missing.ini: No such file or directory");

    c = rlc_config_load(".", err, sizeof(err));
    assert_null(c);
    assert_string_equal(err, ".: Is a directory");

    snprintf(want, sizeof(want), "%s/work", t.dir);
    c = rlc_config_load(want, err, sizeof(err));
    assert_null(c);
    strcat(want, ": Is a directory");
    assert_string_equal(err, want);

    write_file("good.ini", "[limiter]\nlog = info\n[api]\nhosts = a.com\n"
                           "capacity = 3\nwindow = 1m\n");
    c = rlc_config_load("good.ini", err, sizeof(err));
    assert_non_null(c);
    assert_string_equal(c->path, "good.ini");
    assert_int_equal(c->log, RLC_LOG_INFO);
    assert_int_equal(c->nresources, 1);
    assert_int_equal(c->resources[0].capacity, 3);
    rlc_config_free(c);

    write_file("bad.ini", "[api]\ncapacity = 3\nwindow = 1m\ncapcity = 4\n");
    c = rlc_config_load("bad.ini", err, sizeof(err));
    assert_null(c);
    assert_string_equal(err, "bad.ini:4: unknown key 'capcity' in [api]");

    /* a file bigger than the first read buffer */
    {
        FILE *f = fopen("big.ini", "w");
        int i;

        assert_non_null(f);
        for (i = 0; i < 2000; i++)
            fprintf(f, "[r%d]\ncapacity = %d\nwindow = 1s\n", i, i + 1);
        assert_int_equal(fclose(f), 0);
        c = rlc_config_load("big.ini", err, sizeof(err));
        assert_non_null(c);
        assert_int_equal(c->nresources, 2000);
        assert_string_equal(c->resources[1999].name, "r1999");
        assert_int_equal(c->resources[1999].line, 3 * 1999 + 1);
        rlc_config_free(c);
    }

    /* over 1 MiB: refused before parsing */
    {
        FILE *f = fopen("huge.ini", "w");
        int i;

        assert_non_null(f);
        for (i = 0; i < 11000; i++)
            fprintf(f, "; %096d\n", i);
        assert_int_equal(fclose(f), 0);
        c = rlc_config_load("huge.ini", err, sizeof(err));
        assert_null(c);
        assert_string_equal(err, "huge.ini: File too large");
    }

    assert_null(rlc_config_load(NULL, err, sizeof(err)));
    tmp_leave(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_every_key),
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_syntax_details),
        cmocka_unit_test(test_config_section_name_limit),
        cmocka_unit_test(test_config_errors_table),
        cmocka_unit_test(test_config_line_length_limit),
        cmocka_unit_test(test_config_multiline_hosts),
        cmocka_unit_test(test_config_error_buffer_is_bounded),
        cmocka_unit_test(test_config_expands_variables),
        cmocka_unit_test(test_config_rlc_log_overrides),
        cmocka_unit_test(test_config_durations),
        cmocka_unit_test(test_config_host_patterns_good),
        cmocka_unit_test(test_config_host_patterns_bad),
        cmocka_unit_test(test_config_match_names),
        cmocka_unit_test(test_config_match_addresses),
        cmocka_unit_test(test_config_match_first_wins),
        cmocka_unit_test(test_config_find_order),
        cmocka_unit_test(test_config_load_files),
    };

    /* the tests set what they need; an outer RLC_LOG must not interfere */
    unsetenv("RLC_LOG");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
