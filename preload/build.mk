# preload/: librlpreload.so and rlrun.

# HTTP/1.x framing of a connection (http1.c) and Retry-After values
# (http1_date.c): no I/O, no allocation, shared by the hooks and the tests.
HTTP1_SRC = preload/http1.c preload/http1_date.c
HTTP1_OBJ = $(HTTP1_SRC:%.c=$(BUILD)/%.o)
RLC_CFLAGS += -Ipreload

TESTS += test_http1
$(BUILD)/tests/test_http1: $(HTTP1_OBJ)

FUZZERS += fuzz_http1
build/fuzz/fuzz_http1: tests/fuzz_http1.c $(HTTP1_SRC) preload/http1.h \
		| build/.bootstrap-ok
	$(call say,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -Ipreload -o $@ tests/fuzz_http1.c \
		$(HTTP1_SRC)
