# -*- test-case-name: xcomp.test.test_pluginoptions -*-
"""
The options a plugin or module declares: L{PluginOption} values, each with
a type that converts what the configuration file gave.

Pure and cheap (attrs only), so that a plugin file may declare its options
inline, and so that the configuration loaders, which are handed the
declarations, can convert each value and report a refusal at the option's
own line.

A converter accepts what the Lua file gives (booleans, numbers, strings,
tuples for lists) and also what it returns itself, so converting twice is
harmless: L{convertOptions} runs again when a component is built from a
configuration made in code, or by the test harness.
"""

from __future__ import annotations

import math
import re
from types import MappingProxyType
from typing import Iterable, Mapping, Sequence

import attrs
from zope.interface import implementer

from xcomp.interfaces import IOptionType, IPluginOption

__all__ = [
    "Boolean",
    "Choice",
    "Float",
    "Integer",
    "PluginOption",
    "String",
    "StringList",
    "convertOptions",
    "describeOptions",
]


def _show(value: object) -> str:
    """
    A value from the configuration file, as Lua would spell it.
    """
    if value is True or value is False:
        return "true" if value else "false"
    if value is None:
        return "nil"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple):
        return "{ " + ", ".join(_show(v) for v in value) + " }" if value else "{}"
    if isinstance(value, Mapping):
        return "a table"
    return repr(value)


