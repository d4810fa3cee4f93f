# -*- test-case-name: xcomp.test.test_listener,xcomp.test.test_listenopts -*-
"""
The XEP-0114 component listener: one factory per configured port and
interface, one L{ComponentStream} per connection.

A stream goes through three states: waiting for the header, waiting for the
handshake, and bound.  Only a bound stream's stanzas reach the router, and the
listener learns which domains exist from the configuration, never from the
routing table.

Each factory applies its L{ListenerConfig}: a connection limit (checked when
a connection is made), a deadline for the handshake (C{state_timeout}), a
traffic shaper (checked once per read), whitespace keepalives to bound
components that have been silent (one timer per listener, which also makes
their streams hibernate; so does a successful handshake), and the bounds on
writing: the stream registers itself as the transport's producer, so Twisted
tells it when the transport's buffer is over its high-water mark; from then
until the buffer drains, what the router sends is counted, and a stream that
stays stalled past C{send_timeout} or whose backlog passes
C{max_output_buffer} is cut off.  The kernel is also told the send timeout
(C{TCP_USER_TIMEOUT}), which catches a peer that vanished without a word.
None of this adds work per stanza while the transport keeps up.
"""

from __future__ import annotations

import hmac
import re
import secrets
from hashlib import sha1
from typing import TYPE_CHECKING, Callable

import attrs
from twisted.internet import defer, task
from twisted.internet.interfaces import (
    IAddress,
    IConsumer,
    IDelayedCall,
    IPushProducer,
    IReactorTime,
    ITCPTransport,
)
from twisted.internet.protocol import Protocol, ServerFactory
from twisted.python.failure import Failure
from twisted.words.protocols.jabber.jid import InvalidFormat, JID
from zope.interface import implementer

from xcomp.access import compileRule
from xcomp.config import DEFAULT_KEEPALIVE_INTERVAL, ComponentConfig, ListenerConfig, RouterConfig
from xcomp.errors import streamErrorBytes
from xcomp.interfaces import IStreamReceiver, IStreamRoute
from xcomp.limits import Shaper, setSendTimeout
from xcomp.logsinks import Logger
from xcomp.router import ConflictError, Router
from xcomp.stanza import COMPONENT_NS, STREAMS_NS, Stanza, quoteAttribute
from xcomp.stream import StreamHeader, StreamParser

STANZA_NAMES = frozenset({"message", "presence", "iq"})


def formatPeer(address: IAddress | None) -> str:
    """
    C{host:port} (C{[host]:port} for IPv6) for logs.
    """
    host, port = getattr(address, "host", None), getattr(address, "port", None)
    if host is None:
        return str(address)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


_PLAIN_HANDSHAKE = re.compile(rb"<handshake>\s*([0-9A-Fa-f]{40})\s*</handshake>")


def handshakeValue(stanza: Stanza) -> bytes:
    """
    The digest a C{<handshake>} carries, lower-cased, as bytes: read from
    the bytes received when it is the usual plain hex (no parse), else from
    the element's text.
    """
    match = _PLAIN_HANDSHAKE.fullmatch(stanza.raw) if stanza.raw is not None else None
    if match is not None:
        return match.group(1).lower()
    return str(stanza.element()).strip().lower().encode("utf-8")


def handshakeDigest(streamId: str, secret: str) -> bytes:
    """
    The XEP-0114 handshake value: hex SHA-1 of the stream id and the secret.
    """
    return sha1((streamId + secret).encode("utf-8")).hexdigest().encode("ascii")


@attrs.frozen
class _Binding:
    """
    One domain a stream will bind once its handshake succeeds.

    @ivar domain: The domain.
    @ivar kickOld: The conflict policy is C{kick_old}.
    @ivar hidden: Leave it out of disco#items.
    """

    domain: str
    kickOld: bool
    hidden: bool


@attrs.frozen
class _Claim:
    """
    What a stream header asked for: the domains, and the secret that proves
    the right to them.
    """

    secret: str = attrs.field(repr=False)
    bindings: tuple[_Binding, ...]


