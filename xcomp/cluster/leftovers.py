# -*- test-case-name: xcomp.test.test_cluster_loopback -*-
"""
What a node that died never took from its stream.

A sender's node hands a stanza to Redis while the target's lease runs; if
the target dies before it reads it, nobody ever will.  So each renewal asks
which gone nodes left entries behind (C{ORPHANS}), and this module takes
them, a page at a time (C{ADOPT}, atomic: each entry is taken by one node
only, and none once the node is back), and answers every stanza in them
C{remote-server-timeout}, as if it had been refused when it was sent.
"""

from __future__ import annotations

from typing import Callable

from twisted.internet import defer

from xcomp.cluster.connection import RedisLink
from xcomp.cluster.inbox import EntryReader, isControl
from xcomp.cluster.keys import ADOPT, ORPHANS, Keys
from xcomp.logsinks import Logger
from xcomp.stanza import Stanza

__all__ = ["Leftovers"]

#: Entries taken from a gone node's stream per call.
PAGE = 100


class Leftovers:
    """
    @ivar taking: the gone nodes whose streams are being taken.
    """

    _log = Logger()

    def __init__(self, commands: RedisLink, keys: Keys, refuse: Callable[[Stanza, str], None]) -> None:
        self._commands = commands
        self._keys = keys
        self._refuse = refuse
        self.taking: set[str] = set()

    def look(self) -> defer.Deferred[None]:
        """
        Find the gone nodes with entries left, and take them.
        """
        protocol = self._commands.current()
        if protocol is None:
            return defer.succeed(None)
        d = defer.maybeDeferred(protocol.eval, ORPHANS, [self._keys.nodes], [self._keys.prefix, self._keys.node])
        return d.addCallback(self._found)

    def _found(self, nodes: object) -> None:
        for node in nodes or ():  # type: ignore[attr-defined]
            name = node.decode("utf-8", "replace")
            if name not in self.taking:
                self.taking.add(name)
                self._take(name, EntryReader(), 0)

    def _take(self, node: str, entries: EntryReader, answered: int) -> None:
        protocol = self._commands.current()
        if protocol is None:
            self.taking.discard(node)
            return
        name = node.encode("utf-8")
        keys = [self._keys.leaseOf(name), self._keys.inboxOf(name), self._keys.pendingOf(name)]
        d = defer.maybeDeferred(protocol.eval, ADOPT, keys, [PAGE])

        def taken(reply: object) -> None:
            page = list(reply or ())  # type: ignore[call-overload]
            count = answered
            for _entryId, fields in page:
                if isControl(fields):
                    continue
                for stanza in entries.stanzas(fields):
                    count += 1
                    self._refuse(stanza, "remote-server-timeout")
            if len(page) == PAGE:
                self._take(node, entries, count)
                return
            self.taking.discard(node)
            self._log.info(
                "Cluster: node {node} is gone; {count} stanzas it never took were answered",
                node=node,
                count=count,
            )

        def failed(failure: object) -> None:
            self.taking.discard(node)
            self._log.warn("Cluster: could not take node {node}'s stream: {reason}", node=node, reason=failure)

        d.addCallbacks(taken, failed)
