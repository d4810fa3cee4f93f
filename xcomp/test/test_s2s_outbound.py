# -*- test-case-name: xcomp.test.test_s2s_outbound -*-
"""
Tests for L{xcomp.s2s.outbound}: one outgoing stream's negotiation, as
the initiating server, over a L{StringTransport}; and the stanza bytes
that go on it (L{xcomp.s2s.outboundtypes.wireBytes}).
"""

from __future__ import annotations

import base64
from typing import Any

from twisted.internet.interfaces import IPushProducer
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.words.xish import domish

from xcomp.s2s.dialback import DialbackSecret
from xcomp.s2s.outbound import OutboundStream
from xcomp.s2s.outboundtypes import Policy, wireBytes
from xcomp.stanza import COMPONENT_NS, Stanza
from xcomp.test.helpers import stanza
from xcomp.test.s2southelpers import (
    LOCAL,
    PROCEED,
    REMOTE,
    SASL_FAILURE,
    SASL_SUCCESS,
    FakeTLS,
    TLSStringTransport,
    dialbackAnswer,
    features,
    remoteHeader,
)


class RecordingOwner:
    """
    An L{IOutboundOwner} that records what the stream tells it.
    """

    def __init__(self) -> None:
        self.ready: list[OutboundStream] = []
        self.dialbackOpened = 0
        self.verdicts: list[tuple[str, str, str, bool]] = []
        self.lost: list[str] = []

    def streamReady(self, stream: OutboundStream) -> None:
        self.ready.append(stream)

    def dialbackOpen(self, stream: OutboundStream) -> None:
        self.dialbackOpened += 1

    def verifyAnswered(self, sender: str, recipient: str, streamID: str, valid: bool) -> None:
        self.verdicts.append((sender, recipient, streamID, valid))

    def streamLost(self, stream: OutboundStream, reason: str) -> None:
        self.lost.append(reason)


