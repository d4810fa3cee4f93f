"""
Tests for L{xcomp.listener} on L{StringTransport}: what a bound component
stream does with what it reads (routing, whitespace, limits, stream errors),
conflicts over its domain, and the end of the stream.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from xcomp.test.listenerhelpers import ListenerTestsMixin


class BoundStreamTests(ListenerTestsMixin, SynchronousTestCase):
    """
    A bound stream: routing, keepalives, limits and the end of the stream.
    """

    def test_routesBetweenComponents(self) -> None:
        """
        A stanza from one bound component reaches the other as the bytes sent.
        """
        a, aTransport = self.authenticate()
        b, bTransport = self.authenticate("b.example", "other")
        bTransport.clear()
        data = b"<message from='a.example' to='u@b.example' id='1'><body>hi</body></message>"
        a.dataReceived(data)
        self.assertEqual(bTransport.value(), data)

    def test_whitespaceKeepalive(self) -> None:
        """
        Whitespace between stanzas is accepted and ignored.
        """
        a, transport = self.authenticate()
        transport.clear()
        a.dataReceived(b" \n\t \n")
        self.assertEqual(transport.value(), b"")
        self.assertFalse(transport.disconnecting)

    def test_streamEnd(self) -> None:
        """
        C{</stream:stream>} is answered with ours, the connection is closed
        and the domain unbound.
        """
        a, transport = self.authenticate()
        transport.clear()
        a.dataReceived(b"</stream:stream>")
        self.assertEqual(transport.value(), b"</stream:stream>")
        self.assertTrue(transport.disconnecting)
        self.assertIsNone(self.router.lookup("a.example"))

    def test_connectionLostUnbinds(self) -> None:
        """
        A dropped connection unbinds its domain.
        """
        a, transport = self.authenticate()
        a.connectionLost()
        self.assertIsNone(self.router.lookup("a.example"))
        self.assertNotIn(a, self.factory.streams)

    def test_notWellFormed(self) -> None:
        """
        Malformed XML from a bound component is C{not-well-formed}, and it is
        unbound.
        """
        a, transport = self.authenticate()
        a.dataReceived(b"<message to='b.example'></presence>")
        self.assertStreamError(transport, "not-well-formed")
        self.assertIsNone(self.router.lookup("a.example"))

    def test_stanzaTooLarge(self) -> None:
        """
        A stanza over the component's C{component_stanza_size_limit} is
        C{policy-violation}, before it ends.
        """
        small, transport = self.authenticate("small.example")
        small.dataReceived(b"<message to='a.example'><body>" + b"x" * 300)
        self.assertStreamError(transport, "policy-violation")

    def test_notAStanza(self) -> None:
        """
        A top-level element that is not a stanza is C{unsupported-stanza-type}.
        """
        a, transport = self.authenticate()
        a.dataReceived(b"<handshake>again</handshake>")
        self.assertStreamError(transport, "unsupported-stanza-type")

    def test_invalidFromClosesStream(self) -> None:
        """
        A C{from} outside the component's domain ends its stream with
        C{invalid-from}; the stanza is not delivered.
        """
        a, aTransport = self.authenticate()
        b, bTransport = self.authenticate("b.example", "other")
        bTransport.clear()
        a.dataReceived(b"<message from='b.example' to='b.example'/>")
        self.assertStreamError(aTransport, "invalid-from")
        self.assertEqual(bTransport.value(), b"")

    def test_nothingProcessedAfterStreamError(self) -> None:
        """
        Stanzas that arrive in the same read after a stream error are not
        routed.
        """
        a, aTransport = self.authenticate()
        b, bTransport = self.authenticate("b.example", "other")
        bTransport.clear()
        a.dataReceived(
            b"<message from='b.example' to='b.example'/><message from='a.example' to='b.example'/>"
        )
        self.assertEqual(bTransport.value(), b"")

    def test_bugIsInternalServerError(self) -> None:
        """
        An unexpected exception while processing a read is logged with its
        traceback and ends that stream with C{internal-server-error}; other
        streams are unaffected.
        """
        a, aTransport = self.authenticate()
        b, bTransport = self.authenticate("b.example", "other")

        def broken(source: object, stanza: object) -> None:
            raise RuntimeError("a bug")

        self.router.receive = broken  # type: ignore[method-assign]
        a.dataReceived(b"<message from='a.example' to='b.example'/>")
        self.assertStreamError(aTransport, "internal-server-error")
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertFalse(bTransport.disconnecting)

    def test_kickNew(self) -> None:
        """
        With C{kick_new} (the default), a second stream for a bound domain
        gets C{conflict}; the first keeps its binding.
        """
        first, firstTransport = self.authenticate()
        second, secondTransport = self.authenticate()
        self.assertStreamError(secondTransport, "conflict")
        self.assertIs(self.router.lookup("a.example"), first)
        self.assertFalse(firstTransport.disconnecting)

    def test_kickOld(self) -> None:
        """
        With C{kick_old}, the first stream gets C{conflict} and is closed, and
        the second is bound; stanzas go only to the second.
        """
        first, firstTransport = self.authenticate("old.example")
        second, secondTransport = self.authenticate("old.example")
        self.assertStreamError(firstTransport, "conflict")
        self.assertEqual(secondTransport.value(), b"<handshake/>")
        self.assertIs(self.router.lookup("old.example"), second)
        firstTransport.clear()
        secondTransport.clear()
        b, _ = self.authenticate("b.example", "other")
        b.dataReceived(b"<message from='b.example' to='old.example'/>")
        self.assertEqual(firstTransport.value(), b"")
        self.assertEqual(secondTransport.value(), b"<message from='b.example' to='old.example'/>")

    def test_shutdown(self) -> None:
        """
        Shutting down ends every stream, authenticated or not, with
        C{system-shutdown}.
        """
        a, aTransport = self.authenticate()
        pending, pendingTransport = self.connect()
        d = self.factory.shutdown()
        self.assertStreamError(aTransport, "system-shutdown")
        self.assertStreamError(pendingTransport, "system-shutdown")
        self.assertNoResult(d)
        a.connectionLost()
        pending.connectionLost()
        self.successResultOf(d)
