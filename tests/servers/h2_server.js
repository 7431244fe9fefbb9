// SPDX-License-Identifier: MIT
// h2_server.js - a local HTTP/2 API over TLS (node's http2 module) for the
// preload's tests: every path answers 200, /429 answers 429 (with
// retry-after from ?retry_after=S), /stats answers the arrivals as JSON
// in api_server.py's shape (times in seconds of a monotonic clock).
// usage: node h2_server.js CERT KEY   (prints "PORT <n>", stops on stdin EOF)
'use strict';
const http2 = require('http2');
const fs = require('fs');

const arrivals = [];
const now = () => Number(process.hrtime.bigint()) / 1e9;

const server = http2.createSecureServer({
  cert: fs.readFileSync(process.argv[2]),
  key: fs.readFileSync(process.argv[3]),
  allowHTTP1: true,
});

// The compatibility API answers HTTP/2 streams and, for /stats from a
// plain urllib, HTTP/1.1 alike.
server.on('request', (req, res) => {
  const url = new URL(req.url, 'https://localhost');
  if (url.pathname === '/stats') {
    res.writeHead(200, {'content-type': 'application/json'});
    res.end(JSON.stringify({
      requests: arrivals.length,
      times: arrivals.map((a) => a[0]),
      statuses: arrivals.map((a) => a[1]),
      protocols: arrivals.map((a) => a[2]),
    }));
    return;
  }
  const status = url.pathname === '/429' ? 429 : 200;
  arrivals.push([now(), status, req.httpVersion === '2.0' ? 'h2' : 'http/1.1']);
  const h = {'content-type': 'text/plain'};
  if (status === 429 && url.searchParams.has('retry_after'))
    h['retry-after'] = url.searchParams.get('retry_after');
  res.writeHead(status, h);
  res.end(status === 429 ? 'rate limited\n' : 'ok\n');
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write('PORT ' + server.address().port + '\n');
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
