"""
Tests for the room directory of a C{muc} service: disco#items paged with
XEP-0059 result set management over thousands of rooms
(L{xcomp.muc.rsm}, L{xcomp.muc.discovery.DirectoryDiscoHandler}), and
unique room names (XEP-0307, L{xcomp.muc.discovery.UniqueNameHandler}).
"""

from __future__ import annotations

import attrs

from twisted.trial.unittest import SynchronousTestCase
from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.xish import domish

from xcomp.muc.discovery import MAX_ITEMS, NS_MUC_UNIQUE
from xcomp.muc.rsm import NS_RSM, PageRequest, paginate
from xcomp.test.muchelpers import xml
from xcomp.test.test_muc import MUC, NS_DISCO_INFO, NS_DISCO_ITEMS, MUCTestCase
from xcomp.testing import errorOf

USER = "user@example.org/u"
KEYS = [f"r{n:05d}@{MUC}" for n in range(5000)]


class PaginateTests(SynchronousTestCase):
    """
    L{paginate} over 5000 keys.
    """

    def test_max(self) -> None:
        """
        C{max} gives the first page (XEP-0059 section 2.1).
        """
        page = paginate(KEYS, PageRequest(max=10), 1000)
        self.assertEqual((list(page.keys), page.firstIndex, page.count), (KEYS[:10], 0, 5000))

    def test_afterAndBefore(self) -> None:
        """
        C{after} pages forward, C{before} back, an empty C{before} gives
        the last page (sections 2.2-2.5).
        """
        self.assertEqual(list(paginate(KEYS, PageRequest(max=3, after=KEYS[9]), 1000).keys), KEYS[10:13])
        page = paginate(KEYS, PageRequest(max=3, before=KEYS[9]), 1000)
        self.assertEqual((list(page.keys), page.firstIndex), (KEYS[6:9], 6))
        self.assertEqual(list(paginate(KEYS, PageRequest(max=3, before=""), 1000).keys), KEYS[-3:])

    def test_index(self) -> None:
        """
        C{index} jumps to a position (section 2.6); past the end, an empty
        page.
        """
        page = paginate(KEYS, PageRequest(max=2, index=4321), 1000)
        self.assertEqual((list(page.keys), page.firstIndex), (KEYS[4321:4323], 4321))
        self.assertEqual(list(paginate(KEYS, PageRequest(max=2, index=9999), 1000).keys), [])

    def test_countOnly(self) -> None:
        """
        C{max} 0 gives only the count (section 2.7).
        """
        page = paginate(KEYS, PageRequest(max=0), 1000)
        self.assertEqual((list(page.keys), page.count), ([], 5000))
        self.assertNotIn("first", page.setElement().toXml())

    def test_limit(self) -> None:
        """
        No page is larger than the limit, whatever C{max} says.
        """
        self.assertEqual(len(paginate(KEYS, PageRequest(max=100000), 1000).keys), 1000)
        self.assertEqual(len(paginate(KEYS, None, 1000).keys), 1000)

    def test_unknownKey(self) -> None:
        """
        An C{after} or C{before} that is not in the set is item-not-found
        (section 2.6).
        """
        for request in (PageRequest(after="nope"), PageRequest(before="nope")):
            with self.assertRaises(StanzaError) as caught:
                paginate(KEYS, request, 1000)
            self.assertEqual(caught.exception.condition, "item-not-found")

    def test_badNumbers(self) -> None:
        """
        A C{max} or C{index} that is not a non-negative integer is
        bad-request.
        """
        for bad in ("<max>-1</max>", "<max>ten</max>", "<index>x</index>"):
            query = xml(f"<query xmlns='{NS_DISCO_ITEMS}'><set xmlns='{NS_RSM}'>{bad}</set></query>")
            with self.assertRaises(StanzaError) as caught:
                PageRequest.fromQuery(query)
            self.assertEqual(caught.exception.condition, "bad-request")


