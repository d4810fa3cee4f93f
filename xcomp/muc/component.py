# -*- test-case-name: xcomp.test.test_muc -*-
"""
The C{muc} component: the glue between the router and the rooms.

L{MUCComponent} is an L{InternalComponent} holding the room table, the
storage and the extensions (C{muc_mam}); L{MUCHandler} is an ordinary wokkel
handler that finds the room a stanza is for, calls the pure
L{Room<xcomp.muc.room.Room>}, sends what it returns and stores what changed;
L{RoomIqHandler<xcomp.muc.roomiq.RoomIqHandler>} does the same for
registration, room vCards and the answers to forwarded iqs.  Service
discovery goes through a wokkel C{DiscoHandler}, which asks
L{RoomDiscovery<xcomp.muc.discovery.RoomDiscovery>}.
"""

from __future__ import annotations

import json
import os
from typing import Iterable, Mapping, cast

from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall
from twisted.python.failure import Failure
from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.protocols.jabber.jid import JID
from twisted.words.xish import domish

from xcomp.interfaces import IRoomExtension, IRouter
from xcomp.muc.elements import (
    NS_MUC_ADMIN,
    NS_MUC_OWNER,
    NS_PING,
    Broadcast,
    Outgoing,
    addressing,
    element,
    errorList,
    firstChild,
    preparedJid,
    toOccupant,
)
from xcomp.muc import register
from xcomp.muc.discovery import DirectoryDiscoHandler, RoomDiscovery, UniqueNameHandler
from xcomp.muc.nicks import nickTooLong, tooLongError
from xcomp.muc.occupantiq import IqForwarder
from xcomp.muc.shaper import PresenceShapers
from xcomp.muc.room import Room
from xcomp.muc.roomiq import RoomIqHandler
from xcomp.muc.settings import ServiceOptions
from xcomp.muc.state import bareOf
from xcomp.muc.store import SQLiteStore
from xcomp.muc.tombstones import Tombstone, Tombstones
from xcomp.plugin import InternalComponent, Logger, Stanza, bounce, subprotocols

__all__ = ["MUCComponent", "MUCHandler", "makeComponent"]

#: How many stanzas are held while the rooms are loaded at startup.
MAX_PENDING = 10000


def makeComponent(domain: str, options: Mapping[str, object], router: IRouter) -> MUCComponent:
    """
    The C{muc} plugin's factory (L{xcomp.interfaces.IComponentPlugin}).

    @raise ValueError: an option has an unusable value.
    """
    dataPath = options.get("data_path")
    return MUCComponent(
        domain,
        router,
        ServiceOptions.fromOptions(domain, options),
        dataPath=dataPath if isinstance(dataPath, str) else None,
        allowUnaffiliatedRegister=register.allowUnaffiliated(options),
        enforceRegisteredNick=register.enforceNick(options),
    )


