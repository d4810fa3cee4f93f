"""
Tests for the bind and unbind lines of L{xcomp.router.Router}: the unbind
line says how long the component was bound, by the router's reactor clock.
"""

from __future__ import annotations

from typing import Sequence

from twisted.internet.task import Clock
from twisted.logger import LogLevel, capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from xcomp.router import Router, elapsed
from xcomp.test.helpers import FakeRoute


class ElapsedTests(SynchronousTestCase):
    """
    L{elapsed} writes durations as an admin reads them.
    """

    def test_forms(self) -> None:
        """
        Seconds alone, then minutes, hours and days, the smaller units padded
        to two digits and fractions of a second left out.
        """
        cases = [
            (0.4, "0s"),
            (45, "45s"),
            (60, "1m00s"),
            (192.9, "3m12s"),
            (3600 + 3 * 60 + 12, "1h03m12s"),
            (4 * 86400 + 2 * 3600 + 3 * 60 + 59, "4d02h03m"),
        ]
        self.assertEqual([elapsed(s) for s, _ in cases], [text for _, text in cases])


class UnbindDurationTests(SynchronousTestCase):
    """
    The unbind line's C{duration} field (seconds) and text.
    """

    def setUp(self) -> None:
        """
        A router on a clock that starts at 1000.
        """
        self.clock = Clock()
        self.clock.advance(1000)
        self.router = Router(self.clock)

    def unbindEvents(self, events: Sequence[dict[str, object]]) -> list[dict[str, object]]:
        """
        The unbind lines among C{events}.
        """
        return [e for e in events if "duration" in e]

    def test_unbindSaysHowLong(self) -> None:
        """
        A component unbound 192 seconds after it was bound is logged, at
        info, with C{duration} 192 and "after 3m12s".
        """
        route = FakeRoute("c.example", peer="127.0.0.1:4000")
        with capturedLogs() as events:
            self.router.bind("c.example", route)
            self.clock.advance(192)
            self.router.unbindAll(route)
        [event] = self.unbindEvents(events)
        self.assertEqual(event["log_level"], LogLevel.info)
        self.assertEqual(event["duration"], 192.0)
        self.assertEqual(
            formatEvent(event), "Component c.example unbound (127.0.0.1:4000) after 3m12s"
        )

    def test_bindLineUnchanged(self) -> None:
        """
        The bind line has no duration.
        """
        with capturedLogs() as events:
            self.router.bind("c.example", FakeRoute("c.example", peer="127.0.0.1:4000"))
        [event] = events
        self.assertEqual(formatEvent(event), "Component c.example bound (127.0.0.1:4000)")

    def test_replacedStream(self) -> None:
        """
        With C{kickOld}, the old stream's line counts from its own bind, the
        new one's from the replacement.
        """
        old, new = FakeRoute("c.example"), FakeRoute("c.example")
        with capturedLogs() as events:
            self.router.bind("c.example", old)
            self.clock.advance(10)
            self.router.bind("c.example", new, kickOld=True)
            self.clock.advance(5)
            self.router.unbindAll(new)
        self.assertEqual([e["duration"] for e in self.unbindEvents(events)], [10.0, 5.0])

    def test_rebindKeepsSince(self) -> None:
        """
        Binding a domain again to the route it already has does not restart
        its count.
        """
        route = FakeRoute("c.example")
        with capturedLogs() as events:
            self.router.bind("c.example", route)
            self.clock.advance(7)
            self.router.bind("c.example", route)
            self.clock.advance(3)
            self.router.unbind("c.example", route)
        self.assertEqual([e["duration"] for e in self.unbindEvents(events)], [10.0])

    def test_eachDomainOwnCount(self) -> None:
        """
        A stream bound to several domains at different times gives each
        domain its own duration, and the router keeps no entry after.
        """
        route = FakeRoute("c.example", domains=frozenset({"c.example", "d.example"}))
        with capturedLogs() as events:
            self.router.bind("c.example", route)
            self.clock.advance(4)
            self.router.bind("d.example", route)
            self.clock.advance(1)
            self.router.unbindAll(route)
        self.assertEqual(
            {e["domain"]: e["duration"] for e in self.unbindEvents(events)},
            {"c.example": 5.0, "d.example": 1.0},
        )
        self.assertEqual(self.router._since, {})
