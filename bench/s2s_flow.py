#!/usr/bin/env python3
"""
s2s benchmark: an external component sends messages to a user on a remote
Prosody, over server-to-server, and the user sends each one back.  The same
flow is run twice in one invocation, with the component behind xcomp and
then behind a second Prosody (its component port), so that the two
middles can be read side by side:

    component --XEP-0114--> MIDDLE --s2s/TLS--> remote Prosody --c2s--> echo user
    component <--XEP-0114-- MIDDLE <--s2s/TLS-- remote Prosody <--c2s-- echo user

MIDDLE is xcomp (``twistd -n xcomp``) or Prosody (``prosody -F``); the
remote Prosody is a fresh one for each flow, with the same config.  Every
server runs in its own temporary directory on its own 127.0.N.x address
(s2s on port 5269 there, as with no SRV record), with certificates from a
throwaway CA that all of them trust, so that both s2s links authenticate
with SASL EXTERNAL over TLS.  Names: the Prosodys resolve through a hosts
file given to lua-unbound (``unbound = { hoststxt = ... }``), xcomp through
``s2s_connect_overrides``; each is looked up once per link.

Two phases per flow, after a warm-up that opens both s2s links:

* **throughput**: the component keeps ``--window`` messages in flight for
  ``--duration`` seconds.  Reported: echoed messages/s; each server's CPU
  seconds (utime+stime of its PID from /proc/PID/stat, before and after
  the window) per 10k stanzas it routed: the middle routes 2 per round
  trip (out and back), as does the remote.  lost/dup/reord must be 0.
* **latency**: ``--rate`` messages/s on an open loop for
  ``--latency-duration`` seconds; p50/p99 round trip (nearest rank).

The remote Prosody does the most work per message (s2s in and out plus
c2s in and out), so it sets messages/s for both middles: the figure to
compare is the middle's CPU per stanza.  The echo user is a raw c2s client
(SASL PLAIN on loopback without TLS, no XML parsing: it reads the ids with
one pattern), so it costs the remote Prosody as little as possible.

    python3 bench/s2s_flow.py [--duration 10] [--window 200] [--rate 500] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import re
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(REPO_ROOT))

from load import Component, Config, connect, cpu_seconds  # noqa: E402
from servers import HOST, ServerProcess, ServerSpec, free_port, read_cpu_seconds  # noqa: E402

from xcomp.test.certs import TestCA  # noqa: E402

REMOTE = "remote.s2sbench"
COMPONENT = "comp.s2sbench"
USER, PASSWORD, RESOURCE = "echo", "echo-pw", "r"
SECRET = "benchsecret"
BODY = "x" * 100
ID_RE = re.compile(rb"<message\b[^>]*? id=['\"](\d+)['\"]")
ERROR_RE = re.compile(rb"<message\b[^>]*?type=['\"]error['\"]")
TWISTD = "import sys; from twisted.scripts.twistd import run; sys.argv[0] = 'twistd'; run()"
#: Prosody at its best, as bench/compare runs it (see bench/README.md).
PROSODY_TUNING = 'gc = { mode = "generational" }\nnetwork_settings = { read_size = 65536; nagle = false }\n'


def lua(text: str) -> str:
    """A Lua string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def pick_address(taken: set[str], rng: random.Random) -> str:
    """A 127.0.N.x where port 5269 can be bound now, not in C{taken}."""
    for _ in range(50):
        address = f"127.0.{rng.randint(4, 254)}.{rng.randint(10, 250)}"
        if address in taken:
            continue
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((address, 5269))
            except OSError:
                continue
        return address
    raise RuntimeError("no free 127.0.N.x address for port 5269")


