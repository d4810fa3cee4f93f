# -*- test-case-name: xcomp.test.test_reload_diff -*-
"""
Tests for L{xcomp.config.diff}, and for the log levels a C{SIGHUP} reload
applies (L{xcomp.tap.CommandLineService.hangup}).
"""

from __future__ import annotations

from twisted.internet.testing import MemoryReactorClock
from twisted.logger import LogLevel, capturedLogs, formatEvent, globalLogPublisher
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from xcomp.config import (
    ClusterConfig,
    ComponentConfig,
    InternalComponentConfig,
    ListenerConfig,
    Location,
    RouterConfig,
    TLSConfig,
    VirtualHostConfig,
)
from xcomp.config.diff import diffConfigs
from xcomp.logsinks import gate
from xcomp.router import Router as _Router
from xcomp.tap import Options, makeService


def config(**settings: object) -> RouterConfig:
    return RouterConfig(**settings)  # type: ignore[arg-type]


def external(domain: str, secret: str = "s", line: int = 1, **kw: object) -> ComponentConfig:
    return ComponentConfig(domain=domain, secret=secret, location=Location("f", line), **kw)  # type: ignore[arg-type]


class DiffTests(SynchronousTestCase):
    """
    L{diffConfigs}.
    """

    def test_sameIsNothing(self) -> None:
        """
        A configuration compared with itself, or with its blocks moved to
        other lines, has no changes.
        """
        old = config(components={"a.example": external("a.example", line=3)})
        moved = config(components={"a.example": external("a.example", line=9)})
        self.assertEqual(diffConfigs(old, old).describe(), [])
        self.assertEqual(diffConfigs(old, moved).describe(), [])

    def test_inheritedOptionsAreNoChange(self) -> None:
        """
        A global option a component merely sees is not a change of the
        component: it would not be applied to a connected one anyway.
        """
        old = config(components={"a.example": external("a.example", options={"x": 1})})
        new = config(components={"a.example": external("a.example", options={"x": 2})})
        self.assertEqual(diffConfigs(old, new).describe(), [])

    def test_components(self) -> None:
        """
        Components added, removed and changed (a secret); an external one
        that becomes internal is removed as external and started as
        internal.
        """
        old = config(
            components={
                "a.example": external("a.example"),
                "b.example": external("b.example"),
                "c.example": external("c.example"),
            }
        )
        new = config(
            components={
                "a.example": external("a.example", secret="new"),
                "c.example": InternalComponentConfig(domain="c.example", plugin="muc"),
                "d.example": external("d.example"),
            }
        )
        diff = diffConfigs(old, new)
        self.assertEqual(diff.componentsAdded, ("d.example",))
        self.assertEqual(diff.componentsRemoved, ("b.example", "c.example"))
        self.assertEqual(diff.componentsChanged, ("a.example",))
        self.assertEqual(diff.internalAdded, ("c.example",))

    def test_internal(self) -> None:
        """
        An internal component is restarted when its plugin or modules
        change, and kept running when only its options do.
        """

        def muc(modules: tuple[str, ...] = (), **kw: object) -> InternalComponentConfig:
            return InternalComponentConfig(domain="rooms.example", plugin="muc", modules=modules, **kw)  # type: ignore[arg-type]

        old = config(components={"rooms.example": muc()})
        self.assertEqual(
            diffConfigs(old, config(components={"rooms.example": muc(("muc_mam",))})).internalRestarted,
            ("rooms.example",),
        )
        kept = diffConfigs(old, config(components={"rooms.example": muc(name="Rooms")}))
        self.assertEqual((kept.internalRestarted, kept.internalKept), ((), ("rooms.example",)))

    def test_cluster(self) -> None:
        """
        The cluster's settings apply at a restart; so do the internal
        components of a cluster node, which run only while the node holds
        their claim.
        """
        muc = InternalComponentConfig(domain="rooms.example", plugin="muc")
        alone = ClusterConfig(host="127.0.0.1", node="a")
        old = config(cluster=alone)
        new = config(cluster=ClusterConfig(host="127.0.0.1", node="b"), components={"rooms.example": muc})
        diff = diffConfigs(old, new)
        self.assertEqual(diff.internalAdded, ())
        self.assertEqual(diff.restartOnly, ("cluster", "internal component rooms.example"))
        self.assertEqual(diffConfigs(config(cluster=alone), config(cluster=alone, components={"rooms.example": muc})).restartOnly, ("internal component rooms.example",))
        self.assertEqual(diffConfigs(config(), config(components={"rooms.example": muc})).internalAdded, ("rooms.example",))

    def test_listeners(self) -> None:
        """
        Listeners are known by address: a new address is added, a missing
        one removed, a TLS change needs the port opened again, any other
        option is changed in place.
        """
        tls = TLSConfig("/c.pem", "/k.pem")
        old = config(
            listeners=(
                ListenerConfig(1, "127.0.0.1"),
                ListenerConfig(2, "127.0.0.1"),
                ListenerConfig(3, "127.0.0.1"),
                ListenerConfig(4, "127.0.0.1", location=Location("f", 1)),
            )
        )
        new = config(
            listeners=(
                ListenerConfig(2, "127.0.0.1", tls=tls),
                ListenerConfig(3, "127.0.0.1", password="p"),
                ListenerConfig(4, "127.0.0.1", location=Location("f", 7)),
                ListenerConfig(5, "::1"),
            )
        )
        diff = diffConfigs(old, new)
        self.assertEqual(diff.listenersAdded, (("::1", 5),))
        self.assertEqual(diff.listenersRemoved, (("127.0.0.1", 1),))
        self.assertEqual(diff.listenersRebound, (("127.0.0.1", 2),))
        self.assertEqual(diff.listenersChanged, (("127.0.0.1", 3),))
        self.assertEqual(
            diff.describe(),
            [
                "listening on: ::1:5",
                "no longer listening on: 127.0.0.1:1",
                "listening again on: 127.0.0.1:2",
                "listener options changed on: 127.0.0.1:3",
            ],
        )

    def test_hostsLogRestart(self) -> None:
        """
        VirtualHosts, the log, and what applies only at a restart.
        """
        old = config(virtualHosts={"x.example": VirtualHostConfig(domain="x.example")}, pidfile="/a.pid")
        new = config(
            virtualHosts={"y.example": VirtualHostConfig(domain="y.example")}, pidfile="/b.pid", logLevel="warn"
        )
        self.assertEqual(
            diffConfigs(old, new).describe(),
            [
                "hosts added: y.example",
                "hosts removed: x.example",
                "log levels or sinks changed",
                "apply at restart only: xcomp_pidfile",
            ],
        )


