# -*- test-case-name: xcomp.test.test_muc_register -*-
"""
Registration with a room (XEP-0045 section 7.10) and reserved nicks, as
Prosody's C{register.lib.lua}: C{jabber:iq:register} with the
C{muc#register} form reserves a nick for a bare JID (and makes it a member);
a reserved nick is refused to everyone else (C{conflict}); the reservation
is found through disco (section 7.12, node C{x-roomuser-item}) and shown in
and set through the member, admin and owner lists (C{nick} on an item).

Reservations are kept in the room's C{extra} (stored with it), bare JID to
nick.  Pure: requests are refused by raising L{StanzaError}.
"""

from __future__ import annotations

from typing import Mapping

from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.xish import domish

from xcomp.muc.elements import NS_MUC, Outgoing, normalJid
from xcomp.muc.forms import parseForm, single
from xcomp.muc.settings import OptionReader, asBoolean
from xcomp.muc.state import RoomState, bareOf, rank
from xcomp.plugin import data_form

NS_REGISTER = "jabber:iq:register"
NS_MUC_REGISTER = NS_MUC + "#register"
NICK_FIELD = "muc#register_roomnick"
#: The disco#info node that tells a user its reserved nick (section 7.12).
NODE_RESERVED = "x-roomuser-item"
#: The most reservations a room keeps (its member list is bounded the same
#: way by what owners add).
MAX_RESERVATIONS = 10000


def allowUnaffiliated(options: Mapping[str, object]) -> bool:
    """
    Prosody's C{allow_unaffiliated_register}: whether users with no
    affiliation may register (and so become members).  Off by default, as
    in Prosody.

    @raise ValueError: not a boolean.
    """
    return OptionReader(options)("allow_unaffiliated_register", False, asBoolean)


def enforceNick(options: Mapping[str, object]) -> bool:
    """
    Prosody's C{enforce_registered_nickname}: a user with a reserved nick
    joins under it whatever nick it asks for, and may not change to
    another.  Off by default, as in Prosody.

    @raise ValueError: not a boolean.
    """
    return OptionReader(options)("enforce_registered_nickname", False, asBoolean)


def enforcedNick(room: RoomState, sender: str, nick: str) -> str | None:
    """
    The nick C{sender} must use when it asks for C{nick} with
    C{enforce_registered_nickname} on: its reserved one when it joins;
    C{None} when it is in the room and asks for another than its reserved
    one (refused with C{not-acceptable}, as Prosody does).
    """
    reserved = reservedNick(room, bareOf(sender))
    if reserved is None or reserved == nick:
        return nick
    if sender in room.byJid:
        return None
    return reserved


def reservations(room: RoomState) -> dict[str, str]:
    """
    Bare JID to reserved nick.
    """
    stored = room.extra.get("nicks")
    if not isinstance(stored, Mapping):
        return {}
    return {str(k): str(v) for k, v in stored.items() if isinstance(v, str)}


def reservedNick(room: RoomState, bare: str) -> str | None:
    """
    The nick C{bare} reserved, if any.
    """
    return reservations(room).get(bare)


def reservedBy(room: RoomState, nick: str) -> str | None:
    """
    The bare JID that reserved C{nick}, if any.
    """
    for bare, reserved in reservations(room).items():
        if reserved == nick:
            return bare
    return None


def reserve(room: RoomState, bare: str, nick: str | None) -> None:
    """
    Reserve C{nick} for C{bare} (C{None}: drop its reservation).
    """
    current = reservations(room)
    if nick is None:
        if current.pop(bare, None) is None:
            return
    else:
        if current.get(bare) == nick:
            return
        if bare not in current and len(current) >= MAX_RESERVATIONS:
            raise StanzaError("resource-constraint", "wait", "Too many reserved nicknames in this room")
        current[bare] = nick
    room.extra["nicks"] = current
    room.stateChanged = True


