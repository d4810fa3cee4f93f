"""
Tombstones (C{muc_tombstones}, C{muc_tombstone_expiry}): a destroyed
persistent room answers C{gone}, as Prosody's mod_muc does; over the
in-memory router, and across a restart on a SQLite file.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from xcomp.muc.component import MUCComponent
from xcomp.muc.settings import ServiceOptions
from xcomp.muc.store import SQLiteStore, SynchronousRunner
from xcomp.router import Router
from xcomp.test.muchelpers import codes
from xcomp.test.test_muc_options import ADMIN, ALICE, BOB, MUC, NS_MUC, NS_OWNER, ROOM, OptionsTestCase, goneText
from xcomp.testing import ComponentHarness, FakeComponent, errorOf


class TombstoneTests(OptionsTestCase):
    """
    C{muc_tombstones} and C{muc_tombstone_expiry}: a destroyed persistent
    room answers C{gone}, as Prosody's mod_muc does.
    """

    options = {"muc_tombstone_expiry": 3600, "admins": ("boss@example.org",)}

    def destroy(self, persistent: str = "1", reason: str = "Moved", alternate: str = f"new@{MUC}") -> None:
        self.instantRoom(persistentroom=persistent)
        venue = f" jid='{alternate}'" if alternate else ""
        reply = self.iq(ALICE, "set", ROOM, f"<query xmlns='{NS_OWNER}'><destroy{venue}><reason>{reason}</reason></destroy></query>")
        self.assertEqual(reply["type"], "result")
        self.users.take()

    def test_goneWithVenue(self) -> None:
        """
        A join, a message and an iq to a destroyed persistent room get
        C{cancel}/C{gone}, with the owner's reason as the text and the
        alternate venue as C{xmpp:JID?join}; the room is not made again.
        """
        self.destroy()
        [error] = self.join(BOB, "bob")
        self.assertEqual(errorOf(error), ("cancel", "gone"))
        self.assertEqual(goneText(error), ("Moved", f"xmpp:new@{MUC}?join"))
        self.assertNotIn(ROOM, self.component.rooms)
        self.users.send(f"<message type='groupchat' id='m' from='{BOB}' to='{ROOM}'><body>hi</body></message>")
        [bounced] = self.users.take()
        self.assertEqual(errorOf(bounced), ("cancel", "gone"))
        reply = self.iq(BOB, "get", ROOM, "<query xmlns='http://jabber.org/protocol/disco#info'/>")
        self.assertEqual(errorOf(reply), ("cancel", "gone"))

    def test_errorsNotAnswered(self) -> None:
        """
        An error stanza to a tombstone is not answered.
        """
        self.destroy()
        self.users.send(f"<message type='error' from='{BOB}' to='{ROOM}/x'><error type='cancel'/></message>")
        self.assertEqual(self.users.take(), [])

    def test_expires(self) -> None:
        """
        After C{muc_tombstone_expiry} seconds the room can be made again.
        """
        self.destroy(alternate="")
        self.harness.advance(3599)
        [error] = self.join(BOB, "bob")
        self.assertEqual(goneText(error), ("Moved", ""))
        self.harness.advance(1)
        [presence, _] = self.join(BOB, "bob")
        self.assertIn("201", codes(presence))

    def test_adminRecreates(self) -> None:
        """
        A service admin's join makes the room again at once.
        """
        self.destroy()
        [presence, _] = self.join(ADMIN, "boss")
        self.assertIn("201", codes(presence))
        self.assertIn(ROOM, self.component.rooms)

    def test_temporaryRoomsLeaveNone(self) -> None:
        """
        A temporary room leaves no tombstone.
        """
        self.destroy(persistent="0")
        [presence, _] = self.join(BOB, "bob")
        self.assertIn("201", codes(presence))

    def test_off(self) -> None:
        """
        C{muc_tombstones = false}: a destroyed room can be made again at once.
        """
        self.start({"muc_tombstones": False})
        self.destroy()
        [presence, _] = self.join(BOB, "bob")
        self.assertIn("201", codes(presence))

    def test_bounded(self) -> None:
        """
        There are never more tombstones than C{muc_max_rooms}: the oldest
        goes first.
        """
        self.start({"muc_max_rooms": 2})
        for name in ("r1", "r2", "r3"):
            room = f"{name}@{MUC}"
            self.instantRoom(room=room, persistentroom="1")
            self.iq(ALICE, "set", room, f"<query xmlns='{NS_OWNER}'><destroy/></query>")
            self.users.take()
        self.assertEqual(len(self.component.tombstones), 2)
        self.assertIn("201", codes(self.join(BOB, "bob", f"r1@{MUC}")[0]))
        self.assertEqual(errorOf(self.join(BOB, "bob", f"r3@{MUC}")[0]), ("cancel", "gone"))


class TombstoneStorageTests(SynchronousTestCase):
    """
    Tombstones are stored where the room was, and outlive a restart.
    """

    def setUp(self) -> None:
        self.path = FilePath(self.mktemp()).path

    def start(self) -> tuple[ComponentHarness, FakeComponent]:
        clock = Clock()
        router = Router(clock)
        component = MUCComponent(MUC, router, ServiceOptions.fromOptions(MUC, {}), store=SQLiteStore(SynchronousRunner(self.path)))
        router.addHost(MUC, component.route)
        harness = ComponentHarness(component, router, clock)
        harness.start()
        return harness, harness.external("example.org")

    def test_survivesRestart(self) -> None:
        """
        After a restart, the destroyed persistent room still answers
        C{gone} with its reason.
        """
        harness, users = self.start()
        users.send(f"<presence from='{ALICE}' to='{ROOM}/a'><x xmlns='{NS_MUC}'/></presence>")
        users.send(
            f"<iq type='set' id='c' from='{ALICE}' to='{ROOM}'><query xmlns='{NS_OWNER}'><x xmlns='jabber:x:data' type='submit'>"
            "<field var='muc#roomconfig_persistentroom'><value>1</value></field></x></query></iq>"
        )
        users.send(f"<iq type='set' id='d' from='{ALICE}' to='{ROOM}'><query xmlns='{NS_OWNER}'><destroy><reason>Closed</reason></destroy></query></iq>")
        self.successResultOf(harness.stop())
        harness, users = self.start()
        self.addCleanup(harness.stop)
        self.assertEqual(harness.component.rooms, {})  # type: ignore[attr-defined]
        users.send(f"<presence from='{BOB}' to='{ROOM}/b'><x xmlns='{NS_MUC}'/></presence>")
        [error] = users.take()
        self.assertEqual(errorOf(error), ("cancel", "gone"))
        self.assertEqual(goneText(error)[0], "Closed")
