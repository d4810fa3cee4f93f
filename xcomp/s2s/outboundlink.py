# -*- test-case-name: xcomp.test.test_s2s_outbound,xcomp.test.test_s2s_outbound_loopback -*-
"""
L{OutboundLink}: what xcomp keeps for one (local domain, remote domain)
pair, across the connections it makes: the stanzas waiting while a
connection is set up, the dialback verification requests waiting for an
answer, the deadline for the set-up, and the idle timer once it is up.

A link connects on the first stanza: it asks the resolver for the remote's
targets and tries them in order, each with what is left of the set-up
deadline (C{s2s_timeout}).  Once the stream is authenticated the queue is
written, in order, and stanzas go straight through until the link has been
idle for C{idleTimeout}; a link that dropped connects again on the next
stanza.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol as _TypingProtocol

from twisted.internet import defer
from twisted.internet.interfaces import IAddress, IConnector, IDelayedCall, IReactorTCP, IReactorTime
from twisted.internet.protocol import ClientFactory, Protocol
from twisted.python.failure import Failure

from xcomp.logsinks import Logger
from xcomp.s2s.dialback import DialbackSecret
from xcomp.s2s.outbound import OutboundStream
from xcomp.s2s.outboundtypes import ClientTLS, Policy, Resolver, Target
from xcomp.stanza import Stanza

__all__ = ["OutboundLink", "MAX_PENDING_VERIFIES"]

#: Bound on the dialback verifications waiting on one link: a remote that
#: opens streams faster than it answers gets False for the rest.
MAX_PENDING_VERIFIES = 64


class LinkOwner(_TypingProtocol):
    """
    What a link tells its pool.
    """

    def bounceAll(self, stanzas: list[Stanza], condition: str, text: str) -> None:
        """
        Answer each of C{stanzas} with a stanza error.
        """

    def linkDone(self, link: OutboundLink) -> None:
        """
        The link has no connection and nothing waiting: forget it.
        """


class _Attempt(ClientFactory):
    """
    One connection attempt to one target.
    """

    noisy = False

    def __init__(self, link: OutboundLink, target: Target) -> None:
        self._link = link
        self.target = target

    def buildProtocol(self, addr: IAddress | None) -> Protocol | None:
        return self._link._connected(self)

    def clientConnectionFailed(self, connector: IConnector, reason: Failure) -> None:
        self._link._attemptFailed(self, reason)


class OutboundLink:
    """
    The outgoing side of one (local, remote) domain pair.

    @ivar state: C{"idle"} (no connection), C{"connecting"} (resolving,
        connecting or negotiating), C{"up"}, or C{"closing"} (the
        connection is going away; what is sent meanwhile waits for the
        next one).
    @ivar queuedBytes: The bytes of the stanzas in the queue.
    """

    _log = Logger()

    def __init__(
        self,
        owner: LinkOwner,
        policy: Policy,
        reactor: IReactorTCP,
        clock: IReactorTime,
        *,
        tls: ClientTLS,
        resolver: Resolver,
        secret: DialbackSecret,
        timeout: float,
        idleTimeout: float,
        connectTimeout: float | None = None,
    ) -> None:
        self._owner = owner
        self.policy = policy
        self.local, self.remote = policy.local, policy.remote
        self._reactor = reactor
        self._clock = clock
        self._tls = tls
        self._resolver = resolver
        self._secret = secret
        self._timeout = timeout
        self._connectTimeout = connectTimeout
        self._idleTimeout = idleTimeout
        self.state = "idle"
        self._queue: deque[tuple[Stanza, bytes]] = deque()
        self.queuedBytes = 0
        # (receiving, originating, stream id) -> [(key, Deferred, sent)]
        self._verifies: dict[tuple[str, str, str], list[tuple[str, defer.Deferred[bool], bool]]] = {}
        self._pendingVerifies = 0
        self._stream: OutboundStream | None = None
        # The stream that became ready, while it lasts.
        self._upStream: OutboundStream | None = None
        self._connector: IConnector | None = None
        self._deadline: IDelayedCall | None = None
        self._idle: IDelayedCall | None = None
        self._lastSent = 0.0
        self._targets: list[Target] = []
        self._resolving: defer.Deferred[list[Target]] | None = None
        self._lostWaiters: list[defer.Deferred[None]] = []

    def __repr__(self) -> str:
        return f"<OutboundLink {self.local} -> {self.remote} {self.state}>"

    @property
    def queuedCount(self) -> int:
        """
        How many stanzas wait for the link.
        """
        return len(self._queue)

    @property
    def busy(self) -> bool:
        """
        Whether the link has a connection or something waiting for one.
        """
        return self.state != "idle" or bool(self._queue) or bool(self._verifies)

    # What the pool asks for

    def send(self, stanza: Stanza, data: bytes) -> None:
        """
        Write C{data} (C{stanza}'s wire bytes) now if the link is up, else
        queue it and connect if nothing is under way.
        """
        if self.state == "up":
            stream = self._stream
            assert stream is not None
            if stream.state == "ready":
                self._lastSent = self._clock.seconds()
                stream.write(data)
                return
            # Closing (idle, or the remote ended its stream): this one
            # waits for the next connection.
            self.state = "closing"
        self._queue.append((stanza, data))
        self.queuedBytes += len(data)
        self._connect()

    def verify(self, receiving: str, originating: str, streamID: str, key: str) -> defer.Deferred[bool]:
        """
        Ask the remote (C{originating}'s authoritative server) about a
        dialback key; fires with its verdict, or False on any failure or
        after C{s2s_timeout}.
        """
        if self._pendingVerifies >= MAX_PENDING_VERIFIES:
            return defer.succeed(False)
        result: defer.Deferred[bool] = defer.Deferred()
        result.addTimeout(self._timeout, self._clock, onTimeoutCancel=lambda _r, _t: False)
        request = (receiving, originating, streamID)
        entry = (key, result, False)
        self._verifies.setdefault(request, []).append(entry)
        self._pendingVerifies += 1
        result.addBoth(self._verifyDone, request, entry)
        stream = self._stream
        if stream is not None and stream.state in ("dialback", "ready"):
            self._sendVerifies(stream)
        else:
            self._connect()
        return result

    def shutdown(self, condition: str, text: str) -> defer.Deferred[None]:
        """
        End the link for good: bounce what waits, answer pending
        verifications with False, close the stream; fires once the
        connection is gone.
        """
        self._giveUp(condition, text)
        stream = self._stream
        if stream is None:
            return defer.succeed(None)
        lost: defer.Deferred[None] = defer.Deferred()
        self._lostWaiters.append(lost)
        stream.fail("shutting down")
        return lost

    # Connecting

    def _connect(self) -> None:
        if self.state != "idle":
            return
        self.state = "connecting"
        self._deadline = self._clock.callLater(self._timeout, self._timedOut)
        self._resolving = self._resolver.resolve(self.remote)
        self._resolving.addCallbacks(self._resolved, self._notResolved)

    def _resolved(self, targets: list[Target]) -> None:
        self._resolving = None
        if self.state != "connecting":
            return
        self._targets = list(targets)
        if not self._targets:
            self._failed("remote-server-not-found", f"{self.remote} has no s2s service")
            return
        self._nextTarget(None)

    def _notResolved(self, reason: Failure) -> None:
        self._resolving = None
        if self.state != "connecting" or reason.check(defer.CancelledError):
            return
        self._log.info(
            "s2s link {local} -> {remote}: name resolution failed: {why}",
            local=self.local,
            remote=self.remote,
            why=reason.getErrorMessage(),
        )
        self._failed("remote-server-not-found", f"Could not resolve {self.remote}")

    def _nextTarget(self, lastError: str | None) -> None:
        if not self._targets:
            self._failed("remote-server-timeout", f"Could not connect to {self.remote}: {lastError}")
            return
        target = self._targets.pop(0)
        assert self._deadline is not None
        left = max(self._deadline.getTime() - self._clock.seconds(), 0.001)
        if self._connectTimeout is not None:
            left = min(left, self._connectTimeout)
        self._connector = self._reactor.connectTCP(
            target.host, target.port, _Attempt(self, target), timeout=left
        )

    def _attemptFailed(self, attempt: _Attempt, reason: Failure) -> None:
        self._connector = None
        if self.state != "connecting":
            return
        target = attempt.target
        self._log.info(
            "s2s link {local} -> {remote}: connecting to {address} failed: {why}",
            local=self.local,
            remote=self.remote,
            address=f"{target.host}:{target.port}",
            why=reason.getErrorMessage(),
        )
        self._nextTarget(reason.getErrorMessage())

    def _connected(self, attempt: _Attempt) -> OutboundStream | None:
        self._connector = None
        if self.state != "connecting":
            return None
        target = attempt.target
        host = f"[{target.host}]" if ":" in target.host else target.host
        stream = OutboundStream(
            self,
            self.policy,
            self._tls,
            self._secret,
            self._clock,
            directTLS=target.directTLS,
            address=f"{host}:{target.port}",
        )
        self._stream = stream
        return stream

    def _timedOut(self) -> None:
        self._deadline = None
        if self.state == "connecting":
            self._failed("remote-server-timeout", f"No s2s link to {self.remote} within {self._timeout:g}s")

    def _failed(self, condition: str, text: str) -> None:
        """
        Setting up failed: bounce everything waiting, and drop whatever is
        under way.
        """
        stream = self._stream
        self._giveUp(condition, text)
        if stream is not None:
            stream.abort(text)

    def _giveUp(self, condition: str, text: str) -> None:
        self._cancelTimers()
        if self._resolving is not None:
            resolving, self._resolving = self._resolving, None
            resolving.cancel()
        if self._connector is not None:
            connector, self._connector = self._connector, None
            connector.stopConnecting()
        self._targets = []
        queued = [stanza for stanza, _ in self._queue]
        self._queue.clear()
        self.queuedBytes = 0
        if queued:
            self._owner.bounceAll(queued, condition, text)
        self._failVerifies()
        if self._stream is None:
            self.state = "idle"
            self._owner.linkDone(self)
        else:
            # Idle once the connection is gone (streamLost).
            self.state = "closing"

    def _cancelTimers(self) -> None:
        for call in (self._deadline, self._idle):
            if call is not None and call.active():
                call.cancel()
        self._deadline = self._idle = None

    # What the stream tells

    def streamReady(self, stream: OutboundStream) -> None:
        if stream is not self._stream or self.state != "connecting":
            return
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None
        self.state = "up"
        self._upStream = stream
        self._log.info(
            "s2s link {local} -> {remote} up ({method}, {address})",
            local=self.local,
            remote=self.remote,
            method=stream.method,
            address=stream.address,
            tls=stream.encrypted,
            certificateValid=stream.certificateValid,
        )
        queued = [data for _, data in self._queue]
        self._queue.clear()
        self.queuedBytes = 0
        self._lastSent = self._clock.seconds()
        if queued:
            stream.writeSequence(queued)
        self._idle = self._clock.callLater(self._idleTimeout, self._idleCheck)

    def dialbackOpen(self, stream: OutboundStream) -> None:
        if stream is self._stream:
            self._sendVerifies(stream)

    def verifyAnswered(self, sender: str, recipient: str, streamID: str, valid: bool) -> None:
        waiting = self._verifies.get((recipient, sender, streamID))
        if not waiting:
            return
        for _key, result, sent in list(waiting):
            if sent:
                result.callback(valid)

    def streamLost(self, stream: OutboundStream, reason: str) -> None:
        if stream is not self._stream:
            return
        self._stream = None
        wasUp = stream is self._upStream
        self._upStream = None
        if self.state == "connecting":
            self._giveUp("remote-server-timeout", f"The s2s link to {self.remote} failed: {reason}")
        self._cancelTimers()
        self.state = "idle"
        # What the remote was asked on this connection cannot be answered
        # on another; what was not asked yet can.
        self._failVerifies(onlySent=True)
        if wasUp:
            self._log.info(
                "s2s link {local} -> {remote} down ({method}, {address}): {reason}",
                local=self.local,
                remote=self.remote,
                method=stream.method,
                address=stream.address,
                reason=reason,
            )
        else:
            self._log.info(
                "s2s link {local} -> {remote} failed ({address}): {reason}",
                local=self.local,
                remote=self.remote,
                address=stream.address,
                reason=reason,
            )
        waiters, self._lostWaiters = self._lostWaiters, []
        for waiter in waiters:
            waiter.callback(None)
        if self._queue or self._verifies:
            # Sent while the old connection was closing.
            self._connect()
        elif not self.busy:
            self._owner.linkDone(self)

    # Idle links and verifications

    def _idleCheck(self) -> None:
        self._idle = None
        if self.state != "up" or self._stream is None:
            return
        quiet = self._clock.seconds() - self._lastSent
        if quiet < self._idleTimeout:
            self._idle = self._clock.callLater(self._idleTimeout - quiet, self._idleCheck)
            return
        self.state = "closing"
        self._stream.fail(f"idle for {self._idleTimeout:g}s")

    def _sendVerifies(self, stream: OutboundStream) -> None:
        for request, waiting in self._verifies.items():
            for index, (key, result, sent) in enumerate(waiting):
                if not sent:
                    stream.sendVerify(*request, key)
                    waiting[index] = (key, result, True)

    def _verifyDone(
        self,
        verdict: object,
        request: tuple[str, str, str],
        entry: tuple[str, defer.Deferred[bool], bool],
    ) -> bool:
        waiting = self._verifies.get(request, [])
        for index, (_key, result, _sent) in enumerate(waiting):
            if result is entry[1]:
                del waiting[index]
                self._pendingVerifies -= 1
                break
        if not waiting:
            self._verifies.pop(request, None)
        if not self.busy:
            self._owner.linkDone(self)
        return verdict is True

    def _failVerifies(self, onlySent: bool = False) -> None:
        pending = [
            result
            for waiting in self._verifies.values()
            for _k, result, sent in waiting
            if sent or not onlySent
        ]
        for result in pending:
            if not result.called:
                result.callback(False)
