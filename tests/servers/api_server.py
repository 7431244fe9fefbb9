#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""api_server.py - a local stand-in for a rate-limited API.

An HTTP/1.1 keep-alive server on loopback that enforces its own quota the
way real APIs do: a token bucket of --burst requests refilled at --rate per
second; a request beyond it gets 429 with Retry-After. It records when each
request arrived so tests can measure the rate a client really sent.

Paths:
  /anything        counted against the quota: 200, or 429 when over it
  /429             always 429 (Retry-After from ?retry_after=S, default
                   none), after ?delay=S seconds
  /split           a response (?status=N, default 200) whose status line
                   and headers arrive 3 bytes at a time
  /chunked         a 200 with a chunked body
  /stats           JSON: counts and arrival times (not counted)
  /reset           forget everything (not counted)

It prints "PORT <n>" on stdout once listening (use --port 0 for a free
port) and stops after --lifetime seconds at the latest. With --tls CERT KEY
it speaks HTTPS (HTTP/1.1 only) instead.
"""
import argparse
import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Quota:
    def __init__(self, rate, burst):
        self.rate, self.burst = rate, burst
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.tokens = float(self.burst)
            self.last = time.monotonic()
            self.arrivals = []  # (monotonic time, path, status)

    def take(self):
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst,
                              self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.rate <= 0 or self.tokens >= 1:
                self.tokens -= 1
                return True
            return False

    def record(self, path, status):
        with self.lock:
            self.arrivals.append((time.monotonic(), path, status))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "rlc-test-api/1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def handle(self):
        try:
            super().handle()
        except ConnectionError:
            pass  # a client that hung up (or was failed by rlc) early

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def handle_any(self):
        self.body()
        url = urlsplit(self.path)
        quota = self.server.quota
        query = parse_qs(url.query)
        if url.path == "/stats":
            with quota.lock:
                arrivals = list(quota.arrivals)
            data = {
                "requests": len(arrivals),
                "ok": sum(1 for a in arrivals if a[2] == 200),
                "limited": sum(1 for a in arrivals if a[2] == 429),
                "times": [a[0] for a in arrivals],
                "statuses": [a[2] for a in arrivals],
                "paths": [a[1] for a in arrivals],
            }
            self.reply(200, json.dumps(data).encode(),
                       [("Content-Type", "application/json")])
            return
        if url.path == "/reset":
            quota.reset()
            self.reply(200, b"reset\n")
            return
        if url.path == "/429":
            time.sleep(float(query.get("delay", ["0"])[0]))
            quota.record(url.path, 429)
            headers = []
            if "retry_after" in query:
                headers.append(("Retry-After", query["retry_after"][0]))
            self.reply(429, b"rate limited\n", headers)
            return
        if url.path == "/split":
            status = int(query.get("status", ["200"])[0])
            quota.record(url.path, status)
            raw = (b"HTTP/1.1 %d Status\r\nContent-Length: 3\r\n"
                   b"Content-Type: text/plain\r\n\r\nok\n" % status)
            for i in range(0, len(raw), 3):
                self.wfile.write(raw[i:i + 3])
                self.wfile.flush()
                time.sleep(0.002)
            return
        if not quota.take():
            quota.record(url.path, 429)
            self.reply(429, b"rate limited\n",
                       [("Retry-After", str(self.server.retry_after))])
            return
        quota.record(url.path, 200)
        if url.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"hello ", b"chunked ", b"world\n"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        self.reply(200, b"ok\n")

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_any


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--rate", type=float, default=0,
                   help="requests per second allowed (0: unlimited)")
    p.add_argument("--burst", type=int, default=1)
    p.add_argument("--retry-after", type=int, default=1)
    p.add_argument("--lifetime", type=float, default=600)
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    a = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
        ctx.set_alpn_protocols(["http/1.1"])
        # the handshake happens in each connection's thread, at its first
        # read, so one client that never finishes it holds up nobody
        server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                        do_handshake_on_connect=False)
    server.daemon_threads = True
    server.quota = Quota(a.rate, a.burst)
    server.retry_after = a.retry_after
    print("PORT %d" % server.server_address[1], flush=True)
    threading.Timer(a.lifetime, server.shutdown).start()
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
