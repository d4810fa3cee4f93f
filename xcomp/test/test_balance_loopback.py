# -*- test-case-name: xcomp.test.test_balance_loopback -*-
"""
Balancing over real loopback sockets: three slixmpp processes share one
component domain; thirty senders are spread over them, each on one; one
process closes its stream in the middle of the traffic, and its senders
move to the other two without a stanza lost or reordered.
"""

from __future__ import annotations

from collections import defaultdict

from twisted.internet import reactor
from twisted.trial.unittest import TestCase

from xcomp.config import ListenerConfig
from xcomp.service import RouterService
from xcomp.test.helpers import makeConfig
from xcomp.test.loopback import ComponentClient, freePort
from xcomp.test.sinkprocess import SinkProcess, WindowedSender, spawnSink

BAL = "bal.example.org"


class BalanceOverTCPTests(TestCase):
    """
    A router where C{bal.example.org} is configured with
    C{component_conflict_resolve = "balance"}.
    """

    timeout = 180

    def setUp(self) -> None:
        self.port = freePort()
        config = makeConfig(
            components={
                "tw.example.org": {"secret": "tw-secret"},
                BAL: {"secret": "bal-secret", "conflictResolve": "balance"},
            },
            listeners=(ListenerConfig(self.port, "127.0.0.1"),),
        )
        self.service = RouterService(config, reactor=reactor)
        self.service.startService()
        self.addCleanup(self.service.stopService)

    async def test_spreadAndMoveWithoutLoss(self) -> None:
        """
        Of 3,000 messages from 30 senders, the first 1,000 reach the three
        connections with every sender on one of them; then one connection
        closes while messages flow.  Every message arrives once, each
        connection sees each sender's messages in order, the senders of the
        two that stayed do not move, and those of the one that left move
        to the others only after everything it was given.
        """
        tw = ComponentClient(reactor, "tw.example.org", "tw-secret")
        self.addCleanup(tw.disconnect)
        await tw.connect(self.port)
        sender = WindowedSender(tw, "tw.example.org", BAL, 3_000, window=300, senders=30)
        # Nothing is sent before the three are bound.
        sender.paused = True
        sinks: list[SinkProcess] = []
        for _ in range(3):
            sink = spawnSink(self, reactor, sender.pump, BAL, "bal-secret", self.port)
            sinks.append(sink)
            await sink.waitFor(rb"READY")
        sender.sinks = sinks
        sender.paused = False
        members = self.service.router.balanced()[BAL]
        self.assertEqual(len(members), 3)

        await sender.until(1_000)
        phase1: dict[str, set[int]] = defaultdict(set)
        for index, sink in enumerate(sinks):
            for who, _ in sink.received:
                phase1[who].add(index)
        self.assertEqual(len(phase1), 30)
        self.assertTrue(all(len(where) == 1 for where in phase1.values()), phase1)
        self.assertGreaterEqual(len({i for where in phase1.values() for i in where}), 2)

        gone = sinks[0]
        gone.signal("TERM")
        await gone.ended()
        await sender.done()
        self.assertEqual([m.stream.peer for m in self.service.router.balanced()[BAL]],
                         [m.stream.peer for m in members[1:]])

        everything = sorted(int(ident) for sink in sinks for _, ident in sink.received)
        self.assertEqual(everything, list(range(3_000)))
        for index, sink in enumerate(sinks):
            bySender: dict[str, list[int]] = defaultdict(list)
            for who, ident in sink.received:
                bySender[who].append(int(ident))
            for who, ids in bySender.items():
                self.assertEqual(ids, sorted(ids), (index, who))
                if index > 0 and phase1[who] != {0}:
                    # Senders of the connections that stayed did not move.
                    self.assertEqual(phase1[who], {index}, who)
        lastOnGone = {who: int(ident) for who, ident in gone.received}
        self.assertTrue(lastOnGone)
        for sink in sinks[1:]:
            for who, ident in sink.received:
                if who in lastOnGone:
                    self.assertGreater(int(ident), lastOnGone[who], who)
        self.assertEqual([e for e in tw.received if e.getAttribute("type") == "error"], [])
