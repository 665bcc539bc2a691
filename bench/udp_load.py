#!/usr/bin/env python3
"""udp_load.py - UDP echo load: datagrams per second and datagrams lost.

Opens --sockets UDP sockets on 127.0.0.1, each connected to the target
127.0.0.1:--port (an echo server, or a relay in front of one).  Each keeps
--window datagrams of --size bytes outstanding: every reply lets it send
the next one.  A datagram with no reply after --deadline seconds counts
as lost and is replaced, so losses do not shrink the window.  Runs for
--duration seconds, then waits --deadline for the last replies.

Each datagram carries its socket and sequence number; replies are read
--size bytes at a time, so an echo that glues datagrams together (socat
through a pipe does) is still counted right ("received" counts echoed
datagrams, "replies" the datagrams that carried them back), replies that
come after their deadline count as late, not twice, and a reply that
reaches the wrong socket or is cut short counts as stray.

With --watch PID (and --tree for its descendants) it also reports the CPU
seconds those processes used during the run, and its own.

Prints one JSON object.  Loopback only; bounded by --duration.

SPDX-License-Identifier: MIT
"""
import argparse
import json
import os
import resource
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchutil import cpu_seconds, descendants  # noqa: E402

HOST = "127.0.0.1"
HEADER = struct.Struct("!IQ")  # socket index, sequence number


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sockets", type=int, default=1)
    p.add_argument("--window", type=int, default=16)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--deadline", type=float, default=0.25,
                   help="seconds before an unanswered datagram is lost")
    p.add_argument("--watch", type=int, action="append", default=[])
    p.add_argument("--tree", action="store_true")
    a = p.parse_args()
    if a.size < HEADER.size:
        p.error("--size must be at least %d" % HEADER.size)
    return a


class Peer:
    """One client socket and its window of datagrams in flight."""

    def __init__(self, index, args):
        self.index = index
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.sock.connect((HOST, args.port))
        self.sock.setblocking(False)
        self.out = {}  # seq -> time sent, oldest first
        self.seq = 0
        self.buf = bytearray(args.size)
        self.buf[HEADER.size:] = b"x" * (args.size - HEADER.size)

    def send(self, now):
        HEADER.pack_into(self.buf, 0, self.index, self.seq)
        try:
            self.sock.send(self.buf)
        except BlockingIOError:
            return False  # the socket buffer is full: try again later
        except ConnectionRefusedError:
            return False  # ICMP from an earlier datagram: not this one
        self.out[self.seq] = now
        self.seq += 1
        return True


def cpu_of(args):
    if not args.watch:
        return 0.0
    pids = descendants(args.watch) if args.tree else args.watch
    return cpu_seconds(pids)


def own_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
    args = parse_args()
    size = args.size
    peers = [Peer(i, args) for i in range(args.sockets)]
    by_fd = {p.sock.fileno(): p for p in peers}
    ep = select.epoll()
    for fd in by_fd:
        ep.register(fd, select.EPOLLIN)

    sent = received = lost = late = stray = replies = 0
    rbuf = bytearray(65536)
    rview = memoryview(rbuf)
    unpack = HEADER.unpack_from

    cpu0, own0 = cpu_of(args), own_cpu()
    start = now = time.monotonic()
    end = start + args.duration
    next_scan = start + args.deadline / 4
    for p in peers:
        for _ in range(args.window):
            if p.send(now):
                sent += 1

    sending = True
    while True:
        now = time.monotonic()
        if sending and now >= end:
            sending = False
            cpu1, own1 = cpu_of(args), own_cpu()
            in_time = received
            # no more sends: wait for the last replies
            end = now + args.deadline
        if not sending and (now >= end or
                            not any(p.out for p in peers)):
            break
        if now >= next_scan:
            # the oldest first: stop at the first one still in time
            limit = now - args.deadline
            for p in peers:
                for seq, t in list(p.out.items()):
                    if t > limit:
                        break
                    del p.out[seq]
                    lost += 1
                if sending:
                    while len(p.out) < args.window and p.send(now):
                        sent += 1
            next_scan = now + args.deadline / 4
        for fd, _ in ep.poll(0.05):
            p = by_fd[fd]
            while True:
                try:
                    n = p.sock.recv_into(rview)
                except (BlockingIOError, InterruptedError):
                    break
                except ConnectionRefusedError:
                    continue  # nobody at the target (yet): lost anyway
                replies += 1
                for off in range(0, n - size + 1, size):
                    idx, seq = unpack(rbuf, off)
                    if idx != p.index:
                        stray += 1
                    elif p.out.pop(seq, None) is not None:
                        received += 1
                    else:
                        late += 1
                if n % size:
                    stray += 1
            if sending:
                while len(p.out) < args.window and p.send(now):
                    sent += 1

    lost += sum(len(p.out) for p in peers)
    print(json.dumps({
        "sockets": args.sockets,
        "window": args.window,
        "size": size,
        "duration": args.duration,
        "sent": sent,
        "received": received,
        "replies": replies,
        "rate": round(in_time / args.duration),
        "lost": lost,
        "late": late,
        "stray": stray,
        "server_cpu": round(cpu1 - cpu0, 2),
        "client_cpu": round(own1 - own0, 2),
    }))


if __name__ == "__main__":
    main()
