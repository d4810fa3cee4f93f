"""
Parity with Prosody 0.12's C{mod_muc} (issue 14): the same slixmpp users
(L{xcomp.test.slixmuc}) run the same scenarios against Prosody, installed
as a test peer, and against xcomp.  Each scenario is written once, in
L{ParityScenarios}; L{XcompParityTests} and L{ProsodyParityTests} run it
on each server, so a difference in behaviour fails on one of them.
Prosody runs as a child process on loopback, in a temporary directory,
and is ended by its PID.
"""

from __future__ import annotations

import shutil

from twisted.internet import reactor
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SkipTest

from xcomp.test.loopback import ChildProcess
from xcomp.test.test_muc_slixmpp import (
    MUC,
    NS_REQUEST,
    OTHER,
    ROOM,
    USERS,
    SlixmppMUCTestCase,
    codes,
    muc,
    registration,
)

PROSODY = shutil.which("prosody")

PROSODY_CONFIG = """
run_as_root = true
daemonize = false
pidfile = "{dir}/prosody.pid"
data_path = "{dir}/data"
log = {{ info = "*console" }}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ }}
s2s_ports = {{ }}
c2s_direct_tls_ports = {{ }}
s2s_direct_tls_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
component_ports = {{ {port} }}
component_interfaces = {{ "127.0.0.1" }}
modules_enabled = {{ "disco" }}
modules_disabled = {{ "s2s", "c2s", "offline", "posix" }}
storage = "memory"

VirtualHost "example.org"
Component "{muc}" "muc"
    modules_enabled = {{ "muc_mam" }}
Component "{users}"
    component_secret = "users-s3cret"
Component "{other}"
    component_secret = "other-s3cret"
"""


