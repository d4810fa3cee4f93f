"""
Tests for several sessions of one bare JID under one nick (as Prosody's
C{muc.lib.lua} allows): L{xcomp.muc.presence} and L{xcomp.muc.state} as a
pure state machine.
"""

from __future__ import annotations

from twisted.words.xish import domish

from xcomp.muc.presence import MAX_SESSIONS
from xcomp.stanza import COMPONENT_NS
from xcomp.test.muchelpers import ALICE, BOB, ROOM, RoomTestCase, codes, delivered, groupchat, join, to, xml
from xcomp.testing import errorOf

PHONE = "bob@users.example/phone"


class SessionTests(RoomTestCase):
    """
    One occupant, several sessions.
    """

    def setUp(self) -> None:
        super().setUp()
        self.createInstant()
        self.enter(BOB, "bob")

    def test_secondSessionJoins(self) -> None:
        """
        A second resource of the same bare JID joining under the same nick
        is not a conflict (XEP-0045 section 7.2.9 leaves it to the
        service; Prosody admits it): it gets the occupants' presence, its
        own with 110, and the subject; the room shows one occupant, whose
        unchanged presence the others get again (as Prosody sends it).
        """
        out = self.enter(PHONE, "bob")
        self.assertEqual({e["to"] for e in out}, {PHONE, ALICE})
        [again] = to(out, ALICE)
        self.assertEqual((again["from"], again.getAttribute("type")), (f"{ROOM}/bob", None))
        presences = [e for e in to(out, PHONE) if e.name == "presence"]
        self.assertEqual([p["from"] for p in presences], [f"{ROOM}/alice", f"{ROOM}/bob"])
        self.assertIn("110", codes(presences[-1]))
        self.assertEqual(list(self.room.occupants), ["alice", "bob"])
        self.assertIs(self.room.byJid[PHONE], self.room.byJid[BOB])

    def test_otherBareJidConflicts(self) -> None:
        """
        The nick held by another bare JID is still a conflict (section
        7.2.9).
        """
        [error] = self.enter("mallory@users.example/x", "bob")
        self.assertEqual(errorOf(error), ("cancel", "conflict"))

    def test_messagesReachEverySession(self) -> None:
        """
        Groupchat and private messages reach every session of the
        recipient (sections 7.4, 7.5).
        """
        self.enter(PHONE, "bob")
        out = delivered(self.room.message(ALICE, None, groupchat("hi")))
        self.assertEqual(sorted(e["to"] for e in out), sorted([ALICE, BOB, PHONE]))
        pm = xml(f"<message type='chat' to='{ROOM}/bob'><body>psst</body></message>")
        out = delivered(self.room.message(ALICE, "bob", pm))
        self.assertEqual(sorted(e["to"] for e in out), sorted([BOB, PHONE]))
        self.assertEqual({e["from"] for e in out}, {f"{ROOM}/alice"})

    def test_presenceReachesEverySession(self) -> None:
        """
        Another occupant's presence reaches every session (section 7.2.3).
        """
        self.enter(PHONE, "bob")
        away = xml(f"<presence to='{ROOM}/alice'><show>away</show></presence>")
        out = delivered(self.room.presence(ALICE, "alice", away))
        self.assertEqual(len(to(out, BOB)), 1)
        self.assertEqual(len(to(out, PHONE)), 1)

    def test_oneSessionLeaves(self) -> None:
        """
        One session leaving does not make the occupant leave: only that
        session gets the unavailable self-presence (110); the other
        occupants see nothing while the primary session stays.
        """
        self.enter(PHONE, "bob")
        gone = xml(f"<presence type='unavailable' to='{ROOM}/bob'/>")
        out = delivered(self.room.presence(PHONE, "bob", gone))
        [own] = out
        self.assertEqual((own["to"], own["type"]), (PHONE, "unavailable"))
        self.assertIn("110", codes(own))
        self.assertIn("bob", self.room.occupants)
        self.assertNotIn(PHONE, self.room.byJid)

    def test_primaryLeaves(self) -> None:
        """
        When the primary session leaves, the next one's presence becomes
        the occupant's and is broadcast; the last session leaving makes
        the occupant leave (section 7.14).
        """
        self.enter(PHONE, "bob", xml(f"<presence to='{ROOM}/bob'><show>xa</show></presence>"))
        gone = xml(f"<presence type='unavailable' to='{ROOM}/bob'/>")
        out = delivered(self.room.presence(BOB, "bob", gone))
        self.assertEqual(self.room.occupants["bob"].jid, PHONE)
        [seen] = to(out, ALICE)
        self.assertIsNone(seen.getAttribute("type"))
        self.assertEqual(str(next(seen.elements(COMPONENT_NS, "show"))), "xa")
        out = delivered(self.room.presence(PHONE, "bob", gone))
        self.assertNotIn("bob", self.room.occupants)
        self.assertEqual(to(out, ALICE)[0]["type"], "unavailable")

    def test_kickRemovesEverySession(self) -> None:
        """
        A kick (section 8.2) takes every session out.
        """
        self.enter(PHONE, "bob")
        kick = xml("<query xmlns='http://jabber.org/protocol/muc#admin'><item nick='bob' role='none'/></query>")
        out = delivered(self.room.adminSet(ALICE, kick))
        self.assertEqual({e["type"] for e in to(out, BOB) + to(out, PHONE)}, {"unavailable"})
        self.assertNotIn(PHONE, self.room.byJid)
        self.assertNotIn(BOB, self.room.byJid)

    def test_sessionsBounded(self) -> None:
        """
        At most L{MAX_SESSIONS} sessions share a nick; beyond,
        resource-constraint.
        """
        for n in range(MAX_SESSIONS - 1):
            self.enter(f"bob@users.example/r{n}", "bob")
        [error] = self.enter("bob@users.example/more", "bob")
        self.assertEqual(errorOf(error), ("wait", "resource-constraint"))

    def test_secondSessionNeedsPassword(self) -> None:
        """
        A second session of a password-protected room must give the
        password too (section 7.2.6).
        """
        self.room.config = self.room.config.__class__(password="s3")
        [error] = self.enter(PHONE, "bob")
        self.assertEqual(errorOf(error), ("auth", "not-authorized"))
        out = self.enter(PHONE, "bob", join("bob", password="s3"))
        self.assertIn("110", codes([p for p in to(out, PHONE) if p.name == "presence"][-1]))


