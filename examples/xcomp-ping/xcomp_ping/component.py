# -*- test-case-name: xcomp_ping.test.test_component -*-
"""
A XEP-0199 ping responder with a service discovery identity, written as
ordinary wokkel handlers on an xcomp internal component.
"""

from __future__ import annotations

from typing import Mapping

from twisted.words.protocols.jabber.jid import JID
from twisted.words.xish import domish
from zope.interface import implementer

from xcomp.interfaces import IRouter
from xcomp.plugin import InternalComponent, disco, subprotocols

NS_PING = "urn:xmpp:ping"


@implementer(disco.IDisco)
class PingHandler(subprotocols.XMPPHandler, subprotocols.IQHandlerMixin):
    """
    Answers pings addressed to the component, and says so in disco.
    """

    iqHandlers = {f"/iq[@type='get']/ping[@xmlns='{NS_PING}']": "onPing"}

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def connectionInitialized(self) -> None:
        self.xmlstream.addObserver(next(iter(self.iqHandlers)), self.handleRequest)

    def onPing(self, iq: domish.Element) -> None:
        """
        An empty result is the answer to a ping.
        """
        return None

    def getDiscoInfo(self, requestor: JID, target: JID, nodeIdentifier: str = "") -> list[object]:
        if nodeIdentifier:
            return []
        return [disco.DiscoIdentity("component", "generic", self.name), disco.DiscoFeature(NS_PING)]

    def getDiscoItems(self, requestor: JID, target: JID, nodeIdentifier: str = "") -> list[object]:
        return []


def makeComponent(domain: str, options: Mapping[str, object], router: IRouter) -> InternalComponent:
    """
    The plugin's factory: one component per C{Component "x" "ping"}.

    @raise ValueError: the C{name} option is not a string.
    """
    name = options.get("name", "Ping responder")
    if not isinstance(name, str):
        raise ValueError(f"name: {name!r} is not a string")
    component = InternalComponent(domain, router)
    PingHandler(name).setHandlerParent(component)
    disco.DiscoHandler().setHandlerParent(component)
    return component