class MUCComponent(InternalComponent):
    """
    A multi-user chat service.

    @ivar options: its L{ServiceOptions}.
    @ivar rooms: the live rooms by bare JID (persistent ones included).
    @ivar extensions: the L{IRoomExtension}s its modules added.
    @ivar store: the storage, made when the service starts (unless given):
        the file C{DOMAIN.muc.sqlite} under C{data_path}, or an in-memory
        database when C{data_path} is not set.
    """

    _log = Logger()

    def __init__(
        self,
        domain: str,
        router: IRouter,
        options: ServiceOptions,
        *,
        dataPath: str | None = None,
        store: SQLiteStore | None = None,
        allowUnaffiliatedRegister: bool = False,
        enforceRegisteredNick: bool = False,
    ) -> None:
        super().__init__(domain, router)
        self.options = options
        self.allowUnaffiliatedRegister = allowUnaffiliatedRegister
        self.enforceRegisteredNick = enforceRegisteredNick
        self.dataPath = dataPath
        self.store = store
        self.rooms: dict[str, Room] = {}
        self.extensions: list[IRoomExtension] = []
        self._stored: set[str] = set()
        self._lockTimers: dict[str, IDelayedCall] = {}
        self._writes: set[defer.Deferred[None]] = set()
        self._pending: list[Stanza] | None = []
        self.tombstones = Tombstones(router.reactor.seconds, options.tombstoneExpiry, options.maxRooms)
        self.forwarder = IqForwarder(router.reactor.seconds)
        self.shaper = PresenceShapers(router.reactor.seconds)
        MUCHandler().setHandlerParent(self)
        RoomIqHandler(self).setHandlerParent(self)
        RoomDiscovery(self.rooms, options).setHandlerParent(self)
        DirectoryDiscoHandler(self.rooms).setHandlerParent(self)
        UniqueNameHandler(self.rooms).setHandlerParent(self)

    @property
    def storage(self) -> SQLiteStore:
        """
        The storage, which exists once the service has started.

        @raise RuntimeError: it has not.
        """
        if self.store is None:
            raise RuntimeError(f"the muc component {self.domain} has not started")
        return self.store

    def statistics(self) -> dict[str, int]:
        """
        The live rooms and their occupants, for the status page and
        metrics (C{xcomp_muc_rooms}, C{xcomp_muc_occupants}).
        """
        return {
            "rooms": len(self.rooms),
            "occupants": sum(len(room.occupants) for room in self.rooms.values()),
        }

    def addExtension(self, extension: IRoomExtension) -> None:
        """
        Add what a module brings to every room.
        """
        self.extensions.append(extension)
        for room in self.rooms.values():
            room.extensions = tuple(self.extensions)

    def newRoom(self, jid: str) -> Room:
        """
        A new room with the service's defaults.
        """
        return Room(jid, self.options, clock=self.router.reactor.seconds, extensions=self.extensions)

    # Service

    def startService(self) -> None:
        """
        Open the storage, load the persistent rooms and let the extensions
        restore them (C{muc_mam} refills their history); stanzas that
        arrive meanwhile wait (up to L{MAX_PENDING}).
        """
        if self.store is None:
            if self.dataPath is None:
                self._log.warn(
                    "{domain}: data_path is not set; rooms and archives are kept in memory"
                    " and lost when xcomp stops",
                    domain=self.domain,
                )
                self.store = SQLiteStore.inMemory()
            else:
                os.makedirs(self.dataPath, exist_ok=True)
                path = os.path.join(self.dataPath, f"{self.domain}.muc.sqlite")
                self.store = SQLiteStore.atPath(path, self.router.reactor)
        store = self.store
        # Opened before the handlers start, so that their first queries (the
        # archive's expiry) run on the schema.
        d = store.open()
        super().startService()
        d.addCallback(lambda _: store.loadRooms()).addCallback(self._loaded).addErrback(
            self._notLoaded
        )

    def _loaded(self, rows: list[tuple[str, str]]) -> defer.Deferred[None]:
        for jid, data in rows:
            try:
                record = json.loads(data)
                stone = Tombstone.fromRecord(record) if isinstance(record, dict) else None
                if stone is not None:
                    self.tombstones.restore(jid, stone)
                    self._stored.add(jid)
                    continue
                room = Room.load(
                    jid, record, self.options, clock=self.router.reactor.seconds, extensions=self.extensions
                )
            except (ValueError, TypeError, AttributeError):
                self._log.failure("{domain}: cannot load room {room}; skipping it", domain=self.domain, room=jid)
                continue
            self.rooms[jid] = room
            self._stored.add(jid)
        self._log.info("{domain}: {count} persistent rooms loaded", domain=self.domain, count=len(self.rooms))
        rooms = list(self.rooms.values())
        restoring = [self._restore(extension, rooms) for extension in self.extensions]
        return defer.DeferredList(restoring).addCallback(lambda _: self._release())

    def _restore(self, extension: IRoomExtension, rooms: list[Room]) -> defer.Deferred[None]:
        """
        Let one extension put back what it keeps for the loaded rooms; a
        failure is logged, and the rooms are used as they are.
        """

        def failed(failure: Failure) -> None:
            self._log.failure("{domain}: {extension} could not restore the rooms", failure, domain=self.domain,
                              extension=extension)

        return defer.maybeDeferred(extension.restore, rooms).addErrback(failed)

    def _release(self) -> None:
        """
        Dispatch the stanzas that waited for the rooms.
        """
        pending, self._pending = self._pending or [], None
        for stanza in pending:
            self.receive(stanza)

    def _notLoaded(self, failure: Failure) -> None:
        self._log.failure("{domain}: cannot open the room storage", failure, domain=self.domain)
        self._release()

    def stopService(self) -> defer.Deferred[None]:
        """
        Stop the lock timers, wait for pending writes, close the storage.
        """
        for timer in self._lockTimers.values():
            if timer.active():
                timer.cancel()
        self._lockTimers.clear()
        super().stopService()
        store = self.store
        writes = list(self._writes)

        def close(_: object) -> defer.Deferred[None] | None:
            if store is not None:
                return store.close()
            return None

        return defer.DeferredList(writes).addCallback(close)

    def receive(self, stanza: Stanza) -> None:
        """
        Hold stanzas until the rooms are loaded, then dispatch them; answer
        those to a tombstone with C{gone}.
        """
        if self._pending is not None and self.running:
            if len(self._pending) < MAX_PENDING:
                self._pending.append(stanza)
            else:
                reply = bounce(stanza, "resource-constraint", type="wait")
                if reply is not None:
                    self.router.route(reply)
            return
        if len(self.tombstones):
            stop, reply, removed = self.tombstones.screen(stanza, self.options.admins)
            if removed is not None:
                self._forget(removed)
            if reply is not None:
                self.router.route(reply)
            if stop:
                return
        super().receive(stanza)

    def _forget(self, jid: str) -> None:
        """
        Remove a stored room or tombstone.
        """
        if jid in self._stored:
            self._stored.discard(jid)
            self._write(self.storage.deleteRoom(jid))

    # Used by the handlers

    def emit(self, outgoing: Iterable[Outgoing]) -> None:
        """
        Send what a room returned; a L{Broadcast} is addressed to each
        recipient without serialising it again.
        """
        route = self.router.route
        for item in outgoing:
            if isinstance(item, Broadcast):
                for stanza in item.stanzas():
                    route(stanza)
            elif isinstance(item, Stanza):
                route(item)
            else:
                self.send(item)

    def settle(self, room: Room) -> None:
        """
        After a room has handled a stanza: drop it if it is destroyed or
        empty and temporary, and store what changed of a persistent room.
        """
        jid = room.jid
        if room.destroyed or (room.isEmpty() and not room.config.persistent):
            if self.rooms.get(jid) is room:
                del self.rooms[jid]
            timer = self._lockTimers.pop(jid, None)
            if timer is not None and timer.active():
                timer.cancel()
            for extension in self.extensions:
                extension.destroyed(room)
            if room.destroyed and room.config.persistent and self.options.tombstones:
                self._bury(room)
            else:
                self._forget(jid)
            return
        if not room.locked and jid in self._lockTimers:
            timer = self._lockTimers.pop(jid)
            if timer.active():
                timer.cancel()
        if room.stateChanged:
            room.stateChanged = False
            if room.config.persistent:
                self._stored.add(jid)
                self._write(self.storage.saveRoom(jid, json.dumps(room.dump())))
            elif jid in self._stored:
                self._stored.discard(jid)
                self._write(self.storage.deleteRoom(jid))

    def _bury(self, room: Room) -> None:
        """
        Leave a tombstone in place of a destroyed persistent room, stored
        where the room was.
        """
        reason, newjid = room.destroyedWith
        stone, dropped = self.tombstones.bury(room.jid, reason, newjid)
        self._stored.add(room.jid)
        self._write(self.storage.saveRoom(room.jid, json.dumps(stone.dump())))
        for jid in dropped:
            self._forget(jid)

    def _write(self, d: defer.Deferred[None]) -> None:
        """
        Track a storage write until it is done; log it if it fails.
        """
        self._writes.add(d)

        def done(result: object) -> None:
            self._writes.discard(d)
            if isinstance(result, Failure):
                self._log.failure("{domain}: a storage write failed", result, domain=self.domain)

        d.addBoth(done)

    def mayCreate(self, sender: str) -> bool:
        """
        Whether C{sender} may create rooms (C{restrict_room_creation}).
        """
        restriction = self.options.restrictCreation
        if restriction is None or bareOf(sender) in self.options.admins:
            return True
        if restriction == "local":
            return JID(sender).host == self.options.localDomain
        return False

    def created(self, room: Room) -> None:
        """
        Add a new room to the table; start its lock timer if it is locked.
        """
        self.rooms[room.jid] = room
        if room.locked and self.options.lockTimeout > 0:
            self._lockTimers[room.jid] = self.router.reactor.callLater(
                self.options.lockTimeout, self._lockExpired, room
            )

    def _lockExpired(self, room: Room) -> None:
        """
        A room still locked after C{muc_room_lock_timeout} unlocks, as in
        Prosody (whose lock is a deadline): others may enter it from now on,
        with the configuration it was made with.
        """
        self._lockTimers.pop(room.jid, None)
        if self.rooms.get(room.jid) is room and room.locked:
            room.locked = False


