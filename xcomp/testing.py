# -*- test-case-name: xcomp.test.test_plugins -*-
"""
Test doubles for authors of internal components (public API).

L{ComponentHarness} runs a component the way C{twistd xcomp} does (its
plugin's C{makeComponent}, its modules attached, its route installed in a
real L{Router<xcomp.router.Router>}), but on a L{Clock} and with no sockets.
L{FakeComponent}s stand for external (XEP-0114) components: what one sends
goes through the router's checks like a stanza read from a stream, and what
the router delivers to it is recorded, parsed from the bytes a stream would
have written.  A trial test::

    from twisted.trial.unittest import SynchronousTestCase
    from xcomp.testing import ComponentHarness

    class PingTests(SynchronousTestCase):
        def test_ping(self) -> None:
            harness = ComponentHarness.forPlugin("ping", "ping.example.org")
            harness.start()
            self.addCleanup(harness.stop)
            user = harness.external("user.example.org")
            user.send("<iq type='get' id='1' to='ping.example.org' from='a@user.example.org/x'>"
                      "<ping xmlns='urn:xmpp:ping'/></iq>")
            [reply] = user.take()
            self.assertEqual(reply["type"], "result")

Delivery to the component happens on the next turn of the clock, as in a
running router; L{FakeComponent.send} turns the clock until nothing more is
due, so replies are there when it returns.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping

from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.words.xish import domish
from zope.interface import implementer

from xcomp.interfaces import IComponentModule, IComponentPlugin, IInternalComponent, IStreamRoute
from xcomp.router import Router
from xcomp.stanza import COMPONENT_NS, Stanza, parseElement

__all__ = ["ComponentHarness", "FakeComponent", "errorOf", "stanzaFromXml"]

NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"


def stanzaFromXml(xml: str | bytes | domish.Element) -> Stanza:
    """
    A L{Stanza} as xcomp's stream parser makes it from one element in the
    component namespace (C{jabber:component:accept}).
    """
    if isinstance(xml, domish.Element):
        data = xml.toXml(defaultUri=COMPONENT_NS).encode("utf-8")
    else:
        data = xml.encode("utf-8") if isinstance(xml, str) else xml
    element = parseElement(data, {"": COMPONENT_NS})
    attributes = {k: v for k, v in element.attributes.items() if isinstance(k, str)}
    return Stanza(element.name, element.uri, attributes, data)


def errorOf(stanza: domish.Element) -> tuple[str | None, str | None]:
    """
    The (type, condition) of an error stanza, or C{(None, None)} when it
    has no C{<error/>}.
    """
    for error in stanza.elements():
        if error.name == "error":
            for condition in error.elements(NS_STANZAS):
                return error.getAttribute("type"), condition.name
            return error.getAttribute("type"), None
    return None, None


@implementer(IStreamRoute)
class _FakeStream:
    """
    The route of a L{FakeComponent}, as the router sees it.
    """

    checkFrom = True
    peer = "fake"

    def __init__(self, owner: FakeComponent) -> None:
        self.domain = owner.domain
        self.domains = frozenset({owner.domain})
        self._owner = owner

    def send(self, stanza: Stanza) -> None:
        self._owner.received.append(parseElement(stanza.toBytes(), {"": COMPONENT_NS}))

    def close(self, condition: str, text: str | None = None) -> None:
        self._owner.closed = condition


class FakeComponent:
    """
    An external component bound to the harness's router.

    @ivar domain: its domain; it may send from any JID within it.
    @ivar received: what the router delivered to it, oldest first.
    @ivar closed: the stream error condition the router closed it with.
    """

    def __init__(self, harness: ComponentHarness, domain: str) -> None:
        self.harness = harness
        self.domain = domain
        self.received: list[domish.Element] = []
        self.closed: str | None = None
        self.route = _FakeStream(self)
        harness.router.bind(domain, self.route)

    def send(self, xml: str | bytes | domish.Element) -> None:
        """
        Send one stanza into the router (a missing C{from} is stamped with
        L{domain}), then turn the clock until nothing more is due.
        """
        self.harness.router.receive(self.route, stanzaFromXml(xml))
        self.harness.flush()

    def take(self, predicate: Callable[[domish.Element], bool] = lambda e: True) -> list[domish.Element]:
        """
        Remove and return what was received that matches C{predicate}.
        """
        taken = [e for e in self.received if predicate(e)]
        self.received = [e for e in self.received if not predicate(e)]
        return taken


class ComponentHarness:
    """
    One internal component on an in-memory router.

    @ivar clock: the L{Clock} the router and the component use as reactor.
    @ivar router: the L{Router}.
    @ivar component: the component (an L{IInternalComponent} and service).
    """

    def __init__(self, component: IInternalComponent, router: Router, clock: Clock) -> None:
        self.component = component
        self.router = router
        self.clock = clock

    @classmethod
    def forPlugin(
        cls,
        plugin: IComponentPlugin | str,
        domain: str,
        options: Mapping[str, object] = {},
        modules: Iterable[IComponentModule | str] = (),
    ) -> ComponentHarness:
        """
        Make a component with its plugin and attach its modules, as
        C{twistd xcomp} would for C{Component "domain" "plugin"}.

        @param plugin: the plugin, or the name of an installed one.
        @param options: the component's options, as in the configuration.
        @param modules: modules (or names of installed ones) to attach.
        """
        from xcomp.plugin import declaredOptions, installedModules, installedPlugins
        from xcomp.pluginoptions import convertOptions

        if isinstance(plugin, str):
            plugin = installedPlugins()[plugin]
        attached = [installedModules()[m] if isinstance(m, str) else m for m in modules]
        declared = list(declaredOptions(plugin))
        for module in attached:
            declared += declaredOptions(module)
        clock = Clock()
        router = Router(clock)
        # Converted as the configuration loader would: the plugin gets its
        # declared options' values and defaults.
        frozen = convertOptions(options, declared)
        component = plugin.makeComponent(domain, frozen, router)
        for module in attached:
            module.attach(component, frozen)
        router.addHost(domain, component.route)
        return cls(component, router, clock)

    def start(self) -> None:
        """
        Start the component's service and let it settle.
        """
        self.component.startService()  # type: ignore[attr-defined]
        self.flush()

    def stop(self) -> defer.Deferred[object]:
        """
        Stop the component's service.
        """
        stopService: Callable[[], object] = self.component.stopService  # type: ignore[attr-defined]
        d = defer.maybeDeferred(stopService)
        self.flush()
        return d

    def external(self, domain: str) -> FakeComponent:
        """
        Connect a fake external component for C{domain}.
        """
        return FakeComponent(self, domain)

    def flush(self) -> None:
        """
        Run everything due now, including what that schedules for now.
        """
        self.clock.advance(0)

    def advance(self, seconds: float) -> None:
        """
        Move the clock forward, running what falls due.
        """
        self.clock.advance(seconds)
