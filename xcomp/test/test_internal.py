"""
Tests for L{xcomp.internal}: wokkel handlers over the router, with delivery
on the next reactor turn.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from twisted.words.xish import domish
from zope.interface.verify import verifyObject

from xcomp._wokkel import subprotocols
from xcomp.interfaces import IInternalComponent, IRoute
from xcomp.internal import InternalComponent
from xcomp.router import Router
from xcomp.stanza import COMPONENT_NS, Stanza
from xcomp.test.helpers import FakeRoute, errorCondition, stanza


class EchoHandler(subprotocols.XMPPHandler, subprotocols.IQHandlerMixin):
    """
    Echoes message bodies at once, and answers version iqs.
    """

    iqHandlers = {"/iq[@type='get']/query[@xmlns='jabber:iq:version']": "onVersion"}

    def __init__(self) -> None:
        super().__init__()
        self.initialized = 0

    def connectionInitialized(self) -> None:
        self.initialized += 1
        self.xmlstream.addObserver("/message", self.onMessage)
        self.xmlstream.addObserver(next(iter(self.iqHandlers)), self.handleRequest)

    def onMessage(self, message: domish.Element) -> None:
        reply = domish.Element((COMPONENT_NS, "message"))
        reply["to"] = message["from"]
        reply.addElement("body", content=str(next(message.elements(COMPONENT_NS, "body"))))
        self.send(reply)

    def onVersion(self, iq: domish.Element) -> domish.Element:
        query = domish.Element(("jabber:iq:version", "query"))
        query.addElement("name", content="echo")
        return query


class InternalComponentTests(SynchronousTestCase):
    """
    An internal component between a router and wokkel handlers.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.router = Router(self.clock)
        self.component = InternalComponent("echo.example", self.router)
        self.handler = EchoHandler()
        self.handler.setHandlerParent(self.component)
        self.router.addHost("echo.example", self.component.route)
        self.peer = FakeRoute("peer.example")
        self.router.bind("peer.example", self.peer)

    def test_interfaces(self) -> None:
        """
        The component provides L{IInternalComponent}; its route L{IRoute}.
        """
        self.assertTrue(verifyObject(IInternalComponent, self.component))
        self.assertTrue(verifyObject(IRoute, self.component.route))

    def test_handlersConnectedOnStart(self) -> None:
        """
        Handlers get C{connectionInitialized} when the service starts, and a
        handler added later gets it at once.
        """
        self.assertEqual(self.handler.initialized, 0)
        self.component.startService()
        self.assertEqual(self.handler.initialized, 1)
        late = EchoHandler()
        late.setHandlerParent(self.component)
        self.assertEqual(late.initialized, 1)
        self.assertIs(late.xmlstream, self.component.xmlstream)

    def test_deliveryOnNextTurn(self) -> None:
        """
        A stanza routed to the component reaches its handlers on the next
        reactor turn, not inside L{Router.route}; the answer goes back
        through the router, from the component's domain.
        """
        self.component.startService()
        self.router.route(stanza("<message to='echo.example' from='a@peer.example/r'><body>hi</body></message>"))
        self.assertEqual(self.peer.sent, [])
        self.clock.advance(0)
        [reply] = self.peer.sent
        self.assertEqual(reply.sender, "echo.example")
        self.assertEqual(reply.to, "a@peer.example/r")
        self.assertIn(b"<body>hi</body>", reply.toBytes())

    def test_iqHandlerMixin(self) -> None:
        """
        wokkel's C{IQHandlerMixin} answers with a result carrying the
        handler's payload.
        """
        self.component.startService()
        self.router.route(
            stanza("<iq type='get' id='v' to='echo.example' from='a@peer.example/r'>"
                   "<query xmlns='jabber:iq:version'/></iq>")
        )
        self.clock.advance(0)
        [reply] = self.peer.sent
        self.assertEqual((reply.type, reply.id), ("result", "v"))
        self.assertIn(b"<name>echo</name>", reply.toBytes())

    def test_unhandledIq(self) -> None:
        """
        An iq get no handler takes is answered with C{service-unavailable}.
        """
        self.component.startService()
        self.router.route(
            stanza("<iq type='get' id='x' to='echo.example' from='a@peer.example/r'><query xmlns='urn:x'/></iq>")
        )
        self.clock.advance(0)
        [reply] = self.peer.sent
        self.assertEqual(errorCondition(reply), ("cancel", "service-unavailable"))

    def test_iqWithoutOnePayload(self) -> None:
        """
        An iq get or set with no child element, or with two, is answered
        with C{bad-request} (RFC 6120 8.2.3) and reaches no handler, even
        one that would take its first child.
        """
        self.component.startService()
        for payload in ["", "<query xmlns='jabber:iq:version'/><query xmlns='jabber:iq:version'/>"]:
            self.peer.sent.clear()
            self.router.route(
                stanza("<iq type='get' id='b' to='echo.example' from='a@peer.example/r'>"
                       f"{payload}</iq>")
            )
            self.clock.advance(0)
            [reply] = self.peer.sent
            self.assertEqual(errorCondition(reply), ("modify", "bad-request"))

    def test_unhandledResultIgnored(self) -> None:
        """
        An iq result nobody waits for is dropped, not answered.
        """
        self.component.startService()
        self.router.route(stanza("<iq type='result' id='x' to='echo.example' from='a@peer.example/r'/>"))
        self.clock.advance(0)
        self.assertEqual(self.peer.sent, [])

    def test_notRunning(self) -> None:
        """
        A stanza for a component that is not running is answered with
        C{remote-server-timeout}, as for a disconnected component.
        """
        self.router.route(stanza("<message id='m' to='echo.example' from='a@peer.example/r'><body/></message>"))
        self.clock.advance(0)
        [reply] = self.peer.sent
        self.assertEqual(errorCondition(reply), ("wait", "remote-server-timeout"))

    def test_sendStanza(self) -> None:
        """
        A L{Stanza} sent by the component is routed as it is.
        """
        ready = Stanza("message", COMPONENT_NS, {"to": "b@peer.example", "from": "echo.example"}, b"<message/>")
        self.component.send(ready)
        self.assertEqual(self.peer.sent, [ready])

    def test_sendText(self) -> None:
        """
        Serialised XML cannot be sent: it is a programming error.
        """
        self.assertRaises(TypeError, self.component.send, "<message/>")

    def test_stopDisconnectsHandlers(self) -> None:
        """
        Stopping the service calls C{connectionLost} on each handler.
        """
        self.component.startService()
        self.component.stopService()
        self.assertIsNone(self.handler.xmlstream)
