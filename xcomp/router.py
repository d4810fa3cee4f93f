# -*- test-case-name: xcomp.test.test_router,xcomp.test.test_router_log,xcomp.test.test_listenopts,xcomp.test.test_listenopts_access -*-
"""
The routing table and the rules every stanza passes: C{from} checks, the
conflict policy, and the error bounces.

The router does no I/O: it hands stanzas to L{IRoute} providers, which own
their streams.  It never parses bytes either; what it needs of a stanza is on
L{Stanza.attributes}.
"""

from __future__ import annotations

import re
from typing import Callable, Iterator, Mapping

from twisted.internet.interfaces import IReactorTime
from twisted.words.protocols.jabber.jid import InvalidFormat, JID

from zope.interface import implementer

from xcomp.balance import MAX_MEMBERS, BalanceRoute, Member
from xcomp.counters import StanzaCounts
from xcomp.errors import bounce, notConnected
from xcomp.hold import HoldPolicy, HoldRoute, Holds
from xcomp.interfaces import IBindGate, IClusterRoute, IRoute, IRouter, IStreamRoute
from xcomp.logsinks import Logger
from xcomp.stanza import Stanza


def elapsed(seconds: float) -> str:
    """
    A duration as an admin reads it in a log line: C{45s}, C{3m12s},
    C{2h03m12s}, C{4d02h03m}.
    """
    whole = int(seconds)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d{hours:02d}h{minutes:02d}m"
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


class ConflictError(Exception):
    """
    The domain is bound to a live stream already and the policy keeps it.
    """


def hostOf(address: str) -> str:
    """
    The domain part of a JID as written, without preparation.

    The resource may itself contain C{@} and C{/}, so the resource is cut off
    first.
    """
    return address.partition("/")[0].rpartition("@")[2]


# A JID that stringprep leaves as it is: a lowercase ASCII node and domain of
# letters, digits and the few marks they allow, and a printable ASCII
# resource.  Most addresses are like this; for them the domain is known
# without the cost of nameprep (tens of microseconds), which every stanza for
# a remote domain would otherwise pay.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PREPARED_JID = re.compile(rf"(?:[a-z0-9._-]+@)?{_LABEL}(?:\.{_LABEL})*(?:/[ -~]+)?")


def preparedHost(address: str) -> str | None:
    """
    The nameprep'd domain of C{address}, or C{None} if it is not a valid JID.
    """
    if len(address) < 256 and _PREPARED_JID.fullmatch(address) is not None:
        return hostOf(address)
    try:
        return JID(address).host
    except (InvalidFormat, UnicodeError, IndexError):
        # Twisted's nameprep indexes an empty label ("a@b..c") unchecked.
        return None


