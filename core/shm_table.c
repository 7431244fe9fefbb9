/* SPDX-License-Identifier: MIT */
/*
 * shm_table.c - the host table's file, and the claims on its slots and
 * records. The file is made whole under a temporary name and linked into
 * place, and refused unless it is plainly this user's own. A claim is a pid
 * in a word: whoever finds that pid gone takes the claim back, so a
 * SIGKILL at any instant costs a moment, never a slot.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shm_table.h"

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
               "shared-memory atomics must be lock-free (address-free)");
_Static_assert(sizeof(struct rlc__shm_record) == 128, "record layout");
_Static_assert(sizeof(struct rlc__shm_slot) % 64 == 0, "slot layout");
_Static_assert(sizeof(struct rlc__shm_header) <= RLC__SHM_HEADER_SIZE,
               "header layout");
_Static_assert((RLC__SHM_SLOTS & (RLC__SHM_SLOTS - 1)) == 0, "power of two");

#define FILE_SIZE                                                              \
    ((size_t)RLC__SHM_HEADER_SIZE +                                            \
     (size_t)RLC__SHM_SLOTS * sizeof(struct rlc__shm_slot))

/* A live claimer that has not finished in this long is reported. */
#define CLAIM_PATIENCE_NS (1000 * 1000 * 1000)

