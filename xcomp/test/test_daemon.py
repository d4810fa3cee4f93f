# -*- test-case-name: xcomp.test.test_daemon -*-
"""
Tests for what an administrator sees when starting C{twistd xcomp}, in the
foreground (C{-n}) and as a daemon: a real twistd child on loopback, whose
terminal output and exit status are checked.
"""

from __future__ import annotations

import os
import re
import signal
import socket

from twisted.internet import reactor, task
from twisted.python.filepath import FilePath
from twisted.trial.unittest import TestCase

from xcomp import __version__
from xcomp.test.loopback import PROCESS_TIMEOUT, ChildProcess, ComponentClient, freePort, spawnTwistd, startRouter

CONFIG = """\
component_ports = {{ {port} }}
component_interfaces = {{ "127.0.0.1" }}
{extra}
Component "a.example"
  component_secret = "s"
"""


class DaemonTestCase(TestCase):
    """
    Helpers to write a configuration and run twistd on it.
    """

    timeout = 60

    def setUp(self) -> None:
        self.directory = FilePath(self.mktemp())
        self.directory.makedirs()
        self.pidfile = self.directory.child("twistd.pid")

    def writeConfig(self, text: str) -> str:
        """
        Write C{text} as the configuration file and return its path.
        """
        path = self.directory.child("xcomp.cfg.lua")
        path.setContent(text.encode("utf-8"))
        return path.path

    def heldPort(self) -> int:
        """
        A loopback port the test holds for its whole duration.
        """
        blocker = socket.socket()
        self.addCleanup(blocker.close)
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        return int(blocker.getsockname()[1])

    def twistd(self, config: str, *, daemon: bool, extra: tuple[str, ...] = ()) -> ChildProcess:
        """
        Run twistd on C{config}, in the foreground or as a daemon, with its
        pidfile and log in the test's directory.
        """
        mode = [] if daemon else ["-n"]
        logfile = self.directory.child("twistd.log").path
        return spawnTwistd(
            self,
            reactor,
            [*mode, f"--pidfile={self.pidfile.path}", f"--logfile={logfile}", "xcomp", "-c", config, *extra],
        )

    async def assertFailsWith(self, child: ChildProcess) -> str:
        """
        The child ends with exit status 1, one line of output and no pidfile
        left; return the line.
        """
        self.assertEqual(await child.ended(), 1)
        output = bytes(child.output).decode("utf-8", "replace")
        # Twisted keeps a descriptor of /dev/null open for running out of
        # descriptors (twisted.internet.tcp's reservation), from the first
        # listen to the end of the process; when the process ends without
        # a reactor, Python warns of it, which only shows when warnings are
        # on (tox's PYTHONWARNINGS=default), never to an administrator.
        output = re.sub(r"sys:1: ResourceWarning: unclosed file <[^>]*name='/dev/null'[^>]*>\n", "", output)
        self.assertEqual(output.count("\n"), 1, output)
        self.assertFalse(os.path.exists(self.pidfile.path))
        return output.rstrip("\n")


class BindFailureTests(DaemonTestCase):
    """
    A component port that cannot be bound ends startup with one line naming
    the address.
    """

    async def check(self, daemon: bool) -> None:
        port = self.heldPort()
        config = self.writeConfig(CONFIG.format(port=port, extra=""))
        line = await self.assertFailsWith(self.twistd(config, daemon=daemon))
        self.assertEqual(
            line, f"{config}:1: cannot listen for components on 127.0.0.1:{port}: Address already in use"
        )

    async def test_foreground(self) -> None:
        """
        With C{-n}: exit status 1, the line, no pidfile.
        """
        await self.check(daemon=False)

    async def test_daemon(self) -> None:
        """
        As a daemon: the process started from the terminal ends (it does not
        wait forever for the daemon) with exit status 1, the line, and no
        pidfile.
        """
        await self.check(daemon=True)


class DaemonStartTests(DaemonTestCase):
    """
    A daemon whose ports were bound before twistd forked serves on them.
    """

    async def test_servesAfterFork(self) -> None:
        """
        The command returns 0 once the daemon runs; the daemon, named by the
        pidfile, accepts a component on the port bound before the fork, and
        removes its pidfile when it is stopped.
        """
        port = freePort()
        config = self.writeConfig(CONFIG.format(port=port, extra=""))
        child = self.twistd(config, daemon=True)
        self.assertEqual(await child.ended(), 0, bytes(child.output))
        pid = int(self.pidfile.getContent())
        self.assertNotEqual(pid, child.pid)

        def stopDaemon() -> None:
            # The daemon this test started, by the PID it wrote.
            if os.path.exists(self.pidfile.path):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

        self.addCleanup(stopDaemon)
        client = ComponentClient(reactor, "a.example", "s")
        self.addCleanup(client.disconnect)
        await client.connect(port)
        await client.disconnect()
        os.kill(pid, signal.SIGTERM)
        for _ in range(int(PROCESS_TIMEOUT / 0.05)):
            if not os.path.exists(self.pidfile.path):
                break
            await task.deferLater(reactor, 0.05, lambda: None)
        self.assertFalse(os.path.exists(self.pidfile.path))