def bufferedBytes(transport: object) -> int | None:
    """
    How many bytes a Twisted TCP transport holds that the socket has not
    taken yet, looking through TLS to the TCP connection below it; L{None}
    for a transport that does not say.
    """
    for _ in range(4):
        if hasattr(transport, "_tempDataLen") and hasattr(transport, "dataBuffer"):
            return (
                len(transport.dataBuffer)  # type: ignore[attr-defined]
                - transport.offset  # type: ignore[attr-defined]
                + transport._tempDataLen  # type: ignore[attr-defined]
            )
        transport = getattr(transport, "transport", None)
        if transport is None:
            break
    return None


class _IStreamTransport(ITCPTransport, IConsumer, IPushProducer):
    """
    What a L{ComponentStream} uses of its transport: Twisted's TCP transports,
    with TLS or without, take a producer and can be paused.  Only for the
    type checker; nothing declares that it provides this.
    """


@implementer(IStreamRoute, IStreamReceiver, IPushProducer)
class ComponentStream(Protocol):
    """
    One external component's connection.

    @ivar domain: the domain named in the stream header, once it is known.
    @ivar domains: the domains bound to this stream (empty until the
        handshake succeeds).
    @ivar streamId: a fresh random id, sent in our header and mixed into the
        handshake digest so a captured handshake cannot be replayed.
    @ivar heard: whether anything was read since the last keepalive tick.
    """

    _log = Logger()
    factory: ComponentListenerFactory
    # Set by makeConnection before anything here runs.
    transport: _IStreamTransport

    def __init__(self) -> None:
        self.domain: str = ""
        self.domains: frozenset[str] = frozenset()
        self.peer = "unknown"
        self.checkFrom = True
        self.streamId = secrets.token_hex(16)
        self._claim: _Claim | None = None
        self._headerSent = False
        self._closed = False
        self._parser: StreamParser | None = None
        self._lostWaiters: list[defer.Deferred[None]] = []
        self.heard = True
        self._shaper: Shaper | None = None
        # The handshake deadline, then the call that hibernates the stream
        # after it, then (once closed) the deadline for the peer to let the
        # connection go.
        self._deadline: IDelayedCall | None = None
        # While the transport's buffer is full: the send timeout, and the
        # bytes written since it filled.
        self._stall: IDelayedCall | None = None
        self._stalled = False
        self._backlog = 0
        self._producing = False
        # Stanzas for this stream gathered while some stream's read is being
        # processed; written together when it is done (see L{Outbox}).
        self._queue: list[bytes] = []

    def __repr__(self) -> str:
        return f"<ComponentStream {self.domain or '?'} from {self.peer}>"

    # Connection

    def connectionMade(self) -> None:
        self.peer = formatPeer(self.transport.getPeer())
        # Twisted already coalesces writes made in one reactor turn; Nagle
        # would only add a round trip of delay to a lone stanza.
        setNoDelay = getattr(self.transport, "setTcpNoDelay", None)
        if setNoDelay is not None:
            setNoDelay(True)
        factory = self.factory
        listener = factory.listener
        self._parser = StreamParser(
            self, listener.stanzaSizeLimit or factory.config.stanzaSizeLimit
        )
        if listener.maxConnections is not None and len(factory.streams) >= listener.maxConnections:
            # The connections already there are not affected.
            self.close("resource-constraint", "Too many connections to this port; try again later")
            return
        factory.streams.add(self)
        clock = factory.reactor
        if listener.stateTimeout is not None:
            self._deadline = clock.callLater(listener.stateTimeout, self._stateTimedOut)
        if listener.shaper is not None:
            self._shaper = Shaper(listener.shaper, self.transport, clock)
        self.transport.registerProducer(self, True)
        self._producing = True
        if listener.sendTimeout is not None:
            setSendTimeout(self.transport, listener.sendTimeout)

    def dataReceived(self, data: bytes) -> None:
        if not self._closed:
            self.heard = True
            if self._shaper is not None:
                self._shaper.received(len(data))
            outbox = self.factory.outbox
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
        if self.domains:
            self.factory.router.unbindAll(self)
            self.domains = frozenset()
        self.factory.streams.discard(self)
        self._stopTimers()
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
        try:
            # A configured name is already prepared: skip nameprep, which is
            # a good part of what a connection costs to open.
            config = self.factory.config
            domain = to if to in config.components else JID(to).host
        except (InvalidFormat, UnicodeError):
            self.close("host-unknown", "Not a valid domain")
            return
        domains = [domain]
        if header.attributes.get("is_subdomain") == "true":
            # MongooseIM's extension: the component serves <to>.<host> for
            # every configured host.
            hosts = sorted(self.factory.config.virtualHosts)
            if not hosts:
                self.close("host-unknown", "is_subdomain: no hosts are configured")
                return
            domains = [f"{domain}.{host}" for host in hosts]
        try:
            claim, stanzaSizeLimit, checkFrom = self.factory.claim(domains)
        except _Refused as e:
            self.close("host-unknown", str(e))
            return
        self.domain = domains[0]
        self._claim = claim
        self.checkFrom = checkFrom
        self._parser.maxStanzaSize = stanzaSizeLimit  # type: ignore[union-attr]
        self._sendHeader(domain)

    def stanzaReceived(self, stanza: Stanza) -> None:
        if self._closed:
            return
        if self.domains:
            if stanza.name in STANZA_NAMES and stanza.uri == COMPONENT_NS:
                self.factory.router.receive(self, stanza)
            else:
                self.close("unsupported-stanza-type", f"Not a stanza: {stanza.name}")
        elif stanza.name == "handshake" and stanza.uri == COMPONENT_NS and self._claim:
            self._handshake(stanza, self._claim)
        else:
            # Nothing is routed before the handshake.
            self.close("not-authorized", "Authenticate with a handshake first")

    def streamEnded(self) -> None:
        self._closed = True
        if self.domains:
            self.factory.router.unbindAll(self)
            self.domains = frozenset()
        if not self._headerSent:
            self._sendHeader(None)
        queue, self._queue = self._queue, []
        self.transport.writeSequence([*queue, b"</stream:stream>"])
        self._hangUp()

    def streamFailed(self, condition: str, text: str | None) -> None:
        self.close(condition, text)

    # The handshake

    def _handshake(self, stanza: Stanza, claim: _Claim) -> None:
        supplied = handshakeValue(stanza)
        expected = handshakeDigest(self.streamId, claim.secret)
        if not hmac.compare_digest(expected, supplied):
            self.close("not-authorized", "Invalid handshake")
            return
        router = self.factory.router
        bound: list[str] = []
        try:
            for binding in claim.bindings:
                router.bind(
                    binding.domain,
                    self,
                    kickOld=binding.kickOld,
                    access=self.factory.access,
                    hidden=binding.hidden,
                )
                bound.append(binding.domain)
        except ConflictError:
            # All of them or none: let go of those already bound.
            for domain in bound:
                router.unbind(domain, self)
            self.close("conflict", "This component is already connected")
            return
        self.domains = frozenset(bound)
        self._cancelDeadline()
        self.transport.write(b"<handshake/>")
        # Many components say little after the handshake, or nothing for a
        # long time; the parser is re-created when they do.  Not from here:
        # this runs inside the parser.
        self._deadline = self.factory.reactor.callLater(0, self._settle)

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

    # Writing: IPushProducer, called by the transport about its buffer

    def pauseProducing(self) -> None:
        """
        The transport's buffer is over its high-water mark: start counting
        what is written, and the send timeout.
        """
        if self._closed or self._stalled:
            return
        listener = self.factory.listener
        self._stalled = True
        self._backlog = 0
        if listener.sendTimeout is not None:
            self._stall = self.factory.reactor.callLater(listener.sendTimeout, self._sendTimedOut)

    def resumeProducing(self) -> None:
        """
        The transport's buffer has drained.
        """
        self._stalled = False
        self._backlog = 0
        if self._stall is not None and self._stall.active():
            self._stall.cancel()
        self._stall = None

    def stopProducing(self) -> None:
        """
        The connection is going away; nothing to do.
        """

    def _writeStalled(self, chunks: list[bytes]) -> None:
        """
        Write while the transport's buffer is full: a peer that lets what
        waits for it grow past C{max_output_buffer} is cut off.

        What waits is what the socket's buffer holds now, so a peer that
        reads steadily under a steady flow is never cut off; where the
        transport cannot tell, the bytes written since the buffer filled
        are counted instead.
        """
        limit = self.factory.listener.maxOutputBuffer
        size = sum(map(len, chunks))
        buffered = bufferedBytes(self.transport)
        if buffered is None:
            self._backlog += size
            over = self._backlog > limit
        else:
            over = buffered + size > limit
        if over:
            # Aborting discards what is buffered: nothing is written first.
            self.close(
                "policy-violation", f"More than {limit} bytes are waiting to be read", abort=True
            )
            return
        # Under load this is the common path, so one call for all of them.
        self.transport.writeSequence(chunks)

    def _sendTimedOut(self) -> None:
        """
        Nothing was taken out of the transport's buffer for C{send_timeout}.
        """
        self._stall = None
        self.close("connection-timeout", "Writing to the component stalled", abort=True)

    def _cancelDeadline(self) -> None:
        """
        Cancel the handshake (or closing) deadline.
        """
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None

    def _stopTimers(self) -> None:
        """
        The connection is gone: cancel every timer.
        """
        self._cancelDeadline()
        self.resumeProducing()

    # IStreamRoute

    def send(self, stanza: Stanza) -> None:
        if self._closed:
            return
        data = stanza.raw
        if data is None:
            data = stanza.toBytes()
        if self._queue:
            self._queue.append(data)
        elif self.factory.outbox.depth:
            self._queue.append(data)
            self.factory.outbox.pending.append(self)
        elif self._stalled:
            self._writeStalled([data])
        else:
            self.transport.write(data)

    def flush(self) -> None:
        """
        Write the stanzas gathered for this stream, in one call.
        """
        queue, self._queue = self._queue, []
        if not queue or self._closed:
            return
        if self._stalled:
            self._writeStalled(queue)
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
        self.resumeProducing()
        if self.domains:
            self.factory.router.unbindAll(self)
            self.domains = frozenset()
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

    def _hangUp(self, abort: bool = False) -> None:
        """
        Drop the connection once what is buffered is written, or at once
        with C{abort}; a peer that does not let it go within the send
        timeout is dropped then.
        """
        self._cancelDeadline()
        if self._producing:
            # A transport with a producer does not close until it is gone.
            self._producing = False
            self.transport.unregisterProducer()
        if abort:
            self.transport.abortConnection()
            return
        self.transport.loseConnection()
        sendTimeout = self.factory.listener.sendTimeout
        if sendTimeout is not None:
            self._deadline = self.factory.reactor.callLater(
                sendTimeout, self.transport.abortConnection
            )

    def _sendHeader(self, domain: str | None) -> None:
        sender = b" from=" + quoteAttribute(domain) if domain else b""
        self.transport.write(
            b"<?xml version='1.0'?><stream:stream xmlns='%s' xmlns:stream='%s' id='%s'%s>"
            % (COMPONENT_NS.encode(), STREAMS_NS.encode(), self.streamId.encode(), sender)
        )
        self._headerSent = True


