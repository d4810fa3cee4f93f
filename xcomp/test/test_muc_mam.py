"""
Tests for L{xcomp.muc.mam}, the C{muc_mam} module, over the in-memory router
of L{xcomp.testing}.
"""

from __future__ import annotations

from typing import Mapping

from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from twisted.words.xish import domish

from xcomp.muc import mam
from xcomp.muc.component import MUCComponent
from xcomp.muc.elements import formatStamp
from xcomp.muc.mam import NS_MAM, RoomArchive, parsePeriod
from xcomp.muc.settings import ServiceOptions
from xcomp.muc.store import ArchiveQuery, SQLiteStore, SynchronousRunner
from xcomp.router import Router
from xcomp.testing import ComponentHarness, FakeComponent, errorOf

MUC = "conference.example.org"
ROOM = f"room@{MUC}"
ALICE = "alice@example.org/a"
BOB = "bob@example.org/b"
NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = NS_MUC + "#user"
NS_OWNER = NS_MUC + "#owner"
NS_RSM = "http://jabber.org/protocol/rsm"
NS_SID = "urn:xmpp:sid:0"
NS_DELAY = "urn:xmpp:delay"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"


def codes(stanza: domish.Element) -> set[str]:
    return {s["code"] for x in stanza.elements(NS_MUC_USER, "x") for s in x.elements(NS_MUC_USER, "status")}


def form(**fields: str | list[str]) -> str:
    """
    A submitted urn:xmpp:mam:2 form.
    """
    body = f"<field var='FORM_TYPE' type='hidden'><value>{NS_MAM}</value></field>"
    for var, value in fields.items():
        values = value if isinstance(value, list) else [value]
        body += f"<field var='{var.replace('_', '-')}'>" + "".join(f"<value>{v}</value>" for v in values) + "</field>"
    return f"<x xmlns='jabber:x:data' type='submit'>{body}</x>"


def rsm(max: int | None = None, after: str | None = None, before: str | None = None) -> str:
    parts = []
    if max is not None:
        parts.append(f"<max>{max}</max>")
    if after is not None:
        parts.append(f"<after>{after}</after>")
    if before is not None:
        parts.append(f"<before>{before}</before>" if before else "<before/>")
    return f"<set xmlns='{NS_RSM}'>{''.join(parts)}</set>"


class MAMTestCase(SynchronousTestCase):
    options: Mapping[str, object] = {}

    def setUp(self) -> None:
        self.harness = ComponentHarness.forPlugin("muc", MUC, self.options, ["muc_mam"])
        self.harness.start()
        self.addCleanup(self.harness.stop)
        self.users = self.harness.external("example.org")
        self.harness.advance(1_000_000)
        self.users.send(f"<presence from='{ALICE}' to='{ROOM}/alice'><x xmlns='{NS_MUC}'/></presence>")
        self.users.send(
            f"<iq type='set' id='c' from='{ALICE}' to='{ROOM}'><query xmlns='{NS_OWNER}'>"
            "<x xmlns='jabber:x:data' type='submit'/></query></iq>"
        )
        self.users.send(f"<presence from='{BOB}' to='{ROOM}/bob'/>")
        self.users.take()

    def say(self, *bodies: str, sender: str = ALICE) -> list[str | None]:
        """
        Send groupchat messages (one second apart); return their stanza ids
        (C{None} for a message that got none).
        """
        ids = []
        for body in bodies:
            self.harness.advance(1)
            self.users.send(f"<message type='groupchat' from='{sender}' to='{ROOM}'><body>{body}</body></message>")
            [echo] = self.users.take(lambda e: e.getAttribute("to") == sender)
            self.users.take()
            marker = next(echo.elements(NS_SID, "stanza-id"), None)
            ids.append(None if marker is None else marker["id"])
        return ids

    def query(self, payload: str = "", sender: str = BOB, queryId: str = "q1") -> tuple[list[str], domish.Element]:
        """
        Query the room's archive: the bodies of the results, and the iq
        that ends the query.
        """
        self.users.send(
            f"<iq type='set' id='mam' from='{sender}' to='{ROOM}'>"
            f"<query xmlns='{NS_MAM}' queryid='{queryId}'>{payload}</query></iq>"
        )
        received = self.users.take(lambda e: e.getAttribute("to") == sender)
        *results, reply = received
        bodies = []
        for message in results:
            result = next(message.elements(NS_MAM, "result"))
            self.assertEqual(result["queryid"], queryId)
            forwarded = next(result.elements("urn:xmpp:forward:0", "forwarded"))
            original = next(forwarded.elements("jabber:client", "message"))
            bodies.append(str(next(original.elements("jabber:client", "body"))))
        return bodies, reply


