#!/usr/bin/env python3
"""
MUC fan-out benchmark: the same room load against xcomp's ``muc``
component, Prosody's ``muc`` and ejabberd's ``mod_muc``, in one run.

For each server (``--servers xcomp,prosody,ejabberd``; those not installed
are skipped with the reason) and each occupant count N (``--occupants
100,1000``) it starts the server on a free loopback port in a fresh
temporary directory (one MUC service, ``conference.bench.local``, no room
locking, no history, N raised past every server's occupant limit), connects
``--connections`` external components (``u1.bench.local`` ...) carrying the
N users round-robin, and measures:

* **join**: the N users enter one room one after another, each waiting for
  its self-presence (the room sends each newcomer the N-1 presences before
  it, and the newcomer's presence to the N-1 others: N^2 presences in all).
* **fan-out**: ``--senders`` occupants send ~100-byte groupchat messages for
  ``--duration`` seconds, keeping at most ``--window`` messages not yet
  delivered to every occupant.  Reported: messages/s accepted and fully
  delivered, deliveries/s (messages x N) received by the components, and
  deliveries per second of server CPU (steadier than the rates when other
  work shares the machine).
* **memory**: the server's resident memory with the components connected
  and the room empty, then with the N occupants in, and the difference per
  occupant (KiB).

Each server is stopped by its PID (SIGTERM, then SIGKILL) after each N.
``--mam`` adds ``modules_enabled = { "muc_mam" }`` to xcomp (with a
``data_path`` in the temporary directory), so each message is also archived
in SQLite; the other servers are then left out.

    python3 bench/muc_fanout.py --occupants 100,1000 --duration 10

The client side reuses ``bench/load.py``'s XEP-0114 connection (no DOM: it
counts stanza tags in the received bytes).  Its CPU time and the server's are
reported, since both share the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

from load import Component, Config, connect, cpu_seconds  # noqa: E402
from servers import SERVERS, ServerProcess, free_port, read_status_kib  # noqa: E402

HOST = "127.0.0.1"
SECRET = "benchsecret"
MUC = "conference.bench.local"
ROOM = f"fanout@{MUC}"
USER_DOMAIN = "u{}.bench.local"
SELF_PRESENCE = b"code='110'"
SELF_PRESENCE_DQ = b'code="110"'
MESSAGE_TAG = b"<message "
BODY = "x" * 100


def user_components(connections: int) -> str:
    return "\n".join(
        f'Component "{USER_DOMAIN.format(n + 1)}"\n    component_secret = "{SECRET}"' for n in range(connections)
    )


def xcomp_config(workdir: Path, port: int, occupants: int, connections: int, mam: bool) -> str:
    data = f'data_path = "{workdir / "data"}"' if mam else ""
    modules = '    modules_enabled = { "muc_mam" }' if mam else ""
    return f"""-- written by bench/muc_fanout.py
component_ports = {{ {port} }}
component_interfaces = {{ "{HOST}" }}
xcomp_log = {{ warn = "{workdir / "server.log"}" }}
-- The listener counts every byte written while a connection's buffer is not
-- empty, not what is still waiting; a reader that keeps up with a steady
-- fan-out would be cut off at the default 4 MiB.
network_settings = {{ max_send_buffer_size = 1073741824 }}
{data}
{user_components(connections)}
Component "{MUC}" "muc"
    muc_max_occupants = {max(occupants, 1)}
    muc_room_locking = false
    max_history_messages = 0
{modules}
"""


def prosody_config(workdir: Path, port: int, occupants: int, connections: int, mam: bool) -> str:
    """Prosody 0.12: components and one MUC, no c2s/s2s/http listeners."""
    return f"""-- written by bench/muc_fanout.py
