"""
Embed xcomp in another Twisted application.

The router is an ordinary Twisted service: build a RouterConfig (here in
code; loadConfig("prosody.cfg.lua") gives the same model from a file), make a
RouterService from it, and add it to your own service tree next to whatever
else the application runs.

    python examples/embedded.py

listens for the component "bot.localhost" (secret "change-me") on
127.0.0.1:5347 and logs to stdout until interrupted.
"""

from __future__ import annotations

import sys

from twisted.application.service import MultiService
from twisted.internet import defer, task
from twisted.internet.interfaces import IReactorCore
from twisted.logger import globalLogBeginner, textFileLogObserver

from xcomp import ComponentConfig, ListenerConfig, RouterConfig, RouterService, VirtualHostConfig


def buildConfig(port: int = 5347) -> RouterConfig:
    """
    The configuration, built without any file.
    """
    return RouterConfig(
        listeners=(ListenerConfig(port=port, interface="127.0.0.1"),),
        virtualHosts={"localhost": VirtualHostConfig(domain="localhost", name="Embedded")},
        components={
            "bot.localhost": ComponentConfig(
                domain="bot.localhost", secret="change-me", name="A bot"
            ),
        },
    )


def buildApplication(reactor: IReactorCore, port: int = 5347) -> MultiService:
    """
    The application's service tree: here only the router, but anything else
    (a web status page, a metrics exporter) would be added the same way.
    """
    application = MultiService()
    router = RouterService(buildConfig(port), reactor=reactor)
    router.setServiceParent(application)
    return application


def main(reactor: IReactorCore) -> defer.Deferred[None]:
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    application = buildApplication(reactor)
    application.privilegedStartService()
    application.startService()
    reactor.addSystemEventTrigger("before", "shutdown", application.stopService)
    return defer.Deferred()  # run until interrupted


if __name__ == "__main__":
    task.react(main)
