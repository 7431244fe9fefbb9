/* SPDX-License-Identifier: MIT */
/*
 * log.c - the preload's one-line messages on stderr, "rlc: ...".
 *
 * Each line goes out in a single real write(), so lines of several threads
 * or processes never interleave, and errno is left as it was.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "preload.h"

_Atomic int rlp_log_level = RLC_LOG_WARN;

void rlp_log(rlc_log_level level, const char *fmt, ...)
{
    char line[512];
    int saved = errno, n;
    va_list ap;

    if ((int)level > atomic_load_explicit(&rlp_log_level, memory_order_relaxed))
        return;
    n = snprintf(line, sizeof(line), "rlc: ");
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    rlp_busy++;
    (void)!rlp_r()->write(STDERR_FILENO, line, (size_t)n);
    rlp_busy--;
    errno = saved;
}
