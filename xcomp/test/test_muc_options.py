"""
Tests for the C{muc} component's options (L{xcomp.muc.options}), with
Prosody's names and meanings: what users see in real stanzas through the
in-memory router (the file side: test_muc_options_config; tombstones:
test_muc_tombstones).
"""

from __future__ import annotations

from typing import Mapping

from twisted.trial.unittest import SynchronousTestCase
from twisted.words.xish import domish

from xcomp.muc.component import MUCComponent
from xcomp.test.muchelpers import codes
from xcomp.testing import ComponentHarness, FakeComponent, errorOf

MUC = "conference.example.org"
ROOM = f"room@{MUC}"
NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = NS_MUC + "#user"
NS_OWNER = NS_MUC + "#owner"
NS_ADMIN = NS_MUC + "#admin"
NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
ALICE = "alice@example.org/a"
BOB = "bob@example.org/b"
ADMIN = "boss@example.org/x"


def item(presence: domish.Element) -> domish.Element:
    """
    The muc#user item of a presence.
    """
    return next(next(presence.elements(NS_MUC_USER, "x")).elements(NS_MUC_USER, "item"))


def bodies(received: list[domish.Element]) -> list[str]:
    """
    The bodies of the messages among C{received}.
    """
    return [str(c) for m in received if m.name == "message" for c in m.elements() if c.name == "body"]


def goneText(stanza: domish.Element) -> tuple[str | None, str]:
    """
    The text of an error's C{<text/>} and the content of its C{<gone/>}.
    """
    error = next(e for e in stanza.elements() if e.name == "error")
    text = next((str(e) for e in error.elements(NS_STANZAS, "text")), None)
    return text, str(next(error.elements(NS_STANZAS, "gone")))


class OptionsTestCase(SynchronousTestCase):
    """
    A C{muc} component with L{options}, and users at C{example.org} and
    C{other.org}.
    """

    options: Mapping[str, object] = {}

    def setUp(self) -> None:
        self.start(self.options)

    def start(self, options: Mapping[str, object]) -> None:
        self.harness = ComponentHarness.forPlugin("muc", MUC, options)
        self.harness.start()
        self.addCleanup(self.harness.stop)
        self.users = self.harness.external("example.org")
        self.others = self.harness.external("other.org")
        self.component: MUCComponent = self.harness.component  # type: ignore[assignment]

    def join(self, user: str, nick: str, room: str = ROOM, via: FakeComponent | None = None) -> list[domish.Element]:
        via = via or self.users
        via.send(f"<presence from='{user}' to='{room}/{nick}'><x xmlns='{NS_MUC}'/></presence>")
        return via.take(lambda e: e.getAttribute("to") == user)

    def iq(self, user: str, type: str, to: str, payload: str) -> domish.Element:
        self.users.send(f"<iq type='{type}' id='q' from='{user}' to='{to}'>{payload}</iq>")
        [reply] = self.users.take(lambda e: e.name == "iq" and e.getAttribute("to") == user)
        return reply

    def configure(self, owner: str = ALICE, room: str = ROOM, **fields: str) -> None:
        values = "".join(f"<field var='muc#roomconfig_{k}'><value>{v}</value></field>" for k, v in fields.items())
        reply = self.iq(owner, "set", room, f"<query xmlns='{NS_OWNER}'><x xmlns='jabber:x:data' type='submit'>{values}</x></query>")
        assert reply["type"] == "result", reply.toXml()
        self.users.take()

    def instantRoom(self, owner: str = ALICE, room: str = ROOM, **fields: str) -> None:
        self.join(owner, "owner", room)
        self.configure(owner, room, **fields)

    def say(self, user: str, body: str) -> None:
        self.users.send(f"<message type='groupchat' from='{user}' to='{ROOM}'><body>{body}</body></message>")
        self.users.take()


