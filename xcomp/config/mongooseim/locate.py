# -*- test-case-name: xcomp.test.test_tomlcfg,xcomp.test.test_tomlcfg_errors -*-
"""
Find the line of a TOML key path, for messages: C{tomllib} reports no
positions for keys.

L{Locator} looks in the source text for the line of the table header that
holds the key (C{[[listen.component]]} headers are counted), then, below it
and before the next header, the first line where each further key of the
path is assigned (C{key =}, C{key.sub =}, or inside an inline table), and
for the n-th element of an array of inline tables the line of its C{{}.
When the text does not show a key (written some other way TOML allows),
the line is that of the nearest enclosing header instead: never a wrong
file, at worst a few lines early.
"""

from __future__ import annotations

import re

__all__ = ["Locator", "Path", "showPath"]

#: A key path: table keys, and 0-based indexes into arrays.
Path = tuple[str | int, ...]


def showPath(path: Path) -> str:
    """
    Write a key path as in messages: C{listen.component[1].tls.certfile}.
    """
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part + 1}]"
        else:
            shown = part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else f'"{part}"'
            text += ("." if text else "") + shown
    return text


class Locator:
    """
    Find the line of a key path in a TOML text (see the module docstring).
    """

    _HEADER = re.compile(r"\s*(\[\[?)\s*([^\]]*?)\s*\]\]?\s*(?:#.*)?$")

    def __init__(self, text: str) -> None:
        """
        @param text: The file's text.
        """
        self._lines = text.splitlines()
        self._headers: list[tuple[int, Path]] = []
        counts: dict[tuple[str, ...], int] = {}
        elements: dict[Path, int] = {}
        for number, line in enumerate(self._lines, 1):
            match = self._HEADER.match(line)
            if match is None:
                continue
            names = tuple(part.strip().strip("\"'") for part in match.group(2).split("."))
            # A table inside an element of an array of tables
            # ([listen.component.tls] after [[listen.component]]) belongs to
            # the last element.
            path: Path = ()
            for i, name in enumerate(names):
                path += (name,)
                if names[: i + 1] in counts and (i + 1 < len(names) or match.group(1) == "["):
                    path += (counts[names[: i + 1]] - 1,)
            if match.group(1) == "[[":
                counts[names] = counts.get(names, 0) + 1
                # An array of tables inside an element of another
                # ([[listen.http.handlers.x]]) counts from 0 in each element.
                index = elements.get(path, 0)
                elements[path] = index + 1
                path = path + (index,)
            self._headers.append((number, path))

    def line(self, path: Path) -> int:
        """
        The line of C{path}, or of what encloses it.
        """
        start, end, rest = 0, len(self._lines), path
        best: Path = ()
        for i, (number, header) in enumerate(self._headers):
            if path[: len(header)] == header and len(header) >= len(best) and header:
                best = header
                start = number
                end = self._headers[i + 1][0] - 1 if i + 1 < len(self._headers) else len(self._lines)
                rest = path[len(header) :]
        if not best:
            # Keys before the first header.
            end = self._headers[0][0] - 1 if self._headers else len(self._lines)
        found = max(start, 1)
        column = 0
        for part in rest:
            if isinstance(part, int):
                hit = self._nth(found, column, end, part)
            else:
                hit = self._key(found, column, end, part)
            if hit is None:
                break
            found, column = hit
        return found

    def _key(self, line: int, column: int, end: int, key: str) -> tuple[int, int] | None:
        """
        The first assignment of C{key} from C{line}, C{column} on.
        """
        pattern = re.compile(
            r"(?:^|[\s{,.])(?:%s|\"%s\"|'%s')\s*[=.]" % ((re.escape(key),) * 3)
        )
        for number in range(line, end + 1):
            text = self._lines[number - 1] if number >= 1 else ""
            match = pattern.search(text, column if number == line else 0)
            if match is not None:
                return number, match.end()
        return None

    def _nth(self, line: int, column: int, end: int, index: int) -> tuple[int, int] | None:
        """
        The C{{} that opens the C{index}-th inline table from C{line},
        C{column} on.
        """
        seen = -1
        for number in range(line, end + 1):
            text = self._lines[number - 1]
            position = column if number == line else 0
            while True:
                position = text.find("{", position)
                if position < 0:
                    break
                seen += 1
                position += 1
                if seen == index:
                    return number, position
        return None

