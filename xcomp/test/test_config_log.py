"""
Tests for L{xcomp.config.prosody.log}: every form of Prosody's C{log} option
that Prosody documents loads into L{xcomp.config.LogSink}s, and each mistake
is one C{file:line: message}.
"""

from __future__ import annotations

import os

from xcomp.config import LogSink
from xcomp.test.test_config import _ConfigTestCase


def only(*names: str) -> frozenset[str]:
    """
    A set of level names, for L{LogSink.levels}.
    """
    return frozenset(names)


class StringFormTests(_ConfigTestCase):
    """
    C{log} as one string.
    """

    def test_default(self) -> None:
        """
        Without C{log}, no sink is added: twistd's own log (C{--logfile},
        C{--syslog}) is where Prosody would write by default.
        """
        self.assertEqual(self.load("").log, ())
        self.assertEqual(self.load("debug = true\n").log, ())

    def test_fileName(self) -> None:
        """
        A file name logs info and above there, relative to the configuration.
        """
        self.assertEqual(
            self.load('xcomp_log = "xcomp.log"\n').log,
            (LogSink("info", os.path.abspath(os.path.join(self.directory, "xcomp.log"))),),
        )

    def test_fileNameDebug(self) -> None:
        """
        With C{debug = true}, a file name logs every level.
        """
        [sink] = self.load('debug = true\nxcomp_log = "/x.log"\n').log
        self.assertEqual(sink, LogSink("debug", "/x.log"))
        self.assertEqual(sink.levels, only("debug", "info", "warn", "error"))

    def test_console(self) -> None:
        """
        C{"*console"} or C{"*syslog"} alone logs every level there.
        """
        self.assertEqual(self.load('xcomp_log = "*syslog"\n').log, (LogSink("debug", "*syslog"),))
        self.assertEqual(self.load('xcomp_log = "*console"\n').log, (LogSink("debug", "*console"),))

    def test_unknownStar(self) -> None:
        """
        A C{*} name xcomp has no sink for is an error at its line.
        """
        self.assertEqual(
            self.fails('\nxcomp_log = "*graylog"\n'),
            self.at(2, 'xcomp_log: unsupported log sink "*graylog" (use "*console" or "*syslog")'),
        )

    def test_notAString(self) -> None:
        """
        Neither a string nor a table is an error.
        """
        self.assertEqual(
            self.fails("xcomp_log = 3\n"), self.at(1, "xcomp_log: expected a file name or a table, not 3")
        )


class LevelTableTests(_ConfigTestCase):
    """
    C{log = { level = destination }}.
    """

    def test_levelTable(self) -> None:
        """
        C{{ level = target }} sends that level and above to each target.
        """
        self.assertEqual(
            self.load('xcomp_log = { info = "/var/log/x.log"; error = "*syslog" }\n').log,
            (LogSink("info", "/var/log/x.log"), LogSink("error", "*syslog")),
        )

    def test_unknownLevel(self) -> None:
        """
        An unknown level name is an error.
        """
        self.assertEqual(
            self.fails('xcomp_log = { verbose = "*console" }\n'),
            self.at(1, 'xcomp_log: unknown log level "verbose"'),
        )

    def test_destinationNotAString(self) -> None:
        """
        A level's destination must be a string.
        """
        self.assertEqual(
            self.fails("xcomp_log = { warn = { } }\n"),
            self.at(1, 'xcomp_log: warn: expected a file name, "*console" or "*syslog"'),
        )


