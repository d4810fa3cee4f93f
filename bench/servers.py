"""
The servers that bench/run, bench/compare and bench/connections.py start:
how each is configured, started on a loopback port as a child process,
watched (/proc/PID) and stopped by its own PID.

Every server gets the same components: c1.bench.local ... cN.bench.local,
all with the secret ``benchsecret``, on one XEP-0114 port on 127.0.0.1.

* ``xcomp``: ``twistd -n --pidfile= xcomp -c CFG`` from the work tree
  (on another reactor with ``bench/run --reactor``).
* ``prosody``: Debian's prosody in the foreground (``prosody -F``).
* ``ejabberd``: Debian's ejabberd, started with ``erl`` directly (what
  ``ejabberdctl foreground`` runs, minus the ``su`` to the ejabberd user and
  the Erlang distribution, so no epmd daemon is started and the PID we hold
  is beam.smp's own).
* ``null``: bench/null_router.py, the cheapest Python stanza router.
* ``forwarder``: bench/byte_forwarder.py, a pairwise byte pipe (the limit).
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
# ejabberd is started by the helper the s2s tests use, from this checkout.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from xcomp.test.ejabberdcommand import ejabberdCommand, ejabberdLib  # noqa: E402
LOAD_PY = BENCH_DIR / "load.py"
HOST = "127.0.0.1"
DOMAIN_FMT = "c{}.bench.local"
SECRET = "benchsecret"
# Open-file limit given to every server we start (soft and hard; root may
# raise the hard limit, anyone else gets at most the current hard limit).
SERVER_NOFILE = 65536


# ---------------------------------------------------------------------------
# Configs
# ---------------------------------------------------------------------------


def component_entries(count: int, secret: str) -> str:
    """Prosody-style Component blocks for c1 .. cN."""
    return "".join(
        f'Component "{DOMAIN_FMT.format(n)}"\n    component_secret = "{secret}"\n'
        for n in range(1, count + 1)
    )


def prosody_config(workdir: Path, port: int, count: int, secret: str) -> str:
    """A Prosody 0.12 config: components only, no c2s/s2s/http listeners."""
    return f"""-- written by bench/servers.py
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

VirtualHost "bench.local"

{component_entries(count, secret)}"""


def xcomp_config(workdir: Path, port: int, count: int, secret: str) -> str:
    """
    The Prosody-style subset that xcomp reads; warnings only in the log, as
    for Prosody and ejabberd.  xcomp's own sinks are C{xcomp_log}; the same
    line as C{log} is for a --baseline tree from before that option.
    """
    return f"""-- written by bench/servers.py
xcomp_log = {{ warn = "{workdir}/server.log" }}
log = {{ warn = "{workdir}/server.log" }}
component_ports = {{ {port} }}
component_interfaces = {{ "{HOST}" }}

VirtualHost "bench.local"

