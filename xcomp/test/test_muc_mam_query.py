"""
Tests for L{xcomp.muc.mam}: XEP-0313 queries of a room's archive with
XEP-0059 paging, over the in-memory router of L{xcomp.testing}.
"""

from __future__ import annotations

from xcomp.muc.mam import NS_MAM
from xcomp.test.mamhelpers import ALICE, BOB, NS_RSM, ROOM, MAMTestCase, fin, form, rsm
from xcomp.testing import errorOf


class QueryTests(MAMTestCase):
    """
    XEP-0313 queries with XEP-0059 paging.
    """

    options = {"max_archive_query_results": 3}

    def setUp(self) -> None:
        super().setUp()
        self.start = self.harness.clock.seconds()
        self.ids = self.say("m0", "m1", "m2", "m3")
        self.say("b0", sender=BOB)

    def test_all(self) -> None:
        """
        Without a page size, a query returns up to
        C{max_archive_query_results}, oldest first, and says it is not
        complete.
        """
        bodies, reply = self.query()
        self.assertEqual(bodies, ["m0", "m1", "m2"])
        complete, bounds, count = fin(reply)
        self.assertEqual((complete, bounds, count), (False, [self.ids[0], self.ids[2]], "5"))
        self.assertEqual(next(reply.elements(NS_MAM, "fin"))["queryid"], "q1")

    def test_paging(self) -> None:
        """
        C{<after/>} gives the next page; the last page is complete.
        """
        bodies, reply = self.query(rsm(max=2))
        self.assertEqual(bodies, ["m0", "m1"])
        _, [first, last], _ = fin(reply)
        bodies, reply = self.query(rsm(max=2, after=last))
        self.assertEqual(bodies, ["m2", "m3"])
        _, [_, last], _ = fin(reply)
        bodies, reply = self.query(rsm(max=2, after=last))
        self.assertEqual(bodies, ["b0"])
        self.assertTrue(fin(reply)[0])

    def test_lastPage(self) -> None:
        """
        An empty C{<before/>} gives the last page, in order; C{<before>id}
        the page before it.
        """
        bodies, reply = self.query(rsm(max=2, before=""))
        self.assertEqual(bodies, ["m3", "b0"])
        self.assertFalse(fin(reply)[0])
        first = next(next(next(reply.elements(NS_MAM, "fin")).elements(NS_RSM, "set")).elements(NS_RSM, "first"))
        self.assertEqual(first["index"], "3")
        bodies, reply = self.query(rsm(max=3, before=self.ids[3]))
        self.assertEqual(bodies, ["m0", "m1", "m2"])
        self.assertTrue(fin(reply)[0])

    def test_timeRange(self) -> None:
        """
        C{start} and C{end} select by time.
        """
        stamps = ["1970-01-12T13:46:{:02d}Z".format(41 + n) for n in range(6)]
        bodies, _ = self.query(form(start=stamps[1], end=stamps[2]))
        self.assertEqual(bodies, ["m1", "m2"])

    def test_with(self) -> None:
        """
        C{with} set to an occupant JID selects that nick's messages.
        """
        bodies, _ = self.query(form(**{"with": f"{ROOM}/bob"}))
        self.assertEqual(bodies, ["b0"])

    def test_withRealJidHidden(self) -> None:
        """
        In a semi-anonymous room, filtering by real JID finds nothing for a
        non-moderator (it would reveal who said what).
        """
        bodies, _ = self.query(form(**{"with": "alice@example.org"}))
        self.assertEqual(bodies, [])
        bodies, _ = self.query(form(**{"with": "bob@example.org"}), sender=ALICE)
        self.assertEqual(bodies, ["b0"])

    def test_beforeAndAfterId(self) -> None:
        """
        The extended C{after-id} and C{before-id} fields select a range.
        """
        after, before = self.ids[0], self.ids[3]
        assert after is not None and before is not None
        bodies, _ = self.query(form(after_id=after, before_id=before))
        self.assertEqual(bodies, ["m1", "m2"])

    def test_unknownId(self) -> None:
        """
        An id that is not in the archive gets item-not-found.
        """
        _, reply = self.query(rsm(after="nosuch"))
        self.assertEqual(errorOf(reply), ("cancel", "item-not-found"))

    def test_badTimestamp(self) -> None:
        """
        A malformed timestamp gets bad-request.
        """
        _, reply = self.query(form(start="yesterday"))
        self.assertEqual(errorOf(reply), ("modify", "bad-request"))

    def test_forbidden(self) -> None:
        """
        Outcasts, and non-members of members-only rooms, may not read the
        archive.
        """
        room = self.harness.component.rooms[ROOM]  # type: ignore[attr-defined]
        room.affiliations["eve@example.org"] = "outcast"
        _, reply = self.query(sender="eve@example.org/e")
        self.assertEqual(errorOf(reply), ("auth", "forbidden"))

    def test_form(self) -> None:
        """
        A get returns the query form with the extended fields.
        """
        self.users.send(f"<iq type='get' id='f' from='{BOB}' to='{ROOM}'><query xmlns='{NS_MAM}'/></iq>")
        [reply] = self.users.take()
        fields = [f["var"] for x in next(reply.elements(NS_MAM, "query")).elements() for f in x.elements()]
        for var in ("FORM_TYPE", "with", "start", "end", "before-id", "after-id", "ids"):
            self.assertIn(var, fields)
