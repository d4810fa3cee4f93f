# -*- test-case-name: xcomp.test.test_s2s_resolver -*-
"""
Tests for L{xcomp.s2s.resolver}: lookups against a real C{twisted.names}
server that the test starts on loopback with a zone it writes, a hosts
file alone, connect overrides, the RFC 2782 order, and the deadline (on a
L{Clock}, with a resolver that never answers).
"""

from __future__ import annotations

import os
import random
from collections import Counter
from typing import Any

from twisted.internet import defer, reactor
from twisted.internet.task import Clock
from twisted.names import authority, dns, server
from twisted.names.common import ResolverBase
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface.verify import verifyObject

from xcomp.config.model import S2SConfig
from xcomp.interfaces import IServerResolver
from xcomp.s2s.resolver import ServerNotFound, ServerResolver, Target, orderSRV

ZONE = """
zone = [
    SOA("example.net", mname="ns.example.net", rname="root.example.net", serial=1,
        refresh=60, retry=60, expire=60, minimum=60),
    A("example.net", "127.0.3.1"),
    # SRV in both services: direct TLS at priority 5, STARTTLS at 5 and 10.
    SRV("_xmpps-server._tcp.srv.example.net", 5, 0, 5270, "tls.example.net"),
    SRV("_xmpp-server._tcp.srv.example.net", 10, 0, 5269, "late.example.net"),
    SRV("_xmpp-server._tcp.srv.example.net", 5, 0, 5271, "plain.example.net"),
    A("tls.example.net", "127.0.3.2"),
    A("plain.example.net", "127.0.3.3"),
    AAAA("plain.example.net", "::1"),
    A("late.example.net", "127.0.3.4"),
    # No XMPP service at all.
    SRV("_xmpp-server._tcp.none.example.net", 0, 0, 0, ""),
    A("none.example.net", "127.0.3.5"),
    # An SRV target without an address.
    SRV("_xmpp-server._tcp.broken.example.net", 0, 0, 5269, "nowhere.example.net"),
    A("v6.example.net", "127.0.3.6"),
    AAAA("v6.example.net", "::1"),
]
"""


class NameServerTests(TestCase):
    """
    Resolution through a nameserver on loopback.
    """

    def setUp(self) -> None:
        """
        Start a C{twisted.names} server for the test's zone on an
        ephemeral UDP port of 127.0.0.1.
        """
        directory = self.mktemp()
        os.makedirs(directory)
        zone = os.path.join(directory, "example.net.py")
        with open(zone, "w") as f:
            f.write(ZONE)
        # An empty hosts file: nothing is found there.
        self.hosts = os.path.join(directory, "hosts")
        open(self.hosts, "w").close()
        factory = server.DNSServerFactory(authorities=[authority.PySourceAuthority(zone)])
        port = reactor.listenUDP(0, dns.DNSDatagramProtocol(factory), interface="127.0.0.1")  # type: ignore[attr-defined]
        self.addCleanup(port.stopListening)
        self.server = ("127.0.0.1", port.getHost().port)

    def resolver(self, config: S2SConfig | None = None, **kwargs: Any) -> ServerResolver:
        """
        A resolver that asks the test's server, after the empty hosts file.
        """
        resolver = ServerResolver.fromConfig(
            config or S2SConfig(),
            reactor,
            hostsFile=self.hosts,
            servers=[self.server],
            caching=False,
            rng=random.Random(1),
            **kwargs,
        )
        self.addCleanup(resolver.close)
        return resolver

    def test_interface(self) -> None:
        """
        L{ServerResolver} provides L{IServerResolver}.
        """
        self.assertTrue(verifyObject(IServerResolver, self.resolver()))

    async def test_fallbackToA(self) -> None:
        """
        Without SRV records, the domain's own address on port 5269.
        """
        targets = await self.resolver(S2SConfig(ipVersions=(4,))).resolve("example.net")
        self.assertEqual(targets, [Target("127.0.3.1", 5269, False)])

    async def test_srvOrder(self) -> None:
        """
        Both services' records, merged by priority: direct TLS and STARTTLS
        of priority 5 first (in a weighted random order), then priority 10;
        each target's addresses, IPv4 first.
        """
        targets = await self.resolver().resolve("srv.example.net")
        self.assertEqual(
            sorted(targets[:3], key=lambda t: t.port),
            [Target("127.0.3.2", 5270, True), Target("127.0.3.3", 5271, False), Target("::1", 5271, False)],
        )
        self.assertEqual(targets[3:], [Target("127.0.3.4", 5269, False)])
        self.assertEqual({t.name for t in targets}, {"tls.example.net", "plain.example.net", "late.example.net"})

    async def test_ipv6First(self) -> None:
        """
        C{ipVersions} orders the address families.
        """
        targets = await self.resolver(S2SConfig(ipVersions=(6, 4))).resolve("v6.example.net")
        self.assertEqual([t.host for t in targets], ["::1", "127.0.3.6"])

    async def test_noSuchDomain(self) -> None:
        """
        A domain that does not exist is L{ServerNotFound}.
        """
        d: defer.Deferred[Any] = self.resolver().resolve("missing.example.net")
        error = await self.assertFailure(d, ServerNotFound)
        self.assertEqual(error.domain, "missing.example.net")
        self.assertIn("no address for missing.example.net", str(error))

    async def test_serviceDecidedlyNotAvailable(self) -> None:
        """
        An SRV target of C{.} means no XMPP server, even though the domain
        has an address: no fallback.
        """
        error = await self.assertFailure(self.resolver().resolve("none.example.net"), ServerNotFound)
        self.assertEqual(str(error), "none.example.net: its SRV records say there is no XMPP server")

    async def test_srvTargetWithoutAddress(self) -> None:
        """
        SRV targets that have no address leave nothing to connect to.
        """
        error = await self.assertFailure(self.resolver().resolve("broken.example.net"), ServerNotFound)
        self.assertIn("no address for any of its SRV targets nowhere.example.net", str(error))

    async def test_overrideFirst(self) -> None:
        """
        A connect override wins over DNS; its host may be a name.
        """
        config = S2SConfig(
            connectOverrides={"srv.example.net": ("127.0.3.9", 5999), "other.example": ("late.example.net", 1)}
        )
        resolver = self.resolver(config)
        self.assertEqual(await resolver.resolve("srv.example.net"), [Target("127.0.3.9", 5999)])
        self.assertEqual(await resolver.resolve("other.example"), [Target("127.0.3.4", 1)])


