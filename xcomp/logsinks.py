# -*- test-case-name: xcomp.test.test_tap -*-
"""
Prosody's C{log} option as Twisted log observers.

twistd keeps its own log (C{--logfile}, C{--syslog}); the sinks configured in
the file are added beside it, each with its minimum level.
"""

from __future__ import annotations

import sys
from typing import Iterable, Iterator

from twisted.logger import (
    FilteringLogObserver,
    ILogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    formatEvent,
    textFileLogObserver,
)
from zope.interface import provider

from xcomp.config import LogSink

_LEVELS = {
    "debug": LogLevel.debug,
    "info": LogLevel.info,
    "warn": LogLevel.warn,
    "error": LogLevel.error,
}


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
