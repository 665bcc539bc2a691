#!/usr/bin/env python3
"""conc_client.py - hold many TCP connections through a relay on loopback.

Opens --conns connections to 127.0.0.1:--port (at most --parallel
connects at a time, so that the listen backlog never overflows), then for
--duration seconds each sends a small message every --interval seconds
and checks that the same bytes come back (the far end is an echo
server).  Meanwhile it samples the memory of the --watch processes (with
--tree, their descendants too: socat forks one per client).

Prints one JSON object: connections opened, held to the end, failures,
and memory in KiB (summed VmRSS, and Pss which shares fairly the pages
that forked processes have in common) when idle before the first connect,
the peak while the connections are held, and 1 s after they are closed.

Everything is bounded: connects time out, each echo waits at most 5 s.

SPDX-License-Identifier: MIT
"""
import argparse
import asyncio
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchutil import descendants, memory_kib  # noqa: E402

HOST = "127.0.0.1"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--conns", type=int, default=1000)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--parallel", type=int, default=200,
                   help="connects in flight at once")
    p.add_argument("--connect-timeout", type=float, default=60.0,
                   help="for all the connects together")
    p.add_argument("--watch", type=int, action="append", default=[])
    p.add_argument("--tree", action="store_true")
    return p.parse_args()


class Stats:
    def __init__(self):
        self.opened = 0
        self.connect_failed = 0
        self.held = 0
        self.echo_failed = 0
        self.messages = 0
        self.errors = {}

    def error(self, what):
        self.errors[what] = self.errors.get(what, 0) + 1


def watched(args):
    return descendants(args.watch) if args.tree else list(args.watch)


async def open_one(sem, stats):
    async with sem:
        for attempt in range(3):
            try:
                r, w = await asyncio.wait_for(
                    asyncio.open_connection(HOST, ARGS.port), 10)
                stats.opened += 1
                return r, w
            except (OSError, asyncio.TimeoutError) as e:
                stats.error("connect: %s" % (e.__class__.__name__,))
                await asyncio.sleep(0.1 * (attempt + 1))
        stats.connect_failed += 1
        return None


async def talk(i, conn, start, stats):
    """Send a message each interval until the end; check each echo."""
    r, w = conn
    await asyncio.sleep(random.uniform(0, ARGS.interval))
    seq = 0
    ok = True
    while time.monotonic() - start < ARGS.duration:
        msg = b"conn %06d msg %04d\n" % (i, seq)
        try:
            w.write(msg)
            got = await asyncio.wait_for(r.readexactly(len(msg)), 5)
        except (OSError, asyncio.TimeoutError,
                asyncio.IncompleteReadError) as e:
            stats.error("echo: %s" % e.__class__.__name__)
            ok = False
            break
        if got != msg:
            stats.error("echo: wrong bytes")
            ok = False
            break
        stats.messages += 1
        seq += 1
        await asyncio.sleep(ARGS.interval)
    if ok:
        stats.held += 1
    else:
        stats.echo_failed += 1


async def sample_memory(peak, stop):
    """Peak summed memory of the watched processes, every 0.5 s."""
    while not stop.is_set():
        rss, pss = memory_kib(watched(ARGS))
        peak[0] = max(peak[0], rss)
        peak[1] = max(peak[1], pss)
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except asyncio.TimeoutError:
            pass


async def main():
    stats = Stats()
    idle = memory_kib(watched(ARGS))
    sem = asyncio.Semaphore(ARGS.parallel)

    t0 = time.monotonic()
    tasks = [asyncio.ensure_future(open_one(sem, stats))
             for _ in range(ARGS.conns)]
    done, pending = await asyncio.wait(tasks, timeout=ARGS.connect_timeout)
    for t in pending:
        t.cancel()
    conns = [t.result() for t in done
             if not t.cancelled() and t.exception() is None
             and t.result() is not None]
    stats.connect_failed += len(pending)
    connect_secs = time.monotonic() - t0
    sys.stderr.write("%d connections open in %.1fs\n"
                     % (len(conns), connect_secs))

    peak = [0, 0]
    stop = asyncio.Event()
    sampler = asyncio.ensure_future(sample_memory(peak, stop))
    start = time.monotonic()
    await asyncio.gather(*(talk(i, c, start, stats)
                           for i, c in enumerate(conns)))
    stop.set()
    await sampler

    for _, w in conns:
        w.close()
    await asyncio.sleep(1.0)  # let the relay notice and free its side
    closed = memory_kib(watched(ARGS))

    print(json.dumps({
        "conns": ARGS.conns,
        "opened": stats.opened,
        "connect_failed": stats.connect_failed,
        "held": stats.held,
        "echo_failed": stats.echo_failed,
        "messages": stats.messages,
        "connect_secs": round(connect_secs, 2),
        "rss_idle": idle[0], "pss_idle": idle[1],
        "rss_held": peak[0], "pss_held": peak[1],
        "rss_closed": closed[0], "pss_closed": closed[1],
        "errors": stats.errors,
    }))


if __name__ == "__main__":
    ARGS = parse_args()
    asyncio.run(main())
