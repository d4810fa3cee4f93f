# -*- test-case-name: xcomp.test.test_metrics -*-
"""
Tests for the counters the router and the streams keep
(L{xcomp.counters}, L{xcomp.listener.connection.StreamTotals}) and the
prometheus_client collector that reads them (L{xcomp.http.metrics}), on a
L{RouterService} over L{MemoryReactorClock} and L{StringTransport}.
"""

from __future__ import annotations

from types import SimpleNamespace

import attrs

from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from xcomp.config import HTTPHandlerConfig, HTTPListenerConfig, InternalComponentConfig, ListenerConfig
from xcomp.http.metrics import metricsRegistry
from xcomp.service import RouterService
from xcomp.test.helpers import makeConfig
from xcomp.test.listenerhelpers import SECRET, authenticateTo, connectTo, streamError

HTTP = (HTTPListenerConfig(port=5280, interface="127.0.0.1", handlers=(HTTPHandlerConfig(kind="metrics", path="/metrics"),)),)


def samples(service: RouterService) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """
    Every sample of a scrape of C{service}, by name and labels, as
    Prometheus reads the exposition.
    """
    text = generate_latest(metricsRegistry(service)).decode("utf-8")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


class MetricsTests(SynchronousTestCase):
    """
    What a scrape shows after real traffic through a listener.
    """

    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        config = makeConfig(
            components={"a.example": {"secret": SECRET}, "b.example": {"secret": SECRET, "holdTime": 0.0}},
            listeners=(ListenerConfig(5347, "127.0.0.1"), ListenerConfig(5348, "127.0.0.1")),
            http=HTTP,
        )
        self.service = RouterService(config, reactor=self.reactor)
        self.service.startService()
        self.addCleanup(self.service.stopService)
        self.factory = self.service.factories[0]

    def value(self, name: str, **labels: str) -> float:
        return samples(self.service)[name, tuple(sorted(labels.items()))]

    def test_connected(self) -> None:
        """
        C{xcomp_components_connected} counts bound connections per port;
        one that has not completed its handshake does not count.
        """
        authenticateTo(self.factory, "a.example", SECRET)
        connectTo(self.factory)
        self.assertEqual(self.value("xcomp_components_connected", port="5347"), 1)
        self.assertEqual(self.value("xcomp_components_connected", port="5348"), 0)

    def test_routedAndBytes(self) -> None:
        """
        Delivered stanzas count by kind, and the bytes each way by port,
        the closed connections' too.
        """
        a, aWire = authenticateTo(self.factory, "a.example", SECRET)
        b, bWire = authenticateTo(self.factory, "b.example", SECRET)
        sent = b"<message from='a.example' to='b.example'><body>hi</body></message>"
        a.dataReceived(sent + b"<iq type='get' id='1' from='a.example' to='b.example'/>")
        self.assertEqual(self.value("xcomp_stanzas_routed_total", kind="message", outcome="delivered"), 1)
        self.assertEqual(self.value("xcomp_stanzas_routed_total", kind="iq", outcome="delivered"), 1)
        self.assertEqual(self.value("xcomp_stanzas_routed_total", kind="presence", outcome="delivered"), 0)
        before = self.value("xcomp_bytes_received_total", port="5347")
        self.assertGreater(before, len(sent))
        self.assertEqual(
            self.value("xcomp_bytes_sent_total", port="5347"),
            len(sent) + len(b"<iq type='get' id='1' from='a.example' to='b.example'/>"),
        )
        a.connectionLost()
        self.assertEqual(self.value("xcomp_bytes_received_total", port="5347"), before)
        self.assertEqual((a.stanzasIn, b.stanzasOut), (2, 2))

    def test_bouncedAndDropped(self) -> None:
        """
        A stanza for a configured component that is away bounces
        C{remote-server-timeout}, one for an unknown domain
        C{remote-server-not-found}; an error stanza that cannot be
        delivered is dropped, never answered.
        """
        a, _ = authenticateTo(self.factory, "a.example", SECRET)
        a.dataReceived(
            b"<message from='a.example' to='b.example' id='1'/>"
            b"<presence from='a.example' to='nowhere.example'/>"
            b"<message type='error' from='a.example' to='nowhere.example'/>"
        )
        self.assertEqual(self.value("xcomp_stanzas_routed_total", kind="message", outcome="bounced"), 1)
        self.assertEqual(self.value("xcomp_stanzas_routed_total", kind="presence", outcome="bounced"), 1)
        self.assertEqual(self.value("xcomp_stanzas_routed_total", kind="message", outcome="dropped"), 1)
        self.assertEqual(self.value("xcomp_bounces_total", condition="remote-server-timeout"), 1)
        self.assertEqual(self.value("xcomp_bounces_total", condition="remote-server-not-found"), 1)
        # The answers themselves went back on a's stream.
        self.assertEqual(self.value("xcomp_stanzas_routed_total", kind="message", outcome="delivered"), 0)

    def test_streamErrorsAndHandshakes(self) -> None:
        """
        Stream errors count by condition, and a wrong handshake counts as a
        handshake failure on its port.
        """
        _, wire = authenticateTo(self.factory, "a.example", "wrong")
        self.assertEqual(streamError(wire.value()), "not-authorized")
        _, wire = authenticateTo(self.factory, "nosuch.example", SECRET)
        self.assertEqual(streamError(wire.value()), "host-unknown")
        self.assertEqual(self.value("xcomp_handshake_failures_total", port="5347"), 1)
        self.assertEqual(self.value("xcomp_stream_errors_total", condition="not-authorized"), 1)
        self.assertEqual(self.value("xcomp_stream_errors_total", condition="host-unknown"), 1)

    def test_held(self) -> None:
        """
        What is held for a component that is away is a gauge; held
        stanzas count as delivered when the component is back.
        """
        a, _ = authenticateTo(self.factory, "a.example", SECRET)
        away, _ = authenticateTo(self.factory, "a.example", SECRET)  # refused: conflict
        b, _ = authenticateTo(self.factory, "b.example", SECRET)
        self.service.router.unbindAll(a)
        a.connectionLost()
        b.dataReceived(b"<message from='b.example' to='a.example'/><message from='b.example' to='a.example'/>")
        self.assertEqual(self.value("xcomp_held_stanzas"), 2)
        self.assertEqual(self.value("xcomp_held_domains"), 1)
        self.assertGreater(self.value("xcomp_held_bytes"), 0)
        self.assertEqual(self.value("xcomp_stanzas_routed_total", kind="message", outcome="delivered"), 0)
        authenticateTo(self.factory, "a.example", SECRET)
        self.assertEqual(self.value("xcomp_held_stanzas"), 0)
        self.assertEqual(self.value("xcomp_stanzas_routed_total", kind="message", outcome="delivered"), 2)
        del away

    def test_droppedAtShutdown(self) -> None:
        """
        What is held when xcomp stops counts as dropped.
        """
        a, _ = authenticateTo(self.factory, "a.example", SECRET)
        b, _ = authenticateTo(self.factory, "b.example", SECRET)
        a.connectionLost()
        b.dataReceived(b"<presence from='b.example' to='a.example'/>")
        self.service.router.holds.stop()
        self.assertEqual(self.value("xcomp_stanzas_routed_total", kind="presence", outcome="dropped"), 1)

    def test_labelsBounded(self) -> None:
        """
        Labels never come from what peers send: a stanza for any number of
        unknown domains adds no label, only to the one condition's count.
        """
        a, _ = authenticateTo(self.factory, "a.example", SECRET)
        for n in range(50):
            a.dataReceived(b"<message from='a.example' to='x%d.example'/>" % n)
        names = samples(self.service)
        self.assertEqual(self.value("xcomp_bounces_total", condition="remote-server-not-found"), 50)
        self.assertFalse([key for key in names if any("x1" in v for _, v in key[1])])
        self.assertEqual(len([key for key in names if key[0] == "xcomp_bounces_total"]), 1)

    def test_info(self) -> None:
        """
        The version and the start time are there, and the process's own
        metrics.
        """
        from xcomp import __version__

        self.assertEqual(self.value("xcomp_info", version=__version__), 1)
        self.assertEqual(self.value("xcomp_start_time_seconds"), self.service.started)
        self.assertIn(("process_cpu_seconds_total", ()), samples(self.service))


class InternalMetricsTests(SynchronousTestCase):
    """
    An internal component that has statistics (the C{muc} plugin's rooms
    and occupants) gets a gauge per statistic, by configured domain.
    """

    def test_muc(self) -> None:
        """
        C{xcomp_muc_rooms} and C{xcomp_muc_occupants}.
        """
        from xcomp.plugin import installedModules, installedPlugins

        config = makeConfig(http=HTTP)
        config = attrs.evolve(
            config, components={"conf.example": InternalComponentConfig(domain="conf.example", plugin="muc")}
        )
        service = RouterService(
            config, reactor=MemoryReactorClock(), plugins=installedPlugins(), modules=installedModules()
        )
        label = (("domain", "conf.example"),)
        self.assertEqual(samples(service)["xcomp_muc_rooms", label], 0)
        muc = service.components["conf.example"]
        muc.rooms["one@conf.example"] = SimpleNamespace(occupants={"a": 1, "b": 2})  # type: ignore[attr-defined]
        muc.rooms["two@conf.example"] = SimpleNamespace(occupants={"c": 3})  # type: ignore[attr-defined]
        got = samples(service)
        self.assertEqual((got["xcomp_muc_rooms", label], got["xcomp_muc_occupants", label]), (2, 3))
