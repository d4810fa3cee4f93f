# -*- test-case-name: xcomp.test.test_muc -*-
"""
What service discovery (XEP-0030) shows of a C{muc} component: the service
and its public rooms, and each room's identity, features, C{muc#roominfo}
form and (to its occupants) who is in it.

L{RoomDiscovery} is a wokkel handler that wokkel's C{DiscoHandler} asks,
as it asks every sibling handler that provides C{IDisco}.
L{DirectoryDiscoHandler} is that C{DiscoHandler}, answering the service's
own disco#items (the room list) itself, paged with XEP-0059 result set
management, since wokkel does not pass the request's C{<set/>} on.
L{UniqueNameHandler} gives out unique room names (XEP-0307).
"""

from __future__ import annotations

import uuid
from typing import Mapping

from twisted.internet import defer
from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.protocols.jabber.jid import JID
from twisted.words.xish import domish
from zope.interface import implementer

from xcomp.muc.elements import NS_DISCO_INFO, NS_DISCO_ITEMS, NS_MUC, NS_PING, toOccupant
from xcomp.muc.register import NODE_RESERVED, reservedNick
from xcomp.muc.room import Room
from xcomp.muc.rsm import NS_RSM, PageRequest, paginate
from xcomp.muc.settings import ServiceOptions
from xcomp.plugin import disco, subprotocols

NS_MUC_UNIQUE = NS_MUC + "#unique"
#: The most rooms one disco#items answer lists (a client that pages asks
#: for the rest; one that does not gets this many and the C{<set/>} that
#: says how many there are).
MAX_ITEMS = 1000


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
                disco.DiscoFeature(NS_MUC_UNIQUE),
                disco.DiscoFeature(NS_RSM),
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


class DirectoryDiscoHandler(disco.DiscoHandler):
    """
    wokkel's disco handler, except for the service's own disco#items: the
    public rooms, sorted by JID, paged as the request's C{<set/>} asks
    (C{max}, C{after}, C{before}, C{index}; C{max} 0 for the count alone).
    """

    def __init__(self, rooms: Mapping[str, Room]) -> None:
        super().__init__()
        self.rooms = rooms

    def handleRequest(self, iq: domish.Element) -> None:
        # Disco of an occupant is the occupant's to answer: left unhandled
        # here, it is forwarded (xcomp.muc.occupantiq).
        if not toOccupant(iq):
            super().handleRequest(iq)

    def _onDiscoItems(self, iq: domish.Element) -> defer.Deferred[domish.Element]:
        target = JID(iq["to"])
        query = next(iter(iq.elements()))
        if target.user is not None or query.getAttribute("node"):
            return super()._onDiscoItems(iq)
        listed = sorted(jid for jid, room in self.rooms.items() if room.config.public and not room.locked)
        request = PageRequest.fromQuery(query)
        page = paginate(listed, request, MAX_ITEMS)
        result = domish.Element((NS_DISCO_ITEMS, "query"))
        for jid in page.keys:
            item = result.addElement("item")
            item["jid"] = jid
            name = self.rooms[jid].config.name
            if name:
                item["name"] = name
        if request is not None or page.count > len(page.keys):
            result.addChild(page.setElement())
        return defer.succeed(result)


class UniqueNameHandler(subprotocols.XMPPHandler, subprotocols.IQHandlerMixin):
    """
    XEP-0307: a room name no room has, for a client to create a room
    with (a random UUID, as Prosody's C{mod_muc_unique}).
    """

    iqHandlers = {f"/iq[@type='get']/unique[@xmlns='{NS_MUC_UNIQUE}']": "onUnique"}

    def __init__(self, rooms: Mapping[str, Room]) -> None:
        super().__init__()
        self.rooms = rooms

    def connectionInitialized(self) -> None:
        for query in self.iqHandlers:
            self.xmlstream.addObserver(query, self.handleRequest)

    def onUnique(self, iq: domish.Element) -> domish.Element:
        target = JID(iq["to"])
        if target.user is not None:
            raise StanzaError("bad-request", "modify", "Ask the service, not a room")
        name = uuid.uuid4().hex
        while f"{name}@{target.host}" in self.rooms:
            name = uuid.uuid4().hex
        return _unique(name)


def _unique(name: str) -> domish.Element:
    element = domish.Element((NS_MUC_UNIQUE, "unique"))
    element.addContent(name)
    return element
