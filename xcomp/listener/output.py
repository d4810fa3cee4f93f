# -*- test-case-name: xcomp.test.test_listener_outbox,xcomp.test.test_listenopts_output -*-
"""
The write side of component streams: what is written to a stream, when,
and how much may wait for a peer that does not read.

L{Outbox} gathers what the router sends to each stream while a read is
processed, so that a destination gets one write per read rather than one
per stanza.  L{OutputBound} is a stream's transport's producer: Twisted
tells it when the transport's buffer is over its high-water mark, and from
then until the buffer drains, what is written is bounded by
C{max_output_buffer} and the wait by C{send_timeout}.  None of this adds
work per stanza while the transport keeps up.
"""

from __future__ import annotations

from typing import Callable, Protocol

from twisted.internet.interfaces import IDelayedCall, IPushProducer, IReactorTime, ITransport
from zope.interface import implementer

from xcomp.config import ListenerConfig

__all__ = ["OutputBound", "Outbox", "bufferedBytes"]


class _Gathering(Protocol):
    """
    A stream that has stanzas gathered in the outbox.
    """

    def flush(self) -> None:
        """
        Write what was gathered for it.
        """


class Outbox:
    """
    Gathers what is sent to each stream while a read is processed, so that a
    destination gets one write per read rather than one per stanza.

    One outbox is shared by every listener of a router, because a stanza read
    on one port may be for a stream on another.

    @ivar depth: how many reads are being processed (more than one only when
        streams are joined in memory, as in tests).
    @ivar pending: the streams that have something gathered.
    """

    def __init__(self) -> None:
        self.depth = 0
        self.pending: list[_Gathering] = []

    def flush(self) -> None:
        """
        Write everything gathered.
        """
        while self.pending:
            pending, self.pending = self.pending, []
            for stream in pending:
                stream.flush()


def bufferedBytes(transport: object) -> int | None:
    """
    How many bytes a Twisted TCP transport holds that the socket has not
    taken yet, looking through TLS (and a PROXY protocol wrapper) to the
    TCP connection below it; L{None} for a transport that does not say.
    """
    for _ in range(4):
        if hasattr(transport, "_tempDataLen") and hasattr(transport, "dataBuffer"):
            return (
                len(transport.dataBuffer)
                - transport.offset  # type: ignore[attr-defined]
                + transport._tempDataLen
            )
        transport = getattr(transport, "transport", None)
        if transport is None:
            break
    return None


@implementer(IPushProducer)
class OutputBound:
    """
    The bounds on writing to one stream, registered as its transport's
    streaming producer.

    While the transport keeps up this does nothing.  When Twisted pauses it
    (the transport's buffer is full), L{stalled} is set and the stream
    writes through L{write}, which cuts off a peer that lets what waits for
    it grow past C{max_output_buffer}; a buffer that does not drain within
    C{send_timeout} cuts it off too.

    @ivar stalled: Whether the transport's buffer is over its high-water
        mark.
    """

    def __init__(
        self,
        transport: ITransport,
        clock: IReactorTime,
        listener: ListenerConfig,
        cutOff: Callable[[str, str], None],
    ) -> None:
        """
        @param transport: The stream's transport.
        @param clock: Where the send timeout is kept.
        @param listener: The listener's C{send_timeout} and
            C{max_output_buffer}.
        @param cutOff: Called with a stream error condition and text to drop
            the peer at once.
        """
        self._transport = transport
        self._clock = clock
        self._sendTimeout = listener.sendTimeout
        self._limit = listener.maxOutputBuffer
        self._cutOff = cutOff
        self._timer: IDelayedCall | None = None
        # Bytes written since the buffer filled, where the transport does not
        # say what it holds.
        self._backlog = 0
        self.stalled = False

    def pauseProducing(self) -> None:
        """
        The transport's buffer is over its high-water mark: start counting
        what is written, and the send timeout.
        """
        if self.stalled:
            return
        self.stalled = True
        self._backlog = 0
        if self._sendTimeout is not None:
            self._timer = self._clock.callLater(self._sendTimeout, self._timedOut)

    def resumeProducing(self) -> None:
        """
        The transport's buffer has drained.
        """
        self.stalled = False
        self._backlog = 0
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def stopProducing(self) -> None:
        """
        The connection is going away: forget the send timeout.
        """
        self.resumeProducing()

    def write(self, chunks: list[bytes]) -> None:
        """
        Write while the transport's buffer is full.

        What waits is what the socket's buffer holds now, so a peer that
        reads steadily under a steady flow is never cut off; where the
        transport cannot tell, the bytes written since the buffer filled
        are counted instead.
        """
        size = sum(map(len, chunks))
        buffered = bufferedBytes(self._transport)
        if buffered is None:
            self._backlog += size
            over = self._backlog > self._limit
        else:
            over = buffered + size > self._limit
        if over:
            # Nothing is written first: cutting off discards what is buffered.
            self._cutOff("policy-violation", f"More than {self._limit} bytes are waiting to be read")
            return
        # Under load this is the common path, so one call for all of them.
        self._transport.writeSequence(chunks)

    def _timedOut(self) -> None:
        """
        Nothing was taken out of the transport's buffer for C{send_timeout}.
        """
        self._timer = None
        self._cutOff("connection-timeout", "Writing to the component stalled")
