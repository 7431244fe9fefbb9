/* SPDX-License-Identifier: MIT */
/*
 * fuzz_config.c - libFuzzer target: arbitrary bytes as an ini file.
 *
 * Besides crashes and leaks it checks the loader's promises: a failure
 * always comes with one printable line of message (and never inih's bare
 * "syntax error", which would mean our reader misjudged a line), a success
 * holds only valid values, and every name pattern matches its own name.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(const char *err)
{
    size_t i = strlen("fuzz.ini:");

    if (err[0] == '\0')
        abort();
    if (strncmp(err, "fuzz.ini:", i) == 0) {
        while (err[i] >= '0' && err[i] <= '9')
            i++;
        if (strcmp(err + i, ": syntax error") == 0)
            abort();
    }
    for (i = 0; err[i] != '\0'; i++)
        if ((unsigned char)err[i] < 0x20)
            abort();
}

static void check_config(const rlc_config *c)
{
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
    size_t r, h;

    if (c->namespace_ == NULL || c->agent_id == NULL || c->nats_url == NULL ||
        !(c->reduce_factor > 0 && c->reduce_factor < 1) ||
        !(c->recovery_factor > 1) || c->recovery_interval_ns <= 0 ||
        c->max_wait_ns < 0)
        abort();
    for (r = 0; r < c->nresources; r++) {
        const rlc_resource_config *res = &c->resources[r];

        if (res->capacity <= 0 || res->window_ns <= 0 ||
            strlen(res->name) == 0 || strlen(res->name) >= RLC_RESOURCE_MAX)
            abort();
        for (h = 0; h < res->nhosts; h++) {
            const rlc_host_pattern *p = &res->hosts[h];
            const rlc_resource_config *m;

            if (p->kind != RLC_HOST_NAME)
                continue;
            /* its own name matches it, or an earlier pattern */
            m = rlc_config_match(c, p->name, NULL, p->port);
            if (m == NULL || m > res)
                abort();
        }
    }

    memset(&in, 0, sizeof(in));
    in.sin_family = AF_INET;
    in.sin_addr.s_addr = htonl(0x0a010203);
    memset(&in6, 0, sizeof(in6));
    in6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr);
    rlc_config_match(c, "api.example.com", NULL, 443);
    rlc_config_match(c, "API.Example.COM.", (struct sockaddr *)&in, 0);
    rlc_config_match(c, "10.1.2.3", NULL, 80);
    rlc_config_match(c, "[::ffff:10.1.2.3]", (struct sockaddr *)&in6, 443);
    rlc_config_match(c, NULL, (struct sockaddr *)&in6, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[RLC_CONFIG_ERR_MAX];
    rlc_config *c;

    c = rlc_config_parse((const char *)data, size, "fuzz.ini", err,
                         sizeof(err));
    if (c == NULL) {
        check_error(err);
        return 0;
    }
    check_config(c);
    rlc_config_free(c);
    return 0;
}
