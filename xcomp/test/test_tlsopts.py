# -*- test-case-name: xcomp.test.test_tlsopts -*-
"""
Tests for the TLS options of L{xcomp.tls} beyond the certificate: the key
passphrase, DH parameters, the TLS versions allowed, client certificates
(C{verify_mode}) and CRLs.  Each is seen from outside: Twisted's component
client talks TLS over loopback to a listener of a L{RouterService} the test
starts, with certificates, keys, CRLs and DH parameters the test makes.
The errors that stop startup are in L{xcomp.test.test_tls}.
"""

from __future__ import annotations

import os

from twisted.internet.ssl import TLSVersion
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import LogLevel, globalLogPublisher

from xcomp.config import RouterConfig, TLSConfig, loadConfig
from xcomp.test.certs import PASSPHRASE, TestCA, dhPrime, writeDHParameters
from xcomp.test.loopback import freePort
from xcomp.test.tlsclient import SECRET, TLSListenerTestCase, namedCurvesOnlyClient, tls11Client

#: A TLS 1.2 suite that needs DH parameters (and an RSA certificate).
DHE_CIPHER = "DHE-RSA-AES128-GCM-SHA256"


class KeyPasswordTests(TLSListenerTestCase):
    """
    C{password}: the passphrase of an encrypted key.
    """

    async def test_encryptedKey(self) -> None:
        """
        With its passphrase, an encrypted key serves the listener.
        """
        server = self.ca.issue("localhost", password=PASSPHRASE)
        service = self.startRouter(TLSConfig(server.certificate, server.key, keyPassword=PASSPHRASE))
        await self.assertAuthenticates(service, self.clientOptions())


class DHParametersTests(TLSListenerTestCase):
    """
    C{dhfile}: the DH parameters of the C{DHE} ciphers.
    """

    def setUp(self) -> None:
        """
        An RSA server certificate (the DHE-RSA ciphers need one), and the
        run's DH parameters.
        """
        super().setUp()
        self.server = self.ca.issue("localhost", rsaKey=True)
        self.dhfile = writeDHParameters(self.mktemp())

    def onlyDHE(self, dhParameters: str | None) -> TLSConfig:
        """
        TLS 1.2 settings that leave a DHE cipher as the only one.
        """
        return TLSConfig(
            self.server.certificate,
            self.server.key,
            ciphers=DHE_CIPHER,
            versions=("tlsv1.2",),
            dhParameters=dhParameters,
        )

    async def test_dheWithFileParameters(self) -> None:
        """
        With a C{dhfile}, a client that offers only a DHE cipher, and no
        standard group, gets it with the prime of the file.
        """
        service = self.startRouter(self.onlyDHE(self.dhfile))
        connection = await self.assertAuthenticates(service, namedCurvesOnlyClient(self.ca.path, DHE_CIPHER))
        self.assertEqual(connection.get_cipher_name(), DHE_CIPHER)
        self.assertIn(dhPrime(self.dhfile), self.fromServer)

    async def test_noDHParameters(self) -> None:
        """
        Without one, the same client finds no cipher in common.
        """
        service = self.startRouter(self.onlyDHE(None))
        await self.assertRefused(service, namedCurvesOnlyClient(self.ca.path, DHE_CIPHER))


class VersionTests(TLSListenerTestCase):
    """
    C{versions}: the TLS versions a client may use.
    """

    def only(self, *versions: str) -> TLSConfig:
        """
        The server certificate, with C{versions}.
        """
        return TLSConfig(self.server.certificate, self.server.key, versions=versions)

    async def test_listedVersion(self) -> None:
        """
        A client that can use a listed version uses it.
        """
        service = self.startRouter(self.only("tlsv1.2"))
        connection = await self.assertAuthenticates(service, self.clientOptions())
        self.assertEqual(connection.get_protocol_version_name(), "TLSv1.2")

    async def test_olderVersionRefused(self) -> None:
        """
        A client that cannot go above TLS 1.2 is refused by a TLS 1.3 only
        listener.
        """
        service = self.startRouter(self.only("tlsv1.3"))
        await self.assertRefused(service, self.clientOptions(lowerMaximumSecurityTo=TLSVersion.TLSv1_2))
        connection = await self.assertAuthenticates(service, self.clientOptions())
        self.assertEqual(connection.get_protocol_version_name(), "TLSv1.3")

    async def test_newerVersionRefused(self) -> None:
        """
        A client that insists on TLS 1.3 is refused by a TLS 1.2 only
        listener.
        """
        service = self.startRouter(self.only("tlsv1.2"))
        await self.assertRefused(service, self.clientOptions(raiseMinimumTo=TLSVersion.TLSv1_3))

    async def test_tls11(self) -> None:
        """
        TLS 1.1, with the security level that OpenSSL requires for it in
        C{ciphers}, lets a TLS 1.1 client in, and refuses a TLS 1.2 one.
        """
        tls = TLSConfig(
            self.server.certificate, self.server.key, versions=("tlsv1.1",), ciphers="DEFAULT:@SECLEVEL=0"
        )
        service = self.startRouter(tls)
        await self.assertRefused(service, self.clientOptions())
        connection = await self.assertAuthenticates(service, tls11Client())
        self.assertEqual(connection.get_protocol_version_name(), "TLSv1.1")

    async def test_gapRefused(self) -> None:
        """
        A version between two listed ones, but not listed itself, is
        refused.
        """
        service = self.startRouter(self.only("tlsv1.1", "tlsv1.3"))
        await self.assertRefused(
            service,
            self.clientOptions(raiseMinimumTo=TLSVersion.TLSv1_2, lowerMaximumSecurityTo=TLSVersion.TLSv1_2),
        )


