/* SPDX-License-Identifier: MIT */
/*
 * test_host.c - the host limiter across processes: forked children share a
 * table in a private directory, hammer it, cut, pause, and are SIGKILLed at
 * random instants; hostile table files must be refused. Behaviour is tested
 * on a clock in shared memory, rates on the real clock with bounds that hold
 * however processes run. Children never use cmocka: they report through
 * their exit status, and an alarm kills one that hangs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "rlc.h"
#include "shm_table.h" /* the layout, to plant hostile and torn values */

#define MS RLC_MILLISECOND

/* Shared with every child: the injected clock and the counters. */
struct shared {
    _Atomic int64_t now;
    atomic_long admitted;
    atomic_int stop;
    _Atomic int64_t got_at[8];
};
static struct shared *sh;

static char dir[64];     /* this test's private table directory */
static char path[128];   /* its table file for namespace "t" */
static size_t file_size; /* what a table's size is */

static int64_t shared_clock(void *arg)
{
    (void)arg;
    return atomic_load(&sh->now);
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * RLC_SECOND + ts.tv_nsec;
}

static int64_t unix_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * RLC_SECOND + ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / RLC_SECOND), (long)(ns % RLC_SECOND)};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* A limiter on this test's table: ns "t", the shared clock if fake. */
static rlc_status open_ns(const char *ns, bool fake, rlc_limiter **out,
                          char *err, size_t errlen)
{
    rlc_host_limiter_options o = {.ns = ns, .dir = dir};

    if (fake)
        o.now = shared_clock;
    return rlc_host_limiter_open(&o, out, err, errlen);
}

static rlc_limiter *open_t(bool fake)
{
    rlc_limiter *l = NULL;
    char err[256];
    rlc_status st = open_ns("t", fake, &l, err, sizeof(err));

    if (st != RLC_OK)
        print_error("open: %s: %s\n", rlc_strerror(st), err);
    assert_int_equal(st, RLC_OK);
    return l;
}

static void advance(rlc_limiter *l, int64_t ns)
{
    atomic_fetch_add(&sh->now, ns);
    rlc_clock_advanced(l);
}

static int setup(void **state)
{
    (void)state;
    memset(sh, 0, sizeof(*sh));
    atomic_store(&sh->now, 1000 * RLC_SECOND);
    snprintf(dir, sizeof(dir), "/tmp/rlc-test-host-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/rlc-%u-t", dir, (unsigned)geteuid());
    return 0;
}

/* Removes everything the test left in its directory. */
static int teardown(void **state)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];

    (void)state;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        if (unlink(p) != 0)
            rmdir(p);
    }
    if (d != NULL)
        closedir(d);
    rmdir(dir);
    return 0;
}

/* Runs fn in a child process, which exits with what fn returns. A child
 * that hangs is killed by its alarm (and reported as 128 + SIGALRM). */
static pid_t spawn(int (*fn)(void *), void *arg)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(20);
        _exit(fn(arg));
    }
    return pid;
}

static int reap(pid_t pid)
{
    int st;

    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int waiting(rlc_limiter *l, const char *r)
{
    rlc_capacity c;

    return rlc_get_capacity(l, r, &c) ? c.waiting : -1;
}

/* Real time passes only to let another process or thread get there. */
static void wait_for_waiting(rlc_limiter *l, const char *r, int n)
{
    int i;

    for (i = 0; i < 10000 && waiting(l, r) != n; i++)
        sleep_ns(MS / 2);
    assert_int_equal(waiting(l, r), n);
}

/* The table mapped directly: to plant what no library would write. */
static struct rlc__shm_header *map_table(void)
{
    int fd = open(path, O_RDWR);
    void *m;

    assert_true(fd >= 0);
    m = mmap(NULL, file_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    assert_true(m != MAP_FAILED);
    return m;
}

static struct rlc__shm_slot *slot_at(struct rlc__shm_header *h, unsigned i)
{
    return (struct rlc__shm_slot *)((char *)h + RLC__SHM_HEADER_SIZE) + i;
}

/* The slot a name would take first in an empty table. */
static unsigned home_of(const char *name)
{
    return rlc__shm_hash(name, strlen(name)) & (RLC__SHM_SLOTS - 1);
}

/* A pid that is certainly gone: a child that exited and was reaped. */
static uint32_t dead_pid(void)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0)
        _exit(0);
    reap(pid);
    return (uint32_t)pid;
}

static void test_host_options_are_checked(void **state)
{
    static const char *bad[] = {"",
                                "a/b",
                                "../x",
                                "with space",
                                "tab\t",
                                "0123456789012345678901234567890123456789"
                                "012345678901234567890123"};
    rlc_host_limiter_options o = {.dir = dir};
    rlc_limiter *l = (rlc_limiter *)&o;
    char err[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        o.ns = bad[i];
        assert_int_equal(rlc_host_limiter_open(&o, &l, err, sizeof(err)),
                         RLC_EINVAL);
        assert_null(l);
        assert_non_null(strstr(err, "namespace"));
    }
    /* 63 bytes of every legal character is fine */
    o.ns = "Az09._-Az09._-Az09._-Az09._-Az09._-Az09._-Az09._-Az09._-Az09._-";
    assert_int_equal(strlen(o.ns), RLC_NAMESPACE_MAX - 1);
    assert_int_equal(rlc_host_limiter_open(&o, &l, err, sizeof(err)), RLC_OK);
    rlc_free(l);

    o.ns = "t";
    o.dir = "relative/dir";
    assert_int_equal(rlc_host_limiter_open(&o, &l, err, sizeof(err)),
                     RLC_EINVAL);
    o.dir = "/nonexistent-rlc-dir";
    assert_int_equal(rlc_host_limiter_open(&o, &l, err, sizeof(err)),
                     RLC_EINVAL);
    assert_non_null(strstr(err, "/nonexistent-rlc-dir"));
    o.dir = dir;
    assert_int_equal(rlc_host_limiter_open(&o, NULL, err, sizeof(err)),
                     RLC_EINVAL);
    assert_int_equal(rlc_host_limiter_new("t", NULL), RLC_EINVAL);
    assert_int_equal(rlc_host_limiter_new("a/b", &l), RLC_EINVAL);
    assert_int_equal(rlc_host_limiter_new_with_clock("t", NULL, NULL, &l),
                     RLC_EINVAL);
    assert_null(l);

    /* the host-only calls on another kind of limiter, or NULL */
    l = rlc_memory_limiter_new();
    assert_int_equal(rlc_host_limiter_error(l, err, sizeof(err)), 0);
    assert_false(rlc_host_limiter_conflict(l, "r", err, sizeof(err)));
    assert_int_equal(rlc_host_limiter_error(NULL, err, sizeof(err)), 0);
    assert_false(rlc_host_limiter_conflict(NULL, "r", NULL, 0));
    rlc_free(l);
}

