# -*- test-case-name: xcomp.test.test_muc_retraction -*-
"""
XEP-0425 message moderation (C{urn:xmpp:message-moderate:1}, with
XEP-0424 retractions): a moderator asks the room to retract an archived
groupchat message by its XEP-0359 stanza id; the room tells every occupant
(a groupchat message from the room with C{<retract/>} and who moderated
it), takes the message out of the history new occupants get, and replaces
it in the XEP-0313 archive with a tombstone (C{<retracted/>}), as the
community C{mod_muc_moderation} does for Prosody.

Messages are found by the stanza ids the archive gives them, so this comes
with C{muc_mam}: L{xcomp.muc.mam.attach} adds the handler, and archived
rooms advertise L{NS_MODERATE}.
"""

from __future__ import annotations

import secrets
from typing import NoReturn, Protocol

from twisted.internet import defer
from twisted.python.failure import Failure
from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.protocols.jabber.jid import JID
from twisted.words.xish import domish

from xcomp.muc.component import MUCComponent
from xcomp.muc.elements import (
    NS_OCCUPANT_ID,
    NS_STANZA_ID,
    Broadcast,
    element,
    formatStamp,
    normalJid,
    reason as reasonElement,
    serialise,
    toOccupant,
)
from xcomp.muc.state import RoomState
from xcomp.muc.store import ArchiveEntry, ItemNotFound
from xcomp.plugin import COMPONENT_NS, parseElement, subprotocols

NS_MODERATE = "urn:xmpp:message-moderate:1"
NS_RETRACT = "urn:xmpp:message-retract:1"
#: The namespaces of XEP-0425 before version 0.3, which clients still send
#: (a request in a XEP-0422 C{<apply-to/>}); announced to them too.
NS_MODERATE_0 = "urn:xmpp:message-moderate:0"
NS_RETRACT_0 = "urn:xmpp:message-retract:0"
NS_FASTEN = "urn:xmpp:fasten:0"
#: The longest reason kept.
MAX_REASON = 1024


def moderated(room: RoomState, moderatorNick: str, moderatorId: str, reason: str | None, uri: str = NS_MODERATE) -> domish.Element:
    """
    The C{<moderated/>} that says who retracted a message.
    """
    result = domish.Element((uri, "moderated"))
    result["by"] = f"{room.jid}/{moderatorNick}"
    result.addElement((NS_OCCUPANT_ID, "occupant-id"))["id"] = moderatorId
    return result


def announcement(room: RoomState, stanzaId: str, moderatorNick: str, moderatorId: str, reason: str | None) -> domish.Element:
    """
    The groupchat message that tells occupants a message was retracted
    (XEP-0425 section 4, example 2).
    """
    message = element("message", sender=room.jid, type="groupchat", id=secrets.token_urlsafe(12))
    retract = message.addElement((NS_RETRACT, "retract"))
    retract["id"] = stanzaId
    retract.addChild(moderated(room, moderatorNick, moderatorId, reason))
    if reason:
        retract.addChild(reasonElement(reason, NS_RETRACT))
    # The same, as clients of XEP-0425 0.2 read it.
    applyTo = message.addElement((NS_FASTEN, "apply-to"))
    applyTo["id"] = stanzaId
    legacy = applyTo.addChild(moderated(room, moderatorNick, moderatorId, reason, NS_MODERATE_0))
    legacy.addElement((NS_RETRACT_0, "retract"))
    if reason:
        legacy.addChild(reasonElement(reason, NS_MODERATE_0))
    return message


def tombstone(entry: ArchiveEntry, room: RoomState, moderatorNick: str, moderatorId: str, reason: str | None,
              now: float) -> str:
    """
    What the archive keeps of a retracted message: its addressing, its ids
    and a C{<retracted/>} (XEP-0425 section 5), no body.
    """
    try:
        original = parseElement(entry.stanza.encode("utf-8"), {"": COMPONENT_NS})
    except ValueError:
        original = element("message", sender=f"{room.jid}/{entry.nick}", type="groupchat")
    kept = element("message", sender=original.getAttribute("from"), type="groupchat", id=original.getAttribute("id"))
    for child in original.elements():
        if (child.uri, child.name) in ((NS_OCCUPANT_ID, "occupant-id"), (NS_STANZA_ID, "stanza-id")):
            kept.addChild(child)
    retracted = kept.addElement((NS_RETRACT, "retracted"))
    retracted["stamp"] = formatStamp(now)
    retracted.addChild(moderated(room, moderatorNick, moderatorId, reason))
    if reason:
        retracted.addChild(reasonElement(reason, NS_RETRACT))
    return serialise(kept).decode("utf-8")


