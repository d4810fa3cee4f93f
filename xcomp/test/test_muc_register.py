"""
Tests for L{xcomp.muc.register}: registration with a room (XEP-0045 section
7.10), reserved nicks enforced on joining and in the affiliation lists
(section 9.5), the reserved nick found through disco (section 7.12), and
the forms that cannot be read (L{xcomp.muc.forms}).  First on the pure
room, then through the component.
"""

from __future__ import annotations

from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.xish import domish

from xcomp.muc.register import NS_REGISTER, registerGet, registerSet, reservedNick
from xcomp.muc.settings import RoomConfig
from xcomp.test.muchelpers import ALICE, BOB, CAROL, NS_ADMIN, ROOM, RoomTestCase, adminQuery, codes, delivered, join, xml
from xcomp.test.test_muc import MUC, MUCTestCase, NS_DISCO_INFO
from xcomp.testing import errorOf


def registration(nick: str, formType: str = "http://jabber.org/protocol/muc#register", extra: str = "") -> domish.Element:
    return xml(
        f"<query xmlns='{NS_REGISTER}'><x xmlns='jabber:x:data' type='submit'>"
        f"<field var='FORM_TYPE' type='hidden'><value>{formType}</value></field>"
        f"<field var='muc#register_roomnick'><value>{nick}</value></field>{extra}</x></query>"
    )


