#!/usr/bin/env python3
# -*- test-case-name: xcomp.test.test_hostile -*-
"""
Measure how much memory C{twistd xcomp} takes on under abuse, and fail if
any load grows its resident set by more than a ceiling.

    python3 bench/memory_ceiling.py [--ceiling-mb 64] [--keep]

It starts xcomp from this work tree as a child process on loopback (a
MongooseIM-style TOML config with one listener and the default limits:
max_stanza_size 512 KiB, state_timeout 5 s, max_output_buffer 4 MiB), two
well-behaved components, and then one load at a time:

  - C{huge-stanza}: an authenticated component sends a 100 MB stanza;
  - C{huge-header}: an unauthenticated peer sends a 100 MB stream header;
  - C{unauthenticated}: 2000 connections that send nothing, held until
    C{state_timeout} closes them;
  - C{never-reads}: a component that stops reading while 100 MB of messages
    are routed to it.

For each it samples the process's RSS (C{/proc/PID/status}, every 5 ms)
from just before the load until the load is over, and prints the baseline,
the peak and the growth; the well-behaved components exchange a message
after each load to show the router still routes.  Exit status 0 when every
growth is under the ceiling, 1 otherwise, 2 when the router did not start.
The router is stopped by its PID (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = "bench-secret"
HEADER = (
    "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
    "xmlns:stream='http://etherx.jabber.org/streams' to='{}'>"
)
TIMEOUT = 30.0
TWISTD = "import sys; from twisted.scripts.twistd import run; sys.argv[0] = 'twistd'; run()"
MB = 1024 * 1024


def freePort() -> int:
    """
    A free TCP port on 127.0.0.1.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss(pid: int) -> int:
    """
    The resident set of C{pid}, in bytes.
    """
    with open(f"/proc/{pid}/status") as f:
        match = re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M)
    assert match is not None
    return int(match.group(1)) * 1024


