"""
Tests for L{xcomp.listener}: the XEP-0114 header, the handshake, conflicts
and stream errors, on L{StringTransport}, plus Twisted's own component client
joined to the listener in memory.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import formatEvent
from twisted.logger import capturedLogs
from twisted.test.iosim import connectedServerAndClient
from twisted.trial.unittest import SynchronousTestCase
from twisted.words.protocols.jabber import component, xmlstream
from twisted.words.xish import domish

from xcomp.listener import ComponentListenerFactory, ComponentStream, handshakeDigest
from xcomp.router import Router
from xcomp.test.helpers import FakeRoute, makeConfig, stanza

HEADER = (
    "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
    "xmlns:stream='http://etherx.jabber.org/streams' to='%s'>"
)
SECRET = "s3cr\u00e9t-value"


def streamId(data: bytes) -> str:
    match = re.search(rb"<stream:stream [^>]*id='([^']+)'", data)
    assert match is not None, data
    return match.group(1).decode("ascii")


def streamError(data: bytes) -> str | None:
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
    def setUp(self) -> None:
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
        return connectTo(self.factory)

    def authenticate(
        self, domain: str = "a.example", secret: str = SECRET
    ) -> tuple[ComponentStream, StringTransport]:
        return authenticateTo(self.factory, domain, secret)

    def assertStreamError(self, transport: StringTransport, condition: str) -> None:
        data = transport.value()
        self.assertEqual(streamError(data), condition, data)
        self.assertTrue(data.endswith(b"</stream:error></stream:stream>"), data)
        self.assertTrue(transport.disconnecting)


class HeaderTests(ListenerTestsMixin, SynchronousTestCase):
    """
    The stream header.
    """

    def test_headerAnswered(self) -> None:
        """
        A header for a configured component is answered with ours, from that
        domain, in the component namespace, with a stream id.
        """
        stream, transport = self.connect()
        stream.dataReceived((HEADER % "a.example").encode())
        data = transport.value()
        self.assertTrue(data.startswith(b"<?xml version='1.0'?><stream:stream "))
        self.assertIn(b"xmlns='jabber:component:accept'", data)
        self.assertIn(b"from='a.example'", data)
        self.assertEqual(len(streamId(data)), 32)
        self.assertFalse(transport.disconnecting)

    def test_freshStreamIds(self) -> None:
        """
        Every stream gets its own unpredictable id.
        """
        ids = set()
        for _ in range(20):
            stream, transport = self.connect()
            stream.dataReceived((HEADER % "a.example").encode())
            ids.add(streamId(transport.value()))
        self.assertEqual(len(ids), 20)

    def test_headerDomainIsPrepared(self) -> None:
        """
        The header's C{to} is compared after nameprep.
        """
        stream, transport = self.connect()
        stream.dataReceived((HEADER % "A.Example").encode())
        self.assertIn(b"from='a.example'", transport.value())
        self.assertFalse(transport.disconnecting)

    def test_wrongDefaultNamespace(self) -> None:
        """
        A header in any namespace but C{jabber:component:accept} gets
        C{invalid-namespace}, after our own header.
        """
        stream, transport = self.connect()
        stream.dataReceived((HEADER % "a.example").replace("component:accept", "client").encode())
        self.assertTrue(transport.value().startswith(b"<?xml version='1.0'?><stream:stream "))
        self.assertStreamError(transport, "invalid-namespace")

    def test_wrongStreamNamespace(self) -> None:
        """
        A root element that is not C{stream:stream} in the streams namespace
        gets C{invalid-namespace}.
        """
        stream, transport = self.connect()
        stream.dataReceived(b"<stream:stream xmlns='jabber:component:accept' xmlns:stream='urn:x' to='a.example'>")
        self.assertStreamError(transport, "invalid-namespace")

    def test_missingTo(self) -> None:
        """
        A header without C{to} gets C{improper-addressing}.
        """
        stream, transport = self.connect()
        stream.dataReceived((HEADER % "x").replace(" to='x'", "").encode())
        self.assertStreamError(transport, "improper-addressing")

    def test_unknownDomain(self) -> None:
        """
        A domain that is not a configured component gets C{host-unknown}.
        """
        stream, transport = self.connect()
        stream.dataReceived((HEADER % "nowhere.example").encode())
        self.assertStreamError(transport, "host-unknown")
        self.assertNotIn(b"from='nowhere.example'", transport.value())

    def test_virtualHostIsNotAComponent(self) -> None:
        """
        A VirtualHost's domain cannot be bound by a component.
        """
        stream, transport = self.connect()
        stream.dataReceived((HEADER % "example.org").encode())
        self.assertStreamError(transport, "host-unknown")

    def test_invalidDomain(self) -> None:
        """
        A C{to} that is not a valid domain gets C{host-unknown}.
        """
        stream, transport = self.connect()
        stream.dataReceived((HEADER % "a b").encode())
        self.assertStreamError(transport, "host-unknown")

    def test_notWellFormedBeforeHeader(self) -> None:
        """
        Garbage instead of a header is C{not-well-formed}, after our header.
        """
        stream, transport = self.connect()
        stream.dataReceived(b"GET / HTTP/1.1\r\n\r\n")
        self.assertTrue(transport.value().startswith(b"<?xml"))
        self.assertStreamError(transport, "not-well-formed")

    def test_restrictedXml(self) -> None:
        """
        A DTD (the start of a billion-laughs attack) is C{restricted-xml}.
        """
        stream, transport = self.connect()
        stream.dataReceived(b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'>]>")
        self.assertStreamError(transport, "restricted-xml")


class HandshakeTests(ListenerTestsMixin, SynchronousTestCase):
    """
    The XEP-0114 handshake.
    """

    def test_handshakeBindsDomain(self) -> None:
        """
        A correct handshake is answered with an empty C{<handshake/>} and the
        stream is bound as the domain's route.
        """
        stream, transport = self.authenticate()
        self.assertEqual(transport.value(), b"<handshake/>")
        self.assertIs(self.router.lookup("a.example"), stream)
        self.assertEqual(stream.domains, frozenset({"a.example"}))

    def test_handshakeIsCaseInsensitive(self) -> None:
        """
        An upper-case hex digest, with surrounding whitespace, is accepted.
        """
        stream, transport = self.connect()
        stream.dataReceived((HEADER % "a.example").encode())
        digest = handshakeDigest(streamId(transport.value()), SECRET).upper()
        transport.clear()
        stream.dataReceived(b"<handshake>\n " + digest + b" </handshake>")
        self.assertEqual(transport.value(), b"<handshake/>")

    def test_handshakeInOtherForms(self) -> None:
        """
        A digest written with a CDATA section or character references is
        read from the element (the plain form is read from the bytes).
        """
        for wrap in (
            lambda d: b"<handshake><![CDATA[" + d + b"]]></handshake>",
            lambda d: b"<handshake>&#x" + b"%x" % d[0] + b";" + d[1:] + b"</handshake>",
        ):
            stream, transport = self.connect()
            stream.dataReceived((HEADER % "a.example").encode())
            digest = handshakeDigest(streamId(transport.value()), SECRET)
            transport.clear()
            stream.dataReceived(wrap(digest))
            self.assertEqual(transport.value(), b"<handshake/>")
            stream.connectionLost()

    def test_wrongSecret(self) -> None:
        """
        A digest made with another secret gets C{not-authorized}, the stream
        is closed and nothing is bound.
        """
        stream, transport = self.authenticate(secret="wrong")
        self.assertStreamError(transport, "not-authorized")
        self.assertIsNone(self.router.lookup("a.example"))

    def test_nonAsciiHandshake(self) -> None:
        """
        A handshake with non-ASCII text is refused, not a crash.
        """
        stream, transport = self.connect()
        stream.dataReceived((HEADER % "a.example").encode())
        transport.clear()
        stream.dataReceived("<handshake>\u00e9\u00e9</handshake>".encode())
        self.assertStreamError(transport, "not-authorized")

    def test_stanzaBeforeHandshakeIsNotRouted(self) -> None:
        """
        A stanza before the handshake is never routed: the stream is closed
        with C{not-authorized}.
        """
        b, bTransport = self.authenticate("b.example", "other")
        bTransport.clear()
        stream, transport = self.connect()
        stream.dataReceived((HEADER % "a.example").encode())
        stream.dataReceived(b"<message from='a.example' to='b.example'/>")
        self.assertStreamError(transport, "not-authorized")
        self.assertEqual(bTransport.value(), b"")

    def test_secretNeverLogged(self) -> None:
        """
        Neither the secret nor a digest appears in any log event of a failed
        or successful handshake.
        """
        with capturedLogs() as events:
            self.authenticate(secret="wrong")
            stream, transport = self.authenticate()
        self.assertTrue(events)
        for event in events:
            text = formatEvent(event) + repr(event)
            self.assertNotIn(SECRET, text)
            self.assertNotIn("wrong", text)
            self.assertNotIn(handshakeDigest(stream.streamId, SECRET).decode(), text)

    def test_streamErrorLogged(self) -> None:
        """
        A stream error is logged once with its condition and the peer.
        """
        with capturedLogs() as events:
            self.authenticate(secret="wrong")
        [event] = [e for e in events if "condition" in e]
        self.assertEqual(event["condition"], "not-authorized")
        self.assertEqual(event["peer"], "127.0.0.1:40000")


class BoundStreamTests(ListenerTestsMixin, SynchronousTestCase):
    """
    A bound stream: routing, keepalives, limits and the end of the stream.
    """

    def test_routesBetweenComponents(self) -> None:
        """
        A stanza from one bound component reaches the other as the bytes sent.
        """
        a, aTransport = self.authenticate()
        b, bTransport = self.authenticate("b.example", "other")
        bTransport.clear()
        data = b"<message from='a.example' to='u@b.example' id='1'><body>hi</body></message>"
        a.dataReceived(data)
        self.assertEqual(bTransport.value(), data)

    def test_whitespaceKeepalive(self) -> None:
        """
        Whitespace between stanzas is accepted and ignored.
        """
        a, transport = self.authenticate()
        transport.clear()
        a.dataReceived(b" \n\t \n")
        self.assertEqual(transport.value(), b"")
        self.assertFalse(transport.disconnecting)

    def test_streamEnd(self) -> None:
        """
        C{</stream:stream>} is answered with ours, the connection is closed
        and the domain unbound.
        """
        a, transport = self.authenticate()
        transport.clear()
        a.dataReceived(b"</stream:stream>")
        self.assertEqual(transport.value(), b"</stream:stream>")
        self.assertTrue(transport.disconnecting)
        self.assertIsNone(self.router.lookup("a.example"))

    def test_connectionLostUnbinds(self) -> None:
        """
        A dropped connection unbinds its domain.
        """
        a, transport = self.authenticate()
        a.connectionLost()
        self.assertIsNone(self.router.lookup("a.example"))
        self.assertNotIn(a, self.factory.streams)

    def test_notWellFormed(self) -> None:
        """
        Malformed XML from a bound component is C{not-well-formed}, and it is
        unbound.
        """
        a, transport = self.authenticate()
        a.dataReceived(b"<message to='b.example'></presence>")
        self.assertStreamError(transport, "not-well-formed")
        self.assertIsNone(self.router.lookup("a.example"))

    def test_stanzaTooLarge(self) -> None:
        """
        A stanza over the component's C{component_stanza_size_limit} is
        C{policy-violation}, before it ends.
        """
        small, transport = self.authenticate("small.example")
        small.dataReceived(b"<message to='a.example'><body>" + b"x" * 300)
        self.assertStreamError(transport, "policy-violation")

    def test_notAStanza(self) -> None:
        """
        A top-level element that is not a stanza is C{unsupported-stanza-type}.
        """
        a, transport = self.authenticate()
        a.dataReceived(b"<handshake>again</handshake>")
        self.assertStreamError(transport, "unsupported-stanza-type")

    def test_invalidFromClosesStream(self) -> None:
        """
        A C{from} outside the component's domain ends its stream with
        C{invalid-from}; the stanza is not delivered.
        """
        a, aTransport = self.authenticate()
        b, bTransport = self.authenticate("b.example", "other")
        bTransport.clear()
        a.dataReceived(b"<message from='b.example' to='b.example'/>")
        self.assertStreamError(aTransport, "invalid-from")
        self.assertEqual(bTransport.value(), b"")

    def test_nothingProcessedAfterStreamError(self) -> None:
        """
        Stanzas that arrive in the same read after a stream error are not
        routed.
        """
        a, aTransport = self.authenticate()
        b, bTransport = self.authenticate("b.example", "other")
        bTransport.clear()
        a.dataReceived(
            b"<message from='b.example' to='b.example'/><message from='a.example' to='b.example'/>"
        )
        self.assertEqual(bTransport.value(), b"")

    def test_bugIsInternalServerError(self) -> None:
        """
        An unexpected exception while processing a read is logged with its
        traceback and ends that stream with C{internal-server-error}; other
        streams are unaffected.
        """
        a, aTransport = self.authenticate()
        b, bTransport = self.authenticate("b.example", "other")

        def broken(source: object, stanza: object) -> None:
            raise RuntimeError("a bug")

        self.router.receive = broken  # type: ignore[method-assign]
        a.dataReceived(b"<message from='a.example' to='b.example'/>")
        self.assertStreamError(aTransport, "internal-server-error")
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertFalse(bTransport.disconnecting)

    def test_kickNew(self) -> None:
        """
        With C{kick_new} (the default), a second stream for a bound domain
        gets C{conflict}; the first keeps its binding.
        """
        first, firstTransport = self.authenticate()
        second, secondTransport = self.authenticate()
        self.assertStreamError(secondTransport, "conflict")
        self.assertIs(self.router.lookup("a.example"), first)
        self.assertFalse(firstTransport.disconnecting)

    def test_kickOld(self) -> None:
        """
        With C{kick_old}, the first stream gets C{conflict} and is closed, and
        the second is bound; stanzas go only to the second.
        """
        first, firstTransport = self.authenticate("old.example")
        second, secondTransport = self.authenticate("old.example")
        self.assertStreamError(firstTransport, "conflict")
        self.assertEqual(secondTransport.value(), b"<handshake/>")
        self.assertIs(self.router.lookup("old.example"), second)
        firstTransport.clear()
        secondTransport.clear()
        b, _ = self.authenticate("b.example", "other")
        b.dataReceived(b"<message from='b.example' to='old.example'/>")
        self.assertEqual(firstTransport.value(), b"")
        self.assertEqual(secondTransport.value(), b"<message from='b.example' to='old.example'/>")

    def test_shutdown(self) -> None:
        """
        Shutting down ends every stream, authenticated or not, with
        C{system-shutdown}.
        """
        a, aTransport = self.authenticate()
        pending, pendingTransport = self.connect()
        d = self.factory.shutdown()
        self.assertStreamError(aTransport, "system-shutdown")
        self.assertStreamError(pendingTransport, "system-shutdown")
        self.assertNoResult(d)
        a.connectionLost()
        pending.connectionLost()
        self.successResultOf(d)


class CountingTransport(StringTransport):
    """
    A transport that counts the calls that wrote to it.
    """

    writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        super().write(data)

    def writeSequence(self, data: list[bytes]) -> None:
        self.writes += 1
        super().write(b"".join(data))


class OutboxTests(ListenerTestsMixin, SynchronousTestCase):
    """
    Writes are gathered per destination while a read is processed.
    """

    def test_oneWritePerDestinationPerRead(self) -> None:
        """
        The stanzas one read routes to a component reach it in one write, in
        order.
        """
        a, _ = self.authenticate()
        b, _ = self.authenticate("b.example", "other")
        counting = CountingTransport()
        b.transport = counting  # type: ignore[assignment]  # in place of a TCP transport
        data = b"".join(
            b"<message from='a.example' to='b.example' id='%d'/>" % n for n in range(50)
        )
        a.dataReceived(data)
        self.assertEqual(counting.value(), data)
        self.assertEqual(counting.writes, 1)

    def test_writeAtOnceOutsideARead(self) -> None:
        """
        A stanza routed outside any read (from inside the process) is written
        at once.
        """
        a, transport = self.authenticate()
        transport.clear()
        self.router.route(stanza("<message from='b.example' to='a.example'/>"))
        self.assertEqual(transport.value(), b"<message from='b.example' to='a.example'/>")

    def test_gatheredStanzasPrecedeStreamError(self) -> None:
        """
        Stanzas gathered for a stream that is closed in the same read are
        written before its stream error, never after.
        """
        a, transport = self.authenticate()
        transport.clear()
        self.factory.outbox.depth += 1
        a.send(stanza("<message from='b.example' to='a.example' id='1'/>"))
        a.close("system-shutdown")
        self.factory.outbox.depth -= 1
        self.factory.outbox.flush()
        data = transport.value()
        self.assertTrue(data.startswith(b"<message from='b.example' to='a.example' id='1'/><stream:error>"))
        self.assertEqual(data.count(b"<message"), 1)

    def test_gatheredStanzasPrecedeStreamEnd(self) -> None:
        """
        A component that sends to itself and then ends its stream in one read
        gets its stanza before our closing tag.
        """
        a, transport = self.authenticate()
        transport.clear()
        a.dataReceived(b"<message from='a.example' to='a.example'/></stream:stream>")
        self.assertEqual(
            transport.value(), b"<message from='a.example' to='a.example'/></stream:stream>"
        )


class FastPathTests(ListenerTestsMixin, SynchronousTestCase):
    """
    Ordinary traffic never builds a DOM (ARCHITECTURE.md, decision 1).
    """

    def test_ordinaryStanzasStayBytes(self) -> None:
        """
        Messages, presences and iqs between components, with or without a
        C{from}, to bare or full JIDs, reach the destination route as the
        bytes received, and no element is ever built for them.
        """
        a, _ = self.authenticate()
        b = FakeRoute("b.example")
        self.router.bind("b.example", b)
        inputs = [
            b"<message from='a.example' to='b.example' id='1'><body>hi</body></message>",
            b"<message from='u@a.example/r' to='v@b.example/s' type='chat'><body>x</body></message>",
            b"<presence from='a.example' to='b.example'><show>away</show></presence>",
            b"<iq from='a.example' to='b.example' type='get' id='q'><ping xmlns='urn:xmpp:ping'/></iq>",
            b"<message to='b.example'><body>no from</body></message>",
        ]
        a.dataReceived(b"".join(inputs))
        self.assertEqual(len(b.sent), len(inputs))
        for received, sent in zip(b.sent, inputs):
            self.assertIsNone(received._element, f"a DOM was built for {sent!r}")
            self.assertIsNotNone(received.raw)
        self.assertEqual([s.raw for s in b.sent[:4]], inputs[:4])
        self.assertEqual(b.sent[4].raw, b"<message from='a.example' to='b.example'><body>no from</body></message>")


class TwistedClientTests(ListenerTestsMixin, SynchronousTestCase):
    """
    Twisted's own XEP-0114 component client against the listener, in memory.
    """

    def test_twistedComponentAuthenticates(self) -> None:
        """
        Twisted's C{ConnectComponentAuthenticator} completes the handshake,
        and a message from another component reaches it.
        """
        authenticated: list[xmlstream.XmlStream] = []
        received: list[domish.Element] = []

        def makeClient() -> xmlstream.XmlStream:
            factory = component.componentFactory("a.example", SECRET)
            factory.addBootstrap(xmlstream.STREAM_AUTHD_EVENT, authenticated.append)
            factory.addBootstrap(
                xmlstream.STREAM_AUTHD_EVENT,
                lambda xs: xs.addObserver("/message", received.append),
            )
            return factory.buildProtocol(None)

        client, server, pump = connectedServerAndClient(
            lambda: self.factory.buildProtocol(None), makeClient, greet=False, clock=self.clock
        )
        pump.flush()
        self.assertEqual(len(authenticated), 1)
        self.assertIs(self.router.lookup("a.example"), server)
        b, _ = self.authenticate("b.example", "other")
        b.dataReceived(b"<message from='b.example' to='a.example'><body>hello</body></message>")
        pump.flush()
        [message] = received
        self.assertEqual(str(message.body), "hello")
