# -*- test-case-name: xcomp.test.test_muc_room_moderation -*-
"""
Roles and affiliations (C{muc#admin}): the lists moderators, admins and
owners may read, and the changes they may make: kick, voice, moderator,
ban, member, admin, owner.

Like the rest of the room this does no I/O; requests are refused by raising
L{StanzaError}, which the glue turns into the error reply.
"""

from __future__ import annotations

import attrs
from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.xish import domish

from xcomp.muc.elements import Outgoing, child, normalBareJid, reason as reasonElement, text
from xcomp.muc.register import checkReservation, prepareNick, reservations, reserve
from xcomp.muc.state import AFFILIATIONS, ROLES, Occupant, RoomState


@attrs.frozen
class _RoleChange:
    occupant: Occupant
    role: str
    reason: str | None


@attrs.frozen
class _AffiliationChange:
    bare: str
    affiliation: str
    reason: str | None
    #: The nick reserved with it (a C{nick} beside the C{jid}).
    nick: str | None = None


def adminGet(room: RoomState, sender: str, query: domish.Element) -> domish.Element:
    """
    Answer a C{muc#admin} (or C{muc#owner}) list request: the users with
    one affiliation, or the occupants with one role.

    @return: the C{<query/>} to reply with.
    """
    item = child(query, query.uri, "item")
    if item is None:
        raise StanzaError("bad-request", "modify", "Ask for one affiliation or role")
    result = domish.Element((query.uri, "query"))
    affiliation = item.getAttribute("affiliation")
    role = item.getAttribute("role")
    if affiliation is not None:
        if affiliation not in AFFILIATIONS or affiliation == "none":
            raise StanzaError("bad-request", "modify", "No such affiliation list")
        if room.affiliation(sender) not in ("admin", "owner"):
            raise StanzaError("forbidden", "auth", "Only admins and owners may see this list")
        listed = {bare: a for bare, a in room.affiliations.items() if a == affiliation}
        if affiliation == "owner" and room.options.adminsOwnRooms:
            listed.update(dict.fromkeys(room.options.admins, "owner"))
        nicks = reservations(room)
        for bare in sorted(listed):
            entry = result.addElement("item")
            entry["affiliation"], entry["jid"] = affiliation, bare
            if bare in nicks:
                entry["nick"] = nicks[bare]
        return result
    if role is not None:
        if role not in ROLES or role == "none":
            raise StanzaError("bad-request", "modify", "No such role list")
        actor = room.occupantByJid(sender)
        if actor is None or actor.role != "moderator":
            raise StanzaError("forbidden", "auth", "Only moderators may see this list")
        for occupant in room.occupants.values():
            if occupant.role == role:
                entry = result.addElement("item")
                entry["role"], entry["nick"], entry["jid"] = role, occupant.nick, occupant.jid
                entry["affiliation"] = room.affiliation(occupant.jid)
        return result
    raise StanzaError("bad-request", "modify", "Ask for one affiliation or role")


def adminSet(room: RoomState, sender: str, query: domish.Element) -> list[Outgoing]:
    """
    Apply a C{muc#admin} request: kick, voice, moderator, ban, member,
    admin and owner changes.  Every item is checked before any is
    applied.
    """
    changes: list[_RoleChange | _AffiliationChange] = []
    items = list(query.elements(query.uri, "item"))
    if not items:
        raise StanzaError("bad-request", "modify", "Nothing to change")
    for item in items:
        reason = text(item, query.uri, "reason")
        if item.getAttribute("affiliation") is not None:
            changes.append(_checkAffiliation(room, sender, item, reason, changes))
        elif item.getAttribute("role") is not None:
            changes.append(_checkRole(room, sender, item, reason))
        else:
            raise StanzaError("bad-request", "modify", "An item needs a role or an affiliation")
    actor = room.occupantByJid(sender)
    actorNick = actor.nick if actor is not None else None
    out: list[Outgoing] = []
    for change in changes:
        if isinstance(change, _RoleChange):
            out.extend(_applyRole(room, change, actorNick))
        else:
            out.extend(_applyAffiliation(room, change, actorNick))
    return out


