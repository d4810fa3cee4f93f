# -*- test-case-name: xcomp.test.test_hosts -*-
"""
The route for a configured VirtualHost.

xcomp serves no clients, so a VirtualHost domain is only a name the router
knows: it answers service discovery about the components below it, and
anything else addressed to it or its users is refused with
C{service-unavailable} (RFC 6120 section 10.5.3 and 10.4.3's advice to not
reveal whether an account exists).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.xish import domish
from zope.interface import implementer

from xcomp.errors import bounce
from xcomp.interfaces import IRoute
from xcomp.stanza import COMPONENT_NS, Stanza

if TYPE_CHECKING:
    from xcomp.router import Router

NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items"


@implementer(IRoute)
@attrs.define
class LocalHost:
    """
    A VirtualHost's route.

    @ivar name: the identity name in disco#info (the host's C{name} option).
    """

    domain: str
    router: Router
    name: str = "xcomp"

    def send(self, stanza: Stanza) -> None:
        # Next reactor turn: an answer must not re-enter Router.route().
        self.router.reactor.callLater(0, self._process, stanza)

    def _process(self, stanza: Stanza) -> None:
        try:
            reply = self.answer(stanza)
        except StanzaError as e:
            reply = bounce(stanza, e.condition, type=e.type, text=e.text)
        if reply is not None:
            self.router.route(reply)

    def answer(self, stanza: Stanza) -> Stanza | None:
        """
        The reply to C{stanza}, or C{None} when it gets none.

        @raise StanzaError: the stanza is refused with this error.
        """
        if stanza.name == "iq" and stanza.type == "get" and stanza.to == self.domain:
            query = _payload(stanza.element())
            if query is not None and query.name == "query":
                if query.uri == NS_DISCO_INFO:
                    return self._reply(stanza, self._info(query))
                if query.uri == NS_DISCO_ITEMS:
                    return self._reply(stanza, self._items(query))
        return bounce(stanza, "service-unavailable")

    def _info(self, request: domish.Element) -> domish.Element:
        if request.getAttribute("node"):
            raise StanzaError("item-not-found")
        query = domish.Element((NS_DISCO_INFO, "query"))
        identity = query.addElement("identity")
        identity["category"], identity["type"], identity["name"] = "server", "im", self.name
        for feature in (NS_DISCO_INFO, NS_DISCO_ITEMS):
            query.addElement("feature")["var"] = feature
        return query

    def _items(self, request: domish.Element) -> domish.Element:
        if request.getAttribute("node"):
            raise StanzaError("item-not-found")
        query = domish.Element((NS_DISCO_ITEMS, "query"))
        for domain, name in self.router.componentsUnder(self.domain):
            item = query.addElement("item")
            item["jid"] = domain
            if name:
                item["name"] = name
        return query

    def _reply(self, request: Stanza, payload: domish.Element) -> Stanza:
        reply = domish.Element((COMPONENT_NS, "iq"))
        reply["type"] = "result"
        reply["from"] = self.domain
        if request.sender:
            reply["to"] = request.sender
        if request.id:
            reply["id"] = request.id
        reply.addChild(payload)
        return Stanza.fromElement(reply)


def _payload(element: domish.Element) -> domish.Element | None:
    """
    The single child element of an iq, or C{None}.
    """
    children = [c for c in element.elements()]
    return children[0] if len(children) == 1 else None
