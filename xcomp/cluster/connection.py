# -*- test-case-name: xcomp.test.test_cluster_loopback,xcomp.test.test_cluster_processes -*-
"""
Connections to Redis, through txredisapi, on the reactor xcomp was given.

txredisapi keeps each connection up: it reconnects with a growing,
jittered delay after Redis goes away.  What it does not do is fail fast
while Redis is away (its lazy handler waits for the next connection), and a
stanza must be answered at once rather than wait out an outage.  So this
module hands out the live protocol or nothing (L{RedisLink.current}), and
each caller decides what nothing means.
"""

from __future__ import annotations

import socket
from typing import Callable

import txredisapi
from twisted.internet import ssl
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.python.filepath import FilePath

from xcomp.config import ClusterConfig, ConfigError
from xcomp.logsinks import Logger

#: Seconds Redis may take to answer one command before the connection is
#: dropped (and made again); a stanza waits no longer than this.
REPLY_TIMEOUT = 5.0
#: The longest wait between two attempts to reach Redis again.
MAX_RETRY_DELAY = 2.0


def endpointFor(reactor: object, config: ClusterConfig) -> IStreamClientEndpoint:
    """
    The client endpoint of the configured Redis, with TLS for C{rediss://}
    (the server's certificate checked for its host name).
    """
    endpoint: IStreamClientEndpoint = HostnameEndpoint(
        reactor, config.host, config.port, timeout=REPLY_TIMEOUT
    )
    if config.tls:
        trust = None
        if config.cafile:
            trust = ssl.Certificate.loadPEM(FilePath(config.cafile).getContent())
        options = ssl.optionsForClientTLS(config.host, trustRoot=trust)
        endpoint = wrapClientTLS(options, endpoint)
    return endpoint


def probe(config: ClusterConfig, timeout: float = REPLY_TIMEOUT) -> None:
    """
    Check, before the reactor runs, that the configured Redis accepts a
    connection: a node that cannot reach its cluster at startup stops with
    one clear line rather than run alone.  (Once running, it rides out
    Redis going away: L{RedisLink} reconnects.)  Only the TCP connection is
    tried; credentials are checked by the first real connection, which
    says so in the log.

    @raise ConfigError: it does not, at the line that names the Redis.
    """
    try:
        socket.create_connection((config.host, config.port), timeout=timeout).close()
    except OSError as e:
        reason = e.strerror or str(e) or e.__class__.__name__
        raise ConfigError(config.location, f"cannot reach the cluster's Redis at {config.url}: {reason}") from None


def noDelay(transport: object) -> None:
    """
    Turn Nagle's algorithm off on C{transport}'s socket, as the component
    streams do, so that a command written while the connection's previous
    one is unanswered (a C{SEND} behind another, the inbox's C{XDEL} and
    next C{XREAD}) goes out at once rather than after that answer.  Under
    TLS the TLS protocol passes the call on to the TCP transport.
    """
    setNoDelay = getattr(transport, "setTcpNoDelay", None)
    if setNoDelay is not None:
        try:
            setNoDelay(True)
        except OSError:
            pass


class RedisLink:
    """
    One connection to Redis, kept up.

    @ivar name: what the connection is for, in log lines.
    """

    _log = Logger()

    def __init__(
        self,
        reactor: object,
        config: ClusterConfig,
        name: str,
        *,
        protocol: type[txredisapi.RedisProtocol] = txredisapi.RedisProtocol,
        onConnect: Callable[[txredisapi.RedisProtocol], None] = lambda protocol: None,
        replyTimeout: float | None = REPLY_TIMEOUT,
    ) -> None:
        """
        @param protocol: the protocol class (a subscriber's, for the
            C{events} channel).
        @param onConnect: called with the protocol each time the connection
            is made (again) and ready for commands.
        @param replyTimeout: seconds a reply may take; L{None} for a
            connection that blocks on purpose (the inbox's).
        """
        self.name = name
        self._config = config
        self._onConnect = onConnect
        self._reactor = reactor
        factory = txredisapi.RedisFactory(
            config.url,
            config.db or None,
            1,
            isLazy=True,
            charset=None,
            password=config.password,
            username=config.username,
            replyTimeout=replyTimeout,
            convertNumbers=True,
        )
        factory.protocol = protocol
        # Fired once: when the first connection is ready, or when Redis
        # refuses the credentials or the database (then it stops trying).
        factory.deferred.addErrback(self._refused)
        factory.maxDelay = MAX_RETRY_DELAY
        factory.initialDelay = 0.1
        factory.addConnection = self._added(factory.addConnection)
        self._factory = factory

    def start(self) -> None:
        self._factory.startConnecting(endpointFor(self._reactor, self._config))

    def stop(self) -> object:
        """
        Close the connection and stop making it again; a Deferred that fires
        once it is closed.
        """
        return self._factory.disconnect()

    def current(self) -> txredisapi.RedisProtocol | None:
        """
        The connected protocol, or L{None} while Redis is away.
        """
        for protocol in self._factory.pool:
            if protocol.connected:
                return protocol
        return None

    def _added(self, add: Callable[[txredisapi.RedisProtocol], None]) -> Callable[[txredisapi.RedisProtocol], None]:
        def added(protocol: txredisapi.RedisProtocol) -> None:
            add(protocol)
            if protocol.connected and protocol in self._factory.pool:
                noDelay(protocol.transport)
                self._log.info(
                    "Cluster: connected to Redis at {url} ({purpose})",
                    url=self._config.url,
                    purpose=self.name,
                )
                protocol.whenDisconnected().addCallback(self._lost)
                self._onConnect(protocol)

        return added

    def _refused(self, failure: object) -> None:
        self._log.error(
            "Cluster: Redis at {url} refused this node ({purpose}): {reason}; not retrying",
            url=self._config.url,
            purpose=self.name,
            reason=getattr(failure, "value", failure),
        )

    def _lost(self, protocol: object) -> None:
        if not self._factory.stopped:
            self._log.warn(
                "Cluster: lost Redis at {url} ({purpose}); reconnecting",
                url=self._config.url,
                purpose=self.name,
            )
