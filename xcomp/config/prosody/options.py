# -*- test-case-name: xcomp.test.test_config_components,xcomp.test.test_config_listeners,xcomp.test.test_portoptions -*-
"""
Read options with Prosody's scoping: a C{Component} or C{VirtualHost} sees
its own options first and the global section's after.  A value that does
not convert is a L{ConfigError} at the line that set it.
"""

from __future__ import annotations

import os
from types import MappingProxyType
from typing import Callable, Mapping, TypeVar

from xcomp.config.lua import LuaOpaque, RawOption, RawSection
from xcomp.config.model import ConfigError, Location, TLSConfig
from xcomp.config.ssl import parseSSL
from xcomp.config.values import hostLabel, quote, toInteger

__all__ = ["Options"]

_T = TypeVar("_T")


class Options:
    """
    The options of an evaluated configuration, read and converted.

    @ivar global_: The global section.
    @ivar baseDir: The directory relative paths are resolved against.
    """

    def __init__(self, global_: RawSection, baseDir: str) -> None:
        """
        @param global_: The global section.
        @param baseDir: The directory of the top-level file.
        """
        self.global_ = global_
        self.baseDir = baseDir

    def lookup(self, section: RawSection, name: str) -> tuple[RawOption | None, str]:
        """
        Find an option in a section, else in the global section.

        @return: The option (or L{None}), and the prefix for messages about
            it: the section's label when the section set it itself.
        """
        option = section.options.get(name)
        if option is not None:
            prefix = "" if section is self.global_ else hostLabel(section) + ": "
            return option, prefix
        return self.global_.options.get(name), ""

    def read(
        self,
        section: RawSection,
        name: str,
        default: _T,
        convert: Callable[[object], _T],
        expected: str,
    ) -> _T:
        """
        Read and convert an option; a value C{convert} rejects (by raising
        L{ValueError}) is a L{ConfigError} at the line that set it.

        A list where one value is expected is read as its only item, as
        Prosody does.

        @param expected: What the value should be, for the message when
            C{convert} gives no reason.
        """
        option, prefix = self.lookup(section, name)
        if option is None:
            return default
        value = option.value
        if isinstance(value, tuple) and len(value) == 1:
            value = value[0]
        try:
            return convert(value)
        except ValueError as e:
            detail = str(e) or f"{quote(value)} is not {expected}"
            raise ConfigError(
                Location(option.file, option.line), f"{prefix}{name}: {detail}"
            ) from None

    def string(self, section: RawSection, name: str) -> str | None:
        """
        A string option (a number is taken as its text, as Prosody does).
        """

        def convert(value: object) -> str:
            if isinstance(value, str):
                return value
            if isinstance(value, int) and not isinstance(value, bool):
                return str(value)
            if isinstance(value, bytes):
                raise ValueError("the text is not valid UTF-8")
            raise ValueError()

        return self.read(section, name, None, convert, "a string")

    def boolean(self, section: RawSection, name: str, default: bool) -> bool:
        """
        A boolean option: C{true}/C{false}, also C{"true"}/C{"false"} and 1/0
        as Prosody accepts.
        """

        def convert(value: object) -> bool:
            if value in (True, "true") or (type(value) is int and value == 1):
                return True
            if value in (False, "false") or (type(value) is int and value == 0):
                return False
            raise ValueError()

        return self.read(section, name, default, convert, "true or false")

    def integer(self, section: RawSection, name: str, default: int, lowest: int = 1) -> int:
        """
        An integer option of at least C{lowest}.
        """

        def convert(value: object) -> int:
            number = toInteger(value)
            if number is None or number < lowest:
                raise ValueError()
            return number

        return self.read(section, name, default, convert, f"an integer of at least {lowest}")

    def listOf(
        self,
        section: RawSection,
        name: str,
        default: tuple[_T, ...],
        convert: Callable[[object], _T],
    ) -> tuple[_T, ...]:
        """
        An option of C{section} itself that is one value or a list of them
        (duplicates dropped).
        """
        option = section.options.get(name)
        if option is None:
            return default
        values = option.value if isinstance(option.value, tuple) else (option.value,)
        try:
            return tuple(dict.fromkeys(convert(v) for v in values))
        except ValueError as e:
            raise ConfigError(Location(option.file, option.line), f"{name}: {e}") from None

    def tls(self, section: RawSection, name: str) -> TLSConfig | None:
        """
        Read a Prosody C{ssl} table (L{parseSSL}).
        """
        option, prefix = self.lookup(section, name)
        where = Location(option.file, option.line) if option is not None else None
        return self.read(
            section, name, None, lambda v: parseSSL(v, self.baseDir, where, prefix + name), "a table"
        )

    def path(self, value: str) -> str:
        """
        Make a path from the configuration absolute.
        """
        return os.path.normpath(os.path.join(self.baseDir, os.path.expanduser(value)))

    def visible(self, section: RawSection) -> Mapping[str, object]:
        """
        Every option a host sees, as a read-only mapping without secrets.
        """
        merged: dict[str, object] = {}
        for source in (self.global_, section):
            for name, option in source.options.items():
                if isinstance(name, str) and not isinstance(option.value, LuaOpaque):
                    merged[name] = option.value
        # The cluster's Redis URL may carry its password.
        for secret in ("component_secret", "cluster_redis", "cluster_redis_password", "xcomp_http_token"):
            merged.pop(secret, None)
        return MappingProxyType(merged)