static void say(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

bool rlc__shm_namespace_ok(const char *ns)
{
    size_t i;

    if (ns == NULL || ns[0] == '\0')
        return false;
    for (i = 0; ns[i] != '\0'; i++) {
        char c = ns[i];

        if (i + 1 >= RLC_NAMESPACE_MAX)
            return false;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

uint32_t rlc__shm_hash(const char *name, size_t len)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 16777619u;
    return h;
}

bool rlc__shm_pid_gone(uint32_t pid)
{
    int saved = errno;
    bool gone;

    if (pid == 0 || pid > INT_MAX)
        return true; /* no process ever had it: a torn or foreign word */
    /* A zombie still answers: its claims are taken back once reaped. */
    gone = kill((pid_t)pid, 0) != 0 && errno == ESRCH;
    errno = saved;
    return gone;
}

/* The pid namespace's inode: pids in the table mean something only to
 * processes of the namespace that wrote them. 0 when /proc is missing. */
static uint64_t pid_ns(void)
{
    struct stat st;

    return stat("/proc/self/ns/pid", &st) == 0 ? (uint64_t)st.st_ino : 0;
}

static bool usable_dir(const char *d)
{
    struct stat st;

    return d != NULL && d[0] == '/' && stat(d, &st) == 0 &&
           S_ISDIR(st.st_mode) && access(d, W_OK | X_OK) == 0;
}

/* The header is what a file claims about itself: checked field by field
 * against what this build writes, before anything else is read. */
static bool header_ok(const struct rlc__shm_header *h, const struct stat *st,
                      const char *path, char *err, size_t errlen)
{
    if (h->magic != RLC__SHM_MAGIC) {
        say(err, errlen, "%s: not an rlc host table (wrong magic): refused",
            path);
        return false;
    }
    if (h->version != RLC__SHM_VERSION) {
        say(err, errlen,
            "%s: table layout version %u, this library uses %u: refused "
            "(remove it when no process of the namespace runs)",
            path, h->version, RLC__SHM_VERSION);
        return false;
    }
    if (h->header_size != RLC__SHM_HEADER_SIZE ||
        h->slot_size != sizeof(struct rlc__shm_slot) ||
        h->slots != RLC__SHM_SLOTS || h->records != RLC__SHM_RECORDS ||
        h->name_max != RLC_RESOURCE_MAX || h->file_size != FILE_SIZE) {
        say(err, errlen,
            "%s: table geometry (%u-byte slots x %u, %llu bytes) is not "
            "this build's (%zu x %u, %zu): refused",
            path, h->slot_size, h->slots, (unsigned long long)h->file_size,
            sizeof(struct rlc__shm_slot), RLC__SHM_SLOTS, FILE_SIZE);
        return false;
    }
    if ((uint64_t)st->st_size < h->file_size) {
        say(err, errlen,
            "%s: truncated: %lld bytes where the header says %llu: refused",
            path, (long long)st->st_size, (unsigned long long)h->file_size);
        return false;
    }
    if ((uint64_t)st->st_size != h->file_size) {
        say(err, errlen, "%s: %lld bytes, the header says %llu: refused", path,
            (long long)st->st_size, (unsigned long long)h->file_size);
        return false;
    }
    if (h->creator_uid != (uint32_t)geteuid()) {
        say(err, errlen, "%s: made by uid %u, not %u: refused", path,
            h->creator_uid, (unsigned)geteuid());
        return false;
    }
    if (h->pid_ns != 0 && pid_ns() != 0 && h->pid_ns != pid_ns()) {
        say(err, errlen,
            "%s: made in another pid namespace, whose process ids this one "
            "cannot check: refused",
            path);
        return false;
    }
    return true;
}

/* The file itself: this user's, a regular file, private. */
static bool file_ok(const struct stat *st, const char *path, char *err,
                    size_t errlen)
{
    if (!S_ISREG(st->st_mode)) {
        say(err, errlen, "%s: not a regular file: refused", path);
        return false;
    }
    if (st->st_uid != geteuid()) {
        say(err, errlen, "%s: owned by uid %u, not %u: refused", path,
            (unsigned)st->st_uid, (unsigned)geteuid());
        return false;
    }
    if ((st->st_mode & 077) != 0) {
        say(err, errlen,
            "%s: mode %04o lets group or others in (want 0600): refused", path,
            (unsigned)(st->st_mode & 07777));
        return false;
    }
    if ((size_t)st->st_size < sizeof(struct rlc__shm_header)) {
        say(err, errlen, "%s: truncated: %lld bytes: refused", path,
            (long long)st->st_size);
        return false;
    }
    return true;
}

enum { OPENED, ABSENT, REFUSED };

/* Maps path if it is a table this process may trust. */
static int open_existing(rlc__shm_table *t, const char *path, char *err,
                         size_t errlen)
{
    struct rlc__shm_header h;
    struct stat st;
    void *map;
    int fd;

    /* O_NOFOLLOW: a symbolic link is refused, not followed; O_NONBLOCK: a
     * FIFO planted there does not hang the open. */
    fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return ABSENT;
        if (errno == ELOOP)
            say(err, errlen, "%s: a symbolic link: refused", path);
        else
            say(err, errlen, "%s: %s", path, strerror(errno));
        return REFUSED;
    }
    if (fstat(fd, &st) != 0 || !file_ok(&st, path, err, errlen) ||
        pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
        !header_ok(&h, &st, path, err, errlen)) {
        if (err != NULL && errlen > 0 && err[0] == '\0')
            say(err, errlen, "%s: cannot read the header: refused", path);
        close(fd);
        return REFUSED;
    }
    map = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        say(err, errlen, "%s: mmap: %s", path, strerror(errno));
        return REFUSED;
    }
    /* What is used is the mapping: check it, not only what pread saw. */
    if (!header_ok(map, &st, path, err, errlen)) {
        munmap(map, FILE_SIZE);
        return REFUSED;
    }
    t->hdr = map;
    t->slots = (struct rlc__shm_slot *)((char *)map + RLC__SHM_HEADER_SIZE);
    t->size = FILE_SIZE;
    return OPENED;
}

/*
 * Makes a whole table under a temporary name and links it to path, which
 * never names a file that is not complete. Returns OPENED (t mapped),
 * ABSENT (someone else's link won: open theirs) or REFUSED.
 */