def fin(reply: domish.Element) -> tuple[bool, list[str], str]:
    """
    (complete, [first, last], count) of a query's end.
    """
    end = next(reply.elements(NS_MAM, "fin"))
    page = next(end.elements(NS_RSM, "set"))
    bounds = [str(e) for e in page.elements() if e.name in ("first", "last")]
    return end.getAttribute("complete") == "true", bounds, str(next(page.elements(NS_RSM, "count")))


class ArchivingTests(MAMTestCase):
    """
    Groupchat messages are archived and stamped.
    """

    def test_stanzaIdAndArchive(self) -> None:
        """
        Every occupant receives the same XEP-0359 stanza id, by the room,
        and the message can be found in the archive under it.
        """
        self.harness.advance(1)
        self.users.send(f"<message type='groupchat' from='{ALICE}' to='{ROOM}'><body>hi</body></message>")
        received = self.users.take()
        ids = {(s["id"], s["by"]) for m in received for s in m.elements(NS_SID, "stanza-id")}
        self.assertEqual(len(received), 2)
        [(stanzaId, by)] = ids
        self.assertEqual(by, ROOM)
        bodies, reply = self.query(form(ids=[stanzaId]))
        self.assertEqual(bodies, ["hi"])

    def test_joinAnnouncesLogging(self) -> None:
        """
        The self-presence in an archived room has status 170, and the room's
        disco#info the mam feature.
        """
        self.users.send(f"<presence from='carol@example.org/c' to='{ROOM}/carol'/>")
        received = self.users.take()
        [presence] = [
            e for e in received
            if e.name == "presence" and (e["from"], e["to"]) == (f"{ROOM}/carol", "carol@example.org/c")
        ]
        self.assertIn("170", codes(presence))
        self.assertIn(NS_MAM, self.features())

    def features(self) -> list[str]:
        """
        The room's disco#info features.
        """
        self.users.send(f"<iq type='get' id='d' from='{BOB}' to='{ROOM}'><query xmlns='{NS_DISCO_INFO}'/></iq>")
        [reply] = self.users.take()
        return [f["var"] for f in next(reply.elements(NS_DISCO_INFO, "query")).elements(NS_DISCO_INFO, "feature")]

    def test_stanzaIdFeature(self) -> None:
        """
        A room whose messages get stanza ids advertises C{urn:xmpp:sid:0}
        (XEP-0359 section 6); one that is not archived does not.
        """
        self.assertIn(NS_SID, self.features())
        self.users.send(
            f"<iq type='set' id='c' from='{ALICE}' to='{ROOM}'><query xmlns='{NS_OWNER}'>"
            "<x xmlns='jabber:x:data' type='submit'>"
            "<field var='muc#roomconfig_enablearchiving'><value>0</value></field></x></query></iq>"
        )
        self.users.take()
        self.assertNotIn(NS_SID, self.features())
        self.assertNotIn(NS_MAM, self.features())

    def test_subjectAndPresenceNotArchived(self) -> None:
        """
        Only messages with a body are archived.
        """
        self.users.send(f"<message type='groupchat' from='{ALICE}' to='{ROOM}'><subject>s</subject></message>")
        self.users.take()
        bodies, reply = self.query()
        self.assertEqual(bodies, [])
        self.assertEqual(fin(reply), (True, [], "0"))

    def test_roomDestroyedDeletesArchive(self) -> None:
        """
        Destroying a room deletes its archive, as Prosody does.
        """
        self.say("one")
        archive = self.archive()
        self.users.send(f"<iq type='set' id='d' from='{ALICE}' to='{ROOM}'><query xmlns='{NS_OWNER}'><destroy/></query></iq>")
        page = self.successResultOf(self.harness.component.store.query(ROOM, ArchiveQuery()))  # type: ignore[attr-defined]
        self.assertEqual((page.count, archive.queued), (0, []))

    def archive(self) -> RoomArchive:
        [extension] = self.harness.component.extensions  # type: ignore[attr-defined]
        return extension

    def test_floodBounded(self) -> None:
        """
        While the database is slow, at most L{mam.MAX_QUEUED} messages
        wait; more are refused with wait/resource-constraint rather than
        held in memory.
        """
        self.patch(mam, "MAX_QUEUED", 3)
        store = self.harness.component.store  # type: ignore[attr-defined]
        stuck: defer.Deferred[None] = defer.Deferred()
        self.patch(store, "append", lambda entries: stuck)
        self.say("1")  # being written
        self.say("2", "3", "4")  # queued
        self.users.send(f"<message type='groupchat' id='x' from='{ALICE}' to='{ROOM}'><body>5</body></message>")
        [error] = self.users.take()
        self.assertEqual(errorOf(error), ("wait", "resource-constraint"))
        self.assertEqual(len(self.archive().queued), 3)


