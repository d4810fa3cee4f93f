# -*- test-case-name: xcomp.test.test_loopback -*-
"""
Run C{twistd xcomp} as a child process on loopback, for tests that need the
whole program: real sockets, real signals, the real command line.
"""

from __future__ import annotations

import os
import re
import socket
import sys
from typing import Callable, Sequence

from twisted.internet import defer, protocol
from twisted.internet.interfaces import IReactorProcess, IReactorTime
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from twisted.trial.unittest import TestCase
from twisted.words.protocols.jabber import component, xmlstream
from twisted.words.xish import domish

#: How long the child may take to start or stop before the test fails.
PROCESS_TIMEOUT = 20.0

_TWISTD = "import sys; from twisted.scripts.twistd import run; sys.argv[0] = 'twistd'; run()"


def childEnvironment(**extra: str) -> dict[str, str]:
    """
    The environment of a child process that runs xcomp: this one's, with
    the tree under test first on C{PYTHONPATH}, so that a child started
    from a worktree runs that worktree's xcomp and not the one the
    interpreter has installed.
    """
    import xcomp

    root = os.path.dirname(os.path.dirname(os.path.abspath(xcomp.__file__)))
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    return dict(os.environ, PYTHONPATH=path, **extra)


def freePort(host: str = "127.0.0.1") -> int:
    """
    A TCP port on C{host} that nothing listens on right now.
    """
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class ChildProcess(protocol.ProcessProtocol):
    """
    A child process whose output is collected and can be waited on.

    @ivar output: everything it wrote to stdout and stderr.
    @ivar exitCode: its exit code once it has ended.
    """

    def __init__(self, reactor: IReactorTime) -> None:
        self.reactor = reactor
        self.output = bytearray()
        self.exitCode: int | None = None
        self.exitSignal: int | None = None
        self.done = False
        self._ended: list[defer.Deferred[int | None]] = []
        self._patterns: list[tuple[re.Pattern[bytes], defer.Deferred[re.Match[bytes]]]] = []

    @property
    def pid(self) -> int | None:
        return self.transport.pid if self.transport is not None else None

    def outReceived(self, data: bytes) -> None:
        self.output += data
        for entry in list(self._patterns):
            match = entry[0].search(self.output)
            if match:
                self._patterns.remove(entry)
                entry[1].callback(match)

    errReceived = outReceived

    def processEnded(self, reason: object) -> None:
        self.done = True
        self.exitCode = reason.value.exitCode  # type: ignore[attr-defined]
        self.exitSignal = reason.value.signal  # type: ignore[attr-defined]
        for waiter in self._ended:
            waiter.callback(self.exitCode)
        for _, matchWaiter in self._patterns:
            matchWaiter.errback(AssertionError(f"process ended; output:\n{self.output.decode(errors='replace')}"))
        self._ended = []
        self._patterns = []

    def waitFor(self, pattern: bytes, timeout: float = PROCESS_TIMEOUT) -> defer.Deferred[re.Match[bytes]]:
        """
        Fire with the first match of C{pattern} in the output.
        """
        compiled = re.compile(pattern)
        match = compiled.search(self.output)
        if match:
            return defer.succeed(match)
        if self.done:
            return defer.fail(AssertionError(f"process ended; output:\n{self.output.decode(errors='replace')}"))
        waiter: defer.Deferred[re.Match[bytes]] = defer.Deferred()
        self._patterns.append((compiled, waiter))
        return waiter.addTimeout(timeout, self.reactor)

    def ended(self, timeout: float = PROCESS_TIMEOUT) -> defer.Deferred[int | None]:
        """
        Fire with the exit code when the process has ended.
        """
        if self.done or self.transport is None:
            return defer.succeed(self.exitCode)
        waiter: defer.Deferred[int | None] = defer.Deferred()
        self._ended.append(waiter)
        return waiter.addTimeout(timeout, self.reactor)

    def signal(self, name: str | int) -> None:
        """
        Send a signal (a name Twisted knows, or a number) to this process
        (and only this one) if it still runs.
        """
        if not self.done:
            self.transport.signalProcess(name)  # type: ignore[union-attr]


def spawnTwistd(
    testCase: TestCase, reactor: IReactorProcess, arguments: Sequence[str]
) -> ChildProcess:
    """
    Start C{twistd ARGUMENTS} with this interpreter; the test ends it by PID
    at cleanup if it still runs.
    """
    child = ChildProcess(reactor)  # type: ignore[arg-type]
    reactor.spawnProcess(
        child,
        sys.executable,
        [sys.executable, "-c", _TWISTD, *arguments],
        env=childEnvironment(PYTHONUNBUFFERED="1"),
    )

    async def stop() -> None:
        if not child.done:
            child.signal("KILL")
            await child.ended()

    testCase.addCleanup(lambda: defer.ensureDeferred(stop()))
    return child