class VerifyModeTests(TLSListenerTestCase):
    """
    C{verify_mode}, C{cacertfile} and C{crl_files}: client certificates.
    """

    def setUp(self) -> None:
        """
        A client certificate from the CA, and a self-signed one.
        """
        super().setUp()
        self.client = self.ca.issue("a.example")
        self.selfSigned = self.ca.issue("a.example", selfSigned=True)

    def verifying(self, mode: str, crlFiles: tuple[str, ...] = ()) -> TLSConfig:
        """
        The server certificate, checking client certificates against the
        CA with C{mode}.
        """
        return TLSConfig(
            self.server.certificate,
            self.server.key,
            caCertificates=self.ca.path,
            verifyMode=mode,
            crlFiles=crlFiles,
        )

    async def test_noneAsksForNothing(self) -> None:
        """
        With C{none}, a client with a certificate is not asked for it.
        """
        service = self.startRouter(self.verifying("none"))
        await self.assertAuthenticates(service, self.clientOptions(self.client))
        self.assertIsNone(self.serverSidePeerCertificate(service))

    async def test_peerAcceptsCertificateFromCA(self) -> None:
        """
        With C{peer}, a certificate the CA issued gets in, and the listener
        has it.
        """
        service = self.startRouter(self.verifying("peer"))
        await self.assertAuthenticates(service, self.clientOptions(self.client))
        peer = self.serverSidePeerCertificate(service)
        self.assertEqual(peer.get_subject().CN, "a.example")  # type: ignore[attr-defined]

    async def test_peerRequiresCertificate(self) -> None:
        """
        With C{peer}, a client without a certificate is refused.
        """
        service = self.startRouter(self.verifying("peer"))
        await self.assertRefused(service, self.clientOptions())

    async def test_peerRefusesSelfSigned(self) -> None:
        """
        With C{peer}, a self-signed certificate is refused.
        """
        service = self.startRouter(self.verifying("peer"))
        await self.assertRefused(service, self.clientOptions(self.selfSigned))

    async def test_selfSignedPeerAcceptsSelfSigned(self) -> None:
        """
        With C{selfsigned_peer}, a self-signed certificate gets in, and
        so does one from the CA.
        """
        service = self.startRouter(self.verifying("selfsigned_peer"))
        await self.assertAuthenticates(service, self.clientOptions(self.selfSigned))
        service.router.unbind("a.example", service.router.lookup("a.example"))  # type: ignore[arg-type]
        await self.assertAuthenticates(service, self.clientOptions(self.client))

    async def test_selfSignedPeerRefusesUnknownCA(self) -> None:
        """
        C{selfsigned_peer} forgives only self-signedness: a certificate
        from a CA that C{cacertfile} does not hold is refused.
        """
        stranger = TestCA(self.mktemp(), "stranger CA").issue("a.example")
        service = self.startRouter(self.verifying("selfsigned_peer"))
        await self.assertRefused(service, self.clientOptions(stranger))

    async def test_selfSignedPeerRequiresCertificate(self) -> None:
        """
        With C{selfsigned_peer}, a client without a certificate is refused.
        """
        service = self.startRouter(self.verifying("selfsigned_peer"))
        await self.assertRefused(service, self.clientOptions())

    async def test_revokedRefused(self) -> None:
        """
        With C{crl_files}, a certificate the CRL revokes is refused, and
        one it does not revoke gets in.
        """
        revoked = self.ca.issue("b.example")
        service = self.startRouter(self.verifying("peer", (self.ca.revocationList([revoked]),)))
        await self.assertRefused(service, self.clientOptions(revoked))
        await self.assertAuthenticates(service, self.clientOptions(self.client))

    async def test_refusalLogged(self) -> None:
        """
        The listener logs why it refused a client certificate, and whose.
        """
        events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        revoked = self.ca.issue("b.example")
        service = self.startRouter(self.verifying("peer", (self.ca.revocationList([revoked]),)))
        await self.assertRefused(service, self.clientOptions(revoked))
        [event] = [e for e in events if "reason" in e and "subject" in e]
        self.assertEqual(event["log_level"], LogLevel.warn)
        self.assertEqual((event["reason"], event["subject"]), ("certificate revoked", "CN=b.example"))
        self.assertTrue(event["peer"].startswith("127.0.0.1:"), event["peer"])

    async def test_noCRLForItsCARefused(self) -> None:
        """
        Once CRLs are set, a certificate from a trusted CA that has no CRL
        among them is refused: OpenSSL cannot tell that it is not revoked.
        """
        other = TestCA(self.mktemp(), "other test CA")
        both = os.path.join(os.path.dirname(self.ca.path), "both.pem")
        with open(both, "wb") as out, open(self.ca.path, "rb") as a, open(other.path, "rb") as b:
            out.write(a.read() + b.read())
        tls = TLSConfig(
            self.server.certificate,
            self.server.key,
            caCertificates=both,
            verifyMode="peer",
            crlFiles=(self.ca.revocationList([]),),
        )
        events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        service = self.startRouter(tls)
        await self.assertRefused(service, self.clientOptions(other.issue("a.example")))
        self.assertIn("unable to get certificate CRL", [e.get("reason") for e in events])
        await self.assertAuthenticates(service, self.clientOptions(self.client))

    async def test_revokedRefusedSelfSignedPeer(self) -> None:
        """
        C{selfsigned_peer} accepts a self-signed certificate, but not a revoked one.
        """
        service = self.startRouter(
            self.verifying("selfsigned_peer", (self.ca.revocationList([self.client]),))
        )
        await self.assertRefused(service, self.clientOptions(self.client))


