/* SPDX-License-Identifier: MIT */
/*
 * rlctl.c - look at a swarm from outside: `rlctl watch` prints every cut,
 * recovery, pause and presence change on the bus as it happens, one line
 * each; `rlctl status` lists the live agents and each one's share.
 *
 * It reads the same ini file as the agents (nats_url, namespace, the
 * resources and their capacities) and only listens: it never publishes,
 * so it is not counted as an agent.
 */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus.h"
#include "config.h"
#include "fair_share.h"
#include "wire.h"

#define MAX_AGENTS 1024

struct agent {
    char id[RLC_RESOURCE_MAX];
    struct timespec seen;
    int64_t interval_ms;
    rlc__presence_msg said; /* its last heartbeat: what it asks for */
};

static const rlc_config *cfg;
static struct agent agents[MAX_AGENTS];
static int nagents;
static int *totals; /* last known total per resource, cfg order */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t done;

static void stamp(char *out, size_t n)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    snprintf(out, n, "%02d:%02d:%02d.%03ld", tm.tm_hour, tm.tm_min, tm.tm_sec,
             ts.tv_nsec / 1000000);
}

static int resource_index(const char *name)
{
    for (size_t i = 0; i < cfg->nresources; i++)
        if (strcmp(cfg->resources[i].name, name) == 0)
            return (int)i;
    return -1;
}

