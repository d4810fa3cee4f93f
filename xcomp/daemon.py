# -*- test-case-name: xcomp.test.test_signals -*-
"""
What C{twistd xcomp} does as a long-running process, besides routing: the
log twistd writes, and the signals an administrator's tools send.

twistd's log is made here, with twistd's own parts (L{LogFile}, Twisted's
text format) and twistd's choice of where it goes, so that xcomp holds the
file: C{SIGHUP} reopens it after logrotate moved it, C{SIGUSR1} rotates it
as twistd's daemon mode does (with C{-n} too), and Twisted's per-port line,
which only repeats xcomp's C{Listening for components on ...}, is left out.
With C{--syslog} or C{--logger}, twistd makes its log itself, as before.

The signals (L{installSignals}): C{SIGHUP} reloads the configuration and
reopens every log file; C{SIGUSR1} rotates twistd's log file (or, with no
file to rotate, says so); C{SIGUSR2} only says it was received.  C{SIGTERM}
and C{SIGINT} stay the reactor's: they stop xcomp cleanly.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import Callable, Mapping

from twisted.internet.interfaces import IReactorFromThreads
from twisted.logger import FilteringLogObserver, ILogObserver, textFileLogObserver
from twisted.python.logfile import LogFile

from xcomp.logsinks import Logger, withoutPortAnnouncements

__all__ = ["TwistdLog", "installSignals"]

_log = Logger()


class TwistdLog:
    """
    twistd's own log (C{--logfile}, or standard output with C{-n}).

    @ivar observer: The observer twistd is to log to.
    @ivar logFile: The file, or L{None} for standard output.
    """

    def __init__(self, observer: ILogObserver, logFile: LogFile | None) -> None:
        self.observer = observer
        self.logFile = logFile

    @classmethod
    def fromOptions(cls, twistdOptions: Mapping[str, object]) -> TwistdLog | None:
        """
        twistd's log as twistd would make it from its options (on Unix:
        C{--logfile=-}, or C{-n} without C{--logfile}, is standard output;
        otherwise the file, C{twistd.log} by default); L{None} where twistd
        must decide itself: C{--syslog}, C{--logger}, and a daemon told to
        log to standard output (which twistd refuses with its message).
        """
        if twistdOptions.get("syslog") or twistdOptions.get("logger"):
            return None
        name = str(twistdOptions.get("logfile") or "")
        foreground = bool(twistdOptions.get("nodaemon"))
        logFile = None
        if name == "-" or (foreground and not name):
            if not foreground:
                return None
            out = sys.stdout
        else:
            logFile = LogFile.fromFullPath(name or "twistd.log")
            out = logFile
        observer = FilteringLogObserver(textFileLogObserver(out), [withoutPortAnnouncements])
        return cls(observer, logFile)

    def reopen(self) -> None:
        """
        Open the file again by its name (logrotate has moved it away).
        """
        if self.logFile is not None:
            self.logFile.reopen()

    def rotate(self) -> bool:
        """
        Rotate the file as twistd's C{SIGUSR1} does (C{twistd.log} becomes
        C{twistd.log.1}, ...); C{False} when there is no file.
        """
        if self.logFile is None:
            return False
        self.logFile.rotate()
        return True


def installSignals(
    reactor: IReactorFromThreads,
    *,
    hangup: Callable[[], object],
    rotate: Callable[[], bool],
) -> None:
    """
    Handle C{SIGHUP}, C{SIGUSR1} and C{SIGUSR2}, whose default is to end
    the process without a word.  Each handler only schedules its work in
    the reactor's thread, as twistd's own C{SIGUSR1} handler does: nothing
    else is safe inside a signal handler.

    @param hangup: Called for C{SIGHUP}: reload and reopen.
    @param rotate: Called for C{SIGUSR1}: rotate twistd's log file, C{False}
        when there is none.
    """

    def onUsr1() -> None:
        if not rotate():
            _log.info("SIGUSR1: twistd logs to standard output; there is no log file to rotate")

    def onUsr2() -> None:
        _log.info("SIGUSR2 received; xcomp does nothing on it (SIGHUP reloads)")

    actions: dict[signal.Signals, Callable[[], object]] = {
        signal.SIGHUP: hangup,
        signal.SIGUSR1: onUsr1,
        signal.SIGUSR2: onUsr2,
    }
    for signum, action in actions.items():

        def handler(number: int, frame: FrameType | None, action: Callable[[], object] = action) -> None:
            reactor.callFromThread(action)

        signal.signal(signum, handler)
