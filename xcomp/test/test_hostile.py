"""
Hostile and careless peers against C{twistd xcomp} over real loopback
sockets: slow-loris headers, a 100 MB stanza, a billion-laughs document,
invalid UTF-8, a component that never reads, 2000 connections that never
authenticate, garbage where a PROXY protocol header belongs.  Each gets its stream error, and two well-behaved components
keep exchanging stanzas during and after.

Memory under these loads is measured by C{bench/memory_ceiling.py}, not
here: these tests only wait for events (each wait has a timeout), they
never time anything.
"""

from __future__ import annotations

import ipaddress
import os
import re
from typing import cast

from twisted.internet import defer, protocol, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, wrapClientTLS
from twisted.internet.ssl import Certificate, optionsForClientTLS
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SkipTest, TestCase
from twisted.words.protocols.jabber import component, xmlstream

from xcomp.listener import _IStreamTransport, handshakeDigest
from xcomp.test.certs import TestCA
from xcomp.test.loopback import PROCESS_TIMEOUT, ChildProcess, ComponentClient, freePort, spawnTwistd
from xcomp.test.test_proxy import behind, v1Header

PASSWORD = "hostile-test-password"

CONFIG = """
[general]
  hosts = ["example.org"]

# The well-behaved components.
[[listen.component]]
  port = {good}
  ip_address = "127.0.0.1"
  password = "{password}"

# Where the hostile peers connect.
[[listen.component]]
  port = {bad}
  ip_address = "127.0.0.1"
  password = "{password}"
  state_timeout = 2000
  max_connections = 500
  max_stanza_size = 65536
  max_output_buffer = 1_000_000
  send_timeout = 30_000
{extra}
"""

HEADER = (
    b"<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
    b"xmlns:stream='http://etherx.jabber.org/streams' to='%s'>"
)


class RawPeer(protocol.Protocol):
    """
    A peer that writes what a test tells it to and records what it gets.

    @ivar received: everything read.
    @ivar lost: fires when the connection is gone.
    """

    # Set by makeConnection: a TCP client's transport.
    transport: _IStreamTransport

    def __init__(self) -> None:
        """
        Nothing received yet.
        """
        self.received = bytearray()
        self.lost: defer.Deferred[None] = defer.Deferred()
        self._waiting: list[tuple[bytes, defer.Deferred[None]]] = []

    def dataReceived(self, data: bytes) -> None:
        """
        Record, and fire the waits that are satisfied.
        """
        self.received += data
        for entry in list(self._waiting):
            if entry[0] in self.received:
                self._waiting.remove(entry)
                entry[1].callback(None)

    def connectionLost(self, reason: object = None) -> None:
        """
        Fire L{lost}.
        """
        if not self.lost.called:
            self.lost.callback(None)

    def waitFor(self, data: bytes) -> defer.Deferred[None]:
        """
        Fire once C{data} has been received.
        """
        if data in self.received:
            return defer.succeed(None)
        waiter: defer.Deferred[None] = defer.Deferred()
        self._waiting.append((data, waiter))
        return waiter.addTimeout(PROCESS_TIMEOUT, reactor)

    def streamError(self) -> str | None:
        """
        The condition of the stream error received, if any.
        """
        match = re.search(rb"<stream:error><([a-z-]+) ", bytes(self.received))
        return match.group(1).decode() if match else None

    async def authenticate(self, domain: bytes) -> None:
        """
        Send a header and a correct handshake, and wait for the answer.
        """
        self.transport.write(HEADER % domain)
        await self.waitFor(b"id='")
        streamId = re.search(rb"id='([^']+)'", bytes(self.received)).group(1).decode()  # type: ignore[union-attr]
        self.transport.write(b"<handshake>%s</handshake>" % handshakeDigest(streamId, PASSWORD))
        await self.waitFor(b"<handshake/>")