/* The default directory is /dev/shm; the file is this user's, 0600. */
static void test_host_default_table_is_private_and_whole(void **state)
{
    char ns[64], p[128];
    rlc_limiter *l, *l2;
    struct stat st, st2;
    DIR *d;
    struct dirent *e;
    int entries = 0;

    (void)state;
    snprintf(ns, sizeof(ns), "rlc-test-%ld", (long)getpid());
    snprintf(p, sizeof(p), "/dev/shm/rlc-%u-%s", (unsigned)geteuid(), ns);
    unlink(p);
    if (access("/dev/shm", W_OK) != 0)
        skip();
    assert_int_equal(rlc_host_limiter_new(ns, &l), RLC_OK);
    assert_int_equal(
        rlc_host_limiter_new_with_clock(ns, shared_clock, NULL, &l2), RLC_OK);
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_uid, geteuid());
    assert_int_equal((size_t)st.st_size, file_size);
    assert_int_equal(rlc_set_capacity(l, "a", 2, RLC_SECOND), RLC_OK);
    assert_true(rlc_try_acquire(l, "a"));
    rlc_free(l);
    rlc_free(l2);
    assert_int_equal(unlink(p), 0);

    /* in a private directory: one file, no temporary left behind */
    l = open_t(false);
    l2 = open_t(false);
    assert_int_equal(stat(path, &st), 0);
    d = opendir(dir);
    while ((e = readdir(d)) != NULL)
        entries += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(entries, 1);
    assert_int_equal(rlc_set_capacity(l, "a", 2, RLC_SECOND), RLC_OK);
    assert_true(rlc_try_acquire(l2, "a")); /* one table for both */
    assert_int_equal(stat(path, &st2), 0);
    assert_int_equal(st.st_ino, st2.st_ino);
    rlc_free(l);
    rlc_free(l2);
}

/* Two limiters of one process share exactly as two processes would. */
static void test_host_limiters_share_one_budget(void **state)
{
    rlc_limiter *a = open_t(true), *b = open_t(true);
    rlc_capacity c;
    int i;

    (void)state;
    assert_int_equal(rlc_set_capacity(a, "api", 5, RLC_SECOND), RLC_OK);
    assert_true(rlc_get_capacity(b, "api", &c));
    assert_int_equal(c.total, 5);
    for (i = 0; i < 3; i++)
        assert_true(rlc_try_acquire(a, "api"));
    assert_true(rlc_try_acquire(b, "api"));
    assert_true(rlc_try_acquire(b, "api"));
    assert_false(rlc_try_acquire(a, "api"));
    assert_false(rlc_try_acquire(b, "api"));
    assert_true(rlc_get_capacity(a, "api", &c));
    assert_int_equal(c.in_flight, 5);
    rlc_release(b, "api"); /* a token back, for everyone */
    assert_true(rlc_try_acquire(a, "api"));
    advance(a, RLC_SECOND / 5);
    assert_true(rlc_try_acquire(b, "api"));
    assert_false(rlc_try_acquire(a, "api"));

    /* a cut by one is seen by the other, with its epoch */
    rlc_announce_reduced(a, "api", "429");
    assert_true(rlc_get_capacity(b, "api", &c));
    assert_int_equal(c.total, 3);
    assert_int_equal(c.epoch, 1);
    rlc_announce_reduced_at(b, "api", "429 for an old request", 0);
    assert_true(rlc_get_capacity(a, "api", &c));
    assert_int_equal(c.total, 3); /* that epoch was cut already */

    /* a pause by one holds the other */
    advance(a, RLC_SECOND);
    rlc_pause(b, "api", unix_now() + 10 * RLC_SECOND, "Retry-After");
    assert_false(rlc_try_acquire(a, "api"));
    assert_true(rlc_get_capacity(a, "api", &c));
    assert_true(c.paused_until_ns > unix_now() + 9 * RLC_SECOND);
    advance(a, 10 * RLC_SECOND);
    assert_true(rlc_try_acquire(a, "api"));

    /* closing one leaves the other working */
    assert_int_equal(rlc_close(a), RLC_OK);
    assert_true(rlc_try_acquire(b, "api"));
    assert_true(rlc_get_capacity(a, "api", &c));

    /* removed by one, gone for the other */
    assert_int_equal(rlc_set_capacity(b, "api", 0, RLC_SECOND), RLC_EINVALCAP);
    assert_false(rlc_get_capacity(b, "api", &c));
    assert_int_equal(rlc_acquire(b, "api", RLC_FOREVER), RLC_EUNKNOWN);
    rlc_free(a);
    rlc_free(b);
}

/* The last configuration wins for all; joining with the same one keeps a
 * cut; a disagreement is reported to both sides. */
static void test_host_last_configuration_wins_and_is_reported(void **state)
{
    rlc_limiter *a = open_t(true), *b = open_t(true);
    rlc_capacity c;
    char msg[256];

    (void)state;
    assert_int_equal(rlc_set_capacity(a, "api", 10, RLC_SECOND), RLC_OK);
    assert_int_equal(rlc_set_capacity(b, "api", 10, RLC_SECOND), RLC_OK);
    assert_false(rlc_host_limiter_conflict(a, "api", msg, sizeof(msg)));
    assert_false(rlc_host_limiter_conflict(b, "api", msg, sizeof(msg)));
    rlc_announce_reduced(a, "api", "429");
    /* a process starting with the same configuration keeps the cut */
    assert_int_equal(rlc_set_capacity(b, "api", 10, RLC_SECOND), RLC_OK);
    assert_true(rlc_get_capacity(a, "api", &c));
    assert_int_equal(c.total, 7);

    assert_int_equal(rlc_set_capacity(b, "api", 20, RLC_MINUTE), RLC_OK);
    assert_true(rlc_get_capacity(a, "api", &c));
    assert_int_equal(c.total, 20);
    assert_int_equal(c.window_ns, RLC_MINUTE);
    assert_true(rlc_host_limiter_conflict(b, "api", msg, sizeof(msg)));
    assert_non_null(strstr(msg, "20 per 1m replaced 10 per 1s set by pid"));
    assert_true(rlc_host_limiter_conflict(a, "api", msg, sizeof(msg)));
    assert_non_null(strstr(msg, "20 per 1m set by pid"));
    assert_non_null(strstr(msg, "replaced this process's 10 per 1s"));
    assert_true(rlc_host_limiter_conflict(a, "api", NULL, 0));

    /* agreeing again ends it */
    assert_int_equal(rlc_set_capacity(a, "api", 20, RLC_MINUTE), RLC_OK);
    assert_false(rlc_host_limiter_conflict(a, "api", msg, sizeof(msg)));
    assert_false(rlc_host_limiter_conflict(a, "nope", msg, sizeof(msg)));
    rlc_free(a);
    rlc_free(b);
}

