/* SPDX-License-Identifier: MIT */
/*
 * bus.c - what every message bus shares: the public wrappers, which check
 * arguments once so backends need not, and NATS subject matching.
 *
 * Each thread keeps a stack of the subscriptions whose callbacks it is
 * running, so an unsubscribe from inside a callback can be told apart
 * from one that must wait for it.
 */
#include <string.h>

#include "bus.h"

/* A callback in progress in this thread; frames live on the stack. */
struct frame {
    const rlc__bus_sub *sub;
    struct frame *up;
};

static _Thread_local struct frame *delivering;

void rlc__bus_deliver(rlc__bus_sub *s, const char *subject, const void *data,
                      size_t len)
{
    struct frame f = {s, delivering};

    delivering = &f;
    s->fn(subject, data, len, s->arg);
    delivering = f.up;
}

bool rlc__bus_delivering(const rlc__bus_sub *s)
{
    const struct frame *f;

    for (f = delivering; f != NULL; f = f->up)
        if (f->sub == s)
            return true;
    return false;
}

rlc_status rlc_bus_publish(rlc_bus *b, const char *subject, const void *data,
                           size_t len)
{
    if (b == NULL || (data == NULL && len > 0) ||
        !rlc__subject_valid(subject, false))
        return RLC_EINVAL;
    /* Callbacks may memcpy(dst, data, len) even for len 0. */
    return b->ops->publish(b, subject, data != NULL ? data : "", len);
}

bool rlc_bus_connected(const rlc_bus *b)
{
    return b != NULL && b->ops->connected(b);
}

uint64_t rlc__bus_losses(const rlc_bus *b)
{
    return b != NULL && b->ops->losses != NULL ? b->ops->losses(b) : 0;
}

void rlc_bus_free(rlc_bus *b)
{
    if (b != NULL)
        b->ops->destroy(b);
}

rlc_status rlc__bus_subscribe(rlc_bus *b, const char *subject,
                              rlc__bus_msg_fn fn, void *arg, rlc__bus_sub **out)
{
    if (out != NULL)
        *out = NULL;
    if (b == NULL || fn == NULL || out == NULL ||
        !rlc__subject_valid(subject, true))
        return RLC_EINVAL;
    return b->ops->subscribe(b, subject, fn, arg, out);
}

void rlc__bus_unsubscribe(rlc_bus *b, rlc__bus_sub *s)
{
    if (b != NULL && s != NULL)
        b->ops->unsubscribe(b, s);
}

bool rlc__bus_last_error(const rlc_bus *b, char *buf, size_t len)
{
    if (buf != NULL && len > 0)
        buf[0] = '\0';
    if (b == NULL || buf == NULL || len == 0 || b->ops->last_error == NULL)
        return false;
    return b->ops->last_error(b, buf, len);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
           c == '\v';
}

bool rlc__subject_valid(const char *s, bool wildcards)
{
    size_t n, i;

    if (s == NULL)
        return false;
    for (;;) {
        n = strcspn(s, ".");
        if (n == 0)
            return false; /* "", ".a", "a..b", "a." */
        for (i = 0; i < n; i++)
            if (is_space(s[i]))
                return false;
        if (n == 1 && (s[0] == '*' || s[0] == '>')) {
            if (!wildcards || (s[0] == '>' && s[1] != '\0'))
                return false;
        }
        if (s[n] == '\0')
            return true;
        s += n + 1;
    }
}

bool rlc__subject_matches(const char *pattern, const char *subject)
{
    const char *p = pattern, *s = subject;
    size_t pn, sn;

    if (!rlc__subject_valid(p, true) || !rlc__subject_valid(s, false))
        return false;
    /* Both are valid: every token is non-empty, '>' can only be last. */
    for (;;) {
        pn = strcspn(p, ".");
        sn = strcspn(s, ".");
        if (pn == 1 && p[0] == '>')
            return true; /* s has at least this token left */
        if (!(pn == 1 && p[0] == '*') && (pn != sn || memcmp(p, s, pn) != 0))
            return false;
        p += pn;
        s += sn;
        if (*p == '\0' || *s == '\0')
            return *p == '\0' && *s == '\0';
        p++;
        s++;
    }
}
