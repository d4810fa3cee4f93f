# -*- test-case-name: xcomp.test.test_tap -*-
"""
C{twistd xcomp -c prosody.cfg.lua}: the command-line glue, and nothing else.

Every mistake an administrator must fix (the configuration, a port that
cannot be bound, a pidfile of a running process) ends the process with one
line on the terminal and exit status 1.  twistd makes the service before it
daemonizes, so L{makeService} also binds the ports then: after the fork the
daemon's stderr is C{/dev/null}, and twistd's parent could only report an
error as its own multi-line text.
"""

from __future__ import annotations

import os
import sys
from typing import IO, Mapping, TextIO

from twisted.application.service import MultiService
from twisted.internet import defer
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IReactorCore, IReactorFromThreads
from twisted.logger import ILogObserver, globalLogPublisher
from twisted.python import usage
from twisted.python.components import Componentized

from xcomp import __version__
from xcomp.config import ConfigError, RouterConfig, loadConfig
from xcomp.config.model import LogSink
from xcomp.daemon import TwistdLog, installSignals
from xcomp.interfaces import IComponentModule, IComponentPlugin
from xcomp.logsinks import Logger, gate, lowestLevel, sinkObservers
from xcomp.plugin import (
    DuplicatePluginError,
    checkModules,
    declaredOptions,
    installedModules,
    installedPlugins,
    optionSchemas,
)
from xcomp.pluginoptions import describeOptions
from xcomp.reload import ReloadResult
from xcomp.service import PidfileInUse, RouterService, checkPidfile
from xcomp.tls import checkListeners

_log = Logger()


class Options(usage.Options):
    """
    Options for C{twistd xcomp}.

    @ivar parsed: (C{self["parsed"]}) the L{xcomp.config.RouterConfig}, once
        L{postOptions} has loaded it.
    @ivar plugins: (C{self["plugins"]}) the installed component plugins by
        name, and C{self["modules"]} the installed component modules.
    @ivar stdout: where C{--list-plugins} writes.
    """

    stdout: TextIO = sys.stdout
    synopsis = "-c FILE [--verbose] | --list-plugins"
    longdesc = (
        "Route XMPP stanzas between external components (XEP-0114) as "
        "configured in a Prosody-style configuration file."
    )
    optParameters = [
        ["config", "c", None, "The configuration file (prosody.cfg.lua style)."],
    ]
    optFlags = [
        ["verbose", "v", "Log each routed stanza's top tag at debug level."],
        ["list-plugins", None, "List the installed component plugins and modules, and exit."],
    ]

    def opt_version(self) -> None:
        """
        Print xcomp's version and exit.
        """
        self.stdout.write(f"xcomp {__version__}\n")
        raise SystemExit(0)

    def postOptions(self) -> None:
        """
        Load and check the configuration; a mistake in it ends the process
        with C{file:line: what is wrong} alone (not under twistd's usage
        text, as a L{usage.UsageError} would be) and nothing is started.
        """
        try:
            self["plugins"] = installedPlugins()
            self["modules"] = installedModules()
        except DuplicatePluginError as e:
            raise usage.UsageError(str(e)) from None
        if self["list-plugins"]:
            self.stdout.write(listPlugins(self["plugins"], self["modules"]))
            raise SystemExit(0)
        if self["config"] is None:
            raise usage.UsageError("--config is required (for example: -c prosody.cfg.lua)")
        try:
            self["parsed"] = self.load()
        except ConfigError as e:
            raise SystemExit(str(e)) from None
        twistdPidfile = (getattr(self, "parent", None) or {}).get("pidfile")
        if twistdPidfile:
            # Before twistd's own check, which says the same in five lines.
            try:
                checkPidfile(os.path.abspath(twistdPidfile))
            except PidfileInUse as e:
                raise SystemExit(str(e)) from None

    def load(self) -> RouterConfig:
        """
        Read and check the configuration file, at startup and at each
        reload.

        @raise ConfigError: A mistake in it.
        """
        config = loadConfig(
            self["config"],
            plugins=self["plugins"],
            modules=self["modules"],
            pluginOptions=optionSchemas(self["plugins"]),
            moduleOptions=optionSchemas(self["modules"]),
        )
        checkModules(config, self["modules"])
        checkListeners(config)
        return config


