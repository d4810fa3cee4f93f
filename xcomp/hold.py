# -*- test-case-name: xcomp.test.test_hold,xcomp.test.test_hold_loopback -*-
"""
Holding stanzas for a component that has just disconnected, so that a
restart (a crash, a deploy, a network blip) loses nothing.

When a stream bound with a L{HoldPolicy} goes away, the router puts a
L{HoldRoute} in the table for its domain.  The router's hot path does not
change: the hold route is one more L{IRoute}.  It keeps what it is sent, in
order, within the policy's bounds, until the next stream binds the domain
(the router then delivers what was held before anything else) or the
grace period ends (each held stanza is then answered with
C{remote-server-timeout}, as for a component that is not connected; error
stanzas and iq results are dropped, as they are never answered).  A stanza
past the bounds is answered the same way at once, on the next reactor
turn, since a route must not call back into the router synchronously.
"""

from __future__ import annotations

from collections import deque
from typing import Callable, Mapping, MutableMapping

import attrs
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from zope.interface import implementer

from xcomp.config.model import DEFAULT_HOLD_TOTAL_BYTES
from xcomp.counters import StanzaCounts
from xcomp.interfaces import IRoute
from xcomp.logsinks import Logger
from xcomp.stanza import Stanza

__all__ = ["HoldBudget", "HoldPolicy", "HoldRoute", "Holds"]


@attrs.frozen
class HoldPolicy:
    """
    How long, and how much, to hold for a domain whose stream went away.

    @ivar time: The grace period in seconds; 0 holds nothing.
    @ivar stanzas: The most stanzas held.
    @ivar bytes: The most bytes held (the stanzas' serialised size).
    """

    time: float
    stanzas: int
    bytes: int

    @property
    def enabled(self) -> bool:
        """
        Whether anything is held at all.
        """
        return self.time > 0 and self.stanzas > 0 and self.bytes > 0


#: A held stanza that has its bytes, as a tuple of its name, namespace,
#: attributes and bytes: the garbage collector stops tracking tuples and
#: dicts of plain strings, so a hold of thousands of stanzas does not make
#: every collection of the process slower (a L{Stanza} is always tracked).
_Kept = tuple[str, str, Mapping[str, str], bytes]


def _keep(stanza: Stanza) -> Stanza | _Kept:
    raw = stanza.raw
    if raw is None:
        return stanza
    return (stanza.name, stanza.uri, stanza.attributes, raw)


def _restore(kept: Stanza | _Kept) -> Stanza:
    if isinstance(kept, Stanza):
        return kept
    return Stanza(kept[0], kept[1], kept[2], kept[3])


@attrs.define
class HoldBudget:
    """
    The bytes all holds of a router may take together, and how many they
    take now.

    @ivar limit: The most.
    @ivar used: What is held now.
    """

    limit: int = DEFAULT_HOLD_TOTAL_BYTES
    used: int = 0


