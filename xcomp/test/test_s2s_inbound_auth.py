# -*- test-case-name: xcomp.test.test_s2s_inbound_auth -*-
"""
Tests for authentication on an incoming s2s stream: SASL EXTERNAL
(XEP-0178), dialback's receiving and authoritative sides (XEP-0220) with
multiplexing, and what an authenticated stream may route
(L{xcomp.s2s.inbound}, L{xcomp.s2s.inboundauth},
L{xcomp.s2s.inboundpairs}, L{xcomp.s2s.inboundstanza}).
"""

from __future__ import annotations

import base64

from twisted.internet import defer
from twisted.logger import LogLevel, capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from xcomp.config import DEFAULT_KEEPALIVE_INTERVAL
from xcomp.config.model import S2SConfig
from xcomp.s2s.inbound import InboundStream
from xcomp.s2s.inboundauth import dialbackAllowed
from xcomp.s2s.inboundpairs import MAX_PENDING
from xcomp.s2s.inboundstanza import serverStanza
from xcomp.stanza import COMPONENT_NS, Stanza
from xcomp.test.helpers import FakeRoute, errorCondition
from xcomp.test.s2sinhelpers import (
    COMPONENT,
    HEADER,
    HOST,
    OFFLINE,
    REMOTE,
    InboundTestsMixin,
    TLSStringTransport,
)

SASL = "urn:ietf:params:xml:ns:xmpp-sasl"


def auth(text: str, mechanism: str = "EXTERNAL") -> bytes:
    return f"<auth xmlns='{SASL}' mechanism='{mechanism}'>{text}</auth>".encode()


class ExternalTests(InboundTestsMixin, SynchronousTestCase):
    """
    SASL EXTERNAL with a certificate valid for the stream's C{from}.
    """

    def setUp(self) -> None:
        super().setUp()
        self.tls.valid.add(REMOTE)

    def authenticate(self, text: str = "=") -> tuple[InboundStream, TLSStringTransport]:
        stream, transport = self.openTLS()
        transport.clear()
        stream.dataReceived(auth(text))
        return stream, transport

    def test_emptyAuthzid(self) -> None:
        """
        C{=} (no authzid: the certificate's identity) succeeds; the stream
        restarts and routes stanzas from the remote domain to the local
        one.
        """
        with capturedLogs() as events:
            stream, transport = self.authenticate()
        self.assertEqual(transport.value(), f"<success xmlns='{SASL}'/>".encode())
        transport.clear()
        stream.dataReceived(HEADER.format(to=COMPONENT, sender=REMOTE).encode())
        self.assertTrue(transport.value().endswith(b"</stream:features>"))
        self.assertNotIn(b"EXTERNAL", transport.value())
        stream.dataReceived(f"<message from='a@{REMOTE}/r' to='{COMPONENT}' id='1'><body>hi</body></message>".encode())
        [routed] = self.component.sent
        self.assertEqual(routed.uri, COMPONENT_NS)
        self.assertEqual(routed.attributes["from"], f"a@{REMOTE}/r")
        [line] = [e for e in events if "authenticated" in e.get("log_format", "")]
        self.assertEqual((line["remote"], line["local"], line["method"]), (REMOTE, COMPONENT, "EXTERNAL"))

    def test_authzidOfRemote(self) -> None:
        """
        An authzid equal to the stream's C{from} succeeds.
        """
        _, transport = self.authenticate(base64.b64encode(REMOTE.encode()).decode())
        self.assertIn(b"<success", transport.value())

    def test_otherAuthzid(self) -> None:
        """
        An authzid for another domain fails with C{invalid-authzid}.
        """
        _, transport = self.authenticate(base64.b64encode(b"other.example").decode())
        self.assertIn(b"<invalid-authzid/>", transport.value())

    def test_notBase64(self) -> None:
        """
        An initial response that is not base64 fails with
        C{incorrect-encoding}.
        """
        _, transport = self.authenticate("!!!")
        self.assertIn(b"<incorrect-encoding/>", transport.value())

    def test_noResponse(self) -> None:
        """
        No initial response fails with C{malformed-request}.
        """
        _, transport = self.authenticate("")
        self.assertIn(b"<malformed-request/>", transport.value())

    def test_otherMechanism(self) -> None:
        """
        A mechanism other than EXTERNAL fails with C{invalid-mechanism}.
        """
        stream, transport = self.openTLS()
        stream.dataReceived(auth("=", "PLAIN"))
        self.assertIn(b"<invalid-mechanism/>", transport.value())

    def test_notOffered(self) -> None:
        """
        EXTERNAL with a certificate not valid for the stream's C{from} fails
        with C{not-authorized}, and the stream is closed.
        """
        self.tls.valid.clear()
        stream, transport = self.openTLS()
        stream.dataReceived(auth("="))
        self.assertIn(f"<failure xmlns='{SASL}'><not-authorized/></failure>".encode(), transport.value())
        self.assertStreamError(transport, "not-authorized")

    def test_stanzaFromAnotherDomain(self) -> None:
        """
        After EXTERNAL for one domain, a stanza from another gets
        C{invalid-from} and is not routed.
        """
        stream, transport = self.authenticate()
        stream.dataReceived(HEADER.format(to=COMPONENT, sender=REMOTE).encode())
        stream.dataReceived(f"<message from='a@evil.example' to='{COMPONENT}'/>".encode())
        self.assertStreamError(transport, "invalid-from")

    def test_stanzaWithoutFrom(self) -> None:
        """
        A stanza without C{from} gets C{improper-addressing}.
        """
        stream, transport = self.authenticate()
        stream.dataReceived(HEADER.format(to=COMPONENT, sender=REMOTE).encode())
        stream.dataReceived(f"<message to='{COMPONENT}'/>".encode())
        self.assertStreamError(transport, "improper-addressing")

    def test_stanzaToAnotherLocalDomain(self) -> None:
        """
        The pair is (local, remote): a stanza to another local domain than
        the one authenticated gets C{invalid-from}.
        """
        stream, transport = self.authenticate()
        stream.dataReceived(HEADER.format(to=COMPONENT, sender=REMOTE).encode())
        stream.dataReceived(f"<iq type='get' id='1' from='{REMOTE}' to='{HOST}'><query xmlns='x'/></iq>".encode())
        self.assertStreamError(transport, "invalid-from")


