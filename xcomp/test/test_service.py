"""
Tests for L{xcomp.service}, L{xcomp.tap}, the twistd plugin and the
embedding example, on L{MemoryReactor}.
"""

from __future__ import annotations

import os
import sys

from twisted.application.service import IServiceMaker
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import LogLevel, capturedLogs
from twisted.plugin import getPlugins
from twisted.python.filepath import FilePath
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase

from xcomp import ListenerConfig, RouterService
from xcomp.config import LogSink
from xcomp.listener import ComponentListenerFactory, handshakeDigest
from xcomp.logsinks import Logger, gate, lowestLevel, sinkObservers
from xcomp.tap import CommandLineService, Options, makeService
from xcomp.test.helpers import makeConfig

EXAMPLES = FilePath(__file__).parent().parent().sibling("examples")


class RouterServiceTests(SynchronousTestCase):
    """
    The service tree built from a configuration.
    """

    def test_onePortPerListener(self) -> None:
        """
        Each configured (port, interface) gets its own listening port and
        factory, IPv6 addresses included.
        """
        reactor = MemoryReactorClock()
        config = makeConfig(
            components={"a.example": {"secret": "x"}},
            listeners=(ListenerConfig(port=5347, interface="127.0.0.1"), ListenerConfig(port=5347, interface="::1"), ListenerConfig(port=8888, interface="127.0.0.1")),
        )
        service = RouterService(config, reactor=reactor)
        service.privilegedStartService()
        service.startService()
        self.assertEqual(
            [(port, interface) for port, _, _, interface in reactor.tcpServers],
            [(5347, "127.0.0.1"), (5347, "::1"), (8888, "127.0.0.1")],
        )
        factories = [factory for _, factory, _, _ in reactor.tcpServers]
        self.assertEqual(len(set(map(id, factories))), 3)
        self.assertTrue(all(isinstance(f, ComponentListenerFactory) for f in factories))

    def test_virtualHostsAreRoutes(self) -> None:
        """
        Each VirtualHost has a route from the start.
        """
        service = RouterService(makeConfig(virtualHosts=["example.org"]), reactor=MemoryReactorClock())
        route = service.router.lookup("example.org")
        assert route is not None
        self.assertEqual(route.domain, "example.org")

    def test_stopClosesStreams(self) -> None:
        """
        Stopping the service ends authenticated streams with
        C{system-shutdown}; the stop completes when they are gone.
        """
        reactor = MemoryReactorClock()
        config = makeConfig(
            components={"a.example": {"secret": "x"}},
            listeners=(ListenerConfig(port=5347, interface="127.0.0.1"),),
        )
        service = RouterService(config, reactor=reactor)
        service.privilegedStartService()
        service.startService()
        stream = service.factories[0].buildProtocol(None)
        assert stream is not None
        transport = StringTransport()
        stream.makeConnection(transport)
        stream.dataReceived(
            b"<stream:stream xmlns='jabber:component:accept' "
            b"xmlns:stream='http://etherx.jabber.org/streams' to='a.example'>"
        )
        stream.dataReceived(b"<handshake>%s</handshake>" % handshakeDigest(stream.streamId, "x"))
        d = service.stopService()
        self.assertIn(b"<system-shutdown ", transport.value())
        self.assertNoResult(d)
        stream.connectionLost()
        self.successResultOf(d)

    def test_stopDoesNotWaitForever(self) -> None:
        """
        A peer that never closes does not hold up shutdown past the timeout.
        """
        reactor = MemoryReactorClock()
        config = makeConfig(listeners=(ListenerConfig(port=5347, interface="127.0.0.1"),))
        service = RouterService(config, reactor=reactor)
        service.startService()
        stream = service.factories[0].buildProtocol(None)
        assert stream is not None
        stream.makeConnection(StringTransport())
        d = service.stopService()
        self.assertNoResult(d)
        reactor.advance(10)
        self.successResultOf(d)

    def test_pidfile(self) -> None:
        """
        C{pidfile} is written on start and removed on stop.
        """
        pidfile = FilePath(self.mktemp())
        service = RouterService(makeConfig(pidfile=pidfile.path), reactor=MemoryReactorClock())
        service.startService()
        self.assertEqual(pidfile.getContent(), b"%d\n" % os.getpid())
        self.successResultOf(service.stopService())
        self.assertFalse(pidfile.exists())