static int create(rlc__shm_table *t, const char *dir, const char *path,
                  const char *base, char *err, size_t errlen)
{
    static atomic_uint serial;
    char tmp[sizeof(t->path) + 64];
    struct rlc__shm_header *h;
    struct timespec ts;
    void *map;
    int fd, r, rc;

    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.%u.%ld", dir, base, (long)getpid(),
             atomic_fetch_add(&serial, 1), (long)ts.tv_nsec);
    fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return ABSENT; /* someone's file by that name: another name */
        say(err, errlen, "%s: cannot create %s: %s", path, tmp,
            strerror(errno));
        return REFUSED;
    }
    /* fchmod: the umask may have taken bits away, never added; fallocate:
     * a full /dev/shm fails here, not with SIGBUS on a later touch. */
    rc = fchmod(fd, 0600);
    if (rc == 0)
        rc = posix_fallocate(fd, 0, (off_t)FILE_SIZE);
    if (rc != 0) {
        say(err, errlen, "%s: cannot size %s: %s", path, tmp,
            strerror(rc > 0 ? rc : errno));
        close(fd);
        unlink(tmp);
        return REFUSED;
    }
    map = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        say(err, errlen, "%s: mmap: %s", path, strerror(errno));
        unlink(tmp);
        return REFUSED;
    }
    /* Zeroes are empty slots; only the header needs writing. */
    h = map;
    h->magic = RLC__SHM_MAGIC;
    h->version = RLC__SHM_VERSION;
    h->header_size = RLC__SHM_HEADER_SIZE;
    h->slot_size = sizeof(struct rlc__shm_slot);
    h->slots = RLC__SHM_SLOTS;
    h->records = RLC__SHM_RECORDS;
    h->name_max = RLC_RESOURCE_MAX;
    h->file_size = FILE_SIZE;
    h->creator_uid = (uint32_t)geteuid();
    h->creator_pid = (uint32_t)getpid();
    h->pid_ns = pid_ns();
    /* link() never replaces: of two creators racing, one wins, the other
     * opens the winner's table. renameat2(NOREPLACE) where links fail. */
    r = link(tmp, path);
    if (r != 0 && errno != EEXIST)
        r = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);
    rc = errno;
    unlink(tmp); /* after a rename there is nothing left to remove */
    if (r != 0) {
        munmap(map, FILE_SIZE);
        if (rc == EEXIST)
            return ABSENT;
        say(err, errlen, "%s: cannot link %s into place: %s", path, tmp,
            strerror(rc));
        return REFUSED;
    }
    t->hdr = map;
    t->slots = (struct rlc__shm_slot *)((char *)map + RLC__SHM_HEADER_SIZE);
    t->size = FILE_SIZE;
    return OPENED;
}

rlc_status rlc__shm_open(rlc__shm_table *t, const char *dir, const char *ns,
                         char *err, size_t errlen)
{
    char base[RLC_NAMESPACE_MAX + 32];
    int attempt, r;

    memset(t, 0, sizeof(*t));
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (!rlc__shm_namespace_ok(ns)) {
        say(err, errlen, "namespace '%.*s': want 1 to %d of A-Z a-z 0-9 . _ -",
            RLC_NAMESPACE_MAX, ns != NULL ? ns : "(null)",
            RLC_NAMESPACE_MAX - 1);
        return RLC_EINVAL;
    }
    if (dir == NULL) {
        const char *xdg = secure_getenv("XDG_RUNTIME_DIR");

        if (usable_dir("/dev/shm"))
            dir = "/dev/shm";
        else if (usable_dir(xdg))
            dir = xdg;
        else {
            say(err, errlen,
                "neither /dev/shm nor $XDG_RUNTIME_DIR is a writable "
                "directory: no host table");
            return RLC_ESHARED;
        }
    } else if (!usable_dir(dir)) {
        say(err, errlen, "%s: not a writable directory (absolute path)", dir);
        return RLC_EINVAL;
    }
    snprintf(base, sizeof(base), "rlc-%u-%s", (unsigned)geteuid(), ns);
    if ((size_t)snprintf(t->path, sizeof(t->path), "%s/%s", dir, base) >=
        sizeof(t->path) - 64) {
        say(err, errlen, "%s: path too long", dir);
        return RLC_EINVAL;
    }
    /* Absent, made by someone else meanwhile, removed again...: a few
     * rounds settle any race but a hostile loop. */
    for (attempt = 0; attempt < 8; attempt++) {
        r = open_existing(t, t->path, err, errlen);
        if (r == ABSENT)
            r = create(t, dir, t->path, base, err, errlen);
        if (r == OPENED) {
            struct stat st;

            if (stat(t->path, &st) == 0) {
                t->dev = st.st_dev;
                t->ino = st.st_ino;
            }
            return RLC_OK;
        }
        if (r == REFUSED)
            return RLC_ESHARED;
    }
    say(err, errlen, "%s: keeps appearing and vanishing: giving up", t->path);
    return RLC_ESHARED;
}

bool rlc__shm_still_linked(const rlc__shm_table *t)
{
    struct stat st;
    int saved = errno;
    bool same =
        lstat(t->path, &st) == 0 && st.st_dev == t->dev && st.st_ino == t->ino;

    errno = saved;
    return same;
}

