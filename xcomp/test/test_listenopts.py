"""
Tests for the options of a component listener (L{ListenerConfig}) as
L{xcomp.listener} and L{xcomp.router} apply them, on L{StringTransport} and
L{Clock}: password, is_subdomain, access, shaper, check_from,
hidden_components, conflict_behaviour, max_connections, state_timeout,
keepalives, the send timeout and the output bound.
"""

from __future__ import annotations

from twisted.internet.abstract import FileDescriptor
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactor, StringTransport
from twisted.trial.unittest import SynchronousTestCase

from xcomp.config.acl import ACLPattern, AccessClause
from xcomp.config import (
    DEFAULT_KEEPALIVE_INTERVAL,
    InternalComponentConfig,
    ListenerConfig,
    RouterConfig,
    ShaperConfig,
)
from xcomp.hosts import LocalHost
from xcomp.listener import ComponentListenerFactory, ComponentStream, OutputBound, handshakeDigest
from xcomp.router import Router
from xcomp.test.helpers import makeConfig, stanza
from xcomp.test.test_listener import (
    HEADER,
    SECRET,
    authenticateTo,
    connectTo,
    streamError,
    streamId,
)


class BufferingTransport(FileDescriptor):
    """
    Twisted's own write buffering with a socket that takes only what the
    test says it reads.
    """

    def __init__(self) -> None:
        super().__init__(MemoryReactor())
        self.connected = 1

    def take(self, size: int) -> None:
        """
        The peer reads C{size} bytes.
        """
        data = self.dataBuffer[self.offset :] + b"".join(self._tempDataBuffer)
        self.dataBuffer, self.offset = data[size:], 0
        self._tempDataBuffer, self._tempDataLen = [], 0

    def abortConnection(self) -> None:
        self.disconnecting = True

    def getPeer(self) -> None:
        return None

PASSWORD = "listener-password"


class ListenerOptionsMixin:
    """
    A router with one listener built from the options a test gives.
    """

    def setUp(self) -> None:
        """
        A clock; the configuration and listener come from L{build}.
        """
        self.clock = Clock()
        self.build()

    def build(self, config: RouterConfig | None = None, **options: object) -> None:
        """
        Make the router and a listener factory with C{options}.
        """
        if config is None:
            config = makeConfig(
                components={"a.example": {"secret": SECRET}, "b.example": {"secret": "other"}},
                virtualHosts=["example.org", "example.net"],
            )
        self.config = config
        self.router = Router(self.clock, components=config.components)
        for host in config.virtualHosts:
            self.router.addHost(host, LocalHost(host, self.router))
        for domain, component in config.components.items():
            if isinstance(component, InternalComponentConfig):
                self.router.addHost(domain, LocalHost(domain, self.router))
        self.listener = ListenerConfig(5347, "127.0.0.1", **options)  # type: ignore[arg-type]
        self.factory = ComponentListenerFactory(self.router, config, self.clock, self.listener)

    def connect(self) -> tuple[ComponentStream, StringTransport]:
        """
        A new connection to the listener.
        """
        return connectTo(self.factory)

    def authenticate(
        self, domain: str, secret: str, header: str = HEADER
    ) -> tuple[ComponentStream, StringTransport]:
        """
        Connect and authenticate as C{domain} with C{secret}.
        """
        return authenticateTo(self.factory, domain, secret, header)

    def assertBound(self, transport: StringTransport) -> None:
        """
        The handshake succeeded.
        """
        self.assertEqual(transport.value(), b"<handshake/>")  # type: ignore[attr-defined]
        self.assertFalse(transport.disconnecting)  # type: ignore[attr-defined]

    def assertStreamError(self, transport: StringTransport, condition: str) -> None:
        """
        The stream was closed with C{condition}.
        """
        self.assertEqual(streamError(transport.value()), condition, transport.value())  # type: ignore[attr-defined]
        self.assertTrue(transport.disconnecting)  # type: ignore[attr-defined]


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


