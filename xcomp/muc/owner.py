# -*- test-case-name: xcomp.test.test_muc_room_owner -*-
"""
What only a room's owners do (C{muc#owner}): read and submit the
configuration form (unlocking a new room), and destroy the room.

The form itself (fields, parsing, checks) is L{xcomp.muc.settings}; this is
what a submitted form changes in a live room: status codes for the
occupants, members-only removals, a shorter history.  Requests are refused
by raising L{StanzaError}.
"""

from __future__ import annotations

import attrs
from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.xish import domish

from xcomp.muc.elements import NS_MUC_OWNER, NS_OCCUPANT_ID, Broadcast, Outgoing, child, element, mucUser, normalJid, text
from xcomp.muc.forms import parseForm
from xcomp.muc.moderation import adminGet, adminSet
from xcomp.muc.settings import NS_ROOMCONFIG, configForm, formValues, submitForm
from xcomp.muc.state import RoomState, rank
from xcomp.plugin import data_form


def ownerGet(room: RoomState, sender: str, query: domish.Element) -> domish.Element:
    """
    Answer a C{muc#owner} get: the configuration form (or, for old
    clients, an owner or admin list).
    """
    if room.affiliation(sender) != "owner":
        raise StanzaError("forbidden", "auth", "Only owners may configure the room")
    if child(query, NS_MUC_OWNER, "item") is not None:
        return adminGet(room, sender, query)
    fields = [f for extension in room.extensions for f in extension.configFields(room)]
    result = domish.Element((NS_MUC_OWNER, "query"))
    result.addChild(configForm(room.config, room.options, fields).toElement())
    return result


def ownerSet(room: RoomState, sender: str, query: domish.Element) -> list[Outgoing]:
    """
    Apply a C{muc#owner} set: a submitted or cancelled form, a
    destruction, or (old clients) owner and admin list changes.
    """
    if room.affiliation(sender) != "owner":
        raise StanzaError("forbidden", "auth", "Only owners may configure the room")
    request = child(query, NS_MUC_OWNER, "destroy")
    if request is not None:
        return destroy(
            room,
            reason=text(request, NS_MUC_OWNER, "reason"),
            alternate=normalJid(request.getAttribute("jid")),
            password=text(request, NS_MUC_OWNER, "password"),
        )
    if child(query, NS_MUC_OWNER, "item") is not None:
        return adminSet(room, sender, query)
    x = child(query, data_form.NS_X_DATA, "x")
    if x is None:
        raise StanzaError("bad-request", "modify", "Expected a form, a destroy or items")
    form = parseForm(x, None)
    if form.formType == "cancel":
        if room.locked:
            return destroy(room)
        return []
    if form.formType != "submit" or form.formNamespace not in (NS_ROOMCONFIG, None):
        raise StanzaError("bad-request", "modify", "Expected a muc#roomconfig form")
    return configure(room, formValues(form))


def configure(room: RoomState, values: dict[str, list[str]]) -> list[Outgoing]:
    """
    Apply submitted C{muc#roomconfig} values; unlock a new room.
    """
    try:
        config = submitForm(room.config, values, room.options)
    except ValueError as e:
        raise StanzaError("not-acceptable", "modify", str(e)) from None
    codes: set[str] = set()
    old = room.config
    if config.whois != old.whois:
        codes.add("172" if config.whois == "anyone" else "173")
    if attrs.evolve(config, whois=old.whois) != old:
        codes.add("104")
    extraBefore = dict(room.extra)
    for extension in room.extensions:
        codes |= extension.configure(room, values)
    if room.extra != extraBefore:
        codes.add("104")
    room.config = config
    room.locked = False
    room.stateChanged = True
    for occupant in room.occupants.values():
        occupant.changed()
    room.history.trim(room.historyLimit())
    out: list[Outgoing] = []
    if config.membersOnly and not old.membersOnly:
        for occupant in list(room.occupants.values()):
            if rank(room.affiliation(occupant.jid)) < rank("member"):
                out.extend(room.remove(occupant, {"322"}))
    if codes and room.occupants:
        notice = element("message", sender=room.jid, type="groupchat")
        notice.addChild(mucUser(codes=codes))
        out.append(Broadcast.of(notice, room.everyone()))
    return out


def destroy(
    room: RoomState, reason: str | None = None, alternate: str | None = None, password: str | None = None
) -> list[Outgoing]:
    """
    Destroy the room: every occupant is told (with the alternate venue,
    if any) and removed; C{destroyed} is set.
    """
    out: list[Outgoing] = []
    for occupant in room.occupants.values():
        presence = element("presence", sender=f"{room.jid}/{occupant.nick}", type="unavailable")
        x = presence.addChild(mucUser({"affiliation": "none", "role": "none"}))
        notice = x.addElement("destroy")
        if alternate:
            notice["jid"] = alternate
        if reason:
            notice.addElement("reason", content=reason)
        if password:
            notice.addElement("password", content=password)
        presence.addElement((NS_OCCUPANT_ID, "occupant-id"))["id"] = occupant.occupantId
        out.append(Broadcast.of(presence, occupant.sessions))
    room.occupants.clear()
    room.byJid.clear()
    room.destroyed = True
    room.destroyedWith = (reason, alternate)
    room.stateChanged = True
    return out
