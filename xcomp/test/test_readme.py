# -*- test-case-name: xcomp.test.test_readme -*-
"""
Every shell command the README shows runs as written.

The commands are read from the README's C{sh} blocks, so a command added
there without a way to check it fails L{CoverageTests}.  Each is run by
C{/bin/sh} exactly as printed, in a scratch directory laid out as an
admin's would be (the example configuration as C{prosody.cfg.lua}, the
checkout's C{examples/}), with this interpreter's C{bin} first on the
C{PATH} so that C{twistd} and C{python3} are the ones under test.  The
only thing changed in the admin's files is the component port of the
example configuration, so that a run cannot collide with anything else on
the machine; commands naming files outside the scratch directory
(C{/etc/prosody/prosody.cfg.lua}, C{/run/xcomp.pid}) use them as they are,
and are skipped, with the reason, where that is not possible.
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import sys

from twisted.internet import defer, reactor, task
from twisted.internet.protocol import ClientCreator, Protocol
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SkipTest, TestCase

from xcomp import __version__
from xcomp.test.loopback import PROCESS_TIMEOUT, ChildProcess, ComponentClient, freePort
from xcomp.test.redispeer import SKIP_REASON as NO_REDIS

CHECKOUT = FilePath(__file__).parent().parent().parent()
README = CHECKOUT.child("README.md")
EXAMPLE = CHECKOUT.child("examples").child("prosody.cfg.lua")


def commands(text: str) -> list[str]:
    """
    The commands of the C{sh} blocks of C{text}, one per line, without
    their trailing comments.
    """
    found = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, re.M | re.S):
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                found.append(line)
    return found


#: What each kind of command looks like; every README command must be one.
KINDS = {
    "install": re.compile(r"python3 -m pip install (\S+)(?: && (.+))?$"),
    "tox": re.compile(r"tox$"),
    "foreground": re.compile(r"twistd -n xcomp -c (\S+)(?: (--verbose))?$"),
    "daemon": re.compile(r"twistd --logfile=(\S+) --pidfile=(\S+) xcomp -c (\S+)$"),
    "version": re.compile(r"twistd xcomp --version$"),
    "plugins": re.compile(r"twistd xcomp --list-plugins$"),
    "status": re.compile(r"python3 -m xcomp status -c (\S+)(?: \|\| echo .*)?$"),
    "reload": re.compile(r"python3 -m xcomp reload (?:-c (\S+)|--pidfile=(\S+))$"),
    "redis": re.compile(r"redis-server --port (\d+) --bind 127\.0\.0\.1 --save ''$"),
    "node": re.compile(r"twistd -n --pidfile=(\S+) xcomp -c (\S+)$"),
}


def kindOf(command: str) -> tuple[str, re.Match[str]] | None:
    """
    The kind of C{command} and its match, or L{None}.
    """
    for kind, pattern in KINDS.items():
        match = pattern.match(command)
        if match:
            return kind, match
    return None


class _FirstBytes(Protocol):
    """
    Open a component stream and fire L{answered} on the first bytes back.
    """

    def __init__(self) -> None:
        self.answered: defer.Deferred[None] = defer.Deferred()

    def connectionMade(self) -> None:
        self.transport.write(  # type: ignore[union-attr]
            b"<stream:stream xmlns='jabber:component:accept' "
            b"xmlns:stream='http://etherx.jabber.org/streams' to='readme.invalid'>"
        )

    def dataReceived(self, data: bytes) -> None:
        if not self.answered.called:
            self.answered.callback(None)
        self.transport.loseConnection()  # type: ignore[union-attr]


async def answering(child: ChildProcess) -> None:
    """
    Wait until the xcomp C{child} answers a stream header on the first port
    it announces: then its reactor runs, and so do its signal handlers
    (a SIGTERM before that would end it with the signal, not a shutdown).
    """
    match = await child.waitFor(rb"Listening for components on (\S+):(\d+)")
    host, port = match.group(1).decode().strip("[]"), int(match.group(2))
    protocol = await ClientCreator(reactor, _FirstBytes).connectTCP(host, port, timeout=PROCESS_TIMEOUT)
    await protocol.answered.addTimeout(PROCESS_TIMEOUT, reactor)


def removeIfThere(path: str) -> None:
    if os.path.exists(path):
        os.unlink(path)


def readmeCommands() -> list[str]:
    if not README.exists():
        raise SkipTest(f"{README.path}: not found (run from a checkout)")
    return commands(README.getContent().decode("utf-8"))


class CoverageTests(TestCase):
    """
    The README's commands, as text.
    """

    def test_commandsFound(self) -> None:
        """
        The C{sh} blocks are found: the first two lines are the two
        commands for a fresh machine.
        """
        found = readmeCommands()
        self.assertEqual(
            found[:2],
            [
                "python3 -m pip install . && twistd -n xcomp -c examples/prosody.cfg.lua",
                "python3 -m pip install tox && tox",
            ],
        )

    def test_everyCommandHasACheck(self) -> None:
        """
        Every command is of a kind this module runs.
        """
        unchecked = [c for c in readmeCommands() if kindOf(c) is None]
        self.assertEqual(unchecked, [], "README commands that no test runs")

    def test_ciRunsTheTestCommand(self) -> None:
        """
        C{.ci/run} runs the README's second command, as written.
        """
        ci = CHECKOUT.child(".ci").child("run").getContent().decode("utf-8")
        self.assertIn("\n" + readmeCommands()[1] + "\n", ci)

    def test_installedPathsExist(self) -> None:
        """
        What each C{pip install} names is a project pip can install.
        """
        for command in readmeCommands():
            kind = kindOf(command)
            if kind and kind[0] == "install" and kind[1].group(1) != "tox":
                path = CHECKOUT.preauthChild(kind[1].group(1))
                self.assertTrue(
                    path.child("pyproject.toml").exists() or path.child("setup.py").exists(),
                    command,
                )


class RunTests(TestCase):
    """
    The README's commands, run.
    """

    timeout = 120

    def setUp(self) -> None:
        self.scratch = FilePath(self.mktemp())
        self.scratch.makedirs()
        self.port = freePort()
        example = EXAMPLE.getContent().replace(b"{ 5347 }", b"{ %d }" % (self.port,))
        examples = self.scratch.child("examples")
        examples.makedirs()
        examples.child("prosody.cfg.lua").setContent(example)
        self.scratch.child("prosody.cfg.lua").setContent(example)
        self.env = dict(
            os.environ,
            PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
            PYTHONUNBUFFERED="1",
            PYTHONPATH=CHECKOUT.path,
        )

    def of(self, kind: str) -> list[re.Match[str]]:
        """
        The README's commands of C{kind}, also as the part after C{&&} of
        an install command; skip if there is none.
        """
        found = []
        for command in readmeCommands():
            for part in [command, *(m.group(2) for m in [KINDS["install"].match(command)] if m and m.group(2))]:
                match = KINDS[kind].match(part)
                if match:
                    found.append(match)
        if not found:
            raise SkipTest(f"the README has no {kind} command")
        return found

    def shell(self, command: str, replace: bool = True) -> ChildProcess:
        """
        Run C{command}, one simple command, with C{/bin/sh} in the scratch
        directory; it is ended by its PID at cleanup if it still runs.
        """
        child = ChildProcess(reactor)
        # exec: the shell becomes the command, so that a signal to the PID
        # reaches the command itself.
        reactor.spawnProcess(
            child,
            "/bin/sh",
            ["/bin/sh", "-c", ("exec " if replace else "") + command],
            env=self.env,
            path=self.scratch.path,
        )

        async def stop() -> None:
            if not child.done:
                child.signal("KILL")
                await child.ended()

        self.addCleanup(lambda: defer.ensureDeferred(stop()))
        return child

    async def holdSystemPaths(self) -> None:
        """
        Wait, for a bounded time, until no other test process (trial -j)
        runs a README command that writes C{/run/xcomp.pid} or
        C{/var/log/xcomp.log}: two at once would find each other's files.
        Held until this test's cleanup.
        """
        lock = open(os.path.join(os.path.realpath("/tmp"), "xcomp-readme-system-paths.lock"), "w")
        self.addCleanup(lock.close)
        for _ in range(int(PROCESS_TIMEOUT / 0.05)):
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                await task.deferLater(reactor, 0.05, lambda: None)
                continue
            self.addCleanup(fcntl.flock, lock, fcntl.LOCK_UN)
            return
        self.fail("another test process held the README's system paths too long")

    def needFile(self, path: str) -> None:
        if os.path.isabs(path) and not os.path.exists(path):
            raise SkipTest(f"{path}: not on this machine")

    def needWritable(self, *paths: str) -> None:
        for path in paths:
            if os.path.exists(path):
                raise SkipTest(f"{path}: exists already; not touching it")
            if not os.access(os.path.dirname(path), os.W_OK):
                raise SkipTest(f"{os.path.dirname(path)}: not writable here")

    async def runForeground(self, command: str, config: str) -> ChildProcess:
        """
        Run a foreground command until it answers on its component port.
        """
        self.needFile(config)
        child = self.shell(command)
        await answering(child)
        return child

    async def assertStops(self, child: ChildProcess) -> None:
        """
        SIGTERM shuts C{child} down cleanly; as twistd does, it then ends
        with the signal that stopped it, for its parent to see.
        """
        child.signal("TERM")
        await child.ended()
        output = bytes(child.output).decode(errors="replace")
        self.assertEqual((child.exitCode, child.exitSignal), (None, signal.SIGTERM), output)
        self.assertIn("Server Shut Down.", output)

    async def test_foreground(self) -> None:
        """
        Each C{twistd -n xcomp -c ...} starts, answers on its component
        port, and shuts down on SIGTERM.
        """
        for match in self.of("foreground"):
            child = await self.runForeground(match.group(0), match.group(1))
            await self.assertStops(child)

    async def test_daemon(self) -> None:
        """
        The daemon command returns with status 0, leaves a daemon whose PID
        is in its pidfile and which logs to its log file, and which removes
        the pidfile when it is sent SIGTERM.
        """
        for match in self.of("daemon"):
            logfile, pidfile, config = match.groups()
            self.needFile(config)
            await self.holdSystemPaths()
            self.needWritable(logfile, pidfile)
            self.addCleanup(removeIfThere, logfile)
            launcher = self.shell(match.group(0))
            self.assertEqual(await launcher.ended(), 0, bytes(launcher.output).decode(errors="replace"))
            pid = int(FilePath(pidfile).getContent())
            self.addCleanup(self.endDaemon, pid, pidfile)
            await self.until(lambda: b"Listening for components on" in FilePath(logfile).getContent())
            os.kill(pid, signal.SIGTERM)
            await self.until(lambda: not os.path.exists(pidfile))

    def endDaemon(self, pid: int, pidfile: str) -> None:
        """
        Kill the daemon C{pid} if the test left it running (it is ours: its
        PID came from the pidfile it wrote).
        """
        if os.path.exists(pidfile):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.unlink(pidfile)

    async def until(self, condition: object, step: float = 0.05) -> None:
        """
        Wait, a reactor step at a time, for C{condition()} to hold, for at
        most L{PROCESS_TIMEOUT} seconds.
        """
        for _ in range(int(PROCESS_TIMEOUT / step)):
            if condition():  # type: ignore[operator]
                return
            await task.deferLater(reactor, step, lambda: None)
        self.fail(f"not within {PROCESS_TIMEOUT} s: {condition}")

    async def test_version(self) -> None:
        """
        C{twistd xcomp --version} prints xcomp's version.
        """
        for match in self.of("version"):
            child = self.shell(match.group(0))
            self.assertEqual(await child.ended(), 0)
            self.assertIn(__version__, bytes(child.output).decode())

    async def test_listPlugins(self) -> None:
        """
        C{twistd xcomp --list-plugins} lists the built-in C{muc} and its
        options.
        """
        for match in self.of("plugins"):
            child = self.shell(match.group(0))
            self.assertEqual(await child.ended(), 0)
            self.assertIn("muc_max_nick_length", bytes(child.output).decode())

    async def test_reload(self) -> None:
        """
        Each C{python3 -m xcomp reload ...} finds a running xcomp (by the
        file's C{xcomp_pidfile}, or the pidfile twistd was given), which
        then reloads.
        """
        for match in self.of("reload"):
            config, pidfile = match.groups()
            if config is None:
                await self.holdSystemPaths()
                self.needWritable(pidfile)
                running = self.shell(f"twistd -n --pidfile={pidfile} xcomp -c prosody.cfg.lua")
            else:
                # The README says the file must set xcomp_pidfile (a
                # global option: before the first VirtualHost or Component).
                path = self.scratch.child(config)
                path.setContent(b'xcomp_pidfile = "xcomp.pid"\n' + path.getContent())
                running = self.shell(f"twistd -n --pidfile= xcomp -c {config}")
            await answering(running)
            command = self.shell(match.group(0))
            self.assertEqual(await command.ended(), 0, bytes(command.output).decode(errors="replace"))
            self.assertIn(b"sent SIGHUP", bytes(command.output))
            await running.waitFor(rb"Reloaded the configuration from")
            await self.assertStops(running)

    async def test_status(self) -> None:
        """
        C{python3 -m xcomp status -c ...}, as written (with its C{|| echo}),
        runs and says why there is nothing to show: the example
        configuration enables no status page and nothing runs.
        """
        for match in self.of("status"):
            child = self.shell(match.group(0), replace=False)
            await child.ended()
            output = bytes(child.output).decode(errors="replace")
            self.assertEqual(child.exitCode, 0, output)
            self.assertIn("exit status", output)

    async def test_cluster(self) -> None:
        """
        The README's two nodes and a Redis, run as written but for the
        ports (in the scratch copy of C{examples/cluster/}, Redis's 6379
        and the nodes' 5347 and 5348 become free ports, in the files and
        in the Redis command): Redis and both nodes start, a component on
        node a reaches one on node b, and each shuts down on SIGTERM.
        """
        if NO_REDIS:
            raise SkipTest(NO_REDIS)
        [redis] = self.of("redis")
        nodes = self.of("node")
        self.assertEqual(len(nodes), 2)
        ports = {b"6379": freePort(), b"{ 5347 }": freePort(), b"{ 5348 }": freePort()}
        copy = self.scratch.child("examples").child("cluster")
        copy.makedirs()
        for original in CHECKOUT.child("examples").child("cluster").globChildren("*.lua"):
            text = original.getContent()
            for old, new in ports.items():
                text = text.replace(old, old.replace(old.strip(b"{ }"), b"%d" % new))
            copy.child(original.basename()).setContent(text)
        server = self.shell(redis.group(0).replace(f"--port {redis.group(1)}", f"--port {ports[b'6379']}"))
        await server.waitFor(rb"Ready to accept connections")
        children = []
        for node in nodes:
            child = self.shell(node.group(0))
            await answering(child)
            await child.waitFor(rb"Cluster: connected to Redis at redis://127\.0\.0\.1:\d+/0 \(commands\)")
            children.append(child)
        gateway = ComponentClient(reactor, "gateway.example.org", "change-me-gateway-secret")
        bot = ComponentClient(reactor, "bot.example.org", "change-me-bot-secret")
        for client, port in ((gateway, ports[b"{ 5347 }"]), (bot, ports[b"{ 5348 }"])):
            self.addCleanup(client.disconnect)
            await client.connect(port)
        # Until node a has learnt where the bot is, its message comes back
        # as an error; each try gets one answer or the other.
        got: list[object] = []
        for n in range(int(PROCESS_TIMEOUT / 0.1)):
            id = f"hi{n}"
            gateway.send(f"<message from='gateway.example.org' to='bot.example.org' id='{id}'><body>hi</body></message>")
            await self.until(
                lambda: any(e.getAttribute("id") == id for e in bot.received + gateway.received), step=0.01
            )
            got = [e for e in bot.received if e.getAttribute("id") == id]
            if got:
                break
            await task.deferLater(reactor, 0.1)
        self.assertTrue(got, "the bot on node b never got the gateway's message")
        for child in children:
            await self.assertStops(child)
        server.signal("TERM")
        self.assertEqual(await server.ended(), 0)
