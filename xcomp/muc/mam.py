# -*- test-case-name: xcomp.test.test_muc_mam,xcomp.test.test_muc_mam_query,xcomp.test.test_muc_mam_refill -*-
"""
The C{muc_mam} module: XEP-0313 archives for the rooms of a C{muc}
component, with Prosody's options (C{muc_log_by_default},
C{muc_log_all_rooms}, C{muc_log_expires_after},
C{max_archive_query_results}, C{muc_log_cleanup_interval}).

L{RoomArchive} is the room extension: it stamps each groupchat message with
a XEP-0359 stanza id, queues it for the database (bounded, written in
batches) and adds the C{muc#roomconfig_enablearchiving} field.
L{MAMHandler} answers C{urn:xmpp:mam:2} queries with XEP-0059 paging.
"""

from __future__ import annotations

import secrets
from typing import Mapping, NoReturn, Sequence

import attrs
from twisted.internet import defer, task
from twisted.python.failure import Failure
from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.protocols.jabber.jid import InvalidFormat, JID
from twisted.words.xish import domish
from zope.interface import implementer

from xcomp.interfaces import IRoomExtension
from xcomp.muc.component import MUCComponent
from xcomp.muc.elements import NS_DELAY, NS_STANZA_ID, child, element, formatStamp, parseStamp, serialise, toOccupant
from xcomp.muc.options import parsePeriod
from xcomp.muc.settings import OptionReader, asBoolean, asInteger
from xcomp.muc.state import Occupant, RoomState, rank
from xcomp.muc.retraction import NS_MODERATE, NS_MODERATE_0, ModerationHandler
from xcomp.muc.store import ArchiveEntry, ArchivePage, ArchiveQuery, ItemNotFound
from xcomp.plugin import Logger, data_form, subprotocols

NS_MAM = "urn:xmpp:mam:2"
NS_MAM_EXTENDED = NS_MAM + "#extended"
NS_RSM = "http://jabber.org/protocol/rsm"
NS_FORWARD = "urn:xmpp:forward:0"
NS_CLIENT = "jabber:client"
ENABLE_FIELD = "muc#roomconfig_enablearchiving"

#: Page size when a query does not ask for one (Prosody's).
DEFAULT_PAGE = 20
#: The most messages waiting to be written; beyond it, groupchat messages
#: to archived rooms are refused with wait/resource-constraint.
MAX_QUEUED = 10000
#: The most bytes waiting to be written.
MAX_QUEUED_BYTES = 16 * 1024 * 1024

@attrs.frozen(kw_only=True)
class ArchiveOptions:
    """
    The options of C{muc_mam}.

    @ivar byDefault: C{muc_log_by_default}: new rooms are archived.
    @ivar allRooms: C{muc_log_all_rooms}: every room is archived, and the
        room form has no archiving field.
    @ivar expiresAfter: C{muc_log_expires_after}, seconds, or C{None}.
    @ivar maxResults: C{max_archive_query_results}, the largest page.
    @ivar cleanupInterval: C{muc_log_cleanup_interval}, seconds between
        removals of expired messages.
    """

    byDefault: bool = True
    allRooms: bool = False
    expiresAfter: int | None = 7 * 86400
    maxResults: int = 50
    cleanupInterval: int = 4 * 3600

    @classmethod
    def fromOptions(cls, options: Mapping[str, object]) -> ArchiveOptions:
        """
        @raise ValueError: an option has an unusable value.
        """
        read = OptionReader(options)
        return cls(
            byDefault=read("muc_log_by_default", True, asBoolean),
            allRooms=read("muc_log_all_rooms", False, asBoolean),
            expiresAfter=read("muc_log_expires_after", 7 * 86400, parsePeriod),
            maxResults=read("max_archive_query_results", 50, asInteger(1)),
            cleanupInterval=read("muc_log_cleanup_interval", 4 * 3600, asInteger(1)),
        )


def attach(component: object, options: Mapping[str, object]) -> None:
    """
    The C{muc_mam} module's entry point (L{xcomp.interfaces.IComponentModule}).

    @raise ValueError: an option has an unusable value.
    """
    if not isinstance(component, MUCComponent):
        raise ValueError("muc_mam extends muc components only")
    archive = RoomArchive(component, ArchiveOptions.fromOptions(options))
    component.addExtension(archive)
    MAMHandler(archive).setHandlerParent(component)
    ModerationHandler(archive).setHandlerParent(component)


