#!/usr/bin/env python3
"""
MUC fan-out benchmark: how many occupants one room of xcomp's ``muc``
component takes, and how many groupchat messages per second it fans out.

For each occupant count N (``--occupants 10,100,1000``) it starts
``twistd -n xcomp`` from the work tree on a free loopback port (one room
service, ``conference.bench.local``, with ``muc_max_occupants`` raised to the
largest N), connects ``--connections`` external components
(``u1.bench.local`` ...) carrying the N users round-robin, and measures:

* **join**: the N users enter one room one after another, each waiting for
  its self-presence (the room sends each newcomer the N-1 presences before
  it, and the newcomer's presence to the N-1 others: N^2 presences in all).
* **fan-out**: ``--senders`` occupants send ~100-byte groupchat messages for
  ``--duration`` seconds, keeping at most ``--window`` messages not yet
  delivered to every occupant.  Reported: messages/s accepted and fully
  delivered, deliveries/s (messages x N) received by the components, and
  deliveries per second of server CPU (steadier than the rates when other
  work shares the machine).

The server is stopped by its PID (SIGTERM) after each N.  ``--mam`` adds
``modules_enabled = { "muc_mam" }`` with a ``data_path`` in the temporary
directory, so each message is also archived in SQLite.

    python3 bench/muc_fanout.py --occupants 10,100,1000 --duration 10

The client side reuses ``bench/load.py``'s XEP-0114 connection (no DOM: it
counts stanza tags in the received bytes).  Its CPU time and the server's are
reported, since both share the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

from load import Component, Config, connect, cpu_seconds, proc_cpu_seconds  # noqa: E402
from servers import free_port, port_accepts  # noqa: E402

HOST = "127.0.0.1"
SECRET = "benchsecret"
MUC = "conference.bench.local"
ROOM = f"fanout@{MUC}"
USER_DOMAIN = "u{}.bench.local"
SELF_PRESENCE = b"code='110'"
MESSAGE_TAG = b"<message "
BODY = "x" * 100

CONFIG = """
component_ports = {{ {port} }}
component_interfaces = {{ "127.0.0.1" }}
xcomp_log = {{ warn = "{log}" }}
-- The listener counts every byte written while a connection's buffer is not
-- empty, not what is still waiting; a reader that keeps up with a steady
-- fan-out would be cut off at the default 4 MiB.  See the note in the
-- issue report.
network_settings = {{ max_send_buffer_size = 1073741824 }}
{data}
{components}
Component "{muc}" "muc"
    muc_max_occupants = {max}
    muc_room_locking = false
    max_history_messages = 0
{mam}
"""


class Server:
    """
    ``twistd -n xcomp`` from the work tree, as a child process ended by PID.
    """

    def __init__(self, workdir: Path, occupants: int, connections: int, mam: bool) -> None:
        self.port = free_port()
        self.log = workdir / "xcomp.log"
        components = "\n".join(
            f'Component "{USER_DOMAIN.format(n + 1)}"\n    component_secret = "{SECRET}"' for n in range(connections)
        )
        text = CONFIG.format(
            port=self.port,
            log=self.log,
            data=f'data_path = "{workdir / "data"}"' if mam else "",
            components=components,
            muc=MUC,
            max=max(occupants, 1),
            mam='    modules_enabled = { "muc_mam" }' if mam else "",
        )
        self.config = workdir / "xcomp.cfg.lua"
        self.config.write_text(text)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        code = "import sys; from twisted.scripts.twistd import run; sys.argv[0] = 'twistd'; run()"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, "-n", "--pidfile=", "--logfile", str(self.log), "xcomp", "-c", str(self.config)],
            cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"xcomp exited with {self.proc.returncode}; see {self.log}")
            if port_accepts(self.port):
                return
            time.sleep(0.1)
        raise RuntimeError(f"xcomp did not listen within {timeout} s; see {self.log}")

    def cpu(self) -> float | None:
        return proc_cpu_seconds(self.proc.pid) if self.proc else None

    def rss_mib(self) -> float | None:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():  # type: ignore[union-attr]
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return None

    def stop(self) -> None:
        """SIGTERM by PID, SIGKILL by PID if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


class Counter:
    """
    Counts self-presences and messages in what one connection receives.
    """

    def __init__(self, comp: Component) -> None:
        self.selfPresences = 0
        self.messages = 0
        self.changed = asyncio.Event()
        comp.on_chunk = self.chunk

    def chunk(self, buf: bytes, end: int) -> None:
        self.selfPresences += buf.count(SELF_PRESENCE, 0, end)
        self.messages += buf.count(MESSAGE_TAG, 0, end)
        self.changed.set()


