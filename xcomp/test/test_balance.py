# -*- test-case-name: xcomp.test.test_balance -*-
"""
Tests for L{xcomp.balance}: several connections sharing one domain, each
sender on one of them, and what happens when one goes away.
"""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from xcomp.balance import MAX_MEMBERS, BalanceRoute, bareOf
from xcomp.hold import HoldPolicy
from xcomp.hosts import LocalHost
from xcomp.interfaces import IRoute
from xcomp.router import ConflictError, Router
from xcomp.stanza import Stanza
from xcomp.test.helpers import FakeRoute, errorCondition, stanza

SENDERS = [f"user{n}@a.example" for n in range(200)]


def message(sender: str, n: int = 0) -> Stanza:
    return stanza(f"<message from='{sender}/res' to='b.example' id='{n}'/>")


class BalanceTests(SynchronousTestCase):
    """
    A sender C{a.example} and three connections of C{b.example}.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.router = Router(
            self.clock,
            components={d: SimpleNamespace(name=None, discoHidden=False) for d in ("a.example", "b.example")},
        )
        self.a = FakeRoute("a.example")
        self.router.bind("a.example", self.a)
        self.members = [FakeRoute("b.example", peer=f"127.0.0.1:{n}") for n in range(3)]
        for member in self.members:
            self.bind(member)

    def bind(self, route: FakeRoute) -> None:
        self.router.bind("b.example", route, balance=True, hold=HoldPolicy(30.0, 100, 100_000))

    def spread(self) -> dict[str, FakeRoute]:
        """
        Send one message from each sender; which connection got each.
        """
        before = {id(m): len(m.sent) for m in self.members}
        for sender in SENDERS:
            self.router.receive(self.a, message(sender))
        where: dict[str, FakeRoute] = {}
        for member in self.members:
            for s in member.sent[before.get(id(member), 0) :]:
                assert s.sender is not None
                where[s.sender.partition("/")[0]] = member
        return where

    def test_routeProvidesInterface(self) -> None:
        """
        A balanced domain's route is an L{IRoute}, and the router shows its
        connections.
        """
        route = self.router.lookup("b.example")
        self.assertIsInstance(route, BalanceRoute)
        self.assertTrue(verifyObject(IRoute, route))
        members = self.router.balanced()["b.example"]
        self.assertEqual([m.stream for m in members], self.members)

    def test_everySenderOnOneConnection(self) -> None:
        """
        Every stanza is delivered once; each sender's stanzas all go to one
        connection; every connection gets a share.
        """
        first = self.spread()
        second = self.spread()
        self.assertEqual(len(first), len(SENDERS))
        self.assertEqual(first, second)
        self.assertEqual(sum(len(m.sent) for m in self.members), 2 * len(SENDERS))
        shares: defaultdict[int, int] = defaultdict(int)
        for member in first.values():
            shares[id(member)] += 1
        self.assertEqual(len(shares), 3)
        # 200 senders over 3: each share is far from empty.
        self.assertTrue(all(share > 30 for share in shares.values()), shares)
        self.assertEqual(
            sorted(m.sent for m in self.router.balanced()["b.example"]),
            sorted(len(m.sent) for m in self.members),
        )

    def test_resourceAndCaseIgnored(self) -> None:
        """
        The bare JID decides, whatever the resource and the ASCII case.
        """
        self.assertEqual(bareOf("User@A.example/phone"), bareOf("user@a.example/laptop"))
        route = self.router.lookup("b.example")
        assert isinstance(route, BalanceRoute)
        self.assertIs(route.choose("User@A.example/phone"), route.choose("user@a.example"))

    def test_leavingMovesOnlyItsShare(self) -> None:
        """
        When a connection goes away, its senders move to the others and the
        others keep theirs; nothing is held or answered.
        """
        before = self.spread()
        gone = self.members[1]
        self.router.unbindAll(gone)
        gone.closed = "gone"
        self.members.remove(gone)
        after = self.spread()
        self.assertEqual(len(after), len(SENDERS))
        for sender, member in before.items():
            if member is not gone:
                self.assertIs(after[sender], member)
            else:
                self.assertIn(after[sender], self.members)
        self.assertEqual(self.router.heldStanzas(), {})
        self.assertEqual(self.a.sent, [])

    def test_joiningTakesOnlyItsShare(self) -> None:
        """
        A new connection takes some senders over; every other sender stays
        where it was.
        """
        before = self.spread()
        new = FakeRoute("b.example", peer="127.0.0.1:9")
        self.bind(new)
        self.members.append(new)
        after = self.spread()
        moved = [s for s in SENDERS if after[s] is not before[s]]
        self.assertTrue(moved)
        self.assertTrue(all(after[s] is new for s in moved))

    def test_lastOneLeavingHolds(self) -> None:
        """
        When the last connection goes away, the domain is held as for a
        single stream, and the next connection gets what was held.
        """
        for member in self.members:
            self.router.unbindAll(member)
            member.closed = "gone"
        self.router.receive(self.a, message(SENDERS[0], 1))
        self.assertEqual(self.router.heldStanzas(), {"b.example": 1})
        self.assertNotIn("b.example", self.router.balanced())
        new = FakeRoute("b.example")
        self.bind(new)
        self.assertEqual([s.id for s in new.sent], ["1"])
        self.assertIsInstance(self.router.lookup("b.example"), BalanceRoute)

    def test_lastOneLeavingWithoutHold(self) -> None:
        """
        Without a hold policy, the domain is offline once its last
        connection is gone.
        """
        for member in self.members:
            self.router.bind("b.example", member, balance=True)
        for member in self.members:
            self.router.unbindAll(member)
        self.router.receive(self.a, message(SENDERS[0], 1))
        self.assertEqual(errorCondition(self.a.sent[0]), ("wait", "remote-server-timeout"))

    def test_boundOnce(self) -> None:
        """
        Binding a member again changes nothing.
        """
        self.bind(self.members[0])
        self.assertEqual(len(self.router.balanced()["b.example"]), 3)

    def test_memberLimit(self) -> None:
        """
        Past L{MAX_MEMBERS} connections, one more is a conflict.
        """
        for n in range(MAX_MEMBERS - 3):
            self.bind(FakeRoute("b.example"))
        self.assertRaises(ConflictError, self.bind, FakeRoute("b.example"))

    def test_notBalancedStillConflicts(self) -> None:
        """
        A connection bound without C{balance} is refused with a conflict
        while the domain is balanced.
        """
        self.assertRaises(ConflictError, self.router.bind, "b.example", FakeRoute("b.example"))

    def test_joinsAStreamBoundAlone(self) -> None:
        """
        A balanced connection for a domain bound to one stream without
        C{balance} shares it with that stream.
        """
        c = FakeRoute("c.example")
        self.router.bind("c.example", c)
        other = FakeRoute("c.example")
        self.router.bind("c.example", other, balance=True)
        self.assertEqual([m.stream for m in self.router.balanced()["c.example"]], [c, other])

    def test_hostsCannotBeShared(self) -> None:
        """
        A domain the router serves itself is a conflict, as without
        C{balance}.
        """
        self.router.addHost("h.example", LocalHost("h.example", self.router, "xcomp"))
        self.assertRaises(ConflictError, self.router.bind, "h.example", FakeRoute("h.example"), balance=True)

    def test_discoListsABalancedDomain(self) -> None:
        """
        A balanced domain bound without being configured (with a
        listener's password) is listed in disco#items like a single stream.
        """
        for n in range(2):
            self.router.bind("gw.example", FakeRoute("gw.example"), balance=True)
        self.assertIn(("gw.example", None), list(self.router.componentsUnder("example")))

    def test_accessRuleApplies(self) -> None:
        """
        The access rule of the listener applies to a balanced domain.
        """
        c = FakeRoute("c.example")
        self.router.bind("c.example", c, balance=True, access=lambda s: s.sender != "a.example")
        self.router.receive(self.a, stanza("<message from='a.example' to='c.example'/>"))
        self.assertEqual(errorCondition(self.a.sent[0]), ("cancel", "not-allowed"))
        self.assertEqual(c.sent, [])
