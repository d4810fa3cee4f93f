# -*- test-case-name: xcomp.test.test_s2s_service -*-
"""
A remote server's side of an s2s connection for loopback tests: a Twisted
protocol that writes what the test says (headers, dialback, stanzas),
can start TLS with a certificate the test made, and records what xcomp
answers, to wait on with a regular expression.
"""

from __future__ import annotations

import re

import attrs

from twisted.internet import defer, protocol, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator, IReactorTCP, IReactorTime
from twisted.internet.ssl import Certificate, PrivateCertificate, optionsForClientTLS
from twisted.python.failure import Failure
from zope.interface import implementer

from xcomp.interfaces import IRoute
from xcomp.stanza import Stanza
from xcomp.test.certs import Issued
from xcomp.test.loopback import PROCESS_TIMEOUT

__all__ = ["FakePool", "RawServerPeer", "clientTLS", "connectPeer", "s2sHeader"]


def s2sHeader(to: str, sender: str | None) -> bytes:
    """
    An initiating server's stream header.
    """
    source = f" from='{sender}'" if sender else ""
    return (
        "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
        "xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' "
        f"to='{to}'{source} version='1.0'>"
    ).encode()


def clientTLS(
    caPath: str, serverName: str, certificate: Issued | None, alpn: list[bytes] | None = None
) -> IOpenSSLClientConnectionCreator:
    """
    TLS as an initiating server: the server's certificate checked against
    the test CA for C{serverName} (sent as SNI), C{certificate} presented,
    the C{alpn} protocols offered.
    """
    with open(caPath, "rb") as f:
        trust = Certificate.loadPEM(f.read())
    own = None
    if certificate is not None:
        with open(certificate.certificate, "rb") as c, open(certificate.key, "rb") as k:
            own = PrivateCertificate.loadPEM(c.read() + k.read())
    return optionsForClientTLS(serverName, trustRoot=trust, clientCertificate=own, acceptableProtocols=alpn)


class RawServerPeer(protocol.Protocol):
    """
    The initiating server, driven byte by byte by the test.

    @ivar received: Everything xcomp wrote, decrypted.
    """

    def __init__(self, reactor: IReactorTime) -> None:
        self.reactor = reactor
        self.received = bytearray()
        self._mark = 0
        self._waiting: list[tuple[re.Pattern[bytes], defer.Deferred[re.Match[bytes]]]] = []
        self._lost: defer.Deferred[None] = defer.Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        for entry in list(self._waiting):
            match = entry[0].search(self.received, self._mark)
            if match is not None:
                self._waiting.remove(entry)
                self._mark = match.end()
                entry[1].callback(match)

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:
        for _, waiter in self._waiting:
            waiter.errback(ConnectionError(f"lost before a match; received {bytes(self.received)!r}"))
        self._waiting = []
        self._lost.callback(None)

    def send(self, data: bytes) -> None:
        self.transport.write(data)  # type: ignore[union-attr]

    def startTLS(self, options: IOpenSSLClientConnectionCreator) -> None:
        self.transport.startTLS(options)  # type: ignore[union-attr]

    def waitFor(self, pattern: bytes) -> defer.Deferred[re.Match[bytes]]:
        """
        Fire with the first match of C{pattern} after the previous match.
        """
        compiled = re.compile(pattern, re.S)
        match = compiled.search(self.received, self._mark)
        if match is not None:
            self._mark = match.end()
            return defer.succeed(match)
        waiter: defer.Deferred[re.Match[bytes]] = defer.Deferred()
        self._waiting.append((compiled, waiter))
        return waiter.addTimeout(PROCESS_TIMEOUT, self.reactor)

    def lost(self) -> defer.Deferred[None]:
        """
        Fire once the connection is closed.
        """
        return self._lost

    def disconnect(self) -> defer.Deferred[None]:
        if not self._lost.called and self.transport is not None:
            self.transport.loseConnection()
        return self._lost


async def connectPeer(reactor: IReactorTCP, port: int, host: str = "127.0.0.1") -> RawServerPeer:
    """
    Connect a L{RawServerPeer} to xcomp's s2s port.
    """
    endpoint = TCP4ClientEndpoint(reactor, host, port, timeout=PROCESS_TIMEOUT)
    peer = await endpoint.connect(protocol.Factory.forProtocol(lambda: RawServerPeer(reactor)))  # type: ignore[arg-type]
    assert isinstance(peer, RawServerPeer)
    return peer


@implementer(IRoute)
@attrs.define
class FakePool:
    """
    s2s-out's pool: records what is sent to remote domains, answers every
    dialback verification with C{answer}.
    """

    domain: str = "*"
    answer: bool = True
    sent: list[Stanza] = attrs.field(factory=list)
    verified: list[tuple[str, str, str, str]] = attrs.field(factory=list)
    closed: bool = False
    _waiting: list[defer.Deferred[Stanza]] = attrs.field(factory=list)

    def send(self, stanza: Stanza) -> None:
        self.sent.append(stanza)
        waiting, self._waiting = self._waiting, []
        for waiter in waiting:
            waiter.callback(stanza)

    def next(self) -> defer.Deferred[Stanza]:
        """
        Fire with the next stanza sent to a remote domain.
        """
        waiter: defer.Deferred[Stanza] = defer.Deferred()
        self._waiting.append(waiter)
        return waiter.addTimeout(PROCESS_TIMEOUT, reactor)

    def verify(self, receiving: str, originating: str, streamID: str, key: str) -> defer.Deferred[bool]:
        self.verified.append((receiving, originating, streamID, key))
        return defer.succeed(self.answer)

    def close(self) -> defer.Deferred[None]:
        self.closed = True
        return defer.succeed(None)
