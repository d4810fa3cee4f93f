# -*- test-case-name: xcomp.test.test_s2s_outbound,xcomp.test.test_s2s_pool -*-
"""
What the outgoing side's parts share: the namespaces, the policy of one
link (L{Policy}), what it needs of s2s-env's TLS and resolver (typed by
what is used, so tests can stand in for them), and the bytes a
component's stanza becomes on a C{jabber:server} stream (L{wireBytes}).
"""

from __future__ import annotations

import re
from typing import Protocol as _TypingProtocol

import attrs
from twisted.internet import defer
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator
from zope.interface import implementer

from xcomp.interfaces import IStreamReceiver
from xcomp.stanza import COMPONENT_NS, Stanza
from xcomp.stream import StreamHeader
from xcomp.stream.scan import endOfTag

__all__ = [
    "DIALBACK_NS",
    "SASL_NS",
    "SERVER_NS",
    "TLS_NS",
    "ClientTLS",
    "Generation",
    "Policy",
    "Resolver",
    "Target",
    "wireBytes",
]

SERVER_NS = "jabber:server"
DIALBACK_NS = "jabber:server:dialback"
TLS_NS = "urn:ietf:params:xml:ns:xmpp-tls"
SASL_NS = "urn:ietf:params:xml:ns:xmpp-sasl"



class ClientTLS(_TypingProtocol):
    """
    What an outgoing stream needs of L{xcomp.s2s.tls.S2STLS}.
    """

    def clientOptions(self, local: str, remote: str, *, directTLS: bool = False) -> IOpenSSLClientConnectionCreator:
        """
        The TLS client side of a link from C{local} to C{remote}: SNI is
        C{remote}, C{local}'s certificate (if any) is presented; ALPN
        offers C{xmpp-server} when C{directTLS}.
        """

    def peerValidFor(self, connection: object, domain: str) -> bool:
        """
        Whether the peer's certificate on C{connection} chains to the trust
        store and is valid for C{domain}.
        """


@attrs.frozen
class Policy:
    """
    What one link must and may do to authenticate.

    @ivar requireEncryption: Give up when the remote offers no STARTTLS.
    @ivar requireValidCertificate: Give up unless the remote's certificate
        is valid for the remote domain (secure auth for this domain).
    @ivar offerCertificate: We present a certificate for the local domain,
        so SASL EXTERNAL is worth trying.
    @ivar stanzaSizeLimit: The largest element the remote may send us.
    @ivar maxOutput: The most bytes that may wait for a remote that does
        not read, once the socket's buffer is full.
    @ivar sendTimeout: Seconds a full socket buffer may stay full.
    """

    local: str
    remote: str
    requireEncryption: bool = True
    requireValidCertificate: bool = False
    offerCertificate: bool = False
    stanzaSizeLimit: int = 512 * 1024
    maxOutput: int = 1024 * 1024
    sendTimeout: float = 90.0


#: The stanza namespaces whose stanzas mean the same in a jabber:server
#: stream (RFC 6120 4.8.3; XEP-0114 components use the first).
_STANZA_NAMESPACES = frozenset({COMPONENT_NS, SERVER_NS, "jabber:client"})

_DEFAULT_DECLARATION = re.compile(rb"\sxmlns\s*=")


def wireBytes(stanza: Stanza) -> bytes:
    """
    C{stanza} as bytes for a stream whose default namespace is
    C{jabber:server}.

    The bytes a component sent are kept when their top element relies on
    its stream's default namespace (the usual case): in ours it is
    C{jabber:server}.  Otherwise the element is serialised with its own
    namespace as the default, which then means ours.
    """
    raw = stanza.raw
    if raw is not None and stanza.uri in _STANZA_NAMESPACES:
        if _DEFAULT_DECLARATION.search(raw, 0, endOfTag(raw, 0)) is None:
            return raw
    element = stanza.element()
    if element.uri not in _STANZA_NAMESPACES:
        return raw if raw is not None else element.toXml().encode("utf-8")
    _rename(element, element.uri)
    return element.toXml(defaultUri=SERVER_NS).encode("utf-8")


def _rename(element: object, uri: str) -> None:
    """
    Move C{element} and its descendants in C{uri} to C{jabber:server}.
    """
    stack = [element]
    while stack:
        current = stack.pop()
        if getattr(current, "uri", None) == uri:
            current.uri = SERVER_NS  # type: ignore[attr-defined]
            if getattr(current, "defaultUri", None) == uri:
                current.defaultUri = SERVER_NS  # type: ignore[attr-defined]
            stack.extend(c for c in current.children if not isinstance(c, str))  # type: ignore[attr-defined]


class Target(_TypingProtocol):
    """
    One place to connect to (L{xcomp.s2s.resolver.Target}).
    """

    @property
    def host(self) -> str:
        """
        A host name or IP address.
        """

    @property
    def port(self) -> int:
        """
        The TCP port.
        """

    @property
    def directTLS(self) -> bool:
        """
        Whether TLS starts with the connection (XEP-0368).
        """


class Resolver(_TypingProtocol):
    """
    What a link needs of L{xcomp.s2s.resolver}: the remote's targets, in
    the order to try them, or a failure when the name does not resolve.
    """

    def resolve(self, domain: str) -> defer.Deferred[list[Target]]:
        """
        Find where C{domain}'s s2s service is.
        """


class Restarting(_TypingProtocol):
    """
    A stream whose parser is replaced at each restart (the outgoing stream).

    """

    @property
    def _generation(self) -> object:
        """
        The receiver of its current parser.
        """

    def headerReceived(self, header: StreamHeader) -> None:
        """
        The remote's stream header.
        """

    def elementReceived(self, stanza: Stanza) -> None:
        """
        A top-level element of the remote's stream.
        """

    def close(self, condition: str | None, text: str | None = None) -> None:
        """
        End the stream (with a stream error unless C{condition} is None).
        """


@implementer(IStreamReceiver)
class Generation:
    """
    The receiver of one of the stream's parsers: a stream restart (after
    STARTTLS or SASL) makes a new one, and whatever the old parser still
    reports is ignored.
    """

    def __init__(self, stream: Restarting) -> None:
        self._stream = stream

    def _current(self) -> bool:
        return self._stream._generation is self

    def streamStarted(self, header: StreamHeader) -> None:
        if self._current():
            self._stream.headerReceived(header)

    def stanzaReceived(self, stanza: Stanza) -> None:
        if self._current():
            self._stream.elementReceived(stanza)

    def streamEnded(self) -> None:
        if self._current():
            self._stream.close(None)

    def streamFailed(self, condition: str, text: str | None) -> None:
        if self._current():
            self._stream.close(condition, text)
