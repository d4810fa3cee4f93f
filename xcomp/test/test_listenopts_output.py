"""
Tests for the options of a component listener (L{ListenerConfig}) that
bound what waits for a component that does not read, as
L{xcomp.listener.output} applies them on L{StringTransport}, Twisted's own
write buffering and L{Clock}: the send timeout and C{max_output_buffer}.
"""

from __future__ import annotations

from twisted.internet.abstract import FileDescriptor
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactor
from twisted.trial.unittest import SynchronousTestCase

from xcomp.hold import HoldRoute
from xcomp.listener import OutputBound, handshakeDigest
from xcomp.test.helpers import stanza
from xcomp.test.listenerhelpers import HEADER, SECRET, ListenerOptionsMixin, streamError, streamId


class BufferingTransport(FileDescriptor):
    """
    Twisted's own write buffering with a socket that takes only what the
    test says it reads.
    """

    def __init__(self) -> None:
        super().__init__(MemoryReactor())
        self.connected = 1

    def take(self, size: int) -> None:
        """
        The peer reads C{size} bytes.
        """
        data = self.dataBuffer[self.offset :] + b"".join(self._tempDataBuffer)
        self.dataBuffer, self.offset = data[size:], 0
        self._tempDataBuffer, self._tempDataLen = [], 0

    def abortConnection(self) -> None:
        self.disconnecting = True

    def getPeer(self) -> None:
        return None


class OutputBoundTests(ListenerOptionsMixin, SynchronousTestCase):
    """
    The send timeout and the bound on what waits for a component that does
    not read.
    """

    def setUp(self) -> None:
        """
        A listener with a small output bound.
        """
        self.clock = Clock()
        self.build(sendTimeout=10.0, maxOutputBuffer=1000)

    def outputOf(self, transport: object) -> OutputBound:
        """
        The producer a stream registered with C{transport}: what Twisted
        pauses and resumes.
        """
        producer = getattr(transport, "producer", None)
        assert isinstance(producer, OutputBound), producer
        return producer

    def test_registeredAsProducer(self) -> None:
        """
        The stream's output bound is its transport's streaming producer, so
        the transport says when its buffer is full.
        """
        a, transport = self.authenticate("a.example", SECRET)
        self.assertIsInstance(transport.producer, OutputBound)
        self.assertTrue(transport.streaming)

    def test_backlogBounded(self) -> None:
        """
        While the transport's buffer is full, a backlog past
        C{max_output_buffer} closes the stream with C{policy-violation} at
        once, and the component is unbound.
        """
        a, aTransport = self.authenticate("a.example", SECRET)
        self.outputOf(aTransport).pauseProducing()
        aTransport.clear()
        message = stanza("<message from='b.example' to='a.example'><body>" + "x" * 400 + "</body></message>")
        self.router.route(message)
        self.router.route(message)
        self.assertFalse(aTransport.disconnecting)
        self.router.route(message)
        self.assertEqual(streamError(aTransport.value()), "policy-violation")
        self.assertEqual(aTransport.value().count(b"<message "), 2)
        self.assertIsNone(self.router.lookup("a.example"))

    def test_drainResetsBacklog(self) -> None:
        """
        When the buffer drains, counting stops and starts over at the next
        pause.
        """
        a, aTransport = self.authenticate("a.example", SECRET)
        message = stanza("<message from='b.example' to='a.example'><body>" + "x" * 400 + "</body></message>")
        for _ in range(3):
            self.outputOf(aTransport).pauseProducing()
            self.router.route(message)
            self.router.route(message)
            self.outputOf(aTransport).resumeProducing()
        self.assertFalse(aTransport.disconnecting)
        self.assertFalse(self.outputOf(aTransport).stalled)

    def test_boundIsOnWhatWaits(self) -> None:
        """
        On a Twisted TCP transport the bound is on what its buffer holds: a
        component that keeps reading is not cut off however much passes
        through while the buffer stays above its high-water mark, and one
        that stops reading is.
        """
        transport = BufferingTransport()
        a = self.factory.buildProtocol(None)
        a.makeConnection(transport)
        a.dataReceived((HEADER % "a.example").encode())
        digest = handshakeDigest(streamId(b"".join(transport._tempDataBuffer)), SECRET)
        a.dataReceived(b"<handshake>" + digest + b"</handshake>")
        transport.take(transport._tempDataLen)
        self.outputOf(transport).pauseProducing()
        message = stanza("<message from='b.example' to='a.example'><body>" + "x" * 400 + "</body></message>")
        for _ in range(20):
            self.router.route(message)
            transport.take(len(message.raw))  # type: ignore[arg-type]
        self.assertFalse(a._closed)
        for _ in range(3):
            self.router.route(message)
        self.assertTrue(a._closed)
        self.assertIsNone(self.router.lookup("a.example"))

    def test_stallTimesOut(self) -> None:
        """
        A buffer that has not drained within the send timeout ends the
        stream with C{connection-timeout}, and the connection is aborted,
        not left to flush.
        """
        a, aTransport = self.authenticate("a.example", SECRET)
        self.outputOf(aTransport).pauseProducing()
        self.clock.advance(9.9)
        self.assertFalse(aTransport.disconnecting)
        self.clock.advance(0.1)
        self.assertEqual(streamError(aTransport.value()), "connection-timeout")
        self.assertTrue(aTransport.disconnecting)
        self.assertIsNone(aTransport.producer)

    def test_closeDeadline(self) -> None:
        """
        A peer that neither reads the stream error nor closes is dropped
        after the send timeout.
        """
        a, aTransport = self.authenticate("a.example", SECRET)
        aborted = []
        aTransport.abortConnection = lambda: aborted.append(True)  # type: ignore[method-assign]
        a.close("system-shutdown")
        self.assertIsNone(aTransport.producer)
        self.clock.advance(10)
        self.assertEqual(aborted, [True])

    def test_noTimersLeft(self) -> None:
        """
        A connection that is lost leaves no timer behind, but the grace
        period of its domain's hold, which ends by itself.
        """
        a, aTransport = self.authenticate("a.example", SECRET)
        self.outputOf(aTransport).pauseProducing()
        a.close("system-shutdown")
        a.connectionLost()
        [grace] = self.clock.getDelayedCalls()
        self.assertIsInstance(grace.func.__self__, HoldRoute)  # type: ignore[attr-defined]
        self.clock.advance(30)
        self.assertEqual(self.clock.getDelayedCalls(), [])
