# -*- test-case-name: xcomp.test.test_cluster_processes -*-
"""
The cluster as an admin runs it: C{twistd xcomp} nodes as processes of
their own, each on a Prosody-style file with C{cluster_redis}, a real
Redis, and components that connect to them over loopback.  One node is
ended with SIGKILL; a node whose Redis cannot be reached does not start.
"""

from __future__ import annotations

from twisted.internet import reactor, task
from twisted.python.filepath import FilePath
from twisted.trial.unittest import TestCase
from twisted.words.xish import domish

from xcomp.test.loopback import PROCESS_TIMEOUT, ChildProcess, ComponentClient, freePort, spawnTwistd
from xcomp.test.redispeer import SKIP_REASON, RedisPeer

ALPHA = "alpha.example.org"
BETA = "beta.example.org"
MUC = "rooms.example.org"
ROOM = f"lounge@{MUC}"
NS_MUC = "http://jabber.org/protocol/muc"
NS_OWNER = NS_MUC + "#owner"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
#: The default lease: a shorter one can lapse while the whole suite loads
#: the machine, and then the other node takes the MUC over before the kill,
#: with the rooms as the file held them then (see the note on stalls in
#: xcomp.cluster.standby).
LEASE = 5

CONFIG = """
component_ports = {{ {port} }}
data_path = "{data}"
cluster_redis = "{redis}"
cluster_node = "{node}"
cluster_lease = {lease}

Component "{alpha}"
    component_secret = "alpha-secret"
Component "{beta}"
    component_secret = "beta-secret"
Component "{muc}" "muc"
"""


class NodeProcessTests(TestCase):
    """
    Two nodes, C{a} and C{b}, each a C{twistd xcomp} process.
    """

    skip = SKIP_REASON
    timeout = 180

    def writeConfig(self, node: str, port: int, redis: str) -> str:
        path = FilePath(self.mktemp())
        text = CONFIG.format(
            port=port, data=self.data, redis=redis, node=node, lease=LEASE, alpha=ALPHA, beta=BETA, muc=MUC
        )
        path.setContent(text.encode("utf-8"))
        return path.path

    async def startNode(self, node: str) -> ChildProcess:
        port = freePort()
        self.ports[node] = port
        path = self.writeConfig(node, port, self.redis.url)
        child = spawnTwistd(self, reactor, ["-n", "--pidfile=", "--logfile=-", "xcomp", "-c", path])
        self.children[node] = child
        await child.waitFor(rb"Cluster: connected to Redis at .* \(commands\)")
        return child

    async def connect(self, node: str, domain: str) -> ComponentClient:
        """
        Connect C{domain}'s component to C{node}, again and again while the
        cluster still says it is bound elsewhere (C{conflict}), for a
        bounded time.
        """
        for _ in range(int(PROCESS_TIMEOUT / 0.2)):
            client = ComponentClient(reactor, domain, domain.partition(".")[0] + "-secret")
            self.addCleanup(client.disconnect)
            try:
                return await client.connect(self.ports[node])
            except Exception:
                if client.streamError != "conflict":
                    raise
            await task.deferLater(reactor, 0.2)
        raise AssertionError(f"{domain} never bound on {node}")

    async def roomName(self, client: ComponentClient, sender: str, id: str) -> str | None:
        client.send(f"<iq type='get' id='{id}' from='{sender}' to='{ROOM}'><query xmlns='{NS_DISCO_INFO}'/></iq>")
        info = await client.next(lambda e: e.name == "iq" and e.getAttribute("id") == id)
        self.lastInfo = info.toXml()
        if info["type"] != "result":
            return None
        [identity] = next(info.elements(NS_DISCO_INFO, "query")).elements(NS_DISCO_INFO, "identity")
        return identity.getAttribute("name")

    async def test_nodeKilled(self) -> None:
        """
        After node C{a} is killed with SIGKILL: stanzas for its component
        are answered C{remote-server-timeout}, never lost; within the lease
        the component can bind on node C{b} and is reachable again; and
        C{b} takes the MUC over with the persistent room made while C{a}
        ran it.
        """
        self.redis = RedisPeer(reactor, self)
        await self.redis.start()
        self.data = FilePath(self.mktemp()).path
        self.ports: dict[str, int] = {}
        self.children: dict[str, ChildProcess] = {}
        a = await self.startNode("a")
        await a.waitFor(rb"Cluster: rooms\.example\.org is active on this node")
        await self.startNode("b")
        alpha = await self.connect("a", ALPHA)
        beta = await self.connect("b", BETA)
        # The room, made by beta (on b) in the MUC that runs on a.
        user = f"bob@{BETA}/desk"
        beta.send(f"<presence from='{user}' to='{ROOM}/bob'><x xmlns='{NS_MUC}'/></presence>")
        await beta.next(lambda e: e.name == "presence" and e.getAttribute("from") == f"{ROOM}/bob")
        fields = (
            "<field var='muc#roomconfig_roomname'><value>Kept</value></field>"
            "<field var='muc#roomconfig_persistentroom'><value>1</value></field>"
        )
        beta.send(
            f"<iq type='set' id='cfg' from='{user}' to='{ROOM}'><query xmlns='{NS_OWNER}'>"
            f"<x xmlns='jabber:x:data' type='submit'>{fields}</x></query></iq>"
        )
        self.assertEqual((await beta.next(lambda e: e.getAttribute("id") == "cfg"))["type"], "result")
        beta.send(message(ALPHA, BETA, "before", "m1"))
        self.assertEqual(str((await alpha.next(lambda e: e.name == "message")).body), "before")

        a.signal("KILL")
        await a.ended()
        beta.send(message(ALPHA, BETA, "while gone", "m2"))
        error = await beta.next(lambda e: e.getAttribute("id") == "m2")
        self.assertEqual((error["type"], error.error.firstChildElement().name), ("error", "remote-server-timeout"))

        again = await self.connect("b", ALPHA)
        beta.send(message(ALPHA, BETA, "found you", "m3"))
        self.assertEqual(str((await again.next(lambda e: e.name == "message")).body), "found you")
        for n in range(int(PROCESS_TIMEOUT / 0.2)):
            name = await self.roomName(beta, user, f"info{n}")
            if name is not None:
                break
            await task.deferLater(reactor, 0.2)
        logs = "\n".join(f"--- node {n}:\n" + child.output.decode(errors="replace")[-4000:] for n, child in self.children.items())
        self.assertEqual(name, "Kept", f"{self.lastInfo}\n{logs}")

    async def test_redisUnreachable(self) -> None:
        """
        A node whose Redis does not accept connections stops at once with
        the line that names the Redis, its URL without the password, and
        the reason.
        """
        self.data = FilePath(self.mktemp()).path
        port = freePort()
        path = self.writeConfig("a", freePort(), f"redis://xcomp:hunter2@127.0.0.1:{port}/0")
        child = spawnTwistd(self, reactor, ["-n", "--pidfile=", "--logfile=-", "xcomp", "-c", path])
        code = await child.ended()
        output = child.output.decode("utf-8", "replace")
        self.assertEqual(code, 1)
        self.assertIn(
            f"{path}:4: cannot reach the cluster's Redis at redis://xcomp@127.0.0.1:{port}/0: Connection refused",
            output,
        )
        self.assertNotIn("hunter2", output)
        self.assertNotIn("Traceback", output)


def message(to: str, sender: str, body: str, id: str) -> domish.Element:
    element = domish.Element((None, "message"))
    element["to"], element["from"], element["id"] = to, sender, id
    element.addElement("body", content=body)
    return element
