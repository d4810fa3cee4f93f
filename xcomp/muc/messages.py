# -*- test-case-name: xcomp.test.test_muc_room_messages -*-
"""
Messages to a room: groupchat (kept in the history), subject changes,
private messages between occupants, mediated invitations and declines.
(iqs to an occupant's address are L{xcomp.muc.occupantiq}.)
"""

from __future__ import annotations

from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.xish import domish

from xcomp.muc.elements import (
    NS_MUC_USER,
    NS_OCCUPANT_ID,
    NS_STANZA_ID,
    Broadcast,
    Outgoing,
    child,
    element,
    errorList,
    mucUser,
    normalJid,
    reason as reasonElement,
    text,
)
from xcomp.muc.presence import ghost
from xcomp.muc.state import ROLES, Occupant, RoomState, bareOf
from xcomp.muc.voice import isVoiceForm, voiceMessage
from xcomp.plugin import COMPONENT_NS

#: The most invitations one message may carry.
MAX_INVITES = 10


def message(room: RoomState, sender: str, nick: str | None, stanza: domish.Element) -> list[Outgoing]:
    """
    Handle a message addressed to the room or to C{room/nick}.
    """
    kind = stanza.getAttribute("type")
    occupant = room.byJid.get(sender)
    if kind == "error":
        return ghost(room, occupant, stanza, sender)
    if nick is not None:
        return _private(room, occupant, nick, stanza)
    if kind == "groupchat":
        return _groupchat(room, occupant, stanza)
    x = child(stanza, NS_MUC_USER, "x")
    if x is not None and child(x, NS_MUC_USER, "invite") is not None:
        return _invite(room, sender, occupant, stanza, x)
    if x is not None and child(x, NS_MUC_USER, "decline") is not None:
        return _decline(room, sender, stanza, x)
    form = isVoiceForm(stanza) if kind in (None, "normal") else None
    if form is not None:
        return voiceMessage(room, sender, stanza, form)
    return errorList(stanza, "bad-request", "modify", "Send groupchat messages to the room")


def _groupchat(room: RoomState, occupant: Occupant | None, stanza: domish.Element) -> list[Outgoing]:
    """
    Broadcast a groupchat message (or a subject change) to everyone.
    """
    if occupant is None:
        return errorList(stanza, "not-acceptable", "modify", "You are not in this room")
    subject = child(stanza, COMPONENT_NS, "subject")
    hasBody = child(stanza, COMPONENT_NS, "body") is not None
    isSubject = subject is not None and not hasBody
    if occupant.role == "visitor" or (
        isSubject
        and occupant.role != "moderator"
        and not (room.config.changeSubject and occupant.role == "participant")
    ):
        return errorList(stanza, "forbidden", "auth", "You may not do that in this room")
    out = element("message", sender=f"{room.jid}/{occupant.nick}", type="groupchat", id=stanza.getAttribute("id"))
    for payload in stanza.elements():
        if not _isForged(payload, room.jid):
            out.addChild(payload)
    out.addElement((NS_OCCUPANT_ID, "occupant-id"))["id"] = occupant.occupantId
    try:
        for extension in room.extensions:
            extension.groupchat(room, out, occupant)
    except StanzaError as e:
        return errorList(stanza, e.condition, e.type, e.text)
    broadcast = Broadcast.of(out, room.everyone())
    if isSubject:
        room.subject = (str(subject), occupant.nick)
        room.stateChanged = True
    elif hasBody:
        room.history.remember(out, broadcast.template, room.historyLimit())
    return [broadcast]


