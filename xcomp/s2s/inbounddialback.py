# -*- test-case-name: xcomp.test.test_s2s_inbound_auth -*-
"""
L{InboundDialback}: server dialback (XEP-0220) on one incoming s2s stream,
both sides of it that a receiving stream meets.

  - The receiving side: a C{<db:result/>} asks to authorise a (local,
    remote) pair; the key is checked with the remote's authoritative
    server, over s2s-out's pool, and the answer is C{valid}, C{invalid}
    or an error.  Further pairs on the same stream (multiplexing) are
    authorised one by one, within L{Pairs}'s bounds.
  - The authoritative side: a C{<db:verify/>} asks whether a key is one
    this process gave; the answer is computed from the dialback secret
    alone, so nothing is kept per request.

Keys are never logged.
"""

from __future__ import annotations

from typing import Protocol as _TypingProtocol

from twisted.internet import defer, error as netError
from twisted.python.failure import Failure

from xcomp.config.model import S2SConfig
from xcomp.logsinks import Logger
from xcomp.router import preparedHost
from xcomp.s2s.dialback import DialbackSecret
from xcomp.s2s.inboundauth import dialbackAllowed, dialbackResult, dialbackVerified
from xcomp.s2s.inboundpairs import Pairs
from xcomp.stanza import Stanza

__all__ = ["DialbackFactory", "DialbackStream", "InboundDialback"]


class DialbackStream(_TypingProtocol):
    """
    What dialback uses of its stream (L{xcomp.s2s.inbound.InboundStream}).
    """

    pairs: Pairs
    secure: bool
    streamId: str
    peer: str

    @property
    def closed(self) -> bool:
        """Whether the stream has ended."""

    def write(self, data: bytes) -> None:
        """Write to the peer."""

    def close(self, condition: str | None, text: str | None = None) -> None:
        """End the stream with a stream error."""

    def authorise(self, local: str, remote: str, method: str) -> None:
        """Let the pair's stanzas through."""


class DialbackFactory(_TypingProtocol):
    """
    What dialback uses of the stream's factory.
    """

    config: S2SConfig
    secret: DialbackSecret

    def isLocal(self, domain: str) -> bool:
        """Whether xcomp serves C{domain} (nameprep'd)."""

    def verify(self, receiving: str, originating: str, streamID: str, key: str) -> defer.Deferred[bool]:
        """Ask the authoritative server of C{originating} about a dialback key."""


class InboundDialback:
    """
    Dialback requests on one incoming stream.
    """

    _log = Logger()

    def __init__(self, stream: DialbackStream, factory: DialbackFactory) -> None:
        self._stream = stream
        self._factory = factory

    def _addresses(self, element: Stanza) -> tuple[str, str] | None:
        """
        The nameprep'd (to, from) of a dialback request, or L{None} once the
        stream is closed for missing or invalid ones.
        """
        to, sender = element.attributes.get("to"), element.attributes.get("from")
        local = preparedHost(to) if to else None
        remote = preparedHost(sender) if sender else None
        if local is None or remote is None:
            self._stream.close("improper-addressing", "A dialback request needs valid 'to' and 'from'")
            return None
        return local, remote

    def result(self, request: Stanza) -> None:
        """
        Receiving side (XEP-0220 2.1): check the key with the authoritative
        server of the C{from} domain, over s2s-out's pool.
        """
        addresses = self._addresses(request)
        if addresses is None:
            return
        local, remote = addresses
        factory, pairs = self._factory, self._stream.pairs
        if not factory.isLocal(local) or factory.isLocal(remote):
            self._stream.write(dialbackResult(local, remote, "error", "item-not-found"))
            return
        if not self._stream.secure and factory.config.requireEncryption:
            self._stream.close("policy-violation", "Encrypted server-to-server communication is required but was not used")
            return
        pair = (local, remote)
        if pair in pairs.authorised:
            self._stream.write(dialbackResult(local, remote, "valid"))
            return
        if pair in pairs.pending:
            return
        if not factory.config.allows(remote):
            self._stream.write(dialbackResult(local, remote, "error", "not-allowed"))
            return
        if not dialbackAllowed(factory.config, remote):
            self._stream.write(dialbackResult(local, remote, "error", "not-authorized", "auth"))
            return
        key = str(request.element()).strip()
        if pair in pairs.refused or not key:
            self._stream.write(dialbackResult(local, remote, "invalid"))
            return
        if pairs.full():
            self._stream.write(dialbackResult(local, remote, "error", "resource-constraint", "wait"))
            return
        pairs.pending.add(pair)
        checked = factory.verify(local, remote, self._stream.streamId, key)
        checked.addCallbacks(
            self._verified, self._unverifiable, callbackArgs=(local, remote), errbackArgs=(local, remote)
        )

    def _verified(self, valid: bool, local: str, remote: str) -> None:
        if self._stream.closed:
            return
        if valid:
            self._stream.authorise(local, remote, "dialback")
            self._stream.write(dialbackResult(local, remote, "valid"))
        else:
            self._stream.pairs.refuse(local, remote)
            self._log.warn(
                "s2s dialback key from {remote} for {local} is invalid ({peer})",
                remote=remote,
                local=local,
                peer=self._stream.peer,
            )
            self._stream.write(dialbackResult(local, remote, "invalid"))

    def _unverifiable(self, reason: Failure, local: str, remote: str) -> None:
        self._stream.pairs.pending.discard((local, remote))
        if self._stream.closed:
            return
        self._log.warn(
            "s2s dialback for {remote} -> {local}: cannot reach its authoritative server: {reason}",
            remote=remote,
            local=local,
            reason=reason.getErrorMessage(),
        )
        if reason.check(defer.TimeoutError, netError.TimeoutError):
            self._stream.write(dialbackResult(local, remote, "error", "remote-server-timeout", "wait"))
        else:
            self._stream.write(dialbackResult(local, remote, "error", "remote-server-not-found"))

    def verify(self, request: Stanza) -> None:
        """
        Authoritative side (XEP-0220 2.3): is the key one this process
        gave for (receiving=C{from}, originating=C{to}, C{id})?  Stateless.
        """
        addresses = self._addresses(request)
        if addresses is None:
            return
        local, remote = addresses
        streamID = request.attributes.get("id")
        if not streamID:
            self._stream.close("improper-addressing", "A dialback verify request needs an 'id'")
            return
        if not self._factory.isLocal(local):
            self._stream.write(dialbackVerified(local, remote, streamID, "error", "item-not-found"))
            return
        key = str(request.element()).strip()
        valid = self._factory.secret.check(key, remote, local, streamID)
        self._stream.write(dialbackVerified(local, remote, streamID, "valid" if valid else "invalid"))
