# -*- test-case-name: xcomp.test.test_s2s_pool -*-
"""
Tests for L{xcomp.s2s.pool} and L{xcomp.s2s.outboundlink}: the router's
remote route, with a L{MemoryReactorClock} for connections and time and a
real L{Router} delivering the bounces to a component.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.error import ConnectionRefusedError, TimeoutError
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import capturedLogs, formatEvent
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from xcomp.config.model import S2SConfig, TLSConfig
from xcomp.router import Router
from xcomp.s2s import pool as poolModule
from xcomp.s2s.dialback import DialbackSecret
from xcomp.s2s.outbound import OutboundStream
from xcomp.s2s.pool import OutboundPool
from xcomp.test.helpers import FakeRoute, errorCondition, stanza
from xcomp.test.s2southelpers import (
    LOCAL,
    REMOTE,
    FakeResolver,
    FakeTLS,
    TLSStringTransport,
    Target,
    dialbackAnswer,
    features,
    remoteHeader,
)

OTHER_LOCAL = "other.example.org"


def message(n: int, sender: str = LOCAL, to: str = "alice@remote.example", kind: str | None = None) -> bytes:
    """
    A message with id C{m<n>} and body C{<n>}.
    """
    typeAttribute = f" type='{kind}'" if kind else ""
    return f"<message from='{sender}' to='{to}' id='m{n}'{typeAttribute}><body>{n}</body></message>".encode()


class PoolTestCase(SynchronousTestCase):
    """
    A pool for LOCAL and OTHER_LOCAL, whose components record bounces.
    """

    def setUp(self) -> None:
        self.clock = MemoryReactorClock()
        self.router = Router(self.clock)
        self.component = FakeRoute(LOCAL)
        self.other = FakeRoute(OTHER_LOCAL)
        self.router.bind(LOCAL, self.component)
        self.router.bind(OTHER_LOCAL, self.other)
        self.resolver = FakeResolver({REMOTE: [Target("127.0.2.9", 5269)]})
        self.tls = FakeTLS()
        self.secret = DialbackSecret("s3cret")
        self.makePool()

    def makePool(self, **settings: Any) -> OutboundPool:
        """
        Replace the pool with one configured by C{settings}.
        """
        defaults: dict[str, Any] = dict(requireEncryption=False, timeout=10.0, idleTimeout=60.0)
        defaults.update(settings)
        self.pool = OutboundPool(
            self.router,
            S2SConfig(**defaults),
            self.clock,
            tls=self.tls,
            resolver=self.resolver,
            secret=self.secret,
            isLocal=lambda domain: domain in (LOCAL, OTHER_LOCAL),
        )
        self.router.setRemote(self.pool)
        return self.pool

    def route(self, data: bytes) -> None:
        """
        Hand a stanza to the router as a component would.
        """
        self.router.route(stanza(data))

    def accept(self, index: int = -1) -> tuple[OutboundStream, TLSStringTransport]:
        """
        Complete the connection attempt C{index} of the reactor.
        """
        factory = self.clock.tcpClients[index][2]
        stream = factory.buildProtocol(None)
        assert isinstance(stream, OutboundStream)
        transport = TLSStringTransport()
        stream.makeConnection(transport)
        return stream, transport

    def authenticate(self, stream: OutboundStream, streamID: str = "s1") -> None:
        """
        Answer the stream as a plaintext receiving server that accepts
        dialback.
        """
        stream.dataReceived(remoteHeader(streamID) + features())
        stream.dataReceived(dialbackAnswer(to=stream.policy.local))

    def bounces(self, route: FakeRoute | None = None) -> list[tuple[str | None, str | None, str | None]]:
        """
        The (id, type, condition) of every error delivered to a component.
        """
        self.clock.advance(0)
        return [(s.id, *errorCondition(s)) for s in (route or self.component).sent]


class QueueTests(PoolTestCase):
    """
    Stanzas wait, bounded, while their link is set up.
    """

    def test_queuedUntilReady(self) -> None:
        """
        The first stanza resolves the remote and connects; stanzas wait
        until the stream is authenticated, then go in order; later ones go
        straight through on the same connection.
        """
        self.route(message(1))
        self.route(message(2))
        self.assertEqual(self.resolver.asked, [REMOTE])
        self.assertEqual([c[:2] for c in self.clock.tcpClients], [("127.0.2.9", 5269)])
        stream, transport = self.accept()
        stream.dataReceived(remoteHeader() + features())
        transport.clear()
        stream.dataReceived(dialbackAnswer())
        self.assertEqual(transport.value(), message(1) + message(2))
        transport.clear()
        self.route(message(3))
        self.assertEqual(transport.value(), message(3))
        self.assertEqual(len(self.clock.tcpClients), 1)
        self.assertEqual(self.bounces(), [])

    def test_oneLinkPerPair(self) -> None:
        """
        Each (local, remote) pair has its own link, with its own stream
        from its own domain; the same pair reuses its link.
        """
        self.route(message(1))
        self.route(message(2, sender=f"bot@{LOCAL}/r"))
        self.route(message(3, sender=OTHER_LOCAL))
        self.assertEqual(len(self.clock.tcpClients), 2)
        self.assertEqual(
            sorted((link.local, link.remote) for link in self.pool.links()),
            [(LOCAL, REMOTE), (OTHER_LOCAL, REMOTE)],
        )
        stream, transport = self.accept(1)
        self.assertIn(b"from='other.example.org'", transport.value())

    def test_countBound(self) -> None:
        """
        Past C{queueStanzas} stanzas waiting for one remote domain, across
        every local domain, a stanza is answered with resource-constraint
        (type wait), with its id, on the next turn.
        """
        self.makePool(queueStanzas=2)
        self.resolver.table["elsewhere.example"] = None
        self.route(message(1))
        self.route(message(2, sender=OTHER_LOCAL))
        self.route(message(3))
        self.route(message(4, to="bob@elsewhere.example"))
        self.assertEqual(self.component.sent, [])
        self.assertEqual(self.bounces(), [("m3", "wait", "resource-constraint")])

    def test_byteBound(self) -> None:
        """
        Past C{queueBytes} bytes waiting for one remote domain, a stanza is
        answered with resource-constraint.
        """
        self.makePool(queueBytes=len(message(1)) * 2)
        self.route(message(1))
        self.route(message(2))
        self.route(message(3))
        self.assertEqual(self.bounces(), [("m3", "wait", "resource-constraint")])

    def test_notResolved(self) -> None:
        """
        A remote domain whose name does not resolve: every waiting stanza
        is answered with remote-server-not-found (cancel), with its id; no
        connection is attempted, and the link is forgotten.
        """
        self.route(message(1, to="a@nowhere.example"))
        self.route(message(2, to="b@nowhere.example"))
        self.assertEqual(
            self.bounces(),
            [("m1", "cancel", "remote-server-not-found"), ("m2", "cancel", "remote-server-not-found")],
        )
        self.assertEqual(self.clock.tcpClients, [])
        self.assertEqual(list(self.pool.links()), [])

    def test_errorsNeverBounced(self) -> None:
        """
        An error stanza or an iq result that cannot be delivered is dropped
        without an answer.
        """
        self.route(message(1, to="a@nowhere.example", kind="error"))
        self.route(b"<iq type='result' id='q1' from='comp.example.org' to='a@nowhere.example'/>")
        self.route(message(2, to="a@nowhere.example"))
        self.assertEqual(self.bounces(), [("m2", "cancel", "remote-server-not-found")])

    def test_nextTarget(self) -> None:
        """
        Targets are tried in order; when none accepts the connection,
        what waits is answered with remote-server-timeout (type wait).
        """
        self.resolver.table[REMOTE] = [Target("127.0.2.9", 5270), Target("127.0.2.10", 5269)]
        self.route(message(1))
        factory = self.clock.tcpClients[0][2]
        factory.clientConnectionFailed(self.clock.connectors[-1], Failure(ConnectionRefusedError()))
        self.assertEqual([c[:2] for c in self.clock.tcpClients], [("127.0.2.9", 5270), ("127.0.2.10", 5269)])
        self.assertEqual(self.bounces(), [])
        self.clock.tcpClients[1][2].clientConnectionFailed(
            self.clock.connectors[-1], Failure(ConnectionRefusedError())
        )
        self.assertEqual(self.bounces(), [("m1", "wait", "remote-server-timeout")])
        self.assertEqual(list(self.pool.links()), [])

    def test_connectTimeoutIsWhatIsLeft(self) -> None:
        """
        Each connection attempt gets what is left of C{s2s_timeout}.
        """
        self.resolver.table[REMOTE] = [Target("127.0.2.9", 5269), Target("127.0.2.10", 5269)]
        self.route(message(1))
        self.assertEqual(self.clock.tcpClients[0][3], 10.0)
        self.clock.advance(4)
        self.clock.tcpClients[0][2].clientConnectionFailed(self.clock.connectors[-1], Failure(TimeoutError()))
        self.assertEqual(self.clock.tcpClients[1][3], 6.0)

    def test_connectTimeout(self) -> None:
        """
        C{connectTimeout} bounds each connection attempt, within what is
        left of C{s2s_timeout}.
        """
        self.makePool(connectTimeout=3.0)
        self.route(message(1))
        self.assertEqual(self.clock.tcpClients[0][3], 3.0)

    def test_resolverTimeout(self) -> None:
        """
        A resolver that never answers: after C{s2s_timeout},
        remote-server-timeout.
        """
        self.resolver.table[REMOTE] = None
        self.route(message(1))
        self.clock.advance(9.9)
        self.assertEqual(self.bounces(), [])
        self.clock.advance(0.2)
        self.assertEqual(self.bounces(), [("m1", "wait", "remote-server-timeout")])

    def test_negotiationTimeout(self) -> None:
        """
        A remote that accepts the connection but never authenticates us:
        after C{s2s_timeout} the connection is dropped and what waits is
        answered with remote-server-timeout.
        """
        self.route(message(1))
        stream, transport = self.accept()
        stream.dataReceived(remoteHeader() + features())
        self.clock.advance(10)
        self.assertTrue(transport.aborted)
        self.assertEqual(self.bounces(), [("m1", "wait", "remote-server-timeout")])
        stream.connectionLost(Failure(ConnectionError()))
        self.assertEqual(list(self.pool.links()), [])

    def test_authFailureBounces(self) -> None:
        """
        A remote that refuses our dialback key: remote-server-timeout for
        what waits.
        """
        self.route(message(1))
        stream, transport = self.accept()
        stream.dataReceived(remoteHeader() + features())
        stream.dataReceived(dialbackAnswer("invalid"))
        stream.connectionLost(Failure(ConnectionError()))
        self.assertEqual(self.bounces(), [("m1", "wait", "remote-server-timeout")])

    def test_notFromLocal(self) -> None:
        """
        A stanza whose sender is not a domain served here is refused with
        not-allowed; no link is opened for it.
        """
        self.pool.send(stanza(message(1, sender="mallory@elsewhere.example")))
        self.clock.advance(0)
        self.assertEqual(self.clock.tcpClients, [])
        self.assertEqual(list(self.pool.links()), [])

    def test_hostPolicy(self) -> None:
        """
        A remote domain the policy denies (MongooseIM's C{s2s.host_policy},
        C{s2s.default_policy}) is answered with not-allowed (cancel), as
        Prosody's whitelist modules answer,
        and neither resolved nor asked to verify a key.
        """
        self.makePool(hostPolicy={REMOTE: "deny"})
        self.route(message(1))
        self.assertIs(self.successResultOf(self.pool.verify(LOCAL, REMOTE, "i", "k")), False)
        self.makePool(defaultPolicy="deny", hostPolicy={"second.example": "allow"})
        self.resolver.table["second.example"] = None
        self.route(message(2))
        self.route(message(3, to="b@second.example"))
        self.assertEqual(
            self.bounces(), [("m1", "cancel", "not-allowed"), ("m2", "cancel", "not-allowed")]
        )
        self.assertEqual(self.resolver.asked, ["second.example"])

    def test_linkTableBound(self) -> None:
        """
        Past L{poolModule.MAX_LINKS} links, a stanza for yet another pair is
        answered with resource-constraint.
        """
        self.patch(poolModule, "MAX_LINKS", 1)
        self.resolver.table["second.example"] = [Target("127.0.2.11", 5269)]
        self.route(message(1))
        self.route(message(2, to="x@second.example"))
        self.assertEqual(self.bounces(), [("m2", "wait", "resource-constraint")])


class LinkLifeTests(PoolTestCase):
    """
    Links close when idle and connect again when needed; logs say so.
    """

    def up(self) -> tuple[OutboundStream, TLSStringTransport]:
        self.route(message(1))
        stream, transport = self.accept()
        self.authenticate(stream)
        transport.clear()
        return stream, transport

    def test_idleClose(self) -> None:
        """
        A link that sent nothing for C{idleTimeout} ends its stream; a
        stanza in between postpones it.
        """
        stream, transport = self.up()
        self.clock.advance(50)
        self.route(message(2))
        transport.clear()
        self.clock.advance(50)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(10)
        self.assertEqual(transport.value(), b"</stream:stream>")
        self.assertTrue(transport.disconnecting)

    def test_reconnect(self) -> None:
        """
        After the connection drops, the next stanza opens a new one and
        waits for it.
        """
        stream, transport = self.up()
        stream.connectionLost(Failure(ConnectionError()))
        self.assertEqual(list(self.pool.links()), [])
        self.route(message(2))
        self.assertEqual(len(self.clock.tcpClients), 2)
        stream2, transport2 = self.accept()
        self.authenticate(stream2, "s9")
        self.assertTrue(transport2.value().endswith(message(2)))
        self.assertEqual(self.bounces(), [])

    def test_sentWhileClosing(self) -> None:
        """
        A stanza routed while an idle stream is closing waits for a new
        connection.
        """
        stream, transport = self.up()
        self.clock.advance(60)
        self.route(message(2))
        self.assertEqual(transport.value(), b"</stream:stream>")
        stream.connectionLost(Failure(ConnectionError()))
        self.assertEqual(len(self.clock.tcpClients), 2)
        stream2, transport2 = self.accept()
        self.authenticate(stream2)
        self.assertTrue(transport2.value().endswith(message(2)))

    def test_logLines(self) -> None:
        """
        One line when a link comes up and one when it goes down, with the
        domains, the method and the address; never the dialback key.
        """
        with capturedLogs() as events:
            stream, transport = self.up()
            stream.connectionLost(Failure(ConnectionError()))
        texts = [formatEvent(e) for e in events]
        key = self.secret.key(REMOTE, LOCAL, "s1")
        self.assertFalse([t for t in texts if key in t])
        upLines = [t for t in texts if " up " in t]
        downLines = [t for t in texts if " down " in t]
        self.assertEqual(
            upLines, ["s2s link comp.example.org -> remote.example up (dialback, 127.0.2.9:5269)"]
        )
        self.assertEqual(len(downLines), 1)
        self.assertTrue(
            downLines[0].startswith(
                "s2s link comp.example.org -> remote.example down (dialback, 127.0.2.9:5269)"
            )
        )

    def test_close(self) -> None:
        """
        L{OutboundPool.close} ends live streams and answers what waits with
        remote-server-timeout; it fires once the connections are gone, and
        later stanzas are answered at once.
        """
        stream, transport = self.up()
        self.resolver.table["second.example"] = None
        self.route(message(2, to="b@second.example"))
        done = self.pool.close()
        self.assertNoResult(done)
        self.assertEqual(transport.value(), b"</stream:stream>")
        stream.connectionLost(Failure(ConnectionError()))
        self.successResultOf(done)
        self.route(message(3))
        self.assertEqual(
            self.bounces(), [("m2", "wait", "remote-server-timeout"), ("m3", "wait", "remote-server-timeout")]
        )
        self.assertEqual(len(self.clock.tcpClients), 1)

    def test_closeGivesUp(self) -> None:
        """
        A remote that does not let the connection go does not hold up
        L{OutboundPool.close} for more than a few seconds.
        """
        self.up()
        done = self.pool.close()
        self.clock.advance(poolModule.CLOSE_TIMEOUT)
        self.successResultOf(done)

    def test_policy(self) -> None:
        """
        Secure auth applies to a remote domain when C{s2s_secure_auth} is
        on or it is in C{s2s_secure_domains}, unless it is in
        C{s2s_insecure_domains}; SASL EXTERNAL is offered for local domains
        with a certificate.
        """
        tls = TLSConfig(certificate="/c.crt", key="/c.key")
        cases: list[tuple[dict[str, Any], str, bool]] = [
            (dict(secureAuth=True), "remote.example", True),
            (dict(secureAuth=True, insecureDomains=frozenset({REMOTE})), "remote.example", False),
            (dict(secureDomains=frozenset({REMOTE})), "remote.example", True),
            (dict(), "remote.example", False),
        ]
        for settings, remote, secure in cases:
            self.makePool(certificates={LOCAL: tls}, **settings)
            self.route(message(1, to=f"a@{remote}"))
            self.route(message(2, sender=OTHER_LOCAL, to=f"a@{remote}"))
            policies = {link.local: link.policy for link in self.pool.links()}
            self.assertEqual(policies[LOCAL].requireValidCertificate, secure, settings)
            self.assertEqual(
                (policies[LOCAL].offerCertificate, policies[OTHER_LOCAL].offerCertificate), (True, False)
            )


class VerifyTests(PoolTestCase):
    """
    L{OutboundPool.verify} asks the authoritative server about a key.
    """

    def test_verifyOnNewLink(self) -> None:
        """
        With no link from the receiving domain, one is opened; db:verify
        is sent once the stream may carry it (with our own db:result) and
        the answer fires the Deferred.
        """
        result = self.pool.verify(LOCAL, REMOTE, "their-id", "k3y")
        self.assertNoResult(result)
        stream, transport = self.accept()
        stream.dataReceived(remoteHeader("s1") + features())
        self.assertIn(
            b"<db:verify from='comp.example.org' to='remote.example' id='their-id'>k3y</db:verify>",
            transport.value(),
        )
        stream.dataReceived(
            b"<db:verify from='remote.example' to='comp.example.org' id='their-id' type='valid'/>"
        )
        self.assertIs(self.successResultOf(result), True)

    def test_verifyOnLiveLink(self) -> None:
        """
        On an authenticated link the request is written at once; an
        invalid answer gives False; an answer about another id is ignored.
        """
        self.route(message(1))
        stream, transport = self.accept()
        self.authenticate(stream)
        transport.clear()
        result = self.pool.verify(LOCAL, REMOTE, "id2", "k")
        self.assertIn(b"<db:verify ", transport.value())
        answer = b"<db:verify from='remote.example' to='comp.example.org' id='%s' type='%s'/>"
        stream.dataReceived(answer % (b"other", b"valid"))
        self.assertNoResult(result)
        stream.dataReceived(answer % (b"id2", b"invalid"))
        self.assertIs(self.successResultOf(result), False)

    def test_verifyTimeout(self) -> None:
        """
        No answer within C{s2s_timeout}: False.
        """
        self.route(message(1))
        stream, transport = self.accept()
        self.authenticate(stream)
        result = self.pool.verify(LOCAL, REMOTE, "id2", "k")
        self.clock.advance(10)
        self.assertIs(self.successResultOf(result), False)

    def test_verifyFailures(self) -> None:
        """
        False when the name does not resolve, when the receiving domain is
        not ours, when the originating domain is (without asking anyone),
        and when the connection is lost before the answer.
        """
        self.assertIs(self.successResultOf(self.pool.verify(LOCAL, "nowhere.example", "i", "k")), False)
        self.assertIs(self.successResultOf(self.pool.verify("elsewhere.example", REMOTE, "i", "k")), False)
        self.assertIs(self.successResultOf(self.pool.verify(LOCAL, OTHER_LOCAL, "i", "k")), False)
        self.assertEqual(self.clock.tcpClients, [])
        result = self.pool.verify(LOCAL, REMOTE, "i", "k")
        stream, transport = self.accept()
        stream.dataReceived(remoteHeader("s1") + features())
        stream.connectionLost(Failure(ConnectionError()))
        self.assertIs(self.successResultOf(result), False)
        self.assertEqual(list(self.pool.links()), [])

    def test_verifyBound(self) -> None:
        """
        Past the bound on pending verifications per link, the answer is
        False at once.
        """
        self.patch(poolModule, "MAX_LINKS", 10)
        from xcomp.s2s import outboundlink

        self.patch(outboundlink, "MAX_PENDING_VERIFIES", 2)
        first = [self.pool.verify(LOCAL, REMOTE, f"i{n}", "k") for n in range(2)]
        third = self.pool.verify(LOCAL, REMOTE, "i3", "k")
        self.assertIs(self.successResultOf(third), False)
        for result in first:
            self.assertNoResult(result)