class AccessTests(ListenerOptionsMixin, SynchronousTestCase):
    """
    C{access}: who may send to the components of the listener.
    """

    def setUp(self) -> None:
        """
        Two listeners: the guarded one lets only C{b.example} send to its
        components.
        """
        self.clock = Clock()
        config = makeConfig(
            components={"a.example": {"secret": SECRET}, "b.example": {"secret": "other"}, "c.example": {"secret": "c"}},
            acl={"trusted": (ACLPattern(server="b.example"),)},
            accessRules={"guarded": (AccessClause("trusted", "allow"), AccessClause("all", "deny"))},
        )
        self.build(config, access="guarded")
        self.open = ComponentListenerFactory(self.router, config, self.clock)

    def test_allowedSenderDelivered(self) -> None:
        """
        A sender the rule allows reaches the guarded component.
        """
        a, aTransport = self.authenticate("a.example", SECRET)
        b, bTransport = self.authenticate("b.example", "other")
        aTransport.clear()
        b.dataReceived(b"<message from='b.example' to='a.example' id='1'/>")
        self.assertEqual(aTransport.value(), b"<message from='b.example' to='a.example' id='1'/>")

    def test_deniedSenderGetsNotAllowed(self) -> None:
        """
        A sender the rule denies gets C{not-allowed} back, and the guarded
        component gets nothing.
        """
        a, aTransport = self.authenticate("a.example", SECRET)
        c, cTransport = self.authenticate("c.example", "c")
        aTransport.clear()
        cTransport.clear()
        c.dataReceived(b"<iq type='get' from='c.example' to='a.example' id='2'/>")
        self.assertEqual(aTransport.value(), b"")
        reply = cTransport.value()
        self.assertTrue(reply.startswith(b"<iq "), reply)
        self.assertIn(b"type='error'", reply)
        self.assertIn(b"<error type='cancel' code='405'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>", reply)

    def test_otherListenerUnguarded(self) -> None:
        """
        The rule guards only the components of its listener: one on a
        listener with the default rule C{all} takes stanzas from anyone,
        and the router then does no access work at all.
        """
        stream = self.open.buildProtocol(None)
        assert stream is not None
        transport = StringTransport()
        stream.makeConnection(transport)
        stream.dataReceived((HEADER % "c.example").encode())
        digest = handshakeDigest(streamId(transport.value()), "c")
        stream.dataReceived(b"<handshake>" + digest + b"</handshake>")
        transport.clear()
        self.assertIsNone(self.open.access)
        self.router.route(stanza("<message from='x@nowhere.example' to='c.example'/>"))
        self.assertEqual(transport.value(), b"<message from='x@nowhere.example' to='c.example'/>")
        self.assertEqual(self.router._guards, {})

    def test_guardDroppedWhenUnbound(self) -> None:
        """
        The router forgets the rule of a stream once it is unbound.
        """
        a, aTransport = self.authenticate("a.example", SECRET)
        self.assertIn(a, self.router._guards)
        a.connectionLost()
        self.assertEqual(self.router._guards, {})


class CheckFromAndDiscoTests(ListenerOptionsMixin, SynchronousTestCase):
    """
    C{check_from}, C{hidden_components} and C{conflict_behaviour}.
    """

    def test_checkFromFalseIsTrusted(self) -> None:
        """
        With C{check_from = false}, any C{from} is accepted and routed as it
        is.
        """
        self.build(checkFrom=False)
        a, _ = self.authenticate("a.example", SECRET)
        b, bTransport = self.authenticate("b.example", "other")
        bTransport.clear()
        a.dataReceived(b"<message from='user@elsewhere.example' to='b.example'/>")
        self.assertEqual(bTransport.value(), b"<message from='user@elsewhere.example' to='b.example'/>")

    def test_checkFromDefault(self) -> None:
        """
        By default the component's own setting applies: C{invalid-from}.
        """
        a, aTransport = self.authenticate("a.example", SECRET)
        a.dataReceived(b"<message from='user@elsewhere.example' to='b.example'/>")
        self.assertStreamError(aTransport, "invalid-from")

    def test_hiddenComponents(self) -> None:
        """
        Components bound through a listener with C{hidden_components} are
        left out of disco#items while bound.
        """
        config = makeConfig(
            components={"a.example.org": {"secret": SECRET}, "b.example.org": {"secret": "other"}},
            virtualHosts=["example.org"],
        )
        self.build(config, hiddenComponents=True, password=PASSWORD)
        self.authenticate("a.example.org", SECRET)
        self.authenticate("gw.example.org", PASSWORD)
        self.assertEqual(list(self.router.componentsUnder("example.org")), [("b.example.org", None)])

    def test_kickOld(self) -> None:
        """
        C{conflict_behaviour = "kick_old"} replaces the old stream, whatever
        the component's own setting.
        """
        self.build(conflictResolve="kick_old")
        first, firstTransport = self.authenticate("a.example", SECRET)
        second, secondTransport = self.authenticate("a.example", SECRET)
        self.assertStreamError(firstTransport, "conflict")
        self.assertIs(self.router.lookup("a.example"), second)

    def test_disconnect(self) -> None:
        """
        C{conflict_behaviour = "disconnect"} (C{kick_new}) refuses the new
        stream.
        """
        self.build(conflictResolve="kick_new")
        first, firstTransport = self.authenticate("a.example", SECRET)
        second, secondTransport = self.authenticate("a.example", SECRET)
        self.assertStreamError(secondTransport, "conflict")
        self.assertIs(self.router.lookup("a.example"), first)

    def test_stanzaSizeLimit(self) -> None:
        """
        The listener's C{max_stanza_size} applies before and after the
        header.
        """
        self.build(stanzaSizeLimit=100)
        a, transport = self.authenticate("a.example", SECRET)
        a.dataReceived(b"<message to='b.example'><body>" + b"x" * 200)
        self.assertStreamError(transport, "policy-violation")


