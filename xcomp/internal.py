# -*- test-case-name: xcomp.test.test_internal -*-
"""
Internal components: wokkel's handler model over the router.

An L{InternalComponent} is a collection of ordinary wokkel
L{XMPPHandler<wokkel.subprotocols.XMPPHandler>}s (C{IQHandlerMixin},
C{DiscoHandler}, data forms...) and a service.  Its handlers see an
L{InternalStream} as their C{xmlstream}: they add XPath observers to it and
send elements through their parent as over any XML stream.  The router
reaches the component through L{InternalComponent.route}, which hands each
stanza over on the next reactor turn, so a handler that answers at once
never re-enters L{Router.route<xcomp.router.Router.route>}
(ARCHITECTURE.md, decision 5).
"""

from __future__ import annotations

from typing import Union

import attrs
from twisted.application.service import Service
from twisted.words.protocols.jabber.xmlstream import XMPPHandlerCollection
from twisted.words.xish import domish
from twisted.words.xish.utility import EventDispatcher
from zope.interface import implementer

from xcomp.errors import bounce
from xcomp.interfaces import IInternalComponent, IRoute, IRouter
from xcomp.logsinks import Logger
from xcomp.stanza import Stanza

__all__ = ["InternalComponent", "InternalStream", "NextTurnRoute"]

Outgoing = Union[domish.Element, Stanza]


class InternalStream(EventDispatcher):
    """
    What the handlers of an L{InternalComponent} use as their
    C{xmlstream}: observers are added to it, stanzas for the component are
    dispatched on it, and what is sent on it goes to the router.
    """

    def __init__(self, component: InternalComponent) -> None:
        super().__init__()
        self._component = component

    def send(self, obj: Outgoing) -> None:
        """
        Send an element (or a L{Stanza}) out through the router.
        """
        self._component.send(obj)


@implementer(IRoute)
@attrs.define(eq=False)
class NextTurnRoute:
    """
    The route of an internal component: delivery on the next reactor turn.
    """

    domain: str
    component: InternalComponent

    def send(self, stanza: Stanza) -> None:
        self.component.router.reactor.callLater(0, self.component.receive, stanza)


@implementer(IInternalComponent)
class InternalComponent(XMPPHandlerCollection, Service):
    """
    An in-process component: a service holding wokkel handlers.

    Handlers added with C{handler.setHandlerParent(component)} are connected
    to L{xmlstream} when the service starts (or at once, if it is running).
    An iq C{get} or C{set} that no handler marks as handled is answered with
    C{service-unavailable}, as wokkel's C{FallbackHandler} would.

    @ivar domain: the nameprep'd domain.
    @ivar router: the L{IRouter}.
    @ivar xmlstream: the L{InternalStream} the handlers use.
    @ivar route: the L{NextTurnRoute} to install in the router.
    """

    _log = Logger()

    def __init__(self, domain: str, router: IRouter) -> None:
        XMPPHandlerCollection.__init__(self)
        self.domain = domain
        self.router = router
        self.xmlstream = InternalStream(self)
        self.route = NextTurnRoute(domain, self)
        self.setName(domain)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.domain}>"

    # Handlers

    def addHandler(self, handler: object) -> None:
        """
        Add a handler; connect it at once when the component is running.
        """
        XMPPHandlerCollection.addHandler(self, handler)
        if self.running:
            handler.makeConnection(self.xmlstream)  # type: ignore[attr-defined]
            handler.connectionInitialized()  # type: ignore[attr-defined]

    def startService(self) -> None:
        """
        Connect every handler.  A subclass that overrides this must call it.
        """
        Service.startService(self)
        for handler in self:
            handler.makeConnection(self.xmlstream)
            handler.connectionInitialized()

    def stopService(self) -> object:
        """
        Disconnect every handler.  A subclass that overrides this must call
        it, and may return a L{Deferred} that fires when it has stopped.
        """
        for handler in self:
            handler.connectionLost(None)
        return Service.stopService(self)

    # Traffic

    def send(self, obj: Outgoing) -> None:
        """
        Route an element or a L{Stanza} sent by a handler.  An element
        without C{from} is sent from L{domain}.
        """
        if isinstance(obj, Stanza):
            self.router.route(obj)
            return
        if not isinstance(obj, domish.Element):
            raise TypeError(f"an internal component sends elements or Stanzas, not {type(obj).__name__}")
        if not obj.getAttribute("from"):
            obj["from"] = self.domain
        self.router.route(Stanza.fromElement(obj))

    def receive(self, stanza: Stanza) -> None:
        """
        Dispatch a stanza the router delivered to the handlers' observers.
        """
        if not self.running:
            reply = bounce(stanza, "remote-server-timeout", type="wait")
            if reply is not None:
                self.router.route(reply)
            return
        element = stanza.element()
        if element.name == "iq" and element.getAttribute("type") in ("get", "set"):
            # RFC 6120 8.2.3: exactly one payload.  Handlers look at the
            # first child; with more, that could be the wrong one.
            if sum(1 for _ in element.elements()) != 1:
                reply = bounce(stanza, "bad-request", text="An iq get or set has one payload")
                if reply is not None:
                    self.router.route(reply)
                return
        element.handled = False  # type: ignore[attr-defined]  # wokkel's flag, set on the element
        self.xmlstream.dispatch(element)
        if (
            element.name == "iq"
            and element.getAttribute("type") in ("get", "set")
            and not element.handled
        ):
            reply = bounce(stanza, "service-unavailable")
            if reply is not None:
                self.router.route(reply)
