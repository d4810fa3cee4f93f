"""
Tests for which domains a listener's C{password} may claim
(L{xcomp.listener.claims}): C{password_domains}, configured components
that never open with the password, and the domains the router serves
itself.  First the rules alone, then each refusal over real loopback
sockets through the service tree, with Twisted's component client as the
impostor: the stream error it gets, and where a stanza for the domain goes
afterwards (to the real owner, or back as an error, never to the impostor).
"""

from __future__ import annotations

import re

from twisted.internet import reactor
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.protocol import Factory
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.words.xish import domish

from xcomp.config import ComponentConfig, InternalComponentConfig, ListenerConfig, RouterConfig
from xcomp.listener import ComponentStream, Refused, claimDomains
from xcomp.listener.claims import passwordMayClaim
from xcomp.service import RouterService
from xcomp.test.helpers import makeConfig
from xcomp.test.loopback import ComponentClient, freePort
from xcomp.test.test_hostile import RawPeer
from xcomp.testing import errorOf

PASSWORD = "claims-test-password"
OWNER_SECRET = "owner-s3cret"

SUBDOMAIN_HEADER = (
    b"<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
    b"xmlns:stream='http://etherx.jabber.org/streams' to='%s' is_subdomain='true'>"
)


class PasswordDomainsTests(SynchronousTestCase):
    """
    L{passwordMayClaim}: the patterns of C{password_domains}.
    """

    def test_exact(self) -> None:
        """
        An exact pattern allows that domain only.
        """
        self.assertTrue(passwordMayClaim(("irc.example.org",), "irc.example.org"))
        self.assertFalse(passwordMayClaim(("irc.example.org",), "sub.irc.example.org"))
        self.assertFalse(passwordMayClaim(("irc.example.org",), "xirc.example.org"))

    def test_wildcard(self) -> None:
        """
        C{*.example.org} allows its subdomains at any depth, not
        C{example.org} itself nor a domain that merely ends the same way.
        """
        patterns = ("*.gw.example.org",)
        self.assertTrue(passwordMayClaim(patterns, "irc.gw.example.org"))
        self.assertTrue(passwordMayClaim(patterns, "a.b.gw.example.org"))
        self.assertFalse(passwordMayClaim(patterns, "gw.example.org"))
        self.assertFalse(passwordMayClaim(patterns, "evilgw.example.org"))

    def test_unsetAndEmpty(self) -> None:
        """
        Unset (L{None}) allows every domain; an empty list none.
        """
        self.assertTrue(passwordMayClaim(None, "anything.example"))
        self.assertFalse(passwordMayClaim((), "anything.example"))


