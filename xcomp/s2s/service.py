# -*- test-case-name: xcomp.test.test_s2s_service -*-
"""
L{S2SService}: federation as one service of the tree: the s2s listeners
(incoming streams) and the outgoing pool, which becomes the router's
remote route.  L{xcomp.service.RouterService} adds it when the
configuration asks for s2s.
"""

from __future__ import annotations

from typing import Any, Protocol as _TypingProtocol, cast

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import MultiService
from twisted.internet import defer
from twisted.internet.interfaces import IReactorCore

from xcomp.config import ConfigError, RouterConfig
from xcomp.config.model import S2SConfig
from xcomp.listener.output import Outbox
from xcomp.logsinks import Logger
from xcomp.router import Router
from xcomp.s2s.dialback import DialbackSecret
from xcomp.s2s.inboundfactory import DialbackVerifier, InboundListenerFactory, InboundTLS, s2sEndpoint
from xcomp.s2s.outboundlink import Resolver
from xcomp.s2s.pool import OutboundPool
from xcomp.s2s.resolver import ServerResolver
from xcomp.s2s.tls import S2STLS
from xcomp.stanza import Stanza

__all__ = ["OutboundRoute", "S2SService", "localDomains"]


class OutboundRoute(DialbackVerifier, _TypingProtocol):
    """
    What the service uses of s2s-out's L{xcomp.s2s.pool.OutboundPool}: the
    router's remote route (an L{xcomp.interfaces.IRoute}), the dialback
    verifier, and its shutdown.
    """

    domain: str

    def send(self, stanza: Stanza) -> None:
        """Deliver a stanza for a remote domain."""

    def close(self) -> defer.Deferred[None]:
        """End every outgoing link."""


def localDomains(config: RouterConfig, router: Router) -> "_IsLocal":
    """
    The test of whether a nameprep'd domain is one xcomp serves: a
    configured component (online or not), a VirtualHost, or a domain bound
    right now (with a listener's password).
    """
    return _IsLocal(config, router)


class _IsLocal:
    def __init__(self, config: RouterConfig, router: Router) -> None:
        self._configured = frozenset(config.components) | frozenset(config.virtualHosts)
        self._router = router

    def __call__(self, domain: str) -> bool:
        return domain in self._configured or self._router.lookup(domain) is not None


class S2SService(MultiService):
    """
    The s2s listeners and the outgoing pool.

    @ivar factory: The incoming streams' factory (all listeners share it).
    @ivar pool: The outgoing pool: the router's remote route while this
        service runs.
    """

    _log = Logger()

    def __init__(
        self,
        config: RouterConfig,
        router: Router,
        reactor: IReactorCore,
        *,
        outbox: Outbox | None = None,
        tls: InboundTLS | None = None,
        pool: OutboundRoute | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        """
        @param config: The configuration; C{config.s2s} must be set.
        @param outbox: The component listeners' L{Outbox}.
        @param tls: The s2s TLS settings (also the outgoing pool's); built
            from C{config.s2s} when L{None}.
        @param pool: The outgoing pool; built when L{None}.
        @param resolver: Where the pool finds remote servers; the system's
            DNS settings (and the connect overrides) when L{None}.
        @raise ConfigError: A certificate cannot be loaded, or a direct TLS
            port has none.
        """
        super().__init__()
        self._resolver: ServerResolver | None = None
        s2s = config.s2s
        assert s2s is not None, "S2SService needs config.s2s"
        self.config = s2s
        self.router = router
        isLocal = localDomains(config, router)
        secret = DialbackSecret(s2s.dialbackSecret)
        if tls is None:
            tls = _defaultTLS(s2s)
        self.tls = tls
        if pool is None:
            # The same secret on both sides: remote servers verify the keys
            # the pool sends with the factory's answers to db:verify.
            if resolver is None:
                self._resolver = _defaultResolver(s2s, reactor)
                # Its Targets are the pool's (attrs values with the same
                # attributes); Deferred's invariance hides that from mypy.
                resolver = cast(Resolver, self._resolver)
            pool = OutboundPool(
                router,
                s2s,
                reactor,  # type: ignore[arg-type]
                tls=cast(Any, tls),
                resolver=resolver,
                secret=secret,
                isLocal=isLocal,
            )
        self.pool: OutboundRoute = pool
        self.factory = InboundListenerFactory(
            router,
            s2s,
            reactor,  # type: ignore[arg-type]
            secret=secret,
            verifier=pool,
            tls=tls,
            isLocal=isLocal,
            outbox=outbox,
        )
        for listener in s2s.listeners:
            if listener.directTLS and not s2s.certificates:
                raise ConfigError(
                    listener.location or s2s.location,
                    f"s2s direct TLS port {listener.port}: no certificate is configured for any domain",
                )
            port = StreamServerEndpointService(s2sEndpoint(reactor, listener, tls), self.factory)
            # A port that cannot be bound must stop startup, not be logged and ignored.
            port._raiseSynchronously = True
            port.setName(f"{listener.interface}:{listener.port}")
            port.setServiceParent(self)
        router.setRemote(pool)  # type: ignore[arg-type]

    def privilegedStartService(self) -> None:
        super().privilegedStartService()
        for port in self:
            self._log.info("Listening for servers on {address}", address=port.name)

    def stopService(self) -> defer.Deferred[None]:
        """
        Stop listening, end the incoming streams with C{system-shutdown},
        and close the outgoing links.
        """
        stopped = defer.maybeDeferred(super().stopService)

        def closeAll(_: object) -> defer.Deferred[list[None]]:
            self.router.setRemote(None)
            return defer.gatherResults([self.factory.shutdown(), self.pool.close()])

        def stopResolving(_: object) -> None:
            if self._resolver is not None:
                self._resolver.close()

        return stopped.addCallback(closeAll).addCallback(stopResolving)


def _defaultTLS(s2s: S2SConfig) -> InboundTLS:
    """
    The TLS identities of the local domains and the trust store.

    @raise ConfigError: A certificate, key or CA file cannot be used.
    """
    return S2STLS(s2s)


def _defaultResolver(s2s: S2SConfig, reactor: IReactorCore) -> ServerResolver:
    """
    The system's name resolution (hosts file, C{resolv.conf}), after
    C{s2s_connect_overrides}.
    """
    return ServerResolver.fromConfig(s2s, reactor)  # type: ignore[arg-type]