run_as_root = true
pidfile = "{workdir}/prosody.pid"
data_path = "{workdir}/data"
log = {{ warn = "{workdir}/server.log" }}
modules_enabled = {{ }}
modules_disabled = {{ "offline" }}
c2s_ports = {{ }}
c2s_direct_tls_ports = {{ }}
s2s_ports = {{ }}
s2s_direct_tls_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
component_ports = {{ {port} }}
component_interfaces = {{ "{HOST}" }}
storage = "memory"
-- Prosody's own read limit per connection (mod_limits is not loaded).
VirtualHost "bench.local"

{user_components(connections)}
Component "{MUC}" "muc"
    muc_room_locking = false
    muc_room_default_history_length = 0
    max_history_messages = 0
    muc_tombstones = false
"""


def ejabberd_config(workdir: Path, port: int, occupants: int, connections: int, mam: bool) -> str:
    """
    ejabberd 23.01: one host with mod_muc, one ejabberd_service listener
    whose password takes every user domain (see bench/servers.py).
    ``max_users`` (the service's and the room's, 200 by default) and
    ``max_users_presence`` are raised past N: above the latter ejabberd
    stops broadcasting presence in the room.
    """
    limit = max(occupants, 1) + 10
    return f"""# written by bench/muc_fanout.py (ejabberd 23.01)
loglevel: warning
hosts:
  - bench.local
acme:
  auto: false
listen:
  -
    port: {port}
    ip: "{HOST}"
    module: ejabberd_service
    password: "{SECRET}"
    shaper: none
    shaper_rule: none
    max_stanza_size: infinity
    max_fsm_queue: 1000000
    backlog: 1024
modules:
  mod_muc:
    host: "{MUC}"
    access: all
    access_create: all
    access_persistent: all
    history_size: 0
    max_users: {limit}
    max_users_presence: {limit}
    max_user_conferences: 10
    min_message_interval: 0
    min_presence_interval: 0
    default_room_options:
      persistent: false
      mam: false
      # A room's own limit, 200 by default, under the service's max_users.
      max_users: {limit}
