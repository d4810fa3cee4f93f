# -*- test-case-name: xcomp.test.test_muc_register,xcomp.test.test_muc_roominfo,xcomp.test.test_muc_occupantiq -*-
"""
The iqs to a room beyond C{muc#admin} and C{muc#owner}: registration
(L{xcomp.muc.register}) and the room's vCard (L{xcomp.muc.roominfo}); and
the answers to the iqs the room forwarded to occupants
(L{xcomp.muc.occupantiq}).  A wokkel handler beside
L{xcomp.muc.component.MUCHandler}, with the same glue: find the room, call
the pure function, send what it returns, store what changed.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Protocol, cast

from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.xish import domish

from xcomp.muc import register, roominfo
from xcomp.muc.elements import Outgoing, addressing, element, errorList, firstChild, toOccupant
from xcomp.muc.occupantiq import IqForwarder
from xcomp.muc.room import Room
from xcomp.plugin import subprotocols


class _Service(Protocol):
    """
    What this needs of L{xcomp.muc.component.MUCComponent}.
    """

    @property
    def rooms(self) -> Mapping[str, Room]: ...

    @property
    def forwarder(self) -> IqForwarder: ...

    @property
    def allowUnaffiliatedRegister(self) -> bool: ...

    def emit(self, outgoing: Iterable[Outgoing]) -> None: ...

    def settle(self, room: Room) -> None: ...


class RoomIqHandler(subprotocols.XMPPHandler, subprotocols.IQHandlerMixin):
    """
    Registration, room vCards and forwarded answers.
    """

    iqHandlers = {
        f"/iq[@type='get']/query[@xmlns='{register.NS_REGISTER}']": "onRegisterGet",
        f"/iq[@type='set']/query[@xmlns='{register.NS_REGISTER}']": "onRegisterSet",
    }

    def __init__(self, service: _Service) -> None:
        super().__init__()
        self.service = service

    def connectionInitialized(self) -> None:
        for query in self.iqHandlers:
            self.xmlstream.addObserver(query, self.handleRequest)
        self.xmlstream.addObserver("/iq[@type='result' or @type='error']", self.onAnswer)
        self.xmlstream.addObserver(f"/iq/vCard[@xmlns='{roominfo.NS_VCARD}']", self.onVcard)

    def handleRequest(self, iq: domish.Element) -> None:
        # A register query to an occupant is the occupant's: left unhandled
        # here, it is forwarded.
        if not toOccupant(iq):
            super().handleRequest(iq)

    def _room(self, iq: domish.Element) -> tuple[Room, str]:
        """
        The room an iq is for and its sender.

        @raise StanzaError: not a room's address, or no such room.
        """
        found = addressing(iq)
        if found is None:
            raise StanzaError("jid-malformed", "modify")
        _, jid, _, sender = found
        if jid is None:
            raise StanzaError("bad-request", "modify", "Send this to a room")
        room = self.service.rooms.get(jid)
        if room is None:
            raise StanzaError("item-not-found", "cancel", "No such room")
        return room, sender

    def _apply(self, room: Room, outgoing: list[Outgoing]) -> None:
        self.service.emit(outgoing)
        self.service.settle(room)

    # These two run only when their XPath matched a <query/>.

    def onRegisterGet(self, iq: domish.Element) -> domish.Element:
        room, sender = self._room(iq)
        return register.registerGet(room, sender, self.service.allowUnaffiliatedRegister)

    def onRegisterSet(self, iq: domish.Element) -> None:
        room, sender = self._room(iq)
        query = cast(domish.Element, firstChild(iq))
        self._apply(room, register.registerSet(room, sender, query, self.service.allowUnaffiliatedRegister))

    def onVcard(self, iq: domish.Element) -> None:
        """
        The room's vCard (XEP-0486): read by anyone, set by owners.  A
        vCard request to an occupant is left to the C{MUCHandler}, which
        forwards it; one to the service, to whatever answers the service.
        """
        found = addressing(iq)
        kind = iq.getAttribute("type")
        if found is None or found[1] is None or found[2] is not None or kind not in ("get", "set"):
            return
        iq.handled = True  # type: ignore[attr-defined]  # wokkel's flag, set on the element
        try:
            room, sender = self._room(iq)
            reply = element("iq", to=iq.getAttribute("from"), sender=iq.getAttribute("to"), type="result",
                            id=iq.getAttribute("id"))
            outgoing: list[Outgoing] = []
            if kind == "get":
                reply.addChild(roominfo.vcardGet(room))
            else:
                outgoing = roominfo.vcardSet(room, sender, cast(domish.Element, firstChild(iq)))
        except StanzaError as e:
            self.service.emit(errorList(iq, e.condition, e.type, e.text))
            return
        self.service.emit([reply])
        self._apply(room, outgoing)

    def onAnswer(self, iq: domish.Element) -> None:
        """
        A result or error to an occupant's address: the answer to an iq the
        room forwarded.
        """
        found = addressing(iq)
        if found is None:
            return
        _, jid, nick, sender = found
        room = self.service.rooms.get(jid) if jid is not None else None
        if room is not None and nick is not None:
            self.service.emit(self.service.forwarder.answer(room, sender, iq))
