# -*- test-case-name: xcomp.test.test_muc_room,xcomp.test.test_muc_room_messages,xcomp.test.test_muc_room_moderation,xcomp.test.test_muc_room_owner -*-
"""
What a room is, shared by every part of it: its occupants, affiliations and
settings (L{RoomState}), the questions the XEP-0045 rules ask of them, and
how an occupant's presence is rendered and fanned out.

The parts that act on a room (L{xcomp.muc.presence}, L{xcomp.muc.messages},
L{xcomp.muc.moderation}, L{xcomp.muc.owner}) are functions of a
L{RoomState}; L{xcomp.muc.room.Room} is the state with those parts put
together.  Nothing here does I/O or reads the clock except through the
C{clock} it is given.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Callable, Iterable, Mapping, Sequence

import attrs
from twisted.words.xish import domish

from xcomp.interfaces import IRoomExtension
from xcomp.muc.elements import (
    NS_MUC_USER,
    NS_OCCUPANT_ID,
    Broadcast,
    Outgoing,
    addressed,
    child,
    element,
    mucUser,
    reason as reasonElement,
    serialise,
)
from xcomp.muc.history import History
from xcomp.muc.settings import RoomConfig, ServiceOptions
from xcomp.plugin import COMPONENT_NS, Stanza

#: Affiliations, lowest first.
AFFILIATIONS = ("outcast", "none", "member", "admin", "owner")
#: Roles, lowest first.
ROLES = ("none", "visitor", "participant", "moderator")
#: The most bytes of presence payload (show, status, caps...) kept per
#: occupant; a larger presence is refused.
MAX_PRESENCE_PAYLOAD = 8 * 1024


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
    One occupant: a nick in the room held by one bare JID from one or more
    sessions (full JIDs), as Prosody allows.

    @ivar jid: the primary session: the real JID shown to those who may
        see real JIDs, whose presence the room shows.
    @ivar payload: the serialised children of the primary session's last
        presence (show, status, caps...), re-broadcast with the room's own
        items.
    @ivar sessions: every session's full JID and the payload of its last
        presence, the primary first.
    @ivar occupantId: the XEP-0421 id: the same for one bare JID in one room.
    @ivar rendered: the occupant's available presence as the room last
        serialised it, with the real JID (C{True}) and without; cleared by
        L{changed}.
    """

    nick: str
    jid: str
    role: str
    occupantId: str
    payload: str = ""
    rendered: dict[bool, bytes] = attrs.field(factory=dict, repr=False)
    sessions: dict[str, str] = attrs.field(factory=dict, repr=False)

    def __attrs_post_init__(self) -> None:
        self.sessions.setdefault(self.jid, self.payload)

    @property
    def bare(self) -> str:
        return bareOf(self.jid)

    def setPayload(self, session: str, payload: str) -> bool:
        """
        Keep the payload of one session's presence; return whether it is
        the primary's (and so what the room shows).
        """
        self.sessions[session] = payload
        if session != self.jid:
            return False
        self.payload = payload
        self.changed()
        return True

    def dropSession(self, session: str) -> None:
        """
        Forget one of several sessions; the next one becomes primary if it
        was the primary.
        """
        del self.sessions[session]
        if session == self.jid:
            self.jid, self.payload = next(iter(self.sessions.items()))
            self.changed()

    def changed(self) -> None:
        """
        Forget the rendered presences: the role, nick or payload changed.
        """
        self.rendered.clear()