def listPlugins(plugins: Mapping[str, IComponentPlugin], modules: Mapping[str, IComponentModule]) -> str:
    """
    The text of C{--list-plugins}: one line per plugin, then per module,
    each followed by the options it declares (name, type, default, doc).
    """
    lines = ["Component plugins (Component \"domain\" \"plugin\"):"]
    for name, p in plugins.items():
        lines.append(f"  {name:<12} {p.description}")
        lines += describeOptions(declaredOptions(p))
    if not plugins:
        lines.append("  (none)")
    lines.append("Component modules (modules_enabled under a Component):")
    for name, m in modules.items():
        lines.append(f"  {name:<12} {m.description} [extends: {', '.join(m.components)}]")
        lines += describeOptions(declaredOptions(m))
    if not modules:
        lines.append("  (none)")
    return "\n".join(lines) + "\n"


class CommandLineService(MultiService):
    """
    The root of C{twistd xcomp}'s service tree.  A port that cannot be bound
    ends the process with one clear line and exit status 1, instead of a
    traceback.  Once running, it owns the process's signals and log files
    (L{xcomp.daemon}): C{SIGHUP} reloads the configuration and reopens
    them.

    The privileged start runs once: L{makeService} runs it before twistd
    daemonizes, and twistd's own call afterwards finds it done.
    """

    _privilegedStarted = False

    def __init__(
        self,
        config: RouterConfig,
        options: Options | None = None,
        reactor: IReactorCore | None = None,
    ) -> None:
        """
        @param config: The configuration, to name a listener's line in an
            error.
        @param options: The command line: its C{load} re-reads the file, and
            its twistd options say where twistd logs.  L{None} for no
            signals and no twistd log of xcomp's making.
        """
        super().__init__()
        self._config = config
        self._options = options
        self._reactor = reactor
        self.router: RouterService | None = None
        self.twistdLog: TwistdLog | None = None
        self._sinks: list[ILogObserver] = []
        self._sinkFiles: list[IO[str]] = []
        self._sinksOf: tuple[LogSink, ...] = ()

    def setServiceParent(self, parent: object) -> None:
        """
        Also make twistd's log, on the application twistd gives (see
        L{TwistdLog}); twistd begins logging to it afterwards.
        """
        super().setServiceParent(parent)
        twistdOptions = getattr(self._options, "parent", None)
        if isinstance(parent, Componentized) and twistdOptions is not None:
            self.twistdLog = TwistdLog.fromOptions(twistdOptions)
            if self.twistdLog is not None:
                parent.setComponent(ILogObserver, self.twistdLog.observer)

    def privilegedStartService(self) -> None:
        if self._privilegedStarted:
            return
        try:
            super().privilegedStartService()
        except CannotListenError as e:
            raise SystemExit(self._cannotListen(e)) from None
        except ConfigError as e:
            # The cluster's Redis cannot be reached (xcomp.cluster.connection.probe).
            raise SystemExit(str(e)) from None
        self._privilegedStarted = True
        self._installSignals()

    def _cannotListen(self, e: CannotListenError) -> str:
        """
        The one line for a port that cannot be bound: where the listener was
        configured (when known), its address and the system's reason.
        """
        reason = getattr(e.socketError, "strerror", None) or str(e.socketError)
        message = f"cannot listen for components on {e.interface}:{e.port}: {reason}"
        for listener in self._config.listeners:
            if (listener.interface, listener.port) == (e.interface, e.port) and listener.location:
                return f"{listener.location}: {message}"
        for http in self._config.http:
            if (http.interface, http.port) == (e.interface, e.port):
                message = f"cannot listen for HTTP (metrics, status) on {e.interface}:{e.port}: {reason}"
                return f"{http.location}: {message}" if http.location else message
        s2s = self._config.s2s
        for server in s2s.listeners if s2s is not None else ():
            if (server.interface, server.port) == (e.interface, e.port):
                message = f"cannot listen for servers on {e.interface}:{e.port}: {reason}"
                location = server.location or s2s.location  # type: ignore[union-attr]
                return f"{location}: {message}" if location else message
        return message

    def _installSignals(self) -> None:
        """
        Under twistd only (an embedding program owns its signals): as soon
        as the ports are bound, since the process is there for tools to
        signal from then on.  The handlers survive twistd's fork.
        """
        if getattr(self._options, "parent", None) is None:
            return
        reactor = self._reactor
        if reactor is None:
            from twisted.internet import reactor as globalReactor

            reactor = globalReactor
        installSignals(IReactorFromThreads(reactor), hangup=self.hangup, rotate=self._rotate)

    def _rotate(self) -> bool:
        return self.twistdLog is not None and self.twistdLog.rotate()

    def openSinks(self, sinks: tuple[LogSink, ...]) -> None:
        """
        Replace the configuration's log sinks with C{sinks}, closing the
        files of the old ones: each file is opened again by its name.

        @raise OSError: A file cannot be opened; the old sinks are kept.
        """
        files: list[IO[str]] = []
        try:
            observers = list(sinkObservers(sinks, files=files))
        except OSError:
            for f in files:
                f.close()
            raise
        for observer in self._sinks:
            globalLogPublisher.removeObserver(observer)
        for f in self._sinkFiles:
            f.close()
        self._sinks, self._sinkFiles, self._sinksOf = observers, files, sinks
        for observer in observers:
            globalLogPublisher.addObserver(observer)

    def _reopen(self, sinks: tuple[LogSink, ...]) -> None:
        """
        Open twistd's log file and the sinks' again; one that cannot be
        opened is said in the log, and the old one kept.
        """
        try:
            if self.twistdLog is not None:
                self.twistdLog.reopen()
            self.openSinks(sinks)
        except OSError as e:
            _log.error(
                "log: cannot open {file}: {reason}; writing where it wrote before",
                file=e.filename,
                reason=e.strerror,
            )

    def hangup(self) -> defer.Deferred[ReloadResult]:
        """
        C{SIGHUP}: reopen every log file (twistd's and the sinks'), then
        reload the configuration (L{RouterService.reload}) and apply its
        log levels and sinks.
        """
        assert self.router is not None and self._options is not None
        self._reopen(self._sinksOf)
        _log.info("SIGHUP: reopened the log files; reloading {config}", config=self._options["config"])

        def applyLog(result: ReloadResult) -> ReloadResult:
            assert self.router is not None and self._options is not None
            config = self.router.config
            setGate(config, bool(self._options["verbose"]))
            if config.log != self._sinksOf:
                self._reopen(config.log)
            return result

        return self.router.reload(self._options.load).addCallback(applyLog)


