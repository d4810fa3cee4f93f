"""
Tests for L{xcomp.muc.voice}: voice requests in a moderated room (XEP-0045
section 8.6) and their approval by a moderator, on the pure room.
"""

from __future__ import annotations

from twisted.words.xish import domish

from xcomp.muc.settings import RoomConfig
from xcomp.muc.voice import NS_MUC_REQUEST, REQUEST_INTERVAL
from xcomp.test.muchelpers import ALICE, BOB, CAROL, ROOM, RoomTestCase, codes, delivered, item, to, xml
from xcomp.testing import errorOf


def voiceForm(fields: str, type: str = "submit") -> domish.Element:
    return xml(
        f"<message to='{ROOM}'><x xmlns='jabber:x:data' type='{type}'>"
        f"<field var='FORM_TYPE'><value>{NS_MUC_REQUEST}</value></field>{fields}</x></message>"
    )


REQUEST = voiceForm("<field var='muc#role' type='list-single'><value>participant</value></field>")


class VoiceRequestTests(RoomTestCase):
    """
    alice moderates a moderated room; bob and carol are visitors.
    """

    def setUp(self) -> None:
        super().setUp()
        self.createInstant(RoomConfig(moderated=True))
        self.enter(BOB, "bob")
        self.enter(CAROL, "carol")

    def request(self, sender: str = BOB) -> list[domish.Element]:
        return delivered(self.room.message(sender, None, REQUEST))

    def test_requestToModerators(self) -> None:
        """
        A visitor's request reaches each moderator (only them) as a normal
        message from the room with the muc#request form: the visitor's
        JID and nick, the requested role and muc#request_allow false
        (section 8.6, example 92).
        """
        [message] = self.request()
        self.assertEqual((message["to"], message["from"]), (ALICE, ROOM))
        self.assertIsNone(message.getAttribute("type"))
        text = message.toXml()
        for expected in (NS_MUC_REQUEST, BOB, ">bob<", "muc#request_allow", "participant"):
            self.assertIn(expected, text)

    def test_approval(self) -> None:
        """
        A moderator submitting the form with muc#request_allow true gives
        the visitor voice: everyone sees role participant, the visitor
        with 110 (section 8.6, examples 93-94).
        """
        self.request()
        approval = voiceForm(
            f"<field var='muc#jid'><value>{BOB}</value></field>"
            "<field var='muc#roomnick'><value>bob</value></field>"
            "<field var='muc#request_allow'><value>true</value></field>"
        )
        out = delivered(self.room.message(ALICE, None, approval))
        self.assertEqual(self.room.occupants["bob"].role, "participant")
        [own] = to(out, BOB)
        self.assertEqual(item(own)["role"], "participant")
        self.assertIn("110", codes(own))
        self.assertEqual(item(to(out, CAROL)[0])["role"], "participant")

    def test_denial(self) -> None:
        """
        muc#request_allow false (or missing) changes nothing.
        """
        approval = voiceForm(f"<field var='muc#jid'><value>{BOB}</value></field><field var='muc#request_allow'><value>0</value></field>")
        self.assertEqual(self.room.message(ALICE, None, approval), [])
        self.assertEqual(self.room.occupants["bob"].role, "visitor")

    def test_onlyModeratorsApprove(self) -> None:
        """
        A visitor submitting an approval only asks for voice itself.
        """
        approval = voiceForm(f"<field var='muc#jid'><value>{CAROL}</value></field><field var='muc#request_allow'><value>1</value></field>")
        out = delivered(self.room.message(BOB, None, approval))
        self.assertEqual([e["to"] for e in out], [ALICE])
        self.assertEqual(self.room.occupants["carol"].role, "visitor")

    def test_throttled(self) -> None:
        """
        A second request within L{REQUEST_INTERVAL} gets wait/policy-violation
        and the moderators are not disturbed; later it is passed on.
        """
        self.request()
        [error] = self.request()
        self.assertEqual(errorOf(error), ("wait", "policy-violation"))
        self.clock.now += REQUEST_INTERVAL
        [message] = self.request()
        self.assertEqual(message["to"], ALICE)

    def test_badForms(self) -> None:
        """
        An unreadable request (a field twice), or a non-boolean
        muc#request_allow, gets bad-request; a non-occupant, not-acceptable.
        """
        twice = voiceForm("<field var='muc#role'><value>a</value></field><field var='muc#role'><value>b</value></field>")
        [error] = delivered(self.room.message(BOB, None, twice))
        self.assertEqual(errorOf(error), ("modify", "bad-request"))
        notBoolean = voiceForm("<field var='muc#request_allow'><value>maybe</value></field>")
        [error] = delivered(self.room.message(ALICE, None, notBoolean))
        self.assertEqual(errorOf(error), ("modify", "bad-request"))
        [error] = delivered(self.room.message("eve@users.example/x", None, REQUEST))
        self.assertEqual(errorOf(error), ("cancel", "not-acceptable"))

    def test_participantIgnored(self) -> None:
        """
        An occupant who has voice already asks for nothing (Prosody ignores
        it).
        """
        self.room.occupants["bob"].role = "participant"
        self.assertEqual(self.request(), [])

    def test_featureAdvertised(self) -> None:
        """
        The room's disco#info has the muc#request feature (Prosody's).
        """
        self.assertIn(NS_MUC_REQUEST, self.room.features())