class OutboundStreamTests(SynchronousTestCase):
    """
    L{OutboundStream} negotiates TLS, then SASL EXTERNAL or dialback.
    """

    def connect(
        self, tls: FakeTLS | None = None, directTLS: bool = False, **policy: object
    ) -> OutboundStream:
        """
        A stream from LOCAL to REMOTE on a fresh transport (C{self.tr}).
        """
        self.owner = RecordingOwner()
        self.clock = Clock()
        self.tls = tls or FakeTLS()
        self.secret = DialbackSecret("s3cret")
        stream = OutboundStream(
            self.owner,
            Policy(LOCAL, REMOTE, **policy),  # type: ignore[arg-type]
            self.tls,
            self.secret,
            self.clock,
            directTLS=directTLS,
            address="127.0.2.9:5269",
        )
        self.tr = TLSStringTransport()
        stream.makeConnection(self.tr)
        return stream

    def take(self) -> bytes:
        """
        What the stream wrote since the last call.
        """
        data = self.tr.value()
        self.tr.clear()
        return data

    def throughTLS(self, stream: OutboundStream, streamID: str = "s2") -> None:
        """
        Take the stream through STARTTLS up to the features after it.
        """
        self.take()
        stream.dataReceived(remoteHeader("s1") + features(starttls=True))
        self.assertIn(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", self.take())
        stream.dataReceived(PROCEED)
        self.assertEqual(self.tr.tlsStarted, ("creator", LOCAL, REMOTE))
        self.assertIn(b"<stream:stream", self.take())
        stream.dataReceived(remoteHeader(streamID))

    def assertClosedWith(self, condition: str) -> None:
        """
        The stream ended with a stream error of C{condition}.
        """
        data = self.tr.value()
        self.assertIn(b"<stream:error><%s " % condition.encode(), data)
        self.assertTrue(data.endswith(b"</stream:stream>"))
        self.assertTrue(self.tr.disconnecting)

    def test_header(self) -> None:
        """
        The stream opens with a jabber:server header from the local domain
        to the remote one, declaring dialback's namespace, version 1.0.
        """
        self.connect()
        header = self.take()
        self.assertTrue(header.startswith(b"<?xml version='1.0'?><stream:stream "))
        for part in (
            b"xmlns='jabber:server'",
            b"xmlns:stream='http://etherx.jabber.org/streams'",
            b"xmlns:db='jabber:server:dialback'",
            b"from='comp.example.org'",
            b"to='remote.example'",
            b"version='1.0'",
        ):
            self.assertIn(part, header)

    def test_starttlsThenDialback(self) -> None:
        """
        STARTTLS first; after it, the dialback key of the new stream's id
        is sent in db:result, and a valid answer makes the stream ready.
        """
        stream = self.connect()
        self.throughTLS(stream, "s2")
        stream.dataReceived(features(dialback=True))
        key = self.secret.key(REMOTE, LOCAL, "s2")
        self.assertEqual(
            self.take(),
            b"<db:result from='comp.example.org' to='remote.example'>%s</db:result>" % key.encode(),
        )
        self.assertEqual(self.owner.ready, [])
        self.assertEqual(self.owner.dialbackOpened, 1)
        stream.dataReceived(dialbackAnswer("valid"))
        self.assertEqual(self.owner.ready, [stream])
        self.assertEqual((stream.method, stream.encrypted, stream.certificateValid), ("dialback", True, True))

    def test_saslExternal(self) -> None:
        """
        With a certificate of our own, SASL EXTERNAL is used when offered,
        with the local domain as authorization identity; success restarts
        the stream, whose features make it ready.
        """
        stream = self.connect(offerCertificate=True)
        self.throughTLS(stream)
        stream.dataReceived(features(external=True))
        self.assertEqual(
            self.take(),
            b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>%s</auth>"
            % base64.b64encode(LOCAL.encode()),
        )
        stream.dataReceived(SASL_SUCCESS)
        self.assertIn(b"<stream:stream", self.take())
        self.assertEqual(self.owner.ready, [])
        stream.dataReceived(remoteHeader("s3") + features(dialback=False))
        self.assertEqual(self.owner.ready, [stream])
        self.assertEqual(stream.method, "sasl")

    def test_saslWithoutCertificate(self) -> None:
        """
        Without a certificate for the local domain, EXTERNAL is not tried:
        dialback is.
        """
        stream = self.connect(offerCertificate=False)
        self.throughTLS(stream)
        stream.dataReceived(features(external=True))
        self.assertIn(b"<db:result ", self.take())

    def test_saslFailureThenDialback(self) -> None:
        """
        When the remote refuses our certificate, dialback follows on the
        same stream.
        """
        stream = self.connect(offerCertificate=True)
        self.throughTLS(stream, "s2")
        stream.dataReceived(features(external=True))
        self.take()
        stream.dataReceived(SASL_FAILURE)
        key = self.secret.key(REMOTE, LOCAL, "s2")
        self.assertIn(b">%s</db:result>" % key.encode(), self.take())
        stream.dataReceived(dialbackAnswer())
        self.assertEqual(stream.method, "dialback")

    def test_encryptionRequired(self) -> None:
        """
        A remote that offers no STARTTLS when encryption is required gets
        policy-violation, and the stream never becomes ready.
        """
        stream = self.connect(requireEncryption=True)
        self.take()
        stream.dataReceived(remoteHeader() + features())
        self.assertClosedWith("policy-violation")
        stream.connectionLost(Failure(ConnectionError()))
        self.assertEqual(self.owner.ready, [])
        self.assertEqual(len(self.owner.lost), 1)
        self.assertIn("policy-violation", self.owner.lost[0])

    def test_plaintextAllowed(self) -> None:
        """
        With C{s2s_require_encryption = false}, a remote without STARTTLS
        gets dialback in the clear.
        """
        stream = self.connect(requireEncryption=False)
        self.take()
        stream.dataReceived(remoteHeader("s1") + features())
        self.assertIn(b">%s</db:result>" % self.secret.key(REMOTE, LOCAL, "s1").encode(), self.take())
        self.assertIsNone(self.tr.tlsStarted)
        stream.dataReceived(dialbackAnswer())
        self.assertEqual((stream.method, stream.encrypted), ("dialback", False))

    def test_preRFC6120Server(self) -> None:
        """
        A remote header without version 1.0 announces no features: dialback
        follows at once when plaintext is allowed, and the stream is
        refused when encryption is required.
        """
        stream = self.connect(requireEncryption=False)
        self.take()
        stream.dataReceived(remoteHeader("old", version=None))
        self.assertIn(b"<db:result ", self.take())
        stream = self.connect(requireEncryption=True)
        self.take()
        stream.dataReceived(remoteHeader("old", version=None))
        self.assertClosedWith("policy-violation")

    def test_invalidCertificateSecureAuth(self) -> None:
        """
        When secure auth applies to the remote, a certificate that is not
        valid for it ends the stream before any authentication.
        """
        stream = self.connect(FakeTLS(valid=False), requireValidCertificate=True)
        self.throughTLS(stream)
        self.assertClosedWith("policy-violation")
        self.assertNotIn(b"db:result", self.tr.value())

    def test_invalidCertificateDialback(self) -> None:
        """
        Without secure auth, a remote whose certificate does not validate
        is still authenticated with dialback (over TLS).
        """
        stream = self.connect(FakeTLS(valid=False))
        self.throughTLS(stream)
        stream.dataReceived(features())
        self.assertIn(b"<db:result ", self.take())
        stream.dataReceived(dialbackAnswer())
        self.assertEqual((stream.method, stream.certificateValid), ("dialback", False))

    def test_secureAuthNeedsTLS(self) -> None:
        """
        Secure auth without any TLS offered is refused even when
        plaintext is otherwise allowed.
        """
        stream = self.connect(requireEncryption=False, requireValidCertificate=True)
        self.take()
        stream.dataReceived(remoteHeader() + features())
        self.assertClosedWith("policy-violation")

    def test_dialbackRefused(self) -> None:
        """
        A db:result of type invalid ends the stream; it never becomes
        ready.
        """
        stream = self.connect(requireEncryption=False)
        stream.dataReceived(remoteHeader() + features())
        stream.dataReceived(dialbackAnswer("invalid"))
        self.assertEqual(self.owner.ready, [])
        self.assertTrue(self.tr.value().endswith(b"</stream:stream>"))
        self.assertTrue(self.tr.disconnecting)
        stream.connectionLost(Failure(ConnectionError()))
        self.assertIn("invalid", self.owner.lost[0])

    def test_dialbackAnswerForOtherDomains(self) -> None:
        """
        A dialback answer about another pair of domains is invalid-from.
        """
        stream = self.connect(requireEncryption=False)
        stream.dataReceived(remoteHeader() + features())
        self.take()
        stream.dataReceived(dialbackAnswer("valid", sender="evil.example"))
        self.assertClosedWith("invalid-from")
        self.assertEqual(self.owner.ready, [])

    def test_directTLS(self) -> None:
        """
        For an XEP-0368 target, TLS starts before our header is written.
        """
        self.connect(directTLS=True)
        self.assertEqual(self.tr.tlsStarted, ("creator", LOCAL, REMOTE))
        self.assertIn(b"<stream:stream", self.take())

    def test_directTLSThenDialback(self) -> None:
        """
        Over direct TLS the first features may lead straight to dialback,
        with the remote's certificate already judged.
        """
        stream = self.connect(directTLS=True)
        self.take()
        stream.dataReceived(remoteHeader("d1") + features())
        self.assertIn(b">%s</db:result>" % self.secret.key(REMOTE, LOCAL, "d1").encode(), self.take())
        self.assertTrue(stream.certificateValid)

    def test_stanzaRefused(self) -> None:
        """
        The outgoing stream is one-way: a stanza from the remote on it,
        before or after authentication, ends it with
        unsupported-stanza-type.
        """
        for ready in (False, True):
            stream = self.connect(requireEncryption=False)
            stream.dataReceived(remoteHeader() + features())
            if ready:
                stream.dataReceived(dialbackAnswer())
            self.take()
            stream.dataReceived(
                b"<message from='a@remote.example' to='comp.example.org'><body>x</body></message>"
            )
            self.assertClosedWith("unsupported-stanza-type")

    def test_verifyRequest(self) -> None:
        """
        A db:verify is written with its values escaped, and the remote's
        answer is reported with its verdict.
        """
        stream = self.connect(requireEncryption=False)
        stream.dataReceived(remoteHeader() + features())
        self.take()
        stream.sendVerify(LOCAL, REMOTE, "i'd", "k<e>y")
        self.assertEqual(
            self.take(),
            b"<db:verify from='comp.example.org' to='remote.example' id='i&apos;d'>k&lt;e&gt;y</db:verify>",
        )
        answer = b"<db:verify from='remote.example' to='comp.example.org' id='%s' type='%s'/>"
        stream.dataReceived(answer % (b"x1", b"valid"))
        stream.dataReceived(answer % (b"x2", b"invalid"))
        self.assertEqual(
            self.owner.verdicts, [(REMOTE, LOCAL, "x1", True), (REMOTE, LOCAL, "x2", False)]
        )

    def test_wrongNamespace(self) -> None:
        """
        A remote whose stream is not jabber:server gets invalid-namespace.
        """
        stream = self.connect()
        self.take()
        stream.dataReceived(
            b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
            b" id='a' version='1.0'>"
        )
        self.assertClosedWith("invalid-namespace")

    def test_streamErrorFromRemote(self) -> None:
        """
        A stream error from the remote closes our stream; the reason the
        owner hears names its condition.
        """
        stream = self.connect()
        stream.dataReceived(
            remoteHeader()
            + b"<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"
        )
        self.assertTrue(self.tr.value().endswith(b"</stream:stream>"))
        self.assertTrue(self.tr.disconnecting)
        stream.connectionLost(Failure(ConnectionError()))
        self.assertEqual(self.owner.lost, ["stream error from the remote: host-unknown"])

    def test_limits(self) -> None:
        """
        What the remote sends is parsed with the component port's
        protections: the size cap (policy-violation) and restricted XML.
        """
        stream = self.connect(stanzaSizeLimit=1000)
        stream.dataReceived(remoteHeader() + b"<stream:features>" + b" " * 2000)
        self.assertClosedWith("policy-violation")
        stream = self.connect()
        stream.dataReceived(remoteHeader() + b"<!-- hello -->")
        self.assertClosedWith("restricted-xml")

    def test_notWellFormed(self) -> None:
        """
        Broken XML is not-well-formed.
        """
        stream = self.connect()
        stream.dataReceived(remoteHeader() + b"<stream:features></wrong>")
        self.assertClosedWith("not-well-formed")

    def test_tlsRefused(self) -> None:
        """
        A STARTTLS failure ends the stream without making it ready.
        """
        stream = self.connect()
        stream.dataReceived(remoteHeader() + features(starttls=True))
        stream.dataReceived(b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        self.assertTrue(self.tr.disconnecting)
        stream.connectionLost(Failure(ConnectionError()))
        self.assertEqual(self.owner.ready, [])
        self.assertIn("STARTTLS", self.owner.lost[0])

    def producer(self) -> IPushProducer:
        """
        The producer the stream registered with its transport, which
        Twisted pauses when the socket's buffer is full.
        """
        producer = self.tr.producer
        assert IPushProducer.providedBy(producer)
        return producer

    def ready(self, **policy: Any) -> OutboundStream:
        """
        A stream authenticated with dialback in the clear.
        """
        stream = self.connect(requireEncryption=False, **policy)
        stream.dataReceived(remoteHeader() + features())
        stream.dataReceived(dialbackAnswer())
        self.take()
        return stream

    def test_outputBound(self) -> None:
        """
        While the socket's buffer is full, what waits for the remote is
        bounded by C{maxOutput}: past it the connection is dropped at once.
        """
        stream = self.ready(maxOutput=100)
        self.producer().pauseProducing()
        stream.write(b"x" * 60)
        self.assertFalse(self.tr.aborted)
        stream.write(b"y" * 60)
        self.assertTrue(self.tr.aborted)
        self.assertEqual(self.take(), b"x" * 60)
        stream.connectionLost(Failure(ConnectionError()))
        self.assertIn("policy-violation", self.owner.lost[0])

    def test_sendTimeout(self) -> None:
        """
        A socket buffer that stays full for C{sendTimeout} drops the
        connection; one that drains in time does not.
        """
        stream = self.ready(sendTimeout=30.0)
        self.producer().pauseProducing()
        self.clock.advance(29)
        self.producer().resumeProducing()
        self.clock.advance(10)
        self.assertFalse(self.tr.aborted)
        self.producer().pauseProducing()
        self.clock.advance(30)
        self.assertTrue(self.tr.aborted)

    def test_closeLetsGoOfProducer(self) -> None:
        """
        Closing unregisters the stream's producer, without which the
        transport would never close.
        """
        stream = self.ready()
        self.assertIsNotNone(self.tr.producer)
        stream.close(None)
        self.assertIsNone(self.tr.producer)
        self.assertTrue(self.tr.disconnecting)


class WireBytesTests(SynchronousTestCase):
    """
    L{wireBytes} puts a component's stanza on a jabber:server stream.
    """

    def test_rawKept(self) -> None:
        """
        A stanza that relies on its stream's default namespace keeps its
        exact bytes.
        """
        data = (
            b"<message to='a@remote.example' from='comp.example.org' id='1'>"
            b"<body>hi &amp; bye</body></message>"
        )
        received = stanza(data)
        self.assertIs(wireBytes(received), received.raw)
        self.assertEqual(wireBytes(received), data)

    def test_explicitComponentNamespace(self) -> None:
        """
        A stanza that declares jabber:component:accept itself is
        re-serialised into jabber:server, children included.
        """
        data = (
            b"<message xmlns='jabber:component:accept' to='a@remote.example'>"
            b"<body>hi</body><x xmlns='urn:x'/></message>"
        )
        out = wireBytes(stanza(data))
        self.assertNotIn(b"jabber:component:accept", out)
        element = Stanza("message", "jabber:server", {}, out).element()
        self.assertEqual(element.uri, "jabber:server")
        self.assertEqual(
            [(c.uri, c.name) for c in element.elements()], [("jabber:server", "body"), ("urn:x", "x")]
        )

    def test_builtElement(self) -> None:
        """
        A stanza built in-process (an internal component's) is written
        without a namespace declaration of its own.
        """
        element = domish.Element((COMPONENT_NS, "presence"))
        element["to"] = "a@remote.example"
        element.addElement("status", content="here")
        out = wireBytes(Stanza.fromElement(element))
        self.assertEqual(out, b"<presence to='a@remote.example'><status>here</status></presence>")

    def test_attributeWithGreaterThan(self) -> None:
        """
        A C{>} inside an attribute value does not hide a default namespace
        declaration after it.
        """
        data = b"<message id='a>b' xmlns='jabber:component:accept' to='x@remote.example'/>"
        self.assertNotIn(b"jabber:component:accept", wireBytes(stanza(data)))
