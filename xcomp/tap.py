# -*- test-case-name: xcomp.test.test_tap -*-
"""
C{twistd xcomp -c prosody.cfg.lua}: the command-line glue, and nothing else.
"""

from __future__ import annotations

import sys
from typing import Mapping, TextIO

from twisted.application.service import MultiService
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IReactorCore
from twisted.logger import globalLogPublisher
from twisted.python import usage

from xcomp.config import ConfigError, loadConfig
from xcomp.interfaces import IComponentModule, IComponentPlugin
from xcomp.logsinks import Logger, gate, lowestLevel, sinkObservers
from xcomp.plugin import DuplicatePluginError, checkModules, installedModules, installedPlugins
from xcomp.service import RouterService
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

    def postOptions(self) -> None:
        """
        Load and check the configuration; a mistake in it is reported as
        C{file:line: what is wrong} and nothing is started.
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
            raise usage.UsageError(str(e)) from None


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
    The root of C{twistd xcomp}'s service tree.  Startup errors that an
    administrator must fix end the process with one clear line and exit
    status 1, instead of a traceback.
    """

    def privilegedStartService(self) -> None:
        try:
            super().privilegedStartService()
        except CannotListenError as e:
            reason = getattr(e.socketError, "strerror", None) or str(e.socketError)
            raise SystemExit(
                f"xcomp: cannot listen for components on {e.interface}:{e.port}: {reason}"
            ) from None


def makeService(options: Options, reactor: IReactorCore | None = None) -> CommandLineService:
    """
    Build the service tree from the loaded configuration.
    """
    config = options["parsed"]
    for warning in config.warnings:
        # Not "warning": Twisted's legacy log bridge reads that key as a
        # Python warning and expects a filename with it.
        _log.warn("{configWarning}", configWarning=warning)
    lowest = config.logLevel or lowestLevel(config.log)
    gate.setLowest("debug" if options["verbose"] else lowest)
    for observer in sinkObservers(config.log):
        globalLogPublisher.addObserver(observer)
    root = CommandLineService()
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
        raise SystemExit(f"xcomp: {e}") from None
    service.setServiceParent(root)
    return root
