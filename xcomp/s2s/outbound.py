# -*- test-case-name: xcomp.test.test_s2s_outbound,xcomp.test.test_s2s_outbound_loopback -*-
"""
L{OutboundStream}: one outgoing server-to-server connection, from our
stream header to the moment it may carry stanzas, as the initiating entity
of RFC 6120.

The steps: our header (C{jabber:server}, C{from} the local domain, C{to}
the remote one, C{version='1.0'}); the remote's features; STARTTLS (or TLS
from the first byte for an XEP-0368 target), after which the remote's
certificate is checked for the remote domain; then SASL EXTERNAL
(XEP-0178) when the remote offers it and we have a certificate, else
dialback as the originating server (XEP-0220).  The stream is one-way: the
remote may answer our negotiation and dialback requests on it, nothing
else.

The stream reports to its L{IOutboundOwner} (the link,
L{xcomp.s2s.outboundlink.OutboundLink}), which bounds how long all of this
may take; the stream bounds only its writes, as a component stream does
(L{OutputBound}).
"""

from __future__ import annotations

import base64
from typing import Protocol as _TypingProtocol
from xml.sax.saxutils import escape

from twisted.internet.interfaces import IReactorTime, ITransport
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.words.xish import domish

from xcomp.config.model import ListenerConfig
from xcomp.errors import streamErrorBytes
from xcomp.listener.output import OutputBound
from xcomp.logsinks import Logger
from xcomp.s2s.dialback import DialbackSecret
from xcomp.s2s.outboundtypes import (
    DIALBACK_NS,
    SASL_NS,
    SERVER_NS,
    TLS_NS,
    ClientTLS,
    Generation,
    Policy,
)
from xcomp.stanza import STREAMS_NS, Stanza, quoteAttribute
from xcomp.stream import StreamHeader, StreamParser

__all__ = ["IOutboundOwner", "OutboundStream"]

_SASL_ANSWERS = frozenset({(SASL_NS, "success"), (SASL_NS, "failure")})


class IOutboundOwner(_TypingProtocol):
    """
    What an L{OutboundStream} reports to (the link that made it).
    """

    def streamReady(self, stream: OutboundStream) -> None:
        """
        The stream is authenticated (L{OutboundStream.method} says how): it
        may carry stanzas.
        """

    def dialbackOpen(self, stream: OutboundStream) -> None:
        """
        The stream may carry C{db:verify} requests from now on.
        """

    def verifyAnswered(self, sender: str, recipient: str, streamID: str, valid: bool) -> None:
        """
        The remote answered a C{db:verify}.
        """

    def streamLost(self, stream: OutboundStream, reason: str) -> None:
        """
        The connection is gone: C{reason} says why, for logs and, before the
        stream was ready, for the bounces.
        """


