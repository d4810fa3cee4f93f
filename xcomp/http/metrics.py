# -*- test-case-name: xcomp.test.test_metrics -*-
"""
OpenMetrics for Prometheus: a prometheus_client collector that reads, at
scrape time, the plain counters the router and the streams keep where the
events happen (L{xcomp.counters}, L{xcomp.listener.connection}), so the
hot path pays nothing for metrics beyond those integers.

prometheus_client's Twisted C{MetricsResource} renders in a thread of the
reactor's pool; the router's tables change on the reactor thread, so
L{RouterCollector.collect} takes its values there
(C{blockingCallFromThread}).  Each service has a registry of its own, so
several routers in one process (tests, embedding) do not collide.

Labels come from bounded sets only: the configured ports, the stanza
kinds, the conditions xcomp itself sends, the configured domains.
"""

from __future__ import annotations

import re
from typing import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector, CollectorRegistry
from twisted.internet.interfaces import IReactorFromThreads
from twisted.internet.threads import blockingCallFromThread
from twisted.python import threadable
from twisted.python.threadable import isInIOThread

from xcomp._version import __version__
from xcomp.config import InternalComponentConfig
from xcomp.counters import KINDS
from xcomp.http.status import Observed, componentStatistics

__all__ = ["RouterCollector", "metricsRegistry"]


def _name(text: str) -> str:
    """
    A metric name part from a plugin's or statistic's name.
    """
    return re.sub(r"[^a-zA-Z0-9_]", "_", text)