static void test_host_full_table_reports_its_status(void **state)
{
    rlc_limiter *l = open_t(true);
    char name[32], err[256];
    int i;

    (void)state;
    for (i = 0; i < RLC_HOST_SLOTS; i++) {
        snprintf(name, sizeof(name), "r%d", i);
        assert_int_equal(rlc_set_capacity(l, name, 1, RLC_SECOND), RLC_OK);
    }
    assert_int_equal(rlc_set_capacity(l, "one-more", 1, RLC_SECOND), RLC_EFULL);
    assert_true(rlc_host_limiter_error(l, err, sizeof(err)) > 0);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "'one-more' not added"));
    assert_int_equal(rlc_acquire(l, "one-more", 0), RLC_EUNKNOWN);
    /* a removed resource keeps its slot: still full */
    assert_int_equal(rlc_set_capacity(l, "r7", 0, RLC_SECOND), RLC_EINVALCAP);
    assert_int_equal(rlc_set_capacity(l, "one-more", 1, RLC_SECOND), RLC_EFULL);
    assert_int_equal(rlc_set_capacity(l, "r7", 1, RLC_SECOND), RLC_OK);
    for (i = 0; i < RLC_HOST_SLOTS; i++) {
        snprintf(name, sizeof(name), "r%d", i);
        assert_true(rlc_try_acquire(l, name));
    }
    rlc_free(l);
}

/* Plants a valid table, then hurts it with f, then tries to open it. */
static void refused(void (*f)(void), const char *why)
{
    rlc_limiter *l = open_t(false);
    char err[512], before[64], after[64];
    struct stat st;
    bool plain;
    int fd;

    memset(before, 0, sizeof(before));
    memset(after, 0, sizeof(after));
    assert_int_equal(rlc_set_capacity(l, "api", 5, RLC_SECOND), RLC_OK);
    rlc_free(l);
    f();
    plain = lstat(path, &st) == 0 && S_ISREG(st.st_mode);
    if (plain) {
        fd = open(path, O_RDONLY);
        assert_true(fd >= 0);
        assert_true(pread(fd, before, sizeof(before), 0) >= 0);
        close(fd);
    }
    l = (rlc_limiter *)err;
    assert_int_equal(open_ns("t", false, &l, err, sizeof(err)), RLC_ESHARED);
    assert_null(l);
    if (strstr(err, why) == NULL)
        print_error("message: %s\n", err);
    assert_non_null(strstr(err, why));
    assert_non_null(strstr(err, path));
    /* refused, and never written to */
    if (plain) {
        fd = open(path, O_RDONLY);
        assert_true(fd >= 0);
        assert_true(pread(fd, after, sizeof(after), 0) >= 0);
        close(fd);
        assert_memory_equal(before, after, sizeof(before));
    }
    teardown(NULL);
    assert_int_equal(setup(NULL), 0);
}

static void other_owner(void)
{
    assert_int_equal(chown(path, 4242, 4242), 0);
}

static void mode_0644(void)
{
    assert_int_equal(chmod(path, 0644), 0);
}

static void mode_0660(void)
{
    assert_int_equal(chmod(path, 0660), 0);
}

static void poke(size_t off, const void *v, size_t n)
{
    int fd = open(path, O_WRONLY);

    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, v, n, (off_t)off), (ssize_t)n);
    close(fd);
}

static void wrong_magic(void)
{
    uint64_t m = UINT64_C(0x4141414141414141);

    poke(offsetof(struct rlc__shm_header, magic), &m, sizeof(m));
}

static void wrong_version(void)
{
    uint32_t v = RLC__SHM_VERSION + 1;

    poke(offsetof(struct rlc__shm_header, version), &v, sizeof(v));
}

static void wrong_geometry(void)
{
    uint32_t v = RLC__SHM_SLOTS * 2;

    poke(offsetof(struct rlc__shm_header, slots), &v, sizeof(v));
}

static void wrong_creator(void)
{
    uint32_t v = 4242;

    poke(offsetof(struct rlc__shm_header, creator_uid), &v, sizeof(v));
}

static void truncated(void)
{
    assert_int_equal(truncate(path, (off_t)(file_size - 4096)), 0);
}

static void tiny(void)
{
    assert_int_equal(truncate(path, 10), 0);
}

static void too_long(void)
{
    assert_int_equal(truncate(path, (off_t)(file_size + 4096)), 0);
}

static void symlinked(void)
{
    char real[160];

    snprintf(real, sizeof(real), "%s/elsewhere", dir);
    assert_int_equal(rename(path, real), 0);
    assert_int_equal(symlink(real, path), 0);
}

static void dangling_symlink(void)
{
    assert_int_equal(unlink(path), 0);
    assert_int_equal(symlink("/tmp/rlc-test-nowhere/x", path), 0);
}

static void a_directory(void)
{
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkdir(path, 0700), 0);
}

static void a_fifo(void)
{
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkfifo(path, 0600), 0);
}

static void test_host_hostile_files_are_refused(void **state)
{
    (void)state;
    if (geteuid() == 0)
        refused(other_owner, "owned by uid 4242");
    refused(mode_0644, "mode 0644 lets group or others in");
    refused(mode_0660, "mode 0660");
    refused(wrong_magic, "wrong magic");
    refused(wrong_version, "version 2");
    refused(wrong_geometry, "geometry");
    refused(wrong_creator, "made by uid 4242");
    refused(truncated, "truncated");
    refused(tiny, "truncated: 10 bytes");
    refused(too_long, "the header says");
    refused(symlinked, "symbolic link");
    refused(dangling_symlink, "symbolic link");
    refused(a_directory, path);
    refused(a_fifo, "not a regular file");
}

