#!/usr/bin/env python3
"""
Load generator for an XMPP component router (XEP-0114, jabber:component:accept).

It opens N pairs of external components (A_i -> B_i) over loopback TCP, each
one authenticating with the XEP-0114 handshake, and measures the router as a
black box:

* ``--mode throughput``: every A_i pushes ~200-byte <message/> stanzas to its
  B_i as fast as the router takes them, with at most ``--window`` stanzas per
  pair not yet seen by B_i.  B_i checks that the sequence-number ids arrive
  exactly once and in order.  Reported: stanzas/s delivered during the
  measurement window, and lost / duplicated / reordered counts.
* ``--mode latency``: A sends XEP-0199 pings to B at a fixed total rate
  (open loop), B answers each one at once, and A measures the round trip
  A -> router -> B -> router -> A.  Reported: p50 / p99 / max in ms.

The receiving side never builds a DOM: it cuts the byte stream at the last
``<`` and runs one compiled regular expression over the complete part to pull
the ids out.  Work can be split over several processes (``--procs``), each
owning a share of the pairs; the generator's own CPU time is always reported,
since it shares the machine with the server.

Only loopback addresses are accepted as targets, and every phase is bounded
in time (connect timeout, ``--duration``, drain timeout, overall deadline).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import ipaddress
import json
import math
import multiprocessing
import multiprocessing.connection
import os
import re
import resource
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

STREAM_NS = "http://etherx.jabber.org/streams"
MAX_DURATION = 600.0
MAX_PAIRS = 512
START_DELAY = 0.3  # seconds between "everyone is ready" and the common start

# Patterns for the receiving side.  They run over a region that ends just
# before the last "<" of the data seen so far, so every start tag in that
# region is complete.
HEADER_RE = re.compile(rb"<stream:stream\b[^>]*>")
HEADER_ID_RE = re.compile(rb"\sid=['\"]([^'\"]+)['\"]")
HANDSHAKE_OK_RE = re.compile(rb"<handshake\s*/>|<handshake\s*>\s*</handshake>")
STREAM_ERROR_RE = re.compile(rb"<stream:error\b.*?</stream:error>", re.S)
# The hot path: a pattern that starts with a literal scans ~5x faster than one
# anchored on "<message".  Only B's stream is scanned with it, and B receives
# nothing but A's messages (error bounces are counted separately).
MESSAGE_ID_RE = re.compile(rb" id=['\"](\d+)")
IQ_TAG_RE = re.compile(rb"<iq\b([^>]*)>")
ATTR_ID_RE = re.compile(rb"\sid=['\"]([^'\"]*)['\"]")
ATTR_TYPE_RE = re.compile(rb"\stype=['\"]([^'\"]*)['\"]")
ERROR_TYPE_RE = re.compile(rb"<(?:message|iq|presence)\b[^>]*?\stype=['\"]error['\"]")


# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """Everything a worker needs to know; picklable for --procs."""

    host: str
    port: int
    secret: str
    domain_fmt: str
    mode: str
    pairs: int
    duration: float
    warmup: float
    window: int
    batch: int
    size: int
    rate: float
    connect_timeout: float
    drain_timeout: float
    server_pid: int | None
    rcvlowat: int
    # Where the Bs connect; None: the same port as the As (bench/cluster.py
    # points them at another node of a cluster).
    receiver_port: int | None = None
    # More processes whose CPU time over the window is reported one by one
    # (--watch-pid: each node of a cluster, its Redis).
    watch_pids: tuple[int, ...] = ()
    # More ports the pairs are dealt over, round-robin after --port, both
    # ends of a pair on the same one (--spread-port: the nodes of a cluster).
    spread_ports: tuple[int, ...] = ()

    def domains(self, pair: int) -> tuple[str, str]:
        """Domains (A, B) of pair number C{pair} (0-based): c1/c2, c3/c4, ..."""
        return (self.domain_fmt.format(2 * pair + 1), self.domain_fmt.format(2 * pair + 2))

    def ports(self, pair: int) -> tuple[int, int]:
        """Ports (A, B) of pair number C{pair} connect to."""
        if self.spread_ports:
            ports = (self.port, *self.spread_ports)
            port = ports[pair % len(ports)]
            return port, port
        return self.port, self.receiver_port or self.port


def handshake_digest(stream_id: str, secret: str) -> str:
    """The XEP-0114 handshake value: hex SHA-1 of stream id + shared secret."""
    return hashlib.sha1((stream_id + secret).encode("utf-8")).hexdigest()


def cpu_seconds() -> float:
    """User + system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process C{pid} from /proc, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; fields restart after ')'.
    fields = stat[stat.rindex(b")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> tuple[float, float]:
    """
    (busy, steal) CPU seconds of the whole machine, all cores, from /proc/stat.
    Busy is everything but idle, iowait and steal.
    """
    try:
        with open("/proc/stat", "rb") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    fields += [0] * (8 - len(fields))
    user, nice, system, idle, iowait, irq, softirq, steal = fields[:8]
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, steal / tick


# ---------------------------------------------------------------------------
# One component connection
# ---------------------------------------------------------------------------


class ChunkHandler(Protocol):
    def __call__(self, buf: bytes, end: int) -> None: ...


def _ignore_chunk(buf: bytes, end: int) -> None:
    """Default handler before a mode takes over the connection."""


class Component(asyncio.Protocol):
    """
    One external component connection.

    It sends the stream header, answers the server's stream id with the
    handshake, and resolves C{ready} once the server accepts.  After that, the
    incoming bytes are handed to C{on_chunk(buf, end)}, where C{buf[:end]}
    holds only complete tags (the bytes after C{end} are kept for the next
    call).
    """

    def __init__(self, domain: str, secret: str, loop: asyncio.AbstractEventLoop) -> None:
        self.domain = domain
        self.secret = secret
        self.ready: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self.authenticated = False
        self.paused = False
        self.closed = False
        self.stream_errors: list[str] = []
        self.on_chunk: ChunkHandler = _ignore_chunk
        self.on_resume: Callable[[], None] = lambda: None
        self._tail = b""
        self._sent_handshake = False

    # -- asyncio.Protocol ---------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=512 * 1024, low=128 * 1024)
        header = (
            "<?xml version='1.0'?>"
            f"<stream:stream xmlns='jabber:component:accept' xmlns:stream='{STREAM_NS}'"
            f" to='{self.domain}'>"
        )
        transport.write(header.encode())

    def data_received(self, data: bytes) -> None:
        buf = self._tail + data if self._tail else data
        if buf.endswith(b">"):
            end = len(buf)
            self._tail = b""
        else:
            end = max(buf.rfind(b"<"), 0)
            self._tail = buf[end:]
        if self.authenticated:
            self.on_chunk(buf, end)
            if b"<stream:error" in buf or b"</stream:stream>" in buf:
                self._note_stream_end(buf)
        else:
            self._authenticate(buf, end)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.ready.done():
            reason = self.stream_errors[-1] if self.stream_errors else str(exc or "closed")
            self.ready.set_exception(ConnectionError(f"{self.domain}: {reason}"))

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self.on_resume()

    # -- helpers --------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Send raw bytes, unless the connection is gone."""
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def set_rcvlowat(self, nbytes: int) -> None:
        """
        Ask the kernel to report this socket readable only once C{nbytes} are
        queued (SO_RCVLOWAT).  Fewer, larger reads: the router is unaffected,
        since the kernel still accepts and acknowledges everything it sends.
        """
        sock = self.transport.get_extra_info("socket") if self.transport else None
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, max(nbytes, 1))

    def close(self) -> None:
        """End the stream politely and close the socket once flushed."""
        if self.transport is not None and not self.closed:
            self.transport.write(b"</stream:stream>")
            self.transport.close()

    def _authenticate(self, buf: bytes, end: int) -> None:
        """Handle the bytes seen before the server accepted the handshake."""
        # Until authentication finishes, keep everything in the tail: the
        # exchange is tiny and this keeps the parsing simple.
        self._tail = buf
        if STREAM_ERROR_RE.search(buf):
            self._note_stream_end(buf)
            if self.transport is not None:
                self.transport.close()
            return
        header = HEADER_RE.search(buf)
        if header is None:
            return
        if not self._sent_handshake:
            found = HEADER_ID_RE.search(header.group(0))
            if found is None:
                self._fail("stream header without id")
                return
            digest = handshake_digest(found.group(1).decode(), self.secret)
            self.write(f"<handshake>{digest}</handshake>".encode())
            self._sent_handshake = True
        ok = HANDSHAKE_OK_RE.search(buf, header.end())
        if ok is None:
            return
        self.authenticated = True
        self._tail = b""
        if not self.ready.done():
            self.ready.set_result(None)
        rest = buf[ok.end() :]
        if rest:
            self.data_received(rest)

    def _note_stream_end(self, buf: bytes) -> None:
        found = STREAM_ERROR_RE.search(buf)
        text = found.group(0).decode("utf-8", "replace") if found else "stream closed by server"
        self.stream_errors.append(text)

    def _fail(self, reason: str) -> None:
        self.stream_errors.append(reason)
        if self.transport is not None:
            self.transport.close()


async def connect(cfg: Config, domain: str, port: int | None = None) -> Component:
    """
    Open and authenticate one component connection, within the timeout, to
    C{port} (default: C{cfg.port}).
    """
    loop = asyncio.get_running_loop()
    comp = Component(domain, cfg.secret, loop)

    async def _open() -> None:
        await loop.create_connection(lambda: comp, cfg.host, port or cfg.port)
        await comp.ready

    try:
        await asyncio.wait_for(_open(), cfg.connect_timeout)
    except BaseException:
        if comp.transport is not None:
            comp.transport.close()
        raise
    return comp


# ---------------------------------------------------------------------------
# Throughput mode
# ---------------------------------------------------------------------------


@dataclass
class SequenceCheck:
    """Checks that the ids 0, 1, 2, ... of one pair arrive once each, in order."""

    expected: int = 0
    arrivals: int = 0
    duplicated: int = 0
    reordered: int = 0
    missing: set[int] = field(default_factory=set)

    @property
    def unique(self) -> int:
        """How many distinct ids have arrived."""
        return self.arrivals - self.duplicated

    def add(self, ids: list[bytes]) -> None:
        """Account for a batch of ids, in arrival order."""
        expected = self.expected
        for raw in ids:
            n = int(raw)
            if n == expected:
                expected += 1
            elif n > expected:
                self.missing.update(range(expected, n))
                expected = n + 1
            elif n in self.missing:
                self.missing.discard(n)
                self.reordered += 1
            else:
                self.duplicated += 1
        self.expected = expected
        self.arrivals += len(ids)


def message_template(a: str, b: str, size: int) -> bytes:
    """A %-template (one %d for the id) for stanzas of about C{size} bytes."""
    skeleton = f"<message to='{b}' from='{a}' id='%d' type='normal'><body></body></message>"
    pad = max(size - len(skeleton) - 4, 8)  # ids are ~6 digits, "%d" is 2
    filler = ("load-" * (pad // 5 + 1))[:pad]
    return skeleton.replace("<body></body>", f"<body>{filler}</body>").encode()


class ThroughputPair:
    """A_i pushes sequenced messages to B_i within a bounded window."""

    def __init__(self, a: Component, b: Component, window: int, batch: int, size: int,
                 rcvlowat: int) -> None:
        self.a = a
        self.b = b
        self.window = window
        self.batch = min(batch, window)
        self.low_water = max(window // 4, 1)
        self.template = message_template(a.domain, b.domain, size)
        self.sent = 0
        self.check = SequenceCheck()
        self.errors = 0
        self.stopped = False
        # Never wait for more bytes than the window can leave unacknowledged.
        self.rcvlowat = min(rcvlowat, self.low_water * size // 2)

    def start(self) -> None:
        """Hook into both connections and send the first window."""
        self.b.set_rcvlowat(self.rcvlowat)
        self.a.on_resume = self.pump
        self.a.on_chunk = self._on_a_chunk
        self.b.on_chunk = self._on_b_chunk
        self.pump()

    def stop(self) -> None:
        """Send nothing more; arrivals are still counted, every byte at once."""
        self.stopped = True
        self.b.set_rcvlowat(1)

    @property
    def in_flight(self) -> int:
        return self.sent - self.check.unique

    def pump(self) -> None:
        """Write as many stanzas as the window and the socket buffer allow."""
        template = self.template
        while not (self.stopped or self.a.paused or self.a.closed):
            room = self.window - self.in_flight
            if room <= 0:
                return
            n = min(room, self.batch)
            first = self.sent
            self.a.write(b"".join([template % i for i in range(first, first + n)]))
            self.sent = first + n

    def _on_b_chunk(self, buf: bytes, end: int) -> None:
        ids = MESSAGE_ID_RE.findall(buf, 0, end)
        if ids:
            self.check.add(ids)
            if self.window - self.in_flight >= self.low_water:
                self.pump()
        if b"'error'" in buf or b'"error"' in buf:
            self.errors += len(ERROR_TYPE_RE.findall(buf, 0, end))

    def _on_a_chunk(self, buf: bytes, end: int) -> None:
        # A expects nothing back; anything of type error is a bounce.
        self.errors += len(ERROR_TYPE_RE.findall(buf, 0, end))

    def result(self) -> dict[str, int]:
        """Per-pair counts, after the drain."""
        return {
            "sent": self.sent,
            "arrivals": self.check.arrivals,
            "lost": self.sent - self.check.unique,
            "duplicated": self.check.duplicated,
            "reordered": self.check.reordered,
            "errors": self.errors,
        }


# ---------------------------------------------------------------------------
# Latency mode
# ---------------------------------------------------------------------------


class LatencyPair:
    """A pings B (XEP-0199); B answers each ping as soon as it sees it."""

    def __init__(self, a: Component, b: Component) -> None:
        self.a = a
        self.b = b
        self.seq = 0
        self.sent_at: dict[bytes, float] = {}
        self.samples: list[tuple[float, float]] = []  # (send time, rtt seconds)
        self.errors = 0
        self.ping_head = f"<iq type='get' to='{b.domain}' from='{a.domain}' id='".encode()
        self.ping_tail = b"'><ping xmlns='urn:xmpp:ping'/></iq>"
        self.pong_head = f"<iq type='result' to='{a.domain}' from='{b.domain}' id='".encode()

    def start(self) -> None:
        self.a.on_chunk = self._on_a_chunk
        self.b.on_chunk = self._on_b_chunk

    def ping(self) -> None:
        """Send one ping now and remember when."""
        ident = str(self.seq).encode()
        self.seq += 1
        self.sent_at[ident] = time.perf_counter()
        self.a.write(self.ping_head + ident + self.ping_tail)

    def _on_b_chunk(self, buf: bytes, end: int) -> None:
        replies = []
        for attrs in IQ_TAG_RE.findall(buf, 0, end):
            kind = ATTR_TYPE_RE.search(attrs)
            ident = ATTR_ID_RE.search(attrs)
            if kind is None or ident is None or kind.group(1) != b"get":
                self.errors += 1
                continue
            replies.append(self.pong_head + ident.group(1) + b"'/>")
        if replies:
            self.b.write(b"".join(replies))

    def _on_a_chunk(self, buf: bytes, end: int) -> None:
        now = time.perf_counter()
        for attrs in IQ_TAG_RE.findall(buf, 0, end):
            kind = ATTR_TYPE_RE.search(attrs)
            ident = ATTR_ID_RE.search(attrs)
            if kind is None or ident is None or kind.group(1) != b"result":
                self.errors += 1
                continue
            sent = self.sent_at.pop(ident.group(1), None)
            if sent is None:
                self.errors += 1  # unknown or duplicate answer
                continue
            self.samples.append((sent, now - sent))


class PingClock:
    """Open-loop scheduler: sends pings at C{rate}/s, round-robin over pairs."""

    def __init__(self, pairs: list[LatencyPair], rate: float) -> None:
        self.pairs = pairs
        self.rate = rate
        self.sent = 0
        self.t0 = 0.0
        self.handle: asyncio.TimerHandle | None = None
        self.stopped = False

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self._tick()

    def stop(self) -> None:
        self.stopped = True
        if self.handle is not None:
            self.handle.cancel()

    def _tick(self) -> None:
        if self.stopped:
            return
        due = int((time.perf_counter() - self.t0) * self.rate) + 1 - self.sent
        for _ in range(min(due, 1000)):  # bounded catch-up after a stall
            self.pairs[self.sent % len(self.pairs)].ping()
            self.sent += 1
        delay = self.t0 + (self.sent) / self.rate - time.perf_counter()
        self.handle = asyncio.get_running_loop().call_later(max(delay, 0.0), self._tick)


# ---------------------------------------------------------------------------
# Worker: one process's share of the pairs
# ---------------------------------------------------------------------------


class Sync(Protocol):
    """How a worker learns the common start time (wall clock, time.time())."""

    async def ready(self) -> float: ...


class LocalSync:
    """The only worker: start shortly after it is ready."""

    async def ready(self) -> float:
        return time.time() + START_DELAY


class PipeSync:
    """One of several worker processes: the parent sends the start time."""

    def __init__(self, conn: multiprocessing.connection.Connection, timeout: float) -> None:
        self.conn = conn
        self.timeout = timeout

    async def ready(self) -> float:
        self.conn.send(("ready", None))
        loop = asyncio.get_running_loop()
        got = await loop.run_in_executor(None, self.conn.poll, self.timeout)
        if not got:
            raise TimeoutError("no start signal from the parent")
        kind, value = self.conn.recv()
        if kind != "start":
            raise RuntimeError("aborted by the parent")
        return float(value)


async def sleep_until_wall(when: float) -> None:
    """Sleep until wall-clock time C{when}."""
    await asyncio.sleep(max(when - time.time(), 0.0))


async def open_pairs(cfg: Config, indices: list[int]) -> list[tuple[Component, Component]]:
    """Connect and authenticate both components of every pair in C{indices}."""
    # (A, port of A), (B, port of B), ... in pair order.
    flat = [(d, port) for i in indices for d, port in zip(cfg.domains(i), cfg.ports(i))]
    outcomes = await asyncio.gather(*(connect(cfg, d, port) for d, port in flat),
                                    return_exceptions=True)
    comps = [c for c in outcomes if isinstance(c, Component)]
    if len(comps) != len(outcomes):
        for comp in comps:
            comp.close()
        raise next(e for e in outcomes if isinstance(e, BaseException))
    return [(comps[2 * k], comps[2 * k + 1]) for k in range(len(indices))]


def close_all(conns: list[tuple[Component, Component]]) -> None:
    for a, b in conns:
        a.close()
        b.close()


async def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    """Poll C{predicate} until true or C{timeout} seconds pass."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(step)
    return True


class Meter:
    """Counts taken at the start and end of the measurement window."""

    def __init__(self, server_pid: int | None, watch_pids: tuple[int, ...] = ()) -> None:
        self.server_pid = server_pid
        self.watch_pids = watch_pids
        self.marks: dict[str, dict[str, float]] = {}
        self.watched: dict[str, dict[int, float]] = {}

    def mark(self, name: str, count: float) -> None:
        now = time.perf_counter()
        server = proc_cpu_seconds(self.server_pid) if self.server_pid else None
        busy, steal = machine_cpu_seconds()
        self.marks[name] = {"t": now, "count": count, "cpu": cpu_seconds(),
                            "server": server or 0.0, "busy": busy, "steal": steal}
        if self.watch_pids:
            self.watched[name] = {pid: proc_cpu_seconds(pid) or 0.0 for pid in self.watch_pids}

    def window(self) -> dict[str, Any]:
        s, e = self.marks["start"], self.marks["end"]
        extra: dict[str, Any] = {}
        if self.watch_pids:
            ws, we = self.watched["start"], self.watched["end"]
            extra["watched_cpu"] = {str(pid): we[pid] - ws[pid] for pid in self.watch_pids}
        return {
            **extra,
            "seconds": e["t"] - s["t"],
            "count": e["count"] - s["count"],
            "gen_cpu": e["cpu"] - s["cpu"],
            "server_cpu": e["server"] - s["server"] if self.server_pid else -1.0,
            "machine_busy": e["busy"] - s["busy"],
            "steal": e["steal"] - s["steal"],
            "t_start": s["t"],
            "t_end": e["t"],
        }


async def run_throughput(cfg: Config, conns: list[tuple[Component, Component]], start_at: float,
                         meter: Meter) -> dict[str, Any]:
    pairs = [ThroughputPair(a, b, cfg.window, cfg.batch, cfg.size, cfg.rcvlowat)
             for a, b in conns]

    def delivered() -> int:
        return sum(p.check.unique for p in pairs)

    await sleep_until_wall(start_at)
    for p in pairs:
        p.start()
    await asyncio.sleep(cfg.warmup)
    meter.mark("start", delivered())
    await asyncio.sleep(cfg.duration)
    meter.mark("end", delivered())
    for p in pairs:
        p.stop()
    drained = await wait_until(lambda: all(p.in_flight <= 0 for p in pairs), cfg.drain_timeout)
    per_pair = [p.result() for p in pairs]
    return {"per_pair": per_pair, "drained": drained}


async def run_latency(cfg: Config, conns: list[tuple[Component, Component]], start_at: float,
                      meter: Meter, share: float) -> dict[str, Any]:
    pairs = [LatencyPair(a, b) for a, b in conns]
    for p in pairs:
        p.start()
    clock = PingClock(pairs, cfg.rate * share)
    await sleep_until_wall(start_at)
    clock.start()
    await asyncio.sleep(cfg.warmup)
    meter.mark("start", 0)
    await asyncio.sleep(cfg.duration)
    meter.mark("end", 0)
    clock.stop()
    drained = await wait_until(lambda: all(not p.sent_at for p in pairs), cfg.drain_timeout)
    win = meter.window()
    rtts = [rtt * 1000.0 for p in pairs for sent, rtt in p.samples
            if win["t_start"] <= sent < win["t_end"]]
    return {
        "rtts_ms": rtts,
        "pings_sent": sum(p.seq for p in pairs),
        "lost": sum(len(p.sent_at) for p in pairs),
        "errors": sum(p.errors for p in pairs),
        "drained": drained,
    }


async def run_worker(cfg: Config, indices: list[int], sync: Sync) -> dict[str, Any]:
    """Connect this worker's pairs, wait for the common start, run the mode."""
    cpu0 = cpu_seconds()
    conns = await open_pairs(cfg, indices)
    try:
        start_at = await sync.ready()
        meter = Meter(cfg.server_pid, cfg.watch_pids)
        if cfg.mode == "throughput":
            out = await run_throughput(cfg, conns, start_at, meter)
        else:
            out = await run_latency(cfg, conns, start_at, meter, len(indices) / cfg.pairs)
        out["stream_errors"] = [e for a, b in conns for e in a.stream_errors + b.stream_errors]
    finally:
        close_all(conns)
        await asyncio.sleep(0.05)  # let the closing bytes go out
    out["window"] = meter.window()
    out["cpu_total"] = cpu_seconds() - cpu0
    return out


def worker_process(cfg: Config, indices: list[int],
                   conn: multiprocessing.connection.Connection) -> None:
    """Entry point of one --procs worker: run, then send the result (or error)."""
    timeout = cfg.connect_timeout + 10.0
    try:
        result = asyncio.run(run_worker(cfg, indices, PipeSync(conn, timeout)))
        conn.send(("result", result))
    except BaseException as exc:  # report anything to the parent, then exit
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


# ---------------------------------------------------------------------------
# Parent: split, coordinate, aggregate
# ---------------------------------------------------------------------------


def split_pairs(pairs: int, procs: int) -> list[list[int]]:
    """Deal pair numbers round-robin over C{procs} workers (none empty)."""
    procs = max(1, min(procs, pairs))
    return [list(range(k, pairs, procs)) for k in range(procs)]


def overall_deadline(cfg: Config) -> float:
    """Upper bound, in seconds, for a whole run."""
    return cfg.connect_timeout + START_DELAY + cfg.warmup + cfg.duration + cfg.drain_timeout + 15.0


def run_local(cfg: Config) -> list[dict[str, Any]]:
    async def bounded() -> dict[str, Any]:
        return await asyncio.wait_for(run_worker(cfg, list(range(cfg.pairs)), LocalSync()),
                                      overall_deadline(cfg))

    return [asyncio.run(bounded())]


def run_processes(cfg: Config, procs: int) -> list[dict[str, Any]]:
    """Run the pairs over several forked workers; returns their results."""
    ctx = multiprocessing.get_context("fork")
    workers = []
    for indices in split_pairs(cfg.pairs, procs):
        parent_end, child_end = ctx.Pipe()
        proc = ctx.Process(target=worker_process, args=(cfg, indices, child_end), daemon=True)
        proc.start()
        child_end.close()
        workers.append((proc, parent_end))
    deadline = time.monotonic() + overall_deadline(cfg)
    try:
        _await_all_ready(workers, time.monotonic() + cfg.connect_timeout + 5.0)
        start_at = time.time() + START_DELAY
        for _, conn in workers:
            conn.send(("start", start_at))
        return [_receive(conn, deadline, "result") for _, conn in workers]
    finally:
        for proc, conn in workers:
            proc.join(timeout=max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.terminate()  # our own child, by its PID
                proc.join(timeout=2.0)
            conn.close()


def _receive(conn: multiprocessing.connection.Connection, deadline: float, want: str) -> Any:
    if not conn.poll(max(0.0, deadline - time.monotonic())):
        raise TimeoutError(f"worker did not send {want!r} in time")
    kind, value = conn.recv()
    if kind == "error":
        raise RuntimeError(f"worker failed: {value}")
    if kind != want:
        raise RuntimeError(f"worker sent {kind!r}, expected {want!r}")
    return value


def _await_all_ready(workers: list[tuple[Any, multiprocessing.connection.Connection]],
                     deadline: float) -> None:
    try:
        for _, conn in workers:
            _receive(conn, deadline, "ready")
    except BaseException:
        for _, conn in workers:
            try:
                conn.send(("abort", None))
            except OSError:
                pass
        raise


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (NaN when empty)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(q / 100.0 * len(sorted_values))))
    return sorted_values[rank - 1]


def aggregate(cfg: Config, procs: int, results: list[dict[str, Any]], wall: float) -> dict[str, Any]:
    """Merge the workers' results into one report."""
    windows = [r["window"] for r in results]
    seconds = max(w["seconds"] for w in windows)
    gen_cpu_window = sum(w["gen_cpu"] for w in windows)
    server_cpu = windows[0]["server_cpu"] if cfg.server_pid else None
    out: dict[str, Any] = {
        "mode": cfg.mode,
        "pairs": cfg.pairs,
        "procs": procs,
        "duration_s": round(seconds, 3),
        "gen_cpu_s": round(gen_cpu_window, 3),
        "gen_cpu_core_pct": round(100.0 * gen_cpu_window / seconds, 1),
        "gen_cpu_max_proc_pct": round(100.0 * max(w["gen_cpu"] for w in windows) / seconds, 1),
        "gen_cpu_total_s": round(sum(r["cpu_total"] for r in results), 3),
        "server_cpu_s": round(server_cpu, 3) if server_cpu is not None else None,
        "wall_s": round(wall, 3),
        "stream_errors": [e for r in results for e in r["stream_errors"]][:5],
        "drained": all(r["drained"] for r in results),
    }
    if cfg.mode == "throughput":
        out.update(_throughput_summary(cfg, results, seconds))
    else:
        out.update(_latency_summary(cfg, results))
    out["server_cpu_core_pct"] = (round(100.0 * server_cpu / seconds, 1)
                                  if server_cpu is not None else None)
    # Whatever else ran on the machine meanwhile (other users, the kernel's
    # softirq work is included in busy): a noisy neighbour shows up here.
    busy = windows[0]["machine_busy"]
    other = busy - gen_cpu_window - (server_cpu or 0.0)
    out["other_cpu_core_pct"] = round(100.0 * max(other, 0.0) / seconds, 1)
    out["steal_core_pct"] = round(100.0 * windows[0]["steal"] / seconds, 1)
    if cfg.watch_pids:
        out["watched_cpu_s"] = {pid: round(s, 3) for pid, s in windows[0]["watched_cpu"].items()}
        # Like other_cpu_core_pct, but net of the watched processes as well.
        other -= sum(windows[0]["watched_cpu"].values())
        out["other_unwatched_cpu_core_pct"] = round(100.0 * max(other, 0.0) / seconds, 1)
    return out


def _throughput_summary(cfg: Config, results: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    per_pair = [p for r in results for p in r["per_pair"]]
    delivered = sum(r["window"]["count"] for r in results)
    total = {k: sum(p[k] for p in per_pair) for k in
             ("sent", "arrivals", "lost", "duplicated", "reordered", "errors")}
    return {
        "window": cfg.window,
        "stanza_bytes": len(message_template(*cfg.domains(0), cfg.size)) + 4,
        "delivered": int(delivered),
        "stanzas_per_s": round(delivered / seconds, 1),
        **total,
    }


def _latency_summary(cfg: Config, results: list[dict[str, Any]]) -> dict[str, Any]:
    rtts = sorted(x for r in results for x in r["rtts_ms"])
    return {
        "rate": cfg.rate,
        "samples": len(rtts),
        "pings_sent": sum(r["pings_sent"] for r in results),
        "lost": sum(r["lost"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "p50_ms": round(percentile(rtts, 50), 3),
        "p90_ms": round(percentile(rtts, 90), 3),
        "p99_ms": round(percentile(rtts, 99), 3),
        "max_ms": round(rtts[-1], 3) if rtts else float("nan"),
        "mean_ms": round(sum(rtts) / len(rtts), 3) if rtts else float("nan"),
    }


def human_line(r: dict[str, Any]) -> str:
    """One line for people."""
    gen = (f"generator CPU {r['gen_cpu_s']:.2f} s ({r['gen_cpu_core_pct']:.0f}% of a core, "
           f"{r['procs']} proc)")
    srv = f", server CPU {r['server_cpu_s']:.2f} s" if r.get("server_cpu_s") is not None else ""
    if r["mode"] == "throughput":
        return (f"throughput: {r['pairs']} pairs, {r['duration_s']:.1f} s: "
                f"{r['stanzas_per_s']:,.0f} stanzas/s delivered; sent {r['sent']:,}, "
                f"lost {r['lost']} dup {r['duplicated']} reordered {r['reordered']} "
                f"errors {r['errors']}; {gen}{srv}")
    return (f"latency: {r['pairs']} pairs at {r['rate']:g}/s: {r['samples']} samples, "
            f"p50 {r['p50_ms']:.3f} ms, p99 {r['p99_ms']:.3f} ms, max {r['max_ms']:.3f} ms; "
            f"lost {r['lost']} errors {r['errors']}; {gen}{srv}")


def parse_args(argv: list[str] | None = None) -> tuple[Config, int, bool]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--host", default="127.0.0.1", help="router address (loopback only)")
    p.add_argument("--port", type=int, required=True, help="router's component port")
    p.add_argument("--receiver-port", type=int, default=None,
                   help="the port the Bs connect to (default: --port); e.g. another node of"
                   " a cluster, so that every stanza crosses between nodes")
    p.add_argument("--spread-port", type=int, action="append", default=[], metavar="PORT",
                   help="deal the pairs round-robin over --port and these ports, both ends of"
                   " a pair on the same port (repeatable; not with --receiver-port)")
    p.add_argument("--secret", default="benchsecret", help="component_secret of every component")
    p.add_argument("--domain-fmt", default="c{}.bench.local",
                   help="component domain pattern; pair i uses numbers 2i+1 and 2i+2")
    p.add_argument("--mode", choices=("throughput", "latency"), default="throughput")
    p.add_argument("--pairs", type=int, default=1)
    p.add_argument("--procs", type=int, default=1, help="worker processes sharing the pairs")
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before")
    p.add_argument("--window", type=int, default=2000, help="max unacknowledged stanzas per pair")
    p.add_argument("--batch", type=int, default=256, help="stanzas per socket write")
    p.add_argument("--size", type=int, default=200, help="approximate stanza size in bytes")
    p.add_argument("--rate", type=float, default=500.0, help="latency mode: pings/s in total")
    p.add_argument("--connect-timeout", type=float, default=10.0)
    p.add_argument("--drain-timeout", type=float, default=10.0)
    p.add_argument("--rcvlowat", type=int, default=16384,
                   help="throughput mode: SO_RCVLOWAT on B's sockets, fewer wake-ups (1: off)")
    p.add_argument("--server-pid", type=int, default=None,
                   help="read this process's CPU time from /proc over the window")
    p.add_argument("--watch-pid", type=int, action="append", default=[], metavar="PID",
                   help="also report this process's CPU time over the window (repeatable)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    a = p.parse_args(argv)
    if not ipaddress.ip_address(a.host).is_loopback:
        p.error("--host must be a loopback address")
    if not (1 <= a.pairs <= MAX_PAIRS) or not (0 < a.duration <= MAX_DURATION):
        p.error(f"--pairs must be 1..{MAX_PAIRS} and --duration 0..{MAX_DURATION}")
    if a.spread_port and a.receiver_port:
        p.error("--spread-port and --receiver-port exclude each other")
    if a.window < 1 or a.batch < 1 or a.rate <= 0 or a.procs < 1:
        p.error("--window, --batch, --rate and --procs must be positive")
    cfg = Config(host=a.host, port=a.port, secret=a.secret, domain_fmt=a.domain_fmt,
                 mode=a.mode, pairs=a.pairs, duration=a.duration, warmup=max(a.warmup, 0.0),
                 window=a.window, batch=a.batch, size=a.size, rate=a.rate,
                 connect_timeout=a.connect_timeout, drain_timeout=a.drain_timeout,
                 server_pid=a.server_pid, rcvlowat=a.rcvlowat, receiver_port=a.receiver_port,
                 watch_pids=tuple(a.watch_pid), spread_ports=tuple(a.spread_port))
    return cfg, min(a.procs, a.pairs), a.json


def main(argv: list[str] | None = None) -> int:
    cfg, procs, as_json = parse_args(argv)
    t0 = time.monotonic()
    try:
        results = run_local(cfg) if procs == 1 else run_processes(cfg, procs)
    except (OSError, RuntimeError, TimeoutError, asyncio.TimeoutError) as exc:
        msg = f"{type(exc).__name__}: {exc}"
        print(json.dumps({"error": msg}) if as_json else f"load.py: {msg}",
              file=sys.stdout if as_json else sys.stderr)
        return 2
    report = aggregate(cfg, procs, results, time.monotonic() - t0)
    print(json.dumps(report) if as_json else human_line(report))
    bad = report.get("lost", 0) or report.get("duplicated", 0) or report.get("reordered", 0)
    return 1 if bad or report.get("errors", 0) else 0


if __name__ == "__main__":
    sys.exit(main())