def _number(value: object) -> float | int | None:
    """
    A Lua number, or a string Lua's C{tonumber} reads as one; C{None}
    otherwise (booleans are not numbers).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
            return float(text)
    return None


def _num(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def _bounds(lowest: float | None, highest: float | None) -> str:
    if lowest is not None and highest is not None:
        return f" from {_num(lowest)} to {_num(highest)}"
    if lowest is not None:
        return f" of at least {_num(lowest)}"
    if highest is not None:
        return f" of at most {_num(highest)}"
    return ""


@implementer(IOptionType)
@attrs.frozen
class Boolean:
    """
    C{true}/C{false}; also C{"true"}/C{"false"} and 1/0, as Prosody reads
    booleans.
    """

    def convert(self, value: object) -> bool:
        if value is True or value == "true" or (type(value) is int and value == 1):
            return True
        if value is False or value == "false" or (type(value) is int and value == 0):
            return False
        raise ValueError(f"{_show(value)} is not true or false")

    def describe(self) -> str:
        return "boolean"


@implementer(IOptionType)
@attrs.frozen
class Integer:
    """
    A whole number within bounds (a float with no fraction and a decimal
    string count, as Lua's C{tonumber} would read them).

    @ivar lowest: the smallest allowed, or C{None}.
    @ivar highest: the largest allowed, or C{None}.
    """

    lowest: int | None = None
    highest: int | None = None

    def convert(self, value: object) -> int:
        number = _number(value)
        if isinstance(number, float) and number.is_integer():
            number = int(number)
        if (
            not isinstance(number, int)
            or (self.lowest is not None and number < self.lowest)
            or (self.highest is not None and number > self.highest)
        ):
            raise ValueError(f"{_show(value)} is not an integer{_bounds(self.lowest, self.highest)}")
        return number

    def describe(self) -> str:
        if self.lowest is not None and self.highest is not None:
            return f"integer {self.lowest}..{self.highest}"
        if self.lowest is not None:
            return f"integer >= {self.lowest}"
        if self.highest is not None:
            return f"integer <= {self.highest}"
        return "integer"


@implementer(IOptionType)
@attrs.frozen
class Float:
    """
    A finite number within bounds.
    """

    lowest: float | None = None
    highest: float | None = None

    def convert(self, value: object) -> float:
        number = _number(value)
        if (
            number is None
            or not math.isfinite(number)
            or (self.lowest is not None and number < self.lowest)
            or (self.highest is not None and number > self.highest)
        ):
            raise ValueError(f"{_show(value)} is not a number{_bounds(self.lowest, self.highest)}")
        return float(number)

    def describe(self) -> str:
        if self.lowest is not None and self.highest is not None:
            return f"number {self.lowest:g}..{self.highest:g}"
        if self.lowest is not None:
            return f"number >= {self.lowest:g}"
        if self.highest is not None:
            return f"number <= {self.highest:g}"
        return "number"


@implementer(IOptionType)
@attrs.frozen
class String:
    """
    Text (a number is taken as its text, as Prosody does), at most
    C{maxLength} characters.
    """

    maxLength: int = 4096

    def convert(self, value: object) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, bytes):
            raise ValueError("the text is not valid UTF-8")
        if not isinstance(value, str):
            raise ValueError(f"{_show(value)} is not a string")
        if len(value) > self.maxLength:
            raise ValueError(f"longer than {self.maxLength} characters")
        return value

    def describe(self) -> str:
        return "string"


def _tuple(values: Iterable[object]) -> tuple[object, ...]:
    return tuple(values)


def _frozen(mapping: Mapping[object, object]) -> Mapping[object, object]:
    return MappingProxyType(dict(mapping))


@implementer(IOptionType)
@attrs.frozen
class Choice:
    """
    One of a few values (strings, booleans or numbers), compared as given.

    @ivar values: the allowed values.
    @ivar aliases: values the file may also give, and what each means
        (Prosody's C{restrict_room_creation = true} is C{"admin"}).
    """

    values: tuple[object, ...] = attrs.field(converter=_tuple)
    aliases: Mapping[object, object] = attrs.field(factory=dict, converter=_frozen)

    def convert(self, value: object) -> object:
        for allowed in self.values:
            if type(value) is type(allowed) and value == allowed:
                return value
        for alias, meaning in self.aliases.items():
            if type(value) is type(alias) and value == alias:
                return meaning
        raise ValueError(f"{_show(value)} is not {self._list()}")

    def _list(self) -> str:
        shown = [_show(v) for v in (*self.values, *self.aliases)]
        return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]

    def describe(self) -> str:
        return "one of " + ", ".join(_show(v) for v in (*self.values, *self.aliases))


@implementer(IOptionType)
@attrs.frozen
class StringList:
    """
    A list of strings (one string counts as a list of one), at most
    C{maxItems} of them, duplicates dropped.
    """

    maxItems: int = 10000
    item: String = String()

    def convert(self, value: object) -> tuple[str, ...]:
        if isinstance(value, (list, tuple)):
            items = tuple(value)
        elif isinstance(value, Mapping) and not value:
            items = ()
        elif isinstance(value, str):
            items = (value,)
        else:
            raise ValueError(f"{_show(value)} is not a list of strings")
        if len(items) > self.maxItems:
            raise ValueError(f"more than {self.maxItems} items")
        converted = []
        for i, item in enumerate(items, 1):
            try:
                converted.append(self.item.convert(item))
            except ValueError as e:
                raise ValueError(f"item {i}: {e}") from None
        return tuple(dict.fromkeys(converted))

    def describe(self) -> str:
        return "list of strings"


@implementer(IPluginOption)
@attrs.frozen
class PluginOption:
    """
    One option a plugin or module declares.

    @ivar name: the option's name in the configuration file.
    @ivar type: an L{IOptionType} (L{Boolean}, L{Integer}, L{Float},
        L{String}, L{Choice}, L{StringList}, or a plugin's own).
    @ivar default: the value the plugin gets when the option is not set
        (not converted: give it as the plugin wants it).
    @ivar doc: one line for C{twistd xcomp --list-plugins}.
    """

    name: str
    type: IOptionType
    default: object = None
    doc: str = ""

    def convert(self, value: object) -> object:
        """
        The value converted by L{type}.

        @raise ValueError: the type refuses it; the text says why (without
            the option's name, which the caller adds with the location).
        """
        return self.type.convert(value)


def convertOptions(options: Mapping[str, object], declared: Iterable[IPluginOption]) -> Mapping[str, object]:
    """
    C{options} with every declared option converted, and set to its
    default where the file did not set it.  The first declaration of a
    name wins.

    @raise ValueError: a value is refused, as C{"name: why"}.
    """
    result = dict(options)
    seen = set()
    for option in declared:
        if option.name in seen:
            continue
        seen.add(option.name)
        # None is Lua's nil: unset (also a default that a first conversion set).
        if options.get(option.name) is not None:
            try:
                result[option.name] = option.convert(options[option.name])
            except ValueError as e:
                raise ValueError(f"{option.name}: {e}") from None
        else:
            result[option.name] = option.default
    return MappingProxyType(result)


def describeOptions(declared: Sequence[IPluginOption], indent: str = "    ") -> list[str]:
    """
    The lines of C{--list-plugins} for declared options: name, type,
    default and doc of each.
    """
    lines = []
    for option in declared:
        default = "-" if option.default is None else _show(option.default)
        lines.append(
            f"{indent}{option.name} ({option.type.describe()}, default {default})"
            + (f": {option.doc}" if option.doc else "")
        )
    return lines