class RestrictCreationTests(OptionsTestCase):
    """
    C{restrict_room_creation}, as Prosody's mod_muc reads it.
    """

    def test_unrestricted(self) -> None:
        """
        By default anyone creates rooms, from any server.
        """
        [self_presence, _] = self.join("carol@other.org/c", "carol", via=self.others)
        self.assertIn("201", codes(self_presence))

    def test_adminsOnly(self) -> None:
        """
        C{true} lets only C{admins} create rooms; others get
        C{cancel}/C{not-allowed}.
        """
        self.start({"restrict_room_creation": True, "admins": ("boss@example.org",)})
        [refused] = self.join(ALICE, "alice")
        self.assertEqual(errorOf(refused), ("cancel", "not-allowed"))
        self.assertNotIn(ROOM, self.component.rooms)
        [presence, _] = self.join(ADMIN, "boss")
        self.assertIn("201", codes(presence))

    def test_local(self) -> None:
        """
        C{"local"} also lets users of the parent domain (C{example.org} for
        C{conference.example.org}) create rooms, not users elsewhere.
        """
        self.start({"restrict_room_creation": "local"})
        [refused] = self.join("carol@other.org/c", "carol", via=self.others)
        self.assertEqual(errorOf(refused), ("cancel", "not-allowed"))
        [presence, _] = self.join(ALICE, "alice")
        self.assertIn("201", codes(presence))

    def test_existingRoomsOpen(self) -> None:
        """
        The restriction is on creating rooms: anyone may join one that
        exists.
        """
        self.start({"restrict_room_creation": True, "admins": ("boss@example.org",)})
        self.instantRoom(ADMIN)
        self.assertEqual(len(self.join(ALICE, "alice")), 3)


class HistoryTests(OptionsTestCase):
    """
    C{max_history_messages} and C{muc_room_default_history_length}.
    """

    options = {"max_history_messages": 2}

    def test_maxHistory(self) -> None:
        """
        A room keeps at most C{max_history_messages} messages of history,
        whatever its own history length.
        """
        self.instantRoom()
        for n in range(5):
            self.say(ALICE, f"m{n}")
        self.assertEqual(bodies(self.join(BOB, "bob")), ["m3", "m4"])

    def test_defaultHistoryLength(self) -> None:
        """
        C{muc_room_default_history_length} is a new room's history length.
        """
        self.start({"muc_room_default_history_length": 3})
        self.instantRoom()
        self.assertEqual(self.component.rooms[ROOM].config.historyLength, 3)
        for n in range(5):
            self.say(ALICE, f"m{n}")
        self.assertEqual(bodies(self.join(BOB, "bob")), ["m2", "m3", "m4"])


class LockingTests(OptionsTestCase):
    """
    C{muc_room_locking} and C{muc_room_lock_timeout}.
    """

    def test_lockingOff(self) -> None:
        """
        With C{muc_room_locking = false} a new room is open at once (still
        with status 201 for its creator).
        """
        self.start({"muc_room_locking": False})
        [presence, _] = self.join(ALICE, "alice")
        self.assertIn("201", codes(presence))
        self.assertEqual(len(self.join(BOB, "bob")), 3)

    def test_lockTimeout(self) -> None:
        """
        C{muc_room_lock_timeout} is how long a new room stays locked.
        """
        self.start({"muc_room_lock_timeout": 10})
        self.join(ALICE, "alice")
        self.harness.advance(9)
        [error] = self.join(BOB, "bob")
        self.assertEqual(errorOf(error), ("cancel", "item-not-found"))
        self.harness.advance(1)
        self.assertEqual(len(self.join(BOB, "bob")), 3)


