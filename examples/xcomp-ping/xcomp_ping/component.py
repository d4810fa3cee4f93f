# -*- test-case-name: xcomp_ping.test.test_component -*-
"""
A XEP-0199 ping responder with a service discovery identity, written as
ordinary wokkel handlers on an xcomp internal component.  Its options
(C{name}, C{pong_interval}) are declared in the plugin file, so xcomp
converts them and reports a wrong value at its own line.
"""

from __future__ import annotations

from typing import Mapping

from twisted.internet import task
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.words.protocols.jabber.jid import JID
from twisted.words.xish import domish

from xcomp.interfaces import IRouter
from xcomp.plugin import InternalComponent, disco, implementer, subprotocols

NS_PING = "urn:xmpp:ping"


@implementer(disco.IDisco)
class PingHandler(subprotocols.XMPPHandler, subprotocols.IQHandlerMixin):
    """
    Answers pings addressed to the component, and says so in disco.
    """

    iqHandlers = {f"/iq[@type='get']/ping[@xmlns='{NS_PING}']": "onPing"}

    def __init__(self, name: str, pongInterval: float, reactor: IReactorTime) -> None:
        super().__init__()
        self.name = name
        self.pongInterval = pongInterval
        self.reactor = reactor

    def connectionInitialized(self) -> None:
        self.xmlstream.addObserver(next(iter(self.iqHandlers)), self.handleRequest)

    def onPing(self, iq: domish.Element) -> Deferred[None] | None:
        """
        An empty result is the answer to a ping, sent after C{pong_interval}
        seconds when that is set.
        """
        if self.pongInterval:
            return task.deferLater(self.reactor, self.pongInterval, lambda: None)
        return None

    def getDiscoInfo(self, requestor: JID, target: JID, nodeIdentifier: str = "") -> list[object]:
        if nodeIdentifier:
            return []
        # Every entity advertises disco#info (XEP-0030), with its own features.
        return [
            disco.DiscoIdentity("component", "generic", self.name),
            disco.DiscoFeature(disco.NS_DISCO_INFO),
            disco.DiscoFeature(NS_PING),
        ]

    def getDiscoItems(self, requestor: JID, target: JID, nodeIdentifier: str = "") -> list[object]:
        return []


def makeComponent(domain: str, options: Mapping[str, object], router: IRouter) -> InternalComponent:
    """
    The plugin's factory: one component per C{Component "x" "ping"}.  The
    declared options arrive converted (C{pong_interval} a float), with
    their defaults when unset.
    """
    name, interval = options["name"], options["pong_interval"]
    assert isinstance(name, str) and isinstance(interval, float)
    component = InternalComponent(domain, router)
    PingHandler(name, interval, router.reactor).setHandlerParent(component)
    disco.DiscoHandler().setHandlerParent(component)
    return component