class _Refused(Exception):
    """
    A stream header names a domain this listener will not bind; the text
    says why.
    """


class Outbox:
    """
    Gathers what is sent to each stream while a read is processed, so that a
    destination gets one write per read rather than one per stanza.

    One outbox is shared by every listener of a router, because a stanza read
    on one port may be for a stream on another.

    @ivar depth: how many reads are being processed (more than one only when
        streams are joined in memory, as in tests).
    @ivar pending: the streams that have something gathered.
    """

    def __init__(self) -> None:
        self.depth = 0
        self.pending: list[ComponentStream] = []

    def flush(self) -> None:
        """
        Write everything gathered.
        """
        while self.pending:
            pending, self.pending = self.pending, []
            for stream in pending:
                stream.flush()


if TYPE_CHECKING:
    _ServerFactory = ServerFactory[ComponentStream]
else:
    # Twisted's factories are generic only in its recent releases.
    _ServerFactory = ServerFactory


class ComponentListenerFactory(_ServerFactory):
    """
    Accepts external components on one port and interface.

    @ivar streams: the open connections, so they can be closed at shutdown.
    @ivar listener: this listener's options.
    @ivar access: the compiled C{access} rule, or L{None} for C{all}.
    """

    protocol = ComponentStream
    # RouterService logs each listening address once; Twisted's per-factory
    # start/stop lines would only repeat it.
    noisy = False

    def __init__(
        self,
        router: Router,
        config: RouterConfig,
        reactor: IReactorTime,
        listener: ListenerConfig | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        """
        @param listener: the options of this listener; the defaults of
            L{ListenerConfig} when L{None}.
        @param outbox: the L{Outbox} shared with the router's other
            listeners; a new one when L{None}.
        """
        self.router = router
        self.config = config
        self.reactor = reactor
        self.listener = listener if listener is not None else ListenerConfig(0, "127.0.0.1")
        self.streams: set[ComponentStream] = set()
        self.outbox = outbox if outbox is not None else Outbox()
        self.access: Callable[[Stanza], bool] | None = compileRule(
            self.listener.access, config.acl, config.accessRules, config.virtualHosts
        )
        self._keepalives: task.LoopingCall | None = None

    def startFactory(self) -> None:
        """
        Start the keepalive tick, once the port listens.
        """
        interval = self.listener.keepaliveInterval or DEFAULT_KEEPALIVE_INTERVAL
        if self._keepalives is None:
            self._keepalives = task.LoopingCall(self.keepalive)
            self._keepalives.clock = self.reactor
            self._keepalives.start(interval, now=False)

    def stopFactory(self) -> None:
        """
        Stop the keepalive tick.
        """
        if self._keepalives is not None and self._keepalives.running:
            self._keepalives.stop()
        self._keepalives = None

    def keepalive(self) -> None:
        """
        Every bound component that has sent nothing since the last call is
        sent a whitespace keepalive, unless keepalives are off (Prosody does
        the same when a component has been silent for C{read_timeout}), and
        its stream hibernates.  Once a peer has vanished, the keepalive is
        the write that the send timeout then catches.
        """
        ping = bool(self.listener.keepaliveInterval)
        for stream in self.streams:
            if stream.heard:
                stream.heard = False
            elif stream.domains:
                if ping:
                    stream.transport.write(b" ")
                stream.hibernate()

    def claim(self, domains: list[str]) -> tuple[_Claim, int, bool]:
        """
        Decide whether a stream may bind C{domains}, and how.

        A configured component authenticates with its own secret; any other
        domain with this listener's C{password}, if it has one, except a
        VirtualHost or an internal component's domain.  All the domains of
        one stream must share their secret.

        @return: the claim, the stanza size limit, and whether to check
            C{from}.
        @raise _Refused: with the reason, for C{host-unknown}.
        """
        config, listener = self.config, self.listener
        secret: str | None = None
        bindings = []
        limits = []
        checkFrom = False
        for domain in domains:
            component = config.components.get(domain)
            if isinstance(component, ComponentConfig):
                own = component.secret
                limits.append(component.stanzaSizeLimit)
                check = component.validateFrom
                conflict = component.conflictResolve
                hidden = False
            elif component is not None or domain in config.virtualHosts:
                raise _Refused(f"{domain} is served by the router itself")
            elif listener.password is not None:
                own = listener.password
                check = config.validateFrom
                conflict = config.conflictResolve
                hidden = config.discoHidden
            else:
                raise _Refused("No such component is configured")
            if secret is not None and not hmac.compare_digest(own.encode(), secret.encode()):
                raise _Refused("is_subdomain: the domains do not share one secret")
            secret = own
            if listener.checkFrom is not None:
                check = listener.checkFrom
            checkFrom = checkFrom or check
            bindings.append(
                _Binding(
                    domain,
                    (listener.conflictResolve or conflict) == "kick_old",
                    hidden or listener.hiddenComponents,
                )
            )
        assert secret is not None
        limit = listener.stanzaSizeLimit or (min(limits) if limits else config.stanzaSizeLimit)
        return _Claim(secret, tuple(bindings)), limit, checkFrom

    def shutdown(self, timeout: float = 5.0) -> defer.Deferred[None]:
        """
        End every stream with C{system-shutdown}; fires when they are all
        closed or C{timeout} seconds have passed.
        """
        self.stopFactory()
        waiting = []
        for stream in list(self.streams):
            waiting.append(stream.whenLost())
            stream.close("system-shutdown", "The router is shutting down")
        done = defer.DeferredList(waiting, consumeErrors=True)
        done.addTimeout(timeout, self.reactor)  # type: ignore[arg-type]
        done.addErrback(lambda f: f.trap(defer.TimeoutError))
        return done.addCallback(lambda _: None)