class RoomDefaultsTests(OptionsTestCase):
    """
    The C{muc_room_default_*} options: the configuration of new rooms.
    """

    def listed(self) -> list[str]:
        reply = self.iq(BOB, "get", MUC, f"<query xmlns='{NS_DISCO_ITEMS}'/>")
        return [i["jid"] for i in next(reply.elements(NS_DISCO_ITEMS, "query")).elements(NS_DISCO_ITEMS, "item")]

    def test_hiddenByDefault(self) -> None:
        """
        New rooms are not listed in disco#items (Prosody 0.12's default).
        """
        self.instantRoom()
        self.assertEqual(self.listed(), [])

    def test_public(self) -> None:
        """
        C{muc_room_default_public = true}: new rooms are listed.
        """
        self.start({"muc_room_default_public": True})
        self.instantRoom()
        self.assertEqual(self.listed(), [ROOM])

    def test_persistent(self) -> None:
        """
        C{muc_room_default_persistent}: a new room outlives its last occupant.
        """
        self.start({"muc_room_default_persistent": True})
        self.instantRoom()
        self.users.send(f"<presence type='unavailable' from='{ALICE}' to='{ROOM}/owner'/>")
        self.assertIn(ROOM, self.component.rooms)

    def test_membersOnly(self) -> None:
        """
        C{muc_room_default_members_only}: a non-member gets
        C{auth}/C{registration-required}.
        """
        self.start({"muc_room_default_members_only": True})
        self.instantRoom()
        [error] = self.join(BOB, "bob")
        self.assertEqual(errorOf(error), ("auth", "registration-required"))

    def test_moderated(self) -> None:
        """
        C{muc_room_default_moderated}: a user with no affiliation enters as
        a visitor.
        """
        self.start({"muc_room_default_moderated": True})
        self.instantRoom()
        presence = [p for p in self.join(BOB, "bob") if p.getAttribute("from") == f"{ROOM}/bob"][0]
        self.assertEqual(item(presence)["role"], "visitor")

    def test_publicJids(self) -> None:
        """
        C{muc_room_default_public_jids}: the room is non-anonymous (status
        100 on entering).
        """
        self.start({"muc_room_default_public_jids": True})
        self.instantRoom()
        presence = [p for p in self.join(BOB, "bob") if p.getAttribute("from") == f"{ROOM}/bob"][0]
        self.assertIn("100", codes(presence))

    def test_changeSubject(self) -> None:
        """
        C{muc_room_default_change_subject}: a participant may set the subject;
        without it, C{auth}/C{forbidden}.
        """
        subject = f"<message type='groupchat' id='s' from='{BOB}' to='{ROOM}'><subject>New</subject></message>"
        self.instantRoom()
        self.join(BOB, "bob")
        self.users.send(subject)
        self.assertEqual(errorOf(self.users.take(lambda e: e.getAttribute("to") == BOB)[0]), ("auth", "forbidden"))
        self.start({"muc_room_default_change_subject": True})
        self.instantRoom()
        self.join(BOB, "bob")
        self.users.send(subject)
        self.assertEqual(self.component.rooms[ROOM].subject, ("New", "bob"))

    def test_memberInvites(self) -> None:
        """
        C{muc_room_default_allow_member_invites} is the form's
        C{muc#roomconfig_allowinvites} of a new room.
        """
        self.start({"muc_room_default_allow_member_invites": True})
        self.join(ALICE, "owner")
        reply = self.iq(ALICE, "get", ROOM, f"<query xmlns='{NS_OWNER}'/>")
        self.assertEqual(self.formValue(reply, "muc#roomconfig_allowinvites"), "true")

    def test_language(self) -> None:
        """
        C{muc_room_default_language} is a new room's C{muc#roomconfig_lang},
        which the owner may change.
        """
        self.start({"muc_room_default_language": "de"})
        self.join(ALICE, "owner")
        reply = self.iq(ALICE, "get", ROOM, f"<query xmlns='{NS_OWNER}'/>")
        self.assertEqual(self.formValue(reply, "muc#roomconfig_lang"), "de")
        self.configure(lang="fr")
        self.assertEqual(self.component.rooms[ROOM].config.language, "fr")

    def formValue(self, reply: domish.Element, var: str) -> str:
        form = next(next(reply.elements(NS_OWNER, "query")).elements("jabber:x:data", "x"))
        field = next(f for f in form.elements("jabber:x:data", "field") if f.getAttribute("var") == var)
        return str(next(field.elements("jabber:x:data", "value")))