class TapTests(SynchronousTestCase):
    """
    C{twistd xcomp}: options, plugin, and the service it makes.
    """

    def writeConfig(self, text: str) -> str:
        path = FilePath(self.mktemp())
        path.setContent(text.encode())
        return path.path

    def test_pluginFound(self) -> None:
        """
        twistd finds the C{xcomp} service maker through Twisted's plugin
        system.
        """
        names = [maker.tapname for maker in getPlugins(IServiceMaker)]
        self.assertIn("xcomp", names)

    def test_configRequired(self) -> None:
        """
        Without C{--config} the command refuses to start.
        """
        self.assertRaises(UsageError, Options().parseOptions, [])

    def test_configErrorExits(self) -> None:
        """
        A mistake in the file ends the process with C{file:line: what is
        wrong} alone: not a L{UsageError}, which twistd prints under its
        usage text.
        """
        path = self.writeConfig('Component "a.example"\n')
        e = self.assertRaises(SystemExit, Options().parseOptions, ["-c", path])
        self.assertTrue(str(e.code).startswith(f"{path}:1: "), e.code)

    def test_defaults(self) -> None:
        """
        With no C{component_ports} or C{component_interfaces}, the service
        listens on port 5347 of 127.0.0.1 and ::1 only.
        """
        options = Options()
        options.parseOptions(["-c", self.writeConfig('Component "a.example"\ncomponent_secret = "x"\n')])
        reactor = MemoryReactorClock()
        root = makeService(options, reactor)
        self.assertIsInstance(root, CommandLineService)
        root.privilegedStartService()
        self.assertEqual(
            sorted((p, i) for p, _, _, i in reactor.tcpServers), [(5347, "127.0.0.1"), (5347, "::1")]
        )

    def test_verbose(self) -> None:
        """
        C{--verbose} turns on per-stanza tracing in the router.
        """
        options = Options()
        options.parseOptions(["-v", "-c", self.writeConfig("")])
        [service] = list(makeService(options, MemoryReactorClock()))
        self.assertTrue(service.router._verbose)

    def test_warningsLogged(self) -> None:
        """
        Configuration warnings are logged at warn level, with file and line.
        """
        path = self.writeConfig('no_such_option = 1\nComponent "a.example"\ncomponent_secret = "x"\n')
        options = Options()
        options.parseOptions(["-c", path])
        with capturedLogs() as events:
            makeService(options, MemoryReactorClock())
        [event] = [e for e in events if "configWarning" in e]
        self.assertEqual(event["log_level"], LogLevel.warn)
        self.assertTrue(event["configWarning"].startswith(f"{path}:1: "))

    def test_logSinkFiltersLevel(self) -> None:
        """
        A file sink from C{log} writes events at or above its level only.
        """
        target = self.mktemp()
        [observer] = sinkObservers([LogSink("warn", os.path.abspath(target))])
        observer({"log_level": LogLevel.info, "log_format": "quiet", "log_time": 0, "log_namespace": "t"})
        observer({"log_level": LogLevel.error, "log_format": "loud", "log_time": 0, "log_namespace": "t"})
        with open(target) as f:
            text = f.read()
        self.assertIn("loud", text)
        self.assertNotIn("quiet", text)


