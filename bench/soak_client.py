#!/usr/bin/env python3
"""soak_client.py - the python side of bench/soak.sh.

  soak_client.py backend --unix PATH
      asyncio echo servers on loopback: TCP on 127.0.0.1 port 0, a unix
      stream socket at PATH and UDP on 127.0.0.1 port 0.  Prints tsock's
      readiness lines on stderr ("listening on tcp:127.0.0.1:PORT",
      "listening on unix:PATH", "listening on udp:127.0.0.1:PORT") and
      runs until killed.

  soak_client.py drive --seconds N [--seed S] [--watch NAME=PID]...
                       [--tcp ADDR]... [--pdu ADDR]... [--udp ADDR]...
                       [--udp-framed ADDR]... [--workers K]
      Load for SECONDS through the relays: each stream address (tcp:
      127.0.0.1:PORT or unix:PATH) gets K workers opening connections one
      after another, short ones (1 B to 256 KiB) and 1 in 20 bulk (1 to
      16 MiB at full speed), and K/2 workers of long ones (64 KiB to
      4 MiB in chunks with pauses, over 2 to 15 s); --pdu addresses carry u32be PDUs of random sizes; UDP
      addresses get K workers, each a series of sessions (one socket
      each) of 1 to 300 datagrams of random sizes, one in flight, and
      --udp-framed ones carry at most 16 KiB a datagram (their stream
      side is u16be framed).
      Every byte is checked: the sha256 and length of what each
      connection sent against what came back, and each datagram's reply
      byte for byte (a reply carrying another session's tag counts as a
      mismatch).  Replies that never come are "lost" (not a mismatch:
      UDP may drop); a stream connection that fails (reset, timeout,
      early end) is an error.
      The watched tsock processes (NAME=PID) are sampled for open fds and
      VmRSS: at the start (before any traffic), every 5 s under load, and
      at the end once idle again (after up to DRAIN seconds for streams
      to close and datagram sessions to expire).  Prints a report; exits
      1 on any mismatch, stream error, fd growth or a dead tsock.

Loopback and unix sockets only; every wait is bounded.
SPDX-License-Identifier: MIT
"""
import argparse
import asyncio
import hashlib
import os
import random
import socket
import struct
import sys
import time

KIB = 1024
MIB = 1024 * 1024

# ---------------------------------------------------------------- backend


async def echo_stream(reader, writer):
    try:
        while True:
            data = await reader.read(256 * KIB)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        writer.write_eof()
        await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


class EchoDgram(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.transport.sendto(data, addr)

    def error_received(self, exc):
        pass


async def backend(args):
    loop = asyncio.get_running_loop()
    tcp = await asyncio.start_server(echo_stream, "127.0.0.1", 0,
                                     backlog=1024, limit=256 * KIB)
    unix = await asyncio.start_unix_server(echo_stream, args.unix,
                                           backlog=1024, limit=256 * KIB)
    udp_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * MIB)
    udp_sock.bind(("127.0.0.1", 0))
    await loop.create_datagram_endpoint(EchoDgram, sock=udp_sock)
    port = tcp.sockets[0].getsockname()[1]
    print("listening on tcp:127.0.0.1:%d" % port, file=sys.stderr)
    print("listening on unix:%s" % args.unix, file=sys.stderr)
    print("listening on udp:127.0.0.1:%d" % udp_sock.getsockname()[1],
          file=sys.stderr, flush=True)
    await asyncio.Event().wait()

# ---------------------------------------------------------------- stats


class Stats:
    def __init__(self):
        self.conns = 0            # stream connections checked intact
        self.bytes = 0            # stream bytes sent (and checked back)
        self.pdus = 0
        self.dgrams = 0           # datagrams whose reply was checked
        self.dgram_bytes = 0
        self.sessions = 0
        self.lost = 0
        self.late = 0
        self.mismatches = 0
        self.errors = 0
        self.notes = []           # the first few problems, for the report

    def problem(self, kind, text):
        if kind == "mismatch":
            self.mismatches += 1
        else:
            self.errors += 1
        if len(self.notes) < 20:
            self.notes.append("%s: %s" % (kind, text))