class ClaimRulesTests(SynchronousTestCase):
    """
    L{claimDomains}: what a stream header may claim, and with which secret.
    """

    def setUp(self) -> None:
        """
        A configured component whose secret is the listener's password, an
        internal component, two hosts.
        """
        self.config = RouterConfig(
            components={
                "irc.example.org": ComponentConfig(domain="irc.example.org", secret=PASSWORD),
                "muc.example.org": InternalComponentConfig(domain="muc.example.org", plugin="muc"),
            },
            virtualHosts=makeConfig(virtualHosts=["example.org", "example.net"]).virtualHosts,
        )
        self.listener = ListenerConfig(
            5347, "127.0.0.1", password=PASSWORD, passwordDomains=("*.gw.example.org", "irc.example.net")
        )

    def refusal(self, domains: list[str], listener: ListenerConfig | None = None) -> tuple[str, str]:
        """
        The condition and text a claim of C{domains} is refused with.
        """
        with self.assertRaises(Refused) as raised:
            claimDomains(self.config, listener or self.listener, domains)
        return raised.exception.condition, raised.exception.text

    def test_allowedDomainOpensWithPassword(self) -> None:
        """
        A domain within C{password_domains} is claimed with the password.
        """
        claim = claimDomains(self.config, self.listener, ["irc.gw.example.org"])
        self.assertEqual(claim.secret, PASSWORD)
        self.assertEqual([b.domain for b in claim.bindings], ["irc.gw.example.org"])

    def test_outsidePasswordDomains(self) -> None:
        """
        A domain outside C{password_domains} is C{not-authorized}.
        """
        condition, text = self.refusal(["other.example.com"])
        self.assertEqual(condition, "not-authorized")
        self.assertIn("other.example.com", text)

    def test_configuredComponentUsesItsSecret(self) -> None:
        """
        A configured component is claimed with its own secret whatever the
        listener's password and C{password_domains} say.
        """
        config = makeConfig(components={"a.example": {"secret": OWNER_SECRET}})
        claim = claimDomains(config, self.listener, ["a.example"])
        self.assertEqual(claim.secret, OWNER_SECRET)

    def test_servedByTheRouter(self) -> None:
        """
        A VirtualHost or an internal component is C{host-unknown}, even when
        C{password_domains} would allow it.
        """
        listener = ListenerConfig(
            5347, "127.0.0.1", password=PASSWORD, passwordDomains=("*.org", "example.org")
        )
        for domain in ("example.org", "muc.example.org"):
            self.assertEqual(self.refusal([domain], listener)[0], "host-unknown")

    def test_subdomainOverInternal(self) -> None:
        """
        An C{is_subdomain} stream that would cover an internal component's
        domain on one of the hosts is C{host-unknown} as a whole.
        """
        listener = ListenerConfig(5347, "127.0.0.1", password=PASSWORD)
        self.assertEqual(self.refusal(["muc.example.net", "muc.example.org"], listener)[0], "host-unknown")

    def test_subdomainMixingConfigured(self) -> None:
        """
        An C{is_subdomain} stream over a configured component and a domain
        the password would open is C{not-authorized}, even though the
        component's secret is the password.
        """
        listener = ListenerConfig(5347, "127.0.0.1", password=PASSWORD)
        condition, _ = self.refusal(["irc.example.net", "irc.example.org"], listener)
        self.assertEqual(condition, "not-authorized")

    def test_subdomainOutsidePasswordDomains(self) -> None:
        """
        An C{is_subdomain} stream is refused if any of its domains is
        outside C{password_domains}.
        """
        self.listener = ListenerConfig(
            5347, "127.0.0.1", password=PASSWORD, passwordDomains=("*.example.net",)
        )
        self.config = makeConfig(virtualHosts=["example.org", "example.net"])
        self.assertEqual(self.refusal(["irc.example.net", "irc.example.org"])[0], "not-authorized")

    def test_emptyPasswordOpensNothing(self) -> None:
        """
        An empty password is no password: only configured components bind.
        """
        listener = ListenerConfig(5347, "127.0.0.1", password="")
        self.assertEqual(self.refusal(["gw.example.com"], listener)[0], "host-unknown")


