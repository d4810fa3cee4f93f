"""
Tests for L{xcomp.router}: the table, C{from} checks, conflicts and bounces.
"""

from __future__ import annotations

from types import SimpleNamespace

from twisted.internet.task import Clock
from twisted.logger import LogLevel, capturedLogs
from twisted.trial.unittest import SynchronousTestCase
from twisted.words.protocols.jabber.jid import JID
from zope.interface.verify import verifyObject

from xcomp.hosts import LocalHost
from xcomp.interfaces import IRouter, IStreamRoute
from xcomp.router import ConflictError, Router, hostOf, preparedHost
from xcomp.test.helpers import FakeRoute, errorCondition, stanza


def component(name: str | None = None, hidden: bool = False) -> SimpleNamespace:
    return SimpleNamespace(name=name, discoHidden=hidden)


class RouterTestsMixin:
    def setUp(self) -> None:
        self.router = Router(
            Clock(),
            components={
                "a.example": component(),
                "b.example": component(),
                "offline.example": component(),
            },
        )
        self.a = FakeRoute("a.example")
        self.b = FakeRoute("b.example")
        self.router.bind("a.example", self.a)
        self.router.bind("b.example", self.b)


class RoutingTests(RouterTestsMixin, SynchronousTestCase):
    """
    Delivery between bound routes.
    """

    def test_routerProvidesInterface(self) -> None:
        """
        L{Router} is what internal components are given as L{IRouter}.
        """
        self.assertTrue(verifyObject(IRouter, self.router))

    def test_fakeRouteProvidesInterface(self) -> None:
        """
        The test double is a faithful L{IStreamRoute}.
        """
        self.assertTrue(verifyObject(IStreamRoute, self.a))

    def test_deliversBytesAsReceived(self) -> None:
        """
        A stanza between external components is delivered as the very bytes
        it arrived as: no parse, no re-serialisation.
        """
        message = stanza(
            "<message from='a.example' to='user@b.example/r' id='1'>"
            "<body>caf\u00e9 &amp; cr\u00e8me</body></message>"
        )
        self.router.receive(self.a, message)
        self.assertEqual(len(self.b.sent), 1)
        self.assertIs(self.b.sent[0].raw, message.raw)
        self.assertEqual(self.a.sent, [])

    def test_toIsPrepared(self) -> None:
        """
        A C{to} whose domain is not in canonical form is prepared before the
        lookup, so it still reaches its component.
        """
        self.router.receive(self.a, stanza("<message from='a.example' to='User@B.Example'/>"))
        self.assertEqual(len(self.b.sent), 1)

    def test_resourceWithAtAndSlash(self) -> None:
        """
        An C{@} or C{/} in the resource does not change the destination.
        """
        self.assertEqual(hostOf("u@b.example/x@c.example/y"), "b.example")
        self.router.receive(self.a, stanza("<message from='a.example' to='b.example/x@a.example'/>"))
        self.assertEqual(len(self.b.sent), 1)

    def test_missingFromIsStamped(self) -> None:
        """
        A stanza without C{from} is stamped with the sending component's
        domain, as Prosody 0.12 does, keeping its byte form.
        """
        self.router.receive(self.a, stanza("<message to='b.example'><body>x</body></message>"))
        [delivered] = self.b.sent
        self.assertEqual(delivered.sender, "a.example")
        self.assertIsNotNone(delivered.raw)
        self.assertEqual(delivered.element()["from"], "a.example")

    def test_invalidFrom(self) -> None:
        """
        A C{from} outside the component's domain closes its stream with
        C{invalid-from} and the stanza is not delivered.
        """
        self.router.receive(self.a, stanza("<message from='b.example' to='b.example'/>"))
        self.assertEqual(self.a.closed, "invalid-from")
        self.assertEqual(self.b.sent, [])
        self.assertIsNone(self.router.lookup("a.example"))

    def test_fromSubdomainIsInvalid(self) -> None:
        """
        A subdomain of the component's domain is another domain.
        """
        self.router.receive(self.a, stanza("<message from='x.a.example' to='b.example'/>"))
        self.assertEqual(self.a.closed, "invalid-from")

    def test_fromIsPrepared(self) -> None:
        """
        A C{from} naming the component's domain in another case is accepted.
        """
        self.router.receive(self.a, stanza("<message from='u@A.EXAMPLE/r' to='b.example'/>"))
        self.assertIsNone(self.a.closed)
        self.assertEqual(len(self.b.sent), 1)

    def test_trustedStreamMaySendAnyFrom(self) -> None:
        """
        A stream with C{checkFrom} off (trusted) may use any C{from}.
        """
        self.a.checkFrom = False
        self.router.receive(self.a, stanza("<message from='elsewhere.example' to='b.example'/>"))
        self.assertIsNone(self.a.closed)
        self.assertEqual(len(self.b.sent), 1)

    def test_missingTo(self) -> None:
        """
        A stanza without C{to} is answered with C{bad-request}.
        """
        self.router.receive(self.a, stanza("<iq from='a.example' type='get' id='q'><x/></iq>"))
        [reply] = self.a.sent
        self.assertEqual(errorCondition(reply), ("modify", "bad-request"))
        self.assertEqual(reply.id, "q")

    def test_malformedTo(self) -> None:
        """
        A C{to} that is not a JID is answered with C{jid-malformed}.
        """
        self.router.receive(self.a, stanza("<message from='a.example' to='a@b@c'/>"))
        [reply] = self.a.sent
        self.assertEqual(errorCondition(reply), ("modify", "jid-malformed"))

    def test_emptyLabel(self) -> None:
        """
        A C{to} with an empty domain label is answered with
        C{jid-malformed} too (Twisted's nameprep raises IndexError on it).
        """
        self.router.receive(self.a, stanza("<message from='a.example' to='a@b..c'/>"))
        [reply] = self.a.sent
        self.assertEqual(errorCondition(reply), ("modify", "jid-malformed"))

    def test_preparedHostShortcut(self) -> None:
        """
        Addresses that stringprep leaves unchanged get their domain without
        it, and the same one as through L{JID}; others still go through it.
        """
        for address in ("b.example", "user@b.example", "u.s-e_r@x-y.example/r@e/s o", "0.1"):
            self.assertEqual(preparedHost(address), JID(address).host)
        self.assertEqual(preparedHost("User@B.Example/R"), "b.example")
        self.assertIsNone(preparedHost("a@-b.example"))
        self.assertIsNone(preparedHost("a@b@c"))

    def test_unknownDomain(self) -> None:
        """
        A domain the router does not know is answered with
        C{cancel}/C{remote-server-not-found}, addressed back to the sender.
        """
        self.router.receive(
            self.a, stanza("<message from='u@a.example' to='x@nowhere.example' id='7'/>")
        )
        [reply] = self.a.sent
        self.assertEqual(errorCondition(reply), ("cancel", "remote-server-not-found"))
        self.assertEqual((reply.to, reply.sender, reply.id), ("u@a.example", "x@nowhere.example", "7"))

    def test_remoteRouteTakesUnknownDomains(self) -> None:
        """
        With a remote route set (s2s), a stanza for a domain that is neither
        bound nor configured goes to it, unchanged; a configured component
        that is offline is still answered here, and L{None} puts back
        C{remote-server-not-found}.
        """
        remote = FakeRoute("remote")
        self.router.setRemote(remote)
        message = stanza("<message from='u@a.example' to='x@nowhere.example' id='7'/>")
        self.router.receive(self.a, message)
        self.router.receive(self.a, stanza("<message from='a.example' to='offline.example'/>"))
        self.assertEqual(remote.sent, [message])
        self.assertEqual(errorCondition(self.a.sent[0]), ("wait", "remote-server-timeout"))
        self.router.setRemote(None)
        self.router.receive(self.a, message)
        self.assertEqual(errorCondition(self.a.sent[1]), ("cancel", "remote-server-not-found"))

    def test_configuredButNotConnected(self) -> None:
        """
        A configured component that is not connected is answered with
        C{wait}/C{remote-server-timeout} and Prosody's C{not-connected}.
        """
        self.router.receive(self.a, stanza("<message from='a.example' to='offline.example'/>"))
        [reply] = self.a.sent
        self.assertEqual(errorCondition(reply), ("wait", "remote-server-timeout"))
        error = next(reply.element().elements(None, "error"))
        self.assertEqual(
            [c.name for c in error.elements() if c.uri == "xmpp:prosody.im/protocol/component"],
            ["not-connected"],
        )

    def test_unboundComponentIsOffline(self) -> None:
        """
        Once a configured component's stream is unbound, stanzas to it get the
        offline error, not a delivery.
        """
        self.router.unbind("b.example", self.b)
        self.router.receive(self.a, stanza("<message from='a.example' to='b.example'/>"))
        self.assertEqual(self.b.sent, [])
        self.assertEqual(errorCondition(self.a.sent[0]), ("wait", "remote-server-timeout"))

    def test_errorsAreNeverAnswered(self) -> None:
        """
        An error stanza or an iq result that cannot be delivered is dropped,
        never answered with another error.
        """
        for xml in [
            "<message from='a.example' to='nowhere.example' type='error'/>",
            "<iq from='a.example' to='nowhere.example' type='result' id='1'/>",
            "<iq from='a.example' to='offline.example' type='error' id='1'/>",
            "<presence from='a.example' type='error'/>",
        ]:
            self.router.receive(self.a, stanza(xml))
        self.assertEqual(self.a.sent, [])

    def test_failingRouteAnswersInternalServerError(self) -> None:
        """
        An exception while delivering is logged with its traceback and the
        sender gets C{internal-server-error}.
        """

        class Exploding(FakeRoute):
            def send(self, stanza: object) -> None:
                raise RuntimeError("boom")

        self.router.unbind("b.example", self.b)
        self.router.bind("b.example", Exploding("b.example"))
        with capturedLogs() as events:
            self.router.receive(self.a, stanza("<iq from='a.example' to='b.example' type='get' id='1'/>"))
        [reply] = self.a.sent
        self.assertEqual(errorCondition(reply), ("cancel", "internal-server-error"))
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertTrue(any("log_failure" in e for e in events))

    def test_routeWithoutSourceRoutesBounceToSender(self) -> None:
        """
        When a stanza comes from inside the process (no source route), its
        bounce is routed to its C{from} like any stanza.
        """
        self.router.route(stanza("<message from='a.example' to='nowhere.example'/>"))
        [reply] = self.a.sent
        self.assertEqual(errorCondition(reply), ("cancel", "remote-server-not-found"))

    def test_verboseLogsTopTagOnly(self) -> None:
        """
        With C{verbose}, each routed stanza is logged at debug level with its
        top tag, never its body; without it nothing is logged per stanza.
        """
        message = stanza("<message from='a.example' to='b.example'><body>secret words</body></message>")
        with capturedLogs() as quiet:
            self.router.receive(self.a, message)
        self.assertEqual(quiet, [])
        self.router._verbose = True
        with capturedLogs() as events:
            self.router.receive(self.a, message)
        [event] = events
        from twisted.logger import formatEvent

        self.assertEqual(event["log_level"], LogLevel.debug)
        text = formatEvent(event)
        self.assertIn("b.example", text)
        self.assertNotIn("secret words", text)