class OutboundStream(Protocol):
    """
    One outgoing s2s connection.

    @ivar state: C{"header"} (waiting for the remote's header), C{"features"},
        C{"tls"} (waiting for C{<proceed/>}), C{"sasl"}, C{"dialback"}
        (waiting for the C{db:result} answer), C{"ready"}, C{"closed"}.
    @ivar method: C{"sasl"} or C{"dialback"} once ready.
    @ivar encrypted: Whether TLS is on.
    @ivar certificateValid: Whether the remote's certificate is valid for the
        remote domain (known once TLS is on).
    @ivar streamID: The id of the remote's latest stream header.
    @ivar address: C{host:port} connected to, for logs.
    """

    _log = Logger()
    transport: ITransport
    _output: OutputBound

    def __init__(
        self,
        owner: IOutboundOwner,
        policy: Policy,
        tls: ClientTLS,
        secret: DialbackSecret,
        clock: IReactorTime,
        *,
        directTLS: bool = False,
        address: str = "?",
    ) -> None:
        self._owner = owner
        self.policy = policy
        self._tls = tls
        self._secret = secret
        self._clock = clock
        self._directTLS = directTLS
        self._producing = False
        self.address = address
        self.state = "header"
        self.method: str | None = None
        self.encrypted = False
        self.certificateValid = False
        self.streamID: str | None = None
        self._generation = Generation(self)
        self._parser: StreamParser | None = None
        self._reason = "connection lost"
        # Set when TLS starts; the remote's next header says the handshake
        # is over, and its certificate can be judged.
        self._tlsVerdictPending = False

    def __repr__(self) -> str:
        return f"<OutboundStream {self.policy.local} -> {self.policy.remote} at {self.address}>"

    # Connection

    def connectionMade(self) -> None:
        setNoDelay = getattr(self.transport, "setTcpNoDelay", None)
        if setNoDelay is not None:
            # Twisted coalesces a turn's writes already; Nagle only delays.
            setNoDelay(True)
        policy = self.policy
        # The write side's bounds are the component streams': what waits
        # for a remote that does not read is bounded in bytes and time.
        self._output = OutputBound(
            self.transport,
            self._clock,
            ListenerConfig(0, "", sendTimeout=policy.sendTimeout, maxOutputBuffer=policy.maxOutput),
            self._cutOff,
        )
        self.transport.registerProducer(self._output, True)  # type: ignore[attr-defined]
        self._producing = True
        if self._directTLS:
            self._startTLS()
        self._restart()

    def dataReceived(self, data: bytes) -> None:
        if self.state == "closed" or self._parser is None:
            return
        try:
            self._parser.feed(data)
        except Exception:
            self._log.failure("Processing data from {address} failed", address=self.address)
            self.close("internal-server-error")

    def connectionLost(self, reason: Failure = Failure(ConnectionError())) -> None:
        if self.state != "closed":
            self.state = "closed"
            self._reason = f"connection lost: {reason.getErrorMessage()}"
        self._parser = None
        self._output.stopProducing()
        self._owner.streamLost(self, self._reason)

    # What the link asks for

    def write(self, data: bytes) -> None:
        """
        Send bytes that stand alone in a C{jabber:server} stream.
        """
        if self.state != "closed":
            if self._output.stalled:
                self._output.write([data])
            else:
                self.transport.write(data)

    def writeSequence(self, data: list[bytes]) -> None:
        """
        Send several such pieces at once.
        """
        if self.state != "closed":
            if self._output.stalled:
                self._output.write(data)
            else:
                self.transport.writeSequence(data)

    def sendVerify(self, receiving: str, originating: str, streamID: str, key: str) -> None:
        """
        Ask the remote, as the authoritative server of C{originating},
        whether C{key} is the one it gave C{receiving} on stream C{streamID}.
        """
        self.write(
            b"<db:verify from=%s to=%s id=%s>%s</db:verify>"
            % (
                quoteAttribute(receiving),
                quoteAttribute(originating),
                quoteAttribute(streamID),
                escape(key).encode("utf-8"),
            )
        )

    def close(self, condition: str | None, text: str | None = None) -> None:
        """
        End our stream, with a stream error unless C{condition} is L{None},
        and drop the connection once the bytes are written.
        """
        if self.state == "closed":
            return
        if condition is None:
            self._reason = text or "closed"
            data = b"</stream:stream>"
        else:
            self._reason = f"{condition}: {text}" if text else condition
            self._log.warn(
                "s2s stream error {condition} to {remote} at {address}: {text}",
                condition=condition,
                local=self.policy.local,
                remote=self.policy.remote,
                address=self.address,
                text=text or "",
            )
            data = streamErrorBytes(condition, text)
        self.state = "closed"
        self.transport.write(data)
        self._hangUp()

    def abort(self, reason: str) -> None:
        """
        Drop the connection at once (the set-up timed out, or was given
        up): nothing more is written.
        """
        if self.state != "closed":
            self.state = "closed"
            self._reason = reason
        self._hangUp(abort=True)

    def _cutOff(self, condition: str, text: str) -> None:
        """
        The remote stopped reading: drop it at once.
        """
        self._log.warn(
            "s2s link {local} -> {remote} at {address} cut off: {text}",
            local=self.policy.local,
            remote=self.policy.remote,
            address=self.address,
            text=text,
        )
        self.abort(f"{condition}: {text}")

    def _hangUp(self, abort: bool = False) -> None:
        """
        Drop the connection, once what is buffered is written unless
        C{abort}.
        """
        self._output.stopProducing()
        if self._producing:
            # A transport with a producer does not close until it is gone.
            self._producing = False
            self.transport.unregisterProducer()  # type: ignore[attr-defined]
        if abort:
            self.transport.abortConnection()  # type: ignore[attr-defined]
        else:
            self.transport.loseConnection()

    def fail(self, reason: str) -> None:
        """
        Give up without a stream error (a timeout, a shutdown): C{reason}
        goes to the link's log line.
        """
        self.close(None, reason)

    # The remote's stream

    def headerReceived(self, header: StreamHeader) -> None:
        """
        The remote's stream header, first or after a restart.
        """
        if header.name != "stream" or header.uri != STREAMS_NS:
            self.close("invalid-namespace", "The root element must be stream:stream")
            return
        if header.namespaces.get("") != SERVER_NS:
            self.close("invalid-namespace", f"The default namespace must be {SERVER_NS}")
            return
        self.streamID = header.attributes.get("id")
        if self.encrypted and self._tlsVerdictPending:
            # The remote's header after STARTTLS: the handshake is done.
            self._tlsVerdictPending = False
            connection = self.transport.getHandle()  # type: ignore[attr-defined]
            self.certificateValid = self._tls.peerValidFor(connection, self.policy.remote)
            if self.policy.requireValidCertificate and not self.certificateValid:
                self.close(
                    "policy-violation",
                    f"The certificate is not valid for {self.policy.remote}",
                )
                return
        if header.attributes.get("version", "") < "1.0":
            # A server from before RFC 3920 sends no features.
            self._noFeatures()
        else:
            self.state = "features"

    def elementReceived(self, stanza: Stanza) -> None:
        """
        A top-level element of the remote's stream.
        """
        if self.state == "closed":
            return
        kind = (stanza.uri, stanza.name)
        if kind == (STREAMS_NS, "error"):
            self._streamError(stanza)
        elif kind == (DIALBACK_NS, "verify"):
            self._verifyAnswer(stanza)
        elif self.state == "features" and kind == (STREAMS_NS, "features"):
            self._features(stanza.element())
        elif self.state == "tls" and kind[0] == TLS_NS:
            if stanza.name == "proceed":
                self._startTLS()
                self._restart()
            else:
                self.close(None, "the remote refused STARTTLS")
        elif self.state == "sasl" and kind in _SASL_ANSWERS:
            if stanza.name == "success":
                self.method = "sasl"
                self._restart()
            else:
                self._afterSASLFailure()
        elif self.state == "dialback" and kind == (DIALBACK_NS, "result"):
            self._dialbackAnswer(stanza)
        else:
            # RFC 6120 8.1.1.1: the receiving entity has no authenticated
            # stream to us; this one is ours to send on.
            self.close(
                "unsupported-stanza-type",
                f"Nothing but negotiation answers on this stream, not {stanza.name}",
            )

    # Steps

    def _restart(self) -> None:
        """
        Send our (new) stream header and parse what follows as a new stream.
        """
        self._generation = Generation(self)
        self._parser = StreamParser(self._generation, self.policy.stanzaSizeLimit)
        self.state = "header"
        self.transport.write(
            b"<?xml version='1.0'?><stream:stream xmlns='%s' xmlns:stream='%s' xmlns:db='%s'"
            b" from=%s to=%s version='1.0'>"
            % (
                SERVER_NS.encode(),
                STREAMS_NS.encode(),
                DIALBACK_NS.encode(),
                quoteAttribute(self.policy.local),
                quoteAttribute(self.policy.remote),
            )
        )

    def _startTLS(self) -> None:
        creator = self._tls.clientOptions(self.policy.local, self.policy.remote, directTLS=self._directTLS)
        self.transport.startTLS(creator)  # type: ignore[attr-defined]
        self.encrypted = True
        self._tlsVerdictPending = True

    def _features(self, features: domish.Element) -> None:
        offered = {(child.uri, child.name): child for child in features.elements()}
        if self.method == "sasl":
            # The stream after SASL success: authenticated.
            self._ready()
            return
        if not self.encrypted:
            if (TLS_NS, "starttls") in offered:
                self.state = "tls"
                self.write(b"<starttls xmlns='%s'/>" % TLS_NS.encode())
                return
            if self.policy.requireEncryption:
                self.close("policy-violation", "Encryption is required but the remote offers no STARTTLS")
                return
            if self.policy.requireValidCertificate:
                self.close("policy-violation", "A valid certificate is required but the remote offers no TLS")
                return
        mechanisms = offered.get((SASL_NS, "mechanisms"))
        if (
            mechanisms is not None
            and self.encrypted
            and self.policy.offerCertificate
            and "EXTERNAL" in {str(m).strip() for m in mechanisms.elements(SASL_NS, "mechanism")}
        ):
            self.state = "sasl"
            # XEP-0178: the authorization identity is the originating domain.
            identity = base64.b64encode(self.policy.local.encode("utf-8"))
            self.write(b"<auth xmlns='%s' mechanism='EXTERNAL'>%s</auth>" % (SASL_NS.encode(), identity))
            return
        self._dialback()

    def _noFeatures(self) -> None:
        """
        The remote speaks no RFC 6120 negotiation: dialback in the clear, if
        policy allows.
        """
        if self.policy.requireEncryption or (
            self.policy.requireValidCertificate and not self.certificateValid
        ):
            self.close("policy-violation", "The remote offers no stream features (no TLS)")
            return
        self._dialback()

    def _afterSASLFailure(self) -> None:
        """
        The remote refused our certificate: dialback on the same stream
        (RFC 6120 6.4.5 leaves the stream open).
        """
        self._log.info(
            "SASL EXTERNAL refused by {remote} for {local}; trying dialback",
            local=self.policy.local,
            remote=self.policy.remote,
        )
        self._dialback()

    def _dialback(self) -> None:
        if self.streamID is None:
            self.close("invalid-xml", "The stream header has no id, needed for dialback")
            return
        local, remote = self.policy.local, self.policy.remote
        key = self._secret.key(remote, local, self.streamID)
        self.state = "dialback"
        self.write(
            b"<db:result from=%s to=%s>%s</db:result>"
            % (quoteAttribute(local), quoteAttribute(remote), key.encode("ascii"))
        )
        self._owner.dialbackOpen(self)

    def _dialbackAnswer(self, stanza: Stanza) -> None:
        attributes = stanza.attributes
        if attributes.get("from") != self.policy.remote or attributes.get("to") != self.policy.local:
            self.close("invalid-from", "The dialback answer is not about this stream's domains")
            return
        kind = attributes.get("type")
        if kind == "valid":
            self.method = "dialback"
            self._ready()
        else:
            self.close(None, f"dialback refused by the remote (type {kind!r})")

    def _verifyAnswer(self, stanza: Stanza) -> None:
        attributes = stanza.attributes
        self._owner.verifyAnswered(
            attributes.get("from", ""),
            attributes.get("to", ""),
            attributes.get("id", ""),
            attributes.get("type") == "valid",
        )

    def _ready(self) -> None:
        self.state = "ready"
        self._owner.dialbackOpen(self)
        self._owner.streamReady(self)

    def _streamError(self, stanza: Stanza) -> None:
        element = stanza.element()
        condition = next(
            (c.name for c in element.elements() if c.name != "text"), "undefined-condition"
        )
        self._reason = f"stream error from the remote: {condition}"
        self.state = "closed"
        self.transport.write(b"</stream:stream>")
        self._hangUp()

