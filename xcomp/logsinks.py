# -*- test-case-name: xcomp.test.test_tap -*-
"""
Prosody's C{log} option as Twisted log observers.

twistd keeps its own log (C{--logfile}, C{--syslog}); the sinks configured in
the file are added beside it, each with its minimum level.  The lowest of
those levels is also the lowest that xcomp emits at all (see L{LogGate}), so
that C{log = { warn = "..." }} keeps info lines out of twistd's log too, as
it keeps them out of Prosody's.
"""

from __future__ import annotations

import sys
from typing import Iterable, Iterator, Sequence

from twisted.logger import (
    FilteringLogObserver,
    ILogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    formatEvent,
    globalLogPublisher,
    textFileLogObserver,
)
from zope.interface import implementer, provider

from xcomp.config import LogSink

_LEVELS = {
    "debug": LogLevel.debug,
    "info": LogLevel.info,
    "warn": LogLevel.warn,
    "error": LogLevel.error,
}


# Lowest first.
_ORDER = (LogLevel.debug, LogLevel.info, LogLevel.warn, LogLevel.error, LogLevel.critical)


@implementer(ILogObserver)
class LogGate:
    """
    Where xcomp's own loggers send their events: on to Twisted's global log
    publisher, except those below the lowest level anyone asked for.

    An event nobody wants still costs formatting, a timestamp and a write
    in twistd's own log, which logs everything; with thousands of
    components connecting, the bind and unbind lines alone were a quarter
    of the work.  By default nothing is held back.
    """

    def __init__(self, publisher: ILogObserver = globalLogPublisher) -> None:
        self._publisher = publisher
        self._held: frozenset[LogLevel] = frozenset()

    def setLowest(self, level: str) -> None:
        """
        Let through events at C{level} (C{debug}, C{info}, C{warn} or
        C{error}) and above only.
        """
        self._held = frozenset(_ORDER[: _ORDER.index(_LEVELS[level])])

    def __call__(self, event: dict) -> None:  # type: ignore[type-arg]
        if event["log_level"] not in self._held:
            self._publisher(event)


#: The gate every xcomp logger writes through: C{Logger(observer=gate)}.
gate = LogGate()


def lowestLevel(sinks: Sequence[LogSink]) -> str:
    """
    The lowest level the C{log} option asks for; C{debug} when it is not
    set, since twistd's own log then takes everything.
    """
    if not sinks:
        return "debug"
    return min((sink.level for sink in sinks), key=lambda name: _ORDER.index(_LEVELS[name]))


def _syslogObserver() -> ILogObserver:
    import syslog

    priorities = {
        LogLevel.debug: syslog.LOG_DEBUG,
        LogLevel.info: syslog.LOG_INFO,
        LogLevel.warn: syslog.LOG_WARNING,
        LogLevel.error: syslog.LOG_ERR,
        LogLevel.critical: syslog.LOG_CRIT,
    }
    syslog.openlog("xcomp", syslog.LOG_PID, syslog.LOG_DAEMON)

    @provider(ILogObserver)
    def observe(event: dict) -> None:  # type: ignore[type-arg]
        text = formatEvent(event)
        if text:
            syslog.syslog(priorities.get(event.get("log_level"), syslog.LOG_INFO), text)

    return observe


def sinkObservers(sinks: Iterable[LogSink]) -> Iterator[ILogObserver]:
    """
    One filtering observer per configured sink.
    """
    for sink in sinks:
        if sink.target == "*console":
            target = textFileLogObserver(sys.stdout)
        elif sink.target == "*syslog":
            target = _syslogObserver()
        else:
            target = textFileLogObserver(open(sink.target, "a", encoding="utf-8"))
        predicate = LogLevelFilterPredicate(defaultLogLevel=_LEVELS[sink.level])
        yield FilteringLogObserver(target, [predicate])