class HostileTestCase(TestCase):
    """
    A router process with a listener for good peers and one for bad ones.
    """

    timeout = 120

    async def setUpRouter(self, extra: str = "") -> None:
        """
        Start the router and connect the two well-behaved components.
        """
        self.good, self.bad = freePort(), freePort()
        directory = FilePath(self.mktemp())
        directory.makedirs()
        path = directory.child("mongooseim.toml")
        path.setContent(
            CONFIG.format(good=self.good, bad=self.bad, password=PASSWORD, extra=extra).encode()
        )
        self.child: ChildProcess = spawnTwistd(
            self, reactor, ["-n", "--pidfile=", "--logfile=-", "xcomp", "-c", path.path]
        )
        await self.child.waitFor(rb"Listening for components on 127\.0\.0\.1:%d" % self.bad)
        self.alice = await self.component("alice.example.org")
        self.bob = await self.component("bob.example.org")
        self.exchanged = 0

    async def component(self, domain: str) -> ComponentClient:
        """
        A well-behaved component on the good listener.
        """
        client = ComponentClient(reactor, domain, PASSWORD)
        self.addCleanup(client.disconnect)
        return await client.connect(self.good)

    async def stillRouting(self) -> None:
        """
        A message from one good component reaches the other, and the answer
        comes back.
        """
        self.exchanged += 1
        n = self.exchanged
        self.alice.send(f"<message from='alice.example.org' to='bob.example.org' id='ok{n}'><body>hi</body></message>")
        message = await self.bob.next(lambda e: e.getAttribute("id") == f"ok{n}")
        self.bob.send(f"<message from='bob.example.org' to='alice.example.org' id='re{n}'/>")
        await self.alice.next(lambda e: e.getAttribute("id") == f"re{n}")
        self.assertEqual(str(message.body), "hi")

    async def raw(self) -> RawPeer:
        """
        A raw connection to the hostile listener.
        """
        peer = cast(
            RawPeer,
            await TCP4ClientEndpoint(reactor, "127.0.0.1", self.bad, timeout=PROCESS_TIMEOUT).connect(
                protocol.Factory.forProtocol(RawPeer)
            ),
        )

        def abort() -> defer.Deferred[None]:
            peer.transport.abortConnection()
            return peer.lost

        self.addCleanup(abort)
        return peer


