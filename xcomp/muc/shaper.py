# -*- test-case-name: xcomp.test.test_muc_floods -*-
"""
How fast one user may send presence to a C{muc} service: joins, status and
nick changes (not leaving).  Token buckets: one per bare JID for the whole
service (L{SERVICE_BURST}, L{SERVICE_RATE}: enough for a client that
rejoins its many rooms on reconnecting), and one per bare JID in each room
(L{ROOM_BURST}, L{ROOM_RATE}), as Prosody's C{mod_muc_limits} keeps one per
occupant.  Past either, a presence is refused with C{wait}/
C{policy-violation} before any room sees it, so a flood of joins or status
changes costs nothing and no occupant notices it.

The buckets are kept for at most L{MAX_TRACKED} keys each, the least
recently seen forgotten first.  Pure: the clock is given.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable

#: Presences a user may send to the service at once, and per second.
SERVICE_BURST = 200
SERVICE_RATE = 20.0
#: Presences a user may send to one room at once, and per second.
ROOM_BURST = 10
ROOM_RATE = 1.0
#: The most keys whose buckets are kept.
MAX_TRACKED = 10000


class PresenceShaper:
    """
    A token bucket per key (a bare JID, or a bare JID in a room).
    """

    def __init__(self, clock: Callable[[], float], rate: float = SERVICE_RATE, burst: int = SERVICE_BURST,
                 maxTracked: int = MAX_TRACKED) -> None:
        self._clock = clock
        self._rate = rate
        self._burst = float(burst)
        self._maxTracked = maxTracked
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def peek(self, key: str) -> bool:
        """
        Whether C{key}'s bucket has a token, without taking it.
        """
        found = self._buckets.get(key)
        if found is None:
            return True
        tokens, last = found
        return min(self._burst, tokens + (self._clock() - last) * self._rate) >= 1.0

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


class PresenceShapers:
    """
    The service's bucket and the per-room buckets, taken from together.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self.service = PresenceShaper(clock, SERVICE_RATE, SERVICE_BURST)
        self.rooms = PresenceShaper(clock, ROOM_RATE, ROOM_BURST)

    def allow(self, bare: str, room: str) -> bool:
        """
        Whether C{bare} may send a presence to C{room} now; a refused
        presence takes nothing from the other bucket.
        """
        key = f"{bare} {room}"
        if not (self.rooms.peek(key) and self.service.peek(bare)):
            return False
        return self.rooms.allow(key) and self.service.allow(bare)