class ParityScenarios(SlixmppMUCTestCase):
    """
    What xcomp does as Prosody does; no tests of its own.
    """

    async def scenario_severalSessions(self) -> None:
        """
        A second resource of alice joins under her nick: admitted (with
        110); bob gets alice's presence again (one alice, available);
        alice's sessions both get bob's message.
        """
        await self.createRoom()
        await self.ok("join", user=self.jid("bob"), room=ROOM, nick="bob")
        since = self.users.mark()
        joined = await self.ok("join", user=self.jid("alice", "phone"), room=ROOM, nick="alice")
        self.assertIn("110", joined["codes"])
        await self.say("bob", "both?")
        for resource in ("desk", "phone"):
            await self.users.next(lambda e: e["to"] == self.jid("alice", resource) and "both?" in e["xml"], since)
        told = [e for e in self.users.events[since:] if e["to"] == self.jid("bob") and e["name"] == "presence"]
        self.assertEqual([(e["from"], e["type"]) for e in told], [(f"{ROOM}/alice", "available")])

    async def scenario_occupantIq(self) -> None:
        """
        A version request to bob's occupant JID is answered by bob's
        client, from bob's occupant JID; a self-ping is answered; a
        non-occupant's ping gets not-acceptable.
        """
        await self.createRoom()
        await self.ok("join", user=self.jid("bob"), room=ROOM, nick="bob")
        answer = await self.ok("version", user=self.jid("alice"), jid=f"{ROOM}/bob")
        self.assertEqual((answer["name"], answer["from"]), ("Slixmpp", f"{ROOM}/bob"))
        await self.ok("ping", user=self.jid("alice"), jid=f"{ROOM}/alice")
        refused = await self.users.command("ping", user=self.jid("carol"), jid=f"{ROOM}/alice")
        self.assertEqual(refused["condition"], "not-acceptable")

    async def scenario_voiceRequest(self) -> None:
        """
        A visitor's voice request reaches the moderator as a muc#request
        form with the visitor's JID; approving it gives voice.
        """
        await self.createRoom(fields={"muc#roomconfig_moderatedroom": True})
        self.assertEqual((await self.ok("join", user=self.jid("bob"), room=ROOM, nick="bob"))["role"], "visitor")
        since = self.users.mark()
        await self.ok("requestVoice", user=self.jid("bob"), room=ROOM)
        request = await self.users.next(lambda e: e["to"] == self.jid("alice") and NS_REQUEST in e["xml"], since)
        self.assertIn(self.jid("bob"), request["xml"])
        await self.ok("approveVoice", user=self.jid("alice"), room=ROOM, jid=self.jid("bob"), nick="bob")
        voiced = await self.users.next(
            lambda e: e["to"] == self.jid("bob") and e["name"] == "presence" and muc(e, "role") == "participant", since
        )
        self.assertIn("110", codes(voiced))

    async def scenario_registration(self) -> None:
        """
        An unaffiliated user may not register (registration-required, with
        Prosody's default C{allow_unaffiliated_register}); a member
        registers a nick, which is then refused to another user
        (conflict).
        """
        await self.createRoom()
        refused = await self.users.command("iq", user=self.jid("bob"), to=ROOM, type="set", payload=registration("Bobby"))
        self.assertEqual(refused["condition"], "registration-required")
        await self.ok("affiliation", user=self.jid("alice"), room=ROOM, jid=f"bob@{USERS}", affiliation="member")
        await self.ok("iq", user=self.jid("bob"), to=ROOM, type="set", payload=registration("Bobby"))
        taken = await self.users.command("join", user=self.jid("carol"), room=ROOM, nick="Bobby")
        self.assertEqual(taken["condition"], "conflict")

    async def scenario_refusedJoins(self) -> None:
        """
        Joining a members-only room without being a member:
        registration-required; a nick in use: conflict.
        """
        await self.createRoom(fields={"muc#roomconfig_membersonly": True})
        refused = await self.users.command("join", user=self.jid("bob"), room=ROOM, nick="bob")
        self.assertEqual(refused.get("condition"), "registration-required", str(refused))
        await self.ok("affiliation", user=self.jid("alice"), room=ROOM, jid=f"bob@{USERS}", affiliation="member")
        taken = await self.users.command("join", user=self.jid("bob"), room=ROOM, nick="alice")
        self.assertEqual(taken["condition"], "conflict")

    async def scenario_sessionChangesNick(self) -> None:
        """
        One of alice's two sessions takes the nick "ally": it sees "alice"
        go with 303 and 110; bob sees "ally" come and "alice" stay; the
        other session is still alice.
        """
        await self.createRoom()
        await self.ok("join", user=self.jid("bob"), room=ROOM, nick="bob")
        await self.ok("join", user=self.jid("alice", "phone"), room=ROOM, nick="alice")
        since = self.users.mark()
        await self.ok("presence", user=self.jid("alice", "phone"), to=f"{ROOM}/ally")
        changed = await self.users.next(
            lambda e: e["to"] == self.jid("alice", "phone") and e["type"] == "unavailable", since
        )
        self.assertEqual(changed["from"], f"{ROOM}/alice")
        self.assertLessEqual({"110", "303"}, codes(changed))
        await self.users.next(lambda e: e["to"] == self.jid("bob") and e["from"] == f"{ROOM}/ally", since)
        await self.say("bob", "who is here?")
        seen = [e for e in self.users.events[since:] if e["to"] == self.jid("bob") and e["name"] == "presence"]
        self.assertNotIn((f"{ROOM}/alice", "unavailable"), [(e["from"], e["type"]) for e in seen])
        await self.users.next(lambda e: e["to"] == self.jid("alice") and "who is here?" in e["xml"], since)

    # One test per scenario, named for trial.

    async def test_sessionChangesNick(self) -> None:
        """
        L{scenario_sessionChangesNick}.
        """
        await self.scenario_sessionChangesNick()

    async def test_severalSessions(self) -> None:
        """
        L{scenario_severalSessions}.
        """
        await self.scenario_severalSessions()

    async def test_occupantIq(self) -> None:
        """
        L{scenario_occupantIq}.
        """
        await self.scenario_occupantIq()

    async def test_voiceRequest(self) -> None:
        """
        L{scenario_voiceRequest}.
        """
        await self.scenario_voiceRequest()

    async def test_registration(self) -> None:
        """
        L{scenario_registration}.
        """
        await self.scenario_registration()

    async def test_refusedJoins(self) -> None:
        """
        L{scenario_refusedJoins}.
        """
        await self.scenario_refusedJoins()


class XcompParityTests(ParityScenarios):
    """
    The scenarios against C{twistd xcomp}.
    """


class ProsodyParityTests(ParityScenarios):
    """
    The scenarios against Prosody 0.12.
    """

    async def startServer(self, port: int) -> None:
        if PROSODY is None:
            raise SkipTest("prosody is not installed")
        directory = FilePath(self.mktemp())
        directory.child("data").makedirs()
        config = directory.child("prosody.cfg.lua")
        config.setContent(
            PROSODY_CONFIG.format(dir=directory.path, port=port, muc=MUC, users=USERS, other=OTHER).encode()
        )
        child = ChildProcess(reactor)
        reactor.spawnProcess(child, PROSODY, [PROSODY, "-F", "--config", config.path], env=None)

        def stop() -> object:
            if child.done:
                return None
            child.signal("KILL")
            return child.ended()

        self.addCleanup(stop)
        await child.waitFor(rb"Activated service 'component'")


del ParityScenarios
