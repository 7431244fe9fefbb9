#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench_swarm.py - how fast a cut reaches a swarm: 20 agents, each its
own process (build/tests/swarm_agent) with a distributed limiter on a real
nats-server on loopback. One agent announces a cut; the time until every
other agent has applied it is one sample (CLOCK_REALTIME stamps printed by
the agents, all on this machine). Usage: bench_swarm.py BUILD-DIR
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request

AGENTS = 20
TRIALS = 100


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Agent:
    def __init__(self, exe, url, agent_id):
        self.proc = subprocess.Popen([exe, "-n", "1000000", url, agent_id],
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True,
                                     bufsize=1)
        self.changes = {}  # capacity -> realtime ns
        self.announced = []
        self.ready = threading.Event()
        self.acks = threading.Semaphore(0)
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        for line in self.proc.stdout:
            f = line.split()
            if f[0] == "ready":
                self.ready.set()
            elif f[0] == "change":
                self.changes[int(f[2])] = int(f[3])
            elif f[0] == "announced":
                self.announced.append(int(f[1]))
            elif f[0] == "set":
                self.acks.release()

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def preloaded_rate(build, url, seconds=6.0, busy=4, idle=0, share="demand"):
    """busy python agents under rlrun, scope = swarm, sharing 20/s with
    idle ones (one request, then asleep): the rate of the busy ones the API
    sees once they have heard each other (from 2.5 s on)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    api = subprocess.Popen([sys.executable, os.path.join(
        root, "tests", "servers", "api_server.py"), "--port", "0"],
        stdout=subprocess.PIPE, text=True)
    port = int(api.stdout.readline().split()[1])
    ini = "/tmp/rlc-bench-swarm-%d.ini" % os.getpid()
    with open(ini, "w") as f:
        f.write("[limiter]\nnats_url = %s\nshare = %s\n[api]\n"
                "hosts = 127.0.0.1\ncapacity = 20\nwindow = 1s\n"
                "scope = swarm\n" % (url, share))
    code = ("import time, http.client\n"
            "c = http.client.HTTPConnection('127.0.0.1', %d)\n"
            "end = time.monotonic() + %f\n"
            "while time.monotonic() < end:\n"
            "    c.request('GET', '/b'); c.getresponse().read()\n"
            % (port, seconds))
    asleep = ("import time, urllib.request\n"
              "urllib.request.urlopen('http://127.0.0.1:%d/i').read()\n"
              "time.sleep(%f)\n" % (port, seconds))
    procs = [subprocess.Popen([os.path.join(build, "rlrun"), "-c", ini,
                               "--", sys.executable, "-c", code])
             for _ in range(busy)]
    procs += [subprocess.Popen([os.path.join(build, "rlrun"), "-c", ini,
                                "--", sys.executable, "-c", asleep])
              for _ in range(idle)]
    for p in procs:
        p.wait(timeout=60)
    with urllib.request.urlopen("http://127.0.0.1:%d/stats" % port) as r:
        stats = json.load(r)
    times = [t for t, path in zip(stats["times"], stats["paths"])
             if path == "/b"]
    api.terminate()
    api.wait()
    os.unlink(ini)
    steady = [t for t in times if 2.5 <= t - times[0] <= 5.5]
    return len(steady) / 3.0


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    exe = os.path.join(build, "tests", "swarm_agent")
    server = shutil.which("nats-server") or "/usr/sbin/nats-server"
    port = free_port()
    nats = subprocess.Popen([server, "-a", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = "nats://127.0.0.1:%d" % port
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        agents = [Agent(exe, url, "agent-%02d" % i) for i in range(AGENTS)]
        for a in agents:
            a.ready.wait(10)
        time.sleep(0.5)
        all_applied, each = [], []
        for t in range(TRIALS):
            for a in agents:  # back to full capacity everywhere
                a.send("set 1000000")
            for a in agents:
                a.acks.acquire(timeout=10)
            sender = agents[t % AGENTS]
            sender.send("announce")
            deadline = time.monotonic() + 5
            others = [a for a in agents if a is not sender]
            while time.monotonic() < deadline and not all(
                    500000 in a.changes for a in others):
                time.sleep(0.001)
            t0 = sender.announced[-1]
            lat = [(a.changes.pop(500000) - t0) / 1e6 for a in others
                   if 500000 in a.changes]
            sender.changes.pop(500000, None)
            if len(lat) == len(others):
                all_applied.append(max(lat))
                each.extend(lat)
        for a in agents:
            a.send("quit")
        for a in agents:
            a.proc.wait(timeout=10)
        rate = preloaded_rate(build, url)
        by_equal = preloaded_rate(build, url, busy=1, idle=3, share="equal")
        by_demand = preloaded_rate(build, url, busy=1, idle=3)
    finally:
        nats.kill()
        nats.wait()
    print()
    print("%-44s %10s %10s %10s" % ("cut convergence, %d agents (processes)"
                                    % AGENTS, "p50 ms", "p99 ms", "target"))
    print("%-44s %10.2f %10.2f %10s" % ("until all applied it (%d cuts)"
                                        % len(all_applied),
                                        percentile(all_applied, 50),
                                        percentile(all_applied, 99),
                                        "p99<=10"))
    print("%-44s %10.2f %10.2f" % ("until each one applied it",
                                   percentile(each, 50),
                                   percentile(each, 99)))
    print()
    print("%-44s %10s %10s %10s" % ("4 preloaded agents sharing 20/s", "req/s",
                                    "x 20/s", "target"))
    print("%-44s %10.1f %10.3f %10s" % ("python http.client under rlrun, "
                                        "steady", rate, rate / 20,
                                        "0.95..1.05"))
    print()
    print("%-44s %10s %10s" % ("1 busy + 3 idle agents sharing 20/s",
                               "busy req/s", "x 20/s"))
    print("%-44s %10.1f %10.3f" % ("share = equal", by_equal, by_equal / 20))
    print("%-44s %10.1f %10.3f" % ("share = demand", by_demand,
                                   by_demand / 20))


if __name__ == "__main__":
    main()