def setGate(config: RouterConfig, verbose: bool) -> None:
    """
    Let xcomp's loggers through from the lowest level the configuration
    asks for (everything with C{--verbose}).
    """
    gate.setLowest("debug" if verbose else (config.logLevel or lowestLevel(config.log)))


def makeService(options: Options, reactor: IReactorCore | None = None) -> CommandLineService:
    """
    Build the service tree from the loaded configuration.
    """
    config = options["parsed"]
    warnings = list(config.warnings)
    if not config.components and not any(l.password for l in config.listeners):
        warnings.append("no component is configured (no Component, no listener password): nothing can connect")
    for warning in warnings:
        # Not "warning": Twisted's legacy log bridge reads that key as a
        # Python warning and expects a filename with it.
        _log.warn("{configWarning}", configWarning=warning)
    for notice in config.notices:
        _log.info("{configNotice}", configNotice=notice)
    if config.pidfile:
        try:
            checkPidfile(config.pidfile)
        except PidfileInUse as e:
            raise SystemExit(str(e)) from None
    setGate(config, bool(options["verbose"]))
    root = CommandLineService(config, options, reactor)
    try:
        service = RouterService(
            config,
            reactor=reactor,
            verbose=bool(options["verbose"]),
            plugins=options["plugins"],
            modules=options["modules"],
        )
    except ConfigError as e:
        # A plugin refused an option: one line, as for any mistake in the file.
        raise SystemExit(str(e)) from None
    service.setServiceParent(root)
    root.router = service
    root.privilegedStartService()
    # Last: until twistd begins logging it keeps every event and then
    # replays them to all observers, so a sink added before building the
    # service and binding the ports would have those lines twice.
    root.openSinks(config.log)
    return root
