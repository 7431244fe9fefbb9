# preload/: the TLS ClientHello reader (tls_hello.c) for opaque TLS, where
# the preload sees only the bytes a client writes: no I/O, no allocation.
TLS_HELLO_SRC = preload/tls_hello.c
TLS_HELLO_OBJ = $(TLS_HELLO_SRC:%.c=$(BUILD)/%.o)
RLC_CFLAGS += -Ipreload

TESTS += test_tls_hello
$(BUILD)/tests/test_tls_hello: $(TLS_HELLO_OBJ)

FUZZERS += fuzz_tls_hello
build/fuzz/fuzz_tls_hello: tests/fuzz_tls_hello.c $(TLS_HELLO_SRC) \
		preload/tls_hello.h | build/.bootstrap-ok
	$(call say,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -Ipreload -o $@ tests/fuzz_tls_hello.c \
		$(TLS_HELLO_SRC)