class ImpostorOverTCPTests(TestCase):
    """
    Components that hold the listener's password try to claim what it may
    not open, through a real listening port.  C{gw.example.org} is a
    legitimate password component that sends the stanzas afterwards.
    """

    timeout = 60

    async def setUp(self) -> None:  # type: ignore[override]
        """
        A router with a VirtualHost, a configured component, the C{muc}
        component, and a listener whose password may open
        C{*.example.org}; the legitimate component connected.
        """
        self.port = freePort()
        config = makeConfig(
            components={"owned.example.org": {"secret": OWNER_SECRET}},
            virtualHosts=["example.org", "example.net"],
            listeners=(
                ListenerConfig(self.port, "127.0.0.1", password=PASSWORD, passwordDomains=("*.example.org",)),
            ),
        )
        config = RouterConfig(
            listeners=config.listeners,
            virtualHosts=config.virtualHosts,
            components={
                **config.components,
                "muc.example.org": InternalComponentConfig(domain="muc.example.org", plugin="muc"),
            },
        )
        self.service = RouterService(config, reactor=reactor)
        self.service.startService()
        self.addCleanup(self.service.stopService)
        self.gw = await self.connect("gw.example.org", PASSWORD)

    async def connect(self, domain: str, secret: str) -> ComponentClient:
        """
        Twisted's component client, authenticated as C{domain}.
        """
        client = ComponentClient(reactor, domain, secret)
        self.addCleanup(client.disconnect)
        return await client.connect(self.port)

    async def refused(self, domain: str, condition: str) -> ComponentClient:
        """
        Twisted's component client for C{domain} with the password is
        refused with C{condition}, and nothing is bound to it.
        """
        before = set(self.service.factories[0].streams)
        impostor = ComponentClient(reactor, domain, PASSWORD)
        self.addCleanup(impostor.disconnect)
        with self.assertRaises(Exception):
            await impostor.connect(self.port)
        self.assertEqual(impostor.streamError, condition)
        await impostor.lost()
        route = self.service.router.lookup(domain)
        self.assertTrue(not isinstance(route, ComponentStream) or route in before, route)
        return impostor

    async def ask(self, to: str, ident: str) -> domish.Element:
        """
        Send a disco#info query from C{gw.example.org} to C{to} and return
        the answer.
        """
        self.gw.send(
            f"<iq type='get' id='{ident}' from='gw.example.org' to='{to}'>"
            "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>"
        )
        return await self.gw.next(lambda e: e.getAttribute("id") == ident)

    async def test_outsidePasswordDomains(self) -> None:
        """
        A domain outside C{password_domains} is C{not-authorized}; a stanza
        for it afterwards bounces with C{remote-server-not-found}.
        """
        impostor = await self.refused("gw.example.com", "not-authorized")
        answer = await self.ask("gw.example.com", "q1")
        self.assertEqual(errorOf(answer), ("cancel", "remote-server-not-found"))
        self.assertEqual(impostor.received, [])

    async def test_configuredComponent(self) -> None:
        """
        A configured component's domain is C{not-authorized} with the
        password; a stanza for it bounces as for a component that is not
        connected, and once the owner connects with its own secret it gets
        the next one.
        """
        impostor = await self.refused("owned.example.org", "not-authorized")
        answer = await self.ask("owned.example.org", "q2")
        self.assertEqual(errorOf(answer), ("wait", "remote-server-timeout"))
        owner = await self.connect("owned.example.org", OWNER_SECRET)
        self.gw.send("<message from='gw.example.org' to='owned.example.org' id='m2'/>")
        await owner.next(lambda e: e.getAttribute("id") == "m2")
        self.assertEqual(impostor.received, [])

    async def test_configuredComponentWhileConnected(self) -> None:
        """
        With the owner connected, the impostor is still C{not-authorized}
        (not C{conflict}), and the owner keeps its stanzas.
        """
        owner = await self.connect("owned.example.org", OWNER_SECRET)
        await self.refused("owned.example.org", "not-authorized")
        self.gw.send("<message from='gw.example.org' to='owned.example.org' id='m3'/>")
        await owner.next(lambda e: e.getAttribute("id") == "m3")

    async def test_virtualHost(self) -> None:
        """
        A VirtualHost is C{host-unknown}; the host itself still answers.
        """
        await self.refused("example.org", "host-unknown")
        answer = await self.ask("example.org", "q4")
        self.assertEqual(answer.getAttribute("type"), "result")
        self.assertEqual(answer.getAttribute("from"), "example.org")

    async def test_internalComponent(self) -> None:
        """
        An internal component's domain is C{host-unknown}, although
        C{password_domains} covers it; the C{muc} component still answers.
        """
        await self.refused("muc.example.org", "host-unknown")
        answer = await self.ask("muc.example.org", "q5")
        self.assertEqual(answer.getAttribute("type"), "result")
        identities = [i.getAttribute("category") for i in answer.query.elements() if i.name == "identity"]
        self.assertIn("conference", identities)

    async def subdomainRefused(self, to: bytes) -> str | None:
        """
        An C{is_subdomain} stream for C{to} from a raw peer: the stream
        error it gets before it can send a handshake.
        """
        peer = await TCP4ClientEndpoint(reactor, "127.0.0.1", self.port).connect(Factory.forProtocol(RawPeer))
        assert isinstance(peer, RawPeer)
        peer.transport.write(SUBDOMAIN_HEADER % to)
        await peer.lost
        self.assertNotIn(b"<handshake/>", bytes(peer.received))
        self.assertIsNone(re.search(rb"<stream:stream [^>]*from=", bytes(peer.received)))
        return peer.streamError()

    async def test_subdomainOverInternal(self) -> None:
        """
        C{is_subdomain} for C{muc} would cover the internal
        C{muc.example.org}: C{host-unknown}, C{muc.example.net} is not
        bound either, and the C{muc} component still answers.
        """
        self.assertEqual(await self.subdomainRefused(b"muc"), "host-unknown")
        self.assertIsNone(self.service.router.lookup("muc.example.net"))
        answer = await self.ask("muc.example.org", "q6")
        self.assertEqual(answer.getAttribute("type"), "result")

    async def test_subdomainOverConfigured(self) -> None:
        """
        C{is_subdomain} for C{owned} would cover the configured
        C{owned.example.org}: C{not-authorized}, and a stanza for either
        domain bounces.
        """
        self.assertEqual(await self.subdomainRefused(b"owned"), "not-authorized")
        answer = await self.ask("owned.example.org", "q7")
        self.assertEqual(errorOf(answer), ("wait", "remote-server-timeout"))
        answer = await self.ask("owned.example.net", "q8")
        self.assertEqual(errorOf(answer), ("cancel", "remote-server-not-found"))

    async def test_subdomainOutsidePasswordDomains(self) -> None:
        """
        C{is_subdomain} for C{irc} would cover C{irc.example.net}, outside
        C{password_domains}: C{not-authorized}, and neither domain is bound.
        """
        self.assertEqual(await self.subdomainRefused(b"irc"), "not-authorized")
        answer = await self.ask("irc.example.org", "q9")
        self.assertEqual(errorOf(answer), ("cancel", "remote-server-not-found"))