class _Archive(Protocol):
    """
    What this needs of L{xcomp.muc.mam.RoomArchive}.
    """

    component: MUCComponent

    def enabled(self, room: RoomState) -> bool: ...

    def pending(self) -> defer.Deferred[None]: ...


class ModerationHandler(subprotocols.XMPPHandler, subprotocols.IQHandlerMixin):
    """
    Answers XEP-0425 moderation requests to the rooms of one component.
    """

    iqHandlers = {
        f"/iq[@type='set']/moderate[@xmlns='{NS_MODERATE}']": "onModerate",
        f"/iq[@type='set']/apply-to[@xmlns='{NS_FASTEN}']/moderate[@xmlns='{NS_MODERATE_0}']": "onModerate",
    }

    def __init__(self, archive: _Archive) -> None:
        super().__init__()
        self.archive = archive

    def handleRequest(self, iq: domish.Element) -> None:
        # One to an occupant is the occupant's: it is forwarded.
        if not toOccupant(iq):
            super().handleRequest(iq)

    def connectionInitialized(self) -> None:
        for query in self.iqHandlers:
            self.xmlstream.addObserver(query, self.handleRequest)

    def onModerate(self, iq: domish.Element) -> defer.Deferred[None]:
        component = self.archive.component
        request, stanzaId, retractNs = _request(iq)
        to = JID(iq["to"])
        if to.user is None or to.resource is not None:
            raise StanzaError("bad-request", "modify", "Send this to the room")
        room = component.rooms.get(to.userhost())
        if room is None:
            raise StanzaError("item-not-found", "cancel", "No such room")
        sender = normalJid(iq.getAttribute("from")) or ""
        moderator = room.byJid.get(sender)
        if moderator is None or moderator.role != "moderator":
            raise StanzaError("forbidden", "auth", "Only moderators may retract messages")
        if not stanzaId or next(request.elements(retractNs, "retract"), None) is None:
            raise StanzaError("bad-request", "modify", "Say which message to retract, and retract it")
        if not self.archive.enabled(room):
            raise StanzaError("item-not-found", "cancel", "This room keeps no archive")
        reasonText = next((str(r) for r in request.elements(request.uri, "reason")), None)
        if reasonText is not None:
            reasonText = reasonText[:MAX_REASON]
        nick, occupantId = moderator.nick, moderator.occupantId
        store = component.storage

        def found(entry: ArchiveEntry) -> defer.Deferred[None]:
            now = component.router.reactor.seconds()
            return store.replaceStanza(room.jid, stanzaId, tombstone(entry, room, nick, occupantId, reasonText, now))

        def done(_: None) -> None:
            room.history.retract(stanzaId, room.jid)
            notice = announcement(room, stanzaId, nick, occupantId, reasonText)
            component.emit([Broadcast.of(notice, room.everyone())])

        def notFound(failure: Failure) -> NoReturn:
            failure.trap(ItemNotFound)
            raise StanzaError("item-not-found", "cancel", "No such message in this room's archive")

        # Written first: the message may still wait in the archive's queue.
        d = self.archive.pending().addCallback(lambda _: store.entry(room.jid, stanzaId))
        return d.addCallback(found).addCallback(done).addErrback(notFound)


def _request(iq: domish.Element) -> tuple[domish.Element, str | None, str]:
    """
    The C{<moderate/>} of a request, the stanza id it names, and the
    namespace its C{<retract/>} is in: XEP-0425 0.3's, or 0.2's inside a
    C{<apply-to/>}.
    """
    current = next(iq.elements(NS_MODERATE, "moderate"), None)
    if current is not None:
        return current, current.getAttribute("id"), NS_RETRACT
    applyTo = next(iq.elements(NS_FASTEN, "apply-to"))
    return next(applyTo.elements(NS_MODERATE_0, "moderate")), applyTo.getAttribute("id"), NS_RETRACT_0
