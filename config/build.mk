# config/: the ini file -> validated configuration (inih).
#
# CONFIG_OBJ is linked into whatever reads the ini file (the preload, rlrun);
# those link -linih too.

CONFIG_SRC = config/config.c config/duration.c config/hosts.c
CONFIG_OBJ = $(CONFIG_SRC:%.c=$(BUILD)/%.o)

RLC_CFLAGS += -Iconfig

TESTS += test_config
$(BUILD)/tests/test_config: $(CONFIG_OBJ)
$(BUILD)/tests/test_config: LDLIBS += -linih

FUZZERS += fuzz_config
build/fuzz/fuzz_config: tests/fuzz_config.c $(CONFIG_SRC) config/config.h \
		| build/.bootstrap-ok
	$(call say,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -Iconfig -o $@ tests/fuzz_config.c \
		$(CONFIG_SRC) -linih
