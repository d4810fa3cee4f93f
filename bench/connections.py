#!/usr/bin/env python3
"""
Connections benchmark for an XMPP component router (XEP-0114): open N
authenticated components against a running server and hold them.

    python3 bench/connections.py --port 5347 --count 5000 --server-pid PID
    python3 bench/connections.py --port 5347 --count 10000 --server-pid PID --json

Components c1 ... cN (``--domain-fmt``, ``--first``) connect and do the
handshake, at most ``--concurrency`` of them in flight at a time (a new one
starts as soon as one is accepted).  Reported:

* *open s*: from the first connect until the last ``<handshake/>`` came
  back, and the resulting rate;
* the server's RSS (``VmRSS`` of /proc/PID/status) before the first connect
  and after all are open and ``--settle`` seconds have passed, the growth
  per connection (*bytes/conn*), and its peak (``VmHWM``);
* the server's and this generator's CPU seconds while opening, and the rest
  of the machine's (*other CPU %*, as in load.py: high means a noisy run);
* *listen overflows*: growth of the kernel's ``TcpExt ListenOverflows`` and
  ``ListenDrops`` counters (/proc/net/netstat) over the opening: non-zero
  means the server's listen queue was full and clients had to retry a SYN
  (a 1 s penalty each), i.e. its backlog, not its speed, set the figure;
* a routing check once all are open: c(N-1) sends one message to cN, which
  must arrive (the server holds every stream, authenticated and routable).

Then every stream is closed politely.  Every phase is bounded in time; only
loopback targets are accepted.  The open-file limit of this process is
raised as far as allowed (it needs one descriptor per component).  Exit
status: 0 when all opened and the check passed, 1 otherwise, 2 on a usage
or setup error.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import json
import os
import select
import socket
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import (HANDSHAKE_OK_RE, HEADER_ID_RE, HEADER_RE, STREAM_ERROR_RE,  # noqa: E402
                  cpu_seconds, handshake_digest, machine_cpu_seconds)
from servers import raise_nofile, read_cpu_seconds, read_status_kib  # noqa: E402

MAX_COUNT = 50000


def listen_counters() -> dict[str, int]:
    """TcpExt ListenOverflows and ListenDrops of this network namespace."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return {}
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], (int(v) for v in values.split()[1:])))
            return {k: table.get(k, 0) for k in ("ListenOverflows", "ListenDrops")}
    return {}


def mib(kib: int | None) -> float | None:
    return round(kib / 1024, 1) if kib is not None else None


HEADER = ("<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept'"
          " xmlns:stream='http://etherx.jabber.org/streams' to='{}'>")
CONNECTING, WANT_HEADER, WANT_HANDSHAKE = range(3)


class Opening:
    """One component on its way in: a non-blocking socket and what it waits for."""

    __slots__ = ("sock", "domain", "state", "buf", "started")

    def __init__(self, sock: socket.socket, domain: str, started: float) -> None:
        self.sock = sock
        self.domain = domain
        self.state = CONNECTING
        self.buf = b""
        self.started = started


