"""
Protocol tests for the C{muc} component (L{xcomp.muc.component}) over the
in-memory router of L{xcomp.testing}: what external components see when
they talk to it.
"""

from __future__ import annotations

import ast
from typing import Mapping

import attrs

from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from twisted.words.xish import domish

from xcomp.muc.component import MUCComponent
from xcomp.muc.settings import ServiceOptions
from xcomp.muc.store import SQLiteStore, SynchronousRunner
from xcomp.router import Router
from xcomp.testing import ComponentHarness, FakeComponent, errorOf
from xcomp.test.muchelpers import codes

MUC = "conference.example.org"
ROOM = f"room@{MUC}"
NS_MUC = "http://jabber.org/protocol/muc"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
NS_OWNER = NS_MUC + "#owner"
NS_ADMIN = NS_MUC + "#admin"



class MUCTestCase(SynchronousTestCase):
    options: Mapping[str, object] = {}

    def setUp(self) -> None:
        self.harness = ComponentHarness.forPlugin("muc", MUC, self.options)
        self.harness.start()
        self.addCleanup(self.harness.stop)
        self.users = self.harness.external("example.org")
        self.component: MUCComponent = self.harness.component  # type: ignore[assignment]

    def join(self, user: str, nick: str, room: str = ROOM, muc: bool = True) -> list[domish.Element]:
        x = f"<x xmlns='{NS_MUC}'/>" if muc else ""
        self.users.send(f"<presence from='{user}' to='{room}/{nick}'>{x}</presence>")
        return self.users.take(lambda e: e.getAttribute("to") == user)

    def iq(self, user: str, type: str, to: str, payload: str) -> domish.Element:
        self.users.send(f"<iq type='{type}' id='q' from='{user}' to='{to}'>{payload}</iq>")
        [reply] = self.users.take(lambda e: e.name == "iq" and e.getAttribute("to") == user)
        return reply

    def instantRoom(self, owner: str = "alice@example.org/a", room: str = ROOM) -> None:
        self.join(owner, "owner", room)
        reply = self.iq(owner, "set", room, f"<query xmlns='{NS_OWNER}'><x xmlns='jabber:x:data' type='submit'/></query>")
        assert reply["type"] == "result", reply.toXml()
        self.users.take()