class ConnectionLimitTests(ListenerOptionsMixin, SynchronousTestCase):
    """
    C{max_connections} and C{state_timeout}.
    """

    def test_maxConnections(self) -> None:
        """
        A connection beyond the limit gets C{resource-constraint} at once;
        those already open are not affected, and a place that frees up can
        be taken again.
        """
        self.build(maxConnections=2)
        a, aTransport = self.authenticate("a.example", SECRET)
        pending, pendingTransport = self.connect()
        extra, extraTransport = self.connect()
        self.assertStreamError(extraTransport, "resource-constraint")
        self.assertTrue(extraTransport.value().startswith(b"<?xml version='1.0'?><stream:stream "))
        self.assertFalse(aTransport.disconnecting)
        self.assertFalse(pendingTransport.disconnecting)
        extra.connectionLost()
        self.assertEqual(len(self.factory.streams), 2)
        pending.connectionLost()
        again, againTransport = self.connect()
        self.assertFalse(againTransport.disconnecting)

    def test_stateTimeout(self) -> None:
        """
        A connection that has not completed the handshake within
        C{state_timeout} gets C{connection-timeout}.
        """
        self.build(stateTimeout=5.0)
        stream, transport = self.connect()
        stream.dataReceived((HEADER % "a.example").encode())
        self.clock.advance(4.9)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(0.1)
        self.assertStreamError(transport, "connection-timeout")

    def test_stateTimeoutEndsAtHandshake(self) -> None:
        """
        Once bound, the state timeout no longer applies.
        """
        self.build(stateTimeout=5.0)
        stream, transport = self.authenticate("a.example", SECRET)
        self.clock.advance(10)
        self.assertFalse(transport.disconnecting)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_noStateTimeout(self) -> None:
        """
        C{state_timeout = "infinity"} leaves a slow peer alone.
        """
        self.build(stateTimeout=None)
        stream, transport = self.connect()
        self.clock.advance(3600)
        self.assertFalse(transport.disconnecting)


class ShaperTests(ListenerOptionsMixin, SynchronousTestCase):
    """
    C{shaper}: reading pauses when a connection sends faster than the rate.
    """

    def test_floodPausesReading(self) -> None:
        """
        A flood pauses the transport until the rate has caught up; every
        stanza is still delivered.
        """
        self.build(shaper=ShaperConfig("slow", 1000, burst=1.0))
        a, aTransport = self.authenticate("a.example", SECRET)
        b, bTransport = self.authenticate("b.example", "other")
        bTransport.clear()
        message = b"<message from='a.example' to='b.example'><body>" + b"x" * 450 + b"</body></message>"
        a.dataReceived(message * 4)
        self.assertEqual(aTransport.producerState, "paused")
        self.assertEqual(bTransport.value().count(b"<message "), 4)
        # Over 2 KB (the handshake included) at 1 KB/s with 1 s of burst:
        # paused for more than one second and less than two.
        self.clock.advance(1.0)
        self.assertEqual(aTransport.producerState, "paused")
        self.clock.advance(1.0)
        self.assertEqual(aTransport.producerState, "producing")
        self.assertFalse(aTransport.disconnecting)

    def test_withinRateNotPaused(self) -> None:
        """
        Traffic within the rate is never paused.
        """
        self.build(shaper=ShaperConfig("slow", 1000, burst=1.0))
        a, aTransport = self.authenticate("a.example", SECRET)
        for _ in range(10):
            self.clock.advance(1.0)
            a.dataReceived(b" " * 900)
            self.assertEqual(aTransport.producerState, "producing")

    def test_lostConnectionForgetsResume(self) -> None:
        """
        A paused connection that is lost leaves no timer behind.
        """
        self.build(shaper=ShaperConfig("slow", 10, burst=0))
        a, aTransport = self.connect()
        a.dataReceived(b" " * 100)
        a.connectionLost()
        self.assertEqual(self.clock.getDelayedCalls(), [])


