"""
Tests for L{xcomp.muc.room} and L{xcomp.muc.presence}: entering, leaving and
presence in a room as a pure state machine, with no router, no reactor and
no I/O.  Each test feeds stanzas to a L{Room} and checks what it returns.
Messages, moderation and the owner's form have their own modules,
C{xcomp.test.test_muc_room_*}.
"""

from __future__ import annotations

import attrs

from xcomp.muc.room import Room
from xcomp.stanza import COMPONENT_NS
from xcomp.test.muchelpers import (
    ALICE,
    BOB,
    CAROL,
    ROOM,
    RoomTestCase,
    codes,
    delivered,
    item,
    join,
    to,
    xml,
)
from xcomp.testing import errorOf


class JoinTests(RoomTestCase):
    """
    Entering a room (XEP-0045 section 7.2).
    """

    def test_creation(self) -> None:
        """
        The first occupant becomes owner and moderator; the self-presence
        has 110 and 201, then the (empty) subject follows.  A room made by
        a XEP-0045 client is locked.
        """
        out = self.enter(ALICE, "alice", created=True)
        presence, subject = out
        self.assertEqual(codes(presence), {"110", "201"})
        self.assertEqual(item(presence)["affiliation"], "owner")
        self.assertEqual(item(presence)["role"], "moderator")
        self.assertEqual(presence["from"], f"{ROOM}/alice")
        self.assertEqual(subject.name, "message")
        self.assertEqual(str(next(subject.elements(COMPONENT_NS, "subject"))), "")
        self.assertTrue(self.room.locked)
        self.assertEqual(self.room.affiliation(ALICE), "owner")

    def test_lockedRefusesOthers(self) -> None:
        """
        While locked, only owners may enter (item-not-found for others).
        """
        self.enter(ALICE, "alice", created=True)
        [error] = self.enter(BOB, "bob")
        self.assertEqual(errorOf(error), ("cancel", "item-not-found"))
        self.assertEqual(error["from"], f"{ROOM}/bob")

    def test_groupchat10NotLocked(self) -> None:
        """
        A room made by a presence without the MUC element (groupchat 1.0)
        is an instant room, not locked.
        """
        self.enter(ALICE, "alice", join("alice", muc=False), created=True)
        self.assertFalse(self.room.locked)

    def test_presenceExchange(self) -> None:
        """
        A newcomer gets the occupants' presence, then its own; the others
        get the newcomer's.  In a semi-anonymous room only moderators see
        real JIDs.
        """
        self.createInstant()
        self.enter(BOB, "bob")
        out = self.enter(CAROL, "carol")
        carol = to(out, CAROL)
        self.assertEqual([p["from"] for p in carol[:3]], [f"{ROOM}/alice", f"{ROOM}/bob", f"{ROOM}/carol"])
        self.assertNotIn("jid", item(carol[0]))
        self.assertEqual(codes(carol[2]), {"110"})
        [toAlice] = to(out, ALICE)
        [toBob] = to(out, BOB)
        self.assertEqual(item(toAlice)["jid"], CAROL)
        self.assertNotIn("jid", item(toBob))

    def test_nonAnonymous(self) -> None:
        """
        In a non-anonymous room everyone sees real JIDs, and the
        self-presence has status 100.
        """
        self.createInstant(attrs.evolve(self.options.defaults, whois="anyone"))
        out = self.enter(BOB, "bob")
        self.assertEqual(item(to(out, BOB)[0])["jid"], ALICE)
        self.assertIn("100", codes(to(out, BOB)[1]))

    def test_nickConflict(self) -> None:
        """
        A nick in use is refused with conflict (409).
        """
        self.createInstant()
        [error] = self.enter(BOB, "alice")
        self.assertEqual(errorOf(error), ("cancel", "conflict"))

    def test_password(self) -> None:
        """
        A password-protected room wants the password (401).
        """
        self.createInstant(attrs.evolve(self.options.defaults, password="s3cret"))
        [error] = self.enter(BOB, "bob")
        self.assertEqual(errorOf(error), ("auth", "not-authorized"))
        [error] = self.enter(BOB, "bob", join("bob", password="wrong"))
        self.assertEqual(errorOf(error), ("auth", "not-authorized"))
        self.assertEqual(len(to(self.enter(BOB, "bob", join("bob", password="s3cret")), BOB)), 3)

    def test_membersOnly(self) -> None:
        """
        A members-only room refuses non-members (407).
        """
        self.createInstant(attrs.evolve(self.options.defaults, membersOnly=True))
        [error] = self.enter(BOB, "bob")
        self.assertEqual(errorOf(error), ("auth", "registration-required"))
        self.room.affiliations["bob@users.example"] = "member"
        self.assertEqual(item(to(self.enter(BOB, "bob"), BOB)[1])["affiliation"], "member")

    def test_banned(self) -> None:
        """
        An outcast is refused (403).
        """
        self.createInstant()
        self.room.affiliations["bob@users.example"] = "outcast"
        [error] = self.enter(BOB, "bob")
        self.assertEqual(errorOf(error), ("auth", "forbidden"))

    def test_full(self) -> None:
        """
        A full room refuses newcomers (503), but not its owners and admins.
        """
        self.createInstant(attrs.evolve(self.options.defaults, maxUsers=1))
        [error] = self.enter(BOB, "bob")
        self.assertEqual(errorOf(error), ("wait", "service-unavailable"))
        self.room.affiliations["bob@users.example"] = "admin"
        self.assertEqual(len(self.room.occupants), 1)
        self.enter(BOB, "bob")
        self.assertEqual(len(self.room.occupants), 2)

    def test_hardLimit(self) -> None:
        """
        Nobody exceeds the service's C{muc_max_occupants}.
        """
        self.room = Room(ROOM, attrs.evolve(self.options, maxOccupants=1), clock=self.clock)
        self.createInstant()
        self.room.affiliations["bob@users.example"] = "owner"
        [error] = self.enter(BOB, "bob")
        self.assertEqual(errorOf(error), ("wait", "service-unavailable"))

    def test_nickRewritten(self) -> None:
        """
        When the service normalised the nick, the self-presence has 210.
        """
        self.createInstant()
        out = self.enter(BOB, "bob", xml(f"<presence to='{ROOM}/\uff42ob'/>"))
        self.assertIn("210", codes(to(out, BOB)[1]))

    def test_occupantId(self) -> None:
        """
        The XEP-0421 occupant id is the same for two sessions of one bare
        JID and different for another user.
        """
        self.createInstant()
        first = self.room.occupantIdOf("bob@users.example")
        self.assertEqual(first, self.room.occupantIdOf("bob@users.example"))
        self.assertNotEqual(first, self.room.occupantIdOf("carol@users.example"))
        [presence, _] = to(self.enter(BOB, "bob"), BOB)[1:]
        self.assertEqual(next(presence.elements("urn:xmpp:occupant-id:0", "occupant-id"))["id"], first)

    def test_presencePayloadBounded(self) -> None:
        """
        A presence carrying more than the room keeps is refused.
        """
        self.createInstant()
        [error] = self.enter(BOB, "bob", xml(f"<presence to='{ROOM}/bob'><status>{'x' * 9000}</status></presence>"))
        self.assertEqual(errorOf(error), ("modify", "not-acceptable"))


