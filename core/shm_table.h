/* SPDX-License-Identifier: MIT */
/*
 * shm_table.h - the host table in shared memory: its layout, and how a
 * process opens it, finds a resource's slot and claims what it writes.
 * Every shared word is a lock-free atomic changed by compare-and-swap, and
 * every claim carries its claimer's pid: a process killed at any instant
 * leaves the old value or the new, never a lock, and nothing kept for good.
 */
#ifndef RLC_SHM_TABLE_H
#define RLC_SHM_TABLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rlc.h"

#define RLC__SHM_MAGIC UINT64_C(0x31306c6261746372) /* "rctable01"-ish */
#define RLC__SHM_VERSION 1
#define RLC__SHM_SLOTS RLC_HOST_SLOTS /* a power of two */
#define RLC__SHM_RECORDS 8            /* parameter records per slot */
#define RLC__SHM_HEADER_SIZE 4096     /* the slots start page-aligned */

/* The first bytes of the file; written once by the creator, then only
 * read (and checked: nothing in it is trusted before it is). */
struct rlc__shm_header {
    uint64_t magic;
    uint32_t version;
    uint32_t header_size;
    uint32_t slot_size;
    uint32_t slots;
    uint32_t records;
    uint32_t name_max;
    uint64_t file_size;
    uint32_t creator_uid;
    uint32_t creator_pid;
    uint64_t pid_ns; /* creator's pid namespace inode; 0: unknown */
};

/*
 * A record: one immutable set of bucket parameters. A slot's state word
 * names its current record; a change fills a free record and swings the
 * state word to it, so a reader sees one version or the next, never half.
 * 128 bytes: what every take reads comes first, in one cache line.
 */
struct rlc__shm_record {
    _Atomic int64_t cap;         /* tokens per window; 0: removed */
    _Atomic int64_t window;      /* ns */
    _Atomic int64_t origin;      /* the count's origin, on the clock */
    _Atomic int64_t pause_until; /* on the clock; 0: none */
    _Atomic int64_t changed_at;  /* the time this record was made at */
    _Atomic uint64_t epoch;      /* capacity cuts so far */
    _Atomic uint64_t owner;      /* RLC__OWN_* | tag | pid (see below) */
    _Atomic int64_t absorbed;    /* 1: made while full (see shm_bucket.c) */
    /* The configuration asked for (a cut leaves it, set_capacity sets it),
     * and who asked: pid << 32 | that limiter's random id. */
    _Atomic int64_t cfg_cap;
    _Atomic int64_t cfg_window;
    _Atomic uint64_t cfg_by;
    /* When the capacity last changed (set, cut, grown): recovery waits
     * a whole interval after it, whichever process last looked. */
    _Atomic int64_t cap_at;
    _Atomic int64_t spare[4];
};

/*
 * A slot: one resource, found by its name's hash (open addressing). The
 * claim word takes it from empty to claiming (by a pid) to ready; a ready
 * slot's name never changes, so it is read without any check but that.
 */
struct rlc__shm_slot {
    _Atomic uint64_t claim; /* RLC__CLAIM_* | tag | pid */
    _Atomic uint64_t state; /* record:3 | version:21 | count:40 */
    _Atomic uint32_t wake;  /* futex word: changes << 1 | sleepers */
    _Atomic int32_t in_flight;
    uint32_t hash; /* written while claiming, read once ready */
    uint32_t len;
    char spare[32];
    char name[RLC_RESOURCE_MAX];
    struct rlc__shm_record rec[RLC__SHM_RECORDS];
};

/* A claim or owner word: state in the top 2 bits, a tag bumped by each
 * claim in the next 30 (so an old value never compares equal to a new
 * one), the claimer's pid in the low 32. */
#define RLC__WORD_STATE(w) ((unsigned)((w) >> 62))
#define RLC__WORD_TAG(w) ((uint32_t)(((w) >> 32) & 0x3fffffffu))
#define RLC__WORD_PID(w) ((uint32_t)(w))
#define RLC__WORD(state, tag, pid)                                             \
    ((uint64_t)(state) << 62 | (uint64_t)((tag)&0x3fffffffu) << 32 |           \
     (uint64_t)(uint32_t)(pid))

enum { RLC__CLAIM_EMPTY = 0, RLC__CLAIM_CLAIMING = 1, RLC__CLAIM_READY = 2 };
enum { RLC__OWN_FREE = 0, RLC__OWN_WRITING = 1, RLC__OWN_PUBLISHED = 2 };

/* One process's view of one table file. */
typedef struct rlc__shm_table {
    struct rlc__shm_header *hdr;
    struct rlc__shm_slot *slots;
    size_t size;
    dev_t dev; /* the file mapped, to notice it replaced or removed */
    ino_t ino;
    char path[4096];
} rlc__shm_table;

/* Is ns a valid namespace: 1..RLC_NAMESPACE_MAX-1 of [A-Za-z0-9._-]? */
bool rlc__shm_namespace_ok(const char *ns);

/*
 * Maps the table of namespace ns for this user from dir (NULL: /dev/shm,
 * or $XDG_RUNTIME_DIR when /dev/shm is unusable), creating it if absent.
 * Returns RLC_OK, RLC_EINVAL (bad ns or dir), RLC_ESHARED (refused or
 * unusable: err says why, naming the file), RLC_ENOMEM.
 */
rlc_status rlc__shm_open(rlc__shm_table *t, const char *dir, const char *ns,
                         char *err, size_t errlen);
void rlc__shm_close(rlc__shm_table *t);

/* Is t's file still the one at its path (not removed, not replaced)? A
 * process that mapped a file since removed shares with nobody new. */
bool rlc__shm_still_linked(const rlc__shm_table *t);

/* FNV-1a of a name: where its probe starts. */
uint32_t rlc__shm_hash(const char *name, size_t len);

/* The ready slot named name, or NULL. Never waits, never writes. */
struct rlc__shm_slot *rlc__shm_find(const rlc__shm_table *t, const char *name,
                                    size_t len, uint32_t hash);

/*
 * The slot named name, claimed (a removed bucket) if there is none.
 * Returns RLC_OK, RLC_EFULL (every slot holds another name) or
 * RLC_ESHARED (a live process has held the slot mid-claim for a second:
 * stopped?); err gets a sentence on failure.
 */
rlc_status rlc__shm_find_or_claim(rlc__shm_table *t, const char *name,
                                  size_t len, uint32_t hash,
                                  struct rlc__shm_slot **out, char *err,
                                  size_t errlen);

/* Claims a free record of sl for writing (never the current one, cur).
 * Returns its index and *word, the owner word it now holds. Frees the
 * records of dead writers and superseded ones as needed; waits (yields)
 * while live writers hold every other record. */
unsigned rlc__shm_record_claim(struct rlc__shm_slot *sl, uint64_t *word);

/* After publishing record i (held as *word): mark it published. */
void rlc__shm_record_published(struct rlc__shm_slot *sl, unsigned i,
                               uint64_t word);

/* Gives back record i if its owner word still carries tag (it was
 * superseded, or never published). */
void rlc__shm_record_free(struct rlc__shm_slot *sl, unsigned i, uint32_t tag);

/* Has process pid gone (so nothing it claimed will ever be finished)? */
bool rlc__shm_pid_gone(uint32_t pid);

#endif /* RLC_SHM_TABLE_H */