@implementer(IRouter)
class Router:
    """
    One table of domain to route for the whole process.

    @ivar _routes: the live routes by nameprep'd domain.
    @ivar _known: every configured domain that is not a virtual host, with
        its name and whether it is hidden from disco; a stanza for one of them
        that has no live route is answered with C{remote-server-timeout}.
    @ivar _guards: the access predicate of each route bound with one: a
        stanza whose sender it refuses gets C{not-allowed}.  Empty unless
        some listener has an access rule other than C{all}.
    @ivar _hidden: the domains bound hidden from disco#items.
    @ivar _since: when each domain was bound to its current route (the
        reactor's clock), for the unbind line's duration.
    @ivar holds: the hold policy of each bound domain that has one, and the
        domains held for now (L{xcomp.hold}).
    @ivar counts: the stanzas routed, by outcome and kind, and the error
        answers by condition (for metrics; L{xcomp.counters}).
    """

    _log = Logger()

    def __init__(
        self,
        reactor: IReactorTime,
        *,
        components: Mapping[str, object] = {},
        verbose: bool = False,
        holdTotalBytes: int | None = None,
    ) -> None:
        """
        @param components: the configured components by domain, each with
            C{name} and C{discoHidden} attributes.
        @param verbose: log a debug event (the top tag only) per stanza routed.
        @param holdTotalBytes: the most bytes held for all components that
            are away, together; L{xcomp.hold}'s default when L{None}.
        """
        self.reactor = reactor
        self._routes: dict[str, IRoute] = {}
        self._known = dict(components)
        self._verbose = verbose
        self._guards: dict[IRoute, Callable[[Stanza], bool]] = {}
        self._hidden: set[str] = set()
        self._since: dict[str, float] = {}
        self._remote: IRoute | None = None
        self._cluster: IClusterRoute | None = None
        #: What a stream asks before it binds its domains, when the router
        #: is one node of a cluster (L{xcomp.cluster}); L{None} alone.
        self.gate: IBindGate | None = None
        self.counts = StanzaCounts()
        self.holds = Holds(reactor, self._routes, self._guards, self._refuseHeld, counts=self.counts)
        if holdTotalBytes is not None:
            self.holds.budget.limit = holdTotalBytes

    # The table

    def lookup(self, domain: str) -> IRoute | None:
        """
        The live route for a nameprep'd C{domain}, if any (not the hold of
        a component that is away).
        """
        route = self._routes.get(domain)
        return None if isinstance(route, HoldRoute) else route

    def addHost(self, domain: str, route: IRoute) -> None:
        """
        Install the route of a domain the router serves itself (a
        VirtualHost), for its whole life.
        """
        if domain in self._routes:
            raise ConflictError(domain)
        self._routes[domain] = route

    def removeHost(self, domain: str, route: IRoute) -> None:
        """
        Stop serving a domain installed with L{addHost} (a reload removed
        the VirtualHost or internal component), if C{route} still serves it.
        """
        if self._routes.get(domain) is route:
            del self._routes[domain]

    def setComponents(self, components: Mapping[str, object]) -> None:
        """
        Replace the configured components (a reload): what disco lists, and
        which unbound domains are answered C{remote-server-timeout}.  Live
        routes are not touched; the caller ends those it no longer wants.
        """
        self._known = dict(components)

    def bind(
        self,
        domain: str,
        route: IRoute,
        *,
        kickOld: bool = False,
        access: Callable[[Stanza], bool] | None = None,
        hidden: bool = False,
        hold: HoldPolicy | None = None,
        balance: bool = False,
    ) -> None:
        """
        Make C{route} the destination for C{domain}.  What was held for
        C{domain} while it was away is delivered to it first, in order.

        @param kickOld: when C{domain} is bound to another stream, end that
            stream with C{conflict} before binding, instead of refusing.
        @param access: who may send to C{route}: a predicate on each stanza
            routed to it; a refused one is answered with C{not-allowed}.
            L{None} lets every sender through at no cost.
        @param hidden: leave C{domain} out of disco#items while bound.
        @param hold: what to do with stanzas for C{domain} once C{route}
            goes away; L{None} answers them at once.
        @param balance: share C{domain} with the streams already bound to
            it (L{xcomp.balance}) instead of the conflict policy.
        @raise ConflictError: C{domain} is bound and C{kickOld} is false, or
            it is bound to something that is not a stream.
        """
        current = self._routes.get(domain)
        held = None
        if isinstance(current, HoldRoute):
            held, current = current, None
        if balance and IStreamRoute.providedBy(route):
            self._join(domain, current, route, access)
        else:
            if current is not None and current is not route:
                if not (kickOld and IStreamRoute.providedBy(current)):
                    raise ConflictError(domain)
                # Unbind first, then close: from here on nothing is routed to
                # the old stream, so no stanza is written to a stream that is
                # dying.  The new stream takes the domain at once: no hold.
                self.holds.setPolicy(domain, None)
                self.unbindAll(current)
                current.close("conflict", "Replaced by a new connection")
            if current is not route:
                self._since[domain] = self.reactor.seconds()
            self._routes[domain] = route
            if access is not None:
                self._guards[route] = access
        self.holds.setPolicy(domain, hold)
        if hidden:
            self._hidden.add(domain)
        self._log.info(
            "Component {domain} bound ({peer})", domain=domain, peer=getattr(route, "peer", "internal")
        )
        if held is not None:
            self.holds.deliver(held)

    def _join(
        self,
        domain: str,
        current: IRoute | None,
        route: IStreamRoute,
        access: Callable[[Stanza], bool] | None,
    ) -> None:
        """
        Add C{route} to the connections that share C{domain}.

        @raise ConflictError: C{domain} is served by something that is not a
            stream, or has L{MAX_MEMBERS} connections already.
        """
        now = self.reactor.seconds()
        if isinstance(current, BalanceRoute):
            if route in current:
                return
            if len(current) >= MAX_MEMBERS:
                raise ConflictError(domain)
            balanced = current
        elif current is None or IStreamRoute.providedBy(current):
            balanced = BalanceRoute(domain)
            if current is not None and current is not route:
                # Bound before without sharing: it becomes the first member.
                balanced.add(current, self._since.get(domain, now))
            self._since[domain] = now
            self._routes[domain] = balanced
        else:
            raise ConflictError(domain)
        balanced.add(route, now)
        if access is not None and balanced not in self._guards:
            self._guards[balanced] = access

    def setRemote(self, route: IRoute | None) -> None:
        """
        Make C{route} the destination of every stanza whose domain is neither
        bound nor configured here (server-to-server federation); L{None}
        puts back C{remote-server-not-found} for them.
        """
        self._remote = route

    def setCluster(self, cluster: IClusterRoute | None) -> None:
        """
        Make C{cluster} the destination of every stanza whose domain is not
        bound here, before the configured-domain and federation rules; and
        tell it of each domain that no longer has a route here.
        """
        self._cluster = cluster

    def unbind(self, domain: str, route: IRoute) -> None:
        """
        Remove C{route} as the destination of C{domain}, if it still is.
        When it was the last stream of a domain bound with a hold policy,
        the domain's stanzas are held from here on (L{xcomp.hold}).
        """
        routes = self._routes
        current = routes.get(domain)
        if isinstance(current, BalanceRoute) and route is not current:
            member = current.remove(route)
            if member is None:
                return
            self._unbound(domain, route, member.since)
            if len(current):
                # The others take this one's senders over.
                return
            del routes[domain]
            self._hidden.discard(domain)
            self._since.pop(domain, None)
            self.holds.start(domain, self._guards.pop(current, None))
            if self._cluster is not None:
                self._cluster.unbound(domain)
            return
        if route is not None and current is route:
            del routes[domain]
            self._hidden.discard(domain)
            guard = self._guards.get(route)
            # The guard goes with the route's last domain; looking only at
            # the route's own domains keeps this independent of table size.
            if guard is not None and not any(
                routes.get(d) is route for d in getattr(route, "domains", ())
            ):
                del self._guards[route]
            now = self.reactor.seconds()
            self._unbound(domain, route, self._since.pop(domain, now))
            self.holds.start(domain, guard)
            if self._cluster is not None:
                self._cluster.unbound(domain)

    def _unbound(self, domain: str, route: IRoute, since: float) -> None:
        """
        Log that C{route} no longer serves C{domain}, and after how long.
        """
        duration = self.reactor.seconds() - since
        self._log.info(
            "Component {domain} unbound ({peer}) after {connected}",
            domain=domain,
            peer=getattr(route, "peer", "internal"),
            duration=duration,
            connected=elapsed(duration),
        )

    # Holding stanzas for components that are away (xcomp.hold)

    def _refuseHeld(self, stanzas: list[Stanza]) -> None:
        """
        Answer stanzas that could not be held, or were held in vain, as for
        a component that is not connected.
        """
        for stanza in stanzas:
            self._answer(
                None, stanza, "remote-server-timeout", type="wait", appCondition=notConnected()
            )

    def heldStanzas(self) -> dict[str, int]:
        """
        How many stanzas are held for each domain held for now (for metrics
        and the status page; the domains are configured or bound ones).
        """
        return self.holds.counts()

    def heldTotal(self) -> int:
        """
        How many stanzas are held, for all domains.
        """
        return self.holds.total()

    def balanced(self) -> dict[str, tuple[Member, ...]]:
        """
        The connections of each balanced domain, oldest first, with how
        many stanzas each was given (for metrics and the status page).
        """
        return {
            domain: tuple(route.members)
            for domain, route in self._routes.items()
            if isinstance(route, BalanceRoute)
        }

    def streamDomains(self) -> list[str]:
        """
        The domains bound to component streams here (what this node claims
        when it is one of a cluster).
        """
        return [
            domain
            for domain, route in self._routes.items()
            if IStreamRoute.providedBy(route) or isinstance(route, BalanceRoute)
        ]

    def unbindAll(self, route: IStreamRoute) -> None:
        """
        Remove a stream from every domain it is bound to.
        """
        for domain in sorted(route.domains):
            self.unbind(domain, route)
        self._guards.pop(route, None)

    def componentsUnder(self, host: str) -> Iterator[tuple[str, str | None]]:
        """
        The (domain, name) of each component below C{host} that disco lists:
        the configured ones, and those bound without being configured (with
        a listener's password), except the hidden ones: C{disco_hidden}, or
        bound through a listener with C{hidden_components}.
        """
        suffix = "." + host
        listed = {
            domain: getattr(component, "name", None)
            for domain, component in self._known.items()
            if not getattr(component, "discoHidden", False)
        }
        for domain, route in self._routes.items():
            if domain not in self._known and (
                IStreamRoute.providedBy(route) or isinstance(route, BalanceRoute)
            ):
                listed[domain] = None
        for domain, name in sorted(listed.items()):
            if domain.endswith(suffix) and domain not in self._hidden:
                yield domain, name

    # Routing

    def receive(self, source: IStreamRoute, stanza: Stanza) -> None:
        """
        Accept a stanza from an external component's stream.

        A missing C{from} is stamped with the stream's domain; a C{from}
        outside the stream's domains ends the stream with C{invalid-from}
        (unless the stream is trusted) and nothing is delivered.
        """
        attributes = stanza.attributes
        sender = attributes.get("from")
        if sender is None:
            stanza = stanza.withSender(source.domain)
        elif source.checkFrom:
            domains = source.domains
            # A bare domain is the common case; split only when it is not.
            if (
                sender not in domains
                and hostOf(sender) not in domains
                and preparedHost(sender) not in domains
            ):
                self.unbindAll(source)
                source.close("invalid-from", "The from address is not within the component's domain")
                self.counts.count(self.counts.dropped, stanza.name)
                return
        if attributes.get("to") is None:
            self._answer(source, stanza, "bad-request")
            return
        self.route(stanza, source)

    def route(self, stanza: Stanza, source: IRoute | None = None) -> None:
        """
        Deliver C{stanza} to the route of its C{to} domain, or answer it with
        the error that says why it cannot be delivered.

        @param source: where errors about this stanza go; when C{None}, they
            are routed to the stanza's C{from} like any other stanza.
        """
        to = stanza.attributes.get("to")
        if to is None:
            self._answer(source, stanza, "bad-request")
            return
        routes = self._routes
        # Components mostly address a bare domain: one lookup, no split.
        route = routes.get(to)
        if route is None:
            route = routes.get(hostOf(to))
        if route is None:
            domain = preparedHost(to)
            if domain is None:
                self._answer(source, stanza, "jid-malformed")
                return
            route = routes.get(domain)
            if route is None:
                self._undeliverable(source, stanza, domain)
                return
        if self._guards:
            guard = self._guards.get(route)
            if guard is not None and not guard(stanza):
                self._answer(source, stanza, "not-allowed", type="cancel")
                return
        if self._verbose:
            self._log.debug("Routing {stanza!r} to {domain}", stanza=stanza, domain=route.domain)
        try:
            route.send(stanza)
        except Exception:
            self._log.failure("Routing {stanza!r} failed", stanza=stanza)
            self._answer(source, stanza, "internal-server-error", type="cancel")
            return
        # A hold keeps it: it counts once its component has it, or is
        # answered (xcomp.hold).
        if route.__class__ is not HoldRoute:
            delivered = self.counts.delivered
            kind = stanza.name
            if kind in delivered:
                delivered[kind] += 1
            else:
                delivered["other"] += 1

    def _undeliverable(self, source: IRoute | None, stanza: Stanza, domain: str) -> None:
        if self._cluster is not None and self._cluster.take(stanza, domain):
            self.counts.count(self.counts.delivered, stanza.name)
        elif domain in self._known:
            self._answer(
                source, stanza, "remote-server-timeout", type="wait", appCondition=notConnected()
            )
        elif self._remote is not None:
            self._remote.send(stanza)
            self.counts.count(self.counts.delivered, stanza.name)
        else:
            self._answer(source, stanza, "remote-server-not-found", type="cancel")

    def _answer(self, source: IRoute | None, stanza: Stanza, condition: str, **kw: object) -> None:
        """
        Send the error reply about C{stanza} back where it came from.
        """
        reply = bounce(stanza, condition, **kw)  # type: ignore[arg-type]
        if reply is None:
            self.counts.count(self.counts.dropped, stanza.name)
            return
        self.counts.bounce(stanza.name, condition)
        if source is not None:
            source.send(reply)
        else:
            self.route(reply)