def _checkRole(room: RoomState, sender: str, item: domish.Element, reason: str | None) -> _RoleChange:
    """
    Check one role change against XEP-0045's rules.
    """
    role = item["role"]
    if role not in ROLES:
        raise StanzaError("bad-request", "modify", "No such role")
    actor = room.occupantByJid(sender)
    if actor is None or actor.role != "moderator":
        raise StanzaError("forbidden", "auth", "Only moderators may change roles")
    target = room.occupants.get(item.getAttribute("nick") or "")
    if target is None:
        raise StanzaError("item-not-found", "cancel", "No occupant has that nickname")
    actorAffiliation = room.affiliation(sender)
    targetAffiliation = room.affiliation(target.jid)
    lowering = ROLES.index(role) < ROLES.index(target.role)
    if lowering and targetAffiliation in ("admin", "owner"):
        raise StanzaError("not-allowed", "cancel", "Admins and owners keep their role")
    if (role == "moderator" or target.role == "moderator") and actorAffiliation not in ("admin", "owner"):
        raise StanzaError("not-allowed", "cancel", "Only admins and owners may change moderators")
    return _RoleChange(target, role, reason)


def _checkAffiliation(
    room: RoomState,
    sender: str,
    item: domish.Element,
    reason: str | None,
    earlier: list[_RoleChange | _AffiliationChange],
) -> _AffiliationChange:
    """
    Check one affiliation change against XEP-0045's rules.
    """
    affiliation = item["affiliation"]
    if affiliation not in AFFILIATIONS:
        raise StanzaError("bad-request", "modify", "No such affiliation")
    bare = normalBareJid(item.getAttribute("jid"))
    nick = None
    if bare is None:
        occupant = room.occupants.get(item.getAttribute("nick") or "")
        if occupant is None:
            raise StanzaError("bad-request", "modify", "An item needs a valid jid or an occupant's nick")
        bare = occupant.bare
    elif item.getAttribute("nick") is not None and affiliation in ("member", "admin", "owner"):
        # A list entry with its reserved nick (XEP-0045 section 9.5).
        nick = prepareNick(room, item.getAttribute("nick"))
        if nick is None:
            raise StanzaError("jid-malformed", "modify", "Not a valid nickname")
        checkReservation(room, bare, nick)
    actorAffiliation = room.affiliation(sender)
    if actorAffiliation not in ("admin", "owner"):
        raise StanzaError("forbidden", "auth", "Only admins and owners may change affiliations")
    if room.options.ownsRooms(bare):
        raise StanzaError("not-acceptable", "modify", "The service's admins own every room")
    current = room.affiliation(bare)
    if actorAffiliation == "admin" and (
        current in ("admin", "owner") or affiliation in ("admin", "owner")
    ):
        raise StanzaError("not-allowed", "cancel", "Only owners may change admins and owners")
    if current == "owner" and affiliation != "owner":
        owners = {b for b, a in room.affiliations.items() if a == "owner"}
        owners -= {c.bare for c in earlier if isinstance(c, _AffiliationChange) and c.affiliation != "owner"}
        if owners <= {bare}:
            raise StanzaError("conflict", "cancel", "A room keeps at least one owner")
    return _AffiliationChange(bare, affiliation, reason, nick)


def _applyRole(room: RoomState, change: _RoleChange, actor: str | None) -> list[Outgoing]:
    occupant = change.occupant
    if occupant.nick not in room.occupants:
        return []
    if change.role == "none":
        return room.remove(occupant, {"307"}, actor=actor, reason=change.reason)
    occupant.role = change.role
    occupant.changed()
    return _announce(room, occupant, change.reason)


def _applyAffiliation(room: RoomState, change: _AffiliationChange, actor: str | None) -> list[Outgoing]:
    if change.affiliation == "none":
        room.affiliations.pop(change.bare, None)
    else:
        room.affiliations[change.bare] = change.affiliation
    if change.affiliation in ("none", "outcast"):
        reserve(room, change.bare, None)
    elif change.nick is not None:
        reserve(room, change.bare, change.nick)
    room.stateChanged = True
    out: list[Outgoing] = []
    for occupant in [o for o in room.occupants.values() if o.bare == change.bare]:
        if change.affiliation == "outcast":
            out.extend(room.remove(occupant, {"301"}, actor=actor, reason=change.reason))
        elif room.config.membersOnly and change.affiliation == "none":
            out.extend(room.remove(occupant, {"321"}, actor=actor, reason=change.reason))
        else:
            occupant.role = room.defaultRole(change.affiliation)
            occupant.changed()
            out.extend(_announce(room, occupant, change.reason))
    return out


def _announce(room: RoomState, occupant: Occupant, reason: str | None) -> list[Outgoing]:
    """
    Broadcast an occupant's changed role or affiliation.
    """
    children = [reasonElement(reason)] if reason else []
    return room.fanPresence(
        occupant, list(room.occupants.values()), selfCodes={"110"}, itemChildren=children
    )

