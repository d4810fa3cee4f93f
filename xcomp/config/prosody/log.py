# -*- test-case-name: xcomp.test.test_config_log -*-
"""
Prosody's C{log} option, in every form Prosody documents, as
L{xcomp.config.LogSink}s:

    - a file name, C{"*console"} or C{"*syslog"};
    - a table of C{level = destination} (that level and above);
    - a list of such strings and of sink tables, C{{ to = "file",
      filename = ..., levels = ..., timestamps = ..., syslog_facility = ... }},
      where C{levels} is one level name, a list of names, or
      C{{ min = ..., max = ... }}.

Pure functions; each raises L{ValueError} with the reason a value is refused,
and L{xcomp.config.prosody} turns that into a L{xcomp.config.ConfigError} at
the option's line.
"""

from __future__ import annotations

from typing import Callable, Mapping

from xcomp.config.model import LOG_LEVELS, SYSLOG_FACILITIES, LogSink
from xcomp.config.values import quote

__all__ = ["facility", "logSinks"]


def levels(criteria: object) -> frozenset[str]:
    """
    The levels a sink's C{levels} selects, read as Prosody does: every level
    when it is absent; one name is that level alone; a list names each
    level; C{min} and C{max} add the range between them (C{min} alone runs up
    to C{error}, C{max} alone is that level only).
    """
    if criteria is None:
        return frozenset(LOG_LEVELS)
    if isinstance(criteria, str):
        named, lowest, highest = [criteria], None, None
    elif isinstance(criteria, tuple):
        named, lowest, highest = list(criteria), None, None
    elif isinstance(criteria, Mapping):
        named = [v for k, v in criteria.items() if isinstance(k, int)]
        lowest, highest = criteria.get("min"), criteria.get("max")
    else:
        raise ValueError(f"levels: expected a level name or a table, not {quote(criteria)}")
    for name in named + [b for b in (lowest, highest) if b is not None]:
        if name not in LOG_LEVELS:
            raise ValueError(f"unknown log level {quote(name)}")
    chosen = set(named)
    if lowest is not None or highest is not None:
        start = LOG_LEVELS.index(lowest if lowest is not None else highest)
        stop = LOG_LEVELS.index(highest) if highest is not None else len(LOG_LEVELS) - 1
        if stop < start:
            raise ValueError(f"levels: min = {quote(lowest)} is above max = {quote(highest)}")
        chosen.update(LOG_LEVELS[start : stop + 1])
    if not chosen:
        raise ValueError("levels: no level named (for example levels = { min = \"info\" })")
    return frozenset(chosen)


def _sink(
    target: str,
    chosen: frozenset[str],
    timestamps: bool | str | None = None,
    syslogFacility: str = "daemon",
) -> LogSink:
    lowest = min(chosen, key=LOG_LEVELS.index)
    return LogSink(
        lowest, target, levels=chosen, timestamps=timestamps, syslogFacility=syslogFacility
    )


def _simple(level: str, target: str, syslogFacility: str) -> LogSink:
    # A string destination: that level and above, the facility for syslog.
    if target == "*syslog":
        return LogSink(level, target, syslogFacility=syslogFacility)
    return LogSink(level, target)


def target(value: str, path: Callable[[str], str]) -> str:
    """
    Check a string destination: C{"*console"}, C{"*syslog"} or a file name,
    made absolute by C{path}.
    """
    if value.startswith("*"):
        if value in ("*console", "*stdout"):
            return "*console"
        if value == "*syslog":
            return "*syslog"
        raise ValueError(f"unsupported log sink {quote(value)} (use \"*console\" or \"*syslog\")")
    if not value:
        raise ValueError("empty file name")
    return path(value)


def _timestamps(value: object) -> bool | str | None:
    if value is None or isinstance(value, (bool, str)):
        return value
    raise ValueError(
        f"timestamps: expected true, false or a time format such as "
        f"\"%Y-%m-%d %H:%M:%S\", not {quote(value)}"
    )


def facility(value: object, default: str = "daemon") -> str:
    """
    Check a C{syslog_facility}: L{None} is C{default}.
    """
    if value is None:
        return default
    if value not in SYSLOG_FACILITIES:
        raise ValueError(
            f"syslog_facility: unknown facility {quote(value)} (one of "
            f"{', '.join(sorted(SYSLOG_FACILITIES))})"
        )
    assert isinstance(value, str)
    return value


def sinkTable(
    entry: Mapping[object, object], path: Callable[[str], str], syslogFacility: str
) -> list[LogSink]:
    """
    One C{{ to = ..., levels = ..., ... }} sink table.

    @param syslogFacility: The facility when the table names none.
    """
    to = entry.get("to")
    chosen = levels(entry.get("levels"))
    timestamps = _timestamps(entry.get("timestamps"))
    if to == "file":
        filename = entry.get("filename")
        if not isinstance(filename, str) or not filename:
            raise ValueError("a sink with to = \"file\" needs a filename")
        return [_sink(path(filename), chosen, timestamps=timestamps)]
    if to in ("console", "stdout"):
        return [_sink("*console", chosen, timestamps=timestamps)]
    if to == "syslog":
        chosenFacility = facility(entry.get("syslog_facility"), syslogFacility)
        return [_sink("*syslog", chosen, syslogFacility=chosenFacility)]
    if to == "nowhere":
        return []
    raise ValueError(
        f"unsupported sink to = {quote(to)} (xcomp writes to \"file\", "
        "\"console\" or \"syslog\")"
    )


def logSinks(
    value: object, defaultLevel: str, path: Callable[[str], str], syslogFacility: str = "daemon"
) -> tuple[LogSink, ...]:
    """
    Read the C{log} option.

    @param defaultLevel: The lowest level of a lone file name (C{debug} with
        Prosody's C{debug = true}, else C{info}).
    @param path: Make a file name absolute (relative to the configuration).
    @param syslogFacility: The global C{syslog_facility} (Prosody 0.11 reads
        only that one; 0.12 also a sink table's own).
    @return: The sinks, each once, in the order given (a level table's
        entries lowest level first).
    """
    if isinstance(value, str):
        level = defaultLevel if not value.startswith("*") else "debug"
        return (_simple(level, target(value, path), syslogFacility),)
    if value == ():
        return ()
    if not isinstance(value, (tuple, Mapping)):
        raise ValueError(f"expected a file name or a table, not {quote(value)}")
    sinks: list[LogSink] = []
    if isinstance(value, Mapping):
        # Levels first, lowest to highest, then any list part in order.
        entries = sorted(
            value.items(),
            key=lambda kv: (0, LOG_LEVELS.index(kv[0]))
            if kv[0] in LOG_LEVELS
            else (1, kv[0] if isinstance(kv[0], int) else 0),
        )
    else:
        entries = list(enumerate(value, 1))
    for key, entry in entries:
        if isinstance(key, str):
            if key not in LOG_LEVELS:
                raise ValueError(f"unknown log level {quote(key)}")
            if not isinstance(entry, str):
                raise ValueError(f"{key}: expected a file name, \"*console\" or \"*syslog\"")
            sinks.append(_simple(key, target(entry, path), syslogFacility))
        elif isinstance(entry, str):
            sinks.append(_simple("debug", target(entry, path), syslogFacility))
        elif isinstance(entry, Mapping):
            sinks.extend(sinkTable(entry, path, syslogFacility))
        else:
            raise ValueError(f"expected a sink table, not {quote(entry)}")
    return tuple(dict.fromkeys(sinks))
