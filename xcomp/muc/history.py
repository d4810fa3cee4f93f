# -*- test-case-name: xcomp.test.test_muc_room_messages,xcomp.test.test_muc_mam_refill -*-
"""
A room's discussion history (XEP-0045 section 7.2.15): the last groupchat
messages, kept as the bytes occupants received, and sent again with a
XEP-0203 delay to each new occupant, as much of it as the occupant asks for.

The history lives in memory; C{muc_mam} refills it from the archive when a
persistent room is loaded again (L{History.refill}).
"""

from __future__ import annotations

from collections import deque
from typing import Callable, Iterable, Iterator, Mapping

import attrs
from twisted.words.xish import domish

from xcomp.muc.elements import NS_MUC, NS_STANZA_ID, addressed, child, delay, element, parseStamp, serialise
from xcomp.plugin import COMPONENT_NS, Stanza, parseElement

#: The most bytes of history a room keeps, whatever its history length.
MAX_HISTORY_BYTES = 256 * 1024


@attrs.frozen
class HistoryEntry:
    """
    A groupchat message kept for new occupants.

    @ivar attributes: its top-level attributes (without C{to}).
    @ivar template: its bytes (without C{to}).
    @ivar delay: the bytes of its XEP-0203 C{<delay/>}.
    """

    stamp: float
    attributes: Mapping[str, str]
    template: bytes
    delay: bytes

    def to(self, recipient: str) -> Stanza:
        """
        The entry as a delayed message for C{recipient}.
        """
        attributes = dict(self.attributes)
        attributes["to"] = recipient
        return Stanza(
            "message", COMPONENT_NS, attributes, addressed(self.template, "message", recipient, self.delay)
        )


class History:
    """
    The last messages of one room, oldest first, within a count and
    L{MAX_HISTORY_BYTES}.
    """

    def __init__(self, room: str, clock: Callable[[], float]) -> None:
        self._room = room
        self._clock = clock
        self._entries: deque[HistoryEntry] = deque()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[HistoryEntry]:
        return iter(self._entries)

    def __getitem__(self, index: int) -> HistoryEntry:
        return self._entries[index]

    def remember(self, message: domish.Element, template: bytes, limit: int) -> None:
        """
        Keep a broadcast message, sent now, within C{limit} messages.
        """
        if limit <= 0:
            return
        attributes = {k: v for k, v in message.attributes.items() if isinstance(k, str)}
        self._add(self._clock(), attributes, template)
        self.trim(limit)

    def refill(self, messages: Iterable[tuple[float, bytes]], limit: int) -> None:
        """
        Put back messages kept elsewhere (an archive), oldest first, before
        anything said since; keep the last C{limit}.

        @param messages: the time each was sent and its bytes as occupants
            received them (no C{to}); one that does not parse as a message
            is skipped.
        """
        current = list(self._entries)
        self._entries.clear()
        self._bytes = 0
        for stamp, template in messages:
            try:
                message = parseElement(template, {"": COMPONENT_NS})
            except ValueError:
                continue
            if message.name != "message":
                continue
            attributes = {k: v for k, v in message.attributes.items() if isinstance(k, str)}
            self._add(stamp, attributes, template)
        for entry in current:
            self._add(entry.stamp, entry.attributes, entry.template)
        self.trim(limit)

    def _add(self, stamp: float, attributes: Mapping[str, str], template: bytes) -> None:
        self._entries.append(HistoryEntry(stamp, attributes, template, serialise(delay(stamp, self._room))))
        self._bytes += len(template)

    def retract(self, stanzaId: str, room: str) -> bool:
        """
        Forget the message with this XEP-0359 stanza id (by C{room}): a
        moderator retracted it (XEP-0425).  Whether it was kept.
        """
        for entry in list(self._entries):
            try:
                message = parseElement(entry.template, {"": COMPONENT_NS})
            except ValueError:
                continue
            for marker in message.elements(NS_STANZA_ID, "stanza-id"):
                if marker.getAttribute("id") == stanzaId and marker.getAttribute("by") == room:
                    self._entries.remove(entry)
                    self._bytes -= len(entry.template)
                    return True
        return False

    def trim(self, limit: int) -> None:
        """
        Drop the oldest messages beyond C{limit} or L{MAX_HISTORY_BYTES}.
        """
        entries = self._entries
        while entries and (len(entries) > limit or self._bytes > MAX_HISTORY_BYTES):
            self._bytes -= len(entries.popleft().template)

    def requested(self, recipient: str, mucX: domish.Element | None) -> list[Stanza]:
        """
        The history a joining occupant asked for in its C{<x/>}: all of it,
        or as limited by C{<history maxstanzas maxchars seconds since/>}.
        """
        request = child(mucX, NS_MUC, "history") if mucX is not None else None
        maxStanzas = _number(request, "maxstanzas")
        maxChars = _number(request, "maxchars")
        seconds = _number(request, "seconds")
        since: float | None = None
        if request is not None and request.getAttribute("since"):
            try:
                since = parseStamp(request["since"])
            except ValueError:
                since = None
        if seconds is not None:
            cutoff = self._clock() - seconds
            since = cutoff if since is None else max(since, cutoff)
        chosen: list[HistoryEntry] = []
        chars = 0
        for entry in reversed(self._entries):
            if maxStanzas is not None and len(chosen) >= maxStanzas:
                break
            if since is not None and entry.stamp < since:
                break
            if maxChars is not None:
                chars += len(entry.template) + len(entry.delay)
                if chars > maxChars:
                    break
            chosen.append(entry)
        return [entry.to(recipient) for entry in reversed(chosen)]


def subjectMessage(room: str, subject: tuple[str, str | None], recipient: str) -> domish.Element:
    """
    The subject message, sent last on joining (even when empty).

    @param subject: the text and the nick that set it (or C{None}).
    """
    subjectText, by = subject
    message = element("message", to=recipient, sender=f"{room}/{by}" if by else room, type="groupchat")
    message.addElement("subject", content=subjectText)
    return message


def _number(request: domish.Element | None, name: str) -> int | None:
    """
    A non-negative integer attribute of the history request, if valid.
    """
    if request is None:
        return None
    value = request.getAttribute(name)
    if value is None or not value.isdigit():
        return None
    return int(value)
