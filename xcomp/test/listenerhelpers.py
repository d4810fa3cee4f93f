# -*- test-case-name: xcomp.test.test_listener,xcomp.test.test_listenopts -*-
"""
What the component listener's tests share: the stream header a component
sends, connecting and authenticating over L{StringTransport}, reading
stream ids and stream errors off the wire, and two fixtures: a router with
a default listener (L{ListenerTestsMixin}) and one with a listener built
from the options a test gives (L{ListenerOptionsMixin}).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from xcomp.config import InternalComponentConfig, ListenerConfig, RouterConfig
from xcomp.hosts import LocalHost
from xcomp.listener import ComponentListenerFactory, ComponentStream, handshakeDigest
from xcomp.router import Router
from xcomp.test.helpers import makeConfig

HEADER = (
    "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
    "xmlns:stream='http://etherx.jabber.org/streams' to='%s'>"
)
SECRET = "s3cr\u00e9t-value"
PASSWORD = "listener-password"


def streamId(data: bytes) -> str:
    """
    The id in the stream header the listener sent in C{data}.
    """
    match = re.search(rb"<stream:stream [^>]*id='([^']+)'", data)
    assert match is not None, data
    return match.group(1).decode("ascii")


def streamError(data: bytes) -> str | None:
    """
    The condition of the stream error in C{data}, or C{None} if there is
    none.
    """
    match = re.search(rb"<stream:error><([a-z-]+) xmlns='urn:ietf:params:xml:ns:xmpp-streams'", data)
    return match.group(1).decode("ascii") if match else None


def connectTo(factory: ComponentListenerFactory) -> tuple[ComponentStream, StringTransport]:
    """
    A new connection to C{factory}'s listener, over a L{StringTransport}.
    """
    stream = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
    assert stream is not None
    transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 40000))
    stream.makeConnection(transport)
    return stream, transport


def authenticateTo(
    factory: ComponentListenerFactory, domain: str, secret: str, header: str = HEADER
) -> tuple[ComponentStream, StringTransport]:
    """
    Connect to C{factory}'s listener and authenticate as C{domain} with
    C{secret}; no handshake is sent if the header was refused.  The
    transport is cleared before the handshake.
    """
    stream, transport = connectTo(factory)
    stream.dataReceived((header % domain).encode())
    if transport.disconnecting:
        return stream, transport
    digest = handshakeDigest(streamId(transport.value()), secret)
    transport.clear()
    stream.dataReceived(b"<handshake>" + digest + b"</handshake>")
    return stream, transport


if TYPE_CHECKING:
    _TestCase = SynchronousTestCase
else:
    _TestCase = object


class ListenerTestsMixin(_TestCase):
    """
    A router with the default listener and four configured components:
    C{a.example}, C{b.example}, C{old.example} (C{kick_old}) and
    C{small.example} (a 256-byte stanza limit).
    """

    def setUp(self) -> None:
        """
        The router, its configuration and the listener factory, on a
        L{Clock}.
        """
        self.clock = Clock()
        self.config = makeConfig(
            components={
                "a.example": {"secret": SECRET},
                "b.example": {"secret": "other"},
                "old.example": {"secret": SECRET, "conflictResolve": "kick_old"},
                "small.example": {"secret": SECRET, "stanzaSizeLimit": 256},
            },
            virtualHosts=["example.org"],
        )
        self.router = Router(self.clock, components=self.config.components)
        self.factory = ComponentListenerFactory(self.router, self.config, self.clock)

    def connect(self) -> tuple[ComponentStream, StringTransport]:
        """
        A new connection to the listener.
        """
        return connectTo(self.factory)

    def authenticate(
        self, domain: str = "a.example", secret: str = SECRET
    ) -> tuple[ComponentStream, StringTransport]:
        """
        Connect and authenticate as C{domain} with C{secret}.
        """
        return authenticateTo(self.factory, domain, secret)

    def assertStreamError(self, transport: StringTransport, condition: str) -> None:
        """
        The stream was closed with C{condition}, the error and the end of
        the stream written whole.
        """
        data = transport.value()
        self.assertEqual(streamError(data), condition, data)
        self.assertTrue(data.endswith(b"</stream:error></stream:stream>"), data)
        self.assertTrue(transport.disconnecting)


class ListenerOptionsMixin:
    """
    A router with one listener built from the options a test gives.
    """

    def setUp(self) -> None:
        """
        A clock; the configuration and listener come from L{build}.
        """
        self.clock = Clock()
        self.build()

    def build(self, config: RouterConfig | None = None, **options: object) -> None:
        """
        Make the router and a listener factory with C{options}.
        """
        if config is None:
            config = makeConfig(
                components={"a.example": {"secret": SECRET}, "b.example": {"secret": "other"}},
                virtualHosts=["example.org", "example.net"],
            )
        self.config = config
        self.router = Router(self.clock, components=config.components)
        for host in config.virtualHosts:
            self.router.addHost(host, LocalHost(host, self.router))
        for domain, component in config.components.items():
            if isinstance(component, InternalComponentConfig):
                self.router.addHost(domain, LocalHost(domain, self.router))
        self.listener = ListenerConfig(5347, "127.0.0.1", **options)  # type: ignore[arg-type]
        self.factory = ComponentListenerFactory(self.router, config, self.clock, self.listener)

    def connect(self) -> tuple[ComponentStream, StringTransport]:
        """
        A new connection to the listener.
        """
        return connectTo(self.factory)

    def authenticate(
        self, domain: str, secret: str, header: str = HEADER
    ) -> tuple[ComponentStream, StringTransport]:
        """
        Connect and authenticate as C{domain} with C{secret}.
        """
        return authenticateTo(self.factory, domain, secret, header)

    def assertBound(self, transport: StringTransport) -> None:
        """
        The handshake succeeded.
        """
        self.assertEqual(transport.value(), b"<handshake/>")  # type: ignore[attr-defined]
        self.assertFalse(transport.disconnecting)  # type: ignore[attr-defined]

    def assertStreamError(self, transport: StringTransport, condition: str) -> None:
        """
        The stream was closed with C{condition}.
        """
        self.assertEqual(streamError(transport.value()), condition, transport.value())  # type: ignore[attr-defined]
        self.assertTrue(transport.disconnecting)  # type: ignore[attr-defined]