class RegistrationTests(RoomTestCase):
    """
    Registering nicks on the pure room.
    """

    def setUp(self) -> None:
        super().setUp()
        self.createInstant()
        self.room.affiliations["bob@users.example"] = "member"

    def test_form(self) -> None:
        """
        A member asking gets the C{muc#register} form with a required
        C{muc#register_roomnick} (section 7.10, example 60).
        """
        query = registerGet(self.room, BOB, False)
        x = next(query.elements("jabber:x:data", "x"))
        self.assertIn("muc#register_roomnick", x.toXml())
        self.assertIn("http://jabber.org/protocol/muc#register", x.toXml())

    def test_registerAndReserve(self) -> None:
        """
        Submitting the form reserves the nick: asking again gets
        C{<registered/>} with it; another user joining with it gets
        C{conflict} (section 7.10, 7.2.9), its owner may.
        """
        self.assertEqual(registerSet(self.room, BOB, registration("Bobby"), False), [])
        self.assertEqual(reservedNick(self.room, "bob@users.example"), "Bobby")
        self.assertTrue(self.room.stateChanged)
        query = registerGet(self.room, BOB, False)
        self.assertIsNotNone(next(query.elements(NS_REGISTER, "registered"), None))
        self.assertEqual(str(next(query.elements(NS_REGISTER, "username"))), "Bobby")
        [error] = self.enter(CAROL, "Bobby", join("Bobby"))
        self.assertEqual(errorOf(error), ("cancel", "conflict"))
        out = self.enter(BOB, "Bobby", join("Bobby"))
        self.assertIn("Bobby", self.room.occupants)
        self.assertTrue(out)

    def test_nickChangeToReserved(self) -> None:
        """
        Changing one's nick to another's reserved nick is a conflict too.
        """
        registerSet(self.room, BOB, registration("Bobby"), False)
        self.enter(CAROL, "carol")
        [error] = self.enter(CAROL, "Bobby", xml(f"<presence to='{ROOM}/Bobby'/>"))
        self.assertEqual(errorOf(error), ("cancel", "conflict"))

    def test_unaffiliatedRefused(self) -> None:
        """
        Without an affiliation, registration-required (Prosody's default,
        C{allow_unaffiliated_register = false}); with the option, the user
        registers and becomes a member; an outcast gets forbidden.
        """
        with self.assertRaises(StanzaError) as caught:
            registerGet(self.room, CAROL, False)
        self.assertEqual(caught.exception.condition, "registration-required")
        registerSet(self.room, CAROL, registration("cc"), True)
        self.assertEqual(self.room.affiliation(CAROL), "member")
        self.room.affiliations["mallory@users.example"] = "outcast"
        with self.assertRaises(StanzaError) as caught:
            registerGet(self.room, "mallory@users.example/x", True)
        self.assertEqual(caught.exception.condition, "forbidden")

    def test_takenNick(self) -> None:
        """
        A nick reserved by, or in use by, someone else cannot be
        registered: conflict.
        """
        registerSet(self.room, BOB, registration("Bobby"), False)
        self.room.affiliations["carol@users.example"] = "member"
        for nick in ("Bobby", "alice"):
            with self.assertRaises(StanzaError) as caught:
                registerSet(self.room, CAROL, registration(nick), False)
            self.assertEqual(caught.exception.condition, "conflict")

    def test_badForms(self) -> None:
        """
        No form, a form of another type, no nick, a nick that fails
        resourceprep, a field twice: bad-request (modify), as Prosody
        answers.  Unknown fields are ignored, as Prosody ignores them.
        """
        bad = [
            xml(f"<query xmlns='{NS_REGISTER}'/>"),
            registration("Bobby", formType="urn:other"),
            registration(""),
            registration("bad&#9;nick"),
            registration("Bobby", extra="<field var='muc#register_roomnick'><value>again</value></field>"),
        ]
        for query in bad:
            with self.assertRaises(StanzaError) as caught:
                registerSet(self.room, BOB, query, False)
            self.assertEqual((caught.exception.condition, caught.exception.type), ("bad-request", "modify"))
        registerSet(self.room, BOB, registration("Bobby", extra="<field var='x-unknown'><value>1</value></field>"), False)
        self.assertEqual(reservedNick(self.room, "bob@users.example"), "Bobby")

    def test_remove(self) -> None:
        """
        C{<remove/>} cancels the registration: the nick is free and the
        member is no longer one (section 7.11).
        """
        registerSet(self.room, BOB, registration("Bobby"), False)
        registerSet(self.room, BOB, xml(f"<query xmlns='{NS_REGISTER}'><remove/></query>"), False)
        self.assertIsNone(reservedNick(self.room, "bob@users.example"))
        self.assertEqual(self.room.affiliation(BOB), "none")

    def test_memberListNicks(self) -> None:
        """
        The member list shows each member's reserved nick; an owner adding
        a member with a C{nick} reserves it (section 9.5); taking the
        membership away frees the nick.
        """
        self.room.adminSet(ALICE, adminQuery("<item affiliation='member' jid='carol@users.example' nick='Caro'/>"))
        self.assertEqual(reservedNick(self.room, "carol@users.example"), "Caro")
        listed = self.room.adminGet(ALICE, adminQuery("<item affiliation='member'/>"))
        nicks = {i["jid"]: i.getAttribute("nick") for i in listed.elements(NS_ADMIN, "item")}
        self.assertEqual(nicks, {"bob@users.example": None, "carol@users.example": "Caro"})
        with self.assertRaises(StanzaError) as caught:
            self.room.adminSet(ALICE, adminQuery("<item affiliation='member' jid='bob@users.example' nick='Caro'/>"))
        self.assertEqual(caught.exception.condition, "conflict")
        self.room.adminSet(ALICE, adminQuery("<item affiliation='none' jid='carol@users.example'/>"))
        self.assertIsNone(reservedNick(self.room, "carol@users.example"))

    def test_reservationStored(self) -> None:
        """
        Reservations are stored with the room and loaded back.
        """
        registerSet(self.room, BOB, registration("Bobby"), False)
        self.room.config = RoomConfig(persistent=True)
        loaded = type(self.room).load(ROOM, self.room.dump(), self.options)
        self.assertEqual(reservedNick(loaded, "bob@users.example"), "Bobby")

    def test_occupantAnnounced(self) -> None:
        """
        An occupant who registers with the option on becomes a member, and
        the room sees its new affiliation.
        """
        self.enter(CAROL, "carol")
        out = delivered(registerSet(self.room, CAROL, registration("carol"), True))
        self.assertIn("affiliation='member'", "".join(e.toXml() for e in out if e["to"] == ALICE))


