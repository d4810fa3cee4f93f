# -*- test-case-name: xcomp.test.test_signals -*-
"""
Tests for the signals a running C{twistd xcomp} handles (L{xcomp.daemon})
and C{python -m xcomp reload} (L{xcomp.__main__}): real twistd children on
loopback, real signals, real component clients.
"""

from __future__ import annotations

import os
import signal
import sys

from twisted.internet import reactor, task
from twisted.python.filepath import FilePath
from twisted.trial.unittest import TestCase

from xcomp.test.loopback import (
    PROCESS_TIMEOUT,
    ChildProcess,
    ComponentClient,
    childEnvironment,
    freePort,
    spawnTwistd,
    startRouter,
)
from xcomp.test.test_reload import A_AND_B, LISTEN, messages

C = 'Component "c.example"\n  component_secret = "c"\n'


class SignalTestCase(TestCase):
    """
    Helpers for a router child and its clients.
    """

    timeout = 90

    def setUp(self) -> None:
        self.port = freePort()
        self.base = LISTEN.format(ports=self.port) + A_AND_B

    async def connect(self, domain: str, secret: str) -> ComponentClient:
        client = ComponentClient(reactor, domain, secret)
        self.addCleanup(client.disconnect)
        await client.connect(self.port)
        return client

    def output(self, child: ChildProcess) -> str:
        return bytes(child.output).decode("utf-8", "replace")


class ReloadSignalTests(SignalTestCase):
    """
    C{SIGHUP} reloads the configuration.
    """

    async def test_midStreamNothingLost(self) -> None:
        """
        SIGHUP while one component streams stanzas to another, with a
        component added to the file: every stanza arrives once and in
        order on the receiver's one stream, and the added component can
        then connect.
        """
        child, directory = await startRouter(self, reactor, self.base)
        a = await self.connect("a.example", "a")
        b = await self.connect("b.example", "b")
        stream = b.xs
        a.send(messages("a.example", "b.example", 0, 3000))
        directory.child("xcomp.cfg.lua").setContent((self.base + C).encode("utf-8"))
        child.signal("HUP")
        a.send(messages("a.example", "b.example", 3000, 3000))
        await child.waitFor(rb"Reloaded the configuration from .*: components added: c\.example\n")
        a.send(messages("a.example", "b.example", 6000, 3000))
        await b.next(lambda e: e.getAttribute("id") == "m8999")
        self.assertEqual([e["id"] for e in b.received], [f"m{n}" for n in range(9000)])
        self.assertIs(b.xs, stream)
        self.assertFalse(a.lost().called or b.lost().called)
        await self.connect("c.example", "c")
        self.assertIn("SIGHUP: reopened the log files; reloading", self.output(child))

    async def test_configErrorKeepsRunning(self) -> None:
        """
        SIGHUP with a mistake in the file: one error line, C{file:line:
        message}, and the router goes on with its running configuration.
        """
        child, directory = await startRouter(self, reactor, self.base)
        a = await self.connect("a.example", "a")
        b = await self.connect("b.example", "b")
        config = directory.child("xcomp.cfg.lua")
        config.setContent((self.base + 'Component "c.example"\n').encode("utf-8"))
        child.signal("HUP")
        await child.waitFor(rb"Reload: .*\(the running configuration is kept\)\n")
        lines = [l for l in self.output(child).splitlines() if "Reload:" in l]
        self.assertEqual(len(lines), 1, lines)
        self.assertIn(f'[xcomp.reload#error] Reload: {config.path}:7: Component "c.example": ', lines[0])
        a.send(messages("a.example", "b.example", 0, 1))
        self.assertEqual((await b.next())["id"], "m0")