async def wait_for(condition: Any, counters: list[Counter], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the server did not answer in time")
        for counter in counters:
            counter.changed.clear()
        await asyncio.wait([asyncio.ensure_future(c.changed.wait()) for c in counters], timeout=min(remaining, 1.0),
                           return_when=asyncio.FIRST_COMPLETED)


def user(n: int, connections: int) -> tuple[int, str]:
    """(connection index, JID) of user number C{n}."""
    conn = n % connections
    return conn, f"user{n}@{USER_DOMAIN.format(conn + 1)}/bench"


async def measure(args: argparse.Namespace, server: Server, occupants: int) -> dict[str, Any]:
    cfg = Config(HOST, server.port, SECRET, USER_DOMAIN, "fanout", 0, 0.0, 0.0, 0, 0, 0, 0.0, 10.0, 10.0, None, 0)
    comps = [await connect(cfg, USER_DOMAIN.format(i + 1)) for i in range(args.connections)]
    counters = [Counter(c) for c in comps]
    try:
        # Join, one after another.
        joinStart, serverStart = time.monotonic(), server.cpu()
        for n in range(occupants):
            conn, jid = user(n, args.connections)
            before = counters[conn].selfPresences
            comps[conn].write(
                f"<presence from='{jid}' to='{ROOM}/user{n}'><x xmlns='http://jabber.org/protocol/muc'/></presence>".encode()
            )
            await wait_for(lambda: counters[conn].selfPresences > before, counters, args.timeout)
        joinSeconds = time.monotonic() - joinStart
        joinCpu = (server.cpu() or 0) - (serverStart or 0)

        # Fan-out with a window of messages in flight.
        senders = [user(n, args.connections) for n in range(min(args.senders, occupants))]
        base = sum(c.messages for c in counters)
        sent = 0
        start, serverStart, clientStart = time.monotonic(), server.cpu(), cpu_seconds()
        end = start + args.duration

        def delivered() -> int:
            return sum(c.messages for c in counters) - base

        while time.monotonic() < end:
            while sent - delivered() // occupants < args.window:
                conn, jid = senders[sent % len(senders)]
                comps[conn].write(
                    f"<message type='groupchat' id='m{sent}' from='{jid}' to='{ROOM}'><body>{BODY}</body></message>".encode()
                )
                sent += 1
            await wait_for(lambda: sent - delivered() // occupants < args.window or time.monotonic() >= end,
                           counters, args.timeout)
        seconds = time.monotonic() - start
        got = delivered()
        serverCpu = (server.cpu() or 0) - (serverStart or 0)
        await wait_for(lambda: delivered() >= sent * occupants, counters, args.timeout)
        return {
            "occupants": occupants,
            "join_seconds": round(joinSeconds, 2),
            "join_presences": occupants * occupants,
            "join_server_cpu": round(joinCpu, 2),
            "messages_per_s": round(got / occupants / seconds, 1),
            "deliveries_per_s": round(got / seconds),
            "server_cpu_share": round(serverCpu / seconds, 2),
            "deliveries_per_server_cpu_s": round(got / serverCpu) if serverCpu else None,
            "client_cpu_share": round((cpu_seconds() - clientStart) / seconds, 2),
            "server_peak_rss_mib": server.rss_mib(),
            "lost": 0,
        }
    finally:
        for comp in comps:
            comp.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--occupants", default="10,100,1000", help="comma-separated occupant counts")
    parser.add_argument("--connections", type=int, default=4, help="external components carrying the users")
    parser.add_argument("--senders", type=int, default=4, help="occupants that send messages")
    parser.add_argument("--window", type=int, default=8, help="messages in flight at most")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of fan-out per count")
    parser.add_argument("--timeout", type=float, default=120.0, help="longest wait for the server, seconds")
    parser.add_argument("--mam", action="store_true", help="archive messages (muc_mam, SQLite under data_path)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.occupants.split(",")]
    if args.duration > 600 or args.timeout > 600:
        parser.error("--duration and --timeout are at most 600 s")
    results = []
    for occupants in counts:
        with tempfile.TemporaryDirectory(prefix="xcomp-muc-bench-") as tmp:
            server = Server(Path(tmp), occupants, args.connections, args.mam)
            server.start()
            try:
                results.append(asyncio.run(measure(args, server, occupants)))
            finally:
                server.stop()
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(
        f"{'occupants':>9} {'join s':>7} {'join cpu':>8} {'msg/s':>8} {'deliveries/s':>12} "
        f"{'per cpu-s':>9} {'srv cpu':>7} {'cli cpu':>7} {'peak MiB':>8}"
    )
    for r in results:
        print(
            f"{r['occupants']:>9} {r['join_seconds']:>7} {r['join_server_cpu']:>8} {r['messages_per_s']:>8} "
            f"{r['deliveries_per_s']:>12} {r['deliveries_per_server_cpu_s'] or 0:>9} "
            f"{r['server_cpu_share']:>7} {r['client_cpu_share']:>7} "
            f"{r['server_peak_rss_mib'] or 0:>8.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
