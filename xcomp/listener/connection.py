# -*- test-case-name: xcomp.test.test_listener,xcomp.test.test_listener_bound,xcomp.test.test_listenopts_limits,xcomp.test.test_listenopts_keepalive,xcomp.test.test_listenopts_output -*-
"""
L{ComponentStream}: one external component's connection, from the stream
header to the stream's end.

A stream goes through three states: waiting for the header, waiting for the
handshake, and bound.  The header names the domain(s), which the factory
allows or refuses (L{xcomp.listener.claims}); the handshake proves the
secret, and binds them with the router all at once.  Only a bound stream's
stanzas reach the router.

The stream keeps its own deadlines (the handshake's, then the one for a
peer to let go of a closed connection) and leaves the write side's bounds
to L{OutputBound} and the gathering of writes to the shared L{Outbox}.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Callable, Protocol as _TypingProtocol

from twisted.internet import defer
from twisted.internet.interfaces import (
    IAddress,
    IConsumer,
    IDelayedCall,
    IPushProducer,
    IReactorTime,
    ISSLTransport,
    ITCPTransport,
)
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.words.protocols.jabber.jid import InvalidFormat, JID
from zope.interface import implementer

from xcomp.config import ListenerConfig, RouterConfig
from xcomp.errors import streamErrorBytes
from xcomp.interfaces import IStreamReceiver, IStreamRoute
from xcomp.limits import Shaper, setSendTimeout
from xcomp.listener.claims import Claim, Refused, handshakeDigest, handshakeValue
from xcomp.listener.output import OutputBound, Outbox
from xcomp.logsinks import Logger
from xcomp.router import ConflictError, Router
from xcomp.stanza import COMPONENT_NS, STREAMS_NS, Stanza, quoteAttribute
from xcomp.stream import StreamHeader, StreamParser

__all__ = ["ComponentStream", "STANZA_NAMES", "StreamTotals", "formatPeer"]

STANZA_NAMES = frozenset({"message", "presence", "iq"})


def formatPeer(address: IAddress | None) -> str:
    """
    C{host:port} (C{[host]:port} for IPv6) for logs.
    """
    host, port = getattr(address, "host", None), getattr(address, "port", None)
    if host is None:
        return str(address)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _IStreamTransport(ITCPTransport, IConsumer, IPushProducer):
    """
    What a L{ComponentStream} uses of its transport: Twisted's TCP transports,
    with TLS or without, take a producer and can be paused.  Only for the
    type checker; nothing declares that it provides this.
    """


class StreamTotals:
    """
    What the closed streams of one listener counted, and every stream's
    errors and failed handshakes (the open streams count for themselves:
    L{ComponentStream.bytesIn} and the others).

    @ivar streamErrors: The stream errors sent, by condition (the
        listener's own conditions, a bounded set).
    @ivar handshakeFailures: Handshakes with a wrong digest.
    """

    def __init__(self) -> None:
        self.bytesIn = 0
        self.bytesOut = 0
        self.stanzasIn = 0
        self.stanzasOut = 0
        self.streamErrors: dict[str, int] = {}
        self.handshakeFailures = 0

    def add(self, stream: ComponentStream) -> None:
        """
        Keep what C{stream}, now closed, counted.
        """
        self.bytesIn += stream.bytesIn
        self.bytesOut += stream.bytesOut
        self.stanzasIn += stream.stanzasIn
        self.stanzasOut += stream.stanzasOut


class StreamFactory(_TypingProtocol):
    """
    What a L{ComponentStream} uses of the factory that made it (a
    L{xcomp.listener.ComponentListenerFactory}).

    @ivar router: Where bound streams' stanzas go.
    @ivar config: The router's configuration.
    @ivar listener: This listener's options.
    @ivar reactor: Where the stream's deadlines are kept.
    @ivar streams: The open streams; a stream adds itself once accepted.
    @ivar closed: What the streams that were open have counted, and the
        stream errors and failed handshakes.
    @ivar outbox: Gathers writes while a read is processed.
    @ivar access: The listener's compiled access rule, if any.
    """

    router: Router
    config: RouterConfig
    listener: ListenerConfig
    reactor: IReactorTime
    streams: set[ComponentStream]
    closed: StreamTotals
    outbox: Outbox
    access: Callable[[Stanza], bool] | None

    def claim(self, domains: list[str]) -> Claim:
        """
        Allow or refuse binding C{domains}.

        @raise Refused: Refused, with the stream error.
        """


@implementer(IStreamRoute, IStreamReceiver)
class ComponentStream(Protocol):
    """
    One external component's connection.

    @ivar domain: the domain named in the stream header, once it is known.
    @ivar domains: the domains bound to this stream (empty until the
        handshake succeeds).
    @ivar streamId: a fresh random id, sent in our header and mixed into the
        handshake digest so a captured handshake cannot be replayed.
    @ivar heard: whether anything was read since the last keepalive tick.
    @ivar tls: whether the connection is encrypted (a direct-TLS port).
    @ivar since: when the handshake bound it (the reactor's clock), or
        L{None} before.
    @ivar bytesIn: the bytes read from the connection.
    @ivar stanzasIn: the stanzas read once bound, and routed.
    @ivar stanzasOut: the stanzas written to it, and C{bytesOut} their
        bytes (metrics and the status page; plain counters, as cheap as
        the hot path allows).
    """

    _log = Logger()
    # Set by makeConnection before anything here runs.
    transport: _IStreamTransport
    _output: OutputBound

    def __init__(self, factory: StreamFactory) -> None:
        """
        @param factory: The listener that accepted the connection.
        """
        self._factory = factory
        self.domain: str = ""
        self.domains: frozenset[str] = frozenset()
        self.peer = "unknown"
        self.checkFrom = True
        self.streamId = secrets.token_hex(16)
        self._claim: Claim | None = None
        self._headerSent = False
        self._closed = False
        self._parser: StreamParser | None = None
        self._producing = False
        self._lostWaiters: list[defer.Deferred[None]] = []
        self.heard = True
        self._shaper: Shaper | None = None
        # The handshake deadline, then the call that hibernates the stream
        # after it, then (once closed) the deadline for the peer to let the
        # connection go.
        self._deadline: IDelayedCall | None = None
        # Stanzas for this stream gathered while some stream's read is being
        # processed; written together when it is done (see L{Outbox}).
        self._queue: list[bytes] = []
        self.tls = False
        self.since: float | None = None
        self.bytesIn = 0
        self.stanzasIn = 0
        self.stanzasOut = 0
        self.bytesOut = 0

    def __repr__(self) -> str:
        return f"<ComponentStream {self.domain or '?'} from {self.peer}>"

    # Connection

    def connectionMade(self) -> None:
        factory = self._factory
        listener = factory.listener
        self.peer = formatPeer(self.transport.getPeer())
        self.tls = ISSLTransport.providedBy(self.transport)
        # Twisted already coalesces writes made in one reactor turn; Nagle
        # would only add a round trip of delay to a lone stanza.
        setNoDelay = getattr(self.transport, "setTcpNoDelay", None)
        if setNoDelay is not None:
            setNoDelay(True)
        self._parser = StreamParser(self, listener.stanzaSizeLimit or factory.config.stanzaSizeLimit)
        clock = factory.reactor
        self._output = OutputBound(self.transport, clock, listener, self._cutOff)
        if listener.maxConnections is not None and len(factory.streams) >= listener.maxConnections:
            # The connections already there are not affected.
            self.close("resource-constraint", "Too many connections to this port; try again later")
            return
        factory.streams.add(self)
        if listener.stateTimeout is not None:
            self._deadline = clock.callLater(listener.stateTimeout, self._stateTimedOut)
        if listener.shaper is not None:
            self._shaper = Shaper(listener.shaper, self.transport, clock)
        self.transport.registerProducer(self._output, True)
        self._producing = True
        if listener.sendTimeout is not None:
            setSendTimeout(self.transport, listener.sendTimeout)

    def dataReceived(self, data: bytes) -> None:
        if not self._closed:
            self.heard = True
            self.bytesIn += len(data)
            if self._shaper is not None:
                self._shaper.received(len(data))
            outbox = self._factory.outbox
            outbox.depth += 1
            try:
                self._parser.feed(data)  # type: ignore[union-attr]
            except Exception:
                # A bug, not the peer's fault: keep the traceback, and end
                # this stream the way RFC 6120 says (the parser has stopped).
                self._log.failure("Processing data from {peer} failed", peer=self.peer)
                self.close("internal-server-error")
            finally:
                outbox.depth -= 1
                if not outbox.depth and outbox.pending:
                    outbox.flush()

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:
        self._closed = True
        self._unbind()
        factory = self._factory
        if self in factory.streams:
            factory.streams.discard(self)
            factory.closed.add(self)
        self._cancelDeadline()
        self._output.stopProducing()
        if self._shaper is not None:
            self._shaper.stop()
        waiters, self._lostWaiters = self._lostWaiters, []
        for waiter in waiters:
            waiter.callback(None)

    def whenLost(self) -> defer.Deferred[None]:
        """
        A Deferred that fires when the connection is gone.
        """
        waiter: defer.Deferred[None] = defer.Deferred()
        self._lostWaiters.append(waiter)
        return waiter

    # IStreamReceiver

    def streamStarted(self, header: StreamHeader) -> None:
        if header.name != "stream" or header.uri != STREAMS_NS:
            self.close("invalid-namespace", "The root element must be stream:stream")
            return
        if header.namespaces.get("") != COMPONENT_NS:
            self.close("invalid-namespace", f"The default namespace must be {COMPONENT_NS}")
            return
        to = header.attributes.get("to")
        if not to:
            self.close("improper-addressing", "The stream header has no 'to'")
            return
        config = self._factory.config
        try:
            # A configured name is already prepared: skip nameprep, which is
            # a good part of what a connection costs to open.
            domain = to if to in config.components else JID(to).host
        except (InvalidFormat, UnicodeError):
            self.close("host-unknown", "Not a valid domain")
            return
        domains = [domain]
        if header.attributes.get("is_subdomain") == "true":
            # MongooseIM's extension: the component serves <to>.<host> for
            # every configured host.
            hosts = sorted(config.virtualHosts)
            if not hosts:
                self.close("host-unknown", "is_subdomain: no hosts are configured")
                return
            domains = [f"{domain}.{host}" for host in hosts]
        try:
            claim = self._factory.claim(domains)
        except Refused as e:
            self.domain = domains[0]
            self.close(e.condition, e.text)
            return
        self.domain = domains[0]
        self._claim = claim
        self.checkFrom = claim.checkFrom
        self._parser.maxStanzaSize = claim.stanzaSizeLimit  # type: ignore[union-attr]
        self._sendHeader(domain)

    def stanzaReceived(self, stanza: Stanza) -> None:
        if self._closed:
            return
        if self.domains:
            if stanza.name in STANZA_NAMES and stanza.uri == COMPONENT_NS:
                self.stanzasIn += 1
                self._factory.router.receive(self, stanza)
            else:
                self.close("unsupported-stanza-type", f"Not a stanza: {stanza.name}")
        elif stanza.name == "handshake" and stanza.uri == COMPONENT_NS and self._claim:
            self._handshake(stanza, self._claim)
        else:
            # Nothing is routed before the handshake.
            self.close("not-authorized", "Authenticate with a handshake first")

    def streamEnded(self) -> None:
        self._closed = True
        self._unbind()
        if not self._headerSent:
            self._sendHeader(None)
        queue, self._queue = self._queue, []
        self.transport.writeSequence([*queue, b"</stream:stream>"])
        self._hangUp()

    def streamFailed(self, condition: str, text: str | None) -> None:
        self.close(condition, text)

    # The handshake

    def _handshake(self, stanza: Stanza, claim: Claim) -> None:
        supplied = handshakeValue(stanza)
        expected = handshakeDigest(self.streamId, claim.secret)
        if not hmac.compare_digest(expected, supplied):
            self._factory.closed.handshakeFailures += 1
            self.close("not-authorized", "Invalid handshake")
            return
        gate = getattr(self._factory.router, "gate", None)
        if gate is None:
            self._bind(claim)
            return
        # One node of a cluster: the other nodes may have these domains.
        # Nothing more is read until they answer, so nothing is routed
        # before the domains are this stream's.
        self.transport.pauseProducing()
        d = gate.claim(
            [binding.domain for binding in claim.bindings],
            any(binding.kickOld for binding in claim.bindings),
            balance=any(binding.balance for binding in claim.bindings),
        )
        d.addCallback(self._claimed, claim)

    def _claimed(self, granted: bool, claim: Claim) -> None:
        """
        The cluster answered a claim (see L{IBindGate}).
        """
        if self._closed:
            return
        self.transport.resumeProducing()
        if not granted:
            self.close("conflict", "This component is connected to another node of the cluster")
            return
        self._bind(claim)

    def _bind(self, claim: Claim) -> None:
        """
        Bind the domains of an accepted handshake, all or none.
        """
        router = self._factory.router
        bound: list[str] = []
        try:
            for binding in claim.bindings:
                router.bind(
                    binding.domain,
                    self,
                    kickOld=binding.kickOld,
                    access=self._factory.access,
                    hidden=binding.hidden,
                    hold=binding.hold,
                    balance=binding.balance,
                )
                bound.append(binding.domain)
        except ConflictError:
            # All of them or none: let go of those already bound.
            for domain in bound:
                router.unbind(domain, self)
            self.close("conflict", "This component is already connected")
            return
        self.domains = frozenset(bound)
        self.since = self._factory.reactor.seconds()
        self._cancelDeadline()
        self.transport.write(b"<handshake/>")
        # Many components say little after the handshake, or nothing for a
        # long time; the parser is re-created when they do.  Not from here:
        # this runs inside the parser.
        self._deadline = self._factory.reactor.callLater(0, self._settle)

    def _settle(self) -> None:
        """
        Hibernate once the read that completed the handshake is processed.
        """
        self._deadline = None
        self.hibernate()

    def hibernate(self) -> None:
        """
        Let go of the stream parser's memory if the stream is between
        stanzas (see L{StreamParser.hibernate}).
        """
        if self._parser is not None:
            self._parser.hibernate()

    def _stateTimedOut(self) -> None:
        """
        The handshake did not complete within C{state_timeout}.
        """
        self._deadline = None
        self.close("connection-timeout", "The handshake did not complete in time")

    def _cancelDeadline(self) -> None:
        """
        Cancel the handshake (or closing) deadline.
        """
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None

    def _unbind(self) -> None:
        """
        Let go of every domain bound to this stream.
        """
        if self.domains:
            self._factory.router.unbindAll(self)
            self.domains = frozenset()

    # IStreamRoute

    def send(self, stanza: Stanza) -> None:
        if self._closed:
            return
        data = stanza.raw
        if data is None:
            data = stanza.toBytes()
        self.stanzasOut += 1
        self.bytesOut += len(data)
        if self._queue:
            self._queue.append(data)
        elif self._factory.outbox.depth:
            self._queue.append(data)
            self._factory.outbox.pending.append(self)
        elif self._output.stalled:
            self._output.write([data])
        else:
            self.transport.write(data)

    def flush(self) -> None:
        """
        Write the stanzas gathered for this stream, in one call.
        """
        queue, self._queue = self._queue, []
        if not queue or self._closed:
            return
        if self._output.stalled:
            self._output.write(queue)
        else:
            self.transport.writeSequence(queue)

    def close(self, condition: str, text: str | None = None, *, abort: bool = False) -> None:
        """
        End the stream with a stream error and drop the connection.

        @param abort: drop it at once, without waiting for what is buffered
            to be written (for a peer that does not read).  Otherwise a peer
            that neither reads the error nor closes is dropped after the send
            timeout.
        """
        if self._closed:
            return
        self._closed = True
        self._cancelDeadline()
        self._unbind()
        errors = self._factory.closed.streamErrors
        errors[condition] = errors.get(condition, 0) + 1
        self._log.warn(
            "Stream error {condition} to {peer} ({domain}): {text}",
            condition=condition,
            peer=self.peer,
            domain=self.domain or "-",
            text=text or "",
        )
        if not self._headerSent:
            # RFC 6120 4.9.1.2: an error on the header is preceded by ours.
            self._sendHeader(None)
        queue, self._queue = self._queue, []
        if queue and not abort:
            # Routed while the stream was alive: they go before the error.
            self.transport.writeSequence(queue)
        self.transport.write(streamErrorBytes(condition, text))
        self._hangUp(abort)

    def _cutOff(self, condition: str, text: str) -> None:
        """
        The write side gave up on this peer: drop it at once.
        """
        self.close(condition, text, abort=True)

    def _hangUp(self, abort: bool = False) -> None:
        """
        Drop the connection once what is buffered is written, or at once
        with C{abort}; a peer that does not let it go within the send
        timeout is dropped then.
        """
        self._cancelDeadline()
        self._output.stopProducing()
        if self._producing:
            # A transport with a producer does not close until it is gone.
            self._producing = False
            self.transport.unregisterProducer()
        if abort:
            self.transport.abortConnection()
            return
        self.transport.loseConnection()
        sendTimeout = self._factory.listener.sendTimeout
        if sendTimeout is not None:
            self._deadline = self._factory.reactor.callLater(sendTimeout, self.transport.abortConnection)

    def _sendHeader(self, domain: str | None) -> None:
        sender = b" from=" + quoteAttribute(domain) if domain else b""
        self.transport.write(
            b"<?xml version='1.0'?><stream:stream xmlns='%s' xmlns:stream='%s' id='%s'%s>"
            % (COMPONENT_NS.encode(), STREAMS_NS.encode(), self.streamId.encode(), sender)
        )
        self._headerSent = True