class OtherSignalTests(SignalTestCase):
    """
    The signals that used to kill xcomp silently.
    """

    async def test_usr1AndUsr2Foreground(self) -> None:
        """
        With C{-n} logging to standard output, SIGUSR1 and SIGUSR2 each
        log one line and the router goes on serving.
        """
        child, _ = await startRouter(self, reactor, self.base)
        child.signal(signal.SIGUSR1)
        await child.waitFor(rb"SIGUSR1: twistd logs to standard output; there is no log file to rotate")
        child.signal(signal.SIGUSR2)
        await child.waitFor(rb"SIGUSR2 received")
        await self.connect("a.example", "a")
        self.assertFalse(child.done)

    async def test_usr1RotatesLogfile(self) -> None:
        """
        With C{--logfile}, SIGUSR1 rotates it as twistd's daemon mode does
        (with C{-n} too): C{twistd.log.1} holds what came before.
        """
        directory = FilePath(self.mktemp())
        directory.makedirs()
        config = directory.child("xcomp.cfg.lua")
        config.setContent(self.base.encode("utf-8"))
        logfile = directory.child("twistd.log")
        child = spawnTwistd(
            self, reactor, ["-n", "--pidfile=", f"--logfile={logfile.path}", "xcomp", "-c", config.path]
        )
        await inFile(logfile, b"Listening for components on")
        await self.connect("a.example", "a")
        await inFile(logfile, b"Component a.example bound")
        child.signal(signal.SIGUSR1)
        rotated = directory.child("twistd.log.1")
        await inFile(rotated, b"Component a.example bound")
        await self.connect("b.example", "b")
        await inFile(logfile, b"Component b.example bound")
        self.assertTrue(rotated.exists())
        self.assertIn(b"Component a.example bound", rotated.getContent())
        self.assertIn(b"Component b.example bound", logfile.getContent())
        self.assertFalse(child.done)

    async def test_hupReopensLogFiles(self) -> None:
        """
        After logrotate moved twistd's log and the configuration's file
        sink away, SIGHUP makes xcomp write to new files of those names;
        the moved ones keep what came before.
        """
        directory = FilePath(self.mktemp())
        directory.makedirs()
        sink = directory.child("xcomp.log")
        config = directory.child("xcomp.cfg.lua")
        config.setContent((f'xcomp_log = {{ info = "{sink.path}" }}\n' + self.base).encode("utf-8"))
        logfile = directory.child("twistd.log")
        child = spawnTwistd(
            self, reactor, ["-n", "--pidfile=", f"--logfile={logfile.path}", "xcomp", "-c", config.path]
        )
        await inFile(logfile, b"Listening for components on")
        await self.connect("a.example", "a")
        await inFile(logfile, b"Component a.example bound")
        await inFile(sink, b"Component a.example bound")
        logfile.moveTo(directory.child("twistd.log.old"))
        sink.moveTo(directory.child("xcomp.log.old"))
        child.signal("HUP")
        # Once the reload has run, the bind below is logged after it.
        await inFile(sink, b"Reloaded the configuration")
        await self.connect("b.example", "b")
        await inFile(logfile, b"Component b.example bound")
        await inFile(sink, b"Component b.example bound")
        for name in ("twistd.log", "xcomp.log"):
            old = directory.child(name + ".old").getContent()
            new = directory.child(name).getContent()
            self.assertIn(b"Component a.example bound", old, name)
            self.assertNotIn(b"Component a.example bound", new, name)
            self.assertIn(b"Component b.example bound", new, name)
        self.assertFalse(child.done)


async def inFile(path: FilePath[str], text: bytes) -> None:
    """
    Wait until the file C{path} (written by a child process) exists and
    holds C{text}; fail after L{PROCESS_TIMEOUT}.
    """
    for _ in range(int(PROCESS_TIMEOUT / 0.05)):
        if path.exists() and text in path.getContent():
            return
        await task.deferLater(reactor, 0.05, lambda: None)
    raise AssertionError(f"{path.path} never held {text!r}")


class AnnouncementTests(SignalTestCase):
    """
    Each listener is announced once.
    """

    async def test_onceEach(self) -> None:
        """
        One C{Listening for components on ...} line per listener, and not
        Twisted's own C{... starting on PORT} beside it.
        """
        child, _ = await startRouter(self, reactor, self.base)
        await child.waitFor(rb"reactor class")
        text = self.output(child)
        self.assertEqual(text.count(f"Listening for components on 127.0.0.1:{self.port}"), 1, text)
        self.assertNotIn(f"starting on {self.port}", text)


class TwistdPidfileTests(TestCase):
    """
    twistd's own C{--pidfile}, holding the PID of a live process.
    """

    timeout = 60

    async def test_oneLine(self) -> None:
        """
        One line, exit status 1, the pidfile left as it was.
        """
        directory = FilePath(self.mktemp())
        directory.makedirs()
        pidfile = directory.child("twistd.pid")
        pidfile.setContent(b"%d\n" % os.getpid())
        config = directory.child("xcomp.cfg.lua")
        config.setContent((LISTEN.format(ports=freePort()) + A_AND_B).encode("utf-8"))
        child = spawnTwistd(self, reactor, ["-n", f"--pidfile={pidfile.path}", "xcomp", "-c", config.path])
        self.assertEqual(await child.ended(), 1)
        self.assertEqual(
            bytes(child.output).decode(),
            f"{pidfile.path}: pidfile of running process {os.getpid()}; not taking it over "
            "(stop that process, or set another pidfile)\n",
        )
        self.assertEqual(pidfile.getContent(), b"%d\n" % os.getpid())


def runCommand(testCase: TestCase, *arguments: str) -> ChildProcess:
    """
    Run C{python -m xcomp ARGUMENTS} as a child process.
    """
    child = ChildProcess(reactor)
    reactor.spawnProcess(
        child, sys.executable, [sys.executable, "-m", "xcomp", *arguments], env=childEnvironment()
    )
    return child