class PidfileTests(DaemonTestCase):
    """
    The configuration's C{pidfile}, when it holds a live PID, is refused as
    twistd refuses its own C{--pidfile}.
    """

    async def check(self, daemon: bool) -> None:
        held = self.directory.child("prosody.pid")
        held.setContent(b"%d\n" % os.getpid())
        config = self.writeConfig(CONFIG.format(port=self.heldPort(), extra=f'xcomp_pidfile = "{held.path}"'))
        line = await self.assertFailsWith(self.twistd(config, daemon=daemon))
        self.assertEqual(
            line,
            f"{held.path}: pidfile of running process {os.getpid()}; not taking it over "
            "(stop that process, or set another pidfile)",
        )
        self.assertEqual(held.getContent(), b"%d\n" % os.getpid())

    async def test_foreground(self) -> None:
        """
        With C{-n}: exit status 1, the line, the pidfile left as it was.
        """
        await self.check(daemon=False)

    async def test_daemon(self) -> None:
        """
        As a daemon: the same.
        """
        await self.check(daemon=True)


class ConfigErrorTests(DaemonTestCase):
    """
    A mistake in the configuration is printed as C{file:line: message}
    alone: no usage text, no prefix.
    """

    async def test_syntaxError(self) -> None:
        """
        A Lua syntax error: its line, exit status 1.
        """
        config = self.writeConfig('component_ports = { 5347 }\nComponent "a.example"\n  component_secret = 3 +\n')
        line = await self.assertFailsWith(self.twistd(config, daemon=False))
        self.assertRegex(line, rf"^{config}:4: ")

    async def test_missingSecret(self) -> None:
        """
        A component without a secret, as a daemon: its line, exit status 1.
        """
        config = self.writeConfig('component_ports = { 5347 }\n\nComponent "nosecret.example.org"\n')
        line = await self.assertFailsWith(self.twistd(config, daemon=True))
        self.assertRegex(line, rf"^{config}:3: Component \"nosecret.example.org\": ")

    async def test_badTLSFile(self) -> None:
        """
        A direct-TLS listener whose certificate file is missing: the file
        and the line that named it, exit status 1.
        """
        config = self.writeConfig(
            'component_ports = { }\ncomponent_direct_tls_ports = { 5347 }\n'
            'ssl = { certificate = "missing.crt"; key = "missing.key" }\n'
            'Component "a.example"\n  component_secret = "s"\n'
        )
        line = await self.assertFailsWith(self.twistd(config, daemon=True))
        self.assertRegex(line, rf"^{config}:\d+: ")
        self.assertIn("missing.crt", line)


class VersionTests(TestCase):
    """
    C{twistd xcomp --version}.
    """

    async def test_version(self) -> None:
        """
        It prints xcomp's version and exits 0.
        """
        child = spawnTwistd(self, reactor, ["-n", "--pidfile=", "xcomp", "--version"])
        self.assertEqual(await child.ended(), 0)
        self.assertEqual(bytes(child.output).decode(), f"xcomp {__version__}\n")


class AnnouncementTests(TestCase):
    """
    What a router that starts says about its configuration.
    """

    timeout = 60

    def setUp(self) -> None:
        self.listen = f'component_ports = {{ {freePort()} }}\ncomponent_interfaces = {{ "127.0.0.1" }}\n'

    async def test_noComponentWarns(self) -> None:
        """
        With no component and no listener password, one warning says that
        nothing can connect.
        """
        child, _ = await startRouter(self, reactor, self.listen + 'VirtualHost "example.org"\n')
        await child.waitFor(rb"Listening for components on 127\.0\.0\.1")
        output = bytes(child.output)
        self.assertEqual(output.count(b"no component is configured"), 1, output)
        self.assertIn(b"#warn] no component is configured", output)

    async def test_componentNoWarning(self) -> None:
        """
        With a component, there is no such warning.
        """
        child, _ = await startRouter(self, reactor, self.listen + 'Component "a.example"\ncomponent_secret = "s"\n')
        self.assertNotIn(b"no component is configured", bytes(child.output))


class LogSinkTests(DaemonTestCase):
    """
    The configuration's own log sinks, under twistd.
    """

    async def test_startupLinesOnce(self) -> None:
        """
        A file sink gets each startup line once: twistd keeps the events
        logged before its log begins and replays them to every observer,
        so a sink added before the ports are bound would get those lines
        twice.
        """
        port = freePort()
        sink = self.directory.child("xcomp.log")
        child, _ = await startRouter(
            self, reactor, CONFIG.format(port=port, extra=f'xcomp_log = {{ info = "{sink.path}" }}')
        )
        client = ComponentClient(reactor, "a.example", "s")
        self.addCleanup(client.disconnect)
        await client.connect(port)
        await client.disconnect()
        child.signal("TERM")
        await child.ended()
        lines = sink.getContent().decode("utf-8").splitlines()
        listening = [line for line in lines if f"Listening for components on 127.0.0.1:{port}" in line]
        self.assertEqual(len(listening), 1, lines)
        self.assertEqual(len([line for line in lines if "starting up" in line]), 1, lines)
