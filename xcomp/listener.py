# -*- test-case-name: xcomp.test.test_listener -*-
"""
The XEP-0114 component listener: one factory per configured port and
interface, one L{ComponentStream} per connection.

A stream goes through three states: waiting for the header, waiting for the
handshake, and bound.  Only a bound stream's stanzas reach the router, and the
listener learns which domains exist from the configuration, never from the
routing table.
"""

from __future__ import annotations

import hmac
import secrets
from hashlib import sha1

from twisted.internet import defer
from twisted.internet.interfaces import IAddress, IReactorTime
from twisted.internet.protocol import Protocol, ServerFactory
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.words.protocols.jabber.jid import InvalidFormat, JID
from zope.interface import implementer

from xcomp.config import ComponentConfig, RouterConfig
from xcomp.errors import streamErrorBytes
from xcomp.interfaces import IStreamReceiver, IStreamRoute
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


def handshakeDigest(streamId: str, secret: str) -> bytes:
    """
    The XEP-0114 handshake value: hex SHA-1 of the stream id and the secret.
    """
    return sha1((streamId + secret).encode("utf-8")).hexdigest().encode("ascii")


@implementer(IStreamRoute, IStreamReceiver)
class ComponentStream(Protocol):
    """
    One external component's connection.

    @ivar domain: the domain named in the stream header, once it is known.
    @ivar domains: the domains bound to this stream (empty until the
        handshake succeeds).
    @ivar streamId: a fresh random id, sent in our header and mixed into the
        handshake digest so a captured handshake cannot be replayed.
    """

    _log = Logger()
    factory: ComponentListenerFactory

    def __init__(self) -> None:
        self.domain: str = ""
        self.domains: frozenset[str] = frozenset()
        self.peer = "unknown"
        self.checkFrom = True
        self.streamId = secrets.token_hex(16)
        self._component: ComponentConfig | None = None
        self._headerSent = False
        self._closed = False
        self._parser: StreamParser | None = None
        self._lostWaiters: list[defer.Deferred[None]] = []

    def __repr__(self) -> str:
        return f"<ComponentStream {self.domain or '?'} from {self.peer}>"

    # Connection

    def connectionMade(self) -> None:
        self.peer = formatPeer(self.transport.getPeer())
        self._parser = StreamParser(self, self.factory.config.stanzaSizeLimit)
        self.factory.streams.add(self)

    def dataReceived(self, data: bytes) -> None:
        if not self._closed:
            self._parser.feed(data)  # type: ignore[union-attr]

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:
        self._closed = True
        if self.domains:
            self.factory.router.unbindAll(self)
            self.domains = frozenset()
        self.factory.streams.discard(self)
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
            domain = JID(to).host
        except (InvalidFormat, UnicodeError):
            self.close("host-unknown", "Not a valid domain")
            return
        component = self.factory.config.components.get(domain)
        if not isinstance(component, ComponentConfig):
            self.close("host-unknown", "No such component is configured")
            return
        self.domain = domain
        self._component = component
        self.checkFrom = component.validateFrom
        self._parser.maxStanzaSize = component.stanzaSizeLimit  # type: ignore[union-attr]
        self._sendHeader(domain)

    def stanzaReceived(self, stanza: Stanza) -> None:
        if self._closed:
            return
        if self.domains:
            if stanza.name in STANZA_NAMES and stanza.uri == COMPONENT_NS:
                self.factory.router.receive(self, stanza)
            else:
                self.close("unsupported-stanza-type", f"Not a stanza: {stanza.name}")
        elif stanza.name == "handshake" and stanza.uri == COMPONENT_NS and self._component:
            self._handshake(stanza, self._component)
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
        self.transport.write(b"</stream:stream>")
        self.transport.loseConnection()

    def streamFailed(self, condition: str, text: str | None) -> None:
        self.close(condition, text)

    # The handshake

    def _handshake(self, stanza: Stanza, component: ComponentConfig) -> None:
        supplied = str(stanza.element()).strip().lower().encode("utf-8")
        expected = handshakeDigest(self.streamId, component.secret)
        if not hmac.compare_digest(expected, supplied):
            self.close("not-authorized", "Invalid handshake")
            return
        try:
            self.factory.router.bind(
                self.domain, self, kickOld=component.conflictResolve == "kick_old"
            )
        except ConflictError:
            self.close("conflict", "This component is already connected")
            return
        self.domains = frozenset({self.domain})
        self.transport.write(b"<handshake/>")

    # IStreamRoute

    def send(self, stanza: Stanza) -> None:
        if not self._closed:
            self.transport.write(stanza.toBytes())

    def close(self, condition: str, text: str | None = None) -> None:
        if self._closed:
            return
        self._closed = True
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
        self.transport.write(streamErrorBytes(condition, text))
        self.transport.loseConnection()

    def _sendHeader(self, domain: str | None) -> None:
        sender = b" from=" + quoteAttribute(domain) if domain else b""
        self.transport.write(
            b"<?xml version='1.0'?><stream:stream xmlns='%s' xmlns:stream='%s' id='%s'%s>"
            % (COMPONENT_NS.encode(), STREAMS_NS.encode(), self.streamId.encode(), sender)
        )
        self._headerSent = True


class ComponentListenerFactory(ServerFactory):
    """
    Accepts external components on one port and interface.

    @ivar streams: the open connections, so they can be closed at shutdown.
    """

    protocol = ComponentStream
    # RouterService logs each listening address once; Twisted's per-factory
    # start/stop lines would only repeat it.
    noisy = False

    def __init__(self, router: Router, config: RouterConfig, reactor: IReactorTime) -> None:
        self.router = router
        self.config = config
        self.reactor = reactor
        self.streams: set[ComponentStream] = set()

    def shutdown(self, timeout: float = 5.0) -> defer.Deferred[None]:
        """
        End every stream with C{system-shutdown}; fires when they are all
        closed or C{timeout} seconds have passed.
        """
        waiting = []
        for stream in list(self.streams):
            waiting.append(stream.whenLost())
            stream.close("system-shutdown", "The router is shutting down")
        done = defer.DeferredList(waiting, consumeErrors=True)
        done.addTimeout(timeout, self.reactor)  # type: ignore[arg-type]
        done.addErrback(lambda f: f.trap(defer.TimeoutError))
        return done.addCallback(lambda _: None)