@implementer(IRoomExtension)
class RoomArchive:
    """
    What C{muc_mam} adds to each room of one component.

    @ivar queued: entries waiting to be written, oldest first.
    """

    _log = Logger()

    def __init__(self, component: MUCComponent, options: ArchiveOptions) -> None:
        self.component = component
        self.options = options
        self.queued: list[ArchiveEntry] = []
        self._queuedBytes = 0
        self._writing: defer.Deferred[None] | None = None
        self._waiters: list[defer.Deferred[None]] = []

    def enabled(self, room: RoomState) -> bool:
        """
        Whether C{room}'s messages are archived.
        """
        if self.options.allRooms:
            return True
        value = room.extra.get("archiving")
        return value if isinstance(value, bool) else self.options.byDefault

    # IRoomExtension

    def configFields(self, room: RoomState) -> list[data_form.Field]:
        if self.options.allRooms:
            return []
        return [data_form.Field("boolean", ENABLE_FIELD, self.enabled(room), label="Archive messages")]

    def configure(self, room: RoomState, values: Mapping[str, list[str]]) -> set[str]:
        submitted = values.get(ENABLE_FIELD)
        if self.options.allRooms or not submitted:
            return set()
        if submitted[0] not in ("1", "true", "0", "false"):
            raise StanzaError("not-acceptable", "modify", f"{ENABLE_FIELD}: not a boolean")
        enabled = submitted[0] in ("1", "true")
        if enabled == self.enabled(room):
            return set()
        room.extra["archiving"] = enabled
        return {"170" if enabled else "171"}

    def joinStatusCodes(self, room: RoomState) -> set[str]:
        return {"170"} if self.enabled(room) else set()

    def features(self, room: RoomState) -> list[str]:
        # The archived messages carry the room's XEP-0359 stanza ids, which
        # an entity that adds them advertises (XEP-0359 section 6).
        return [NS_MAM, NS_MAM_EXTENDED, NS_STANZA_ID, NS_MODERATE, NS_MODERATE_0] if self.enabled(room) else []

    def groupchat(self, room: RoomState, message: domish.Element, occupant: Occupant) -> None:
        if not self.enabled(room) or child(message, message.uri, "body") is None:
            return
        if len(self.queued) >= MAX_QUEUED or self._queuedBytes >= MAX_QUEUED_BYTES:
            raise StanzaError("resource-constraint", "wait", "The archive is busy; try again shortly")
        stanzaId = secrets.token_urlsafe(12)
        marker = message.addElement((NS_STANZA_ID, "stanza-id"))
        marker["id"], marker["by"] = stanzaId, room.jid
        stanza = serialise(message).decode("utf-8")
        now = self.component.router.reactor.seconds()
        self.queued.append(ArchiveEntry(room.jid, stanzaId, now, occupant.nick, occupant.occupantId, occupant.bare, stanza))
        self._queuedBytes += len(stanza)
        self.flush()

    def destroyed(self, room: RoomState) -> None:
        self.flush()
        self.component._write(self.component.storage.deleteArchive(room.jid))

    def restore(self, rooms: Sequence[RoomState]) -> defer.Deferred[None]:
        """
        Refill the discussion history of the archived C{rooms} from the
        archive (as Prosody's C{mod_muc_mam} does): the last messages that
        have not expired, as many as each room's history keeps.
        """
        store = self.component.store
        archived = {room.jid: room for room in rooms if self.enabled(room) and room.historyLimit() > 0}
        if store is None or not archived:
            return defer.succeed(None)
        since = None
        if self.options.expiresAfter is not None:
            since = self.component.router.reactor.seconds() - self.options.expiresAfter
        limits = {jid: room.historyLimit() for jid, room in archived.items()}

        def refill(found: dict[str, list[ArchiveEntry]]) -> None:
            for jid, entries in found.items():
                room = archived[jid]
                room.history.refill(((e.stamp, e.stanza.encode("utf-8")) for e in entries), room.historyLimit())

        return store.recent(limits, since).addCallback(refill)

    # Writing

    def flush(self) -> None:
        """
        Write what is queued, one batch at a time.
        """
        if self._writing is not None or not self.queued or self.component.store is None:
            return
        batch, self.queued, self._queuedBytes = self.queued, [], 0
        d = self.component.store.append(batch)
        self._writing = d

        def written(result: object) -> None:
            self._writing = None
            if isinstance(result, Failure):
                self._log.failure("Archiving {count} messages failed", result, count=len(batch))
            self.flush()
            if self._writing is None:
                waiters, self._waiters = self._waiters, []
                for waiter in waiters:
                    waiter.callback(None)

        d.addBoth(written)
        self.component._write(d)

    def pending(self) -> defer.Deferred[None]:
        """
        Fire when everything queued so far is written.
        """
        self.flush()
        if self._writing is None:
            return defer.succeed(None)
        waiter: defer.Deferred[None] = defer.Deferred()
        self._waiters.append(waiter)
        return waiter

    def expire(self) -> defer.Deferred[int]:
        """
        Remove messages older than C{muc_log_expires_after}.
        """
        if self.options.expiresAfter is None or self.component.store is None:
            return defer.succeed(0)
        before = self.component.router.reactor.seconds() - self.options.expiresAfter
        return self.component.store.expire(before)


