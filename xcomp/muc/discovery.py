# -*- test-case-name: xcomp.test.test_muc -*-
"""
What service discovery (XEP-0030) shows of a C{muc} component: the service
and its public rooms, and each room's identity, features, C{muc#roominfo}
form and (to its occupants) who is in it.

L{RoomDiscovery} is a wokkel handler that wokkel's C{DiscoHandler} asks,
as it asks every sibling handler that provides C{IDisco}.
"""

from __future__ import annotations

from typing import Mapping

from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.protocols.jabber.jid import JID
from zope.interface import implementer

from xcomp.muc.elements import NS_DISCO_INFO, NS_DISCO_ITEMS, NS_MUC, NS_PING
from xcomp.muc.register import NODE_RESERVED, reservedNick
from xcomp.muc.room import Room
from xcomp.muc.settings import ServiceOptions
from xcomp.plugin import disco, subprotocols


@implementer(disco.IDisco)
class RoomDiscovery(subprotocols.XMPPHandler):
    """
    disco#info and disco#items of the service and its rooms.

    @ivar rooms: the component's live rooms by bare JID (the same mapping,
        so that it sees rooms come and go).
    """

    def __init__(self, rooms: Mapping[str, Room], options: ServiceOptions) -> None:
        super().__init__()
        self.rooms = rooms
        self.options = options

    def getDiscoInfo(self, requestor: JID, target: JID, nodeIdentifier: str = "") -> list[object]:
        if nodeIdentifier == NODE_RESERVED and target.user is not None:
            # XEP-0045 section 7.12: the requester's reserved nick, if any.
            nick = reservedNick(self._visibleRoom(requestor, target), requestor.userhost())
            return [] if nick is None else [disco.DiscoIdentity("conference", "text", nick)]
        if nodeIdentifier:
            return []
        if target.user is None:
            return [
                disco.DiscoIdentity("conference", "text", self.options.name),
                disco.DiscoFeature(NS_DISCO_INFO),
                disco.DiscoFeature(NS_DISCO_ITEMS),
                disco.DiscoFeature(NS_MUC),
                disco.DiscoFeature(NS_PING),
            ]
        room = self._visibleRoom(requestor, target)
        info: list[object] = [disco.DiscoIdentity("conference", "text", room.config.name or target.user)]
        info.extend(disco.DiscoFeature(feature) for feature in [NS_DISCO_INFO, NS_DISCO_ITEMS, *room.features()])
        info.append(room.infoForm())
        return info

    def getDiscoItems(self, requestor: JID, target: JID, nodeIdentifier: str = "") -> list[object]:
        if nodeIdentifier:
            return []
        if target.user is None:
            return [
                disco.DiscoItem(JID(jid), name=room.config.name or None)
                for jid, room in sorted(self.rooms.items())
                if room.config.public and not room.locked
            ]
        room = self._visibleRoom(requestor, target)
        return [disco.DiscoItem(JID(occupant)) for occupant in room.visibleOccupants(requestor.full())]

    def _visibleRoom(self, requestor: JID, target: JID) -> Room:
        """
        The room a disco request is about.

        @raise StanzaError: no such room (or a locked one, to all but its
            owners), or the request is for an occupant.
        """
        if target.resource is not None:
            raise StanzaError("service-unavailable", "cancel")
        room = self.rooms.get(target.userhost())
        if room is None or (room.locked and room.affiliation(requestor.full()) != "owner"):
            raise StanzaError("item-not-found", "cancel")
        return room