class RoomState:
    """
    One room's state.

    @ivar jid: the room's bare JID.
    @ivar config: its L{RoomConfig}.
    @ivar affiliations: bare JID to C{owner}, C{admin}, C{member} or
        C{outcast} (C{none} is not stored).
    @ivar occupants: nick to L{Occupant}, in join order.
    @ivar history: the discussion history new occupants get.
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
        self.byJid: dict[str, Occupant] = {}
        #: When each visitor (session) last asked for voice (L{xcomp.muc.voice}).
        self.voiceRequests: dict[str, float] = {}
        self.history = History(jid, clock)
        self.locked = False
        self.destroyed = False
        #: The reason and alternate venue it was destroyed with (its tombstone says them).
        self.destroyedWith: tuple[str | None, str | None] = (None, None)
        self.stateChanged = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.jid} occupants={len(self.occupants)}>"

    # Questions

    def isEmpty(self) -> bool:
        return not self.occupants

    def occupantByJid(self, jid: str) -> Occupant | None:
        """
        The occupant whose real JID is C{jid}, if any.
        """
        return self.byJid.get(jid)

    def affiliation(self, jid: str) -> str:
        """
        The affiliation of a (bare or full) JID; the service's admins own
        every room.
        """
        bare = bareOf(jid)
        if self.options.ownsRooms(bare):
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

    def historyLimit(self) -> int:
        """
        How many messages the history keeps: the room's history length,
        within the service's C{max_history_messages}.
        """
        return min(self.config.historyLength, self.options.maxHistory)

    def others(self, occupant: Occupant) -> list[Occupant]:
        return [o for o in self.occupants.values() if o is not occupant]

    def everyone(self) -> list[str]:
        """
        The real JIDs of every occupant.
        """
        return [session for o in self.occupants.values() for session in o.sessions]

    # Presence rendering

    def presenceElement(
        self,
        occupant: Occupant,
        withJid: bool,
        *,
        type: str | None = None,
        codes: Iterable[str] = (),
        role: str | None = None,
        itemExtra: Mapping[str, str] | None = None,
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
        item.update(itemExtra or {})
        x = presence.addChild(mucUser(item, codes))
        for itemChild in itemChildren:
            next(x.elements(NS_MUC_USER, "item")).addChild(itemChild)
        presence.addElement((NS_OCCUPANT_ID, "occupant-id"))["id"] = occupant.occupantId
        return presence

    def presenceTemplate(self, occupant: Occupant, withJid: bool) -> bytes:
        """
        C{occupant}'s current available presence, serialised (cached until
        it changes).
        """
        template = occupant.rendered.get(withJid)
        if template is None:
            template = serialise(self.presenceElement(occupant, withJid))
            occupant.rendered[withJid] = template
        return template

    def presenceOf(self, occupant: Occupant, recipient: Occupant, session: str | None = None) -> Stanza:
        """
        C{occupant}'s current presence, addressed to one session of
        C{recipient} (its primary one unless told).
        """
        template = self.presenceTemplate(occupant, self.seesJids(recipient))
        to = session or recipient.jid
        return Stanza(
            "presence",
            COMPONENT_NS,
            {"from": f"{self.jid}/{occupant.nick}", "to": to},
            addressed(template, "presence", to),
        )

    def fanPresence(
        self,
        occupant: Occupant,
        recipients: Iterable[Occupant],
        *,
        selfCodes: set[str] | None = None,
        type: str | None = None,
        codes: set[str] | None = None,
        role: str | None = None,
        itemExtra: Mapping[str, str] | None = None,
        itemChildren: Sequence[domish.Element] = (),
    ) -> list[Outgoing]:
        """
        C{occupant}'s presence to each of C{recipients}, with the real JID
        only for those allowed to see it.  When C{occupant} is among them it
        gets the codes of C{selfCodes} too.
        """
        seeing: list[str] = []
        blind: list[str] = []
        himself = False
        for recipient in recipients:
            if recipient is occupant and selfCodes is not None:
                himself = True
            elif self.seesJids(recipient):
                seeing.extend(recipient.sessions)
            else:
                blind.extend(recipient.sessions)
        codes = codes or set()
        plain = type is None and role is None and not itemExtra and not itemChildren and not codes

        def render(withJid: bool, codes: set[str]) -> domish.Element:
            return self.presenceElement(
                occupant, withJid, type=type, codes=codes, role=role, itemExtra=itemExtra, itemChildren=itemChildren
            )

        out: list[Outgoing] = []
        for jids, withJid in ((seeing, True), (blind, False)):
            if not jids:
                continue
            if plain:
                # The common case (someone joined or changed status): the
                # cached bytes, addressed to each recipient.
                template = self.presenceTemplate(occupant, withJid)
                attributes = {"from": f"{self.jid}/{occupant.nick}"}
                out.append(Broadcast("presence", attributes, template, tuple(jids)))
            else:
                out.append(Broadcast.of(render(withJid, codes), jids))
        if himself:
            out.append(Broadcast.of(render(True, codes | (selfCodes or set())), occupant.sessions))
        return out

    def selfPresence(self, occupant: Occupant, codes: set[str], sessions: Iterable[str] | None = None) -> Broadcast:
        """
        The presence an occupant gets about itself, to each of its
        C{sessions} (all of them unless told).
        """
        presence = self.presenceElement(occupant, True, codes=codes)
        return Broadcast.of(presence, occupant.sessions if sessions is None else sessions)

    # Leaving

    def remove(
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
        out = self.fanPresence(
            occupant,
            everyone,
            type="unavailable",
            codes=set(codes),
            role="none",
            itemChildren=itemChildren,
            selfCodes={"110"},
        )
        del self.occupants[occupant.nick]
        for session in occupant.sessions:
            del self.byJid[session]
        return out

    def removeSession(self, occupant: Occupant, session: str, statusFrom: domish.Element | None = None,
                      codes: Iterable[str] = ()) -> list[Outgoing]:
        """
        One session of an occupant leaves: the occupant stays while another
        session is in (only the leaving session is told, with 110), and
        leaves with the last (L{remove}).
        """
        if len(occupant.sessions) == 1 or session not in occupant.sessions:
            return self.remove(occupant, codes, statusFrom=statusFrom)
        wasPrimary = session == occupant.jid
        gone = self.presenceElement(occupant, True, type="unavailable", codes={"110", *codes}, role="none")
        gone["to"] = session
        occupant.dropSession(session)
        del self.byJid[session]
        out: list[Outgoing] = [gone]
        if wasPrimary:
            # Another session's presence is now the occupant's.
            out.extend(self.fanPresence(occupant, list(self.occupants.values()), selfCodes={"110"}))
        return out

