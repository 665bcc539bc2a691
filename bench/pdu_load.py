#!/usr/bin/env python3
"""pdu_load.py - pipelined length-prefixed PDUs through a TCP echo path.

Connects to 127.0.0.1:--port (a relay in front of an echo server, or the
echo server itself) and streams PDUs of a --size byte payload, each after
a 4-byte big-endian length (u32be: the length counts the payload only),
keeping at most --window bytes sent but not yet echoed.  Every echoed
byte is checked against what was sent (the payloads differ from one PDU
to the next), so a relay that dropped, reordered or cut PDUs fails.

Counts whole PDUs echoed in --duration seconds and prints one JSON
object; with --watch PID also the CPU seconds that process (with --tree,
and its descendants) used.

SPDX-License-Identifier: MIT
"""
import argparse
import json
import os
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchutil import cpu_seconds, descendants  # noqa: E402

HOST = "127.0.0.1"
PDUS_PER_BLOCK = 1024


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--size", type=int, default=64, help="payload bytes")
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--window", type=int, default=1 << 20,
                   help="bytes in flight at most")
    p.add_argument("--watch", type=int, action="append", default=[])
    p.add_argument("--tree", action="store_true",
                   help="count the watched processes' descendants too")
    return p.parse_args()


def cpu_of(args):
    pids = descendants(args.watch) if args.tree else args.watch
    return cpu_seconds(pids)


def make_block(size):
    """PDUS_PER_BLOCK framed PDUs, each payload different."""
    out = bytearray()
    for i in range(PDUS_PER_BLOCK):
        payload = (b"%08d" % i + bytes(range(256)) * (size // 256 + 1))
        out += struct.pack("!I", size) + payload[:size]
    return bytes(out)


def main():
    args = parse_args()
    block = make_block(args.size)
    blen = len(block)
    pdu = 4 + args.size
    twice = memoryview(block + block)  # any blen-long slice, contiguous

    s = socket.create_connection((HOST, args.port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setblocking(False)
    rbuf = bytearray(blen)
    rview = memoryview(rbuf)

    sent = got = 0
    cpu0 = cpu_of(args)
    start = time.monotonic()
    end = start + args.duration
    poll = select.poll()
    fd = s.fileno()
    error = None
    while True:
        now = time.monotonic()
        if now >= end:
            break
        room = args.window - (sent - got)
        poll.register(fd, select.POLLIN | (select.POLLOUT if room > 0 else 0))
        events = poll.poll(100)
        for _, ev in events:
            if ev & select.POLLIN:
                try:
                    n = s.recv_into(rview, blen)
                except BlockingIOError:
                    n = -1
                if n == 0:
                    error = "connection closed after %d bytes" % got
                    break
                if n > 0:
                    off = got % blen
                    if rview[:n] != twice[off:off + n]:
                        error = "echo differs from what was sent " \
                                "near byte %d" % got
                        break
                    got += n
            if ev & (select.POLLERR | select.POLLHUP) and not \
                    ev & select.POLLIN:
                error = "connection failed"
                break
            if ev & select.POLLOUT and room > 0:
                off = sent % blen
                try:
                    sent += s.send(twice[off:off + min(room, blen)])
                except BlockingIOError:
                    pass
        if error:
            break
    elapsed = time.monotonic() - start
    cpu = cpu_of(args) - cpu0
    s.close()
    print(json.dumps({
        "size": args.size,
        "seconds": round(elapsed, 3),
        "bytes": got,
        "pdus": got // pdu,
        "rate": round(got // pdu / elapsed),
        "server_cpu": round(cpu, 2),
        "error": error,
    }))
    return 1 if error else 0


if __name__ == "__main__":
    sys.exit(main())
