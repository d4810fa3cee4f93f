#!/usr/bin/env python3
"""
The two Redis clients xcomp's cluster could use, from Twisted, against a
real redis-server over loopback (issue 13: "txredisapi, or redis-py's
asyncio client on Twisted's asyncio reactor: pick one, measure both").

    /work/venv/bin/python bench/redis_clients.py
    /work/venv/bin/python bench/redis_clients.py --ops 20000 --repeat 3 --json

* ``txredisapi``: on Twisted's default reactor (epoll), one connection,
  C{protocol.eval} as xcomp.cluster calls it (EVALSHA after the first call).
* ``redis-py``: C{redis.asyncio} on C{twisted.internet.asyncioreactor}, each
  call made a Deferred with C{Deferred.fromFuture}, EVALSHA of the script
  loaded once.  redis-py is I{not} an xcomp dependency: when it is not
  installed (C{pip install redis}), its rows are skipped with a message.

Both parse replies in pure Python unless the C{hiredis} package is
importable; then each client also runs with it (txredisapi's
C{HiredisProtocol}, redis-py's C{_HiredisParser}), beside the pure-Python
run (the child hides the module from itself for that).

Each client runs in a child process of its own (so that its CPU time is its
own), on a fresh redis-server (a temp dir, a free loopback port, nothing
saved, ended by its PID), and measures:

1. *sequential*: one EVAL at a time (a Lua script like the cluster's SEND:
   checks a key, XADDs one ~200-byte stanza to a stream capped at 1000
   entries), round trips/s;
2. *100 in flight*: a window of 100 EVALs outstanding, a new one sent as
   each answer comes, ops/s.  txredisapi pipelines them on its one
   connection.  redis-py cannot have two commands outstanding on one
   connection outside an explicit pipeline: it is run both ways, 100
   concurrent calls over its pool (which opens up to 100 connections and
   then no longer keeps the order of the calls: the cluster needs that order
   from one node to another) and explicit pipelines of 100 (one
   C{pipe.execute()} at a time, in order);
3. *read*: XRANGE of 100 entries of 10 stanzas each, the shape of what the
   inbox's XREAD gets under load: stanzas/s parsed;

and for each, the client process's CPU seconds (user + system,
C{getrusage}) per 10,000 operations (per 10,000 stanzas for *read*).
Every phase is bounded (``--timeout`` per child).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

HOST = "127.0.0.1"
STREAM = b"bench:in:b"
LEASE = b"bench:node:b"
READ_STREAM = b"bench:read"
#: Like xcomp.cluster.keys.SEND: the target alive, then one XADD (capped,
#: since nothing reads it here).
SCRIPT = b"""
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 1000, '*', 'f', ARGV[1], 's', ARGV[2])
return 1
"""
STANZA = (b"<message to='c2.bench.local' from='c1.bench.local' id='%d' type='normal'><body>"
          + b"load-" * 20 + b"</body></message>")
WIDTH = 100
READ_ENTRIES = 100
READ_PER_ENTRY = 10


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def hide_hiredis() -> None:
    """Make C{import hiredis} fail in this process: the pure-Python parsers."""
    sys.modules["hiredis"] = None  # type: ignore[assignment]


def hiredis_available() -> bool:
    try:
        import hiredis  # noqa: F401
    except ImportError:
        return False
    return True


# ---------------------------------------------------------------------------
# In the child: the same measurements for either client, on Deferreds
# ---------------------------------------------------------------------------


def window(call: Callable[[int], Any], total: int, width: int) -> Any:
    """
    Run C{call(i)} (a Deferred) C{total} times with at most C{width}
    unanswered; a Deferred that fires once all have been answered.
    """
    from twisted.internet import defer

    finished: defer.Deferred[None] = defer.Deferred()
    state = {"issued": 0, "answered": 0}

    def issue() -> None:
        n = state["issued"]
        state["issued"] = n + 1
        call(n).addCallbacks(answered, failed)

    def answered(result: object) -> None:
        if result != 1:
            failed(RuntimeError(f"unexpected reply {result!r}"))
            return
        state["answered"] += 1
        if state["issued"] < total:
            issue()
        elif state["answered"] == total and not finished.called:
            finished.callback(None)

    def failed(reason: object) -> None:
        if not finished.called:
            finished.errback(reason)  # type: ignore[arg-type]

    for _ in range(min(width, total)):
        issue()
    return finished


async def measure(name: str, run: Callable[[], Any], ops: int, per: int = 1) -> dict[str, Any]:
    """Time one phase: wall and CPU seconds; C{per} items per operation."""
    t0, c0 = time.perf_counter(), cpu_seconds()
    await run()
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    items = ops * per
    return {"phase": name, "ops": ops, "items": items, "wall_s": round(wall, 4),
            "per_s": round(items / wall, 1), "cpu_s": round(cpu, 4),
            "cpu_s_per_10k": round(cpu * 10_000 / items, 4)}


def fill_read_stream(port: int) -> None:
    """The entries the read phase reads, written with a plain socket."""
    import socket

    fields: list[bytes] = [b"f", b"a"]
    for i in range(READ_PER_ENTRY):
        fields += [b"s", STANZA % i]
    args = [b"XADD", READ_STREAM, b"*", *fields]
    command = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
    with socket.create_connection((HOST, port), timeout=5) as sock:
        sock.sendall(command * READ_ENTRIES + b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\n1\r\n"
                     % (len(LEASE), LEASE))
        got = b""
        while not got.endswith(b"+OK\r\n"):  # the SET's answer comes last
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            got += chunk


async def txredisapi_phases(port: int, ops: int, reads: int) -> list[dict[str, Any]]:
    import txredisapi

    # As xcomp.cluster.connection makes its command connection: bytes, a
    # reply timeout (a timer per command), numbers converted.
    conn = await txredisapi.Connection(HOST, port, dbid=0, reconnect=False, charset=None,
                                       replyTimeout=5.0, convertNumbers=True)
    try:
        def send(i: int) -> Any:
            return conn.eval(SCRIPT, [LEASE, STREAM], [b"a", STANZA % i])

        def read(i: int) -> Any:
            d = conn.execute_command(b"XRANGE", READ_STREAM, b"-", b"+", b"COUNT", READ_ENTRIES)
            return d.addCallback(lambda r: 1 if len(r) == READ_ENTRIES else r)

        await send(0)  # the script loaded
        return [
            await measure("sequential", lambda: window(send, ops, 1), ops),
            await measure(f"{WIDTH} in flight, one connection", lambda: window(send, ops, WIDTH),
                          ops),
            await measure("read", lambda: window(read, reads, 1), reads,
                          READ_ENTRIES * READ_PER_ENTRY),
        ]
    finally:
        await conn.disconnect()


async def redispy_phases(port: int, ops: int, reads: int) -> list[dict[str, Any]]:
    import asyncio

    import redis.asyncio as aredis
    from twisted.internet.defer import Deferred

    # Every coroutine of redis-py's is run by asyncio and awaited as a
    # Deferred: a Twisted coroutine cannot await an asyncio future itself.
    def deferred(coro: Any) -> Any:
        return Deferred.fromFuture(asyncio.ensure_future(coro))

    one = aredis.Redis(host=HOST, port=port, single_connection_client=True)
    pool = aredis.Redis(host=HOST, port=port, max_connections=WIDTH)
    try:
        sha = await deferred(one.script_load(SCRIPT))

        def send(i: int) -> Any:
            return deferred(one.evalsha(sha, 2, LEASE, STREAM, b"a", STANZA % i))

        def pooled(i: int) -> Any:
            return deferred(pool.evalsha(sha, 2, LEASE, STREAM, b"a", STANZA % i))

        async def batch(start: int) -> int:
            pipe = one.pipeline(transaction=False)
            for i in range(start, start + WIDTH):
                pipe.evalsha(sha, 2, LEASE, STREAM, b"a", STANZA % i)
            replies = await pipe.execute()
            return 1 if all(r == 1 for r in replies) else replies  # type: ignore[return-value]

        def piped(i: int) -> Any:
            return deferred(batch(i * WIDTH))

        async def xrange() -> int:
            r: Any = await one.xrange(READ_STREAM, count=READ_ENTRIES)
            return 1 if len(r) == READ_ENTRIES else r

        def read(i: int) -> Any:
            return deferred(xrange())

        await send(0)
        out = [await measure("sequential", lambda: window(send, ops, 1), ops)]
        out.append(await measure(f"{WIDTH} in flight, pool of up to {WIDTH} connections",
                                 lambda: window(pooled, ops, WIDTH), ops))
        batches = max(ops // WIDTH, 1)
        out.append(await measure(f"pipelines of {WIDTH}, one connection",
                                 lambda: window(piped, batches, 1), batches, WIDTH))
        out[-1]["ops"] = batches * WIDTH
        out.append(await measure("read", lambda: window(read, reads, 1), reads,
                                 READ_ENTRIES * READ_PER_ENTRY))
        out[1]["connections"] = len(pool.connection_pool._available_connections) + len(
            pool.connection_pool._in_use_connections)
        return out
    finally:
        await deferred(one.aclose())
        await deferred(pool.aclose())


def child(args: argparse.Namespace) -> int:
    """One client, one process: print one JSON object."""
    if not args.hiredis:
        hide_hiredis()
    if args.child == "redis-py":
        import asyncio

        from twisted.internet import asyncioreactor

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        asyncioreactor.install(loop)
    from twisted.internet import defer, reactor, task

    fill_read_stream(args.port)
    phases = txredisapi_phases if args.child == "txredisapi" else redispy_phases
    result: dict[str, Any] = {}

    def main(_reactor: object) -> Any:
        d = defer.Deferred.fromCoroutine(phases(args.port, args.ops, args.reads))
        d.addTimeout(args.timeout, reactor)
        d.addCallback(lambda phases: result.update(phases=phases))
        return d

    try:
        task.react(main)
    except SystemExit as done:
        if done.code:
            print(json.dumps({"error": f"{args.child} failed (exit {done.code})"}))
            return 1
    result["reactor"] = type(reactor).__module__ + "." + type(reactor).__name__
    result["parser"] = parser_of(args.child)
    print(json.dumps(result))
    return 0


def parser_of(client: str) -> str:
    if client == "txredisapi":
        import txredisapi

        return txredisapi.RedisProtocol.__name__
    from redis.utils import HIREDIS_AVAILABLE

    return "hiredis" if HIREDIS_AVAILABLE else "pure Python"


# ---------------------------------------------------------------------------
# The parent: a redis-server per child, the table
# ---------------------------------------------------------------------------


def redis_process(workdir: Path) -> Any:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from cluster import RedisProcess

    return RedisProcess(workdir)


def run_child(args: argparse.Namespace, client: str, hiredis: bool) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="bench-redis-"))
    redis = redis_process(root)
    try:
        redis.start(args.timeout)
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", client,
               "--port", str(redis.port), "--ops", str(args.ops), "--reads", str(args.reads),
               "--timeout", str(args.timeout), *(["--hiredis"] if hiredis else [])]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout + 30)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {args.timeout + 30:g} s"}
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if not lines:
            return {"error": (done.stderr or done.stdout).strip()[-400:] or "no output"}
        report: dict[str, Any] = json.loads(lines[-1])
        return report
    finally:
        redis.stop()
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="txredisapi against redis-py from Twisted.")
    p.add_argument("--ops", type=int, default=20_000, help="EVALs per phase")
    p.add_argument("--reads", type=int, default=200, help="XRANGE replies in the read phase")
    p.add_argument("--repeat", type=int, default=1, help="each client this many times (medians)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per child at most")
    p.add_argument("--json", action="store_true", help="also print every report")
    p.add_argument("--child", choices=("txredisapi", "redis-py"), help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--hiredis", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(args)
    if shutil.which("redis-server") is None:
        print("redis_clients.py: redis-server is not installed (apt-get install redis-server)",
              file=sys.stderr)
        return 3
    clients = ["txredisapi"]
    try:
        import redis  # noqa: F401

        clients.append("redis-py")
    except ImportError:
        print("# redis-py is not installed (pip install redis; it is not an xcomp dependency):"
              " its rows are left out", file=sys.stderr)
    parsers = [False, True] if hiredis_available() else [False]
    if not hiredis_available():
        print("# hiredis is not importable: pure-Python parsers only", file=sys.stderr)
    reports: list[dict[str, Any]] = []
    for _ in range(args.repeat):
        for client in clients:
            for hiredis in parsers:
                r = run_child(args, client, hiredis)
                r["client"], r["hiredis"] = client, hiredis
                reports.append(r)
                print(f"# {client} hiredis={hiredis}: {'error' if 'error' in r else 'done'}",
                      file=sys.stderr)
    print(f"nproc {os.cpu_count()}; command: {shlex.join(['bench/redis_clients.py', *(argv or sys.argv[1:])])}")
    print(f"{args.ops} EVALs per phase, {args.reads} reads of {READ_ENTRIES} entries x "
          f"{READ_PER_ENTRY} stanzas; medians of {args.repeat} run(s), (min..max)")
    print()
    print("| client | parser | phase | ops/s (stanzas/s for read) | CPU s per 10k |")
    print("|---|---|---|---|---|")
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in reports:
        if "error" in r:
            print(f"| {r['client']} | {'hiredis' if r['hiredis'] else 'pure Python'} | ERROR: "
                  f"{r['error'].splitlines()[-1][:80]} | | |")
            continue
        for ph in r["phases"]:
            groups.setdefault((r["client"], r["parser"], ph["phase"]), []).append(ph)
    for (client, parser, phase), runs in groups.items():
        rate = sorted(x["per_s"] for x in runs)
        cpu = sorted(x["cpu_s_per_10k"] for x in runs)
        spread = f" ({rate[0]:,.0f}..{rate[-1]:,.0f})" if len(runs) > 1 else ""
        cspread = f" ({cpu[0]:.3f}..{cpu[-1]:.3f})" if len(runs) > 1 else ""
        extra = f", {runs[0]['connections']} connections" if "connections" in runs[0] else ""
        print(f"| {client} | {parser} | {phase}{extra} | {statistics.median(rate):,.0f}{spread} |"
              f" {statistics.median(cpu):.3f}{cspread} |")
    if args.json:
        for r in reports:
            print(json.dumps(r))
    return 0 if all("error" not in r for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