/* Values read from the table are bounded: out of range is removed. */
static void test_host_torn_values_count_as_removed(void **state)
{
    static const struct {
        size_t field;
        int64_t value;
    } bad[] = {
        {offsetof(struct rlc__shm_record, cap), -5},
        {offsetof(struct rlc__shm_record, cap), (int64_t)INT32_MAX + 1},
        {offsetof(struct rlc__shm_record, window), 0},
        {offsetof(struct rlc__shm_record, window), INT64_MIN},
        {offsetof(struct rlc__shm_record, origin), INT64_MIN},
        {offsetof(struct rlc__shm_record, origin), INT64_MAX},
    };
    rlc_limiter *l = open_t(true);
    struct rlc__shm_header *h;
    struct rlc__shm_slot *sl;
    rlc_capacity c;
    size_t i;

    (void)state;
    assert_int_equal(rlc_set_capacity(l, "api", 5, RLC_SECOND), RLC_OK);
    h = map_table();
    sl = slot_at(h, home_of("api"));
    assert_string_equal(sl->name, "api");
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned cur = (unsigned)(atomic_load(&sl->state) >> 61);

        atomic_store((_Atomic int64_t *)((char *)&sl->rec[cur] + bad[i].field),
                     bad[i].value);
        assert_false(rlc_get_capacity(l, "api", &c));
        assert_false(rlc_try_acquire(l, "api"));
        assert_int_equal(rlc_acquire(l, "api", RLC_SECOND), RLC_EUNKNOWN);
        rlc_release(l, "api");
        rlc_announce_reduced(l, "api", "429");
        rlc_pause(l, "api", unix_now() + RLC_SECOND, NULL);
        /* configuring it again, even the same way, makes it whole */
        assert_int_equal(rlc_set_capacity(l, "api", 5, RLC_SECOND), RLC_OK);
        assert_true(rlc_get_capacity(l, "api", &c));
        assert_int_equal(c.total, 5);
        assert_int_equal(c.available, 5);
        assert_true(rlc_try_acquire(l, "api"));
    }
    /* a torn name length or claim word: never read past, never used */
    sl->len = 100000;
    assert_false(rlc_try_acquire(l, "api"));
    assert_int_equal(rlc_set_capacity(l, "other", 1, RLC_SECOND), RLC_OK);
    sl->len = 3;
    atomic_store(&sl->claim, UINT64_MAX);
    assert_false(rlc_get_capacity(l, "api", &c));
    assert_int_equal(rlc_set_capacity(l, "api", 1, RLC_SECOND), RLC_OK);
    assert_true(rlc_try_acquire(l, "api")); /* in another slot */
    munmap(h, file_size);
    rlc_free(l);
}

/* Whatever a dead process held mid-claim is taken back. */
static void test_host_dead_claimers_are_recovered(void **state)
{
    rlc_limiter *l = open_t(true);
    struct rlc__shm_header *h;
    struct rlc__shm_slot *sl;
    uint32_t gone = dead_pid();
    char err[256];
    rlc_capacity c;
    unsigned i, cur;
    int64_t t0;

    (void)state;
    /* a slot claimed by a process that died before it was ready */
    assert_int_equal(rlc_set_capacity(l, "first", 1, RLC_SECOND), RLC_OK);
    h = map_table();
    sl = slot_at(h, home_of("x"));
    assert_int_equal(RLC__WORD_STATE(atomic_load(&sl->claim)),
                     RLC__CLAIM_EMPTY);
    atomic_store(&sl->claim, RLC__WORD(RLC__CLAIM_CLAIMING, 7, gone));
    memcpy(sl->name, "half", 4); /* what it had written */
    assert_int_equal(rlc_acquire(l, "x", 0), RLC_EUNKNOWN);
    assert_int_equal(rlc_set_capacity(l, "x", 5, RLC_SECOND), RLC_OK);
    assert_string_equal(sl->name, "x"); /* the very slot, taken back */
    assert_int_equal(RLC__WORD_STATE(atomic_load(&sl->claim)),
                     RLC__CLAIM_READY);

    /* every spare record held by a dead writer, then superseded ones whose
     * publisher died before giving them back */
    cur = (unsigned)(atomic_load(&sl->state) >> 61);
    for (i = 0; i < RLC__SHM_RECORDS; i++)
        if (i != cur)
            atomic_store(&sl->rec[i].owner,
                         RLC__WORD(RLC__OWN_WRITING, 3, gone));
    assert_int_equal(rlc_set_capacity(l, "x", 7, RLC_SECOND), RLC_OK);
    cur = (unsigned)(atomic_load(&sl->state) >> 61);
    for (i = 0; i < RLC__SHM_RECORDS; i++)
        if (i != cur)
            atomic_store(&sl->rec[i].owner,
                         RLC__WORD(RLC__OWN_PUBLISHED, 3, getpid()));
    assert_int_equal(rlc_set_capacity(l, "x", 8, RLC_SECOND), RLC_OK);
    assert_true(rlc_get_capacity(l, "x", &c));
    assert_int_equal(c.total, 8);

    /* a live claimer that never finishes (stopped?) is reported after a
     * second, not waited for for ever */
    sl = slot_at(h, home_of("y"));
    atomic_store(&sl->claim, RLC__WORD(RLC__CLAIM_CLAIMING, 7, getpid()));
    t0 = now_ns();
    assert_int_equal(rlc_set_capacity(l, "y", 1, RLC_SECOND), RLC_ESHARED);
    assert_true(now_ns() - t0 < 3 * RLC_SECOND);
    assert_true(rlc_host_limiter_error(l, err, sizeof(err)) > 0);
    assert_non_null(strstr(err, "mid-claim"));
    atomic_store(&sl->claim, RLC__WORD(RLC__CLAIM_EMPTY, 7, 0));
    assert_int_equal(rlc_set_capacity(l, "y", 1, RLC_SECOND), RLC_OK);
    munmap(h, file_size);
    rlc_free(l);
}

/* A waiter whose token is past its deadline is told at once; one that
 * gives up hands back its reservation when it is the last. */
static void test_host_reservations_and_deadlines(void **state)
{
    rlc_limiter *l = open_t(true);
    rlc_capacity c;

    (void)state;
    assert_int_equal(rlc_set_capacity(l, "a", 1, RLC_SECOND), RLC_OK);
    assert_true(rlc_try_acquire(l, "a"));
    assert_int_equal(rlc_acquire(l, "a", RLC_SECOND - 1), RLC_ETIMEDOUT);
    assert_int_equal(rlc_acquire(l, "a", 0), RLC_EEXHAUSTED);
    assert_true(rlc_get_capacity(l, "a", &c));
    assert_int_equal(c.waiting, 0); /* nothing was reserved */
    advance(l, RLC_SECOND);
    assert_int_equal(rlc_acquire(l, "a", RLC_SECOND), RLC_OK);
    rlc_free(l);
}

