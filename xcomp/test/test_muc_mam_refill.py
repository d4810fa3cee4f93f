"""
Tests for L{xcomp.muc.mam}: a persistent room loaded again from its
database file gets its discussion history back from the archive, bounded
as the room's own history is.
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
from xcomp.muc.settings import ServiceOptions
from xcomp.muc.store import SQLiteStore, SynchronousRunner
from xcomp.router import Router
from xcomp.test.mamhelpers import ALICE, BOB, MUC, NS_DELAY, NS_MUC, NS_OWNER, NS_SID, ROOM
from xcomp.testing import ComponentHarness, FakeComponent


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
