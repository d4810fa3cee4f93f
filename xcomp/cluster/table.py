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

import zlib
from typing import Iterable

from xcomp.balance import MAX_MEMBERS, bareOf, score

#: The most domains the copy holds; past it, further ones are not learnt
#: (stanzas for them are answered as if they were bound nowhere).  Redis
#: is trusted, but a table that grows without a bound is not.
MAX_DOMAINS = 100_000


class RouteTable:
    """
    @ivar node: this node's name.
    @ivar owners: the node each domain is bound on, this one included.
    @ivar shared: the nodes with connections of each balanced domain.
    @ivar held: domains whose component went away from their node in
        L{owners}, which holds their stanzas until it is bound again.
    @ivar dead: nodes whose lease has run out while the table still names
        them (their domains are not routed to; their stream is adopted).
    """

    def __init__(self, node: str) -> None:
        self.node = node
        self.owners: dict[str, str] = {}
        self.shared: dict[str, set[str]] = {}
        self.held: set[str] = set()
        self.dead: set[str] = set()

    def ownerOf(self, domain: str, sender: str = "") -> str | None:
        """
        The live node other than this one that C{domain} is bound on, if
        any.  For a balanced domain, the one of its nodes C{sender} hashes
        to (rendezvous hashing of its bare JID, as L{xcomp.balance} picks a
        connection): one sender stays on one node while the nodes stay the
        same.  A node with connections of its own is not asked: its router
        delivers to them, as ejabberd prefers a component's local routes.
        """
        nodes = self.shared.get(domain)
        if nodes is not None:
            live = [n for n in nodes if n != self.node and n not in self.dead]
            if len(live) <= 1:
                return live[0] if live else None
            key = hash(bareOf(sender))
            return max(sorted(live), key=lambda n: score(key ^ zlib.crc32(n.encode("utf-8"))))
        owner = self.owners.get(domain)
        if owner is None or owner == self.node or owner in self.dead:
            return None
        return owner

    def join(self, domain: str, node: str) -> None:
        """
        C{node} has connections of the balanced C{domain}.
        """
        self.owners.pop(domain, None)
        nodes = self.shared.get(domain)
        if nodes is None:
            if len(self.owners) + len(self.shared) >= MAX_DOMAINS:
                return
            nodes = self.shared[domain] = set()
        if len(nodes) < MAX_MEMBERS:
            nodes.add(node)

    def apply(self, event: bytes) -> None:
        """
        Take in one message of the C{events} channel: C{domain node} (bound
        there), C{domain ~node} (held there), C{domain +node} and C{domain
        -node} (a balanced domain's node gained or lost its connections), or
        C{domain} (let go of).
        """
        domain, _, node = event.decode("utf-8", "replace").partition(" ")
        if node[:1] == "+":
            self.join(domain, node[1:])
            self.dead.discard(node[1:])
        elif node[:1] == "-":
            nodes = self.shared.get(domain)
            if nodes is not None:
                nodes.discard(node[1:])
                if not nodes:
                    del self.shared[domain]
        elif node:
            self.shared.pop(domain, None)
            self.held.discard(domain)
            if node[:1] == "~":
                node = node[1:]
                self.held.add(domain)
            if domain in self.owners or len(self.owners) + len(self.shared) < MAX_DOMAINS:
                self.owners[domain] = node
                self.dead.discard(node)
        else:
            self.owners.pop(domain, None)
            self.shared.pop(domain, None)
            self.held.discard(domain)

    def replace(self, snapshot: Iterable[object]) -> None:
        """
        Replace the whole copy with a snapshot: the flat list of domain,
        node, alive (1 or 0), kind (0 bound, 1 balanced, 2 held) the
        C{SNAPSHOT} script returns.
        """
        items = list(snapshot)
        self.owners = {}
        self.shared = {}
        self.held = set()
        dead: set[str] = set()
        for i in range(0, len(items) - 3, 4):
            domain, node, alive, kind = items[i : i + 4]
            name = _text(node)
            if kind == 1:
                self.join(_text(domain), name)
            elif len(self.owners) + len(self.shared) < MAX_DOMAINS:
                self.owners[_text(domain)] = name
                if kind == 2:
                    self.held.add(_text(domain))
            if not alive and name != self.node:
                dead.add(name)
        self.dead = dead

    def domainsByNode(self) -> dict[str, int]:
        """
        How many domains each node has, as this copy says (for the status
        page and metrics).
        """
        counts: dict[str, int] = {}
        for node in self.owners.values():
            counts[node] = counts.get(node, 0) + 1
        for nodes in self.shared.values():
            for node in nodes:
                counts[node] = counts.get(node, 0) + 1
        return dict(sorted(counts.items()))

    def mine(self) -> set[str]:
        """
        The domains the table says are bound on this node, balanced ones
        included.
        """
        mine = {domain for domain, node in self.owners.items() if node == self.node}
        return mine | {domain for domain, nodes in self.shared.items() if self.node in nodes}


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
