# -*- test-case-name: xcomp.test.test_muc_room -*-
"""
What the tests of the MUC room as a pure state machine share: the room and
its users' addresses, builders for the stanzas they send, readers for what
the room returns, and L{RoomTestCase}, a L{Room} on a settable clock.
"""

from __future__ import annotations

from typing import Iterable

from twisted.trial.unittest import SynchronousTestCase
from twisted.words.xish import domish

from xcomp.muc.elements import NS_MUC_USER, Broadcast, Outgoing
from xcomp.muc.room import Room
from xcomp.muc.settings import RoomConfig, ServiceOptions
from xcomp.stanza import COMPONENT_NS, Stanza, parseElement

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
    """
    The elements of C{elements} addressed to C{jid}.
    """
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
    """
    A presence entering the room as C{nick}, with the MUC element (its
    C{history} request and C{password}) unless C{muc} is false.
    """
    x = ""
    if muc:
        x = f"<x xmlns='http://jabber.org/protocol/muc'>{history}"
        if password:
            x += f"<password>{password}</password>"
        x += "</x>"
    return xml(f"<presence to='{ROOM}/{nick}'>{x}</presence>")


def groupchat(body: str, extra: str = "", id: str = "m") -> domish.Element:
    """
    A groupchat message to the room with C{body}, then C{extra}.
    """
    return xml(f"<message type='groupchat' id='{id}' to='{ROOM}'><body>{body}</body>{extra}</message>")


def adminQuery(items: str, uri: str = NS_ADMIN) -> domish.Element:
    """
    A C{query} in C{uri} (muc#admin unless told) holding C{items}.
    """
    return xml(f"<query xmlns='{uri}'>{items}</query>")


class Clock:
    """
    The time a room reads, set by the test.

    @ivar now: the time, in seconds since the epoch.
    """

    def __init__(self) -> None:
        """
        At 1000 seconds past the epoch.
        """
        self.now = 1000.0

    def __call__(self) -> float:
        """
        The time now.
        """
        return self.now


class RoomTestCase(SynchronousTestCase):
    """
    A new L{Room} of a service with one admin, on a L{Clock}.
    """

    options = ServiceOptions(admins=frozenset({"admin@users.example"}))

    def setUp(self) -> None:
        """
        The room, with nobody in it yet.
        """
        self.clock = Clock()
        self.room = Room(ROOM, self.options, clock=self.clock)

    def enter(self, sender: str, nick: str, stanza: domish.Element | None = None, created: bool = False) -> list[domish.Element]:
        """
        C{sender} enters as C{nick} (with C{stanza}, or an ordinary join);
        what every recipient gets.
        """
        return delivered(self.room.presence(sender, nick, stanza if stanza is not None else join(nick), created=created))

    def createInstant(self, config: RoomConfig | None = None) -> None:
        """
        Alice creates the room, configured as C{config}, unlocked.
        """
        self.enter(ALICE, "alice", created=True)
        if config is not None:
            self.room.config = config
        self.room.locked = False

