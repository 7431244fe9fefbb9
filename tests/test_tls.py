#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_tls.py - HTTPS under librlpreload.so, driven by real clients.

A self-signed certificate for localhost is made with `openssl req` when the
suite starts. The HTTP/1.1 API (tests/servers/api_server.py --tls) and an
HTTP/2 API (tests/servers/h2_server.js, node's http2) run on free loopback
ports; curl (OpenSSL, HTTP/1.1 and h2), python (OpenSSL, loaded privately
by its _ssl module; blocking sockets and asyncio's memory BIOs), wget
(GnuTLS) and node (OpenSSL linked in: opaque to rlc) call them under
build/rlrun.

Token counts are exact: capacity 3 in a window that never refills, and
max_wait = 200ms, so each request beyond the third is held, let go, and
said so ("no token within max_wait") exactly once.
"""
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
RLRUN = os.path.join(BUILD, "rlrun")
API = os.path.join(ROOT, "tests", "servers", "api_server.py")
H2 = os.path.join(ROOT, "tests", "servers", "h2_server.js")
PROXY = os.path.join(ROOT, "tests", "servers", "connect_proxy.py")
PYTHON = sys.executable

CERT_DIR = tempfile.mkdtemp(prefix="rlc-tls-")
CERT = os.path.join(CERT_DIR, "cert.pem")
KEY = os.path.join(CERT_DIR, "key.pem")


def setUpModule():
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
         "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", KEY, "-out", CERT],
        check=True, capture_output=True)


def tearDownModule():
    shutil.rmtree(CERT_DIR, True)


UNVERIFIED = ssl._create_unverified_context()


class Server:
    """One of the test APIs over TLS, on a free port."""

    def __init__(self, h2=False):
        if h2:
            cmd = ["node", H2, CERT, KEY]
        else:
            cmd = [PYTHON, API, "--port", "0", "--lifetime", "120",
                   "--tls", CERT, KEY]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError("%s did not start: %r" % (cmd[1], line))
        self.port = int(line.split()[1])
        self.url = "https://localhost:%d" % self.port

    def stats(self):
        with urllib.request.urlopen(self.url + "/stats", timeout=10,
                                    context=UNVERIFIED) as r:
            return json.load(r)

    def stop(self):
        self.proc.stdin.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()


class TlsTest(unittest.TestCase):
    h2 = False

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rlc-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.server = Server(h2=self.h2)
        self.addCleanup(self.server.stop)

    def ini(self, hosts="localhost", capacity=3, window="1000h",
            extra="max_wait = 200ms\n"):
        path = os.path.join(self.tmp, "rlc.ini")
        with open(path, "w") as f:
            f.write("[limiter]\nlog = info\n%s\n[api]\nhosts = %s\n"
                    "capacity = %d\nwindow = %s\nscope = process\n"
                    % (extra, hosts, capacity, window))
        return path

    def run_under(self, cmd, config, timeout=60):
        return subprocess.run([RLRUN, "-c", config, "--"] + cmd,
                              capture_output=True, text=True,
                              timeout=timeout)

    def held(self, p):
        """How many requests waited out max_wait for want of a token."""
        return p.stderr.count("no token within max_wait")

    def served(self):
        return self.server.stats()["requests"]

    def urls(self, n, tag):
        return ["%s/%s%d" % (self.server.url, tag, i) for i in range(n)]


class Http1(TlsTest):
    """HTTPS/1.1: one token per request inside TLS."""

    def test_curl_keepalive_charged_per_request(self):
        args = ["curl", "-sk", "--http1.1", "-w", "%{num_connects}\n"]
        for u in self.urls(5, "c"):
            args += ["-o", "/dev/null", u]
        p = self.run_under(args, self.ini(
            extra="max_wait = 200ms\non_timeout = fail\n"))
        # three requests on the first connection, then two refused
        self.assertEqual(self.served(), 3, p.stderr)
        self.assertIn("no token within max_wait; failing", p.stderr)

    def test_curl_rate_is_held_inside_tls(self):
        args = ["curl", "-sk", "--http1.1", "-w", "%{num_connects}\n"]
        for u in self.urls(11, "r"):
            args += ["-o", "/dev/null", u]
        p = self.run_under(args, self.ini(capacity=1, window="100ms",
                                          extra=""))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(sum(int(x) for x in p.stdout.split()), 1)
        times = self.server.stats()["times"]
        self.assertEqual(len(times), 11)
        rate = (len(times) - 1) / (times[-1] - times[0])
        self.assertLess(abs(rate - 10) / 10, 0.15, "%.1f/s" % rate)

    def test_429_inside_tls_cuts_capacity(self):
        p = self.run_under(["curl", "-sk", "--http1.1", "-o", "/dev/null",
                            self.server.url + "/429"],
                           self.ini(capacity=100, extra=""))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("api: HTTP 429 from localhost: capacity 100 -> 75",
                      p.stderr)

    def test_retry_after_inside_tls_pauses(self):
        p = self.run_under(["curl", "-sk", "--http1.1", "-o", "/dev/null",
                            self.server.url + "/429?retry_after=2",
                            "-o", "/dev/null", self.server.url + "/after"],
                           self.ini(capacity=100, extra=""))
        self.assertEqual(p.returncode, 0, p.stderr)
        s = self.server.stats()
        gap = s["times"][1] - s["times"][0]
        self.assertGreater(gap, 0.9, p.stderr)  # whole seconds, rounded
        self.assertIn("paused for", p.stderr)

    def test_python_http_client_keepalive(self):
        code = ("import http.client, ssl\n"
                "ctx = ssl._create_unverified_context()\n"
                "c = http.client.HTTPSConnection('localhost', %d, "
                "context=ctx)\n"
                "for i in range(5):\n"
                "    c.request('GET', '/p%%d' %% i)\n"
                "    c.getresponse().read()\n"
                "assert c.sock is not None\n" % self.server.port)
        p = self.run_under([PYTHON, "-c", code], self.ini())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.served(), 5)
        self.assertEqual(self.held(p), 2, p.stderr)

    def test_python_urllib_429_is_seen(self):
        code = ("import urllib.request, urllib.error, ssl\n"
                "try:\n"
                "    urllib.request.urlopen('%s/429', context="
                "ssl._create_unverified_context())\n"
                "except urllib.error.HTTPError as e:\n"
                "    assert e.code == 429\n" % self.server.url)
        p = self.run_under([PYTHON, "-c", code], self.ini(capacity=100,
                                                          extra=""))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("HTTP 429 from localhost: capacity 100 -> 75",
                      p.stderr)

    def test_python_asyncio_memory_bio(self):
        # asyncio encrypts into memory BIOs and writes the records itself,
        # outside any OpenSSL call: the ClientHello's random links them.
        # Three requests fit the budget of three only if the connection
        # itself costs nothing; the fourth waits, and is let go (pass).
        code = ("import asyncio, ssl, sys\n"
                "async def main():\n"
                "    ctx = ssl._create_unverified_context()\n"
                "    r, w = await asyncio.open_connection('127.0.0.1', %d, "
                "ssl=ctx, server_hostname='localhost')\n"
                "    for i in range(int(sys.argv[1])):\n"
                "        w.write(b'GET /a%%d HTTP/1.1\\r\\nHost: "
                "localhost\\r\\n\\r\\n' %% i)\n"
                "        await w.drain()\n"
                "        head = await r.readuntil(b'\\r\\n\\r\\n')\n"
                "        n = int(head.lower().split(b'content-length: ')"
                "[1].split(b'\\r\\n')[0])\n"
                "        await r.readexactly(n)\n"
                "    w.close()\n"
                "asyncio.run(main())\n" % self.server.port)
        ini = self.ini(extra="max_wait = 200ms\n")
        p = self.run_under([PYTHON, "-c", code, "3"], ini)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("no token within max_wait", p.stderr)
        p = self.run_under([PYTHON, "-c", code, "4"], ini)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr.count("no token within max_wait"), 1,
                         p.stderr)
        self.assertEqual(self.served(), 7)

    def test_wget_gnutls_keepalive(self):
        p = self.run_under(["wget", "-q", "--no-check-certificate",
                            "-O", "/dev/null"] + self.urls(5, "w"),
                           self.ini())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.served(), 5)
        self.assertEqual(self.held(p), 2, p.stderr)

    def test_node_https_is_charged_per_connection(self):
        # node's OpenSSL is linked in: rlc sees only the ClientHello, maps
        # it by its server name (the address 127.0.0.1 matches nothing)
        # and charges each connection once
        code = ("const https = require('https');\n"
                "const keep = process.argv[1] === 'keep';\n"
                "const agent = keep ? new https.Agent({keepAlive: true, "
                "maxSockets: 1}) : false;\n"
                "const headers = keep ? {} : {connection: 'close'};\n"
                "let n = 0;\n"
                "function next() {\n"
                "  if (n === 5) { if (keep) agent.destroy(); return; }\n"
                "  https.get({host: '127.0.0.1', port: %d, path: '/n' + n++,"
                " servername: 'localhost', rejectUnauthorized: false, "
                "agent, headers}, res => { res.resume(); "
                "res.on('end', next); });\n"
                "}\n"
                "next();\n" % self.server.port)
        p = self.run_under(["node", "-e", code, "keep"], self.ini())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.held(p), 0, p.stderr)
        p = self.run_under(["node", "-e", code, "new"], self.ini())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.held(p), 2, p.stderr)
        self.assertEqual(self.served(), 10)

    def test_a_tunnel_through_a_proxy_costs_its_requests(self):
        # the CONNECT carries the API's name and is charged; the requests
        # inside the tunnel are charged in plaintext; the CONNECT's token
        # is the first request's, so three requests cost three
        proxy = subprocess.Popen([PYTHON, PROXY], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
        self.addCleanup(proxy.wait, 10)
        self.addCleanup(proxy.stdin.close)
        pport = int(proxy.stdout.readline().split()[1])
        args = ["curl", "-sk", "--http1.1", "-x",
                "http://127.0.0.1:%d" % pport]
        for u in self.urls(3, "t"):
            args += ["-o", "/dev/null", u]
        p = self.run_under(args, self.ini())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.served(), 3)
        self.assertEqual(self.held(p), 0, p.stderr)
        args[-1] = self.urls(4, "t")[3]
        p = self.run_under(args + ["-o", "/dev/null",
                                   self.urls(5, "t")[4]], self.ini())
        self.assertEqual(self.held(p), 1, p.stderr)

    def test_unmapped_tls_is_untouched(self):
        args = ["curl", "-sk"]
        for u in self.urls(8, "u"):
            args += ["-o", "/dev/null", u]
        p = self.run_under(args, self.ini(hosts="api.example.com"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.served(), 8)


class BundledLibssl(TlsTest):
    """A module with its own copy of OpenSSL, renamed as wheels ship one."""

    def build_module(self):
        lib = os.path.join(self.tmp, "libssl-bundled.so.3")
        mod = os.path.join(self.tmp, "tls_module.so")
        subprocess.run(
            ["cc", "-shared", "-fPIC", "-o", lib,
             "-Wl,-soname,libssl-bundled.so.3", "-Wl,--whole-archive",
             "/usr/lib/x86_64-linux-gnu/libssl.a", "-Wl,--no-whole-archive",
             "/usr/lib/x86_64-linux-gnu/libcrypto.a", "-ldl", "-pthread"],
            check=True)
        subprocess.run(
            ["cc", "-D_GNU_SOURCE", "-shared", "-fPIC", "-o", mod,
             os.path.join(ROOT, "tests", "tls_module.c"), "-L", self.tmp,
             "-l:libssl-bundled.so.3", "-Wl,-rpath,$ORIGIN"],
            check=True)
        return mod

    def test_calls_reach_the_private_copy_and_are_charged(self):
        mod = self.build_module()
        # ctypes loads it RTLD_LOCAL: its libssl is in no global scope
        code = ("import ctypes, sys\n"
                "m = ctypes.CDLL(sys.argv[1])\n"
                "m.requests.argtypes = (ctypes.c_int, ctypes.c_char_p, "
                "ctypes.c_int)\n"
                "print(m.requests(%d, b'localhost', 5))\n"
                % self.server.port)
        p = self.run_under([PYTHON, "-c", code, mod], self.ini())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.split(), ["5"], p.stderr)
        self.assertNotIn("cannot find the real", p.stderr)
        self.assertEqual(self.served(), 5)
        self.assertEqual(self.held(p), 2, p.stderr)


class Http2(TlsTest):
    """HTTP/2 inside TLS: one token per stream, 429 found by HPACK."""
    h2 = True

    def test_curl_h2_charged_per_stream(self):
        args = ["curl", "-sk", "--http2", "-w", "%{http_version}\n"]
        for u in self.urls(5, "s"):
            args += ["-o", "/dev/null", u]
        p = self.run_under(args, self.ini())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.split(), ["2"] * 5)
        self.assertEqual(self.served(), 5)
        self.assertEqual(self.held(p), 2, p.stderr)

    def test_h2_authority_maps_the_connection(self):
        # by address 127.0.0.1 and without a server name (an address is
        # never sent as one), only :authority says "localhost"; it comes
        # in the first HEADERS, after the preface and SETTINGS
        args = ["curl", "-sk", "--http2", "-H", "Host: localhost"]
        for i in range(5):
            args += ["-o", "/dev/null",
                     "https://127.0.0.1:%d/a%d" % (self.server.port, i)]
        p = self.run_under(args, self.ini())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.served(), 5)
        self.assertEqual(self.held(p), 2, p.stderr)

    def test_h2_refusal_ends_curl(self):
        # on_timeout = fail: each refused write says so through OpenSSL's
        # error queue (SSL_ERROR_SYSCALL, ETIMEDOUT); curl gives up on
        # those requests instead of waiting to read forever
        args = ["curl", "-sk", "--http2"]
        for u in self.urls(5, "f"):
            args += ["-o", "/dev/null", u]
        p = self.run_under(args, self.ini(
            extra="max_wait = 200ms\non_timeout = fail\n"), timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(self.served(), 3, p.stderr)
        self.assertIn("no token within max_wait; failing", p.stderr)

    def test_curl_h2_rate_is_held(self):
        args = ["curl", "-sk", "--http2"]
        for u in self.urls(11, "r"):
            args += ["-o", "/dev/null", u]
        p = self.run_under(args, self.ini(capacity=1, window="100ms",
                                          extra=""))
        self.assertEqual(p.returncode, 0, p.stderr)
        s = self.server.stats()
        self.assertEqual(set(s["protocols"]), {"h2"})
        times = s["times"]
        rate = (len(times) - 1) / (times[-1] - times[0])
        self.assertLess(abs(rate - 10) / 10, 0.15, "%.1f/s" % rate)

    def test_h2_429_cuts_and_retry_after_pauses(self):
        # the second 429 comes from the HPACK dynamic table
        p = self.run_under(["curl", "-sk", "--http2",
                            "-o", "/dev/null",
                            self.server.url + "/429?retry_after=2",
                            "-o", "/dev/null", self.server.url + "/after"],
                           self.ini(capacity=100, extra=""))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("api: HTTP 429 from localhost: capacity 100 -> 75",
                      p.stderr)
        s = self.server.stats()
        self.assertGreater(s["times"][1] - s["times"][0], 0.9, p.stderr)


class Loading(unittest.TestCase):
    def test_a_process_without_tls_never_loads_libssl(self):
        tmp = tempfile.mkdtemp(prefix="rlc-test-")
        self.addCleanup(shutil.rmtree, tmp, True)
        ini = os.path.join(tmp, "rlc.ini")
        with open(ini, "w") as f:
            f.write("[api]\nhosts = 127.0.0.1\ncapacity = 5\nwindow = 1s\n"
                    "scope = process\n")
        code = ("import socket\n"
                "s = socket.socket()\n"
                "s.bind(('127.0.0.1', 0)); s.listen()\n"
                "c = socket.create_connection(s.getsockname())\n"
                "c.sendall(b'GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')\n"
                "maps = open('/proc/self/maps').read()\n"
                "print('librlpreload' in maps, 'libssl' in maps)\n")
        p = subprocess.run([RLRUN, "-c", ini, "--", PYTHON, "-S", "-c",
                            code], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.stdout.split(), ["True", "False"], p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