class LogGateTests(SynchronousTestCase):
    """
    The lowest level the C{log} option asks for is the lowest xcomp emits.
    """

    def test_loggerHoldsBackLowerLevels(self) -> None:
        """
        By default an xcomp L{Logger} emits every event; once the gate is
        told a level, those below it are not emitted and the rest are.
        """
        self.addCleanup(gate.setLowest, "debug")
        passed: list[dict[str, object]] = []
        log = Logger(observer=passed.append)  # type: ignore[arg-type]
        log.debug("d")
        gate.setLowest("warn")
        for level in (LogLevel.debug, LogLevel.info, LogLevel.warn, LogLevel.error):
            log.emit(level, "x")
        self.assertEqual(
            [e["log_level"] for e in passed], [LogLevel.debug, LogLevel.warn, LogLevel.error]
        )

    def test_lowestLevel(self) -> None:
        """
        Without C{log}, everything (twistd's log takes it all); with it, the
        lowest level of any sink.
        """
        self.assertEqual(lowestLevel(()), "debug")
        sinks = (LogSink("error", "/a"), LogSink("info", "*syslog"), LogSink("warn", "/b"))
        self.assertEqual(lowestLevel(sinks), "info")

    def runWithLog(self, text: str, *arguments: str, suffix: str = ".cfg.lua") -> list[LogLevel]:
        """
        Make the service from a config of C{text} and say which of an info
        and a warn event from xcomp's router then reach the log.
        """
        from twisted.logger import globalLogPublisher

        from xcomp.router import Router

        before = list(globalLogPublisher._observers)
        self.addCleanup(gate.setLowest, "debug")
        path = self.mktemp() + suffix
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        options = Options()
        options.parseOptions(["-c", path, *arguments])
        makeService(options, MemoryReactorClock())
        for observer in list(globalLogPublisher._observers):
            if observer not in before:
                self.addCleanup(globalLogPublisher.removeObserver, observer)
        with capturedLogs() as events:
            Router._log.info("an info line")
            Router._log.warn("a warning")
        return [e["log_level"] for e in events]

    def test_warnOnlyConfig(self) -> None:
        """
        With C{log = { warn = ... }} an info event from xcomp reaches no
        observer, twistd's included; a warning does.
        """
        sink = os.path.abspath(self.mktemp())
        levels = self.runWithLog(f'xcomp_log = {{ warn = "{sink}" }}\nVirtualHost "example.org"\n')
        self.assertEqual(levels, [LogLevel.warn])

    def test_mongooseLoglevel(self) -> None:
        """
        MongooseIM's C{general.loglevel = "warning"} does the same.
        """
        levels = self.runWithLog(
            '[general]\nloglevel = "warning"\n'
            '[[listen.component]]\nport = 8888\npassword = "secret"\n',
            suffix=".toml",
        )
        self.assertEqual(levels, [LogLevel.warn])

    def test_noLogOptionLogsInfo(self) -> None:
        """
        Without C{log}, info events are logged, as before.
        """
        levels = self.runWithLog('VirtualHost "example.org"\n')
        self.assertEqual(levels, [LogLevel.info, LogLevel.warn])

    def test_verboseOverrides(self) -> None:
        """
        C{--verbose} asks for the per-stanza debug lines, so nothing is held
        back whatever C{log} says.
        """
        sink = os.path.abspath(self.mktemp())
        levels = self.runWithLog(
            f'xcomp_log = {{ warn = "{sink}" }}\nVirtualHost "example.org"\n', "--verbose"
        )
        self.assertEqual(levels, [LogLevel.info, LogLevel.warn])


class ExampleTests(SynchronousTestCase):
    """
    The shipped examples stay working.
    """

    def test_embeddedExample(self) -> None:
        """
        C{examples/embedded.py} builds a router from a config made in code,
        and it listens where the example says.
        """
        sys.path.insert(0, EXAMPLES.path)
        self.addCleanup(sys.path.remove, EXAMPLES.path)
        import embedded

        reactor = MemoryReactorClock()
        application = embedded.buildApplication(reactor, port=15347)
        application.privilegedStartService()
        application.startService()
        [(port, _, _, interface)] = reactor.tcpServers
        self.assertEqual((port, interface), (15347, "127.0.0.1"))
        [router] = list(application)
        self.assertEqual(router.router.lookup("localhost").domain, "localhost")

    def test_prosodyExampleLoads(self) -> None:
        """
        C{examples/prosody.cfg.lua} loads without warnings, with one
        VirtualHost, two external components and the C{muc} component,
        listening on loopback only.
        """
        options = Options()
        options.parseOptions(["-c", EXAMPLES.child("prosody.cfg.lua").path])
        config = options["parsed"]
        self.assertEqual(config.warnings, ())
        self.assertEqual(len(config.virtualHosts), 1)
        self.assertEqual(len(config.components), 3)
        self.assertEqual(config.components["conference.example.org"].modules, ("muc_mam",))
        self.assertTrue(all(l.interface in ("127.0.0.1", "::1") for l in config.listeners))
