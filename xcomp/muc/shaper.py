# -*- test-case-name: xcomp.test.test_muc_floods -*-
"""
How fast one user may send presence to a C{muc} service: joins, status and
nick changes (not leaving).  A token bucket per bare JID, as Prosody's
C{mod_muc_limits} keeps one per occupant; past it a presence is refused
with C{wait}/C{policy-violation} before any room sees it, so a flood of
joins or status changes costs nothing and no occupant notices it.

The buckets are kept for at most L{MAX_TRACKED} users, the least recently
seen forgotten first.  Pure: the clock is given.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable

#: Presences a user may send at once.
BURST = 30
#: Presences per second a user may send, sustained.
RATE = 5.0
#: The most users whose buckets are kept.
MAX_TRACKED = 10000


class PresenceShaper:
    """
    A token bucket per bare JID.
    """

    def __init__(self, clock: Callable[[], float], rate: float = RATE, burst: int = BURST,
                 maxTracked: int = MAX_TRACKED) -> None:
        self._clock = clock
        self._rate = rate
        self._burst = float(burst)
        self._maxTracked = maxTracked
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, bare: str) -> bool:
        """
        Take one token from C{bare}'s bucket; C{False} when it is empty.
        """
        now = self._clock()
        tokens, last = self._buckets.pop(bare, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[bare] = (tokens, now)
        if len(self._buckets) > self._maxTracked:
            self._buckets.popitem(last=False)
        return allowed