class MAMHandler(subprotocols.XMPPHandler, subprotocols.IQHandlerMixin):
    """
    Answers C{urn:xmpp:mam:2} queries to rooms, and removes expired
    messages every C{muc_log_cleanup_interval}.
    """

    _log = Logger()

    iqHandlers = {
        f"/iq[@type='get']/query[@xmlns='{NS_MAM}']": "onFormRequest",
        f"/iq[@type='set']/query[@xmlns='{NS_MAM}']": "onQuery",
    }

    def __init__(self, archive: RoomArchive) -> None:
        super().__init__()
        self.archive = archive
        self._cleanup: task.LoopingCall | None = None

    def handleRequest(self, iq: domish.Element) -> None:
        # A MAM query to an occupant is the occupant's: it is forwarded.
        if not toOccupant(iq):
            super().handleRequest(iq)

    def connectionInitialized(self) -> None:
        for query in self.iqHandlers:
            self.xmlstream.addObserver(query, self.handleRequest)
        if self.archive.options.expiresAfter is not None:
            self._cleanup = task.LoopingCall(self._expire)
            self._cleanup.clock = self.archive.component.router.reactor
            self._cleanup.start(self.archive.options.cleanupInterval, now=True)

    def connectionLost(self, reason: object) -> None:
        if self._cleanup is not None and self._cleanup.running:
            self._cleanup.stop()
        super().connectionLost(reason)

    def _expire(self) -> defer.Deferred[object]:
        """
        One cleanup run; a failure is logged and the next run still happens.
        """

        def failed(failure: Failure) -> None:
            self._log.failure("Removing expired archive entries failed", failure)

        return self.archive.expire().addErrback(failed)

    def onFormRequest(self, iq: domish.Element) -> domish.Element:
        query = domish.Element((NS_MAM, "query"))
        query.addChild(_queryForm().toElement())
        return query

    def onQuery(self, iq: domish.Element) -> defer.Deferred[domish.Element]:
        component = self.archive.component
        request = next(iq.elements(NS_MAM, "query"))
        try:
            target = JID(iq.getAttribute("to", ""))
            sender = JID(iq.getAttribute("from", ""))
        except (InvalidFormat, UnicodeError):
            raise StanzaError("jid-malformed", "modify") from None
        if target.user is None or target.resource is not None:
            raise StanzaError("service-unavailable", "cancel", "Query a room's archive")
        room = component.rooms.get(target.userhost())
        if room is None:
            raise StanzaError("item-not-found", "cancel", "No such room")
        affiliation = room.affiliation(sender.full())
        if affiliation == "outcast" or (room.config.membersOnly and rank(affiliation) < rank("member")):
            raise StanzaError("forbidden", "auth", "You may not read this room's archive")
        query = self._parse(room, sender.full(), request)
        queryId = request.getAttribute("queryid")

        def send(page: ArchivePage) -> domish.Element:
            for entry in page.entries:
                self.send(_result(iq, room.jid, queryId, entry))
            return _fin(queryId, page)

        def notFound(failure: Failure) -> NoReturn:
            failure.trap(ItemNotFound)
            raise StanzaError("item-not-found", "cancel", "No message has that id")

        d = self.archive.pending().addCallback(lambda _: component.storage.query(room.jid, query))
        return d.addCallbacks(send, notFound)

    def _parse(self, room: RoomState, sender: str, request: domish.Element) -> ArchiveQuery:
        """
        The filters and page of a query.

        @raise StanzaError: a field or the page is unusable (bad-request).
        """
        options = self.archive.options
        values: dict[str, list[str]] = {}
        form = child(request, data_form.NS_X_DATA, "x")
        if form is not None:
            parsed = data_form.Form.fromElement(form)
            if parsed.formNamespace not in (NS_MAM, None):
                raise StanzaError("bad-request", "modify", "Unknown form")
            values = {var: [str(v) for v in field.values] for var, field in parsed.fields.items()}
        start = _stamp(values, "start")
        end = _stamp(values, "end")
        if options.expiresAfter is not None:
            oldest = self.archive.component.router.reactor.seconds() - options.expiresAfter
            start = oldest if start is None else max(start, oldest)
        nick = jid = None
        ids: tuple[str, ...] | None = None
        if values.get("with"):
            try:
                withJid = JID(values["with"][0])
            except (InvalidFormat, UnicodeError):
                raise StanzaError("bad-request", "modify", "with: not a JID") from None
            occupant = room.occupantByJid(sender)
            if withJid.userhost() == room.jid and withJid.resource:
                nick = withJid.resource
            elif room.config.whois == "anyone" or (occupant is not None and occupant.role == "moderator"):
                jid = withJid.userhost()
            else:
                ids = ()  # real JIDs are hidden from this requester
        if values.get("ids"):
            ids = tuple(values["ids"][: options.maxResults]) if ids is None else ids
        rsm = child(request, NS_RSM, "set")
        size = DEFAULT_PAGE
        after = before = None
        if rsm is not None:
            maximum = child(rsm, NS_RSM, "max")
            if maximum is not None:
                if not str(maximum).strip().isdigit():
                    raise StanzaError("bad-request", "modify", "max: not a number")
                size = int(str(maximum))
            afterElement = child(rsm, NS_RSM, "after")
            beforeElement = child(rsm, NS_RSM, "before")
            after = str(afterElement) if afterElement is not None else None
            before = str(beforeElement) if beforeElement is not None else None
        return ArchiveQuery(
            start=start,
            end=end,
            nick=nick,
            jid=jid,
            afterId=_single(values, "after-id"),
            beforeId=_single(values, "before-id"),
            ids=ids,
            max=min(size, options.maxResults),
            after=after or None,
            before=before,
        )