class KeepaliveTests(ListenerOptionsMixin, SynchronousTestCase):
    """
    Whitespace keepalives to silent components, and streams hibernating
    (L{StreamParser.hibernate}) after the handshake and when silent.
    """

    MESSAGE = b"<message from='a.example' to='b.example' id='m'><body>hi</body></message>"

    def test_hibernatesAfterHandshake(self) -> None:
        """
        Once the read that completed the handshake has been processed, the
        stream hibernates; the next stanza wakes it and is routed as usual.
        """
        self.build()
        a, aTransport = self.authenticate("a.example", SECRET)
        b, bTransport = self.authenticate("b.example", "other")
        self.assertFalse(a._parser.hibernating)  # type: ignore[union-attr]
        self.clock.advance(0)
        self.assertTrue(a._parser.hibernating)  # type: ignore[union-attr]
        self.assertTrue(b._parser.hibernating)  # type: ignore[union-attr]
        bTransport.clear()
        a.dataReceived(self.MESSAGE)
        self.assertEqual(bTransport.value(), self.MESSAGE)
        self.assertFalse(a._parser.hibernating)  # type: ignore[union-attr]

    def test_silentComponentHibernates(self) -> None:
        """
        At a keepalive tick, a bound component that sent nothing for the
        whole interval hibernates; one that spoke does not.
        """
        self.build(keepaliveInterval=30.0)
        self.factory.doStart()
        self.addCleanup(self.factory.doStop)
        a, _ = self.authenticate("a.example", SECRET)
        b, _ = self.authenticate("b.example", "other")
        self.clock.advance(0)
        a.dataReceived(self.MESSAGE)
        b.dataReceived(b"<presence from='b.example' to='a.example'/>")
        self.clock.advance(30)
        a.dataReceived(self.MESSAGE)
        self.clock.advance(30)
        self.assertEqual(
            (a._parser.hibernating, b._parser.hibernating),  # type: ignore[union-attr]
            (False, True),
        )

    def test_hibernatesWithoutKeepalives(self) -> None:
        """
        With keepalives off, silent streams still hibernate, at the default
        interval, and are sent nothing.
        """
        self.build(keepaliveInterval=None)
        self.factory.doStart()
        self.addCleanup(self.factory.doStop)
        a, aTransport = self.authenticate("a.example", SECRET)
        self.clock.advance(0)
        a.dataReceived(self.MESSAGE)
        aTransport.clear()
        self.clock.advance(DEFAULT_KEEPALIVE_INTERVAL)
        self.assertFalse(a._parser.hibernating)  # type: ignore[union-attr]
        self.clock.advance(DEFAULT_KEEPALIVE_INTERVAL)
        self.assertTrue(a._parser.hibernating)  # type: ignore[union-attr]
        self.assertEqual(aTransport.value(), b"")

    def test_silentComponentGetsWhitespace(self) -> None:
        """
        A bound component that sent nothing for a whole interval gets one
        space; one that spoke does not.
        """
        self.build(keepaliveInterval=30.0)
        self.factory.doStart()
        self.addCleanup(self.factory.doStop)
        a, aTransport = self.authenticate("a.example", SECRET)
        b, bTransport = self.authenticate("b.example", "other")
        aTransport.clear()
        bTransport.clear()
        self.clock.advance(30)  # both had spoken (the handshake)
        self.assertEqual((aTransport.value(), bTransport.value()), (b"", b""))
        b.dataReceived(b" ")
        self.clock.advance(30)
        self.assertEqual((aTransport.value(), bTransport.value()), (b" ", b""))

    def test_unboundGetNoKeepalive(self) -> None:
        """
        A connection that has not authenticated gets no keepalive.
        """
        self.build(keepaliveInterval=30.0, stateTimeout=None)
        self.factory.doStart()
        self.addCleanup(self.factory.doStop)
        stream, transport = self.connect()
        transport.clear()
        self.clock.advance(90)
        self.assertEqual(transport.value(), b"")

    def test_stoppedWithFactory(self) -> None:
        """
        Stopping the listener stops the keepalive timer.
        """
        self.build(keepaliveInterval=30.0)
        self.factory.doStart()
        self.factory.doStop()
        self.assertEqual(self.clock.getDelayedCalls(), [])