class DialbackReceivingTests(InboundTestsMixin, SynchronousTestCase):
    """
    C{<db:result/>}: the receiving side asks s2s-out to verify the key.
    """

    def test_valid(self) -> None:
        """
        The key is verified for (local, remote, this stream's id); a valid
        answer is C{type='valid'} and the pair's stanzas are routed.  The
        key is never logged.
        """
        stream, transport = self.openTLS()
        with capturedLogs() as events:
            answer = self.dialback(stream, key="s3cretkey")
            self.assertEqual(self.verifier.requests[0][:4], (COMPONENT, REMOTE, stream.streamId, "s3cretkey"))
            transport.clear()
            answer.callback(True)
        self.assertEqual(
            transport.value(), f"<db:result from='{COMPONENT}' to='{REMOTE}' type='valid'/>".encode()
        )
        stream.dataReceived(f"<presence from='u@{REMOTE}' to='{COMPONENT}'/>".encode())
        self.assertEqual(len(self.component.sent), 1)
        [line] = [e for e in events if "authenticated" in e.get("log_format", "")]
        self.assertEqual(line["method"], "dialback")
        self.assertNotIn("s3cretkey", repr(events))

    def test_invalid(self) -> None:
        """
        A wrong key is answered C{type='invalid'}, with a warning; then no
        stanza from that domain is routed.
        """
        stream, transport = self.openTLS()
        answer = self.dialback(stream)
        with capturedLogs() as events:
            answer.callback(False)
        self.assertIn(f"<db:result from='{COMPONENT}' to='{REMOTE}' type='invalid'/>".encode(), transport.value())
        self.assertTrue(any(e["log_level"] == LogLevel.warn for e in events))
        stream.dataReceived(f"<message from='{REMOTE}' to='{COMPONENT}'/>".encode())
        self.assertStreamError(transport, "not-authorized")

    def test_invalidNotAskedAgain(self) -> None:
        """
        A pair refused once is refused again without a new verification.
        """
        stream, transport = self.openTLS()
        self.dialback(stream).callback(False)
        stream.dataReceived(f"<db:result from='{REMOTE}' to='{COMPONENT}'>k</db:result>".encode())
        self.assertEqual(len(self.verifier.requests), 1)
        self.assertEqual(transport.value().count(b"type='invalid'"), 2)

    def test_unknownLocalDomain(self) -> None:
        """
        A C{db:result} to a domain xcomp does not serve gets an
        C{item-not-found} error, and nothing is verified.
        """
        stream, transport = self.openTLS()
        stream.dataReceived(f"<db:result from='{REMOTE}' to='nosuch.example'>k</db:result>".encode())
        self.assertIn(b"type='error'><error type='cancel'><item-not-found", transport.value())
        self.assertEqual(self.verifier.requests, [])

    def test_missingAddressing(self) -> None:
        """
        A C{db:result} without C{from} gets C{improper-addressing}.
        """
        stream, transport = self.openTLS()
        stream.dataReceived(f"<db:result to='{COMPONENT}'>k</db:result>".encode())
        self.assertStreamError(transport, "improper-addressing")

    def test_unreachable(self) -> None:
        """
        When the authoritative server cannot be asked, the answer is a
        C{remote-server-not-found} error; a timeout gives
        C{remote-server-timeout}.
        """
        stream, transport = self.openTLS()
        self.dialback(stream).errback(ConnectionRefusedError())
        self.assertIn(b"<remote-server-not-found", transport.value())
        self.dialback(stream, local=HOST).errback(defer.TimeoutError())
        self.assertIn(b"<error type='wait'><remote-server-timeout", transport.value())

    def test_closedBeforeAnswer(self) -> None:
        """
        An answer for a stream that has closed meanwhile writes nothing.
        """
        stream, transport = self.openTLS()
        answer = self.dialback(stream)
        stream.connectionLost()
        transport.clear()
        answer.callback(True)
        self.assertEqual(transport.value(), b"")
        self.assertFalse(stream.pairs)

    def test_multiplexing(self) -> None:
        """
        A second pair on the same stream (another local domain) is
        authenticated on its own; each pair routes only its own stanzas.
        """
        stream, transport = self.openTLS()
        self.dialback(stream).callback(True)
        stream.dataReceived(f"<message from='{REMOTE}' to='{HOST}'/>".encode())
        self.assertStreamError(transport, "invalid-from", routed=0)

    def test_multiplexingSecondPair(self) -> None:
        """
        Once the second pair is verified too, stanzas for both domains are
        routed.
        """
        stream, transport = self.openTLS()
        self.dialback(stream).callback(True)
        self.dialback(stream, local=HOST).callback(True)
        stream.dataReceived(f"<message from='{REMOTE}' to='{COMPONENT}'/>".encode())
        stream.dataReceived(f"<iq type='get' id='q' from='a@{REMOTE}/x' to='{HOST}'><query xmlns='jabber:iq:version'/></iq>".encode())
        self.assertEqual(len(self.component.sent), 1)
        self.assertFalse(transport.disconnecting)
        self.assertEqual(stream.pairs.authorised, {(COMPONENT, REMOTE), (HOST, REMOTE)})

    def test_pendingBound(self) -> None:
        """
        Past L{MAX_PENDING} verifications at once, further requests get a
        C{resource-constraint} error instead of another verification.
        """
        stream, transport = self.openTLS()
        for n in range(MAX_PENDING):
            self.dialback(stream, remote=f"r{n}.example")
        stream.dataReceived(f"<db:result from='late.example' to='{COMPONENT}'>k</db:result>".encode())
        self.assertEqual(len(self.verifier.requests), MAX_PENDING)
        self.assertIn(b"<resource-constraint", transport.value())

    def test_secureAuth(self) -> None:
        """
        With secure auth, a C{db:result} gets a C{not-authorized} error.
        """
        self.tls.valid.add(REMOTE)
        self.build(secureAuth=True)
        stream, transport = self.openTLS()
        stream.dataReceived(f"<db:result from='{REMOTE}' to='{COMPONENT}'>k</db:result>".encode())
        self.assertIn(b"<error type='auth'><not-authorized", transport.value())
        self.assertEqual(self.verifier.requests, [])

    def test_hibernates(self) -> None:
        """
        Once authenticated, the stream lets go of its parser until more
        comes; what comes then is still routed.
        """
        stream, transport = self.openTLS()
        self.dialback(stream).callback(True)
        self.clock.advance(0)
        self.assertTrue(stream._parser.hibernating)  # type: ignore[union-attr]
        stream.dataReceived(f"<message from='{REMOTE}' to='{COMPONENT}'/>".encode())
        self.assertEqual(len(self.component.sent), 1)
        self.assertFalse(stream._parser.hibernating)  # type: ignore[union-attr]

    def test_idleCheck(self) -> None:
        """
        The factory's idle check hibernates a stream silent for a whole
        interval, not one that spoke.
        """
        self.factory.startFactory()
        self.addCleanup(self.factory.stopFactory)
        quiet, _ = self.openTLS()
        busy, _ = self.openTLS()
        for stream in (quiet, busy):
            self.dialback(stream).callback(True)
        self.clock.advance(0)
        for stream in (quiet, busy):
            # Awake again, after the hibernation that follows authentication.
            stream.dataReceived(f"<message from='{REMOTE}' to='{COMPONENT}'/>".encode())
            self.assertFalse(stream._parser.hibernating)  # type: ignore[union-attr]
        self.clock.advance(DEFAULT_KEEPALIVE_INTERVAL)
        busy.dataReceived(b" ")
        self.clock.advance(DEFAULT_KEEPALIVE_INTERVAL)
        self.assertTrue(quiet._parser.hibernating)  # type: ignore[union-attr]
        self.assertFalse(busy._parser.hibernating)  # type: ignore[union-attr]

    def test_deniedByPolicy(self) -> None:
        """
        A C{db:result} for a remote domain the policy denies (MongooseIM's
        C{default_policy = "deny"}) gets a C{not-allowed} error and is not
        verified.
        """
        self.build(defaultPolicy="deny", hostPolicy={REMOTE: "allow"})
        stream, transport = self.openTLS()
        stream.dataReceived(f"<db:result from='other.example' to='{COMPONENT}'>k</db:result>".encode())
        self.assertIn(b"<not-allowed", transport.value())
        self.assertEqual(self.verifier.requests, [])

    def test_timeoutCancelledByAuthentication(self) -> None:
        """
        Once a pair is authenticated, C{s2s_timeout} no longer applies.
        """
        stream, transport = self.openTLS()
        self.dialback(stream).callback(True)
        self.clock.advance(self.s2s.timeout * 2)
        self.assertFalse(transport.disconnecting)


