#!/bin/sh
# SPDX-License-Identifier: MIT
# demo.sh - the same unmodified agent against an API that allows 5
# requests per second: first on its own, then under rlrun. Prints what the
# agent and the API saw, side by side. With --https the API speaks HTTPS
# (a certificate made for the run, trusted through SSL_CERT_FILE): rlc
# then counts the requests and reads the 429s inside TLS.
# Usage: examples/demo.sh [BUILD-DIR] [--https]
set -eu
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
tmp=$(mktemp -d)
trap 'kill "$server" 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM

scheme=http
tls=""
if [ "${2:-}" = "--https" ]; then
    scheme=https
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -nodes -days 1 -subj /CN=localhost \
        -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
        -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
    tls="--tls $tmp/cert.pem $tmp/key.pem"
    export SSL_CERT_FILE="$tmp/cert.pem" CURL_CA_BUNDLE="$tmp/cert.pem"
fi

# shellcheck disable=SC2086
python3 "$top/tests/servers/api_server.py" --rate 5 --burst 5 \
    --retry-after 1 --lifetime 300 $tls >"$tmp/port" &
server=$!
for _ in $(seq 100); do
    grep -q PORT "$tmp/port" 2>/dev/null && break
    sleep 0.1
done
port=$(awk '{print $2}' "$tmp/port")
api=$scheme://localhost:$port

stats() { # what the API saw: requests, 429s, rate of 200s over the run
    python3 -c '
import json, sys, urllib.request
s = json.load(urllib.request.urlopen(sys.argv[1] + "/stats"))
t = s["times"]
span = t[-1] - t[0] if len(t) > 1 else 1
print(s["requests"], s["limited"], "%.1f" % (s["ok"] / span))
' "$api"
}

echo "The API ($scheme) allows 5 requests per second. An agent of 4 threads has"
echo "40 tasks to do, one API call each, retrying on 429."
echo
echo "== without rlc: python3 examples/agent.py"
python3 "$here/agent.py" "$api" 10 >"$tmp/plain.json"
stats >"$tmp/plain.api"
curl -s "$api/reset" >/dev/null

echo "== with rlc:    rlrun -c examples/demo.ini -- python3 examples/agent.py"
"$build/rlrun" -c "$here/demo.ini" -- python3 "$here/agent.py" "$api" 10 \
    >"$tmp/rlc.json" 2>"$tmp/rlc.err"
stats >"$tmp/rlc.api"
grep '^rlc:' "$tmp/rlc.err" | head -5 || true

python3 - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
a, b = (json.load(open("%s/%s.json" % (d, n))) for n in ("plain", "rlc"))
pa, pb = (open("%s/%s.api" % (d, n)).read().split() for n in ("plain", "rlc"))
rows = [
    ("tasks done", a["done"], b["done"]),
    ("API calls made", a["calls"], b["calls"]),
    ("HTTP 429 received", a["429"], b["429"]),
    ("seconds taken", a["seconds"], b["seconds"]),
    ("requests the API saw", pa[0], pb[0]),
    ("429s the API sent", pa[1], pb[1]),
    ("successes per second", pa[2], pb[2]),
]
print()
print("%-24s %14s %14s" % ("", "without rlc", "with rlrun"))
for name, x, y in rows:
    print("%-24s %14s %14s" % (name, x, y))
PY
