# -*- test-case-name: xcomp.test.test_tls -*-
"""
Tests for L{xcomp.tls} and direct-TLS listeners: the server context from a
L{TLSConfig}, the errors that stop startup (naming the file, never the
key's passphrase), and Twisted's component client completing the XEP-0114
handshake through TLS, in memory (certificates are made by the test).
What each option does for a client over loopback is in
L{xcomp.test.test_tlsopts}.
"""

from __future__ import annotations

import os
from typing import Any

from OpenSSL import SSL
from twisted.internet.ssl import Certificate, PrivateCertificate, optionsForClientTLS
from twisted.internet.task import Clock
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.test.iosim import connectedServerAndClient
from twisted.trial.unittest import SynchronousTestCase
from twisted.words.protocols.jabber import component, xmlstream

from xcomp.config import ConfigError, ListenerConfig, Location, TLSConfig
from xcomp.listener import ComponentListenerFactory
from xcomp.router import Router
from xcomp.test.certs import PASSPHRASE, TestCA
from xcomp.test.helpers import makeConfig
from xcomp.tls import checkListeners, contextFactory


class ContextTests(SynchronousTestCase):
    """
    The server context and what stops it.
    """

    def setUp(self) -> None:
        """
        A CA and a server certificate.
        """
        self.ca = TestCA(self.mktemp())
        self.issued = self.ca.issue("localhost")

    def test_verifyModes(self) -> None:
        """
        C{none} asks for no client certificate; C{peer} and
        C{selfsigned_peer} require one.
        """
        tls = TLSConfig(self.issued.certificate, self.issued.key)
        self.assertEqual(contextFactory(tls).getContext().get_verify_mode(), SSL.VERIFY_NONE)
        for mode in ("peer", "selfsigned_peer"):
            tls = TLSConfig(self.issued.certificate, self.issued.key, caCertificates=self.ca.path, verifyMode=mode)
            flags = contextFactory(tls).getContext().get_verify_mode()
            self.assertTrue(flags & SSL.VERIFY_PEER and flags & SSL.VERIFY_FAIL_IF_NO_PEER_CERT, mode)

    def test_protocolOptions(self) -> None:
        """
        C{protocol_options} become OpenSSL options.
        """
        tls = TLSConfig(self.issued.certificate, self.issued.key, protocolOptions=("no_tlsv1_2",))
        # set_options answers with the options now set.
        self.assertTrue(contextFactory(tls).getContext().set_options(0) & SSL.OP_NO_TLSv1_2)

    def test_missingFiles(self) -> None:
        """
        A missing certificate or key is named.
        """
        missing = os.path.abspath("missing.pem")
        error = self.assertRaises(ValueError, contextFactory, TLSConfig(missing, self.issued.key))
        self.assertEqual(str(error), f"cannot read the certificate {missing}: No such file or directory")
        error = self.assertRaises(ValueError, contextFactory, TLSConfig(self.issued.certificate, missing))
        self.assertEqual(str(error), f"cannot read the key {missing}: No such file or directory")

    def test_wrongContents(self) -> None:
        """
        A key where the certificate should be, and the reverse, are named.
        """
        error = self.assertRaises(ValueError, contextFactory, TLSConfig(self.issued.key, self.issued.key))
        self.assertEqual(str(error), f"the certificate {self.issued.key} holds no PEM certificate")
        error = self.assertRaises(
            ValueError, contextFactory, TLSConfig(self.issued.certificate, self.issued.certificate)
        )
        self.assertEqual(
            str(error), f"the key {self.issued.certificate} holds no PEM private key"
        )

    def test_keyMismatch(self) -> None:
        """
        A key that does not belong to the certificate is an error naming
        both.
        """
        other = self.ca.issue("other.example")
        error = self.assertRaises(ValueError, contextFactory, TLSConfig(self.issued.certificate, other.key))
        self.assertEqual(
            str(error), f"the key {other.key} does not belong to the certificate {self.issued.certificate}"
        )


class TLSInteropTests(SynchronousTestCase):
    """
    Twisted's component client through a direct-TLS listener, in memory.
    """

    def setUp(self) -> None:
        """
        A listener with a certificate for C{localhost}.
        """
        self.clock = Clock()
        self.ca = TestCA(self.mktemp())
        self.issued = self.ca.issue("localhost")
        self.config = makeConfig(components={"a.example": {"secret": "s3cret"}})
        self.router = Router(self.clock, components=self.config.components)

    def connect(
        self, tls: TLSConfig, clientCertificate: bool = False
    ) -> tuple[list[xmlstream.XmlStream], object]:
        """
        Join a TLS client to a TLS listener and run the exchange.

        @return: The authenticated client streams, and the pump.
        """
        listener = ListenerConfig(5348, "127.0.0.1", tls)
        factory = ComponentListenerFactory(self.router, self.config, self.clock, listener)
        serverFactory = TLSMemoryBIOFactory(contextFactory(tls), False, factory, clock=self.clock)
        clientCert = None
        if clientCertificate:
            issued = self.ca.issue("a.example")
            with open(issued.certificate, "rb") as c, open(issued.key, "rb") as k:
                clientCert = PrivateCertificate.loadPEM(c.read() + k.read())
        with open(self.ca.path, "rb") as f:
            trust = Certificate.loadPEM(f.read())
        options = optionsForClientTLS("localhost", trustRoot=trust, clientCertificate=clientCert)
        authenticated: list[xmlstream.XmlStream] = []

        def makeClient() -> object:
            client = component.componentFactory("a.example", "s3cret")
            client.addBootstrap(xmlstream.STREAM_AUTHD_EVENT, authenticated.append)
            return TLSMemoryBIOFactory(options, True, client, clock=self.clock).buildProtocol(None)

        server, client, pump = connectedServerAndClient(
            lambda: serverFactory.buildProtocol(None), makeClient, greet=False, clock=self.clock
        )
        pump.flush()
        return authenticated, pump

    def test_handshakeThroughTLS(self) -> None:
        """
        The client verifies the listener's certificate, authenticates, and
        is bound.
        """
        authenticated, pump = self.connect(TLSConfig(self.issued.certificate, self.issued.key))
        self.assertEqual(len(authenticated), 1)
        self.assertIsNotNone(self.router.lookup("a.example"))

    def test_clientCertificateRequired(self) -> None:
        """
        With C{verify_mode = "peer"}, a client with a certificate from the
        CA gets in, and one without does not.
        """
        tls = TLSConfig(self.issued.certificate, self.issued.key, caCertificates=self.ca.path, verifyMode="peer")
        authenticated, pump = self.connect(tls, clientCertificate=True)
        self.assertEqual(len(authenticated), 1)
        self.router.unbind("a.example", self.router.lookup("a.example"))  # type: ignore[arg-type]
        authenticated, pump = self.connect(tls, clientCertificate=False)
        self.assertEqual(authenticated, [])
        self.assertIsNone(self.router.lookup("a.example"))


