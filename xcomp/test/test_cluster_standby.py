# -*- test-case-name: xcomp.test.test_cluster_standby -*-
"""
Tests for L{xcomp.cluster.standby}: an internal component runs on one node
of a cluster at a time; and, with a real Redis, a MUC whose node stops is
taken over by another node with its persistent rooms.
"""

from __future__ import annotations

import attrs
from twisted.internet import defer, reactor
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.words.xish import domish

from xcomp.cluster.standby import Standby
from xcomp.config import ClusterConfig, InternalComponentConfig, ListenerConfig
from xcomp.service import RouterService
from xcomp.test.helpers import makeConfig
from xcomp.test.loopback import ComponentClient, freePort
from xcomp.test.redispeer import SKIP_REASON, RedisPeer
from xcomp.test.test_cluster_loopback import LEASE, until

MUC = "rooms.example.org"
ALPHA = "alpha.example.org"
ROOM = f"lounge@{MUC}"
NS_MUC = "http://jabber.org/protocol/muc"
NS_OWNER = NS_MUC + "#owner"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"


class StandbyTests(SynchronousTestCase):
    """
    L{Standby}'s bookkeeping.
    """

    def setUp(self) -> None:
        self.started: list[str] = []
        self.stopped: list[str] = []
        self.standby = Standby([MUC, "other.example.org"], self.started.append, self.stopped.append)

    def test_candidates(self) -> None:
        """
        A domain is worth claiming when no live node other than this one
        holds it and no claim of it is in flight.
        """
        owners = {"other.example.org": "b"}
        self.assertEqual(self.standby.candidates(owners.get), [MUC])
        self.standby.claiming.add(MUC)
        self.assertEqual(self.standby.candidates(owners.get), [])

    def test_grantedStarts(self) -> None:
        """
        A granted claim starts the component, once.
        """
        self.standby.claiming.add(MUC)
        self.standby.granted(MUC)
        self.standby.granted(MUC)
        self.assertEqual(self.started, [MUC])
        self.assertEqual((self.standby.active, self.standby.claiming), ({MUC}, set()))
        self.assertEqual(self.standby.candidates(lambda d: None), ["other.example.org"])

    def test_refusedWaits(self) -> None:
        """
        A refused claim leaves the domain waiting, to be claimed again once
        its node is gone.
        """
        self.standby.claiming.add(MUC)
        self.standby.refused(MUC)
        self.assertEqual(self.started, [])
        self.assertIn(MUC, self.standby.candidates(lambda d: None))

    def test_lostStops(self) -> None:
        """
        A domain another node took while this one could not renew is
        stopped here and waits again; one that is not active is left alone.
        """
        self.standby.granted(MUC)
        self.successResultOf(self.standby.lost(MUC))
        self.successResultOf(self.standby.lost("other.example.org"))
        self.assertEqual(self.stopped, [MUC])
        self.assertEqual(self.standby.active, set())
        self.assertIn(MUC, self.standby.waiting)


class MUCTakeoverTests(TestCase):
    """
    Nodes C{a} and C{b} both configure the C{muc} component, on one
    C{data_path}, and an external component that stands for a user.
    """

    skip = SKIP_REASON
    timeout = 120

    async def setUp(self) -> None:  # type: ignore[override]
        self.redis = RedisPeer(reactor, self)
        await self.redis.start()
        self.data = self.mktemp()
        self.nodes: dict[str, RouterService] = {}
        await self.startNode("a")
        await until(lambda: self.standby("a").active == {MUC}, "a runs the MUC")
        await self.startNode("b")
        await until(lambda: self.nodes["b"].cluster.table.ownerOf(MUC) == "a", "b sees the MUC on a")  # type: ignore[union-attr]

    async def startNode(self, name: str) -> None:
        config = makeConfig(
            components={ALPHA: {"secret": "alpha-secret"}},
            listeners=(ListenerConfig(freePort(), "127.0.0.1"),),
            cluster=ClusterConfig(host="127.0.0.1", port=self.redis.port, node=name, lease=LEASE),
            dataPath=self.data,
        )
        muc = InternalComponentConfig(domain=MUC, plugin="muc")
        config = attrs.evolve(config, components={**config.components, MUC: muc})
        service = RouterService(config, reactor=reactor)
        service.startService()
        self.addCleanup(self.stopNode, name)
        self.nodes[name] = service

    def stopNode(self, name: str) -> defer.Deferred[None]:
        service = self.nodes.pop(name, None)
        return defer.succeed(None) if service is None else service.stopService()

    def standby(self, name: str) -> Standby:
        cluster = self.nodes[name].cluster
        assert cluster is not None
        return cluster.standby

    async def user(self, node: str) -> ComponentClient:
        client = ComponentClient(reactor, ALPHA, "alpha-secret")
        self.addCleanup(client.disconnect)
        await client.connect(self.nodes[node].config.listeners[0].port)
        return client

    async def ask(self, client: ComponentClient, kind: str, payload: str, id: str) -> domish.Element:
        client.send(f"<iq type='{kind}' id='{id}' from='alice@{ALPHA}/desk' to='{ROOM}'>{payload}</iq>")
        return await client.next(lambda e: e.name == "iq" and e.getAttribute("id") == id)

    async def test_oneActiveReachableFromAll(self) -> None:
        """
        Only the node that claimed the MUC runs it; a user on the other
        node creates a room there through the cluster.
        """
        self.assertEqual(self.standby("b").active, set())
        self.assertIn(MUC, self.nodes["a"].components)
        self.assertNotIn(MUC, self.nodes["b"].components)
        alice = await self.user("b")
        alice.send(f"<presence from='alice@{ALPHA}/desk' to='{ROOM}/alice'><x xmlns='{NS_MUC}'/></presence>")
        joined = await alice.next(lambda e: e.name == "presence" and e.getAttribute("from") == f"{ROOM}/alice")
        self.assertIsNone(joined.getAttribute("type"))
        self.assertIn(ROOM, self.nodes["a"].components[MUC].rooms)  # type: ignore[attr-defined]

    async def test_persistentRoomTakenOver(self) -> None:
        """
        When the MUC's node stops, the other node claims the domain and
        starts the MUC on the shared C{data_path}: a persistent room made
        through the first node is there, with its configuration.
        """
        alice = await self.user("b")
        alice.send(f"<presence from='alice@{ALPHA}/desk' to='{ROOM}/alice'><x xmlns='{NS_MUC}'/></presence>")
        await alice.next(lambda e: e.name == "presence" and e.getAttribute("from") == f"{ROOM}/alice")
        fields = (
            "<field var='muc#roomconfig_roomname'><value>The Lounge</value></field>"
            "<field var='muc#roomconfig_persistentroom'><value>1</value></field>"
        )
        form = f"<query xmlns='{NS_OWNER}'><x xmlns='jabber:x:data' type='submit'>{fields}</x></query>"
        self.assertEqual((await self.ask(alice, "set", form, "config"))["type"], "result")
        await self.stopNode("a")
        await until(lambda: self.standby("b").active == {MUC}, "b runs the MUC")
        info = await self.ask(alice, "get", f"<query xmlns='{NS_DISCO_INFO}'/>", "info")
        self.assertEqual(info["type"], "result")
        [identity] = next(info.elements(NS_DISCO_INFO, "query")).elements(NS_DISCO_INFO, "identity")
        self.assertEqual(identity["name"], "The Lounge")
