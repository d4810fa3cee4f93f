# -*- test-case-name: xcomp.test.test_http_status -*-
"""
What the status page, C{/status.json} and C{python -m xcomp status} show:
one snapshot of a running L{RouterService <xcomp.service.RouterService>}
as plain JSON values, taken on the reactor thread.  Nothing here writes
HTML or talks HTTP.

The snapshot lists every open component connection (at most
L{MAX_LISTED}, then how many more), grouped by domain, so a balanced
domain shows each of its connections; domains held for a component that
is away show with no connection and what is held.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Protocol

from twisted.internet.interfaces import IReactorTime

from xcomp._version import __version__
from xcomp.config import InternalComponentConfig, RouterConfig
from xcomp.listener import ComponentListenerFactory
from xcomp.reload import ReloadResult
from xcomp.router import Router

__all__ = ["MAX_LISTED", "Observed", "componentStatistics", "snapshot"]

#: The most component connections one snapshot lists.
MAX_LISTED = 5000


class Observed(Protocol):
    """
    What a snapshot reads of the L{RouterService <xcomp.service.RouterService>}.
    """

    config: RouterConfig
    reactor: Any
    router: Router
    @property
    def components(self) -> Mapping[str, object]: ...
    factories: list[ComponentListenerFactory]
    s2s: Any
    cluster: Any
    lastReload: ReloadResult | None
    started: float | None


def componentStatistics(component: object) -> dict[str, int]:
    """
    What an internal component says of itself (the C{muc} plugin: its
    rooms and occupants), if it has a C{statistics()} method; names and
    values as it gives them, integers only.
    """
    method = getattr(component, "statistics", None)
    if method is None:
        return {}
    values = method()
    return {str(k): int(v) for k, v in values.items() if isinstance(v, int)}


def _listeners(service: Observed) -> list[dict[str, object]]:
    rows = []
    for factory in service.factories:
        listener = factory.listener
        rows.append(
            {
                "interface": listener.interface,
                "port": listener.port,
                "tls": listener.tls is not None,
                "listening": listener in service.config.listeners,
                "connections": len(factory.streams),
                "bound": sum(1 for stream in factory.streams if stream.domains),
            }
        )
    return rows


def _connections(service: Observed, now: float) -> tuple[list[dict[str, object]], int]:
    """
    The component domains with their connections, sorted by domain; and
    how many connections were left out past L{MAX_LISTED}.
    """
    router = service.router
    given = {
        (domain, id(member.stream)): member.sent
        for domain, members in router.balanced().items()
        for member in members
    }
    byDomain: dict[str, list[dict[str, object]]] = {}
    listed = more = 0
    for factory in service.factories:
        for stream in factory.streams:
            for domain in sorted(stream.domains):
                if listed >= MAX_LISTED:
                    more += 1
                    continue
                listed += 1
                since = stream.since if stream.since is not None else now
                connection: dict[str, object] = {
                    "peer": stream.peer,
                    "port": factory.listener.port,
                    "since": since,
                    "connected": max(0.0, now - since),
                    "tls": bool(stream.tls),
                    "stanzasIn": stream.stanzasIn,
                    "stanzasOut": stream.stanzasOut,
                    "bytesIn": stream.bytesIn,
                    "bytesOut": stream.bytesOut,
                }
                if (domain, id(stream)) in given:
                    connection["given"] = given[domain, id(stream)]
                byDomain.setdefault(domain, []).append(connection)
    held = router.heldStanzas()
    configured = service.config.components
    rows = []
    for domain in sorted(set(byDomain) | set(held)):
        connections = sorted(byDomain.get(domain, []), key=lambda c: (c["since"], c["peer"]))
        rows.append(
            {
                "domain": domain,
                "configured": domain in configured,
                "balanced": len(connections) > 1 or any("given" in c for c in connections),
                "held": held.get(domain, 0),
                "connections": connections,
            }
        )
    return rows, more


def _internal(service: Observed) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for domain, component in sorted(service.components.items()):
        config = service.config.components.get(domain)
        rows.append(
            {
                "domain": domain,
                "plugin": config.plugin if isinstance(config, InternalComponentConfig) else None,
                "modules": list(config.modules) if isinstance(config, InternalComponentConfig) else [],
                "statistics": componentStatistics(component),
            }
        )
    return rows


def _s2s(service: Observed) -> dict[str, object] | None:
    s2s = service.s2s
    if s2s is None:
        return None
    incoming = []
    for stream in sorted(getattr(s2s.factory, "streams", ()), key=lambda s: s.peer):
        pairs = sorted(getattr(stream.pairs, "authorised", ()))
        incoming.append(
            {
                "peer": stream.peer,
                "remote": stream.remote,
                "local": stream.local,
                "secure": bool(stream.secure),
                "authorised": [f"{remote} -> {local}" for local, remote in pairs],
            }
        )
    outgoing = []
    links: Iterable[Any] = s2s.pool.links() if hasattr(s2s.pool, "links") else ()
    for link in sorted(links, key=lambda l: (l.local, l.remote)):
        outgoing.append(
            {
                "local": link.local,
                "remote": link.remote,
                "state": link.state,
                "queued": link.queuedCount(),
            }
        )
    listeners = [f"{l.interface}:{l.port}" for l in service.config.s2s.listeners] if service.config.s2s else []
    return {"listeners": listeners, "incoming": incoming, "outgoing": outgoing}


def _cluster(service: Observed) -> dict[str, object] | None:
    cluster = service.cluster
    if cluster is None:
        return None
    table = cluster.table
    nodes = {name: {"domains": n, "alive": name not in table.dead} for name, n in table.domainsByNode().items()}
    return {
        "node": cluster.config.node,
        "redis": cluster.config.url,
        "connected": cluster.commands.current() is not None,
        "nodes": nodes,
        "active": sorted(cluster.standby.active),
        "standby": sorted(cluster.standby.waiting),
        "sent": cluster.outbox.sent,
        "received": cluster.inbox.received,
    }


def _reload(result: ReloadResult | None) -> dict[str, object] | None:
    if result is None:
        return None
    return {"when": result.when, "ok": result.ok, "message": result.message, "changes": list(result.changes)}


def snapshot(service: Observed) -> dict[str, object]:
    """
    The status of C{service} now, as JSON values (see the module
    docstring).  Call it on the reactor thread.
    """
    now = IReactorTime(service.reactor).seconds()
    components, more = _connections(service, now)
    counts = service.router.counts
    started = service.started
    return {
        "version": __version__,
        "config": service.config.source,
        "now": now,
        "started": started,
        "uptime": None if started is None else max(0.0, now - started),
        "listeners": _listeners(service),
        "components": components,
        "moreConnections": more,
        "internal": _internal(service),
        "s2s": _s2s(service),
        "cluster": _cluster(service),
        "held": service.router.heldTotal(),
        "stanzas": {
            "delivered": dict(counts.delivered),
            "bounced": dict(counts.bounced),
            "dropped": dict(counts.dropped),
        },
        "http": [
            {
                "interface": http.interface,
                "port": http.port,
                "serves": [handler.kind for handler in http.handlers],
            }
            for http in service.config.http
        ],
        "lastReload": _reload(service.lastReload),
    }
