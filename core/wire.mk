# core/wire.c: bus messages as JSON (jansson), RFC 3339 time by hand.
#
# wire.c is part of librlc, so the library and everything linking it need
# -ljansson (the generated rlc.pc says so in Libs.private).

CORE_SRC += core/wire.c
LDLIBS += -ljansson

# test_wire reads the reference Go package's vectors from shared/ beside
# the clone; RLC_SHARED=/elsewhere overrides.
RLC_SHARED ?= $(abspath ../shared)
export RLC_SHARED

TESTS += test_wire

FUZZERS += fuzz_wire
build/fuzz/fuzz_wire: tests/fuzz_wire.c core/wire.c core/wire.h \
		core/include/rlc.h | build/.bootstrap-ok
	$(call say,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ tests/fuzz_wire.c core/wire.c \
		-ljansson