struct blocked {
    pthread_t t;
    rlc_limiter *l;
    const char *r;
    rlc_cancel *c;
    rlc_status st;
};

static void *blocked_main(void *arg)
{
    struct blocked *b = arg;

    b->st = rlc_acquire_cancel(b->l, b->r, RLC_FOREVER, b->c);
    return NULL;
}

static void test_host_cancel_gives_back_the_last_reservation(void **state)
{
    rlc_limiter *l = open_t(true);
    struct blocked b = {.r = "a"};

    (void)state;
    b.l = l;
    b.c = rlc_cancel_new();
    assert_int_equal(rlc_set_capacity(l, "a", 1, RLC_SECOND), RLC_OK);
    assert_true(rlc_try_acquire(l, "a"));
    assert_int_equal(pthread_create(&b.t, NULL, blocked_main, &b), 0);
    wait_for_waiting(l, "a", 1);
    rlc_cancel_fire(b.c);
    pthread_join(b.t, NULL);
    assert_int_equal(b.st, RLC_ECANCELED);
    assert_int_equal(waiting(l, "a"), 0);
    advance(l, RLC_SECOND); /* the token it had reserved is there */
    assert_true(rlc_try_acquire(l, "a"));
    rlc_cancel_free(b.c);
    rlc_free(l);
}

/* A waiter collected so late that the bucket filled up meanwhile takes a
 * token from the bucket as it is then, as the memory limiter's would: its
 * reservation was absorbed, and is never a token on top of a full bucket. */
static void test_host_late_waiter_takes_from_the_bucket_as_it_is(void **s)
{
    rlc_limiter *l = open_t(true);
    struct blocked b = {.r = "a"};
    rlc_capacity c;

    (void)s;
    b.l = l;
    assert_int_equal(rlc_set_capacity(l, "a", 2, RLC_SECOND), RLC_OK);
    assert_true(rlc_try_acquire(l, "a"));
    assert_true(rlc_try_acquire(l, "a"));
    assert_int_equal(pthread_create(&b.t, NULL, blocked_main, &b), 0);
    wait_for_waiting(l, "a", 1);
    /* ten seconds go by before the waiter looks (no rlc_clock_advanced) */
    atomic_fetch_add(&sh->now, 10 * RLC_SECOND);
    assert_true(rlc_get_capacity(l, "a", &c));
    assert_int_equal(c.available, 2);
    rlc_clock_advanced(l);
    pthread_join(b.t, NULL);
    assert_int_equal(b.st, RLC_OK);
    assert_true(rlc_get_capacity(l, "a", &c));
    assert_int_equal(c.available, 1); /* not 2: that would be a third */
    assert_true(rlc_try_acquire(l, "a"));
    assert_false(rlc_try_acquire(l, "a"));
    rlc_free(l);
}

/* --- across processes ------------------------------------------------ */

static int child_cut(void *arg)
{
    rlc_limiter *l;
    uint64_t epoch = (uint64_t)(uintptr_t)arg;

    if (open_ns("t", true, &l, NULL, 0) != RLC_OK)
        return 2;
    rlc_announce_reduced_at(l, "api", "HTTP 429", epoch);
    rlc_free(l);
    return 0;
}

static int child_pause(void *arg)
{
    rlc_limiter *l;

    (void)arg;
    if (open_ns("t", true, &l, NULL, 0) != RLC_OK)
        return 2;
    rlc_pause(l, "api", unix_now() + 10 * RLC_SECOND, "Retry-After");
    rlc_free(l);
    return 0;
}

static void test_host_cut_and_pause_are_seen_by_other_processes(void **s)
{
    rlc_limiter *l = open_t(true);
    rlc_capacity c;

    (void)s;
    assert_int_equal(rlc_set_capacity(l, "api", 100, RLC_MINUTE), RLC_OK);
    assert_int_equal(reap(spawn(child_cut, (void *)0)), 0);
    assert_true(rlc_get_capacity(l, "api", &c));
    assert_int_equal(c.total, 75);
    assert_int_equal(c.epoch, 1);
    /* another process's 429 for a request sent before the cut: nothing */
    assert_int_equal(reap(spawn(child_cut, (void *)0)), 0);
    assert_true(rlc_get_capacity(l, "api", &c));
    assert_int_equal(c.total, 75);
    assert_int_equal(reap(spawn(child_cut, (void *)1)), 0);
    assert_true(rlc_get_capacity(l, "api", &c));
    assert_int_equal(c.total, 56);

    assert_true(rlc_try_acquire(l, "api"));
    assert_int_equal(reap(spawn(child_pause, NULL)), 0);
    assert_false(rlc_try_acquire(l, "api"));
    assert_true(rlc_get_capacity(l, "api", &c));
    assert_true(c.paused_until_ns > unix_now() + 9 * RLC_SECOND);
    advance(l, 10 * RLC_SECOND);
    assert_true(rlc_try_acquire(l, "api"));
    rlc_free(l);
}

static void test_host_growth_is_one_step_and_keeps_the_configuration(void **s)
{
    rlc_limiter *a = open_t(true), *b = open_t(true), *m;
    rlc_capacity c;

    (void)s;
    assert_int_equal(rlc_set_capacity(a, "api", 100, RLC_MINUTE), RLC_OK);
    rlc_announce_reduced(a, "api", "429");
    assert_true(rlc_get_capacity(b, "api", &c));
    assert_int_equal(c.total, 75);
    /* both saw 75: one step wins */
    assert_true(rlc_grow_capacity(a, "api", 75, 83));
    assert_false(rlc_grow_capacity(b, "api", 75, 83));
    assert_true(rlc_get_capacity(b, "api", &c));
    assert_int_equal(c.total, 83);
    assert_int_equal(c.epoch, 1); /* growing is not a cut */
    /* a process starting with the same configuration keeps the growth */
    assert_int_equal(rlc_set_capacity(b, "api", 100, RLC_MINUTE), RLC_OK);
    assert_true(rlc_get_capacity(a, "api", &c));
    assert_int_equal(c.total, 83);
    /* never above the configured capacity; nothing for bad arguments */
    assert_true(rlc_grow_capacity(b, "api", 83, 1000));
    assert_true(rlc_get_capacity(a, "api", &c));
    assert_int_equal(c.total, 100);
    assert_false(rlc_grow_capacity(a, "api", 100, 120));
    assert_false(rlc_grow_capacity(a, "api", 100, 90));
    assert_false(rlc_grow_capacity(a, "nope", 1, 2));
    assert_false(rlc_grow_capacity(NULL, "api", 1, 2));
    /* the memory limiter's capacity is set, not grown */
    m = rlc_memory_limiter_new();
    assert_non_null(m);
    assert_int_equal(rlc_set_capacity(m, "api", 10, RLC_MINUTE), RLC_OK);
    assert_false(rlc_grow_capacity(m, "api", 10, 20));
    rlc_free(m);
    rlc_free(a);
    rlc_free(b);
}

