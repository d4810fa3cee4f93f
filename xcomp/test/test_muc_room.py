"""
Tests for L{xcomp.muc.room} and L{xcomp.muc.moderation}: the room as a pure
state machine, with no router, no reactor and no I/O.  Each test feeds
stanzas to a L{Room} and checks what it returns.
"""

from __future__ import annotations

from typing import Iterable

import attrs
from twisted.trial.unittest import SynchronousTestCase
from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.xish import domish

from xcomp.muc.elements import NS_MUC_USER, Broadcast, Outgoing
from xcomp.muc.room import MAX_HISTORY_BYTES, Room
from xcomp.muc.settings import RoomConfig, ServiceOptions
from xcomp.stanza import COMPONENT_NS, Stanza, parseElement
from xcomp.testing import errorOf

ROOM = "room@muc.example"
ALICE = "alice@users.example/home"
BOB = "bob@users.example/work"
CAROL = "carol@users.example/pda"
NS_ADMIN = "http://jabber.org/protocol/muc#admin"
NS_OWNER = "http://jabber.org/protocol/muc#owner"


def xml(text: str) -> domish.Element:
    """
    An element in the component namespace, as the glue receives it.
    """
    return parseElement(text.encode("utf-8"), {"": COMPONENT_NS})


def delivered(outgoing: Iterable[Outgoing]) -> list[domish.Element]:
    """
    What a room's output becomes on the wire, one element per recipient,
    parsed from the bytes (so a broadcast's byte splicing is checked too).
    """
    result = []
    for item in outgoing:
        stanzas = item.stanzas() if isinstance(item, Broadcast) else [item]
        for stanza in stanzas:
            data = stanza.toBytes() if isinstance(stanza, Stanza) else stanza.toXml(defaultUri=COMPONENT_NS).encode()
            result.append(parseElement(data, {"": COMPONENT_NS}))
    return result


def to(elements: list[domish.Element], jid: str) -> list[domish.Element]:
    return [e for e in elements if e.getAttribute("to") == jid]


def codes(stanza: domish.Element) -> set[str]:
    """
    The muc#user status codes of a stanza.
    """
    return {s["code"] for x in stanza.elements(NS_MUC_USER, "x") for s in x.elements(NS_MUC_USER, "status")}


def item(stanza: domish.Element) -> dict[str, str]:
    """
    The attributes of the muc#user item of a presence.
    """
    for x in stanza.elements(NS_MUC_USER, "x"):
        for found in x.elements(NS_MUC_USER, "item"):
            return {k: v for k, v in found.attributes.items() if isinstance(k, str)}
    return {}


def join(nick: str, history: str = "", password: str = "", muc: bool = True) -> domish.Element:
    x = ""
    if muc:
        x = f"<x xmlns='http://jabber.org/protocol/muc'>{history}"
        if password:
            x += f"<password>{password}</password>"
        x += "</x>"
    return xml(f"<presence to='{ROOM}/{nick}'>{x}</presence>")


def groupchat(body: str, extra: str = "", id: str = "m") -> domish.Element:
    return xml(f"<message type='groupchat' id='{id}' to='{ROOM}'><body>{body}</body>{extra}</message>")


def adminQuery(items: str, uri: str = NS_ADMIN) -> domish.Element:
    return xml(f"<query xmlns='{uri}'>{items}</query>")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class RoomTestCase(SynchronousTestCase):
    options = ServiceOptions(admins=frozenset({"admin@users.example"}))

    def setUp(self) -> None:
        self.clock = Clock()
        self.room = Room(ROOM, self.options, clock=self.clock)

    def enter(self, sender: str, nick: str, stanza: domish.Element | None = None, created: bool = False) -> list[domish.Element]:
        return delivered(self.room.presence(sender, nick, stanza if stanza is not None else join(nick), created=created))

    def createInstant(self, config: RoomConfig | None = None) -> None:
        """
        Alice creates the room, configured as C{config}, unlocked.
        """
        self.enter(ALICE, "alice", created=True)
        if config is not None:
            self.room.config = config
        self.room.locked = False


