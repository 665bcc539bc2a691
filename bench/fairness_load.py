#!/usr/bin/env python3
"""fairness_load.py - one UDP peer floods a server while another measures
its round trips, to see whether the flood holds other sessions up.

  fairness_load.py flood PORT SECS        send 32-byte datagrams from one
                                          socket as fast as it can for SECS
                                          seconds; prints "flood RATE/s"
  fairness_load.py probe PORT COUNT       COUNT probes from another socket,
                                          sent 10 ms apart whatever comes
                                          back; prints one JSON line

SPDX-License-Identifier: MIT
"""
import json
import select
import socket
import sys
import time


def flood(port, secs):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    s.connect(("127.0.0.1", port))
    msg = b"f" * 32
    sent = 0
    end = time.monotonic() + secs
    while time.monotonic() < end:
        for _ in range(1000):
            try:
                s.send(msg)
                sent += 1
            except (BlockingIOError, ConnectionRefusedError):
                pass
    print("flood %d/s" % (sent / secs), flush=True)


def probe(port, count):
    """Send count probes 10 ms apart whatever comes back (so a lost one
    does not hold the next up and every probe is sent during the flood),
    collect the answers as they come, then wait 2 s for the last ones."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    s.connect(("127.0.0.1", port))
    sent_at, rtts = {}, []

    def collect(until, last=False):
        while True:
            left = until - time.monotonic()
            if left <= 0 or (last and not sent_at):
                return
            if not select.select([s], [], [], left)[0]:
                continue
            try:
                msg = s.recv(100)
            except (BlockingIOError, ConnectionRefusedError):
                continue
            start = sent_at.pop(msg, None)
            if start is not None:
                rtts.append((time.monotonic() - start) * 1000.0)

    next_send = time.monotonic()
    for i in range(count):
        msg = b"probe %d" % i
        try:
            s.send(msg)
        except (BlockingIOError, ConnectionRefusedError):
            pass
        sent_at[msg] = time.monotonic()
        next_send += 0.01
        collect(next_send)
    collect(time.monotonic() + 2, last=True)
    lost = len(sent_at)
    rtts.sort()

    def pct(p):
        return round(rtts[min(len(rtts) - 1, int(len(rtts) * p))], 2) \
            if rtts else None

    print(json.dumps({"answered": len(rtts), "lost": lost,
                      "median_ms": pct(0.5), "p99_ms": pct(0.99),
                      "max_ms": round(rtts[-1], 2) if rtts else None}),
          flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "flood":
        flood(int(sys.argv[2]), float(sys.argv[3]))
    else:
        probe(int(sys.argv[2]), int(sys.argv[3]))
