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

import os
import re
import socket
import sys
from typing import IO, Callable, Iterable, Iterator, ParamSpec, Sequence, TypeVar

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
from twisted.python import log as _legacyLog
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

# Not gated: a sink that cannot write is news at any configured level.
_log = _TwistedLogger()


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


#: Where the local syslog daemon listens.
SYSLOG_SOCKET = "/dev/log"

_SEVERITIES = {
    LogLevel.debug: 7,
    LogLevel.info: 6,
    LogLevel.warn: 4,
    LogLevel.error: 3,
    LogLevel.critical: 2,
}
_MAX_LINE = 8192
# Seconds between tries to reach a syslog daemon that was not there.
_RETRY_AFTER = 1.0

# RFC 5424's facility codes.
_FACILITIES = {
    name: code
    for code, name in enumerate(
        "kern user mail daemon auth syslog lpr news uucp cron authpriv ftp".split()
    )
} | {f"local{n}": 16 + n for n in range(8)}


@implementer(ILogObserver)
class SyslogObserver:
    """
    Send events to the local syslog daemon's datagram socket, as
    C{syslog(3)} does but without its silence: the C{libc} call drops every
    line when the socket is missing, so an admin sees an empty syslog and no
    reason.  Here the missing socket is found at startup and said (see
    L{sinkObservers}).

    The socket does not block: a line the daemon has no room for is dropped
    rather than stall the reactor (logging that from inside an observer
    would recurse).  A daemon that was missing or restarted is tried again,
    at most once a second by the events' own times.
    """

    def __init__(self, facility: str, path: str = SYSLOG_SOCKET, pid: int | None = None) -> None:
        """
        @param facility: A C{syslog_facility} name.
        @param path: The daemon's socket.
        @param pid: Shown after C{xcomp}; by default this process's at each
            line, since twistd forks to become a daemon after the sinks are
            made.
        """
        self._facility = _FACILITIES[facility] << 3
        self._path = path
        self._pid = pid
        self._socket: socket.socket | None = None
        self._retryAt = 0.0
        self.problem: str | None = None
        self._connect(0.0)

    def _connect(self, when: float) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.connect(self._path)
        except OSError as e:
            sock.close()
            self.problem = f"cannot reach the syslog daemon at {self._path}: {e.strerror or e}"
            self._retryAt = when + _RETRY_AFTER
            return
        sock.setblocking(False)
        self._socket = sock
        self.problem = None

    def __call__(self, event: LogEvent) -> None:
        if self._socket is None:
            # The daemon may have come up since; trying on every line would
            # cost two system calls per event while it is down.
            when = event.get("log_time") or 0.0
            if when < self._retryAt:
                return
            self._connect(when)
            if self._socket is None:
                return
        text = formatEvent(event)
        if not text:
            return
        priority = self._facility | _SEVERITIES.get(event.get("log_level"), 6)
        # rsyslog's and journald's usual limit; a longer datagram would be
        # refused whole.
        pid = os.getpid() if self._pid is None else self._pid
        line = f"<{priority}>xcomp[{pid}]: {text}".encode("utf-8", "replace")[:_MAX_LINE]
        try:
            self._socket.send(line)
        except BlockingIOError:
            pass
        except OSError:
            # The daemon restarted: this line is lost, the next reconnects.
            self._socket.close()
            self._socket = None


#: Marks the legacy events logged while xcomp binds its ports.
_BINDING = "xcompBinding"
# What twisted.internet.tcp.Port logs, unconditionally, when it listens.
_PORT_ANNOUNCEMENT = re.compile(r" starting on \d+$")

_P = ParamSpec("_P")
_R = TypeVar("_R")


def quietBinding(f: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
    """
    Call C{f}, which binds listening ports, so that Twisted's own line for
    each port ("ComponentListenerFactory starting on 5347") is dropped by
    L{withoutPortAnnouncements}: xcomp says "Listening for components on
    127.0.0.1:5347" itself, with the address, through its gated logger.
    """
    return _legacyLog.callWithContext({_BINDING: True}, f, *args, **kwargs)


@provider(ILogFilterPredicate)
def withoutPortAnnouncements(event: LogEvent) -> PredicateResult:
    """
    Refuse Twisted's line for a port bound inside L{quietBinding}: a legacy
    event (the port logs through C{twisted.python.log}, whose context is
    copied into its events) that only says the port is starting.
    """
    if event.get(_BINDING):
        message: tuple[object, ...] = tuple(event.get("message") or ())
        if len(message) == 1 and _PORT_ANNOUNCEMENT.search(str(message[0])):
            return PredicateResult.no
    return PredicateResult.maybe


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


def sinkObservers(
    sinks: Iterable[LogSink], syslogSocket: str = SYSLOG_SOCKET, files: list[IO[str]] | None = None
) -> Iterator[ILogObserver]:
    """
    One filtering observer per configured sink.

    A syslog daemon that cannot be reached is said once, as a warning logged
    before any observer is handed out: until twistd starts its log, events
    are held and then replayed to every observer, so one logged after the
    sinks were added would reach them twice.

    @param syslogSocket: The syslog daemon's socket.
    @param files: Where the files opened for the sinks are added, for the
        caller to close them (to reopen them after logrotate).
    """
    problems: dict[str, None] = {}
    observers: list[ILogObserver] = []
    for sink in sinks:
        target: ILogObserver
        if sink.target == "*console":
            target = _textObserver(sys.stdout, sink.timestamps)
        elif sink.target == "*syslog":
            syslog = SyslogObserver(sink.syslogFacility, syslogSocket)
            if syslog.problem is not None:
                problems[syslog.problem] = None
            target = syslog
        else:
            out = open(sink.target, "a", encoding="utf-8")
            if files is not None:
                files.append(out)
            target = _textObserver(out, sink.timestamps)
        observers.append(FilteringLogObserver(target, [withoutPortAnnouncements, _Levels(sink.levels)]))
    for problem in problems:
        _log.warn("log: {problem}; syslog lines are lost until it is there", problem=problem)
    yield from observers