class RoomLifeTests(MUCTestCase):
    """
    Rooms are made on first join, locked until configured, and dropped
    when empty unless persistent.
    """

    def test_createAndTalk(self) -> None:
        """
        Two users meet in a new room and a groupchat message reaches both.
        """
        self.instantRoom("alice@example.org/a")
        self.join("bob@example.org/b", "bob")
        self.users.take()
        self.users.send(
            f"<message type='groupchat' id='g1' from='bob@example.org/b' to='{ROOM}'><body>hello</body></message>"
        )
        received = self.users.take()
        self.assertEqual(sorted(m["to"] for m in received), ["alice@example.org/a", "bob@example.org/b"])
        self.assertTrue(all(m["from"] == f"{ROOM}/bob" for m in received))

    def test_lockedUntilConfigured(self) -> None:
        """
        Others cannot enter a new room until its owner submits the form.
        """
        [presence, _] = self.join("alice@example.org/a", "alice")
        self.assertEqual(codes(presence), {"110", "201"})
        [error] = self.join("bob@example.org/b", "bob")
        self.assertEqual(errorOf(error), ("cancel", "item-not-found"))
        self.iq("alice@example.org/a", "set", ROOM, f"<query xmlns='{NS_OWNER}'><x xmlns='jabber:x:data' type='submit'/></query>")
        self.assertEqual(len(self.join("bob@example.org/b", "bob")), 3)

    def test_lockTimeout(self) -> None:
        """
        A room still locked after C{muc_room_lock_timeout} unlocks, as in
        Prosody (whose lock is a deadline): others may enter from then on.
        """
        self.join("alice@example.org/a", "alice")
        self.harness.advance(299)
        [error] = self.join("bob@example.org/b", "bob")
        self.assertEqual(errorOf(error), ("cancel", "item-not-found"))
        self.harness.advance(1)
        self.assertIn(ROOM, self.component.rooms)
        self.assertFalse(self.component.rooms[ROOM].locked)
        self.assertEqual(len(self.join("bob@example.org/b", "bob")), 3)

    def test_temporaryRoomDropped(self) -> None:
        """
        A temporary room is gone when its last occupant leaves.
        """
        self.instantRoom()
        self.users.send(f"<presence type='unavailable' from='alice@example.org/a' to='{ROOM}/owner'/>")
        self.assertNotIn(ROOM, self.component.rooms)

    def test_noSuchRoom(self) -> None:
        """
        A message to a room that does not exist gets item-not-found; a
        presence without a nick, jid-malformed.
        """
        self.users.send(f"<message type='groupchat' from='a@example.org/a' to='{ROOM}'><body>x</body></message>")
        self.assertEqual(errorOf(self.users.take()[0]), ("cancel", "item-not-found"))
        self.users.send(f"<presence from='a@example.org/a' to='{ROOM}'/>")
        self.assertEqual(errorOf(self.users.take()[0]), ("modify", "jid-malformed"))

    def test_kickThroughAdminQuery(self) -> None:
        """
        A muc#admin kick is answered with a result and the presences.
        """
        self.instantRoom()
        self.join("bob@example.org/b", "bob")
        self.users.take()
        reply = self.iq("alice@example.org/a", "set", ROOM, f"<query xmlns='{NS_ADMIN}'><item nick='bob' role='none'/></query>")
        self.assertEqual(reply["type"], "result")
        [kicked] = self.users.take(lambda e: e.getAttribute("to") == "bob@example.org/b")
        self.assertIn("307", codes(kicked))

    def test_adminQueryErrors(self) -> None:
        """
        Refusals from the room come back as iq errors.
        """
        self.instantRoom()
        self.join("bob@example.org/b", "bob")
        reply = self.iq("bob@example.org/b", "get", ROOM, f"<query xmlns='{NS_OWNER}'/>")
        self.assertEqual(errorOf(reply), ("auth", "forbidden"))
        reply = self.iq("bob@example.org/b", "get", f"nosuch@{MUC}", f"<query xmlns='{NS_ADMIN}'><item affiliation='member'/></query>")
        self.assertEqual(errorOf(reply), ("cancel", "item-not-found"))

    def test_pings(self) -> None:
        """
        Pings to the service and to one's own occupant JID are answered;
        other iqs to occupants are forwarded (L{xcomp.muc.occupantiq}),
        even to oneself.
        """
        self.instantRoom()
        self.assertEqual(self.iq("alice@example.org/a", "get", MUC, "<ping xmlns='urn:xmpp:ping'/>")["type"], "result")
        self.assertEqual(self.iq("alice@example.org/a", "get", f"{ROOM}/owner", "<ping xmlns='urn:xmpp:ping'/>")["type"], "result")
        reply = self.iq("alice@example.org/a", "get", f"{ROOM}/owner", "<query xmlns='jabber:iq:version'/>")
        self.assertEqual((reply["type"], reply["from"]), ("get", f"{ROOM}/owner"))
        reply = self.iq("alice@example.org/a", "get", ROOM, "<query xmlns='jabber:iq:last'/>")
        self.assertEqual(errorOf(reply), ("cancel", "service-unavailable"))


class CreationLimitTests(MUCTestCase):
    """
    C{restrict_room_creation} and C{muc_max_rooms}.
    """

    options = {"restrict_room_creation": "local", "admins": ("boss@elsewhere.org",), "muc_max_rooms": 2}

    def test_restricted(self) -> None:
        """
        With C{"local"}, users of the parent domain and admins create rooms;
        others get not-allowed.
        """
        outsider = self.harness.external("elsewhere.org")
        outsider.send(f"<presence from='eve@elsewhere.org/e' to='{ROOM}/eve'/>")
        self.assertEqual(errorOf(outsider.take()[0]), ("cancel", "not-allowed"))
        outsider.send(f"<presence from='boss@elsewhere.org/e' to='{ROOM}/boss'/>")
        self.assertIn(ROOM, self.component.rooms)
        self.join("alice@example.org/a", "alice", f"other@{MUC}")
        self.assertIn(f"other@{MUC}", self.component.rooms)

    def test_maxRooms(self) -> None:
        """
        Past C{muc_max_rooms}, creating a room gets resource-constraint.
        """
        self.join("alice@example.org/a", "a", f"one@{MUC}")
        self.join("alice@example.org/a", "a", f"two@{MUC}")
        [error] = self.join("alice@example.org/a", "a", f"three@{MUC}")
        self.assertEqual(errorOf(error), ("wait", "resource-constraint"))