class HostsFileTests(TestCase):
    """
    A hosts file as the only source, as the tests against real peers use.
    """

    async def test_hostsOnly(self) -> None:
        """
        The domain's address from the hosts file, on port 5269; a name not
        in it is not found, and no nameserver is asked.
        """
        hosts = self.mktemp()
        with open(hosts, "w") as f:
            f.write("127.0.3.77 peer.example\n::1 peer.example\n")
        resolver = ServerResolver.fromConfig(S2SConfig(hostsFile=hosts), reactor)
        self.addCleanup(resolver.close)
        self.assertEqual(
            await resolver.resolve("peer.example"), [Target("127.0.3.77", 5269), Target("::1", 5269)]
        )
        await self.assertFailure(resolver.resolve("other.example"), ServerNotFound)

    async def test_addressDomain(self) -> None:
        """
        A domain that is an IP address is connected to as it is.
        """
        resolver = ServerResolver.fromConfig(S2SConfig(hostsFile=os.devnull), reactor)
        self.assertEqual(await resolver.resolve("127.0.3.8"), [Target("127.0.3.8", 5269)])


class Silent(ResolverBase):
    """
    A resolver whose queries never answer, to run into the deadline.
    """

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[defer.Deferred[object]] = []

    def _lookup(self, name: bytes, cls: int, type: int, timeout: object) -> defer.Deferred[object]:
        d: defer.Deferred[object] = defer.Deferred()
        self.pending.append(d)
        return d


class DeadlineTests(SynchronousTestCase):
    """
    The bound on the time one resolution takes.
    """

    def test_deadline(self) -> None:
        """
        When the lookups do not finish within the deadline, the resolution
        fails with L{ServerNotFound} and the lookups are cancelled.
        """
        clock = Clock()
        silent = Silent()
        resolver = ServerResolver(silent, clock, deadline=15)
        d = resolver.resolve("slow.example")
        clock.advance(14.9)
        self.assertNoResult(d)
        clock.advance(0.1)
        error = self.failureResultOf(d, ServerNotFound).value
        self.assertEqual(str(error), "slow.example: timed out")
        self.assertEqual(len(silent.pending), 2)
        # Cancelled: each has fired (with the CancelledError the resolver
        # then consumed).
        self.assertTrue(all(pending.called for pending in silent.pending))

    def test_queryTimeouts(self) -> None:
        """
        C{dns.timeout} and C{dns.retries} become the per-query timeouts.
        """
        self.assertEqual(ServerResolver._queryTimeouts(S2SConfig(dnsTimeout=3, dnsRetries=2)), (3, 3, 3))


def srv(priority: int, weight: int, port: int) -> tuple[dns.Record_SRV, bool]:
    """
    A record to order (the port tells them apart).
    """
    return dns.Record_SRV(priority, weight, port, b"x.example"), False


class OrderTests(SynchronousTestCase):
    """
    RFC 2782's order.
    """

    def test_priority(self) -> None:
        """
        Lower priorities come first, whatever the weights.
        """
        ordered = orderSRV([srv(20, 100, 1), srv(10, 0, 2), srv(15, 5, 3)], random.Random(0))
        self.assertEqual([r.port for r, _ in ordered], [2, 3, 1])

    def test_weights(self) -> None:
        """
        Among equal priorities, a record comes first about as often as its
        share of the weight; weight 0 comes first seldom.
        """
        rng = random.Random(7)
        first = Counter(
            orderSRV([srv(0, 0, 1), srv(0, 30, 2), srv(0, 70, 3)], rng)[0][0].port for _ in range(2000)
        )
        self.assertGreater(first[3], first[2])
        self.assertGreater(first[2], first[1])
        self.assertTrue(0.65 < first[3] / 2000 < 0.75, first)
        self.assertLess(first[1], 40)

    def test_allKept(self) -> None:
        """
        Every record is in the order exactly once.
        """
        records = [srv(p % 3, p, p) for p in range(10)]
        ordered = orderSRV(records, random.Random(3))
        self.assertEqual(sorted(r.port for r, _ in ordered), list(range(10)))
