# -*- test-case-name: xcomp.test.test_cluster_loopback -*-
"""
L{ClusterService}: this node's part in a cluster.  It keeps the node's lease
and its copy of the routing table current, claims each domain a stream
binds, lets go of each one that is no longer bound, and carries stanzas for
the other nodes' domains to them (L{xcomp.cluster}).
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import txredisapi
from twisted.application.service import Service
from twisted.internet import defer, task
from twisted.internet.interfaces import IReactorTime
from zope.interface import implementer

from xcomp.cluster.connection import RedisLink, probe
from xcomp.cluster.inbox import ClusterInbox
from xcomp.cluster.keys import CLAIM, HOLD, RELEASE, RENEW, SNAPSHOT, Keys
from xcomp.cluster.leftovers import Leftovers
from xcomp.cluster.outbox import ClusterOutbox
from xcomp.cluster.standby import Standby
from xcomp.cluster.table import RouteTable
from xcomp.config import ClusterConfig
from xcomp.errors import bounce
from xcomp.interfaces import IBindGate, IClusterRoute, IStreamRoute
from xcomp.logsinks import Logger
from xcomp.router import Router
from xcomp.stanza import Stanza

__all__ = ["ClusterService"]


@implementer(IClusterRoute, IBindGate)
class ClusterService(Service):
    """
    @ivar table: this node's copy of the routing table.
    @ivar incarnation: what this process writes in its lease, so that a
        message meant for its last life is not taken for its own.
    @ivar standby: the internal components this node runs while it holds
        their claim (L{xcomp.cluster.standby}).
    """

    _log = Logger()

    def __init__(
        self, config: ClusterConfig, router: Router, reactor: IReactorTime, standby: Standby | None = None
    ) -> None:
        self.config = config
        self.standby = standby or Standby((), lambda domain: None, lambda domain: None)
        self.router = router
        self.reactor = reactor
        self.incarnation = os.urandom(8).hex().encode("ascii")
        self.keys = Keys(config.node.encode("utf-8"))
        self.table = RouteTable(config.node)
        table = self.table
        changed = self._changed

        class Events(txredisapi.SubscriberProtocol):
            def messageReceived(self, pattern: object, channel: object, message: bytes) -> None:
                table.apply(message)
                changed(message)

        self.commands = RedisLink(reactor, config, "commands", onConnect=self._connected)
        self.reader = RedisLink(
            reactor, config, "inbox", replyTimeout=None, onConnect=lambda p: self.inbox.start()
        )
        self.events = RedisLink(
            reactor, config, "events", protocol=Events, replyTimeout=None, onConnect=self._subscribe
        )
        self.outbox = ClusterOutbox(reactor, self.commands, self.keys, config.streamLength, self._refuse)
        self.inbox = ClusterInbox(self.reader, self.keys, self._deliver, self._control)
        self.leftovers = Leftovers(self.commands, self.keys, self._refuse)
        self._waiting: dict[str, list[defer.Deferred[None]]] = {}
        self._tick = task.LoopingCall(self._renewSafely)
        self._tick.clock = reactor
        self._inbound = False

    # The service

    def privilegedStartService(self) -> None:
        super().privilegedStartService()
        probe(self.config)

    def startService(self) -> None:
        super().startService()
        self.router.setCluster(self)
        self.router.gate = self
        self._log.info(
            "Cluster: node {node}, Redis at {url}", node=self.config.node, url=self.config.url
        )
        for link in (self.commands, self.reader, self.events):
            link.start()
        self._tick.start(self.config.lease / 3, now=False)

    def stopService(self) -> defer.Deferred[Any]:
        super().stopService()
        if self._tick.running:
            self._tick.stop()
        self.inbox.stop()
        self.router.setCluster(None)
        self.router.gate = None
        d: defer.Deferred[Any] = defer.succeed(None)
        protocol = self.commands.current()
        if protocol is not None:
            # Leave at once rather than when the lease runs out: the bound
            # domains, the balanced ones and those held here.
            names = {*self.router.streamDomains(), *self.standby.active, *self.router.holds.held}
            mine = [name.encode("utf-8") for name in sorted(names)]
            d = defer.maybeDeferred(
                protocol.eval, RELEASE, [self.keys.routes, self.keys.events], [self.keys.prefix, self.keys.node, *mine]
            )
            d.addCallback(lambda _: defer.maybeDeferred(protocol.execute_command, b"DEL", self.keys.lease))
            d.addErrback(lambda f: None)
        links = [self.commands, self.reader, self.events]

        def closeLinks(_: object) -> defer.Deferred[Any]:
            return defer.gatherResults([link.stop() for link in links], consumeErrors=True)  # type: ignore[misc]

        d.addCallback(closeLinks)
        d.addErrback(lambda f: None)
        return d

    # The lease and the table

    def _connected(self, protocol: object) -> None:
        # Connected, or connected again after Redis went away: publish the
        # lease and this node's domains now, not at the next renewal.
        self._renew()

    def _subscribe(self, protocol: txredisapi.SubscriberProtocol) -> None:
        protocol.subscribe([self.keys.events]).addErrback(lambda f: None)

    def _renewSafely(self) -> None:
        # A LoopingCall stops for good at the first exception; the lease
        # must outlive any one bad renewal.
        try:
            self._renew()
        except Exception:
            self._log.failure("Cluster: renewal failed")

    def _renew(self) -> None:
        protocol = self.commands.current()
        if protocol is None:
            return
        mine = self._mine()
        d = defer.maybeDeferred(protocol.eval, 
            RENEW,
            [self.keys.routes, self.keys.lease, self.keys.events, self.keys.nodes],
            [
                self.keys.prefix,
                self.keys.node,
                self.incarnation,
                int(self.config.lease * 1000),
                *mine,
            ],
        )
        d.addCallback(self._renewed)
        d.addCallback(lambda _: defer.maybeDeferred(protocol.eval, SNAPSHOT, [self.keys.routes], [self.keys.prefix]))
        d.addCallback(self._snapshot)
        d.addCallback(lambda _: self.leftovers.look())
        d.addErrback(lambda f: self._log.warn("Cluster: renewal failed: {reason}", reason=f.value))

    def _mine(self) -> list[bytes]:
        """
        What this node's renewal writes back: its domains, a balanced one
        as C{*domain}.
        """
        balanced = self.router.balanced()
        domains = [f"*{d}" if d in balanced else d for d in self.router.streamDomains()]
        return [d.encode("utf-8") for d in (*domains, *sorted(self.standby.active))]

    def _renewed(self, lost: object) -> None:
        for domain in lost or ():  # type: ignore[attr-defined]
            name = domain.decode("utf-8")
            if name in self.standby.active:
                self.standby.lost(name)
            else:
                self._kicked(name)

    def _snapshot(self, snapshot: object) -> None:
        self.table.replace(snapshot or ())  # type: ignore[arg-type]
        # A standby domain the table still gives this node (its last life's
        # claim) is claimed again below, not let go of.
        holds = self.router.holds
        stale = [
            d
            for d in self.table.mine()
            if self.router.lookup(d) is None and holds.holding(d) is None and d not in self.standby.waiting
        ]
        if stale:
            self._release(stale)
        self._claimStandby()

    def _changed(self, event: bytes) -> None:
        # A standby domain let go of (its node stopped): claim it now rather
        # than at the next renewal.
        domain, _, node = event.decode("utf-8", "replace").partition(" ")
        if not node and domain in self.standby.waiting:
            self.reactor.callLater(0, self._claimStandby)

    def _claimStandby(self) -> None:
        protocol = self.commands.current()
        if protocol is None:
            return
        for domain in self.standby.candidates(self.table.ownerOf):
            self.standby.claiming.add(domain)
            d = defer.maybeDeferred(
                protocol.eval,
                CLAIM,
                [self.keys.routes, self.keys.events],
                [self.keys.prefix, domain.encode("utf-8"), self.keys.node, b"standby", 0],
            )
            d.addCallbacks(self._standbyAnswered, self._standbyFailed, (domain,), {}, (domain,))

    def _standbyAnswered(self, result: list[bytes], domain: str) -> None:
        if result[0] == b"conflict":
            self.table.owners[domain] = result[1].decode("utf-8", "replace")
            self.standby.refused(domain)
        else:
            self.table.owners[domain] = self.table.node
            self.standby.granted(domain)

    def _standbyFailed(self, failure: object, domain: str) -> None:
        self._log.warn("Cluster: claim of {domain} failed: {reason}", domain=domain, reason=failure)
        self.standby.refused(domain)

    # IClusterRoute

    def take(self, stanza: Stanza, domain: str) -> bool:
        if self._inbound:
            # From another node: never sent on again (no stanza circles
            # between two nodes whose tables disagree for a moment).
            return False
        node = self.table.ownerOf(domain, stanza.attributes.get("from") or "")
        if node is None:
            return False
        self.outbox.send(node, stanza)
        return True

    def unbound(self, domain: str) -> None:
        # Later, not now: a stream that replaces another on this node binds
        # right after the old one is unbound, and keeps the claim.
        self.reactor.callLater(0, self._releaseIfGone, domain)

    def _releaseIfGone(self, domain: str) -> None:
        if self.router.lookup(domain) is not None:
            return
        protocol = self.commands.current()
        holds = self.router.holds
        if domain in self.table.shared:
            # Balanced: this node's last connection of it left.  Where
            # others remain on other nodes, what this node began to hold
            # goes to them, each sender's to its node.
            self._release([domain])
            if self.table.ownerOf(domain) is not None:
                for stanza in holds.handOver(domain):
                    if not self.take(stanza, domain):
                        self._refuse(stanza, "remote-server-timeout")
            return
        if holds.holding(domain) is None or protocol is None:
            self._release([domain])
            return
        # Its component went away and this node holds its stanzas: the
        # others send theirs here too, until it is bound again anywhere.
        defer.maybeDeferred(
            protocol.eval, HOLD, [self.keys.routes, self.keys.events], [self.keys.node, domain.encode("utf-8")]
        ).addErrback(lambda f: None)
        self.table.held.add(domain)

    def _release(self, domains: Sequence[str]) -> None:
        protocol = self.commands.current()
        if protocol is None:
            return
        for domain in domains:
            if self.table.owners.get(domain) == self.table.node:
                del self.table.owners[domain]
            self.table.shared.get(domain, set()).discard(self.table.node)
        defer.maybeDeferred(
            protocol.eval,
            RELEASE,
            [self.keys.routes, self.keys.events],
            [self.keys.prefix, self.keys.node, *(d.encode("utf-8") for d in domains)],
        ).addErrback(lambda f: None)

    # IBindGate

    def claim(self, domains: Sequence[str], kickOld: bool, balance: bool = False) -> defer.Deferred[bool]:
        protocol = self.commands.current()
        if protocol is None:
            # Redis is away: bind here alone; the renewal after it is back
            # writes the domain, or reports that another node has it.
            return defer.succeed(True)
        policy = b"balance" if balance else b"kick_old" if kickOld else b"kick_new"
        claims = [
            defer.maybeDeferred(protocol.eval, 
                CLAIM,
                [self.keys.routes, self.keys.events],
                [self.keys.prefix, domain.encode("utf-8"), self.keys.node, policy, 0],
            )
            for domain in domains
        ]
        d = defer.gatherResults(claims, consumeErrors=True)

        def answered(results: list[list[bytes]]) -> bool | defer.Deferred[bool]:
            granted = all(result[0] != b"conflict" for result in results)
            kicked = []
            for domain, result in zip(domains, results):
                if result[0] == b"conflict":
                    self._log.info(
                        "Cluster: {domain} is bound on node {node}; refused here",
                        domain=domain,
                        node=result[1].decode("utf-8", "replace"),
                    )
                elif balance:
                    self.table.join(domain, self.table.node)
                else:
                    self.table.owners[domain] = self.table.node
                    if result[0] == b"kicked":
                        kicked.append(domain)
                # Whatever the stream does next, a claim with no route
                # behind it is let go of.
                self.reactor.callLater(0, self._releaseIfGone, domain)
            if granted and kicked:
                # Bound only once the old owner has let go: until then its
                # local senders still reach its stream, and two streams
                # must never both receive.
                return defer.gatherResults([self._released(domain) for domain in kicked]).addCallback(
                    lambda _: True
                )
            return granted

        def failed(failure: object) -> bool:
            self._log.warn("Cluster: claim failed, binding here alone: {reason}", reason=failure)
            return True

        return d.addCallbacks(answered, failed)

    # Between nodes

    def _deliver(self, stanza: Stanza) -> None:
        self._inbound = True
        try:
            self.router.route(stanza)
        finally:
            self._inbound = False

    def _released(self, domain: str) -> defer.Deferred[None]:
        """
        Fires when the old owner of C{domain} says it has let go, or after
        a lease at the most (it may have died meanwhile, and its lease is
        how long the cluster takes to notice).
        """
        waiter: defer.Deferred[None] = defer.Deferred()
        self._waiting.setdefault(domain, []).append(waiter)

        def late(failure: object, timeout: float) -> None:
            self._log.warn(
                "Cluster: the old owner of {domain} did not let go within {timeout}s; binding it here",
                domain=domain,
                timeout=timeout,
            )
            waiters = self._waiting.get(domain, [])
            if waiter in waiters:
                waiters.remove(waiter)

        waiter.addTimeout(self.config.lease, self.reactor, onTimeoutCancel=late)
        return waiter

    def _control(self, kind: bytes, fields: dict[bytes, bytes]) -> None:
        domain = fields.get(b"d", b"").decode("utf-8", "replace")
        if kind == b"kick" and fields.get(b"to") == self.incarnation:
            self._kicked(domain)
            by = fields.get(b"by")
            protocol = self.commands.current()
            if by and protocol is not None:
                # Over the connection the outbox uses: the new owner reads
                # this before anything this node sends it for the domain.
                defer.maybeDeferred(
                    protocol.execute_command, b"XADD", self.keys.inboxOf(by), b"*", b"k", b"released", b"d", fields[b"d"]
                ).addErrback(lambda f: None)
        elif kind == b"released":
            for waiter in self._waiting.pop(domain, []):
                waiter.callback(None)
        elif kind == b"handover" and fields.get(b"by"):
            node = fields[b"by"].decode("utf-8", "replace")
            self.table.owners[domain] = node
            self.table.held.discard(domain)
            for stanza in self.router.holds.handOver(domain):
                self.outbox.send(node, stanza)

    def _kicked(self, domain: str) -> None:
        route = self.router.lookup(domain)
        close = getattr(route, "close", None)
        if close is not None:
            self._log.info("Cluster: {domain} was bound on another node; ending it here", domain=domain)
            # Not held here: from now on its stanzas belong to the other node.
            self.router.holds.end(domain)
            # Unbound now, not when the stream has closed: nothing more is
            # routed to it.
            if IStreamRoute.providedBy(route):
                self.router.unbindAll(route)
            close("conflict", "Replaced by a new connection on another node of the cluster")

    def _refuse(self, stanza: Stanza, condition: str) -> None:
        reply = bounce(stanza, condition)
        if reply is not None:
            self.router.route(reply)