class QueryTests(MAMTestCase):
    """
    XEP-0313 queries with XEP-0059 paging.
    """

    options = {"max_archive_query_results": 3}

    def setUp(self) -> None:
        super().setUp()
        self.start = self.harness.clock.seconds()
        self.ids = self.say("m0", "m1", "m2", "m3")
        self.say("b0", sender=BOB)

    def test_all(self) -> None:
        """
        Without a page size, a query returns up to
        C{max_archive_query_results}, oldest first, and says it is not
        complete.
        """
        bodies, reply = self.query()
        self.assertEqual(bodies, ["m0", "m1", "m2"])
        complete, bounds, count = fin(reply)
        self.assertEqual((complete, bounds, count), (False, [self.ids[0], self.ids[2]], "5"))
        self.assertEqual(next(reply.elements(NS_MAM, "fin"))["queryid"], "q1")

    def test_paging(self) -> None:
        """
        C{<after/>} gives the next page; the last page is complete.
        """
        bodies, reply = self.query(rsm(max=2))
        self.assertEqual(bodies, ["m0", "m1"])
        _, [first, last], _ = fin(reply)
        bodies, reply = self.query(rsm(max=2, after=last))
        self.assertEqual(bodies, ["m2", "m3"])
        _, [_, last], _ = fin(reply)
        bodies, reply = self.query(rsm(max=2, after=last))
        self.assertEqual(bodies, ["b0"])
        self.assertTrue(fin(reply)[0])

    def test_lastPage(self) -> None:
        """
        An empty C{<before/>} gives the last page, in order; C{<before>id}
        the page before it.
        """
        bodies, reply = self.query(rsm(max=2, before=""))
        self.assertEqual(bodies, ["m3", "b0"])
        self.assertFalse(fin(reply)[0])
        first = next(next(next(reply.elements(NS_MAM, "fin")).elements(NS_RSM, "set")).elements(NS_RSM, "first"))
        self.assertEqual(first["index"], "3")
        bodies, reply = self.query(rsm(max=3, before=self.ids[3]))
        self.assertEqual(bodies, ["m0", "m1", "m2"])
        self.assertTrue(fin(reply)[0])

    def test_timeRange(self) -> None:
        """
        C{start} and C{end} select by time.
        """
        stamps = ["1970-01-12T13:46:{:02d}Z".format(41 + n) for n in range(6)]
        bodies, _ = self.query(form(start=stamps[1], end=stamps[2]))
        self.assertEqual(bodies, ["m1", "m2"])

    def test_with(self) -> None:
        """
        C{with} set to an occupant JID selects that nick's messages.
        """
        bodies, _ = self.query(form(**{"with": f"{ROOM}/bob"}))
        self.assertEqual(bodies, ["b0"])

    def test_withRealJidHidden(self) -> None:
        """
        In a semi-anonymous room, filtering by real JID finds nothing for a
        non-moderator (it would reveal who said what).
        """
        bodies, _ = self.query(form(**{"with": "alice@example.org"}))
        self.assertEqual(bodies, [])
        bodies, _ = self.query(form(**{"with": "bob@example.org"}), sender=ALICE)
        self.assertEqual(bodies, ["b0"])

    def test_beforeAndAfterId(self) -> None:
        """
        The extended C{after-id} and C{before-id} fields select a range.
        """
        after, before = self.ids[0], self.ids[3]
        assert after is not None and before is not None
        bodies, _ = self.query(form(after_id=after, before_id=before))
        self.assertEqual(bodies, ["m1", "m2"])

    def test_unknownId(self) -> None:
        """
        An id that is not in the archive gets item-not-found.
        """
        _, reply = self.query(rsm(after="nosuch"))
        self.assertEqual(errorOf(reply), ("cancel", "item-not-found"))

    def test_badTimestamp(self) -> None:
        """
        A malformed timestamp gets bad-request.
        """
        _, reply = self.query(form(start="yesterday"))
        self.assertEqual(errorOf(reply), ("modify", "bad-request"))

    def test_forbidden(self) -> None:
        """
        Outcasts, and non-members of members-only rooms, may not read the
        archive.
        """
        room = self.harness.component.rooms[ROOM]  # type: ignore[attr-defined]
        room.affiliations["eve@example.org"] = "outcast"
        _, reply = self.query(sender="eve@example.org/e")
        self.assertEqual(errorOf(reply), ("auth", "forbidden"))

    def test_form(self) -> None:
        """
        A get returns the query form with the extended fields.
        """
        self.users.send(f"<iq type='get' id='f' from='{BOB}' to='{ROOM}'><query xmlns='{NS_MAM}'/></iq>")
        [reply] = self.users.take()
        fields = [f["var"] for x in next(reply.elements(NS_MAM, "query")).elements() for f in x.elements()]
        for var in ("FORM_TYPE", "with", "start", "end", "before-id", "after-id", "ids"):
            self.assertIn(var, fields)


