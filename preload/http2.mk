# preload/: HTTP/2 framing of a connection (http2.c), beside HTTP/1.x.
#
# The one file that includes <nghttp2/nghttp2.h>: the server's header
# blocks need HPACK, and libnghttp2's inflater keeps each connection's
# dynamic table. Retry-After values come from http1_date.c.

HTTP2_SRC = preload/http2.c
HTTP2_OBJ = $(HTTP2_SRC:%.c=$(BUILD)/%.o)

TESTS += test_http2
$(BUILD)/tests/test_http2: $(HTTP2_OBJ) $(HTTP1_OBJ)
$(BUILD)/tests/test_http2: LDLIBS += -lnghttp2

FUZZERS += fuzz_http2
build/fuzz/fuzz_http2: tests/fuzz_http2.c $(HTTP2_SRC) preload/http2.h \
		preload/http1_date.c preload/http1.h | build/.bootstrap-ok
	$(call say,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -Ipreload -o $@ tests/fuzz_http2.c \
		$(HTTP2_SRC) preload/http1_date.c -lnghttp2
