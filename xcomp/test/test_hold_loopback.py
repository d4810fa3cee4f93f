# -*- test-case-name: xcomp.test.test_hold_loopback -*-
"""
Holding over real loopback sockets: a slixmpp component restarted in the
middle of a stream of 10,000 messages from another component loses
nothing and sees them in order.
"""

from __future__ import annotations

from twisted.internet import defer, reactor
from twisted.logger import ILogObserver, LogEvent, globalLogPublisher
from twisted.trial.unittest import TestCase
from twisted.words.xish import domish
from zope.interface import implementer

from xcomp.config import ListenerConfig
from xcomp.service import RouterService
from xcomp.test.helpers import makeConfig
from xcomp.test.loopback import ComponentClient, freePort, startRouter
from xcomp.test.sinkprocess import WindowedSender, spawnSink
from xcomp.test.test_loopback import errorOf

SLIX = "slix.example.org"
TOTAL = 10_000


class RestartTests(TestCase):
    """
    A router with two components, C{tw.example.org} (Twisted's component
    client, the sender) and C{slix.example.org} (slixmpp, the receiver,
    which holds up to 20,000 stanzas).
    """

    timeout = 180

    def setUp(self) -> None:
        self.port = freePort()
        config = makeConfig(
            components={
                "tw.example.org": {"secret": "tw-secret"},
                SLIX: {"secret": "slix-secret", "holdStanzas": 20_000, "holdBytes": 16 * 1024 * 1024},
            },
            virtualHosts=["example.org"],
            listeners=(ListenerConfig(self.port, "127.0.0.1"),),
        )
        self.service = RouterService(config, reactor=reactor)
        self.service.startService()
        self.addCleanup(self.service.stopService)

    async def sync(self, client: ComponentClient, ident: str) -> domish.Element:
        """
        A disco#info round trip to the VirtualHost: once it is answered,
        the router has processed everything C{client} sent before.
        """
        client.send(
            f"<iq type='get' id='{ident}' from='tw.example.org' to='example.org'>"
            "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>"
        )
        return await client.next(lambda e: e.getAttribute("id") == ident)

    async def test_restartMidStream(self) -> None:
        """
        The receiver closes its stream after 3,000 messages and a new
        process connects for it; meanwhile 3,000 more are sent, which the
        router holds.  Across the two processes every one of the 10,000
        arrives exactly once and in order, and nothing is held at the end.
        """
        router = self.service.router
        tw = ComponentClient(reactor, "tw.example.org", "tw-secret")
        self.addCleanup(tw.disconnect)
        await tw.connect(self.port)
        sender = WindowedSender(tw, "tw.example.org", SLIX, TOTAL, window=500)

        first = spawnSink(self, reactor, sender.pump, SLIX, "slix-secret", self.port, stopAfter=3_000)
        sender.sinks.append(first)
        await first.waitFor(rb"READY")
        sender.pump()
        await first.waitFor(rb"CLOSING")
        sender.paused = True
        await first.ended()
        self.assertIsNotNone(router.holds.holding(SLIX))

        # The component is away: what is sent now is held.  Messages the
        # window let out before the pause may still be on their way in;
        # count only once the router has read all of them.
        await self.sync(tw, "sync0")
        before = router.heldTotal()
        sender.send(3_000)
        await self.sync(tw, "sync1")
        self.assertEqual(router.heldStanzas(), {SLIX: before + 3_000})

        second = spawnSink(self, reactor, sender.pump, SLIX, "slix-secret", self.port)
        sender.sinks.append(second)
        sender.paused = False
        await second.waitFor(rb"READY")
        sender.pump()
        await sender.done()

        received = [ident for _, ident in first.received + second.received]
        self.assertEqual(len(received), TOTAL)
        self.assertEqual(received, [str(n) for n in range(TOTAL)])
        self.assertGreaterEqual(len(second.received), 3_000)
        self.assertEqual(router.heldTotal(), 0)
        # Nothing came back to the sender but the answer to its query.
        self.assertEqual([e.getAttribute("id") for e in tw.received], ["sync0", "sync1"])

    def logged(self, text: str) -> defer.Deferred[None]:
        """
        Fire when this process logs an event whose format contains C{text}.
        """
        seen: defer.Deferred[None] = defer.Deferred()

        @implementer(ILogObserver)
        def observe(event: LogEvent) -> None:
            if text in str(event.get("log_format", "")) and not seen.called:
                seen.callback(None)

        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)
        return seen.addTimeout(60, reactor)

    async def test_crashedComponent(self) -> None:
        """
        A component killed without closing its stream (SIGKILL) while
        nothing was in flight to it: what is sent after the router noticed
        is held, and its next process gets all of it, in order.
        """
        router = self.service.router
        tw = ComponentClient(reactor, "tw.example.org", "tw-secret")
        self.addCleanup(tw.disconnect)
        await tw.connect(self.port)
        sender = WindowedSender(tw, "tw.example.org", SLIX, 2_000, window=500)
        first = spawnSink(self, reactor, sender.pump, SLIX, "slix-secret", self.port)
        sender.sinks.append(first)
        await first.waitFor(rb"READY")
        await sender.until(1_000)
        sender.paused = True
        await sender.until(sender.sent)
        held = self.logged("Holding stanzas for")
        first.signal("KILL")
        await held
        sender.send(1_000)
        await self.sync(tw, "sync2")
        self.assertEqual(router.heldStanzas(), {SLIX: 2_000 - len(first.received)})
        second = spawnSink(self, reactor, sender.pump, SLIX, "slix-secret", self.port)
        sender.sinks.append(second)
        await sender.done()
        received = [ident for _, ident in first.received + second.received]
        self.assertEqual(received, [str(n) for n in range(2_000)])


