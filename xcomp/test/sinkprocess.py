# -*- test-case-name: xcomp.test.test_hold_loopback,xcomp.test.test_balance_loopback -*-
"""
The C{xcomp.test.slixsink} process as the tests see it: what it received,
line by line, and a sender that keeps a window of stanzas in flight.
"""

from __future__ import annotations

import sys
from typing import Callable

from twisted.internet import defer
from twisted.internet.interfaces import IReactorProcess, IReactorTime
from twisted.trial.unittest import TestCase

from xcomp.test.loopback import PROCESS_TIMEOUT, ChildProcess, ComponentClient


class SinkProcess(ChildProcess):
    """
    A slixmpp sink; L{received} is every message it printed, as (from, id),
    in order.

    @ivar progress: Called whenever more output arrived.
    """

    def __init__(self, reactor: IReactorTime, progress: Callable[[], None]) -> None:
        super().__init__(reactor)
        self.progress = progress
        self.received: list[tuple[str, str]] = []
        self._partial = b""

    def outReceived(self, data: bytes) -> None:
        super().outReceived(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            if line.startswith(b"M "):
                _, sender, ident = line.decode().split(" ")
                self.received.append((sender, ident))
        self.progress()


def spawnSink(
    testCase: TestCase,
    reactor: IReactorProcess,
    progress: Callable[[], None],
    domain: str,
    secret: str,
    port: int,
    stopAfter: int = 0,
) -> SinkProcess:
    """
    Start a sink for C{domain}; the test ends it by its PID at cleanup if it
    still runs.
    """
    sink = SinkProcess(reactor, progress)  # type: ignore[arg-type]
    reactor.spawnProcess(
        sink,
        sys.executable,
        [sys.executable, "-m", "xcomp.test.slixsink", domain, secret, str(port), str(stopAfter), "90"],
        env=None,
    )

    async def stop() -> None:
        if not sink.done:
            sink.signal("KILL")
            await sink.ended()

    testCase.addCleanup(lambda: defer.ensureDeferred(stop()))
    return sink


class WindowedSender:
    """
    Sends C{total} numbered messages from a component client, never more
    than C{window} ahead of what the sinks have printed (so that a sink
    that closes has little in flight to read before it goes).

    @ivar sent: How many were sent.
    @ivar sinks: Where the messages are counted.
    """

    def __init__(
        self,
        client: ComponentClient,
        sender: str,
        to: str,
        total: int,
        window: int,
        senders: int = 1,
    ) -> None:
        """
        @param senders: Spread the messages over this many sender JIDs
            (C{u0@sender} ...), round robin; with 1, they come from
            C{sender} itself.
        """
        self.client = client
        self.sender = sender
        self.to = to
        self.total = total
        self.window = window
        self.senders = senders
        self.sent = 0
        self.sinks: list[SinkProcess] = []
        self.paused = False
        self._waiting: list[tuple[int, defer.Deferred[None]]] = []

    def received(self) -> int:
        return sum(len(sink.received) for sink in self.sinks)

    def fromOf(self, n: int) -> str:
        return self.sender if self.senders == 1 else f"u{n % self.senders}@{self.sender}"

    def send(self, count: int) -> None:
        """
        Send the next C{count} messages (fewer at the end), whatever the
        window.
        """
        end = min(self.total, self.sent + count)
        if end > self.sent:
            self.client.send(
                "".join(
                    f"<message from='{self.fromOf(n)}' to='{self.to}' id='{n}'><body>{n}</body></message>"
                    for n in range(self.sent, end)
                )
            )
            self.sent = end

    def pump(self) -> None:
        """
        Send as far as the window allows; fire L{done} once everything was
        received.
        """
        received = self.received()
        if not self.paused:
            self.send(received + self.window - self.sent)
        for entry in list(self._waiting):
            if received >= entry[0]:
                self._waiting.remove(entry)
                entry[1].callback(None)

    def until(self, count: int) -> defer.Deferred[None]:
        """
        Fire once the sinks have printed C{count} messages.
        """
        waiter: defer.Deferred[None] = defer.Deferred()
        self._waiting.append((count, waiter))
        self.pump()
        return waiter.addTimeout(PROCESS_TIMEOUT * 4, self.client.reactor)

    def done(self) -> defer.Deferred[None]:
        """
        Fire once the sinks have printed L{total} messages.
        """
        return self.until(self.total)