{component_entries(count, secret)}"""


def ejabberd_config(workdir: Path, port: int, count: int, secret: str) -> str:
    """
    An ejabberd 23.01 config: one virtual host, one ejabberd_service listener
    on loopback, no c2s/s2s/http listeners, no modules.

    The component domains are not listed.  In ejabberd a C{hosts:} map on an
    ejabberd_service listener names the domains that I{each} component on it
    serves: with c1 ... cN listed, every connection registers routes for all
    N domains and ejabberd spreads the stanzas for c2 over every connected
    stream (seen here: c1 received half of c2's messages).  Distinct
    components on one port need the listener-wide C{password:}, which
    accepts any domain that is not a local host.
    """
    del count  # see above
    return f"""# written by bench/servers.py (ejabberd 23.01)
loglevel: warning
hosts:
  - bench.local
# No ACME requests (there is no network here anyway), no certificates needed:
# there is no c2s, s2s or http listener.
acme:
  auto: false
listen:
  -
    port: {port}
    ip: "{HOST}"
    module: ejabberd_service
    # One secret for every component domain (see bench/servers.py).
    password: "{secret}"
    # The defaults of 23.01 (ejabberd_service:listen_options()) are
    # shaper: none, shaper_rule: none, max_stanza_size: infinity and
    # max_fsm_queue: 10000; spelt out, and the queue limit raised, so that
    # nothing throttles or cuts a component under load.
    shaper: none
    shaper_rule: none
    max_stanza_size: infinity
    max_fsm_queue: 1000000
    # The default listen queue is 5; 1024 so that opening thousands of
    # components at once is not held back by SYN retries.
    backlog: 1024
modules: {{}}
"""


# ---------------------------------------------------------------------------
# Server kinds
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerSpec:
    """How to configure and start one kind of server."""

    name: str
    config: Callable[[Path, int, int, str], str]
    command: Callable[[Path, int], list[str]]  # (config path, port) -> argv
    check: Callable[[], str | None]  # None when runnable, else why not
    env: Callable[[], dict[str, str]]
    config_name: str = "{name}.cfg.lua"
    version: Callable[[], str | None] = lambda: None
    # False when the config does not list the components one by one.
    per_component: bool = True
    # Where the server runs (xcomp: the checkout whose code it runs).
    cwd: Path = REPO_ROOT


def _prosody_check() -> str | None:
    return None if shutil.which("prosody") else "prosody is not installed (apt-get install prosody)"


def _xcomp_env(tree: Path = REPO_ROOT) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), env.get("PYTHONPATH")]))
    return env


def _xcomp_check(tree: Path = REPO_ROOT) -> str | None:
    if not shutil.which("twistd"):
        return "twistd is not installed"
    out = subprocess.run(["twistd", "--help"], capture_output=True, text=True, timeout=60,
                         cwd=tree, env=_xcomp_env(tree))
    listed = any(line.split()[:1] == ["xcomp"] for line in out.stdout.splitlines())
    return None if listed else "twistd has no 'xcomp' plugin (yet)"


def _ejabberd_check() -> str | None:
    if ejabberdLib() is None or not shutil.which("erl"):
        return "ejabberd is not installed (apt-get install ejabberd)"
    return None


def _ejabberd_command(cfg: Path, port: int) -> list[str]:
    """
    ejabberd as C{ejabberdctl foreground} runs it, as the current user and
    without the Erlang distribution (xcomp.test.ejabberdcommand.ejabberdCommand,
    which the s2s tests use too): the PID of this command is beam.smp's.
    """
    workdir = cfg.parent
    return ejabberdCommand(str(cfg), str(workdir), log=str(workdir / "server.log"), maxPorts=SERVER_NOFILE)


def _first_line(argv: list[str], pattern: str = r"(\d+\.\d+[\w.\-+]*)") -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(pattern, out.stdout + out.stderr)
    return found.group(1) if found else None


def _dpkg_version(package: str) -> str | None:
    return _first_line(["dpkg-query", "-W", "-f=${Version}", package], r"(\S+)")


def _xcomp_version(tree: Path = REPO_ROOT) -> str | None:
    try:
        rev = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(tree), "status", "--porcelain", "xcomp"],
                               capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return f"work tree at {rev}" + (" + uncommitted changes" if dirty else "") if rev else None


def xcomp_command(reactor: str | None) -> Callable[[Path, int], list[str]]:
    """
    How to start xcomp on C{reactor}: a name twistd's C{-r} knows, or
    C{uvloop} (bench/uvloop_twistd.py); twistd's default when None.
    """
    if reactor == "uvloop":
        launcher = [sys.executable, str(BENCH_DIR / "uvloop_twistd.py")]
    else:
        launcher = ["twistd", *(["-r", reactor] if reactor else [])]
    return lambda cfg, port: [*launcher, "-n", "--pidfile=", "xcomp", "-c", str(cfg)]


def _script(name: str, *extra: str) -> Callable[[Path, int], list[str]]:
    return lambda cfg, port: [sys.executable, str(BENCH_DIR / name), "--host", HOST,
                              "--port", str(port), "--secret", SECRET, "--lifetime", "3600",
                              *extra]


def xcomp_spec(name: str, tree: Path) -> ServerSpec:
    """
    xcomp as the checkout C{tree} has it: this one, or another (bench/compare
    --baseline), so that two versions are measured in one sitting.
    """
    return ServerSpec(
        name=name,
        config=xcomp_config,
        command=xcomp_command(None),
        check=lambda: _xcomp_check(tree),
        env=lambda: _xcomp_env(tree),
        version=lambda: _xcomp_version(tree),
        cwd=tree,
    )


SERVERS: dict[str, ServerSpec] = {
    "prosody": ServerSpec(
        name="prosody",
        config=prosody_config,
        command=lambda cfg, port: ["prosody", "-F", "--config", str(cfg)],
        check=_prosody_check,
        env=lambda: dict(os.environ),
        version=lambda: _dpkg_version("prosody"),
    ),
    "xcomp": xcomp_spec("xcomp", REPO_ROOT),
    "ejabberd": ServerSpec(
        name="ejabberd",
        config=ejabberd_config,
        command=_ejabberd_command,
        check=_ejabberd_check,
        env=lambda: dict(os.environ),
        config_name="ejabberd.yml",  # ejabberd wants the .yml suffix
        version=lambda: _dpkg_version("ejabberd"),
        per_component=False,
    ),
    # Calibration only: bench/null_router.py, a regex stanza router (no config).
    "null": ServerSpec(
        name="null",
        config=lambda workdir, port, count, secret: "-- unused by bench/null_router.py\n",
        command=_script("null_router.py"),
        check=lambda: None,
        env=lambda: dict(os.environ),
        per_component=False,
    ),
    # Calibration only: bench/byte_forwarder.py, c(2k+1) <-> c(2k+2) byte pipes.
    "forwarder": ServerSpec(
        name="forwarder",
        config=lambda workdir, port, count, secret: "-- unused by bench/byte_forwarder.py\n",
        command=_script("byte_forwarder.py", "--domain-fmt", DOMAIN_FMT, "--backlog", "1024"),
        check=lambda: None,
        env=lambda: dict(os.environ),
        per_component=False,
    ),
}


# ---------------------------------------------------------------------------
# /proc
# ---------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def port_accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def read_status_kib(pid: int, key: str) -> int | None:
    """A 'kB' field (VmRSS, VmHWM) of /proc/PID/status."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def read_cpu_seconds(pid: int) -> float | None:
    """utime + stime of PID (all its threads) from /proc/PID/stat."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raise_nofile(want: int = SERVER_NOFILE) -> tuple[int, int]:
    """
    Raise this process's open-file limit to C{want} (soft and hard; the hard
    limit only goes up for root, and never past fs.nr_open).  Returns the
    limits now in force.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        nr_open = int(Path("/proc/sys/fs/nr_open").read_text())
    except (OSError, ValueError):
        nr_open = want
    target = min(want, nr_open)
    if target > hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, target))
            return target, target
        except (ValueError, OSError):
            target = hard
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def _server_preexec() -> None:
    raise_nofile(SERVER_NOFILE)


