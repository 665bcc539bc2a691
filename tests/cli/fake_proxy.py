#!/usr/bin/env python3
# fake_proxy.py MODE [ARG]: a proxy that misbehaves on purpose, for
# proxy.bats.  Listens on 127.0.0.1 port 0, prints "listening on
# tcp:127.0.0.1:PORT" on stderr, serves each client in a thread and prints
# "request HEX" on stdout for each request it reads (the bytes after the
# greeting, for SOCKS5).  MODEs:
#   socks5-reply CODE   greeting answered, CONNECT answered with CODE
#   socks5-garbage      answers the greeting with an HTTP error page
#   socks5-short        answers the greeting with one byte, then closes
#   socks5-silent       reads the greeting and never answers
#   socks5-ahead        success and the first data ("banner") in one
#                       segment, then echoes
#   socks4-reply CODE   answers a SOCKS4 request with CODE (hex, e.g. 5b)
#   http-status LINE    answers CONNECT with "LINE" and an empty line
#   http-long           a header block longer than any proxy's
#   http-ahead          "200" and the first data ("banner") in one send,
#                       then echoes
import socket
import sys
import threading

mode = sys.argv[1]
arg = sys.argv[2] if len(sys.argv) > 2 else ""


def read_exact(c, n):
    data = b""
    while len(data) < n:
        part = c.recv(n - len(data))
        if not part:
            raise EOFError
        data += part
    return data


def read_head(c):
    data = b""
    while not data.endswith(b"\r\n\r\n") and len(data) < 65536:
        part = c.recv(1)
        if not part:
            raise EOFError
        data += part
    return data


def echo(c):
    while True:
        d = c.recv(65536)
        if not d:
            return
        c.sendall(d)


def socks5_request(c):
    """The CONNECT request after a no-auth greeting; printed in hex."""
    ver, n = read_exact(c, 2)
    read_exact(c, n)
    c.sendall(b"\x05\x00")
    head = read_exact(c, 4)
    atyp = head[3]
    if atyp == 1:
        rest = read_exact(c, 4 + 2)
    elif atyp == 4:
        rest = read_exact(c, 16 + 2)
    else:
        ln = read_exact(c, 1)
        rest = ln + read_exact(c, ln[0] + 2)
    print("request", (head + rest).hex(), flush=True)


def serve(c):
    with c:
        try:
            if mode == "socks5-reply":
                socks5_request(c)
                c.sendall(bytes([5, int(arg), 0, 1, 0, 0, 0, 0, 0, 0]))
                echo(c)
            elif mode == "socks5-garbage":
                read_exact(c, 3)
                c.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
            elif mode == "socks5-short":
                read_exact(c, 3)
                c.sendall(b"\x05")
            elif mode == "socks5-silent":
                read_exact(c, 3)
                c.recv(1)       # until the client gives up
            elif mode == "socks5-ahead":
                socks5_request(c)
                c.sendall(b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x50"
                          b"banner\n")
                echo(c)
            elif mode == "socks4-reply":
                head = read_exact(c, 8)
                while not head.endswith(b"\0"):
                    head += read_exact(c, 1)
                if head[4:7] == b"\0\0\0" and head[7] != 0:
                    head += read_exact(c, 1)    # SOCKS4a: and a name
                    while not head.endswith(b"\0"):
                        head += read_exact(c, 1)
                print("request", head.hex(), flush=True)
                c.sendall(b"\x00" + bytes.fromhex(arg) + b"\0" * 6)
                echo(c)
            elif mode == "http-status":
                head = read_head(c)
                print("request", head.hex(), flush=True)
                c.sendall(arg.encode() + b"\r\n\r\n")
                echo(c)
            elif mode == "http-long":
                read_head(c)
                c.sendall(b"HTTP/1.1 200 OK\r\nX-Filler: " +
                          b"a" * 20000 + b"\r\n\r\n")
            elif mode == "http-ahead":
                read_head(c)
                c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n"
                          b"banner\n")
                echo(c)
        except (EOFError, OSError):
            pass


s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
print("listening on tcp:127.0.0.1:%d" % s.getsockname()[1],
      file=sys.stderr, flush=True)
s.settimeout(60)
while True:
    try:
        conn, _ = s.accept()
    except socket.timeout:
        break
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
