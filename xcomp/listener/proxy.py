# -*- test-case-name: xcomp.test.test_proxy -*-
"""
The HAProxy PROXY protocol (versions 1 and 2) in front of a listener's
connections, for C{proxy_protocol}: the proxy opens each connection with a
header naming the client's address, and from then on that address is the
connection's peer for everything above: the logs, C{max_connections}, the
access rules.  With TLS the header comes first, before the TLS handshake.

The header is parsed by Twisted's own parsers
(L{twisted.protocols.haproxy}).  Twisted's L{HAProxyWrappingFactory
<twisted.protocols.haproxy._wrapper.HAProxyWrappingFactory>} is not used as
it is, for three reasons: it connects the wrapped protocol before the header
has arrived, so that protocol's C{connectionMade} sees the proxy's address;
it drops a connection whose first read is shorter than a header's
signature; and it lets the parser's C{ValueError} for a bad port escape as
a traceback.  L{ProxyHeaderProtocol} connects the protocol it wraps only
once the header is parsed, and closes the connection, with one warning and
no traceback, on anything it cannot use.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IProtocol,
    IProtocolFactory,
    IReactorTime,
    ITransport,
)
from twisted.internet.protocol import Protocol, connectionDone
from twisted.protocols.haproxy._exceptions import InvalidProxyHeader
from twisted.protocols.haproxy._info import ProxyInfo
from twisted.protocols.haproxy._v1parser import V1Parser
from twisted.protocols.haproxy._v2parser import V2Parser
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.python.failure import Failure
from zope.interface import directlyProvides, implementer, providedBy

from xcomp.config import DEFAULT_STATE_TIMEOUT, ListenerConfig
from xcomp.listener.connection import formatPeer
from xcomp.logsinks import Logger

__all__ = ["ProxyHeaderFactory", "ProxyHeaderProtocol"]

#: How a version 2 header starts; the version and command byte follow, then
#: the address family and the length: 16 bytes before the parser can start.
_V2_SIGNATURE = V2Parser.PREFIX
_V2_FIXED = 16
#: How a version 1 header starts.
_V1_SIGNATURE = V1Parser.PROXYSTR + b" "


class _Malformed(Exception):
    """
    The connection does not start with a PROXY protocol header this
    listener can use; the text says why.
    """


@implementer(ITransport)
class ProxyHeaderProtocol(ProtocolWrapper):
    """
    Reads the PROXY protocol header, then connects the wrapped protocol
    with itself as the transport, whose C{getPeer} and C{getHost} are the
    addresses the header gave (the connection's own for a header without
    addresses: version 1's C{UNKNOWN}, version 2's C{LOCAL}, which proxies
    use for their health checks).
    """

    _log = Logger()
    factory: ProxyHeaderFactory

    def __init__(self, factory: ProxyHeaderFactory, wrappedProtocol: IProtocol) -> None:
        """
        @param factory: The factory that made it.
        @param wrappedProtocol: The listener's protocol for this connection.
        """
        super().__init__(factory, wrappedProtocol)
        self._info: ProxyInfo | None = None
        # Until the header's version is known: the bytes read so far (no
        # more than a version 2 signature and its fixed part).
        self._start = b""
        self._parser: V1Parser | V2Parser | None = None
        self._deadline: IDelayedCall | None = None

    def makeConnection(self, transport: object) -> None:
        """
        Take the connection; the wrapped protocol is connected once the
        header is read.
        """
        directlyProvides(self, providedBy(transport))
        Protocol.makeConnection(self, transport)
        factory = self.factory
        factory.registerProtocol(self)
        if factory.limit is not None and len(factory.waiting) >= factory.limit:
            self._refuse("too many connections are waiting to send their PROXY protocol header")
            return
        factory.waiting.add(self)
        self._deadline = factory.clock.callLater(factory.timeout, self._timedOut)

    def dataReceived(self, data: bytes) -> None:
        """
        Until the header is complete, parse; then pass everything on.
        """
        if self._info is not None:
            self.wrappedProtocol.dataReceived(data)
            return
        if self.disconnecting:
            return
        try:
            info, rest = self._parse(data)
        except _Malformed as e:
            self._refuse(str(e))
            return
        if info is None:
            return
        self._info = info
        self._cancelDeadline()
        self.factory.waiting.discard(self)
        self.wrappedProtocol.makeConnection(self)
        if rest:
            self.wrappedProtocol.dataReceived(rest)

    def _parse(self, data: bytes) -> tuple[ProxyInfo | None, bytes]:
        """
        Feed the parser for the header's version, choosing it first.

        @return: The header once it is complete, and what followed it.
        @raise _Malformed: The connection does not start with a header this
            listener can use.
        """
        parser = self._parser
        if parser is None:
            start = self._start + data
            if start.startswith(_V2_SIGNATURE):
                if len(start) < _V2_FIXED:
                    self._start = start
                    return None, b""
                parser = V2Parser()
            elif start.startswith(_V1_SIGNATURE):
                parser = V1Parser()
            elif _V2_SIGNATURE.startswith(start) or _V1_SIGNATURE.startswith(start):
                self._start = start
                return None, b""
            else:
                raise _Malformed("not a PROXY protocol header")
            self._parser, self._start, data = parser, b"", start
        try:
            info, rest = parser.feed(data)
        except (InvalidProxyHeader, ValueError) as e:
            # Twisted's version 1 parser lets int() and decode() fail with
            # ValueError.
            raise _Malformed(f"malformed PROXY protocol header ({type(e).__name__})") from None
        if info is None:
            return None, b""
        source = info.source
        host = getattr(source, "host", None)
        if host is not None:
            try:
                ipaddress.ip_address(host)
            except ValueError:
                # Version 1 takes any text for an address; it would reach
                # the logs as the peer.
                raise _Malformed("the PROXY protocol header's source is not an IP address") from None
        return info, rest or b""

    def _refuse(self, reason: str) -> None:
        """
        Close a connection that did not start with a usable header.
        """
        self._cancelDeadline()
        self.factory.waiting.discard(self)
        self._log.warn(
            "Connection from {peer} closed: {reason}",
            peer=formatPeer(self.transport.getPeer()),  # type: ignore[union-attr]
            reason=reason,
        )
        self.disconnecting = 1
        self.transport.abortConnection()  # type: ignore[union-attr]

    def _timedOut(self) -> None:
        """
        The header did not arrive in time.
        """
        self._deadline = None
        self._refuse("no PROXY protocol header in time")

    def _cancelDeadline(self) -> None:
        """
        Forget the header's deadline.
        """
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None

    def getPeer(self) -> IAddress:
        """
        The client's address, as the proxy gave it.
        """
        if self._info is not None and self._info.source is not None:
            return self._info.source
        return self.transport.getPeer()  # type: ignore[union-attr]

    def getHost(self) -> IAddress:
        """
        The address the client connected to, as the proxy gave it.
        """
        if self._info is not None and self._info.destination is not None:
            return self._info.destination
        return self.transport.getHost()  # type: ignore[union-attr]

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        Tell the wrapped protocol, if it was ever connected.
        """
        self._cancelDeadline()
        self.factory.waiting.discard(self)
        if self._info is not None:
            super().connectionLost(reason)
        else:
            self.factory.unregisterProtocol(self)


