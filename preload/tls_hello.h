/* SPDX-License-Identifier: MIT */
/*
 * tls_hello.h - the TLS ClientHello a client writes first on a socket whose
 * TLS library the preload cannot hook (opaque TLS): its server name, client
 * random, ALPN offers and highest version.
 *
 * A pure parser over the caller's bytes: no allocation, no I/O, no locks,
 * no state between calls, so it is safe in any hook and on any thread.
 */
#ifndef RLC_TLS_HELLO_H
#define RLC_TLS_HELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RLC_TLS_SNI_MAX 256 /* sni kept, NUL included */
#define RLC_TLS_RANDOM_LEN 32
/* Longest ClientHello handshake message accepted (body, without its 4-byte
 * header). Larger ones are MALFORMED rather than PARTIAL forever; real
 * ones, post-quantum key shares included, are a few KiB. */
#define RLC_TLS_HELLO_MAX 65536
/* Longest record fragment accepted (the TLSCiphertext bound of RFC 8446). */
#define RLC_TLS_RECORD_MAX (16384 + 2048)

/* What rlc_tls_hello_parse found. */
typedef enum rlc_tls_hello_status {
    /* A complete ClientHello was read; *out holds what it says. */
    RLC_TLS_HELLO_OK,
    /* Not a TLS handshake record: exactly when rlc_tls_looks_like_hello()
     * is false on the same bytes (len 0 included). */
    RLC_TLS_HELLO_NOT_TLS,
    /* Every byte present is consistent with a ClientHello, but the buffer
     * ends before the message does: call again with more bytes. */
    RLC_TLS_HELLO_PARTIAL,
    /* A TLS handshake record whose bytes cannot be a valid ClientHello: a
     * record that is empty, longer than RLC_TLS_RECORD_MAX or not a
     * handshake record (3.0..3.4) before the message ends; a message over
     * RLC_TLS_HELLO_MAX; a legacy_version not 3.x; a vector that overruns
     * its parent or does not fill its extension; bytes left after the
     * extensions; a session id over 32 bytes; no cipher suite, an odd
     * suites length, or no compression method; an empty server_name list
     * or ALPN list, an empty protocol name, an empty or odd
     * supported_versions list; a repeated server_name, ALPN or
     * supported_versions extension; two host names in server_name. */
    RLC_TLS_HELLO_MALFORMED
} rlc_tls_hello_status;

/* What a ClientHello offers. Plain data: copy it, keep it as long as
 * needed; it points into nothing. */
typedef struct rlc_tls_hello {
    /* The host_name of the server_name extension: lower case, one trailing
     * dot dropped. "" when there is none, or when it is not a host name:
     * empty, longer than 255 bytes (after the trailing dot is dropped), a
     * byte outside [A-Za-z0-9._-], an empty label, or an IP literal (the
     * last label all digits, or 0x and hex digits, as browsers read IPv4;
     * IPv6 is already out by ':'). Such a name does not make the hello
     * MALFORMED. */
    char sni[RLC_TLS_SNI_MAX];
    unsigned char random[RLC_TLS_RANDOM_LEN]; /* the client random */
    bool alpn_h2;     /* "h2" is among the ALPN protocols offered */
    bool alpn_http11; /* "http/1.1" is among them */
    /* The highest version offered: the highest of 0x0300 (SSL 3.0) ..
     * 0x0304 (TLS 1.3) in supported_versions (GREASE and unknown values
     * ignored); else, when that extension is absent or lists none of
     * those, legacy_version as sent (0x03xx; TLS 1.3 clients send
     * 0x0303 there). */
    uint16_t version;
} rlc_tls_hello;

/*
 * rlc_tls_looks_like_hello - a cheap test of the first bytes of what a
 * client wrote, meant to decide whether to parse (or to wait for more):
 * content type 22 (handshake), major version 3, minor 0..4 (SSL 3.0 to
 * TLS 1.3 record versions), and handshake type 1 (ClientHello) when a
 * sixth byte is there. Only the bytes present are judged, so 1..5 bytes
 * give an answer too: true means "could still be a ClientHello". false for
 * len 0. Reads at most buf[0..min(len, 6)). Thread-safe.
 */
bool rlc_tls_looks_like_hello(const void *buf, size_t len);

/*
 * rlc_tls_hello_parse - read the ClientHello at the start of buf[0..len).
 * The handshake message may span several records (each header checked),
 * all in buf. Bytes after the end of the message are ignored, the rest of
 * its last record included, even when that is not in buf yet. Extensions
 * other than server_name, ALPN and supported_versions are skipped after
 * their length is checked. On PARTIAL the caller keeps the bytes and
 * parses again from the start once more have come; how long to wait is
 * its choice (a real hello comes in one write).
 *
 * Returns a status as above. *out is written on every call: filled on
 * RLC_TLS_HELLO_OK, all zeros on any other status (so out->sni is always a
 * NUL-terminated string). buf is only read, and nothing refers to it after
 * the call. Thread-safe: no state besides *out, which the caller owns.
 */
rlc_tls_hello_status rlc_tls_hello_parse(const void *buf, size_t len,
                                         rlc_tls_hello *out);

#endif /* RLC_TLS_HELLO_H */