class PresenceTests(RoomTestCase):
    """
    Leaving, changing nick and availability.
    """

    def setUp(self) -> None:
        super().setUp()
        self.createInstant()
        self.enter(BOB, "bob")

    def test_leave(self) -> None:
        """
        An unavailable presence removes the occupant; everyone is told,
        the leaver with 110, and the status text is passed on.
        """
        out = delivered(self.room.presence(BOB, "bob", xml(f"<presence type='unavailable' to='{ROOM}/bob'><status>bye</status></presence>")))
        [toAlice] = to(out, ALICE)
        [toBob] = to(out, BOB)
        self.assertEqual((toAlice["type"], item(toAlice)["role"]), ("unavailable", "none"))
        self.assertEqual(str(next(toAlice.elements(COMPONENT_NS, "status"))), "bye")
        self.assertEqual(codes(toBob), {"110"})
        self.assertNotIn("bob", self.room.occupants)

    def test_nickChange(self) -> None:
        """
        A presence to a new nick is an unavailable presence with 303 and
        the new nick, then an available one from the new nick.
        """
        out = to(delivered(self.room.presence(BOB, "robert", xml(f"<presence to='{ROOM}/robert'/>"))), ALICE)
        gone, back = out
        self.assertEqual((gone["from"], gone["type"], codes(gone)), (f"{ROOM}/bob", "unavailable", {"303"}))
        self.assertEqual(item(gone)["nick"], "robert")
        self.assertEqual(back["from"], f"{ROOM}/robert")
        self.assertEqual(list(self.room.occupants), ["alice", "robert"])

    def test_nickChangeConflict(self) -> None:
        """
        Changing to a nick in use is refused with conflict.
        """
        [error] = delivered(self.room.presence(BOB, "alice", xml(f"<presence to='{ROOM}/alice'/>")))
        self.assertEqual(errorOf(error), ("cancel", "conflict"))

    def test_availabilityBroadcast(self) -> None:
        """
        A new show/status is broadcast to everyone.
        """
        out = delivered(self.room.presence(BOB, "bob", xml(f"<presence to='{ROOM}/bob'><show>away</show></presence>")))
        [toAlice] = to(out, ALICE)
        self.assertEqual(str(next(toAlice.elements(COMPONENT_NS, "show"))), "away")
        self.assertEqual(codes(to(out, BOB)[0]), {"110"})

    def test_ghostRemoved(self) -> None:
        """
        An error from an occupant's address saying it is gone removes the
        occupant with status 333.
        """
        bounce = xml(
            f"<message type='error' from='{BOB}' to='{ROOM}/alice'><error type='wait'>"
            "<remote-server-timeout xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"
        )
        out = delivered(self.room.message(BOB, "alice", bounce))
        self.assertEqual(codes(to(out, ALICE)[0]), {"333"})
        self.assertNotIn("bob", self.room.occupants)

    def test_otherErrorsKeepOccupant(self) -> None:
        """
        Other errors (the occupant's client refusing something) do not.
        """
        bounce = xml(
            f"<message type='error' from='{BOB}' to='{ROOM}/alice'><error type='modify'>"
            "<bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"
        )
        self.assertEqual(self.room.message(BOB, "alice", bounce), [])
        self.assertIn("bob", self.room.occupants)
