# rlc - rate limit coordination for swarms of agents.
#
#   make                 the libraries, examples and tests (build/)
#   make check           every test
#   make asan|ubsan|tsan the tests again under each sanitizer
#   make bench           the benchmarks, figures side by side
#   make demo            the main job: see README.md
#   make install         PREFIX=/usr/local DESTDIR=
#   make format-check    clang-format, no changes made
#   V=1                  show the commands

SHELL = /bin/bash
VERSION := $(shell sed -n 's/^\#define RLC_VERSION "\(.*\)"/\1/p' core/include/rlc.h)
SOVERSION := $(shell sed -n 's/^\#define RLC_VERSION_MAJOR \([0-9]*\)/\1/p' core/include/rlc.h)

PREFIX ?= /usr/local
INCLUDEDIR ?= $(PREFIX)/include
LIBDIR ?= $(PREFIX)/lib
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

CC ?= cc
OPTIMIZATION ?= -O2
WARNINGS = -Wall -Wextra -Wstrict-prototypes -Wwrite-strings -Wshadow \
           -Wmissing-prototypes -Wno-missing-field-initializers \
           -Werror=implicit-function-declaration -Werror=int-conversion \
           -Werror=incompatible-pointer-types
ifneq ($(CI),)
WARNINGS += -Werror
endif
CFLAGS ?= $(OPTIMIZATION) -g
RLC_CFLAGS = -std=c11 -D_GNU_SOURCE -fPIC -fvisibility=hidden -pthread \
             $(WARNINGS) -Icore/include -Icore
LDLIBS = -pthread -lm

# SANITIZER=address|undefined|thread builds everything in build/<name>.
ifneq ($(SANITIZER),)
BUILD ?= build/$(SANITIZER)
RLC_CFLAGS += -fsanitize=$(SANITIZER) -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZER)
ifeq ($(SANITIZER),undefined)
RLC_CFLAGS += -fno-sanitize-recover=all
endif
else
BUILD ?= build
endif

ifeq ($(V),)
Q = @
say = @printf '  %-7s %s\n' $(1) $(2);
else
Q =
say =
endif

CORE_SRC = core/status.c core/gcra.c core/wait.c core/cancel.c \
           core/bucket.c core/limiter.c core/memory_limiter.c \
           core/distributed_limiter.c core/fair_share.c
CORE_OBJ = $(CORE_SRC:%.c=$(BUILD)/%.o)

.DEFAULT_GOAL := all

# Test binaries are tests/<name>.c linked with librlc and cmocka; a module
# adds its own, and what they link, in its build.mk.
TESTS = test_gcra test_limiter test_concurrency test_distributed
# libFuzzer targets: tests/<name>.c, built by clang for `make fuzz`.
FUZZERS =
# Suites that drive real programs under the preload (python unittest).
INTEGRATION =
# What `make` builds besides the library, tests and examples.
PROGRAMS =

-include core/wire.mk core/bus.mk core/host.mk config/build.mk \
         preload/build.mk preload/tls_hello.mk preload/http2.mk \
         preload/preload.mk tools/build.mk

TEST_BIN = $(TESTS:%=$(BUILD)/tests/%)
EXAMPLES = $(BUILD)/examples/embedded
BENCH_BIN = $(BUILD)/bench/bench_core
PRELOAD_BENCH = $(BUILD)/bench/bench_preload $(BUILD)/bench/http_sink

STATIC = $(BUILD)/librlc.a
SHARED = $(BUILD)/librlc.so
SHARED_V = $(SHARED).$(SOVERSION)
BOOTSTRAP = build/.bootstrap-ok

.PHONY: all lib check asan ubsan tsan bench demo install uninstall \
        format format-check clean bootstrap fuzz print-fuzzers \
        demo-embedded demo-https
.DELETE_ON_ERROR:
.SECONDARY:

all: lib $(PROGRAMS) $(EXAMPLES) $(TEST_BIN)

lib: $(STATIC) $(SHARED)

bootstrap: $(BOOTSTRAP)
$(BOOTSTRAP): tools/bootstrap
	$(Q)tools/bootstrap
	$(Q)mkdir -p $(@D) && touch $@