/* Real clock from here on. */

static int child_wait(void *arg)
{
    rlc_limiter *l;
    int64_t t0 = now_ns();
    rlc_status st;

    if (open_ns("t", false, &l, NULL, 0) != RLC_OK)
        return 2;
    st = rlc_acquire(l, "w", RLC_FOREVER);
    /* woken by the other process, long before its token was due */
    if (now_ns() - t0 > 5 * RLC_SECOND)
        return 3;
    return st == (rlc_status)(intptr_t)arg ? 0 : 10 + (int)st;
}

static void test_host_waiter_is_woken_by_another_process(void **state)
{
    rlc_limiter *l = open_t(false);
    pid_t pid;

    (void)state;
    /* raising the capacity */
    assert_int_equal(rlc_set_capacity(l, "w", 1, 60 * RLC_MINUTE), RLC_OK);
    assert_true(rlc_try_acquire(l, "w"));
    pid = spawn(child_wait, (void *)(intptr_t)RLC_OK);
    wait_for_waiting(l, "w", 1);
    assert_int_equal(rlc_set_capacity(l, "w", 1000, RLC_SECOND), RLC_OK);
    assert_int_equal(reap(pid), 0);

    /* a release */
    assert_int_equal(rlc_set_capacity(l, "w", 1, 60 * RLC_MINUTE), RLC_OK);
    while (rlc_try_acquire(l, "w"))
        ;
    pid = spawn(child_wait, (void *)(intptr_t)RLC_OK);
    wait_for_waiting(l, "w", 1);
    rlc_release(l, "w");
    assert_int_equal(reap(pid), 0);

    /* a removal */
    pid = spawn(child_wait, (void *)(intptr_t)RLC_EUNKNOWN);
    wait_for_waiting(l, "w", 1);
    assert_int_equal(rlc_set_capacity(l, "w", 0, RLC_SECOND), RLC_EINVALCAP);
    assert_int_equal(reap(pid), 0);
    rlc_free(l);
}

static int child_queue(void *arg)
{
    rlc_limiter *l;
    int i = (int)(intptr_t)arg;

    if (open_ns("t", false, &l, NULL, 0) != RLC_OK)
        return 2;
    if (rlc_acquire(l, "q", RLC_FOREVER) != RLC_OK)
        return 3;
    atomic_store(&sh->got_at[i], now_ns());
    return 0;
}

/* Waiters of several processes are served in the order they came, each
 * when its own token is due. */
static void test_host_waiters_across_processes_in_order(void **state)
{
    const int64_t period = 150 * MS;
    rlc_limiter *l = open_t(false);
    pid_t pid[3];
    int64_t made;
    int i;

    (void)state;
    made = now_ns();
    assert_int_equal(rlc_set_capacity(l, "q", 1, period), RLC_OK);
    assert_true(rlc_try_acquire(l, "q"));
    for (i = 0; i < 3; i++) {
        pid[i] = spawn(child_queue, (void *)(intptr_t)i);
        wait_for_waiting(l, "q", i + 1);
    }
    for (i = 0; i < 3; i++)
        assert_int_equal(reap(pid[i]), 0);
    for (i = 0; i < 3; i++) {
        int64_t got = atomic_load(&sh->got_at[i]);

        /* Never before its own turn: so none took the token of one that
         * came before it (the order), and none slept through its turn. */
        assert_true(got >= made + (i + 1) * period);
        assert_true(got < made + (i + 1) * period + 2 * RLC_SECOND);
    }
    rlc_free(l);
}

/* The most a bucket of cap per window can admit over elapsed ns. */
static int64_t bound(int64_t cap, int64_t window, int64_t elapsed)
{
    return cap + (int64_t)((__extension__(__int128) elapsed * cap) / window);
}

struct hammer {
    rlc_limiter *l;
    const char *r;
    int64_t until;
    bool blocking;
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;

    while (now_ns() < h->until && !atomic_load(&sh->stop)) {
        bool ok = h->blocking ? rlc_acquire(h->l, h->r, 20 * MS) == RLC_OK
                              : rlc_try_acquire(h->l, h->r);

        /* A token taken after `until` (a blocking call that began
         * before) still counts: the bound runs to the last exit. */
        if (ok)
            atomic_fetch_add(&sh->admitted, 1);
    }
    return NULL;
}

#define THREADS 2