class TableTests(RouterTestsMixin, SynchronousTestCase):
    """
    Binding, unbinding and the conflict policy.
    """

    def test_bindRefusesSecondStream(self) -> None:
        """
        By default (Prosody's C{kick_new}) a domain bound to a live stream
        cannot be bound again.
        """
        newer = FakeRoute("a.example")
        self.assertRaises(ConflictError, self.router.bind, "a.example", newer)
        self.assertIs(self.router.lookup("a.example"), self.a)
        self.assertIsNone(self.a.closed)

    def test_kickOldClosesOldBeforeBinding(self) -> None:
        """
        With C{kickOld}, the old stream is unbound and closed with
        C{conflict} before the new one is bound, and later stanzas reach only
        the new stream (L{FakeRoute} fails the test if one reaches the old).
        """
        newer = FakeRoute("a.example")
        self.router.bind("a.example", newer, kickOld=True)
        self.assertEqual(self.a.closed, "conflict")
        self.assertIs(self.router.lookup("a.example"), newer)
        self.router.receive(self.b, stanza("<message from='b.example' to='a.example'/>"))
        self.assertEqual(len(newer.sent), 1)

    def test_kickOldNeverReplacesAHost(self) -> None:
        """
        A domain the router serves itself cannot be taken over.
        """
        host = LocalHost("vhost.example", self.router)
        self.router.addHost("vhost.example", host)
        self.assertRaises(
            ConflictError, self.router.bind, "vhost.example", FakeRoute("vhost.example"), kickOld=True
        )
        self.assertIs(self.router.lookup("vhost.example"), host)

    def test_unbindOnlyTheCurrentRoute(self) -> None:
        """
        Unbinding a stream that was already replaced leaves the new one bound.
        """
        newer = FakeRoute("a.example")
        self.router.bind("a.example", newer, kickOld=True)
        self.router.unbind("a.example", self.a)
        self.assertIs(self.router.lookup("a.example"), newer)

    def test_bindAndUnbindAreLogged(self) -> None:
        """
        Each bind and unbind is one info line naming the domain and peer.
        """
        route = FakeRoute("offline.example", peer="127.0.0.1:4000")
        with capturedLogs() as events:
            self.router.bind("offline.example", route)
            self.router.unbindAll(route)
        self.assertEqual([e["log_level"] for e in events], [LogLevel.info] * 2)
        self.assertEqual([e["domain"] for e in events], ["offline.example"] * 2)
        self.assertEqual([e["peer"] for e in events], ["127.0.0.1:4000"] * 2)

    def test_componentsUnder(self) -> None:
        """
        Disco lists the configured components below a host, with their names,
        leaving out hidden ones and other hosts' components.
        """
        router = Router(
            Clock(),
            components={
                "gw.example.org": component("Gateway"),
                "hidden.example.org": component("Hidden", hidden=True),
                "deep.x.example.org": component(),
                "other.example.net": component("Other"),
                "example.org.evil": component(),
            },
        )
        self.assertEqual(
            list(router.componentsUnder("example.org")),
            [("deep.x.example.org", None), ("gw.example.org", "Gateway")],
        )
