"""
Tests for the options of a component listener (L{ListenerConfig}) that
decide what reaches and leaves its components, as L{xcomp.listener} and
L{xcomp.router} apply them on L{StringTransport} and L{Clock}: C{access},
C{check_from}, C{hidden_components}, C{conflict_behaviour} and
C{max_stanza_size}.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from xcomp.config.acl import ACLPattern, AccessClause
from xcomp.listener import ComponentListenerFactory, handshakeDigest
from xcomp.test.helpers import makeConfig, stanza
from xcomp.test.listenerhelpers import HEADER, PASSWORD, SECRET, ListenerOptionsMixin, streamId


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
        The router forgets the rule of a stream once it is unbound; the
        hold of its domain keeps it (so a refused sender is refused while
        the component is away) until the grace period ends.
        """
        a, aTransport = self.authenticate("a.example", SECRET)
        self.assertIn(a, self.router._guards)
        guard = self.router._guards[a]
        a.connectionLost()
        self.assertEqual(self.router._guards, {self.router.holds.holding("a.example"): guard})
        self.clock.advance(30)
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
