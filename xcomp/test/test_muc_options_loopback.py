"""
The C{muc} component's Prosody options end to end: C{twistd xcomp} runs as
its own process on a configuration that sets them, and Twisted component
clients (one per user) see what they do over real loopback sockets; a wrong
value stops the process with one line at the option's own line.
"""

from __future__ import annotations

import subprocess
import sys

from twisted.internet import reactor
from twisted.python.filepath import FilePath
from twisted.trial.unittest import TestCase
from twisted.words.xish import domish

from xcomp.test.loopback import ChildProcess, ComponentClient, freePort, spawnTwistd
from xcomp.test.muchelpers import codes
from xcomp.testing import errorOf

MUC = "conference.example.org"
ROOM = f"lounge@{MUC}"
NS_MUC = "http://jabber.org/protocol/muc"
NS_OWNER = NS_MUC + "#owner"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"

CONFIG = """
component_ports = {{ {port} }}
component_interfaces = {{ "127.0.0.1" }}
data_path = "{data}"
component_admins_as_room_owners = true

Component "alice.example.org"
    component_secret = "alice-s3cret"
Component "bob.example.org"
    component_secret = "bob-s3cret"

Component "{muc}" "muc"
    admins = {{ "alice@alice.example.org" }}
    restrict_room_creation = true
    muc_max_nick_length = 8
    muc_room_default_persistent = true
    muc_tombstone_expiry = "3600"
"""


def jid(user: str) -> str:
    return f"{user}@{user}.example.org/desk"


class OptionsOverTCPTests(TestCase):
    """
    A router configured with C{muc} options, reached by real component
    connections.
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

    async def connect(self, user: str) -> ComponentClient:
        client = ComponentClient(reactor, f"{user}.example.org", f"{user}-s3cret")
        self.addCleanup(client.disconnect)
        return await client.connect(self.port)

    async def join(self, client: ComponentClient, user: str, nick: str) -> domish.Element:
        """
        Send a join and wait for its self-presence or its error.
        """
        seen = {id(e) for e in client.received}
        client.send(f"<presence id='j' from='{jid(user)}' to='{ROOM}/{nick}'><x xmlns='{NS_MUC}'/></presence>")
        return await client.next(
            lambda e: id(e) not in seen
            and e.name == "presence"
            and (e.getAttribute("type") == "error" or "110" in codes(e))
        )

    async def test_optionsApplied(self) -> None:
        """
        The declared options load without an unknown-option warning and
        apply: only the admin creates the room, a 9-byte nick is refused
        with C{policy-violation}, and the room (persistent by default here)
        leaves a tombstone answering C{gone} after it is destroyed, also
        after a restart.
        """
        child = await self.startRouter()
        self.assertNotIn(b"unknown option", child.output)
        alice, bob = await self.connect("alice"), await self.connect("bob")

        refused = await self.join(bob, "bob", "bob")
        self.assertEqual(errorOf(refused), ("cancel", "not-allowed"))
        created = await self.join(alice, "alice", "alice")
        self.assertIn("201", codes(created))
        alice.send(
            f"<iq type='set' id='c' from='{jid('alice')}' to='{ROOM}'><query xmlns='{NS_OWNER}'>"
            "<x xmlns='jabber:x:data' type='submit'/></query></iq>"
        )
        await alice.next(lambda e: e.name == "iq" and e.getAttribute("id") == "c")
        tooLong = await self.join(bob, "bob", "bob-the-b")
        self.assertEqual(errorOf(tooLong), ("modify", "policy-violation"))
        entered = await self.join(bob, "bob", "bob-b")
        self.assertEqual(entered.getAttribute("type"), None)

        alice.send(
            f"<iq type='set' id='d' from='{jid('alice')}' to='{ROOM}'><query xmlns='{NS_OWNER}'>"
            f"<destroy jid='new@{MUC}'><reason>Moved</reason></destroy></query></iq>"
        )
        await alice.next(lambda e: e.name == "iq" and e.getAttribute("id") == "d")
        await alice.disconnect()
        await bob.disconnect()
        child.signal("TERM")
        await child.ended()

        await self.startRouter()
        bob = await self.connect("bob")
        gone = await self.join(bob, "bob", "bob")
        self.assertEqual(errorOf(gone), ("cancel", "gone"))
        error = next(e for e in gone.elements() if e.name == "error")
        self.assertEqual(str(next(error.elements(NS_STANZAS, "gone"))), f"xmpp:new@{MUC}?join")

    def test_wrongValueStopsStartup(self) -> None:
        """
        A wrong value stops C{twistd xcomp} with exit status 1 and one line:
        C{file:line: option: why}, at the option's line.
        """
        self.configPath.setContent(
            CONFIG.format(port=self.port, data=self.data.path, muc=MUC).replace(
                "muc_max_nick_length = 8", "muc_max_nick_length = \"short\""
            ).encode()
        )
        from xcomp.test.loopback import _TWISTD

        done = subprocess.run(
            [sys.executable, "-c", _TWISTD, "-n", "--pidfile=", "xcomp", "-c", self.configPath.path],
            capture_output=True, text=True, timeout=60,
        )
        self.assertEqual(done.returncode, 1)
        self.assertEqual(
            done.stderr.strip().splitlines()[-1],
            f'{self.configPath.path}:15: muc_max_nick_length: "short" is not an integer from 1 to 1023',
        )
