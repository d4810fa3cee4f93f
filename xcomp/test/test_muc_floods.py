"""
Bad input and floods against the C{muc} component (issue 14): nicks that
fail resourceprep, thousands of join attempts and presence floods from one
JID.  Each gets its error, the tables stay bounded, and the other occupants
notice nothing.  L{xcomp.muc.shaper} is tested on its own first.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from xcomp.muc.shaper import ROOM_BURST, SERVICE_BURST, PresenceShaper, PresenceShapers
from xcomp.test.test_muc import MUC, NS_MUC, ROOM, MUCTestCase
from xcomp.testing import errorOf

ALICE = "alice@example.org/a"
MALLORY = "mallory@example.org/m"


class ShaperTests(SynchronousTestCase):
    """
    L{PresenceShaper}'s token buckets.
    """

    def test_burstThenRate(self) -> None:
        """
        A user may send a burst, then one presence per 1/rate seconds.
        """
        now = [0.0]
        shaper = PresenceShaper(lambda: now[0], rate=2.0, burst=3)
        self.assertEqual([shaper.allow("m@x") for _ in range(4)], [True, True, True, False])
        self.assertTrue(shaper.allow("other@x"))
        now[0] += 0.5
        self.assertEqual([shaper.allow("m@x") for _ in range(2)], [True, False])

    def test_serviceAndRoom(self) -> None:
        """
        A client rejoining its 100 rooms at once is let through (the
        service's burst); ten status changes to one room are, the eleventh
        is not, and a refused presence takes nothing from the service's
        bucket.
        """
        shapers = PresenceShapers(lambda: 0.0)
        self.assertTrue(all(shapers.allow("u@x", f"r{n}@muc") for n in range(100)))
        self.assertEqual([shapers.allow("v@x", "r@muc") for _ in range(ROOM_BURST + 1)][-2:], [True, False])
        for _ in range(1000):
            shapers.allow("v@x", "r@muc")
        self.assertTrue(shapers.allow("v@x", "other@muc"))

    def test_bounded(self) -> None:
        """
        At most C{maxTracked} buckets are kept, the least recently used
        forgotten.
        """
        shaper = PresenceShaper(lambda: 0.0, maxTracked=100)
        for n in range(10000):
            shaper.allow(f"u{n}@x")
        self.assertEqual(len(shaper), 100)


class BadInputTests(MUCTestCase):
    """
    What a hostile or broken client sends.
    """

    def test_nickFailingResourceprep(self) -> None:
        """
        A nick with a tab or a DEL character fails resourceprep (RFC 7622
        section 3.4): the presence gets C{jid-malformed} (modify) instead
        of no answer; so do a message and an iq to such an address.
        """
        # Character references: a literal tab in an attribute is read as a space.
        for bad in ("bad&#9;nick", "bad&#127;nick"):
            self.users.send(f"<presence id='p' from='{ALICE}' to='{ROOM}/{bad}'><x xmlns='{NS_MUC}'/></presence>")
            [error] = self.users.take(lambda e: e.getAttribute("to") == ALICE)
            self.assertEqual((error.name, errorOf(error)), ("presence", ("modify", "jid-malformed")))
            self.users.send(f"<message id='m' from='{ALICE}' to='{ROOM}/{bad}'><body>x</body></message>")
            [error] = self.users.take(lambda e: e.getAttribute("to") == ALICE)
            self.assertEqual((error.name, errorOf(error)), ("message", ("modify", "jid-malformed")))
            self.users.send(f"<iq type='get' id='i' from='{ALICE}' to='{ROOM}/{bad}'><query xmlns='jabber:iq:version'/></iq>")
            [error] = self.users.take(lambda e: e.getAttribute("to") == ALICE)
            self.assertEqual((error.name, errorOf(error)), ("iq", ("modify", "jid-malformed")))
        self.assertEqual(self.component.rooms, {})

    def test_tenThousandJoins(self) -> None:
        """
        10,000 join attempts from one JID, to as many rooms and to one room
        under as many nicks: past the burst each gets
        C{wait}/C{policy-violation}; at most the service burst's rooms are
        made, and the occupant of another room receives nothing.
        """
        self.instantRoom(ALICE)
        self.users.take()
        for n in range(5000):
            self.users.send(f"<presence id='j{n}' from='{MALLORY}' to='r{n}@{MUC}/m'><x xmlns='{NS_MUC}'/></presence>")
        for n in range(5000):
            self.users.send(f"<presence id='k{n}' from='{MALLORY}' to='{ROOM}/m{n}'><x xmlns='{NS_MUC}'/></presence>")
        self.assertEqual(self.users.take(lambda e: e.getAttribute("to") == ALICE), [])
        errors = [e for e in self.users.take() if e.getAttribute("type") == "error"]
        self.assertEqual(len(errors), 10000 - SERVICE_BURST)
        self.assertEqual({errorOf(e) for e in errors}, {("wait", "policy-violation")})
        self.assertLessEqual(len(self.component.rooms), SERVICE_BURST + 1)
        self.assertLessEqual(len(self.component.shaper.service), 2)
        self.assertLessEqual(len(self.component.shaper.rooms), SERVICE_BURST + 2)

    def test_presenceFlood(self) -> None:
        """
        An occupant flooding status changes: the others see at most the
        burst; the rest is refused with C{policy-violation}; leaving still
        works.
        """
        self.instantRoom(ALICE)
        self.join(MALLORY, "m")
        self.users.take()
        for n in range(1000):
            self.users.send(f"<presence from='{MALLORY}' to='{ROOM}/m'><status>{n}</status></presence>")
        seen = self.users.take(lambda e: e.getAttribute("to") == ALICE)
        self.assertLessEqual(len(seen), ROOM_BURST)
        self.users.send(f"<presence type='unavailable' from='{MALLORY}' to='{ROOM}/m'/>")
        [gone] = self.users.take(lambda e: e.getAttribute("to") == ALICE)
        self.assertEqual(gone["type"], "unavailable")
