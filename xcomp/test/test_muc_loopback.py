"""
The C{muc} component end to end over real loopback sockets: C{twistd xcomp}
runs as its own process, and Twisted component clients, each standing for
one user, join a room, talk, kick, ban, configure it and page through its
archive.  The restart test stops the process with SIGTERM and starts it
again on the same C{data_path}.
"""

from __future__ import annotations

from twisted.internet import reactor
from twisted.python.filepath import FilePath
from twisted.trial.unittest import TestCase
from twisted.words.xish import domish

from xcomp.test.loopback import ChildProcess, ComponentClient, freePort, spawnTwistd
from xcomp.testing import errorOf
from xcomp.test.muchelpers import codes

MUC = "conference.example.org"
ROOM = f"lounge@{MUC}"
NS_MUC = "http://jabber.org/protocol/muc"
NS_OWNER = NS_MUC + "#owner"
NS_ADMIN = NS_MUC + "#admin"
NS_MAM = "urn:xmpp:mam:2"
NS_RSM = "http://jabber.org/protocol/rsm"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_SID = "urn:xmpp:sid:0"
NS_DELAY = "urn:xmpp:delay"
NS_FORWARD = "urn:xmpp:forward:0"
USERS = ("alice", "bob", "carol")

CONFIG = """
component_ports = {{ {port} }}
component_interfaces = {{ "127.0.0.1" }}
data_path = "{data}"

Component "alice.example.org"
    component_secret = "alice-s3cret"
Component "bob.example.org"
    component_secret = "bob-s3cret"
Component "carol.example.org"
    component_secret = "carol-s3cret"

Component "{muc}" "muc"
    modules_enabled = {{ "muc_mam" }}
    max_archive_query_results = 10
    max_history_messages = 3
"""



def jid(user: str) -> str:
    return f"{user}@{user}.example.org/desk"


