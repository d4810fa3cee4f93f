# -*- test-case-name: xcomp.test.test_s2s_tls -*-
"""
Tests for L{xcomp.s2s.tls}: real TLS handshakes in memory between the
contexts L{S2STLS} makes, with certificates the test issues: the
certificate chosen by SNI, the client's certificate presented, TLS 1.2 at
least, and L{S2STLS.peerValidFor} on both sides.
"""

from __future__ import annotations

import datetime
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from OpenSSL import SSL
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator, IOpenSSLServerConnectionCreator
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol
from twisted.test.iosim import IOPump, connectedServerAndClient
from twisted.trial.unittest import SynchronousTestCase

from zope.interface import implementer

from xcomp.config.model import ConfigError, Location, S2SConfig, TLSConfig
from xcomp.s2s.tls import S2STLS
from xcomp.test.certs import Issued, TestCA


class Recorder(Protocol):
    """
    A protocol that keeps why its connection was lost.
    """

    lost: Failure | None = None

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        Keep C{reason}.
        """
        self.lost = reason


class Recorders(Factory):
    """
    Makes L{Recorder}s and keeps them, since a TLS protocol lets go of the
    protocol it wraps when its connection is lost.
    """

    protocol = Recorder

    def __init__(self) -> None:
        self.built: list[Recorder] = []

    def buildProtocol(self, addr: object) -> Recorder:
        """
        Make and keep one.
        """
        protocol = Recorder()
        protocol.factory = self
        self.built.append(protocol)
        return protocol


@implementer(IOpenSSLClientConnectionCreator)
class OldClient:
    """
    A client with a context the test sets up (old TLS versions).
    """

    def __init__(self, context: SSL.Context) -> None:
        self._context = context

    def clientConnectionForTLS(self, tlsProtocol: TLSMemoryBIOProtocol) -> SSL.Connection:
        """
        A client connection with the test's context.
        """
        connection = SSL.Connection(self._context, None)
        connection.set_connect_state()
        return connection


def handshake(
    server: IOpenSSLServerConnectionCreator | None, client: IOpenSSLClientConnectionCreator
) -> tuple[TLSMemoryBIOProtocol, TLSMemoryBIOProtocol, IOPump]:
    """
    Run a TLS handshake in memory between two connection creators.
    """
    # The clock drives TLS's write aggregation, which iosim's pump advances.
    assert server is not None
    clock = Clock()
    serverFactory = TLSMemoryBIOFactory(server, False, Recorders(), clock)
    clientFactory = TLSMemoryBIOFactory(client, True, Recorders(), clock)
    clientProtocol, serverProtocol, pump = connectedServerAndClient(
        lambda: serverFactory.buildProtocol(None), lambda: clientFactory.buildProtocol(None), clock=clock
    )
    pump.flush()
    return serverProtocol, clientProtocol, pump


def issueSRV(ca: TestCA, directory: str, domain: str) -> Issued:
    """
    A certificate whose only identity is the SRV-ID C{_xmpp-server.domain}
    (RFC 4985), as some XMPP CAs issue them.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    srv = x509.OtherName(
        x509.ObjectIdentifier("1.3.6.1.5.5.7.8.7"),
        # DER IA5String of "_xmpp-server.<domain>"
        b"\x16" + bytes([len("_xmpp-server." + domain)]) + ("_xmpp-server." + domain).encode("ascii"),
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)]))
        .issuer_name(ca._certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([srv]), critical=False)
        .sign(ca._key, hashes.SHA256())
    )
    issued = Issued(os.path.join(directory, "srv.crt"), os.path.join(directory, "srv.key"))
    with open(issued.certificate, "wb") as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(issued.key, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return issued


class S2STLSTests(SynchronousTestCase):
    """
    Handshakes between two servers' L{S2STLS}.
    """

    def setUp(self) -> None:
        """
        A CA both sides trust, and certificates for two local domains on
        one side (C{a.example}, C{b.example}) and one on the other
        (C{remote.example}).
        """
        self.ca = TestCA(self.mktemp())
        self.a = self.ca.issue("a.example")
        self.b = self.ca.issue("b.example")
        self.remote = self.ca.issue("remote.example")
        self.local = S2STLS(
            S2SConfig(
                certificates={
                    "a.example": TLSConfig(self.a.certificate, self.a.key),
                    "b.example": TLSConfig(self.b.certificate, self.b.key),
                },
                caCertificates=self.ca.path,
            )
        )
        self.other = S2STLS(
            S2SConfig(
                certificates={"remote.example": TLSConfig(self.remote.certificate, self.remote.key)},
                caCertificates=self.ca.path,
            )
        )

    def test_sniChoosesCertificate(self) -> None:
        """
        The server shows the certificate of the domain the client names by
        SNI, whatever the default, and the client finds it valid for that
        domain only.
        """
        for domain in ("a.example", "b.example"):
            server = self.local.serverOptions(default="a.example")
            client = self.other.clientOptions("remote.example", domain)
            _, clientProtocol, _ = handshake(server, client)
            self.assertTrue(self.other.peerValidFor(clientProtocol, domain))
            other = "b.example" if domain == "a.example" else "a.example"
            self.assertFalse(self.other.peerValidFor(clientProtocol, other))

    def test_defaultWithoutSNIMatch(self) -> None:
        """
        A name by SNI that is not a local domain gets the default's
        certificate; without a default, the first domain's.
        """
        _, clientProtocol, _ = handshake(
            self.local.serverOptions(default="b.example"), self.other.clientOptions("remote.example", "x.example")
        )
        self.assertTrue(self.other.peerValidFor(clientProtocol, "b.example"))
        _, clientProtocol, _ = handshake(
            self.local.serverOptions(), self.other.clientOptions("remote.example", "x.example")
        )
        self.assertTrue(self.other.peerValidFor(clientProtocol, "a.example"))

    def test_clientCertificatePresented(self) -> None:
        """
        The client presents its local domain's certificate, which the
        server finds valid for that domain (what SASL EXTERNAL needs).
        """
        serverProtocol, _, _ = handshake(
            self.other.serverOptions(), self.local.clientOptions("b.example", "remote.example")
        )
        self.assertTrue(self.other.peerValidFor(serverProtocol, "b.example"))
        self.assertFalse(self.other.peerValidFor(serverProtocol, "a.example"))

    def test_directTLSOffersALPN(self) -> None:
        """
        The client side of a direct TLS link offers ALPN C{xmpp-server}
        (XEP-0368), which xcomp's own server side picks; a STARTTLS link
        offers none.
        """
        serverProtocol, clientProtocol, _ = handshake(
            self.other.serverOptions(), self.local.clientOptions("b.example", "remote.example", directTLS=True)
        )
        for protocol in (serverProtocol, clientProtocol):
            self.assertEqual(protocol.getHandle().get_alpn_proto_negotiated(), b"xmpp-server")
        serverProtocol, clientProtocol, _ = handshake(
            self.other.serverOptions(), self.local.clientOptions("b.example", "remote.example")
        )
        self.assertEqual(clientProtocol.getHandle().get_alpn_proto_negotiated(), b"")

    def test_noCertificateStillEncrypts(self) -> None:
        """
        A local domain without a certificate still gets an encrypted link
        (for dialback); the server then has no peer certificate to accept.
        """
        serverProtocol, clientProtocol, pump = handshake(
            self.other.serverOptions(), self.local.clientOptions("c.example", "remote.example")
        )
        received: list[bytes] = []
        serverProtocol.wrappedProtocol.dataReceived = received.append  # type: ignore[assignment]
        clientProtocol.write(b"<stream:stream>")
        pump.flush()
        self.assertEqual(b"".join(received), b"<stream:stream>")
        self.assertFalse(self.other.peerValidFor(serverProtocol, "c.example"))
        self.assertTrue(self.other.peerValidFor(clientProtocol, "remote.example"))

    def test_untrustedCertificateNotValid(self) -> None:
        """
        A certificate from a CA outside the trust store lets the handshake
        complete (dialback may follow) but is not valid for its domain.
        """
        stranger = TestCA(self.mktemp(), name="another CA").issue("remote.example")
        untrusted = S2STLS(S2SConfig(certificates={"remote.example": TLSConfig(stranger.certificate, stranger.key)}))
        _, clientProtocol, _ = handshake(
            untrusted.serverOptions(), self.local.clientOptions("a.example", "remote.example")
        )
        self.assertIsNotNone(clientProtocol.getHandle().get_peer_certificate())
        self.assertFalse(self.local.chainValid(clientProtocol))
        self.assertFalse(self.local.peerValidFor(clientProtocol, "remote.example"))

    def test_selfSignedNotValid(self) -> None:
        """
        A self-signed certificate is not valid, even for its own name.
        """
        issued = self.ca.issue("remote.example", selfSigned=True)
        with open(issued.certificate, "rb") as f:
            certificate = x509.load_pem_x509_certificate(f.read())
        self.assertFalse(self.local.peerValidFor(certificate, "remote.example"))

    def test_srvIdentity(self) -> None:
        """
        A certificate that names the domain only as the SRV-ID
        C{_xmpp-server.domain} is valid for it.
        """
        issued = issueSRV(self.ca, os.path.dirname(self.ca.path), "srv.example")
        with open(issued.certificate, "rb") as f:
            certificate = x509.load_pem_x509_certificate(f.read())
        self.assertTrue(self.local.peerValidFor(certificate, "srv.example"))
        self.assertFalse(self.local.peerValidFor(certificate, "other.example"))

    def test_noPeerCertificate(self) -> None:
        """
        Something that is neither a certificate nor a connection is not
        valid for anything.
        """
        self.assertFalse(self.local.peerValidFor(object(), "a.example"))

    def test_tls12AtLeast(self) -> None:
        """
        A client that speaks only TLS 1.0 or 1.1 is refused, even when
        C{ssl.protocol} allows them.
        """
        loose = S2STLS(
            S2SConfig(
                certificates={
                    "a.example": TLSConfig(
                        self.a.certificate,
                        self.a.key,
                        versions=("tlsv1", "tlsv1.1", "tlsv1.2", "tlsv1.3"),
                        ciphers="DEFAULT:@SECLEVEL=0",
                    )
                }
            )
        )
        context = SSL.Context(SSL.TLS_METHOD)
        context.set_max_proto_version(SSL.TLS1_1_VERSION)
        context.set_cipher_list(b"DEFAULT:@SECLEVEL=0")
        _, clientProtocol, _ = handshake(loose.serverOptions(), OldClient(context))
        lost = clientProtocol.factory.wrappedFactory.built[0].lost
        self.assertIsNotNone(lost)
        assert lost is not None
        self.assertTrue(lost.check(SSL.Error))

    def test_noCertificates(self) -> None:
        """
        Without any certificate there is nothing to offer incoming streams.
        """
        self.assertIsNone(S2STLS(S2SConfig()).serverOptions("a.example"))
        self.assertFalse(S2STLS(S2SConfig()).hasCertificate("a.example"))
        self.assertTrue(self.local.hasCertificate("a.example"))

    def test_parentCertificate(self) -> None:
        """
        A subdomain without a certificate of its own (a component bound at
        run time) uses its parent domain's, by SNI and as the client.
        """
        self.assertTrue(self.local.hasCertificate("muc.a.example"))
        self.assertFalse(self.local.hasCertificate("x.muc.a.example"))
        _, clientProtocol, _ = handshake(
            self.local.serverOptions(default="b.example"), self.other.clientOptions("remote.example", "muc.a.example")
        )
        self.assertTrue(self.other.peerValidFor(clientProtocol, "a.example"))
        serverProtocol, _, _ = handshake(
            self.other.serverOptions(), self.local.clientOptions("muc.b.example", "remote.example")
        )
        self.assertTrue(self.other.peerValidFor(serverProtocol, "b.example"))

    def test_badFilesStopStartup(self) -> None:
        """
        A certificate that cannot be read, or a CA file without
        certificates, is a L{ConfigError} at the option that named it.
        """
        missing = os.path.abspath("missing.pem")
        where = Location("prosody.cfg.lua", 7)
        error = self.assertRaises(
            ConfigError,
            S2STLS,
            S2SConfig(
                certificates={"a.example": TLSConfig(missing, self.a.key, location=where, label="ssl")}
            ),
        )
        self.assertEqual(str(error), f"prosody.cfg.lua:7: ssl: cannot read the certificate {missing}: No such file or directory")
        error = self.assertRaises(
            ConfigError, S2STLS, S2SConfig(caCertificates=self.a.key, location=Location("prosody.cfg.lua", 3))
        )
        self.assertEqual(
            str(error), f"prosody.cfg.lua:3: ssl.cafile: the CA certificate file {self.a.key} holds no PEM certificate"
        )

    def test_repr(self) -> None:
        """
        The repr names the domains only.
        """
        self.assertEqual(repr(self.local), "<S2STLS domains=['a.example', 'b.example']>")