ST = Stats()

# ---------------------------------------------------------------- streams


async def open_stream(addr):
    kind, rest = addr.split(":", 1)
    if kind == "unix":
        return await asyncio.open_unix_connection(rest, limit=MIB)
    host, port = rest.rsplit(":", 1)
    return await asyncio.open_connection(host, int(port), limit=MIB)


def log_size(rng, lo, hi):
    """A size from lo to hi, uniform in log scale (many small, some big)."""
    return int(round(2 ** rng.uniform(lo.bit_length() - 1,
                                      hi.bit_length() - 1)))


def plan_stream(rng, framed, long, deadline):
    """(chunks, pauses, kind): what one connection sends."""
    if long:
        kind, total, pause = "long", log_size(rng, 64 * KIB, 4 * MIB), 1
    elif rng.random() < 0.95:
        kind, total, pause = "short", log_size(rng, 1, 256 * KIB), 0
    else:
        kind, total, pause = "bulk", log_size(rng, 1 * MIB, 16 * MIB), 0
    if framed:
        pdus, size = [], 0
        while size < total:
            n = (rng.randrange(1 * MIB) if rng.random() < 0.01
                 else log_size(rng, 1, 64 * KIB) - 1)
            pdus.append(struct.pack(">I", n) + os.urandom(n))
            size += 4 + n
        data = b"".join(pdus)
        ST.pdus += len(pdus)
    else:
        data = os.urandom(total)
    # cut at random places: writes that split headers and PDUs
    chunks, i = [], 0
    while i < len(data):
        n = log_size(rng, 1, 256 * KIB)
        chunks.append(data[i:i + n])
        i += n
    if pause:
        # a long connection: spread over up to 15 s, within the deadline
        span = min(rng.uniform(2, 15), max(0.5, deadline - time.monotonic()))
        pauses = [span / max(1, len(chunks))] * len(chunks)
    else:
        pauses = [0] * len(chunks)
    return chunks, pauses, kind


async def stream_conn(addr, rng, framed, long, deadline):
    chunks, pauses, kind = plan_stream(rng, framed, long, deadline)
    sent_hash, got_hash = hashlib.sha256(), hashlib.sha256()
    total = sum(len(c) for c in chunks)
    got = 0
    what = "%s %s connection of %d bytes via %s" % (
        kind, "PDU" if framed else "byte", total, addr)
    try:
        reader, writer = await asyncio.wait_for(open_stream(addr), 10)
    except (OSError, asyncio.TimeoutError) as e:
        ST.problem("error", "%s: connect: %r" % (what, e))
        return

    async def send():
        for chunk, pause in zip(chunks, pauses):
            writer.write(chunk)
            sent_hash.update(chunk)
            await writer.drain()
            if pause:
                await asyncio.sleep(pause)
        writer.write_eof()

    async def receive():
        nonlocal got
        while True:
            data = await asyncio.wait_for(reader.read(MIB), 30)
            if not data:
                return
            got_hash.update(data)
            got += len(data)

    results = await asyncio.gather(send(), receive(), return_exceptions=True)
    writer.close()
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        ST.problem("error", "%s: %r after %d bytes back" % (
            what, failures[0], got))
        return
    if got != total or sent_hash.digest() != got_hash.digest():
        ST.problem("mismatch", "%s: %d bytes back, sha256 %s, sent %s" % (
            what, got, got_hash.hexdigest()[:16], sent_hash.hexdigest()[:16]))
        return
    ST.conns += 1
    ST.bytes += total


async def stream_worker(addr, seed, framed, long, deadline):
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        await stream_conn(addr, rng, framed, long, deadline)

# ---------------------------------------------------------------- datagrams


class Replies(asyncio.DatagramProtocol):
    def __init__(self):
        self.queue = asyncio.Queue()

    def datagram_received(self, data, addr):
        self.queue.put_nowait(data)

    def error_received(self, exc):
        self.queue.put_nowait(exc)