class HostilePeerTests(HostileTestCase):
    """
    One kind of abuse per test; the good components route before, during
    and after.
    """

    async def test_slowLoris(self) -> None:
        """
        A header sent a few bytes at a time and never finished gets
        C{connection-timeout} when C{state_timeout} runs out.
        """
        await self.setUpRouter()
        peer = await self.raw()
        for chunk in (b"<?xml version='1.0'?>", b"<stream:stream xmlns='jabber:component:accept' ", b"to='x"):
            peer.transport.write(chunk)
            await self.stillRouting()
        await peer.lost
        self.assertEqual(peer.streamError(), "connection-timeout")
        await self.stillRouting()

    async def test_hugeStanza(self) -> None:
        """
        An authenticated component that starts a 100 MB stanza gets
        C{policy-violation} once it passes C{max_stanza_size}; the rest is
        never buffered.
        """
        await self.setUpRouter()
        peer = await self.raw()
        await peer.authenticate(b"huge.example.org")
        peer.transport.write(b"<message to='bob.example.org'><body>")
        chunk = b"x" * (1024 * 1024)
        sent = 0
        while sent < 100 * 1024 * 1024 and not peer.lost.called:
            peer.transport.write(chunk)
            sent += len(chunk)
            if peer.streamError() is None:
                await self.stillRouting()
            else:
                break
        await peer.lost
        self.assertEqual(peer.streamError(), "policy-violation")
        await self.stillRouting()

    async def test_billionLaughs(self) -> None:
        """
        A document with a DTD of nested entities gets C{restricted-xml}
        before a single entity is expanded.
        """
        await self.setUpRouter()
        peer = await self.raw()
        entities = b"".join(
            b"<!ENTITY lol%d '%s'>" % (i, b"&lol%d;" % (i - 1) * 10 if i else b"lol") for i in range(10)
        )
        peer.transport.write(b"<?xml version='1.0'?><!DOCTYPE lolz [" + entities + b"]><lolz>&lol9;</lolz>")
        await peer.lost
        self.assertEqual(peer.streamError(), "restricted-xml")
        await self.stillRouting()

    async def test_invalidUTF8(self) -> None:
        """
        Bytes that are not UTF-8 inside a stanza are C{not-well-formed}, and
        nothing of the stanza is routed.
        """
        await self.setUpRouter()
        peer = await self.raw()
        await peer.authenticate(b"broken.example.org")
        peer.transport.write(b"<message from='broken.example.org' to='bob.example.org' id='bad'><body>\xff\xfe</body></message>")
        await peer.lost
        self.assertEqual(peer.streamError(), "not-well-formed")
        await self.stillRouting()
        self.assertEqual([e for e in self.bob.received if e.getAttribute("id") == "bad"], [])

    async def test_componentThatNeverReads(self) -> None:
        """
        A component that stops reading while another floods it is cut off
        with C{policy-violation} once its backlog passes
        C{max_output_buffer}; the sender is not held up and keeps routing.
        """
        await self.setUpRouter()
        sink = await self.raw()
        await sink.authenticate(b"sink.example.org")
        sink.transport.pauseProducing()
        body = "x" * 16000
        for n in range(2000):
            self.alice.send(f"<message from='alice.example.org' to='sink.example.org' id='f{n}'><body>{body}</body></message>")
            if n % 200 == 0:
                await self.stillRouting()
        await self.child.waitFor(rb"Stream error policy-violation to 127\.0\.0\.1:\d+ \(sink\.example\.org\): More than 1000000 bytes")
        await self.stillRouting()
        sink.transport.resumeProducing()
        await sink.lost

    async def test_manyUnauthenticated(self) -> None:
        """
        2000 connections that never authenticate: those that find
        C{max_connections} (500) open get C{resource-constraint} at once,
        the others C{connection-timeout} at C{state_timeout}; the good
        components route throughout.
        """
        await self.setUpRouter()
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.bad, timeout=PROCESS_TIMEOUT)
        peers: list[RawPeer] = []
        for n in range(2000):
            peer = await endpoint.connect(protocol.Factory.forProtocol(RawPeer))
            peers.append(peer)  # type: ignore[arg-type]
            if n % 250 == 0:
                await self.stillRouting()
        try:
            await defer.gatherResults([p.lost.addTimeout(PROCESS_TIMEOUT, reactor) for p in peers])
        finally:
            for peer in peers:
                peer.transport.abortConnection()
        conditions = [p.streamError() for p in peers]
        # The first 500 are all accepted; which of the later ones find a
        # free place depends on how fast they connect, so only the sum and
        # the bounds are certain.
        refused, timedOut = conditions.count("resource-constraint"), conditions.count("connection-timeout")
        self.assertEqual(refused + timedOut, 2000, set(conditions))
        self.assertGreaterEqual(timedOut, 500)
        self.assertGreater(refused, 0)
        await self.stillRouting()


class TLSOverTCPTests(HostileTestCase):
    """
    Twisted's component client through a direct-TLS listener of the router
    process, with a certificate the test makes.
    """

    async def test_componentOverTLS(self) -> None:
        """
        The client checks the certificate against the test's CA, completes
        the handshake, and exchanges stanzas with a plain-TCP component.
        """
        ca = TestCA(self.mktemp())
        issued = ca.issue("localhost")
        tlsPort = freePort()
        await self.setUpRouter(
            f"""
[[listen.component]]
  port = {tlsPort}
  ip_address = "127.0.0.1"
  password = "{PASSWORD}"
  tls.certfile = "{issued.certificate}"
  tls.keyfile = "{issued.key}"
"""
        )
        with open(ca.path, "rb") as f:
            trust = Certificate.loadPEM(f.read())
        authenticated: defer.Deferred[xmlstream.XmlStream] = defer.Deferred()
        received: list[object] = []
        factory = component.componentFactory("secure.example.org", PASSWORD)
        factory.addBootstrap(xmlstream.STREAM_AUTHD_EVENT, authenticated.callback)
        factory.addBootstrap(
            xmlstream.STREAM_AUTHD_EVENT, lambda xs: xs.addObserver("/message", received.append)
        )
        endpoint = wrapClientTLS(
            optionsForClientTLS("localhost", trustRoot=trust),
            TCP4ClientEndpoint(reactor, "127.0.0.1", tlsPort, timeout=PROCESS_TIMEOUT),
        )
        await endpoint.connect(factory)
        xs = await authenticated.addTimeout(PROCESS_TIMEOUT, reactor)
        assert xs.transport is not None
        self.addCleanup(xs.transport.loseConnection)
        xs.send("<message from='secure.example.org' to='bob.example.org' id='tls1'><body>sealed</body></message>")
        message = await self.bob.next(lambda e: e.getAttribute("id") == "tls1")
        self.assertEqual(str(message.body), "sealed")