class Opener:
    """
    Opens the components with a bare epoll loop: the generator's own cost per
    component (a few system calls and two regular expressions) has to stay
    well under the servers', or it would be the generator that is measured.
    """

    def __init__(self, a: argparse.Namespace) -> None:
        self.a = a
        self.addr = (a.host, a.port)
        self.domains = [a.domain_fmt.format(n) for n in range(a.first, a.first + a.count)]
        self.opened: list[tuple[socket.socket, str]] = []
        self.errors: list[str] = []
        self.pending: dict[int, Opening] = {}
        self.epoll = select.epoll()
        self.next = 0

    def run(self, deadline: float) -> None:
        """Open them all (or fail some), within C{deadline} (perf_counter)."""
        try:
            self._fill()
            while self.pending:
                now = time.perf_counter()
                if now >= deadline:
                    for op in list(self.pending.values()):
                        self._fail(op, "overall timeout")
                    break
                for fd, events in self.epoll.poll(0.1, 4096):
                    ready = self.pending.get(fd)
                    if ready is not None:
                        self._step(ready, events)
                self._expire(time.perf_counter())
                self._fill()
        finally:
            self.epoll.close()

    def _fill(self) -> None:
        a = self.a
        while (len(self.pending) < a.concurrency and self.next < len(self.domains)
               and len(self.errors) < a.max_errors):
            domain = self.domains[self.next]
            self.next += 1
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            op = Opening(sock, domain, time.perf_counter())
            self.pending[sock.fileno()] = op
            err = sock.connect_ex(self.addr)
            if err == 0:
                self._send_header(op)
            elif err in (errno.EINPROGRESS, errno.EAGAIN):
                self.epoll.register(sock.fileno(), select.EPOLLOUT)
            else:
                self._fail(op, f"connect: {os.strerror(err)}", registered=False)

    def _send_header(self, op: Opening, registered: bool = False) -> None:
        op.sock.send(HEADER.format(op.domain).encode())
        op.state = WANT_HEADER
        if registered:
            self.epoll.modify(op.sock.fileno(), select.EPOLLIN)
        else:
            self.epoll.register(op.sock.fileno(), select.EPOLLIN)

    def _step(self, op: Opening, events: int) -> None:
        try:
            if op.state == CONNECTING:
                err = op.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    self._fail(op, f"connect: {os.strerror(err)}")
                else:
                    self._send_header(op, registered=True)
                return
            data = op.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as exc:
            self._fail(op, f"{type(exc).__name__}: {exc}")
            return
        if not data:
            self._fail(op, "closed by the server" + self._stream_error(op.buf))
            return
        op.buf += data
        if b"<stream:error" in op.buf:
            self._fail(op, "stream error" + self._stream_error(op.buf))
            return
        if op.state == WANT_HEADER:
            header = HEADER_RE.search(op.buf)
            if header is None:
                return
            found = HEADER_ID_RE.search(header.group(0))
            if found is None:
                self._fail(op, "stream header without id")
                return
            digest = handshake_digest(found.group(1).decode(), self.a.secret)
            op.sock.send(f"<handshake>{digest}</handshake>".encode())
            op.buf = op.buf[header.end():]
            op.state = WANT_HANDSHAKE
        if op.state == WANT_HANDSHAKE and HANDSHAKE_OK_RE.search(op.buf):
            self.epoll.unregister(op.sock.fileno())
            del self.pending[op.sock.fileno()]
            self.opened.append((op.sock, op.domain))

    @staticmethod
    def _stream_error(buf: bytes) -> str:
        found = STREAM_ERROR_RE.search(buf)
        return ": " + found.group(0).decode("utf-8", "replace")[:120] if found else ""

    def _expire(self, now: float) -> None:
        limit = self.a.connect_timeout
        for op in [op for op in self.pending.values() if now - op.started > limit]:
            self._fail(op, f"no handshake within {limit:g} s")

    def _fail(self, op: Opening, why: str, registered: bool = True) -> None:
        fd = op.sock.fileno()
        self.pending.pop(fd, None)
        if registered:
            try:
                self.epoll.unregister(fd)
            except (OSError, ValueError):
                pass
        op.sock.close()
        self.errors.append(f"{op.domain}: {why}"[:200])


