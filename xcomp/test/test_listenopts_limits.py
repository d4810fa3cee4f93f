"""
Tests for the options of a component listener (L{ListenerConfig}) that
bound its connections, as L{xcomp.listener} applies them on
L{StringTransport} and L{Clock}: C{max_connections}, C{state_timeout} and
the C{shaper}.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from xcomp.config import ShaperConfig
from xcomp.test.listenerhelpers import HEADER, SECRET, ListenerOptionsMixin


class ConnectionLimitTests(ListenerOptionsMixin, SynchronousTestCase):
    """
    C{max_connections} and C{state_timeout}.
    """

    def test_maxConnections(self) -> None:
        """
        A connection beyond the limit gets C{resource-constraint} at once;
        those already open are not affected, and a place that frees up can
        be taken again.
        """
        self.build(maxConnections=2)
        a, aTransport = self.authenticate("a.example", SECRET)
        pending, pendingTransport = self.connect()
        extra, extraTransport = self.connect()
        self.assertStreamError(extraTransport, "resource-constraint")
        self.assertTrue(extraTransport.value().startswith(b"<?xml version='1.0'?><stream:stream "))
        self.assertFalse(aTransport.disconnecting)
        self.assertFalse(pendingTransport.disconnecting)
        extra.connectionLost()
        self.assertEqual(len(self.factory.streams), 2)
        pending.connectionLost()
        again, againTransport = self.connect()
        self.assertFalse(againTransport.disconnecting)

    def test_stateTimeout(self) -> None:
        """
        A connection that has not completed the handshake within
        C{state_timeout} gets C{connection-timeout}.
        """
        self.build(stateTimeout=5.0)
        stream, transport = self.connect()
        stream.dataReceived((HEADER % "a.example").encode())
        self.clock.advance(4.9)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(0.1)
        self.assertStreamError(transport, "connection-timeout")

    def test_stateTimeoutEndsAtHandshake(self) -> None:
        """
        Once bound, the state timeout no longer applies.
        """
        self.build(stateTimeout=5.0)
        stream, transport = self.authenticate("a.example", SECRET)
        self.clock.advance(10)
        self.assertFalse(transport.disconnecting)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_noStateTimeout(self) -> None:
        """
        C{state_timeout = "infinity"} leaves a slow peer alone.
        """
        self.build(stateTimeout=None)
        stream, transport = self.connect()
        self.clock.advance(3600)
        self.assertFalse(transport.disconnecting)


class ShaperTests(ListenerOptionsMixin, SynchronousTestCase):
    """
    C{shaper}: reading pauses when a connection sends faster than the rate.
    """

    def test_floodPausesReading(self) -> None:
        """
        A flood pauses the transport until the rate has caught up; every
        stanza is still delivered.
        """
        self.build(shaper=ShaperConfig("slow", 1000, burst=1.0))
        a, aTransport = self.authenticate("a.example", SECRET)
        b, bTransport = self.authenticate("b.example", "other")
        bTransport.clear()
        message = b"<message from='a.example' to='b.example'><body>" + b"x" * 450 + b"</body></message>"
        a.dataReceived(message * 4)
        self.assertEqual(aTransport.producerState, "paused")
        self.assertEqual(bTransport.value().count(b"<message "), 4)
        # Over 2 KB (the handshake included) at 1 KB/s with 1 s of burst:
        # paused for more than one second and less than two.
        self.clock.advance(1.0)
        self.assertEqual(aTransport.producerState, "paused")
        self.clock.advance(1.0)
        self.assertEqual(aTransport.producerState, "producing")
        self.assertFalse(aTransport.disconnecting)

    def test_withinRateNotPaused(self) -> None:
        """
        Traffic within the rate is never paused.
        """
        self.build(shaper=ShaperConfig("slow", 1000, burst=1.0))
        a, aTransport = self.authenticate("a.example", SECRET)
        for _ in range(10):
            self.clock.advance(1.0)
            a.dataReceived(b" " * 900)
            self.assertEqual(aTransport.producerState, "producing")

    def test_lostConnectionForgetsResume(self) -> None:
        """
        A paused connection that is lost leaves no timer behind.
        """
        self.build(shaper=ShaperConfig("slow", 10, burst=0))
        a, aTransport = self.connect()
        a.dataReceived(b" " * 100)
        a.connectionLost()
        self.assertEqual(self.clock.getDelayedCalls(), [])
