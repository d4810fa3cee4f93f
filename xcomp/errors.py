# -*- test-case-name: xcomp.test.test_errors -*-
"""
Error bounces (RFC 6120 section 8.3) and stream errors (section 4.9).

The policy is Prosody's: an error stanza or an iq result is never answered,
and a bounce carries the addressing, the id and the error, not the original
payload, so a refused stanza is never echoed back whole.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from twisted.words.protocols.jabber.error import NS_XMPP_STANZAS, NS_XMPP_STREAMS, StanzaError
from twisted.words.xish import domish

from xcomp.stanza import COMPONENT_NS, Stanza

NS_PROSODY_COMPONENT = "xmpp:prosody.im/protocol/component"

#: Conditions of RFC 6120 section 4.9.3; anything else is a programming error.
STREAM_CONDITIONS = frozenset(
    """bad-format bad-namespace-prefix conflict connection-timeout host-gone
    host-unknown improper-addressing internal-server-error invalid-from
    invalid-namespace invalid-xml not-authorized not-well-formed
    policy-violation remote-connection-failed reset resource-constraint
    restricted-xml see-other-host system-shutdown undefined-condition
    unsupported-encoding unsupported-feature unsupported-stanza-type
    unsupported-version""".split()
)


def mayAnswer(stanza: Stanza) -> bool:
    """
    Whether C{stanza} may be answered with an error at all.
    """
    kind = stanza.type
    return kind != "error" and not (stanza.name == "iq" and kind == "result")


def bounce(
    stanza: Stanza,
    condition: str,
    *,
    type: str | None = None,
    text: str | None = None,
    appCondition: domish.Element | None = None,
) -> Stanza | None:
    """
    The error reply to C{stanza}, or C{None} when it must not be answered.

    @param condition: an RFC 6120 section 8.3.3 stanza error condition.
    @param type: the error type; the condition's usual type when C{None}.
    """
    if not mayAnswer(stanza):
        return None
    reply = domish.Element((COMPONENT_NS, stanza.name))
    sender, recipient, stanzaId = stanza.sender, stanza.to, stanza.id
    if sender:
        reply["to"] = sender
    if recipient:
        reply["from"] = recipient
    if stanzaId:
        reply["id"] = stanzaId
    reply["type"] = "error"
    reply.addChild(StanzaError(condition, type, text, appCondition=appCondition).getElement())
    return Stanza.fromElement(reply)


def notConnected() -> domish.Element:
    """
    Prosody's application condition for a configured component that is not
    connected, which bridges such as biboumi recognise.
    """
    return domish.Element((NS_PROSODY_COMPONENT, "not-connected"))


def streamErrorBytes(condition: str, text: str | None = None) -> bytes:
    """
    A stream error element followed by the closing stream tag.

    @param condition: one of L{STREAM_CONDITIONS}.
    """
    if condition not in STREAM_CONDITIONS:
        raise ValueError(f"not a stream error condition: {condition!r}")
    parts = [f"<stream:error><{condition} xmlns='{NS_XMPP_STREAMS}'/>"]
    if text:
        parts.append(f"<text xmlns='{NS_XMPP_STREAMS}'>{escape(text)}</text>")
    parts.append("</stream:error></stream:stream>")
    return "".join(parts).encode("utf-8")


__all__ = [
    "NS_PROSODY_COMPONENT",
    "NS_XMPP_STANZAS",
    "STREAM_CONDITIONS",
    "bounce",
    "mayAnswer",
    "notConnected",
    "streamErrorBytes",
]