class OptionTests(MAMTestCase):
    """
    C{muc_log_by_default}, the room form field, and expiry.
    """

    options = {"muc_log_by_default": False, "muc_log_expires_after": 60, "muc_log_cleanup_interval": 30}

    def configure(self, value: str) -> list[domish.Element]:
        self.users.send(
            f"<iq type='set' id='c' from='{ALICE}' to='{ROOM}'><query xmlns='{NS_OWNER}'>"
            "<x xmlns='jabber:x:data' type='submit'>"
            f"<field var='muc#roomconfig_enablearchiving'><value>{value}</value></field></x></query></iq>"
        )
        return [e for e in self.users.take() if e.name == "message"]

    def test_offByDefault(self) -> None:
        """
        With C{muc_log_by_default = false} nothing is archived until the
        owner turns archiving on, which occupants learn with 170 (and 171
        when it is turned off).
        """
        self.say("before")
        self.assertEqual(self.query()[0], [])
        notices = self.configure("1")
        self.assertEqual([codes(n) for n in notices], [{"104", "170"}] * 2)
        self.say("after")
        self.assertEqual(self.query()[0], ["after"])
        self.assertEqual([codes(n) for n in self.configure("0")], [{"104", "171"}] * 2)

    def test_expiry(self) -> None:
        """
        Messages older than C{muc_log_expires_after} are not returned, and
        are removed by the periodic cleanup.
        """
        self.configure("1")
        self.say("old")
        self.harness.advance(45)
        self.say("new")
        self.harness.advance(20)
        self.assertEqual(self.query()[0], ["new"])
        page = self.successResultOf(self.harness.component.store.query(ROOM, ArchiveQuery()))  # type: ignore[attr-defined]
        self.assertEqual([e.stanza.count("new") for e in page.entries], [1])


