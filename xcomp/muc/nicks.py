# -*- test-case-name: xcomp.test.test_muc_options -*-
"""
C{muc_max_nick_length}, as Prosody's community module C{mod_muc_limits}
has it: a nick longer than the limit (in UTF-8 bytes) is refused with
C{modify}/C{policy-violation} when a user with no affiliation enters a room
or changes to a nick no one holds.  Pure.
"""

from __future__ import annotations

from twisted.words.xish import domish

from xcomp.muc.elements import NS_MUC, Outgoing, errorList
from xcomp.muc.room import Room
from xcomp.muc.settings import ServiceOptions
from xcomp.muc.state import bareOf
from xcomp.plugin import Stanza

__all__ = ["nickTooLong", "tooLongError"]


def nickTooLong(
    options: ServiceOptions, room: Room | None, presence: domish.Element, sender: str, nick: str | None
) -> bool:
    """
    Whether a presence enters a room (or changes nick) with a nick longer
    than C{muc_max_nick_length} bytes, from a user with no affiliation
    (Prosody's C{mod_muc_limits} leaves affiliated users alone).
    """
    if nick is None or presence.getAttribute("type") is not None:
        return False
    if len(nick.encode("utf-8")) <= options.maxNickLength:
        return False
    if room is None:
        return not options.ownsRooms(bareOf(sender))
    return nick not in room.occupants and room.affiliation(sender) == "none"


def tooLongError(presence: domish.Element) -> list[Outgoing]:
    """
    The error for a nick that is too long, with the C{<x/>} of the MUC
    protocol as Prosody adds it, so that clients tie it to their join.
    """
    out = errorList(presence, "policy-violation", "modify", "Your nick name is too long, please use a shorter one")
    for reply in out:
        if isinstance(reply, Stanza):
            element = reply.element()
            element.addElement((NS_MUC, "x"))
            return [Stanza.fromElement(element)]
    return out
