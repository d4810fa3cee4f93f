"""
Tests for L{xcomp.endpoints}: C{SO_REUSEPORT} on real loopback sockets,
and the endpoint each listener gets in the service tree.
"""

from __future__ import annotations

import socket
from typing import cast

from twisted.internet import protocol, reactor, tcp
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IReactorSocket
from twisted.internet.testing import MemoryReactorClock
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.trial.unittest import SynchronousTestCase, TestCase

from xcomp import RouterService
from xcomp.config import ListenerConfig, TLSConfig
from xcomp.endpoints import ReusePortEndpoint
from xcomp.listener import ComponentListenerFactory
from xcomp.test.certs import TestCA
from xcomp.test.helpers import makeConfig
from xcomp.test.loopback import freePort


class ReusePortTests(TestCase):
    """
    Two listeners on one port, as two xcomp processes would be.
    """

    async def test_twoListenersShareAPort(self) -> None:
        """
        With C{SO_REUSEPORT}, a second listener on the same port and address
        succeeds, and the socket has the option set.
        """
        port = freePort()
        factory = protocol.Factory.forProtocol(protocol.Protocol)
        listening = IReactorSocket(reactor)
        # Twisted's TCP ports, which the interface does not promise.
        first = cast(tcp.Port, await ReusePortEndpoint(listening, port, "127.0.0.1").listen(factory))
        self.addCleanup(first.stopListening)
        second = cast(tcp.Port, await ReusePortEndpoint(listening, port, "127.0.0.1").listen(factory))
        self.addCleanup(second.stopListening)
        self.assertEqual(first.getHost().port, second.getHost().port)
        sock = socket.socket(fileno=socket.dup(first.fileno()))
        self.addCleanup(sock.close)
        self.assertEqual(sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT), 1)

    async def test_withoutReusePortRefused(self) -> None:
        """
        A listener without the option cannot take the port, and the error
        is the one the command line reports.
        """
        port = freePort()
        factory = protocol.Factory.forProtocol(protocol.Protocol)
        first = await ReusePortEndpoint(IReactorSocket(reactor), port, "127.0.0.1").listen(factory)
        self.addCleanup(first.stopListening)
        with self.assertRaises(CannotListenError):
            await TCP4ServerEndpoint(reactor, port, interface="127.0.0.1").listen(factory)

    async def test_portTaken(self) -> None:
        """
        A port taken by a socket without the option is a
        L{CannotListenError}, as from Twisted's own endpoints.
        """
        blocker = socket.socket()
        self.addCleanup(blocker.close)
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        factory = protocol.Factory.forProtocol(protocol.Protocol)
        with self.assertRaises(CannotListenError):
            await ReusePortEndpoint(IReactorSocket(reactor), blocker.getsockname()[1], "127.0.0.1").listen(factory)


class ServiceEndpointTests(SynchronousTestCase):
    """
    What L{RouterService} listens with.
    """

    def test_tlsListener(self) -> None:
        """
        A listener with a certificate listens through TLS, around its own
        factory with its own options.
        """
        issued = TestCA(self.mktemp()).issue("localhost")
        memory = MemoryReactorClock()
        listener = ListenerConfig(5348, "127.0.0.1", TLSConfig(issued.certificate, issued.key))
        service = RouterService(makeConfig(listeners=(listener,)), reactor=memory)
        service.privilegedStartService()
        [(port, factory, _, interface)] = memory.tcpServers
        self.assertEqual((port, interface), (5348, "127.0.0.1"))
        assert isinstance(factory, TLSMemoryBIOFactory)
        wrapped = factory.wrappedFactory
        assert isinstance(wrapped, ComponentListenerFactory)
        self.assertIs(wrapped.listener, listener)

    def test_reusePortListener(self) -> None:
        """
        A listener with C{reuse_port} hands the reactor a socket of its own
        (Twisted's TCP endpoints cannot set the option).
        """
        memory = MemoryReactorClock()
        port = freePort()
        listener = ListenerConfig(port, "127.0.0.1", reusePort=True)
        service = RouterService(makeConfig(listeners=(listener,)), reactor=memory)
        service.privilegedStartService()
        [(fileno, family, factory)] = memory.adoptedPorts
        self.assertEqual(family, socket.AF_INET)
        self.assertIsInstance(factory, ComponentListenerFactory)
