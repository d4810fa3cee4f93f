#!/usr/bin/env python3
"""
xcomp's cluster (issue 13) measured as whole processes over loopback: one
redis-server and two xcomp nodes on it, beside one plain xcomp node, with
the same load generator (bench/load.py) and the same components.

    python3 bench/cluster.py                      # everything, ~3 minutes
    python3 bench/cluster.py --duration 5 --repeat 3 --json

Measured, in one run, one table:

* (a) pairs A_i -> B_i with both ends on node a (same node, clustering on),
  with A_i on node a and B_i on node b (cross node: every stanza goes
  through Redis, both ways for the latency's answers), and the same pairs on
  one plain node (clustering off): throughput (msg/s, nothing lost,
  duplicated or reordered) and the round trip p50/p99/max at a fixed rate.
* (b) the aggregate throughput of two nodes with the pairs spread over both
  (every pair on one node, half the pairs on each) against one plain node
  with all the pairs.

Processes: a redis-server in a temp directory on a free loopback port
(``--save ''``, no AOF, nothing kept), and each xcomp node as
``twistd -n --pidfile= xcomp -c CFG`` from the repository root (as
``bench/run --server xcomp``), each with its own component port and
``cluster_node``, all listing c1 ... cN.bench.local with the secret
``benchsecret``, warnings only in the log.  Every wait is bounded; every
process is stopped by its own PID.  The CPU time of each node and of Redis
is read from /proc over exactly the measured window (load.py --watch-pid).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# bench/ is sys.path[0] when this file is run as a script.
from servers import HOST, REPO_ROOT, SERVERS, LoadPlan, ServerProcess, free_port, run_load, stop_process

REDIS_SERVER = shutil.which("redis-server")
PREFIX = b"xcomp:"  # xcomp.cluster.keys.DEFAULT_PREFIX


# ---------------------------------------------------------------------------
# Redis: the server, and just enough of RESP to ask it a few things
# ---------------------------------------------------------------------------


def _encode(args: tuple[bytes | str | int, ...]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        raw = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(parts)


class _Reader:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exactly(self, n: int) -> bytes:
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2 :]
        return data

    def reply(self) -> Any:
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RuntimeError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            return None if int(rest) < 0 else self.exactly(int(rest))
        if kind == b"*":
            return None if int(rest) < 0 else [self.reply() for _ in range(int(rest))]
        raise RuntimeError(f"unexpected reply {line!r}")


def redis_call(port: int, *args: bytes | str | int, timeout: float = 2.0) -> Any:
    """One command to the Redis on C{port}; its reply."""
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(_encode(args))
        return _Reader(sock).reply()


class RedisProcess:
    """A redis-server of ours: temp dir, loopback, nothing saved, ended by PID."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "redis.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float) -> None:
        assert REDIS_SERVER is not None
        argv = [REDIS_SERVER, "--port", str(self.port), "--bind", HOST,
                "--dir", str(self.workdir), "--save", "", "--appendonly", "no",
                "--protected-mode", "yes", "--loglevel", "warning", "--daemonize", "no"]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env={})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}:\n"
                                   + self.log_path.read_text(errors="replace")[-2000:])
            try:
                if redis_call(self.port, "PING", timeout=0.5) == b"PONG":
                    return
            except (OSError, RuntimeError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer PING in {timeout:g} s")

    def stop(self, timeout: float = 10.0) -> None:
        stop_process(self.proc, timeout)


# ---------------------------------------------------------------------------
# The nodes
# ---------------------------------------------------------------------------


def redis_version() -> str:
    assert REDIS_SERVER is not None
    try:
        out = subprocess.run([REDIS_SERVER, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    found = [w[2:] for w in out.stdout.split() if w.startswith("v=")]
    return found[0] if found else "?"


def stream_bound(args: argparse.Namespace) -> list[str]:
    """
    Room in each node's Redis stream for every stanza the generator may
    have in flight (--window per pair), twice over, and at least xcomp's
    default (100,000 stanzas; it was 10,000, less than 16 pairs keep in
    flight): past the bound the sender answers the rest with
    resource-constraint, by design, and the run would measure refusals.
    A --cluster-extra line of its own wins.
    """
    if any(line.split("=")[0].strip() == "cluster_stream_length" for line in args.cluster_extra):
        return []
    most = max(args.pairs + args.spread_pairs + [1])
    return [f"cluster_stream_length = {max(100_000, 2 * args.window * most)}"]


def cluster_lines(redis_port: int, node: str, extra: list[str]) -> list[str]:
    return [f'cluster_redis = "redis://{HOST}:{redis_port}/0"', f'cluster_node = "{node}"', *extra]


def start_node(root: Path, name: str, components: int, timeout: float,
               extra: list[str]) -> ServerProcess:
    workdir = root / f"node-{name}"
    workdir.mkdir()
    node = ServerProcess(SERVERS["xcomp"], workdir, free_port(), components, extra)
    node.start(timeout)
    return node


def wait_for_cluster(redis: RedisProcess, names: list[str], nodes: list[ServerProcess],
                     timeout: float) -> None:
    """
    Until every node holds its lease and listens on the events channel (so
    that no claim made by the load is missed by a node's table).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for node in nodes:
            if not node.alive():
                raise RuntimeError(f"node died:\n{node.log_tail()}")
        leases = [redis_call(redis.port, "EXISTS", PREFIX + b"node:" + n.encode()) for n in names]
        subscribers = redis_call(redis.port, "PUBSUB", "NUMSUB", PREFIX + b"events")
        if all(leases) and subscribers[1] >= len(names):
            return
        time.sleep(0.05)
    raise RuntimeError(f"the nodes did not join the cluster in {timeout:g} s")


def waiting_in_redis(redis: RedisProcess, names: list[str]) -> int:
    """Entries left in the nodes' streams (0 once everything was delivered)."""
    return sum(int(redis_call(redis.port, "XLEN", PREFIX + b"in:" + n.encode())) for n in names)


def node_parser() -> str:
    """
    Which reply parser txredisapi gives the nodes: its pure-Python one, or
    hiredis's when that package is importable (it changes the cross-node
    figures a lot; see bench/README.md).
    """
    code = "import txredisapi; print(txredisapi.RedisProtocol.__name__)"
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=60, cwd=REPO_ROOT, env=SERVERS["xcomp"].env())
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    name = out.stdout.strip()
    return {"BaseRedisProtocol": "txredisapi's pure-Python parser",
            "HiredisProtocol": "hiredis"}.get(name, name or "unknown")


# ---------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    setup: str  # what the row is: "1 node, off", "same node", ...
    mode: str
    pairs: int


def one_run(args: argparse.Namespace, plan: LoadPlan, case: Case, first: ServerProcess,
            watch: list[int], load_extra: list[str]) -> dict[str, Any]:
    """
    One load.py run; run again (up to --retries times) while something else
    took more than --max-other % of a core over its window, keeping the
    quietest (marked noisy when even that one was over).
    """
    extra = [*plan.extra, *load_extra, *(a for pid in watch for a in ("--watch-pid", str(pid)))]
    best: dict[str, Any] | None = None
    for attempt in range(args.retries + 1):
        if attempt:
            time.sleep(1.0)
        report = run_load(LoadPlan(plan.duration, plan.warmup, plan.window, plan.rate,
                                   plan.procs, tuple(extra)), first, case.mode, case.pairs)
        report["setup"] = case.setup
        report["attempts"] = attempt + 1
        if "error" in report:
            return report
        if best is None or other_pct(report) < other_pct(best):
            best = report
        if other_pct(report) <= args.max_other:
            break
    assert best is not None
    best["noisy"] = other_pct(best) > args.max_other
    return best


def other_pct(report: dict[str, Any]) -> float:
    """CPU (% of a core) that neither the generator nor a watched process used."""
    return float(report.get("other_unwatched_cpu_core_pct", report.get("other_cpu_core_pct")) or 0.0)


def cpu_split(report: dict[str, Any], names: dict[int, str]) -> dict[str, float]:
    """The server side's CPU seconds over the window, by process role."""
    out = {"a": float(report.get("server_cpu_s") or 0.0)}
    for pid, seconds in (report.get("watched_cpu_s") or {}).items():
        out[names.get(int(pid), pid)] = float(seconds)
    return out


# ---------------------------------------------------------------------------
# Table
# ---------------------------------------------------------------------------

COLUMNS = ["setup", "mode", "pairs", "msg/s", "lost/dup/reord", "p50 ms", "p99 ms", "max ms",
           "node a %", "node b %", "redis %", "srv us/msg", "gen %", "other %"]


def _f(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table_row(r: dict[str, Any]) -> list[str]:
    if "error" in r:
        return [r["setup"], r["mode"], str(r["pairs"]), "ERROR: " + r["error"].splitlines()[-1][:70]]
    tput = r["mode"] == "throughput"
    secs = float(r.get("duration_s") or 1.0)
    cpu = r.get("cpu_by_role", {})
    lost = f"{r.get('lost', 0)}/{r.get('duplicated', 0)}/{r.get('reordered', 0)}"
    if r.get("errors"):
        lost += f" +{r['errors']}err"
    if r.get("left_in_redis"):
        lost += f" ({r['left_in_redis']} left in redis)"
    per_msg = None
    if tput and r.get("delivered"):
        per_msg = 1e6 * sum(cpu.values()) / float(r["delivered"])
    return [
        r["setup"] + (" ~" if r.get("noisy") else ""), r["mode"], str(r["pairs"]),
        _f(r.get("stanzas_per_s"), ",.0f") if tput else f"({r['rate']:g}/s)",
        lost,
        "-" if tput else _f(r.get("p50_ms"), ".3f"),
        "-" if tput else _f(r.get("p99_ms"), ".3f"),
        "-" if tput else _f(r.get("max_ms"), ".3f"),
        *(_f(100.0 * cpu[k] / secs, ".0f") if k in cpu else "-" for k in ("a", "b", "redis")),
        _f(per_msg, ".2f"),
        _f(r.get("gen_cpu_core_pct"), ".0f"),
        _f(other_pct(r), ".0f"),
    ]


def print_table(rows: list[list[str]]) -> None:
    widths = [max([len(COLUMNS[i]), *(len(r[i]) for r in rows if i < len(r))])
              for i in range(len(COLUMNS))]
    print("| " + " | ".join(c.ljust(w) for c, w in zip(COLUMNS, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        cells = r + [""] * (len(COLUMNS) - len(r))
        print("| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |")


def medians(reports: list[dict[str, Any]]) -> dict[tuple[str, str, int], dict[str, list[float]]]:
    out: dict[tuple[str, str, int], dict[str, list[float]]] = {}
    for r in reports:
        if "error" in r:
            continue
        keys = ["stanzas_per_s"] if r["mode"] == "throughput" else ["p50_ms", "p99_ms", "max_ms"]
        slot = out.setdefault((r["setup"], r["mode"], r["pairs"]), {})
        for k in keys:
            slot.setdefault(k, []).append(float(r[k]))
    return out


def summary(reports: list[dict[str, Any]], args: argparse.Namespace) -> list[str]:
    """The spread over the repeats, and the issue's two goals checked."""
    lines = []
    stats = medians(reports)
    for (setup, mode, pairs), values in stats.items():
        parts = []
        for k, vs in values.items():
            vs = sorted(vs)
            spec = ",.0f" if k == "stanzas_per_s" else ".3f"
            parts.append(f"{k} median {statistics.median(vs):{spec}} "
                         f"({vs[0]:{spec}}..{vs[-1]:{spec}})")
        lines.append(f"- {setup}, {mode} {pairs}: {'; '.join(parts)} over {len(vs)} runs")

    def med(setup: str, mode: str, pairs: int, key: str) -> float | None:
        vs = stats.get((setup, mode, pairs), {}).get(key)
        return statistics.median(vs) if vs else None

    for pairs in args.latency_pairs:
        p99 = med(CROSS, "latency", pairs, "p99_ms")
        if p99 is not None:
            verdict = "PASS" if p99 < 2.0 else "FAIL"
            lines.append(f"- goal: cross-node p99 under 2 ms on loopback, {pairs} pairs at "
                         f"{args.rate:g}/s: {p99:.3f} ms: {verdict}")
    for pairs in args.spread_pairs:
        two = med(SPREAD, "throughput", pairs, "stanzas_per_s")
        one = med(PLAIN, "throughput", pairs, "stanzas_per_s")
        if two is not None and one:
            # Each round's two nodes against the same round's one node.
            found = [ratio_of(reports, n, pairs) for n in rounds(reports)]
            ratios = sorted(x for x in found if x is not None)
            ratio = statistics.median(ratios) if ratios else two / one
            spread = f", per round {', '.join(f'{x:.2f}' for x in ratios)}" if ratios else ""
            verdict = "PASS" if ratio >= 1.6 else "FAIL"
            lines.append(f"- goal: 2 nodes >= 1.6x one node, {pairs} pairs: medians {two:,.0f} /"
                         f" {one:,.0f}; ratio {ratio:.2f}x (median{spread}): {verdict}"
                         f" (nproc {os.cpu_count()}: the generator, Redis and both nodes share"
                         f" these cores)")
    return lines


def rounds(reports: list[dict[str, Any]]) -> list[int]:
    return sorted({int(r.get("round", 1)) for r in reports})


def ratio_of(reports: list[dict[str, Any]], round_: int, pairs: int) -> float | None:
    def rate(setup: str) -> float | None:
        for r in reports:
            if (r.get("round", 1), r["setup"], r["mode"], r["pairs"]) == (
                    round_, setup, "throughput", pairs) and "error" not in r:
                return float(r["stanzas_per_s"])
        return None

    two, one = rate(SPREAD), rate(PLAIN)
    return two / one if two is not None and one else None


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

PLAIN = "1 node, cluster off"
SAME = "same node a->a, cluster on"
CROSS = "cross node a->b"
SPREAD = "2 nodes, pairs spread"


def int_list(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="xcomp's cluster over loopback: cross-node and "
                                "two-node runs beside one plain node.")
    p.add_argument("--pairs", type=int_list, default=[1, 16],
                   help="throughput runs, same node and cross node (e.g. 1,16)")
    p.add_argument("--latency-pairs", type=int_list, default=[1],
                   help="latency runs, same node and cross node (empty: none)")
    p.add_argument("--spread-pairs", type=int_list, default=[16],
                   help="(b): pairs spread over the two nodes, against one plain node")
    p.add_argument("--components", type=int, default=32, help="components in each node's config")
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--window", type=int, default=2000)
    p.add_argument("--rate", type=float, default=500.0, help="latency pings/s in total")
    p.add_argument("--procs", type=int, default=2,
                   help="load.py worker processes (default 2, so that the generator is not the"
                   " limit)")
    p.add_argument("--repeat", type=int, default=1, help="the whole plan this many times")
    p.add_argument("--max-other", type=float, default=25.0,
                   help="a run during which something else used more than this %% of a core"
                   " is run again (up to --retries times)")
    p.add_argument("--retries", type=int, default=2)
    p.add_argument("--config-extra", action="append", default=[], metavar="LUA",
                   help="a global line for every node's config (repeatable)")
    p.add_argument("--cluster-extra", action="append", default=[], metavar="LUA",
                   help="a global line for the cluster nodes only, e.g. 'cluster_lease = 5'")
    p.add_argument("--no-plain", action="store_true", help="leave out the plain node's runs")
    p.add_argument("--startup-timeout", type=float, default=30.0)
    p.add_argument("--keep", action="store_true", help="keep the temp dir (configs, logs)")
    p.add_argument("--json", action="store_true", help="also print every report as JSON")
    a = p.parse_args(argv)
    need = 2 * max(a.pairs + a.latency_pairs + a.spread_pairs + [0])
    if need > a.components:
        p.error(f"{need} components needed for the pair counts, --components is {a.components}")
    return a


def plain_cases(args: argparse.Namespace) -> list[Case]:
    tput = sorted(set(args.pairs) | set(args.spread_pairs))
    return ([Case(PLAIN, "throughput", n) for n in tput]
            + [Case(PLAIN, "latency", n) for n in args.latency_pairs])


def cluster_cases(args: argparse.Namespace) -> list[Case]:
    out = []
    for n in args.pairs:
        out += [Case(SAME, "throughput", n), Case(CROSS, "throughput", n)]
    for n in args.latency_pairs:
        out += [Case(SAME, "latency", n), Case(CROSS, "latency", n)]
    return out + [Case(SPREAD, "throughput", n) for n in args.spread_pairs]


def run_plain(args: argparse.Namespace, plan: LoadPlan, root: Path) -> list[dict[str, Any]]:
    node = start_node(root, "plain", args.components, args.startup_timeout, args.config_extra)
    reports = []
    try:
        print(f"# plain node pid {node.pid} on {HOST}:{node.port}", file=sys.stderr)
        for case in plain_cases(args):
            time.sleep(1.0)  # let the node drop the previous run's streams
            r = one_run(args, plan, case, node, [], [])
            r["cpu_by_role"] = cpu_split(r, {})
            reports.append(r)
            print(f"# {case}: done", file=sys.stderr)
    finally:
        node.stop()
    return reports


def run_cluster(args: argparse.Namespace, plan: LoadPlan, root: Path) -> list[dict[str, Any]]:
    redis_dir = root / "redis"
    redis_dir.mkdir()
    redis = RedisProcess(redis_dir)
    nodes: list[ServerProcess] = []
    reports = []
    try:
        redis.start(args.startup_timeout)
        for name in ("a", "b"):
            lines = [*args.config_extra, *cluster_lines(redis.port, name, [
                *stream_bound(args), *args.cluster_extra])]
            nodes.append(start_node(root, name, args.components, args.startup_timeout, lines))
        a, b = nodes
        wait_for_cluster(redis, ["a", "b"], nodes, args.startup_timeout)
        print(f"# redis pid {redis.pid} on {HOST}:{redis.port}; node a pid {a.pid} on "
              f"{HOST}:{a.port}; node b pid {b.pid} on {HOST}:{b.port}", file=sys.stderr)
        roles = {b.pid: "b", redis.pid: "redis"}
        for case in cluster_cases(args):
            time.sleep(1.0)
            load_extra = {SAME: [], CROSS: ["--receiver-port", str(b.port)],
                          SPREAD: ["--spread-port", str(b.port)]}[case.setup]
            r = one_run(args, plan, case, a, [b.pid, redis.pid], load_extra)
            r["cpu_by_role"] = cpu_split(r, roles)
            r["left_in_redis"] = waiting_in_redis(redis, ["a", "b"])
            for node in nodes:
                if not node.alive():
                    r.setdefault("error", "a node died during the run")
            reports.append(r)
            print(f"# {case}: done", file=sys.stderr)
    finally:
        for node in nodes:
            node.stop()
        redis.stop()
    return reports


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if REDIS_SERVER is None:
        print("bench/cluster.py: redis-server is not installed (apt-get install redis-server)",
              file=sys.stderr)
        return 3
    # twistd from the Python running this (a venv's bin/), when PATH has none.
    beside = Path(sys.executable).parent
    if shutil.which("twistd") is None and (beside / "twistd").exists():
        os.environ["PATH"] = os.pathsep.join([str(beside), os.environ.get("PATH", "")])
    why_not = SERVERS["xcomp"].check()
    if why_not:
        print(f"bench/cluster.py: cannot run xcomp: {why_not}", file=sys.stderr)
        return 3
    plan = LoadPlan(duration=args.duration, warmup=args.warmup, window=args.window,
                    rate=args.rate, procs=args.procs)
    root = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    reports: list[dict[str, Any]] = []
    try:
        for round_ in range(args.repeat):
            print(f"# round {round_ + 1} of {args.repeat}", file=sys.stderr)
            sub = root / f"round-{round_ + 1}"
            sub.mkdir()
            done = (run_plain(args, plan, sub) if not args.no_plain else []) + run_cluster(args, plan, sub)
            for r in done:
                r["round"] = round_ + 1
            reports += done
    except RuntimeError as exc:
        print(f"bench/cluster.py: {exc}", file=sys.stderr)
        return 3
    finally:
        if args.keep:
            print(f"# kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"nproc {os.cpu_count()}; command: {shlex.join(['bench/cluster.py', *(argv or sys.argv[1:])])}")
    bound = " ".join(stream_bound(args) + [x for x in args.cluster_extra if "stream_length" in x])
    print(f"redis-server {redis_version()}; Redis replies parsed in the nodes by {node_parser()};"
          f" {bound}")
    print(f"load.py --procs {args.procs} (the generator's worker processes); "
          f"{args.duration:g} s measured, {args.warmup:g} s warm-up; latency at {args.rate:g}/s")
    print()
    print_table([table_row(r) for r in reports])
    print()
    print("\n".join(summary(reports, args)))
    if args.json:
        for r in reports:
            print(json.dumps(r))
    clean = all("error" not in r and not r.get("lost") and not r.get("errors")
                and not r.get("duplicated") and not r.get("reordered") for r in reports)
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
