/* SPDX-License-Identifier: MIT */
/*
 * status.c - rlc_strerror() and rlc_status_name(), from the one table in
 * rlc.h, so a new code cannot be added without its message.
 */
#include "rlc.h"

const char *rlc_strerror(rlc_status s)
{
    switch (s) {
#define RLC__STATUS_MSG(name, msg)                                             \
    case RLC_##name:                                                           \
        return msg;
        RLC_STATUS_MAP(RLC__STATUS_MSG)
#undef RLC__STATUS_MSG
    }
    return "unknown status";
}

const char *rlc_status_name(rlc_status s)
{
    switch (s) {
#define RLC__STATUS_NAME(name, msg)                                            \
    case RLC_##name:                                                           \
        return "RLC_" #name;
        RLC_STATUS_MAP(RLC__STATUS_NAME)
#undef RLC__STATUS_NAME
    }
    return "RLC_UNKNOWN_STATUS";
}
