"""
Tests for L{xcomp.listener.output} on L{StringTransport}, and what a read
becomes on the way out: the stanzas it routes are gathered into one write
per destination, and ordinary stanzas pass as the bytes received, with no
DOM built.
"""

from __future__ import annotations

from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from xcomp.test.helpers import FakeRoute, stanza
from xcomp.test.listenerhelpers import ListenerTestsMixin


class CountingTransport(StringTransport):
    """
    A transport that counts the calls that wrote to it.
    """

    writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        super().write(data)

    def writeSequence(self, data: list[bytes]) -> None:
        self.writes += 1
        super().write(b"".join(data))


class OutboxTests(ListenerTestsMixin, SynchronousTestCase):
    """
    Writes are gathered per destination while a read is processed.
    """

    def test_oneWritePerDestinationPerRead(self) -> None:
        """
        The stanzas one read routes to a component reach it in one write, in
        order.
        """
        a, _ = self.authenticate()
        b, _ = self.authenticate("b.example", "other")
        counting = CountingTransport()
        b.transport = counting  # type: ignore[assignment]  # in place of a TCP transport
        data = b"".join(
            b"<message from='a.example' to='b.example' id='%d'/>" % n for n in range(50)
        )
        a.dataReceived(data)
        self.assertEqual(counting.value(), data)
        self.assertEqual(counting.writes, 1)

    def test_writeAtOnceOutsideARead(self) -> None:
        """
        A stanza routed outside any read (from inside the process) is written
        at once.
        """
        a, transport = self.authenticate()
        transport.clear()
        self.router.route(stanza("<message from='b.example' to='a.example'/>"))
        self.assertEqual(transport.value(), b"<message from='b.example' to='a.example'/>")

    def test_gatheredStanzasPrecedeStreamError(self) -> None:
        """
        Stanzas gathered for a stream that is closed in the same read are
        written before its stream error, never after.
        """
        a, transport = self.authenticate()
        transport.clear()
        self.factory.outbox.depth += 1
        a.send(stanza("<message from='b.example' to='a.example' id='1'/>"))
        a.close("system-shutdown")
        self.factory.outbox.depth -= 1
        self.factory.outbox.flush()
        data = transport.value()
        self.assertTrue(data.startswith(b"<message from='b.example' to='a.example' id='1'/><stream:error>"))
        self.assertEqual(data.count(b"<message"), 1)

    def test_gatheredStanzasPrecedeStreamEnd(self) -> None:
        """
        A component that sends to itself and then ends its stream in one read
        gets its stanza before our closing tag.
        """
        a, transport = self.authenticate()
        transport.clear()
        a.dataReceived(b"<message from='a.example' to='a.example'/></stream:stream>")
        self.assertEqual(
            transport.value(), b"<message from='a.example' to='a.example'/></stream:stream>"
        )


class FastPathTests(ListenerTestsMixin, SynchronousTestCase):
    """
    Ordinary traffic never builds a DOM (ARCHITECTURE.md, decision 1).
    """

    def test_ordinaryStanzasStayBytes(self) -> None:
        """
        Messages, presences and iqs between components, with or without a
        C{from}, to bare or full JIDs, reach the destination route as the
        bytes received, and no element is ever built for them.
        """
        a, _ = self.authenticate()
        b = FakeRoute("b.example")
        self.router.bind("b.example", b)
        inputs = [
            b"<message from='a.example' to='b.example' id='1'><body>hi</body></message>",
            b"<message from='u@a.example/r' to='v@b.example/s' type='chat'><body>x</body></message>",
            b"<presence from='a.example' to='b.example'><show>away</show></presence>",
            b"<iq from='a.example' to='b.example' type='get' id='q'><ping xmlns='urn:xmpp:ping'/></iq>",
            b"<message to='b.example'><body>no from</body></message>",
        ]
        a.dataReceived(b"".join(inputs))
        self.assertEqual(len(b.sent), len(inputs))
        for received, sent in zip(b.sent, inputs):
            self.assertIsNone(received._element, f"a DOM was built for {sent!r}")
            self.assertIsNotNone(received.raw)
        self.assertEqual([s.raw for s in b.sent[:4]], inputs[:4])
        self.assertEqual(b.sent[4].raw, b"<message from='a.example' to='b.example'><body>no from</body></message>")
