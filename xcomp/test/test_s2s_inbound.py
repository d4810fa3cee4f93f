# -*- test-case-name: xcomp.test.test_s2s_inbound -*-
"""
Tests for L{xcomp.s2s.inbound}: the negotiation of an incoming s2s stream
(header, features, STARTTLS) and every refusal, over a L{StringTransport}.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from xcomp.config import ShaperConfig
from xcomp.s2s.inbound import UNAUTHENTICATED_STANZA_SIZE, InboundStream
from xcomp.test.s2sinhelpers import COMPONENT, HEADER, HOST, REMOTE, InboundTestsMixin, TLSStringTransport


class HeaderTests(InboundTestsMixin, SynchronousTestCase):
    """
    The stream header and the features offered before TLS.
    """

    def test_headerAnswered(self) -> None:
        """
        A header to a local domain is answered with a jabber:server header
        from that domain to the remote, version 1.0, a fresh id and the
        dialback prefix, then features offering STARTTLS, required since
        encryption is required by default, and nothing else.
        """
        stream, transport = self.open()
        data = transport.value()
        self.assertIn(b"xmlns='jabber:server'", data)
        self.assertIn(b"xmlns:db='jabber:server:dialback'", data)
        self.assertIn(b"version='1.0'", data)
        self.assertIn(f"from='{COMPONENT}' to='{REMOTE}'".encode(), data)
        self.assertIn(f"id='{stream.streamId}'".encode(), data)
        self.assertTrue(
            data.endswith(
                b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
                b"<required/></starttls></stream:features>"
            ),
            data,
        )
        self.assertFalse(transport.disconnecting)

    def test_streamIdsDiffer(self) -> None:
        """
        Every stream gets its own random id.
        """
        first, _ = self.open()
        second, _ = self.open()
        self.assertNotEqual(first.streamId, second.streamId)
        self.assertEqual(len(first.streamId), 32)

    def test_dialbackOfferedWithoutRequiredEncryption(self) -> None:
        """
        With C{s2s_require_encryption = false}, STARTTLS is offered without
        C{<required/>}, beside dialback.
        """
        self.build(requireEncryption=False)
        _, transport = self.open()
        data = transport.value()
        self.assertIn(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'></starttls>", data)
        self.assertIn(b"<dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback>", data)

    def test_unknownHost(self) -> None:
        """
        A header to a domain xcomp does not serve gets C{host-unknown}.
        """
        _, transport = self.open(to="elsewhere.example")
        self.assertStreamError(transport, "host-unknown")

    def test_noTo(self) -> None:
        """
        A header without C{to} gets C{improper-addressing}.
        """
        stream, transport = self.connect()
        stream.dataReceived(HEADER.replace("to='{to}' ", "").format(sender=REMOTE).encode())
        self.assertStreamError(transport, "improper-addressing")

    def test_invalidFrom(self) -> None:
        """
        A C{from} that is not a domain gets C{improper-addressing}.
        """
        _, transport = self.open(sender="a@@b")
        self.assertStreamError(transport, "improper-addressing")

    def test_fromLocalDomain(self) -> None:
        """
        A remote server claiming to be a domain xcomp serves is refused.
        """
        _, transport = self.open(sender=HOST)
        self.assertStreamError(transport, "undefined-condition")

    def test_deniedByPolicy(self) -> None:
        """
        A remote domain that MongooseIM's C{host_policy} denies gets
        C{policy-violation}.
        """
        self.build(hostPolicy={REMOTE: "deny"})
        _, transport = self.open()
        self.assertStreamError(transport, "policy-violation")

    def test_componentNamespace(self) -> None:
        """
        A stream in any namespace but C{jabber:server} gets
        C{invalid-namespace}.
        """
        stream, transport = self.connect()
        header = HEADER.replace("jabber:server'", "jabber:component:accept'")
        stream.dataReceived(header.format(to=COMPONENT, sender=REMOTE).encode())
        self.assertStreamError(transport, "invalid-namespace")

    def test_preVersionOne(self) -> None:
        """
        A stream without C{version} (pre-RFC 3920 dialback only) gets
        C{unsupported-version}.
        """
        stream, transport = self.connect()
        stream.dataReceived(HEADER.replace(" version='1.0'>", ">").format(to=COMPONENT, sender=REMOTE).encode())
        self.assertStreamError(transport, "unsupported-version")

    def test_noCertificateButEncryptionRequired(self) -> None:
        """
        When encryption is required and the domain has no certificate,
        nothing can be negotiated: C{policy-violation}.
        """
        self.build(certificates={})
        _, transport = self.open()
        self.assertStreamError(transport, "policy-violation")

    def test_nothingToOffer(self) -> None:
        """
        Without a certificate, encryption optional and dialback not allowed
        (secure auth), no feature is left: C{undefined-condition}, as
        Prosody says.
        """
        self.build(certificates={}, requireEncryption=False, secureAuth=True)
        _, transport = self.open()
        self.assertStreamError(transport, "undefined-condition")


class RefusalTests(InboundTestsMixin, SynchronousTestCase):
    """
    Input that is refused before or instead of authentication.
    """

    def test_stanzaBeforeAuthentication(self) -> None:
        """
        A stanza before any pair is authenticated gets C{not-authorized};
        nothing is routed.
        """
        stream, transport = self.open()
        stream.dataReceived(f"<message from='a@{REMOTE}' to='{COMPONENT}'/>".encode())
        self.assertStreamError(transport, "not-authorized")

    def test_dialbackOnPlaintext(self) -> None:
        """
        Dialback on an unencrypted stream while encryption is required gets
        C{policy-violation}, as in Prosody, and nothing is verified.
        """
        stream, transport = self.open()
        stream.dataReceived(f"<db:result from='{REMOTE}' to='{COMPONENT}'>k</db:result>".encode())
        self.assertStreamError(transport, "policy-violation")
        self.assertIn(b"Encrypted server-to-server communication is required", transport.value())
        self.assertEqual(self.verifier.requests, [])

    def test_saslOnPlaintext(self) -> None:
        """
        SASL before TLS fails with C{encryption-required}.
        """
        stream, transport = self.open()
        transport.clear()
        stream.dataReceived(b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>")
        self.assertEqual(
            transport.value(),
            b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><encryption-required/></failure>",
        )

    def test_restrictedXML(self) -> None:
        """
        A comment gets C{restricted-xml}.
        """
        stream, transport = self.open()
        stream.dataReceived(b"<!-- hi -->")
        self.assertStreamError(transport, "restricted-xml")

    def test_notWellFormed(self) -> None:
        """
        Broken XML gets C{not-well-formed}.
        """
        stream, transport = self.open()
        stream.dataReceived(b"<a></b>")
        self.assertStreamError(transport, "not-well-formed")

    def test_oversizeBeforeAuthentication(self) -> None:
        """
        Before authentication, an element over Prosody's unauthenticated
        limit gets C{policy-violation}, far below the stanza size limit.
        """
        stream, transport = self.open()
        stream.dataReceived(b"<db:result>" + b"x" * UNAUTHENTICATED_STANZA_SIZE + b"</db:result>")
        self.assertStreamError(transport, "policy-violation")

    def test_unknownElement(self) -> None:
        """
        A top-level element that is no stanza nor negotiation gets
        C{unsupported-stanza-type}.
        """
        stream, transport = self.open()
        stream.dataReceived(b"<foo xmlns='urn:example'/>")
        self.assertStreamError(transport, "unsupported-stanza-type")

    def test_timeout(self) -> None:
        """
        A stream not authenticated within C{s2s_timeout} gets
        C{connection-timeout}.
        """
        self.build(timeout=30.0)
        stream, transport = self.open()
        self.clock.advance(29.9)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(0.1)
        self.assertStreamError(transport, "connection-timeout")

    def test_connectionLimit(self) -> None:
        """
        Past C{maxConnections}, a new connection gets
        C{resource-constraint}; the ones open are not affected.
        """
        self.build(maxConnections=1)
        _, first = self.open()
        _, second = self.connect()
        self.assertStreamError(second, "resource-constraint")
        self.assertFalse(first.disconnecting)

    def test_connectionLimitFreed(self) -> None:
        """
        A closed connection makes room for another.
        """
        self.build(maxConnections=1)
        stream, transport = self.open()
        stream.connectionLost()
        _, again = self.open()
        self.assertFalse(again.disconnecting)

    def test_shaper(self) -> None:
        """
        A peer sending faster than the shaper's rate is paused (not
        dropped) until the rate catches up.
        """
        self.build(shaper=ShaperConfig("s2s", 100))
        stream, transport = self.open()
        self.assertEqual(transport.producerState, "paused")
        self.assertFalse(transport.disconnecting)
        self.clock.advance(60)
        self.assertEqual(transport.producerState, "producing")

    def test_peerEndsStream(self) -> None:
        """
        A peer's C{</stream:stream>} is answered with ours.
        """
        stream, transport = self.open()
        stream.dataReceived(b"</stream:stream>")
        self.assertTrue(transport.value().endswith(b"</stream:features></stream:stream>"))
        self.assertTrue(transport.disconnecting)

    def test_shutdown(self) -> None:
        """
        At shutdown every stream gets C{system-shutdown}.
        """
        _, transport = self.open()
        self.factory.shutdown()
        self.assertStreamError(transport, "system-shutdown")


class StartTLSTests(InboundTestsMixin, SynchronousTestCase):
    """
    STARTTLS (RFC 6120 5.4), and the features after it.
    """

    def test_proceed(self) -> None:
        """
        C{<starttls/>} is answered with C{<proceed/>} and TLS starts with
        the TLS settings' server side.
        """
        stream, transport = self.open()
        transport.clear()
        stream.dataReceived(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        self.assertEqual(transport.value(), b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        self.assertIs(transport.tlsCreator, self.tls.creator)
        self.assertTrue(stream.secure)

    def test_plaintextAfterStartTLSDropped(self) -> None:
        """
        Bytes sent in the clear after C{<starttls/>}, in the same read, are
        dropped: they must not be taken as part of the encrypted stream.
        """
        stream, transport = self.open()
        injected = HEADER.format(to=COMPONENT, sender=REMOTE) + f"<message from='a@{REMOTE}'/>"
        stream.dataReceived(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" + injected.encode())
        transport.clear()
        stream.dataReceived(HEADER.format(to=COMPONENT, sender=REMOTE).encode())
        self.assertIn(b"<stream:stream", transport.value())
        self.assertFalse(transport.disconnecting)

    def test_externalAndDialbackAfterTLS(self) -> None:
        """
        After TLS, a peer whose certificate is valid for its domain is
        offered SASL EXTERNAL; dialback is offered too, since secure auth
        is off.  STARTTLS is not offered again.
        """
        self.tls.valid.add(REMOTE)
        stream, transport = self.openTLS()
        data = transport.value()
        self.assertIn(b"<mechanism>EXTERNAL</mechanism>", data)
        self.assertIn(b"<dialback xmlns='urn:xmpp:features:dialback'>", data)
        self.assertNotIn(b"starttls", data)

    def test_onlyDialbackWithoutValidCertificate(self) -> None:
        """
        A certificate not valid for the stream's C{from}: dialback only.
        """
        stream, transport = self.openTLS()
        data = transport.value()
        self.assertNotIn(b"EXTERNAL", data)
        self.assertIn(b"urn:xmpp:features:dialback", data)

    def test_newHeaderChangesId(self) -> None:
        """
        The stream after TLS has a new id.
        """
        stream, transport = self.open()
        before = stream.streamId
        stream.dataReceived(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        stream.dataReceived(HEADER.format(to=COMPONENT, sender=REMOTE).encode())
        self.assertNotEqual(stream.streamId, before)

    def test_newHeaderForAnotherDomain(self) -> None:
        """
        The header after TLS must name the same domains
        (C{improper-addressing}, as Prosody).
        """
        stream, transport = self.open()
        stream.dataReceived(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        stream.dataReceived(HEADER.format(to=HOST, sender=REMOTE).encode())
        self.assertStreamError(transport, "improper-addressing")

    def test_startTLSTwice(self) -> None:
        """
        C{<starttls/>} on a stream already encrypted gets a TLS failure and
        the stream is closed.
        """
        stream, transport = self.openTLS()
        transport.clear()
        stream.dataReceived(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        self.assertEqual(
            transport.value(), b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>"
        )
        self.assertTrue(transport.disconnecting)

    def test_directTLS(self) -> None:
        """
        On a direct TLS port the stream is encrypted from the start: the
        first features are the authentication ones.
        """
        self.tls.valid.add(REMOTE)
        stream, transport = self.open(secure=True)
        self.assertTrue(stream.secure)
        self.assertIn(b"<mechanism>EXTERNAL</mechanism>", transport.value())
        self.assertNotIn(b"starttls", transport.value())

    def test_secureAuthWrongCertificate(self) -> None:
        """
        With secure auth on, a certificate that is not valid for the
        stream's C{from} gets C{not-authorized} right after TLS.
        """
        self.build(secureAuth=True)
        stream, transport = self.openTLS()
        self.assertStreamError(transport, "not-authorized")
        self.assertIn(f"not valid for {REMOTE}".encode(), transport.value())

    def test_secureDomain(self) -> None:
        """
        A remote domain in C{s2s_secure_domains} must have a valid
        certificate even with secure auth off.
        """
        self.build(secureDomains=frozenset({REMOTE}))
        stream, transport = self.openTLS()
        self.assertStreamError(transport, "not-authorized")

    def test_insecureDomain(self) -> None:
        """
        With secure auth on, a domain in C{s2s_insecure_domains} is still
        offered dialback.
        """
        self.build(secureAuth=True, insecureDomains=frozenset({REMOTE}))
        stream, transport = self.openTLS()
        self.assertIn(b"urn:xmpp:features:dialback", transport.value())
        self.assertFalse(transport.disconnecting)


class IsolationTests(InboundTestsMixin, SynchronousTestCase):
    """
    A refused stream disturbs no other stream and no component.
    """

    def authenticated(self) -> tuple[InboundStream, TLSStringTransport]:
        stream, transport = self.openTLS()
        self.dialback(stream).callback(True)
        return stream, transport

    def test_oversizeAfterAuthentication(self) -> None:
        """
        After authentication the bound is C{s2s_stanza_size_limit}: a
        larger stanza gets C{policy-violation}, a smaller one (above the
        unauthenticated bound) is routed.
        """
        self.build(stanzaSizeLimit=20000)
        stream, transport = self.authenticated()
        body = "x" * 15000
        stream.dataReceived(f"<message from='{REMOTE}' to='{COMPONENT}'><body>{body}</body></message>".encode())
        self.assertEqual(len(self.component.sent), 1)
        body = "x" * 20000
        stream.dataReceived(f"<message from='{REMOTE}' to='{COMPONENT}'><body>{body}</body></message>".encode())
        self.assertStreamError(transport, "policy-violation", routed=1)

    def test_otherStreamsUndisturbed(self) -> None:
        """
        When one incoming stream is closed for a forged C{from}, another
        stream from the same server keeps routing, and the component stays
        bound.
        """
        good, goodTransport = self.authenticated()
        bad, badTransport = self.authenticated()
        bad.dataReceived(f"<message from='u@forged.example' to='{COMPONENT}'/>".encode())
        self.assertStreamError(badTransport, "invalid-from")
        good.dataReceived(f"<message from='u@{REMOTE}' to='{COMPONENT}'/>".encode())
        self.assertEqual(len(self.component.sent), 1)
        self.assertFalse(goodTransport.disconnecting)
        self.assertIs(self.router.lookup(COMPONENT), self.component)
        self.assertIsNone(self.component.closed)


class FailureTests(InboundTestsMixin, SynchronousTestCase):
    """
    Our own failures end only the stream they happen on.
    """

    def test_internalError(self) -> None:
        """
        An exception while a read is processed (a bug, not the peer's
        fault) is logged with its traceback and ends the stream with
        C{internal-server-error}.
        """

        def broken(domain: str) -> bool:
            raise RuntimeError("bug")

        stream, transport = self.openTLS()
        self.factory.isLocal = broken
        stream.dataReceived(f"<db:result from='{REMOTE}' to='{COMPONENT}'>k</db:result>".encode())
        self.assertStreamError(transport, "internal-server-error")
        [failure] = self.flushLoggedErrors(RuntimeError)
        self.assertEqual(str(failure.value), "bug")

    def test_peerThatDoesNotRead(self) -> None:
        """
        A peer that stops reading what we write (dialback answers, say) is
        dropped once the write has stalled for the send timeout.
        """
        stream, transport = self.openTLS()
        stream._output.pauseProducing()
        self.clock.advance(self.factory.output.sendTimeout - 1)  # type: ignore[operator]
        self.assertFalse(transport.disconnecting)
        self.clock.advance(1)
        self.assertIn(b"<connection-timeout", transport.value())
        self.assertTrue(transport.disconnecting)
