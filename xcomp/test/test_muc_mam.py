"""
Tests for L{xcomp.muc.mam}, the C{muc_mam} module, over the in-memory router
of L{xcomp.testing}: what is archived and stamped, the options that turn
archiving on and make it expire, and Prosody's periods.  Queries are tested
in L{xcomp.test.test_muc_mam_query}, the history refilled from the archive
in L{xcomp.test.test_muc_mam_refill}.
"""

from __future__ import annotations

from twisted.internet import defer
from twisted.trial.unittest import SynchronousTestCase
from twisted.words.xish import domish

from xcomp.muc import mam
from xcomp.muc.mam import NS_MAM, RoomArchive, parsePeriod
from xcomp.muc.store import ArchiveQuery
from xcomp.test.mamhelpers import (
    ALICE,
    BOB,
    NS_DISCO_INFO,
    NS_OWNER,
    NS_SID,
    ROOM,
    MAMTestCase,
    codes,
    fin,
    form,
)
from xcomp.testing import errorOf


class ArchivingTests(MAMTestCase):
    """
    Groupchat messages are archived and stamped.
    """

    def test_stanzaIdAndArchive(self) -> None:
        """
        Every occupant receives the same XEP-0359 stanza id, by the room,
        and the message can be found in the archive under it.
        """
        self.harness.advance(1)
        self.users.send(f"<message type='groupchat' from='{ALICE}' to='{ROOM}'><body>hi</body></message>")
        received = self.users.take()
        ids = {(s["id"], s["by"]) for m in received for s in m.elements(NS_SID, "stanza-id")}
        self.assertEqual(len(received), 2)
        [(stanzaId, by)] = ids
        self.assertEqual(by, ROOM)
        bodies, reply = self.query(form(ids=[stanzaId]))
        self.assertEqual(bodies, ["hi"])

    def test_joinAnnouncesLogging(self) -> None:
        """
        The self-presence in an archived room has status 170, and the room's
        disco#info the mam feature.
        """
        self.users.send(f"<presence from='carol@example.org/c' to='{ROOM}/carol'/>")
        received = self.users.take()
        [presence] = [
            e for e in received
            if e.name == "presence" and (e["from"], e["to"]) == (f"{ROOM}/carol", "carol@example.org/c")
        ]
        self.assertIn("170", codes(presence))
        self.assertIn(NS_MAM, self.features())

    def features(self) -> list[str]:
        """
        The room's disco#info features.
        """
        self.users.send(f"<iq type='get' id='d' from='{BOB}' to='{ROOM}'><query xmlns='{NS_DISCO_INFO}'/></iq>")
        [reply] = self.users.take()
        return [f["var"] for f in next(reply.elements(NS_DISCO_INFO, "query")).elements(NS_DISCO_INFO, "feature")]

    def test_stanzaIdFeature(self) -> None:
        """
        A room whose messages get stanza ids advertises C{urn:xmpp:sid:0}
        (XEP-0359 section 6); one that is not archived does not.
        """
        self.assertIn(NS_SID, self.features())
        self.users.send(
            f"<iq type='set' id='c' from='{ALICE}' to='{ROOM}'><query xmlns='{NS_OWNER}'>"
            "<x xmlns='jabber:x:data' type='submit'>"
            "<field var='muc#roomconfig_enablearchiving'><value>0</value></field></x></query></iq>"
        )
        self.users.take()
        self.assertNotIn(NS_SID, self.features())
        self.assertNotIn(NS_MAM, self.features())

    def test_subjectAndPresenceNotArchived(self) -> None:
        """
        Only messages with a body are archived.
        """
        self.users.send(f"<message type='groupchat' from='{ALICE}' to='{ROOM}'><subject>s</subject></message>")
        self.users.take()
        bodies, reply = self.query()
        self.assertEqual(bodies, [])
        self.assertEqual(fin(reply), (True, [], "0"))

    def test_roomDestroyedDeletesArchive(self) -> None:
        """
        Destroying a room deletes its archive, as Prosody does.
        """
        self.say("one")
        archive = self.archive()
        self.users.send(f"<iq type='set' id='d' from='{ALICE}' to='{ROOM}'><query xmlns='{NS_OWNER}'><destroy/></query></iq>")
        page = self.successResultOf(self.harness.component.store.query(ROOM, ArchiveQuery()))  # type: ignore[attr-defined]
        self.assertEqual((page.count, archive.queued), (0, []))

    def archive(self) -> RoomArchive:
        [extension] = self.harness.component.extensions  # type: ignore[attr-defined]
        return extension

    def test_floodBounded(self) -> None:
        """
        While the database is slow, at most L{mam.MAX_QUEUED} messages
        wait; more are refused with wait/resource-constraint rather than
        held in memory.
        """
        self.patch(mam, "MAX_QUEUED", 3)
        store = self.harness.component.store  # type: ignore[attr-defined]
        stuck: defer.Deferred[None] = defer.Deferred()
        self.patch(store, "append", lambda entries: stuck)
        self.say("1")  # being written
        self.say("2", "3", "4")  # queued
        self.users.send(f"<message type='groupchat' id='x' from='{ALICE}' to='{ROOM}'><body>5</body></message>")
        [error] = self.users.take()
        self.assertEqual(errorOf(error), ("wait", "resource-constraint"))
        self.assertEqual(len(self.archive().queued), 3)