class SinkListTests(_ConfigTestCase):
    """
    C{log} as a list of sink tables (Prosody's advanced form).
    """

    def sink(self, table: str) -> LogSink:
        """
        Load C{log = { table }}, which must give one sink.
        """
        [sink] = self.load(f"xcomp_log = {{ {table} }}\n").log
        return sink

    def test_issueExample(self) -> None:
        """
        C{levels = { "warn" }} to syslog, refused before, is warn alone.
        """
        sink = self.sink('{ levels = { "warn" }; to = "syslog" }')
        self.assertEqual((sink.level, sink.target, sink.levels), ("warn", "*syslog", only("warn")))

    def test_levelsAbsent(self) -> None:
        """
        Without C{levels}, a sink takes every level.
        """
        sink = self.sink('{ to = "console" }')
        self.assertEqual(sink, LogSink("debug", "*console"))

    def test_levelsString(self) -> None:
        """
        One level name selects that level alone.
        """
        self.assertEqual(self.sink('{ levels = "info", to = "console" }').levels, only("info"))

    def test_levelsList(self) -> None:
        """
        A list selects the levels it names, even when they are not a range.
        """
        sink = self.sink('{ levels = { "debug", "error" }, to = "file", filename = "/a.log" }')
        self.assertEqual(
            (sink.level, sink.target, sink.levels), ("debug", "/a.log", only("debug", "error"))
        )

    def test_levelsMin(self) -> None:
        """
        C{min} alone runs up to C{error}.
        """
        sink = self.sink('{ levels = { min = "info" }, to = "console" }')
        self.assertEqual(sink, LogSink("info", "*console"))

    def test_levelsMinMax(self) -> None:
        """
        C{min} and C{max} select the range between them.
        """
        sink = self.sink('{ levels = { min = "info", max = "warn" }, to = "console" }')
        self.assertEqual(sink.levels, only("info", "warn"))

    def test_levelsMax(self) -> None:
        """
        C{max} alone is that level only, as Prosody reads it.
        """
        self.assertEqual(
            self.sink('{ levels = { max = "warn" }, to = "console" }').levels, only("warn")
        )

    def test_fileRelative(self) -> None:
        """
        A C{to = "file"} sink's C{filename} is relative to the configuration.
        """
        sink = self.sink('{ to = "file", filename = "logs/x.log" }')
        self.assertEqual(sink.target, os.path.join(os.path.abspath(self.directory), "logs", "x.log"))

    def test_timestamps(self) -> None:
        """
        C{timestamps} is kept: C{false}, C{true} or a time format.
        """
        for text, expected in (("false", False), ("true", True), ('"%H:%M"', "%H:%M")):
            sink = self.sink(f'{{ to = "file", filename = "/x.log", timestamps = {text} }}')
            self.assertEqual(sink.timestamps, expected)
        self.assertIsNone(self.sink('{ to = "console" }').timestamps)

    def test_syslogFacility(self) -> None:
        """
        C{syslog_facility} is kept for a syslog sink; C{daemon} by default.
        """
        self.assertEqual(
            self.sink('{ to = "syslog", syslog_facility = "local3" }').syslogFacility, "local3"
        )
        self.assertEqual(self.sink('{ to = "syslog" }').syslogFacility, "daemon")

    def test_mixed(self) -> None:
        """
        Sink tables and strings mix in one list, in order; a sink given twice
        is kept once.
        """
        config = self.load(
            'xcomp_log = { { levels = { min = "warn" }, to = "file", filename = "/x.log" };'
            ' { levels = { "error" }, to = "console" }; "*syslog"; "*syslog" }\n'
        )
        self.assertEqual(
            config.log,
            (LogSink("warn", "/x.log"), LogSink("error", "*console"), LogSink("debug", "*syslog")),
        )

    def test_nowhere(self) -> None:
        """
        C{to = "nowhere"} is no sink.
        """
        self.assertEqual(self.load('xcomp_log = { { to = "nowhere" } }\n').log, ())


