#!/usr/bin/env python3
"""benchutil.py - small helpers for the tsock benchmark scripts.

Subcommands (all on loopback only):
  free-port [udp]          print a port that is free on 127.0.0.1 right now
  wait-port PORT [udp]     wait (<= 10 s) until a socket listens on PORT
  iperf-bps FILE           receiver bits/s from an `iperf3 -J` report
  json-get FILE KEY...     the values of top-level keys of a JSON object
  rss [--tree] PID...      summed VmRSS and Pss in KiB: "RSS PSS"
  cpu [--tree] PID...      summed user+system CPU seconds
  tcp-sink                 accept one TCP client, read to its end, print
                           "BYTES SECONDS" (accept to end of stream)
  tcp-source PORT BYTES    send BYTES zeros to 127.0.0.1:PORT (ceiling)
  echo-tcp                 threaded TCP echo server (a few fast clients)
  echo-async               asyncio TCP echo server (many idle clients)

The servers listen on 127.0.0.1 port 0 and print tsock's readiness line,
"listening on tcp:127.0.0.1:PORT", on stderr.  They run until killed.

SPDX-License-Identifier: MIT
"""
import json
import os
import socket
import sys
import threading
import time

HOST = "127.0.0.1"
BUFSIZE = 1 << 20


def announce(sock, kind="tcp"):
    host, port = sock.getsockname()[:2]
    sys.stderr.write("listening on %s:%s:%d\n" % (kind, host, port))
    sys.stderr.flush()


def free_port(args):
    kind = socket.SOCK_DGRAM if args[:1] == ["udp"] else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((HOST, 0))
        print(s.getsockname()[1])


def listening(port, udp):
    """Is some socket bound (UDP) or listening (TCP) on this port?"""
    files = ["/proc/net/udp", "/proc/net/udp6"] if udp else \
            ["/proc/net/tcp", "/proc/net/tcp6"]
    for name in files:
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local, state = fields[1], fields[3]
                    if int(local.rsplit(":", 1)[1], 16) != port:
                        continue
                    if udp or state == "0A":  # 0A: TCP_LISTEN
                        return True
        except OSError:
            pass
    return False


def wait_port(args):
    port, udp = int(args[0]), args[1:2] == ["udp"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if listening(port, udp):
            return 0
        time.sleep(0.05)
    return 1


def iperf_bps(args):
    with open(args[0]) as f:
        report = json.load(f)
    if "error" in report:
        sys.stderr.write("iperf3: %s\n" % report["error"])
        return 1
    print("%.0f" % report["end"]["sum_received"]["bits_per_second"])
    return 0


def json_get(args):
    with open(args[0]) as f:
        obj = json.load(f)
    print(" ".join(str(obj.get(k, "-")) for k in args[1:]))


def descendants(pids):
    """The pids and all their descendants, from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], list(pids)
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def pid_args(args):
    tree = "--tree" in args
    pids = [int(a) for a in args if a != "--tree"]
    return descendants(pids) if tree else pids


def memory_kib(pids):
    """Summed (VmRSS, Pss) in KiB of these processes."""
    rss = pss = 0
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass  # it ended meanwhile
    return rss, pss


def cpu_seconds(pids):
    ticks = 0
    hz = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return ticks / hz


def rss(args):
    print("%d %d" % memory_kib(pid_args(args)))


def cpu(args):
    print("%.2f" % cpu_seconds(pid_args(args)))


def tcp_sink(args):
    """One client, counted to its end: the receiving side of pipe tests."""
    srv = socket.socket()
    srv.bind((HOST, 0))
    srv.listen(1)
    announce(srv)
    conn, _ = srv.accept()
    srv.close()
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    buf = bytearray(BUFSIZE)
    view = memoryview(buf)
    total = 0
    start = time.monotonic()  # from accept: the sender connects at once
    while True:
        n = conn.recv_into(view)
        if n == 0:
            break
        total += n
    elapsed = time.monotonic() - start
    conn.close()
    print("%d %.6f" % (total, elapsed))
    sys.stdout.flush()


def tcp_source(args):
    port, count = int(args[0]), int(args[1])
    with socket.create_connection((HOST, port)) as s:
        chunk = memoryview(bytes(BUFSIZE))
        while count > 0:
            n = s.send(chunk[:min(count, BUFSIZE)])
            count -= n
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass


def echo_tcp(args):
    """A thread per client, large buffers: fast for a few busy clients."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((HOST, 0))
    srv.listen(128)
    announce(srv)

    def serve(conn):
        buf = bytearray(BUFSIZE)
        view = memoryview(buf)
        try:
            while True:
                n = conn.recv_into(view)
                if n == 0:
                    break
                conn.sendall(view[:n])
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            conn.close()

    while True:
        conn, _ = srv.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def echo_async(args):
    """asyncio: one process, thousands of mostly idle clients."""
    import asyncio

    class Echo(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport

        def data_received(self, data):
            self.transport.write(data)

        def eof_received(self):
            return False  # close our side too

    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Echo, HOST, 0, backlog=4096)
        announce(server.sockets[0])
        await server.serve_forever()

    asyncio.run(main())


COMMANDS = {
    "free-port": free_port,
    "wait-port": wait_port,
    "iperf-bps": iperf_bps,
    "json-get": json_get,
    "rss": rss,
    "cpu": cpu,
    "tcp-sink": tcp_sink,
    "tcp-source": tcp_source,
    "echo-tcp": echo_tcp,
    "echo-async": echo_async,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.stderr.write(__doc__)
        sys.exit(2)
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]) or 0)