def remote_config(work: Path, c2s: int, address: str, ca: TestCA, hosts: Path) -> str:
    """The remote Prosody: one user on c2s (plaintext), s2s with TLS required."""
    issued = ca.issue(REMOTE)
    return f"""-- written by bench/s2s_flow.py: the remote server
run_as_root = true
pidfile = {lua(str(work / "prosody.pid"))}
data_path = {lua(str(work / "data"))}
log = {{ warn = {lua(str(work / "server.log"))} }}
modules_enabled = {{ "saslauth", "tls", "dialback" }}
modules_disabled = {{ "offline", "admin_socket" }}
authentication = "internal_plain"
storage = "internal"
c2s_ports = {{ {c2s} }}
c2s_interfaces = {{ "{HOST}" }}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
s2s_ports = {{ 5269 }}
s2s_interfaces = {{ {lua(address)} }}
s2s_require_encryption = true
s2s_secure_auth = false
component_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
ssl = {{ certificate = {lua(issued.certificate)}, key = {lua(issued.key)}, cafile = {lua(ca.path)} }}
unbound = {{ hoststxt = {lua(str(hosts))} }}
{PROSODY_TUNING}
VirtualHost {lua(REMOTE)}
"""


def prosody_middle_config(work: Path, port: int, address: str, ca: TestCA, hosts: Path) -> str:
    """The component behind Prosody: its component port, s2s with TLS."""
    issued = ca.issue(COMPONENT)
    return f"""-- written by bench/s2s_flow.py: Prosody as the component's server
run_as_root = true
pidfile = {lua(str(work / "prosody.pid"))}
data_path = {lua(str(work / "data"))}
log = {{ warn = {lua(str(work / "server.log"))} }}
modules_enabled = {{ "saslauth", "tls", "dialback" }}
modules_disabled = {{ "offline", "admin_socket" }}
storage = "memory"
c2s_ports = {{ }}
s2s_ports = {{ 5269 }}
s2s_interfaces = {{ {lua(address)} }}
s2s_require_encryption = true
s2s_secure_auth = false
component_ports = {{ {port} }}
component_interfaces = {{ "{HOST}" }}
http_ports = {{ }}
https_ports = {{ }}
ssl = {{ certificate = {lua(issued.certificate)}, key = {lua(issued.key)}, cafile = {lua(ca.path)} }}
unbound = {{ hoststxt = {lua(str(hosts))} }}
{PROSODY_TUNING}
-- Prosody will not start without one.
VirtualHost "middle.s2sbench"

Component {lua(COMPONENT)}
    component_secret = {lua(SECRET)}
"""


def xcomp_middle_config(work: Path, port: int, address: str, ca: TestCA, remote: str) -> str:
    """The component behind xcomp: the same, in the lines an admin writes."""
    issued = ca.issue(COMPONENT)
    return f"""-- written by bench/s2s_flow.py: xcomp as the component's server
xcomp_log = {{ warn = {lua(str(work / "server.log"))} }}
component_ports = {{ {port} }}
component_interfaces = {{ "{HOST}" }}
s2s_ports = {{ 5269 }}
s2s_interfaces = {{ {lua(address)} }}
s2s_require_encryption = true
ssl = {{ cafile = {lua(ca.path)} }}
s2s_connect_overrides = {{ [{lua(REMOTE)}] = {{ {lua(remote)}, 5269 }} }}

Component {lua(COMPONENT)}
    component_secret = {lua(SECRET)}
    ssl = {{ certificate = {lua(issued.certificate)}; key = {lua(issued.key)} }}
"""