class JoinTests(RoomTestCase):
    """
    Entering a room (XEP-0045 section 7.2).
    """

    def test_creation(self) -> None:
        """
        The first occupant becomes owner and moderator; the self-presence
        has 110 and 201, then the (empty) subject follows.  A room made by
        a XEP-0045 client is locked.
        """
        out = self.enter(ALICE, "alice", created=True)
        presence, subject = out
        self.assertEqual(codes(presence), {"110", "201"})
        self.assertEqual(item(presence)["affiliation"], "owner")
        self.assertEqual(item(presence)["role"], "moderator")
        self.assertEqual(presence["from"], f"{ROOM}/alice")
        self.assertEqual(subject.name, "message")
        self.assertEqual(str(next(subject.elements(COMPONENT_NS, "subject"))), "")
        self.assertTrue(self.room.locked)
        self.assertEqual(self.room.affiliation(ALICE), "owner")

    def test_lockedRefusesOthers(self) -> None:
        """
        While locked, only owners may enter (item-not-found for others).
        """
        self.enter(ALICE, "alice", created=True)
        [error] = self.enter(BOB, "bob")
        self.assertEqual(errorOf(error), ("cancel", "item-not-found"))
        self.assertEqual(error["from"], f"{ROOM}/bob")

    def test_groupchat10NotLocked(self) -> None:
        """
        A room made by a presence without the MUC element (groupchat 1.0)
        is an instant room, not locked.
        """
        self.enter(ALICE, "alice", join("alice", muc=False), created=True)
        self.assertFalse(self.room.locked)

    def test_presenceExchange(self) -> None:
        """
        A newcomer gets the occupants' presence, then its own; the others
        get the newcomer's.  In a semi-anonymous room only moderators see
        real JIDs.
        """
        self.createInstant()
        self.enter(BOB, "bob")
        out = self.enter(CAROL, "carol")
        carol = to(out, CAROL)
        self.assertEqual([p["from"] for p in carol[:3]], [f"{ROOM}/alice", f"{ROOM}/bob", f"{ROOM}/carol"])
        self.assertNotIn("jid", item(carol[0]))
        self.assertEqual(codes(carol[2]), {"110"})
        [toAlice] = to(out, ALICE)
        [toBob] = to(out, BOB)
        self.assertEqual(item(toAlice)["jid"], CAROL)
        self.assertNotIn("jid", item(toBob))

    def test_nonAnonymous(self) -> None:
        """
        In a non-anonymous room everyone sees real JIDs, and the
        self-presence has status 100.
        """
        self.createInstant(attrs.evolve(self.options.defaults, whois="anyone"))
        out = self.enter(BOB, "bob")
        self.assertEqual(item(to(out, BOB)[0])["jid"], ALICE)
        self.assertIn("100", codes(to(out, BOB)[1]))

    def test_nickConflict(self) -> None:
        """
        A nick in use is refused with conflict (409).
        """
        self.createInstant()
        [error] = self.enter(BOB, "alice")
        self.assertEqual(errorOf(error), ("cancel", "conflict"))

    def test_password(self) -> None:
        """
        A password-protected room wants the password (401).
        """
        self.createInstant(attrs.evolve(self.options.defaults, password="s3cret"))
        [error] = self.enter(BOB, "bob")
        self.assertEqual(errorOf(error), ("auth", "not-authorized"))
        [error] = self.enter(BOB, "bob", join("bob", password="wrong"))
        self.assertEqual(errorOf(error), ("auth", "not-authorized"))
        self.assertEqual(len(to(self.enter(BOB, "bob", join("bob", password="s3cret")), BOB)), 3)

    def test_membersOnly(self) -> None:
        """
        A members-only room refuses non-members (407).
        """
        self.createInstant(attrs.evolve(self.options.defaults, membersOnly=True))
        [error] = self.enter(BOB, "bob")
        self.assertEqual(errorOf(error), ("auth", "registration-required"))
        self.room.affiliations["bob@users.example"] = "member"
        self.assertEqual(item(to(self.enter(BOB, "bob"), BOB)[1])["affiliation"], "member")

    def test_banned(self) -> None:
        """
        An outcast is refused (403).
        """
        self.createInstant()
        self.room.affiliations["bob@users.example"] = "outcast"
        [error] = self.enter(BOB, "bob")
        self.assertEqual(errorOf(error), ("auth", "forbidden"))

    def test_full(self) -> None:
        """
        A full room refuses newcomers (503), but not its owners and admins.
        """
        self.createInstant(attrs.evolve(self.options.defaults, maxUsers=1))
        [error] = self.enter(BOB, "bob")
        self.assertEqual(errorOf(error), ("wait", "service-unavailable"))
        self.room.affiliations["bob@users.example"] = "admin"
        self.assertEqual(len(self.room.occupants), 1)
        self.enter(BOB, "bob")
        self.assertEqual(len(self.room.occupants), 2)

    def test_hardLimit(self) -> None:
        """
        Nobody exceeds the service's C{muc_max_occupants}.
        """
        self.room = Room(ROOM, attrs.evolve(self.options, maxOccupants=1), clock=self.clock)
        self.createInstant()
        self.room.affiliations["bob@users.example"] = "owner"
        [error] = self.enter(BOB, "bob")
        self.assertEqual(errorOf(error), ("wait", "service-unavailable"))

    def test_nickRewritten(self) -> None:
        """
        When the service normalised the nick, the self-presence has 210.
        """
        self.createInstant()
        out = self.enter(BOB, "bob", xml(f"<presence to='{ROOM}/\uff42ob'/>"))
        self.assertIn("210", codes(to(out, BOB)[1]))

    def test_occupantId(self) -> None:
        """
        The XEP-0421 occupant id is the same for two sessions of one bare
        JID and different for another user.
        """
        self.createInstant()
        first = self.room.occupantIdOf("bob@users.example")
        self.assertEqual(first, self.room.occupantIdOf("bob@users.example"))
        self.assertNotEqual(first, self.room.occupantIdOf("carol@users.example"))
        [presence, _] = to(self.enter(BOB, "bob"), BOB)[1:]
        self.assertEqual(next(presence.elements("urn:xmpp:occupant-id:0", "occupant-id"))["id"], first)

    def test_presencePayloadBounded(self) -> None:
        """
        A presence carrying more than the room keeps is refused.
        """
        self.createInstant()
        [error] = self.enter(BOB, "bob", xml(f"<presence to='{ROOM}/bob'><status>{'x' * 9000}</status></presence>"))
        self.assertEqual(errorOf(error), ("modify", "not-acceptable"))


