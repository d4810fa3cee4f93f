# -*- test-case-name: xcomp.test.test_s2s_outbound_loopback -*-
"""
The outgoing side over real loopback sockets and real TLS: the router's
remote route (L{OutboundPool}) talks to a small remote server built on
Twisted's XML stream (L{xcomp.test.s2sremote}), with certificates made by
the test's own CA, through the real TLS contexts (L{S2STLS}) and resolver
(L{ServerResolver}, reading only a hosts file the test writes).
"""

from __future__ import annotations

from typing import Any

import attrs
from twisted.internet import defer, reactor
from twisted.internet.interfaces import IListeningPort
from twisted.trial.unittest import TestCase
from twisted.words.xish import domish
from zope.interface import implementer

from xcomp.config.model import S2SConfig, TLSConfig
from xcomp.interfaces import IRoute
from xcomp.router import Router
from xcomp.s2s.dialback import DialbackSecret
from xcomp.s2s.pool import OutboundPool
from xcomp.s2s.resolver import ServerResolver
from xcomp.s2s.tls import S2STLS
from xcomp.stanza import Stanza
from xcomp.test.certs import TestCA
from xcomp.test.helpers import errorCondition, stanza
from xcomp.test.loopback import freePort
from xcomp.test.s2sremote import FakeRemoteFactory
from xcomp.test.s2southelpers import LOCAL, REMOTE, FakeResolver, Target

#: Bound on every wait in these tests.
WAIT = 20.0


@implementer(IRoute)
@attrs.define(eq=False)
class WaitingRoute:
    """
    A local component that records what it is sent and lets a test wait
    for it.
    """

    domain: str
    sent: list[Stanza] = attrs.field(factory=list)
    _waiters: list[defer.Deferred[Stanza]] = attrs.field(factory=list)

    def send(self, stanza: Stanza) -> None:
        self.sent.append(stanza)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(stanza)

    def next(self) -> defer.Deferred[Stanza]:
        """
        The first stanza sent, once there is one.
        """
        if self.sent:
            return defer.succeed(self.sent.pop(0))
        waiter: defer.Deferred[Stanza] = defer.Deferred()
        waiter.addCallback(self._taken)
        self._waiters.append(waiter)
        return waiter.addTimeout(WAIT, reactor)


    def _taken(self, stanza: Stanza) -> Stanza:
        self.sent.remove(stanza)
        return stanza


