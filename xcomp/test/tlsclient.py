# -*- test-case-name: xcomp.test.test_tlsopts -*-
"""
A harness for TLS listener tests over loopback: a L{RouterService} with
one direct-TLS listener, and Twisted's component client connecting to it
through TLS with the certificate, versions or ciphers a test chooses, its
raw received bytes kept for a test to look into the handshake.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from OpenSSL import SSL
from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator, IProtocolFactory
from twisted.internet.ssl import (
    AcceptableCiphers,
    Certificate,
    CertificateOptions,
    PrivateCertificate,
    TLSVersion,
    optionsForClientTLS,
)
from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase
from twisted.words.protocols.jabber import component, xmlstream
from zope.interface import implementer

from xcomp.config import ListenerConfig, RouterConfig, TLSConfig
from xcomp.service import RouterService
from xcomp.test.certs import Issued, TestCA
from xcomp.test.helpers import makeConfig
from xcomp.test.loopback import PROCESS_TIMEOUT, freePort
from xcomp.tls import checkListeners

__all__ = [
    "SECRET",
    "RawTLSClient",
    "RecordingTLSClient",
    "RecordingTLSFactory",
    "TLSListenerTestCase",
    "namedCurvesOnlyClient",
    "tls11Client",
]

#: The secret of the component C{a.example} that the client connects as.
SECRET = "s3cret"


class RecordingTLSClient(TLSMemoryBIOProtocol):
    """
    A TLS client that keeps the raw bytes it receives, for a test to look
    into the handshake.
    """

    factory: RecordingTLSFactory

    def dataReceived(self, data: bytes) -> None:
        """
        Keep C{data}, then decrypt it.
        """
        self.factory.received += data
        super().dataReceived(data)


class RecordingTLSFactory(TLSMemoryBIOFactory):
    """
    TLS client connections that keep what they receive.
    """

    protocol = RecordingTLSClient

    def __init__(
        self, options: IOpenSSLClientConnectionCreator, wrapped: IProtocolFactory, received: bytearray
    ) -> None:
        """
        @param received: Where the bytes received go.
        """
        super().__init__(options, True, wrapped)
        self.received = received


@implementer(IOpenSSLClientConnectionCreator)
class RawTLSClient:
    """
    TLS client connections from a pyOpenSSL context the test makes, for
    settings that Twisted's client options cannot express (the groups
    offered, OpenSSL's security level).
    """

    def __init__(self, context: SSL.Context) -> None:
        """
        @param context: The client context.
        """
        self._context = context

    def clientConnectionForTLS(self, tlsProtocol: TLSMemoryBIOProtocol) -> SSL.Connection:
        """
        A client connection with this context.
        """
        connection = SSL.Connection(self._context, None)
        connection.set_app_data(tlsProtocol)
        connection.set_connect_state()
        return connection


def namedCurvesOnlyClient(caPath: str, ciphers: str) -> RawTLSClient:
    """
    A TLS 1.2 client that offers none of RFC 7919's FFDHE groups among its
    supported groups: the server cannot pick a standard group for its
    C{DHE} ciphers, and falls back on its own DH parameters.

    @param caPath: The CA that the server's certificate must chain to.
    @param ciphers: The TLS 1.2 ciphers to offer (C{DHE} ones, for the
        group to matter).
    """
    with open(caPath, "rb") as f:
        trust = Certificate.loadPEM(f.read())
    context = CertificateOptions(
        trustRoot=trust,
        acceptableCiphers=AcceptableCiphers.fromOpenSSLCipherString(ciphers),
        lowerMaximumSecurityTo=TLSVersion.TLSv1_2,
    ).getContext()
    # In OpenSSL 3 and later this sets the groups offered to this one.
    context.set_tmp_ecdh(ec.SECP256R1())
    return RawTLSClient(context)


def tls11Client() -> RawTLSClient:
    """
    A TLS 1.1 client, at the security level that allows it; it does not
    check the server's certificate.
    """
    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.set_min_proto_version(SSL.TLS1_1_VERSION)
    context.set_max_proto_version(SSL.TLS1_1_VERSION)
    context.set_cipher_list(b"DEFAULT:@SECLEVEL=0")
    return RawTLSClient(context)


class TLSListenerTestCase(TestCase):
    """
    A router with one direct-TLS listener on loopback, and Twisted's
    component client for C{a.example}.
    """

    def setUp(self) -> None:
        """
        A CA, and a server certificate for C{localhost}.
        """
        self.ca = TestCA(self.mktemp())
        self.server = self.ca.issue("localhost")
        self.fromServer = bytearray()

    def startRouter(self, tls: TLSConfig) -> RouterService:
        """
        Start a router whose only listener has C{tls}; it is stopped at
        cleanup.
        """
        listener = ListenerConfig(freePort(), "127.0.0.1", tls)
        return self.startService(
            makeConfig(components={"a.example": {"secret": SECRET}}, listeners=(listener,))
        )

    def startService(self, config: RouterConfig) -> RouterService:
        """
        Start a router with C{config}, whose TLS listener the client will
        connect to; it is stopped at cleanup.
        """
        checkListeners(config)
        service = RouterService(config, reactor=reactor)
        service.privilegedStartService()
        service.startService()
        self.addCleanup(service.stopService)
        [self.port] = [listener.port for listener in config.listeners if listener.tls is not None]
        return service

    def clientOptions(
        self, certificate: Issued | None = None, **extra: Any
    ) -> IOpenSSLClientConnectionCreator:
        """
        The client's TLS settings: the test CA trusted, and C{certificate}
        presented if the server asks for one.

        @param extra: More L{CertificateOptions} arguments (versions,
            ciphers).
        """
        clientCertificate = None
        if certificate is not None:
            with open(certificate.certificate, "rb") as c, open(certificate.key, "rb") as k:
                clientCertificate = PrivateCertificate.loadPEM(c.read() + k.read())
        with open(self.ca.path, "rb") as f:
            trust = Certificate.loadPEM(f.read())
        return optionsForClientTLS(
            "localhost",
            trustRoot=trust,
            clientCertificate=clientCertificate,
            extraCertificateOptions=extra or None,
        )

    async def connect(self, options: IOpenSSLClientConnectionCreator) -> xmlstream.XmlStream:
        """
        Connect through TLS and authenticate as C{a.example}.

        @return: The authenticated stream; it is closed at cleanup.
        @raise Exception: Why the connection ended before authentication
            (an L{SSL.Error} when TLS refused it).
        """
        authenticated: defer.Deferred[xmlstream.XmlStream] = defer.Deferred()
        ended: defer.Deferred[None] = defer.Deferred()
        streams: list[xmlstream.XmlStream] = []

        def lost(reason: Failure) -> None:
            ended.callback(None)
            if not authenticated.called:
                authenticated.errback(reason)

        def close() -> defer.Deferred[None]:
            if streams and not ended.called:
                streams[0].transport.loseConnection()  # type: ignore[union-attr]
            return ended

        factory = component.componentFactory("a.example", SECRET)
        factory.addBootstrap(xmlstream.STREAM_AUTHD_EVENT, streams.append)
        factory.addBootstrap(xmlstream.STREAM_AUTHD_EVENT, authenticated.callback)
        factory.addBootstrap(xmlstream.STREAM_END_EVENT, lost)
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.port, timeout=PROCESS_TIMEOUT)
        await endpoint.connect(RecordingTLSFactory(options, factory, self.fromServer))
        self.addCleanup(close)
        return await authenticated.addTimeout(PROCESS_TIMEOUT, reactor)

    async def assertAuthenticates(
        self, service: RouterService, options: IOpenSSLClientConnectionCreator
    ) -> SSL.Connection:
        """
        The client authenticates and is bound.

        @return: The client's TLS connection, to look at what was agreed.
        """
        xs = await self.connect(options)
        self.assertIsNotNone(service.router.lookup("a.example"))
        return xs.transport.getHandle()  # type: ignore[union-attr]

    async def assertRefused(
        self, service: RouterService, options: IOpenSSLClientConnectionCreator
    ) -> SSL.Error:
        """
        TLS ends the connection before the component authenticates, and
        nothing is bound.

        @return: The client's TLS error.
        """
        try:
            await self.connect(options)
        except SSL.Error as e:
            self.assertIsNone(service.router.lookup("a.example"))
            return e
        raise self.failureException("the client authenticated")

    def serverSidePeerCertificate(self, service: RouterService) -> object:
        """
        The client certificate the listener's one stream was given, if any.
        """
        [stream] = service.factories[0].streams
        return stream.transport.getPeerCertificate()  # type: ignore[attr-defined]
