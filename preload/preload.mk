# preload/: librlpreload.so (the hooks and their policy) and rlrun.
#
# The preload links librlc, the config loader and the HTTP parser in, and
# exports nothing but the libc functions it stands in front of
# (--exclude-libs keeps librlc's own API from leaking into programs).

PRELOAD_SRC = preload/real.c preload/log.c preload/names.c \
              preload/fdtable.c preload/flow.c preload/runtime.c \
              preload/policy.c preload/tls.c preload/tls_libs.c \
              preload/swarm.c \
              preload/hooks.c preload/hooks_tls.c
PRELOAD_OBJ = $(PRELOAD_SRC:%.c=$(BUILD)/%.o)
PRELOAD_SO = $(BUILD)/librlpreload.so
RLRUN = $(BUILD)/rlrun

PROGRAMS += $(PRELOAD_SO) $(RLRUN) $(BUILD)/tests/errno_probe

$(PRELOAD_SO): $(PRELOAD_OBJ) $(HTTP1_OBJ) $(HTTP2_OBJ) $(TLS_HELLO_OBJ) \
		$(CONFIG_OBJ) $(STATIC)
	$(call say,LD,$@)
	$(Q)$(CC) -shared -Wl,--exclude-libs,ALL -Wl,-z,defs $(LDFLAGS) \
		-o $@ $(filter %.o,$^) $(STATIC) -linih -lnghttp2 -ldl $(LDLIBS)

$(RLRUN): $(BUILD)/preload/rlrun.o $(CONFIG_OBJ) $(STATIC)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(STATIC) -linih $(LDLIBS)

$(BUILD)/preload/rlrun.o: RLC_CFLAGS += -DRLC_LIBDIR='"$(LIBDIR)"'
INTEGRATION += tests/test_preload.py tests/test_tls.py

# test_hooks links the preload's objects in: its hooks then stand in front
# of libc for the whole test process, so the sanitizer builds check them.
TESTS += test_hooks
$(BUILD)/tests/test_hooks: $(PRELOAD_OBJ) $(HTTP1_OBJ) $(HTTP2_OBJ) \
		$(TLS_HELLO_OBJ) $(CONFIG_OBJ)
$(BUILD)/tests/test_hooks: LDLIBS += -linih -lnghttp2 -ldl

# test_tls_hooks does the same for the OpenSSL hooks: its SSL_* calls go
# to tls.c, in front of the real libssl (-lssl), as a program's would.
TESTS += test_tls_hooks
$(BUILD)/tests/test_tls_hooks: $(PRELOAD_OBJ) $(HTTP1_OBJ) $(HTTP2_OBJ) \
		$(TLS_HELLO_OBJ) $(CONFIG_OBJ)
$(BUILD)/tests/test_tls_hooks: LDLIBS += -linih -lnghttp2 -ldl -lssl -lcrypto

# test_gnutls_hooks: the GnuTLS hooks the same way. libgnutls is not linked
# (its -dev package is not needed): the test opens libgnutls.so.30
# RTLD_GLOBAL and declares what it calls; libcrypto makes its certificate.
TESTS += test_gnutls_hooks
$(BUILD)/tests/test_gnutls_hooks: $(PRELOAD_OBJ) $(HTTP1_OBJ) $(HTTP2_OBJ) \
		$(TLS_HELLO_OBJ) $(CONFIG_OBJ)
$(BUILD)/tests/test_gnutls_hooks: LDLIBS += -linih -lnghttp2 -ldl -lssl -lcrypto

# scope = swarm: NATS, JSON and the distributed limiter live in a plugin
# beside the preload, loaded only by a process that has a swarm resource.
SWARM_PLUGIN = $(BUILD)/librlpreload-swarm.so
PROGRAMS += $(SWARM_PLUGIN)

$(SWARM_PLUGIN): $(BUILD)/preload/swarm_plugin.o $(STATIC)
	$(call say,LD,$@)
	$(Q)$(CC) -shared -Wl,--exclude-libs,ALL -Wl,-z,defs $(LDFLAGS) \
		-o $@ $(filter %.o,$^) $(STATIC) $(LDLIBS)
