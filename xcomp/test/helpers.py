# -*- test-case-name: xcomp.test.test_router -*-
"""
Test doubles for xcomp and for authors of internal components: a route that
records what it is sent, and small builders for stanzas.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import attrs
from zope.interface import implementer

from xcomp.config import ComponentConfig, RouterConfig, VirtualHostConfig
from xcomp.interfaces import IStreamRoute
from xcomp.stanza import Stanza
from xcomp.testing import stanzaFromXml


def stanza(xml: str | bytes) -> Stanza:
    """
    A L{Stanza} as the stream parser would make it from C{xml}, which is one
    element in the component namespace (L{xcomp.testing.stanzaFromXml}).
    """
    return stanzaFromXml(xml)


@implementer(IStreamRoute)
@attrs.define(eq=False)
class FakeRoute:
    """
    An external component's stream that records what the router does to it.

    @ivar sent: the stanzas delivered, in order.
    @ivar closed: the stream error condition it was closed with, if any.
    """

    domain: str
    domains: frozenset[str] = attrs.field(default=None)
    checkFrom: bool = True
    peer: str = "127.0.0.1:1"
    sent: list[Stanza] = attrs.field(factory=list)
    closed: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.domains is None:
            self.domains = frozenset({self.domain})

    def send(self, stanza: Stanza) -> None:
        if self.closed is not None:
            raise AssertionError(f"{stanza!r} sent to {self.domain} after it was closed")
        self.sent.append(stanza)

    def close(self, condition: str, text: str | None = None) -> None:
        self.closed = condition

    def sentBytes(self) -> list[bytes]:
        """
        What was delivered, as the bytes a stream would write.
        """
        return [s.toBytes() for s in self.sent]


def errorCondition(reply: Stanza) -> tuple[str | None, str | None]:
    """
    The (type, condition) of an error stanza.
    """
    # By name: a parsed error is in the stanza's namespace, a built one in none.
    error = next(e for e in reply.element().elements() if e.name == "error")
    conditions: Iterable = (
        c.name for c in error.elements() if c.uri == "urn:ietf:params:xml:ns:xmpp-stanzas"
    )
    return error.getAttribute("type"), next(iter(conditions), None)


def makeConfig(
    components: Mapping[str, Mapping[str, object]] = {},
    virtualHosts: Iterable[str] = (),
    **settings: object,
) -> RouterConfig:
    """
    A L{RouterConfig} built in code: each component from its keyword
    settings (C{secret} at least), each VirtualHost by name.
    """
    return RouterConfig(
        components={d: ComponentConfig(domain=d, **kw) for d, kw in components.items()},  # type: ignore[arg-type]
        virtualHosts={d: VirtualHostConfig(domain=d) for d in virtualHosts},
        **settings,  # type: ignore[arg-type]
    )