class DirectoryTests(MUCTestCase):
    """
    The service's disco#items with 5000 rooms.
    """

    def setUp(self) -> None:
        super().setUp()
        for jid in reversed(KEYS):
            room = self.component.newRoom(jid)
            # New rooms are hidden by default, as in Prosody.
            room.config = attrs.evolve(room.config, public=True)
            self.component.rooms[jid] = room
        hidden = self.component.rooms[KEYS[1]]
        hidden.config = hidden.config.__class__(public=False)

    def items(self, rsm: str | None) -> tuple[list[str], domish.Element | None]:
        body = "" if rsm is None else f"<set xmlns='{NS_RSM}'>{rsm}</set>"
        reply = self.iq(USER, "get", MUC, f"<query xmlns='{NS_DISCO_ITEMS}'>{body}</query>")
        query = next(reply.elements(NS_DISCO_ITEMS, "query"))
        return [i["jid"] for i in query.elements(NS_DISCO_ITEMS, "item")], next(query.elements(NS_RSM, "set"), None)

    def test_pages(self) -> None:
        """
        Paging through the public rooms with C{max} and C{after}: each page
        has C{first} (with its index), C{last} and C{count}; a hidden room
        is not listed (XEP-0059 section 2.1-2.3, XEP-0045 section 6.3).
        """
        public = [k for k in KEYS if k != KEYS[1]]
        jids, rsm = self.items("<max>50</max>")
        self.assertEqual(jids, public[:50])
        assert rsm is not None
        self.assertEqual(str(next(rsm.elements(NS_RSM, "count"))), str(len(public)))
        first = next(rsm.elements(NS_RSM, "first"))
        self.assertEqual((str(first), first["index"]), (public[0], "0"))
        last = str(next(rsm.elements(NS_RSM, "last")))
        jids, rsm = self.items(f"<max>50</max><after>{last}</after>")
        self.assertEqual(jids, public[50:100])
        jids, _ = self.items("<max>5</max><before/>")
        self.assertEqual(jids, public[-5:])
        jids, rsm = self.items("<max>0</max>")
        self.assertEqual(jids, [])

    def test_withoutSet(self) -> None:
        """
        A request without C{<set/>} gets at most L{MAX_ITEMS} rooms and a
        C{<set/>} saying how many there are.
        """
        jids, rsm = self.items(None)
        self.assertEqual(len(jids), MAX_ITEMS)
        assert rsm is not None
        self.assertEqual(str(next(rsm.elements(NS_RSM, "count"))), "4999")

    def test_unknownAfter(self) -> None:
        """
        An C{after} naming no listed room: item-not-found.
        """
        reply = self.iq(USER, "get", MUC, f"<query xmlns='{NS_DISCO_ITEMS}'><set xmlns='{NS_RSM}'><after>x@{MUC}</after></set></query>")
        self.assertEqual(errorOf(reply), ("cancel", "item-not-found"))

    def test_featuresAdvertised(self) -> None:
        """
        The service advertises RSM and muc#unique.
        """
        reply = self.iq(USER, "get", MUC, f"<query xmlns='{NS_DISCO_INFO}'/>")
        features = [f["var"] for f in next(reply.elements(NS_DISCO_INFO, "query")).elements(NS_DISCO_INFO, "feature")]
        self.assertIn(NS_RSM, features)
        self.assertIn(NS_MUC_UNIQUE, features)


class UniqueNameTests(MUCTestCase):
    """
    XEP-0307 unique room names.
    """

    def test_unique(self) -> None:
        """
        The service answers C{<unique/>} with a name no room has, a
        different one each time, usable as a room's local part (XEP-0307
        section 2).
        """
        names = set()
        for _ in range(3):
            reply = self.iq(USER, "get", MUC, f"<unique xmlns='{NS_MUC_UNIQUE}'/>")
            self.assertEqual(reply["type"], "result")
            names.add(str(next(reply.elements(NS_MUC_UNIQUE, "unique"))))
        self.assertEqual(len(names), 3)
        name = names.pop()
        self.join(USER, "u", room=f"{name}@{MUC}")
        self.assertIn(f"{name}@{MUC}", self.component.rooms)

    def test_toRoom(self) -> None:
        """
        Asked of a room rather than the service: bad-request.
        """
        self.instantRoom()
        reply = self.iq(USER, "get", f"room@{MUC}", f"<unique xmlns='{NS_MUC_UNIQUE}'/>")
        self.assertEqual(errorOf(reply), ("modify", "bad-request"))
