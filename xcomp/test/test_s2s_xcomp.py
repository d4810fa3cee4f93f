# -*- test-case-name: xcomp.test.test_s2s_xcomp -*-
"""
Federation between two xcomp processes' service trees over loopback:
a component behind one router talks to a component behind the other,
each router authenticating to the other with dialback (XEP-0220), both
the receiving and the authoritative sides being xcomp's.
"""

from __future__ import annotations

import attrs
from twisted.internet import defer, reactor
from twisted.logger import capturedLogs
from twisted.trial.unittest import TestCase

from xcomp.config import InternalComponentConfig, ListenerConfig, RouterConfig, TLSConfig
from xcomp.config.model import S2SConfig, S2SListenerConfig
from xcomp.s2s.service import S2SService
from xcomp.service import RouterService
from xcomp.test.certs import TestCA
from xcomp.test.helpers import makeConfig
from xcomp.test.loopback import ComponentClient, freePort

A = "a.example"
B = "b.example"
SECRET = "s3cret"


@attrs.frozen
class StaticTarget:
    """
    Where a domain's s2s service listens.
    """

    host: str
    port: int
    directTLS: bool = False


@attrs.define
class StaticResolver:
    """
    Each domain's s2s service at a fixed loopback address: no DNS.
    """

    targets: dict[str, StaticTarget] = attrs.field(factory=dict)

    def resolve(self, domain: str) -> defer.Deferred[list[StaticTarget]]:
        if domain not in self.targets:
            return defer.fail(LookupError(domain))
        return defer.succeed([self.targets[domain]])