class ProxyProtocolTests(HostileTestCase):
    """
    A C{proxy_protocol} listener of the router process, configured in TOML.
    """

    async def test_garbageThenProxiedComponent(self) -> None:
        """
        A connection that starts with garbage instead of a PROXY header is
        closed without a traceback and the process keeps serving: a
        component behind a version 1 header authenticates, is logged with
        the address the header gives, and exchanges stanzas.
        """
        proxied = freePort()
        await self.setUpRouter(
            f"""
[[listen.component]]
  port = {proxied}
  ip_address = "127.0.0.1"
  password = "{PASSWORD}"
  proxy_protocol = true
"""
        )
        peer = cast(
            RawPeer,
            await TCP4ClientEndpoint(reactor, "127.0.0.1", proxied, timeout=PROCESS_TIMEOUT).connect(
                protocol.Factory.forProtocol(RawPeer)
            ),
        )
        peer.transport.write(HEADER % b"garbage.example.org")
        await peer.lost.addTimeout(PROCESS_TIMEOUT, reactor)
        self.assertEqual(bytes(peer.received), b"")
        client = ComponentClient(reactor, "proxied.example.org", PASSWORD)
        self.addCleanup(client.disconnect)
        await client.connect(proxied, wrap=behind(v1Header("203.0.113.7", 40001)))
        await self.child.waitFor(rb"proxied\.example\.org bound \(203\.0\.113\.7:40001\)")
        client.send("<message from='proxied.example.org' to='bob.example.org' id='px1'/>")
        await self.bob.next(lambda e: e.getAttribute("id") == "px1")
        await self.stillRouting()
        self.assertIn(b"not a PROXY protocol header", bytes(self.child.output))
        self.assertNotIn(b"Traceback", bytes(self.child.output))


def listeningAddresses(port: int) -> set[str]:
    """
    The local addresses of the sockets of this machine listening on TCP
    C{port}, read from the kernel's tables (C{/proc/net/tcp}, C{tcp6}).
    """
    found = set()
    for table, width in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            address, hexPort = local.split(":")
            if state != "0A" or int(hexPort, 16) != port:  # 0A: LISTEN
                continue
            # The kernel writes each 32-bit word of the address in host
            # (little-endian) order.
            raw = b"".join(bytes.fromhex(address[i : i + 8])[::-1] for i in range(0, len(address), 8))
            found.add(str(ipaddress.ip_address(raw if width == 16 else raw[:4])))
    return found


class DefaultAddressTests(HostileTestCase):
    """
    Where a listener binds when the configuration does not say.
    """

    async def test_tomlListenerBindsLoopback(self) -> None:
        """
        A MongooseIM-style listener without C{ip_address} listens on
        127.0.0.1 only (MongooseIM's own default is every address), as the
        kernel's socket table shows, and serves components there.
        """
        if not os.path.exists("/proc/net/tcp"):
            raise SkipTest("needs Linux's /proc/net/tcp to see where a socket listens")
        unset = freePort()
        await self.setUpRouter(f'\n[[listen.component]]\n  port = {unset}\n  password = "{PASSWORD}"\n')
        await self.child.waitFor(rb"Listening for components on 127\.0\.0\.1:%d" % unset)
        self.assertEqual(listeningAddresses(unset), {"127.0.0.1"})
        carol = ComponentClient(reactor, "carol.example.org", PASSWORD)
        self.addCleanup(carol.disconnect)
        await carol.connect(unset)
        carol.send("<message from='carol.example.org' to='bob.example.org' id='lo1'><body>local</body></message>")
        message = await self.bob.next(lambda e: e.getAttribute("id") == "lo1")
        self.assertEqual(str(message.body), "local")