class StartupErrorTests(SynchronousTestCase):
    """
    Settings that cannot be used stop startup, naming the file.
    """

    def setUp(self) -> None:
        """
        A CA, and a server certificate whose key is encrypted.
        """
        self.ca = TestCA(self.mktemp())
        self.server = self.ca.issue("localhost", password=PASSPHRASE)

    def fails(self, **settings: Any) -> str:
        """
        The startup error of a listener with the server certificate and
        C{settings}, as C{checkListeners} reports it.
        """
        settings.setdefault("keyPassword", PASSPHRASE)
        tls = TLSConfig(
            self.server.certificate,
            self.server.key,
            location=Location("xcomp.toml", 7),
            label="listen.component[1].tls",
            **settings,
        )
        config = makeConfig(listeners=(ListenerConfig(5348, "127.0.0.1", tls),))
        return str(self.assertRaises(ConfigError, checkListeners, config))

    def test_wrongPassword(self) -> None:
        """
        A wrong passphrase is named as such, and not shown.
        """
        error = self.fails(keyPassword="wrong horse")
        self.assertEqual(
            error,
            "xcomp.toml:7: listen.component[1].tls: the password set does not decrypt the key "
            + self.server.key,
        )
        self.assertNotIn("wrong horse", error)

    def test_noPassword(self) -> None:
        """
        An encrypted key without a passphrase is named as such.
        """
        self.assertEqual(
            self.fails(keyPassword=None),
            f"xcomp.toml:7: listen.component[1].tls: the key {self.server.key} is encrypted, "
            "and no password is set for it",
        )

    def test_passwordNotShown(self) -> None:
        """
        The passphrase is in no repr of the settings.
        """
        tls = TLSConfig(self.server.certificate, self.server.key, keyPassword=PASSPHRASE)
        self.assertNotIn(PASSPHRASE, repr(tls))
        self.assertNotIn(PASSPHRASE, repr(ListenerConfig(5348, "127.0.0.1", tls)))

    def test_passwordForPlainKey(self) -> None:
        """
        A passphrase for a key that has none is not needed, and no error.
        """
        plain = self.ca.issue("plain.example")
        contextFactory(TLSConfig(plain.certificate, plain.key, keyPassword=PASSPHRASE))

    def test_missingFiles(self) -> None:
        """
        A missing DH parameter file, CA file or CRL is named.
        """
        missing = os.path.abspath("missing.pem")
        settings: list[tuple[dict[str, Any], str]] = [
            ({"dhParameters": missing}, "DH parameter file"),
            ({"caCertificates": missing}, "CA certificate file"),
            ({"crlFiles": (missing,)}, "CRL"),
        ]
        for setting, what in settings:
            self.assertEqual(
                self.fails(**setting),
                f"xcomp.toml:7: listen.component[1].tls: cannot read the {what} {missing}: "
                "No such file or directory",
            )

    def test_notDHParameters(self) -> None:
        """
        A DH parameter file that holds something else is named.
        """
        self.assertEqual(
            self.fails(dhParameters=self.ca.path),
            f"xcomp.toml:7: listen.component[1].tls: the DH parameter file {self.ca.path} "
            "holds no PEM DH parameters",
        )

    def test_notCRL(self) -> None:
        """
        A CRL file that holds something else is named.
        """
        self.assertEqual(
            self.fails(crlFiles=(self.ca.path,)),
            f"xcomp.toml:7: listen.component[1].tls: the CRL {self.ca.path} "
            "holds no PEM certificate revocation list",
        )

    def test_crlOfAnotherCA(self) -> None:
        """
        A CRL that no CA of C{cacertfile} signed is named: it would refuse
        every client certificate.
        """
        other = TestCA(self.mktemp()).revocationList([])
        self.assertEqual(
            self.fails(caCertificates=self.ca.path, crlFiles=(other,)),
            f"xcomp.toml:7: listen.component[1].tls: the CRL {other} is not signed by a CA "
            "of the CA certificate file",
        )

    def test_versionsOpenSSLRulesOut(self) -> None:
        """
        Versions that OpenSSL's security level rules out are an error that
        says how to allow them.
        """
        self.assertEqual(
            self.fails(versions=("tlsv1", "tlsv1.1")),
            "xcomp.toml:7: listen.component[1].tls: no handshake is possible with tlsv1, tlsv1.1: "
            'no protocols available (OpenSSL allows TLS 1.0 and 1.1 only with ciphers = "...:@SECLEVEL=0")',
        )