@implementer(IRoute)
class HoldRoute:
    """
    The route of a domain while its component is away: it keeps what it is
    sent for the component's next connection.

    @ivar domain: The domain held for.
    @ivar policy: The bounds and the grace period.
    @ivar since: When the hold began, by the reactor's clock.
    @ivar bytes: The size of what is held.
    @ivar refused: How many stanzas were refused for being past the bounds.
    @ivar peer: What logs show as the route's address.
    """

    peer = "held"

    def __init__(
        self,
        domain: str,
        policy: HoldPolicy,
        reactor: IReactorTime,
        expired: Callable[[HoldRoute], None],
        refuse: Callable[[list[Stanza]], None],
        budget: HoldBudget | None = None,
    ) -> None:
        """
        @param expired: Called with this route when the grace period ends.
        @param refuse: Called, on a later reactor turn, with the stanzas
            refused for being past the bounds, to be answered.
        @param budget: What all holds may take together; this one's alone
            when L{None}.
        """
        self._budget = budget if budget is not None else HoldBudget(policy.bytes)
        self.domain = domain
        self.policy = policy
        self.since = reactor.seconds()
        self.bytes = 0
        self.refused = 0
        self._reactor = reactor
        self._held: deque[Stanza | _Kept] = deque()
        self._refuse = refuse
        self._overflow: list[Stanza] = []
        self._overflowCall: IDelayedCall | None = None
        self._expired = expired
        self._draining = False
        self._timer: IDelayedCall | None = reactor.callLater(policy.time, self._expire)

    def __repr__(self) -> str:
        return f"<HoldRoute {self.domain}: {len(self._held)} stanzas, {self.bytes} bytes>"

    def __len__(self) -> int:
        """
        How many stanzas are held.
        """
        return len(self._held)

    def send(self, stanza: Stanza) -> None:
        """
        Hold C{stanza}, or refuse it when it would take the hold past its
        bounds (the stanzas already held keep their place).
        """
        if self._draining:
            # Arrived while what was held is being delivered: after it.
            self._held.append(_keep(stanza))
            return
        size = len(stanza.toBytes())
        policy = self.policy
        budget = self._budget
        if (
            self._timer is None
            or len(self._held) >= policy.stanzas
            or self.bytes + size > policy.bytes
            or budget.used + size > budget.limit
        ):
            self.refused += 1
            if not self._overflow:
                self._overflowCall = self._reactor.callLater(0, self._refuseOverflow)
            self._overflow.append(stanza)
            return
        self._held.append(_keep(stanza))
        self.bytes += size
        budget.used += size

    def _stopTimer(self) -> None:
        if self._timer is not None:
            if self._timer.active():
                self._timer.cancel()
            self._timer = None

    def release(self) -> list[Stanza]:
        """
        End the hold: stop the grace period and hand over what is held, in
        the order it arrived.  Nothing is held after this.
        """
        self._stopTimer()
        held, self._held = [_restore(kept) for kept in self._held], deque()
        self._budget.used -= self.bytes
        self.bytes = 0
        return held

    def drain(self, deliver: Callable[[Stanza], None]) -> int:
        """
        End the hold by handing each held stanza to C{deliver}, oldest
        first, and any sent meanwhile after them, without bounds (they are
        delivered in the same call); return how many were delivered.
        """
        self._stopTimer()
        self._draining = True
        self._budget.used -= self.bytes
        self.bytes = 0
        held = self._held
        count = 0
        while held:
            count += 1
            deliver(_restore(held.popleft()))
        return count

    def _expire(self) -> None:
        self._timer = None
        self._expired(self)

    def _refuseOverflow(self) -> None:
        self._overflowCall = None
        refused, self._overflow = self._overflow, []
        self._refuse(refused)

    def drop(self) -> int:
        """
        End the hold without answering anything, not even what was refused
        but not answered yet (shutdown); return how many stanzas are let go.
        """
        if self._overflowCall is not None and self._overflowCall.active():
            self._overflowCall.cancel()
        self._overflowCall = None
        dropped = len(self._overflow) + len(self.release())
        self._overflow = []
        return dropped


def _duration(seconds: float) -> str:
    """
    Whole seconds for a log line, as C{elapsed} in L{xcomp.router} gives
    them below a minute.
    """
    return f"{seconds:.0f}s" if seconds >= 1 else f"{seconds:.3f}s"


