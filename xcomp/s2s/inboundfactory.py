# -*- test-case-name: xcomp.test.test_s2s_inbound,xcomp.test.test_s2s_service -*-
"""
L{InboundListenerFactory}: what the incoming s2s streams of one process
share (the router, the s2s options, the open streams for the connection
limit and for shutdown, the dialback secret, the verifier and the TLS
settings), and L{s2sEndpoint}, the server endpoint of one s2s listener.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any, Callable, Protocol as _TypingProtocol

from twisted.internet import defer, task
from twisted.internet.endpoints import TCP4ServerEndpoint, TCP6ServerEndpoint
from twisted.internet.interfaces import (
    IAddress,
    IOpenSSLServerConnectionCreator,
    IReactorCore,
    IReactorTime,
    IStreamServerEndpoint,
)
from twisted.internet.protocol import ServerFactory

from xcomp.config import DEFAULT_KEEPALIVE_INTERVAL, ListenerConfig
from xcomp.config.model import S2SConfig, S2SListenerConfig
from xcomp.endpoints import TLSServerEndpoint
from xcomp.listener.output import Outbox
from xcomp.router import Router
from xcomp.s2s.dialback import DialbackSecret
from xcomp.s2s.inbound import InboundStream

__all__ = ["DialbackVerifier", "InboundListenerFactory", "InboundTLS", "s2sEndpoint"]


class DialbackVerifier(_TypingProtocol):
    """
    Who asks authoritative servers about dialback keys: s2s-out's
    L{xcomp.s2s.pool.OutboundPool}.
    """

    def verify(self, receiving: str, originating: str, streamID: str, key: str) -> defer.Deferred[bool]:
        """
        Fire with whether C{originating}'s authoritative server says C{key}
        is the one it gave C{receiving} for stream C{streamID}.
        """


class InboundTLS(_TypingProtocol):
    """
    The server side of s2s TLS (L{xcomp.s2s.tls.S2STLS}).
    """

    def serverOptions(self, default: str | None = None) -> IOpenSSLServerConnectionCreator | None:
        """
        The connection creator for STARTTLS and direct TLS: SNI picks the
        local domain's certificate, C{default}'s without SNI; the peer's
        certificate is asked for, never required.
        """

    def peerValidFor(self, peer: Any, domain: str) -> bool:
        """
        Whether the peer of the TLS connection C{peer} presented a trusted
        certificate valid for C{domain}.
        """

    def hasCertificate(self, domain: str) -> bool:
        """
        Whether a stream to the local C{domain} can offer TLS.
        """


if TYPE_CHECKING:
    _ServerFactory = ServerFactory[InboundStream]
else:
    _ServerFactory = ServerFactory


class InboundListenerFactory(_ServerFactory):
    """
    Accepts remote servers on every s2s listener of the process: one
    factory for all of them, so that C{maxConnections} bounds them
    together.

    @ivar streams: The open incoming streams.
    @ivar output: The write bounds of each stream (the component
        listener's defaults: C{send_timeout}, C{max_output_buffer}).
    """

    protocol = InboundStream
    noisy = False

    def __init__(
        self,
        router: Router,
        config: S2SConfig,
        reactor: IReactorTime,
        *,
        secret: DialbackSecret,
        verifier: DialbackVerifier,
        tls: InboundTLS | None,
        isLocal: Callable[[str], bool],
        outbox: Outbox | None = None,
    ) -> None:
        """
        @param tls: The TLS settings; L{None} when no local domain has a
            certificate (no STARTTLS is offered then).
        @param isLocal: Whether a nameprep'd domain is one xcomp serves.
        @param outbox: Shared with the component listeners, so that what a
            read routes to a component stream is written once per read.
        """
        self.router = router
        self.config = config
        self.reactor = reactor
        self.secret = secret
        self.streams: set[InboundStream] = set()
        self.outbox = outbox if outbox is not None else Outbox()
        self.output = ListenerConfig(0, "127.0.0.1")
        self._verifier = verifier
        self._tls = tls
        self.isLocal = isLocal
        self._idleCheck: task.LoopingCall | None = None

    def buildProtocol(self, addr: IAddress | None) -> InboundStream:
        stream = InboundStream(self)
        stream.factory = self
        return stream

    def startFactory(self) -> None:
        """
        Start the idle check, once a port listens.
        """
        if self._idleCheck is None:
            self._idleCheck = task.LoopingCall(self.idle)
            self._idleCheck.clock = self.reactor
            self._idleCheck.start(DEFAULT_KEEPALIVE_INTERVAL, now=False)

    def stopFactory(self) -> None:
        """
        Stop the idle check.
        """
        if self._idleCheck is not None and self._idleCheck.running:
            self._idleCheck.stop()
        self._idleCheck = None

    def idle(self) -> None:
        """
        Every stream that has sent nothing since the last call hibernates
        its parser, as the component streams do.
        """
        for stream in self.streams:
            if stream.heard:
                stream.heard = False
            else:
                stream.hibernate()

    def verify(self, receiving: str, originating: str, streamID: str, key: str) -> defer.Deferred[bool]:
        """
        See L{DialbackVerifier.verify}.
        """
        return self._verifier.verify(receiving, originating, streamID, key)

    def serverTLS(self, local: str) -> IOpenSSLServerConnectionCreator:
        """
        The server side of STARTTLS on a stream to C{local}.
        """
        options = self._tls.serverOptions(local) if self._tls is not None else None
        assert options is not None, "STARTTLS is offered only with a certificate"
        return options

    def canEncrypt(self, local: str) -> bool:
        """
        Whether a stream to C{local} can offer STARTTLS: it has a
        certificate (its own, or its parent domain's).
        """
        return self._tls is not None and self._tls.hasCertificate(local)

    def peerValidFor(self, connection: object, domain: str) -> bool:
        """
        See L{InboundTLS.peerValidFor}.
        """
        return self._tls is not None and self._tls.peerValidFor(connection, domain)

    def shutdown(self, timeout: float = 5.0) -> defer.Deferred[None]:
        """
        End every incoming stream with C{system-shutdown}; fires when they
        are all closed or C{timeout} seconds have passed.
        """
        self.stopFactory()
        waiting = []
        for stream in list(self.streams):
            waiting.append(stream.whenLost())
            stream.close("system-shutdown", "The server is shutting down")
        done = defer.DeferredList(waiting, consumeErrors=True)
        done.addTimeout(timeout, self.reactor)
        done.addErrback(lambda f: f.trap(defer.TimeoutError))
        return done.addCallback(lambda _: None)


def s2sEndpoint(
    reactor: IReactorCore, listener: S2SListenerConfig, tls: InboundTLS | None
) -> IStreamServerEndpoint:
    """
    The endpoint of one s2s listener: TCP on its port and interface, with
    TLS from the first byte on a direct TLS (XEP-0368) port.
    """
    version = ipaddress.ip_address(listener.interface).version
    endpointType = TCP6ServerEndpoint if version == 6 else TCP4ServerEndpoint
    endpoint: IStreamServerEndpoint = endpointType(reactor, listener.port, interface=listener.interface)
    options = tls.serverOptions() if listener.directTLS and tls is not None else None
    if options is not None:
        endpoint = TLSServerEndpoint(endpoint, options)
    return endpoint
