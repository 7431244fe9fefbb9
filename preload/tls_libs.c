/* SPDX-License-Identifier: MIT */
/*
 * tls_libs.c - which copy of OpenSSL or GnuTLS a hooked call was meant
 * for. A process may hold several: the system's libssl, one a module
 * loaded privately (python's _ssl), one a wheel bundles under another
 * name, an older version. The preload's one exported SSL_write stands in
 * front of all of them, so each call is sent on to the copy its caller
 * would have bound to: the symbol as the caller's own object resolves it.
 *
 * A caller is known by its return address; the answer for each call site
 * is kept in a small lock-free table, so the search (dladdr, dlopen with
 * RTLD_NOLOAD, dlsym) runs once per site. A return address in the preload
 * itself is a tail call: a real function rlc called (SSL_connect) jumped
 * on to another hooked one (SSL_do_handshake); it belongs to the copy rlc
 * was calling. No library is ever loaded here.
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "preload.h"

#define LIBS_MAX 8 /* copies told apart; more share the last */
#define SITES 256  /* call sites remembered; more search each time */

static const char *const names[RLP_TLS_FN_COUNT] = {
#define NAME(id, sym) [id] = #sym,
    RLP_TLS_FNS(NAME)
#undef NAME
};

/* Where to look when the caller's own scope says nothing. */
static const char *const fallback[] = {"libssl.so.3",  "libssl.so.1.1",
                                       "libssl.so",    "libgnutls.so.30",
                                       "libgnutls.so", NULL};

struct copy {
    const struct link_map *lm; /* the object defining the functions */
    struct rlp_tls_lib lib;
};

struct site {
    _Atomic(const void *) caller;
    _Atomic(const struct rlp_tls_lib *) lib;
    atomic_bool ours; /* in the preload's own object */
};

static struct copy copies[LIBS_MAX];
static int ncopies;
static const struct rlp_tls_lib none; /* every function NULL */
static struct site sites[SITES];

__thread const struct rlp_tls_lib *rlp_tls_calling
    __attribute__((tls_model("initial-exec")));
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* Is fn one of the preload's own functions (its exported hooks)? */
static bool ours(const void *fn)
{
    Dl_info mine, it;

    return dladdr((const void *)ours, &mine) != 0 && dladdr(fn, &it) != 0 &&
           mine.dli_fbase == it.dli_fbase;
}

/* name as the object containing `caller` binds it, in the dynamic
 * linker's order: the global scope first (after the preload, which stands
 * before every library there), then the object's own dependencies (a
 * module loaded RTLD_LOCAL with a libssl of its own); NULL if neither. */
static void *as_caller_binds(const void *caller, const char *name)
{
    Dl_info info;
    struct link_map *lm = NULL;
    void *h, *fn = dlsym(RTLD_NEXT, name);

    if ((fn == NULL || ours(fn)) &&
        dladdr1(caller, &info, (void **)&lm, RTLD_DL_LINKMAP) != 0 &&
        lm != NULL && lm->l_name[0] != '\0') {
        h = dlopen(lm->l_name, RTLD_LAZY | RTLD_NOLOAD);
        if (h != NULL) {
            fn = dlsym(h, name);
            dlclose(h);
        }
    }
    for (int i = 0; (fn == NULL || ours(fn)) && fallback[i] != NULL; i++) {
        h = dlopen(fallback[i], RTLD_LAZY | RTLD_NOLOAD);
        if (h != NULL) {
            fn = dlsym(h, name);
            dlclose(h);
        }
    }
    return fn != NULL && !ours(fn) ? fn : NULL;
}

/* The copy that defines fn: its functions looked up without any lock of
 * rlc's held (the dynamic linker takes its own, and a library constructor
 * running under it may call a hook), then published under mu. Pinned
 * with RTLD_NODELETE: the pointers are kept for good. */
static const struct rlp_tls_lib *copy_of(void *fn, int id)
{
    Dl_info info;
    struct link_map *lm = NULL;
    struct rlp_tls_lib found;
    const struct rlp_tls_lib *lib = &none;
    void *h;

    if (dladdr1(fn, &info, (void **)&lm, RTLD_DL_LINKMAP) == 0 || lm == NULL)
        return &none;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < ncopies; i++)
        if (copies[i].lm == lm)
            lib = &copies[i].lib;
    pthread_mutex_unlock(&mu);
    if (lib != &none)
        return lib;
    h = dlopen(lm->l_name[0] != '\0' ? lm->l_name : NULL,
               RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
    if (h == NULL)
        return &none;
    memset(&found, 0, sizeof(found));
    for (int k = 0; k < RLP_TLS_FN_COUNT; k++) {
        void *f = dlsym(h, names[k]);

        found.fn[k] = f != NULL && !ours(f) ? f : NULL;
    }
    found.fn[id] = fn;
    /* The handle stays open: NODELETE keeps the copy mapped anyway. */
    pthread_mutex_lock(&mu);
    for (int i = 0; i < ncopies; i++)
        if (copies[i].lm == lm)
            lib = &copies[i].lib; /* another thread was first */
    if (lib == &none && ncopies < LIBS_MAX) {
        copies[ncopies].lm = lm;
        copies[ncopies].lib = found;
        lib = &copies[ncopies++].lib;
    }
    pthread_mutex_unlock(&mu);
    return lib; /* &none past LIBS_MAX: never another copy's functions */
}

static size_t site_of(const void *caller)
{
    uint64_t h = (uint64_t)(uintptr_t)caller;

    h ^= h >> 29;
    h *= UINT64_C(0xbf58476d1ce4e5b9);
    h ^= h >> 32;
    return (size_t)(h & (SITES - 1));
}

const struct rlp_tls_lib *rlp_tls_lib_for(const void *caller, int id)
{
    size_t i = site_of(caller);
    const struct rlp_tls_lib *lib;
    void *fn = NULL;
    int saved = errno;
    bool mine;

    for (size_t probes = 0; probes < 8; probes++) {
        const void *at =
            atomic_load_explicit(&sites[i].caller, memory_order_acquire);

        if (at == caller) {
            lib = atomic_load_explicit(&sites[i].lib, memory_order_acquire);
            if (rlp_tls_calling != NULL && atomic_load(&sites[i].ours))
                return rlp_tls_calling; /* a tail call, see above */
            if (lib != NULL)
                return lib; /* a call site calls one function */
            break;
        }
        if (at == NULL)
            break;
        i = (i + 1) & (SITES - 1);
    }

    rlp_busy++;
    mine = ours(caller);
    fn = as_caller_binds(caller, names[id]);
    lib = fn != NULL ? copy_of(fn, id) : &none;
    pthread_mutex_lock(&mu);
    i = site_of(caller);
    for (size_t probes = 0; probes < 8; probes++) {
        const void *at = atomic_load(&sites[i].caller);

        if (at == NULL || at == caller) {
            atomic_store(&sites[i].ours, mine);
            atomic_store(&sites[i].lib, lib);
            atomic_store_explicit(&sites[i].caller, caller,
                                  memory_order_release);
            break;
        }
        i = (i + 1) & (SITES - 1);
    }
    pthread_mutex_unlock(&mu);
    if (mine && rlp_tls_calling != NULL)
        lib = rlp_tls_calling;
    if (lib->fn[id] == NULL)
        rlp_log(RLC_LOG_ERROR, "cannot find the real %s", names[id]);
    rlp_busy--;
    errno = saved;
    return lib;
}

void rlp_tls_libs_after_fork_child(void)
{
    pthread_mutex_init(&mu, NULL);
}