def _private(room: RoomState, occupant: Occupant | None, nick: str, stanza: domish.Element) -> list[Outgoing]:
    """
    A private message from one occupant to another, by nick.
    """
    if stanza.getAttribute("type") == "groupchat":
        return errorList(stanza, "bad-request", "modify", "Groupchat messages go to the room")
    if occupant is None:
        return errorList(stanza, "not-acceptable", "modify", "You are not in this room")
    target = room.occupants.get(nick)
    if target is None:
        return errorList(stanza, "item-not-found", "cancel", "No occupant has that nickname")
    allowed = room.config.allowPM
    if not (
        allowed == "anyone"
        or (allowed == "participants" and ROLES.index(occupant.role) >= ROLES.index("participant"))
        or (allowed == "moderators" and occupant.role == "moderator")
    ):
        return errorList(stanza, "not-allowed", "cancel", "Private messages are not allowed here")
    out = element(
        "message",
        sender=f"{room.jid}/{occupant.nick}",
        type=stanza.getAttribute("type"),
        id=stanza.getAttribute("id"),
    )
    for payload in stanza.elements():
        if not _isForged(payload, room.jid) and (payload.uri, payload.name) != (NS_MUC_USER, "x"):
            out.addChild(payload)
    out.addChild(mucUser())
    out.addElement((NS_OCCUPANT_ID, "occupant-id"))["id"] = occupant.occupantId
    # Every session of the recipient gets it.
    return [Broadcast.of(out, target.sessions)]


def _invite(
    room: RoomState, sender: str, occupant: Occupant | None, stanza: domish.Element, x: domish.Element
) -> list[Outgoing]:
    """
    Mediated invitations (XEP-0045 section 7.8.2).
    """
    if occupant is None:
        return errorList(stanza, "not-acceptable", "modify", "Only occupants may invite")
    config = room.config
    mayGrant = room.affiliation(sender) in ("owner", "admin") or config.allowInvites
    if config.membersOnly and not mayGrant:
        return errorList(stanza, "forbidden", "auth", "Only admins may invite to this room")
    out: list[Outgoing] = []
    for invite in list(x.elements(NS_MUC_USER, "invite"))[:MAX_INVITES]:
        invitee = normalJid(invite.getAttribute("to"))
        if invitee is None:
            return errorList(stanza, "jid-malformed", "modify", "The invitee's address is not valid")
        reason = text(invite, NS_MUC_USER, "reason")
        notice = element("message", to=invitee, sender=room.jid)
        ux = notice.addChild(mucUser())
        forwarded = ux.addElement("invite")
        forwarded["from"] = sender
        if reason:
            forwarded.addChild(reasonElement(reason))
        if config.password:
            ux.addElement("password", content=config.password)
        body = f"{bareOf(sender)} invites you to the room {room.jid}"
        notice.addElement("body", content=body + (f": {reason}" if reason else ""))
        out.append(notice)
        if config.membersOnly and room.affiliation(invitee) == "none":
            room.affiliations[bareOf(invitee)] = "member"
            room.stateChanged = True
    return out


def _decline(room: RoomState, sender: str, stanza: domish.Element, x: domish.Element) -> list[Outgoing]:
    """
    A declined invitation, passed on to the inviter.
    """
    decline = child(x, NS_MUC_USER, "decline")
    assert decline is not None
    inviter = normalJid(decline.getAttribute("to"))
    if inviter is None:
        return errorList(stanza, "jid-malformed", "modify", "The inviter's address is not valid")
    notice = element("message", to=inviter, sender=room.jid)
    forwarded = notice.addChild(mucUser()).addElement("decline")
    forwarded["from"] = bareOf(sender)
    reason = text(decline, NS_MUC_USER, "reason")
    if reason:
        forwarded.addChild(reasonElement(reason))
    return [notice]


def _isForged(payload: domish.Element, room: str) -> bool:
    """
    Whether a child of an occupant's message claims to come from the room:
    an occupant id, or a XEP-0359 stanza id by the room.
    """
    if (payload.uri, payload.name) == (NS_OCCUPANT_ID, "occupant-id"):
        return True
    if (payload.uri, payload.name) == (NS_STANZA_ID, "stanza-id"):
        return normalJid(payload.getAttribute("by")) == room
    return False
