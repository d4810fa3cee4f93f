# -*- test-case-name: xcomp.test.test_service -*-
"""
L{RouterService}: the service tree of one xcomp process, built from a
L{RouterConfig}.  This is the entry point for embedding xcomp in another
Twisted application.
"""

from __future__ import annotations

import errno
import os
from typing import Callable, Mapping

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import IService, MultiService
from twisted.internet import defer
from twisted.internet.interfaces import IReactorCore
from twisted.python.filepath import FilePath

from xcomp.config import InternalComponentConfig, ListenerConfig, RouterConfig
from xcomp.endpoints import listenerEndpoint
from xcomp.hosts import LocalHost
from xcomp.http import HTTPService
from xcomp.interfaces import IComponentModule, IComponentPlugin, IInternalComponent
from xcomp.listener import ComponentListenerFactory, Outbox
from xcomp.config.diff import ListenerKey, listenerKey
from xcomp.logsinks import Logger, quietBinding
from xcomp.plugin import buildComponent, installedModules, installedPlugins
from xcomp.reload import ReloadResult, reloadService
from xcomp.router import Router
from xcomp.s2s.service import S2SService
from xcomp.cluster.service import ClusterService
from xcomp.cluster.standby import Standby

__all__ = ["PidfileInUse", "RouterService", "checkPidfile"]


class PidfileInUse(Exception):
    """
    A pidfile names a process that still runs: another xcomp, or another
    program sharing the configuration (Prosody's own pidfile).
    """

    def __init__(self, path: str, pid: int) -> None:
        super().__init__(path, pid)
        self.path = path
        self.pid = pid

    def __str__(self) -> str:
        return (
            f"{self.path}: pidfile of running process {self.pid}; not taking it over "
            "(stop that process, or set another pidfile)"
        )


def checkPidfile(path: str) -> None:
    """
    Refuse a pidfile that holds the PID of a live process other than this
    one, as twistd's own C{--pidfile} does.  A missing, unreadable or stale
    pidfile is not an error: it is overwritten.

    @raise PidfileInUse: The process it names runs.
    """
    try:
        with open(path, "rb") as f:
            pid = int(f.read().strip() or b"0")
    except (OSError, ValueError):
        return
    if pid <= 0 or pid == os.getpid():
        return
    try:
        os.kill(pid, 0)
    except OSError as e:
        # EPERM: it runs, as another user.
        if e.errno != errno.EPERM:
            return
    raise PidfileInUse(path, pid)