class DialbackAuthoritativeTests(InboundTestsMixin, SynchronousTestCase):
    """
    C{<db:verify/>}: xcomp as the authoritative server of its domains.
    """

    def verify(self, key: str, to: str = COMPONENT, streamID: str = "sid1") -> bytes:
        stream, transport = self.open()
        transport.clear()
        stream.dataReceived(f"<db:verify from='{REMOTE}' to='{to}' id='{streamID}'>{key}</db:verify>".encode())
        return transport.value()

    def test_valid(self) -> None:
        """
        A key this process gave is C{valid}, even on a plaintext,
        unauthenticated stream (the request carries its own proof).
        """
        key = self.secret.key(REMOTE, COMPONENT, "sid1")
        self.assertEqual(
            self.verify(key),
            f"<db:verify from='{COMPONENT}' to='{REMOTE}' id='sid1' type='valid'/>".encode(),
        )

    def test_invalid(self) -> None:
        """
        Another key, or the key of another stream id, is C{invalid}.
        """
        self.assertIn(b"type='invalid'", self.verify("0" * 64))
        self.assertIn(b"type='invalid'", self.verify(self.secret.key(REMOTE, COMPONENT, "sid2")))

    def test_unknownDomain(self) -> None:
        """
        A request for a domain xcomp does not serve gets C{item-not-found}.
        """
        self.assertIn(b"type='error'><error type='cancel'><item-not-found", self.verify("k", to="x.example"))

    def test_noId(self) -> None:
        """
        A request without C{id} gets C{improper-addressing}.
        """
        stream, transport = self.open()
        stream.dataReceived(f"<db:verify from='{REMOTE}' to='{COMPONENT}'>k</db:verify>".encode())
        self.assertStreamError(transport, "improper-addressing")

    def test_answersIgnored(self) -> None:
        """
        A dialback answer (with C{type}) on an incoming stream is ignored.
        """
        stream, transport = self.open()
        transport.clear()
        stream.dataReceived(f"<db:result from='{REMOTE}' to='{COMPONENT}' type='valid'/>".encode())
        self.assertEqual(transport.value(), b"")
        self.assertFalse(stream.pairs)


