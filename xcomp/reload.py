# -*- test-case-name: xcomp.test.test_reload -*-
"""
Reloading the configuration of a running L{RouterService
<xcomp.service.RouterService>} without dropping anyone: the difference
between the running and the new configuration (L{xcomp.config.diff}) is
applied, and nothing else is touched.

The steps, in the order that keeps a failure harmless:
  1. read the new configuration, make the new internal components, and
     bind the new ports; any mistake here undoes what was opened and keeps
     the running configuration whole;
  2. hand the new configuration to the router (which domains are
     configured) and to every listener factory (secrets and options for
     the next stream header; listeners never read the routing table);
  3. end the streams of removed components with C{host-gone}, stop removed
     internal components and VirtualHosts, then start the new ones;
  4. close removed ports (their streams stay connected), and open again
     those whose TLS, C{SO_REUSEPORT} or PROXY setting changed.
A bound component whose configuration did not change sees none of this.
"""

from __future__ import annotations

from typing import Callable, Protocol

import attrs
from twisted.application.internet import StreamServerEndpointService
from twisted.internet import defer
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IReactorCore, IReactorTime

from xcomp.config import ConfigError, InternalComponentConfig, ListenerConfig, RouterConfig
from xcomp.config.diff import ListenerKey, diffConfigs, listenerKey
from xcomp.hosts import LocalHost
from xcomp.interfaces import IInternalComponent, IStreamRoute
from xcomp.listener import ComponentListenerFactory, Outbox
from xcomp.logsinks import Logger
from xcomp.router import Router

__all__ = ["ReloadResult", "cannotListenMessage", "reloadService"]

_log = Logger()


@attrs.frozen
class ReloadResult:
    """
    What one reload did, for the log and the status page.

    @ivar when: When it was asked for (the reactor's clock: seconds since
        the epoch).
    @ivar ok: Whether the new configuration runs now, entirely.
    @ivar message: The error (C{file:line: what is wrong}) when not C{ok};
        otherwise what changed, in one line.
    @ivar changes: What changed, one phrase per kind (empty when nothing
        did, or nothing was applied).
    """

    when: float
    ok: bool
    message: str
    changes: tuple[str, ...] = ()


class _Reloadable(Protocol):
    """
    What a reload uses of the L{RouterService<xcomp.service.RouterService>}.
    """

    config: RouterConfig
    reactor: IReactorCore
    router: Router
    components: dict[str, IInternalComponent]
    factories: list[ComponentListenerFactory]
    ports: dict[ListenerKey, StreamServerEndpointService]
    outbox: Outbox
    lastReload: ReloadResult | None

    def listen(self, listener: ListenerConfig, factory: ComponentListenerFactory) -> StreamServerEndpointService: ...

    def makeComponent(self, component: InternalComponentConfig) -> IInternalComponent: ...

    def addComponent(self, service: IInternalComponent) -> None: ...

    def removeComponent(self, domain: str) -> defer.Deferred[object]: ...


def cannotListenMessage(config: RouterConfig, e: CannotListenError) -> str:
    """
    The one line for a port a reload cannot bind: where the listener was
    configured (when known), its address and the system's reason.  The
    same line as C{twistd xcomp}'s at startup
    (L{xcomp.tap.CommandLineService._cannotListen}, which also knows the
    HTTP port); once both are merged, its component part can call this.
    """
    reason = getattr(e.socketError, "strerror", None) or str(e.socketError)
    message = f"cannot listen for components on {e.interface}:{e.port}: {reason}"
    for listener in config.listeners:
        if (listener.interface, listener.port) == (e.interface, e.port) and listener.location:
            return f"{listener.location}: {message}"
    return message


def _finish(service: _Reloadable, result: ReloadResult) -> ReloadResult:
    service.lastReload = result
    if result.ok:
        _log.info(
            "Reloaded the configuration from {source}: {changes}",
            source=service.config.source,
            changes=result.message,
        )
    else:
        _log.error("Reload: {problem}", problem=result.message)
    return result


def _refused(service: _Reloadable, when: float, problem: str) -> ReloadResult:
    return _finish(service, ReloadResult(when, False, f"{problem} (the running configuration is kept)"))


def _takeOver(router: Router, domain: str, why: str) -> None:
    """
    End the streams bound to C{domain} with C{host-gone}: it is no longer
    configured, or the router now serves it itself.
    """
    current = router.lookup(domain)
    if current is not None and IStreamRoute.providedBy(current):
        current.close("host-gone", why)
        return
    # Several streams balanced on the domain (component_conflict_resolve =
    # "balance"): each of them goes.
    for member in list(getattr(current, "members", ())):
        member.stream.close("host-gone", why)