async def udp_session(addr, rng, max_size, deadline):
    loop = asyncio.get_running_loop()
    host, port = addr.split(":", 1)[1].rsplit(":", 1)
    transport, proto = await loop.create_datagram_endpoint(
        Replies, remote_addr=(host, int(port)))
    tag = os.urandom(8)
    count = rng.randrange(1, 301)
    slow = rng.random() < 0.2
    try:
        for seq in range(count):
            if time.monotonic() >= deadline:
                break
            size = (rng.randrange(16, max_size + 1) if rng.random() < 0.02
                    else log_size(rng, 16, 4 * KIB))
            payload = tag + struct.pack(">Q", seq) + os.urandom(size - 16)
            transport.sendto(payload)
            limit = time.monotonic() + 2
            while True:
                try:
                    reply = await asyncio.wait_for(
                        proto.queue.get(), max(0.01, limit - time.monotonic()))
                except asyncio.TimeoutError:
                    ST.lost += 1
                    break
                if isinstance(reply, Exception):
                    ST.problem("error", "udp via %s: %r" % (addr, reply))
                    break
                if reply[:8] != tag:
                    ST.problem("mismatch", "udp via %s: a reply for another "
                               "session" % addr)
                    continue
                rseq = struct.unpack(">Q", reply[8:16])[0]
                if rseq < seq:
                    ST.late += 1          # a late reply to a lost one
                    continue
                if reply != payload:
                    ST.problem("mismatch", "udp via %s: datagram %d of %d "
                               "bytes came back as %d bytes" % (
                                   addr, seq, len(payload), len(reply)))
                    break
                ST.dgrams += 1
                ST.dgram_bytes += len(payload)
                break
            if slow:
                await asyncio.sleep(rng.uniform(0, 0.05))
    finally:
        transport.close()
    ST.sessions += 1


async def udp_worker(addr, seed, max_size, deadline):
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        await udp_session(addr, rng, max_size, deadline)

# ---------------------------------------------------------------- watching


def proc_sample(pid):
    """(open fds, VmRSS KiB) of a process, or None once it is gone."""
    try:
        fds = len(os.listdir("/proc/%d/fd" % pid))
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return fds, int(line.split()[1])
    except OSError:
        pass
    return None


async def sampler(watch, samples, start, deadline):
    while time.monotonic() < deadline:
        await asyncio.sleep(min(5, max(0, deadline - time.monotonic())))
        t = time.monotonic() - start
        samples.append((t, {name: proc_sample(pid)
                            for name, pid in watch.items()}))


async def progress(start, deadline, watch):
    while time.monotonic() < deadline:
        await asyncio.sleep(min(30, max(0, deadline - time.monotonic())))
        rss = " ".join("%s=%s" % (n, (proc_sample(p) or (0, "gone"))[1])
                       for n, p in watch.items())
        print("# %4.0f s: %d conns, %d datagrams, %d mismatches, %d errors,"
              " %d lost; RSS KiB %s" % (
                  time.monotonic() - start, ST.conns, ST.dgrams,
                  ST.mismatches, ST.errors, ST.lost, rss),
              file=sys.stderr, flush=True)

# ---------------------------------------------------------------- drive


