#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""connect_proxy.py - an HTTP CONNECT proxy on loopback for the tests.

Answers each CONNECT host:port with 200 and relays bytes both ways until
either side closes. Prints "PORT <n>" once listening; stops when its stdin
closes.
"""
import socket
import sys
import threading


def pipe(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(client):
    head = b""
    while b"\r\n\r\n" not in head:
        data = client.recv(4096)
        if not data:
            client.close()
            return
        head += data
    line = head.split(b"\r\n", 1)[0].split()
    if len(line) < 2 or line[0] != b"CONNECT":
        client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\n"
                       b"Content-Length: 0\r\n\r\n")
        client.close()
        return
    host, port = line[1].rsplit(b":", 1)
    upstream = socket.create_connection(("127.0.0.1", int(port)))
    client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    threading.Thread(target=pipe, args=(upstream, client),
                     daemon=True).start()
    pipe(client, upstream)


def main():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    print("PORT %d" % listener.getsockname()[1], flush=True)

    def accept():
        while True:
            client, _ = listener.accept()
            threading.Thread(target=serve, args=(client,),
                             daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    sys.stdin.read()


if __name__ == "__main__":
    main()
