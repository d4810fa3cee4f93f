"""
Tests for L{xcomp.muc.occupantiq}: iqs to an occupant's address forwarded
to its real JID and answered back (XEP-0045 section 7.x, Prosody's
C{handle_iq_to_occupant}), XEP-0410 self-pings, and the bounds of the
table of requests waiting for an answer; then the same through the
component and the in-memory router.
"""

from __future__ import annotations

from twisted.words.xish import domish

from xcomp.muc.occupantiq import IQ_TIMEOUT, IqForwarder
from xcomp.test.muchelpers import ALICE, BOB, CAROL, ROOM, RoomTestCase, delivered, xml
from xcomp.test.test_muc import MUC, MUCTestCase
from xcomp.testing import errorOf


def version(to: str, id: str = "v1") -> domish.Element:
    return xml(f"<iq type='get' id='{id}' to='{to}'><query xmlns='jabber:iq:version'/></iq>")


class ForwarderTests(RoomTestCase):
    """
    L{IqForwarder} on a room with alice and bob.
    """

    def setUp(self) -> None:
        super().setUp()
        self.createInstant()
        self.enter(BOB, "bob")
        self.forwarder = IqForwarder(self.clock, limit=5, perRequester=3)

    def forward(self, sender: str = ALICE, nick: str = "bob", id: str = "v1") -> domish.Element:
        [out] = delivered(self.forwarder.request(self.room, sender, nick, version(f"{ROOM}/{nick}", id)))
        return out

    def test_forwarded(self) -> None:
        """
        An iq to C{room/nick} goes to that occupant's real JID, from the
        requester's occupant JID, with a new id that does not carry the
        requester's real JID (XEP-0045 section 7.x; Prosody forwards it).
        """
        out = self.forward()
        self.assertEqual((out["type"], out["to"], out["from"]), ("get", BOB, f"{ROOM}/alice"))
        self.assertNotEqual(out["id"], "v1")
        self.assertNotIn("alice", out["id"])
        self.assertEqual(len(self.forwarder), 1)

    def test_answerRoutedBack(self) -> None:
        """
        The occupant's answer goes back to the requester with its own id,
        from the answering occupant's JID; the entry is then forgotten.
        """
        out = self.forward()
        answer = xml(f"<iq type='result' id='{out['id']}' to='{ROOM}/alice'><query xmlns='jabber:iq:version'><name>x</name></query></iq>")
        [back] = delivered(self.forwarder.answer(self.room, BOB, answer))
        self.assertEqual((back["type"], back["to"], back["from"], back["id"]), ("result", ALICE, f"{ROOM}/bob", "v1"))
        self.assertIn("<name>x</name>", back.toXml())
        self.assertEqual(len(self.forwarder), 0)
        self.assertEqual(self.forwarder.answer(self.room, BOB, answer), [])

    def test_errorAnswerRoutedBack(self) -> None:
        """
        An error answer is routed back the same way.
        """
        out = self.forward()
        answer = xml(
            f"<iq type='error' id='{out['id']}' to='{ROOM}/alice'><error type='cancel'>"
            "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
        )
        [back] = delivered(self.forwarder.answer(self.room, BOB, answer))
        self.assertEqual(errorOf(back), ("cancel", "service-unavailable"))
        self.assertEqual(back["to"], ALICE)

    def test_answerFromOtherJidDropped(self) -> None:
        """
        An answer from another JID than the request went to, or with an
        unknown id, is dropped (a third party cannot inject answers).
        """
        out = self.forward()
        forged = xml(f"<iq type='result' id='{out['id']}' to='{ROOM}/alice'/>")
        self.assertEqual(self.forwarder.answer(self.room, CAROL, forged), [])
        unknown = xml(f"<iq type='result' id='nope' to='{ROOM}/alice'/>")
        self.assertEqual(self.forwarder.answer(self.room, BOB, unknown), [])
        self.assertEqual(len(self.forwarder), 1)

    def test_expiry(self) -> None:
        """
        A request unanswered for L{IQ_TIMEOUT} is forgotten: a later answer
        is dropped.
        """
        out = self.forward()
        self.clock.now += IQ_TIMEOUT
        answer = xml(f"<iq type='result' id='{out['id']}' to='{ROOM}/alice'/>")
        self.assertEqual(self.forwarder.answer(self.room, BOB, answer), [])
        self.assertEqual(len(self.forwarder), 0)

    def test_bounded(self) -> None:
        """
        One requester may have 3 requests waiting here, everyone 5: beyond,
        wait/resource-constraint; once they expire there is room again.
        """
        for n in range(3):
            self.forward(id=f"a{n}")
        [error] = delivered(self.forwarder.request(self.room, ALICE, "bob", version(f"{ROOM}/bob", "a3")))
        self.assertEqual(errorOf(error), ("wait", "resource-constraint"))
        for n in range(2):
            self.forward(BOB, "alice", id=f"b{n}")
        [error] = delivered(self.forwarder.request(self.room, BOB, "alice", version(f"{ROOM}/alice", "b2")))
        self.assertEqual(errorOf(error), ("wait", "resource-constraint"))
        self.clock.now += IQ_TIMEOUT
        self.assertEqual(self.forward(id="later")["to"], BOB)

    def test_vcardToBareJid(self) -> None:
        """
        A vCard request goes to the occupant's bare JID (its account
        answers), as Prosody sends it; the account's answer comes back.
        """
        iq = xml(f"<iq type='get' id='vc' to='{ROOM}/bob'><vCard xmlns='vcard-temp'/></iq>")
        [out] = delivered(self.forwarder.request(self.room, ALICE, "bob", iq))
        self.assertEqual(out["to"], "bob@users.example")
        answer = xml(f"<iq type='result' id='{out['id']}' to='{ROOM}/alice'><vCard xmlns='vcard-temp'/></iq>")
        [back] = delivered(self.forwarder.answer(self.room, "bob@users.example", answer))
        self.assertEqual((back["to"], back["id"]), (ALICE, "vc"))

    def test_selfPing(self) -> None:
        """
        XEP-0410 section 3: a ping to one's own occupant JID is answered by
        the room; from a non-occupant it gets not-acceptable; to a nick
        nobody has, item-not-found.
        """
        ping = xml(f"<iq type='get' id='sp' to='{ROOM}/bob'><ping xmlns='urn:xmpp:ping'/></iq>")
        [result] = delivered(self.forwarder.request(self.room, BOB, "bob", ping))
        self.assertEqual((result["type"], result["to"], result["from"]), ("result", BOB, f"{ROOM}/bob"))
        [error] = delivered(self.forwarder.request(self.room, CAROL, "bob", ping))
        self.assertEqual(errorOf(error), ("cancel", "not-acceptable"))
        [error] = delivered(self.forwarder.request(self.room, BOB, "nobody", version(f"{ROOM}/nobody")))
        self.assertEqual(errorOf(error), ("cancel", "item-not-found"))
        self.assertEqual(len(self.forwarder), 0)


