"""
Tests for L{xcomp.muc.retraction}: XEP-0425 message moderation in a room
with C{muc_mam}, over the in-memory router: the announcement every
occupant gets, the tombstone in the archive, the history, and the refusals.
"""

from __future__ import annotations

from twisted.words.xish import domish

from xcomp.muc.mam import NS_MAM
from xcomp.muc.retraction import NS_FASTEN, NS_MODERATE, NS_MODERATE_0, NS_RETRACT, NS_RETRACT_0
from xcomp.test.mamhelpers import ALICE, BOB, NS_DISCO_INFO, ROOM, MAMTestCase, form
from xcomp.testing import errorOf

NS_OCCUPANT_ID = "urn:xmpp:occupant-id:0"


def moderate(stanzaId: str, reason: str = "spam") -> str:
    return (
        f"<moderate xmlns='{NS_MODERATE}' id='{stanzaId}'><retract xmlns='{NS_RETRACT}'/>"
        f"<reason>{reason}</reason></moderate>"
    )


class ModerationTests(MAMTestCase):
    """
    alice moderates; bob says something that is then retracted.
    """

    def said(self, body: str, sender: str) -> str:
        [stanzaId] = self.say(body, sender=sender)
        assert stanzaId is not None
        return stanzaId

    def request(self, payload: str, sender: str = ALICE, to: str = ROOM) -> list[domish.Element]:
        self.users.send(f"<iq type='set' id='mod' from='{sender}' to='{to}'>{payload}</iq>")
        return self.users.take()

    def archived(self, stanzaId: str) -> domish.Element:
        self.users.send(
            f"<iq type='set' id='mam' from='{ALICE}' to='{ROOM}'><query xmlns='{NS_MAM}' queryid='q'>{form(ids=[stanzaId])}</query></iq>"
        )
        [result, _] = self.users.take(lambda e: e.getAttribute("to") == ALICE)
        forwarded = next(next(result.elements(NS_MAM, "result")).elements("urn:xmpp:forward:0", "forwarded"))
        return next(forwarded.elements("jabber:client", "message"))

    def test_retract(self) -> None:
        """
        A moderator's request (XEP-0425 section 4, example 1) is answered
        with a result, every occupant gets the room's groupchat message
        with C{<retract id=''/>}, who moderated it (with the moderator's
        occupant id) and the reason (example 2).
        """
        stanzaId = self.said("buy now", BOB)
        out = self.request(moderate(stanzaId))
        [reply] = [e for e in out if e.name == "iq"]
        self.assertEqual((reply["type"], reply["to"]), ("result", ALICE))
        notices = [e for e in out if e.name == "message"]
        self.assertEqual(sorted(n["to"] for n in notices), sorted([ALICE, BOB]))
        for notice in notices:
            self.assertEqual((notice["from"], notice["type"]), (ROOM, "groupchat"))
            retract = next(notice.elements(NS_RETRACT, "retract"))
            self.assertEqual(retract["id"], stanzaId)
            moderated = next(retract.elements(NS_MODERATE, "moderated"))
            self.assertEqual(moderated["by"], f"{ROOM}/alice")
            self.assertTrue(next(moderated.elements(NS_OCCUPANT_ID, "occupant-id"))["id"])
            self.assertEqual(str(next(retract.elements(NS_RETRACT, "reason"))), "spam")

    def test_tombstoneInArchive(self) -> None:
        """
        The archive keeps a tombstone (section 5): the message's ids and a
        C{<retracted/>}, no body.
        """
        stanzaId = self.said("buy now", BOB)
        self.request(moderate(stanzaId))
        kept = self.archived(stanzaId)
        self.assertNotIn("buy now", kept.toXml())
        retracted = next(kept.elements(NS_RETRACT, "retracted"))
        self.assertTrue(retracted["stamp"])
        self.assertEqual(next(retracted.elements(NS_MODERATE, "moderated"))["by"], f"{ROOM}/alice")
        self.assertEqual(kept["from"], f"{ROOM}/bob")

    def test_historyForgets(self) -> None:
        """
        A newcomer's history no longer has the retracted message.
        """
        self.say("kept", sender=BOB)
        stanzaId = self.said("buy now", BOB)
        self.request(moderate(stanzaId))
        self.users.send(f"<presence from='carol@example.org/c' to='{ROOM}/carol'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
        history = [e for e in self.users.take() if e.name == "message" and e.body is not None]
        self.assertEqual([str(m.body) for m in history], ["kept"])

    def test_refusals(self) -> None:
        """
        Not a moderator: forbidden; no such message: item-not-found; no
        C{id} or no C{<retract/>}: bad-request.
        """
        stanzaId = self.said("hello", ALICE)
        [error] = self.request(moderate(stanzaId), sender=BOB)
        self.assertEqual(errorOf(error), ("auth", "forbidden"))
        [error] = self.request(moderate("nope"))
        self.assertEqual(errorOf(error), ("cancel", "item-not-found"))
        [error] = self.request(f"<moderate xmlns='{NS_MODERATE}'><retract xmlns='{NS_RETRACT}'/></moderate>")
        self.assertEqual(errorOf(error), ("modify", "bad-request"))
        [error] = self.request(f"<moderate xmlns='{NS_MODERATE}' id='{stanzaId}'/>")
        self.assertEqual(errorOf(error), ("modify", "bad-request"))
        self.assertIn("hello", self.archived(stanzaId).toXml())

    def test_featureAdvertised(self) -> None:
        """
        An archived room advertises C{urn:xmpp:message-moderate:1}
        (section 3).
        """
        self.users.send(f"<iq type='get' id='i' from='{BOB}' to='{ROOM}'><query xmlns='{NS_DISCO_INFO}'/></iq>")
        [info] = self.users.take()
        self.assertIn(NS_MODERATE, [f["var"] for f in next(info.elements(NS_DISCO_INFO, "query")).elements(NS_DISCO_INFO, "feature")])

    def test_toOccupantForwarded(self) -> None:
        """
        A MAM query or a moderation sent to an occupant's address is not
        the room's: it is forwarded to the occupant, as every iq to an
        occupant is.
        """
        for payload in (f"<query xmlns='{NS_MAM}' queryid='x'/>", moderate("some-id")):
            [forwarded] = self.request(payload, to=f"{ROOM}/bob")
            self.assertEqual((forwarded["to"], forwarded["from"], forwarded["type"]), (BOB, f"{ROOM}/alice", "set"))

    def test_legacyRequest(self) -> None:
        """
        XEP-0425 0.2's request (C{urn:xmpp:message-moderate:0} in a
        XEP-0422 C{<apply-to/>}), which older clients send, retracts too;
        the announcement carries both forms.
        """
        stanzaId = self.said("buy now", BOB)
        out = self.request(
            f"<apply-to xmlns='{NS_FASTEN}' id='{stanzaId}'><moderate xmlns='{NS_MODERATE_0}'>"
            f"<retract xmlns='{NS_RETRACT_0}'/><reason>spam</reason></moderate></apply-to>"
        )
        [reply] = [e for e in out if e.name == "iq"]
        self.assertEqual(reply["type"], "result")
        [notice] = [e for e in out if e.name == "message" and e["to"] == BOB]
        self.assertEqual(next(notice.elements(NS_RETRACT, "retract"))["id"], stanzaId)
        applyTo = next(notice.elements(NS_FASTEN, "apply-to"))
        self.assertEqual(applyTo["id"], stanzaId)
        legacy = next(applyTo.elements(NS_MODERATE_0, "moderated"))
        self.assertEqual(legacy["by"], f"{ROOM}/alice")
        self.assertIsNotNone(next(legacy.elements(NS_RETRACT_0, "retract"), None))
        self.assertNotIn("buy now", self.archived(stanzaId).toXml())