class RouterCollector(Collector):
    """
    The metrics of one L{RouterService <xcomp.service.RouterService>}.
    """

    def __init__(self, service: Observed) -> None:
        self._service = service

    def describe(self) -> Iterator[Metric]:
        """
        The metric families, without samples (for the registry's name
        checks; nothing is read).
        """
        return iter(self._families(read=False))

    def collect(self) -> Iterator[Metric]:
        """
        The metric families with their values, read on the reactor thread.
        """
        if threadable.ioThread is None or isInIOThread():
            # No reactor thread yet (a test, a script), or this is it.
            return iter(self._families())
        reactor = IReactorFromThreads(self._service.reactor)
        return iter(blockingCallFromThread(reactor, self._families))

    def _families(self, read: bool = True) -> list[Metric]:
        service = self._service
        router = service.router
        info = InfoMetricFamily("xcomp", "xcomp's version")
        start = GaugeMetricFamily("xcomp_start_time_seconds", "When the router started, in seconds since the epoch")
        connected = GaugeMetricFamily(
            "xcomp_components_connected", "Component connections bound, by listener port", labels=["port"]
        )
        routed = CounterMetricFamily(
            "xcomp_stanzas_routed",
            "Stanzas routed, by kind and outcome (delivered, bounced with an error, dropped)",
            labels=["kind", "outcome"],
        )
        bounces = CounterMetricFamily(
            "xcomp_bounces", "Stanzas answered with an error by the router, by condition", labels=["condition"]
        )
        errors = CounterMetricFamily(
            "xcomp_stream_errors", "Stream errors sent to components, by condition", labels=["condition"]
        )
        handshakes = CounterMetricFamily(
            "xcomp_handshake_failures", "Component handshakes with a wrong secret, by listener port", labels=["port"]
        )
        received = CounterMetricFamily(
            "xcomp_bytes_received", "Bytes read from component connections, by listener port", labels=["port"]
        )
        sent = CounterMetricFamily(
            "xcomp_bytes_sent", "Stanza bytes written to component connections, by listener port", labels=["port"]
        )
        held = GaugeMetricFamily("xcomp_held_stanzas", "Stanzas held for components that are away")
        heldBytes = GaugeMetricFamily("xcomp_held_bytes", "Bytes held for components that are away")
        heldDomains = GaugeMetricFamily("xcomp_held_domains", "Domains whose stanzas are held now")
        balanced = GaugeMetricFamily(
            "xcomp_balanced_connections",
            "Connections sharing each balanced configured component",
            labels=["domain"],
        )
        s2s = GaugeMetricFamily("xcomp_s2s_links", "Server-to-server streams, by direction", labels=["direction"])
        redisUp = GaugeMetricFamily("xcomp_cluster_redis_up", "1 while this node is connected to the cluster's Redis")
        between = CounterMetricFamily(
            "xcomp_cluster_stanzas", "Stanzas passed to and taken from other nodes of the cluster", labels=["direction"]
        )
        domains = GaugeMetricFamily(
            "xcomp_cluster_domains", "Domains bound on each node of the cluster, as this node sees it", labels=["node"]
        )
        families: list[Metric] = [
            info, start, connected, routed, bounces, errors, handshakes, received, sent,
            held, heldBytes, heldDomains, balanced, s2s, redisUp, between, domains,
        ]
        internal: dict[str, GaugeMetricFamily] = {}
        for component in service.config.components.values():
            if isinstance(component, InternalComponentConfig) and component.domain in service.components:
                for key in componentStatistics(service.components[component.domain]) if read else ():
                    name = f"xcomp_{_name(component.plugin)}_{_name(key)}"
                    if name not in internal:
                        internal[name] = GaugeMetricFamily(
                            name, f"The {key} of each {component.plugin} component", labels=["domain"]
                        )
        families += internal.values()
        if not read:
            return families
        info.add_metric([], {"version": __version__})
        if service.started is not None:
            start.add_metric([], service.started)
        byPort: dict[str, list[int]] = {}
        errorsBy: dict[str, int] = {}
        for factory in service.factories:
            totals = factory.closed
            port = str(factory.listener.port)
            values = byPort.setdefault(port, [0, 0, 0, 0])
            values[0] += sum(1 for stream in factory.streams if stream.domains)
            values[1] += totals.handshakeFailures
            values[2] += totals.bytesIn + sum(stream.bytesIn for stream in factory.streams)
            values[3] += totals.bytesOut + sum(stream.bytesOut for stream in factory.streams)
            for condition, n in totals.streamErrors.items():
                errorsBy[condition] = errorsBy.get(condition, 0) + n
        for port, (bound, failures, bytesIn, bytesOut) in sorted(byPort.items()):
            connected.add_metric([port], bound)
            handshakes.add_metric([port], failures)
            received.add_metric([port], bytesIn)
            sent.add_metric([port], bytesOut)
        for condition, n in sorted(errorsBy.items()):
            errors.add_metric([condition], n)
        counts = router.counts
        for outcome, byKind in (
            ("delivered", counts.delivered), ("bounced", counts.bounced), ("dropped", counts.dropped)
        ):
            for kind in KINDS:
                routed.add_metric([kind, outcome], byKind[kind])
        for condition, n in sorted(counts.bounces.items()):
            bounces.add_metric([condition], n)
        held.add_metric([], router.heldTotal())
        heldBytes.add_metric([], router.holds.budget.used)
        heldDomains.add_metric([], len(router.holds.held))
        for domain, members in sorted(router.balanced().items()):
            if domain in service.config.components:
                balanced.add_metric([domain], len(members))
        if service.s2s is not None:
            s2s.add_metric(["in"], len(getattr(service.s2s.factory, "streams", ())))
            s2s.add_metric(["out"], sum(1 for link in service.s2s.pool.links() if link.state == "up"))
        cluster = service.cluster
        if cluster is not None:
            redisUp.add_metric([], 1 if cluster.commands.current() is not None else 0)
            between.add_metric(["out"], cluster.outbox.sent)
            between.add_metric(["in"], cluster.inbox.received)
            for node, count in cluster.table.domainsByNode().items():
                domains.add_metric([node], count)
        for component in service.config.components.values():
            if isinstance(component, InternalComponentConfig) and component.domain in service.components:
                for key, value in componentStatistics(service.components[component.domain]).items():
                    internal[f"xcomp_{_name(component.plugin)}_{_name(key)}"].add_metric([component.domain], value)
        return families


def metricsRegistry(service: Observed) -> CollectorRegistry:
    """
    A registry of its own for C{service}: its router's metrics, and the
    process's (CPU, memory, open files).
    """
    registry = CollectorRegistry()
    registry.register(RouterCollector(service))
    ProcessCollector(registry=registry)
    return registry
