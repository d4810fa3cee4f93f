# -*- test-case-name: xcomp.test.test_muc_room -*-
"""
A XEP-0045 room as a pure state machine: each method takes a stanza (already
addressed to this room) and returns what to send, and nothing here does I/O
or reads the clock except through the C{clock} it is given.

Occupants, presence, messages, history, subject and invitations are here;
roles, affiliations, the owner's form and destruction are in
L{xcomp.muc.moderation}, which L{Room} mixes in.  The glue
(L{xcomp.muc.component}) finds the room, calls it, sends what it returns and
stores it when L{Room.stateChanged} says so.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections import deque
from typing import Callable, Iterable, Mapping, Sequence

import attrs
from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.xish import domish

from xcomp.interfaces import IRoomExtension
from xcomp.muc.elements import (
    NS_MUC,
    NS_MUC_USER,
    NS_OCCUPANT_ID,
    NS_STANZA_ID,
    Broadcast,
    Outgoing,
    addressed,
    child,
    delay,
    element,
    errorList,
    mucUser,
    normalJid,
    parseStamp,
    reason as reasonElement,
    serialise,
    text,
)
from xcomp.muc.moderation import ModerationMixin
from xcomp.muc.settings import RoomConfig, ServiceOptions
from xcomp.stanza import COMPONENT_NS, Stanza

#: Affiliations, lowest first.
AFFILIATIONS = ("outcast", "none", "member", "admin", "owner")
#: Roles, lowest first.
ROLES = ("none", "visitor", "participant", "moderator")
#: The most bytes of presence payload (show, status, caps...) kept per
#: occupant; a larger presence is refused.
MAX_PRESENCE_PAYLOAD = 8 * 1024
#: The most bytes of history a room keeps, whatever its history length.
MAX_HISTORY_BYTES = 256 * 1024
#: The most invitations one message may carry.
MAX_INVITES = 10
#: Error conditions that mean an occupant is gone: an error with one of them
#: from an occupant's address removes the occupant (status 333).
GHOST_CONDITIONS = frozenset(
    {"gone", "item-not-found", "recipient-unavailable", "redirect", "remote-server-not-found",
     "remote-server-timeout", "service-unavailable"}
)
#: Presence children the room replaces with its own.
_OWN_CHILDREN = frozenset({(NS_MUC, "x"), (NS_MUC_USER, "x"), (NS_OCCUPANT_ID, "occupant-id")})


def bareOf(jid: str) -> str:
    """
    The bare form of a normalised JID.
    """
    return jid.partition("/")[0]


def rank(affiliation: str) -> int:
    """
    The order of an affiliation (outcast lowest).
    """
    return AFFILIATIONS.index(affiliation)


@attrs.define(eq=False)
class Occupant:
    """
    One occupant: a nick in the room held by one real (full) JID.

    @ivar payload: the serialised children of the occupant's last presence
        (show, status, caps...), re-broadcast with the room's own items.
    @ivar occupantId: the XEP-0421 id: the same for one bare JID in one room.
    """

    nick: str
    jid: str
    role: str
    occupantId: str
    payload: str = ""
    _cache: dict[bool, bytes] = attrs.field(factory=dict, repr=False)

    @property
    def bare(self) -> str:
        return bareOf(self.jid)


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


class Room(ModerationMixin):
    """
    One room.

    @ivar jid: the room's bare JID.
    @ivar config: its L{RoomConfig}.
    @ivar affiliations: bare JID to C{owner}, C{admin}, C{member} or
        C{outcast} (C{none} is not stored).
    @ivar occupants: nick to L{Occupant}, in join order.
    @ivar subject: the subject text and the nick that set it (or C{None}).
    @ivar extra: settings that extensions keep (stored with the room).
    @ivar locked: a new room waiting for its owner's configuration.
    @ivar destroyed: the room has been destroyed; the glue drops it.
    @ivar stateChanged: what is stored (config, affiliations, subject) has
        changed; the glue clears it when it has saved.
    """

    def __init__(
        self,
        jid: str,
        options: ServiceOptions,
        config: RoomConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        extensions: Sequence[IRoomExtension] = (),
        affiliations: Mapping[str, str] | None = None,
        subject: tuple[str, str | None] = ("", None),
        salt: str | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        self.jid = jid
        self.options = options
        self.config: RoomConfig = config or options.defaults
        self.clock = clock
        self.extensions: tuple[IRoomExtension, ...] = tuple(extensions)
        self.affiliations: dict[str, str] = dict(affiliations or {})
        self.subject = subject
        self.salt = salt or secrets.token_hex(16)
        self.extra: dict[str, object] = dict(extra or {})
        self.occupants: dict[str, Occupant] = {}
        self._byJid: dict[str, Occupant] = {}
        self.history: deque[HistoryEntry] = deque()
        self._historyBytes = 0
        self.locked = False
        self.destroyed = False
        self.stateChanged = False

    def __repr__(self) -> str:
        return f"<Room {self.jid} occupants={len(self.occupants)}>"

    # Storage

    def dump(self) -> dict[str, object]:
        """
        What is stored for a persistent room.
        """
        return {
            "config": self.config.toDict(),
            "affiliations": dict(self.affiliations),
            "subject": list(self.subject),
            "salt": self.salt,
            "extra": dict(self.extra),
        }

    @classmethod
    def load(
        cls,
        jid: str,
        data: Mapping[str, object],
        options: ServiceOptions,
        *,
        clock: Callable[[], float] = time.time,
        extensions: Sequence[IRoomExtension] = (),
    ) -> Room:
        """
        A room from what L{dump} returned.
        """
        config = data.get("config")
        affiliations = data.get("affiliations")
        subject = data.get("subject")
        extra = data.get("extra")
        salt = data.get("salt")
        return cls(
            jid,
            options,
            RoomConfig.fromDict(config if isinstance(config, Mapping) else {}, options.defaults),
            clock=clock,
            extensions=extensions,
            affiliations={
                str(k): str(v)
                for k, v in (affiliations.items() if isinstance(affiliations, Mapping) else ())
                if v in AFFILIATIONS and v != "none"
            },
            subject=(str(subject[0]), subject[1] if isinstance(subject[1], str) else None)
            if isinstance(subject, list) and len(subject) == 2
            else ("", None),
            salt=salt if isinstance(salt, str) else None,
            extra=extra if isinstance(extra, Mapping) else None,
        )

    # Questions

    def isEmpty(self) -> bool:
        return not self.occupants

    def occupantByJid(self, jid: str) -> Occupant | None:
        """
        The occupant whose real JID is C{jid}, if any.
        """
        return self._byJid.get(jid)

    def affiliation(self, jid: str) -> str:
        """
        The affiliation of a (bare or full) JID; the service's admins own
        every room.
        """
        bare = bareOf(jid)
        if bare in self.options.admins:
            return "owner"
        return self.affiliations.get(bare, "none")

    def defaultRole(self, affiliation: str) -> str:
        """
        The role an occupant with C{affiliation} gets on joining.
        """
        if affiliation in ("owner", "admin"):
            return "moderator"
        if affiliation == "member":
            return "participant"
        if affiliation == "none":
            return "visitor" if self.config.moderated else "participant"
        return "none"

    def occupantIdOf(self, bare: str) -> str:
        """
        The XEP-0421 occupant id of a bare JID in this room.
        """
        digest = hmac.new(self.salt.encode(), bare.encode("utf-8"), hashlib.sha256).digest()
        return base64.b64encode(digest).decode("ascii")

    def seesJids(self, occupant: Occupant) -> bool:
        """
        Whether C{occupant} may see other occupants' real JIDs.
        """
        return self.config.whois == "anyone" or occupant.role == "moderator"

    def nonAnonymousCodes(self) -> set[str]:
        return {"100"} if self.config.whois == "anyone" else set()

    # Presence

    def presence(
        self, sender: str, nick: str | None, stanza: domish.Element, *, created: bool = False
    ) -> list[Outgoing]:
        """
        Handle a presence addressed to the room (C{nick} is C{None}) or to
        C{room/nick}.

        @param sender: the normalised real JID it came from.
        @param created: the room was made for this presence, which makes
            C{sender} its owner.
        """
        kind = stanza.getAttribute("type")
        occupant = self._byJid.get(sender)
        if kind == "error":
            return self._ghost(occupant, stanza)
        if kind == "unavailable":
            if occupant is None:
                return []
            return self._remove(occupant, statusFrom=stanza)
        if kind is not None:
            # Subscriptions and probes have no meaning for a room.
            return []
        if nick is None:
            return errorList(stanza, "jid-malformed", "modify", "A nickname is required to join")
        if occupant is None:
            return self._join(sender, nick, stanza, created)
        if occupant.nick != nick:
            return self._changeNick(occupant, nick, stanza)
        return self._update(occupant, stanza)

    def _join(self, sender: str, nick: str, stanza: domish.Element, created: bool) -> list[Outgoing]:
        """
        Admit a new occupant, or refuse with the XEP-0045 error.
        """
        mucX = child(stanza, NS_MUC, "x")
        if created:
            self.affiliations[bareOf(sender)] = "owner"
            self.locked = self.options.locking and mucX is not None
            self.stateChanged = True
        affiliation = self.affiliation(sender)
        if self.locked and affiliation != "owner":
            return errorList(stanza, "item-not-found", "cancel", "This room is locked until its owner configures it")
        if affiliation == "outcast":
            return errorList(stanza, "forbidden", "auth", "You are banned from this room")
        if self.config.membersOnly and rank(affiliation) < rank("member"):
            return errorList(stanza, "registration-required", "auth", "This room is for members only")
        if nick in self.occupants:
            return errorList(stanza, "conflict", "cancel", "That nickname is in use")
        if self.config.password and not created:
            if text(mucX, NS_MUC, "password") != self.config.password:
                return errorList(stanza, "not-authorized", "auth", "A password is required")
        count = len(self.occupants)
        if count >= self.options.maxOccupants or (
            count >= self.config.maxUsers and affiliation not in ("owner", "admin")
        ):
            return errorList(stanza, "service-unavailable", "wait", "This room is full")
        payload = _payload(stanza)
        if payload is None:
            return errorList(stanza, "not-acceptable", "modify", "The presence is too large")
        occupant = Occupant(nick, sender, self.defaultRole(affiliation), self.occupantIdOf(bareOf(sender)), payload)
        seesJids = self.seesJids(occupant)
        out: list[Outgoing] = [
            Stanza(
                "presence",
                COMPONENT_NS,
                {"from": f"{self.jid}/{other.nick}", "to": sender},
                addressed(self._presenceTemplate(other, seesJids), "presence", sender),
            )
            for other in self.occupants.values()
        ]
        self.occupants[nick] = occupant
        self._byJid[sender] = occupant
        out.extend(self._fanPresence(occupant, self._others(occupant)))
        codes = {"110"} | self.nonAnonymousCodes()
        if created:
            codes.add("201")
        if _nickRewritten(stanza, nick):
            codes.add("210")
        for extension in self.extensions:
            codes |= extension.joinStatusCodes(self)
        out.append(self._selfPresence(occupant, codes))
        out.extend(self._historyFor(sender, mucX))
        out.append(self._subjectFor(sender))
        return out

    def _update(self, occupant: Occupant, stanza: domish.Element) -> list[Outgoing]:
        """
        An occupant's new availability, broadcast; a presence with the MUC
        element again (a client that lost its state) gets the join sequence.
        """
        payload = _payload(stanza)
        if payload is None:
            return errorList(stanza, "not-acceptable", "modify", "The presence is too large")
        occupant.payload = payload
        occupant._cache.clear()
        out: list[Outgoing] = []
        mucX = child(stanza, NS_MUC, "x")
        if mucX is not None:
            seesJids = self.seesJids(occupant)
            for other in self._others(occupant):
                template = self._presenceTemplate(other, seesJids)
                out.append(
                    Stanza(
                        "presence",
                        COMPONENT_NS,
                        {"from": f"{self.jid}/{other.nick}", "to": occupant.jid},
                        addressed(template, "presence", occupant.jid),
                    )
                )
        out.extend(self._fanPresence(occupant, self._others(occupant)))
        out.append(self._selfPresence(occupant, {"110"} | self.nonAnonymousCodes()))
        if mucX is not None:
            out.extend(self._historyFor(occupant.jid, mucX))
            out.append(self._subjectFor(occupant.jid))
        return out

    def _changeNick(self, occupant: Occupant, nick: str, stanza: domish.Element) -> list[Outgoing]:
        """
        Change an occupant's nick: unavailable with 303 from the old one,
        then available from the new one.
        """
        if nick in self.occupants:
            return errorList(stanza, "conflict", "cancel", "That nickname is in use")
        payload = _payload(stanza)
        if payload is None:
            return errorList(stanza, "not-acceptable", "modify", "The presence is too large")
        everyone = list(self.occupants.values())
        out = self._fanPresence(
            occupant, everyone, type="unavailable", codes={"303"}, itemExtra={"nick": nick}, selfCodes={"110"}
        )
        del self.occupants[occupant.nick]
        occupant.nick = nick
        occupant.payload = payload
        occupant._cache.clear()
        self.occupants[nick] = occupant
        out.extend(self._fanPresence(occupant, self._others(occupant)))
        codes = {"110"}
        if _nickRewritten(stanza, nick):
            codes.add("210")
        out.append(self._selfPresence(occupant, codes))
        return out

    def _remove(
        self,
        occupant: Occupant,
        codes: Iterable[str] = (),
        *,
        statusFrom: domish.Element | None = None,
        actor: str | None = None,
        reason: str | None = None,
    ) -> list[Outgoing]:
        """
        Take an occupant out of the room and tell everyone, the occupant
        included (with 110).

        @param codes: why (C{307} kicked, C{301} banned, C{321}/C{322} no
            longer a member, C{333} gone); none for leaving.
        @param statusFrom: the occupant's own unavailable presence, whose
            C{<status/>} is passed on.
        """
        everyone = list(self.occupants.values())
        payload = ""
        if statusFrom is not None:
            status = child(statusFrom, COMPONENT_NS, "status")
            if status is not None and len(str(status)) <= MAX_PRESENCE_PAYLOAD:
                payload = status.toXml(defaultUri=COMPONENT_NS)
        occupant.payload = payload
        itemChildren = []
        if actor is not None:
            actorElement = domish.Element((NS_MUC_USER, "actor"))
            actorElement["nick"] = actor
            itemChildren.append(actorElement)
        if reason:
            itemChildren.append(reasonElement(reason))
        out = self._fanPresence(
            occupant,
            everyone,
            type="unavailable",
            codes=set(codes),
            role="none",
            itemChildren=itemChildren,
            selfCodes={"110"},
        )
        del self.occupants[occupant.nick]
        del self._byJid[occupant.jid]
        return out

    def _ghost(self, occupant: Occupant | None, stanza: domish.Element) -> list[Outgoing]:
        """
        An error from an occupant's address: remove the occupant if it says
        the occupant is gone.
        """
        if occupant is None:
            return []
        error = child(stanza, COMPONENT_NS, "error")
        conditions = {c.name for c in error.elements()} if error is not None else set()
        if conditions & GHOST_CONDITIONS:
            return self._remove(occupant, {"333"})
        return []

    # Presence rendering

    def _others(self, occupant: Occupant) -> list[Occupant]:
        return [o for o in self.occupants.values() if o is not occupant]

    def _presenceElement(
        self,
        occupant: Occupant,
        withJid: bool,
        *,
        type: str | None = None,
        codes: Iterable[str] = (),
        role: str | None = None,
        itemExtra: Mapping[str, str] = {},
        itemChildren: Sequence[domish.Element] = (),
    ) -> domish.Element:
        """
        C{occupant}'s presence as the room sends it (without C{to}).
        """
        presence = element("presence", sender=f"{self.jid}/{occupant.nick}", type=type)
        if occupant.payload:
            presence.addRawXml(occupant.payload)
        item = {"affiliation": self.affiliation(occupant.jid), "role": role or occupant.role}
        if withJid:
            item["jid"] = occupant.jid
        item.update(itemExtra)
        x = presence.addChild(mucUser(item, codes))
        for itemChild in itemChildren:
            next(x.elements(NS_MUC_USER, "item")).addChild(itemChild)
        presence.addElement((NS_OCCUPANT_ID, "occupant-id"))["id"] = occupant.occupantId
        return presence

    def _presenceTemplate(self, occupant: Occupant, withJid: bool) -> bytes:
        """
        C{occupant}'s current available presence, serialised (cached until
        it changes).
        """
        template = occupant._cache.get(withJid)
        if template is None:
            template = serialise(self._presenceElement(occupant, withJid))
            occupant._cache[withJid] = template
        return template

    def _fanPresence(
        self,
        occupant: Occupant,
        recipients: Iterable[Occupant],
        *,
        selfCodes: set[str] | None = None,
        codes: set[str] = set(),
        **kw: object,
    ) -> list[Outgoing]:
        """
        C{occupant}'s presence to each of C{recipients}, with the real JID
        only for those allowed to see it.  When C{occupant} is among them it
        gets the codes of C{selfCodes} too.
        """
        seeing, blind, himself = [], [], False
        for recipient in recipients:
            if recipient is occupant and selfCodes is not None:
                himself = True
            elif self.seesJids(recipient):
                seeing.append(recipient.jid)
            else:
                blind.append(recipient.jid)
        out: list[Outgoing] = []
        plain = not kw and not codes
        for jids, withJid in ((seeing, True), (blind, False)):
            if not jids:
                continue
            if plain:
                template = self._presenceTemplate(occupant, withJid)
                attributes = {"from": f"{self.jid}/{occupant.nick}"}
                out.append(Broadcast("presence", attributes, template, tuple(jids)))
            else:
                out.append(
                    Broadcast.of(self._presenceElement(occupant, withJid, codes=codes, **kw), jids)  # type: ignore[arg-type]
                )
        if himself:
            own = self._presenceElement(occupant, True, codes=codes | (selfCodes or set()), **kw)  # type: ignore[arg-type]
            own["to"] = occupant.jid
            out.append(own)
        return out

    def _selfPresence(self, occupant: Occupant, codes: set[str]) -> domish.Element:
        """
        The presence an occupant gets about itself.
        """
        presence = self._presenceElement(occupant, True, codes=codes)
        presence["to"] = occupant.jid
        return presence

    # History and subject

    def _historyFor(self, recipient: str, mucX: domish.Element | None) -> list[Outgoing]:
        """
        The history a joining occupant asked for (XEP-0045 section 7.2.15).
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
            cutoff = self.clock() - seconds
            since = cutoff if since is None else max(since, cutoff)
        chosen: list[HistoryEntry] = []
        chars = 0
        for entry in reversed(self.history):
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

    def _subjectFor(self, recipient: str) -> domish.Element:
        """
        The subject message, sent last on joining (even when empty).
        """
        subjectText, by = self.subject
        message = element(
            "message",
            to=recipient,
            sender=f"{self.jid}/{by}" if by else self.jid,
            type="groupchat",
        )
        message.addElement("subject", content=subjectText)
        return message

    def _remember(self, message: domish.Element, template: bytes) -> None:
        """
        Keep a broadcast message for the history, within the room's history
        length and L{MAX_HISTORY_BYTES}.
        """
        limit = min(self.config.historyLength, self.options.maxHistory)
        if limit <= 0:
            return
        now = self.clock()
        attributes = {k: v for k, v in message.attributes.items() if isinstance(k, str)}
        entry = HistoryEntry(now, attributes, template, serialise(delay(now, self.jid)))
        self.history.append(entry)
        self._historyBytes += len(template)
        self._trimHistory(limit)

    def _trimHistory(self, limit: int) -> None:
        while self.history and (len(self.history) > limit or self._historyBytes > MAX_HISTORY_BYTES):
            self._historyBytes -= len(self.history.popleft().template)

    # Messages

    def message(self, sender: str, nick: str | None, stanza: domish.Element) -> list[Outgoing]:
        """
        Handle a message addressed to the room or to C{room/nick}.
        """
        kind = stanza.getAttribute("type")
        occupant = self._byJid.get(sender)
        if kind == "error":
            return self._ghost(occupant, stanza)
        if nick is not None:
            return self._private(occupant, nick, stanza)
        if kind == "groupchat":
            return self._groupchat(occupant, stanza)
        x = child(stanza, NS_MUC_USER, "x")
        if x is not None and child(x, NS_MUC_USER, "invite") is not None:
            return self._invite(sender, occupant, stanza, x)
        if x is not None and child(x, NS_MUC_USER, "decline") is not None:
            return self._decline(sender, stanza, x)
        return errorList(stanza, "bad-request", "modify", "Send groupchat messages to the room")

    def _groupchat(self, occupant: Occupant | None, stanza: domish.Element) -> list[Outgoing]:
        """
        Broadcast a groupchat message (or a subject change) to everyone.
        """
        if occupant is None:
            return errorList(stanza, "not-acceptable", "modify", "You are not in this room")
        subject = child(stanza, COMPONENT_NS, "subject")
        isSubject = subject is not None and child(stanza, COMPONENT_NS, "body") is None
        if occupant.role == "visitor" or (
            isSubject
            and occupant.role != "moderator"
            and not (self.config.changeSubject and occupant.role == "participant")
        ):
            return errorList(stanza, "forbidden", "auth", "You may not do that in this room")
        message = element("message", sender=f"{self.jid}/{occupant.nick}", type="groupchat", id=stanza.getAttribute("id"))
        for payload in stanza.elements():
            if not _isForged(payload, self.jid):
                message.addChild(payload)
        message.addElement((NS_OCCUPANT_ID, "occupant-id"))["id"] = occupant.occupantId
        try:
            for extension in self.extensions:
                extension.groupchat(self, message, occupant)
        except StanzaError as e:
            return errorList(stanza, e.condition, e.type, e.text)
        broadcast = Broadcast.of(message, [o.jid for o in self.occupants.values()])
        if isSubject:
            self.subject = (str(subject), occupant.nick)
            self.stateChanged = True
        elif child(stanza, COMPONENT_NS, "body") is not None:
            self._remember(message, broadcast.template)
        return [broadcast]

    def _private(self, occupant: Occupant | None, nick: str, stanza: domish.Element) -> list[Outgoing]:
        """
        A private message from one occupant to another, by nick.
        """
        if stanza.getAttribute("type") == "groupchat":
            return errorList(stanza, "bad-request", "modify", "Groupchat messages go to the room")
        if occupant is None:
            return errorList(stanza, "not-acceptable", "modify", "You are not in this room")
        target = self.occupants.get(nick)
        if target is None:
            return errorList(stanza, "item-not-found", "cancel", "No occupant has that nickname")
        allowed = self.config.allowPM
        if not (
            allowed == "anyone"
            or (allowed == "participants" and ROLES.index(occupant.role) >= ROLES.index("participant"))
            or (allowed == "moderators" and occupant.role == "moderator")
        ):
            return errorList(stanza, "not-allowed", "cancel", "Private messages are not allowed here")
        message = element(
            "message",
            to=target.jid,
            sender=f"{self.jid}/{occupant.nick}",
            type=stanza.getAttribute("type"),
            id=stanza.getAttribute("id"),
        )
        for payload in stanza.elements():
            if not _isForged(payload, self.jid) and (payload.uri, payload.name) != (NS_MUC_USER, "x"):
                message.addChild(payload)
        message.addChild(mucUser())
        message.addElement((NS_OCCUPANT_ID, "occupant-id"))["id"] = occupant.occupantId
        return [message]

    def _invite(
        self, sender: str, occupant: Occupant | None, stanza: domish.Element, x: domish.Element
    ) -> list[Outgoing]:
        """
        Mediated invitations (XEP-0045 section 7.8.2).
        """
        if occupant is None:
            return errorList(stanza, "not-acceptable", "modify", "Only occupants may invite")
        affiliation = self.affiliation(sender)
        mayGrant = affiliation in ("owner", "admin") or self.config.allowInvites
        if self.config.membersOnly and not mayGrant:
            return errorList(stanza, "forbidden", "auth", "Only admins may invite to this room")
        invites = list(x.elements(NS_MUC_USER, "invite"))[:MAX_INVITES]
        out: list[Outgoing] = []
        for invite in invites:
            invitee = normalJid(invite.getAttribute("to"))
            if invitee is None:
                return errorList(stanza, "jid-malformed", "modify", "The invitee's address is not valid")
            reason = text(invite, NS_MUC_USER, "reason")
            message = element("message", to=invitee, sender=self.jid)
            ux = message.addChild(mucUser())
            forwarded = ux.addElement("invite")
            forwarded["from"] = sender
            if reason:
                forwarded.addChild(reasonElement(reason))
            if self.config.password:
                ux.addElement("password", content=self.config.password)
            body = f"{bareOf(sender)} invites you to the room {self.jid}"
            message.addElement("body", content=body + (f": {reason}" if reason else ""))
            out.append(message)
            if self.config.membersOnly and self.affiliation(invitee) == "none":
                self.affiliations[bareOf(invitee)] = "member"
                self.stateChanged = True
        return out

    def _decline(self, sender: str, stanza: domish.Element, x: domish.Element) -> list[Outgoing]:
        """
        A declined invitation, passed on to the inviter.
        """
        decline = child(x, NS_MUC_USER, "decline")
        assert decline is not None
        inviter = normalJid(decline.getAttribute("to"))
        if inviter is None:
            return errorList(stanza, "jid-malformed", "modify", "The inviter's address is not valid")
        message = element("message", to=inviter, sender=self.jid)
        forwarded = message.addChild(mucUser()).addElement("decline")
        forwarded["from"] = bareOf(sender)
        reason = text(decline, NS_MUC_USER, "reason")
        if reason:
            forwarded.addChild(reasonElement(reason))
        return [message]

    # IQs to occupants

    def iqToOccupant(self, sender: str, nick: str, stanza: domish.Element) -> list[Outgoing]:
        """
        An iq to C{room/nick}: XEP-0410 self-pings are answered; other iqs
        to occupants are not forwarded.
        """
        if stanza.getAttribute("type") not in ("get", "set"):
            return []
        occupant = self._byJid.get(sender)
        if occupant is None:
            return errorList(stanza, "not-acceptable", "cancel", "You are not in this room")
        payload = next(iter(stanza.elements()), None)
        if occupant.nick == nick and payload is not None and payload.uri == "urn:xmpp:ping":
            return [element("iq", to=sender, sender=stanza.getAttribute("to"), type="result", id=stanza.getAttribute("id"))]
        return errorList(stanza, "service-unavailable", "cancel", None)


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
