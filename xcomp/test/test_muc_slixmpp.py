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
    muc_room_default_public = true
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

    async def startServer(self, port: int) -> None:
        """
        Run the server under test, listening for components on C{port}:
        C{twistd xcomp} here, Prosody in L{xcomp.test.test_muc_prosody}.
        """
        await startRouter(self, reactor, CONFIG.format(port=port, users=USERS, other=OTHER, muc=MUC))

    async def setUp(self) -> None:  # type: ignore[override]
        port = freePort()
        await self.startServer(port)
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

    async def createRoom(self, owner: str = "alice", room: str = ROOM, fields: dict[str, Any] | None = None) -> dict[str, Any]:
        """
        C{owner} creates and configures the room (XEP-0045 sections 10.1.2
        and 10.1.3).
        """
        joined = await self.ok("join", user=self.jid(owner), room=room, nick=owner)
        self.assertIn("201", joined["codes"])
        await self.ok("configure", user=self.jid(owner), room=room, fields=fields or {})
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
        her nick; the room still has one alice (bob gets her presence
        again, as Prosody sends it); bob's groupchat and private
        messages reach both sessions; one session leaving does not make
        alice leave.
        """
        await self.createRoom()
        await self.ok("join", user=self.jid("bob"), room=ROOM, nick="bob")
        since = self.users.mark()
        phone = await self.ok("join", user=self.jid("alice", "phone"), room=ROOM, nick="alice")
        self.assertIn("110", phone["codes"])
        # bob gets alice's presence again, as Prosody sends it: still one
        # alice, available, under her nick.
        again = [e for e in self.users.events[since:] if e["to"] == self.jid("bob")]
        self.assertEqual([(e["from"], e["type"]) for e in again], [(f"{ROOM}/alice", "available")])
        since = self.users.mark()
        await self.say("bob", "hello both")
        for resource in ("desk", "phone"):
            await self.users.next(lambda e: e["to"] == self.jid("alice", resource) and "hello both" in e["xml"], since)
        await self.ok("pm", user=self.jid("bob"), to=f"{ROOM}/alice", body="psst")
        for resource in ("desk", "phone"):
            private = await self.users.next(
                lambda e: e["to"] == self.jid("alice", resource) and "psst" in e["xml"], since
            )
            self.assertEqual((private["from"], private["type"]), (f"{ROOM}/bob", "chat"))
        since = self.users.mark()
        await self.ok("leave", user=self.jid("alice", "phone"), room=ROOM, nick="alice")
        await self.users.next(lambda e: e["to"] == self.jid("alice", "phone") and e["type"] == "unavailable", since)
        await self.say("bob", "still here?")
        await self.users.next(lambda e: e["to"] == self.jid("alice") and "still here?" in e["xml"], since)
        leaves = [e for e in self.users.events[since:] if e["to"] == self.jid("bob") and e["type"] == "unavailable"]
        self.assertEqual(leaves, [])


NS_REGISTER = "jabber:iq:register"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_REQUEST = "http://jabber.org/protocol/muc#request"
NS_RETRACT = "urn:xmpp:message-retract:1"
NS_SID = "urn:xmpp:sid:0"


def registration(nick: str) -> str:
    return (
        f"<query xmlns='{NS_REGISTER}'><x xmlns='jabber:x:data' type='submit'>"
        "<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#register</value></field>"
        f"<field var='muc#register_roomnick'><value>{nick}</value></field></x></query>"
    )


def stanzaId(event: dict[str, Any]) -> str:
    [marker] = parsed(event).iter(f"{{{NS_SID}}}stanza-id")
    return marker.get("id", "")


class FeatureTests(SlixmppMUCTestCase):
    """
    Voice requests, registration, the room list, moderation, avatars,
    invitations, bad nicks.
    """

    async def test_voiceRequest(self) -> None:
        """
        XEP-0045 section 8.6: in a moderated room bob is a visitor; his
        voice request (slixmpp's C{request_voice}) reaches alice, the
        moderator, as a muc#request form; she submits it with
        muc#request_allow and bob becomes a participant.
        """
        await self.createRoom(fields={"muc#roomconfig_moderatedroom": True})
        joined = await self.ok("join", user=self.jid("bob"), room=ROOM, nick="bob")
        self.assertEqual(joined["role"], "visitor")
        since = self.users.mark()
        await self.ok("requestVoice", user=self.jid("bob"), room=ROOM)
        request = await self.users.next(lambda e: e["to"] == self.jid("alice") and NS_REQUEST in e["xml"], since)
        self.assertIn(self.jid("bob"), request["xml"])
        await self.ok("approveVoice", user=self.jid("alice"), room=ROOM, jid=self.jid("bob"), nick="bob")
        voiced = await self.users.next(
            lambda e: e["to"] == self.jid("bob") and e["name"] == "presence" and muc(e, "role") == "participant", since
        )
        self.assertIn("110", codes(voiced))

    async def test_registration(self) -> None:
        """
        XEP-0045 sections 7.10 and 7.12: bob, a member, registers a nick;
        disco on x-roomuser-item gives it back; carol may not join with it
        (conflict).
        """
        await self.createRoom()
        await self.ok("affiliation", user=self.jid("alice"), room=ROOM, jid=f"bob@{USERS}", affiliation="member")
        await self.ok("iq", user=self.jid("bob"), to=ROOM, type="set", payload=registration("Bobby"))
        info = await self.ok("iq", user=self.jid("bob"), to=ROOM, type="get",
                             payload=f"<query xmlns='{NS_DISCO_INFO}' node='x-roomuser-item'/>")
        [identity] = parsed(info).iter(f"{{{NS_DISCO_INFO}}}identity")
        self.assertEqual(identity.get("name"), "Bobby")
        refused = await self.users.command("join", user=self.jid("carol"), room=ROOM, nick="Bobby")
        self.assertEqual(refused["condition"], "conflict")
        joined = await self.ok("join", user=self.jid("bob"), room=ROOM, nick="Bobby")
        self.assertEqual(joined["affiliation"], "member")

    async def test_roomListPaged(self) -> None:
        """
        XEP-0059 through slixmpp's RSM iterator: 12 public rooms, 5 a page,
        come in 3 pages, each room once (XEP-0045 section 6.3).
        """
        rooms = [f"r{n:02d}@{MUC}" for n in range(12)]
        for room in rooms:
            await self.createRoom(room=room)
        listed = await self.ok("rooms", user=self.jid("bob"), service=MUC, page=5)
        # slixmpp keeps a page's items in a set: their order is lost.
        self.assertEqual((sorted(listed["jids"]), len(listed["jids"]), listed["pages"]), (rooms, 12, 3))

    async def test_moderation(self) -> None:
        """
        XEP-0425 through slixmpp's C{xep_0425}: alice retracts bob's
        message by its stanza id; bob's client gets the retraction.
        """
        await self.createRoom()
        await self.ok("join", user=self.jid("bob"), room=ROOM, nick="bob")
        since = self.users.mark()
        echo = await self.say("bob", "buy now")
        await self.ok("moderate", user=self.jid("alice"), room=ROOM, stanzaId=stanzaId(echo), reason="spam")
        notice = await self.users.next(lambda e: e["to"] == self.jid("bob") and NS_RETRACT in e["xml"], since)
        [retract] = parsed(notice).iter(f"{{{NS_RETRACT}}}retract")
        self.assertEqual(retract.get("id"), stanzaId(echo))

    async def test_avatar(self) -> None:
        """
        XEP-0486: alice sets the room's vCard with a photo; bob gets the
        XEP-0153 hash in a presence from the room, and in disco's roominfo.
        """
        await self.createRoom()
        await self.ok("join", user=self.jid("bob"), room=ROOM, nick="bob")
        image = b"not really a png" * 10
        digest = hashlib.sha1(image).hexdigest()
        since = self.users.mark()
        vcard = (
            "<vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE>"
            f"<BINVAL>{base64.b64encode(image).decode()}</BINVAL></PHOTO></vCard>"
        )
        await self.ok("iq", user=self.jid("alice"), to=ROOM, type="set", payload=vcard)
        update = await self.users.next(lambda e: e["to"] == self.jid("bob") and e["from"] == ROOM, since)
        self.assertIn(digest, update["xml"])
        info = await self.ok("iq", user=self.jid("bob"), to=ROOM, type="get", payload=f"<query xmlns='{NS_DISCO_INFO}'/>")
        self.assertIn(digest, info["xml"])

    async def test_invitationToOtherServer(self) -> None:
        """
        XEP-0045 section 7.8.2: alice invites a user of another server
        (slixmpp's C{invite}); the room routes the invitation there; the
        user's decline comes back to alice from the room.
        """
        await self.createRoom()
        guest = f"guest@{OTHER}/laptop"
        await self.ok("invite", user=self.jid("alice"), room=ROOM, jid=f"guest@{OTHER}", reason="tea?")
        invitation = await self.other.next(lambda e: e.name == "message")
        self.assertEqual(invitation["from"], ROOM)
        self.assertIn(f"from='{self.jid('alice')}'", invitation.toXml())
        since = self.users.mark()
        self.other.send(
            f"<message from='{guest}' to='{ROOM}'><x xmlns='{NS_MUC_USER}'>"
            f"<decline to='{self.jid('alice')}'><reason>busy</reason></decline></x></message>"
        )
        decline = await self.users.next(lambda e: e["to"] == self.jid("alice") and "decline" in e["xml"], since)
        self.assertEqual(decline["from"], ROOM)
        self.assertIn("busy", decline["xml"])

    async def test_nickFailingResourceprep(self) -> None:
        """
        A join with a tab in the nick (RFC 7622 section 3.4) gets
        jid-malformed rather than no answer.
        """
        self.other.send(f"<presence id='bad' from='guest@{OTHER}/l' to='{ROOM}/a&#9;b'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
        error = await self.other.next(lambda e: e.getAttribute("id") == "bad")
        self.assertEqual(error["type"], "error")
        self.assertIn("jid-malformed", error.toXml())


class RoomLifeTests(SlixmppMUCTestCase):
    """
    One room from creation to destruction.
    """

    async def test_wholeLife(self) -> None:
        """
        alice creates the room and configures it members-only and
        moderated (XEP-0045 10.1.3); adds bob as a member with his nick
        reserved (9.5); invites carol (7.8.2), which makes her a member, and
        carol registers a nick (7.10); a stranger is refused
        (registration-required, 7.2.6) and carol's reserved nick is refused
        to bob (7.2.9); alice takes carol's voice and carol asks for it
        back (8.6); bob posts spam and alice retracts it (XEP-0425), which
        leaves a tombstone in the archive (XEP-0313); alice destroys the
        room (10.9) and everyone is told; the persistent room leaves a
        tombstone: it answers C{gone} with alice's reason (Prosody's
        muc_tombstones).
        """
        alice, bob, carol = self.jid("alice"), self.jid("bob"), self.jid("carol")
        await self.createRoom(fields={"muc#roomconfig_membersonly": True, "muc#roomconfig_moderatedroom": True,
                                      "muc#roomconfig_persistentroom": True,
                                      "muc#roomconfig_roomname": "Life"})
        await self.ok("affiliation", user=alice, room=ROOM, jid=f"bob@{USERS}", affiliation="member", nick="Bobby")
        members = await self.ok("members", user=alice, room=ROOM, affiliation="member")
        self.assertEqual(members["jids"], [f"bob@{USERS}"])

        since = self.users.mark()
        await self.ok("invite", user=alice, room=ROOM, jid=f"carol@{USERS}", reason="join us")
        invitation = await self.users.next(lambda e: e["to"] == f"carol@{USERS}" and "invite" in e["xml"], since)
        self.assertEqual(invitation["from"], ROOM)
        await self.ok("iq", user=carol, to=ROOM, type="set", payload=registration("Caro"))

        stranger = await self.users.command("join", user=self.jid("mallory"), room=ROOM, nick="mal")
        self.assertEqual(stranger["condition"], "registration-required")
        taken = await self.users.command("join", user=bob, room=ROOM, nick="Caro")
        self.assertEqual(taken["condition"], "conflict")
        self.assertEqual((await self.ok("join", user=bob, room=ROOM, nick="Bobby"))["role"], "participant")
        self.assertEqual((await self.ok("join", user=carol, room=ROOM, nick="Caro"))["affiliation"], "member")

        since = self.users.mark()
        await self.ok("role", user=alice, room=ROOM, nick="Caro", role="visitor")
        await self.users.next(lambda e: e["to"] == carol and muc(e, "role") == "visitor", since)
        await self.ok("requestVoice", user=carol, room=ROOM)
        await self.users.next(lambda e: e["to"] == alice and NS_REQUEST in e["xml"], since)
        await self.ok("approveVoice", user=alice, room=ROOM, jid=carol, nick="Caro")
        await self.users.next(lambda e: e["to"] == carol and e["name"] == "presence" and muc(e, "role") == "participant", since)

        spam = await self.say("bob", "cheap pills", room=ROOM)
        since = self.users.mark()
        await self.ok("moderate", user=alice, room=ROOM, stanzaId=stanzaId(spam), reason="spam")
        await self.users.next(lambda e: e["to"] == carol and NS_RETRACT in e["xml"], since)
        since = self.users.mark()
        await self.ok("iq", user=alice, to=ROOM, type="set",
                      payload="<query xmlns='urn:xmpp:mam:2' queryid='life'/>")
        archived = [e["xml"] for e in self.users.events[since:] if e["to"] == alice and "queryid=\"life\"" in e["xml"]]
        self.assertEqual(len(archived), 1)
        self.assertNotIn("cheap pills", archived[0])
        self.assertIn("retracted", archived[0])

        since = self.users.mark()
        await self.ok("destroy", user=alice, room=ROOM, reason="done")
        for user in (alice, bob, carol):
            gone = await self.users.next(lambda e: e["to"] == user and e["type"] == "unavailable", since)
            self.assertIn("destroy", gone["xml"])
        after = await self.users.command("iq", user=bob, to=ROOM, type="get", payload=f"<query xmlns='{NS_DISCO_INFO}'/>")
        self.assertEqual(after["condition"], "gone")
        self.assertEqual(after["text"], "done")