class RouterService(MultiService):
    """
    The router, its VirtualHosts, its internal components, and one listener
    per configured port and interface.

    @ivar router: the L{Router}.
    @ivar components: the internal components by domain; each is a child
        service, started before the listeners.
    @ivar factories: the listener factories, one per configured listener, in
        configuration order (and those a reload stopped listening for, while
        streams they accepted may still be open).
    @ivar ports: the listening port services by (interface, port).
    @ivar outbox: the L{Outbox} every listener shares.
    @ivar lastReload: what the last L{reload} did, or L{None} before any.
    @ivar s2s: the federation service, when the configuration asks for s2s.
    @ivar http: the HTTP port (metrics, status page), when the
        configuration enables it (L{xcomp.http}).
    @ivar started: when the service started (the reactor's clock), or
        L{None} before.
    """

    _log = Logger()

    def __init__(
        self,
        config: RouterConfig,
        *,
        reactor: IReactorCore | None = None,
        verbose: bool = False,
        plugins: Mapping[str, IComponentPlugin] | None = None,
        modules: Mapping[str, IComponentModule] | None = None,
    ) -> None:
        """
        @param plugins: the component plugins by name; the installed ones
            (L{xcomp.plugin.installedPlugins}) when C{None}.
        @param modules: the component modules by name; the installed ones
            when C{None}.
        @raise xcomp.config.ConfigError: an internal component cannot be made.
        """
        super().__init__()
        if reactor is None:
            from twisted.internet import reactor as globalReactor

            reactor = globalReactor
        self.config = config
        self.reactor = reactor
        self.router = Router(
            reactor,  # type: ignore[arg-type]
            components=config.components,
            verbose=verbose,
            holdTotalBytes=config.holdTotalBytes,
        )
        for domain, host in config.virtualHosts.items():
            self.router.addHost(domain, LocalHost(domain, self.router, host.name or "xcomp"))
        self.components: dict[str, IInternalComponent] = {}
        self._plugins = plugins
        self._modules = modules
        self.lastReload: ReloadResult | None = None
        internal = {
            domain: self.makeComponent(component)
            for domain, component in config.components.items()
            if isinstance(component, InternalComponentConfig)
        }
        if config.cluster is None:
            for component in internal.values():
                self.addComponent(component)
        # On a cluster node, each is built now (a mistake stops startup) and
        # runs while this node holds its claim (xcomp.cluster.standby).
        self._standing = internal if config.cluster is not None else {}
        self.factories: list[ComponentListenerFactory] = []
        self.ports: dict[ListenerKey, StreamServerEndpointService] = {}
        self.outbox = Outbox()
        for listener in config.listeners:
            factory = ComponentListenerFactory(
                self.router, config, reactor, listener, self.outbox  # type: ignore[arg-type]
            )
            self.listen(listener, factory)
            self.factories.append(factory)
        self.s2s: S2SService | None = None
        if config.s2s is not None:
            # Federation: the s2s listeners, and the route to remote domains.
            self.s2s = S2SService(config, self.router, reactor, outbox=self.outbox)
            self.s2s.setServiceParent(self)
        self.cluster: ClusterService | None = None
        if config.cluster is not None:
            # One node of several: the other nodes' domains, through Redis.
            standby = Standby(internal, self._startStandby, self.removeComponent)
            self.cluster = ClusterService(config.cluster, self.router, reactor, standby)  # type: ignore[arg-type]
            self.cluster.setServiceParent(self)
        self.started: float | None = None
        self.http: HTTPService | None = None
        if config.http:
            self.http = HTTPService(self)
            self.http.setServiceParent(self)

    def listen(
        self, listener: ListenerConfig, factory: ComponentListenerFactory
    ) -> StreamServerEndpointService:
        """
        Add the port service of C{listener}, serving C{factory}; it listens
        at once if this service runs.

        @raise xcomp.config.ConfigError: its certificate cannot be loaded.
        @raise twisted.internet.error.CannotListenError: it runs, and the
            port cannot be bound (the service is not added then).
        """
        port = StreamServerEndpointService(listenerEndpoint(self.reactor, listener), factory)
        # A port that cannot be bound must stop startup, not be logged and ignored.
        port._raiseSynchronously = True
        port.setName(f"{listener.interface}:{listener.port}")
        key = listenerKey(listener)
        try:
            quietBinding(port.setServiceParent, self)
        except BaseException:
            if port in list(self):
                port.disownServiceParent()
            raise
        self.ports[key] = port
        return port

    def makeComponent(self, component: InternalComponentConfig) -> IInternalComponent:
        """
        Make one internal component with its plugin (see L{addComponent}).

        @raise xcomp.config.ConfigError: it cannot be made.
        """
        if self._plugins is None:
            self._plugins = installedPlugins()
        if self._modules is None:
            self._modules = installedModules()
        return buildComponent(component, self.router, self._plugins, self._modules, self.config.dataPath)

    def addComponent(self, service: IInternalComponent) -> None:
        """
        Route an internal component's domain to it and add it as a child
        service (started at once if this service runs).
        """
        self.router.addHost(service.domain, service.route)
        service.setServiceParent(self)  # type: ignore[attr-defined]
        self.components[service.domain] = service

    def removeComponent(self, domain: str) -> defer.Deferred[object]:
        """
        Take an internal component's route away and stop it; a Deferred
        that fires once it has stopped (its files closed).  Nothing to do
        for a domain without one.
        """
        component = self.components.pop(domain, None)
        if component is None:
            return defer.succeed(None)
        self.router.removeHost(domain, component.route)
        return defer.maybeDeferred(IService(component).disownServiceParent)

    def _startStandby(self, domain: str) -> None:
        component = self._standing.pop(domain, None)
        if component is None:
            config = self.config.components[domain]
            assert isinstance(config, InternalComponentConfig)
            component = self.makeComponent(config)
        self.addComponent(component)

    def reload(self, load: Callable[[], RouterConfig]) -> defer.Deferred[ReloadResult]:
        """
        Replace the running configuration with C{load()}'s, changing only
        what differs (see L{xcomp.reload}); a component whose configuration
        did not change stays connected.  When C{load} raises
        L{xcomp.config.ConfigError}, or a new port cannot be bound, the
        running configuration is kept.  The result is also L{lastReload}.
        """
        return reloadService(self, load)

    def privilegedStartService(self) -> None:
        quietBinding(super().privilegedStartService)
        for port in self:
            if not isinstance(port, StreamServerEndpointService):
                continue
            self._log.info("Listening for components on {address}", address=port.name)

    def startService(self) -> None:
        if self.config.pidfile:
            checkPidfile(self.config.pidfile)
        self.started = self.reactor.seconds()  # type: ignore[attr-defined]
        super().startService()
        if self.config.pidfile:
            FilePath(self.config.pidfile).setContent(b"%d\n" % os.getpid())

    def stopService(self) -> defer.Deferred[None]:
        """
        Stop listening, then end every component stream with
        C{system-shutdown}.
        """
        stopped = defer.maybeDeferred(super().stopService)

        def closeStreams(_: object) -> defer.Deferred[list[None]]:
            return defer.gatherResults([factory.shutdown() for factory in self.factories])

        def dropHeld(_: object) -> None:
            # Closing the streams started holds for their domains.
            self.router.holds.stop()

        def removePidfile(_: object) -> None:
            if self.config.pidfile:
                FilePath(self.config.pidfile).remove()

        return stopped.addCallback(closeStreams).addCallback(dropHeld).addCallback(removePidfile)