class OutputBoundTests(ListenerOptionsMixin, SynchronousTestCase):
    """
    The send timeout and the bound on what waits for a component that does
    not read.
    """

    def setUp(self) -> None:
        """
        A listener with a small output bound.
        """
        self.clock = Clock()
        self.build(sendTimeout=10.0, maxOutputBuffer=1000)

    def outputOf(self, transport: object) -> OutputBound:
        """
        The producer a stream registered with C{transport}: what Twisted
        pauses and resumes.
        """
        producer = getattr(transport, "producer", None)
        assert isinstance(producer, OutputBound), producer
        return producer

    def test_registeredAsProducer(self) -> None:
        """
        The stream's output bound is its transport's streaming producer, so
        the transport says when its buffer is full.
        """
        a, transport = self.authenticate("a.example", SECRET)
        self.assertIsInstance(transport.producer, OutputBound)
        self.assertTrue(transport.streaming)

    def test_backlogBounded(self) -> None:
        """
        While the transport's buffer is full, a backlog past
        C{max_output_buffer} closes the stream with C{policy-violation} at
        once, and the component is unbound.
        """
        a, aTransport = self.authenticate("a.example", SECRET)
        self.outputOf(aTransport).pauseProducing()
        aTransport.clear()
        message = stanza("<message from='b.example' to='a.example'><body>" + "x" * 400 + "</body></message>")
        self.router.route(message)
        self.router.route(message)
        self.assertFalse(aTransport.disconnecting)
        self.router.route(message)
        self.assertEqual(streamError(aTransport.value()), "policy-violation")
        self.assertEqual(aTransport.value().count(b"<message "), 2)
        self.assertIsNone(self.router.lookup("a.example"))

    def test_drainResetsBacklog(self) -> None:
        """
        When the buffer drains, counting stops and starts over at the next
        pause.
        """
        a, aTransport = self.authenticate("a.example", SECRET)
        message = stanza("<message from='b.example' to='a.example'><body>" + "x" * 400 + "</body></message>")
        for _ in range(3):
            self.outputOf(aTransport).pauseProducing()
            self.router.route(message)
            self.router.route(message)
            self.outputOf(aTransport).resumeProducing()
        self.assertFalse(aTransport.disconnecting)
        self.assertFalse(self.outputOf(aTransport).stalled)

    def test_boundIsOnWhatWaits(self) -> None:
        """
        On a Twisted TCP transport the bound is on what its buffer holds: a
        component that keeps reading is not cut off however much passes
        through while the buffer stays above its high-water mark, and one
        that stops reading is.
        """
        transport = BufferingTransport()
        a = self.factory.buildProtocol(None)
        a.makeConnection(transport)
        a.dataReceived((HEADER % "a.example").encode())
        digest = handshakeDigest(streamId(b"".join(transport._tempDataBuffer)), SECRET)
        a.dataReceived(b"<handshake>" + digest + b"</handshake>")
        transport.take(transport._tempDataLen)
        self.outputOf(transport).pauseProducing()
        message = stanza("<message from='b.example' to='a.example'><body>" + "x" * 400 + "</body></message>")
        for _ in range(20):
            self.router.route(message)
            transport.take(len(message.raw))  # type: ignore[arg-type]
        self.assertFalse(a._closed)
        for _ in range(3):
            self.router.route(message)
        self.assertTrue(a._closed)
        self.assertIsNone(self.router.lookup("a.example"))

    def test_stallTimesOut(self) -> None:
        """
        A buffer that has not drained within the send timeout ends the
        stream with C{connection-timeout}, and the connection is aborted,
        not left to flush.
        """
        a, aTransport = self.authenticate("a.example", SECRET)
        self.outputOf(aTransport).pauseProducing()
        self.clock.advance(9.9)
        self.assertFalse(aTransport.disconnecting)
        self.clock.advance(0.1)
        self.assertEqual(streamError(aTransport.value()), "connection-timeout")
        self.assertTrue(aTransport.disconnecting)
        self.assertIsNone(aTransport.producer)

    def test_closeDeadline(self) -> None:
        """
        A peer that neither reads the stream error nor closes is dropped
        after the send timeout.
        """
        a, aTransport = self.authenticate("a.example", SECRET)
        aborted = []
        aTransport.abortConnection = lambda: aborted.append(True)  # type: ignore[method-assign]
        a.close("system-shutdown")
        self.assertIsNone(aTransport.producer)
        self.clock.advance(10)
        self.assertEqual(aborted, [True])

    def test_noTimersLeft(self) -> None:
        """
        A connection that is lost leaves no timer behind.
        """
        a, aTransport = self.authenticate("a.example", SECRET)
        self.outputOf(aTransport).pauseProducing()
        a.close("system-shutdown")
        a.connectionLost()
        self.assertEqual(self.clock.getDelayedCalls(), [])