class DiscoTests(MUCTestCase):
    """
    Service discovery on the service and on rooms.
    """

    options = {"name": "Chat here", "muc_room_default_public": True}

    def test_serviceInfo(self) -> None:
        """
        The service is a conference service named by C{name}.
        """
        reply = self.iq("a@example.org/a", "get", MUC, f"<query xmlns='{NS_DISCO_INFO}'/>")
        query = next(reply.elements(NS_DISCO_INFO, "query"))
        [identity] = query.elements(NS_DISCO_INFO, "identity")
        self.assertEqual((identity["category"], identity["type"], identity["name"]), ("conference", "text", "Chat here"))
        self.assertIn(NS_MUC, [f["var"] for f in query.elements(NS_DISCO_INFO, "feature")])

    def test_serviceItems(self) -> None:
        """
        disco#items lists public, unlocked rooms only.
        """
        self.instantRoom(room=f"open@{MUC}")
        self.instantRoom(room=f"secret@{MUC}")
        hidden = self.component.rooms[f"secret@{MUC}"]
        hidden.config = attrs.evolve(hidden.config, public=False)
        self.join("alice@example.org/a", "a", f"locked@{MUC}")
        reply = self.iq("a@example.org/a", "get", MUC, f"<query xmlns='{NS_DISCO_ITEMS}'/>")
        items = [i["jid"] for i in next(reply.elements(NS_DISCO_ITEMS, "query")).elements(NS_DISCO_ITEMS, "item")]
        self.assertEqual(items, [f"open@{MUC}"])

    def test_roomInfo(self) -> None:
        """
        A room's disco#info has its features and the muc#roominfo form; a
        locked room is hidden from all but its owners.
        """
        self.instantRoom()
        reply = self.iq("b@example.org/b", "get", ROOM, f"<query xmlns='{NS_DISCO_INFO}'/>")
        query = next(reply.elements(NS_DISCO_INFO, "query"))
        features = [f["var"] for f in query.elements(NS_DISCO_INFO, "feature")]
        self.assertIn("muc_semianonymous", features)
        [form] = query.elements("jabber:x:data", "x")
        self.assertEqual(form["type"], "result")
        self.join("alice@example.org/a", "a", f"locked@{MUC}")
        reply = self.iq("b@example.org/b", "get", f"locked@{MUC}", f"<query xmlns='{NS_DISCO_INFO}'/>")
        self.assertEqual(errorOf(reply), ("cancel", "item-not-found"))

    def test_roomItemsForOccupants(self) -> None:
        """
        Only occupants see who is in a room.
        """
        self.instantRoom()
        reply = self.iq("alice@example.org/a", "get", ROOM, f"<query xmlns='{NS_DISCO_ITEMS}'/>")
        self.assertEqual(len(list(next(reply.elements(NS_DISCO_ITEMS, "query")).elements())), 1)
        reply = self.iq("b@example.org/b", "get", ROOM, f"<query xmlns='{NS_DISCO_ITEMS}'/>")
        self.assertEqual(len(list(next(reply.elements(NS_DISCO_ITEMS, "query")).elements())), 0)


class _SlowStore(SQLiteStore):
    """
    A store whose opening the test completes by hand.
    """

    def __init__(self, path: str) -> None:
        super().__init__(SynchronousRunner(path))
        self.opened: defer.Deferred[None] = defer.Deferred()

    def open(self) -> defer.Deferred[None]:
        return self.opened.addCallback(lambda _: super(_SlowStore, self).open())


