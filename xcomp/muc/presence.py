# -*- test-case-name: xcomp.test.test_muc_room -*-
"""
Presence to a room: joining (with the XEP-0045 refusals), changes of
availability and of nick, leaving, and the errors that show an occupant is
gone.
"""

from __future__ import annotations

from twisted.words.xish import domish

from xcomp.muc.elements import NS_MUC, NS_MUC_USER, NS_OCCUPANT_ID, Outgoing, child, errorList, text
from xcomp.muc.history import subjectMessage
from xcomp.muc.register import reservedBy
from xcomp.muc.roominfo import avatarPresence
from xcomp.muc.state import MAX_PRESENCE_PAYLOAD, Occupant, RoomState, bareOf, rank
from xcomp.plugin import COMPONENT_NS

#: Error conditions that mean an occupant is gone: an error with one of them
#: from an occupant's address removes the occupant (status 333).
GHOST_CONDITIONS = frozenset(
    {"gone", "item-not-found", "recipient-unavailable", "redirect", "remote-server-not-found",
     "remote-server-timeout", "service-unavailable"}
)
#: The most sessions one occupant may join from.
MAX_SESSIONS = 16
#: Presence children the room replaces with its own.
_OWN_CHILDREN = frozenset({(NS_MUC, "x"), (NS_MUC_USER, "x"), (NS_OCCUPANT_ID, "occupant-id")})


def presence(
    room: RoomState, sender: str, nick: str | None, stanza: domish.Element, *, created: bool = False
) -> list[Outgoing]:
    """
    Handle a presence addressed to the room (C{nick} is C{None}) or to
    C{room/nick}.

    @param sender: the normalised real JID it came from.
    @param created: the room was made for this presence, which makes
        C{sender} its owner.
    """
    kind = stanza.getAttribute("type")
    occupant = room.byJid.get(sender)
    if kind == "error":
        return ghost(room, occupant, stanza, sender)
    if kind == "unavailable":
        if occupant is None:
            return []
        return room.removeSession(occupant, sender, statusFrom=stanza)
    if kind is not None:
        # Subscriptions and probes have no meaning for a room.
        return []
    if nick is None:
        return errorList(stanza, "jid-malformed", "modify", "A nickname is required to join")
    if occupant is None:
        holder = room.occupants.get(nick)
        if holder is not None and holder.bare == bareOf(sender):
            return _joinSession(room, holder, sender, stanza)
        return _join(room, sender, nick, stanza, created)
    if occupant.nick != nick:
        return _changeNick(room, occupant, sender, nick, stanza)
    return _update(room, occupant, sender, stanza)


def ghost(room: RoomState, occupant: Occupant | None, stanza: domish.Element, sender: str) -> list[Outgoing]:
    """
    An error from an occupant's address (the normalised C{sender}): remove
    that session if it says the session is gone.
    """
    if occupant is None:
        return []
    error = child(stanza, COMPONENT_NS, "error")
    conditions = {c.name for c in error.elements()} if error is not None else set()
    if conditions & GHOST_CONDITIONS:
        return room.removeSession(occupant, sender, codes={"333"})
    return []


def _refusal(room: RoomState, sender: str, nick: str, stanza: domish.Element, created: bool) -> list[Outgoing]:
    """
    Why C{sender} may not join as C{nick}, as the error reply; empty when
    it may.
    """
    affiliation = room.affiliation(sender)
    if room.locked and affiliation != "owner":
        return errorList(stanza, "item-not-found", "cancel", "This room is locked until its owner configures it")
    if affiliation == "outcast":
        return errorList(stanza, "forbidden", "auth", "You are banned from this room")
    if room.config.membersOnly and rank(affiliation) < rank("member"):
        return errorList(stanza, "registration-required", "auth", "This room is for members only")
    if nick in room.occupants:
        return errorList(stanza, "conflict", "cancel", "That nickname is in use")
    if reservedBy(room, nick) not in (None, bareOf(sender)):
        return errorList(stanza, "conflict", "cancel", "That nickname is reserved by someone else")
    if room.config.password and not created:
        if text(child(stanza, NS_MUC, "x"), NS_MUC, "password") != room.config.password:
            return errorList(stanza, "not-authorized", "auth", "A password is required")
    count = len(room.occupants)
    if count >= room.options.maxOccupants or (
        count >= room.config.maxUsers and affiliation not in ("owner", "admin")
    ):
        return errorList(stanza, "service-unavailable", "wait", "This room is full")
    return []


