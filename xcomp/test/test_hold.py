# -*- test-case-name: xcomp.test.test_hold -*-
"""
Tests for L{xcomp.hold}: what the router does with stanzas for a component
that is away, by the clock (L{task.Clock}), with routes that record.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Callable

import attrs

from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from xcomp.hold import HoldPolicy, HoldRoute
from xcomp.interfaces import IRoute
from xcomp.router import Router
from xcomp.stanza import Stanza
from xcomp.test.helpers import FakeRoute, errorCondition, stanza

POLICY = HoldPolicy(30.0, 100, 100_000)


@attrs.define(eq=False)
class EagerRoute(FakeRoute):
    """
    A route that does something (C{onSend}) as soon as it is given a
    stanza, before returning: what no real stream does, to show what would
    happen if one did.
    """

    onSend: Callable[[Stanza], None] | None = None

    def send(self, stanza: Stanza) -> None:
        super().send(stanza)
        if self.onSend is not None:
            self.onSend(stanza)


def message(n: int, sender: str = "a.example", to: str = "b.example") -> Stanza:
    return stanza(f"<message from='{sender}' to='{to}' id='m{n}'><body>{n}</body></message>")


def ids(route: FakeRoute) -> list[str | None]:
    return [s.id for s in route.sent]


class HoldTestsMixin:
    """
    A router with a sender C{a.example} and a component C{b.example} bound
    with a hold policy.
    """

    policy = POLICY

    def setUp(self) -> None:
        self.clock = Clock()
        self.router = Router(
            self.clock,
            components={d: SimpleNamespace(name=None, discoHidden=False) for d in ("a.example", "b.example")},
        )
        self.a = FakeRoute("a.example")
        self.b = FakeRoute("b.example")
        self.router.bind("a.example", self.a)
        self.router.bind("b.example", self.b, hold=self.policy)

    def away(self) -> None:
        """
        C{b.example}'s stream goes away.
        """
        self.router.unbindAll(self.b)
        self.b.closed = "gone"

    def comeBack(self) -> FakeRoute:
        """
        A new stream binds C{b.example}.
        """
        new = FakeRoute("b.example")
        self.router.bind("b.example", new, hold=self.policy)
        return new


class HoldTests(HoldTestsMixin, SynchronousTestCase):
    """
    Holding, delivering in order, and the grace period.
    """

    def test_holdRouteProvidesInterface(self) -> None:
        """
        The route of a domain held for is an L{IRoute}.
        """
        self.away()
        hold = self.router.holds.holding("b.example")
        self.assertIsInstance(hold, HoldRoute)
        self.assertTrue(verifyObject(IRoute, hold))

    def test_heldUntilTheNextBind(self) -> None:
        """
        Stanzas for a component that went away are held, counted per domain
        and in total, and delivered in order on its next bind; nothing is
        answered to the sender.
        """
        self.away()
        for n in range(5):
            self.router.receive(self.a, message(n))
        self.assertEqual(self.router.heldStanzas(), {"b.example": 5})
        self.assertEqual(self.router.heldTotal(), 5)
        self.clock.advance(29)
        new = self.comeBack()
        self.assertEqual(ids(new), [f"m{n}" for n in range(5)])
        self.assertEqual(self.a.sent, [])
        self.assertEqual(self.router.heldStanzas(), {})
        self.assertEqual(self.router.heldTotal(), 0)
        self.assertIs(self.router.lookup("b.example"), new)

    def test_deliveredAsReceived(self) -> None:
        """
        A held stanza is delivered as the bytes it arrived as.
        """
        self.away()
        sent = message(1)
        self.router.receive(self.a, sent)
        new = self.comeBack()
        self.assertEqual(new.sentBytes(), [sent.raw])

    def test_lookupIgnoresTheHold(self) -> None:
        """
        L{Router.lookup} gives live routes only: L{None} while held.
        """
        self.away()
        self.assertIsNone(self.router.lookup("b.example"))
        self.assertIsNotNone(self.router.holds.holding("b.example"))

    def test_graceExpiry(self) -> None:
        """
        When the grace period ends, each held stanza that may be answered is
        answered with C{wait}/C{remote-server-timeout} and C{not-connected},
        in order; error stanzas and iq results are dropped; later stanzas
        are answered at once.
        """
        self.away()
        self.router.receive(self.a, message(1))
        self.router.receive(self.a, stanza("<iq from='a.example' to='b.example' type='get' id='q1'/>"))
        self.router.receive(self.a, stanza("<iq from='a.example' to='b.example' type='result' id='r1'/>"))
        self.router.receive(self.a, stanza("<message from='a.example' to='b.example' type='error' id='e1'/>"))
        self.clock.advance(29.9)
        self.assertEqual(self.a.sent, [])
        with capturedLogs() as events:
            self.clock.advance(0.1)
        self.assertEqual(ids(self.a), ["m1", "q1"])
        for reply in self.a.sent:
            self.assertEqual(errorCondition(reply), ("wait", "remote-server-timeout"))
            self.assertIn(b"not-connected", reply.toBytes())
        self.assertEqual(self.router.heldStanzas(), {})
        [warning] = [e for e in events if "did not come back" in e["log_format"]]
        self.assertEqual((warning["domain"], warning["count"]), ("b.example", 4))
        self.router.receive(self.a, message(2))
        self.assertEqual(ids(self.a), ["m1", "q1", "m2"])
        self.assertEqual(errorCondition(self.a.sent[-1]), ("wait", "remote-server-timeout"))

    def test_iqResultsAndErrorsHeld(self) -> None:
        """
        iq results and errors are held and delivered like any stanza.
        """
        self.away()
        self.router.receive(self.a, stanza("<iq from='a.example' to='b.example' type='result' id='r1'/>"))
        self.router.receive(self.a, stanza("<iq from='a.example' to='b.example' type='error' id='r2'/>"))
        new = self.comeBack()
        self.assertEqual(ids(new), ["r1", "r2"])

    def test_newArrivalsAfterTheHeldOnes(self) -> None:
        """
        Stanzas routed after the new bind come after every held one.
        """
        self.away()
        self.router.receive(self.a, message(1))
        self.router.receive(self.a, message(2))
        new = self.comeBack()
        self.router.receive(self.a, message(3))
        self.assertEqual(ids(new), ["m1", "m2", "m3"])

    def test_arrivalsDuringTheFlushQueueBehind(self) -> None:
        """
        A stanza routed to the domain while the held ones are being
        delivered (here, by a route that makes the router route another
        stanza as soon as it is given the first) is delivered after all the
        held ones, not between them.
        """
        self.away()
        for n in range(3):
            self.router.receive(self.a, message(n))
        router = self.router

        def sent(s: Stanza) -> None:
            if s.id == "m0":
                router.receive(self.a, message(99))

        new = EagerRoute("b.example", onSend=sent)
        self.router.bind("b.example", new, hold=self.policy)
        self.assertEqual(ids(new), ["m0", "m1", "m2", "m99"])
        self.assertIs(self.router.lookup("b.example"), new)

    def test_nothingDuplicated(self) -> None:
        """
        What was held is delivered once: a second reconnection gets only
        what arrived after the first.
        """
        self.away()
        self.router.receive(self.a, message(1))
        first = self.comeBack()
        self.router.unbindAll(first)
        self.router.receive(self.a, message(2))
        second = self.comeBack()
        self.assertEqual(ids(first), ["m1"])
        self.assertEqual(ids(second), ["m2"])

    def test_timerCancelledOnBind(self) -> None:
        """
        Once the component is back, the grace period's end changes nothing.
        """
        self.away()
        self.router.receive(self.a, message(1))
        self.comeBack()
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.clock.advance(60)
        self.assertEqual(self.a.sent, [])

    def test_noPolicyNoHold(self) -> None:
        """
        Without a policy, or with a grace of 0, a stanza for the component
        is answered at once, as before holds existed.
        """
        for policy in (None, HoldPolicy(0.0, 100, 100_000)):
            b = FakeRoute("b.example")
            self.router.bind("b.example", b, hold=policy, kickOld=True)
            self.router.unbindAll(b)
            self.router.receive(self.a, message(1))
            self.assertEqual(errorCondition(self.a.sent[-1]), ("wait", "remote-server-timeout"))
            self.assertEqual(self.router.heldStanzas(), {})

    def test_accessRuleStillApplies(self) -> None:
        """
        The access rule of the stream that went away applies to what is
        sent while held: a refused sender gets C{not-allowed}, not a hold.
        """
        c = FakeRoute("c.example")
        self.router.bind("c.example", c)
        self.router.bind(
            "b.example", self.b, hold=self.policy, access=lambda s: s.sender != "c.example", kickOld=True
        )
        self.away()
        self.router.receive(c, message(1, sender="c.example"))
        self.router.receive(self.a, message(2))
        self.assertEqual(errorCondition(c.sent[0]), ("cancel", "not-allowed"))
        self.assertEqual(self.router.heldStanzas(), {"b.example": 1})

    def test_endHold(self) -> None:
        """
        L{Holds.end} (a component removed from the configuration) answers
        what is held at once, and holds nothing more.
        """
        self.away()
        self.router.receive(self.a, message(1))
        self.router.holds.end("b.example")
        self.assertEqual(errorCondition(self.a.sent[0]), ("wait", "remote-server-timeout"))
        self.router.receive(self.a, message(2))
        self.assertEqual(errorCondition(self.a.sent[1]), ("wait", "remote-server-timeout"))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stopDropsEverything(self) -> None:
        """
        L{Holds.stop} (shutdown) drops what is held without answering and
        leaves no timer behind.
        """
        self.away()
        self.router.receive(self.a, message(1))
        self.assertEqual(self.router.holds.stop(), 1)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(self.a.sent, [])

    def test_stopDropsWhatWasRefused(self) -> None:
        """
        L{Holds.stop} also drops the answers to refused stanzas that were
        not sent yet: no call is left for the next turn.
        """
        self.router.bind("b.example", self.b, hold=HoldPolicy(30.0, 1, 100_000), kickOld=True)
        self.away()
        self.router.receive(self.a, message(1))
        self.router.receive(self.a, message(2))
        self.assertEqual(self.router.holds.stop(), 2)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.clock.advance(0)
        self.assertEqual(self.a.sent, [])

    def test_kickOldDoesNotHold(self) -> None:
        """
        A new stream replacing the old one (C{kick_old}) takes the domain
        at once: nothing is held, nothing is left pending.
        """
        new = FakeRoute("b.example")
        with capturedLogs() as events:
            self.router.bind("b.example", new, hold=self.policy, kickOld=True)
        self.assertEqual(self.b.closed, "conflict")
        self.assertEqual([e for e in events if "Holding" in e["log_format"]], [])
        self.router.receive(self.a, message(1))
        self.assertEqual(ids(new), ["m1"])
        self.assertEqual(self.router.heldStanzas(), {})
        self.assertEqual(self.clock.getDelayedCalls(), [])


class HoldBoundsTests(HoldTestsMixin, SynchronousTestCase):
    """
    The count and byte bounds of a hold.
    """

    policy = HoldPolicy(30.0, 3, 1000)

    def test_pastTheCountBounced(self) -> None:
        """
        Past the count bound, each new stanza is answered with
        C{remote-server-timeout} (on the next turn); those held keep their
        place and are delivered.
        """
        self.away()
        for n in range(5):
            self.router.receive(self.a, message(n))
        self.assertEqual(self.a.sent, [])
        self.clock.advance(0)
        self.assertEqual(ids(self.a), ["m3", "m4"])
        self.assertEqual(errorCondition(self.a.sent[0]), ("wait", "remote-server-timeout"))
        self.assertEqual(self.router.holds.holding("b.example").refused, 2)  # type: ignore[union-attr]
        new = self.comeBack()
        self.assertEqual(ids(new), ["m0", "m1", "m2"])

    def test_pastTheByteBound(self) -> None:
        """
        A stanza that would take the held bytes past the bound is answered;
        a smaller one after it may still be held.
        """
        self.away()
        big = stanza("<message from='a.example' to='b.example' id='big'><body>%s</body></message>" % ("x" * 990))
        self.router.receive(self.a, message(1))
        self.router.receive(self.a, big)
        self.router.receive(self.a, message(2))
        self.clock.advance(0)
        self.assertEqual(ids(self.a), ["big"])
        hold = self.router.holds.holding("b.example")
        assert hold is not None
        self.assertEqual(hold.bytes, len(message(1).toBytes()) + len(message(2).toBytes()))
        self.assertEqual(ids(self.comeBack()), ["m1", "m2"])


class HoldBudgetTests(SynchronousTestCase):
    """
    The bound on what all holds of a router take together.
    """

    def test_sharedByEveryHold(self) -> None:
        """
        Past the router's total, a stanza is answered, whichever domain it
        is for; what is delivered or answered gives its bytes back.
        """
        clock = Clock()
        one = len(message(1).toBytes())
        router = Router(
            clock,
            components={d: SimpleNamespace(name=None, discoHidden=False) for d in ("a.example", "b.example", "c.example")},
            holdTotalBytes=2 * one,
        )
        a = FakeRoute("a.example")
        router.bind("a.example", a)
        for domain in ("b.example", "c.example"):
            route = FakeRoute(domain)
            router.bind(domain, route, hold=POLICY)
            router.unbindAll(route)
        router.receive(a, message(1))
        router.receive(a, message(2, to="c.example"))
        router.receive(a, message(3, to="c.example"))
        clock.advance(0)
        self.assertEqual(ids(a), ["m3"])
        self.assertEqual(router.holds.budget.used, 2 * one)
        b = FakeRoute("b.example")
        router.bind("b.example", b, hold=POLICY)
        self.assertEqual(router.holds.budget.used, one)
        router.receive(a, message(4, to="c.example"))
        clock.advance(30)
        self.assertEqual(ids(a), ["m3", "m2", "m4"])
        self.assertEqual(router.holds.budget.used, 0)
