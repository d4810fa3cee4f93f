"""
Tests for the keepalive interval of a component listener
(L{ListenerConfig}), as L{xcomp.listener} applies it on L{StringTransport}
and L{Clock}: whitespace keepalives to silent components, and streams that
hibernate after the handshake and when silent.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from xcomp.config import DEFAULT_KEEPALIVE_INTERVAL
from xcomp.test.listenerhelpers import SECRET, ListenerOptionsMixin


class KeepaliveTests(ListenerOptionsMixin, SynchronousTestCase):
    """
    Whitespace keepalives to silent components, and streams hibernating
    (L{StreamParser.hibernate}) after the handshake and when silent.
    """

    MESSAGE = b"<message from='a.example' to='b.example' id='m'><body>hi</body></message>"

    def test_hibernatesAfterHandshake(self) -> None:
        """
        Once the read that completed the handshake has been processed, the
        stream hibernates; the next stanza wakes it and is routed as usual.
        """
        self.build()
        a, aTransport = self.authenticate("a.example", SECRET)
        b, bTransport = self.authenticate("b.example", "other")
        self.assertFalse(a._parser.hibernating)  # type: ignore[union-attr]
        self.clock.advance(0)
        self.assertTrue(a._parser.hibernating)  # type: ignore[union-attr]
        self.assertTrue(b._parser.hibernating)  # type: ignore[union-attr]
        bTransport.clear()
        a.dataReceived(self.MESSAGE)
        self.assertEqual(bTransport.value(), self.MESSAGE)
        self.assertFalse(a._parser.hibernating)  # type: ignore[union-attr]

    def test_silentComponentHibernates(self) -> None:
        """
        At a keepalive tick, a bound component that sent nothing for the
        whole interval hibernates; one that spoke does not.
        """
        self.build(keepaliveInterval=30.0)
        self.factory.doStart()
        self.addCleanup(self.factory.doStop)
        a, _ = self.authenticate("a.example", SECRET)
        b, _ = self.authenticate("b.example", "other")
        self.clock.advance(0)
        a.dataReceived(self.MESSAGE)
        b.dataReceived(b"<presence from='b.example' to='a.example'/>")
        self.clock.advance(30)
        a.dataReceived(self.MESSAGE)
        self.clock.advance(30)
        self.assertEqual(
            (a._parser.hibernating, b._parser.hibernating),  # type: ignore[union-attr]
            (False, True),
        )

    def test_hibernatesWithoutKeepalives(self) -> None:
        """
        With keepalives off, silent streams still hibernate, at the default
        interval, and are sent nothing.
        """
        self.build(keepaliveInterval=None)
        self.factory.doStart()
        self.addCleanup(self.factory.doStop)
        a, aTransport = self.authenticate("a.example", SECRET)
        self.clock.advance(0)
        a.dataReceived(self.MESSAGE)
        aTransport.clear()
        self.clock.advance(DEFAULT_KEEPALIVE_INTERVAL)
        self.assertFalse(a._parser.hibernating)  # type: ignore[union-attr]
        self.clock.advance(DEFAULT_KEEPALIVE_INTERVAL)
        self.assertTrue(a._parser.hibernating)  # type: ignore[union-attr]
        self.assertEqual(aTransport.value(), b"")

    def test_silentComponentGetsWhitespace(self) -> None:
        """
        A bound component that sent nothing for a whole interval gets one
        space; one that spoke does not.
        """
        self.build(keepaliveInterval=30.0)
        self.factory.doStart()
        self.addCleanup(self.factory.doStop)
        a, aTransport = self.authenticate("a.example", SECRET)
        b, bTransport = self.authenticate("b.example", "other")
        aTransport.clear()
        bTransport.clear()
        self.clock.advance(30)  # both had spoken (the handshake)
        self.assertEqual((aTransport.value(), bTransport.value()), (b"", b""))
        b.dataReceived(b" ")
        self.clock.advance(30)
        self.assertEqual((aTransport.value(), bTransport.value()), (b" ", b""))

    def test_unboundGetNoKeepalive(self) -> None:
        """
        A connection that has not authenticated gets no keepalive.
        """
        self.build(keepaliveInterval=30.0, stateTimeout=None)
        self.factory.doStart()
        self.addCleanup(self.factory.doStop)
        stream, transport = self.connect()
        transport.clear()
        self.clock.advance(90)
        self.assertEqual(transport.value(), b"")

    def test_stoppedWithFactory(self) -> None:
        """
        Stopping the listener stops the keepalive timer.
        """
        self.build(keepaliveInterval=30.0)
        self.factory.doStart()
        self.factory.doStop()
        self.assertEqual(self.clock.getDelayedCalls(), [])