"""


CONFIGS = {"xcomp": xcomp_config, "prosody": prosody_config, "ejabberd": ejabberd_config}
#: xcomp runs twistd from the Python running this benchmark (the work tree's venv).
TWISTD = "import sys; from twisted.scripts.twistd import run; sys.argv[0] = 'twistd'; run()"


def check(name: str) -> str | None:
    """Why a server cannot run here, or None."""
    if name != "xcomp":
        return SERVERS[name].check()
    try:
        import twisted  # noqa: F401
    except ImportError:
        return f"{sys.executable} cannot import twisted"
    return None


class Server:
    """
    One of the servers of bench/servers.py with this benchmark's MUC
    config, started as a child process and stopped by its PID.
    """

    def __init__(self, name: str, workdir: Path, occupants: int, connections: int, mam: bool) -> None:
        self.name = name
        self.port = free_port()
        make = CONFIGS[name]
        spec = dataclasses.replace(
            SERVERS[name], config=lambda workdir, port, count, secret: make(workdir, port, occupants, connections, mam)
        )
        if name == "xcomp":
            spec = dataclasses.replace(
                spec, command=lambda cfg, port: [sys.executable, "-c", TWISTD, "-n", "--pidfile=", "xcomp", "-c", str(cfg)]
            )
        self.process = ServerProcess(spec, workdir, self.port, connections, [])

    def start(self, timeout: float = 60.0) -> None:
        self.process.start(timeout)

    def cpu(self) -> float | None:
        return self.process.cpu()

    def rss_kib(self) -> int | None:
        return read_status_kib(self.process.pid, "VmRSS")

    def peak_mib(self) -> float | None:
        return self.process.rss_mib()[1]

    def stop(self) -> None:
        self.process.stop()


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
        self.selfPresences += buf.count(SELF_PRESENCE, 0, end) + buf.count(SELF_PRESENCE_DQ, 0, end)
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
        await asyncio.sleep(0.5)
        rssEmpty = server.rss_kib()
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
        rssJoined = server.rss_kib()

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
        perOccupant = None
        if rssEmpty is not None and rssJoined is not None:
            perOccupant = round((rssJoined - rssEmpty) / occupants, 1)
        return {
            "server": server.name,
            "occupants": occupants,
            "join_seconds": round(joinSeconds, 2),
            "join_presences": occupants * occupants,
            "join_server_cpu": round(joinCpu, 2),
            "messages_per_s": round(got / occupants / seconds, 1),
            "deliveries_per_s": round(got / seconds),
            "server_cpu_share": round(serverCpu / seconds, 2),
            "deliveries_per_server_cpu_s": round(got / serverCpu) if serverCpu else None,
            "client_cpu_share": round((cpu_seconds() - clientStart) / seconds, 2),
            "server_peak_rss_mib": server.peak_mib(),
            "rss_empty_mib": round(rssEmpty / 1024, 1) if rssEmpty else None,
            "rss_joined_mib": round(rssJoined / 1024, 1) if rssJoined else None,
            "rss_per_occupant_kib": perOccupant,
            "lost": 0,
        }
    finally:
        for comp in comps:
            comp.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", default="xcomp,prosody,ejabberd", help="comma-separated: xcomp, prosody, ejabberd")
    parser.add_argument("--occupants", default="100,1000", help="comma-separated occupant counts")
    parser.add_argument("--connections", type=int, default=4, help="external components carrying the users")
    parser.add_argument("--senders", type=int, default=4, help="occupants that send messages")
    parser.add_argument("--window", type=int, default=8, help="messages in flight at most")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of fan-out per count")
    parser.add_argument("--timeout", type=float, default=120.0, help="longest wait for the server, seconds")
    parser.add_argument("--mam", action="store_true", help="xcomp only: archive messages (muc_mam, SQLite)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.occupants.split(",")]
    names = [n.strip() for n in args.servers.split(",") if n.strip()]
    if args.duration > 600 or args.timeout > 600:
        parser.error("--duration and --timeout are at most 600 s")
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        parser.error(f"unknown server(s): {', '.join(unknown)} (known: {', '.join(CONFIGS)})")
    if args.mam:
        names = ["xcomp"]
    results = []
    failed = False
    for name in names:
        why = check(name)
        if why is not None:
            print(f"skipping {name}: {why}", file=sys.stderr)
            continue
        for occupants in counts:
            with tempfile.TemporaryDirectory(prefix=f"xcomp-muc-bench-{name}-") as tmp:
                server = Server(name, Path(tmp), occupants, args.connections, args.mam)
                try:
                    server.start()
                    results.append(asyncio.run(measure(args, server, occupants)))
                except (RuntimeError, TimeoutError, OSError) as e:
                    print(f"{name} with {occupants} occupants failed: {e}", file=sys.stderr)
                    print(server.process.log_tail(), file=sys.stderr)
                    failed = True
                finally:
                    server.stop()
    if args.json:
        print(json.dumps(results, indent=2))
        return 1 if failed else 0
    print(
        f"{'server':<9} {'occupants':>9} {'join s':>7} {'msg/s':>8} {'deliveries/s':>12} "
        f"{'per cpu-s':>9} {'srv cpu':>7} {'cli cpu':>7} {'KiB/occ':>7} {'peak MiB':>8} {'vs ejabberd':>11}"
    )
    ejabberd = {r["occupants"]: r["deliveries_per_s"] for r in results if r["server"] == "ejabberd"}
    for r in results:
        ratio = ejabberd.get(r["occupants"])
        shown = f"{r['deliveries_per_s'] / ratio:.2f}x" if ratio else "-"
        print(
            f"{r['server']:<9} {r['occupants']:>9} {r['join_seconds']:>7} {r['messages_per_s']:>8} "
            f"{r['deliveries_per_s']:>12} {r['deliveries_per_server_cpu_s'] or 0:>9} "
            f"{r['server_cpu_share']:>7} {r['client_cpu_share']:>7} "
            f"{r['rss_per_occupant_kib'] if r['rss_per_occupant_kib'] is not None else '-':>7} "
            f"{r['server_peak_rss_mib'] or 0:>8.0f} {shown:>11}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