class MUCOverTCPTests(TestCase):
    """
    Users on external components in rooms of the muc component.
    """

    timeout = 60

    def setUp(self) -> None:
        self.data = FilePath(self.mktemp())
        self.data.makedirs()
        self.port = freePort()
        self.configPath = FilePath(self.mktemp())
        self.configPath.setContent(CONFIG.format(port=self.port, data=self.data.path, muc=MUC).encode())

    async def startRouter(self) -> ChildProcess:
        child = spawnTwistd(self, reactor, ["-n", "--pidfile=", "--logfile=-", "xcomp", "-c", self.configPath.path])
        await child.waitFor(rb"Listening for components on")
        return child

    async def connectUsers(self) -> dict[str, ComponentClient]:
        clients = {}
        for user in USERS:
            client = ComponentClient(reactor, f"{user}.example.org", f"{user}-s3cret")
            self.addCleanup(client.disconnect)
            clients[user] = await client.connect(self.port)
        return clients

    async def request(self, client: ComponentClient, user: str, type: str, to: str, payload: str, id: str) -> domish.Element:
        client.send(f"<iq type='{type}' id='{id}' from='{jid(user)}' to='{to}'>{payload}</iq>")
        return await client.next(lambda e: e.name == "iq" and e.getAttribute("id") == id)

    async def join(self, client: ComponentClient, user: str, room: str = ROOM) -> domish.Element:
        """
        Join and wait for the self-presence (a new one: what the client
        received before is ignored).
        """
        seen = {id(e) for e in client.received}
        client.send(f"<presence from='{jid(user)}' to='{room}/{user}'><x xmlns='{NS_MUC}'/></presence>")
        return await client.next(
            lambda e: id(e) not in seen
            and e.name == "presence"
            and e.getAttribute("type") is None
            and e.getAttribute("from") == f"{room}/{user}"
            and "110" in codes(e)
        )

    async def makeRoom(self, clients: dict[str, ComponentClient], persistent: bool) -> None:
        """
        Alice creates and configures the room; bob and carol join.
        """
        created = await self.join(clients["alice"], "alice")
        self.assertIn("201", codes(created))
        form = await self.request(clients["alice"], "alice", "get", ROOM, f"<query xmlns='{NS_OWNER}'/>", "form")
        self.assertIn("muc#roomconfig_enablearchiving", form.toXml())
        fields = (
            "<field var='muc#roomconfig_roomname'><value>The Lounge</value></field>"
            f"<field var='muc#roomconfig_persistentroom'><value>{int(persistent)}</value></field>"
        )
        result = await self.request(
            clients["alice"], "alice", "set", ROOM,
            f"<query xmlns='{NS_OWNER}'><x xmlns='jabber:x:data' type='submit'>{fields}</x></query>", "config",
        )
        self.assertEqual(result["type"], "result")
        for user in ("bob", "carol"):
            await self.join(clients[user], user)

    async def say(self, clients: dict[str, ComponentClient], user: str, body: str) -> str:
        """
        Send a groupchat message; wait until everyone has it; return its
        stanza id.
        """
        clients[user].send(f"<message type='groupchat' id='{body}' from='{jid(user)}' to='{ROOM}'><body>{body}</body></message>")
        ids = set()
        for other in USERS:
            echo = await clients[other].next(lambda e: e.name == "message" and e.getAttribute("id") == body)
            ids.add(next(echo.elements("urn:xmpp:sid:0", "stanza-id"))["id"])
        [stanzaId] = ids
        return stanzaId

    async def archive(self, client: ComponentClient, user: str, rsm: str, id: str) -> tuple[list[str], domish.Element]:
        """
        A MAM query: the result bodies and the C{<fin/>}.
        """
        client.send(
            f"<iq type='set' id='{id}' from='{jid(user)}' to='{ROOM}'>"
            f"<query xmlns='{NS_MAM}' queryid='{id}'><set xmlns='{NS_RSM}'>{rsm}</set></query></iq>"
        )
        reply = await client.next(lambda e: e.name == "iq" and e.getAttribute("id") == id)
        # The results come before the iq result on the same stream.
        results = [
            e for e in client.received
            if e.name == "message" and any(r.getAttribute("queryid") == id for r in e.elements(NS_MAM, "result"))
        ]
        client.received = [e for e in client.received if e not in results]
        self.stamps = []
        bodies = []
        for message in results:
            forwarded = next(next(message.elements(NS_MAM, "result")).elements(NS_FORWARD, "forwarded"))
            self.stamps.append(next(forwarded.elements(NS_DELAY, "delay"))["stamp"])
            bodies.append(str(next(next(forwarded.elements("jabber:client", "message")).elements("jabber:client", "body"))))
        return bodies, next(reply.elements(NS_MAM, "fin"))

    async def features(self, client: ComponentClient, user: str) -> list[str]:
        """
        The room's disco#info features.
        """
        info = await self.request(client, user, "get", ROOM, f"<query xmlns='{NS_DISCO_INFO}'/>", "info")
        return [f["var"] for f in next(info.elements(NS_DISCO_INFO, "query")).elements(NS_DISCO_INFO, "feature")]

    async def test_roomSession(self) -> None:
        """
        Three users on three external components: a configured room,
        messages, a kick, a ban, and the archive read two at a time.
        """
        await self.startRouter()
        clients = await self.connectUsers()
        await self.makeRoom(clients, persistent=False)
        for n in range(3):
            await self.say(clients, USERS[n], f"hello{n}")

        kicked = await self.request(
            clients["alice"], "alice", "set", ROOM, f"<query xmlns='{NS_ADMIN}'><item nick='carol' role='none'/></query>", "kick"
        )
        self.assertEqual(kicked["type"], "result")
        gone = await clients["carol"].next(lambda e: e.name == "presence" and "307" in codes(e))
        self.assertEqual(gone["type"], "unavailable")
        await clients["bob"].next(lambda e: e.name == "presence" and "307" in codes(e))

        await self.join(clients["carol"], "carol")
        banned = await self.request(
            clients["alice"], "alice", "set", ROOM,
            f"<query xmlns='{NS_ADMIN}'><item jid='carol@carol.example.org' affiliation='outcast'/></query>", "ban",
        )
        self.assertEqual(banned["type"], "result")
        await clients["carol"].next(lambda e: e.name == "presence" and "301" in codes(e))
        clients["carol"].send(f"<presence id='again' from='{jid('carol')}' to='{ROOM}/carol'><x xmlns='{NS_MUC}'/></presence>")
        refused = await clients["carol"].next(lambda e: e.getAttribute("id") == "again")
        self.assertEqual(errorOf(refused), ("auth", "forbidden"))

        bodies, fin = await self.archive(clients["bob"], "bob", "<max>2</max>", "page1")
        self.assertEqual(bodies, ["hello0", "hello1"])
        self.assertIsNone(fin.getAttribute("complete"))
        last = str(next(next(fin.elements(NS_RSM, "set")).elements(NS_RSM, "last")))
        bodies, fin = await self.archive(clients["bob"], "bob", f"<max>2</max><after>{last}</after>", "page2")
        self.assertEqual(bodies, ["hello2"])
        self.assertEqual(fin.getAttribute("complete"), "true")

    async def test_persistentRoomSurvivesRestart(self) -> None:
        """
        A persistent room (its configuration and affiliations) and its
        archive are there after C{twistd xcomp} is stopped (SIGTERM) and
        started again on the same C{data_path}.
        """
        child = await self.startRouter()
        clients = await self.connectUsers()
        await self.makeRoom(clients, persistent=True)
        member = await self.request(
            clients["alice"], "alice", "set", ROOM,
            f"<query xmlns='{NS_ADMIN}'><item jid='bob@bob.example.org' affiliation='member'/></query>", "member",
        )
        self.assertEqual(member["type"], "result")
        ids = [await self.say(clients, "bob", f"kept{n}") for n in range(2)]
        for client in clients.values():
            await client.disconnect()
        child.signal("TERM")
        await child.ended()
        self.assertIn(b"Server Shut Down.", child.output)
        self.assertNotIn(b"Traceback", child.output)
        self.assertTrue(self.data.child(f"{MUC}.muc.sqlite").exists())

        await self.startRouter()
        clients = await self.connectUsers()
        info = await self.request(clients["bob"], "bob", "get", ROOM, f"<query xmlns='{NS_DISCO_INFO}'/>", "info")
        query = next(info.elements(NS_DISCO_INFO, "query"))
        [identity] = query.elements(NS_DISCO_INFO, "identity")
        self.assertEqual(identity["name"], "The Lounge")
        self.assertIn("muc_persistent", [f["var"] for f in query.elements(NS_DISCO_INFO, "feature")])
        members = await self.request(
            clients["alice"], "alice", "get", ROOM, f"<query xmlns='{NS_ADMIN}'><item affiliation='member'/></query>", "list"
        )
        self.assertEqual([i["jid"] for i in next(members.elements(NS_ADMIN, "query")).elements(NS_ADMIN, "item")], ["bob@bob.example.org"])
        bodies, fin = await self.archive(clients["bob"], "bob", "", "after-restart")
        self.assertEqual(bodies, ["kept0", "kept1"])
        self.assertEqual(str(next(next(fin.elements(NS_RSM, "set")).elements(NS_RSM, "first"))), ids[0])

    async def test_stanzaIdAdvertised(self) -> None:
        """
        The messages of an archived room carry a stanza id by the room, and
        the room's disco#info has the C{urn:xmpp:sid:0} feature (XEP-0359
        section 6).
        """
        await self.startRouter()
        clients = await self.connectUsers()
        await self.makeRoom(clients, persistent=False)
        await self.say(clients, "bob", "hello")
        features = await self.features(clients["carol"], "carol")
        self.assertIn(NS_SID, features)
        self.assertIn(NS_MAM, features)

    async def test_historyRefilledAfterRestart(self) -> None:
        """
        After a restart, a new occupant of a persistent room gets the last
        C{max_history_messages} messages from the archive, in order, from
        their senders, with the time they were archived and the room as
        the delay's C{from}, and then the subject: no more.
        """
        child = await self.startRouter()
        clients = await self.connectUsers()
        await self.makeRoom(clients, persistent=True)
        senders = ["alice", "bob", "carol", "alice", "bob"]
        for n, user in enumerate(senders):
            await self.say(clients, user, f"said{n}")
        for client in clients.values():
            await client.disconnect()
        child.signal("TERM")
        await child.ended()

        await self.startRouter()
        clients = await self.connectUsers()
        carol = clients["carol"]
        await self.join(carol, "carol")
        subject = await carol.next(lambda e: e.name == "message" and any(c.name == "subject" for c in e.elements()))
        self.assertEqual(subject["from"], ROOM)
        # Nobody else is in the room: every other message is history, sent
        # before the subject.  (The subject may or may not still be listed.)
        history = [e for e in carol.received if e.name == "message" and e is not subject]
        self.assertEqual([str(m.body) for m in history], ["said2", "said3", "said4"])
        self.assertEqual([m["from"] for m in history], [f"{ROOM}/{user}" for user in senders[2:]])
        delays = [next(m.elements(NS_DELAY, "delay")) for m in history]
        self.assertEqual({d["from"] for d in delays}, {ROOM})
        bodies, _ = await self.archive(clients["alice"], "alice", "<max>3</max><before/>", "last")
        self.assertEqual(bodies, ["said2", "said3", "said4"])
        self.assertEqual([d["stamp"] for d in delays], self.stamps)
