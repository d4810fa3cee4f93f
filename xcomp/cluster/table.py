# -*- test-case-name: xcomp.test.test_cluster_table -*-
"""
This node's copy of the cluster's routing table: which node each domain is
bound on, and which nodes are alive.

It is kept current two ways: the C{events} channel tells of each change as
it happens, and a snapshot taken every renewal replaces the whole copy, so
that a change whose event was missed (a reconnect to Redis) is corrected
within one lease period.  Pure bookkeeping, no I/O.
"""

from __future__ import annotations

from typing import Iterable

#: The most domains the copy holds; past it, further ones are not learnt
#: (stanzas for them are answered as if they were bound nowhere).  Redis
#: is trusted, but a table that grows without a bound is not.
MAX_DOMAINS = 100_000


class RouteTable:
    """
    @ivar node: this node's name.
    @ivar owners: the node each domain is bound on, this one included.
    @ivar dead: nodes whose lease has run out while the table still names
        them (their domains are not routed to; their stream is adopted).
    """

    def __init__(self, node: str) -> None:
        self.node = node
        self.owners: dict[str, str] = {}
        self.dead: set[str] = set()

    def ownerOf(self, domain: str) -> str | None:
        """
        The live node other than this one that C{domain} is bound on, if any.
        """
        owner = self.owners.get(domain)
        if owner is None or owner == self.node or owner in self.dead:
            return None
        return owner

    def apply(self, event: bytes) -> None:
        """
        Take in one message of the C{events} channel: C{domain node} (bound
        there) or C{domain} (let go of).
        """
        domain, _, node = event.decode("utf-8", "replace").partition(" ")
        if node:
            if domain in self.owners or len(self.owners) < MAX_DOMAINS:
                self.owners[domain] = node
                self.dead.discard(node)
        else:
            self.owners.pop(domain, None)

    def replace(self, snapshot: Iterable[object]) -> None:
        """
        Replace the whole copy with a snapshot: the flat list of domain,
        node, alive (1 or 0) the C{SNAPSHOT} script returns.
        """
        items = list(snapshot)
        owners: dict[str, str] = {}
        dead: set[str] = set()
        for i in range(0, len(items) - 2, 3):
            domain, node, alive = items[i], items[i + 1], items[i + 2]
            name = _text(node)
            if len(owners) < MAX_DOMAINS:
                owners[_text(domain)] = name
            if not alive and name != self.node:
                dead.add(name)
        self.owners = owners
        self.dead = dead

    def mine(self) -> set[str]:
        """
        The domains the table says are bound on this node.
        """
        return {domain for domain, node in self.owners.items() if node == self.node}


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
