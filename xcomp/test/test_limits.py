"""
Tests for L{xcomp.limits}: the shaper's arithmetic, and the kernel send
timeout on a real loopback socket.
"""

from __future__ import annotations

import socket
from typing import cast

from twisted.internet import defer, protocol, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase

from xcomp.config import ShaperConfig
from xcomp.limits import TCP_USER_TIMEOUT, Shaper, setSendTimeout, socketOf


class ShaperTests(SynchronousTestCase):
    """
    The token bucket.
    """

    def setUp(self) -> None:
        """
        A shaper of 100 bytes per second with half a second of burst.
        """
        self.clock = Clock()
        self.transport = StringTransport()
        self.shaper = Shaper(ShaperConfig("s", 100, 0.5), self.transport, self.clock)

    def test_burstAllowed(self) -> None:
        """
        Up to the burst arrives without a pause.
        """
        self.shaper.received(50)
        self.assertEqual(self.transport.producerState, "producing")

    def test_pauseLastsUntilRateCatchesUp(self) -> None:
        """
        Past the burst, reading pauses for exactly as long as the excess
        takes at the rate.
        """
        self.shaper.received(250)  # 200 over: two seconds
        self.assertTrue(self.shaper.paused)
        self.clock.advance(1.99)
        self.assertEqual(self.transport.producerState, "paused")
        self.clock.advance(0.01)
        self.assertEqual(self.transport.producerState, "producing")
        self.assertFalse(self.shaper.paused)

    def test_creditRefills(self) -> None:
        """
        Credit comes back with time, up to the burst.
        """
        self.shaper.received(50)
        self.clock.advance(10)
        self.shaper.received(50)
        self.assertFalse(self.shaper.paused)

    def test_stop(self) -> None:
        """
        Stopping forgets the pending resume.
        """
        self.shaper.received(1000)
        self.shaper.stop()
        self.assertEqual(self.clock.getDelayedCalls(), [])


class SendTimeoutTests(TestCase):
    """
    C{TCP_USER_TIMEOUT} on a real connection.
    """

    async def test_setOnAcceptedSocket(self) -> None:
        """
        The send timeout reaches the socket under the transport.
        """
        if not hasattr(socket, "TCP_USER_TIMEOUT"):
            raise SkipTest("no TCP_USER_TIMEOUT here")
        accepted: defer.Deferred[protocol.Protocol] = defer.Deferred()

        class Accept(protocol.Protocol):
            def connectionMade(self) -> None:
                accepted.callback(self)

        port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
            protocol.Factory.forProtocol(Accept)
        )
        self.addCleanup(port.stopListening)
        client = cast(
            protocol.Protocol,
            await TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port).connect(
                protocol.Factory.forProtocol(protocol.Protocol)
            ),
        )
        server = await accepted
        assert client.transport is not None and server.transport is not None
        self.addCleanup(client.transport.loseConnection)
        self.addCleanup(server.transport.loseConnection)
        self.assertTrue(setSendTimeout(server.transport, 12.5))
        sock = socketOf(server.transport)
        assert sock is not None
        self.assertEqual(sock.getsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT), 12500)

    def test_notASocket(self) -> None:
        """
        A transport without a TCP socket is left alone.
        """
        self.assertFalse(setSendTimeout(StringTransport(), 1))
