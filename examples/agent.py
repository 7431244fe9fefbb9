#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""agent.py - an agent that knows nothing about rate limits.

Four worker threads each complete TASKS tasks; a task is one call to the
API, retried on HTTP 429 after a short pause, the way many SDKs do. It
prints one JSON line: calls made, 200s, 429s, tasks done, seconds taken.
Usage: agent.py URL [TASKS]
"""
import json
import sys
import threading
import time
import urllib.error
import urllib.request

url = sys.argv[1]
tasks = int(sys.argv[2]) if len(sys.argv) > 2 else 10
counts = {"calls": 0, "ok": 0, "429": 0, "done": 0, "gave_up": 0}
lock = threading.Lock()


def count(key):
    with lock:
        counts[key] += 1


def worker(n):
    for task in range(tasks):
        for attempt in range(20):
            count("calls")
            try:
                with urllib.request.urlopen("%s/task/%d/%d" % (url, n, task),
                                            timeout=30) as r:
                    r.read()
                count("ok")
                count("done")
                break
            except urllib.error.HTTPError as e:
                if e.code != 429:
                    raise
                count("429")
                time.sleep(0.2)  # "back off" and try again
        else:
            count("gave_up")


start = time.monotonic()
threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
counts["seconds"] = round(time.monotonic() - start, 2)
print(json.dumps(counts))
