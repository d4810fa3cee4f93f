# -*- test-case-name: xcomp.test.test_s2s_outbound_loopback -*-
"""
A small remote XMPP server for the outgoing side's loopback tests: the
receiving end of s2s streams, built on Twisted's own XML stream (not on
xcomp's parser), with real TLS from certificates the test generates.

It offers STARTTLS (or TLS from the first byte), then SASL EXTERNAL to a
peer whose certificate chains to its CA and names the peer's domain, and
dialback, which it checks against the key it is told to expect (standing
in for a db:verify to xcomp).  It records every stanza it receives and
answers C{db:verify} requests from a table.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any, Callable

from OpenSSL import SSL
from service_identity import VerificationError
from service_identity.pyopenssl import verify_hostname
from twisted.internet import defer
from twisted.internet.interfaces import IAddress, IOpenSSLServerConnectionCreator
from twisted.internet.protocol import Factory, Protocol
from twisted.protocols.tls import TLSMemoryBIOProtocol
from twisted.python.failure import Failure
from twisted.words.xish import domish, xmlstream
from zope.interface import implementer

from xcomp.s2s.outboundtypes import DIALBACK_NS, SASL_NS, SERVER_NS, TLS_NS
from xcomp.stanza import STREAMS_NS
from xcomp.test.certs import Issued

__all__ = ["FakeRemoteFactory"]


def _verifyingContext(
    issued: Issued | None,
    caPath: str,
    server: bool,
    chained: dict[int, bool],
    alpnOffered: list[list[bytes]] | None = None,
) -> SSL.Context:
    """
    A TLS context presenting C{issued}, that asks for the peer's
    certificate, never refuses it, and records in C{chained} (by
    connection id) whether it chained to the CA in C{caPath}.

    @param alpnOffered: For a server: each client's ALPN offer is appended
        here, and C{xmpp-server} picked when offered (no protocol
        otherwise).
    """
    context = SSL.Context(SSL.TLS_SERVER_METHOD if server else SSL.TLS_CLIENT_METHOD)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    if issued is not None:
        context.use_certificate_file(issued.certificate)
        context.use_privatekey_file(issued.key)
    context.load_verify_locations(caPath)

    def verify(connection: SSL.Connection, x509: object, errno: int, depth: int, ok: int) -> bool:
        if depth == 0:
            chained[id(connection)] = chained.get(id(connection), True) and bool(ok)
        elif not ok:
            chained[id(connection)] = False
        return True

    context.set_verify(SSL.VERIFY_PEER, verify)
    if server:
        context.set_session_id(b"xcomp-test")
    if server and alpnOffered is not None:
        offers = alpnOffered

        def selectALPN(connection: SSL.Connection, offered: list[bytes]) -> bytes | SSL._NoOverlappingProtocols:
            offers.append(list(offered))
            return b"xmpp-server" if b"xmpp-server" in offered else SSL.NO_OVERLAPPING_PROTOCOLS

        context.set_alpn_select_callback(selectALPN)
    return context


def validFor(connection: SSL.Connection, chained: dict[int, bool], domain: str) -> bool:
    """
    Whether the peer on C{connection} showed a certificate that chained and
    names C{domain}.
    """
    if connection.get_peer_certificate() is None or not chained.get(id(connection), False):
        return False
    try:
        verify_hostname(connection, domain)
    except VerificationError:
        return False
    return True


@implementer(IOpenSSLServerConnectionCreator)
class _ServerContext:
    """
    The server side of the fake remote's TLS connections, all from one
    context.
    """

    def __init__(self, context: SSL.Context) -> None:
        self._context = context

    def serverConnectionForTLS(self, tlsProtocol: TLSMemoryBIOProtocol) -> SSL.Connection:
        return SSL.Connection(self._context, None)


class FakeRemoteServer(xmlstream.XmlStream):
    """
    One incoming s2s connection at the fake remote server.
    """

    factory: FakeRemoteFactory

    def __init__(self) -> None:
        super().__init__()
        self.encrypted = False
        self.authenticated: str | None = None
        self.streamID = ""
        self.peerDomain = ""

    def _tcp(self) -> Any:
        """
        The transport, which can start TLS and give its connection.
        """
        return self.transport

    def connectionMade(self) -> None:
        factory = self.factory
        if factory.directTLS:
            self._tcp().startTLS(factory.serverContext())
            self.encrypted = True
        super().connectionMade()
        factory.connections.append(self)

    def onDocumentStart(self, rootElement: domish.Element) -> None:
        factory = self.factory
        self.peerDomain = rootElement.getAttribute("from") or ""
        self.streamID = secrets.token_hex(8)
        self.send(
            f"<?xml version='1.0'?><stream:stream xmlns='{SERVER_NS}' xmlns:stream='{STREAMS_NS}'"
            f" xmlns:db='{DIALBACK_NS}' id='{self.streamID}' from='{factory.domain}' version='1.0'>"
        )
        parts = []
        if not self.encrypted and factory.offerTLS:
            parts.append(f"<starttls xmlns='{TLS_NS}'><required/></starttls>")
        elif not self.authenticated:
            if self.encrypted and self._peerValid():
                parts.append(f"<mechanisms xmlns='{SASL_NS}'><mechanism>EXTERNAL</mechanism></mechanisms>")
            parts.append("<dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback>")
        self.send("<stream:features>%s</stream:features>" % "".join(parts))

    def _peerValid(self) -> bool:
        handle = self._tcp().getHandle()
        return validFor(handle, self.factory.chained, self.peerDomain)

    def onElement(self, element: domish.Element) -> None:
        factory = self.factory
        kind = (element.uri, element.name)
        if kind == (TLS_NS, "starttls"):
            self.send(f"<proceed xmlns='{TLS_NS}'/>")
            self._tcp().startTLS(factory.serverContext())
            self.encrypted = True
            self._initializeStream()
        elif kind == (SASL_NS, "auth"):
            identity = base64.b64decode(str(element)).decode() if str(element) not in ("", "=") else ""
            accepted = identity in ("", self.peerDomain) and self._peerValid()
            if element.getAttribute("mechanism") == "EXTERNAL" and accepted:
                self.authenticated = self.peerDomain
                factory.methods.append("sasl")
                self.send(f"<success xmlns='{SASL_NS}'/>")
                self._initializeStream()
            else:
                self.send(f"<failure xmlns='{SASL_NS}'><not-authorized/></failure>")
        elif kind == (DIALBACK_NS, "result"):
            sender, to = element.getAttribute("from"), element.getAttribute("to")
            expected = factory.expectKey and factory.expectKey(to, sender, self.streamID)
            valid = expected is not None and str(element) == expected
            self.send(f"<db:result from='{to}' to='{sender}' type='{'valid' if valid else 'invalid'}'/>")
            if valid:
                self.authenticated = sender
                factory.methods.append("dialback")
        elif kind == (DIALBACK_NS, "verify"):
            sender, to = element.getAttribute("from"), element.getAttribute("to")
            sid = element.getAttribute("id")
            valid = factory.verifyAnswers.get((sid, str(element)), False)
            self.send(
                f"<db:verify from='{to}' to='{sender}' id='{sid}' type='{'valid' if valid else 'invalid'}'/>"
            )
        elif self.authenticated and element.uri == SERVER_NS:
            factory.received.append(element)
            waiters, factory.waiters = factory.waiters, []
            for waiter in waiters:
                waiter.callback(element)
        else:
            self.send(
                "<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"
            )
            self._tcp().loseConnection()

    def onDocumentEnd(self) -> None:
        self.send("</stream:stream>")
        self._tcp().loseConnection()

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:
        super().connectionLost(reason)
        self.factory.connections.remove(self)
        if not self.factory.connections:
            waiters, self.factory.lostWaiters = self.factory.lostWaiters, []
            for waiter in waiters:
                waiter.callback(None)


class FakeRemoteFactory(Factory):
    """
    The fake remote server for C{domain}.

    @ivar expectKey: Computes the dialback key it accepts from
        (receiving, originating, stream id); L{None} refuses every key.
    @ivar verifyAnswers: (stream id, key) -> verdict, for db:verify.
    @ivar received: The stanzas received on authenticated streams.
    @ivar methods: How each stream authenticated.
    """

    noisy = False

    def __init__(
        self,
        domain: str,
        issued: Issued,
        caPath: str,
        *,
        offerTLS: bool = True,
        directTLS: bool = False,
        expectKey: Callable[[str, str, str], str] | None = None,
    ) -> None:
        self.domain = domain
        self._issued = issued
        self._caPath = caPath
        self.offerTLS = offerTLS
        self.directTLS = directTLS
        self.expectKey = expectKey
        self.verifyAnswers: dict[tuple[str, str], bool] = {}
        self.received: list[domish.Element] = []
        self.methods: list[str] = []
        self.connections: list[FakeRemoteServer] = []
        self.waiters: list[defer.Deferred[domish.Element]] = []
        self.lostWaiters: list[defer.Deferred[None]] = []
        self.chained: dict[int, bool] = {}
        #: The ALPN protocols each TLS client offered (if it offered any).
        self.alpnOffered: list[list[bytes]] = []
        self._context = _ServerContext(_verifyingContext(issued, caPath, True, self.chained, self.alpnOffered))

    def buildProtocol(self, addr: IAddress | None) -> Protocol:
        server = FakeRemoteServer()
        server.factory = self
        return server

    def serverContext(self) -> _ServerContext:
        """
        The TLS server side, asking for (not requiring) a client
        certificate.
        """
        return self._context

    def next(self) -> defer.Deferred[domish.Element]:
        """
        The next stanza received (or the first, if one came already and
        none was taken).
        """
        if self.received:
            return defer.succeed(self.received.pop(0))
        waiter: defer.Deferred[domish.Element] = defer.Deferred()
        waiter.addCallback(self._taken)
        self.waiters.append(waiter)
        return waiter

    def _taken(self, element: domish.Element) -> domish.Element:
        self.received.remove(element)
        return element

    def allLost(self) -> defer.Deferred[None]:
        """
        Fires once no connection is open.
        """
        if not self.connections:
            return defer.succeed(None)
        waiter: defer.Deferred[None] = defer.Deferred()
        self.lostWaiters.append(waiter)
        return waiter

