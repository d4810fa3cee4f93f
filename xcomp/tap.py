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

import sys
from typing import Mapping, TextIO

from twisted.application.service import MultiService
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IReactorCore
from twisted.logger import globalLogPublisher
from twisted.python import usage

from xcomp import __version__
from xcomp.config import ConfigError, RouterConfig, loadConfig
from xcomp.interfaces import IComponentModule, IComponentPlugin
from xcomp.logsinks import Logger, gate, lowestLevel, sinkObservers
from xcomp.plugin import DuplicatePluginError, checkModules, installedModules, installedPlugins
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
            self["parsed"] = loadConfig(
                self["config"], plugins=self["plugins"], modules=self["modules"]
            )
            checkModules(self["parsed"], self["modules"])
            checkListeners(self["parsed"])
        except ConfigError as e:
            raise SystemExit(str(e)) from None


def listPlugins(plugins: Mapping[str, IComponentPlugin], modules: Mapping[str, IComponentModule]) -> str:
    """
    The text of C{--list-plugins}: one line per plugin, then per module.
    """
    lines = ["Component plugins (Component \"domain\" \"plugin\"):"]
    lines += [f"  {name:<12} {p.description}" for name, p in plugins.items()] or ["  (none)"]
    lines.append("Component modules (modules_enabled under a Component):")
    lines += [
        f"  {name:<12} {m.description} [extends: {', '.join(m.components)}]"
        for name, m in modules.items()
    ] or ["  (none)"]
    return "\n".join(lines) + "\n"


class CommandLineService(MultiService):
    """
    The root of C{twistd xcomp}'s service tree.  A port that cannot be bound
    ends the process with one clear line and exit status 1, instead of a
    traceback.

    The privileged start runs once: L{makeService} runs it before twistd
    daemonizes, and twistd's own call afterwards finds it done.
    """

    _privilegedStarted = False

    def __init__(self, config: RouterConfig) -> None:
        """
        @param config: The configuration, to name a listener's line in an
            error.
        """
        super().__init__()
        self._config = config

    def privilegedStartService(self) -> None:
        if self._privilegedStarted:
            return
        try:
            super().privilegedStartService()
        except CannotListenError as e:
            raise SystemExit(self._cannotListen(e)) from None
        self._privilegedStarted = True

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
        s2s = self._config.s2s
        for server in s2s.listeners if s2s is not None else ():
            if (server.interface, server.port) == (e.interface, e.port):
                message = f"cannot listen for servers on {e.interface}:{e.port}: {reason}"
                location = server.location or s2s.location  # type: ignore[union-attr]
                return f"{location}: {message}" if location else message
        return message


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
    if config.pidfile:
        try:
            checkPidfile(config.pidfile)
        except PidfileInUse as e:
            raise SystemExit(str(e)) from None
    lowest = config.logLevel or lowestLevel(config.log)
    gate.setLowest("debug" if options["verbose"] else lowest)
    root = CommandLineService(config)
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
    root.privilegedStartService()
    # Last: until twistd begins logging it keeps every event and then
    # replays them to all observers, so a sink added before building the
    # service and binding the ports would have those lines twice.
    for observer in sinkObservers(config.log):
        globalLogPublisher.addObserver(observer)
    return root
