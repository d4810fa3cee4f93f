# -*- test-case-name: xcomp.test.test_muc_room,xcomp.test.test_muc_room_messages,xcomp.test.test_muc_room_moderation,xcomp.test.test_muc_room_owner -*-
"""
A XEP-0045 room as a pure state machine: each method takes a stanza (already
addressed to this room) and returns what to send, and nothing here does I/O
or reads the clock except through the C{clock} it is given.

L{Room} is the room's state (L{xcomp.muc.state}) with its parts put
together, one module each: presence and joining (L{xcomp.muc.presence}),
messages (L{xcomp.muc.messages}) and the history they leave
(L{xcomp.muc.history}), roles and affiliations (L{xcomp.muc.moderation}),
the owner's form and destruction (L{xcomp.muc.owner}); what service
discovery shows of the room is here.  The glue (L{xcomp.muc.component})
finds the room, calls it, sends what it returns and stores it when
L{Room.stateChanged} says so.
"""

from __future__ import annotations

import time
from typing import Callable, Iterable, Mapping, Sequence

from twisted.words.xish import domish

from xcomp.interfaces import IRoomExtension
from xcomp.muc import messages, moderation, owner, presence, roominfo
from xcomp.muc.elements import NS_MUC, NS_MUC_ROOMINFO, NS_OCCUPANT_ID, NS_PING, Outgoing
from xcomp.muc.history import MAX_HISTORY_BYTES
from xcomp.muc.register import NS_REGISTER
from xcomp.muc.voice import NS_MUC_REQUEST
from xcomp.muc.settings import RoomConfig, ServiceOptions
from xcomp.muc.state import AFFILIATIONS, Occupant, RoomState
from xcomp.plugin import data_form

__all__ = ["MAX_HISTORY_BYTES", "Occupant", "Room"]


class Room(RoomState):
    """
    One room: its state, the stanzas it handles, and how it is stored.
    """

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

    # Stanzas

    def presence(
        self, sender: str, nick: str | None, stanza: domish.Element, *, created: bool = False
    ) -> list[Outgoing]:
        """
        Handle a presence addressed to the room or to C{room/nick}
        (L{xcomp.muc.presence.presence}).
        """
        return presence.presence(self, sender, nick, stanza, created=created)

    def message(self, sender: str, nick: str | None, stanza: domish.Element) -> list[Outgoing]:
        """
        Handle a message addressed to the room or to C{room/nick}
        (L{xcomp.muc.messages.message}).
        """
        return messages.message(self, sender, nick, stanza)

    def adminGet(self, sender: str, query: domish.Element) -> domish.Element:
        """
        A C{muc#admin} list request (L{xcomp.muc.moderation.adminGet}).

        @raise twisted.words.protocols.jabber.error.StanzaError: refused.
        """
        return moderation.adminGet(self, sender, query)

    def adminSet(self, sender: str, query: domish.Element) -> list[Outgoing]:
        """
        A C{muc#admin} change (L{xcomp.muc.moderation.adminSet}).

        @raise twisted.words.protocols.jabber.error.StanzaError: refused.
        """
        return moderation.adminSet(self, sender, query)

    def ownerGet(self, sender: str, query: domish.Element) -> domish.Element:
        """
        A C{muc#owner} get (L{xcomp.muc.owner.ownerGet}).

        @raise twisted.words.protocols.jabber.error.StanzaError: refused.
        """
        return owner.ownerGet(self, sender, query)

    def ownerSet(self, sender: str, query: domish.Element) -> list[Outgoing]:
        """
        A C{muc#owner} set (L{xcomp.muc.owner.ownerSet}).

        @raise twisted.words.protocols.jabber.error.StanzaError: refused.
        """
        return owner.ownerSet(self, sender, query)

    def configure(self, values: dict[str, list[str]]) -> list[Outgoing]:
        """
        Apply submitted C{muc#roomconfig} values (L{xcomp.muc.owner.configure}).
        """
        return owner.configure(self, values)

    def destroy(
        self, reason: str | None = None, alternate: str | None = None, password: str | None = None
    ) -> list[Outgoing]:
        """
        Destroy the room (L{xcomp.muc.owner.destroy}).
        """
        return owner.destroy(self, reason, alternate, password)

    # Discovery

    def features(self) -> list[str]:
        """
        The room's disco#info features.
        """
        c = self.config
        features = [
            NS_MUC,
            "muc_public" if c.public else "muc_hidden",
            "muc_persistent" if c.persistent else "muc_temporary",
            "muc_membersonly" if c.membersOnly else "muc_open",
            "muc_moderated" if c.moderated else "muc_unmoderated",
            "muc_nonanonymous" if c.whois == "anyone" else "muc_semianonymous",
            "muc_passwordprotected" if c.password else "muc_unsecured",
            NS_OCCUPANT_ID,
            NS_MUC + "#self-ping-optimization",
            NS_PING,
            NS_REGISTER,
            NS_MUC_REQUEST,
        ]
        for extension in self.extensions:
            features.extend(extension.features(self))
        return features

    def infoForm(self) -> data_form.Form:
        """
        The C{muc#roominfo} form of the room's disco#info.
        """
        return data_form.Form(
            "result",
            formNamespace=NS_MUC_ROOMINFO,
            fields=[
                data_form.Field("text-single", "muc#roominfo_description", self.config.description, label="Description"),
                data_form.Field("text-single", "muc#roominfo_occupants", str(len(self.occupants)), label="Number of occupants"),
                data_form.Field("text-single", "muc#roominfo_subject", self.subject[0], label="Subject"),
                data_form.Field("boolean", "muc#roomconfig_changesubject", self.config.changeSubject,
                                label="Occupants may change the subject"),
                data_form.Field("text-single", "muc#roomconfig_roomname", self.config.name, label="Title"),
                *roominfo.infoFields(self),
            ],
        )

    def visibleOccupants(self, requester: str) -> Iterable[str]:
        """
        The occupant JIDs (C{room/nick}) disco#items shows to C{requester}:
        only occupants see who is in the room.
        """
        if self.occupantByJid(requester) is None:
            return []
        return [f"{self.jid}/{nick}" for nick in self.occupants]