class NickLengthTests(OptionsTestCase):
    """
    C{muc_max_nick_length} (Prosody's mod_muc_limits): bytes, 23 by default.
    """

    def test_tooLong(self) -> None:
        """
        A 24-byte nick gets C{modify}/C{policy-violation} with the MUC
        C{<x/>}; 23 bytes enter.
        """
        self.instantRoom()
        [error] = self.join(BOB, "b" * 24)
        self.assertEqual(errorOf(error), ("modify", "policy-violation"))
        self.assertEqual(len(list(error.elements(NS_MUC, "x"))), 1)
        self.assertEqual(len(self.join(BOB, "b" * 23)), 3)

    def test_bytes(self) -> None:
        """
        The length is counted in UTF-8 bytes: 12 two-byte letters are 24.
        """
        self.start({"muc_max_nick_length": 23})
        self.instantRoom()
        [error] = self.join(BOB, "\u00e9" * 12)
        self.assertEqual(errorOf(error), ("modify", "policy-violation"))

    def test_creatorAndNickChange(self) -> None:
        """
        The limit applies to the creator of a room and to nick changes.
        """
        self.start({"muc_max_nick_length": 5})
        [error] = self.join(ALICE, "toolong")
        self.assertEqual(errorOf(error), ("modify", "policy-violation"))
        self.assertNotIn(ROOM, self.component.rooms)
        self.instantRoom()
        self.join(BOB, "bob")
        [error] = self.join(BOB, "bobby-b")
        self.assertEqual(errorOf(error), ("modify", "policy-violation"))

    def test_affiliatedExempt(self) -> None:
        """
        Members (and owners) are not limited, as in mod_muc_limits.
        """
        self.start({"muc_max_nick_length": 5})
        self.instantRoom(ALICE)
        reply = self.iq(ALICE, "set", ROOM, f"<query xmlns='{NS_ADMIN}'><item jid='bob@example.org' affiliation='member'/></query>")
        self.assertEqual(reply["type"], "result")
        self.users.take()
        self.assertEqual(len(self.join(BOB, "a-long-nick")), 3)


class AdminsTests(OptionsTestCase):
    """
    C{admins} and C{component_admins_as_room_owners}.
    """

    options = {"admins": ("boss@example.org",)}

    def test_adminsOwnRooms(self) -> None:
        """
        By default the service's admins are owners of every room.
        """
        self.instantRoom()
        presence = [p for p in self.join(ADMIN, "boss") if p.getAttribute("from") == f"{ROOM}/boss"][0]
        self.assertEqual((item(presence)["affiliation"], item(presence)["role"]), ("owner", "moderator"))

    def test_notOwners(self) -> None:
        """
        C{component_admins_as_room_owners = false}: admins enter rooms with
        their own affiliation, and are not on the owner list.
        """
        self.start({"admins": ("boss@example.org",), "component_admins_as_room_owners": False})
        self.instantRoom()
        presence = [p for p in self.join(ADMIN, "boss") if p.getAttribute("from") == f"{ROOM}/boss"][0]
        self.assertEqual((item(presence)["affiliation"], item(presence)["role"]), ("none", "participant"))
        reply = self.iq(ALICE, "get", ROOM, f"<query xmlns='{NS_ADMIN}'><item affiliation='owner'/></query>")
        jids = [i["jid"] for i in next(reply.elements(NS_ADMIN, "query")).elements(NS_ADMIN, "item")]
        self.assertEqual(jids, ["alice@example.org"])

    def test_ownerCannotDemoteAdmin(self) -> None:
        """
        An owner cannot take an admin's ownership away: C{modify}/C{not-acceptable},
        as Prosody answers.
        """
        self.instantRoom()
        reply = self.iq(ALICE, "set", ROOM, f"<query xmlns='{NS_ADMIN}'><item jid='boss@example.org' affiliation='member'/></query>")
        self.assertEqual(errorOf(reply), ("modify", "not-acceptable"))