/* One process of the hammer: THREADS threads, half of them blocking. */
static int child_hammer(void *arg)
{
    struct hammer h[THREADS];
    pthread_t t[THREADS];
    rlc_limiter *l;
    int i;

    if (open_ns("t", false, &l, NULL, 0) != RLC_OK)
        return 2;
    for (i = 0; i < THREADS; i++) {
        h[i].l = l;
        h[i].r = "api";
        h[i].until = *(int64_t *)arg;
        h[i].blocking = i % 2 == 0;
        if (pthread_create(&t[i], NULL, hammer_main, &h[i]) != 0)
            return 4;
    }
    for (i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    rlc_free(l);
    return 0;
}

/*
 * Runs `procs` hammer processes on "api" (cap per window) for `run` ns.
 * Returns the admitted count; *elapsed gets the time from before the
 * bucket could give its first token to after the last process ended.
 */
static long hammer(int procs, int cap, int64_t window, int64_t run,
                   bool configure, int64_t *elapsed)
{
    rlc_limiter *l = open_t(false);
    pid_t pid[8];
    int64_t start, until;
    int i;

    atomic_store(&sh->admitted, 0);
    start = now_ns();
    if (configure)
        assert_int_equal(rlc_set_capacity(l, "api", cap, window), RLC_OK);
    until = start + run;
    for (i = 0; i < procs; i++)
        pid[i] = spawn(child_hammer, &until);
    for (i = 0; i < procs; i++)
        assert_int_equal(reap(pid[i]), 0);
    *elapsed = now_ns() - start;
    rlc_free(l);
    return atomic_load(&sh->admitted);
}

/*
 * 4 processes x 2 threads on one resource, real clock, 1 s: never more
 * than the burst plus the rate times the time gone by. The lower bound is
 * generous (scheduling on a shared machine only ever loses tokens).
 */
static void test_host_processes_never_exceed_the_bound(void **state)
{
    int64_t elapsed;
    long admitted;

    (void)state;
    admitted = hammer(4, 50, 100 * MS, RLC_SECOND, true, &elapsed);
    print_message("  %ld admitted in %.1f ms, bound %lld\n", admitted,
                  elapsed / 1e6, (long long)bound(50, 100 * MS, elapsed));
    assert_true(admitted <= bound(50, 100 * MS, elapsed));
    assert_true(admitted >= 500 * 7 / 10);
}

/* A chaos child: waits with reservations, changes capacities, claims
 * slots, all at once; it is SIGKILLed at a random instant. */
static void *chaos_waiter(void *arg)
{
    rlc_limiter *l = arg;

    for (;;)
        if (rlc_acquire(l, "api", 30 * MS) == RLC_OK && (now_ns() & 7) == 0)
            rlc_release(l, "api");
    return NULL;
}

static void *chaos_churn(void *arg)
{
    rlc_limiter *l = arg;
    unsigned seed = (unsigned)getpid();

    for (;;) {
        rlc_set_capacity(l, "churn", 1 + (int)(rand_r(&seed) % 50), RLC_SECOND);
        rlc_try_acquire(l, "churn");
        rlc_announce_reduced(l, "churn", "429");
        rlc_pause(l, "churn", unix_now() + MS, NULL);
        rlc_release(l, "churn");
        rlc_set_capacity(l, "api", 20, 100 * MS); /* as configured: no-op */
    }
    return NULL;
}

static int child_chaos(void *arg)
{
    rlc_limiter *l;
    pthread_t t;
    unsigned seed = (unsigned)getpid();
    char name[16];

    (void)arg;
    if (open_ns("t", false, &l, NULL, 0) != RLC_OK)
        return 2;
    pthread_create(&t, NULL, chaos_waiter, l);
    pthread_create(&t, NULL, chaos_waiter, l);
    pthread_create(&t, NULL, chaos_churn, l);
    for (;;) {
        snprintf(name, sizeof(name), "k%u", rand_r(&seed) % 150);
        rlc_set_capacity(l, name, 5, RLC_SECOND);
    }
}

/* A process that goes on using the resource through the chaos: no call
 * may ever hang (each returns within its timeout, and a margin). */
static int child_witness(void *arg)
{
    rlc_limiter *l;
    int64_t worst = 0;

    (void)arg;
    if (open_ns("t", false, &l, NULL, 0) != RLC_OK)
        return 2;
    while (!atomic_load(&sh->stop)) {
        int64_t t0 = now_ns(), took;

        rlc_acquire(l, "api", 50 * MS);
        took = now_ns() - t0;
        if (took > worst)
            worst = took;
    }
    rlc_free(l);
    return worst < 50 * MS + 500 * MS ? 0 : 3;
}

/*
 * SIGKILL at random instants, many times: while waiting with a
 * reservation, while publishing a change, while claiming a slot. The
 * others are never stuck, every name can still be claimed, every record
 * still changed, and then fresh processes get exactly the rate.
 */
static void test_host_sigkill_at_random_instants(void **state)
{
    rlc_limiter *l = open_t(false);
    unsigned seed = (unsigned)time(NULL);
    pid_t witness;
    char name[16];
    int64_t elapsed, t0;
    long admitted;
    int i, killed = 0;

    (void)state;
    assert_int_equal(rlc_set_capacity(l, "api", 20, 100 * MS), RLC_OK);
    witness = spawn(child_witness, NULL);
    for (i = 0; i < 40; i++) {
        pid_t pid = spawn(child_chaos, NULL);

        sleep_ns((int64_t)(rand_r(&seed) % 4000) * 1000);
        kill(pid, SIGKILL);
        killed += reap(pid) == 128 + SIGKILL;
    }
    assert_int_equal(killed, 40);
    atomic_store(&sh->stop, 1);
    assert_int_equal(reap(witness), 0);
    atomic_store(&sh->stop, 0);

    /* every slot can be claimed or found, every record changed */
    t0 = now_ns();
    for (i = 0; i < 150; i++) {
        snprintf(name, sizeof(name), "k%d", i);
        assert_int_equal(rlc_set_capacity(l, name, 6, RLC_SECOND), RLC_OK);
        assert_true(rlc_try_acquire(l, name));
    }
    for (i = 0; i < 50; i++)
        assert_int_equal(rlc_set_capacity(l, "churn", 100 + i, RLC_SECOND),
                         RLC_OK);
    assert_true(now_ns() - t0 < 2 * RLC_SECOND);
    rlc_free(l);

    /* the rate, exact for those who remain (not reconfigured: what the
     * dead left behind is in the bucket as they left it) */
    sleep_ns(100 * MS); /* what the dead reserved is due by now */
    admitted = hammer(3, 20, 100 * MS, RLC_SECOND, false, &elapsed);
    print_message("  after %d kills: %ld admitted in %.1f ms, bound %lld\n",
                  killed, admitted, elapsed / 1e6,
                  (long long)bound(20, 100 * MS, elapsed));
    assert_true(admitted <= bound(20, 100 * MS, elapsed));
    assert_true(admitted >= 200 * 8 / 10);
}

/* Configures the same 100 names as its siblings, in its own order, all
 * starting at once. */
static int child_same_names(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    rlc_limiter *l;
    char name[16];
    int i;

    if (open_ns("t", false, &l, NULL, 0) != RLC_OK)
        return 2;
    atomic_fetch_add(&sh->admitted, 1);
    while (!atomic_load(&sh->stop))
        ;
    for (i = 0; i < 300; i++) {
        snprintf(name, sizeof(name), "same%u", rand_r(&seed) % 100);
        if (rlc_set_capacity(l, name, 3, RLC_SECOND) != RLC_OK)
            return 3;
    }
    for (i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "same%d", i);
        if (rlc_set_capacity(l, name, 3, RLC_SECOND) != RLC_OK)
            return 3;
    }
    return 0;
}

