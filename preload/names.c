/* SPDX-License-Identifier: MIT */
/*
 * names.c - which host name an address was resolved from, learned from the
 * program's own getaddrinfo() calls, so that connect(10.1.2.3) can be
 * matched against "hosts = api.example.com".
 *
 * A small fixed table, newest entry wins, under a mutex: getaddrinfo and
 * connect are slow calls already, and nothing here allocates.
 */
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>

#include "preload.h"

#define SLOTS 256

struct entry {
    int family;
    uint8_t addr[16];
    char name[RLC_HOSTNAME_MAX];
};

static struct entry table[SLOTS];
static unsigned next_slot;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* The address bytes of sa (IPv4-mapped IPv6 as IPv4); 0 if not inet. */
static int key_of(const struct sockaddr *sa, uint8_t out[16])
{
    if (sa->sa_family == AF_INET) {
        memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return AF_INET;
    }
    if (sa->sa_family == AF_INET6) {
        const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
                                           0, 0, 0, 0, 0xff, 0xff};

        if (memcmp(a, mapped, 12) == 0) {
            memcpy(out, a + 12, 4);
            return AF_INET;
        }
        memcpy(out, a, 16);
        return AF_INET6;
    }
    return 0;
}

static struct entry *find(int family, const uint8_t *addr)
{
    size_t len = family == AF_INET ? 4 : 16;

    for (int i = 0; i < SLOTS; i++)
        if (table[i].family == family && memcmp(table[i].addr, addr, len) == 0)
            return &table[i];
    return NULL;
}

void rlp_names_learn(const char *name, const struct addrinfo *res)
{
    size_t len = strnlen(name, RLC_HOSTNAME_MAX);

    if (len == 0 || len >= RLC_HOSTNAME_MAX)
        return;
    pthread_mutex_lock(&mu);
    for (; res != NULL; res = res->ai_next) {
        uint8_t addr[16] = {0};
        int family;
        struct entry *e;

        if (res->ai_addr == NULL)
            continue;
        family = key_of(res->ai_addr, addr);
        if (family == 0)
            continue;
        e = find(family, addr);
        if (e == NULL)
            e = &table[next_slot++ % SLOTS];
        e->family = family;
        memcpy(e->addr, addr, 16);
        memcpy(e->name, name, len + 1);
    }
    pthread_mutex_unlock(&mu);
}

bool rlp_names_lookup(const struct sockaddr *sa, char *out, size_t n)
{
    uint8_t addr[16] = {0};
    int family = key_of(sa, addr);
    struct entry *e;
    bool found = false;

    if (family == 0)
        return false;
    pthread_mutex_lock(&mu);
    e = find(family, addr);
    if (e != NULL && strlen(e->name) < n) {
        strcpy(out, e->name);
        found = true;
    }
    pthread_mutex_unlock(&mu);
    return found;
}

void rlp_names_after_fork_child(void)
{
    /* Another thread may have held it at the fork; the child has one. */
    pthread_mutex_init(&mu, NULL);
}