def _single(values: Mapping[str, list[str]], var: str) -> str | None:
    submitted = values.get(var)
    return submitted[0] if submitted and submitted[0] else None


def _stamp(values: Mapping[str, list[str]], var: str) -> float | None:
    value = _single(values, var)
    if value is None:
        return None
    try:
        return parseStamp(value)
    except ValueError:
        raise StanzaError("bad-request", "modify", f"{var}: not a timestamp") from None


def _queryForm() -> data_form.Form:
    """
    The C{urn:xmpp:mam:2} query form, with XEP-0313's extended fields.
    """
    return data_form.Form(
        "form",
        formNamespace=NS_MAM,
        fields=[
            data_form.Field("jid-single", "with"),
            data_form.Field("text-single", "start"),
            data_form.Field("text-single", "end"),
            data_form.Field("text-single", "before-id"),
            data_form.Field("text-single", "after-id"),
            data_form.Field("list-multi", "ids"),
        ],
    )


def _result(iq: domish.Element, room: str, queryId: str | None, entry: ArchiveEntry) -> domish.Element:
    """
    One result message: the archived message, forwarded with its time.
    """
    message = element("message", to=iq.getAttribute("from"), sender=room)
    result = message.addElement((NS_MAM, "result"))
    if queryId is not None:
        result["queryid"] = queryId
    result["id"] = entry.id
    forwarded = result.addElement((NS_FORWARD, "forwarded"))
    forwarded.addElement((NS_DELAY, "delay"))["stamp"] = formatStamp(entry.stamp)
    # The stored bytes are in the component namespace; a forwarded stanza is
    # in jabber:client.
    stored = entry.stanza
    forwarded.addRawXml(f"<message xmlns='{NS_CLIENT}'" + stored[len("<message"):])
    return message


def _fin(queryId: str | None, page: ArchivePage) -> domish.Element:
    """
    The C{<fin/>} that ends a query, with the XEP-0059 page description.
    """
    fin = domish.Element((NS_MAM, "fin"))
    if queryId is not None:
        fin["queryid"] = queryId
    if page.complete:
        fin["complete"] = "true"
    rsm = fin.addElement((NS_RSM, "set"))
    if page.entries:
        first = rsm.addElement("first", content=page.entries[0].id)
        first["index"] = str(page.index)
        rsm.addElement("last", content=page.entries[-1].id)
    rsm.addElement("count", content=str(page.count))
    return fin
