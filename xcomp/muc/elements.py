# -*- test-case-name: xcomp.test.test_muc_room,xcomp.test.test_muc_room_messages,xcomp.test.test_muc_room_moderation,xcomp.test.test_muc_room_owner -*-
"""
Namespaces and element builders shared by the room and its glue, and the
L{Broadcast}: one stanza serialised once and addressed to many.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from typing import Iterable, Iterator, Mapping, Union

import attrs
from twisted.words.protocols.jabber.jid import InvalidFormat, JID
from twisted.words.xish import domish

from xcomp.plugin import COMPONENT_NS, Stanza, bounce, quoteAttribute

NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = NS_MUC + "#user"
NS_MUC_ADMIN = NS_MUC + "#admin"
NS_MUC_OWNER = NS_MUC + "#owner"
NS_MUC_ROOMINFO = NS_MUC + "#roominfo"
NS_DELAY = "urn:xmpp:delay"
NS_OCCUPANT_ID = "urn:xmpp:occupant-id:0"
NS_STANZA_ID = "urn:xmpp:sid:0"
NS_PING = "urn:xmpp:ping"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items"


@attrs.frozen
class Broadcast:
    """
    One stanza for many recipients: serialised once (without C{to}), and
    addressed to each recipient by inserting the C{to} attribute into the
    bytes.

    @ivar name: the element name.
    @ivar attributes: its top-level attributes, without C{to}.
    @ivar template: its bytes, without C{to}, in the component namespace.
    @ivar recipients: the real JIDs it goes to.
    """

    name: str
    attributes: Mapping[str, str]
    template: bytes
    recipients: tuple[str, ...]

    @classmethod
    def of(cls, element: domish.Element, recipients: Iterable[str]) -> Broadcast:
        """
        Serialise C{element} (which has no C{to}) for C{recipients}.
        """
        attributes = {k: v for k, v in element.attributes.items() if isinstance(k, str)}
        return cls(element.name, attributes, serialise(element), tuple(recipients))

    def stanzas(self) -> Iterator[Stanza]:
        """
        One L{Stanza} per recipient, sharing the serialised payload.
        """
        name, attributes, template = self.name, self.attributes, self.template
        for recipient in self.recipients:
            addressedAttributes = dict(attributes)
            addressedAttributes["to"] = recipient
            yield Stanza(name, COMPONENT_NS, addressedAttributes, addressed(template, name, recipient))


#: What a room hands to its glue to send: a complete element, a ready
#: L{Stanza}, or a L{Broadcast}.
Outgoing = Union[domish.Element, Stanza, Broadcast]


def serialise(element: domish.Element) -> bytes:
    """
    The bytes of C{element} in a stream whose default namespace is the
    component namespace.
    """
    return element.toXml(defaultUri=COMPONENT_NS).encode("utf-8")


def addressed(template: bytes, name: str, to: str, extra: bytes = b"") -> bytes:
    """
    Insert a C{to} attribute into the start tag of the serialised element
    C{template} (named C{name}, no prefix, no C{to}), and C{extra} bytes
    before its end tag.
    """
    cut = len(name) + 1
    head = template[:cut] + _toAttribute(to)
    if not extra:
        return head + template[cut:]
    if template.endswith(b"/>"):
        return b"".join((head, template[cut:-2], b">", extra, b"</", name.encode("ascii"), b">"))
    end = len(name) + 3
    return b"".join((head, template[cut:-end], extra, template[-end:]))


@lru_cache(maxsize=16384)
def _toAttribute(to: str) -> bytes:
    """
    C{ to='...'}, quoted, for a recipient (cached: a room sends to the same
    occupants again and again; bounded, so a stream of new JIDs cannot grow
    it).
    """
    return b" to=" + quoteAttribute(to)


def element(
    name: str,
    to: str | None = None,
    sender: str | None = None,
    type: str | None = None,
    id: str | None = None,
) -> domish.Element:
    """
    A top-level element in the component namespace.
    """
    result = domish.Element((COMPONENT_NS, name))
    for attribute, value in (("to", to), ("from", sender), ("type", type), ("id", id)):
        if value is not None:
            result[attribute] = value
    return result


def errorReply(stanza: domish.Element, condition: str, type: str | None = None, text: str | None = None) -> Stanza | None:
    """
    The error reply to C{stanza} (from its C{to}, without its payload), or
    C{None} when it must not be answered.
    """
    return bounce(Stanza.fromElement(stanza), condition, type=type, text=text)


def errorList(stanza: domish.Element, condition: str, type: str, text: str | None) -> list[Outgoing]:
    """
    L{errorReply} as a list: empty when C{stanza} must not be answered.
    """
    reply = errorReply(stanza, condition, type, text)
    if reply is None:
        return []
    if stanza.name == "presence" and child(stanza, NS_MUC, "x") is not None:
        # A refused join echoes the MUC element (XEP-0045 examples 19-28),
        # by which clients (slixmpp's xep_0045) tell a join error.
        refused = reply.element()
        refused.addElement((NS_MUC, "x"))
        return [refused]
    return [reply]


def _parsedJid(value: str | None) -> JID | None:
    if not value:
        return None
    try:
        return JID(value)
    except (InvalidFormat, UnicodeError):
        return None


@lru_cache(maxsize=16384)
def preparedJid(address: str) -> JID | None:
    """
    C{address} parsed and prepared, or C{None} if it is not a JID.  Cached,
    since occupants send from the same addresses again and again; bounded,
    unlike Twisted's C{internJID}.
    """
    try:
        return JID(address)
    except (InvalidFormat, UnicodeError):
        return None


def addressing(stanza: domish.Element) -> tuple[str, str | None, str | None, str] | None:
    """
    (domain, room JID or C{None} for the service itself, nick, sender) of a
    stanza, with JIDs normalised; C{None} when an address is not a JID.
    """
    to = preparedJid(stanza.getAttribute("to", ""))
    sender = preparedJid(stanza.getAttribute("from", ""))
    if to is None or sender is None:
        return None
    room = to.userhost() if to.user else None
    return to.host, room, to.resource, sender.full()


def firstChild(stanza: domish.Element) -> domish.Element | None:
    """
    The first child element of a stanza (an iq's payload).
    """
    return next(iter(stanza.elements()), None)


def normalJid(value: str | None) -> str | None:
    """
    C{value} as a normalised JID, or C{None} if it is not a JID.
    """
    jid = _parsedJid(value)
    return None if jid is None else jid.full()


def normalBareJid(value: str | None) -> str | None:
    """
    The normalised bare JID of C{value}, or C{None} if it is not a JID.
    """
    jid = _parsedJid(value)
    return None if jid is None else jid.userhost()


def toOccupant(stanza: domish.Element) -> bool:
    """
    Whether a stanza is addressed to an occupant (C{room@service/nick}):
    such iqs are forwarded, whatever their payload, as Prosody forwards
    them (disco#info for capabilities, vCards, versions...).
    """
    jid = _parsedJid(stanza.getAttribute("to"))
    return jid is not None and jid.user is not None and jid.resource is not None


def mucUser(
    item: Mapping[str, str] | None = None,
    codes: Iterable[str] = (),
) -> domish.Element:
    """
    An C{<x xmlns='http://jabber.org/protocol/muc#user'>} with an optional
    C{<item/>} and C{<status code=''/>}s (sorted).
    """
    x = domish.Element((NS_MUC_USER, "x"))
    if item is not None:
        child = x.addElement("item")
        for key, value in item.items():
            child[key] = value
    for code in sorted(set(codes)):
        x.addElement("status")["code"] = code
    return x


def reason(content: str, uri: str = NS_MUC_USER) -> domish.Element:
    """
    A C{<reason/>} element.
    """
    result = domish.Element((uri, "reason"))
    result.addContent(content)
    return result


def child(parent: domish.Element, uri: str, name: str) -> domish.Element | None:
    """
    The first child element of C{parent} with this name and namespace.
    """
    for candidate in parent.elements(uri, name):
        return candidate
    return None


def text(parent: domish.Element | None, uri: str, name: str) -> str | None:
    """
    The text of the first such child, or C{None} if there is none.
    """
    found = None if parent is None else child(parent, uri, name)
    return None if found is None else str(found)


def formatStamp(when: float) -> str:
    """
    A XEP-0082 UTC timestamp.
    """
    moment = datetime.fromtimestamp(when, timezone.utc)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parseStamp(value: str) -> float:
    """
    A XEP-0082 timestamp as POSIX time.

    @raise ValueError: C{value} is not one.
    """
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def delay(when: float, sender: str) -> domish.Element:
    """
    A XEP-0203 C{<delay/>}.
    """
    result = domish.Element((NS_DELAY, "delay"))
    result["stamp"] = formatStamp(when)
    result["from"] = sender
    return result

