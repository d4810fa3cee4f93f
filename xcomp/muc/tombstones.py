# -*- test-case-name: xcomp.test.test_muc_tombstones -*-
"""
Tombstones (Prosody's C{muc_tombstones}): a persistent room that was
destroyed answers every stanza with C{cancel}/C{gone} for
C{muc_tombstone_expiry} seconds, saying why and where the room went
(C{xmpp:JID?join}, as Prosody writes it), so that clients with it in their
bookmarks stop rejoining instead of creating it anew.  A service admin's
join makes the room again at once.  Pure: the glue stores them.
"""

from __future__ import annotations

from typing import AbstractSet, Callable, Mapping

import attrs
from twisted.words.protocols.jabber.jid import JID, InvalidFormat

from xcomp.plugin import Stanza, bounce

__all__ = ["Tombstone", "Tombstones"]


@attrs.frozen
class Tombstone:
    """
    What is left of a destroyed persistent room.

    @ivar until: the POSIX time it expires.
    @ivar reason: the owner's reason, if any.
    @ivar newjid: the alternate venue, if any.
    """

    until: float
    reason: str | None = None
    newjid: str | None = None

    def dump(self) -> dict[str, object]:
        """
        What is stored (as the room's record, under C{"tombstone"}).
        """
        return {"tombstone": attrs.asdict(self)}

    @classmethod
    def fromRecord(cls, data: Mapping[str, object]) -> Tombstone | None:
        """
        The tombstone a stored room record holds, or C{None} if it is a room.
        """
        stone = data.get("tombstone")
        if not isinstance(stone, Mapping):
            return None
        until, reason, newjid = stone.get("until"), stone.get("reason"), stone.get("newjid")
        if isinstance(until, bool) or not isinstance(until, (int, float)):
            return None
        return cls(
            float(until),
            reason if isinstance(reason, str) else None,
            newjid if isinstance(newjid, str) else None,
        )

    def reply(self, stanza: Stanza) -> Stanza | None:
        """
        The C{gone} error answering C{stanza}, or C{None} for one that must
        not be answered (errors, iq results).
        """
        reply = bounce(stanza, "gone", type="cancel", text=self.reason)
        if reply is None or not self.newjid:
            return reply
        element = reply.element()
        error = next(e for e in element.elements() if e.name == "error")
        gone = next(e for e in error.elements() if e.name == "gone")
        gone.addContent(f"xmpp:{self.newjid}?join")
        return Stanza.fromElement(element)


class Tombstones:
    """
    The tombstones of one service, oldest first, at most C{limit} of them
    (the oldest goes first when there are more).
    """

    def __init__(self, clock: Callable[[], float], expiry: float, limit: int) -> None:
        self._clock = clock
        self._expiry = expiry
        self._limit = limit
        self._stones: dict[str, Tombstone] = {}

    def __contains__(self, jid: object) -> bool:
        return jid in self._stones

    def __len__(self) -> int:
        return len(self._stones)

    def bury(self, jid: str, reason: str | None, newjid: str | None) -> tuple[Tombstone, list[str]]:
        """
        Leave a tombstone for C{jid}.

        @return: the tombstone, and the rooms whose tombstones made way for
            it (to be removed from storage).
        """
        self._stones.pop(jid, None)
        stone = Tombstone(self._clock() + self._expiry, reason, newjid)
        self._stones[jid] = stone
        dropped = []
        while len(self._stones) > self._limit:
            oldest = next(iter(self._stones))
            del self._stones[oldest]
            dropped.append(oldest)
        return stone, dropped

    def restore(self, jid: str, stone: Tombstone) -> None:
        """
        Put back a stored tombstone (at startup).
        """
        self._stones[jid] = stone

    def current(self, jid: str) -> Tombstone | None:
        """
        The tombstone of C{jid} if it has not expired.  An expired one is
        forgotten here: L{remove} it from storage when this returns
        C{None} for a room that L{__contains__} a moment before.
        """
        stone = self._stones.get(jid)
        if stone is not None and stone.until <= self._clock():
            del self._stones[jid]
            return None
        return stone

    def screen(self, stanza: Stanza, admins: AbstractSet[str]) -> tuple[bool, Stanza | None, str | None]:
        """
        Look at a stanza for the service before it is dispatched: one to a
        room with a current tombstone is answered with C{gone} (unless it is
        an available presence of one of C{admins}, which makes the room
        again); an expired tombstone, or one an admin joins through, is
        removed.

        @return: whether the stanza stops here, the reply to route (or
            C{None}), and the room whose stored tombstone to delete (or
            C{None}).
        """
        jid, sender = _bare(stanza.to), _bare(stanza.sender)
        if jid is None or jid not in self._stones:
            return False, None, None
        stone = self.current(jid)
        joiningAdmin = sender in admins and stanza.name == "presence" and stanza.type is None
        if stone is not None and not joiningAdmin:
            return True, stone.reply(stanza), None
        self.remove(jid)
        return False, None, jid

    def remove(self, jid: str) -> bool:
        """
        Forget C{jid}'s tombstone; whether there was one.
        """
        return self._stones.pop(jid, None) is not None


def _bare(address: str | None) -> str | None:
    """
    The bare JID of an address with a local part, or C{None}.
    """
    try:
        jid = JID(address or "")
    except (InvalidFormat, UnicodeError):
        return None
    return jid.userhost() if jid.user else None
