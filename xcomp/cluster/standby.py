# -*- test-case-name: xcomp.test.test_cluster_standby -*-
"""
Internal components (the C{muc}) in a cluster: active on one node at a
time, on standby on every other node that configures them.

A component's rooms live in its process, and its persistent rooms in one
SQLite file: two live copies would each hold half of a room's occupants
and write the same file.  So the domain is claimed in the routing table
like a component stream's, and only the node that holds the claim runs the
component; the others route its stanzas to that node.  When the active
node goes away (it stops and lets go, or its lease runs out), a standby
node claims the domain and starts the component, which loads the
persistent rooms from the file: the nodes that may host it share its
C{data_path} (one host, or a shared disk).  Rooms that were not
persistent, and the occupants of every room, are gone, as after a
restart of one node; the users' clients join again.

A node that stalls for longer than its lease (a long pause of the process
or the machine) loses the claim: another node starts the component with
the rooms as the file held them then, and the stalled node stops its copy
at its next renewal, which reports the claim lost.  What the stalled copy
changed in between is not seen by the new one.  So C{cluster_lease} should
be well above the longest pause a node may have.

This module is the bookkeeping; L{xcomp.cluster.service} asks Redis.
"""

from __future__ import annotations

from typing import Callable, Iterable

from twisted.internet import defer

from xcomp.logsinks import Logger

__all__ = ["Standby"]


class Standby:
    """
    The internal components this node may run.

    @ivar waiting: domains on standby here (another node runs them, or
        nobody has claimed them yet).
    @ivar active: domains whose component runs here.
    @ivar claiming: domains with a claim in flight.
    """

    _log = Logger()

    def __init__(
        self,
        domains: Iterable[str],
        start: Callable[[str], None],
        stop: Callable[[str], object],
    ) -> None:
        """
        @param start: starts the component of a domain and routes to it.
        @param stop: stops it and takes its route away; may return a
            Deferred that fires once it has stopped (its file closed).
        """
        self.waiting = set(domains)
        self.active: set[str] = set()
        self.claiming: set[str] = set()
        self._start = start
        self._stop = stop

    def candidates(self, ownerOf: Callable[[str], str | None]) -> list[str]:
        """
        The waiting domains worth claiming now: no live node other than
        this one runs them, and no claim is in flight.

        @param ownerOf: the live node other than this one that holds a
            domain (L{xcomp.cluster.table.RouteTable.ownerOf}).
        """
        return sorted(d for d in self.waiting - self.claiming if ownerOf(d) is None)

    def granted(self, domain: str) -> None:
        """
        The claim was granted: run the component here.
        """
        self.claiming.discard(domain)
        if domain not in self.waiting:
            return
        self.waiting.discard(domain)
        self.active.add(domain)
        self._log.info("Cluster: {domain} is active on this node", domain=domain)
        self._start(domain)

    def refused(self, domain: str) -> None:
        """
        Another node won: stay on standby.
        """
        self.claiming.discard(domain)

    def lost(self, domain: str) -> defer.Deferred[object]:
        """
        Another node holds the domain now (it took it while this node could
        not renew, during an outage of Redis): stop running it here.
        """
        if domain not in self.active:
            return defer.succeed(None)
        self.active.discard(domain)
        self.waiting.add(domain)
        self._log.warn("Cluster: {domain} is active on another node; on standby here", domain=domain)
        return defer.maybeDeferred(self._stop, domain)
