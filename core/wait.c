/* SPDX-License-Identifier: MIT */
/*
 * wait.c - sleeping until woken or until a deadline, on a futex.
 *
 * Every waiter sleeps on a word of its own, so a wake-up reaches exactly the
 * thread it is for (no thundering herd), and the deadline is absolute
 * CLOCK_MONOTONIC (FUTEX_WAIT_BITSET), so a waiter is never late by the
 * time spent computing it.
 */
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

void rlc__waiter_sleep(struct rlc__waiter *w, uint32_t seen, int64_t deadline)
{
    struct timespec ts, *tsp = NULL;
    int saved = errno; /* callers may be inside other people's syscalls */

    if (deadline >= 0) {
        ts.tv_sec = (time_t)(deadline / RLC_SECOND);
        ts.tv_nsec = (long)(deadline % RLC_SECOND);
        tsp = &ts;
    }
    syscall(SYS_futex, &w->seq, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, seen,
            tsp, NULL, FUTEX_BITSET_MATCH_ANY);
    errno = saved;
}

void rlc__waiter_wake(struct rlc__waiter *w)
{
    int saved = errno;

    atomic_fetch_add(&w->seq, 1);
    syscall(SYS_futex, &w->seq, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, NULL, NULL,
            0);
    errno = saved;
}
