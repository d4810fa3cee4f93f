# -*- test-case-name: xcomp.test.test_cluster_loopback -*-
"""
Stanzas leaving this node for another one: gathered per target node during
a reactor turn and sent in one C{SEND} script call per node, so that a
stanza costs a fraction of a round trip and the order from this node to
each other node is kept (one connection, one call after the other).
"""

from __future__ import annotations

from typing import Callable

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime

from xcomp.cluster.connection import RedisLink
from xcomp.cluster.keys import SEND, Keys
from xcomp.logsinks import Logger
from xcomp.stanza import Stanza

#: The most stanzas waiting for one node during a turn; past it, each
#: further one is answered C{resource-constraint}.
MAX_PENDING = 10_000
#: The most stanzas in one stream entry.
BATCH = 500


class ClusterOutbox:
    """
    @ivar sent: stanzas Redis took for another node.
    """

    _log = Logger()

    def __init__(
        self,
        reactor: IReactorTime,
        link: RedisLink,
        keys: Keys,
        streamLength: int,
        refuse: Callable[[Stanza, str], None],
    ) -> None:
        """
        @param refuse: answers a stanza that could not be handed over, with
            the stanza error condition that says why.
        """
        self._reactor = reactor
        self._link = link
        self._keys = keys
        self._bound = streamLength
        self._refuse = refuse
        self._pending: dict[str, list[Stanza]] = {}
        self._flushing = False
        self.sent = 0

    def send(self, node: str, stanza: Stanza) -> None:
        queue = self._pending.setdefault(node, [])
        if len(queue) >= MAX_PENDING:
            self._refuse(stanza, "resource-constraint")
            return
        queue.append(stanza)
        if not self._flushing:
            self._flushing = True
            self._reactor.callLater(0, self._flush)

    def _flush(self) -> None:
        self._flushing = False
        pending, self._pending = self._pending, {}
        protocol = self._link.current()
        for node, stanzas in pending.items():
            if protocol is None:
                for stanza in stanzas:
                    self._refuse(stanza, "remote-server-timeout")
                continue
            target = node.encode("utf-8")
            for start in range(0, len(stanzas), BATCH):
                batch = stanzas[start : start + BATCH]
                payload = [s.raw if s.raw is not None else s.toBytes() for s in batch]
                d = defer.maybeDeferred(protocol.eval, 
                    SEND,
                    [self._keys.leaseOf(target), self._keys.inboxOf(target), self._keys.pendingOf(target)],
                    [self._bound, self._keys.node, *payload],
                )
                d.addCallbacks(self._answered, self._failed, (batch,), {}, (batch,))

    def _answered(self, taken: object, batch: list[Stanza]) -> None:
        if taken == -1:
            for stanza in batch:
                self._refuse(stanza, "remote-server-timeout")
            return
        count = taken if isinstance(taken, int) else 0
        self.sent += count
        # The target's stream had room for the first ones only.
        for stanza in batch[count:]:
            self._refuse(stanza, "resource-constraint")

    def _failed(self, failure: object, batch: list[Stanza]) -> None:
        # Redis went away with the call unanswered: whether it took the batch
        # is unknown; answering is the side that loses nothing silently.
        self._log.warn(
            "Cluster: {count} stanzas not handed to Redis: {reason}",
            count=len(batch),
            reason=getattr(failure, "value", failure),
        )
        for stanza in batch:
            self._refuse(stanza, "remote-server-timeout")