def _join(room: RoomState, sender: str, nick: str, stanza: domish.Element, created: bool) -> list[Outgoing]:
    """
    Admit a new occupant, or refuse with the XEP-0045 error.
    """
    mucX = child(stanza, NS_MUC, "x")
    if created:
        room.affiliations[bareOf(sender)] = "owner"
        room.locked = room.options.locking and mucX is not None
        room.stateChanged = True
    refusal = _refusal(room, sender, nick, stanza, created)
    if refusal:
        return refusal
    payload = _payload(stanza)
    if payload is None:
        return errorList(stanza, "not-acceptable", "modify", "The presence is too large")
    role = room.defaultRole(room.affiliation(sender))
    occupant = Occupant(nick, sender, role, room.occupantIdOf(bareOf(sender)), payload)
    out: list[Outgoing] = [room.presenceOf(other, occupant) for other in room.occupants.values()]
    room.occupants[nick] = occupant
    room.byJid[sender] = occupant
    out.extend(room.fanPresence(occupant, room.others(occupant)))
    codes = {"110"} | room.nonAnonymousCodes()
    if created:
        codes.add("201")
    if _nickRewritten(stanza, nick):
        codes.add("210")
    for extension in room.extensions:
        codes |= extension.joinStatusCodes(room)
    out.append(room.selfPresence(occupant, codes))
    out.extend(avatarPresence(room, [sender]))
    out.extend(room.history.requested(sender, mucX))
    out.append(subjectMessage(room.jid, room.subject, sender))
    return out


def _joinSession(room: RoomState, occupant: Occupant, sender: str, stanza: domish.Element) -> list[Outgoing]:
    """
    Another session of an occupant's bare JID joins under its nick (as
    Prosody allows): it gets the join sequence; the room still shows one
    occupant, whose presence is the primary session's, and the others get
    that presence again, as Prosody sends it.
    """
    if room.locked and room.affiliation(sender) != "owner":
        return errorList(stanza, "item-not-found", "cancel", "This room is locked until its owner configures it")
    if room.config.password and text(child(stanza, NS_MUC, "x"), NS_MUC, "password") != room.config.password:
        return errorList(stanza, "not-authorized", "auth", "A password is required")
    if len(occupant.sessions) >= MAX_SESSIONS:
        return errorList(stanza, "resource-constraint", "wait", "Too many sessions under this nickname")
    payload = _payload(stanza)
    if payload is None:
        return errorList(stanza, "not-acceptable", "modify", "The presence is too large")
    occupant.setPayload(sender, payload)
    room.byJid[sender] = occupant
    out: list[Outgoing] = [room.presenceOf(other, occupant, sender) for other in room.others(occupant)]
    out.extend(room.fanPresence(occupant, room.others(occupant)))
    codes = {"110"} | room.nonAnonymousCodes()
    for extension in room.extensions:
        codes |= extension.joinStatusCodes(room)
    out.append(room.selfPresence(occupant, codes, [sender]))
    out.extend(avatarPresence(room, [sender]))
    out.extend(room.history.requested(sender, child(stanza, NS_MUC, "x")))
    out.append(subjectMessage(room.jid, room.subject, sender))
    return out