void rlc__shm_close(rlc__shm_table *t)
{
    if (t->hdr != NULL)
        munmap(t->hdr, t->size);
    t->hdr = NULL;
    t->slots = NULL;
}

static bool named(const struct rlc__shm_slot *sl, const char *name, size_t len,
                  uint32_t hash)
{
    /* sl->len is compared before it bounds anything: a torn length
     * never makes memcmp read past the name. */
    return sl->hash == hash && sl->len == len &&
           memcmp(sl->name, name, len) == 0;
}

struct rlc__shm_slot *rlc__shm_find(const rlc__shm_table *t, const char *name,
                                    size_t len, uint32_t hash)
{
    unsigned i;

    /* Slots are never emptied once ready, and a claim is waited for
     * before a name is placed beyond it: so the first empty slot on the
     * probe ends it. A slot mid-claim is not this name yet. */
    for (i = 0; i < RLC__SHM_SLOTS; i++) {
        struct rlc__shm_slot *sl = &t->slots[(hash + i) & (RLC__SHM_SLOTS - 1)];
        uint64_t c = atomic_load_explicit(&sl->claim, memory_order_acquire);
        unsigned st = RLC__WORD_STATE(c);

        if (st == RLC__CLAIM_EMPTY)
            return NULL;
        if (st == RLC__CLAIM_READY && named(sl, name, len, hash))
            return sl;
    }
    return NULL;
}

/* A claimed slot becomes a removed bucket named name (no one else reads a
 * slot before it is ready, so plain and relaxed writes suffice here). */
static void init_slot(struct rlc__shm_slot *sl, const char *name, size_t len,
                      uint32_t hash)
{
    unsigned i;

    for (i = 0; i < RLC__SHM_RECORDS; i++) {
        struct rlc__shm_record *r = &sl->rec[i];
        uint32_t tag = RLC__WORD_TAG(atomic_load(&r->owner)) + 1;

        atomic_store_explicit(&r->cap, 0, memory_order_relaxed);
        atomic_store_explicit(&r->window, 1, memory_order_relaxed);
        atomic_store_explicit(&r->origin, 0, memory_order_relaxed);
        atomic_store_explicit(&r->pause_until, 0, memory_order_relaxed);
        atomic_store_explicit(&r->changed_at, 0, memory_order_relaxed);
        atomic_store_explicit(&r->absorbed, 0, memory_order_relaxed);
        atomic_store_explicit(&r->epoch, 0, memory_order_relaxed);
        atomic_store_explicit(&r->cfg_cap, 0, memory_order_relaxed);
        atomic_store_explicit(&r->cfg_window, 0, memory_order_relaxed);
        atomic_store_explicit(&r->cfg_by, 0, memory_order_relaxed);
        atomic_store_explicit(
            &r->owner,
            RLC__WORD(i == 0 ? RLC__OWN_PUBLISHED : RLC__OWN_FREE, tag, 0),
            memory_order_relaxed);
    }
    atomic_store_explicit(&sl->state, 0, memory_order_relaxed);
    atomic_store_explicit(&sl->in_flight, 0, memory_order_relaxed);
    sl->hash = hash;
    sl->len = (uint32_t)len;
    memset(sl->name, 0, sizeof(sl->name));
    memcpy(sl->name, name, len);
}

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

