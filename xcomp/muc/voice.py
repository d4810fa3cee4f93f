# -*- test-case-name: xcomp.test.test_muc_voice -*-
"""
Voice requests (XEP-0045 section 8.6), as Prosody's C{request.lib.lua}: a
visitor of a moderated room submits the C{muc#request} form; each
moderator gets it (with the visitor's JID and nick, and
C{muc#request_allow} false) in a normal message from the room; a
moderator who submits it back with C{muc#request_allow} true gives the
visitor voice (role participant, announced with the reason "Voice
granted").

Prosody passes on every request; xcomp passes on one per visitor every
L{REQUEST_INTERVAL} seconds (others get C{wait}/C{policy-violation}), so a
visitor cannot flood the moderators.  Pure.
"""

from __future__ import annotations

from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.xish import domish

from xcomp.muc.elements import NS_MUC, Broadcast, Outgoing, element, errorList, normalJid, reason as reasonElement
from xcomp.muc.forms import boolean, parseForm, single
from xcomp.muc.state import RoomState
from xcomp.plugin import data_form

NS_MUC_REQUEST = NS_MUC + "#request"
#: Seconds between two voice requests of one visitor that are passed on.
REQUEST_INTERVAL = 60.0


def isVoiceForm(stanza: domish.Element) -> domish.Element | None:
    """
    The C{muc#request} form of a message, if it carries one.
    """
    for x in stanza.elements(data_form.NS_X_DATA, "x"):
        for field in x.elements(data_form.NS_X_DATA, "field"):
            if field.getAttribute("var") == "FORM_TYPE":
                values = [str(v) for v in field.elements(data_form.NS_X_DATA, "value")]
                if values == [NS_MUC_REQUEST]:
                    return x
    return None


def voiceMessage(room: RoomState, sender: str, stanza: domish.Element, x: domish.Element) -> list[Outgoing]:
    """
    A message to the room with a C{muc#request} form: a request from a
    visitor, or a moderator's answer to one.
    """
    occupant = room.byJid.get(sender)
    if occupant is None:
        return errorList(stanza, "not-acceptable", "cancel", "You are not in this room")
    try:
        form = parseForm(x)
        allow = boolean(form, "muc#request_allow")
    except StanzaError as e:
        return errorList(stanza, e.condition, e.type, e.text)
    if occupant.role == "moderator":
        return _answer(room, occupant.nick, form, allow, stanza)
    if occupant.role != "visitor":
        # It has voice already: nothing to ask for (Prosody ignores it).
        return []
    now = room.clock()
    last = room.voiceRequests.get(sender)
    if last is not None and now - last < REQUEST_INTERVAL:
        return errorList(stanza, "policy-violation", "wait", "Your voice request is already with the moderators")
    room.voiceRequests[sender] = now
    if len(room.voiceRequests) > 2 * len(room.byJid) + 16:
        # Bounded by the occupants: forget those who left.
        room.voiceRequests = {k: v for k, v in room.voiceRequests.items() if k in room.byJid}
    request = element("message", sender=room.jid)
    request.addChild(
        data_form.Form(
            "form",
            title="Voice request",
            instructions=[f"{occupant.nick} asks for voice in {room.jid}"],
            formNamespace=NS_MUC_REQUEST,
            fields=[
                data_form.Field("jid-single", "muc#jid", sender, label="User ID"),
                data_form.Field("text-single", "muc#roomnick", occupant.nick, label="Room nickname"),
                data_form.Field("list-single", "muc#role", "participant", label="Requested role",
                                options={role: role for role in ("none", "visitor", "participant", "moderator")}),
                data_form.Field("boolean", "muc#request_allow", False, label="Grant voice to this person?"),
            ],
        ).toElement()
    )
    moderators = [s for o in room.occupants.values() if o.role == "moderator" for s in o.sessions]
    return [Broadcast.of(request, moderators)] if moderators else []


def _answer(room: RoomState, actor: str, form: data_form.Form, allow: bool | None, stanza: domish.Element) -> list[Outgoing]:
    """
    A moderator's answer: voice for the visitor when it allows it; nothing
    otherwise, nor when the visitor is gone or has voice already.
    """
    if not allow:
        return []
    jid = normalJid(single(form, "muc#jid"))
    target = room.byJid.get(jid) if jid is not None else None
    if target is None:
        target = room.occupants.get(single(form, "muc#roomnick") or "")
    if target is None or target.role != "visitor":
        return []
    target.role = "participant"
    target.changed()
    for session in target.sessions:
        room.voiceRequests.pop(session, None)
    actorElement = domish.Element((NS_MUC + "#user", "actor"))
    actorElement["nick"] = actor
    return room.fanPresence(
        target, list(room.occupants.values()), selfCodes={"110"},
        itemChildren=[actorElement, reasonElement("Voice granted")],
    )