def _update(room: RoomState, occupant: Occupant, sender: str, stanza: domish.Element) -> list[Outgoing]:
    """
    An occupant's new availability, broadcast; a presence with the MUC
    element again (a client that lost its state) gets the join sequence.
    A session that is not the primary one only has its presence kept.
    """
    payload = _payload(stanza)
    if payload is None:
        return errorList(stanza, "not-acceptable", "modify", "The presence is too large")
    primary = occupant.setPayload(sender, payload)
    out: list[Outgoing] = []
    mucX = child(stanza, NS_MUC, "x")
    if mucX is not None:
        out.extend(room.presenceOf(other, occupant, sender) for other in room.others(occupant))
    if primary:
        out.extend(room.fanPresence(occupant, room.others(occupant)))
    out.append(room.selfPresence(occupant, {"110"} | room.nonAnonymousCodes(), None if primary else [sender]))
    if mucX is not None:
        out.extend(room.history.requested(sender, mucX))
        out.append(subjectMessage(room.jid, room.subject, sender))
    return out


def _changeNick(room: RoomState, occupant: Occupant, sender: str, nick: str, stanza: domish.Element) -> list[Outgoing]:
    """
    Change an occupant's nick: unavailable with 303 from the old one, then
    available from the new one.  One of several sessions that changes its
    nick splits off (L{_splitSession}).
    """
    if nick in room.occupants or reservedBy(room, nick) not in (None, occupant.bare):
        return errorList(stanza, "conflict", "cancel", "That nickname is in use or reserved")
    payload = _payload(stanza)
    if payload is None:
        return errorList(stanza, "not-acceptable", "modify", "The presence is too large")
    if len(occupant.sessions) > 1:
        return _splitSession(room, occupant, sender, nick, payload, stanza)
    everyone = list(room.occupants.values())
    out = room.fanPresence(
        occupant, everyone, type="unavailable", codes={"303"}, itemExtra={"nick": nick}, selfCodes={"110"}
    )
    del room.occupants[occupant.nick]
    occupant.nick = nick
    occupant.setPayload(occupant.jid, payload)
    room.occupants[nick] = occupant
    out.extend(room.fanPresence(occupant, room.others(occupant)))
    codes = {"110"}
    if _nickRewritten(stanza, nick):
        codes.add("210")
    out.append(room.selfPresence(occupant, codes))
    return out


def _splitSession(
    room: RoomState, occupant: Occupant, sender: str, nick: str, payload: str, stanza: domish.Element
) -> list[Outgoing]:
    """
    One of an occupant's sessions takes another nick, as Prosody splits it:
    that session alone sees its old nick go (303, 110) and then the old
    occupant as someone else; everyone sees a new occupant under the new
    nick, with the same role; the old occupant stays with its other
    sessions (the next one's presence is shown if the primary left).
    """
    gone = room.presenceElement(occupant, True, type="unavailable", codes={"303", "110"},
                                itemExtra={"nick": nick, "jid": sender})
    gone["to"] = sender
    wasPrimary = sender == occupant.jid
    occupant.dropSession(sender)
    out: list[Outgoing] = [gone]
    if wasPrimary:
        out.extend(room.fanPresence(occupant, list(room.occupants.values()), selfCodes={"110"}))
    split = Occupant(nick, sender, occupant.role, occupant.occupantId, payload)
    room.occupants[nick] = split
    room.byJid[sender] = split
    out.extend(room.fanPresence(split, room.others(split)))
    codes = {"110"}
    if _nickRewritten(stanza, nick):
        codes.add("210")
    out.append(room.selfPresence(split, codes))
    out.append(room.presenceOf(occupant, split))
    return out


def _payload(stanza: domish.Element) -> str | None:
    """
    The children of a presence that the room passes on, serialised; C{None}
    when they are larger than L{MAX_PRESENCE_PAYLOAD}.
    """
    parts = [
        c.toXml(defaultUri=COMPONENT_NS)
        for c in stanza.elements()
        if (c.uri, c.name) not in _OWN_CHILDREN
    ]
    payload = "".join(parts)
    if len(payload) > MAX_PRESENCE_PAYLOAD:
        return None
    return payload


def _nickRewritten(stanza: domish.Element, nick: str) -> bool:
    """
    Whether the service's normalisation changed the nick the user asked for.
    """
    return stanza.getAttribute("to", "").partition("/")[2] != nick
