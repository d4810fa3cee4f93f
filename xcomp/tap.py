# -*- test-case-name: xcomp.test.test_tap -*-
"""
C{twistd xcomp -c prosody.cfg.lua}: the command-line glue, and nothing else.
"""

from __future__ import annotations

from twisted.application.service import IService, MultiService
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IReactorCore
from twisted.logger import Logger, globalLogPublisher
from twisted.python import usage

from xcomp.config import ConfigError, loadConfig
from xcomp.logsinks import sinkObservers
from xcomp.service import RouterService

_log = Logger()


class Options(usage.Options):
    """
    Options for C{twistd xcomp}.

    @ivar parsed: (C{self["parsed"]}) the L{xcomp.config.RouterConfig}, once
        L{postOptions} has loaded it.
    """

    synopsis = "-c FILE [--verbose]"
    longdesc = (
        "Route XMPP stanzas between external components (XEP-0114) as "
        "configured in a Prosody-style configuration file."
    )
    optParameters = [
        ["config", "c", None, "The configuration file (prosody.cfg.lua style)."],
    ]
    optFlags = [
        ["verbose", "v", "Log each routed stanza's top tag at debug level."],
    ]

    def postOptions(self) -> None:
        """
        Load and check the configuration; a mistake in it is reported as
        C{file:line: what is wrong} and nothing is started.
        """
        if self["config"] is None:
            raise usage.UsageError("--config is required (for example: -c prosody.cfg.lua)")
        try:
            self["parsed"] = loadConfig(self["config"])
        except ConfigError as e:
            raise usage.UsageError(str(e)) from None


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


def makeService(options: Options, reactor: IReactorCore | None = None) -> IService:
    """
    Build the service tree from the loaded configuration.
    """
    config = options["parsed"]
    for warning in config.warnings:
        # Not "warning": Twisted's legacy log bridge reads that key as a
        # Python warning and expects a filename with it.
        _log.warn("{configWarning}", configWarning=warning)
    for observer in sinkObservers(config.log):
        globalLogPublisher.addObserver(observer)
    root = CommandLineService()
    RouterService(config, reactor=reactor, verbose=bool(options["verbose"])).setServiceParent(root)
    return root