class PolicyTests(SynchronousTestCase):
    """
    L{dialbackAllowed}: Prosody's rules.
    """

    def test_rules(self) -> None:
        """
        Dialback is allowed unless secure auth is on (then only for
        insecure domains) or the domain is a secure one.
        """
        self.assertTrue(dialbackAllowed(S2SConfig(), "a.example"))
        self.assertFalse(dialbackAllowed(S2SConfig(secureAuth=True), "a.example"))
        self.assertTrue(
            dialbackAllowed(S2SConfig(secureAuth=True, insecureDomains=frozenset({"a.example"})), "a.example")
        )
        self.assertFalse(dialbackAllowed(S2SConfig(secureDomains=frozenset({"a.example"})), "a.example"))


class ServerStanzaTests(SynchronousTestCase):
    """
    L{serverStanza}: stanzas from jabber:server into the component
    namespace.
    """

    def test_inherited(self) -> None:
        """
        A stanza that inherits the namespace keeps its bytes.
        """
        raw = b"<message to='a.example'><body>hi</body></message>"
        converted = serverStanza(Stanza("message", "jabber:server", {"to": "a.example"}, raw))
        self.assertIs(converted.raw, raw)
        self.assertEqual(converted.element().body.uri, COMPONENT_NS)

    def test_declared(self) -> None:
        """
        A stanza declaring C{xmlns='jabber:server'} is rebuilt with its
        children in the component namespace.
        """
        raw = b"<message xmlns='jabber:server' to='a.example'><body>hi</body></message>"
        converted = serverStanza(Stanza("message", "jabber:server", {"to": "a.example"}, raw))
        self.assertNotIn(b"jabber:server", converted.toBytes())
        self.assertIn(b"<body>hi</body>", converted.toBytes())
        self.assertEqual(converted.attributes["to"], "a.example")


