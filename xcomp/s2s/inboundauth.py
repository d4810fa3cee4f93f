# -*- test-case-name: xcomp.test.test_s2s_inbound,xcomp.test.test_s2s_inbound_auth -*-
"""
What an incoming s2s stream says and decides while a remote server
authenticates: the namespaces, the stream features it offers, the policy
of which remote domains may use dialback (Prosody's C{s2s_secure_auth},
C{s2s_secure_domains}, C{s2s_insecure_domains}), SASL EXTERNAL's
authorization identity (XEP-0178), and the dialback elements (XEP-0220).

Pure functions over values: the stream (L{xcomp.s2s.inbound}) owns the
state and the I/O.
"""

from __future__ import annotations

import base64
import binascii

import attrs
from twisted.words.protocols.jabber.error import NS_XMPP_STANZAS

from xcomp.config.model import S2SConfig
from xcomp.stanza import Stanza, quoteAttribute

__all__ = [
    "DIALBACK_FEATURE_NS",
    "DIALBACK_NS",
    "SASL_NS",
    "SERVER_NS",
    "TLS_NS",
    "SASLRefused",
    "dialbackAllowed",
    "dialbackResult",
    "dialbackVerified",
    "externalAuthzid",
    "features",
    "saslFailure",
]

SERVER_NS = "jabber:server"
DIALBACK_NS = "jabber:server:dialback"
DIALBACK_FEATURE_NS = "urn:xmpp:features:dialback"
TLS_NS = "urn:ietf:params:xml:ns:xmpp-tls"
SASL_NS = "urn:ietf:params:xml:ns:xmpp-sasl"

#: The STARTTLS answers (RFC 6120 5.4.2).
TLS_PROCEED = b"<proceed xmlns='%s'/>" % TLS_NS.encode()
TLS_FAILURE = b"<failure xmlns='%s'/>" % TLS_NS.encode()
#: SASL success (RFC 6120 6.4.6).
SASL_SUCCESS = b"<success xmlns='%s'/>" % SASL_NS.encode()


def dialbackAllowed(config: S2SConfig, remote: str | None) -> bool:
    """
    Whether C{remote} may authenticate with dialback rather than a
    certificate, as Prosody decides it: never for a C{s2s_secure_domains}
    domain; with C{s2s_secure_auth}, only for a C{s2s_insecure_domains} one.

    @param remote: The remote domain, nameprep'd; L{None} when the stream
        header did not name it (it is judged again for each C{db:result}).
    """
    if remote is None:
        return not config.secureAuth or bool(config.insecureDomains)
    if remote in config.secureDomains:
        return False
    return not config.secureAuth or remote in config.insecureDomains


def features(*, starttls: bool = False, required: bool = False, external: bool = False, dialback: bool = False) -> bytes:
    """
    The C{<stream:features/>} element.

    @param starttls: Offer STARTTLS (with C{<required/>} if C{required}).
    @param external: Offer SASL EXTERNAL.
    @param dialback: Offer dialback, with XEP-0220's error support.
    """
    parts = [b"<stream:features>"]
    if starttls:
        parts.append(
            b"<starttls xmlns='%s'>%s</starttls>" % (TLS_NS.encode(), b"<required/>" if required else b"")
        )
    if external:
        parts.append(b"<mechanisms xmlns='%s'><mechanism>EXTERNAL</mechanism></mechanisms>" % SASL_NS.encode())
    if dialback:
        parts.append(b"<dialback xmlns='%s'><errors/></dialback>" % DIALBACK_FEATURE_NS.encode())
    parts.append(b"</stream:features>")
    return b"".join(parts)


@attrs.frozen
class SASLRefused(Exception):
    """
    An C{<auth/>} that cannot succeed, with the RFC 6120 6.5 condition.
    """

    condition: str


def externalAuthzid(auth: Stanza) -> str:
    """
    The authorization identity of a SASL EXTERNAL C{<auth/>}: the remote
    domain as the peer asserts it, or C{""} for "the identity of my
    certificate" (XEP-0178 section 3).

    @raise SASLRefused: Not EXTERNAL (C{invalid-mechanism}), no initial
        response (C{malformed-request}: RFC 6120 sends C{=} for an empty
        one), or not base64 (C{incorrect-encoding}).
    """
    if auth.attributes.get("mechanism") != "EXTERNAL":
        raise SASLRefused("invalid-mechanism")
    text = str(auth.element()).strip()
    if not text:
        raise SASLRefused("malformed-request")
    if text == "=":
        return ""
    try:
        decoded = base64.b64decode(text, validate=True)
        return decoded.decode("utf-8")
    except (binascii.Error, ValueError):
        raise SASLRefused("incorrect-encoding") from None


def saslFailure(condition: str) -> bytes:
    """
    A SASL C{<failure/>} with C{condition}.
    """
    return b"<failure xmlns='%s'><%s/></failure>" % (SASL_NS.encode(), condition.encode("ascii"))


def _addressing(local: str, remote: str) -> bytes:
    return b"from=%s to=%s" % (quoteAttribute(local), quoteAttribute(remote))


def dialbackResult(local: str, remote: str, result: str, condition: str | None = None, errorType: str = "cancel") -> bytes:
    """
    The receiving server's answer to C{<db:result/>} (XEP-0220 2.4).

    @param result: C{"valid"}, C{"invalid"} or C{"error"}.
    @param condition: For C{"error"}, the stanza error condition
        (C{item-not-found}, C{remote-server-not-found}, ...).
    """
    return _dialback(b"result", _addressing(local, remote), result, condition, errorType)


def dialbackVerified(local: str, remote: str, streamID: str, result: str, condition: str | None = None) -> bytes:
    """
    The authoritative server's answer to C{<db:verify/>} (XEP-0220 2.3):
    from the originating domain (ours) to the receiving one.
    """
    addressing = _addressing(local, remote) + b" id=" + quoteAttribute(streamID)
    return _dialback(b"verify", addressing, result, condition, "cancel")


def _dialback(name: bytes, addressing: bytes, result: str, condition: str | None, errorType: str) -> bytes:
    head = b"<db:%s %s type=%s" % (name, addressing, quoteAttribute(result))
    if condition is None:
        return head + b"/>"
    return head + b"><error type=%s><%s xmlns='%s'/></error></db:%s>" % (
        quoteAttribute(errorType),
        condition.encode("ascii"),
        NS_XMPP_STANZAS.encode(),
        name,
    )