def still_open(sock: socket.socket) -> bool:
    """False when the server has closed this stream (EOF or error pending)."""
    try:
        data = sock.recv(65536, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return bool(data) and b"<stream:error" not in data and b"</stream:stream>" not in data


def route_check(a_sock: socket.socket, a_dom: str, b_sock: socket.socket, b_dom: str,
                timeout: float) -> bool:
    """One message from A to B; True when B gets it within C{timeout}."""
    msg = (f"<message to='{b_dom}' from='{a_dom}' id='conn-probe' type='normal'>"
           f"<body>probe</body></message>").encode()
    deadline = time.monotonic() + timeout
    a_sock.setblocking(True)
    a_sock.sendall(msg)
    got = b""
    poller = select.poll()
    poller.register(b_sock, select.POLLIN)
    while time.monotonic() < deadline:
        if not poller.poll(max(deadline - time.monotonic(), 0.0) * 1000):
            break
        try:
            data = b_sock.recv(65536)
        except BlockingIOError:
            continue
        if not data:
            return False
        got += data
        if b"conn-probe" in got:
            return True
    return False


def measure(a: argparse.Namespace) -> dict[str, Any]:
    pid = a.server_pid
    report: dict[str, Any] = {"count": a.count, "concurrency": a.concurrency}
    opener = Opener(a)
    rss0 = read_status_kib(pid, "VmRSS") if pid else None
    srv_cpu0 = read_cpu_seconds(pid) if pid else None
    net0 = listen_counters()
    busy0, _ = machine_cpu_seconds()
    gen_cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    try:
        opener.run(t0 + a.timeout)
        open_s = time.perf_counter() - t0
        gen_cpu = cpu_seconds() - gen_cpu0
        srv_cpu1 = read_cpu_seconds(pid) if pid else None
        busy1, _ = machine_cpu_seconds()
        net1 = listen_counters()
        time.sleep(a.settle)
        socks = opener.opened
        held = sum(1 for sock, _ in socks if still_open(sock))
        rss1 = read_status_kib(pid, "VmRSS") if pid else None
        hwm = read_status_kib(pid, "VmHWM") if pid else None
        routed = None
        if len(socks) >= 2 and not opener.errors:
            # The last two domains: c(N-1) -> cN (a pair for bench/byte_forwarder.py too).
            by_domain = {dom: sock for sock, dom in socks}
            a_dom, b_dom = opener.domains[-2], opener.domains[-1]
            routed = route_check(by_domain[a_dom], a_dom, by_domain[b_dom], b_dom,
                                 a.connect_timeout)
    finally:
        for sock, _ in opener.opened:
            try:
                sock.send(b"</stream:stream>")
            except OSError:
                pass
            sock.close()
    comps = opener.opened
    report.update({
        "opened": len(comps),
        "held": held,
        "failed": len(opener.errors),
        "errors": opener.errors[:5],
        "open_s": round(open_s, 3),
        "per_s": round(len(comps) / open_s, 1) if open_s > 0 else None,
        "gen_cpu_s": round(gen_cpu, 3),
        "server_cpu_open_s": (round(srv_cpu1 - srv_cpu0, 3)
                              if srv_cpu0 is not None and srv_cpu1 is not None else None),
        # The rest of the machine while opening (as in load.py): high means noisy.
        "other_cpu_core_pct": round(100.0 * max(
            busy1 - busy0 - gen_cpu - ((srv_cpu1 or 0.0) - (srv_cpu0 or 0.0)), 0.0) / open_s, 1)
        if open_s > 0 else None,
        "rss_before_mib": mib(rss0),
        "rss_after_mib": mib(rss1),
        "peak_rss_mib": mib(hwm),
        "bytes_per_conn": (round((rss1 - rss0) * 1024 / len(comps))
                           if rss0 is not None and rss1 is not None and comps else None),
        "listen_overflows": (net1.get("ListenOverflows", 0) - net0.get("ListenOverflows", 0)
                             if net0 else None),
        "listen_drops": (net1.get("ListenDrops", 0) - net0.get("ListenDrops", 0)
                         if net0 else None),
        "route_check": routed,
    })
    return report


def human(r: dict[str, Any]) -> str:
    def f(v: Any, spec: str) -> str:
        return "-" if v is None else format(v, spec)
    line = (f"connections: {r['opened']}/{r['count']} opened in {f(r['open_s'], '.2f')} s "
            f"({f(r['per_s'], ',.0f')}/s, {r['concurrency']} in flight), {r['held']} held; "
            f"server RSS {f(r['rss_before_mib'], '.1f')} -> {f(r['rss_after_mib'], '.1f')} MiB "
            f"(peak {f(r['peak_rss_mib'], '.1f')}), {f(r['bytes_per_conn'], ',')} bytes/conn; "
            f"server CPU {f(r['server_cpu_open_s'], '.2f')} s, generator CPU "
            f"{f(r['gen_cpu_s'], '.2f')} s, other {f(r['other_cpu_core_pct'], '.0f')}%; listen overflows {r['listen_overflows']}; "
            f"route check {r['route_check']}")
    if r["errors"]:
        line += f"; {r['failed']} failed, e.g. {r['errors'][0]}"
    return line


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Open N authenticated components and hold them.")
    p.add_argument("--host", default="127.0.0.1", help="router address (loopback only)")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--secret", default="benchsecret")
    p.add_argument("--domain-fmt", default="c{}.bench.local")
    p.add_argument("--first", type=int, default=1, help="number of the first component")
    p.add_argument("--count", type=int, default=5000)
    p.add_argument("--concurrency", type=int, default=32,
                   help="handshakes in flight at once (keep it under the servers' listen"
                        " backlogs: Twisted's default is 50)")
    p.add_argument("--connect-timeout", type=float, default=30.0, help="per component")
    p.add_argument("--settle", type=float, default=1.0,
                   help="seconds between the last handshake and the RSS reading")
    p.add_argument("--max-errors", type=int, default=20, help="stop opening after this many")
    p.add_argument("--timeout", type=float, default=600.0, help="bound for the whole run")
    p.add_argument("--server-pid", type=int, default=None, help="read RSS and CPU of this PID")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    a = p.parse_args(argv)
    if not ipaddress.ip_address(a.host).is_loopback:
        p.error("--host must be a loopback address")
    if not (2 <= a.count <= MAX_COUNT) or a.concurrency < 1:
        p.error(f"--count must be 2..{MAX_COUNT} and --concurrency positive")
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    soft, _ = raise_nofile(a.count + 1024)
    if soft < a.count + 64:
        msg = f"open-file limit {soft} is too low for {a.count} components"
        print(json.dumps({"error": msg}) if a.json else f"connections.py: {msg}")
        return 2

    try:
        report = measure(a)
    except OSError as exc:
        msg = f"{type(exc).__name__}: {exc}"
        print(json.dumps({"error": msg}) if a.json else f"connections.py: {msg}")
        return 2
    report["nofile"] = soft
    print(json.dumps(report) if a.json else human(report))
    ok = report["opened"] == a.count and report["held"] == a.count and report["route_check"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
