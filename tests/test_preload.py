#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_preload.py - librlpreload.so and rlrun, driven by real clients.

Each test starts the local test API (tests/servers/api_server.py) on a free
loopback port, writes an ini file, runs curl, wget, python3 or node under
build/rlrun, and reads back from the server when each request arrived.
Rates are measured at the server, as an API provider would see them.
"""
import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
RLRUN = os.path.join(BUILD, "rlrun")
PRELOAD = os.path.join(BUILD, "librlpreload.so")
SERVER = os.path.join(ROOT, "tests", "servers", "api_server.py")
PYTHON = sys.executable

# 10 requests per second, one at a time: no burst to blur the rate.
TEN_PER_SECOND = dict(capacity=1, window="100ms")


class Server:
    """The test API, on a free port, for one test."""

    def __init__(self, rate=0, burst=1, retry_after=1):
        self.proc = subprocess.Popen(
            [PYTHON, SERVER, "--port", "0", "--rate", str(rate),
             "--burst", str(burst), "--retry-after", str(retry_after),
             "--lifetime", "120"],
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError("test API did not start: %r" % line)
        self.port = int(line.split()[1])
        self.url = "http://127.0.0.1:%d" % self.port

    def stats(self):
        with urllib.request.urlopen(self.url + "/stats", timeout=10) as r:
            return json.load(r)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()


def table_path(ns):
    return "/dev/shm/rlc-%d-%s" % (os.getuid(), ns)


def remove_table(ns):
    try:
        os.unlink(table_path(ns))
    except FileNotFoundError:
        pass


def rate(times):
    """Requests per second over the span of the arrivals."""
    return (len(times) - 1) / (times[-1] - times[0])


class PreloadTest(unittest.TestCase):
    server_rate = 0

    def setUp(self):
        # scope host (the default) shares buckets through a table per user
        # and namespace: each test has its own namespace, and removes it
        self.ns = "test-%d-%s" % (os.getpid(), os.urandom(4).hex())
        self.addCleanup(remove_table, self.ns)
        self.tmp = tempfile.mkdtemp(prefix="rlc-test-")
        self.server = Server(rate=self.server_rate)
        self.addCleanup(self.server.stop)
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def ini(self, text=None, hosts="127.0.0.1", limiter="", **res):
        if text is None:
            res = dict(TEN_PER_SECOND, **res)
            text = "[limiter]\nnamespace = %s\n%s\n[api]\nhosts = %s\n" % (
                self.ns, limiter, hosts)
            text += "".join("%s = %s\n" % kv for kv in res.items())
        path = os.path.join(self.tmp, "rlc.ini")
        with open(path, "w") as f:
            f.write(text)
        return path

    def run_under(self, cmd, config, env=None, timeout=60, check=True):
        full_env = dict(os.environ, **(env or {}))
        p = subprocess.run([RLRUN, "-c", config, "--"] + cmd,
                           capture_output=True, text=True, env=full_env,
                           timeout=timeout)
        if check and p.returncode != 0:
            self.fail("%s exited %d: %s" % (cmd[0], p.returncode, p.stderr))
        return p

    def assert_rate(self, times, expected, tolerance=0.10):
        got = rate(times)
        self.assertLess(abs(got - expected) / expected, tolerance,
                        "rate %.2f/s, expected %.2f/s" % (got, expected))

    def assert_held(self, n, expected_rate=10.0):
        s = self.server.stats()
        self.assertEqual(s["requests"], n)
        self.assertEqual(s["ok"], n)
        self.assert_rate(s["times"], expected_rate)


class RateHeldPerRequest(PreloadTest):
    """Every client is held to 10 requests per second, per request."""

    def test_curl_keepalive_several_urls_on_one_connection(self):
        args = ["curl", "-s", "-w", "%{num_connects}\n"]
        for i in range(21):
            args += ["-o", "/dev/null", "%s/r%d" % (self.server.url, i)]
        p = self.run_under(args, self.ini())
        connects = [int(x) for x in p.stdout.split()]
        self.assertEqual(sum(connects), 1, "curl did not keep alive")
        self.assert_held(21)

    def test_wget(self):
        urls = ["%s/w%d" % (self.server.url, i) for i in range(16)]
        self.run_under(["wget", "-q", "-O", "/dev/null"] + urls, self.ini())
        self.assert_held(16)

    def test_python_urllib_new_connection_each(self):
        code = ("import urllib.request\n"
                "for i in range(16):\n"
                "    urllib.request.urlopen('%s/u%%d' %% i).read()\n"
                % self.server.url)
        self.run_under([PYTHON, "-c", code], self.ini())
        self.assert_held(16)

    def test_python_http_client_keepalive(self):
        code = ("import http.client\n"
                "c = http.client.HTTPConnection('127.0.0.1', %d)\n"
                "for i in range(21):\n"
                "    c.request('GET', '/k%%d' %% i)\n"
                "    c.getresponse().read()\n"
                "assert c.sock is not None\n" % self.server.port)
        self.run_under([PYTHON, "-c", code], self.ini())
        self.assert_held(21)

    def test_python_threads_share_the_budget(self):
        code = ("import threading, urllib.request\n"
                "def work(t):\n"
                "    for i in range(5):\n"
                "        urllib.request.urlopen('%s/t%%d-%%d' %% (t, i))"
                ".read()\n"
                "ts = [threading.Thread(target=work, args=(t,)) "
                "for t in range(4)]\n"
                "[t.start() for t in ts]\n"
                "[t.join() for t in ts]\n" % self.server.url)
        self.run_under([PYTHON, "-c", code], self.ini())
        self.assert_held(20)

    def test_node_http_keepalive_agent(self):
        code = ("const http = require('http');\n"
                "const agent = new http.Agent({keepAlive: true});\n"
                "let n = 0;\n"
                "function next() {\n"
                "  if (n === 21) { agent.destroy(); return; }\n"
                "  http.get('%s/n' + n++, {agent}, res => {\n"
                "    res.resume(); res.on('end', next);\n"
                "  });\n"
                "}\n"
                "next();\n" % self.server.url)
        self.run_under(["node", "-e", code], self.ini())
        self.assert_held(21)

    def test_host_header_maps_by_name(self):
        # hosts = localhost: the address 127.0.0.1 matches nothing, the
        # request's Host: header does.
        args = ["curl", "-s", "-H", "Host: localhost"]
        for i in range(11):
            args += ["-o", "/dev/null", "%s/h%d" % (self.server.url, i)]
        self.run_under(args, self.ini(hosts="localhost"))
        self.assert_held(11)

    def test_per_connection_charges_once(self):
        args = ["curl", "-s"]
        for i in range(20):
            args += ["-o", "/dev/null", "%s/c%d" % (self.server.url, i)]
        t0 = time.monotonic()
        self.run_under(args, self.ini(per="connection"))
        self.assertLess(time.monotonic() - t0, 1.5)
        self.assertEqual(self.server.stats()["requests"], 20)


class Untouched(PreloadTest):
    def test_unmapped_traffic_is_not_limited(self):
        args = ["curl", "-s"]
        for i in range(30):
            args += ["-o", "/dev/null", "%s/x%d" % (self.server.url, i)]
        t0 = time.monotonic()
        self.run_under(args, self.ini(hosts="192.0.2.1, *.example.com"))
        # 30 requests at 10/s would take 2.9 s
        self.assertLess(time.monotonic() - t0, 1.5)
        self.assertEqual(self.server.stats()["requests"], 30)

    def test_bytes_received_are_unchanged(self):
        out = os.path.join(self.tmp, "body")
        plain = subprocess.run(
            ["curl", "-s", "-D", "-", self.server.url + "/chunked"],
            capture_output=True).stdout
        self.run_under(["curl", "-s", "-D", "-", "-o", out,
                        self.server.url + "/chunked"], self.ini())
        with open(out, "rb") as f:
            self.assertIn(f.read(), plain)
        self.assertIn(b"hello chunked world\n", plain)

    def test_no_config_file_passes_everything(self):
        env = dict(os.environ, LD_PRELOAD=PRELOAD,
                   RLC_CONFIG=os.path.join(self.tmp, "missing.ini"))
        p = subprocess.run(["curl", "-s", self.server.url + "/y"],
                           capture_output=True, text=True, env=env)
        self.assertEqual(p.stdout, "ok\n")
        self.assertIn("rlc: ", p.stderr)  # the missing file is reported


class Reactions(PreloadTest):
    def cuts(self, stderr):
        return re.findall(r"rlc: api: HTTP 429 from [^:]+: capacity "
                          r"(\d+) -> (\d+)", stderr)

    def test_429_cuts_once_per_epoch(self):
        # Five requests in flight at once, all answered 429 after they
        # were all sent: one cut, not five.
        code = ("import threading, urllib.request, urllib.error\n"
                "def one():\n"
                "    try:\n"
                "        urllib.request.urlopen('%s/429?delay=0.5')\n"
                "    except urllib.error.HTTPError as e:\n"
                "        assert e.code == 429\n"
                "ts = [threading.Thread(target=one) for _ in range(5)]\n"
                "[t.start() for t in ts]\n"
                "[t.join() for t in ts]\n"
                "one()\n" % self.server.url)
        p = self.run_under([PYTHON, "-c", code],
                           self.ini(capacity=100, window="1s"),
                           env={"RLC_LOG": "info"})
        # the five together cut once; the sixth, sent after, cuts again
        self.assertEqual(self.cuts(p.stderr), [("100", "75"), ("75", "56")],
                         p.stderr)

    def test_retry_after_pauses_the_resource(self):
        code = ("import urllib.request, urllib.error\n"
                "try:\n"
                "    urllib.request.urlopen('%s/429?retry_after=2')\n"
                "except urllib.error.HTTPError:\n"
                "    pass\n"
                "urllib.request.urlopen('%s/after').read()\n"
                % (self.server.url, self.server.url))
        p = self.run_under([PYTHON, "-c", code],
                           self.ini(capacity=100, window="1s"),
                           env={"RLC_LOG": "info"})
        times = self.server.stats()["times"]
        self.assertEqual(len(times), 2)
        # Retry-After: 2 is counted in whole seconds from the response
        self.assertGreaterEqual(times[1] - times[0], 1.0)
        self.assertIn("rlc: api: paused for", p.stderr)

    def test_429_split_across_reads_is_seen(self):
        code = ("import urllib.request, urllib.error\n"
                "try:\n"
                "    urllib.request.urlopen('%s/split?status=429')\n"
                "except urllib.error.HTTPError as e:\n"
                "    assert e.code == 429\n" % self.server.url)
        p = self.run_under([PYTHON, "-c", code],
                           self.ini(capacity=8, window="1s"),
                           env={"RLC_LOG": "info"})
        self.assertEqual(self.cuts(p.stderr), [("8", "6")], p.stderr)

    def test_on_timeout_fail_gives_etimedout(self):
        code = ("import errno, http.client\n"
                "c = http.client.HTTPConnection('127.0.0.1', %d)\n"
                "c.request('GET', '/first'); c.getresponse().read()\n"
                "try:\n"
                "    c.request('GET', '/second'); c.getresponse().read()\n"
                "except OSError as e:\n"
                "    assert e.errno == errno.ETIMEDOUT, e\n"
                "    print('ETIMEDOUT')\n" % self.server.port)
        p = self.run_under([PYTHON, "-c", code],
                           self.ini(limiter="max_wait = 200ms\n"
                                            "on_timeout = fail",
                                    capacity=1, window="1h"))
        self.assertEqual(p.stdout.strip(), "ETIMEDOUT", p.stderr)
        self.assertEqual(self.server.stats()["requests"], 1)


class LiveReload(PreloadTest):
    LOOP = ("import sys, time, http.client\n"
            "c = http.client.HTTPConnection('127.0.0.1', %d)\n"
            "end = time.monotonic() + float(sys.argv[1])\n"
            "while time.monotonic() < end:\n"
            "    c.request('GET', '/live'); c.getresponse().read()\n")

    def rewrite_after(self, path, delay, text):
        time.sleep(delay)
        with open(path + ".new", "w") as f:
            f.write(text)
        os.replace(path + ".new", path)
        return time.monotonic()

    def test_edit_takes_effect_and_a_broken_edit_is_reported_once(self):
        path = self.ini(capacity=1, window="200ms")  # 5 per second
        proc = subprocess.Popen(
            [RLRUN, "-c", path, "--", PYTHON, "-c",
             self.LOOP % self.server.port, "5.5"],
            stderr=subprocess.PIPE, text=True)
        t0 = time.monotonic()
        # a broken edit: reported, and 5/s stays in force
        self.rewrite_after(path, 1.0, "[limiter]\nnamespace = %s\n"
                                      "[api]\nhosts = 127.0.0.1\n"
                                      "capacity = lots\nwindow = 1s\n"
                                      % self.ns)
        # then a good one: 20 per second
        good = self.rewrite_after(path, 1.5, "[limiter]\nnamespace = %s\n"
                                             "[api]\nhosts = 127.0.0.1\n"
                                             "capacity = 1\nwindow = 50ms\n"
                                             % self.ns)
        err = proc.communicate(timeout=30)[1]
        self.assertEqual(proc.returncode, 0, err)
        # the server's clock is this machine's monotonic one; an edit is
        # seen within about a second, plus the 200 ms wait already begun
        times = self.server.stats()["times"]
        before = [t for t in times if t < good]
        after = [t for t in times if t > good + 1.3]
        self.assertGreaterEqual(len(after), 20, err)
        self.assert_rate(before, 5.0, 0.15)
        self.assert_rate(after, 20.0, 0.15)
        self.assertEqual(err.count("capacity must be a positive integer"),
                         1, err)
        self.assertLess(time.monotonic() - t0, 20)


class Processes(PreloadTest):
    def test_forked_child_is_limited(self):
        code = ("import os, time, urllib.request\n"
                "pid = os.fork()\n"
                "t0 = time.monotonic()\n"
                "for i in range(6):\n"
                "    urllib.request.urlopen('%s/f%%d' %% i).read()\n"
                "if pid == 0:\n"
                "    print('child %%.2f' %% (time.monotonic() - t0))\n"
                "    os._exit(0)\n"
                "os.waitpid(pid, 0)\n" % self.server.url)
        p = self.run_under([PYTHON, "-c", code], self.ini())
        took = float(p.stdout.split()[1])
        # parent and child share the host's bucket: 12 requests at 10/s
        self.assertGreaterEqual(took, 0.45, p.stdout)
        self.assert_held(12)

    def test_forked_child_of_scope_process_has_its_own_bucket(self):
        code = ("import os, time, urllib.request\n"
                "pid = os.fork()\n"
                "for i in range(6):\n"
                "    urllib.request.urlopen('%s/f%%d' %% i).read()\n"
                "if pid == 0:\n"
                "    os._exit(0)\n"
                "os.waitpid(pid, 0)\n" % self.server.url)
        self.run_under([PYTHON, "-c", code], self.ini(scope="process"))
        # two buckets of 10/s side by side
        self.assert_held(12, expected_rate=20.0)

    def test_dup_shares_the_connection_state(self):
        code = ("import os, socket\n"
                "s = socket.create_connection(('127.0.0.1', %d))\n"
                "d = socket.socket(fileno=os.dup(s.fileno()))\n"
                "s.close()\n"
                "f = d.makefile('rb')\n"
                "for i in range(11):\n"
                "    d.sendall(b'GET /d%%d HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'"
                " %% i)\n"
                "    while f.readline() not in (b'\\r\\n', b''):\n"
                "        pass\n"
                "    f.read(3)\n" % self.server.port)
        self.run_under([PYTHON, "-c", code], self.ini())
        self.assert_held(11)

    def test_exec_children_inherit_the_limit(self):
        # sh execs curl: LD_PRELOAD and RLC_CONFIG travel in the
        # environment, so the grandchild is held too.
        urls = " ".join("-o /dev/null %s/e%d" % (self.server.url, i)
                        for i in range(11))
        self.run_under(["sh", "-c", "curl -s " + urls], self.ini())
        self.assert_held(11)


class HostScope(PreloadTest):
    """scope = host: every process of the user shares one bucket."""

    def test_processes_share_one_budget(self):
        code = ("import http.client\n"
                "c = http.client.HTTPConnection('127.0.0.1', %d)\n"
                "for i in range(8):\n"
                "    c.request('GET', '/p%%d' %% i); c.getresponse().read()\n"
                % self.server.port)
        ini = self.ini()
        procs = [subprocess.Popen([RLRUN, "-c", ini, "--", PYTHON, "-c",
                                   code], stderr=subprocess.PIPE, text=True)
                 for _ in range(4)]
        for p in procs:
            err = p.communicate(timeout=60)[1]
            self.assertEqual(p.returncode, 0, err)
        # 32 requests at 10/s in all, not 40/s
        self.assert_held(32)
        st = os.stat(table_path(self.ns))
        self.assertEqual(st.st_mode & 0o777, 0o600)
        self.assertEqual(st.st_uid, os.getuid())

    def test_a_cut_by_one_process_holds_the_next(self):
        ini = self.ini(capacity=4, window="400ms")  # 10/s, burst 4
        one = self.run_under(
            [PYTHON, "-c", "import urllib.request, urllib.error\n"
             "try:\n"
             "    urllib.request.urlopen('%s/429')\n"
             "except urllib.error.HTTPError as e:\n"
             "    assert e.code == 429\n" % self.server.url],
            self.ini(capacity=4, window="400ms", limiter="log = info"))
        self.assertIn("capacity 4 -> 3", one.stderr)
        self.server_reset()
        code = ("import http.client\n"
                "c = http.client.HTTPConnection('127.0.0.1', %d)\n"
                "for i in range(16):\n"
                "    c.request('GET', '/n%%d' %% i); c.getresponse().read()\n"
                % self.server.port)
        self.run_under([PYTHON, "-c", code], ini)
        # a new process starting with the same file keeps the host's cut:
        # 3 per 400 ms once the burst of 3 is spent
        times = self.server.stats()["times"]
        self.assertEqual(len(times), 16)
        self.assert_rate(times[3:], 7.5, 0.15)

    def test_a_short_lived_process_recovers_the_cut(self):
        ini = self.ini(capacity=4, window="400ms",
                       limiter="log = info\nrecovery_interval = 500ms\n"
                               "recovery_factor = 2")
        one = self.run_under(
            [PYTHON, "-c", "import urllib.request, urllib.error\n"
             "try:\n"
             "    urllib.request.urlopen('%s/429')\n"
             "except urllib.error.HTTPError as e:\n"
             "    assert e.code == 429\n" % self.server.url], ini)
        self.assertIn("capacity 4 -> 3", one.stderr)
        # the process that cut is gone; the table remembers when: one
        # request a whole interval later, by another process, grows it
        time.sleep(0.6)
        two = self.run_under(["curl", "-s", "-o", "/dev/null",
                              self.server.url + "/r"], ini)
        self.assertIn("api: recovered 3 -> 4", two.stderr)

    def test_a_held_request_gets_the_token_an_edit_brings(self):
        path = self.ini(capacity=1, window="1h",
                        limiter="max_wait = 6s\nlog = info")
        proc = subprocess.Popen(
            [RLRUN, "-c", path, "--", PYTHON, "-c",
             "import urllib.request\n"
             "for i in range(2):\n"
             "    urllib.request.urlopen('%s/e%%d' %% i).read()\n"
             % self.server.url], stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)  # the second request is held: its token is 1 h away
        # an edit: a token every 100 ms
        with open(path + ".new", "w") as f:
            f.write("[limiter]\nnamespace = %s\nmax_wait = 6s\n"
                    "[api]\nhosts = 127.0.0.1\ncapacity = 1\n"
                    "window = 100ms\n" % self.ns)
        os.replace(path + ".new", path)
        err = proc.communicate(timeout=30)[1]
        self.assertEqual(proc.returncode, 0, err)
        times = self.server.stats()["times"]
        self.assertEqual(len(times), 2)
        # let go within about a second of the edit, not after max_wait
        self.assertLess(times[1] - times[0], 4.0, err)
        self.assertNotIn("no token within max_wait", err)

    def test_a_removed_table_is_followed(self):
        loop = ("import sys, time, http.client\n"
                "c = http.client.HTTPConnection('127.0.0.1', %d)\n"
                "end = time.monotonic() + float(sys.argv[1])\n"
                "while time.monotonic() < end:\n"
                "    c.request('GET', '/l'); c.getresponse().read()\n"
                % self.server.port)
        ini = self.ini(limiter="log = info")
        a = subprocess.Popen([RLRUN, "-c", ini, "--", PYTHON, "-c", loop,
                              "4.5"], stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        os.unlink(table_path(self.ns))  # as systemd's RemoveIPC does
        t0 = time.monotonic()
        b = subprocess.Popen([RLRUN, "-c", ini, "--", PYTHON, "-c", loop,
                              "3.0"], stderr=subprocess.PIPE, text=True)
        errs = [p.communicate(timeout=30)[1] for p in (a, b)]
        self.assertIn("was removed or replaced; sharing the new one",
                      errs[0])
        # once the first has followed (within a second or so), the two
        # share 10/s again, not 10/s each
        # (the server's clock is this machine's monotonic one)
        times = self.server.stats()["times"]
        shared = [t for t in times if t0 + 1.5 <= t <= t0 + 3.0]
        self.assertLess(len(shared), 1.5 * 10 * 1.3, errs)
        self.assertGreater(len(shared), 1.5 * 10 * 0.7, errs)

    def test_a_full_table_limits_within_the_process(self):
        # another program fills the namespace's 256 slots
        lib = ctypes.CDLL(os.path.join(BUILD, "librlc.so"))
        lib.rlc_set_capacity.argtypes = (ctypes.c_void_p, ctypes.c_char_p,
                                         ctypes.c_int, ctypes.c_int64)
        lib.rlc_free.argtypes = (ctypes.c_void_p,)
        lim = ctypes.c_void_p()
        self.assertEqual(lib.rlc_host_limiter_new(self.ns.encode(),
                                                  ctypes.byref(lim)), 0)
        for i in range(256):
            lib.rlc_set_capacity(lim, b"other-%d" % i, 1, 1000000000)
        p = self.run_under(
            [PYTHON, "-c", "import urllib.request\n"
             "for i in range(11):\n"
             "    urllib.request.urlopen('%s/f%%d' %% i).read()\n"
             % self.server.url], self.ini())
        lib.rlc_free(lim)
        self.assertRegex(p.stderr, r"api: scope host: .*all 256 slots")
        self.assertIn("limited within this process", p.stderr)
        self.assert_held(11)

    def server_reset(self):
        with urllib.request.urlopen(self.server.url + "/reset",
                                    timeout=10) as r:
            r.read()


class Errno(PreloadTest):
    def test_errno_is_what_libc_gave(self):
        probe = os.path.join(BUILD, "tests", "errno_probe")
        plain = subprocess.run([probe, str(self.server.port)],
                               capture_output=True, text=True)
        under = self.run_under([probe, str(self.server.port)], self.ini(
            capacity=1000, window="1s"), check=False)
        self.assertEqual(plain.returncode, 0, plain.stderr)
        self.assertEqual(under.returncode, 0, under.stderr)
        self.assertEqual(plain.stdout, under.stdout)
        self.assertIn("connect-refused -1 ECONNREFUSED", plain.stdout)


class Rlrun(PreloadTest):
    def test_bad_config_exits_2_and_runs_nothing(self):
        bad = self.ini(text="[api]\nhosts = 127.0.0.1\ncapacity = -3\n"
                            "window = 1s\n")
        marker = os.path.join(self.tmp, "ran")
        p = subprocess.run([RLRUN, "-c", bad, "--", "touch", marker],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertRegex(p.stderr, r"^rlrun: .*rlc\.ini:3: .*capacity")
        self.assertFalse(os.path.exists(marker))

    def test_check_prints_what_it_understood(self):
        cfg = self.ini(hosts="api.example.com, *.example.org:443, "
                             "10.0.0.0/8, [2001:db8::]/32")
        p = subprocess.run([RLRUN, "-c", cfg, "--check"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("[api] 1 per 100ms, one token per request", p.stdout)
        for want in ("api.example.com", "*.example.org  port 443",
                     "10.0.0.0/8", "[2001:db8::]/32"):
            self.assertIn(want, p.stdout)

    def test_missing_command_and_unknown_option(self):
        cfg = self.ini()
        p = subprocess.run([RLRUN, "-c", cfg], capture_output=True)
        self.assertEqual(p.returncode, 2)
        p = subprocess.run([RLRUN, "--bogus"], capture_output=True)
        self.assertEqual(p.returncode, 2)
        p = subprocess.run([RLRUN, "-c", cfg, "--", "/nonexistent/x"],
                           capture_output=True)
        self.assertEqual(p.returncode, 127)


if __name__ == "__main__":
    unittest.main(verbosity=2)