async def startRouter(
    testCase: TestCase, reactor: IReactorProcess, config: str, *extra: str
) -> tuple[ChildProcess, FilePath]:
    """
    Write C{config} to a file and run C{twistd -n xcomp -c FILE} on it,
    returning once it listens.
    """
    directory = FilePath(testCase.mktemp())
    directory.makedirs()
    path = directory.child("xcomp.cfg.lua")
    path.setContent(config.encode("utf-8"))
    child = spawnTwistd(
        testCase, reactor, ["-n", "--pidfile=", "--logfile=-", "xcomp", "-c", path.path, *extra]
    )
    await child.waitFor(rb"Listening for components on")
    return child, directory


class ComponentClient:
    """
    Twisted's own XEP-0114 component client, connected over TCP, recording
    what it receives.

    @ivar received: the stanzas received after authentication, in order.
    @ivar streamError: the condition of the stream error it got, if any.
    """

    def __init__(self, reactor: IReactorTime, domain: str, secret: str) -> None:
        self.reactor = reactor
        self.domain = domain
        self.received: list[domish.Element] = []
        self.streamError: str | None = None
        self.xs: xmlstream.XmlStream | None = None
        self._authd: defer.Deferred[ComponentClient] = defer.Deferred()
        self._lost: defer.Deferred[None] = defer.Deferred()
        self._waiting: list[tuple[Callable[[domish.Element], bool], defer.Deferred[domish.Element]]] = []
        self.factory = component.componentFactory(domain, secret)
        # It is a reconnecting factory: a test connects exactly once.
        self.factory.maxRetries = 0
        self.factory.addBootstrap(xmlstream.STREAM_CONNECTED_EVENT, self._connected)
        self.factory.addBootstrap(xmlstream.STREAM_AUTHD_EVENT, self._authenticated)
        self.factory.addBootstrap(xmlstream.STREAM_ERROR_EVENT, self._failed)
        self.factory.addBootstrap(xmlstream.INIT_FAILED_EVENT, self._failed)
        self.factory.addBootstrap(xmlstream.STREAM_END_EVENT, self._ended)

    async def connect(
        self,
        port: int,
        host: str = "127.0.0.1",
        wrap: Callable[[protocol.ClientFactory], protocol.ClientFactory] | None = None,
    ) -> ComponentClient:
        """
        Connect and authenticate; fails with the stream error if refused.

        @param wrap: Makes the factory that connects out of the client's own
            (to add a PROXY protocol header, or TLS).
        """
        factory = self.factory if wrap is None else wrap(self.factory)
        self.reactor.connectTCP(host, port, factory, timeout=PROCESS_TIMEOUT)  # type: ignore[attr-defined]
        return await self._authd.addTimeout(PROCESS_TIMEOUT, self.reactor)

    def _connected(self, xs: xmlstream.XmlStream) -> None:
        self.xs = xs

    def _authenticated(self, xs: xmlstream.XmlStream) -> None:
        xs.addObserver("/*", self._stanza)
        self._authd.callback(self)

    def _failed(self, reason: Failure) -> None:
        self.streamError = getattr(reason.value, "condition", None) or str(reason.value)
        if not self._authd.called:
            self._authd.errback(reason)

    def _ended(self, reason: object) -> None:
        if not self._authd.called:
            self._authd.errback(ConnectionError(f"stream ended: {reason}"))
        if not self._lost.called:
            self._lost.callback(None)

    def _stanza(self, element: domish.Element) -> None:
        self.received.append(element)
        for entry in list(self._waiting):
            if entry[0](element):
                self._waiting.remove(entry)
                entry[1].callback(element)

    def send(self, data: str | domish.Element) -> None:
        assert self.xs is not None
        self.xs.send(data)

    def next(self, predicate: Callable[[domish.Element], bool] = lambda e: True) -> defer.Deferred[domish.Element]:
        """
        Fire with the first received stanza, past or future, that matches.
        """
        for element in self.received:
            if predicate(element):
                self.received.remove(element)
                return defer.succeed(element)
        waiter: defer.Deferred[domish.Element] = defer.Deferred()
        self._waiting.append((predicate, waiter))
        return waiter.addTimeout(PROCESS_TIMEOUT, self.reactor)

    def lost(self) -> defer.Deferred[None]:
        """
        Fire when the stream has ended.
        """
        return self._lost

    def disconnect(self) -> defer.Deferred[None]:
        if self.xs is not None and self.xs.transport is not None and not self._lost.called:
            self.xs.transport.loseConnection()
            return self._lost
        return defer.succeed(None)
