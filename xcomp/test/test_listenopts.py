"""
Tests for the options of a component listener (L{ListenerConfig}) that
decide which domains a component may bind, as L{xcomp.listener} applies
them on L{StringTransport} and L{Clock}: C{password} and C{is_subdomain}.
The other option families have their own modules,
C{xcomp.test.test_listenopts_*}.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from xcomp.config import InternalComponentConfig, RouterConfig
from xcomp.hosts import LocalHost
from xcomp.test.helpers import makeConfig, stanza
from xcomp.test.listenerhelpers import HEADER, PASSWORD, SECRET, ListenerOptionsMixin


class PasswordTests(ListenerOptionsMixin, SynchronousTestCase):
    """
    C{password}: any domain may bind with it, except the configured ones.
    """

    def setUp(self) -> None:
        """
        A listener with a password.
        """
        self.clock = Clock()
        self.build(password=PASSWORD)

    def test_anyDomainBinds(self) -> None:
        """
        A domain that is not configured binds with the listener's password
        and is routed to.
        """
        stream, transport = self.authenticate("gw.example.com", PASSWORD)
        self.assertBound(transport)
        self.assertIs(self.router.lookup("gw.example.com"), stream)

    def test_wrongPassword(self) -> None:
        """
        Another password is C{not-authorized}.
        """
        stream, transport = self.authenticate("gw.example.com", "wrong")
        self.assertStreamError(transport, "not-authorized")

    def test_configuredComponentKeepsItsSecret(self) -> None:
        """
        A configured component must use its own secret: the password does
        not open it.
        """
        stream, transport = self.authenticate("a.example", PASSWORD)
        self.assertStreamError(transport, "not-authorized")
        stream, transport = self.authenticate("a.example", SECRET)
        self.assertBound(transport)

    def test_virtualHostRefused(self) -> None:
        """
        A VirtualHost's domain is C{host-unknown}, password or not.
        """
        stream, transport = self.authenticate("example.org", PASSWORD)
        self.assertStreamError(transport, "host-unknown")
        self.assertIn(b"example.org is served by the router itself", transport.value())

    def test_internalComponentRefused(self) -> None:
        """
        An internal component's domain is C{host-unknown}.
        """
        config = RouterConfig(
            components={"muc.example.org": InternalComponentConfig(domain="muc.example.org", plugin="muc")}
        )
        self.build(config, password=PASSWORD)
        stream, transport = self.authenticate("muc.example.org", PASSWORD)
        self.assertStreamError(transport, "host-unknown")

    def test_routeNotAStreamConflicts(self) -> None:
        """
        A domain the configuration does not know but the router serves
        itself (a route that is not a stream) is a C{conflict}: the router
        decides, not the listener.
        """
        self.router.addHost("dynamic.example", LocalHost("dynamic.example", self.router))
        stream, transport = self.authenticate("dynamic.example", PASSWORD)
        self.assertStreamError(transport, "conflict")

    def test_noPasswordNoUnknownDomains(self) -> None:
        """
        Without a password, only configured components bind.
        """
        self.build()
        stream, transport = self.authenticate("gw.example.com", PASSWORD)
        self.assertStreamError(transport, "host-unknown")

    def test_boundWithPasswordListedInDisco(self) -> None:
        """
        A component bound with the password is listed in the disco#items of
        its host, as long as it is connected.
        """
        stream, transport = self.authenticate("gw.example.org", PASSWORD)
        self.assertIn(("gw.example.org", None), list(self.router.componentsUnder("example.org")))
        stream.connectionLost()
        self.assertNotIn(("gw.example.org", None), list(self.router.componentsUnder("example.org")))


class SubdomainTests(ListenerOptionsMixin, SynchronousTestCase):
    """
    C{is_subdomain="true"} on the stream header.
    """

    SUBDOMAIN = HEADER.replace("to='%s'", "to='%s' is_subdomain='true'")

    def setUp(self) -> None:
        """
        A listener with a password, two hosts.
        """
        self.clock = Clock()
        self.build(password=PASSWORD)

    def test_bindsEveryHost(self) -> None:
        """
        The component binds C{<to>.<host>} for every host and gets stanzas
        for each.
        """
        stream, transport = self.authenticate("muc", PASSWORD, self.SUBDOMAIN)
        self.assertBound(transport)
        self.assertEqual(stream.domains, frozenset({"muc.example.org", "muc.example.net"}))
        transport.clear()
        self.router.route(stanza("<message from='x@example.org' to='room@muc.example.net'/>"))
        self.router.route(stanza("<message from='x@example.org' to='room@muc.example.org'/>"))
        self.assertEqual(transport.value().count(b"<message "), 2)

    def test_unboundTogether(self) -> None:
        """
        When the stream ends, every domain is unbound.
        """
        stream, transport = self.authenticate("muc", PASSWORD, self.SUBDOMAIN)
        stream.connectionLost()
        self.assertIsNone(self.router.lookup("muc.example.org"))
        self.assertIsNone(self.router.lookup("muc.example.net"))

    def test_fromAnyOfItsDomains(self) -> None:
        """
        C{from} may be any of the bound domains.
        """
        stream, transport = self.authenticate("muc", PASSWORD, self.SUBDOMAIN)
        b, bTransport = self.authenticate("b.example", "other")
        bTransport.clear()
        stream.dataReceived(b"<message from='r@muc.example.org' to='b.example'/>")
        stream.dataReceived(b"<message from='r@muc.example.net' to='b.example'/>")
        self.assertEqual(bTransport.value().count(b"<message "), 2)
        self.assertFalse(transport.disconnecting)

    def test_allOrNothing(self) -> None:
        """
        If one of the domains is taken, none is bound and the stream gets
        C{conflict}.
        """
        first, _ = self.authenticate("muc.example.net", PASSWORD)
        stream, transport = self.authenticate("muc", PASSWORD, self.SUBDOMAIN)
        self.assertStreamError(transport, "conflict")
        self.assertIsNone(self.router.lookup("muc.example.org"))
        self.assertIs(self.router.lookup("muc.example.net"), first)

    def test_noHosts(self) -> None:
        """
        Without configured hosts there is nothing to be a subdomain of.
        """
        self.build(makeConfig(), password=PASSWORD)
        stream, transport = self.authenticate("muc", PASSWORD, self.SUBDOMAIN)
        self.assertStreamError(transport, "host-unknown")

    def test_configuredSubdomainsShareSecret(self) -> None:
        """
        Configured components can be bound together when they share their
        secret; with different secrets it is C{host-unknown}.
        """
        config = makeConfig(
            components={"muc.example.org": {"secret": "s"}, "muc.example.net": {"secret": "s"}},
            virtualHosts=["example.org", "example.net"],
        )
        self.build(config)
        stream, transport = self.authenticate("muc", "s", self.SUBDOMAIN)
        self.assertBound(transport)
        config = makeConfig(
            components={"muc.example.org": {"secret": "s"}, "muc.example.net": {"secret": "t"}},
            virtualHosts=["example.org", "example.net"],
        )
        self.build(config)
        stream, transport = self.authenticate("muc", "s", self.SUBDOMAIN)
        self.assertStreamError(transport, "host-unknown")