class Sampler:
    """
    Sample a process's RSS in a thread, keeping the peak.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, rss(self.pid))
            except (OSError, AssertionError):
                return
            self._stop.wait(0.005)

    def __enter__(self) -> Sampler:
        self.peak = rss(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(TIMEOUT)


class Component:
    """
    A blocking XEP-0114 client on a plain socket.
    """

    def __init__(self, port: int, domain: str) -> None:
        self.domain = domain
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buffer = b""
        self.sock.sendall(HEADER.format(domain).encode())
        header = self.readUntil(rb"<stream:stream [^>]*>")
        streamId = re.search(rb"id='([^']+)'", header).group(1).decode()  # type: ignore[union-attr]
        digest = hashlib.sha1((streamId + PASSWORD).encode()).hexdigest()
        self.sock.sendall(f"<handshake>{digest}</handshake>".encode())
        self.readUntil(rb"<handshake/>")

    def readUntil(self, pattern: bytes) -> bytes:
        """
        Read until C{pattern} matches; return the match and drop what is
        before it.
        """
        deadline = time.monotonic() + TIMEOUT
        while True:
            match = re.search(pattern, self.buffer)
            if match:
                self.buffer = self.buffer[match.end() :]
                return match.group(0)
            if time.monotonic() > deadline:
                raise TimeoutError(pattern)
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError(f"closed while waiting for {pattern!r}: {self.buffer[-200:]!r}")
            self.buffer += data

    def send(self, data: str | bytes) -> None:
        self.sock.sendall(data.encode() if isinstance(data, str) else data)


def flood(sock: socket.socket, first: bytes, total: int) -> str:
    """
    Send C{first} then C{total} bytes of C{x} in 1 MiB pieces until the
    router closes the connection.

    @return: What the router said (its stream error condition).
    """
    sock.settimeout(TIMEOUT)
    chunk = b"x" * MB
    try:
        sock.sendall(first)
        for _ in range(total // MB):
            sock.sendall(chunk)
    except OSError:
        pass
    received = b""
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            received += data
    except OSError:
        pass
    match = re.search(rb"<stream:error><([a-z-]+) ", received)
    return match.group(1).decode() if match else "(no stream error)"


class Bench:
    """
    The router process and the loads.
    """

    def __init__(self, directory: str) -> None:
        self.port = freePort()
        config = os.path.join(directory, "mongooseim.toml")
        with open(config, "w") as f:
            f.write(
                f'[general]\n  hosts = ["example.org"]\n\n[[listen.component]]\n'
                f'  port = {self.port}\n  ip_address = "127.0.0.1"\n  password = "{PASSWORD}"\n'
            )
        self.log = os.path.join(directory, "xcomp.log")
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.process = subprocess.Popen(
            [sys.executable, "-c", TWISTD, "-n", "--pidfile=", f"--logfile={self.log}", "xcomp", "-c", config],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
        else:
            raise TimeoutError("xcomp did not start listening")
        if self.process.poll() is not None:
            raise RuntimeError(f"xcomp exited with {self.process.returncode}; see {self.log}")
        self.alice = Component(self.port, "alice.example.org")
        self.bob = Component(self.port, "bob.example.org")
        self.exchanged = 0

    def stop(self) -> None:
        """
        Stop the router by its PID.
        """
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def stillRouting(self) -> None:
        """
        One message from alice to bob and back.
        """
        self.exchanged += 1
        self.alice.send(f"<message from='alice.example.org' to='bob.example.org' id='ok{self.exchanged}'/>")
        self.bob.readUntil(rb"id='ok%d'" % self.exchanged)

    def measure(self, name: str, load: Callable[[], str]) -> tuple[str, int, int, str]:
        """
        Run one load and sample memory while it runs.
        """
        self.stillRouting()
        baseline = rss(self.process.pid)
        with Sampler(self.process.pid) as sampler:
            outcome = load()
        self.stillRouting()
        return name, baseline, sampler.peak, outcome

    # The loads

    def hugeStanza(self) -> str:
        peer = Component(self.port, "huge.example.org")
        return flood(peer.sock, b"<message to='bob.example.org'><body>", 100 * MB)

    def hugeHeader(self) -> str:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)
        return flood(sock, b"<stream:stream xmlns='jabber:component:accept' to='", 100 * MB)

    def unauthenticated(self) -> str:
        socks = []
        try:
            for _ in range(2000):
                socks.append(socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT))
            conditions: dict[str, int] = {}
            for sock in socks:
                received = b""
                while True:
                    data = sock.recv(65536)
                    if not data:
                        break
                    received += data
                match = re.search(rb"<stream:error><([a-z-]+) ", received)
                condition = match.group(1).decode() if match else "(none)"
                conditions[condition] = conditions.get(condition, 0) + 1
            return ", ".join(f"{n} {c}" for c, n in sorted(conditions.items()))
        finally:
            for sock in socks:
                sock.close()

    def neverReads(self) -> str:
        sink = Component(self.port, "sink.example.org")
        body = "x" * 64000
        sent = 0
        while sent < 100 * MB:
            self.alice.send(f"<message from='alice.example.org' to='sink.example.org'><body>{body}</body></message>")
            sent += 64000
        # Whatever the sink could have read is in its socket; the router
        # cut it off long before 100 MB.
        sink.sock.settimeout(TIMEOUT)
        received = b""
        try:
            while True:
                data = sink.sock.recv(MB)
                if not data:
                    break
                received += data[-4096:]
                received = received[-8192:]
        except OSError:
            pass
        match = re.search(rb"<stream:error><([a-z-]+) ", received)
        return match.group(1).decode() if match else "(connection reset)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ceiling-mb", type=float, default=64.0, help="largest allowed RSS growth per load")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and log")
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="xcomp-memory-")
    try:
        bench = Bench(directory)
    except (RuntimeError, TimeoutError, OSError) as e:
        print(f"xcomp did not start: {e}", file=sys.stderr)
        return 2
    results = []
    try:
        for name, load in (
            ("huge-stanza (100 MB)", bench.hugeStanza),
            ("huge-header (100 MB)", bench.hugeHeader),
            ("unauthenticated (2000)", bench.unauthenticated),
            ("never-reads (100 MB to it)", bench.neverReads),
        ):
            results.append(bench.measure(name, load))
    finally:
        bench.stop()
        if args.keep:
            print(f"kept {directory}")
        else:
            import shutil

            shutil.rmtree(directory, ignore_errors=True)
    ceiling = args.ceiling_mb * MB
    print(f"{'load':<28} {'baseline MB':>11} {'peak MB':>8} {'growth MB':>9}  outcome")
    failed = False
    for name, baseline, peak, outcome in results:
        growth = peak - baseline
        mark = "" if growth <= ceiling else "  OVER THE CEILING"
        failed = failed or growth > ceiling
        print(f"{name:<28} {baseline / MB:>11.1f} {peak / MB:>8.1f} {growth / MB:>9.1f}  {outcome}{mark}")
    print(f"ceiling: {args.ceiling_mb:.0f} MB of growth per load; the router routed after every load")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