class LogLevelReloadTests(SynchronousTestCase):
    """
    A reload applies the new log levels.
    """

    def test_levelsApply(self) -> None:
        """
        With C{xcomp_log} raised from info to warn in the file, after the
        reload that C{SIGHUP} runs, xcomp's loggers hold info back; the
        sink file is the new one's.
        """
        directory = FilePath(self.mktemp())
        directory.makedirs()
        sink = directory.child("xcomp.log")
        path = directory.child("xcomp.cfg.lua")
        path.setContent(f'xcomp_log = {{ info = "{sink.path}" }}\nVirtualHost "example.org"\n'.encode())
        self.addCleanup(gate.setLowest, "debug")
        options = Options()
        options.parseOptions(["-c", path.path])
        root = makeService(options, MemoryReactorClock())
        self.addCleanup(root.openSinks, ())
        self.assertNotIn(LogLevel.info, gate.held)
        path.setContent(f'xcomp_log = {{ warn = "{sink.path}" }}\nVirtualHost "example.org"\n'.encode())
        result = self.successResultOf(root.hangup())
        self.assertEqual((result.ok, result.changes), (True, ("log levels or sinks changed",)))
        self.assertIn(LogLevel.info, gate.held)
        self.assertNotIn(LogLevel.warn, gate.held)
        assert root.router is not None
        self.assertEqual([s.level for s in root.router.config.log], ["warn"])
        self.assertEqual(len([o for o in globalLogPublisher._observers if o in root._sinks]), 1)

    def test_sinkCannotOpen(self) -> None:
        """
        A reload whose new sink file cannot be opened: one error line
        naming it, no traceback, and the old sink goes on being written.
        """
        directory = FilePath(self.mktemp())
        directory.makedirs()
        sink = directory.child("xcomp.log")
        path = directory.child("xcomp.cfg.lua")
        path.setContent(f'xcomp_log = {{ info = "{sink.path}" }}\nVirtualHost "example.org"\n'.encode())
        self.addCleanup(gate.setLowest, "debug")
        options = Options()
        options.parseOptions(["-c", path.path])
        root = makeService(options, MemoryReactorClock())
        self.addCleanup(root.openSinks, ())
        missing = directory.child("no-such-directory").child("x.log").path
        path.setContent(f'xcomp_log = {{ info = "{missing}" }}\nVirtualHost "example.org"\n'.encode())
        with capturedLogs() as events:
            self.successResultOf(root.hangup())
        errors = [formatEvent(e) for e in events if e["log_level"] == LogLevel.error]
        self.assertEqual(errors, [f"log: cannot open {missing}: No such file or directory; writing where it wrote before"])
        _Router._log.info("still here")
        self.assertIn(b"still here", sink.getContent())
