# -*- test-case-name: xcomp.test.test_muc_occupantiq -*-
"""
iqs to an occupant's address (C{room@service/nick}, XEP-0045 section 7.x,
as Prosody's C{handle_iq_to_occupant}): a request is forwarded to the
occupant's real JID with the requester's occupant JID as C{from}, and its
answer is routed back to the requester.  XEP-0410 self-pings are answered
by the room itself.

Prosody packs the requester into the forwarded id; xcomp keeps a table
instead (L{IqForwarder}), so that the id an occupant sees says nothing of
the requester's real JID: each forwarded request gets a fresh random id,
and the table is bounded (in all, and per requester) and forgets entries
after L{IQ_TIMEOUT}.  Pure: the clock is given.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from typing import Callable

import attrs
from twisted.words.xish import domish

from xcomp.muc.elements import NS_PING, Outgoing, element, errorList
from xcomp.muc.state import RoomState, bareOf

#: Seconds a forwarded request waits for its answer; a later answer is
#: dropped.
IQ_TIMEOUT = 60.0
#: The most forwarded requests waiting for an answer, in all.
MAX_FORWARDED = 10000
#: The most one bare JID may have waiting.
MAX_PER_REQUESTER = 64
#: Payload namespaces that go to the occupant's bare JID (the account
#: answers them, not a client), as Prosody does.
TO_BARE = frozenset({"vcard-temp", "urn:ietf:params:xml:ns:vcard-4.0", "http://jabber.org/protocol/pubsub"})


@attrs.frozen
class _Forwarded:
    """
    One request waiting for its answer.

    @ivar requester: the real JID that asked.
    @ivar originalId: the id it used.
    @ivar target: where the request went (a session, or its bare JID).
    @ivar room: the room's JID.
    @ivar nick: the target's nick, which the answer comes from.
    @ivar expires: when the entry is forgotten.
    """

    requester: str
    originalId: str | None
    target: str
    room: str
    nick: str
    expires: float


class IqForwarder:
    """
    The requests a C{muc} service forwarded to occupants and is waiting on.
    """

    def __init__(self, clock: Callable[[], float], limit: int = MAX_FORWARDED,
                 perRequester: int = MAX_PER_REQUESTER, timeout: float = IQ_TIMEOUT) -> None:
        self._clock = clock
        self._limit = limit
        self._perRequester = perRequester
        self._timeout = timeout
        self._waiting: OrderedDict[str, _Forwarded] = OrderedDict()
        self._counts: dict[str, int] = {}

    def __len__(self) -> int:
        self._expire()
        return len(self._waiting)

    def request(self, room: RoomState, sender: str, nick: str, iq: domish.Element) -> list[Outgoing]:
        """
        A get or set from C{sender} to C{room/nick}: answered (a self-ping),
        refused, or forwarded.
        """
        occupant = room.byJid.get(sender)
        if occupant is None:
            return errorList(iq, "not-acceptable", "cancel", "You are not in this room")
        target = room.occupants.get(nick)
        if target is None:
            return errorList(iq, "item-not-found", "cancel", "No occupant has that nickname")
        payload = next(iter(iq.elements()), None)
        if target is occupant and payload is not None and payload.uri == NS_PING:
            # XEP-0410: the occupant is still in the room.
            return [element("iq", to=sender, sender=iq.getAttribute("to"), type="result", id=iq.getAttribute("id"))]
        self._expire()
        bare = bareOf(sender)
        if len(self._waiting) >= self._limit or self._counts.get(bare, 0) >= self._perRequester:
            return errorList(iq, "resource-constraint", "wait", "Too many requests waiting for an answer")
        destination = target.jid
        if payload is not None and payload.uri in TO_BARE:
            destination = target.bare
        newId = secrets.token_urlsafe(12)
        self._waiting[newId] = _Forwarded(
            sender, iq.getAttribute("id"), destination, room.jid, target.nick, self._clock() + self._timeout
        )
        self._counts[bare] = self._counts.get(bare, 0) + 1
        iq["from"] = f"{room.jid}/{occupant.nick}"
        iq["to"] = destination
        iq["id"] = newId
        return [iq]

    def answer(self, room: RoomState, sender: str, iq: domish.Element) -> list[Outgoing]:
        """
        A result or error from an occupant to a forwarded request: routed
        to the requester, with the original id and the answering occupant's
        JID as C{from}.  An answer nothing waits for (unknown, expired, or
        from another JID than the request went to) is dropped, as Prosody
        drops it.
        """
        self._expire()
        key = iq.getAttribute("id", "")
        waiting = self._waiting.get(key)
        if waiting is None or waiting.room != room.jid or not _answersFor(sender, waiting.target):
            return []
        self._forget(key)
        iq["from"] = f"{room.jid}/{waiting.nick}"
        iq["to"] = waiting.requester
        if waiting.originalId is None:
            del iq["id"]
        else:
            iq["id"] = waiting.originalId
        return [iq]

    def _forget(self, key: str) -> None:
        entry = self._waiting.pop(key)
        bare = bareOf(entry.requester)
        left = self._counts[bare] - 1
        if left:
            self._counts[bare] = left
        else:
            del self._counts[bare]

    def _expire(self) -> None:
        """
        Forget the requests that have waited too long: the oldest come
        first, since every entry waits as long.
        """
        now = self._clock()
        while self._waiting:
            key, entry = next(iter(self._waiting.items()))
            if entry.expires > now:
                return
            self._forget(key)


def _answersFor(sender: str, target: str) -> bool:
    """
    Whether an answer from C{sender} may answer a request sent to
    C{target}: the same JID; the account of a session it went to; or any
    session of an account it went to.
    """
    return sender in (target, bareOf(target)) or ("/" not in target and bareOf(sender) == target)