class PresenceTests(RoomTestCase):
    """
    Leaving, changing nick and availability.
    """

    def setUp(self) -> None:
        super().setUp()
        self.createInstant()
        self.enter(BOB, "bob")

    def test_leave(self) -> None:
        """
        An unavailable presence removes the occupant; everyone is told,
        the leaver with 110, and the status text is passed on.
        """
        out = delivered(self.room.presence(BOB, "bob", xml(f"<presence type='unavailable' to='{ROOM}/bob'><status>bye</status></presence>")))
        [toAlice] = to(out, ALICE)
        [toBob] = to(out, BOB)
        self.assertEqual((toAlice["type"], item(toAlice)["role"]), ("unavailable", "none"))
        self.assertEqual(str(next(toAlice.elements(COMPONENT_NS, "status"))), "bye")
        self.assertEqual(codes(toBob), {"110"})
        self.assertNotIn("bob", self.room.occupants)

    def test_nickChange(self) -> None:
        """
        A presence to a new nick is an unavailable presence with 303 and
        the new nick, then an available one from the new nick.
        """
        out = to(delivered(self.room.presence(BOB, "robert", xml(f"<presence to='{ROOM}/robert'/>"))), ALICE)
        gone, back = out
        self.assertEqual((gone["from"], gone["type"], codes(gone)), (f"{ROOM}/bob", "unavailable", {"303"}))
        self.assertEqual(item(gone)["nick"], "robert")
        self.assertEqual(back["from"], f"{ROOM}/robert")
        self.assertEqual(list(self.room.occupants), ["alice", "robert"])

    def test_nickChangeConflict(self) -> None:
        """
        Changing to a nick in use is refused with conflict.
        """
        [error] = delivered(self.room.presence(BOB, "alice", xml(f"<presence to='{ROOM}/alice'/>")))
        self.assertEqual(errorOf(error), ("cancel", "conflict"))

    def test_availabilityBroadcast(self) -> None:
        """
        A new show/status is broadcast to everyone.
        """
        out = delivered(self.room.presence(BOB, "bob", xml(f"<presence to='{ROOM}/bob'><show>away</show></presence>")))
        [toAlice] = to(out, ALICE)
        self.assertEqual(str(next(toAlice.elements(COMPONENT_NS, "show"))), "away")
        self.assertEqual(codes(to(out, BOB)[0]), {"110"})

    def test_ghostRemoved(self) -> None:
        """
        An error from an occupant's address saying it is gone removes the
        occupant with status 333.
        """
        bounce = xml(
            f"<message type='error' from='{BOB}' to='{ROOM}/alice'><error type='wait'>"
            "<remote-server-timeout xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"
        )
        out = delivered(self.room.message(BOB, "alice", bounce))
        self.assertEqual(codes(to(out, ALICE)[0]), {"333"})
        self.assertNotIn("bob", self.room.occupants)

    def test_otherErrorsKeepOccupant(self) -> None:
        """
        Other errors (the occupant's client refusing something) do not.
        """
        bounce = xml(
            f"<message type='error' from='{BOB}' to='{ROOM}/alice'><error type='modify'>"
            "<bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"
        )
        self.assertEqual(self.room.message(BOB, "alice", bounce), [])
        self.assertIn("bob", self.room.occupants)