def prosody_spec(name: str, text: str) -> ServerSpec:
    """A Prosody started as C{prosody --config CFG -F}."""
    return ServerSpec(
        name=name, config=lambda workdir, port, count, secret: text, config_name="prosody.cfg.lua",
        command=lambda cfg, port: [shutil.which("prosody") or "prosody", "--config", str(cfg), "-F"],
        check=lambda: None, env=lambda: {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/tmp"},
    )


def xcomp_spec(text: str) -> ServerSpec:
    """xcomp from this work tree, with the Python running this script."""
    return ServerSpec(
        name="xcomp", config=lambda workdir, port, count, secret: text, config_name="xcomp.cfg.lua",
        command=lambda cfg, port: [sys.executable, "-c", TWISTD, "-n", "--pidfile=", "xcomp", "-c", str(cfg)],
        check=lambda: None, cwd=REPO_ROOT,
        env=lambda: {**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )


def add_user(work: Path) -> None:
    """The echo user's account, as Prosody's internal storage keeps it."""
    host = "".join(c if c.isalnum() else f"%{ord(c):02x}" for c in REMOTE)
    accounts = work / "data" / host / "accounts"
    accounts.mkdir(parents=True, exist_ok=True)
    (accounts / f"{USER}.dat").write_text(f'return {{\n\t["password"] = {lua(PASSWORD)};\n}};\n')


def wait_port(host: str, port: int, process: ServerProcess, timeout: float = 30.0) -> None:
    """Until C{host:port} accepts, the process is alive, and C{timeout} has not passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"{process.spec.name} exited:\n{process.log_tail()}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{process.spec.name}: nothing on {host}:{port} after {timeout:g} s:\n{process.log_tail()}")


class EchoUser(asyncio.Protocol):
    """
    A c2s client of the remote Prosody that sends every message back to
    the component with the same id.  No XML parser: the login is a fixed
    exchange, and the ids are read with one pattern over complete tags.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.ready: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self._buf = b""
        self._step = 0
        self.echoed = 0

    def _header(self) -> None:
        assert self.transport is not None
        self.transport.write(
            b"<?xml version='1.0'?><stream:stream xmlns='jabber:client'"
            b" xmlns:stream='http://etherx.jabber.org/streams' to='" + REMOTE.encode() + b"' version='1.0'>"
        )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._header()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"c2s closed during login: {self._buf[-300:]!r}"))

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        buf = self._buf + data
        if self._step < 4:
            self._buf = buf
            self._login()
            return
        end = len(buf) if buf.endswith(b">") else max(buf.rfind(b"<"), 0)
        self._buf = buf[end:]
        ids = ID_RE.findall(buf, 0, end)
        if ids:
            self.echoed += len(ids)
            self.transport.write(b"".join(
                b"<message to='" + COMPONENT.encode() + b"' id='" + i + b"' type='normal'><body>"
                + BODY.encode() + b"</body></message>" for i in ids
            ))

    def _login(self) -> None:
        assert self.transport is not None
        buf = self._buf
        if b"<failure" in buf or b"<stream:error" in buf:
            self.transport.close()
        elif self._step == 0 and b"</stream:features>" in buf:
            token = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode())
            self.transport.write(b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + token + b"</auth>")
            self._buf, self._step = b"", 1
        elif self._step == 1 and b"<success" in buf:
            self._header()
            self._buf, self._step = b"", 2
        elif self._step == 2 and b"</stream:features>" in buf:
            self.transport.write(
                b"<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>"
                + RESOURCE.encode() + b"</resource></bind></iq>"
            )
            self._buf, self._step = b"", 3
        elif self._step == 3 and b"</iq>" in buf:
            self.transport.write(b"<presence/>")
            self._buf, self._step = b"", 4
            self.ready.set_result(None)


class Flow:
    """The component's side: sends numbered messages, checks the echoes."""

    def __init__(self, comp: Component) -> None:
        self.comp = comp
        self.sent = 0
        self.received = 0
        self.dup = self.reord = self.errors = 0
        self._seen: set[int] = set()
        self._last = -1
        self.sentAt: dict[int, float] = {}
        self.rtts: list[float] = []
        self.record = False
        self.changed = asyncio.Event()
        comp.on_chunk = self.chunk
        self._to = f"{USER}@{REMOTE}/{RESOURCE}"

    def send(self, count: int) -> None:
        now = time.perf_counter()
        parts = []
        for _ in range(count):
            n = self.sent
            if self.record:
                self.sentAt[n] = now
            parts.append(
                f"<message from='{COMPONENT}' to='{self._to}' id='{n}' type='normal'><body>{BODY}</body></message>"
            )
            self.sent += 1
        self.comp.write("".join(parts).encode())

    def chunk(self, buf: bytes, end: int) -> None:
        now = time.perf_counter()
        self.errors += len(ERROR_RE.findall(buf, 0, end))
        for raw in ID_RE.findall(buf, 0, end):
            n = int(raw)
            if n in self._seen:
                self.dup += 1
                continue
            self._seen.add(n)
            if n < self._last:
                self.reord += 1
            self._last = max(self._last, n)
            self.received += 1
            started = self.sentAt.pop(n, None)
            if started is not None:
                self.rtts.append(now - started)
        self.changed.set()

    async def until(self, condition: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{self.sent - self.received} of {self.sent} messages not echoed in {timeout:g} s")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), min(remaining, 1.0))
            except asyncio.TimeoutError:
                pass


def rank(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(round(share * len(ordered) + 0.5)) - 1))]


