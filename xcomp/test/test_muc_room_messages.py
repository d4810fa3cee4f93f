"""
Tests for L{xcomp.muc.messages} and L{xcomp.muc.history}: groupchat, the
subject, the discussion history, private messages, invitations and
self-pings in a room as a pure state machine, with no router, no reactor
and no I/O.
"""

from __future__ import annotations

import attrs
from twisted.words.xish import domish

from xcomp.muc.elements import NS_MUC_USER
from xcomp.muc.room import MAX_HISTORY_BYTES
from xcomp.stanza import COMPONENT_NS
from xcomp.test.muchelpers import (
    ALICE,
    BOB,
    CAROL,
    ROOM,
    RoomTestCase,
    adminQuery,
    delivered,
    groupchat,
    join,
    to,
    xml,
)
from xcomp.testing import errorOf


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
