# -*- test-case-name: xcomp.test.test_config_lua -*-
"""
What evaluating a C{prosody.cfg.lua} produces: sections of raw options, each
with the file and line that set it, and the error that stops an evaluation.

These are plain values with no tie to the Lua runtime, so the code that
reads them (L{xcomp.config.prosody}, L{xcomp.config.values}) never loads
lupa.
"""

from __future__ import annotations

from typing import Mapping

import attrs

__all__ = [
    "EvaluationError",
    "LuaOpaque",
    "RawOption",
    "RawSection",
    "RawWarning",
    "RawConfig",
]

@attrs.frozen
class EvaluationError(Exception):
    """
    The configuration could not be evaluated.

    @ivar file: The file the problem is in, or L{None} if unknown.
    @ivar line: The line in C{file}, or L{None}.
    @ivar message: What is wrong, without the position.
    """

    file: str | None
    line: int | None
    message: str

    def __str__(self) -> str:
        """
        C{file:line: message}, leaving out what is unknown.
        """
        if self.file is None:
            return self.message
        if self.line is None:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}: {self.message}"


@attrs.frozen
class LuaOpaque:
    """
    A Lua value with no Python counterpart (a function, userdata, thread).

    @ivar luaType: Lua's name for the value's type.
    """

    luaType: str


@attrs.frozen
class RawOption:
    """
    One option as the configuration left it.

    @ivar name: The option name (a L{str} unless the file used another key in
        a table of options).
    @ivar value: The value converted to Python: L{str} (or L{bytes} when not
        UTF-8), L{int}, L{float}, L{bool}, L{tuple} for array-like tables, a
        read-only mapping for other tables, or L{LuaOpaque}.
    @ivar file: The file of the statement that set it.
    @ivar line: The line of that statement.
    """

    name: object
    value: object = attrs.field(repr=False)
    file: str
    line: int


@attrs.frozen
class RawSection:
    """
    The global section, or one C{VirtualHost} or C{Component}.

    @ivar kind: C{"global"}, C{"VirtualHost"} or C{"Component"}.
    @ivar name: The nameprep'd domain; L{None} for the global section.
    @ivar module: For C{Component "x" "plugin"}, the plugin name.
    @ivar file: The file of the declaring statement (L{None} for global).
    @ivar line: Its line (L{None} for global).
    @ivar options: The options set in this section, by name.
    """

    kind: str
    name: str | None
    module: str | None
    file: str | None
    line: int | None
    options: Mapping[object, RawOption] = attrs.field(repr=False)


@attrs.frozen
class RawWarning:
    """
    Something the evaluation noticed that is not an error.

    @ivar file: The file.
    @ivar line: The line.
    @ivar message: The text, without the position.
    """

    file: str
    line: int
    message: str


@attrs.frozen
class RawConfig:
    """
    An evaluated configuration.

    @ivar source: The top-level file, as given.
    @ivar files: Every file that was run, in order.
    @ivar sections: The global section first, then every host in order.
    @ivar warnings: Warnings from the evaluation (duplicate options).
    """

    source: str
    files: tuple[str, ...]
    sections: tuple[RawSection, ...]
    warnings: tuple[RawWarning, ...]