class OccupantIdTests(RoomTestCase):
    """
    XEP-0421 occupant ids.
    """

    def occupantId(self, stanza: domish.Element) -> str:
        [marker] = stanza.elements("urn:xmpp:occupant-id:0", "occupant-id")
        return str(marker["id"])

    def test_stablePerBareJid(self) -> None:
        """
        XEP-0421 section 4: one bare JID keeps its id across sessions, nick
        changes and rejoining; another bare JID has another; the room's
        salt makes it differ between rooms.
        """
        self.createInstant()
        first = self.occupantId(to(self.enter(BOB, "bob"), ALICE)[0])
        self.enter(PHONE, "bob")
        changed = to(self.enter(BOB, "robert", xml(f"<presence to='{ROOM}/robert'/>")), ALICE)
        self.assertEqual({self.occupantId(p) for p in changed}, {first})
        self.room.presence(BOB, "robert", xml(f"<presence type='unavailable' to='{ROOM}/robert'/>"))
        self.room.presence(PHONE, "robert", xml(f"<presence type='unavailable' to='{ROOM}/robert'/>"))
        again = self.occupantId(to(self.enter(BOB, "bob"), ALICE)[0])
        self.assertEqual(again, first)
        self.assertNotEqual(self.room.occupantIdOf("carol@users.example"), first)
        other = type(self.room)("other@muc.example", self.options)
        self.assertNotEqual(other.occupantIdOf("bob@users.example"), first)

    def test_survivesStorage(self) -> None:
        """
        A persistent room keeps its salt, so ids stay the same after a
        restart.
        """
        before = self.room.occupantIdOf("bob@users.example")
        loaded = type(self.room).load(ROOM, self.room.dump(), self.options)
        self.assertEqual(loaded.occupantIdOf("bob@users.example"), before)


class GhostSessionTests(RoomTestCase):
    """
    Errors from one session's address.
    """

    def test_goneSessionRemoved(self) -> None:
        """
        A message error saying one session is gone (XEP-0045 section 9.6,
        status 333 in Prosody) removes only that session.
        """
        self.createInstant()
        self.enter(BOB, "bob")
        self.enter(PHONE, "bob")
        error = xml(
            f"<message type='error' to='{ROOM}'><error type='cancel'>"
            "<recipient-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"
        )
        out = delivered(self.room.message(PHONE, None, error))
        self.assertEqual([e["to"] for e in out], [PHONE])
        self.assertIn("333", codes(out[0]))
        self.assertIn("bob", self.room.occupants)
        self.assertEqual(list(self.room.occupants["bob"].sessions), [BOB])


class SplitSessionTests(RoomTestCase):
    """
    One of several sessions changing its nick (Prosody's split).
    """

    def test_sessionSplitsOff(self) -> None:
        """
        bob's phone takes the nick "robert": the phone alone sees "bob" go
        with 303 and 110, then "bob" as someone else; alice (and bob's
        desk) see a new occupant "robert" and "bob" stay; the desk session
        is still bob.
        """
        self.createInstant()
        self.enter(BOB, "bob")
        self.enter(PHONE, "bob")
        out = delivered(self.room.presence(PHONE, "robert", xml(f"<presence to='{ROOM}/robert'/>")))
        phone = to(out, PHONE)
        self.assertEqual((phone[0]["from"], phone[0]["type"]), (f"{ROOM}/bob", "unavailable"))
        self.assertEqual(codes(phone[0]), {"110", "303"})
        self.assertEqual(phone[-1]["from"], f"{ROOM}/bob")
        self.assertIsNone(phone[-1].getAttribute("type"))
        for other in (ALICE, BOB):
            self.assertEqual([(p["from"], p.getAttribute("type")) for p in to(out, other)], [(f"{ROOM}/robert", None)])
        self.assertEqual(sorted(self.room.occupants), ["alice", "bob", "robert"])
        self.assertEqual(list(self.room.occupants["bob"].sessions), [BOB])
        self.assertIs(self.room.byJid[PHONE], self.room.occupants["robert"])