async def drive(args):
    watch = {}
    for w in args.watch:
        name, pid = w.split("=", 1)
        watch[name] = int(pid)
    first = {name: proc_sample(pid) for name, pid in watch.items()}
    start = time.monotonic()
    deadline = start + args.seconds
    seeds = random.Random(args.seed)
    tasks = []
    # per stream relay: K workers of short and bulk connections, and K/2
    # (at least 1) of long ones
    longs = max(1, args.workers // 2)
    for addr, framed in ([(a, False) for a in args.tcp] +
                         [(a, True) for a in args.pdu]):
        tasks += [stream_worker(addr, seeds.random(), framed, False, deadline)
                  for _ in range(args.workers)]
        tasks += [stream_worker(addr, seeds.random(), framed, True, deadline)
                  for _ in range(longs)]
    for addr in args.udp:
        tasks += [udp_worker(addr, seeds.random(), 60000, deadline)
                  for _ in range(args.workers)]
    for addr in args.udp_framed:
        tasks += [udp_worker(addr, seeds.random(), 16 * KIB, deadline)
                  for _ in range(args.workers)]
    samples = []
    tasks.append(sampler(watch, samples, start, deadline))
    tasks.append(progress(start, deadline, watch))
    # nothing outlives the deadline by more than a long connection's
    # timeouts (connect 10 s, a read 30 s)
    await asyncio.wait_for(asyncio.gather(*tasks), args.seconds + 120)
    ran = time.monotonic() - start

    # idle again: streams closed, datagram sessions expired
    drain_end = time.monotonic() + args.drain
    while True:
        last = {name: proc_sample(pid) for name, pid in watch.items()}
        settled = all(last[n] is not None and first[n] is not None and
                      last[n][0] <= first[n][0] for n in watch)
        if settled or time.monotonic() >= drain_end:
            break
        await asyncio.sleep(0.25)
    await asyncio.sleep(0.5)          # let an idle relay trim its memory
    last = {name: proc_sample(pid) for name, pid in watch.items()}
    return report(args, watch, first, samples, last, ran)


def report(args, watch, first, samples, last, ran):
    failed = False
    print("soak: %.0f s of load (seed %d, %d workers per relay)" % (
        ran, args.seed, args.workers))
    print("  stream connections checked: %d (%.1f MiB each way, %d PDUs)" % (
        ST.conns, ST.bytes / MIB, ST.pdus))
    print("  datagrams checked: %d (%.1f MiB each way) in %d sessions" % (
        ST.dgrams, ST.dgram_bytes / MIB, ST.sessions))
    print("  datagrams lost: %d (late replies %d)" % (ST.lost, ST.late))
    print("  mismatches: %d" % ST.mismatches)
    print("  stream errors: %d" % ST.errors)
    for note in ST.notes:
        print("    " + note)
    if ST.mismatches or ST.errors:
        failed = True
    mid = min(samples, key=lambda s: abs(s[0] - ran / 2)) if samples else None
    end = samples[-1] if samples else None
    print("  %-12s %6s %6s  %9s %9s %9s %9s %9s" % (
        "tsock", "fds", "fds", "RSS KiB", "RSS KiB", "RSS KiB", "RSS KiB",
        "RSS KiB"))
    print("  %-12s %6s %6s  %9s %9s %9s %9s %9s" % (
        "relay", "start", "end", "start", "middle", "end", "idle after",
        "max"))
    for name in watch:
        f, l = first[name], last[name]
        if f is None or l is None:
            print("  %-12s tsock is gone" % name)
            failed = True
            continue
        series = [s[1][name][1] for s in samples if s[1].get(name)]
        m = mid[1].get(name) if mid else None
        e = end[1].get(name) if end else None
        flag = ""
        if l[0] != f[0]:
            flag = "  <- fd count changed"
            if l[0] > f[0]:
                failed = True
        print("  %-12s %6d %6d  %9d %9s %9s %9d %9s%s" % (
            name, f[0], l[0], f[1], m[1] if m else "-", e[1] if e else "-",
            l[1], max(series) if series else "-", flag))
    if samples:
        print("  RSS samples every 5 s (KiB):")
        for name in watch:
            series = [str(s[1][name][1]) if s[1].get(name) else "gone"
                      for s in samples]
            print("    %-10s %s" % (name, " ".join(series)))
    print("result: %s" % ("FAILED" if failed else "ok"))
    return 1 if failed else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("backend")
    b.add_argument("--unix", required=True)
    d = sub.add_parser("drive")
    d.add_argument("--seconds", type=float, required=True)
    d.add_argument("--seed", type=int, default=1)
    d.add_argument("--workers", type=int, default=4)
    d.add_argument("--drain", type=float, default=20)
    d.add_argument("--watch", action="append", default=[])
    d.add_argument("--tcp", action="append", default=[])
    d.add_argument("--pdu", action="append", default=[])
    d.add_argument("--udp", action="append", default=[])
    d.add_argument("--udp-framed", action="append", default=[])
    args = p.parse_args()
    if args.cmd == "backend":
        asyncio.run(backend(args))
        return 0
    return asyncio.run(drive(args))


if __name__ == "__main__":
    sys.exit(main())