class XcompToXcompTests(TestCase):
    """
    Two routers, one serving component L{A}, the other L{B}.
    """

    def start(
        self, domain: str, resolver: StaticResolver, certificates: dict[str, TLSConfig], **options: object
    ) -> RouterConfig:
        """
        Start a router for C{domain} with an s2s listener that
        C{resolver} knows, and C{domain}'s certificate if there is one.
        """
        port = freePort()
        if domain in certificates:
            options["certificates"] = {domain: certificates[domain]}
        s2s = S2SConfig(listeners=(S2SListenerConfig(port, "127.0.0.1"),), **options)  # type: ignore[arg-type]
        config = makeConfig(
            components={domain: {"secret": SECRET}},
            listeners=(ListenerConfig(freePort(), "127.0.0.1"),),
            s2s=s2s,
        )
        muc = f"conference.{domain}"
        config = attrs.evolve(
            config, components={**config.components, muc: InternalComponentConfig(domain=muc, plugin="muc")}
        )
        service = RouterService(attrs.evolve(config, s2s=None), reactor=reactor)
        S2SService(config, service.router, reactor, resolver=resolver).setServiceParent(service)  # type: ignore[arg-type]
        service.privilegedStartService()
        service.startService()
        self.addCleanup(service.stopService)
        resolver.targets[domain] = resolver.targets[muc] = StaticTarget("127.0.0.1", port)
        return config

    async def component(self, domain: str, config: RouterConfig) -> ComponentClient:
        client = ComponentClient(reactor, domain, SECRET)
        await client.connect(config.listeners[0].port)
        self.addCleanup(client.disconnect)
        return client

    async def roundTrip(self, certificates: dict[str, TLSConfig] | None = None, **options: object) -> set[tuple[str, str, str]]:
        """
        An iq from A's component to B's, and its result back.

        @return: The (local, remote, method) of each incoming pair that
            was authenticated.
        """
        with capturedLogs() as events:
            await self._roundTrip(certificates, **options)
        return {
            (e["local"], e["remote"], e["method"])
            for e in events
            if e.get("log_namespace", "").startswith("xcomp.s2s.inbound") and "method" in e
        }

    async def _roundTrip(self, certificates: dict[str, TLSConfig] | None, **options: object) -> None:
        resolver = StaticResolver()
        configA = self.start(A, resolver, certificates or {}, **options)
        configB = self.start(B, resolver, certificates or {}, **options)
        a = await self.component(A, configA)
        b = await self.component(B, configB)
        a.send(f"<iq type='get' id='q1' from='bot@{A}' to='user@{B}/r'><ping xmlns='urn:xmpp:ping'/></iq>")
        request = await b.next(lambda e: e.name == "iq")
        self.assertEqual((request["from"], request["to"], request["id"]), (f"bot@{A}", f"user@{B}/r", "q1"))
        b.send(f"<iq type='result' id='q1' from='user@{B}/r' to='bot@{A}'/>")
        answer = await a.next(lambda e: e.name == "iq")
        self.assertEqual((answer["type"], answer["from"]), ("result", f"user@{B}/r"))

    async def test_dialbackPlaintext(self) -> None:
        """
        Without certificates and with encryption optional, an iq goes from
        A's component to B's and its result comes back, each direction
        authenticated with dialback.
        """
        pairs = await self.roundTrip(requireEncryption=False)
        self.assertEqual(pairs, {(B, A, "dialback"), (A, B, "dialback")})

    async def test_dialbackOverTLS(self) -> None:
        """
        With certificates from a CA that is not trusted (so no SASL
        EXTERNAL), the links use STARTTLS and then dialback.
        """
        ca = TestCA(self.mktemp())
        certificates = {}
        for domain in (A, B):
            issued = ca.issue(domain)
            certificates[domain] = TLSConfig(issued.certificate, issued.key)
        untrusted = TestCA(self.mktemp(), "other CA").path
        pairs = await self.roundTrip(certificates=certificates, caCertificates=untrusted)
        self.assertEqual(pairs, {(B, A, "dialback"), (A, B, "dialback")})

    async def test_saslExternal(self) -> None:
        """
        With certificates both sides trust, the links authenticate with
        SASL EXTERNAL.
        """
        ca = TestCA(self.mktemp())
        certificates = {}
        for domain in (A, B):
            issued = ca.issue(domain)
            certificates[domain] = TLSConfig(issued.certificate, issued.key)
        pairs = await self.roundTrip(certificates=certificates, caCertificates=ca.path, secureAuth=True)
        self.assertEqual(pairs, {(B, A, "EXTERNAL"), (A, B, "EXTERNAL")})

    async def test_internalComponent(self) -> None:
        """
        A component behind B reaches A's built-in MUC service over s2s:
        its disco#info names the MUC feature (the request, received in
        jabber:server, reached the plugin in the component namespace).
        """
        resolver = StaticResolver()
        self.start(A, resolver, {}, requireEncryption=False)
        configB = self.start(B, resolver, {}, requireEncryption=False)
        b = await self.component(B, configB)
        b.send(
            f"<iq type='get' id='i1' from='bot@{B}' to='conference.{A}'>"
            "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>"
        )
        answer = await b.next(lambda e: e.name == "iq")
        self.assertEqual(answer["type"], "result")
        self.assertIn("http://jabber.org/protocol/muc", answer.toXml())

    async def test_routerServiceWithOverrides(self) -> None:
        """
        The service tree as C{twistd xcomp} builds it (RouterService adds
        the s2s service, with s2s-out's pool and s2s-env's resolver):
        C{s2s_connect_overrides} send each router to the other's port, and
        an iq makes the round trip.
        """
        ports = {A: freePort(), B: freePort()}
        configs = {}
        for domain, other in ((A, B), (B, A)):
            s2s = S2SConfig(
                listeners=(S2SListenerConfig(ports[domain], "127.0.0.1"),),
                requireEncryption=False,
                connectOverrides={other: ("127.0.0.1", ports[other])},
            )
            configs[domain] = config = makeConfig(
                components={domain: {"secret": SECRET}},
                listeners=(ListenerConfig(freePort(), "127.0.0.1"),),
                s2s=s2s,
            )
            service = RouterService(config, reactor=reactor)
            self.assertIsNotNone(service.s2s)
            service.privilegedStartService()
            service.startService()
            self.addCleanup(service.stopService)
        a = await self.component(A, configs[A])
        b = await self.component(B, configs[B])
        a.send(f"<message id='o1' from='bot@{A}' to='user@{B}'><body>hello</body></message>")
        message = await b.next(lambda e: e.name == "message")
        self.assertEqual(str(message.body), "hello")
