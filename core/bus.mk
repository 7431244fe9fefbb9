# core/bus*.c: the message buses (in memory, NATS over libnats).
#
# bus_nats.c is part of librlc, so the library and everything linking it
# need -lnats (the generated rlc.pc says so in Libs.private). test_bus
# starts real nats-server processes on free loopback ports.

CORE_SRC += core/bus.c core/bus_memory.c core/bus_nats.c
LDLIBS += -lnats

TESTS += test_bus