def reloadService(service: _Reloadable, load: Callable[[], RouterConfig]) -> defer.Deferred[ReloadResult]:
    """
    Apply C{load()}'s configuration to C{service}; see the module's
    docstring for the steps.  The result is also C{service.lastReload}.
    """
    when = IReactorTime(service.reactor).seconds()
    try:
        new = load()
    except ConfigError as e:
        return defer.succeed(_refused(service, when, str(e)))
    diff = diffConfigs(service.config, new)
    newListeners = {listenerKey(l): l for l in new.listeners}
    # Step 1: everything that can fail, before anything changes.
    made: dict[str, IInternalComponent] = {}
    opened: list[ListenerKey] = []
    try:
        for domain in (*diff.internalAdded, *diff.internalRestarted):
            component = new.components[domain]
            assert isinstance(component, InternalComponentConfig)
            made[domain] = service.makeComponent(component)
        for key in diff.listenersAdded:
            listener = newListeners[key]
            factory = ComponentListenerFactory(
                service.router, new, service.reactor, listener, service.outbox  # type: ignore[arg-type]
            )
            service.listen(listener, factory)
            opened.append(key)
            service.factories.append(factory)
    except (ConfigError, CannotListenError) as e:
        for key in opened:
            port = service.ports.pop(key)
            service.factories.remove(port.factory)
            port.disownServiceParent()
        problem = cannotListenMessage(new, e) if isinstance(e, CannotListenError) else str(e)
        return defer.succeed(_refused(service, when, problem))
    for key in opened:
        _log.info("Listening for components on {address}", address="%s:%s" % key)
    # Step 2: the new configuration, for the router and every listener.
    router = service.router
    service.config = new
    router.setComponents(new.components)
    for factory in service.factories:
        factory.reconfigure(new, newListeners.get(listenerKey(factory.listener), factory.listener))
    # Step 3: components and hosts.
    for domain in diff.componentsRemoved:
        _takeOver(router, domain, f"{domain} is no longer configured")
        # Its stanzas must not wait out a grace period for a component
        # that cannot come back: what is held is answered now.
        router.holds.end(domain)
    waits: list[defer.Deferred[object]] = []
    for domain in (*diff.internalRemoved, *diff.internalRestarted):
        waits.append(service.removeComponent(domain))
    hosts = new.virtualHosts
    for domain in (*diff.hostsRemoved, *diff.hostsChanged):
        route = router.lookup(domain)
        if route is not None:
            router.removeHost(domain, route)
    for domain in (*diff.hostsAdded, *diff.hostsChanged):
        _takeOver(router, domain, f"{domain} is now a VirtualHost")
        router.addHost(domain, LocalHost(domain, router, hosts[domain].name or "xcomp"))
    problems: list[str] = []
    stopped = defer.DeferredList(waits, consumeErrors=True)

    def startComponents(_: object) -> None:
        # After the old ones have stopped: a restarted one may open the same
        # files (a MUC's database).
        for domain, component in made.items():
            _takeOver(router, domain, f"{domain} is now an internal component")
            service.addComponent(component)

    stopped.addCallback(startComponents)
    # Step 4: ports closed, or opened again.
    listeners: list[defer.Deferred[object]] = [stopped]  # type: ignore[list-item]
    for key in diff.listenersRemoved:
        listeners.append(_closePort(service, key))
    for key in diff.listenersRebound:
        listeners.append(_reopenPort(service, key, newListeners[key], problems))

    def done(_: object) -> ReloadResult:
        changes = tuple(diff.describe())
        summary = "; ".join(changes) or "no changes"
        if problems:
            return _finish(service, ReloadResult(when, False, f"{summary}; but {'; '.join(problems)}", changes))
        return _finish(service, ReloadResult(when, True, summary, changes))

    return defer.DeferredList(listeners, consumeErrors=True).addCallback(done)


def _closePort(service: _Reloadable, key: ListenerKey) -> defer.Deferred[object]:
    """
    Stop listening on C{key}.  The streams accepted there stay connected,
    and their keepalive tick goes on.
    """
    port = service.ports.pop(key)
    factory = port.factory

    def keepTicking(_: object) -> None:
        if factory.streams:
            factory.startFactory()
        _log.info("No longer listening for components on {address}", address="%s:%s" % key)

    return defer.maybeDeferred(port.disownServiceParent).addCallback(keepTicking)


def _reopenPort(
    service: _Reloadable, key: ListenerKey, listener: ListenerConfig, problems: list[str]
) -> defer.Deferred[object]:
    """
    Close the port of C{key} and listen again with C{listener}'s endpoint,
    serving the same factory (its open streams are not touched).  A failure
    is added to C{problems}.
    """
    port = service.ports.pop(key)

    def listenAgain(_: object) -> None:
        try:
            service.listen(listener, port.factory)
        except (ConfigError, CannotListenError) as e:
            problems.append(cannotListenMessage(service.config, e) if isinstance(e, CannotListenError) else str(e))
            return
        _log.info("Listening for components on {address}", address="%s:%s" % key)

    return defer.maybeDeferred(port.disownServiceParent).addCallback(listenAgain)