class ForwardingThroughRouterTests(MUCTestCase):
    """
    The component forwards and routes back through the router.
    """

    def test_roundTrip(self) -> None:
        """
        alice asks bob's occupant JID for its software version; bob's
        client gets it from alice's occupant JID and answers; alice gets
        the answer from bob's occupant JID with her id.
        """
        alice, bob = "alice@example.org/a", "bob@example.org/b"
        self.instantRoom(alice)
        self.join(bob, "bob")
        self.users.send(f"<iq type='get' id='ver' from='{alice}' to='room@{MUC}/bob'><query xmlns='jabber:iq:version'/></iq>")
        [request] = self.users.take(lambda e: e.name == "iq" and e.getAttribute("to") == bob)
        self.assertEqual(request["from"], f"room@{MUC}/owner")
        self.users.send(
            f"<iq type='result' id='{request['id']}' from='{bob}' to='room@{MUC}/owner'>"
            "<query xmlns='jabber:iq:version'><name>bobclient</name></query></iq>"
        )
        [answer] = self.users.take(lambda e: e.name == "iq" and e.getAttribute("to") == alice)
        self.assertEqual((answer["type"], answer["id"], answer["from"]), ("result", "ver", f"room@{MUC}/bob"))
        self.assertIn("bobclient", answer.toXml())

    def test_discoForwarded(self) -> None:
        """
        disco#info to an occupant (how clients read each other's
        capabilities, XEP-0115) is forwarded to the occupant, not answered
        by the room, as Prosody forwards every iq to an occupant.
        """
        alice, bob = "alice@example.org/a", "bob@example.org/b"
        self.instantRoom(alice)
        self.join(bob, "bob")
        self.users.take()
        self.users.send(
            f"<iq type='get' id='caps' from='{alice}' to='room@{MUC}/bob'>"
            "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>"
        )
        [request] = self.users.take()
        self.assertEqual((request["to"], request["from"], request["type"]), (bob, f"room@{MUC}/owner", "get"))
