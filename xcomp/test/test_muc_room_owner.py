"""
Tests for L{xcomp.muc.owner}: the room configuration form, destruction,
what is stored of a room, and the disco#info features that follow its
configuration (muc#owner), in a room as a pure state machine, with no
router, no reactor and no I/O.
"""

from __future__ import annotations

import attrs
from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.xish import domish

from xcomp.muc.elements import NS_MUC_USER
from xcomp.muc.room import Room
from xcomp.test.muchelpers import (
    ALICE,
    BOB,
    NS_OWNER,
    ROOM,
    RoomTestCase,
    adminQuery,
    codes,
    delivered,
    to,
)


class OwnerTests(RoomTestCase):
    """
    The configuration form and destruction (muc#owner).
    """

    def submit(self, fields: dict[str, str], sender: str = ALICE) -> list[domish.Element]:
        body = "".join(f"<field var='{k}'><value>{v}</value></field>" for k, v in fields.items())
        query = adminQuery(
            "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'>"
            f"<value>http://jabber.org/protocol/muc#roomconfig</value></field>{body}</x>",
            NS_OWNER,
        )
        return delivered(self.room.ownerSet(sender, query))

    def test_form(self) -> None:
        """
        Owners get the muc#roomconfig form with the fields people rely on.
        """
        self.createInstant()
        result = self.room.ownerGet(ALICE, adminQuery("", NS_OWNER))
        form = next(result.elements("jabber:x:data", "x"))
        fields = {f.getAttribute("var") for f in form.elements("jabber:x:data", "field")}
        for var in (
            "muc#roomconfig_roomname", "muc#roomconfig_roomdesc", "muc#roomconfig_persistentroom",
            "muc#roomconfig_publicroom", "muc#roomconfig_membersonly", "muc#roomconfig_moderatedroom",
            "muc#roomconfig_passwordprotectedroom", "muc#roomconfig_roomsecret", "muc#roomconfig_whois",
            "muc#roomconfig_allowinvites", "muc#roomconfig_allowpm", "muc#roomconfig_changesubject",
            "muc#roomconfig_historylength", "muc#roomconfig_maxusers",
        ):
            self.assertIn(var, fields)
        self.enter(BOB, "bob")
        error = self.assertRaises(StanzaError, self.room.ownerGet, BOB, adminQuery("", NS_OWNER))
        self.assertEqual(error.condition, "forbidden")

    def test_instantRoom(self) -> None:
        """
        Submitting the form (even empty) unlocks a new room.
        """
        self.enter(ALICE, "alice", created=True)
        self.submit({})
        self.assertFalse(self.room.locked)
        self.assertEqual(len(to(self.enter(BOB, "bob"), BOB)), 3)

    def test_cancelDestroysNewRoom(self) -> None:
        """
        Cancelling the form of a locked room destroys it.
        """
        self.enter(ALICE, "alice", created=True)
        self.room.ownerSet(ALICE, adminQuery("<x xmlns='jabber:x:data' type='cancel'/>", NS_OWNER))
        self.assertTrue(self.room.destroyed)

    def test_configure(self) -> None:
        """
        Submitted values change the configuration; occupants are told with
        104, and 172 when the room becomes non-anonymous.
        """
        self.createInstant()
        self.enter(BOB, "bob")
        out = self.submit({
            "muc#roomconfig_roomname": "Lounge", "muc#roomconfig_persistentroom": "1",
            "muc#roomconfig_whois": "anyone", "muc#roomconfig_historylength": "500",
            "muc#roomconfig_maxusers": "30", "muc#roomconfig_allowpm": "moderators",
        })
        config = self.room.config
        self.assertEqual(
            (config.name, config.persistent, config.whois, config.historyLength, config.maxUsers, config.allowPM),
            ("Lounge", True, "anyone", self.options.maxHistory, 30, "moderators"),
        )
        self.assertEqual([codes(m) for m in out], [{"104", "172"}, {"104", "172"}])
        self.assertTrue(self.room.stateChanged)

    def test_configureMembersOnly(self) -> None:
        """
        Making the room members-only removes non-members with 322.
        """
        self.createInstant()
        self.enter(BOB, "bob")
        out = self.submit({"muc#roomconfig_membersonly": "true"})
        self.assertIn({"110", "322"}, [codes(p) for p in to(out, BOB)])
        self.assertEqual(list(self.room.occupants), ["alice"])

    def test_configureBadValue(self) -> None:
        """
        An unusable value is refused with not-acceptable and changes
        nothing.
        """
        self.createInstant()
        before = self.room.config
        error = self.assertRaises(StanzaError, self.submit, {"muc#roomconfig_maxusers": "many"})
        self.assertEqual(error.condition, "not-acceptable")
        self.assertEqual(self.room.config, before)

    def test_password(self) -> None:
        """
        C{passwordprotectedroom} with C{roomsecret} sets the password.
        """
        self.createInstant()
        self.submit({"muc#roomconfig_passwordprotectedroom": "1", "muc#roomconfig_roomsecret": "pw"})
        self.assertEqual(self.room.config.password, "pw")
        self.assertIn("muc_passwordprotected", self.room.features())

    def test_destroy(self) -> None:
        """
        An owner destroys the room: each occupant gets an unavailable
        presence with the destroy element naming the alternate venue.
        """
        self.createInstant()
        self.enter(BOB, "bob")
        query = adminQuery(
            "<destroy jid='other@muc.example'><reason>moving</reason></destroy>", NS_OWNER
        )
        out = delivered(self.room.ownerSet(ALICE, query))
        self.assertEqual(sorted(p["to"] for p in out), [ALICE, BOB])
        destroy = next(next(out[0].elements(NS_MUC_USER, "x")).elements(NS_MUC_USER, "destroy"))
        self.assertEqual(destroy["jid"], "other@muc.example")
        self.assertEqual(str(next(destroy.elements(NS_MUC_USER, "reason"))), "moving")
        self.assertTrue(self.room.destroyed)
        self.assertTrue(self.room.isEmpty())

    def test_dumpAndLoad(self) -> None:
        """
        What is stored of a room comes back as it was.
        """
        self.createInstant(attrs.evolve(self.options.defaults, name="Lounge", persistent=True))
        self.room.affiliations["bob@users.example"] = "member"
        self.room.subject = ("Topic", "alice")
        self.room.extra["archiving"] = False
        copy = Room.load(ROOM, self.room.dump(), self.options)
        self.assertEqual(copy.dump(), self.room.dump())
        self.assertEqual(copy.occupantIdOf("bob@users.example"), self.room.occupantIdOf("bob@users.example"))

    def test_features(self) -> None:
        """
        disco#info features follow the configuration.
        """
        self.createInstant()
        features = self.room.features()
        for feature in ("http://jabber.org/protocol/muc", "muc_public", "muc_temporary", "muc_open",
                        "muc_unmoderated", "muc_semianonymous", "muc_unsecured", "urn:xmpp:occupant-id:0"):
            self.assertIn(feature, features)