class RegistrationThroughComponentTests(MUCTestCase):
    """
    Registration and the nick lookup through the component.
    """

    def test_registerAndDiscover(self) -> None:
        """
        A member gets the form, registers, and disco#info on the room's
        node C{x-roomuser-item} shows the nick (section 7.12); the room
        advertises C{jabber:iq:register}.
        """
        bob = "bob@example.org/b"
        self.instantRoom()
        self.iq("alice@example.org/a", "set", f"room@{MUC}", f"<query xmlns='{NS_ADMIN}'><item affiliation='member' jid='bob@example.org'/></query>")
        form = self.iq(bob, "get", f"room@{MUC}", f"<query xmlns='{NS_REGISTER}'/>")
        self.assertEqual(form["type"], "result")
        done = self.iq(bob, "set", f"room@{MUC}", registration("Bobby").toXml())
        self.assertEqual(done["type"], "result")
        info = self.iq(bob, "get", f"room@{MUC}", f"<query xmlns='{NS_DISCO_INFO}' node='x-roomuser-item'/>")
        [identity] = next(info.elements(NS_DISCO_INFO, "query")).elements(NS_DISCO_INFO, "identity")
        self.assertEqual((identity["category"], identity["type"], identity["name"]), ("conference", "text", "Bobby"))
        info = self.iq(bob, "get", f"room@{MUC}", f"<query xmlns='{NS_DISCO_INFO}'/>")
        self.assertIn(NS_REGISTER, [f["var"] for f in next(info.elements(NS_DISCO_INFO, "query")).elements(NS_DISCO_INFO, "feature")])
        refused = self.iq("carol@example.org/c", "set", f"room@{MUC}", registration("cc").toXml())
        self.assertEqual(errorOf(refused), ("auth", "registration-required"))

    def test_malformedConfigForm(self) -> None:
        """
        A configuration form that cannot be read (a field twice) gets
        bad-request, not an internal error.
        """
        self.instantRoom()
        field = "<field var='muc#roomconfig_roomname'><value>a</value></field>"
        reply = self.iq(
            "alice@example.org/a", "set", f"room@{MUC}",
            f"<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>{field}{field}</x></query>",
        )
        self.assertEqual(errorOf(reply), ("modify", "bad-request"))


class EnforcedNickTests(MUCTestCase):
    """
    Prosody's C{enforce_registered_nickname}.
    """

    options = {"enforce_registered_nickname": True}

    def test_enforced(self) -> None:
        """
        bob, with the reserved nick "Bobby", asking to join as "bob" joins
        as "Bobby" with 210 (XEP-0045 section 7.2.11, the nick the service
        assigned); changing to another nick then gets not-acceptable, as
        Prosody answers.
        """
        bob = "bob@example.org/b"
        self.instantRoom()
        self.iq("alice@example.org/a", "set", f"room@{MUC}",
                f"<query xmlns='{NS_ADMIN}'><item affiliation='member' jid='bob@example.org' nick='Bobby'/></query>")
        received = self.join(bob, "bob")
        [own] = [e for e in received if e.name == "presence" and "110" in codes(e)]
        self.assertEqual(own["from"], f"room@{MUC}/Bobby")
        self.assertIn("210", codes(own))
        self.users.send(f"<presence from='{bob}' to='room@{MUC}/other'/>")
        [error] = self.users.take(lambda e: e.getAttribute("to") == bob)
        self.assertEqual(errorOf(error), ("cancel", "not-acceptable"))

    def test_offByDefault(self) -> None:
        """
        Without the option a member may use another nick than its reserved
        one.
        """
        self.component.enforceRegisteredNick = False
        self.instantRoom()
        self.iq("alice@example.org/a", "set", f"room@{MUC}",
                f"<query xmlns='{NS_ADMIN}'><item affiliation='member' jid='bob@example.org' nick='Bobby'/></query>")
        received = self.join("bob@example.org/b", "bob")
        self.assertIn(f"room@{MUC}/bob", [e["from"] for e in received if e.name == "presence"])
