#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_swarm.py - distributed limiters in separate processes over a real
nats-server, started here on a free loopback port.

Each agent is build/tests/swarm_agent: one process, one distributed
limiter, commands on stdin, capacity changes on stdout.
"""
import os
import re
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
AGENT = os.path.join(BUILD, "tests", "swarm_agent")
RLCTL = os.path.join(BUILD, "rlctl")
RLRUN_BIN = os.path.join(BUILD, "rlrun")
SHARED = os.environ.get("RLC_SHARED", os.path.join(ROOT, "..", "shared"))
NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Nats:
    """A nats-server of our own, on loopback."""

    def __init__(self, port=None, token=None):
        self.port = port or free_port()
        self.token = token
        self.start()

    def start(self):
        args = [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port)]
        if self.token:
            args += ["--auth", self.token]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nats-server did not start")

    def stop(self):
        self.proc.kill()
        self.proc.wait(timeout=10)

    @property
    def url(self):
        return "nats://127.0.0.1:%d" % self.port


class Agent:
    """One swarm_agent process."""

    def __init__(self, url, agent_id, *options):
        self.id = agent_id
        self.proc = subprocess.Popen([AGENT, *options, url, agent_id],
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True,
                                     bufsize=1)
        self.lines = queue.Queue()
        self.changes = []
        self.announced = []
        threading.Thread(target=self._read, daemon=True).start()
        self.expect("ready")

    def _read(self):
        for line in self.proc.stdout:
            line = line.strip()
            if line.startswith("change "):
                _, who, cap, ns = line.split()
                self.changes.append((who, int(cap), int(ns)))
            elif line.startswith("announced "):
                self.announced.append(int(line.split()[1]))
            else:
                self.lines.put(line)

    def send(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def expect(self, prefix, timeout=10):
        line = self.lines.get(timeout=timeout)
        if not line.startswith(prefix):
            raise AssertionError("expected %r, got %r" % (prefix, line))
        return line

    def ask(self, command):
        self.send(command)
        return self.expect(command.split()[0]).split(" ", 1)[1]

    def total(self):
        return int(self.ask("total"))

    def take(self, n=1):
        self.send("take %d" % n)
        return int(self.expect("took").split()[1])

    def connected(self):
        return self.ask("connected") == "1"

    def stop(self, kill=False):
        if self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.send("quit")
        self.proc.wait(timeout=10)
        self.proc.stdin.close()
        self.proc.stdout.close()


def wait_until(predicate, timeout=10, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


class SwarmTest(unittest.TestCase):
    token = None

    def setUp(self):
        self.assertTrue(os.access(NATS_SERVER, os.X_OK),
                        "nats-server is not installed")
        self.nats = Nats(token=self.token)
        self.addCleanup(lambda: self.nats.stop())
        self.agents = []

    def tmp(self):
        d = tempfile.mkdtemp(prefix="rlc-swarm-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def agent(self, agent_id, *options):
        a = Agent(self.nats.url, agent_id, *options)
        self.agents.append(a)
        self.addCleanup(a.stop)
        return a


class Cuts(SwarmTest):
    def test_cut_reaches_every_process(self):
        a, b, c = (self.agent(x) for x in "abc")
        time.sleep(0.2)  # subscriptions in place on the server
        a.send("announce HTTP 429")
        for other in (b, c):
            self.assertTrue(wait_until(lambda: other.total() == 50), other.id)
            self.assertEqual(other.changes[-1][:2], ("a", 50))
        self.assertEqual(a.total(), 50)

    def test_ten_simultaneous_announcers_cut_once(self):
        agents = [self.agent("agent-%d" % i) for i in range(10)]
        time.sleep(0.3)
        epochs = [int(a.ask("epoch")) for a in agents]
        self.assertEqual(epochs, [0] * 10)
        # all ten saw a 429 for a request sent in epoch 0
        for a in agents:
            a.send("announce_at 0")
        time.sleep(1.0)
        totals = [a.total() for a in agents]
        self.assertEqual(totals, [50] * 10)  # one cut, not 0.1 %

    def test_reference_go_messages_are_understood(self):
        a = self.agent("c-agent", "-r", "openai-api", "-n", "60")
        sender = self.agent("sender", "-r", "other")
        time.sleep(0.2)
        path = os.path.join(SHARED, "wire",
                            "reference-go-capacity-updates.jsonl")
        with open(path) as f:
            first = f.readline().strip()
        self.assertEqual(sender.ask("raw ratelimit.capacity " + first), "success")
        self.assertTrue(wait_until(lambda: a.total() == 30))
        self.assertEqual(a.changes[-1][:2], ("agent-1", 30))

    def test_malformed_messages_are_dropped(self):
        a = self.agent("a")
        sender = self.agent("sender", "-r", "other")
        time.sleep(0.2)
        for junk in ('{"resource":"api","agent_id":"x","new_capacity":1e999}',
                     '{"resource":"api","agent_id":"x","new_capacity":-1}',
                     '{"resource":"api","agent_id":"x"}', "[]", "\x00\x01",
                     '{"resource":"api","agent_id":"x","new_capacity":NaN}'):
            sender.ask("raw ratelimit.capacity " + junk)
        sender.ask('raw ratelimit.capacity {"resource":"api",'
                   '"agent_id":"x","new_capacity":70,"reason":"ok"}')
        self.assertTrue(wait_until(lambda: a.total() == 70))
        self.assertEqual([c[:2] for c in a.changes], [("x", 70)])

    def test_recovery_in_each_process(self):
        a = self.agent("a", "-i", "300")
        b = self.agent("b", "-i", "300")
        time.sleep(0.2)
        a.send("announce")
        self.assertTrue(wait_until(lambda: b.total() == 50))
        # 50 -> 55 -> 60 -> ... -> 100, every 300 ms
        self.assertTrue(wait_until(lambda: b.total() == 100, timeout=8))
        self.assertTrue(wait_until(lambda: a.total() == 100, timeout=8))


class Rlctl(SwarmTest):
    def test_watch_and_status(self):
        ini = os.path.join(self.tmp(), "rlc.ini")
        with open(ini, "w") as f:
            # the embedded agents share equally (split_by_demand off)
            f.write("[limiter]\nnats_url = %s\nshare = equal\n"
                    "[api]\nhosts = x.example\n"
                    "capacity = 100\nwindow = 1m\nscope = swarm\n"
                    % self.nats.url)
        watch = subprocess.Popen([RLCTL, "-c", ini, "watch"],
                                 stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        a = self.agent("agent-a", "-s")
        b = self.agent("agent-b", "-s")
        self.assertTrue(wait_until(lambda: a.total() == 50))
        status = subprocess.run([RLCTL, "-c", ini, "status"],
                                capture_output=True, text=True, timeout=30)
        self.assertIn("2 live agents", status.stdout)
        self.assertRegex(status.stdout, r"agent-a +50")
        self.assertRegex(status.stdout, r"agent-b +50")
        a.send("announce HTTP 429 from x.example")
        self.assertTrue(wait_until(lambda: b.total() == 25))
        a.send("pause 12 Retry-After from x.example")
        self.assertTrue(wait_until(lambda: b.take() == 0))
        b.stop()
        time.sleep(0.5)
        watch.terminate()
        out = watch.communicate(timeout=10)[0]
        self.assertRegex(out, r"joined +agent-a")
        self.assertRegex(out, r"joined +agent-b")
        self.assertRegex(out, r"cut +api 100 -> 50 by agent-a "
                              r"\(HTTP 429 from x.example\)")
        self.assertRegex(out, r"left +agent-b")
        self.assertRegex(out, r"pause +api until \d\d:\d\d:\d\d "
                              r"\(1[12]\.\d s\) by agent-a "
                              r"\(Retry-After from x.example\)")


class Pauses(SwarmTest):
    def test_pause_holds_every_process_until_its_end(self):
        a = self.agent("a")
        b = self.agent("b")
        time.sleep(0.2)  # subscriptions in place on the server
        t0 = time.monotonic()
        a.send("pause 2 Retry-After from x.example")
        self.assertEqual(a.take(), 0)
        self.assertTrue(wait_until(lambda: b.take() == 0, timeout=1.5))
        self.assertEqual(b.take(), 0)
        # b resumes after the pause, within its delay (at most 200 ms)
        self.assertTrue(wait_until(lambda: b.take() == 1, timeout=5))
        self.assertGreater(time.monotonic() - t0, 1.9)
        self.assertLess(time.monotonic() - t0, 4.0)
        self.assertEqual(a.take(), 1)
        self.assertEqual(a.changes + b.changes, [])  # no capacity change


class FairShare(SwarmTest):
    def test_shares_follow_agents_joining_and_leaving(self):
        a = self.agent("a", "-s", "-n", "12", "-w", "1000")
        b = self.agent("b", "-s", "-n", "12", "-w", "1000")
        self.assertTrue(wait_until(lambda: a.total() == 6 and b.total() == 6))
        c = self.agent("c", "-s", "-n", "12", "-w", "1000")
        self.assertTrue(wait_until(
            lambda: (a.total(), b.total(), c.total()) == (4, 4, 4)))
        c.stop()  # leaves cleanly: shares return at once
        self.assertTrue(wait_until(lambda: a.total() == 6, timeout=3))
        d = self.agent("d", "-s", "-n", "12", "-w", "1000")
        self.assertTrue(wait_until(lambda: d.total() == 4))
        d.stop(kill=True)  # dies: its share returns after missed beats
        t0 = time.monotonic()
        self.assertTrue(wait_until(lambda: a.total() == 6, timeout=10))
        self.assertGreater(time.monotonic() - t0, 1.5)


class Preloaded(SwarmTest):
    """Unmodified programs under rlrun, with scope = swarm."""

    def setUp(self):
        super().setUp()
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from test_preload import Server  # the local test API
        self.api = Server()
        self.addCleanup(self.api.stop)

    def ini(self, capacity, window="1s", extra=""):
        path = os.path.join(self.tmp(), "rlc.ini")
        with open(path, "w") as f:
            f.write("[limiter]\nnats_url = %s\nagent_id = ${HOSTNAME}-${PID}"
                    "\nlog = info\n%s\n[api]\nhosts = 127.0.0.1\n"
                    "capacity = %d\nwindow = %s\nscope = swarm\n"
                    % (self.nats.url, extra, capacity, window))
        return path

    def run_agents(self, ini, n, seconds):
        code = ("import time, http.client, sys\n"
                "c = http.client.HTTPConnection('127.0.0.1', %d)\n"
                "end = time.monotonic() + %f\n"
                "while time.monotonic() < end:\n"
                "    c.request('GET', '/s'); c.getresponse().read()\n"
                % (self.api.port, seconds))
        return [subprocess.Popen([RLRUN_BIN, "-c", ini, "--", sys.executable,
                                  "-c", code], stderr=subprocess.PIPE,
                                 text=True) for _ in range(n)]

    def test_four_agents_share_the_swarm_budget(self):
        procs = self.run_agents(self.ini(20), 4, 6.0)
        errs = [p.communicate(timeout=60)[1] for p in procs]
        for p, err in zip(procs, errs):
            self.assertEqual(p.returncode, 0, err)
        self.assertIn("joined the swarm", errs[0])
        times = self.api.stats()["times"]
        t0 = times[0]
        # once the agents have heard each other (a heartbeat a second),
        # they hold the swarm's 20 per second together, not 80
        steady = [t for t in times if 2.5 <= t - t0 <= 5.5]
        rate = len(steady) / 3.0
        self.assertLess(abs(rate - 20) / 20, 0.10, "%.1f/s" % rate)

    def test_an_idle_agents_share_goes_to_the_busy_one(self):
        ini = self.ini(20)  # share = demand, the default
        # an idle agent: one request to join the swarm, then nothing until
        # its stdin closes
        idle = subprocess.Popen(
            [RLRUN_BIN, "-c", ini, "--", sys.executable, "-c",
             "import sys, urllib.request\n"
             "urllib.request.urlopen('%s/idle').read()\n"
             "sys.stdin.read()\n" % self.api.url],
            stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertTrue(wait_until(
            lambda: "/idle" in self.api.stats()["paths"], timeout=20))
        busy = self.run_agents(ini, 1, 7.0)[0]
        # rlctl status: what each asks for, and the split the agents
        # compute from it: the idle one what it asks (what it used, a
        # quarter more, decaying by half a heartbeat), the busy one the rest
        idle_line = r"asks [01]\.\d\d/s, fair share [01]\.\d\d/s"
        busy_line = (r"asks (for the most|\d+\.\d\d/s), "
                     r"fair share 1[89]\.\d\d/s")
        deadline = time.monotonic() + 6.0
        while True:
            status = subprocess.run([RLCTL, "-c", ini, "status"],
                                    capture_output=True, text=True,
                                    timeout=30)
            if (re.search(idle_line, status.stdout) and
                    re.search(busy_line, status.stdout) or
                    time.monotonic() > deadline):
                break
        busy_err = busy.communicate(timeout=60)[1]
        idle_err = idle.communicate("", timeout=30)[1]
        self.assertEqual(busy.returncode, 0, busy_err)
        self.assertEqual(idle.returncode, 0, idle_err)
        self.assertIn("2 live agents", status.stdout)
        self.assertIn("split by demand", status.stdout)
        self.assertRegex(status.stdout, idle_line)
        self.assertRegex(status.stdout, busy_line)
        times = [t for t, path in zip(self.api.stats()["times"],
                                      self.api.stats()["paths"])
                 if path == "/s"]
        t0 = times[0]
        # equal shares would hold the busy agent to 10/s; by demand it has
        # all but what the idle one asks for (about 1/s)
        steady = [t for t in times if 3.0 <= t - t0 <= 6.5]
        rate = len(steady) / 3.5
        self.assertGreater(rate, 16.0, "%.1f/s" % rate)
        self.assertLess(rate, 20 * 1.1, "%.1f/s" % rate)

    def test_a_429_seen_by_one_agent_cuts_them_all(self):
        ini = self.ini(40)
        procs = self.run_agents(ini, 2, 4.0)
        time.sleep(2.0)
        one = subprocess.run(
            [RLRUN_BIN, "-c", ini, "--", sys.executable, "-c",
             "import urllib.request, urllib.error\n"
             "try:\n"
             "    urllib.request.urlopen('%s/429')\n"
             "except urllib.error.HTTPError as e:\n"
             "    assert e.code == 429\n" % self.api.url],
            capture_output=True, text=True, timeout=30)
        self.assertEqual(one.returncode, 0, one.stderr)
        errs = [p.communicate(timeout=60)[1] for p in procs]
        self.assertIn("HTTP 429 from", one.stderr)
        for err in errs:
            self.assertRegex(err, r"rlc: api: cut to 20 by .* \(HTTP 429 "
                                  r"from 127.0.0.1\)")


    def test_a_retry_after_seen_by_one_agent_pauses_the_others(self):
        ini = self.ini(100)
        procs = self.run_agents(ini, 2, 5.0)
        time.sleep(1.5)
        hit = time.monotonic()
        one = subprocess.run(
            [RLRUN_BIN, "-c", ini, "--", sys.executable, "-c",
             "import urllib.request, urllib.error\n"
             "try:\n"
             "    urllib.request.urlopen('%s/429?retry_after=3')\n"
             "except urllib.error.HTTPError as e:\n"
             "    assert e.code == 429\n" % self.api.url],
            capture_output=True, text=True, timeout=30)
        self.assertEqual(one.returncode, 0, one.stderr)
        for p in procs:
            p.communicate(timeout=60)
        stats = self.api.stats()
        after = [t for t, st in zip(stats["times"], stats["statuses"])
                 if st == 200 and t > stats["times"][0] + 0.1]
        # the 429's arrival, then a silence of about two to three seconds
        # (Retry-After: 3 in whole seconds, minus the clock's fraction)
        t429 = [t for t, st in zip(stats["times"], stats["statuses"])
                if st == 429][0]
        # a request already charged before the pause crossed the bus may
        # still land in the few milliseconds after the 429
        gap = min([t for t in after if t > t429 + 0.1] or [t429 + 99]) - t429
        self.assertGreater(gap, 1.8, "the others went on after %.2f s" % gap)
        self.assertLess(gap, 4.5)
        self.assertLess(time.monotonic() - hit, 30)


class Outages(SwarmTest):
    def test_server_killed_and_restarted(self):
        a = self.agent("a", "-s", "-n", "10")
        b = self.agent("b", "-s", "-n", "10")
        self.assertTrue(wait_until(lambda: a.total() == 5 and b.total() == 5))
        self.nats.stop()
        self.assertTrue(wait_until(lambda: not a.connected(), timeout=5))
        # announcing while disconnected never holds the caller
        t0 = time.monotonic()
        a.send("announce")
        a.ask("total")
        self.assertLess(time.monotonic() - t0, 0.5)
        time.sleep(4)  # long past three heartbeats: nobody is forgotten
        self.assertEqual(b.total(), 5)
        self.nats.start()
        self.assertTrue(wait_until(lambda: a.connected() and b.connected(),
                                   timeout=15))
        time.sleep(0.3)
        b.send("announce")
        self.assertTrue(wait_until(lambda: a.total() < 5, timeout=5))

    def test_server_down_at_start(self):
        self.nats.stop()
        a = self.agent("a")
        self.assertFalse(a.connected())
        self.assertEqual(a.total(), 100)  # limiting all the same
        self.nats.start()
        self.assertTrue(wait_until(a.connected, timeout=15))


class TokenAuth(SwarmTest):
    token = "s3cret-token"

    def test_right_token_connects_wrong_is_refused(self):
        good = self.agent("good", "-t", self.token)
        self.assertTrue(wait_until(good.connected))
        # a token the server refuses is not worth retrying: an error
        bad = subprocess.run([AGENT, "-t", "wrong", self.nats.url, "bad"],
                             input="quit\n", capture_output=True, text=True,
                             timeout=30)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("message bus error", bad.stderr)
        good2 = self.agent("good2", "-t", self.token)
        self.assertTrue(wait_until(good2.connected))
        time.sleep(0.2)
        good.send("announce")
        self.assertTrue(wait_until(lambda: good2.total() == 50))


if __name__ == "__main__":
    unittest.main(verbosity=2)