static double seconds_since(const struct timespec *t)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) +
           (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void on_capacity(const char *subject, const void *data, size_t len,
                        void *arg)
{
    bool watching = arg != NULL;
    bool recovery = strstr(subject, ".recovery") != NULL;
    rlc__capacity_msg m;
    char when[32];
    int i, old;

    if (rlc__wire_decode_capacity(data, len, &m) != RLC_OK) {
        if (watching) {
            stamp(when, sizeof(when));
            printf("%s  dropped  a message on %s that does not parse\n", when,
                   subject);
        }
        return;
    }
    pthread_mutex_lock(&mu);
    i = resource_index(m.resource);
    old = i >= 0 ? totals[i] : 0;
    if (i >= 0 && m.new_capacity > 0 && m.new_capacity <= INT32_MAX)
        totals[i] = (int)m.new_capacity;
    pthread_mutex_unlock(&mu);
    if (!watching)
        return;
    stamp(when, sizeof(when));
    if (i < 0)
        printf("%s  %-9s %s -> %lld by %s (a resource not in %s)\n", when,
               recovery ? "recovery" : "cut", m.resource,
               (long long)m.new_capacity, m.agent_id, cfg->path);
    else
        printf("%s  %-9s %s %d -> %lld by %s%s%s%s\n", when,
               recovery ? "recovery" : "cut", m.resource, old,
               (long long)m.new_capacity, m.agent_id,
               m.reason[0] != '\0' ? " (" : "", m.reason,
               m.reason[0] != '\0' ? ")" : "");
    fflush(stdout);
}

/* "HH:MM:SS" of a Unix time in ns, local time. */
static void clock_time(int64_t unix_ns, char *out, size_t n)
{
    time_t t = (time_t)(unix_ns / RLC_SECOND);
    struct tm tm;

    if (unix_ns % RLC_SECOND < 0)
        t--; /* before 1970: round down, not towards zero */
    localtime_r(&t, &tm);
    snprintf(out, n, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void on_pause(const char *subject, const void *data, size_t len,
                     void *arg)
{
    rlc__capacity_msg m;
    struct timespec now;
    char when[32], until[32];

    (void)arg;
    stamp(when, sizeof(when));
    if (rlc__wire_decode_capacity(data, len, &m) != RLC_OK || !m.has_pause) {
        printf("%s  dropped  a message on %s that does not parse\n", when,
               subject);
        fflush(stdout);
        return;
    }
    clock_gettime(CLOCK_REALTIME, &now);
    clock_time(m.pause_until_ns, until, sizeof(until));
    /* In doubles: a far-off pause must not overflow the difference. */
    printf("%s  %-9s %s until %s (%.1f s) by %s%s%s%s\n", when, "pause",
           m.resource, until,
           (double)m.pause_until_ns / 1e9 - (double)now.tv_sec -
               (double)now.tv_nsec / 1e9,
           m.agent_id, m.reason[0] != '\0' ? " (" : "", m.reason,
           m.reason[0] != '\0' ? ")" : "");
    fflush(stdout);
}

static void on_presence(const char *subject, const void *data, size_t len,
                        void *arg)
{
    bool watching = arg != NULL;
    rlc__presence_msg m;
    char when[32];
    int i;

    (void)subject;
    if (rlc__wire_decode_presence(data, len, &m) != RLC_OK)
        return;
    pthread_mutex_lock(&mu);
    for (i = 0; i < nagents; i++)
        if (strcmp(agents[i].id, m.agent_id) == 0)
            break;
    stamp(when, sizeof(when));
    if (m.leaving) {
        if (i < nagents) {
            agents[i] = agents[--nagents];
            if (watching)
                printf("%s  left      %s (%d agents)\n", when, m.agent_id,
                       nagents);
        }
    } else if (i < nagents) {
        clock_gettime(CLOCK_MONOTONIC, &agents[i].seen);
        agents[i].interval_ms = m.interval_ms;
        agents[i].said = m;
    } else if (nagents < MAX_AGENTS) {
        snprintf(agents[nagents].id, sizeof(agents[0].id), "%s", m.agent_id);
        clock_gettime(CLOCK_MONOTONIC, &agents[nagents].seen);
        agents[nagents].said = m;
        agents[nagents++].interval_ms = m.interval_ms;
        if (watching)
            printf("%s  joined    %s (%d agents)\n", when, m.agent_id, nagents);
    }
    pthread_mutex_unlock(&mu);
    if (watching)
        fflush(stdout);
}

/* Agents not heard for three heartbeats are gone, as the agents judge. */
static void expire(bool watching)
{
    char when[32];

    pthread_mutex_lock(&mu);
    for (int i = 0; i < nagents;) {
        if (seconds_since(&agents[i].seen) * 1000 >
            3.0 * (double)agents[i].interval_ms) {
            stamp(when, sizeof(when));
            if (watching)
                printf("%s  gone      %s (no heartbeat for %.1f s)\n", when,
                       agents[i].id, seconds_since(&agents[i].seen));
            agents[i] = agents[--nagents];
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&mu);
    fflush(stdout);
}

static int cmp_agents(const void *a, const void *b)
{
    return strcmp(((const struct agent *)a)->id, ((const struct agent *)b)->id);
}

/* What m says its agent asks for of name, tokens per second: INFINITY for
 * the most, -1 when it does not use it (as the agents judge). */
static double asks_of(const rlc__presence_msg *m, const char *name)
{
    if (!m->has_demand)
        return INFINITY;
    for (int i = 0; i < m->nresources; i++)
        if (strcmp(m->resources[i].name, name) == 0)
            return m->resources[i].demand;
    return m->demand_partial ? INFINITY : -1;
}

/* With share = demand: what each agent asks for of rc, and the share the
 * agents compute from that (rlc__fair_share) for a total of `total`. */
static void print_demand(const rlc_resource_config *rc, int total)
{
    double rate = (double)total * 1e9 / (double)rc->window_ns;
    static double all[MAX_AGENTS], work[MAX_AGENTS];
    int users = 0;

    for (int i = 0; i < nagents; i++) {
        double a = asks_of(&agents[i].said, rc->name);

        if (a >= 0)
            all[users++] = a;
    }
    for (int i = 0; i < nagents; i++) {
        double a = asks_of(&agents[i].said, rc->name), share;
        char asked[48];

        if (a < 0) {
            printf("    %-32s does not use it\n", agents[i].id);
            continue;
        }
        memcpy(work, all, sizeof(all[0]) * (size_t)users);
        share = rlc__fair_share(work, users, rate, a);
        if (isinf(a))
            snprintf(asked, sizeof(asked), "asks for the most");
        else
            snprintf(asked, sizeof(asked), "asks %.2f/s", a);
        printf("    %-32s %s, fair share %.2f/s\n", agents[i].id, asked, share);
    }
}

static void status(void)
{
    qsort(agents, (size_t)nagents, sizeof(agents[0]), cmp_agents);
    printf("%d live agent%s on %s (namespace %s)\n", nagents,
           nagents == 1 ? "" : "s", cfg->nats_url, cfg->namespace_);
    for (size_t r = 0; r < cfg->nresources; r++) {
        const rlc_resource_config *rc = &cfg->resources[r];
        int total = totals[r], n = nagents > 0 ? nagents : 1;

        if (rc->scope != RLC_SCOPE_SWARM)
            continue;
        printf("[%s] %d per %lld ms%s\n", rc->name, total,
               (long long)(rc->window_ns / RLC_MILLISECOND),
               !rc->split             ? ", each agent the full capacity"
               : cfg->share_by_demand ? ", split by demand"
                                      : ", split");
        if (rc->split && cfg->share_by_demand) {
            print_demand(rc, total);
            continue;
        }
        for (int i = 0; i < nagents; i++) {
            int share = total;

            if (rc->split)
                share = total >= n ? total / n + (i < total % n ? 1 : 0) : 1;
            printf("    %-32s %d%s\n", agents[i].id, share,
                   rc->split && total < n ? " (window stretched)" : "");
        }
    }
}

/* The subject prefix of a namespace: the reference package's own for the
 * default one, so that Go agents and rlc agents share a swarm. */
static void prefix_of(const char *ns, char *out, size_t n)
{
    if (strcmp(ns, "default") == 0)
        snprintf(out, n, "ratelimit");
    else
        snprintf(out, n, "ratelimit.%s", ns);
}

static void stop(int sig)
{
    (void)sig;
    done = 1;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: rlctl [-c FILE] watch | status\n"
                 "  watch   print cuts, recoveries, pauses and agents\n"
                 "          joining or leaving, as they happen (Ctrl-C ends)\n"
                 "  status  list the live agents and each one's share\n");
}

int main(int argc, char **argv)
{
    const char *file = NULL;
    char found[4096], err[RLC_CONFIG_ERR_MAX], subject[RLC_RESOURCE_MAX + 64];
    char prefix[RLC_RESOURCE_MAX + 16];
    rlc_nats_options o;
    rlc_bus *bus = NULL;
    rlc__bus_sub *s1 = NULL, *s2 = NULL, *s3 = NULL, *s4 = NULL;
    rlc_config *c;
    bool watching;
    int opt;

    while ((opt = getopt(argc, argv, "c:h")) != -1) {
        if (opt == 'c') {
            file = optarg;
        } else {
            usage(opt == 'h' ? stdout : stderr);
            return opt == 'h' ? 0 : 2;
        }
    }
    if (argc - optind != 1 || (strcmp(argv[optind], "watch") != 0 &&
                               strcmp(argv[optind], "status") != 0)) {
        usage(stderr);
        return 2;
    }
    watching = strcmp(argv[optind], "watch") == 0;
    if (file == NULL) {
        if (!rlc_config_find(found, sizeof(found))) {
            fprintf(stderr, "rlctl: no configuration file (give one with "
                            "-c)\n");
            return 2;
        }
        file = found;
    }
    c = rlc_config_load(file, err, sizeof(err));
    if (c == NULL) {
        fprintf(stderr, "rlctl: %s\n", err);
        return 2;
    }
    cfg = c;
    totals = calloc(cfg->nresources + 1, sizeof(*totals));
    for (size_t i = 0; i < cfg->nresources; i++)
        totals[i] = cfg->resources[i].capacity;
    memset(&o, 0, sizeof(o));
    o.url = cfg->nats_url;
    o.name = "rlctl";
    if (rlc_nats_bus_connect_opts(&o, &bus) != RLC_OK) {
        fprintf(stderr, "rlctl: cannot use %s\n", cfg->nats_url);
        return 1;
    }
    prefix_of(cfg->namespace_, prefix, sizeof(prefix));
    snprintf(subject, sizeof(subject), "%s.capacity", prefix);
    rlc__bus_subscribe(bus, subject, on_capacity, watching ? bus : NULL, &s1);
    snprintf(subject, sizeof(subject), "%s.recovery", prefix);
    rlc__bus_subscribe(bus, subject, on_capacity, watching ? bus : NULL, &s2);
    snprintf(subject, sizeof(subject), "%s.presence", prefix);
    rlc__bus_subscribe(bus, subject, on_presence, watching ? bus : NULL, &s3);
    snprintf(subject, sizeof(subject), "%s.pause", prefix);
    if (watching) /* pauses change no share: status has no use for them */
        rlc__bus_subscribe(bus, subject, on_pause, bus, &s4);
    signal(SIGINT, stop);
    signal(SIGTERM, stop);
    if (watching) {
        printf("watching %s (namespace %s); Ctrl-C ends\n", cfg->nats_url,
               cfg->namespace_);
        fflush(stdout);
        while (!done) {
            usleep(200000);
            expire(true);
        }
    } else {
        /* Listen for two heartbeats and a half. */
        for (int i = 0; i < 25 && !done; i++)
            usleep(100000);
        if (!rlc_bus_connected(bus))
            fprintf(stderr, "rlctl: not connected to %s\n", cfg->nats_url);
        pthread_mutex_lock(&mu);
        status();
        pthread_mutex_unlock(&mu);
    }
    rlc__bus_unsubscribe(bus, s1);
    rlc__bus_unsubscribe(bus, s2);
    rlc__bus_unsubscribe(bus, s3);
    rlc__bus_unsubscribe(bus, s4);
    rlc_bus_free(bus);
    rlc_config_free(c);
    free(totals);
    return 0;
}
