# -*- test-case-name: xcomp.test.test_claims,xcomp.test.test_listenopts -*-
"""
Who may bind which domain, and how it proves it: the claim a stream header
makes (L{claimDomains}) and the XEP-0114 handshake that settles it
(L{handshakeDigest}, L{handshakeValue}).

A configured component proves its right with its own secret, never with a
listener's C{password}.  The password opens only domains the configuration
does not know, and only those C{password_domains} allows.  A VirtualHost's
or an internal component's domain is served by the router itself and
cannot be claimed at all.  Nothing here reads the routing table: a domain
the router serves without the configuration knowing it is the router's to
refuse when the stream binds.
"""

from __future__ import annotations

import hmac
import re
from hashlib import sha1
from typing import Iterable

import attrs

from xcomp.config import ComponentConfig, ListenerConfig, RouterConfig
from xcomp.hold import HoldPolicy
from xcomp.stanza import Stanza

__all__ = [
    "Binding",
    "Claim",
    "Refused",
    "claimDomains",
    "handshakeDigest",
    "handshakeValue",
    "passwordMayClaim",
]


_PLAIN_HANDSHAKE = re.compile(rb"<handshake>\s*([0-9A-Fa-f]{40})\s*</handshake>")


def handshakeValue(stanza: Stanza) -> bytes:
    """
    The digest a C{<handshake>} carries, lower-cased, as bytes: read from
    the bytes received when it is the usual plain hex (no parse), else from
    the element's text.
    """
    match = _PLAIN_HANDSHAKE.fullmatch(stanza.raw) if stanza.raw is not None else None
    if match is not None:
        return match.group(1).lower()
    return str(stanza.element()).strip().lower().encode("utf-8")


def handshakeDigest(streamId: str, secret: str) -> bytes:
    """
    The XEP-0114 handshake value: hex SHA-1 of the stream id and the secret.
    """
    return sha1((streamId + secret).encode("utf-8")).hexdigest().encode("ascii")


class Refused(Exception):
    """
    A stream header names a domain this listener will not bind.

    @ivar condition: The stream error to answer with: C{host-unknown} for a
        domain nobody may claim here, C{not-authorized} for one the
        listener's password may not claim.
    @ivar text: Why, for the stream error's text and the log.
    """

    def __init__(self, condition: str, text: str) -> None:
        """
        @param condition: See L{condition}.
        @param text: See L{text}.
        """
        super().__init__(condition, text)
        self.condition = condition
        self.text = text


@attrs.frozen
class Binding:
    """
    One domain a stream will bind once its handshake succeeds.

    @ivar domain: The domain.
    @ivar kickOld: The conflict policy is C{kick_old}.
    @ivar hidden: Leave it out of disco#items.
    @ivar hold: What happens to its stanzas while it is away.
    @ivar balance: The conflict policy is C{balance}: the domain is shared
        with its other connections.
    """

    domain: str
    kickOld: bool
    hidden: bool
    hold: HoldPolicy | None = None
    balance: bool = False


@attrs.frozen
class Claim:
    """
    What a stream header asked for, once the listener has allowed it: the
    domains, and the secret that proves the right to them.

    @ivar secret: The secret the handshake must be made with; never shown.
    @ivar bindings: The domains, all bound or none.
    @ivar stanzaSizeLimit: The largest stanza the stream may send.
    @ivar checkFrom: Whether a stanza's C{from} must be within the domains.
    """

    secret: str = attrs.field(repr=False)
    bindings: tuple[Binding, ...]
    stanzaSizeLimit: int
    checkFrom: bool


def passwordMayClaim(patterns: Iterable[str] | None, domain: str) -> bool:
    """
    Whether a listener's C{password_domains} lets its password claim
    C{domain}: an exact domain, or C{"*.example.org"} for any subdomain of
    C{example.org} (at any depth, but not C{example.org} itself).

    @param patterns: The nameprep'd patterns; L{None} allows every domain.
    @param domain: A nameprep'd domain.
    """
    if patterns is None:
        return True
    for pattern in patterns:
        if pattern.startswith("*."):
            if domain.endswith(pattern[1:]):
                return True
        elif domain == pattern:
            return True
    return False


def claimDomains(config: RouterConfig, listener: ListenerConfig, domains: list[str]) -> Claim:
    """
    Decide whether a stream on C{listener} may bind C{domains}, and how.

    A configured component authenticates with its own secret; any other
    domain with the listener's C{password}, if it has one and its
    C{password_domains} allow the domain, except a VirtualHost or an
    internal component's domain.  All the domains of one stream must share
    their secret, and a stream either claims configured components or
    domains opened by the password, never both: the password never takes
    part in binding a configured component, even when it happens to equal
    the component's secret.

    @return: The claim.
    @raise Refused: With the stream error and the reason.
    """
    for domain in domains:
        # Before anything else, so that a stream covering one of them is
        # answered as Prosody answers for a host that is not a component.
        component = config.components.get(domain)
        served = component is not None and not isinstance(component, ComponentConfig)
        if served or domain in config.virtualHosts:
            raise Refused("host-unknown", f"{domain} is served by the router itself")
    secret: str | None = None
    byPassword: bool | None = None
    bindings = []
    limits = []
    checkFrom = False
    for domain in domains:
        component = config.components.get(domain)
        if isinstance(component, ComponentConfig):
            own = component.secret
            limits.append(component.stanzaSizeLimit)
            check = component.validateFrom
            conflict = component.conflictResolve
            hidden = False
            opened = False
            hold = (component.holdTime, component.holdStanzas, component.holdBytes)
        elif not listener.password:
            raise Refused("host-unknown", "No such component is configured")
        elif not passwordMayClaim(listener.passwordDomains, domain):
            raise Refused("not-authorized", f"{domain} may not be bound with this listener's password")
        else:
            own = listener.password
            check = config.validateFrom
            conflict = config.conflictResolve
            hidden = config.discoHidden
            opened = True
            hold = (config.holdTime, config.holdStanzas, config.holdBytes)
        if byPassword is not None and byPassword != opened:
            raise Refused(
                "not-authorized",
                "is_subdomain: configured components cannot share a stream with other domains",
            )
        if secret is not None and not hmac.compare_digest(own.encode(), secret.encode()):
            raise Refused("host-unknown", "is_subdomain: the domains do not share one secret")
        secret, byPassword = own, opened
        if listener.checkFrom is not None:
            check = listener.checkFrom
        checkFrom = checkFrom or check
        policy = listener.conflictResolve or conflict
        bindings.append(
            Binding(
                domain,
                policy == "kick_old",
                hidden or listener.hiddenComponents,
                HoldPolicy(
                    hold[0] if listener.holdTime is None else listener.holdTime,
                    listener.holdStanzas or hold[1],
                    listener.holdBytes or hold[2],
                ),
                policy == "balance",
            )
        )
    assert secret is not None
    limit = listener.stanzaSizeLimit or (min(limits) if limits else config.stanzaSizeLimit)
    return Claim(secret, tuple(bindings), limit, checkFrom)
