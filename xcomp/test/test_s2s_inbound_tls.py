# -*- test-case-name: xcomp.test.test_s2s_inbound_tls -*-
"""
Incoming s2s streams with real TLS over loopback: STARTTLS and direct TLS
(XEP-0368) with certificates from a throwaway CA, SASL EXTERNAL when the
remote server's certificate is valid for its domain (XEP-0178), dialback
when it is not, and refusal when secure auth is on.
"""

from __future__ import annotations

import attrs
from twisted.internet import reactor
from twisted.trial.unittest import TestCase

from xcomp.config import ListenerConfig, RouterConfig, TLSConfig
from xcomp.config.model import S2SConfig, S2SListenerConfig
from xcomp.s2s.service import S2SService
from xcomp.service import RouterService
from xcomp.test.certs import Issued, TestCA
from xcomp.test.helpers import makeConfig
from xcomp.test.listenerhelpers import streamError
from xcomp.test.loopback import ComponentClient, freePort
from xcomp.test.s2srawpeer import FakePool, RawServerPeer, clientTLS, connectPeer, s2sHeader

COMPONENT = "comp.example.org"
HOST = "example.org"
REMOTE = "remote.example.net"
SECRET = "s3cret"
STARTTLS = b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
EXTERNAL = b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>"


class InboundTLSTests(TestCase):
    """
    A router serving L{COMPONENT} and L{HOST}, each with its own
    certificate, and a remote server connecting to its s2s port.
    """

    def setUp(self) -> None:
        self.ca = TestCA(self.mktemp())
        self.certificates = {
            domain: TLSConfig(issued.certificate, issued.key)
            for domain, issued in ((d, self.ca.issue(d)) for d in (COMPONENT, HOST))
        }
        self.remoteCertificate = self.ca.issue(REMOTE)

    def start(self, directTLS: bool = False, **options: object) -> tuple[RouterConfig, FakePool]:
        """
        Start a router with one component listener and one s2s listener;
        the outgoing side is a L{FakePool} that finds every dialback key
        valid.
        """
        s2s = S2SConfig(
            listeners=(S2SListenerConfig(freePort(), "127.0.0.1", directTLS=directTLS),),
            certificates=self.certificates,
            caCertificates=self.ca.path,
            **options,  # type: ignore[arg-type]
        )
        config = makeConfig(
            components={COMPONENT: {"secret": SECRET}},
            virtualHosts=[HOST],
            listeners=(ListenerConfig(freePort(), "127.0.0.1"),),
            s2s=s2s,
        )
        service = RouterService(attrs.evolve(config, s2s=None), reactor=reactor)
        pool = FakePool()
        S2SService(config, service.router, reactor, pool=pool).setServiceParent(service)
        service.privilegedStartService()
        service.startService()
        self.addCleanup(service.stopService)
        return config, pool

    async def component(self, config: RouterConfig) -> ComponentClient:
        client = ComponentClient(reactor, COMPONENT, SECRET)
        await client.connect(config.listeners[0].port)
        self.addCleanup(client.disconnect)
        return client

    async def peer(self, config: RouterConfig) -> RawServerPeer:
        assert config.s2s is not None
        peer = await connectPeer(reactor, config.s2s.listeners[0].port)
        self.addCleanup(peer.disconnect)
        return peer

    async def startTLS(
        self, peer: RawServerPeer, certificate: Issued | None, to: str = COMPONENT
    ) -> bytes:
        """
        Negotiate STARTTLS as C{REMOTE} presenting C{certificate}; return
        the features of the encrypted stream.
        """
        peer.send(s2sHeader(to, REMOTE))
        await peer.waitFor(rb"<required/></starttls></stream:features>")
        peer.send(STARTTLS)
        await peer.waitFor(rb"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        peer.startTLS(clientTLS(self.ca.path, to, certificate))
        peer.send(s2sHeader(to, REMOTE))
        match = await peer.waitFor(rb"<stream:features>.*?</stream:features>|</stream:stream>")
        return match.group(0)

    async def test_saslExternal(self) -> None:
        """
        With a certificate valid for its domain, the remote server is
        offered SASL EXTERNAL, authenticates with it, and its message
        reaches the component.
        """
        config, pool = self.start()
        client = await self.component(config)
        peer = await self.peer(config)
        features = await self.startTLS(peer, self.remoteCertificate)
        self.assertIn(b"<mechanism>EXTERNAL</mechanism>", features)
        peer.send(EXTERNAL)
        await peer.waitFor(rb"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
        peer.send(s2sHeader(COMPONENT, REMOTE))
        await peer.waitFor(rb"</stream:features>")
        peer.send(f"<message from='u@{REMOTE}/r' to='{COMPONENT}'><body>over TLS</body></message>".encode())
        message = await client.next(lambda e: e.name == "message")
        self.assertEqual(str(message.body), "over TLS")
        self.assertEqual(pool.verified, [])

    async def test_dialbackWithCertificateForAnotherDomain(self) -> None:
        """
        A certificate for another domain: no EXTERNAL, dialback instead
        (secure auth is off), and the pair works once verified.
        """
        config, pool = self.start()
        client = await self.component(config)
        peer = await self.peer(config)
        features = await self.startTLS(peer, self.ca.issue("other.example"))
        self.assertNotIn(b"EXTERNAL", features)
        self.assertIn(b"urn:xmpp:features:dialback", features)
        peer.send(f"<db:result from='{REMOTE}' to='{COMPONENT}'>k</db:result>".encode())
        await peer.waitFor(rb"type='valid'")
        peer.send(f"<presence from='u@{REMOTE}/r' to='{COMPONENT}'/>".encode())
        await client.next(lambda e: e.name == "presence")
        self.assertEqual(pool.verified[0][:2], (COMPONENT, REMOTE))

    async def test_dialbackWithoutCertificate(self) -> None:
        """
        A remote server that presents no certificate is offered dialback.
        """
        config, _ = self.start()
        peer = await self.peer(config)
        features = await self.startTLS(peer, None)
        self.assertNotIn(b"EXTERNAL", features)
        self.assertIn(b"urn:xmpp:features:dialback", features)

    async def test_secureAuthRefusesCertificateForAnotherDomain(self) -> None:
        """
        With secure auth on, a certificate for another domain gets
        C{not-authorized} once TLS is up; nothing is verified.
        """
        config, pool = self.start(secureAuth=True)
        peer = await self.peer(config)
        await self.startTLS(peer, self.ca.issue("other.example"))
        await peer.lost()
        self.assertEqual(streamError(bytes(peer.received)), "not-authorized")
        self.assertEqual(pool.verified, [])

    async def test_untrustedCertificate(self) -> None:
        """
        A certificate for the right domain from a CA xcomp does not trust
        is not valid: no EXTERNAL.
        """
        config, _ = self.start()
        stranger = TestCA(self.mktemp(), "stranger CA").issue(REMOTE)
        peer = await self.peer(config)
        features = await self.startTLS(peer, stranger)
        self.assertNotIn(b"EXTERNAL", features)

    async def test_directTLS(self) -> None:
        """
        On a direct TLS port, TLS starts with the first byte, SNI picks the
        certificate of the domain asked for, and EXTERNAL follows.
        """
        config, _ = self.start(directTLS=True)
        peer = await self.peer(config)
        peer.startTLS(clientTLS(self.ca.path, HOST, self.remoteCertificate))
        peer.send(s2sHeader(HOST, REMOTE))
        match = await peer.waitFor(rb"<stream:features>.*?</stream:features>")
        self.assertIn(b"<mechanism>EXTERNAL</mechanism>", match.group(0))
        self.assertNotIn(b"starttls", match.group(0))
        served = peer.transport.getPeerCertificate()  # type: ignore[union-attr]
        self.assertEqual(served.get_subject().commonName, HOST)

    async def test_clientOffersALPN(self) -> None:
        """
        A remote server that offers ALPN (Prosody offers C{xmpp-server})
        completes the handshake; C{xmpp-server} is agreed.
        """
        config, _ = self.start()
        peer = await self.peer(config)
        peer.send(s2sHeader(COMPONENT, REMOTE))
        await peer.waitFor(rb"</stream:features>")
        peer.send(STARTTLS)
        await peer.waitFor(rb"<proceed")
        peer.startTLS(clientTLS(self.ca.path, COMPONENT, self.remoteCertificate, alpn=[b"xmpp-server", b"h2"]))
        peer.send(s2sHeader(COMPONENT, REMOTE))
        await peer.waitFor(rb"<mechanism>EXTERNAL</mechanism>")
        self.assertEqual(peer.transport.getHandle().get_alpn_proto_negotiated(), b"xmpp-server")  # type: ignore[union-attr]