class OutboundLoopbackTests(TestCase):
    """
    Stanzas from a local component reach a remote server over s2s.
    """

    def setUp(self) -> None:
        self.ca = TestCA(self.mktemp())
        self.remoteCert = self.ca.issue(REMOTE)
        self.localCert = self.ca.issue(LOCAL)
        self.secret = DialbackSecret()
        self.router = Router(reactor)
        self.component = WaitingRoute(LOCAL)
        self.router.bind(LOCAL, self.component)

    async def start(
        self,
        *,
        settings: dict[str, Any] = {},
        withCertificate: bool = False,
        remoteCert: Any = None,
        directTLS: bool = False,
        acceptKeys: bool = True,
        offerTLS: bool = True,
        targets: list[Target] | None = None,
        override: bool = False,
    ) -> FakeRemoteFactory:
        """
        Listen as the remote server on a free loopback port and make a pool
        that reaches it there.
        """
        remote = FakeRemoteFactory(
            REMOTE,
            remoteCert or self.remoteCert,
            self.ca.path,
            directTLS=directTLS,
            offerTLS=offerTLS,
            expectKey=self.secret.key if acceptKeys else None,
        )
        port: IListeningPort = reactor.listenTCP(0, remote, interface="127.0.0.1")  # type: ignore[arg-type]
        self.addCleanup(self.stopRemote, port, remote)
        portNumber: int = port.getHost().port  # type: ignore[attr-defined]
        certificates = {LOCAL: self.localCert} if withCertificate else {}
        hostsFile = self.mktemp()
        with open(hostsFile, "w") as f:
            f.write("" if override else f"127.0.0.1 {REMOTE}\n")
        config = S2SConfig(
            timeout=WAIT / 2,
            certificates={
                domain: TLSConfig(certificate=issued.certificate, key=issued.key)
                for domain, issued in certificates.items()
            },
            caCertificates=self.ca.path,
            # The remote is found by its A record in a hosts file that is
            # the resolver's only source (no DNS), on the port it listens
            # on; or through s2s_connect_overrides.
            hostsFile=hostsFile,
            outgoingPort=portNumber,
            connectOverrides={REMOTE: ("127.0.0.1", portNumber)} if override else {},
            **settings,
        )
        resolver: Any
        if targets is not None or directTLS:
            resolver = FakeResolver({REMOTE: targets or [Target("127.0.0.1", portNumber, directTLS)]})
        else:
            resolver = ServerResolver.fromConfig(config, reactor)
            self.addCleanup(resolver.close)
        self.pool = OutboundPool(
            self.router,
            config,
            reactor,
            tls=S2STLS(config),
            resolver=resolver,
            secret=self.secret,
            isLocal=lambda domain: domain == LOCAL,
        )
        self.router.setRemote(self.pool)
        return remote

    async def stopRemote(self, port: IListeningPort, remote: FakeRemoteFactory) -> None:
        await self.pool.close()
        await remote.allLost().addTimeout(WAIT, reactor)
        await defer.maybeDeferred(port.stopListening)

    def send(self, n: int, to: str = "alice@remote.example") -> None:
        self.router.route(
            stanza(f"<message from='{LOCAL}' to='{to}' id='m{n}'><body>hello {n}</body></message>")
        )

    async def received(self, remote: FakeRemoteFactory) -> domish.Element:
        return await remote.next().addTimeout(WAIT, reactor)

    async def assertDelivered(self, remote: FakeRemoteFactory, *numbers: int) -> None:
        """
        The messages C{numbers} arrive at the remote, in order, intact.
        """
        for n in numbers:
            element = await self.received(remote)
            self.assertEqual(
                (element.name, element.uri, element["from"], element["to"], element["id"], str(element.body)),
                ("message", "jabber:server", LOCAL, "alice@remote.example", f"m{n}", f"hello {n}"),
            )

    async def assertBounced(self, condition: str, n: int = 1) -> None:
        reply = await self.component.next()
        self.assertEqual(
            (reply.id, reply.sender, errorCondition(reply)),
            (f"m{n}", "alice@remote.example", ("wait", condition)),
        )

    async def test_starttlsThenDialback(self) -> None:
        """
        Without a certificate of our own: STARTTLS, then dialback; the
        stanzas that waited arrive in order, and later ones on the same
        connection.
        """
        remote = await self.start()
        self.send(1)
        self.send(2)
        await self.assertDelivered(remote, 1, 2)
        self.send(3)
        await self.assertDelivered(remote, 3)
        self.assertEqual(remote.methods, ["dialback"])
        self.assertEqual(len(remote.connections), 1)
        self.assertTrue(remote.connections[0].encrypted)

    async def test_connectOverride(self) -> None:
        """
        C{s2s_connect_overrides} names where the remote is, without any
        name resolution.
        """
        remote = await self.start(override=True)
        self.send(1)
        await self.assertDelivered(remote, 1)

    async def test_saslExternal(self) -> None:
        """
        With a certificate for the local domain that the remote trusts,
        SASL EXTERNAL authenticates the link; STARTTLS offers no ALPN.
        """
        remote = await self.start(withCertificate=True)
        self.send(1)
        await self.assertDelivered(remote, 1)
        self.assertEqual(remote.methods, ["sasl"])
        self.assertEqual(remote.alpnOffered, [])

    async def test_directTLS(self) -> None:
        """
        An XEP-0368 target gets TLS from the first byte, with ALPN offering
        C{xmpp-server}, the protocol the remote picks.
        """
        remote = await self.start(directTLS=True, withCertificate=True)
        self.send(1)
        await self.assertDelivered(remote, 1)
        self.assertEqual(remote.methods, ["sasl"])
        self.assertEqual(remote.alpnOffered, [[b"xmpp-server"]])
        handle = remote.connections[0].transport.getHandle()  # type: ignore[union-attr]
        self.assertEqual(handle.get_alpn_proto_negotiated(), b"xmpp-server")

    async def test_untrustedDialback(self) -> None:
        """
        A remote whose certificate does not chain to our trust store is
        still reached with dialback when secure auth is off.
        """
        remote = await self.start(remoteCert=self.ca.issue(REMOTE, selfSigned=True))
        self.send(1)
        await self.assertDelivered(remote, 1)
        self.assertEqual(remote.methods, ["dialback"])

    async def test_secureAuthRefusesWrongCertificate(self) -> None:
        """
        With C{s2s_secure_auth}, a remote whose certificate is for another
        domain is not used: the stanza is answered with
        remote-server-timeout and nothing reaches the remote.
        """
        remote = await self.start(settings=dict(secureAuth=True), remoteCert=self.ca.issue("wrong.example"))
        self.send(1)
        await self.assertBounced("remote-server-timeout")
        self.assertEqual((remote.received, remote.methods), ([], []))

    async def test_secureAuthValidCertificate(self) -> None:
        """
        With C{s2s_secure_auth}, a remote with a valid certificate is used
        (dialback for our side when we have no certificate).
        """
        remote = await self.start(settings=dict(secureAuth=True))
        self.send(1)
        await self.assertDelivered(remote, 1)

    async def test_encryptionRequired(self) -> None:
        """
        A remote that offers no TLS is refused while encryption is
        required: remote-server-timeout.
        """
        remote = await self.start(offerTLS=False)
        self.send(1)
        await self.assertBounced("remote-server-timeout")
        self.assertEqual(remote.received, [])

    async def test_keyRefused(self) -> None:
        """
        A remote that refuses our dialback key: remote-server-timeout.
        """
        await self.start(acceptKeys=False)
        self.send(1)
        await self.assertBounced("remote-server-timeout")

    async def test_connectionRefused(self) -> None:
        """
        Nothing listening at the remote's address: remote-server-timeout.
        """
        await self.start(targets=[Target("127.0.0.1", freePort())])
        self.send(1)
        await self.assertBounced("remote-server-timeout")

    async def test_unknownDomain(self) -> None:
        """
        A domain that does not resolve: remote-server-not-found, type
        cancel, to the sender with the id.
        """
        await self.start()
        self.send(1, to="bob@nowhere.example")
        reply = await self.component.next()
        self.assertEqual((reply.id, errorCondition(reply)), ("m1", ("cancel", "remote-server-not-found")))

    async def test_verify(self) -> None:
        """
        A db:verify goes to the remote over the link from the receiving
        domain, and its answer is what the Deferred gives.
        """
        remote = await self.start()
        remote.verifyAnswers[("sid1", "goodkey")] = True
        valid = await self.pool.verify(LOCAL, REMOTE, "sid1", "goodkey")
        invalid = await self.pool.verify(LOCAL, REMOTE, "sid2", "badkey")
        self.assertEqual((valid, invalid), (True, False))