class HistoryRefillTests(SynchronousTestCase):
    """
    A persistent room loaded again from its database file gets its
    discussion history back from the archive.
    """

    def setUp(self) -> None:
        self.path = FilePath(self.mktemp()).path
        self.now = 1_000_000.0

    def start(self, options: Mapping[str, object], archive: bool = True) -> tuple[ComponentHarness, FakeComponent]:
        """
        Start a C{muc} component (with C{muc_mam} if C{archive}) on the
        database file, its clock where the last one stopped.
        """
        clock = Clock()
        clock.advance(self.now)
        router = Router(clock)
        component = MUCComponent(
            MUC, router, ServiceOptions.fromOptions(MUC, options), store=SQLiteStore(SynchronousRunner(self.path))
        )
        if archive:
            mam.attach(component, options)
        router.addHost(MUC, component.route)
        harness = ComponentHarness(component, router, clock)
        harness.start()
        return harness, harness.external("example.org")

    def talk(self, options: Mapping[str, object], bodies: list[str], archive: bool = True) -> list[float]:
        """
        Alice makes the room persistent and says C{bodies}, one a second;
        the service stops.  Return when each was said.
        """
        harness, users = self.start(options, archive)
        users.send(f"<presence from='{ALICE}' to='{ROOM}/alice'><x xmlns='{NS_MUC}'/></presence>")
        users.send(
            f"<iq type='set' id='c' from='{ALICE}' to='{ROOM}'><query xmlns='{NS_OWNER}'>"
            "<x xmlns='jabber:x:data' type='submit'>"
            "<field var='muc#roomconfig_persistentroom'><value>1</value></field></x></query></iq>"
        )
        stamps = []
        for body in bodies:
            harness.advance(1)
            stamps.append(harness.clock.seconds())
            users.send(f"<message type='groupchat' id='{body}' from='{ALICE}' to='{ROOM}'><body>{body}</body></message>")
        self.now = harness.clock.seconds() + 60
        self.successResultOf(harness.stop())
        return stamps

    def join(self, options: Mapping[str, object], archive: bool = True) -> list[domish.Element]:
        """
        Start again; Bob joins.  Return the history messages he gets (the
        subject, which comes last, excluded).
        """
        harness, users = self.start(options, archive)
        self.addCleanup(harness.stop)
        users.send(f"<presence from='{BOB}' to='{ROOM}/bob'><x xmlns='{NS_MUC}'/></presence>")
        received = users.take(lambda e: e.getAttribute("to") == BOB)
        self.assertEqual(received[-1].firstChildElement().name, "subject")
        return [e for e in received[:-1] if e.name == "message"]

    def test_lastMessagesRefilled(self) -> None:
        """
        A new occupant gets the last C{max_history_messages} messages, in
        order, from their sender, with the time they were sent and the
        room as the delay's C{from}; no more.
        """
        options = {"max_history_messages": 3}
        stamps = self.talk(options, ["m0", "m1", "m2", "m3", "m4"])
        history = self.join(options)
        self.assertEqual([str(m.body) for m in history], ["m2", "m3", "m4"])
        self.assertEqual([m["from"] for m in history], [f"{ROOM}/alice"] * 3)
        self.assertEqual([m.getAttribute("id") for m in history], ["m2", "m3", "m4"])
        delays = [next(m.elements(NS_DELAY, "delay")) for m in history]
        self.assertEqual([d["stamp"] for d in delays], [formatStamp(t) for t in stamps[2:]])
        self.assertEqual({d["from"] for d in delays}, {ROOM})
        self.assertEqual({next(m.elements(NS_SID, "stanza-id"))["by"] for m in history}, {ROOM})

    def test_roomHistoryLength(self) -> None:
        """
        A room whose own history length is shorter gets that many.
        """
        options = {"max_history_messages": 5, "muc_room_default_history_length": 2}
        self.talk(options, ["m0", "m1", "m2"])
        self.assertEqual([str(m.body) for m in self.join(options)], ["m1", "m2"])

    def test_expiredNotRefilled(self) -> None:
        """
        Messages past C{muc_log_expires_after} do not come back.
        """
        options = {"muc_log_expires_after": 100}
        self.talk(options, ["old"])
        self.now += 100
        self.talk(options, ["new"])
        self.assertEqual([str(m.body) for m in self.join(options)], ["new"])

    def test_notArchivedNotRefilled(self) -> None:
        """
        A room that is not archived has nothing to refill from.
        """
        options = {"muc_log_by_default": False}
        self.talk(options, ["m0"])
        self.assertEqual(self.join(options), [])

    def test_refillFails(self) -> None:
        """
        When the archive cannot be read at startup the failure is logged and
        the rooms are used with an empty history.
        """
        self.talk({}, ["m0"])
        self.patch(SQLiteStore, "recent", lambda self, limits, since: defer.fail(OSError("disk on fire")))
        self.assertEqual(self.join({}), [])
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 1)

    def test_withoutArchive(self) -> None:
        """
        Without C{muc_mam} the history is kept in memory only: empty after
        a restart.
        """
        self.talk({}, ["m0"], archive=False)
        self.assertEqual(self.join({}, archive=False), [])


class PeriodTests(SynchronousTestCase):
    """
    L{parsePeriod} reads Prosody's periods.
    """

    def test_periods(self) -> None:
        """
        Numbers are seconds; units d, w, m (30 days), y; "never" is None.
        """
        self.assertEqual(parsePeriod(90), 90)
        self.assertEqual(parsePeriod("1w"), 604800)
        self.assertEqual(parsePeriod("2d"), 172800)
        self.assertEqual(parsePeriod("1m"), 30 * 86400)
        self.assertIsNone(parsePeriod("never"))
        self.assertRaises(ValueError, parsePeriod, "soon")
        self.assertRaises(ValueError, parsePeriod, 0)