class ReloadCommandTests(SignalTestCase):
    """
    C{python -m xcomp reload}.
    """

    async def test_byConfig(self) -> None:
        """
        C{-c FILE} finds the process by the file's C{xcomp_pidfile} and
        sends it SIGHUP: it reloads.
        """
        directory = FilePath(self.mktemp())
        directory.makedirs()
        pidfile = directory.child("xcomp.pid")
        child, routerDirectory = await startRouter(self, reactor, f'xcomp_pidfile = "{pidfile.path}"\n' + self.base)
        await child.waitFor(rb"reactor class")
        config = routerDirectory.child("xcomp.cfg.lua")
        command = runCommand(self, "reload", "-c", config.path)
        self.assertEqual(await command.ended(), 0, bytes(command.output))
        self.assertEqual(
            bytes(command.output).decode(),
            f"sent SIGHUP to xcomp (process {child.pid}): it reloads its configuration; its log says how it went\n",
        )
        await child.waitFor(rb"Reloaded the configuration from .*: no changes")

    async def test_byPidfile(self) -> None:
        """
        C{--pidfile PATH}: the pidfile twistd wrote.
        """
        directory = FilePath(self.mktemp())
        directory.makedirs()
        pidfile = directory.child("twistd.pid")
        config = directory.child("xcomp.cfg.lua")
        config.setContent(self.base.encode("utf-8"))
        child = spawnTwistd(self, reactor, ["-n", f"--pidfile={pidfile.path}", "--logfile=-", "xcomp", "-c", config.path])
        await child.waitFor(rb"reactor class")
        command = runCommand(self, "reload", "--pidfile", pidfile.path)
        self.assertEqual(await command.ended(), 0, bytes(command.output))
        await child.waitFor(rb"Reloaded the configuration from .*: no changes")

    async def check(self, expected: str, *arguments: str) -> None:
        command = runCommand(self, "reload", *arguments)
        self.assertEqual(await command.ended(), 1)
        self.assertEqual(bytes(command.output).decode(), f"xcomp reload: {expected}\n")

    async def test_errors(self) -> None:
        """
        Nothing to send to: one line each, exit status 1 (no pidfile named,
        none configured, a missing one, a stale one, a mistake in the file).
        """
        directory = FilePath(self.mktemp())
        directory.makedirs()
        config = directory.child("xcomp.cfg.lua")
        config.setContent(self.base.encode("utf-8"))
        missing = directory.child("none.pid").path
        stale = directory.child("stale.pid")
        # A PID no process has: above the kernel's largest.
        stale.setContent(b"%d\n" % (2**22 + 1))
        broken = directory.child("broken.cfg.lua")
        broken.setContent(b'Component "x.example"\n')
        await self.check("give -c CONFIG (with xcomp_pidfile in it) or --pidfile PATH")
        await self.check(
            f"{config.path}: sets no xcomp_pidfile; give the one twistd writes with --pidfile", "-c", config.path
        )
        await self.check(f"{missing}: no such pidfile; is xcomp running?", "--pidfile", missing)
        await self.check(
            f"{stale.path}: stale pidfile: process {2**22 + 1} does not run", "--pidfile", stale.path
        )
        command = runCommand(self, "reload", "-c", broken.path)
        self.assertEqual(await command.ended(), 1)
        self.assertRegex(bytes(command.output).decode(), rf"^xcomp reload: {broken.path}:1: Component \"x.example\": .*\n$")


class SharedWithProsodyTests(SignalTestCase):
    """
    A configuration file a running Prosody uses too.
    """

    async def test_prosodysPidfileAndLogUntouched(self) -> None:
        """
        Prosody's C{pidfile} (holding a live PID) and C{log}: xcomp starts,
        says once that each is Prosody's, and neither writes the pidfile nor
        creates or appends to the log; a component connects.
        """
        directory = FilePath(self.mktemp())
        directory.makedirs()
        pidfile = directory.child("prosody.pid")
        pidfile.setContent(b"%d\n" % os.getpid())
        log = directory.child("prosody.log")
        child, _ = await startRouter(
            self, reactor, f'pidfile = "{pidfile.path}"\nlog = {{ info = "{log.path}" }}\n' + self.base
        )
        await self.connect("a.example", "a")
        await child.waitFor(rb"Component a\.example bound")
        text = self.output(child)
        self.assertEqual(text.count("pidfile is Prosody's; xcomp leaves it alone"), 1, text)
        self.assertEqual(text.count("log is Prosody's; xcomp logs where twistd does"), 1, text)
        self.assertEqual(pidfile.getContent(), b"%d\n" % os.getpid())
        self.assertFalse(log.exists())
