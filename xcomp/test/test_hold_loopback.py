# -*- test-case-name: xcomp.test.test_hold_loopback -*-
"""
Holding over real loopback sockets: a slixmpp component restarted in the
middle of a stream of 10,000 messages from another component loses
nothing and sees them in order.
"""

from __future__ import annotations

from twisted.internet import reactor
from twisted.trial.unittest import TestCase
from twisted.words.xish import domish

from xcomp.config import ListenerConfig
from xcomp.service import RouterService
from xcomp.test.helpers import makeConfig
from xcomp.test.loopback import ComponentClient, freePort
from xcomp.test.sinkprocess import WindowedSender, spawnSink

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

        # The component is away: what is sent now is held.
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
        self.assertEqual([e.getAttribute("id") for e in tw.received], ["sync1"])