# ---------------------------------------------------------------------------
# The server process
# ---------------------------------------------------------------------------


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """
    End a child we started: SIGTERM by its PID, then SIGKILL if it lingers
    past C{timeout} seconds.
    """
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5.0)


class ServerProcess:
    """One server started by us; stopped by its own PID only."""

    def __init__(self, spec: ServerSpec, workdir: Path, port: int, components: int,
                 extra: list[str]) -> None:
        self.spec = spec
        self.workdir = workdir
        self.port = port
        self.components = components
        self.config_path = workdir / spec.config_name.format(name=spec.name)
        text = spec.config(workdir, port, components, SECRET)
        # Extra global options go before the first VirtualHost/Component
        # (for ejabberd's YAML, which has none, at the end).
        head, sep, tail = text.partition('\nVirtualHost "')
        self.config_path.write_text(head + "".join(f"{line}\n" for line in extra) + sep + tail)
        (workdir / "data").mkdir(exist_ok=True)
        self.log_path = workdir / "server.out"
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_in: float | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float) -> None:
        """Start the server and wait until its component port accepts."""
        t0 = time.monotonic()
        with open(self.log_path, "wb") as log:
            argv = self.spec.command(self.config_path, self.port)
            self.proc = subprocess.Popen(argv, cwd=self.spec.cwd,
                                         env=self.spec.env(), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT,
                                         preexec_fn=_server_preexec)
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.spec.name} exited with {self.proc.returncode}:\n"
                                   + self.log_tail())
            if port_accepts(self.port):
                self.started_in = time.monotonic() - t0
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.spec.name} did not open port {self.port} in {timeout:g} s:\n"
                           + self.log_tail())

    def cpu(self) -> float | None:
        return read_cpu_seconds(self.pid)

    def rss_mib(self) -> tuple[float | None, float | None]:
        """(current RSS, peak RSS) in MiB."""
        rss, hwm = read_status_kib(self.pid, "VmRSS"), read_status_kib(self.pid, "VmHWM")
        return (rss / 1024 if rss else None, hwm / 1024 if hwm else None)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM by PID, then SIGKILL by PID if it lingers."""
        stop_process(self.proc, timeout)

    def log_tail(self, lines: int = 20) -> str:
        texts = []
        for path in (self.log_path, self.workdir / "server.log"):
            if path.exists():
                texts += path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(texts)


# ---------------------------------------------------------------------------
# Load runs
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadPlan:
    """The load.py settings shared by every run of a sitting."""

    duration: float = 10.0
    warmup: float = 1.0
    window: int = 2000
    rate: float = 500.0
    procs: int = 1
    extra: tuple[str, ...] = field(default_factory=tuple)


def run_load(plan: LoadPlan, server: ServerProcess, mode: str, pairs: int) -> dict[str, Any]:
    """Run load.py once; returns its JSON report plus the server's footprint."""
    cmd = [sys.executable, str(LOAD_PY), "--port", str(server.port), "--host", HOST,
           "--secret", SECRET, "--domain-fmt", DOMAIN_FMT, "--mode", mode,
           "--pairs", str(pairs), "--procs", str(plan.procs),
           "--duration", str(plan.duration), "--warmup", str(plan.warmup),
           "--window", str(plan.window), "--rate", str(plan.rate),
           "--server-pid", str(server.pid), "--json", *plan.extra]
    limit = plan.duration + plan.warmup + 60.0
    cpu_before = server.cpu()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return {"mode": mode, "pairs": pairs, "error": f"load.py timed out after {limit:g} s"}
    cpu_after = server.cpu()
    report = parse_report(done.stdout, done.stderr)
    report.setdefault("mode", mode)
    report.setdefault("pairs", pairs)
    if cpu_before is not None and cpu_after is not None:
        report["server_cpu_whole_run_s"] = round(cpu_after - cpu_before, 3)
    report["server_rss_mib"], report["server_peak_rss_mib"] = server.rss_mib()
    if mode == "throughput" and report.get("delivered") and report.get("server_cpu_s") is not None:
        report["server_cpu_us_per_stanza"] = round(
            1e6 * float(report["server_cpu_s"]) / float(report["delivered"]), 3)
    if not server.alive():
        report.setdefault("error", f"{server.spec.name} died during the run")
    return report


def parse_report(stdout: str, stderr: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"error": (stderr or stdout).strip()[-500:] or "no output"}
    report: dict[str, Any] = json.loads(lines[-1])
    return report
