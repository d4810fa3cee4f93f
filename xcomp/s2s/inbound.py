# -*- test-case-name: xcomp.test.test_s2s_inbound,xcomp.test.test_s2s_inbound_tls -*-
"""
L{InboundStream}: one remote server's connection to the s2s port, from the
stream header to the stream's end (RFC 6120 negotiation, STARTTLS or direct
TLS, SASL EXTERNAL as in XEP-0178, dialback as in XEP-0220).

An incoming stream is one-way: the remote server sends stanzas on it, and
everything for the remote server (answers and errors included) leaves
through the router's remote route.  What the stream itself writes is the
negotiation: its headers, features, and the answers to dialback requests.

A stanza reaches the router only once the stream is authorised for the
pair (its C{to} domain, its C{from} domain) it uses; see L{Pairs}.
"""

from __future__ import annotations

import secrets
from typing import Protocol as _TypingProtocol

from OpenSSL import SSL
from twisted.internet import defer
from twisted.internet.interfaces import (
    IConsumer,
    IDelayedCall,
    IOpenSSLServerConnectionCreator,
    IPushProducer,
    IReactorTime,
    ISSLTransport,
    ITLSTransport,
)
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from zope.interface import implementer

from xcomp.config import ListenerConfig
from xcomp.config.model import S2SConfig
from xcomp.errors import streamErrorBytes
from xcomp.interfaces import IStreamReceiver
from xcomp.limits import Shaper
from xcomp.listener.connection import STANZA_NAMES, formatPeer
from xcomp.listener.output import OutputBound, Outbox
from xcomp.logsinks import Logger
from xcomp.router import Router, preparedHost
from xcomp.s2s.dialback import DialbackSecret
from xcomp.s2s.inboundauth import (
    DIALBACK_NS,
    SASL_NS,
    SASL_SUCCESS,
    SERVER_NS,
    TLS_FAILURE,
    TLS_NS,
    TLS_PROCEED,
    SASLRefused,
    dialbackAllowed,
    externalAuthzid,
    features,
    saslFailure,
)
from xcomp.s2s.inbounddialback import InboundDialback
from xcomp.s2s.inboundpairs import Pairs
from xcomp.s2s.inboundstanza import serverStanza
from xcomp.stanza import STREAMS_NS, Stanza, quoteAttribute
from xcomp.stream import StreamHeader, StreamParser

__all__ = ["InboundStream", "UNAUTHENTICATED_STANZA_SIZE"]

#: The largest element before the stream is authorised for any pair
#: (Prosody's C{s2s_unauthed_stanza_size_limit}): negotiation needs little.
UNAUTHENTICATED_STANZA_SIZE = 10000


class _Restart(Exception):
    """
    The stream restarts (after STARTTLS or SASL): whatever followed in the
    same read belongs to no stream and is dropped, as RFC 6120 5.3.3 and
    6.3.2 require (no plaintext injected ahead of TLS).
    """


class _InboundTransport(ITLSTransport, IConsumer, IPushProducer):
    """
    What an L{InboundStream} uses of its transport: Twisted's TCP
    transport, which can start TLS, or the TLS one of a direct TLS port.
    Only for the type checker.
    """


class InboundFactory(_TypingProtocol):
    """
    What an L{InboundStream} uses of its factory
    (L{xcomp.s2s.inboundfactory.InboundListenerFactory}).
    """

    router: Router
    config: S2SConfig
    reactor: IReactorTime
    streams: set[InboundStream]
    outbox: Outbox
    secret: DialbackSecret
    output: ListenerConfig

    def isLocal(self, domain: str) -> bool:
        """Whether xcomp serves C{domain} (nameprep'd)."""

    def verify(self, receiving: str, originating: str, streamID: str, key: str) -> defer.Deferred[bool]:
        """Ask the authoritative server of C{originating} about a dialback key."""

    def serverTLS(self, local: str) -> IOpenSSLServerConnectionCreator:
        """The TLS server side for STARTTLS on a stream to C{local}."""

    def peerValidFor(self, connection: object, domain: str) -> bool:
        """Whether the TLS peer's certificate is trusted and valid for C{domain}."""

    def canEncrypt(self, local: str) -> bool:
        """Whether a stream to C{local} can offer STARTTLS."""


