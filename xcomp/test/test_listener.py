"""
Tests for L{xcomp.listener}: the XEP-0114 stream header and handshake, on
L{StringTransport}, plus Twisted's own component client joined to the
listener in memory.  What a bound stream does is tested in
L{xcomp.test.test_listener_bound}, how its writes are gathered in
L{xcomp.test.test_listener_outbox}.
"""

from __future__ import annotations

from twisted.logger import capturedLogs, formatEvent
from twisted.test.iosim import connectedServerAndClient
from twisted.trial.unittest import SynchronousTestCase
from twisted.words.protocols.jabber import component, xmlstream
from twisted.words.xish import domish

from xcomp.listener import handshakeDigest
from xcomp.test.listenerhelpers import HEADER, SECRET, ListenerTestsMixin, streamId


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