class OptionTests(MAMTestCase):
    """
    C{muc_log_by_default}, the room form field, and expiry.
    """

    options = {"muc_log_by_default": False, "muc_log_expires_after": 60, "muc_log_cleanup_interval": 30}

    def configure(self, value: str) -> list[domish.Element]:
        self.users.send(
            f"<iq type='set' id='c' from='{ALICE}' to='{ROOM}'><query xmlns='{NS_OWNER}'>"
            "<x xmlns='jabber:x:data' type='submit'>"
            f"<field var='muc#roomconfig_enablearchiving'><value>{value}</value></field></x></query></iq>"
        )
        return [e for e in self.users.take() if e.name == "message"]

    def test_offByDefault(self) -> None:
        """
        With C{muc_log_by_default = false} nothing is archived until the
        owner turns archiving on, which occupants learn with 170 (and 171
        when it is turned off).
        """
        self.say("before")
        self.assertEqual(self.query()[0], [])
        notices = self.configure("1")
        self.assertEqual([codes(n) for n in notices], [{"104", "170"}] * 2)
        self.say("after")
        self.assertEqual(self.query()[0], ["after"])
        self.assertEqual([codes(n) for n in self.configure("0")], [{"104", "171"}] * 2)

    def test_expiry(self) -> None:
        """
        Messages older than C{muc_log_expires_after} are not returned, and
        are removed by the periodic cleanup.
        """
        self.configure("1")
        self.say("old")
        self.harness.advance(45)
        self.say("new")
        self.harness.advance(20)
        self.assertEqual(self.query()[0], ["new"])
        page = self.successResultOf(self.harness.component.store.query(ROOM, ArchiveQuery()))  # type: ignore[attr-defined]
        self.assertEqual([e.stanza.count("new") for e in page.entries], [1])


class PeriodTests(SynchronousTestCase):
    """
    L{parsePeriod} reads Prosody's periods.
    """

    def test_periods(self) -> None:
        """
        Numbers are seconds; units d, w, m (30 days), y; "never" is None.
        """
        self.assertEqual(parsePeriod(90), 90)
        self.assertEqual(parsePeriod("1w"), 604800)
        self.assertEqual(parsePeriod("2d"), 172800)
        self.assertEqual(parsePeriod("1m"), 30 * 86400)
        self.assertIsNone(parsePeriod("never"))
        self.assertRaises(ValueError, parsePeriod, "soon")
        self.assertRaises(ValueError, parsePeriod, 0)
