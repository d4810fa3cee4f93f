# -*- test-case-name: xcomp.test.test_cluster_loopback -*-
"""
Two xcomp nodes and a real Redis, over loopback: components on different
nodes reach each other, the conflict policy holds across nodes, and the
faults the issue names (Redis restarting, a node vanishing) are answered,
never lost in silence.
"""

from __future__ import annotations

from typing import Callable

from twisted.internet import reactor, task
from twisted.trial.unittest import TestCase
from twisted.words.xish import domish

from xcomp.cluster import inbox as inboxmodule, keys
from xcomp.config import ClusterConfig, ListenerConfig
from xcomp.service import RouterService
from xcomp.test.helpers import makeConfig
from xcomp.test.loopback import PROCESS_TIMEOUT, ComponentClient, freePort
from xcomp.http.page import renderPage, renderText
from xcomp.http.status import snapshot
from xcomp.test.certs import TestCA
from xcomp.test.test_metrics import samples
from xcomp.test.redispeer import SKIP_REASON, RedisPeer

ALPHA = "alpha.example.org"
BETA = "beta.example.org"
GAMMA = "gamma.example.org"
#: Short, so that a node that vanished is found out quickly.
LEASE = 1.5


async def until(check: Callable[[], bool], what: str) -> None:
    """
    Wait, a reactor turn at a time and for a bounded time, until C{check()}.
    """
    for _ in range(int(PROCESS_TIMEOUT / 0.02)):
        if check():
            return
        await task.deferLater(reactor, 0.02)
    raise AssertionError(f"never happened: {what}")


def message(to: str, sender: str, body: str, **attributes: str) -> domish.Element:
    element = domish.Element((None, "message"))
    element["to"], element["from"] = to, sender
    for name, value in attributes.items():
        element[name] = value
    element.addElement("body", content=body)
    return element


