"""
Tests for L{xcomp.logsinks}: the observers built for the C{log} option's
sinks.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile

from twisted.logger import LogLevel, capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from xcomp.config import LogSink
from xcomp.logsinks import SyslogObserver, sinkObservers


def event(level: LogLevel, text: str, when: float = 0.0) -> dict[str, object]:
    """
    A log event at C{level} that says C{text}, at time C{when}.
    """
    return {"log_level": level, "log_format": text, "log_time": when, "log_namespace": "t"}


class FileSinkTests(SynchronousTestCase):
    """
    File sinks write the levels of their sink, with Prosody's C{timestamps}.
    """

    def written(self, sink: LogSink, *events: dict[str, object]) -> str:
        """
        Pass C{events} to C{sink}'s observer and read back its file.
        """
        [observer] = sinkObservers([sink])
        for e in events:
            observer(e)
        with open(sink.target, encoding="utf-8") as f:
            return f.read()

    def test_levelsNotARange(self) -> None:
        """
        A sink with C{levels = { "debug", "error" }} writes those two only,
        and C{critical} with C{error}.
        """
        sink = LogSink(
            "debug", os.path.abspath(self.mktemp()), levels=frozenset({"debug", "error"})
        )
        text = self.written(
            sink,
            event(LogLevel.debug, "d1"),
            event(LogLevel.info, "i1"),
            event(LogLevel.warn, "w1"),
            event(LogLevel.error, "e1"),
            event(LogLevel.critical, "c1"),
        )
        self.assertEqual(
            [w for w in ("d1", "i1", "w1", "e1", "c1") if w in text], ["d1", "e1", "c1"]
        )

    def test_noTimestamps(self) -> None:
        """
        C{timestamps = false} starts each line with the namespace and level.
        """
        sink = LogSink("debug", os.path.abspath(self.mktemp()), timestamps=False)
        self.assertEqual(self.written(sink, event(LogLevel.info, "hello")), "[t#info] hello\n")

    def test_timestampFormat(self) -> None:
        """
        A C{timestamps} string is the time format.
        """
        sink = LogSink("debug", os.path.abspath(self.mktemp()), timestamps="<%Y>")
        text = self.written(sink, event(LogLevel.info, "hello"))
        self.assertRegex(text, r"^<19(69|70)> \[t#info\] hello\n$")


class SyslogTests(SynchronousTestCase):
    """
    The syslog sink writes to the daemon's datagram socket, whose path is
    given, and says so when the socket is not there.
    """

    def setUp(self) -> None:
        """
        A short directory for the socket (a Unix socket's path is at most
        about a hundred bytes).
        """
        self.directory = tempfile.mkdtemp(prefix="xcomp-syslog-")
        self.addCleanup(shutil.rmtree, self.directory)
        self.path = os.path.join(self.directory, "log")

    def daemon(self) -> socket.socket:
        """
        Listen where the daemon would.
        """
        server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(server.close)
        server.bind(self.path)
        server.setblocking(False)
        return server

    def test_linesReachTheDaemon(self) -> None:
        """
        Each event is one datagram: the priority from the facility and the
        level, the C{xcomp[pid]} tag, the text.
        """
        server = self.daemon()
        observer = SyslogObserver("local3", self.path, pid=42)
        self.assertIsNone(observer.problem)
        observer(event(LogLevel.error, "hello"))
        observer(event(LogLevel.info, "again"))
        # local3 is 19; error is 3, info 6.
        self.assertEqual(server.recv(1024), b"<155>xcomp[42]: hello")
        self.assertEqual(server.recv(1024), b"<158>xcomp[42]: again")

    def test_missingSocketWarnsOnce(self) -> None:
        """
        Syslog sinks whose socket does not exist give one warning, naming
        the path and the reason, when the observers are made.
        """
        sinks = [LogSink("info", "*syslog"), LogSink("warn", "*syslog", syslogFacility="user")]
        with capturedLogs() as events:
            observers = list(sinkObservers(sinks, syslogSocket=self.path))
            observers[0](event(LogLevel.info, "lost"))
        [warning] = events
        self.assertEqual(warning["log_level"], LogLevel.warn)
        self.assertEqual(
            formatEvent(warning),
            f"log: cannot reach the syslog daemon at {self.path}: No such file or directory;"
            " syslog lines are lost until it is there",
        )

    def test_noWarningWhenThere(self) -> None:
        """
        When the socket is there, making the observers logs nothing.
        """
        self.daemon()
        with capturedLogs() as events:
            list(sinkObservers([LogSink("info", "*syslog")], syslogSocket=self.path))
        self.assertEqual(events, [])

    def test_reconnects(self) -> None:
        """
        A daemon that comes up after startup gets the lines from then on,
        found again at most once a second (by the events' times).
        """
        observer = SyslogObserver("daemon", self.path, pid=1)
        self.assertIsNotNone(observer.problem)
        observer(event(LogLevel.warn, "before", when=100.0))
        server = self.daemon()
        observer(event(LogLevel.warn, "too soon", when=100.5))
        observer(event(LogLevel.warn, "after", when=101.0))
        self.assertEqual(server.recv(1024), b"<28>xcomp[1]: after")
        self.assertIsNone(observer.problem)

    def test_daemonRestarts(self) -> None:
        """
        When the daemon goes away and comes back, the line that found it
        gone is lost and the next one reaches the new daemon.
        """
        server = self.daemon()
        observer = SyslogObserver("daemon", self.path, pid=1)
        server.close()
        os.unlink(self.path)
        observer(event(LogLevel.warn, "lost", when=5.0))
        server = self.daemon()
        observer(event(LogLevel.warn, "found", when=5.0))
        self.assertEqual(server.recv(1024), b"<28>xcomp[1]: found")

    def test_pidAtEachLine(self) -> None:
        """
        By default the tag has the PID of the process writing the line (the
        daemon, not the process that read the configuration).
        """
        server = self.daemon()
        SyslogObserver("daemon", self.path)(event(LogLevel.warn, "mine"))
        self.assertEqual(server.recv(1024), f"<28>xcomp[{os.getpid()}]: mine".encode())

    def test_longLineCut(self) -> None:
        """
        A line longer than 8192 bytes is cut there rather than refused.
        """
        server = self.daemon()
        observer = SyslogObserver("daemon", self.path, pid=1)
        observer(event(LogLevel.warn, "x" * 20000))
        self.assertEqual(len(server.recv(30000)), 8192)
