/* SPDX-License-Identifier: MIT */
/*
 * rlrun.c - run a command under rlc: check the configuration, put
 * librlpreload.so in front of LD_PRELOAD, pass the configuration's path,
 * exec. The command's children inherit both through the environment.
 *
 * The configuration is validated here, before anything runs, so a typo in
 * the file is an error and exit status 2, not a program running unlimited.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#ifndef RLC_LIBDIR
#define RLC_LIBDIR "/usr/local/lib"
#endif

static void usage(FILE *out)
{
    fprintf(out,
            "usage: rlrun [-c FILE] [--check] [--] COMMAND [ARGS...]\n"
            "\n"
            "Runs COMMAND with its HTTP requests held to the budgets of the\n"
            "rlc configuration FILE (default: $RLC_CONFIG, ./rlc.ini,\n"
            "$XDG_CONFIG_HOME/rlc/rlc.ini, ~/.config/rlc/rlc.ini,\n"
            "/etc/rlc.ini).\n"
            "\n"
            "  -c, --config FILE  the configuration to use\n"
            "      --check        print the configuration as understood and "
            "exit\n"
            "  -h, --help         this text\n"
            "  -V, --version      rlrun's version\n"
            "\n"
            "Exit status: COMMAND's, or 2 for a bad configuration or usage,\n"
            "126/127 when COMMAND cannot be run.\n");
}

static const char *scope_name(rlc_scope s)
{
    return s == RLC_SCOPE_PROCESS ? "process"
           : s == RLC_SCOPE_HOST  ? "host"
                                  : "swarm";
}

static void format_window(int64_t ns, char *out, size_t n)
{
    if (ns % RLC_MINUTE == 0 && ns >= RLC_MINUTE)
        snprintf(out, n, ns % (60 * RLC_MINUTE) == 0 ? "%lldh" : "%lldm",
                 (long long)(ns % (60 * RLC_MINUTE) == 0
                                 ? ns / (60 * RLC_MINUTE)
                                 : ns / RLC_MINUTE));
    else if (ns % RLC_SECOND == 0)
        snprintf(out, n, "%llds", (long long)(ns / RLC_SECOND));
    else if (ns % RLC_MILLISECOND == 0)
        snprintf(out, n, "%lldms", (long long)(ns / RLC_MILLISECOND));
    else
        snprintf(out, n, "%lldns", (long long)ns);
}

static void print_pattern(const rlc_host_pattern *p)
{
    char addr[INET6_ADDRSTRLEN] = "";

    switch (p->kind) {
    case RLC_HOST_NAME:
        printf("    %s", p->name);
        break;
    case RLC_HOST_SUFFIX:
        printf("    *.%s", p->name);
        break;
    default:
        inet_ntop(p->family, p->addr, addr, sizeof(addr));
        printf(p->family == AF_INET6 ? "    [%s]/%d" : "    %s/%d", addr,
               p->prefix);
        break;
    }
    if (p->port != 0)
        printf("  port %d", p->port);
    printf("\n");
}

static void check(const rlc_config *c)
{
    char window[32], wait[32];

    format_window(c->max_wait_ns, wait, sizeof(wait));
    printf("%s: namespace %s, agent %s, max_wait %s then %s\n", c->path,
           c->namespace_, c->agent_id, wait,
           c->on_timeout == RLC_ON_TIMEOUT_PASS ? "pass" : "fail");
    for (size_t i = 0; i < c->nresources; i++) {
        const rlc_resource_config *r = &c->resources[i];

        format_window(r->window_ns, window, sizeof(window));
        printf("[%s] %d per %s, one token per %s, scope %s%s\n", r->name,
               r->capacity, window,
               r->per == RLC_PER_REQUEST ? "request" : "connection",
               scope_name(r->scope),
               r->scope == RLC_SCOPE_SWARM
                   ? (!r->split            ? ", not split"
                      : c->share_by_demand ? ", split among agents by demand"
                                           : ", split equally among agents")
                   : "");
        if (r->nhosts == 0)
            printf("    (no hosts: only for the C API)\n");
        for (size_t j = 0; j < r->nhosts; j++)
            print_pattern(&r->hosts[j]);
    }
}

/* Where librlpreload.so is: $RLC_PRELOAD, beside rlrun, or installed. */
static bool find_preload(char *out, size_t n)
{
    const char *env = getenv("RLC_PRELOAD");
    char self[PATH_MAX];
    ssize_t len;

    if (env != NULL && env[0] != '\0') {
        snprintf(out, n, "%s", env);
        return access(out, R_OK) == 0;
    }
    len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len > 0) {
        self[len] = '\0';
        snprintf(out, n, "%s/librlpreload.so", dirname(self));
        if (access(out, R_OK) == 0)
            return true;
    }
    snprintf(out, n, "%s/rlc/librlpreload.so", RLC_LIBDIR);
    return access(out, R_OK) == 0;
}

int main(int argc, char **argv)
{
    const char *file = NULL;
    char found[PATH_MAX], abs[PATH_MAX], preload[PATH_MAX];
    char err[RLC_CONFIG_ERR_MAX];
    bool only_check = false;
    rlc_config *cfg;
    int i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (strcmp(argv[i], "-c") == 0 ||
                   strcmp(argv[i], "--config") == 0) {
            if (++i >= argc) {
                fprintf(stderr, "rlrun: %s needs a file\n", argv[i - 1]);
                return 2;
            }
            file = argv[i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            file = argv[i] + 9;
        } else if (strcmp(argv[i], "--check") == 0) {
            only_check = true;
        } else if (strcmp(argv[i], "-h") == 0 ||
                   strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "-V") == 0 ||
                   strcmp(argv[i], "--version") == 0) {
            printf("rlrun %s\n", RLC_VERSION);
            return 0;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "rlrun: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else {
            break;
        }
    }
    if (file == NULL) {
        if (!rlc_config_find(found, sizeof(found))) {
            fprintf(stderr,
                    "rlrun: no configuration file: give one with -c, or "
                    "see rlrun --help for where it is looked for\n");
            return 2;
        }
        file = found;
    }
    cfg = rlc_config_load(file, err, sizeof(err));
    if (cfg == NULL) {
        fprintf(stderr, "rlrun: %s\n", err);
        return 2;
    }
    if (only_check) {
        check(cfg);
        rlc_config_free(cfg);
        return 0;
    }
    rlc_config_free(cfg);
    if (i >= argc) {
        fprintf(stderr, "rlrun: no command to run\n");
        usage(stderr);
        return 2;
    }
    if (!find_preload(preload, sizeof(preload))) {
        fprintf(stderr, "rlrun: cannot find librlpreload.so (tried %s)\n",
                preload);
        return 2;
    }
    if (realpath(file, abs) == NULL) {
        fprintf(stderr, "rlrun: %s: %s\n", file, strerror(errno));
        return 2;
    }
    {
        const char *old = getenv("LD_PRELOAD");
        size_t len = strlen(preload) + (old != NULL ? strlen(old) : 0) + 2;
        char *value = malloc(len);

        if (value == NULL) {
            fprintf(stderr, "rlrun: out of memory\n");
            return 2;
        }
        snprintf(value, len, "%s%s%s", preload,
                 old != NULL && old[0] != '\0' ? ":" : "",
                 old != NULL ? old : "");
        setenv("LD_PRELOAD", value, 1);
        free(value);
    }
    setenv("RLC_CONFIG", abs, 1);
    execvp(argv[i], &argv[i]);
    fprintf(stderr, "rlrun: %s: %s\n", argv[i], strerror(errno));
    return errno == ENOENT ? 127 : 126;
}