class Holds:
    """
    The router's holds: the policy of each bound domain, and the
    L{HoldRoute} of each domain held for now.  It changes the router's
    table only where the router asks it to (L{start}, L{deliver}) and where
    a grace period ends.

    @ivar held: The hold of each domain held for now.
    @ivar budget: The bytes all holds may take together, and take now.
    """

    _log = Logger()

    def __init__(
        self,
        reactor: IReactorTime,
        routes: MutableMapping[str, IRoute],
        guards: MutableMapping[IRoute, Callable[[Stanza], bool]],
        refuse: Callable[[list[Stanza]], None],
        totalBytes: int = DEFAULT_HOLD_TOTAL_BYTES,
        *,
        counts: StanzaCounts | None = None,
    ) -> None:
        """
        @param totalBytes: The most bytes all holds may take together.
        @param counts: Where held stanzas count as delivered when they are,
            and as dropped at shutdown (the router's).
        @param routes: The router's table.
        @param guards: The router's access predicates by route.
        @param refuse: Answers stanzas that cannot be held, or were held in
            vain.
        """
        self._reactor = reactor
        self._routes = routes
        self._guards = guards
        self._refuse = refuse
        self.budget = HoldBudget(totalBytes)
        self._policies: dict[str, HoldPolicy] = {}
        self.held: dict[str, HoldRoute] = {}
        self.outcomes = counts if counts is not None else StanzaCounts()

    def setPolicy(self, domain: str, policy: HoldPolicy | None) -> None:
        """
        What to do when the stream bound to C{domain} goes away.
        """
        if policy is not None and policy.enabled:
            self._policies[domain] = policy
        else:
            self._policies.pop(domain, None)

    def start(self, domain: str, guard: Callable[[Stanza], bool] | None) -> None:
        """
        C{domain} has just lost its last stream: hold its stanzas, if its
        policy says so, behind the access rule the stream had.
        """
        policy = self._policies.pop(domain, None)
        if policy is None:
            return
        hold = HoldRoute(domain, policy, self._reactor, self._expired, self._refuse, self.budget)
        self._routes[domain] = hold
        self.held[domain] = hold
        if guard is not None:
            self._guards[hold] = guard
        self._log.info(
            "Holding stanzas for {domain} for up to {grace}", domain=domain, grace=_duration(policy.time)
        )

    def holding(self, domain: str) -> HoldRoute | None:
        """
        The hold of C{domain}, while its component is away.
        """
        return self.held.get(domain)

    def _take(self, hold: HoldRoute) -> list[Stanza]:
        """
        Take C{hold} out of the table, and what it held out of it.
        """
        domain = hold.domain
        if self._routes.get(domain) is hold:
            del self._routes[domain]
        if self.held.get(domain) is hold:
            del self.held[domain]
        self._guards.pop(hold, None)
        return hold.release()

    def deliver(self, hold: HoldRoute) -> None:
        """
        The domain was just bound again: deliver what was held to its new
        route, in order, before anything that arrives later.

        The hold stays in the table until it is empty, so a stanza routed to
        the domain meanwhile (by a route that answers at once) queues behind
        the held ones instead of overtaking them.  A stream's writes made
        while a read is processed are gathered until the read is done
        (L{xcomp.listener.output.Outbox}), so a new stream gets its
        C{<handshake/>} before them.
        """
        domain = hold.domain
        target = self._routes.get(domain)
        if self.held.get(domain) is hold:
            del self.held[domain]
        if target is None or target is hold:
            self._refuse(self._take(hold))
            return
        waited = self._reactor.seconds() - hold.since
        self._routes[domain] = hold
        try:
            count = hold.drain(lambda stanza: self._deliverOne(target, stanza))
        finally:
            if self._routes.get(domain) is hold:
                self._routes[domain] = target
            self._guards.pop(hold, None)
        if count:
            self._log.info(
                "Delivered {count} held stanzas to {domain}, after {waited}",
                count=count,
                domain=domain,
                waited=_duration(waited),
            )

    def _deliverOne(self, target: IRoute, stanza: Stanza) -> None:
        try:
            target.send(stanza)
        except Exception:
            self._log.failure("Delivering held {stanza!r} failed", stanza=stanza)
            self.outcomes.count(self.outcomes.dropped, stanza.name)
        else:
            self.outcomes.count(self.outcomes.delivered, stanza.name)

    def _expired(self, hold: HoldRoute) -> None:
        """
        The grace period ended without a new stream for the domain.
        """
        held = self._take(hold)
        self._log.warn(
            "Component {domain} did not come back within {grace}; {count} held stanzas bounced",
            domain=hold.domain,
            grace=_duration(hold.policy.time),
            count=len(held),
        )
        self._refuse(held)

    def handOver(self, domain: str) -> list[Stanza]:
        """
        The domain's component is bound again on another node of a cluster
        (L{xcomp.cluster}): end its hold here and return what was held, in
        order, for the caller to pass on.
        """
        hold = self.held.get(domain)
        if hold is None:
            return []
        taken = self._take(hold)
        self._log.info(
            "Handing {count} held stanzas for {domain} to the node it is bound on now",
            count=len(taken),
            domain=domain,
        )
        return taken

    def end(self, domain: str) -> None:
        """
        Stop holding for C{domain} now (a component removed from the
        configuration): what was held is answered as at the end of the
        grace period, and nothing is held for it until it is bound again.
        """
        self._policies.pop(domain, None)
        hold = self.held.get(domain)
        if hold is not None:
            self._refuse(self._take(hold))

    def stop(self) -> int:
        """
        Drop every hold and what it holds, without answering (the router is
        shutting down); return how many stanzas were dropped.
        """
        dropped = 0
        for hold in list(self.held.values()):
            taken = self._take(hold)
            for stanza in taken:
                self.outcomes.count(self.outcomes.dropped, stanza.name)
            dropped += len(taken) + hold.drop()
        self._policies.clear()
        if dropped:
            self._log.warn("Dropped {count} held stanzas at shutdown", count=dropped)
        return dropped

    def counts(self) -> dict[str, int]:
        """
        How many stanzas are held for each domain held for now.
        """
        return {domain: len(hold) for domain, hold in self.held.items()}

    def total(self) -> int:
        """
        How many stanzas are held, for all domains.
        """
        return sum(len(hold) for hold in self.held.values())
