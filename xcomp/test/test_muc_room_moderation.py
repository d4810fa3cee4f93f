"""
Tests for L{xcomp.muc.moderation}: roles and affiliations (muc#admin) in a
room as a pure state machine, with no router, no reactor and no I/O.
"""

from __future__ import annotations

import attrs
from twisted.words.protocols.jabber.error import StanzaError

from xcomp.muc.elements import NS_MUC_USER
from xcomp.test.muchelpers import (
    ALICE,
    BOB,
    CAROL,
    NS_ADMIN,
    NS_OWNER,
    RoomTestCase,
    adminQuery,
    codes,
    delivered,
    to,
)
from xcomp.testing import errorOf


class ModerationTests(RoomTestCase):
    """
    Roles and affiliations (muc#admin).
    """

    def setUp(self) -> None:
        super().setUp()
        self.createInstant()
        self.enter(BOB, "bob")
        self.enter(CAROL, "carol")

    def test_kick(self) -> None:
        """
        A moderator kicks with role none: everyone gets an unavailable
        presence with 307, the actor and the reason.
        """
        out = delivered(self.room.adminSet(ALICE, adminQuery("<item nick='bob' role='none'><reason>spam</reason></item>")))
        [toBob] = to(out, BOB)
        self.assertEqual((toBob["type"], codes(toBob)), ("unavailable", {"110", "307"}))
        [toCarol] = to(out, CAROL)
        x = next(toCarol.elements(NS_MUC_USER, "x"))
        kicked = next(x.elements(NS_MUC_USER, "item"))
        self.assertEqual(next(kicked.elements(NS_MUC_USER, "actor"))["nick"], "alice")
        self.assertEqual(str(next(kicked.elements(NS_MUC_USER, "reason"))), "spam")
        self.assertNotIn("bob", self.room.occupants)

    def test_participantCannotKick(self) -> None:
        """
        A participant may not change roles (forbidden).
        """
        error = self.assertRaises(StanzaError, self.room.adminSet, BOB, adminQuery("<item nick='carol' role='none'/>"))
        self.assertEqual((error.condition, error.type), ("forbidden", "auth"))

    def test_adminsNotKicked(self) -> None:
        """
        Admins and owners cannot be kicked (not-allowed).
        """
        self.room.affiliations["carol@users.example"] = "admin"
        self.room.occupants["carol"].role = "moderator"
        error = self.assertRaises(StanzaError, self.room.adminSet, ALICE, adminQuery("<item nick='carol' role='none'/>"))
        self.assertEqual(error.condition, "not-allowed")

    def test_ban(self) -> None:
        """
        Banning (outcast) removes the user with 301 and keeps them out.
        """
        out = delivered(self.room.adminSet(ALICE, adminQuery("<item jid='bob@users.example' affiliation='outcast'/>")))
        self.assertEqual(codes(to(out, BOB)[0]), {"110", "301"})
        self.assertEqual(self.room.affiliation(BOB), "outcast")
        self.assertTrue(self.room.stateChanged)
        self.assertEqual(errorOf(self.enter(BOB, "bob")[0]), ("auth", "forbidden"))

    def test_memberList(self) -> None:
        """
        Admins and owners read affiliation lists; others may not.
        """
        self.room.adminSet(ALICE, adminQuery("<item jid='bob@users.example' affiliation='member'/>"))
        result = self.room.adminGet(ALICE, adminQuery("<item affiliation='member'/>"))
        self.assertEqual([i["jid"] for i in result.elements(NS_ADMIN, "item")], ["bob@users.example"])
        error = self.assertRaises(StanzaError, self.room.adminGet, BOB, adminQuery("<item affiliation='member'/>"))
        self.assertEqual(error.condition, "forbidden")

    def test_ownerListIncludesServiceAdmins(self) -> None:
        """
        The owner list has the room's owners and the service's admins
        (read through muc#owner too, as old clients do).
        """
        result = self.room.ownerGet(ALICE, adminQuery("<item affiliation='owner'/>", NS_OWNER))
        self.assertEqual(
            sorted(i["jid"] for i in result.elements(NS_OWNER, "item")),
            ["admin@users.example", "alice@users.example"],
        )

    def test_roleList(self) -> None:
        """
        Moderators read role lists with nicks and JIDs.
        """
        result = self.room.adminGet(ALICE, adminQuery("<item role='participant'/>"))
        self.assertEqual(sorted(i["nick"] for i in result.elements(NS_ADMIN, "item")), ["bob", "carol"])

    def test_lastOwner(self) -> None:
        """
        The last owner cannot be removed (conflict).
        """
        error = self.assertRaises(
            StanzaError, self.room.adminSet, ALICE, adminQuery("<item jid='alice@users.example' affiliation='admin'/>")
        )
        self.assertEqual(error.condition, "conflict")

    def test_adminLimits(self) -> None:
        """
        An admin cannot change owners or make admins.
        """
        self.room.adminSet(ALICE, adminQuery("<item jid='bob@users.example' affiliation='admin'/>"))
        self.assertEqual(self.room.occupants["bob"].role, "moderator")
        for query in (
            "<item jid='alice@users.example' affiliation='none'/>",
            "<item jid='carol@users.example' affiliation='admin'/>",
        ):
            error = self.assertRaises(StanzaError, self.room.adminSet, BOB, adminQuery(query))
            self.assertEqual(error.condition, "not-allowed")

    def test_allOrNothing(self) -> None:
        """
        When one item of a request is refused, none is applied.
        """
        self.assertRaises(
            StanzaError,
            self.room.adminSet,
            ALICE,
            adminQuery("<item jid='dave@users.example' affiliation='member'/><item nick='ghost' role='none'/>"),
        )
        self.assertEqual(self.room.affiliation("dave@users.example"), "none")

    def test_membersOnlyRemovesNonMembers(self) -> None:
        """
        Taking membership away in a members-only room removes the user
        with 321.
        """
        self.room.config = attrs.evolve(self.room.config, membersOnly=True)
        self.room.affiliations["bob@users.example"] = "member"
        out = delivered(self.room.adminSet(ALICE, adminQuery("<item jid='bob@users.example' affiliation='none'/>")))
        self.assertEqual(codes(to(out, BOB)[0]), {"110", "321"})