HOLD_CONFIG = """
component_ports = {{ {port} }}
component_hold_time = 0.5
VirtualHost "example.org"
Component "tw.example.org"
    component_secret = "tw-secret"
Component "gw.example.org"
    component_secret = "gw-secret"
    component_hold_stanzas = 2
Component "now.example.org"
    component_secret = "now-secret"
    component_hold_time = 0
Component "back.example.org"
    component_secret = "back-secret"
    component_hold_time = 60
"""


class HoldProcessTests(TestCase):
    """
    C{twistd xcomp} as its own process, from a Prosody-style file with the
    hold options, and Twisted's component clients.
    """

    timeout = 60

    async def setUp(self) -> None:  # type: ignore[override]
        self.port = freePort()
        self.child, _ = await startRouter(self, reactor, HOLD_CONFIG.format(port=self.port))
        self.tw = await self.connect("tw.example.org", "tw-secret")

    async def connect(self, domain: str, secret: str) -> ComponentClient:
        client = ComponentClient(reactor, domain, secret)
        self.addCleanup(client.disconnect)
        return await client.connect(self.port)

    async def answer(self, ident: str) -> domish.Element:
        """
        What came back to C{tw.example.org} about stanza C{ident}.
        """
        return await self.tw.next(lambda e: e.getAttribute("id") == ident)

    async def away(self, domain: str, secret: str) -> None:
        """
        C{domain} connects, then drops its connection; return once the
        router has logged that it is unbound.
        """
        client = await self.connect(domain, secret)
        await client.disconnect()
        await self.child.waitFor(b"Component " + domain.encode() + b" unbound")

    async def test_heldThenBouncedAfterTheGrace(self) -> None:
        """
        Within the bounds, messages for a component that went away are held,
        then answered with C{wait}/C{remote-server-timeout} and
        C{not-connected} once the grace period ends; past the bounds, at
        once.  The log says what happened.
        """
        await self.away("gw.example.org", "gw-secret")
        for n in range(3):
            self.tw.send(f"<message from='tw.example.org' to='gw.example.org' id='h{n}'><body>x</body></message>")
        errors = [await self.answer(f"h{n}") for n in (2, 0, 1)]
        for error in errors:
            self.assertEqual(errorOf(error), ("wait", ["remote-server-timeout", "not-connected"]))
        await self.child.waitFor(
            rb"Component gw.example.org did not come back within 0.500s; 2 held stanzas bounced"
        )

    async def test_heldThenDelivered(self) -> None:
        """
        Messages held while the component was away reach its next
        connection, in order, and nothing comes back to the sender.
        """
        await self.away("back.example.org", "back-secret")
        self.tw.send("<message from='tw.example.org' to='back.example.org' id='d1'><body>1</body></message>")
        self.tw.send("<message from='tw.example.org' to='back.example.org' id='d2'><body>2</body></message>")
        await RestartTests.sync(self, self.tw, "sync")  # type: ignore[arg-type]
        back = await self.connect("back.example.org", "back-secret")
        await back.next(lambda e: e.getAttribute("id") == "d2")
        self.assertEqual([e.getAttribute("id") for e in back.received], ["d1", "d2"])
        await self.child.waitFor(rb"Delivered 2 held stanzas to back.example.org")
        self.assertEqual([e.getAttribute("id") for e in self.tw.received], ["sync"])

    async def test_holdTimeZero(self) -> None:
        """
        With C{component_hold_time = 0}, a component that went away is
        answered for at once, as before holds existed.
        """
        await self.away("now.example.org", "now-secret")
        self.tw.send("<message from='tw.example.org' to='now.example.org' id='z1'/>")
        error = await self.tw.next(lambda e: e.getAttribute("id") == "z1")
        self.assertEqual(errorOf(error), ("wait", ["remote-server-timeout", "not-connected"]))
        self.assertNotIn(b"Holding stanzas for now.example.org", bytes(self.child.output))
