"""
Tests for L{xcomp.logsinks}: the observers built for the C{log} option's
sinks.
"""

from __future__ import annotations

import os

from twisted.logger import LogLevel
from twisted.trial.unittest import SynchronousTestCase

from xcomp.config import LogSink
from xcomp.logsinks import sinkObservers


def event(level: LogLevel, text: str) -> dict[str, object]:
    """
    A log event at C{level} that says C{text}.
    """
    return {"log_level": level, "log_format": text, "log_time": 0.0, "log_namespace": "t"}


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