/* Processes racing to claim the same names get one slot per name. */
static void test_host_racing_claims_make_one_slot_per_name(void **state)
{
    rlc_limiter *l = open_t(false);
    struct rlc__shm_header *h;
    pid_t pid[4];
    int i, j, ready = 0;

    (void)state;
    for (i = 0; i < 4; i++)
        pid[i] = spawn(child_same_names, (void *)(uintptr_t)(i + 1));
    while (atomic_load(&sh->admitted) < 4)
        sleep_ns(100000);
    atomic_store(&sh->stop, 1);
    for (i = 0; i < 4; i++)
        assert_int_equal(reap(pid[i]), 0);
    h = map_table();
    for (i = 0; i < RLC__SHM_SLOTS; i++) {
        struct rlc__shm_slot *a = slot_at(h, i);

        if (RLC__WORD_STATE(atomic_load(&a->claim)) != RLC__CLAIM_READY)
            continue;
        ready++;
        for (j = i + 1; j < RLC__SHM_SLOTS; j++)
            assert_false(RLC__WORD_STATE(atomic_load(&slot_at(h, j)->claim)) ==
                             RLC__CLAIM_READY &&
                         strcmp(slot_at(h, j)->name, a->name) == 0);
    }
    assert_int_equal(ready, 100);
    munmap(h, file_size);
    /* and each is one bucket: three tokens, for everyone */
    for (i = 0; i < 3; i++)
        assert_true(rlc_try_acquire(l, "same42"));
    assert_false(rlc_try_acquire(l, "same42"));
    rlc_free(l);
}

/* Claims every slot of a fresh table, as fast as it can. */
static int child_claim(void *arg)
{
    const char *ns = arg;
    rlc_limiter *l;
    char name[16];
    int i;

    if (open_ns(ns, false, &l, NULL, 0) != RLC_OK)
        return 2;
    atomic_store(&sh->stop, 1); /* ready */
    for (i = 0; i < RLC_HOST_SLOTS; i++) {
        snprintf(name, sizeof(name), "n%d", i);
        if (rlc_set_capacity(l, name, 1, RLC_SECOND) != RLC_OK)
            return 3;
        atomic_fetch_add(&sh->admitted, 1);
    }
    return 0;
}

/*
 * SIGKILL while claiming slots: each round a child fills a fresh table
 * and is killed at a random instant, often in the middle of a claim (its
 * pid left in a slot's claim word, or in a record's owner word). Then every
 * one of the 256 names must still fit and change: a slot left stuck would
 * make the last one RLC_EFULL, a record left stuck would hang a change.
 */
static void test_host_sigkill_while_claiming_slots(void **state)
{
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    int round, caught = 0, records = 0, partial = 0;

    (void)state;
    for (round = 0; round < 200 && caught < 3; round++) {
        struct rlc__shm_header *h;
        char ns[16], name[16];
        rlc_limiter *l;
        pid_t pid;
        int i;

        snprintf(ns, sizeof(ns), "c%d", round);
        atomic_store(&sh->stop, 0);
        atomic_store(&sh->admitted, 0);
        pid = spawn(child_claim, ns);
        while (!atomic_load(&sh->stop))
            sleep_ns(10000);
        sleep_ns((int64_t)(rand_r(&seed) % 200) * 1000);
        kill(pid, SIGKILL);
        i = reap(pid);
        assert_true(i == 128 + SIGKILL || i == 0); /* 0: it was done */
        partial += atomic_load(&sh->admitted) > 0 &&
                   atomic_load(&sh->admitted) < RLC_HOST_SLOTS;

        snprintf(path, sizeof(path), "%s/rlc-%u-%s", dir, (unsigned)geteuid(),
                 ns);
        h = map_table();
        for (i = 0; i < RLC__SHM_SLOTS; i++) {
            struct rlc__shm_slot *sl = slot_at(h, i);
            int k;

            caught +=
                RLC__WORD_STATE(atomic_load(&sl->claim)) == RLC__CLAIM_CLAIMING;
            for (k = 0; k < RLC__SHM_RECORDS; k++)
                records += RLC__WORD_STATE(atomic_load(&sl->rec[k].owner)) ==
                           RLC__OWN_WRITING;
        }
        munmap(h, file_size);

        assert_int_equal(open_ns(ns, false, &l, NULL, 0), RLC_OK);
        for (i = 0; i < RLC_HOST_SLOTS; i++) {
            snprintf(name, sizeof(name), "n%d", i);
            assert_int_equal(rlc_set_capacity(l, name, 2, RLC_SECOND), RLC_OK);
            assert_int_equal(rlc_set_capacity(l, name, 3, RLC_SECOND), RLC_OK);
            assert_true(rlc_try_acquire(l, name));
        }
        assert_int_equal(rlc_set_capacity(l, "full", 1, RLC_SECOND), RLC_EFULL);
        rlc_free(l);
        unlink(path);
    }
    print_message("  %d rounds, %d killed part-way, %d mid-claim of a slot, "
                  "%d holding a record\n",
                  round, partial, caught, records);
    assert_true(partial > 0);
    assert_true(caught + records > 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_host_options_are_checked),
        T(test_host_default_table_is_private_and_whole),
        T(test_host_limiters_share_one_budget),
        T(test_host_last_configuration_wins_and_is_reported),
        T(test_host_full_table_reports_its_status),
        T(test_host_hostile_files_are_refused),
        T(test_host_torn_values_count_as_removed),
        T(test_host_dead_claimers_are_recovered),
        T(test_host_reservations_and_deadlines),
        T(test_host_cancel_gives_back_the_last_reservation),
        T(test_host_late_waiter_takes_from_the_bucket_as_it_is),
        T(test_host_cut_and_pause_are_seen_by_other_processes),
        T(test_host_growth_is_one_step_and_keeps_the_configuration),
        T(test_host_racing_claims_make_one_slot_per_name),
        T(test_host_waiter_is_woken_by_another_process),
        T(test_host_waiters_across_processes_in_order),
        T(test_host_processes_never_exceed_the_bound),
        T(test_host_sigkill_at_random_instants),
        T(test_host_sigkill_while_claiming_slots),
    };

    /* The clock and counters every child shares. */
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        return 1;
    file_size =
        RLC__SHM_HEADER_SIZE + RLC__SHM_SLOTS * sizeof(struct rlc__shm_slot);
    return cmocka_run_group_tests_name("host", tests, NULL, NULL);
}
