# -*- test-case-name: xcomp.test.test_endpoints -*-
"""
Server endpoints for component listeners: plain TCP, TCP with
C{SO_REUSEPORT} (so that several xcomp processes can share a port, the
kernel spreading connections between them), the HAProxy PROXY protocol
header on top of either, and direct TLS on top of that (the proxy's header
comes before the TLS handshake).
"""

from __future__ import annotations

import ipaddress
import socket

from twisted.internet import defer
from twisted.internet.endpoints import TCP4ServerEndpoint, TCP6ServerEndpoint
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import (
    IListeningPort,
    IOpenSSLServerConnectionCreator,
    IProtocolFactory,
    IReactorCore,
    IReactorSocket,
    IReactorTime,
    IStreamServerEndpoint,
)
from twisted.protocols.tls import TLSMemoryBIOFactory
from zope.interface import implementer

from xcomp.config import ConfigError, ListenerConfig
from xcomp.listener.proxy import ProxyHeaderFactory
from xcomp.tls import contextFactory, tlsError

__all__ = ["ProxyServerEndpoint", "ReusePortEndpoint", "TLSServerEndpoint", "listenerEndpoint"]


@implementer(IStreamServerEndpoint)
class ReusePortEndpoint:
    """
    A TCP server endpoint whose socket has C{SO_REUSEPORT} (and
    C{SO_REUSEADDR}, as Twisted sets it) before it is bound.  Twisted's own
    TCP endpoints cannot set it, so the socket is made here and handed to
    the reactor with L{IReactorSocket.adoptStreamPort}.
    """

    def __init__(
        self, reactor: IReactorSocket, port: int, interface: str, backlog: int = 50
    ) -> None:
        """
        @param reactor: The reactor to listen with.
        @param port: The TCP port.
        @param interface: The IP address to bind.
        @param backlog: The listen queue length.
        """
        self._reactor = reactor
        self._port = port
        self._interface = interface
        self._backlog = backlog

    def listen(self, protocolFactory: IProtocolFactory) -> defer.Deferred[IListeningPort]:
        """
        Bind and listen.

        @return: A Deferred that fires with the port, or fails with
            L{CannotListenError}.
        """
        family = socket.AF_INET6 if ipaddress.ip_address(self._interface).version == 6 else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind((self._interface, self._port))
                sock.listen(self._backlog)
                sock.setblocking(False)
                # The reactor works on a duplicate of the descriptor.
                # The stub asks for a ServerFactory; the reactor takes any
                # IProtocolFactory, as Twisted's own AdoptedStreamServerEndpoint
                # relies on.
                port = self._reactor.adoptStreamPort(
                    sock.fileno(), family, protocolFactory  # type: ignore[arg-type]
                )
        except OSError as e:
            return defer.fail(CannotListenError(self._interface, self._port, e))
        return defer.succeed(port)


@implementer(IStreamServerEndpoint)
class TLSServerEndpoint:
    """
    Direct TLS on top of another server endpoint: every accepted connection
    starts with the TLS handshake, and the listener's protocol sees the
    decrypted stream.
    """

    def __init__(
        self, wrapped: IStreamServerEndpoint, contextFactory: IOpenSSLServerConnectionCreator
    ) -> None:
        """
        @param wrapped: The endpoint to listen with.
        @param contextFactory: The server's TLS settings.
        """
        self._wrapped = wrapped
        self._contextFactory = contextFactory

    def listen(self, protocolFactory: IProtocolFactory) -> defer.Deferred[IListeningPort]:
        """
        Listen with the wrapped endpoint, with TLS around each connection.
        """
        return self._wrapped.listen(
            TLSMemoryBIOFactory(self._contextFactory, False, protocolFactory)
        )


@implementer(IStreamServerEndpoint)
class ProxyServerEndpoint:
    """
    The HAProxy PROXY protocol on top of another server endpoint: every
    accepted connection starts with the proxy's header, and the listener's
    protocol sees the client's address as the peer (see
    L{xcomp.listener.proxy}).
    """

    def __init__(
        self, wrapped: IStreamServerEndpoint, clock: IReactorTime, listener: ListenerConfig
    ) -> None:
        """
        @param wrapped: The endpoint to listen with.
        @param clock: Where the header's deadline is kept.
        @param listener: The listener's options (the header's deadline and
            how many connections may wait for it come from them).
        """
        self._wrapped = wrapped
        self._clock = clock
        self._listener = listener

    def listen(self, protocolFactory: IProtocolFactory) -> defer.Deferred[IListeningPort]:
        """
        Listen with the wrapped endpoint, reading the header of each
        connection before C{protocolFactory}'s protocol is connected.
        """
        return self._wrapped.listen(ProxyHeaderFactory(protocolFactory, self._clock, self._listener))


def listenerEndpoint(reactor: IReactorCore, listener: ListenerConfig) -> IStreamServerEndpoint:
    """
    The endpoint for one configured listener: TCP on its port and interface,
    with C{SO_REUSEPORT} if it has C{reuse_port}, the PROXY protocol header
    first if it has C{proxy_protocol}, and TLS if it has a certificate.

    @raise ConfigError: If the certificate or key cannot be loaded now.
    """
    endpoint: IStreamServerEndpoint
    if listener.reusePort:
        endpoint = ReusePortEndpoint(reactor, listener.port, listener.interface)  # type: ignore[arg-type]
    else:
        version = ipaddress.ip_address(listener.interface).version
        endpointType = TCP6ServerEndpoint if version == 6 else TCP4ServerEndpoint
        endpoint = endpointType(reactor, listener.port, interface=listener.interface)
    if listener.proxyProtocol:
        # Below TLS: the proxy's header is sent in the clear, first.
        endpoint = ProxyServerEndpoint(endpoint, reactor, listener)  # type: ignore[arg-type]
    if listener.tls is not None:
        try:
            options = contextFactory(listener.tls)
        except ValueError as e:
            raise tlsError(
                listener.tls, listener.location, f"{listener.interface}:{listener.port}", e
            ) from None
        endpoint = TLSServerEndpoint(endpoint, options)
    return endpoint
