# -*- test-case-name: xcomp.test.test_s2s_outbound,xcomp.test.test_s2s_pool -*-
"""
Test doubles for the outgoing s2s side: TLS that only records, a
transport that pretends to start it, a resolver that answers from a table,
and the remote server's side of a stream as bytes.
"""

from __future__ import annotations

import attrs
from twisted.internet import defer
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator
from twisted.internet.testing import StringTransport

from xcomp.s2s import outboundtypes
from xcomp.s2s.outboundtypes import DIALBACK_NS, SASL_NS, SERVER_NS, TLS_NS
from xcomp.stanza import STREAMS_NS

LOCAL = "comp.example.org"
REMOTE = "remote.example"


@attrs.frozen
class Target:
    """
    A resolver's answer (the shape of L{xcomp.s2s.resolver.Target}).
    """

    host: str
    port: int
    directTLS: bool = False


class NotFound(Exception):
    """
    The fake resolver has no entry for a domain.
    """


@attrs.define
class FakeResolver:
    """
    Answers from C{table}, domain -> targets; a domain that is not in it
    fails with L{NotFound}; one whose entry is L{None} never answers.

    @ivar asked: The domains asked about, in order.
    """

    table: dict[str, list[Target] | None] = attrs.field(factory=dict)
    asked: list[str] = attrs.field(factory=list)

    def resolve(self, domain: str) -> defer.Deferred[list[outboundtypes.Target]]:
        self.asked.append(domain)
        if domain not in self.table:
            return defer.fail(NotFound(domain))
        targets = self.table[domain]
        if targets is None:
            return defer.Deferred()
        found: list[outboundtypes.Target] = list(targets)
        return defer.succeed(found)


@attrs.define
class FakeTLS:
    """
    The client side of TLS, as the outgoing stream uses it, without TLS:
    C{valid} says what the remote's certificate is worth.

    @ivar creators: The (local, remote) of each client side asked for.
    @ivar direct: Whether each was for direct TLS.
    """

    valid: bool = True
    creators: list[tuple[str, str]] = attrs.field(factory=list)
    direct: list[bool] = attrs.field(factory=list)

    def clientOptions(self, local: str, remote: str, *, directTLS: bool = False) -> IOpenSSLClientConnectionCreator:
        self.creators.append((local, remote))
        self.direct.append(directTLS)
        # Only compared, never used: the transport pretends to start TLS.
        return ("creator", local, remote)  # type: ignore[return-value]

    def peerValidFor(self, connection: object, domain: str) -> bool:
        return self.valid and domain == REMOTE


class TLSStringTransport(StringTransport):
    """
    A L{StringTransport} that records C{startTLS} instead of doing it.

    @ivar tlsStarted: The creator given to C{startTLS}, if it was called.
    @ivar aborted: Whether C{abortConnection} was called.
    """

    tlsStarted: object = None
    aborted = False

    def startTLS(self, creator: object) -> None:
        self.tlsStarted = creator

    def getHandle(self) -> object:
        return "connection"

    def abortConnection(self) -> None:
        self.aborted = True
        super().abortConnection()


def remoteHeader(
    streamID: str = "s1", version: str | None = "1.0", sender: str = REMOTE, to: str = LOCAL
) -> bytes:
    """
    The remote's stream header, as a receiving server sends it.
    """
    versionAttribute = f" version='{version}'" if version is not None else ""
    return (
        f"<?xml version='1.0'?><stream:stream xmlns='{SERVER_NS}' xmlns:stream='{STREAMS_NS}'"
        f" xmlns:db='{DIALBACK_NS}' id='{streamID}' from='{sender}' to='{to}'{versionAttribute}>"
    ).encode()


def features(*, starttls: bool = False, external: bool = False, dialback: bool = True) -> bytes:
    """
    A C{<stream:features/>} offering what is asked.
    """
    parts = []
    if starttls:
        parts.append(f"<starttls xmlns='{TLS_NS}'><required/></starttls>")
    if external:
        parts.append(f"<mechanisms xmlns='{SASL_NS}'><mechanism>EXTERNAL</mechanism></mechanisms>")
    if dialback:
        parts.append("<dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback>")
    return ("<stream:features>%s</stream:features>" % "".join(parts)).encode()


PROCEED = f"<proceed xmlns='{TLS_NS}'/>".encode()
SASL_SUCCESS = f"<success xmlns='{SASL_NS}'/>".encode()
SASL_FAILURE = f"<failure xmlns='{SASL_NS}'><not-authorized/></failure>".encode()


def dialbackAnswer(kind: str = "valid", sender: str = REMOTE, to: str = LOCAL) -> bytes:
    """
    The receiving server's answer to our C{db:result}.
    """
    return f"<db:result from='{sender}' to='{to}' type='{kind}'/>".encode()