if TYPE_CHECKING:
    _WrappingFactory = WrappingFactory[ProxyHeaderProtocol]
else:
    # Twisted's factories are generic only in its recent releases.
    _WrappingFactory = WrappingFactory


class ProxyHeaderFactory(_WrappingFactory):
    """
    Wraps a listener's factory so that every connection starts with a PROXY
    protocol header.

    A proxy sends its header as soon as it connects, so the wait for it is
    short and bounded: the listener's C{state_timeout}
    (L{DEFAULT_STATE_TIMEOUT} when that is infinite), and no more
    connections may wait at once than C{max_connections}.  The connections
    whose header has arrived are the listener's to count.

    @ivar clock: Where the header's deadline is kept.
    @ivar timeout: Seconds a connection has to send its header.
    @ivar limit: How many connections may wait for their header at once;
        L{None} for no limit.
    @ivar waiting: The connections whose header has not arrived yet.
    """

    protocol = ProxyHeaderProtocol

    def __init__(
        self, wrappedFactory: IProtocolFactory, clock: IReactorTime, listener: ListenerConfig
    ) -> None:
        """
        @param wrappedFactory: The listener's factory.
        @param clock: See L{clock}.
        @param listener: The listener's options.
        """
        super().__init__(wrappedFactory)
        self.clock = clock
        self.timeout = DEFAULT_STATE_TIMEOUT if listener.stateTimeout is None else listener.stateTimeout
        self.limit = listener.maxConnections
        self.waiting: set[ProxyHeaderProtocol] = set()
