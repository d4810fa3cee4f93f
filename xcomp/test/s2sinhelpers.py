# -*- test-case-name: xcomp.test.test_s2s_inbound,xcomp.test.test_s2s_inbound_auth -*-
"""
What the incoming s2s stream's unit tests share: a router serving a few
domains, the s2s factory on a L{Clock}, a transport that can "start TLS",
a verifier whose answers the test gives, TLS settings that say which
domains the peer's certificate is valid for, and readers for the bytes.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import attrs
from twisted.internet import defer
from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import ISSLTransport
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import directlyProvides

from xcomp.config import TLSConfig
from xcomp.config.model import S2SConfig
from xcomp.hosts import LocalHost
from xcomp.router import Router
from xcomp.s2s.dialback import DialbackSecret
from xcomp.s2s.inbound import InboundStream
from xcomp.s2s.inboundfactory import InboundListenerFactory
from xcomp.test.helpers import FakeRoute, makeConfig
from xcomp.test.listenerhelpers import streamError

__all__ = [
    "COMPONENT",
    "HEADER",
    "HOST",
    "OFFLINE",
    "REMOTE",
    "FakeVerifier",
    "InboundTestsMixin",
    "TLSStringTransport",
    "streamError",
]

#: The external component the tests' remote servers write to.
COMPONENT = "comp.example.org"
#: The VirtualHost xcomp serves.
HOST = "example.org"
#: A configured component that is not connected.
OFFLINE = "offline.example.org"
#: The remote server.
REMOTE = "remote.example.net"

HEADER = (
    "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
    "xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' "
    "to='{to}' from='{sender}' version='1.0'>"
)


class TLSStringTransport(StringTransport):
    """
    A L{StringTransport} on which STARTTLS "succeeds" at once: it records
    the connection creator and becomes an L{ISSLTransport}, its handle
    standing for the TLS connection.
    """

    tlsCreator: object = None
    handle = object()

    def startTLS(self, creator: object) -> None:
        self.tlsCreator = creator
        directlyProvides(self, ISSLTransport)

    def getHandle(self) -> object:
        return self.handle


@attrs.define
class FakeVerifier:
    """
    s2s-out's C{verify}, answered by the test.

    @ivar requests: (receiving, originating, streamID, key, Deferred) per
        call.
    """

    requests: list[tuple[str, str, str, str, defer.Deferred[bool]]] = attrs.field(factory=list)

    def verify(self, receiving: str, originating: str, streamID: str, key: str) -> defer.Deferred[bool]:
        answer: defer.Deferred[bool] = defer.Deferred()
        self.requests.append((receiving, originating, streamID, key, answer))
        return answer


@attrs.define
class FakeTLS:
    """
    TLS settings with certificates for the C{certified} local domains,
    whose peer certificate is valid for the C{valid} remote domains.
    """

    valid: set[str] = attrs.field(factory=set)
    creator: object = attrs.field(factory=object)
    certified: set[str] = attrs.field(factory=set)

    def hasCertificate(self, domain: str) -> bool:
        return domain in self.certified

    def serverOptions(self, default: str | None = None) -> object:
        return self.creator

    def peerValidFor(self, connection: object, domain: str) -> bool:
        assert connection is TLSStringTransport.handle
        return domain in self.valid


def streamIdOf(data: bytes) -> str:
    """
    The id of the last stream header in C{data}.
    """
    found = re.findall(rb"<stream:stream [^>]*id='([^']+)'", data)
    assert found, data
    return found[-1].decode("ascii")


if TYPE_CHECKING:
    _TestCase = SynchronousTestCase
else:
    _TestCase = object


class InboundTestsMixin(_TestCase):
    """
    A router serving L{HOST} (a VirtualHost) and L{COMPONENT} (bound to a
    L{FakeRoute}), each with a certificate, and the s2s factory.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.secret = DialbackSecret("test-secret")
        self.verifier = FakeVerifier()
        self.tls = FakeTLS()
        self.build()

    def build(self, **options: object) -> None:
        """
        (Re)build the factory with S2S options.
        """
        certificate = TLSConfig("/nonexistent/cert.pem", "/nonexistent/key.pem")
        options.setdefault("certificates", {COMPONENT: certificate, HOST: certificate})
        self.s2s = S2SConfig(**options)  # type: ignore[arg-type]
        self.tls.certified = set(self.s2s.certificates)
        config = makeConfig(
            components={COMPONENT: {"secret": "x"}, OFFLINE: {"secret": "y"}},
            virtualHosts=[HOST],
            s2s=self.s2s,
        )
        self.router = Router(self.clock, components=config.components)
        self.router.addHost(HOST, LocalHost(HOST, self.router, "xcomp"))
        self.component = FakeRoute(COMPONENT)
        self.router.bind(COMPONENT, self.component)
        self.factory = InboundListenerFactory(
            self.router,
            self.s2s,
            self.clock,
            secret=self.secret,
            verifier=self.verifier,
            tls=self.tls,  # type: ignore[arg-type]
            isLocal=lambda d: d in (HOST, COMPONENT, OFFLINE),
        )

    def connect(self, secure: bool = False) -> tuple[InboundStream, TLSStringTransport]:
        """
        A new connection, on a direct TLS port if C{secure}.
        """
        stream = self.factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
        transport = TLSStringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 40000))
        if secure:
            directlyProvides(transport, ISSLTransport)
        stream.makeConnection(transport)
        return stream, transport

    def open(
        self, to: str = COMPONENT, sender: str = REMOTE, secure: bool = False
    ) -> tuple[InboundStream, TLSStringTransport]:
        """
        Connect and send a stream header.
        """
        stream, transport = self.connect(secure)
        stream.dataReceived(HEADER.format(to=to, sender=sender).encode())
        return stream, transport

    def openTLS(self, to: str = COMPONENT, sender: str = REMOTE) -> tuple[InboundStream, TLSStringTransport]:
        """
        Connect, STARTTLS, and send the second stream header; the transport
        holds what came after STARTTLS.
        """
        stream, transport = self.open(to, sender)
        stream.dataReceived(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        self.assertIn(b"<proceed", transport.value())
        transport.clear()
        stream.dataReceived(HEADER.format(to=to, sender=sender).encode())
        return stream, transport

    def dialback(
        self, stream: InboundStream, local: str = COMPONENT, remote: str = REMOTE, key: str = "k3y"
    ) -> defer.Deferred[bool]:
        """
        Send a C{db:result}; return the verification it started.
        """
        before = len(self.verifier.requests)
        stream.dataReceived(f"<db:result from='{remote}' to='{local}'>{key}</db:result>".encode())
        self.assertEqual(len(self.verifier.requests), before + 1)
        return self.verifier.requests[-1][4]

    def assertStreamError(self, transport: StringTransport, condition: str, routed: int = 0) -> None:
        """
        The stream was closed with C{condition}, and the component was sent
        only the C{routed} stanzas before it.
        """
        data = transport.value()
        self.assertEqual(streamError(data), condition, data)
        self.assertTrue(data.endswith(b"</stream:error></stream:stream>"), data)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(len(self.component.sent), routed)
