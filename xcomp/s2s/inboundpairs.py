# -*- test-case-name: xcomp.test.test_s2s_inbound_auth -*-
"""
L{Pairs}: which (local domain, remote domain) pairs one incoming s2s stream
is authorised for (RFC 6120 SASL, or XEP-0220 dialback with multiplexing),
which are being verified, and which were refused; and the check every
stanza from the stream passes before it is routed.
"""

from __future__ import annotations

from xcomp.router import hostOf, preparedHost
from xcomp.stanza import Stanza

__all__ = ["MAX_PAIRS", "MAX_PENDING", "Pairs"]

#: Pairs one stream may be authorised for, or have refused: a peer naming
#: ever new domains would otherwise grow the tables without end.
MAX_PAIRS = 256
#: Dialback verifications one stream may have waiting at once; each costs
#: a request to another server.
MAX_PENDING = 16


class Pairs:
    """
    The domain pairs of one incoming stream.

    @ivar authorised: The (local, remote) pairs stanzas may use.
    @ivar remotes: The remote domains of L{authorised}.
    @ivar pending: The pairs whose dialback key is being verified.
    @ivar refused: The pairs whose dialback key was wrong.
    """

    __slots__ = ("authorised", "remotes", "pending", "refused")

    def __init__(self) -> None:
        self.authorised: set[tuple[str, str]] = set()
        self.remotes: set[str] = set()
        self.pending: set[tuple[str, str]] = set()
        self.refused: set[tuple[str, str]] = set()

    def __bool__(self) -> bool:
        """
        Whether any pair is authorised.
        """
        return bool(self.authorised)

    def full(self) -> bool:
        """
        Whether another verification may not start now.
        """
        return (
            len(self.pending) >= MAX_PENDING
            or len(self.authorised) + len(self.pending) + len(self.refused) >= MAX_PAIRS
        )

    def authorise(self, local: str, remote: str) -> None:
        """
        Let stanzas from C{remote} to C{local} through.
        """
        self.pending.discard((local, remote))
        self.authorised.add((local, remote))
        self.remotes.add(remote)

    def refuse(self, local: str, remote: str) -> None:
        """
        Remember that C{remote}'s key for C{local} was wrong.
        """
        self.pending.discard((local, remote))
        self.refused.add((local, remote))

    def check(self, stanza: Stanza) -> tuple[str, str] | None:
        """
        Whether C{stanza} may be routed: its C{from} in a remote domain this
        stream is authorised for, its C{to} in the local domain of that pair.

        @return: L{None} if it may, else the stream error condition and text
            (RFC 6120 4.9.3: C{improper-addressing} without C{to} or
            C{from}, C{invalid-from} for a sender not authorised here).
        """
        attributes = stanza.attributes
        sender, recipient = attributes.get("from"), attributes.get("to")
        if not sender or not recipient:
            return "improper-addressing", "A stanza between servers has both 'to' and 'from'"
        remote, local = hostOf(sender), hostOf(recipient)
        # Addresses arrive prepared from any server that follows RFC 6120;
        # prepare them only when the plain lookup fails.
        if (local, remote) in self.authorised:
            return None
        remote, local = preparedHost(sender) or "", preparedHost(recipient) or ""
        if (local, remote) in self.authorised:
            return None
        if remote not in self.remotes:
            return "invalid-from", f"The stream is not authenticated for {remote or 'that from'}"
        return "invalid-from", f"{remote} is not authenticated for {local or 'that to'} on this stream"
