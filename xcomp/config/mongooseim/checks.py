# -*- test-case-name: xcomp.test.test_tomlcfg,xcomp.test.test_tomlcfg_errors -*-
"""
Check the values of a TOML document, and report what is wrong as
C{file:line: key.path: what is wrong} (L{ConfigError}), the line found by
L{Locator}.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
from typing import Mapping, NoReturn, Sequence

from xcomp.config.model import ConfigError, Location
from xcomp.config.mongooseim.locate import Locator, Path, showPath
from xcomp.config.values import parseDomainPatterns

__all__ = ["Checker", "quote"]


def quote(value: object) -> str:
    """
    Show a TOML value in a message, the way it would be written in TOML.
    """
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return str(value)


class Checker:
    """
    The checks every section's reader shares, each failing with the key
    path of the value.

    @ivar source: The file name for messages.
    @ivar warnings: The warnings so far, as C{file:line: key.path: text}.
    """

    def __init__(self, source: str, text: str) -> None:
        """
        @param source: The file name for messages.
        @param text: Its text, to find lines in.
        """
        self.source = source
        self._locator = Locator(text)
        self.warnings: list[str] = []

    # Reporting

    def at(self, path: Path) -> Location:
        """
        The location of a key path.
        """
        return Location(self.source, self._locator.line(path))

    def fail(self, path: Path, message: str) -> NoReturn:
        """
        Stop with C{file:line: path: message}.
        """
        raise ConfigError(self.at(path), f"{showPath(path)}: {message}")

    def warn(self, path: Path, message: str) -> None:
        """
        Record a warning in the same form.
        """
        self.warnings.append(f"{self.at(path)}: {showPath(path)}: {message}")

    def unknown(self, path: Path, known: Sequence[str]) -> NoReturn:
        """
        Stop for a key that has no meaning here.
        """
        close = difflib.get_close_matches(str(path[-1]), known, n=1)
        hint = f' (did you mean "{close[0]}"?)' if close else ""
        self.fail(path, f"unknown option{hint}")

    # Values

    def table(self, value: object, path: Path) -> Mapping[str, object]:
        """
        A table.
        """
        if not isinstance(value, dict):
            self.fail(path, f"expected a table, not {quote(value)}")
        return value

    def string(self, value: object, path: Path) -> str:
        """
        A non-empty string.
        """
        if not isinstance(value, str):
            self.fail(path, f"expected a string, not {quote(value)}")
        if not value:
            self.fail(path, "expected a non-empty string")
        return value

    def file(self, value: object, path: Path) -> str:
        """
        A file name, made absolute against the directory of the file that
        names it (as MongooseIM's own relative paths are not: it takes them
        from its working directory, which a service manager chooses).
        """
        text = self.string(value, path)
        return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(self.source)), os.path.expanduser(text)))

    def strings(self, value: object, path: Path) -> list[str]:
        """
        An array of strings.
        """
        if not isinstance(value, list):
            self.fail(path, f"expected an array of strings, not {quote(value)}")
        return [self.string(item, path + (i,)) for i, item in enumerate(value)]

    def boolean(self, value: object, path: Path) -> bool:
        """
        A boolean.
        """
        if not isinstance(value, bool):
            self.fail(path, f"expected true or false, not {quote(value)}")
        return value

    def positive(self, value: object, path: Path, infinity: bool, lowest: int = 1) -> int | None:
        """
        An integer of at least C{lowest}, or (when allowed) C{"infinity"}
        for L{None}.
        """
        if infinity and value == "infinity":
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
            what = "a positive integer" if lowest == 1 else "a non-negative integer"
            alternative = ' or "infinity"' if infinity else ""
            self.fail(path, f"expected {what}{alternative}, not {quote(value)}")
        return value

    def count(self, value: object, path: Path) -> int:
        """
        A positive integer.
        """
        number = self.positive(value, path, False)
        assert number is not None
        return number

    def milliseconds(self, value: object, path: Path) -> float | None:
        """
        A duration in milliseconds (or C{"infinity"}), as seconds.
        """
        number = self.positive(value, path, True, lowest=0)
        return None if number is None else number / 1000

    def choice(self, value: object, path: Path, choices: Sequence[str]) -> str:
        """
        One of C{choices}.
        """
        if value not in choices:
            shown = [f'"{c}"' for c in choices]
            listed = ", ".join(shown[:-1]) + f" or {shown[-1]}" if len(shown) > 1 else shown[0]
            self.fail(path, f"expected {listed}")
        return value  # type: ignore[return-value]

    def choiceInt(self, value: object, path: Path, choices: Sequence[int]) -> int:
        """
        One of a few integers.
        """
        if isinstance(value, bool) or value not in choices:
            self.fail(path, f"expected {' or '.join(map(str, choices))}, not {quote(value)}")
        return value  # type: ignore[return-value]

    def address(self, value: object, path: Path) -> str:
        """
        An IP address to listen on.
        """
        if isinstance(value, str):
            try:
                return str(ipaddress.ip_address(value))
            except ValueError:
                pass
        self.fail(path, f'expected an IP address like "127.0.0.1" or "::1", not {quote(value)}')

    def domainPatterns(self, value: object, path: Path) -> tuple[str, ...]:
        """
        An array of domains, exact or C{"*.example.org"}.
        """
        try:
            return parseDomainPatterns(tuple(self.strings(value, path)))
        except ValueError as e:
            self.fail(path, str(e))
