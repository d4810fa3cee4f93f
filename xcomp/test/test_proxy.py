"""
Tests for C{proxy_protocol} (L{xcomp.listener.proxy}): the HAProxy PROXY
protocol header in front of a listener's connections, version 1 (text) and
version 2 (binary, built here byte by byte), first on L{StringTransport}
and L{Clock}, then over real loopback sockets through the service tree,
with Twisted's component client behind a header, with and without TLS.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import Callable

from twisted.internet import defer, protocol, reactor
from twisted.internet.address import IPv4Address
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.interfaces import IProtocolFactory
from twisted.internet.ssl import Certificate, optionsForClientTLS
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import ILogObserver, LogLevel, capturedLogs, formatEvent, globalLogPublisher
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface import provider

from xcomp.config import DEFAULT_STATE_TIMEOUT, ListenerConfig, TLSConfig
from xcomp.listener import ComponentListenerFactory, ComponentStream
from xcomp.listener.proxy import ProxyHeaderFactory, ProxyHeaderProtocol
from xcomp.router import Router
from xcomp.service import RouterService
from xcomp.test.certs import TestCA
from xcomp.test.helpers import makeConfig
from xcomp.test.listenerhelpers import HEADER, streamError
from xcomp.test.loopback import PROCESS_TIMEOUT, ComponentClient, freePort

PASSWORD = "proxy-test-password"
#: The proxy's own address, as the listener's socket sees it.
PROXY = IPv4Address("TCP", "127.0.0.1", 50000)
#: How every version 2 header starts.
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def v1Header(source: str, sourcePort: int, destination: str = "192.0.2.1", port: int = 5347) -> bytes:
    """
    A version 1 header for a TCP connection from C{source}.
    """
    family = "TCP6" if ":" in source else "TCP4"
    return f"PROXY {family} {source} {destination} {sourcePort} {port}\r\n".encode("ascii")


def v2Header(
    source: str, sourcePort: int, destination: str = "192.0.2.1", port: int = 5347, command: int = 1
) -> bytes:
    """
    A version 2 header for a TCP connection from C{source}: the signature,
    version 2 and the command (1 PROXY, 0 LOCAL), the family (IPv4 or IPv6)
    over a stream, the length of what follows, then the two addresses and
    the two ports.
    """
    sourceIP, destinationIP = ipaddress.ip_address(source), ipaddress.ip_address(destination)
    family = 0x11 if sourceIP.version == 4 else 0x21
    addresses = sourceIP.packed + destinationIP.packed + struct.pack("!HH", sourcePort, port)
    return V2_SIGNATURE + bytes([0x20 | command, family]) + struct.pack("!H", len(addresses)) + addresses


class ProxyHeaderTests(SynchronousTestCase):
    """
    The header read on a L{StringTransport}, with the listener's stream
    behind it.
    """

    def setUp(self) -> None:
        """
        A listener with a password and C{max_connections}, behind the
        PROXY protocol wrapper.
        """
        self.clock = Clock()
        self.config = makeConfig()
        self.listener = ListenerConfig(
            5347, "127.0.0.1", password=PASSWORD, proxyProtocol=True, maxConnections=5, stateTimeout=5.0
        )
        self.factory = ComponentListenerFactory(Router(self.clock), self.config, self.clock, self.listener)
        self.proxyFactory = ProxyHeaderFactory(self.factory, self.clock, self.listener)

    def connect(self) -> tuple[ProxyHeaderProtocol, StringTransport]:
        """
        A connection from the proxy.
        """
        wrapper = self.proxyFactory.buildProtocol(PROXY)
        transport = StringTransport(peerAddress=PROXY)
        wrapper.makeConnection(transport)
        return wrapper, transport

    def stream(self) -> ComponentStream:
        """
        The one stream the listener has.
        """
        [stream] = self.factory.streams
        return stream

    def test_v1PeerIsSource(self) -> None:
        """
        After a version 1 header the stream's peer is the source it names,
        and what followed the header in the same read is the stream's.
        """
        wrapper, transport = self.connect()
        wrapper.dataReceived(v1Header("203.0.113.7", 40001) + (HEADER % "gw.example").encode())
        self.assertEqual(self.stream().peer, "203.0.113.7:40001")
        self.assertIn(b"from='gw.example'", transport.value())

    def test_v2PeerIsSource(self) -> None:
        """
        After a version 2 header the stream's peer is the source it names,
        IPv4 or IPv6.
        """
        wrapper, _ = self.connect()
        wrapper.dataReceived(v2Header("198.51.100.9", 40002))
        self.assertEqual(self.stream().peer, "198.51.100.9:40002")
        wrapper, _ = self.connect()
        wrapper.dataReceived(v2Header("2001:db8::7", 40003, "2001:db8::1"))
        self.assertIn("[2001:db8:0:0:0:0:0:7]:40003", {s.peer for s in self.factory.streams})

    def test_headerInPieces(self) -> None:
        """
        A header that arrives a byte at a time is read whole; the stream is
        connected only once it is complete.
        """
        for header in (v1Header("203.0.113.7", 40001), v2Header("198.51.100.9", 40002)):
            wrapper, _ = self.connect()
            for i in range(len(header)):
                self.assertEqual(len(self.factory.streams), 0)
                wrapper.dataReceived(header[i : i + 1])
            self.assertEqual(len(self.factory.streams), 1)
            self.stream().connectionLost()

    def test_headerWithoutAddress(self) -> None:
        """
        A header without addresses (version 1 C{UNKNOWN}, version 2
        C{LOCAL}, as proxies send for health checks) leaves the
        connection's own peer.  (Twisted's version 1 parser wants something
        after C{UNKNOWN}, which the addresses it ignores provide here.)
        """
        unknown = b"PROXY UNKNOWN 2001:db8::7 2001:db8::1 40001 5347\r\n"
        for header in (unknown, v2Header("198.51.100.9", 40002, command=0)):
            wrapper, _ = self.connect()
            wrapper.dataReceived(header)
            self.assertEqual(self.stream().peer, "127.0.0.1:50000")
            self.stream().connectionLost()

    def test_streamConnectedAfterHeader(self) -> None:
        """
        Nothing of the listener runs before the header: no stream, no
        handshake deadline of its own, nothing written.
        """
        wrapper, transport = self.connect()
        wrapper.dataReceived(b"PROXY TCP4 203.0")
        self.assertEqual(self.factory.streams, set())
        self.assertEqual(transport.value(), b"")

    def test_malformedClosed(self) -> None:
        """
        Garbage, a header with a bad port, one whose source is not an
        address, and an XMPP stream without a header are each closed at once
        with one warning, no traceback, and no stream.
        """
        for data in (
            b"GET / HTTP/1.1\r\n",
            b"PROXY TCP4 203.0.113.7 192.0.2.1 port 5347\r\n",
            b"PROXY TCP4 evil\x1bname 192.0.2.1 1 5347\r\n",
            b"PROXY TCP9 203.0.113.7 192.0.2.1 1 5347\r\n",
            V2_SIGNATURE + b"\x2f\x11\x00\x0c" + b"\x00" * 12,
            b"X" * 200,
            (HEADER % "gw.example").encode(),
        ):
            with capturedLogs() as events:
                wrapper, transport = self.connect()
                wrapper.dataReceived(data)
            self.assertTrue(transport.disconnecting or transport.disconnected, data)
            self.assertEqual(self.factory.streams, set())
            self.assertEqual(transport.value(), b"")
            [event] = [e for e in events if e["log_level"] >= LogLevel.warn]
            self.assertNotIn("log_failure", event)
            self.assertIn("127.0.0.1:50000", formatEvent(event))
            wrapper.connectionLost(defer.CancelledError())  # type: ignore[arg-type]

    def test_v1HeaderBounded(self) -> None:
        """
        A version 1 header is a line of at most 107 bytes: a longer one is
        refused without waiting for its end.
        """
        wrapper, transport = self.connect()
        wrapper.dataReceived(b"PROXY TCP4 " + b"1" * 120)
        self.assertTrue(transport.disconnecting or transport.disconnected)

    def test_headerDeadline(self) -> None:
        """
        A header that does not arrive within C{state_timeout} closes the
        connection; one that does leaves no timer of its own.
        """
        wrapper, transport = self.connect()
        wrapper.dataReceived(b"PRO")
        self.clock.advance(4.9)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(0.1)
        self.assertTrue(transport.disconnecting or transport.disconnected)
        wrapper.connectionLost(defer.CancelledError())  # type: ignore[arg-type]
        wrapper, transport = self.connect()
        wrapper.dataReceived(v1Header("203.0.113.7", 40001))
        self.stream().connectionLost()
        wrapper.connectionLost(defer.CancelledError())  # type: ignore[arg-type]
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_waitingBounded(self) -> None:
        """
        No more connections may wait for their header at once than
        C{max_connections}; one whose header has arrived makes room.
        """
        waiting = [self.connect() for _ in range(5)]
        self.assertFalse(any(t.disconnecting for _, t in waiting))
        _, refused = self.connect()
        self.assertTrue(refused.disconnecting or refused.disconnected)
        waiting[0][0].dataReceived(v1Header("203.0.113.7", 40001))
        _, accepted = self.connect()
        self.assertFalse(accepted.disconnecting or accepted.disconnected)

    def test_headerDeadlineWithoutStateTimeout(self) -> None:
        """
        With no C{state_timeout}, a header still has to arrive within the
        default one.
        """
        listener = ListenerConfig(5347, "127.0.0.1", proxyProtocol=True, stateTimeout=None)
        self.proxyFactory = ProxyHeaderFactory(self.factory, self.clock, listener)
        _, transport = self.connect()
        self.clock.advance(DEFAULT_STATE_TIMEOUT)
        self.assertTrue(transport.disconnecting or transport.disconnected)

    def test_maxConnectionsLogsSource(self) -> None:
        """
        A connection over C{max_connections} is refused in the name of the
        client the header gives, not the proxy's.
        """
        for n in range(5):
            wrapper, _ = self.connect()
            wrapper.dataReceived(v1Header(f"203.0.113.{n + 1}", 40000 + n))
        with capturedLogs() as events:
            wrapper, transport = self.connect()
            wrapper.dataReceived(v1Header("203.0.113.99", 40099))
        self.assertEqual(streamError(transport.value()), "resource-constraint")
        self.assertEqual(len(self.factory.streams), 5)
        [event] = [e for e in events if e["log_level"] >= LogLevel.warn]
        self.assertEqual(event["peer"], "203.0.113.99:40099")


class _HeaderFirst(ProtocolWrapper):
    """
    A client connection that writes a PROXY protocol header before anything
    of the protocol it wraps, as a proxy does.
    """

    factory: HeaderFirstFactory

    def makeConnection(self, transport: object) -> None:
        transport.write(self.factory.header)  # type: ignore[attr-defined]
        super().makeConnection(transport)


class HeaderFirstFactory(WrappingFactory):
    """
    Wraps a client factory so that its connections start with C{header}.
    """

    protocol = _HeaderFirst

    def __init__(self, wrappedFactory: IProtocolFactory, header: bytes) -> None:
        super().__init__(wrappedFactory)
        self.header = header


def behind(header: bytes) -> Callable[[protocol.ClientFactory], protocol.ClientFactory]:
    """
    For L{ComponentClient.connect}: connect behind C{header}.
    """
    return lambda factory: HeaderFirstFactory(factory, header)  # type: ignore[return-value]


class ProxyOverTCPTests(TestCase):
    """
    A listener with C{proxy_protocol} in the service tree, on loopback.
    """

    timeout = 60

    def setUp(self) -> None:
        """
        Collect the log events.
        """
        self.events: list[dict[str, object]] = []

        @provider(ILogObserver)
        def observe(event: dict[str, object]) -> None:
            self.events.append(event)

        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)

    def startRouter(self, **options: object) -> int:
        """
        Start a router with one listener behind the PROXY protocol and
        C{options}; return its port.
        """
        port = freePort()
        listener = ListenerConfig(
            port, "127.0.0.1", password=PASSWORD, proxyProtocol=True, **options  # type: ignore[arg-type]
        )
        self.service = RouterService(makeConfig(listeners=(listener,)), reactor=reactor)
        self.service.startService()
        self.addCleanup(self.service.stopService)
        return port

    async def component(
        self, domain: str, port: int, wrap: Callable[[protocol.ClientFactory], protocol.ClientFactory]
    ) -> ComponentClient:
        """
        Twisted's component client, connected and authenticated.
        """
        client = ComponentClient(reactor, domain, PASSWORD)
        self.addCleanup(client.disconnect)
        return await client.connect(port, wrap=wrap)

    def logged(self, text: str) -> list[str]:
        """
        The log lines that contain C{text}.
        """
        return [line for line in map(formatEvent, self.events) if text in line]

    async def test_v1AndV2Sources(self) -> None:
        """
        Components behind a version 1 and a version 2 header are bound in
        the name of the sources the headers give, and route to each other.
        """
        port = self.startRouter()
        alice = await self.component("alice.example", port, behind(v1Header("203.0.113.7", 40001)))
        bob = await self.component("bob.example", port, behind(v2Header("198.51.100.9", 40002)))
        self.assertEqual(
            sorted(s.peer for s in self.service.factories[0].streams),
            ["198.51.100.9:40002", "203.0.113.7:40001"],
        )
        self.assertTrue(self.logged("alice.example bound (203.0.113.7:40001)"))
        self.assertTrue(self.logged("bob.example bound (198.51.100.9:40002)"))
        alice.send("<message from='alice.example' to='bob.example' id='p1'/>")
        await bob.next(lambda e: e.getAttribute("id") == "p1")

    async def test_maxConnectionsRefusesSource(self) -> None:
        """
        Past C{max_connections}, the refusal is logged with the proxied
        source of the connection refused.
        """
        port = self.startRouter(maxConnections=1)
        await self.component("alice.example", port, behind(v1Header("203.0.113.7", 40001)))
        refused = ComponentClient(reactor, "bob.example", PASSWORD)
        self.addCleanup(refused.disconnect)
        with self.assertRaises(Exception):
            await refused.connect(port, wrap=behind(v2Header("198.51.100.9", 40002)))
        self.assertEqual(refused.streamError, "resource-constraint")
        self.assertTrue(self.logged("resource-constraint to 198.51.100.9:40002"))

    async def test_malformedThenGood(self) -> None:
        """
        A connection that starts with garbage is closed, with a warning and
        no traceback; the listener goes on accepting, and the next
        connection with a good header works.
        """
        port = self.startRouter()
        lost: defer.Deferred[None] = defer.Deferred()

        class Garbage(protocol.Protocol):
            def connectionMade(self) -> None:
                garbage = b"\x16\x03\x01\x02\x00 not a PROXY header\r\n"
                self.transport.write(garbage)  # type: ignore[union-attr]

            def connectionLost(self, reason: object = None) -> None:
                lost.callback(None)

        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=PROCESS_TIMEOUT)
        await endpoint.connect(protocol.Factory.forProtocol(Garbage))
        await lost.addTimeout(PROCESS_TIMEOUT, reactor)
        self.assertTrue(self.logged("not a PROXY protocol header"))
        self.assertEqual([e for e in self.events if "log_failure" in e], [])
        alice = await self.component("alice.example", port, behind(v1Header("203.0.113.7", 40001)))
        self.assertIsNotNone(self.service.router.lookup("alice.example"))
        await alice.disconnect()

    async def test_proxyThenTLS(self) -> None:
        """
        With TLS, the header comes first, in the clear, then the TLS
        handshake: the client checks the certificate and authenticates, and
        is bound in the name of the proxied source.
        """
        ca = TestCA(self.mktemp())
        issued = ca.issue("localhost")
        port = self.startRouter(tls=TLSConfig(issued.certificate, issued.key))
        with open(ca.path, "rb") as f:
            trust = Certificate.loadPEM(f.read())
        options = optionsForClientTLS("localhost", trustRoot=trust)

        def wrap(factory: protocol.ClientFactory) -> protocol.ClientFactory:
            tls = TLSMemoryBIOFactory(options, True, factory)
            return HeaderFirstFactory(tls, v1Header("203.0.113.8", 40008))  # type: ignore[return-value]

        client = await self.component("secure.example", port, wrap)
        self.assertTrue(self.logged("secure.example bound (203.0.113.8:40008)"))
        client.send("<message from='secure.example' to='secure.example' id='t1'/>")
        await client.next(lambda e: e.getAttribute("id") == "t1")