class MUCHandler(subprotocols.XMPPHandler, subprotocols.IQHandlerMixin):
    """
    The wokkel handler of a L{MUCComponent}: presence, messages, the
    C{muc#admin} and C{muc#owner} queries and pings.
    """

    parent: MUCComponent

    iqHandlers = {
        f"/iq[@type='get']/query[@xmlns='{NS_MUC_ADMIN}']": "onAdminGet",
        f"/iq[@type='set']/query[@xmlns='{NS_MUC_ADMIN}']": "onAdminSet",
        f"/iq[@type='get']/query[@xmlns='{NS_MUC_OWNER}']": "onOwnerGet",
        f"/iq[@type='set']/query[@xmlns='{NS_MUC_OWNER}']": "onOwnerSet",
    }

    def handleRequest(self, iq: domish.Element) -> None:
        # A muc#admin or muc#owner query to an occupant is the
        # occupant's: left unhandled here, it is forwarded.
        if not toOccupant(iq):
            super().handleRequest(iq)

    def connectionInitialized(self) -> None:
        self.xmlstream.addObserver("/presence", self.onPresence)
        self.xmlstream.addObserver("/message", self.onMessage)
        for query in self.iqHandlers:
            self.xmlstream.addObserver(query, self.handleRequest)
        # After every other handler (disco, muc_mam): iqs to occupants, pings.
        self.xmlstream.addObserver("/iq[@type='get' or @type='set']", self.onOtherIq, -1)

    # Presence and messages

    def _malformed(self, stanza: domish.Element) -> None:
        """
        A stanza whose C{to} is not a JID (a nick that fails resourceprep,
        such as one with a tab or DEL) from a valid sender gets
        C{jid-malformed}, as Prosody answers it, rather than nothing.
        """
        if preparedJid(stanza.getAttribute("from", "")) is not None:
            self.parent.emit(errorList(stanza, "jid-malformed", "modify", "Not a valid address (or nickname)"))

    def onPresence(self, presence: domish.Element) -> None:
        component = self.parent
        found = addressing(presence)
        if found is None:
            self._malformed(presence)
            return
        _, jid, nick, sender = found
        if jid is None:
            return
        if presence.getAttribute("type") is None and not component.shaper.allow(bareOf(sender), jid):
            component.emit(errorList(presence, "policy-violation", "wait", "Too many presences; slow down"))
            return
        room = component.rooms.get(jid)
        created = False
        if nickTooLong(component.options, room, presence, sender, nick):
            component.emit(tooLongError(presence))
            return
        if room is None:
            if presence.getAttribute("type") is not None:
                return
            if nick is None:
                component.emit(errorList(presence, "jid-malformed", "modify", "A nickname is required to join"))
                return
            if not component.mayCreate(sender):
                component.emit(errorList(presence, "not-allowed", "cancel", "You may not create rooms here"))
                return
            if len(component.rooms) >= component.options.maxRooms:
                component.emit(errorList(presence, "resource-constraint", "wait", "Too many rooms"))
                return
            room = component.newRoom(jid)
            created = True
        elif component.enforceRegisteredNick and nick is not None and presence.getAttribute("type") is None:
            enforced = register.enforcedNick(room, sender, nick)
            if enforced is None:
                component.emit(errorList(presence, "not-acceptable", "cancel", "Use your registered nickname"))
                return
            nick = enforced
        outgoing = room.presence(sender, nick, presence, created=created)
        if created and not room.isEmpty():
            component.created(room)
        component.emit(outgoing)
        if not created or not room.isEmpty():
            component.settle(room)

    def onMessage(self, message: domish.Element) -> None:
        component = self.parent
        found = addressing(message)
        if found is None:
            self._malformed(message)
            return
        _, jid, nick, sender = found
        room = component.rooms.get(jid) if jid is not None else None
        if room is None:
            text = "No such room" if jid is not None else "Send messages to a room"
            component.emit(errorList(message, "item-not-found" if jid else "service-unavailable", "cancel", text))
            return
        component.emit(room.message(sender, nick, message))
        component.settle(room)

    # iq

    def _target(self, iq: domish.Element) -> tuple[Room, str]:
        """
        The room an iq is for (to the room's bare JID) and its sender.

        @raise StanzaError: no such room, or the iq is for an occupant.
        """
        found = addressing(iq)
        if found is None:
            raise StanzaError("jid-malformed", "modify")
        _, jid, nick, sender = found
        if jid is None or nick is not None:
            raise StanzaError("bad-request", "modify", "Send this to a room")
        room = self.parent.rooms.get(jid)
        if room is None:
            raise StanzaError("item-not-found", "cancel", "No such room")
        return room, sender

    # These four run only when their XPath matched a <query/>: the iq has a
    # child.

    def onAdminGet(self, iq: domish.Element) -> domish.Element:
        room, sender = self._target(iq)
        return room.adminGet(sender, cast(domish.Element, firstChild(iq)))

    def onAdminSet(self, iq: domish.Element) -> None:
        room, sender = self._target(iq)
        self._apply(room, room.adminSet(sender, cast(domish.Element, firstChild(iq))))

    def onOwnerGet(self, iq: domish.Element) -> domish.Element:
        room, sender = self._target(iq)
        return room.ownerGet(sender, cast(domish.Element, firstChild(iq)))

    def onOwnerSet(self, iq: domish.Element) -> None:
        room, sender = self._target(iq)
        self._apply(room, room.ownerSet(sender, cast(domish.Element, firstChild(iq))))

    def _apply(self, room: Room, outgoing: list[Outgoing]) -> None:
        self.parent.emit(outgoing)
        self.parent.settle(room)

    def onOtherIq(self, iq: domish.Element) -> None:
        """
        iqs no other handler took: those to occupants (XEP-0410 self-pings
        are answered) and pings to the service or a room.
        """
        if iq.handled:
            return
        found = addressing(iq)
        if found is None:
            iq.handled = True  # type: ignore[attr-defined]  # wokkel's flag, set on the element
            self._malformed(iq)
            return
        _, jid, nick, sender = found
        room = self.parent.rooms.get(jid) if jid is not None else None
        if nick is not None:
            iq.handled = True  # type: ignore[attr-defined]  # wokkel's flag, set on the element
            if room is None:
                self.parent.emit(errorList(iq, "item-not-found", "cancel", "No such room"))
            else:
                self.parent.emit(self.parent.forwarder.request(room, sender, nick, iq))
            return
        payload = firstChild(iq)
        if (jid is None or room is not None) and payload is not None and payload.uri == NS_PING:
            iq.handled = True  # type: ignore[attr-defined]  # wokkel's flag, set on the element
            if iq.getAttribute("type") == "get":
                self.send(element("iq", to=iq.getAttribute("from"), sender=iq.getAttribute("to"), type="result", id=iq.getAttribute("id")))
