# -*- test-case-name: xcomp.test.test_logsinks,xcomp.test.test_service -*-
"""
Prosody's C{log} option as Twisted log observers.

twistd keeps its own log (C{--logfile}, C{--syslog}); the sinks configured in
the file are added beside it, each with its minimum level.  The lowest of
those levels is also the lowest that xcomp emits at all (see L{Logger}), so
that C{log = { warn = "..." }} keeps info lines out of twistd's log too, as
it keeps them out of Prosody's.
"""

from __future__ import annotations

import sys
from typing import IO, Iterable, Iterator, Sequence

from twisted.logger import (
    FileLogObserver,
    FilteringLogObserver,
    ILogFilterPredicate,
    ILogObserver,
    LogEvent,
    LogLevel,
    PredicateResult,
    formatEvent,
    formatEventAsClassicLogText,
    formatTime,
)
from twisted.logger import Logger as _TwistedLogger
from zope.interface import implementer, provider

from xcomp.config import LogSink

_LEVELS = {
    "debug": LogLevel.debug,
    "info": LogLevel.info,
    "warn": LogLevel.warn,
    "error": LogLevel.error,
}


#: Twisted's usual time stamp, as C{textFileLogObserver} writes it.
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"

# Lowest first.
_ORDER = (LogLevel.debug, LogLevel.info, LogLevel.warn, LogLevel.error, LogLevel.critical)


class LogGate:
    """
    The lowest level anyone asked for: xcomp's loggers (L{Logger}) drop
    events below it before building them.

    An event nobody wants still costs formatting, a timestamp and a write
    in twistd's own log, which logs everything; with thousands of
    components connecting, the bind and unbind lines alone were a quarter
    of the work.  By default nothing is held back.
    """

    def __init__(self) -> None:
        self.held: frozenset[LogLevel] = frozenset()

    def setLowest(self, level: str) -> None:
        """
        Let through events at C{level} (C{debug}, C{info}, C{warn} or
        C{error}) and above only.
        """
        self.held = frozenset(_ORDER[: _ORDER.index(_LEVELS[level])])


#: The one gate, set from the configuration by C{twistd xcomp}.
gate = LogGate()


class Logger(_TwistedLogger):
    """
    A Twisted L{Logger<twisted.logger.Logger>} that drops at once what
    L{gate} holds back.  xcomp's modules log through this one.
    """

    def emit(self, level: LogLevel, format: str | None = None, **kwargs: object) -> None:
        if level not in gate.held:
            super().emit(level, format, **kwargs)


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
    def observe(event: dict) -> None:
        text = formatEvent(event)
        if text:
            syslog.syslog(priorities.get(event.get("log_level"), syslog.LOG_INFO), text)

    return observe


@implementer(ILogFilterPredicate)
class _Levels:
    """
    Let through the events at a sink's levels, Twisted's C{critical} with
    C{error}.
    """

    def __init__(self, names: frozenset[str]) -> None:
        self._wanted = frozenset(_LEVELS[name] for name in names)
        if LogLevel.error in self._wanted:
            self._wanted |= {LogLevel.critical}

    def __call__(self, event: LogEvent) -> PredicateResult:
        if event.get("log_level") in self._wanted:
            return PredicateResult.maybe
        return PredicateResult.no


def _textObserver(out: IO[str], timestamps: bool | str | None) -> ILogObserver:
    """
    Twisted's text lines, with Prosody's C{timestamps}: C{False} leaves the
    time out, a string is a C{strftime} format.
    """
    if timestamps is False:

        def stamp(when: float | None) -> str:
            return ""

        def format(event: LogEvent) -> str | None:
            text = formatEventAsClassicLogText(event, formatTime=stamp)
            return text.lstrip(" ") if text else text

    else:
        timeFormat = timestamps if isinstance(timestamps, str) else _TIME_FORMAT

        def format(event: LogEvent) -> str | None:
            return formatEventAsClassicLogText(
                event, formatTime=lambda when: formatTime(when, timeFormat)
            )

    return FileLogObserver(out, format)


def sinkObservers(sinks: Iterable[LogSink]) -> Iterator[ILogObserver]:
    """
    One filtering observer per configured sink.
    """
    for sink in sinks:
        target: ILogObserver
        if sink.target == "*console":
            target = _textObserver(sys.stdout, sink.timestamps)
        elif sink.target == "*syslog":
            target = _syslogObserver()
        else:
            target = _textObserver(open(sink.target, "a", encoding="utf-8"), sink.timestamps)
        yield FilteringLogObserver(target, [_Levels(sink.levels)])