def prepareNick(room: RoomState, nick: str | None) -> str | None:
    """
    C{nick} after resourceprep, or C{None} if it is not a valid nick.
    """
    if not nick:
        return None
    full = normalJid(f"{room.jid}/{nick}")
    return None if full is None else full.partition("/")[2] or None


def checkReservation(room: RoomState, bare: str, nick: str) -> None:
    """
    @raise StanzaError: C{conflict}: C{nick} is reserved by, or is the nick
        of an occupant with, another bare JID.
    """
    holder = reservedBy(room, nick)
    occupant = room.occupants.get(nick)
    if (holder is not None and holder != bare) or (occupant is not None and occupant.bare != bare):
        raise StanzaError("conflict", "cancel", "That nickname is reserved by someone else")


def _mayRegister(room: RoomState, sender: str, allowUnaffiliatedUsers: bool) -> str:
    affiliation = room.affiliation(sender)
    if affiliation == "outcast":
        raise StanzaError("forbidden", "auth", "You are banned from this room")
    if affiliation == "none" and not allowUnaffiliatedUsers:
        raise StanzaError("registration-required", "auth", "Only members may register a nickname here")
    return affiliation


def registerGet(room: RoomState, sender: str, allowUnaffiliatedUsers: bool) -> domish.Element:
    """
    The registration form, or C{<registered/>} and the nick when the
    sender has one (section 7.10, Prosody's answer).
    """
    _mayRegister(room, sender, allowUnaffiliatedUsers)
    query = domish.Element((NS_REGISTER, "query"))
    nick = reservedNick(room, bareOf(sender))
    if nick is not None:
        query.addElement("registered")
        query.addElement("username", content=nick)
        return query
    form = data_form.Form(
        "form",
        title=f"Registration with {room.jid}",
        formNamespace=NS_MUC_REGISTER,
        fields=[data_form.Field("text-single", NICK_FIELD, label="Nickname", required=True)],
    )
    query.addChild(form.toElement())
    return query


def registerSet(room: RoomState, sender: str, query: domish.Element, allowUnaffiliatedUsers: bool) -> list[Outgoing]:
    """
    A submitted registration form, or C{<remove/>} (cancel the
    registration: the nick is freed and a member becomes unaffiliated).
    """
    affiliation = _mayRegister(room, sender, allowUnaffiliatedUsers)
    bare = bareOf(sender)
    if next(query.elements(NS_REGISTER, "remove"), None) is not None:
        reserve(room, bare, None)
        if affiliation == "member":
            return _setAffiliation(room, bare, "none")
        return []
    x = next(query.elements(data_form.NS_X_DATA, "x"), None)
    if x is None:
        raise StanzaError("bad-request", "modify", "Missing data form")
    form = parseForm(x)
    if form.formNamespace != NS_MUC_REGISTER:
        raise StanzaError("bad-request", "modify", "Expected a muc#register form")
    nick = prepareNick(room, single(form, NICK_FIELD))
    if nick is None:
        raise StanzaError("bad-request", "modify", "Invalid nickname")
    checkReservation(room, bare, nick)
    reserve(room, bare, nick)
    if affiliation == "none":
        return _setAffiliation(room, bare, "member")
    return []


def _setAffiliation(room: RoomState, bare: str, affiliation: str) -> list[Outgoing]:
    """
    Give C{bare} an affiliation as registering (or cancelling) does, and
    tell the room when it is in it.
    """
    if affiliation == "none":
        room.affiliations.pop(bare, None)
    else:
        room.affiliations[bare] = affiliation
    room.stateChanged = True
    out: list[Outgoing] = []
    for occupant in [o for o in room.occupants.values() if o.bare == bare]:
        if room.config.membersOnly and rank(affiliation) < rank("member"):
            out.extend(room.remove(occupant, {"321"}))
            continue
        occupant.role = room.defaultRole(affiliation) if occupant.role != "moderator" else occupant.role
        occupant.changed()
        out.extend(room.fanPresence(occupant, list(room.occupants.values()), selfCodes={"110"}))
    return out
