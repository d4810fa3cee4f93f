# -*- test-case-name: xcomp.test.test_cluster_table -*-
"""
Tests for L{xcomp.cluster.table}: this node's copy of the routing table,
kept by events and snapshots, and who gets a stanza for a domain.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from xcomp.cluster import table as tablemodule
from xcomp.cluster.table import RouteTable


class RouteTableTests(SynchronousTestCase):
    """
    L{RouteTable} as node C{a} sees it.
    """

    def setUp(self) -> None:
        self.table = RouteTable("a")

    def test_events(self) -> None:
        """
        C{domain node} binds, C{domain} alone lets go; this node's own
        domains are never routed to another node.
        """
        self.table.apply(b"x.example b")
        self.table.apply(b"y.example a")
        self.assertEqual((self.table.ownerOf("x.example"), self.table.ownerOf("y.example")), ("b", None))
        self.assertEqual(self.table.mine(), {"y.example"})
        self.table.apply(b"x.example")
        self.assertIsNone(self.table.ownerOf("x.example"))

    def test_snapshotReplaces(self) -> None:
        """
        A snapshot replaces the whole copy; a node it says is not alive is
        dead, and its domains are not routed to.
        """
        self.table.apply(b"old.example b")
        self.table.replace([b"x.example", b"b", 1, 0, b"z.example", b"c", 0, 0])
        self.assertEqual(self.table.owners, {"x.example": "b", "z.example": "c"})
        self.assertEqual(self.table.dead, {"c"})
        self.assertEqual((self.table.ownerOf("x.example"), self.table.ownerOf("z.example")), ("b", None))
        self.table.apply(b"w.example c")
        self.assertEqual(self.table.dead, set())

    def test_balancedSpreadsBySender(self) -> None:
        """
        A balanced domain's stanzas go to one of its other live nodes,
        chosen by the sender's bare JID: one sender always to one node,
        whatever its resource; both nodes get some of forty senders.
        """
        self.table.replace([b"s.example", b"b", 1, 1, b"s.example", b"c", 1, 1])
        chosen = {self.table.ownerOf("s.example", f"u{n}@x.example/r") for n in range(40)}
        self.assertEqual(chosen, {"b", "c"})
        self.assertEqual(
            self.table.ownerOf("s.example", "U7@X.example/phone"), self.table.ownerOf("s.example", "u7@x.example")
        )

    def test_balancedJoinLeave(self) -> None:
        """
        C{+node} and C{-node} add and remove a node of a balanced domain;
        once the last is gone the domain is bound nowhere; a dead node is
        skipped; this node's share counts as its own.
        """
        self.table.apply(b"s.example +b")
        self.table.apply(b"s.example +a")
        self.assertEqual(self.table.mine(), {"s.example"})
        self.assertEqual(self.table.ownerOf("s.example", "u@x"), "b")
        self.table.dead.add("b")
        self.assertIsNone(self.table.ownerOf("s.example", "u@x"))
        self.table.apply(b"s.example -b")
        self.table.apply(b"s.example -a")
        self.assertNotIn("s.example", self.table.shared)

    def test_bounded(self) -> None:
        """
        Past L{MAX_DOMAINS}, events and snapshots teach no further domain.
        """
        self.patch(tablemodule, "MAX_DOMAINS", 2)
        for name in (b"a.example b", b"b.example +b", b"c.example b", b"d.example +c"):
            self.table.apply(name)
        self.assertEqual(len(self.table.owners) + len(self.table.shared), 2)
        self.table.replace([b"x", b"b", 1, 0, b"y", b"b", 1, 1, b"z", b"b", 1, 0])
        self.assertEqual(len(self.table.owners) + len(self.table.shared), 2)
