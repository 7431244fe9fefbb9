/* SPDX-License-Identifier: MIT */
/*
 * swarm_agent.c - one agent of a test swarm: a distributed limiter on a
 * real NATS server, driven by commands on stdin, reporting on stdout, so
 * that tests and benchmarks can run many as separate processes.
 *
 *   swarm_agent URL AGENT_ID [options]
 *     -r NAME   resource (default "api")      -n N   capacity (default 100)
 *     -w MS     window in ms (default 60000)  -s     split among agents
 *     -t TOKEN  NATS token                    -p PFX subject prefix
 *     -i MS     recovery interval (default 30000)
 *
 * Commands: "announce [reason]", "announce_at EPOCH", "epoch" (prints
 * "epoch N"), "set N" (capacity), "raw SUBJECT JSON" (publish as is),
 * "total" (prints "total N"), "take N"
 * (try_acquire N times, prints "took K"), "connected" (prints 0 or 1),
 * "pause SECONDS [reason]" (rlc_pause until SECONDS from now, may be
 * fractional; prints nothing), "quit". Every capacity change prints "change
 * AGENT NEW_CAPACITY NS", NS being CLOCK_REALTIME when it was applied here;
 * "announced NS" marks the moment a cut was announced.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rlc.h"

static long long realtime_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void on_change(const rlc_capacity_update *u, void *arg)
{
    (void)arg;
    printf("change %s %d %lld\n", u->agent_id[0] != '\0' ? u->agent_id : "-",
           u->new_capacity, realtime_ns());
    fflush(stdout);
}

int main(int argc, char **argv)
{
    rlc_distributed_config c = rlc_distributed_config_default();
    rlc_nats_options o;
    const char *resource = "api";
    int capacity = 100, opt;
    long window_ms = 60000;
    char line[256];
    rlc_limiter *l = NULL;
    rlc_bus *bus = NULL;
    rlc_status st;

    memset(&o, 0, sizeof(o));
    while ((opt = getopt(argc, argv, "r:n:w:st:p:i:")) != -1) {
        switch (opt) {
        case 'r':
            resource = optarg;
            break;
        case 'n':
            capacity = atoi(optarg);
            break;
        case 'w':
            window_ms = atol(optarg);
            break;
        case 's':
            c.split = true;
            break;
        case 't':
            o.token = optarg;
            break;
        case 'p':
            c.subject_prefix = optarg;
            break;
        case 'i':
            c.recovery_interval_ns = atol(optarg) * RLC_MILLISECOND;
            break;
        default:
            return 2;
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "usage: swarm_agent URL AGENT_ID [options]\n");
        return 2;
    }
    o.url = argv[optind];
    o.name = argv[optind + 1];
    st = rlc_nats_bus_connect_opts(&o, &bus);
    if (st != RLC_OK) {
        fprintf(stderr, "swarm_agent: %s\n", rlc_strerror(st));
        return 1;
    }
    c.bus = bus;
    c.agent_id = argv[optind + 1];
    st = rlc_distributed_limiter_new(&c, &l);
    if (st == RLC_OK)
        st = rlc_set_capacity(l, resource, capacity,
                              window_ms * RLC_MILLISECOND);
    if (st != RLC_OK) {
        fprintf(stderr, "swarm_agent: %s\n", rlc_strerror(st));
        return 1;
    }
    rlc_on_capacity_change(l, on_change, NULL);
    printf("ready\n");
    fflush(stdout);
    while (fgets(line, sizeof(line), stdin) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "announce_at ", 12) == 0) {
            printf("announced %lld\n", realtime_ns());
            fflush(stdout);
            rlc_announce_reduced_at(l, resource, "test",
                                    strtoull(line + 12, NULL, 10));
        } else if (strncmp(line, "announce", 8) == 0) {
            printf("announced %lld\n", realtime_ns());
            fflush(stdout);
            rlc_announce_reduced(l, resource,
                                 line[8] == ' ' ? line + 9 : "test");
        } else if (strcmp(line, "epoch") == 0) {
            rlc_capacity cap;

            printf("epoch %llu\n", rlc_get_capacity(l, resource, &cap)
                                       ? (unsigned long long)cap.epoch
                                       : 0ULL);
        } else if (strcmp(line, "total") == 0) {
            rlc_capacity cap;

            printf("total %d\n",
                   rlc_get_capacity(l, resource, &cap) ? cap.total : -1);
        } else if (strncmp(line, "take ", 5) == 0) {
            int n = atoi(line + 5), took = 0;

            for (int i = 0; i < n; i++)
                took += rlc_try_acquire(l, resource);
            printf("took %d\n", took);
        } else if (strncmp(line, "set ", 4) == 0) {
            printf("set %s\n",
                   rlc_strerror(rlc_set_capacity(l, resource, atoi(line + 4),
                                                 window_ms * RLC_MILLISECOND)));
        } else if (strncmp(line, "raw ", 4) == 0) {
            char *subject = line + 4, *json = strchr(subject, ' ');

            if (json != NULL) {
                *json++ = '\0';
                printf("raw %s\n", rlc_strerror(rlc_bus_publish(
                                       bus, subject, json, strlen(json))));
            }
        } else if (strncmp(line, "pause ", 6) == 0) {
            char *end;
            double seconds = strtod(line + 6, &end);

            rlc_pause(l, resource, realtime_ns() + (long long)(seconds * 1e9),
                      *end == ' ' ? end + 1 : "test");
        } else if (strcmp(line, "connected") == 0) {
            printf("connected %d\n", rlc_bus_connected(bus) ? 1 : 0);
        } else if (strcmp(line, "quit") == 0) {
            break;
        }
        fflush(stdout);
    }
    rlc_free(l);
    rlc_bus_free(bus);
    return 0;
}