class PersistenceTests(SynchronousTestCase):
    """
    Persistent rooms are stored and loaded again on start.
    """

    def setUp(self) -> None:
        self.path = FilePath(self.mktemp()).path

    def start(self, store: SQLiteStore | None = None) -> tuple[ComponentHarness, FakeComponent]:
        clock = Clock()
        router = Router(clock)
        component = MUCComponent(
            MUC, router, ServiceOptions.fromOptions(MUC, {}), store=store or SQLiteStore(SynchronousRunner(self.path))
        )
        router.addHost(MUC, component.route)
        harness = ComponentHarness(component, router, clock)
        harness.start()
        return harness, harness.external("example.org")

    def test_persistentRoomSurvives(self) -> None:
        """
        A persistent room's configuration, affiliations and subject are
        there after a restart; a temporary room is not.
        """
        harness, users = self.start()
        users.send(f"<presence from='alice@example.org/a' to='{ROOM}/alice'><x xmlns='{NS_MUC}'/></presence>")
        users.send(
            f"<iq type='set' id='c' from='alice@example.org/a' to='{ROOM}'><query xmlns='{NS_OWNER}'>"
            "<x xmlns='jabber:x:data' type='submit'>"
            "<field var='muc#roomconfig_persistentroom'><value>1</value></field>"
            "<field var='muc#roomconfig_roomname'><value>Lounge</value></field></x></query></iq>"
        )
        users.send(
            f"<iq type='set' id='m' from='alice@example.org/a' to='{ROOM}'><query xmlns='{NS_ADMIN}'>"
            "<item jid='bob@example.org' affiliation='member'/></query></iq>"
        )
        users.send(f"<message type='groupchat' from='alice@example.org/a' to='{ROOM}'><subject>Topic</subject></message>")
        users.send(f"<presence from='carol@example.org/c' to='temp@{MUC}/carol'/>")
        self.successResultOf(harness.stop())

        harness, users = self.start()
        self.addCleanup(harness.stop)
        component: MUCComponent = harness.component  # type: ignore[assignment]
        self.assertEqual(list(component.rooms), [ROOM])
        room = component.rooms[ROOM]
        self.assertEqual((room.config.name, room.config.persistent), ("Lounge", True))
        self.assertEqual(room.affiliation("bob@example.org"), "member")
        self.assertEqual(room.subject, ("Topic", "alice"))
        self.assertTrue(room.isEmpty())

    def test_destroyedRoomForgotten(self) -> None:
        """
        Destroying a persistent room removes it from storage.
        """
        harness, users = self.start()
        users.send(f"<presence from='alice@example.org/a' to='{ROOM}/alice'/>")
        users.send(
            f"<iq type='set' id='c' from='alice@example.org/a' to='{ROOM}'><query xmlns='{NS_OWNER}'>"
            "<x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_persistentroom'><value>1</value></field></x></query></iq>"
        )
        users.send(f"<iq type='set' id='d' from='alice@example.org/a' to='{ROOM}'><query xmlns='{NS_OWNER}'><destroy/></query></iq>")
        self.successResultOf(harness.stop())
        harness, users = self.start()
        self.addCleanup(harness.stop)
        self.assertEqual(harness.component.rooms, {})  # type: ignore[attr-defined]

    def test_stanzasWaitForLoading(self) -> None:
        """
        Stanzas that arrive while the rooms are being loaded are handled
        once they are.
        """
        store = _SlowStore(self.path)
        harness, users = self.start(store)
        self.addCleanup(harness.stop)
        users.send(f"<presence from='alice@example.org/a' to='{ROOM}/alice'/>")
        self.assertEqual(users.received, [])
        store.opened.callback(None)
        harness.flush()
        self.assertEqual(len(users.take()), 2)


class LayoutTests(SynchronousTestCase):
    """
    The C{muc} package is a plugin like a third party's.
    """

    def test_publicAPIOnly(self) -> None:
        """
        Every import of xcomp inside C{xcomp/muc/} is of the plugin API
        (L{xcomp.plugin}, L{xcomp.interfaces}) or of C{xcomp.muc} itself.
        """
        allowed = ("xcomp.plugin", "xcomp.interfaces", "xcomp.muc")
        package = FilePath(__file__).parent().sibling("muc")
        imports: list[tuple[str, str]] = []
        for source in package.globChildren("*.py"):
            for node in ast.walk(ast.parse(source.getContent())):
                if isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module] if node.module != "xcomp" else [f"xcomp.{a.name}" for a in node.names]
                elif isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                else:
                    continue
                imports.extend((source.basename(), name) for name in names if name.split(".")[0] == "xcomp")
        self.assertTrue(imports)
        self.assertEqual(
            [(module, name) for module, name in imports if not name.startswith(allowed)], []
        )
