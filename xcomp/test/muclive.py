# -*- test-case-name: xcomp.test.test_muc_slixmpp -*-
"""
The test's side of L{xcomp.test.slixmuc}: L{SlixUsers} runs the slixmpp
users of one domain as a child process, sends it commands and collects
what it prints (results, and every message and presence its users
received).
"""

from __future__ import annotations

import itertools
import json
import os
import sys
from typing import Any, Callable

from twisted.internet import defer, protocol
from twisted.internet.interfaces import IReactorProcess, IReactorTime
from twisted.trial.unittest import TestCase

#: How long a command or an awaited event may take before the test fails.
WAIT = 20.0


class SlixUsers(protocol.ProcessProtocol):
    """
    One C{python -m xcomp.test.slixmuc} child.

    @ivar events: every message and presence received, as dicts, in order.
    @ivar output: everything it wrote, for failure messages.
    """

    def __init__(self, reactor: IReactorTime, domain: str) -> None:
        self.reactor = reactor
        self.domain = domain
        self.events: list[dict[str, Any]] = []
        self.output = bytearray()
        self.ready: defer.Deferred[None] = defer.Deferred()
        self.ended: defer.Deferred[None] = defer.Deferred()
        self._buffer = b""
        self._numbers = itertools.count(1)
        self._results: dict[int, defer.Deferred[dict[str, Any]]] = {}
        self._waiting: list[tuple[Callable[[dict[str, Any]], bool], defer.Deferred[dict[str, Any]]]] = []
        self.done = False

    @classmethod
    def spawn(cls, testCase: TestCase, reactor: Any, domain: str, secret: str, port: int) -> SlixUsers:
        """
        Start the child; the test ends it by PID at cleanup.
        """
        users = cls(reactor, domain)
        process: IReactorProcess = reactor
        process.spawnProcess(
            users, sys.executable, [sys.executable, "-m", "xcomp.test.slixmuc", domain, secret, str(port), "120"],
            env=dict(os.environ, PYTHONUNBUFFERED="1"), childFDs={0: "w", 1: "r", 2: "r"},
        )

        def stop() -> defer.Deferred[None] | None:
            if users.done:
                return None
            users.transport.signalProcess("KILL")  # type: ignore[union-attr]
            return users.ended

        testCase.addCleanup(stop)
        return users

    def jid(self, user: str, resource: str = "desk") -> str:
        return f"{user}@{self.domain}/{resource}"

    # What the child prints

    def outReceived(self, data: bytes) -> None:
        self.output += data
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            self._line(line.decode("utf-8", "replace"))

    def errReceived(self, data: bytes) -> None:
        self.output += data

    def _line(self, line: str) -> None:
        kind, _, rest = line.partition(" ")
        if kind == "READY" and not self.ready.called:
            self.ready.callback(None)
        elif kind == "RESULT":
            number, _, payload = rest.partition(" ")
            waiter = self._results.pop(int(number), None)
            if waiter is not None:
                waiter.callback(json.loads(payload))
        elif kind == "EVENT":
            event = json.loads(rest)
            self.events.append(event)
            for entry in list(self._waiting):
                if entry[0](event):
                    self._waiting.remove(entry)
                    entry[1].callback(event)

    def processEnded(self, reason: object) -> None:
        self.done = True
        failure = AssertionError("slixmuc ended; output:\n" + self.output.decode("utf-8", "replace"))
        for waiter in list(self._results.values()) + [w for _, w in self._waiting]:
            waiter.errback(failure)
        self._results.clear()
        self._waiting.clear()
        if not self.ready.called:
            self.ready.errback(failure)
        self.ended.callback(None)

    # What the test does

    def command(self, op: str, **arguments: Any) -> defer.Deferred[dict[str, Any]]:
        """
        Run one command; fire with its result.
        """
        number = next(self._numbers)
        waiter: defer.Deferred[dict[str, Any]] = defer.Deferred()
        self._results[number] = waiter
        self.transport.write(json.dumps({"id": number, "op": op, **arguments}).encode() + b"\n")  # type: ignore[union-attr]
        return waiter.addTimeout(WAIT, self.reactor)

    def next(self, predicate: Callable[[dict[str, Any]], bool], since: int = 0) -> defer.Deferred[dict[str, Any]]:
        """
        Fire with the first event from index C{since} on that satisfies
        C{predicate}, already received or to come.
        """
        for event in self.events[since:]:
            if predicate(event):
                return defer.succeed(event)
        waiter: defer.Deferred[dict[str, Any]] = defer.Deferred()
        self._waiting.append((predicate, waiter))
        return waiter.addTimeout(WAIT, self.reactor)

    def mark(self) -> int:
        """
        Where the events received so far end (for L{next}'s C{since}).
        """
        return len(self.events)
