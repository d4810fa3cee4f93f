# -*- test-case-name: xcomp.test.test_limits -*-
"""
What keeps one connection from costing the router more than its share: the
traffic shaper (backpressure on reading), and the kernel's bound on how long
written data may stay unacknowledged.

The listener (L{xcomp.listener}) owns the per-connection timers and buffers;
this module holds the pieces that do not need to know about XMPP.
"""

from __future__ import annotations

import socket
from typing import Any

from twisted.internet.interfaces import IDelayedCall, IPushProducer, IReactorTime

from xcomp.config import ShaperConfig

__all__ = ["Shaper", "setSendTimeout", "socketOf"]

#: Linux's C{TCP_USER_TIMEOUT} (from C{netinet/tcp.h}) where Python does not
#: name it.
TCP_USER_TIMEOUT = getattr(socket, "TCP_USER_TIMEOUT", 18)


class Shaper:
    """
    A token bucket on the bytes one connection sends us.  When the peer has
    sent more than the rate allows (plus the burst), reading from it is
    paused until the rate has caught up: a flood is slowed down, and nothing
    is dropped, since TCP's own flow control holds the rest back at the
    sender.

    @ivar paused: Whether reading is paused now.
    """

    def __init__(self, config: ShaperConfig, producer: IPushProducer, clock: IReactorTime) -> None:
        """
        @param config: The rate and burst.
        @param producer: The transport to pause and resume.
        @param clock: Where time comes from.
        """
        self._rate = float(config.maxRate)
        self._capacity = config.maxRate * config.burst
        self._producer = producer
        self._clock = clock
        # Bytes of credit; negative when the peer is ahead of the rate.
        self._tokens = self._capacity
        self._updated = clock.seconds()
        self._resume: IDelayedCall | None = None
        self.paused = False

    def received(self, size: int) -> None:
        """
        Account for C{size} bytes just read; pause reading if they were more
        than the rate allows.
        """
        now = self._clock.seconds()
        tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        self._tokens = tokens = tokens - size
        if tokens < 0 and not self.paused:
            self.paused = True
            self._producer.pauseProducing()
            self._resume = self._clock.callLater(-tokens / self._rate, self._resumeReading)

    def _resumeReading(self) -> None:
        """
        The rate has caught up: read again.
        """
        self._resume = None
        self.paused = False
        self._producer.resumeProducing()

    def stop(self) -> None:
        """
        The connection is gone: forget the pending resume.
        """
        if self._resume is not None and self._resume.active():
            self._resume.cancel()
        self._resume = None


def socketOf(transport: Any) -> socket.socket | None:
    """
    The TCP socket under a transport, through TLS if there is one.
    """
    for _ in range(4):
        if transport is None:
            return None
        getHandle = getattr(transport, "getHandle", None)
        handle = getHandle() if getHandle is not None else None
        if isinstance(handle, socket.socket):
            return handle
        # TLSMemoryBIOProtocol: the TCP transport is below it.
        transport = getattr(transport, "transport", None)
    return None


def setSendTimeout(transport: Any, seconds: float) -> bool:
    """
    Ask the kernel to drop the connection when data written to it stays
    unacknowledged for C{seconds} (Linux's C{TCP_USER_TIMEOUT}): a peer that
    vanished without closing is then noticed at the next write, instead of
    after the kernel's own retries (about fifteen minutes).

    @return: Whether it could be set (not on other systems, nor on a
        transport without a TCP socket).
    """
    sock = socketOf(transport)
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return False
    try:
        sock.setsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT, max(1, int(seconds * 1000)))
    except OSError:
        return False
    return True