class ConfigFileTests(TLSListenerTestCase):
    """
    Every option, as each configuration format spells it, at work.
    """

    def setUp(self) -> None:
        """
        An encrypted server key, DH parameters, a client certificate, and
        a revoked one.
        """
        super().setUp()
        self.directory = os.path.dirname(self.ca.path)
        self.server = self.ca.issue("localhost", password=PASSPHRASE)
        self.dhfile = writeDHParameters(self.directory)
        self.client = self.ca.issue("a.example")
        self.revoked = self.ca.issue("b.example")
        self.crl = self.ca.revocationList([self.revoked])

    def load(self, name: str, text: str) -> RouterConfig:
        """
        Write C{text} as C{name} in the test's directory, and load it.
        """
        path = os.path.join(self.directory, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return loadConfig(path)

    async def checkOptions(self, config: RouterConfig) -> None:
        """
        With C{config}'s TLS listener (TLS 1.3 only, client certificates
        from the CA, the CRL): a client with a certificate gets in with
        TLS 1.3; a revoked one, a TLS 1.2 one and one without a certificate
        are refused.
        """
        service = self.startService(config)
        await self.assertRefused(service, self.clientOptions(self.revoked))
        await self.assertRefused(
            service, self.clientOptions(self.client, lowerMaximumSecurityTo=TLSVersion.TLSv1_2)
        )
        await self.assertRefused(service, self.clientOptions())
        connection = await self.assertAuthenticates(service, self.clientOptions(self.client))
        self.assertEqual(connection.get_protocol_version_name(), "TLSv1.3")

    async def test_mongooseIM(self) -> None:
        """
        MongooseIM's C{tls} subsection: C{password}, C{dhfile},
        C{versions}, C{verify_mode}, C{cacertfile}, C{crl_files}.
        """
        config = self.load(
            "mongooseim.toml",
            f"""
[[listen.component]]
  port = {freePort()}
  ip_address = "127.0.0.1"
  password = "{SECRET}"
  [listen.component.tls]
    certfile = "{self.server.certificate}"
    keyfile = "{self.server.key}"
    password = "{PASSPHRASE}"
    dhfile = "{self.dhfile}"
    versions = ["tlsv1.3"]
    verify_mode = "peer"
    cacertfile = "{self.ca.path}"
    crl_files = ["{self.crl}"]
""",
        )
        await self.checkOptions(config)

    async def test_prosody(self) -> None:
        """
        Prosody's C{ssl} table: C{password}, C{dhparam}, C{protocol},
        C{verify}, C{cafile}, C{crlfile}.
        """
        config = self.load(
            "prosody.cfg.lua",
            f"""
component_interfaces = {{ "127.0.0.1" }}
component_ports = {{ {freePort()} }}
component_direct_tls_ports = {{ {freePort()} }}
component_direct_tls_ssl = {{
  certificate = "{self.server.certificate}";
  key = "{self.server.key}";
  password = "{PASSPHRASE}";
  dhparam = "{self.dhfile}";
  protocol = "tlsv1_3";
  verify = {{ "peer", "fail_if_no_peer_cert" }};
  cafile = "{self.ca.path}";
  crlfile = "{self.crl}";
}}
Component "a.example"
  component_secret = "{SECRET}"
""",
        )
        await self.checkOptions(config)
