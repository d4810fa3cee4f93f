# -*- test-case-name: xcomp.test.test_metrics -*-
"""
What the router counts as stanzas pass, for metrics and the status page:
plain integers in dicts with fixed keys, kept where the events happen, so
the hot path pays a dict increment and nothing is computed until someone
asks (L{xcomp.http.metrics} reads them at scrape time).

Every key comes from a bounded set: the stanza kinds (anything else is
C{"other"}) and the error conditions the router itself chooses.
"""

from __future__ import annotations

__all__ = ["KINDS", "StanzaCounts"]

#: The kinds counted apart; any other top-level name counts as C{"other"}.
KINDS = ("message", "presence", "iq", "other")


class StanzaCounts:
    """
    Stanzas by outcome and kind, and the router's error answers by
    condition.

    @ivar delivered: Handed to their destination's route (a held stanza
        counts when it is delivered after its component came back).
    @ivar bounced: Answered with an error instead.
    @ivar dropped: Neither: errors and iq results that could not be
        delivered (they are never answered), a stanza whose sender's stream
        was cut for it, and what was held at shutdown.
    @ivar bounces: The error answers by condition.
    """

    __slots__ = ("delivered", "bounced", "dropped", "bounces")

    def __init__(self) -> None:
        self.delivered = dict.fromkeys(KINDS, 0)
        self.bounced = dict.fromkeys(KINDS, 0)
        self.dropped = dict.fromkeys(KINDS, 0)
        self.bounces: dict[str, int] = {}

    def count(self, outcome: dict[str, int], kind: str, n: int = 1) -> None:
        """
        Add C{n} stanzas of C{kind} to C{outcome} (one of the dicts above).
        """
        if kind in outcome:
            outcome[kind] += n
        else:
            outcome["other"] += n

    def bounce(self, kind: str, condition: str) -> None:
        """
        One stanza of C{kind} answered with C{condition}.
        """
        self.count(self.bounced, kind)
        self.bounces[condition] = self.bounces.get(condition, 0) + 1
