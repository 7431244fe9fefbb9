/* SPDX-License-Identifier: MIT */
/*
 * fuzz_wire.c - libFuzzer target for the bus message decoders and the
 * RFC 3339 parser: whatever decodes must encode, and decode again to the
 * same fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

static void check_capacity(const uint8_t *data, size_t size)
{
    rlc__capacity_msg a, b;
    char buf[8192];
    int n;

    if (rlc__wire_decode_capacity(data, size, &a) != RLC_OK)
        return;
    n = rlc__wire_encode_capacity(&a, buf, sizeof(buf));
    if (n <= 0 || rlc__wire_decode_capacity(buf, (size_t)n, &b) != RLC_OK)
        abort();
    if (strcmp(a.resource, b.resource) != 0 ||
        strcmp(a.agent_id, b.agent_id) != 0 ||
        strcmp(a.reason, b.reason) != 0 || a.new_capacity != b.new_capacity ||
        a.has_timestamp != b.has_timestamp ||
        (a.has_timestamp && a.timestamp_ns != b.timestamp_ns) ||
        a.has_epoch != b.has_epoch || (a.has_epoch && a.epoch != b.epoch) ||
        a.has_total != b.has_total || (a.has_total && a.total != b.total) ||
        a.has_pause != b.has_pause ||
        (a.has_pause && a.pause_until_ns != b.pause_until_ns))
        abort();
}

static void check_presence(const uint8_t *data, size_t size)
{
    rlc__presence_msg a, b;
    char buf[65536];
    int n, i;

    if (rlc__wire_decode_presence(data, size, &a) != RLC_OK)
        return;
    n = rlc__wire_encode_presence(&a, buf, sizeof(buf));
    if (n <= 0 || rlc__wire_decode_presence(buf, (size_t)n, &b) != RLC_OK)
        abort();
    if (strcmp(a.agent_id, b.agent_id) != 0 || a.interval_ms != b.interval_ms ||
        a.leaving != b.leaving || a.has_demand != b.has_demand ||
        a.nresources != b.nresources)
        abort();
    for (i = 0; i < a.nresources; i++)
        if (strcmp(a.resources[i].name, b.resources[i].name) != 0 ||
            a.resources[i].demand != b.resources[i].demand)
            abort();
}

static void check_time(const uint8_t *data, size_t size)
{
    int64_t ns, back;
    char buf[40];
    size_t len;

    if (!rlc__rfc3339_parse((const char *)data, size, &ns))
        return;
    len = rlc__rfc3339_format(ns, buf, sizeof(buf));
    if (len == 0 || !rlc__rfc3339_parse(buf, len, &back) || back != ns)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_capacity(data, size);
    check_presence(data, size);
    check_time(data, size);
    return 0;
}