async def measure(args: argparse.Namespace, middle: ServerProcess, remote: ServerProcess, c2sPort: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    user = EchoUser(loop)
    await loop.create_connection(lambda: user, HOST, c2sPort)
    await asyncio.wait_for(user.ready, 20)
    cfg = Config(HOST, middle.port, SECRET, COMPONENT, "s2s", 0, 0.0, 0.0, 0, 0, 0, 0.0, 20.0, 20.0, None, 0)
    comp = await connect(cfg, COMPONENT)
    flow = Flow(comp)
    try:
        # Warm-up: both s2s links opened and authenticated, caches filled.
        flow.send(1)
        await flow.until(lambda: flow.received == 1, 30)
        end = time.monotonic() + args.warmup
        while time.monotonic() < end:
            flow.send(max(0, args.window - (flow.sent - flow.received)))
            await flow.until(lambda: flow.sent - flow.received < args.window, args.timeout)
        await flow.until(lambda: flow.received == flow.sent, args.timeout)

        # Throughput: a window of messages in flight.
        base = flow.received
        cpu0 = (middle.cpu(), remote.cpu(), cpu_seconds())
        start = time.monotonic()
        end = start + args.duration
        while time.monotonic() < end:
            flow.send(max(0, args.window - (flow.sent - flow.received)))
            await flow.until(lambda: flow.sent - flow.received < args.window or time.monotonic() >= end, args.timeout)
        seconds = time.monotonic() - start
        echoed = flow.received - base
        cpu1 = (middle.cpu(), remote.cpu(), cpu_seconds())
        await flow.until(lambda: flow.received == flow.sent, args.drain_timeout)

        # Latency: an open loop at --rate.
        flow.record = True
        interval = 1.0 / args.rate
        next_at = time.monotonic()
        end = next_at + args.latency_duration
        while next_at < end:
            flow.send(1)
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        await flow.until(lambda: flow.received == flow.sent, args.drain_timeout)
    finally:
        comp.close()
        if user.transport is not None:
            user.transport.close()
    middleCpu = (cpu1[0] or 0) - (cpu0[0] or 0)
    remoteCpu = (cpu1[1] or 0) - (cpu0[1] or 0)
    stanzas = 2 * echoed  # each server routes a message out and its echo back
    return {
        "middle": middle.spec.name,
        "messages_per_s": round(echoed / seconds),
        "round_trips": echoed,
        "p50_ms": round(rank(flow.rtts, 0.50) * 1000, 2),
        "p99_ms": round(rank(flow.rtts, 0.99) * 1000, 2),
        "latency_samples": len(flow.rtts),
        "middle_cpu_s": round(middleCpu, 2),
        "middle_cpu_s_per_10k": round(middleCpu / stanzas * 10000, 3) if stanzas else None,
        "middle_cpu_share": round(middleCpu / seconds, 2),
        "remote_cpu_s_per_10k": round(remoteCpu / stanzas * 10000, 3) if stanzas else None,
        "remote_cpu_share": round(remoteCpu / seconds, 2),
        "generator_cpu_share": round((cpu1[2] - cpu0[2]) / seconds, 2),
        "lost": flow.sent - flow.received,
        "dup": flow.dup,
        "reord": flow.reord,
        "errors": flow.errors,
    }


def run_flow(args: argparse.Namespace, name: str, rng: random.Random) -> dict[str, Any]:
    """Start the remote Prosody and the middle, measure, stop both by PID."""
    with tempfile.TemporaryDirectory(prefix=f"xcomp-s2s-bench-{name}-") as tmp:
        work = Path(tmp)
        ca = TestCA(str(work / "ca"))
        remoteAddress = pick_address(set(), rng)
        middleAddress = pick_address({remoteAddress}, rng)
        hosts = work / "hosts"
        hosts.write_text(f"{remoteAddress} {REMOTE}\n{middleAddress} {COMPONENT}\n")
        (work / "remote").mkdir()
        (work / "middle").mkdir()
        add_user(work / "remote")
        c2sPort, componentPort = free_port(), free_port()
        remote = ServerProcess(
            prosody_spec("prosody (remote)", remote_config(work / "remote", c2sPort, remoteAddress, ca, hosts)),
            work / "remote", c2sPort, 0, [],
        )
        if name == "xcomp":
            spec = xcomp_spec(xcomp_middle_config(work / "middle", componentPort, middleAddress, ca, remoteAddress))
        else:
            spec = prosody_spec("prosody", prosody_middle_config(work / "middle", componentPort, middleAddress, ca, hosts))
        middle = ServerProcess(spec, work / "middle", componentPort, 1, [])
        try:
            remote.start(args.timeout)
            wait_port(remoteAddress, 5269, remote)
            middle.start(args.timeout)
            wait_port(middleAddress, 5269, middle)
            return asyncio.run(measure(args, middle, remote, c2sPort))
        except (RuntimeError, TimeoutError, OSError, asyncio.TimeoutError) as e:
            raise RuntimeError(f"{name}: {e}\nmiddle's log:\n{middle.log_tail()}\nremote's log:\n{remote.log_tail()}") from None
        finally:
            middle.stop()
            remote.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--middles", default="xcomp,prosody", help="comma-separated: xcomp, prosody")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of throughput")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up")
    parser.add_argument("--window", type=int, default=200, help="messages in flight at most")
    parser.add_argument("--rate", type=float, default=500.0, help="messages/s in the latency phase")
    parser.add_argument("--latency-duration", type=float, default=5.0, help="seconds of the latency phase")
    parser.add_argument("--timeout", type=float, default=60.0, help="longest wait for a server, seconds")
    parser.add_argument("--drain-timeout", type=float, default=30.0, help="longest wait for the last echoes")
    parser.add_argument("--seed", type=int, default=None, help="for the choice of 127.0.N.x addresses")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if max(args.duration, args.warmup, args.latency_duration, args.timeout, args.drain_timeout) > 600:
        parser.error("every duration is at most 600 s")
    if shutil.which("prosody") is None:
        print("Debian's prosody is needed (apt-get install -y prosody): it is the remote server", file=sys.stderr)
        return 3
    names = [n.strip() for n in args.middles.split(",") if n.strip()]
    unknown = set(names) - {"xcomp", "prosody"}
    if unknown:
        parser.error(f"unknown middle(s): {', '.join(sorted(unknown))}")
    rng = random.Random(args.seed)
    results, failed = [], False
    for name in names:
        try:
            results.append(run_flow(args, name, rng))
        except RuntimeError as e:
            print(e, file=sys.stderr)
            failed = True
    failed = failed or any(r["lost"] or r["dup"] or r["reord"] or r["errors"] for r in results)
    if args.json:
        print(json.dumps(results, indent=2))
        return 1 if failed else 0
    print(
        f"{'middle':<8} {'msg/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'CPU s/10k':>9} {'CPU %':>6} "
        f"{'remote CPU s/10k':>16} {'remote %':>8} {'gen %':>6} {'lost/dup/reord/err':>18}"
    )
    for r in results:
        print(
            f"{r['middle']:<8} {r['messages_per_s']:>7} {r['p50_ms']:>7} {r['p99_ms']:>7} "
            f"{r['middle_cpu_s_per_10k']:>9} {r['middle_cpu_share'] * 100:>6.0f} "
            f"{r['remote_cpu_s_per_10k']:>16} {r['remote_cpu_share'] * 100:>8.0f} {r['generator_cpu_share'] * 100:>6.0f} "
            f"{r['lost']}/{r['dup']}/{r['reord']}/{r['errors']:>12}"
        )
    byName = {r["middle"]: r for r in results}
    if "xcomp" in byName and "prosody" in byName and byName["prosody"]["middle_cpu_s_per_10k"]:
        ratio = byName["xcomp"]["middle_cpu_s_per_10k"] / byName["prosody"]["middle_cpu_s_per_10k"]
        verdict = "PASS" if ratio <= 0.5 else "FAIL"
        print(f"xcomp's CPU per stanza is {ratio:.2f} of Prosody's (goal: at most 0.5): {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