@implementer(IStreamReceiver)
class InboundStream(Protocol):
    """
    One incoming s2s connection.

    @ivar local: The local domain the stream header named (nameprep'd).
    @ivar remote: The remote domain the stream header named, if it did.
    @ivar secure: Whether the connection is encrypted.
    @ivar streamId: The id of our current stream header; dialback keys for
        this stream are computed over it.
    @ivar pairs: The domain pairs the stream is authorised for.
    """

    _log = Logger()
    transport: _InboundTransport  # set by makeConnection
    _output: OutputBound

    def __init__(self, factory: InboundFactory) -> None:
        self._factory = factory
        self.local: str | None = None
        self.remote: str | None = None
        self.secure = False
        self.streamId = ""
        self.peer = "unknown"
        self.pairs = Pairs()
        self._dialback = InboundDialback(self, factory)
        self._external = False
        self._tlsOffered = False
        self._closed = False
        self._headerSent = False
        self._producing = False
        self._parser: StreamParser | None = None
        self._shaper: Shaper | None = None
        self._deadline: IDelayedCall | None = None
        self._lostWaiters: list[defer.Deferred[None]] = []
        self.heard = True

    @property
    def closed(self) -> bool:
        """
        Whether the stream has ended (nothing is read or written after).
        """
        return self._closed

    def __repr__(self) -> str:
        return f"<InboundStream {self.remote or '?'} -> {self.local or '?'} from {self.peer}>"

    # Connection

    def connectionMade(self) -> None:
        factory = self._factory
        config = factory.config
        self.peer = formatPeer(self.transport.getPeer())
        # A direct TLS (XEP-0368) port: encrypted from the first byte.
        self.secure = ISSLTransport.providedBy(self.transport)
        self._newParser()
        self._output = OutputBound(self.transport, factory.reactor, factory.output, self._cutOff)
        if config.maxConnections is not None and len(factory.streams) >= config.maxConnections:
            self.close("resource-constraint", "Too many server connections; try again later")
            return
        factory.streams.add(self)
        self._deadline = factory.reactor.callLater(config.timeout, self._timedOut)
        if config.shaper is not None:
            self._shaper = Shaper(config.shaper, self.transport, factory.reactor)
        self.transport.registerProducer(self._output, True)
        self._producing = True

    def dataReceived(self, data: bytes) -> None:
        if self._closed:
            return
        self.heard = True
        if self._shaper is not None:
            self._shaper.received(len(data))
        outbox = self._factory.outbox
        outbox.depth += 1
        try:
            self._parser.feed(data)  # type: ignore[union-attr]
        except _Restart:
            pass
        except Exception:
            self._log.failure("Processing data from {peer} failed", peer=self.peer)
            self.close("internal-server-error")
        finally:
            outbox.depth -= 1
            if not outbox.depth and outbox.pending:
                outbox.flush()

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:
        if self.secure and not self._closed and reason.check(SSL.Error):
            # Without this line an admin sees a remote server give up, and
            # not why.
            self._log.warn(
                "s2s TLS with {peer} ({remote} -> {local}) failed: {reason}",
                peer=self.peer,
                remote=self.remote or "-",
                local=self.local or "-",
                reason=reason.getErrorMessage(),
            )
        self._closed = True
        self._factory.streams.discard(self)
        self._cancelDeadline()
        self._output.stopProducing()
        if self._shaper is not None:
            self._shaper.stop()
        waiters, self._lostWaiters = self._lostWaiters, []
        for waiter in waiters:
            waiter.callback(None)

    def whenLost(self) -> defer.Deferred[None]:
        """
        A Deferred that fires when the connection is gone.
        """
        waiter: defer.Deferred[None] = defer.Deferred()
        self._lostWaiters.append(waiter)
        return waiter

    def _newParser(self) -> None:
        limit = self._factory.config.stanzaSizeLimit
        self._parser = StreamParser(self, limit if self.pairs else min(limit, UNAUTHENTICATED_STANZA_SIZE))

    def _restart(self) -> None:
        """
        Expect a new stream header; stop reading this read's bytes.
        """
        self._newParser()
        self._headerSent = False
        raise _Restart()

    # IStreamReceiver

    def streamStarted(self, header: StreamHeader) -> None:
        if header.name != "stream" or header.uri != STREAMS_NS:
            self.close("invalid-namespace", "The root element must be stream:stream")
            return
        if header.namespaces.get("") != SERVER_NS:
            self.close("invalid-namespace", f"The default namespace must be {SERVER_NS}")
            return
        major = header.attributes.get("version", "0.9").partition(".")[0]
        if not major.isdigit() or int(major) < 1:
            self.close("unsupported-version", "Version 1.0 streams only")
            return
        to, sender = header.attributes.get("to"), header.attributes.get("from")
        if not to:
            self.close("improper-addressing", "The stream header has no 'to'")
            return
        local = preparedHost(to)
        remote = preparedHost(sender) if sender else None
        if local is None:
            self.close("improper-addressing", "Invalid 'to' address")
            return
        if sender and remote is None:
            self.close("improper-addressing", "Invalid 'from' address")
            return
        if self.local is not None and local != self.local:
            self.close("improper-addressing", "New stream 'to' attribute does not match original")
            return
        if self.remote is not None and remote != self.remote:
            self.close("improper-addressing", "New stream 'from' attribute does not match original")
            return
        factory = self._factory
        if not factory.isLocal(local):
            self.local = local
            self.close("host-unknown", f"This server does not serve {local}")
            return
        self.local, self.remote = local, remote
        if remote is not None and factory.isLocal(remote):
            self.close("undefined-condition", "Attempt to connect from a host we serve")
            return
        if remote is not None and not factory.config.allows(remote):
            # MongooseIM's s2s host_policy / default_policy.
            self.close("policy-violation", f"This server does not federate with {remote}")
            return
        self._sendHeader()
        self._offerFeatures(local, remote)

    def _offerFeatures(self, local: str, remote: str | None) -> None:
        config = self._factory.config
        canTLS = self._factory.canEncrypt(local)
        self._tlsOffered = starttls = not self.secure and canTLS
        if not self.secure and config.requireEncryption:
            if not canTLS:
                self._log.warn(
                    "s2s encryption is required, but {local} has no certificate", local=local
                )
                self.close("policy-violation", f"Encryption is required, and {local} cannot offer it")
                return
            self.write(features(starttls=True, required=True))
            return
        dialback = dialbackAllowed(config, remote)
        self._external = external = (
            self.secure and remote is not None and not self.pairs and self._peerValid(remote)
        )
        if self.secure and remote is not None and not external and not dialback and not self.pairs:
            self.close("not-authorized", f"Your server's certificate is not valid for {remote}")
            return
        if not (starttls or external or dialback or self.pairs):
            self.close("undefined-condition", "No stream features to offer")
            return
        self.write(features(starttls=starttls, external=external, dialback=dialback))

    def stanzaReceived(self, stanza: Stanza) -> None:
        if self._closed:
            return
        uri, name = stanza.uri, stanza.name
        if uri == SERVER_NS and name in STANZA_NAMES:
            self._stanza(stanza)
        elif uri == DIALBACK_NS and name in ("result", "verify") and "type" not in stanza.attributes:
            if name == "result":
                self._dialback.result(stanza)
            else:
                self._dialback.verify(stanza)
        elif uri == DIALBACK_NS and name in ("result", "verify"):
            # Answers belong on the streams this server opened (s2s-out's).
            self._log.debug("Ignoring a dialback {name} answer from {peer}", name=name, peer=self.peer)
        elif uri == TLS_NS and name == "starttls":
            self._startTLS()
        elif uri == SASL_NS and name == "auth":
            self._saslAuth(stanza)
        elif uri == SASL_NS and name == "abort":
            self.write(saslFailure("aborted"))
        else:
            self.close("unsupported-stanza-type", f"Not a stanza: {name}")

    def streamEnded(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._cancelDeadline()
        if not self._headerSent:
            self._sendHeader()
        self.write(b"</stream:stream>")
        self._hangUp()

    def streamFailed(self, condition: str, text: str | None) -> None:
        self.close(condition, text)

    # Stanzas

    def _stanza(self, stanza: Stanza) -> None:
        if not self.pairs:
            self.close("not-authorized", "Authenticate first")
            return
        refusal = self.pairs.check(stanza)
        if refusal is not None:
            condition, text = refusal
            self.close(condition, text)
            return
        self._factory.router.route(serverStanza(stanza))

    # STARTTLS and SASL EXTERNAL

    def _startTLS(self) -> None:
        if not self._tlsOffered:
            # RFC 6120 5.4.2.2: a failure, then the stream is closed.
            self.write(TLS_FAILURE)
            self.close(None)
            return
        self.write(TLS_PROCEED)
        assert self.local is not None
        self.transport.startTLS(self._factory.serverTLS(self.local))
        self.secure = True
        self._tlsOffered = False
        self._restart()

    def _saslAuth(self, auth: Stanza) -> None:
        if not self.secure:
            self.write(saslFailure("encryption-required"))
            return
        if not self._external or self.local is None or self.remote is None:
            self.write(saslFailure("not-authorized"))
            self.close("not-authorized", "No certificate valid for the stream's 'from' was presented")
            return
        try:
            authzid = externalAuthzid(auth)
        except SASLRefused as e:
            self.write(saslFailure(e.condition))
            return
        if authzid and preparedHost(authzid) != self.remote:
            self.write(saslFailure("invalid-authzid"))
            return
        self._external = False
        self.authorise(self.local, self.remote, "EXTERNAL")
        self.write(SASL_SUCCESS)
        self._restart()

    def _peerValid(self, domain: str) -> bool:
        """
        Whether the TLS peer presented a trusted certificate for C{domain}.
        """
        getHandle = getattr(self.transport, "getHandle", None)
        if getHandle is None:
            return False
        return self._factory.peerValidFor(getHandle(), domain)

    def authorise(self, local: str, remote: str, method: str) -> None:
        first = not self.pairs
        self.pairs.authorise(local, remote)
        if first:
            self._cancelDeadline()
            limit = self._factory.config.stanzaSizeLimit
            if self._parser is not None:
                self._parser.maxStanzaSize = limit
            # Servers often say nothing for a while once authenticated; the
            # parser is made again when they do.  Not from here: this runs
            # inside the parser.
            self._deadline = self._factory.reactor.callLater(0, self._settle)
        self._log.info(
            "s2s in {remote} -> {local} authenticated ({method}, {peer})",
            remote=remote,
            local=local,
            method=method,
            peer=self.peer,
        )

    def _settle(self) -> None:
        self._deadline = None
        self.hibernate()

    def hibernate(self) -> None:
        """
        Let go of the stream parser's memory if the stream is between
        stanzas (see L{StreamParser.hibernate}).
        """
        if self._parser is not None and not self._closed:
            self._parser.hibernate()

    # Ending

    def _timedOut(self) -> None:
        self._deadline = None
        self.close("connection-timeout", "Not authenticated in time")

    def _cancelDeadline(self) -> None:
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None

    def close(self, condition: str | None, text: str | None = None, *, abort: bool = False) -> None:
        """
        End the stream, with a stream error unless C{condition} is
        L{None}, and drop the connection.
        """
        if self._closed:
            return
        self._closed = True
        self._cancelDeadline()
        if condition is not None:
            self._log.warn(
                "s2s stream error {condition} to {peer} ({remote} -> {local}): {text}",
                condition=condition,
                peer=self.peer,
                remote=self.remote or "-",
                local=self.local or "-",
                text=text or "",
            )
        if not self._headerSent:
            # RFC 6120 4.9.1.2: an error on the header is preceded by ours.
            self._sendHeader()
        self.write(streamErrorBytes(condition, text) if condition else b"</stream:stream>")
        self._hangUp(abort)

    def _cutOff(self, condition: str, text: str) -> None:
        self.close(condition, text, abort=True)

    def _hangUp(self, abort: bool = False) -> None:
        self._output.stopProducing()
        if self._producing:
            # A transport with a producer does not close until it is gone.
            self._producing = False
            self.transport.unregisterProducer()
        if abort:
            self.transport.abortConnection()
            return
        self.transport.loseConnection()
        sendTimeout = self._factory.output.sendTimeout
        if sendTimeout is not None:
            self._deadline = self._factory.reactor.callLater(
                sendTimeout, self.transport.abortConnection
            )

    def write(self, data: bytes) -> None:
        if self._output.stalled:
            self._output.write([data])
        else:
            self.transport.write(data)

    def _sendHeader(self) -> None:
        self.streamId = secrets.token_hex(16)
        self._headerSent = True
        addressing = b""
        if self.local is not None:
            addressing += b" from=" + quoteAttribute(self.local)
        if self.remote is not None:
            addressing += b" to=" + quoteAttribute(self.remote)
        self.write(
            b"<?xml version='1.0'?><stream:stream xmlns='%s' xmlns:stream='%s' xmlns:db='%s'"
            b" id='%s' version='1.0'%s>"
            % (SERVER_NS.encode(), STREAMS_NS.encode(), DIALBACK_NS.encode(), self.streamId.encode(), addressing)
        )