class SinkErrorTests(_ConfigTestCase):
    """
    Each mistake in a sink table is C{file:line: log: ...}.
    """

    def test_unsupportedSink(self) -> None:
        """
        A sink type xcomp does not have is an error.
        """
        self.assertEqual(
            self.fails('xcomp_log = { { to = "graylog" } }\n'),
            self.at(
                1,
                'xcomp_log: unsupported sink to = "graylog" (xcomp writes to "file", "console" '
                'or "syslog")',
            ),
        )

    def test_unknownLevel(self) -> None:
        """
        An unknown name in C{levels} is an error.
        """
        self.assertEqual(
            self.fails('xcomp_log = { { levels = { "loud" }, to = "console" } }\n'),
            self.at(1, 'xcomp_log: unknown log level "loud"'),
        )

    def test_levelsNotATable(self) -> None:
        """
        C{levels} that is neither a name nor a table is an error.
        """
        self.assertEqual(
            self.fails('xcomp_log = { { levels = 2, to = "console" } }\n'),
            self.at(1, "xcomp_log: levels: expected a level name or a table, not 2"),
        )

    def test_minAboveMax(self) -> None:
        """
        A C{min} above C{max} selects nothing, which is an error.
        """
        self.assertEqual(
            self.fails('xcomp_log = { { levels = { min = "error", max = "info" }, to = "console" } }\n'),
            self.at(1, 'xcomp_log: levels: min = "error" is above max = "info"'),
        )

    def test_emptyLevels(self) -> None:
        """
        An empty C{levels} table selects nothing, which is an error.
        """
        self.assertEqual(
            self.fails('xcomp_log = { { levels = { }, to = "console" } }\n'),
            self.at(1, 'xcomp_log: levels: no level named (for example levels = { min = "info" })'),
        )

    def test_fileWithoutName(self) -> None:
        """
        A C{to = "file"} sink needs a C{filename}.
        """
        self.assertEqual(
            self.fails('xcomp_log = { { to = "file" } }\n'),
            self.at(1, 'xcomp_log: a sink with to = "file" needs a filename'),
        )

    def test_badTimestamps(self) -> None:
        """
        C{timestamps} must be a boolean or a format.
        """
        self.assertEqual(
            self.fails('xcomp_log = { { to = "console", timestamps = 1 } }\n'),
            self.at(
                1,
                'xcomp_log: timestamps: expected true, false or a time format such as '
                '"%Y-%m-%d %H:%M:%S", not 1',
            ),
        )

    def test_badFacility(self) -> None:
        """
        An unknown C{syslog_facility} is an error that lists the known ones.
        """
        message = self.fails('xcomp_log = { { to = "syslog", syslog_facility = "local9" } }\n')
        self.assertTrue(
            message.startswith(
                self.at(1, 'xcomp_log: syslog_facility: unknown facility "local9" (one of auth, ')
            ),
            message,
        )

    def test_notASinkTable(self) -> None:
        """
        A list entry that is neither a string nor a table is an error.
        """
        self.assertEqual(
            self.fails("xcomp_log = { true }\n"), self.at(1, "xcomp_log: expected a sink table, not true")
        )


class GlobalFacilityTests(_ConfigTestCase):
    """
    The global C{syslog_facility}, which is where Prosody 0.11 reads it.
    """

    def test_appliesToEveryForm(self) -> None:
        """
        A string C{"*syslog"}, a level table's and a sink table's syslog all
        take the global facility.
        """
        for log in ('"*syslog"', '{ warn = "*syslog" }', '{ { to = "syslog" } }'):
            [sink] = self.load(f'syslog_facility = "local1"\nxcomp_log = {log}\n').log
            self.assertEqual(sink.syslogFacility, "local1", log)

    def test_sinkTableWins(self) -> None:
        """
        A sink table's own C{syslog_facility} wins over the global one.
        """
        [sink] = self.load(
            'syslog_facility = "local1"\nxcomp_log = { { to = "syslog", syslog_facility = "user" } }\n'
        ).log
        self.assertEqual(sink.syslogFacility, "user")

    def test_unknownGlobal(self) -> None:
        """
        An unknown global C{syslog_facility} is an error at its line, even
        without a syslog sink.
        """
        message = self.fails('\nsyslog_facility = "mars"\n')
        self.assertTrue(
            message.startswith(self.at(2, 'syslog_facility: unknown facility "mars" (one of ')),
            message,
        )

    def test_noWarning(self) -> None:
        """
        The global option is one xcomp reads: no unknown-option warning.
        """
        self.assertEqual(self.load('syslog_facility = "local1"\n').warnings, ())
