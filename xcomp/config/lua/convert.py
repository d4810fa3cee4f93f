# -*- test-case-name: xcomp.test.test_config_lua -*-
"""
Convert what the Lua side of the loader returns into the values of
L{xcomp.config.lua.raw}: Lua strings to L{str} (or L{bytes} when not UTF-8),
array-like tables to tuples, other tables to read-only mappings in a
deterministic order, and anything without a Python counterpart to
L{LuaOpaque}; within bounds on depth and size, since a table may contain
itself.
"""

from __future__ import annotations

import math
import os
from types import MappingProxyType
from typing import Any, Callable

from xcomp.config.lua.raw import EvaluationError, LuaOpaque, RawOption, RawSection, RawWarning

__all__ = ["ValueConverter", "position", "readSection", "readWarning", "text"]


def text(value: bytes) -> str:
    """
    Decode text coming from Lua for messages, never failing.
    """
    return value.decode("utf-8", "replace")


class ValueConverter:
    """
    Convert Lua values to Python, each value within C{maxDepth} levels of
    nesting and C{maxItems} table entries in all.
    """

    def __init__(
        self, luaType: Callable[[object], str | None], maxDepth: int, maxItems: int
    ) -> None:
        """
        @param luaType: The runtime's C{lua_type}: Lua's type name for a Lua
            object, L{None} for a Python one.
        @param maxDepth: How deep tables may be nested.
        @param maxItems: How many table entries one value may hold.
        """
        self._luaType = luaType
        self._maxDepth = maxDepth
        self._maxItems = maxItems
        self._items = 0

    def convert(self, value: object) -> object:
        """
        Convert one value.

        @raise ValueError: If the value is too deep or too large, or a table
            has keys that are neither strings, numbers nor booleans.
        """
        self._items = 0
        return self._convert(value, 0)

    def _convert(self, value: object, depth: int) -> object:
        """
        Convert C{value}, found C{depth} tables down.
        """
        luaType = self._luaType(value)
        if luaType is None:
            if isinstance(value, bytes):
                try:
                    return value.decode("utf-8")
                except UnicodeDecodeError:
                    return value
            if isinstance(value, (bool, int, float)):
                return value
            return LuaOpaque(type(value).__name__)
        if luaType != "table":
            return LuaOpaque(luaType)
        if depth >= self._maxDepth:
            raise ValueError(
                f"tables are nested more than {self._maxDepth} deep"
                " (does a table contain itself?)"
            )
        entries = []
        for key, item in value.items():  # type: ignore[attr-defined]
            self._items += 1
            if self._items > self._maxItems:
                raise ValueError(f"it holds more than {self._maxItems} values")
            if self._luaType(key) is not None:
                raise ValueError(f"a table has a {self._luaType(key)} as a key")
            if isinstance(key, bytes):
                key = key.decode("utf-8", "replace")
            entries.append((key, self._convert(item, depth + 1)))
        keys = [k for k, _ in entries]
        if all(type(k) is int for k in keys) and sorted(keys) == list(
            range(1, len(keys) + 1)
        ):
            return tuple(v for _, v in sorted(entries, key=lambda e: e[0]))
        entries.sort(key=_sortKey)
        return MappingProxyType(dict(entries))


def _sortKey(entry: tuple[object, object]) -> tuple[str, object]:
    """
    Order table entries deterministically (Lua's order is not).
    """
    key = entry[0]
    if isinstance(key, float) and math.isnan(key):
        return ("float", 0.0)
    return (type(key).__name__, key)


def position(table: Any) -> tuple[str | None, int | None]:
    """
    Read C{file} and C{line} from a Lua record.
    """
    file = table[b"file"]
    line = table[b"line"]
    return (os.fsdecode(file) if file is not None else None), (
        int(line) if line is not None and line > 0 else None
    )


def readSection(table: Any, converter: ValueConverter) -> RawSection:
    """
    Convert one Lua section record.

    @raise EvaluationError: At the option's line, for a value
        C{converter} refuses.
    """
    file, line = position(table)
    name = table[b"name"]
    module = table[b"module"]
    options: dict[object, RawOption] = {}
    for key, record in table[b"options"].items():
        optFile, optLine = position(record)
        assert optFile is not None and optLine is not None
        optName: object = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
        try:
            value = converter.convert(record[b"value"])
        except ValueError as e:
            raise EvaluationError(optFile, optLine, f"option '{optName!s}': {e}") from None
        options[optName] = RawOption(optName, value, optFile, optLine)
    return RawSection(
        kind=text(table[b"kind"]),
        name=text(name) if name is not None else None,
        module=text(module) if module is not None else None,
        file=file,
        line=line,
        options=MappingProxyType(
            dict(sorted(options.items(), key=lambda kv: (kv[1].file, kv[1].line, str(kv[0]))))
        ),
    )


def readWarning(record: Any) -> RawWarning:
    """
    Convert one Lua warning record.
    """
    file, line = position(record)
    assert file is not None and line is not None
    return RawWarning(file, line, text(record[b"message"]))
