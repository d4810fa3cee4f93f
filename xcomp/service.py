# -*- test-case-name: xcomp.test.test_service -*-
"""
L{RouterService}: the service tree of one xcomp process, built from a
L{RouterConfig}.  This is the entry point for embedding xcomp in another
Twisted application.
"""

from __future__ import annotations

import ipaddress
import os

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import MultiService
from twisted.internet import defer
from twisted.internet.endpoints import TCP4ServerEndpoint, TCP6ServerEndpoint
from twisted.internet.interfaces import IReactorCore, IStreamServerEndpoint
from twisted.logger import Logger
from twisted.python.filepath import FilePath

from xcomp.config import ListenerConfig, RouterConfig
from xcomp.hosts import LocalHost
from xcomp.listener import ComponentListenerFactory
from xcomp.router import Router


def listenerEndpoint(reactor: IReactorCore, listener: ListenerConfig) -> IStreamServerEndpoint:
    """
    The TCP endpoint for one configured port and interface.
    """
    version = ipaddress.ip_address(listener.interface).version
    endpointType = TCP6ServerEndpoint if version == 6 else TCP4ServerEndpoint
    return endpointType(reactor, listener.port, interface=listener.interface)  # type: ignore[arg-type]


class RouterService(MultiService):
    """
    The router, its VirtualHosts, and one listener per configured port and
    interface.

    @ivar router: the L{Router}.
    @ivar factories: the listener factories, one per configured listener, in
        configuration order.
    """

    _log = Logger()

    def __init__(
        self, config: RouterConfig, *, reactor: IReactorCore | None = None, verbose: bool = False
    ) -> None:
        super().__init__()
        if reactor is None:
            from twisted.internet import reactor as globalReactor

            reactor = globalReactor  # type: ignore[assignment]
        self.config = config
        self.reactor = reactor
        self.router = Router(reactor, components=config.components, verbose=verbose)  # type: ignore[arg-type]
        for domain, host in config.virtualHosts.items():
            self.router.addHost(domain, LocalHost(domain, self.router, host.name or "xcomp"))
        self.factories: list[ComponentListenerFactory] = []
        for listener in config.listeners:
            factory = ComponentListenerFactory(self.router, config, reactor)  # type: ignore[arg-type]
            port = StreamServerEndpointService(listenerEndpoint(reactor, listener), factory)  # type: ignore[arg-type]
            # A port that cannot be bound must stop startup, not be logged and ignored.
            port._raiseSynchronously = True
            port.setName(f"{listener.interface}:{listener.port}")
            port.setServiceParent(self)
            self.factories.append(factory)

    def privilegedStartService(self) -> None:
        super().privilegedStartService()
        for port in self:
            self._log.info("Listening for components on {address}", address=port.name)

    def startService(self) -> None:
        super().startService()
        if self.config.pidfile:
            FilePath(self.config.pidfile).setContent(b"%d\n" % os.getpid())

    def stopService(self) -> defer.Deferred[None]:
        """
        Stop listening, then end every component stream with
        C{system-shutdown}.
        """
        stopped = defer.maybeDeferred(super().stopService)

        def closeStreams(_: object) -> defer.Deferred[object]:
            return defer.gatherResults([factory.shutdown() for factory in self.factories])

        def removePidfile(_: object) -> None:
            if self.config.pidfile:
                FilePath(self.config.pidfile).remove()

        return stopped.addCallback(closeStreams).addCallback(removePidfile)
