# -*- test-case-name: xcomp.test.test_listener,xcomp.test.test_listener_bound,xcomp.test.test_listenopts,xcomp.test.test_listenopts_access,xcomp.test.test_listenopts_limits,xcomp.test.test_listenopts_keepalive -*-
"""
L{ComponentListenerFactory}: one per configured port and interface.  It
holds what the streams of one listener share: the listener's options, the
open streams, the compiled access rule, the claim rules, and the keepalive
tick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from twisted.internet import defer, task
from twisted.internet.interfaces import IAddress, IReactorTime
from twisted.internet.protocol import ServerFactory

from xcomp.access import compileRule
from xcomp.config import DEFAULT_KEEPALIVE_INTERVAL, ListenerConfig, RouterConfig
from xcomp.listener.claims import Claim, claimDomains
from xcomp.listener.connection import ComponentStream, StreamTotals
from xcomp.listener.output import Outbox
from xcomp.router import Router
from xcomp.stanza import Stanza

__all__ = ["ComponentListenerFactory"]


if TYPE_CHECKING:
    _ServerFactory = ServerFactory[ComponentStream]
else:
    # Twisted's factories are generic only in its recent releases.
    _ServerFactory = ServerFactory


class ComponentListenerFactory(_ServerFactory):
    """
    Accepts external components on one port and interface.

    @ivar streams: the open connections, so they can be closed at shutdown.
    @ivar closed: what the closed ones counted, and every stream's errors
        and failed handshakes (for metrics).
    @ivar listener: this listener's options.
    @ivar access: the compiled C{access} rule, or L{None} for C{all}.
    """

    protocol = ComponentStream
    # RouterService logs each listening address once; Twisted's per-factory
    # start/stop lines would only repeat it.
    noisy = False

    def __init__(
        self,
        router: Router,
        config: RouterConfig,
        reactor: IReactorTime,
        listener: ListenerConfig | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        """
        @param listener: the options of this listener; the defaults of
            L{ListenerConfig} when L{None}.
        @param outbox: the L{Outbox} shared with the router's other
            listeners; a new one when L{None}.
        """
        self.router = router
        self.config = config
        self.reactor = reactor
        self.listener = listener if listener is not None else ListenerConfig(0, "127.0.0.1")
        self.streams: set[ComponentStream] = set()
        self.closed = StreamTotals()
        self.outbox = outbox if outbox is not None else Outbox()
        self.access: Callable[[Stanza], bool] | None = compileRule(
            self.listener.access, config.acl, config.accessRules, config.virtualHosts
        )
        self._keepalives: task.LoopingCall | None = None

    def reconfigure(self, config: RouterConfig, listener: ListenerConfig) -> None:
        """
        Take a reloaded configuration: the next stream header is checked
        against its components and secrets, and the next connection gets
        this listener's new options.  Streams already past their header
        keep what they were given.
        """
        self.config = config
        self.listener = listener
        self.access = compileRule(listener.access, config.acl, config.accessRules, config.virtualHosts)

    def buildProtocol(self, addr: IAddress | None) -> ComponentStream:
        """
        A stream for a new connection, which knows this factory as its
        listener.
        """
        stream = ComponentStream(self)
        stream.factory = self
        return stream

    def startFactory(self) -> None:
        """
        Start the keepalive tick, once the port listens.
        """
        interval = self.listener.keepaliveInterval or DEFAULT_KEEPALIVE_INTERVAL
        if self._keepalives is None:
            self._keepalives = task.LoopingCall(self.keepalive)
            self._keepalives.clock = self.reactor
            self._keepalives.start(interval, now=False)

    def stopFactory(self) -> None:
        """
        Stop the keepalive tick.
        """
        if self._keepalives is not None and self._keepalives.running:
            self._keepalives.stop()
        self._keepalives = None

    def keepalive(self) -> None:
        """
        Every bound component that has sent nothing since the last call is
        sent a whitespace keepalive, unless keepalives are off (Prosody does
        the same when a component has been silent for C{read_timeout}), and
        its stream hibernates.  Once a peer has vanished, the keepalive is
        the write that the send timeout then catches.
        """
        ping = bool(self.listener.keepaliveInterval)
        for stream in self.streams:
            if stream.heard:
                stream.heard = False
            elif stream.domains:
                if ping:
                    stream.transport.write(b" ")
                stream.hibernate()

    def claim(self, domains: list[str]) -> Claim:
        """
        Decide whether a stream on this listener may bind C{domains}, and
        how (see L{claimDomains}).

        @raise xcomp.listener.claims.Refused: With the stream error and the
            reason.
        """
        return claimDomains(self.config, self.listener, domains)

    def shutdown(self, timeout: float = 5.0) -> defer.Deferred[None]:
        """
        End every stream with C{system-shutdown}; fires when they are all
        closed or C{timeout} seconds have passed.
        """
        self.stopFactory()
        waiting = []
        for stream in list(self.streams):
            waiting.append(stream.whenLost())
            stream.close("system-shutdown", "The router is shutting down")
        done = defer.DeferredList(waiting, consumeErrors=True)
        done.addTimeout(timeout, self.reactor)
        done.addErrback(lambda f: f.trap(defer.TimeoutError))
        return done.addCallback(lambda _: None)
