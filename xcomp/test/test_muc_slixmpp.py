"""
The C{muc} component against slixmpp's client plugins over real loopback
sockets: C{twistd xcomp} runs as its own process, and the users of
C{users.example.org} are a slixmpp component in another
(L{xcomp.test.slixmuc}, with C{xep_0045}, C{xep_0425}, C{xep_0059},
C{xep_0092} and C{xep_0199}), the way chat clients use a MUC service.
Each test names the XEP section it follows.  A Twisted component client
stands for a user on another server (C{other.example.net}).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from xml.etree import ElementTree

from twisted.internet import reactor
from twisted.trial.unittest import TestCase

from xcomp.test.loopback import ComponentClient, freePort, startRouter
from xcomp.test.muclive import SlixUsers

MUC = "conference.example.org"
ROOM = f"lounge@{MUC}"
USERS = "users.example.org"
OTHER = "other.example.net"
NS_MUC_USER = "http://jabber.org/protocol/muc#user"
NS_CLIENT = "{jabber:component:accept}"

CONFIG = """
component_ports = {{ {port} }}
component_interfaces = {{ "127.0.0.1" }}

Component "{users}"
    component_secret = "users-s3cret"
Component "{other}"
    component_secret = "other-s3cret"

Component "{muc}" "muc"
    modules_enabled = {{ "muc_mam" }}
"""


def parsed(event: dict[str, Any]) -> ElementTree.Element:
    return ElementTree.fromstring(event["xml"])


def codes(event: dict[str, Any]) -> set[str]:
    return {s.get("code", "") for s in parsed(event).iter(f"{{{NS_MUC_USER}}}status")}


def muc(event: dict[str, Any], attribute: str) -> str | None:
    for item in parsed(event).iter(f"{{{NS_MUC_USER}}}item"):
        return item.get(attribute)
    return None


class SlixmppMUCTestCase(TestCase):
    """
    xcomp with a C{muc} component, and the slixmpp users.
    """

    timeout = 90

    async def setUp(self) -> None:  # type: ignore[override]
        port = freePort()
        await startRouter(self, reactor, CONFIG.format(port=port, users=USERS, other=OTHER, muc=MUC))
        self.users = SlixUsers.spawn(self, reactor, USERS, "users-s3cret", port)
        await self.users.ready
        self.other = ComponentClient(reactor, OTHER, "other-s3cret")
        self.addCleanup(self.other.disconnect)
        await self.other.connect(port)

    def jid(self, user: str, resource: str = "desk") -> str:
        return self.users.jid(user, resource)

    async def ok(self, op: str, **arguments: Any) -> dict[str, Any]:
        """
        Run a command that must succeed.
        """
        result = await self.users.command(op, **arguments)
        self.assertTrue(result["ok"], f"{op} {arguments}: {result}")
        return result

    async def createRoom(self, owner: str = "alice", room: str = ROOM, **fields: Any) -> dict[str, Any]:
        """
        C{owner} creates and configures the room (XEP-0045 sections 10.1.2
        and 10.1.3).
        """
        joined = await self.ok("join", user=self.jid(owner), room=room, nick=owner)
        self.assertIn("201", joined["codes"])
        await self.ok("configure", user=self.jid(owner), room=room, fields=fields)
        return joined

    async def say(self, user: str, body: str, room: str = ROOM) -> dict[str, Any]:
        """
        A groupchat message; returns its echo to the sender.
        """
        since = self.users.mark()
        await self.ok("say", user=self.jid(user), room=room, body=body)
        return await self.users.next(
            lambda e: e["name"] == "message" and e["to"] == self.jid(user) and f"<body>{body}</body>" in e["xml"], since
        )


class OccupantTests(SlixmppMUCTestCase):
    """
    Occupant iqs, several sessions per nick.
    """

    async def test_occupantIq(self) -> None:
        """
        XEP-0045 section 7.x (Prosody's behaviour): alice asks bob's
        occupant JID for its software version (XEP-0092); bob's slixmpp
        answers the iq the room forwarded, and alice gets the answer from
        bob's occupant JID.  XEP-0410: alice's self-ping is answered by
        the room.
        """
        await self.createRoom()
        await self.ok("join", user=self.jid("bob"), room=ROOM, nick="bob")
        answer = await self.ok("version", user=self.jid("alice"), jid=f"{ROOM}/bob")
        self.assertEqual((answer["name"], answer["from"]), ("Slixmpp", f"{ROOM}/bob"))
        await self.ok("ping", user=self.jid("alice"), jid=f"{ROOM}/alice")
        refused = await self.users.command("ping", user=self.jid("carol"), jid=f"{ROOM}/alice")
        self.assertEqual(refused["condition"], "not-acceptable")

    async def test_severalSessions(self) -> None:
        """
        Prosody's multi-session nicks: alice's second resource joins under
        her nick; the room still has one alice; bob's groupchat and private
        messages reach both sessions; one session leaving does not make
        alice leave.
        """
        await self.createRoom()
        await self.ok("join", user=self.jid("bob"), room=ROOM, nick="bob")
        since = self.users.mark()
        phone = await self.ok("join", user=self.jid("alice", "phone"), room=ROOM, nick="alice")
        self.assertIn("110", phone["codes"])
        self.assertEqual([e for e in self.users.events[since:] if e["to"] == self.jid("bob")], [])
        since = self.users.mark()
        await self.say("bob", "hello both")
        for resource in ("desk", "phone"):
            await self.users.next(lambda e: e["to"] == self.jid("alice", resource) and "hello both" in e["xml"], since)
        since = self.users.mark()
        await self.ok("leave", user=self.jid("alice", "phone"), room=ROOM, nick="alice")
        await self.users.next(lambda e: e["to"] == self.jid("alice", "phone") and e["type"] == "unavailable", since)
        await self.say("bob", "still here?")
        await self.users.next(lambda e: e["to"] == self.jid("alice") and "still here?" in e["xml"], since)
        leaves = [e for e in self.users.events[since:] if e["to"] == self.jid("bob") and e["type"] == "unavailable"]
        self.assertEqual(leaves, [])