class RoutingTests(InboundTestsMixin, SynchronousTestCase):
    """
    What an authenticated stream's stanzas meet in the router: an incoming
    stream is one-way, so answers and errors leave by the remote route.
    """

    def setUp(self) -> None:
        super().setUp()
        self.remote = FakeRoute("*")
        self.router.setRemote(self.remote)
        self.stream, self.transport = self.openTLS()
        self.dialback(self.stream, local=HOST).callback(True)
        self.dialback(self.stream, local=OFFLINE).callback(True)

    def test_virtualHostAnswersThroughRemoteRoute(self) -> None:
        """
        A disco#info to the VirtualHost is answered by xcomp, and the
        answer goes to the remote route, not back on the incoming stream.
        """
        self.transport.clear()
        self.stream.dataReceived(
            f"<iq type='get' id='d1' from='u@{REMOTE}/r' to='{HOST}'>"
            "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>".encode()
        )
        self.clock.advance(0)
        [answer] = self.remote.sent
        self.assertEqual((answer.attributes["type"], answer.attributes["to"]), ("result", f"u@{REMOTE}/r"))
        self.assertEqual(self.transport.value(), b"")

    def test_offlineComponent(self) -> None:
        """
        A stanza to a configured component that is not connected is
        bounced with C{remote-server-timeout} to the remote route, with the
        original id.
        """
        self.stream.dataReceived(f"<message id='m7' from='u@{REMOTE}/r' to='{OFFLINE}'/>".encode())
        [bounce] = self.remote.sent
        self.assertEqual(bounce.attributes["id"], "m7")
        self.assertEqual(errorCondition(bounce), ("wait", "remote-server-timeout"))
