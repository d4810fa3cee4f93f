# -*- test-case-name: xcomp.test.test_http_status -*-
"""
Tests for the status snapshot (L{xcomp.http.status}) and how it is shown
(L{xcomp.http.page}): every connection of a balanced domain, held
domains, internal components, the last reload, and escaping.
"""

from __future__ import annotations

from typing import Any

import attrs
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from xcomp.config import InternalComponentConfig, ListenerConfig
from xcomp.http.page import duration, renderPage, renderText
from xcomp.http.status import snapshot
from xcomp.plugin import installedModules, installedPlugins
from xcomp.reload import ReloadResult
from xcomp.service import RouterService
from xcomp.test.helpers import makeConfig
from xcomp.test.listenerhelpers import SECRET, authenticateTo


class SnapshotTests(SynchronousTestCase):
    """
    L{snapshot} of a router with traffic.
    """

    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        self.reactor.advance(1_800_000_000)
        config = makeConfig(
            components={
                "a.example": {"secret": SECRET},
                "gw.example": {"secret": SECRET, "conflictResolve": "balance"},
                "away.example": {"secret": SECRET},
            },
            listeners=(ListenerConfig(5347, "127.0.0.1"),),
        )
        config = attrs.evolve(
            config,
            components={
                **config.components,
                "conf.example": InternalComponentConfig(domain="conf.example", plugin="muc", modules=("muc_mam",)),
            },
        )
        self.service = RouterService(
            config, reactor=self.reactor, plugins=installedPlugins(), modules=installedModules()
        )
        self.service.privilegedStartService()
        self.service.started = self.reactor.seconds()
        self.factory = self.service.factories[0]

    def test_components(self) -> None:
        """
        Each connection with its peer, since when, TLS, stanzas in and out;
        a balanced domain lists each of its connections, oldest first.
        """
        a, _ = authenticateTo(self.factory, "a.example", SECRET)
        self.reactor.advance(10)
        first, _ = authenticateTo(self.factory, "gw.example", SECRET)
        self.reactor.advance(5)
        second, _ = authenticateTo(self.factory, "gw.example", SECRET)
        a.dataReceived(b"<message from='a.example' to='gw.example'/>")
        self.reactor.advance(1)
        status: Any = snapshot(self.service)
        ra, rgw = status["components"]
        self.assertEqual(ra["domain"], "a.example")
        [ca] = ra["connections"]
        self.assertEqual(
            (ca["peer"], ca["since"], ca["connected"], ca["tls"], ca["stanzasIn"], ca["stanzasOut"]),
            ("127.0.0.1:40000", 1_800_000_000, 16, False, 1, 0),
        )
        self.assertTrue(rgw["balanced"])
        self.assertEqual([c["since"] for c in rgw["connections"]], [1_800_000_010, 1_800_000_015])
        self.assertEqual(sum(c["stanzasOut"] for c in rgw["connections"]), 1)
        self.assertEqual(sum(c["given"] for c in rgw["connections"]), 1)
        self.assertEqual(status["uptime"], 16)
        del first, second

    def test_held(self) -> None:
        """
        A domain held for a component that is away shows with no
        connection and what is held.
        """
        away, _ = authenticateTo(self.factory, "away.example", SECRET)
        a, _ = authenticateTo(self.factory, "a.example", SECRET)
        away.connectionLost()
        a.dataReceived(b"<message from='a.example' to='away.example'/>" * 3)
        status = snapshot(self.service)
        held = [c for c in status["components"] if c["domain"] == "away.example"]  # type: ignore[attr-defined]
        self.assertEqual(held, [{"domain": "away.example", "configured": True, "balanced": False, "held": 3, "connections": []}])
        self.assertEqual(status["held"], 3)
        self.assertIn("away.example (away: holding)", renderText(status))

    def test_internalAndListeners(self) -> None:
        """
        Internal components with their plugin, modules and statistics; the
        listeners with their connections.
        """
        authenticateTo(self.factory, "a.example", SECRET)
        status = snapshot(self.service)
        self.assertEqual(
            status["internal"],
            [{"domain": "conf.example", "plugin": "muc", "modules": ["muc_mam"], "statistics": {"rooms": 0, "occupants": 0}}],
        )
        self.assertEqual(
            status["listeners"],
            [{"interface": "127.0.0.1", "port": 5347, "tls": False, "listening": True, "connections": 1, "bound": 1}],
        )
        self.assertIsNone(status["s2s"])
        self.assertIsNone(status["cluster"])

    def test_lastReload(self) -> None:
        """
        The last reload's result, failed or not, is shown, escaped.
        """
        self.service.lastReload = ReloadResult(
            1_800_000_000, False, 'x.cfg.lua:3: <script>alert(1)</script> (the running configuration is kept)'
        )
        status = snapshot(self.service)
        page = renderPage(status).decode()
        self.assertIn('<span id="reload" class="failed">FAILED at 2027-01-15 08:00:00 UTC: x.cfg.lua:3: '
                      '&lt;script&gt;alert(1)&lt;/script&gt;', page)
        self.assertNotIn("<script>", page)
        self.assertIn("last reload: FAILED at 2027-01-15 08:00:00 UTC: x.cfg.lua:3:", renderText(status))

    def test_pageWithoutJavaScript(self) -> None:
        """
        The page refreshes itself with a meta refresh, and has no script.
        """
        page = renderPage(snapshot(self.service)).decode()
        self.assertIn('<meta http-equiv="refresh" content="5">', page)
        self.assertNotIn("<script", page)
        self.assertIn('<tr class="none"><td colspan="8">none</td></tr>', page)

    def test_duration(self) -> None:
        """
        Durations read as in the log lines.
        """
        self.assertEqual(
            [duration(s) for s in (None, 45, 192, 7392, 360000)], ["-", "45s", "3m12s", "2h03m12s", "4d04h00m"]
        )