$(BUILD)/%.o: %.c | $(BOOTSTRAP)
	$(call say,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(RLC_CFLAGS) -MMD -MP -c -o $@ $<

$(STATIC): $(CORE_OBJ)
	$(call say,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(SHARED_V): $(CORE_OBJ)
	$(call say,LD,$@)
	$(Q)$(CC) -shared -Wl,-soname,librlc.so.$(SOVERSION) $(LDFLAGS) \
		-o $@ $^ $(LDLIBS)

$(SHARED): $(SHARED_V)
	$(Q)ln -sf librlc.so.$(SOVERSION) $@

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(STATIC)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(filter %.a,$^) -lcmocka \
		$(LDLIBS)

$(BUILD)/examples/%: $(BUILD)/examples/%.o $(STATIC)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(STATIC)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# http_sink --tls serves the HTTPS row of bench_preload.
$(BUILD)/bench/http_sink: LDLIBS += -lssl -lcrypto

# Every test runs, even after a failure; the total closes the run. The
# suites with real clients (INTEGRATION) preload build/librlpreload.so into
# curl, python and node: an instrumented preload cannot go into programs
# that are not, so sanitizer builds run the C suites, where test_hooks
# drives the same hooks in-process.
check: all
ifeq ($(SANITIZER),)
	$(Q)BUILD=$(BUILD) tests/run $(TEST_BIN) $(INTEGRATION)
else
	@echo "(real-client suites $(INTEGRATION) run in plain make check)"
	$(Q)BUILD=$(BUILD) tests/run $(TEST_BIN)
endif

asan:
	$(Q)$(MAKE) --no-print-directory SANITIZER=address check
ubsan:
	$(Q)$(MAKE) --no-print-directory SANITIZER=undefined check
tsan:
	$(Q)TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp $$TSAN_OPTIONS" \
		$(MAKE) --no-print-directory SANITIZER=thread check

# The preload's figures follow the core's (curl and /bin/true with and
# without librlpreload.so, against bench/http_sink on loopback), then the
# swarm's (20 agent processes on a real nats-server; 4 preloaded agents).
bench: all $(BENCH_BIN) $(PRELOAD_BENCH)
	$(Q)$(BENCH_BIN)
	$(Q)$(BUILD)/bench/bench_preload $(BUILD)
	$(Q)python3 bench/bench_swarm.py $(BUILD)

# The main job: an unmodified agent against a rate-limited local API,
# without and then with rlrun, side by side.
demo: all
	$(Q)examples/demo.sh $(BUILD)

# The same over HTTPS: rlc counts and reads inside TLS.
demo-https: all
	$(Q)examples/demo.sh $(BUILD) --https

# The embedded C API's example.
demo-embedded: $(EXAMPLES)
	$(Q)$(BUILD)/examples/embedded

$(BUILD)/rlc.pc: Makefile core/include/rlc.h
	$(Q)mkdir -p $(@D)
	$(Q)printf '%s\n' 'prefix=$(PREFIX)' 'includedir=$(INCLUDEDIR)' \
		'libdir=$(LIBDIR)' '' 'Name: rlc' \
		'Description: rate limit coordination for swarms of agents' \
		'Version: $(VERSION)' 'Cflags: -I$${includedir}' \
		'Libs: -L$${libdir} -lrlc' \
		'Libs.private: -pthread -lm -ljansson -lnats' > $@

install: lib $(BUILD)/rlc.pc
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) \
		$(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 core/include/rlc.h $(DESTDIR)$(INCLUDEDIR)/rlc.h
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/librlc.a
	install -m 755 $(SHARED_V) $(DESTDIR)$(LIBDIR)/librlc.so.$(SOVERSION)
	ln -sf librlc.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/librlc.so
	install -m 644 $(BUILD)/rlc.pc $(DESTDIR)$(PKGCONFIGDIR)/rlc.pc

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/rlc.h $(DESTDIR)$(LIBDIR)/librlc.a \
		$(DESTDIR)$(LIBDIR)/librlc.so.$(SOVERSION) \
		$(DESTDIR)$(LIBDIR)/librlc.so $(DESTDIR)$(PKGCONFIGDIR)/rlc.pc

FORMATTED = $(shell git ls-files '*.c' '*.h' 2>/dev/null || \
                find core config preload tests examples bench tools \
                -name '*.[ch]')
format-check: $(BOOTSTRAP)
	$(Q)clang-format --dry-run -Werror $(FORMATTED)
format: $(BOOTSTRAP)
	$(Q)clang-format -i $(FORMATTED)

# Each fuzzer runs FUZZ_SECONDS from its seed corpus in tests/corpus/<name>.
FUZZ_SECONDS ?= 30
FUZZ_CC ?= clang
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 \
             -D_GNU_SOURCE -pthread -Icore/include -Icore
fuzz: $(FUZZERS:%=build/fuzz/%)
	$(Q)for f in $(FUZZERS); do \
		mkdir -p build/fuzz/corpus/$$f; \
		echo "== $$f ($(FUZZ_SECONDS) s)"; \
		build/fuzz/$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			build/fuzz/corpus/$$f tests/corpus/$$f 2>&1 | \
			grep -E 'stat::number_of_executed_units|ERROR|SUMMARY' || exit 1; \
		test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

print-fuzzers:
	@echo $(FUZZERS)