class TwoNodeTests(TestCase):
    """
    Nodes C{a} and C{b} on one Redis, both configured with the same
    components.
    """

    skip = SKIP_REASON
    timeout = 120

    async def setUp(self) -> None:  # type: ignore[override]
        self.redis = RedisPeer(reactor, self)
        await self.redis.start()
        self.nodes = {name: self.startNode(name) for name in ("a", "b")}

    #: cluster_stream_length.
    bound = 10_000

    def clusterConfig(self, name: str) -> ClusterConfig:
        return ClusterConfig(host="127.0.0.1", port=self.redis.port, node=name, lease=LEASE, streamLength=self.bound)

    def startNode(self, name: str, **beta: object) -> RouterService:
        port = freePort()
        config = makeConfig(
            components={
                ALPHA: {"secret": "alpha-secret"},
                BETA: {"secret": "beta-secret", **beta},
                GAMMA: {"secret": "gamma-secret"},
            },
            listeners=(ListenerConfig(port, "127.0.0.1"),),
            cluster=self.clusterConfig(name),
        )
        service = RouterService(config, reactor=reactor)
        service.port = port  # type: ignore[attr-defined]
        service.startService()
        self.addCleanup(service.stopService)
        return service

    async def connect(self, node: str, domain: str) -> ComponentClient:
        client = ComponentClient(reactor, domain, domain.partition(".")[0] + "-secret")
        self.addCleanup(client.disconnect)
        await client.connect(self.nodes[node].port)  # type: ignore[attr-defined]
        return client

    async def seen(self, node: str, domain: str, owner: str | None) -> None:
        table = self.nodes[node].cluster.table  # type: ignore[union-attr]
        await until(lambda: table.ownerOf(domain) == owner, f"{node} sees {domain} on {owner}")

    async def leaseBack(self, node: str) -> None:
        """
        Wait, for a bounded time, until Redis holds C{node}'s lease.
        """
        cluster = self.nodes[node].cluster
        assert cluster is not None
        for _ in range(int(PROCESS_TIMEOUT / 0.02)):
            protocol = cluster.commands.current()
            if protocol is not None and await protocol.execute_command(b"EXISTS", cluster.keys.lease) == 1:
                return
            await task.deferLater(reactor, 0.02)
        raise AssertionError(f"{node}'s lease never came back")

    async def test_messageAndIqAcrossNodes(self) -> None:
        """
        A message from a component on node a reaches one on node b, and an
        iq from b is answered by a, each byte for byte what was sent.
        """
        alpha = await self.connect("a", ALPHA)
        beta = await self.connect("b", BETA)
        await self.seen("a", BETA, "b")
        await self.seen("b", ALPHA, "a")
        alpha.send(message(BETA, "bot@" + ALPHA, "hello b", id="m1"))
        got = await beta.next(lambda e: e.name == "message")
        self.assertEqual((got["from"], got["id"], str(got.body)), ("bot@" + ALPHA, "m1", "hello b"))
        iq = domish.Element((None, "iq"))
        iq["to"], iq["from"], iq["type"], iq["id"] = ALPHA, BETA, "get", "q1"
        iq.addElement(("urn:xmpp:ping", "ping"))
        beta.send(iq)
        asked = await alpha.next(lambda e: e.name == "iq")
        self.assertEqual((asked["id"], asked.firstChildElement().uri), ("q1", "urn:xmpp:ping"))
        alpha.send(f"<iq type='result' id='q1' from='{ALPHA}' to='{BETA}'/>")
        answer = await beta.next(lambda e: e.name == "iq")
        self.assertEqual((answer["type"], answer["from"]), ("result", ALPHA))

    async def test_orderKept(self) -> None:
        """
        500 messages from one sender to a component on the other node arrive
        once each, in the order they were sent.
        """
        alpha = await self.connect("a", ALPHA)
        beta = await self.connect("b", BETA)
        await self.seen("a", BETA, "b")
        for n in range(500):
            alpha.send(message(BETA, ALPHA, str(n)))
        await until(lambda: len(beta.received) >= 500, "500 messages at beta")
        self.assertEqual([str(e.body) for e in beta.received], [str(n) for n in range(500)])

    async def test_noDelayAndStreamEmptied(self) -> None:
        """
        Every connection to Redis has Nagle's algorithm off, and what node
        b's inbox has read is deleted from its stream (over the reader's
        own connection, before its next C{XREAD}).
        """
        alpha = await self.connect("a", ALPHA)
        beta = await self.connect("b", BETA)
        await self.seen("a", BETA, "b")
        clusters = [node.cluster for node in self.nodes.values()]
        links = [link for c in clusters if c is not None for link in (c.commands, c.reader, c.events)]
        await until(lambda: all(link.current() is not None for link in links), "every link up")
        for link in links:
            self.assertTrue(link.current().transport.getTcpNoDelay(), link.name)  # type: ignore[union-attr]
        for n in range(50):
            alpha.send(message(BETA, ALPHA, str(n)))
        await until(lambda: len(beta.received) >= 50, "50 messages at beta")
        b = self.nodes["b"].cluster
        assert b is not None
        for _ in range(int(PROCESS_TIMEOUT / 0.02)):
            protocol = b.commands.current()
            if protocol is not None and await protocol.execute_command(b"XLEN", b.keys.inbox) == 0:
                self.assertIsNone(await protocol.execute_command(b"GET", b.keys.pending))
                return
            await task.deferLater(reactor, 0.02)
        raise AssertionError("b's stream was never emptied")

    async def test_lostDeletesTrimmed(self) -> None:
        """
        Entries a node routed but could not delete (the deletes were lost
        with the connection) are deleted, and counted off, when its reader
        connects again; none is delivered a second time.
        """
        alpha = await self.connect("a", ALPHA)
        beta = await self.connect("b", BETA)
        await self.seen("a", BETA, "b")
        b = self.nodes["b"].cluster
        assert b is not None
        self.patch(inboxmodule, "DONE", b"return 1")
        for n in range(5):
            alpha.send(message(BETA, ALPHA, str(n), id=str(n)))
        await until(lambda: len(beta.received) == 5, "5 delivered")
        commands = b.commands.current()
        assert commands is not None
        self.assertEqual(await commands.execute_command(b"XLEN", b.keys.inbox), 1)
        self.assertEqual(await commands.execute_command(b"GET", b.keys.pending), 5)
        self.patch(inboxmodule, "DONE", keys.DONE)
        reader = b.reader.current()
        assert reader is not None
        reader.transport.loseConnection()
        await until(lambda: b.reader.current() not in (None, reader), "b's reader connected again")
        for _ in range(int(PROCESS_TIMEOUT / 0.02)):
            if await commands.execute_command(b"XLEN", b.keys.inbox) == 0:
                break
            await task.deferLater(reactor, 0.02)
        self.assertIsNone(await commands.execute_command(b"GET", b.keys.pending))
        alpha.send(message(BETA, ALPHA, "after", id="after"))
        await beta.next(lambda e: e.getAttribute("id") == "after")
        self.assertEqual([e["id"] for e in beta.received], ["0", "1", "2", "3", "4", "after"])

    async def test_streamBound(self) -> None:
        """
        A node's stream holds at most C{cluster_stream_length} stanzas,
        counted one by one whatever the batches: past it, senders get
        C{resource-constraint}; what was taken is delivered once the node
        reads again, and the count is back at nothing.
        """
        for service in self.nodes.values():
            await service.stopService()
        self.bound = 100
        self.nodes = {name: self.startNode(name) for name in ("a", "b")}
        alpha = await self.connect("a", ALPHA)
        beta = await self.connect("b", BETA)
        await self.seen("a", BETA, "b")
        b = self.nodes["b"].cluster
        assert b is not None
        # b stops reading, as a node stuck for a while.
        b.inbox._generation += 1
        for n in range(150):
            alpha.send(message(BETA, ALPHA, str(n), id=str(n)))
        await until(lambda: sum(e.getAttribute("type") == "error" for e in alpha.received) == 50, "50 refused")
        conditions = {e.error.firstChildElement().name for e in alpha.received}
        self.assertEqual(conditions, {"resource-constraint"})
        self.assertEqual(sorted(int(e["id"]) for e in alpha.received), list(range(100, 150)))
        b.inbox.start()
        await until(lambda: len(beta.received) == 100, "100 delivered")
        self.assertEqual([e["id"] for e in beta.received], [str(n) for n in range(100)])
        protocol = b.commands.current()
        assert protocol is not None
        await until(lambda: True, "a turn")
        for _ in range(int(PROCESS_TIMEOUT / 0.02)):
            if await protocol.execute_command(b"GET", b.keys.pending) is None:
                return
            await task.deferLater(reactor, 0.02)
        raise AssertionError("b's count never went back to nothing")

    async def test_unboundConfiguredDomain(self) -> None:
        """
        A stanza for a configured component bound on no node is answered
        C{remote-server-timeout}, as on one node.
        """
        alpha = await self.connect("a", ALPHA)
        alpha.send(message(BETA, ALPHA, "anyone?", id="m2"))
        error = await alpha.next(lambda e: e.getAttribute("type") == "error")
        self.assertEqual(error["id"], "m2")
        self.assertIsNotNone(error.error.firstChildElement())
        self.assertEqual(error.error.firstChildElement().name, "remote-server-timeout")

    async def test_conflictAcrossNodes(self) -> None:
        """
        With the default policy (C{kick_new}), a second connection for a
        domain bound on another node is refused with C{conflict}, and the
        first keeps receiving.
        """
        beta = await self.connect("b", BETA)
        await self.seen("a", BETA, "b")
        second = ComponentClient(reactor, BETA, "beta-secret")
        self.addCleanup(second.disconnect)
        with self.assertRaises(Exception):
            await second.connect(self.nodes["a"].port)  # type: ignore[attr-defined]
        self.assertEqual(second.streamError, "conflict")
        alpha = await self.connect("a", ALPHA)
        alpha.send(message(BETA, ALPHA, "still you"))
        got = await beta.next(lambda e: e.name == "message")
        self.assertEqual(str(got.body), "still you")

    async def test_kickOldAcrossNodes(self) -> None:
        """
        With C{kick_old}, a second connection on another node takes the
        domain over: the first is ended with C{conflict}, and from then on
        stanzas reach the new one.  Senders on both nodes that never stop
        sending see each stanza reach exactly one of the two streams, or
        come back as an error; and the old stream's last stanza arrives
        before the new stream's first: there is no window in which both
        receive.
        """
        for service in self.nodes.values():
            await service.stopService()
        self.nodes = {name: self.startNode(name, conflictResolve="kick_old") for name in ("a", "b")}
        old = await self.connect("b", BETA)
        senders = {"gamma": await self.connect("b", GAMMA), "alpha": await self.connect("a", ALPHA)}
        await self.seen("a", BETA, "b")
        arrivals: list[tuple[str, str]] = []

        def watch(name: str, client: ComponentClient) -> None:
            assert client.xs is not None
            client.xs.addObserver("/message", lambda e: arrivals.append((name, e.getAttribute("id"))))

        watch("old", old)
        # Node b hears of the kick late (a busy node): the new stream must
        # still wait for b to let go.
        b = self.nodes["b"].cluster
        assert b is not None
        control = b.inbox._control

        def late(kind: bytes, fields: dict[bytes, bytes]) -> None:
            reactor.callLater(0.2, control, kind, fields)

        b.inbox._control = late
        sent: list[str] = []

        def send() -> None:
            for name, client in senders.items():
                sent.append(f"{name}{len(sent)}")
                client.send(message(BETA, client.domain, "tick", id=sent[-1]))

        ticker = task.LoopingCall(send)
        ticker.clock = reactor
        ticker.start(0.005)
        try:
            new = ComponentClient(reactor, BETA, "beta-secret")
            self.addCleanup(new.disconnect)
            new.factory.addBootstrap("//event/stream/authd", lambda xs: watch("new", new))
            await new.connect(self.nodes["a"].port)  # type: ignore[attr-defined]
            await old.lost()
            self.assertEqual(old.streamError, "conflict")
            await until(lambda: sum(who == "new" for who, _ in arrivals) >= 20, "the new stream receives")
        finally:
            ticker.stop()
        last = sent[-2:]
        everyone = (old, new, *senders.values())
        await until(
            lambda: all(any(e.getAttribute("id") == i for c in everyone for e in c.received) for i in last),
            "the last ticks arrive",
        )
        refused = [e["id"] for c in senders.values() for e in c.received if e.getAttribute("type") == "error"]
        self.assertEqual(sorted([i for _, i in arrivals] + refused), sorted(sent))
        whom = [who for who, _ in arrivals]
        self.assertLess(len(whom) - 1 - whom[::-1].index("old"), whom.index("new"))
        await self.seen("b", BETA, "a")

    async def test_balanceAcrossNodes(self) -> None:
        """
        With C{balance}, connections of one domain on two nodes share it:
        both bind; a third node spreads its senders over the two, each
        sender always to the same one; a node with a connection of its
        own delivers to it; and when one node's connection goes, every
        sender reaches the other.
        """
        for service in self.nodes.values():
            await service.stopService()
        self.nodes = {name: self.startNode(name, conflictResolve="balance") for name in ("a", "b", "c")}
        onA = await self.connect("a", BETA)
        onB = await self.connect("b", BETA)
        await until(lambda: self.nodes["c"].cluster.table.shared.get(BETA) == {"a", "b"}, "c sees BETA on a and b")  # type: ignore[union-attr]
        gamma = await self.connect("c", GAMMA)
        senders = [f"user{n}@{GAMMA}" for n in range(40)]
        for round in range(2):
            for n, sender in enumerate(senders):
                gamma.send(message(BETA, sender, "hi", id=f"r{round}-{n}"))
        await until(lambda: len(onA.received) + len(onB.received) == 80, "every message arrives")
        served = {client: {e["from"] for e in client.received} for client in (onA, onB)}
        self.assertEqual(served[onA] & served[onB], set())
        self.assertEqual(served[onA] | served[onB], set(senders))
        self.assertTrue(served[onA] and served[onB], served)
        alpha = await self.connect("b", ALPHA)
        alpha.send(message(BETA, f"local@{ALPHA}", "local", id="local"))
        await onB.next(lambda e: e.getAttribute("id") == "local")
        await onA.disconnect()
        await until(lambda: self.nodes["c"].cluster.table.shared.get(BETA) == {"b"}, "c sees BETA on b alone")  # type: ignore[union-attr]
        for n, sender in enumerate(senders):
            gamma.send(message(BETA, sender, "again", id=f"again{n}"))
        for n in range(len(senders)):
            await onB.next(lambda e: e.getAttribute("id") == f"again{n}")
        # A node that stops lets go of its share at once.
        await self.nodes["b"].stopService()
        await until(lambda: BETA not in self.nodes["c"].cluster.table.shared, "c sees BETA nowhere")  # type: ignore[union-attr]

    async def test_holdAcrossNodes(self) -> None:
        """
        With a hold (C{component_hold_time}), a component that leaves node
        a has its stanzas held there, from every node; when it connects
        again to node b, a hands what it held over to b, in order, and
        nothing is lost.
        """
        for service in self.nodes.values():
            await service.stopService()
        self.nodes = {name: self.startNode(name, holdTime=30.0) for name in ("a", "b")}
        beta = await self.connect("a", BETA)
        gamma = await self.connect("a", GAMMA)
        alpha = await self.connect("b", ALPHA)
        await self.seen("b", BETA, "a")
        await beta.disconnect()
        b = self.nodes["b"].cluster
        assert b is not None
        await until(lambda: BETA in b.table.held, "b sees BETA held on a")
        alpha.send(message(BETA, ALPHA, "one", id="m1"))
        alpha.send(message(BETA, ALPHA, "two", id="m2"))
        gamma.send(message(BETA, GAMMA, "three", id="m3"))
        a = self.nodes["a"].router
        await until(lambda: a.holds.total() == 3, "a holds all three")
        again = await self.connect("b", BETA)
        for id in ("m1", "m2", "m3"):
            await again.next(lambda e: e.getAttribute("id") == id)
        self.assertEqual([e["id"] for e in again.received if e["from"] == ALPHA][:2], ["m1", "m2"])
        alpha.send(message(BETA, ALPHA, "four", id="m4"))
        await again.next(lambda e: e.getAttribute("id") == "m4")
        self.assertEqual(a.holds.total(), 0)

    async def test_statusAndMetrics(self) -> None:
        """
        The status page and C{/metrics} show the cluster as this node sees
        it: its Redis, the nodes and their domains, and the stanzas passed
        between nodes.
        """
        alpha = await self.connect("a", ALPHA)
        beta = await self.connect("b", BETA)
        await self.seen("a", BETA, "b")
        alpha.send(message(BETA, ALPHA, "counted"))
        await beta.next(lambda e: e.name == "message")
        a = self.nodes["a"]
        status = snapshot(a)
        self.assertEqual(
            status["cluster"],
            {
                "node": "a",
                "redis": a.config.cluster.url,  # type: ignore[union-attr]
                "connected": True,
                "nodes": {"a": {"domains": 1, "alive": True}, "b": {"domains": 1, "alive": True}},
                "active": [],
                "standby": [],
                "sent": 1,
                "received": 0,
            },
        )
        self.assertIn(f"cluster: node a, connected to Redis at {a.config.cluster.url}; 1 stanzas sent", renderText(status))  # type: ignore[union-attr]
        self.assertIn(b"<h2>Cluster</h2>", renderPage(status, "/status.json"))
        values = samples(a)
        self.assertEqual(values["xcomp_cluster_redis_up", ()], 1)
        self.assertEqual(values["xcomp_cluster_stanzas_total", (("direction", "out"),)], 1)
        self.assertEqual(values["xcomp_cluster_domains", (("node", "b"),)], 1)

    async def test_redisRestarts(self) -> None:
        """
        While Redis is away, stanzas between components on one node still
        flow and stanzas for the other node are answered
        C{remote-server-timeout}, never lost in silence; once it is back,
        the nodes reconnect, publish their domains again, and cross-node
        stanzas flow.
        """
        alpha = await self.connect("a", ALPHA)
        gamma = await self.connect("a", GAMMA)
        beta = await self.connect("b", BETA)
        await self.seen("a", BETA, "b")
        await self.redis.stop()
        a = self.nodes["a"].cluster
        await until(lambda: a.commands.current() is None, "a notices Redis is gone")  # type: ignore[union-attr]
        alpha.send(message(GAMMA, ALPHA, "local"))
        self.assertEqual(str((await gamma.next(lambda e: e.name == "message")).body), "local")
        alpha.send(message(BETA, ALPHA, "across", id="m3"))
        error = await alpha.next(lambda e: e.getAttribute("type") == "error")
        self.assertEqual((error["id"], error.error.firstChildElement().name), ("m3", "remote-server-timeout"))
        await self.redis.start()
        b = self.nodes["b"].cluster
        # Each connection comes back after its own (jittered) delay, and a's
        # table may still be the one from before the restart: wait until
        # Redis itself has b's lease again.
        await until(
            lambda: a.commands.current() is not None and b.reader.current() is not None,  # type: ignore[union-attr]
            "a's commands and b's inbox reconnected",
        )
        await self.leaseBack("b")
        await self.seen("a", BETA, "b")
        alpha.send(message(BETA, ALPHA, "across again"))
        got = await beta.next(lambda e: e.name == "message")
        self.assertEqual(str(got.body), "across again")

    async def test_nodeVanishes(self) -> None:
        """
        A node that stops renewing its lease (it was killed) stops owning
        its domains within the lease: stanzas for them are answered, and
        the component, connecting to the other node, is reachable again.
        """
        alpha = await self.connect("a", ALPHA)
        beta = await self.connect("b", BETA)
        await self.seen("a", BETA, "b")
        b = self.nodes["b"].cluster
        # What SIGKILL does to a node: no renewal, no goodbye.
        b._tick.stop()  # type: ignore[union-attr]
        for link in (b.commands, b.reader, b.events):  # type: ignore[union-attr]
            link._factory.disconnect()
        await self.seen("a", BETA, None)
        alpha.send(message(BETA, ALPHA, "gone?", id="m4"))
        error = await alpha.next(lambda e: e.getAttribute("type") == "error")
        self.assertEqual((error["id"], error.error.firstChildElement().name), ("m4", "remote-server-timeout"))
        await beta.disconnect()
        again = await self.connect("a", BETA)
        alpha.send(message(BETA, ALPHA, "found you"))
        got = await again.next(lambda e: e.name == "message")
        self.assertEqual(str(got.body), "found you")

    async def test_leftoversAnswered(self) -> None:
        """
        Stanzas that reached a node's stream just before it vanished, while
        its lease still ran, are answered C{remote-server-timeout} by a
        node that outlives it, once the lease is over: never lost.
        """
        alpha = await self.connect("a", ALPHA)
        await self.connect("b", BETA)
        await self.seen("a", BETA, "b")
        b = self.nodes["b"].cluster
        assert b is not None
        b._tick.stop()
        b.inbox.stop()
        for link in (b.commands, b.reader, b.events):
            link._factory.disconnect()
        for n in range(3):
            alpha.send(message(BETA, ALPHA, "too late", id=f"late{n}"))
        for n in range(3):
            error = await alpha.next(lambda e: e.getAttribute("id") == f"late{n}")
            self.assertEqual((error["type"], error.error.firstChildElement().name), ("error", "remote-server-timeout"))


class TLSNodeTests(TwoNodeTests):
    """
    The same, with C{rediss://}: a Redis that speaks only TLS, with a
    certificate from the test's CA, and a password.
    """

    async def setUp(self) -> None:  # type: ignore[override]
        ca = TestCA(self.mktemp())
        self.redis = RedisPeer(reactor, self, password="redis-s3cret", tls=(ca.issue("127.0.0.1"), ca.path))
        self.ca = ca
        await self.redis.start()
        self.nodes = {name: self.startNode(name) for name in ("a", "b")}

    def clusterConfig(self, name: str) -> ClusterConfig:
        return ClusterConfig(
            host="127.0.0.1",
            port=self.redis.port,
            node=name,
            lease=LEASE,
            tls=True,
            cafile=self.ca.path,
            password="redis-s3cret",
            streamLength=self.bound,
        )
