# -*- test-case-name: xcomp.test.test_balance,xcomp.test.test_balance_loopback -*-
"""
Several connections of one component sharing its domain
(C{component_conflict_resolve = "balance"}).

A L{BalanceRoute} is the domain's route while it is balanced.  Each stanza
goes to one member, chosen by rendezvous hashing of the sender's bare JID:
every member scores the JID with its own random seed, and the highest score
wins.  A score is the JID's string hash, xored with the seed and put through
splitmix64's finaliser: hashing the tuple C{(seed, jid)} instead, as this
module first did, correlates the members' scores so badly that one of three
members got as few as 2 of 200 senders.  So one sender (one conversation) stays on one connection while the
members stay the same, and when a member goes away only its own senders
move, each to the member that scores it next highest; the others keep
theirs.  ejabberd and Tigase spread a component's traffic by the sender in
the same spirit.
"""

from __future__ import annotations

import secrets

import attrs
from zope.interface import implementer

from xcomp.interfaces import IRoute, IStreamRoute
from xcomp.stanza import Stanza

__all__ = ["BalanceRoute", "Member", "MAX_MEMBERS", "bareOf", "score"]

_MASK = (1 << 64) - 1

#: The most connections one balanced domain takes; one more is a conflict.
MAX_MEMBERS = 64


@attrs.define(eq=False)
class Member:
    """
    One connection of a balanced domain.

    @ivar stream: The connection.
    @ivar seed: Its hashing seed.
    @ivar since: When it joined, by the reactor's clock.
    @ivar sent: How many stanzas it was given.
    """

    stream: IStreamRoute
    seed: int
    since: float
    sent: int = 0


def score(x: int) -> int:
    """
    splitmix64's finaliser: every bit of C{x} moves about half the bits of
    the result, so two seeds give independent scores for one sender.
    """
    x &= _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def bareOf(sender: str) -> str:
    """
    The bare JID of an address as written, case-folded the way nodeprep and
    nameprep fold ASCII, so that one sender scores the same however it
    spells its address.
    """
    return sender.partition("/")[0].lower()


@implementer(IRoute)
class BalanceRoute:
    """
    The route of a balanced domain: its member connections, each stanza to
    one of them by its sender.

    @ivar domain: The domain.
    @ivar members: The connections, oldest first.
    @ivar peer: What logs show as the route's address.
    """

    def __init__(self, domain: str) -> None:
        self.domain = domain
        self.members: list[Member] = []

    def __repr__(self) -> str:
        return f"<BalanceRoute {self.domain}: {len(self.members)} connections>"

    @property
    def peer(self) -> str:
        return ", ".join(m.stream.peer for m in self.members)

    def __len__(self) -> int:
        return len(self.members)

    def __contains__(self, stream: object) -> bool:
        return any(m.stream is stream for m in self.members)

    def add(self, stream: IStreamRoute, since: float) -> Member:
        """
        Make C{stream} a member; it takes over the senders that score
        highest with its seed.
        """
        member = Member(stream, secrets.randbits(62), since)
        self.members.append(member)
        return member

    def remove(self, stream: IStreamRoute) -> Member | None:
        """
        Take C{stream} out; its senders move to the others.
        """
        for i, member in enumerate(self.members):
            if member.stream is stream:
                return self.members.pop(i)
        return None

    def choose(self, sender: str) -> Member:
        """
        The member that serves C{sender}.
        """
        members = self.members
        if len(members) == 1:
            return members[0]
        key = hash(bareOf(sender))
        best = members[0]
        top = -1
        for member in members:
            points = score(key ^ member.seed)
            if points > top:
                best, top = member, points
        return best

    def send(self, stanza: Stanza) -> None:
        """
        Deliver C{stanza} to the member its sender hashes to.
        """
        member = self.choose(stanza.attributes.get("from") or "")
        member.sent += 1
        member.stream.send(stanza)