rlc_status rlc__shm_find_or_claim(rlc__shm_table *t, const char *name,
                                  size_t len, uint32_t hash,
                                  struct rlc__shm_slot **out, char *err,
                                  size_t errlen)
{
    uint32_t me = (uint32_t)getpid();
    unsigned i;

    for (i = 0; i < RLC__SHM_SLOTS; i++) {
        unsigned at = (hash + i) & (RLC__SHM_SLOTS - 1);
        struct rlc__shm_slot *sl = &t->slots[at];
        int64_t since = -1;

        for (;;) {
            uint64_t c = atomic_load(&sl->claim), mine;
            unsigned st = RLC__WORD_STATE(c);

            if (st == RLC__CLAIM_READY) {
                if (named(sl, name, len, hash)) {
                    *out = sl;
                    return RLC_OK;
                }
                break; /* another name's: probe on */
            }
            if (st == RLC__CLAIM_EMPTY) {
                mine = RLC__WORD(RLC__CLAIM_CLAIMING, RLC__WORD_TAG(c) + 1, me);
                if (!atomic_compare_exchange_strong(&sl->claim, &c, mine))
                    continue;
                init_slot(sl, name, len, hash);
                /* Release: whoever sees ready sees the name and records. */
                atomic_store_explicit(
                    &sl->claim,
                    RLC__WORD(RLC__CLAIM_READY, RLC__WORD_TAG(mine), me),
                    memory_order_release);
                *out = sl;
                return RLC_OK;
            }
            if (st != RLC__CLAIM_CLAIMING)
                break; /* a word no build writes: not a slot to use */
            /* Mid-claim: it may be this very name, so wait for it, unless
             * its claimer is gone: then the claim is void, and the slot
             * empty again (never passed: see rlc__shm_find). */
            if (rlc__shm_pid_gone(RLC__WORD_PID(c))) {
                atomic_compare_exchange_strong(
                    &sl->claim, &c,
                    RLC__WORD(RLC__CLAIM_EMPTY, RLC__WORD_TAG(c), 0));
                continue;
            }
            if (since < 0)
                since = mono_ns();
            else if (mono_ns() - since > CLAIM_PATIENCE_NS) {
                say(err, errlen,
                    "%s: slot %u has been mid-claim by pid %u for over a "
                    "second (stopped?)",
                    t->path, at, RLC__WORD_PID(c));
                return RLC_ESHARED;
            }
            sched_yield();
        }
    }
    say(err, errlen, "%s: all %d slots hold other resources: '%.*s' not added",
        t->path, RLC__SHM_SLOTS, (int)len, name);
    return RLC_EFULL;
}

unsigned rlc__shm_record_claim(struct rlc__shm_slot *sl, uint64_t *word)
{
    uint32_t me = (uint32_t)getpid();

    for (;;) {
        unsigned cur = (unsigned)(atomic_load(&sl->state) >> 61), i;
        bool freed = false;

        for (i = 0; i < RLC__SHM_RECORDS; i++) {
            uint64_t o = atomic_load(&sl->rec[i].owner), w;

            /* The current record is never free (see rlc__shm_record_free);
             * skipping it only saves a doomed compare-and-swap. */
            if (i == cur || RLC__WORD_STATE(o) != RLC__OWN_FREE)
                continue;
            w = RLC__WORD(RLC__OWN_WRITING, RLC__WORD_TAG(o) + 1, me);
            if (atomic_compare_exchange_strong(&sl->rec[i].owner, &o, w)) {
                *word = w;
                return i;
            }
        }
        /* None free: take back those whose writer died, and superseded
         * ones whose publisher died before giving them back. The owner
         * word is read before the state: a record made current since then
         * was claimed again, its tag moved, and the exchange fails. */
        for (i = 0; i < RLC__SHM_RECORDS; i++) {
            uint64_t o = atomic_load(&sl->rec[i].owner);
            unsigned st = RLC__WORD_STATE(o);

            if (st == RLC__OWN_FREE) {
                freed = true;
                continue;
            }
            if (st == RLC__OWN_WRITING && !rlc__shm_pid_gone(RLC__WORD_PID(o)))
                continue;
            if ((unsigned)(atomic_load(&sl->state) >> 61) == i)
                continue;
            if (atomic_compare_exchange_strong(
                    &sl->rec[i].owner, &o,
                    RLC__WORD(RLC__OWN_FREE, RLC__WORD_TAG(o), 0)))
                freed = true;
        }
        if (!freed)
            sched_yield(); /* live writers hold them all: a moment */
    }
}

void rlc__shm_record_published(struct rlc__shm_slot *sl, unsigned i,
                               uint64_t word)
{
    uint64_t o = word;

    /* Fails only if it was superseded and freed already: fine. */
    atomic_compare_exchange_strong(&sl->rec[i].owner, &o,
                                   RLC__WORD(RLC__OWN_PUBLISHED,
                                             RLC__WORD_TAG(word),
                                             RLC__WORD_PID(word)));
}

void rlc__shm_record_free(struct rlc__shm_slot *sl, unsigned i, uint32_t tag)
{
    uint64_t o = atomic_load(&sl->rec[i].owner);

    while (RLC__WORD_STATE(o) != RLC__OWN_FREE && RLC__WORD_TAG(o) == tag &&
           !atomic_compare_exchange_weak(&sl->rec[i].owner, &o,
                                         RLC__WORD(RLC__OWN_FREE, tag, 0)))
        ;
}