class MessageTests(RoomTestCase):
    """
    Groupchat, subject, history, private messages, invitations.
    """

    def setUp(self) -> None:
        super().setUp()
        self.createInstant()
        self.enter(BOB, "bob")

    def test_groupchatBroadcast(self) -> None:
        """
        A groupchat message goes to every occupant, the sender included,
        from the sender's occupant JID, with its id and an occupant id;
        forged stanza ids and occupant ids are removed.
        """
        forged = (
            f"<stanza-id xmlns='urn:xmpp:sid:0' id='fake' by='{ROOM}'/>"
            "<occupant-id xmlns='urn:xmpp:occupant-id:0' id='fake'/>"
        )
        out = delivered(self.room.message(BOB, None, groupchat("hello", forged, id="m1")))
        self.assertEqual(sorted(m["to"] for m in out), [ALICE, BOB])
        for message in out:
            self.assertEqual((message["from"], message["type"], message["id"]), (f"{ROOM}/bob", "groupchat", "m1"))
            self.assertEqual(list(message.elements("urn:xmpp:sid:0", "stanza-id")), [])
            [occupantId] = message.elements("urn:xmpp:occupant-id:0", "occupant-id")
            self.assertEqual(occupantId["id"], self.room.occupantIdOf("bob@users.example"))

    def test_groupchatNotOccupant(self) -> None:
        """
        A non-occupant's groupchat message is refused (406).
        """
        [error] = delivered(self.room.message(CAROL, None, groupchat("hi")))
        self.assertEqual(errorOf(error), ("modify", "not-acceptable"))

    def test_visitorInModeratedRoom(self) -> None:
        """
        In a moderated room, a visitor may not speak (403) until given
        voice.
        """
        self.room.config = attrs.evolve(self.room.config, moderated=True)
        self.enter(CAROL, "carol")
        self.assertEqual(self.room.occupants["carol"].role, "visitor")
        [error] = delivered(self.room.message(CAROL, None, groupchat("hi")))
        self.assertEqual(errorOf(error), ("auth", "forbidden"))
        self.room.adminSet(ALICE, adminQuery("<item nick='carol' role='participant'/>"))
        self.assertEqual(len(delivered(self.room.message(CAROL, None, groupchat("hi")))), 3)

    def test_subject(self) -> None:
        """
        Only moderators change the subject unless C{changesubject}; the
        subject is sent last to newcomers, from who set it.
        """
        change = xml(f"<message type='groupchat' to='{ROOM}'><subject>Topic</subject></message>")
        [error] = delivered(self.room.message(BOB, None, change))
        self.assertEqual(errorOf(error), ("auth", "forbidden"))
        self.assertEqual(len(delivered(self.room.message(ALICE, None, change))), 2)
        self.assertEqual(self.room.subject, ("Topic", "alice"))
        self.assertTrue(self.room.stateChanged)
        subject = self.enter(CAROL, "carol")[-1]
        self.assertEqual((subject["from"], str(next(subject.elements(COMPONENT_NS, "subject")))), (f"{ROOM}/alice", "Topic"))
        self.room.config = attrs.evolve(self.room.config, changeSubject=True)
        self.assertEqual(len(delivered(self.room.message(BOB, None, change))), 3)

    def history(self, count: int) -> None:
        for n in range(count):
            self.clock.now = 1000.0 + n * 10
            self.room.message(ALICE, None, groupchat(f"message {n}", id=f"h{n}"))

    def bodies(self, out: list[domish.Element]) -> list[str]:
        return [str(next(m.elements(COMPONENT_NS, "body"))) for m in out if m.name == "message" and list(m.elements(COMPONENT_NS, "body"))]

    def test_historyOnJoin(self) -> None:
        """
        A newcomer gets the history, oldest first, delayed (XEP-0203), then
        the subject.
        """
        self.history(3)
        out = to(self.enter(CAROL, "carol"), CAROL)
        self.assertEqual(self.bodies(out), ["message 0", "message 1", "message 2"])
        delayed = [m for m in out if m.name == "message" and list(m.elements(COMPONENT_NS, "body"))][0]
        [stamp] = delayed.elements("urn:xmpp:delay", "delay")
        self.assertEqual((stamp["stamp"], stamp["from"]), ("1970-01-01T00:16:40Z", ROOM))
        self.assertEqual(out[-1].name, "message")
        self.assertTrue(list(out[-1].elements(COMPONENT_NS, "subject")))

    def test_historyRefill(self) -> None:
        """
        Messages put back from elsewhere (the archive, after a restart) come
        before what was said since, with their own times; the room's
        history length still holds, and bytes that are not one message are
        skipped.
        """
        self.history(2)
        archived = [
            (500.0 + n, f"<message from='{ROOM}/bob' type='groupchat' id='a{n}'><body>old {n}</body></message>".encode())
            for n in range(3)
        ]
        self.room.history.refill([*archived, (600.0, b"<message"), (601.0, b"<presence/>")], 4)
        out = to(self.enter(CAROL, "carol"), CAROL)
        self.assertEqual(self.bodies(out), ["old 1", "old 2", "message 0", "message 1"])
        first = next(m for m in out if m.getAttribute("id") == "a1")
        self.assertEqual(first["from"], f"{ROOM}/bob")
        [stamp] = first.elements("urn:xmpp:delay", "delay")
        self.assertEqual((stamp["stamp"], stamp["from"]), ("1970-01-01T00:08:21Z", ROOM))

    def test_historyLengthLimit(self) -> None:
        """
        The room keeps at most its history length (itself at most
        C{max_history_messages}).
        """
        self.room.config = attrs.evolve(self.room.config, historyLength=2)
        self.history(5)
        self.assertEqual(self.bodies(to(self.enter(CAROL, "carol"), CAROL)), ["message 3", "message 4"])

    def test_historyBytesLimit(self) -> None:
        """
        Large messages are dropped from the history past
        L{MAX_HISTORY_BYTES}, whatever the history length.
        """
        big = "x" * (MAX_HISTORY_BYTES // 3)
        for n in range(5):
            self.room.message(ALICE, None, groupchat(big, id=f"b{n}"))
        self.assertLessEqual(sum(len(e.template) for e in self.room.history), MAX_HISTORY_BYTES)
        self.assertEqual(len(self.room.history), 2)

    def test_historyMaxStanzas(self) -> None:
        """
        C{maxstanzas} limits the history to the last N messages; 0 sends
        none.
        """
        self.history(4)
        out = to(self.enter(CAROL, "carol", join("carol", "<history maxstanzas='2'/>")), CAROL)
        self.assertEqual(self.bodies(out), ["message 2", "message 3"])
        self.room.presence(CAROL, "carol", xml(f"<presence type='unavailable' to='{ROOM}/carol'/>"))
        out = to(self.enter(CAROL, "carol", join("carol", "<history maxstanzas='0'/>")), CAROL)
        self.assertEqual(self.bodies(out), [])

    def test_historyMaxChars(self) -> None:
        """
        C{maxchars} counts the characters of the delivered messages.
        """
        self.history(3)
        last = self.room.history[-1]
        size = len(last.template) + len(last.delay)
        out = to(self.enter(CAROL, "carol", join("carol", f"<history maxchars='{size * 2 + 1}'/>")), CAROL)
        self.assertEqual(self.bodies(out), ["message 1", "message 2"])

    def test_historySecondsAndSince(self) -> None:
        """
        C{seconds} and C{since} keep only recent messages.
        """
        self.history(4)  # at 1000, 1010, 1020, 1030
        self.clock.now = 1035.0
        out = to(self.enter(CAROL, "carol", join("carol", "<history seconds='20'/>")), CAROL)
        self.assertEqual(self.bodies(out), ["message 2", "message 3"])
        self.room.presence(CAROL, "carol", xml(f"<presence type='unavailable' to='{ROOM}/carol'/>"))
        out = to(self.enter(CAROL, "carol", join("carol", "<history since='1970-01-01T00:17:00Z'/>")), CAROL)
        self.assertEqual(self.bodies(out), ["message 2", "message 3"])

    def test_privateMessage(self) -> None:
        """
        A message to C{room/nick} goes to that occupant, from the sender's
        occupant JID, marked with the muc#user element.
        """
        pm = xml(f"<message type='chat' id='p' to='{ROOM}/alice'><body>psst</body></message>")
        [message] = delivered(self.room.message(BOB, "alice", pm))
        self.assertEqual((message["to"], message["from"], message["type"]), (ALICE, f"{ROOM}/bob", "chat"))
        self.assertEqual(len(list(message.elements(NS_MUC_USER, "x"))), 1)

    def test_privateMessageRefused(self) -> None:
        """
        Private messages to an absent nick get item-not-found; when the
        room allows none, not-allowed; non-occupants get not-acceptable.
        """
        pm = lambda nick: xml(f"<message type='chat' to='{ROOM}/{nick}'><body>psst</body></message>")  # noqa: E731
        self.assertEqual(errorOf(delivered(self.room.message(BOB, "nobody", pm("nobody")))[0]), ("cancel", "item-not-found"))
        self.assertEqual(errorOf(delivered(self.room.message(CAROL, "alice", pm("alice")))[0]), ("modify", "not-acceptable"))
        self.room.config = attrs.evolve(self.room.config, allowPM="none")
        self.assertEqual(errorOf(delivered(self.room.message(BOB, "alice", pm("alice")))[0]), ("cancel", "not-allowed"))

    def test_invite(self) -> None:
        """
        A mediated invitation is passed on from the room with the inviter's
        JID, the reason and the room password.
        """
        self.room.config = attrs.evolve(self.room.config, password="pw")
        invite = xml(
            f"<message to='{ROOM}'><x xmlns='{NS_MUC_USER}'><invite to='carol@users.example'>"
            "<reason>join us</reason></invite></x></message>"
        )
        [message] = delivered(self.room.message(BOB, None, invite))
        self.assertEqual((message["to"], message["from"]), ("carol@users.example", ROOM))
        x = next(message.elements(NS_MUC_USER, "x"))
        forwarded = next(x.elements(NS_MUC_USER, "invite"))
        self.assertEqual(forwarded["from"], BOB)
        self.assertEqual(str(next(forwarded.elements(NS_MUC_USER, "reason"))), "join us")
        self.assertEqual(str(next(x.elements(NS_MUC_USER, "password"))), "pw")

    def test_inviteMembersOnly(self) -> None:
        """
        In a members-only room only admins (or members, with
        C{allowinvites}) invite, and the invitee becomes a member.
        """
        self.room.config = attrs.evolve(self.room.config, membersOnly=True)
        invite = xml(f"<message to='{ROOM}'><x xmlns='{NS_MUC_USER}'><invite to='carol@users.example'/></x></message>")
        [error] = delivered(self.room.message(BOB, None, invite))
        self.assertEqual(errorOf(error), ("auth", "forbidden"))
        self.assertEqual(len(delivered(self.room.message(ALICE, None, invite))), 1)
        self.assertEqual(self.room.affiliation("carol@users.example"), "member")

    def test_decline(self) -> None:
        """
        A declined invitation goes back to the inviter from the room.
        """
        decline = xml(
            f"<message to='{ROOM}'><x xmlns='{NS_MUC_USER}'><decline to='{BOB}'><reason>busy</reason></decline></x></message>"
        )
        [message] = delivered(self.room.message(CAROL, None, decline))
        self.assertEqual((message["to"], message["from"]), (BOB, ROOM))
        forwarded = next(next(message.elements(NS_MUC_USER, "x")).elements(NS_MUC_USER, "decline"))
        self.assertEqual(forwarded["from"], "carol@users.example")

    def test_selfPing(self) -> None:
        """
        XEP-0410: a ping to one's own occupant JID is answered; from a
        non-occupant it gets not-acceptable.
        """
        ping = xml(f"<iq type='get' id='sp' to='{ROOM}/bob'><ping xmlns='urn:xmpp:ping'/></iq>")
        [result] = delivered(self.room.iqToOccupant(BOB, "bob", ping))
        self.assertEqual((result["type"], result["to"], result["from"]), ("result", BOB, f"{ROOM}/bob"))
        [error] = delivered(self.room.iqToOccupant(CAROL, "bob", ping))
        self.assertEqual(errorOf(error), ("cancel", "not-acceptable"))


class ModerationTests(RoomTestCase):
    """
    Roles and affiliations (muc#admin).
    """

    def setUp(self) -> None:
        super().setUp()
        self.createInstant()
        self.enter(BOB, "bob")
        self.enter(CAROL, "carol")

    def test_kick(self) -> None:
        """
        A moderator kicks with role none: everyone gets an unavailable
        presence with 307, the actor and the reason.
        """
        out = delivered(self.room.adminSet(ALICE, adminQuery("<item nick='bob' role='none'><reason>spam</reason></item>")))
        [toBob] = to(out, BOB)
        self.assertEqual((toBob["type"], codes(toBob)), ("unavailable", {"110", "307"}))
        [toCarol] = to(out, CAROL)
        x = next(toCarol.elements(NS_MUC_USER, "x"))
        kicked = next(x.elements(NS_MUC_USER, "item"))
        self.assertEqual(next(kicked.elements(NS_MUC_USER, "actor"))["nick"], "alice")
        self.assertEqual(str(next(kicked.elements(NS_MUC_USER, "reason"))), "spam")
        self.assertNotIn("bob", self.room.occupants)

    def test_participantCannotKick(self) -> None:
        """
        A participant may not change roles (forbidden).
        """
        error = self.assertRaises(StanzaError, self.room.adminSet, BOB, adminQuery("<item nick='carol' role='none'/>"))
        self.assertEqual((error.condition, error.type), ("forbidden", "auth"))

    def test_adminsNotKicked(self) -> None:
        """
        Admins and owners cannot be kicked (not-allowed).
        """
        self.room.affiliations["carol@users.example"] = "admin"
        self.room.occupants["carol"].role = "moderator"
        error = self.assertRaises(StanzaError, self.room.adminSet, ALICE, adminQuery("<item nick='carol' role='none'/>"))
        self.assertEqual(error.condition, "not-allowed")

    def test_ban(self) -> None:
        """
        Banning (outcast) removes the user with 301 and keeps them out.
        """
        out = delivered(self.room.adminSet(ALICE, adminQuery("<item jid='bob@users.example' affiliation='outcast'/>")))
        self.assertEqual(codes(to(out, BOB)[0]), {"110", "301"})
        self.assertEqual(self.room.affiliation(BOB), "outcast")
        self.assertTrue(self.room.stateChanged)
        self.assertEqual(errorOf(self.enter(BOB, "bob")[0]), ("auth", "forbidden"))

    def test_memberList(self) -> None:
        """
        Admins and owners read affiliation lists; others may not.
        """
        self.room.adminSet(ALICE, adminQuery("<item jid='bob@users.example' affiliation='member'/>"))
        result = self.room.adminGet(ALICE, adminQuery("<item affiliation='member'/>"))
        self.assertEqual([i["jid"] for i in result.elements(NS_ADMIN, "item")], ["bob@users.example"])
        error = self.assertRaises(StanzaError, self.room.adminGet, BOB, adminQuery("<item affiliation='member'/>"))
        self.assertEqual(error.condition, "forbidden")

    def test_ownerListIncludesServiceAdmins(self) -> None:
        """
        The owner list has the room's owners and the service's admins
        (read through muc#owner too, as old clients do).
        """
        result = self.room.ownerGet(ALICE, adminQuery("<item affiliation='owner'/>", NS_OWNER))
        self.assertEqual(
            sorted(i["jid"] for i in result.elements(NS_OWNER, "item")),
            ["admin@users.example", "alice@users.example"],
        )

    def test_roleList(self) -> None:
        """
        Moderators read role lists with nicks and JIDs.
        """
        result = self.room.adminGet(ALICE, adminQuery("<item role='participant'/>"))
        self.assertEqual(sorted(i["nick"] for i in result.elements(NS_ADMIN, "item")), ["bob", "carol"])

    def test_lastOwner(self) -> None:
        """
        The last owner cannot be removed (conflict).
        """
        error = self.assertRaises(
            StanzaError, self.room.adminSet, ALICE, adminQuery("<item jid='alice@users.example' affiliation='admin'/>")
        )
        self.assertEqual(error.condition, "conflict")

    def test_adminLimits(self) -> None:
        """
        An admin cannot change owners or make admins.
        """
        self.room.adminSet(ALICE, adminQuery("<item jid='bob@users.example' affiliation='admin'/>"))
        self.assertEqual(self.room.occupants["bob"].role, "moderator")
        for query in (
            "<item jid='alice@users.example' affiliation='none'/>",
            "<item jid='carol@users.example' affiliation='admin'/>",
        ):
            error = self.assertRaises(StanzaError, self.room.adminSet, BOB, adminQuery(query))
            self.assertEqual(error.condition, "not-allowed")

    def test_allOrNothing(self) -> None:
        """
        When one item of a request is refused, none is applied.
        """
        self.assertRaises(
            StanzaError,
            self.room.adminSet,
            ALICE,
            adminQuery("<item jid='dave@users.example' affiliation='member'/><item nick='ghost' role='none'/>"),
        )
        self.assertEqual(self.room.affiliation("dave@users.example"), "none")

    def test_membersOnlyRemovesNonMembers(self) -> None:
        """
        Taking membership away in a members-only room removes the user
        with 321.
        """
        self.room.config = attrs.evolve(self.room.config, membersOnly=True)
        self.room.affiliations["bob@users.example"] = "member"
        out = delivered(self.room.adminSet(ALICE, adminQuery("<item jid='bob@users.example' affiliation='none'/>")))
        self.assertEqual(codes(to(out, BOB)[0]), {"110", "321"})


class OwnerTests(RoomTestCase):
    """
    The configuration form and destruction (muc#owner).
    """

    def submit(self, fields: dict[str, str], sender: str = ALICE) -> list[domish.Element]:
        body = "".join(f"<field var='{k}'><value>{v}</value></field>" for k, v in fields.items())
        query = adminQuery(
            "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'>"
            f"<value>http://jabber.org/protocol/muc#roomconfig</value></field>{body}</x>",
            NS_OWNER,
        )
        return delivered(self.room.ownerSet(sender, query))

    def test_form(self) -> None:
        """
        Owners get the muc#roomconfig form with the fields people rely on.
        """
        self.createInstant()
        result = self.room.ownerGet(ALICE, adminQuery("", NS_OWNER))
        form = next(result.elements("jabber:x:data", "x"))
        fields = {f.getAttribute("var") for f in form.elements("jabber:x:data", "field")}
        for var in (
            "muc#roomconfig_roomname", "muc#roomconfig_roomdesc", "muc#roomconfig_persistentroom",
            "muc#roomconfig_publicroom", "muc#roomconfig_membersonly", "muc#roomconfig_moderatedroom",
            "muc#roomconfig_passwordprotectedroom", "muc#roomconfig_roomsecret", "muc#roomconfig_whois",
            "muc#roomconfig_allowinvites", "muc#roomconfig_allowpm", "muc#roomconfig_changesubject",
            "muc#roomconfig_historylength", "muc#roomconfig_maxusers",
        ):
            self.assertIn(var, fields)
        self.enter(BOB, "bob")
        error = self.assertRaises(StanzaError, self.room.ownerGet, BOB, adminQuery("", NS_OWNER))
        self.assertEqual(error.condition, "forbidden")

    def test_instantRoom(self) -> None:
        """
        Submitting the form (even empty) unlocks a new room.
        """
        self.enter(ALICE, "alice", created=True)
        self.submit({})
        self.assertFalse(self.room.locked)
        self.assertEqual(len(to(self.enter(BOB, "bob"), BOB)), 3)

    def test_cancelDestroysNewRoom(self) -> None:
        """
        Cancelling the form of a locked room destroys it.
        """
        self.enter(ALICE, "alice", created=True)
        self.room.ownerSet(ALICE, adminQuery("<x xmlns='jabber:x:data' type='cancel'/>", NS_OWNER))
        self.assertTrue(self.room.destroyed)

    def test_configure(self) -> None:
        """
        Submitted values change the configuration; occupants are told with
        104, and 172 when the room becomes non-anonymous.
        """
        self.createInstant()
        self.enter(BOB, "bob")
        out = self.submit({
            "muc#roomconfig_roomname": "Lounge", "muc#roomconfig_persistentroom": "1",
            "muc#roomconfig_whois": "anyone", "muc#roomconfig_historylength": "500",
            "muc#roomconfig_maxusers": "30", "muc#roomconfig_allowpm": "moderators",
        })
        config = self.room.config
        self.assertEqual(
            (config.name, config.persistent, config.whois, config.historyLength, config.maxUsers, config.allowPM),
            ("Lounge", True, "anyone", self.options.maxHistory, 30, "moderators"),
        )
        self.assertEqual([codes(m) for m in out], [{"104", "172"}, {"104", "172"}])
        self.assertTrue(self.room.stateChanged)

    def test_configureMembersOnly(self) -> None:
        """
        Making the room members-only removes non-members with 322.
        """
        self.createInstant()
        self.enter(BOB, "bob")
        out = self.submit({"muc#roomconfig_membersonly": "true"})
        self.assertIn({"110", "322"}, [codes(p) for p in to(out, BOB)])
        self.assertEqual(list(self.room.occupants), ["alice"])

    def test_configureBadValue(self) -> None:
        """
        An unusable value is refused with not-acceptable and changes
        nothing.
        """
        self.createInstant()
        before = self.room.config
        error = self.assertRaises(StanzaError, self.submit, {"muc#roomconfig_maxusers": "many"})
        self.assertEqual(error.condition, "not-acceptable")
        self.assertEqual(self.room.config, before)

    def test_password(self) -> None:
        """
        C{passwordprotectedroom} with C{roomsecret} sets the password.
        """
        self.createInstant()
        self.submit({"muc#roomconfig_passwordprotectedroom": "1", "muc#roomconfig_roomsecret": "pw"})
        self.assertEqual(self.room.config.password, "pw")
        self.assertIn("muc_passwordprotected", self.room.features())

    def test_destroy(self) -> None:
        """
        An owner destroys the room: each occupant gets an unavailable
        presence with the destroy element naming the alternate venue.
        """
        self.createInstant()
        self.enter(BOB, "bob")
        query = adminQuery(
            "<destroy jid='other@muc.example'><reason>moving</reason></destroy>", NS_OWNER
        )
        out = delivered(self.room.ownerSet(ALICE, query))
        self.assertEqual(sorted(p["to"] for p in out), [ALICE, BOB])
        destroy = next(next(out[0].elements(NS_MUC_USER, "x")).elements(NS_MUC_USER, "destroy"))
        self.assertEqual(destroy["jid"], "other@muc.example")
        self.assertEqual(str(next(destroy.elements(NS_MUC_USER, "reason"))), "moving")
        self.assertTrue(self.room.destroyed)
        self.assertTrue(self.room.isEmpty())

    def test_dumpAndLoad(self) -> None:
        """
        What is stored of a room comes back as it was.
        """
        self.createInstant(attrs.evolve(self.options.defaults, name="Lounge", persistent=True))
        self.room.affiliations["bob@users.example"] = "member"
        self.room.subject = ("Topic", "alice")
        self.room.extra["archiving"] = False
        copy = Room.load(ROOM, self.room.dump(), self.options)
        self.assertEqual(copy.dump(), self.room.dump())
        self.assertEqual(copy.occupantIdOf("bob@users.example"), self.room.occupantIdOf("bob@users.example"))

    def test_features(self) -> None:
        """
        disco#info features follow the configuration.
        """
        self.createInstant()
        features = self.room.features()
        for feature in ("http://jabber.org/protocol/muc", "muc_public", "muc_temporary", "muc_open",
                        "muc_unmoderated", "muc_semianonymous", "muc_unsecured", "urn:xmpp:occupant-id:0"):
            self.assertIn(feature, features)
