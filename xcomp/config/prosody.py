# -*- test-case-name: xcomp.test.test_config -*-
"""
Build the L{xcomp.config} model from an evaluated configuration, with
Prosody's scoping: a C{Component} or C{VirtualHost} sees its own options
first and the global section's after.
"""

from __future__ import annotations

import difflib
import os
from types import MappingProxyType
from typing import Callable, Collection, Mapping, TypedDict, TypeVar

from xcomp.config import lua
from xcomp.config.ports import PortOptions
from xcomp.config.ssl import parseSSL
from xcomp.config.values import (
    EMPTY,
    parseSecret,
    GLOBAL_ONLY,
    MISPLACED,
    PER_HOST,
    hostLabel,
    installed,
    isKnown,
    logSinks,
    parseInterface,
    parsePort,
    quote,
    toInteger,
)
from xcomp.config.acl import ACLPattern, AccessClause, SpecError, patternFromMapping
from xcomp.config.model import (
    CONFLICT_POLICIES,
    DEFAULT_PORT,
    DEFAULT_STANZA_SIZE_LIMIT,
    ComponentConfig,
    ConfigError,
    InternalComponentConfig,
    ListenerConfig,
    Location,
    LogSink,
    RouterConfig,
    TLSConfig,
    VirtualHostConfig,
)

_T = TypeVar("_T")


class _Common(TypedDict):
    """
    The settings external and internal components share.
    """

    name: str | None
    discoHidden: bool
    validateFrom: bool
    conflictResolve: str
    stanzaSizeLimit: int
    tls: TLSConfig | None


class Builder:
    """
    Turn an evaluated configuration into a L{RouterConfig}.
    """

    def __init__(
        self, raw: lua.RawConfig, plugins: Collection[str], modules: Collection[str]
    ) -> None:
        """
        @param raw: The evaluated file.
        @param plugins: The installed component plugin names.
        @param modules: The installed component module names.
        """
        self._raw = raw
        self._global = raw.sections[0]
        self._plugins = sorted(plugins)
        self._modules = sorted(modules)
        self._baseDir = os.path.dirname(os.path.abspath(raw.source))
        self._warnings = [
            f"{Location(w.file, w.line)}: {w.message}" for w in raw.warnings
        ]

    # Reading options

    def _lookup(
        self, section: lua.RawSection, name: str
    ) -> tuple[lua.RawOption | None, str]:
        """
        Find an option in a section, else in the global section.

        @return: The option (or L{None}), and the prefix for messages about
            it: the section's label when the section set it itself.
        """
        option = section.options.get(name)
        if option is not None:
            prefix = "" if section is self._global else hostLabel(section) + ": "
            return option, prefix
        return self._global.options.get(name), ""

    def _read(
        self,
        section: lua.RawSection,
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
        """
        option, prefix = self._lookup(section, name)
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

    def _string(self, section: lua.RawSection, name: str) -> str | None:
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

        return self._read(section, name, None, convert, "a string")

    def _boolean(self, section: lua.RawSection, name: str, default: bool) -> bool:
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

        return self._read(section, name, default, convert, "true or false")

    def _integer(
        self, section: lua.RawSection, name: str, default: int, lowest: int = 1
    ) -> int:
        """
        An integer option of at least C{lowest}.
        """

        def convert(value: object) -> int:
            number = toInteger(value)
            if number is None or number < lowest:
                raise ValueError()
            return number

        return self._read(
            section, name, default, convert, f"an integer of at least {lowest}"
        )

    def _path(self, value: str) -> str:
        """
        Make a path from the configuration absolute.
        """
        return os.path.normpath(os.path.join(self._baseDir, os.path.expanduser(value)))

    def _tls(self, section: lua.RawSection, name: str) -> TLSConfig | None:
        """
        Read a Prosody C{ssl} table (L{parseSSL}).
        """
        option, prefix = self._lookup(section, name)
        where = Location(option.file, option.line) if option is not None else None
        return self._read(
            section, name, None, lambda v: parseSSL(v, self._baseDir, where, prefix + name), "a table"
        )

    def _visible(self, section: lua.RawSection) -> Mapping[str, object]:
        """
        Every option a host sees, as a read-only mapping without secrets.
        """
        merged: dict[str, object] = {}
        for source in (self._global, section):
            for name, option in source.options.items():
                if isinstance(name, str) and not isinstance(
                    option.value, lua.LuaOpaque
                ):
                    merged[name] = option.value
        merged.pop("component_secret", None)
        return MappingProxyType(merged)

    # Building the model

    def build(self) -> RouterConfig:
        """
        Read every section and build the model.
        """
        for section in self._raw.sections:
            self._checkNames(section)
        components: dict[str, ComponentConfig | InternalComponentConfig] = {}
        hosts: dict[str, VirtualHostConfig] = {}
        defaults = self._global
        # Validate the global defaults of per-host options even when no host
        # uses them, so a mistake there is found at once.
        self._componentSettings(defaults)
        for section in self._raw.sections[1:]:
            assert section.name is not None
            if not self._boolean(section, "enabled", True):
                continue
            if section.kind == "VirtualHost":
                hosts[section.name] = VirtualHostConfig(
                    domain=section.name,
                    name=self._string(section, "name"),
                    options=self._visible(section),
                    location=self._location(section),
                )
            elif section.module in (None, "component"):
                components[section.name] = self._external(section)
            else:
                components[section.name] = self._internal(section)
        pidfile = self._string(defaults, "pidfile")
        dataPath = self._string(defaults, "data_path")
        self.acl, self.accessRules = self._accessConfig()
        common = self._componentSettings(defaults)
        listeners = self._listeners()
        return RouterConfig(
            source=self._raw.source,
            listeners=listeners,
            virtualHosts=MappingProxyType(hosts),
            components=MappingProxyType(components),
            stanzaSizeLimit=self._stanzaSizeLimit(defaults),
            log=self._log(),
            pidfile=self._path(pidfile) if pidfile else None,
            dataPath=self._path(dataPath) if dataPath else None,
            warnings=tuple(self._warnings),
            options=self._visible(defaults),
            validateFrom=common["validateFrom"],
            discoHidden=common["discoHidden"],
            conflictResolve=common["conflictResolve"],
            acl=MappingProxyType(self.acl),
            accessRules=MappingProxyType(self.accessRules),
        )

    def _domain(self, section: lua.RawSection) -> str:
        """
        The domain of a host section.
        """
        assert section.name is not None
        return section.name

    def _location(self, section: lua.RawSection) -> Location:
        """
        Where a host section was declared.
        """
        assert section.file is not None and section.line is not None
        return Location(section.file, section.line)

    def _stanzaSizeLimit(self, section: lua.RawSection) -> int:
        """
        C{component_stanza_size_limit}, else C{s2s_stanza_size_limit} (as
        Prosody's mod_component falls back), else 512 KiB.
        """
        fallback = self._integer(section, "s2s_stanza_size_limit", DEFAULT_STANZA_SIZE_LIMIT)
        return self._integer(section, "component_stanza_size_limit", fallback)

    def _componentSettings(self, section: lua.RawSection) -> _Common:
        """
        The settings every component has, external or internal.
        """

        def conflict(value: object) -> str:
            if value not in CONFLICT_POLICIES:
                raise ValueError(
                    f"{quote(value)} is not one of {', '.join(map(quote, CONFLICT_POLICIES))}"
                )
            return str(value)

        return _Common(
            name=self._string(section, "name"),
            discoHidden=self._boolean(section, "disco_hidden", False),
            validateFrom=self._boolean(section, "validate_from_addresses", True),
            conflictResolve=self._read(
                section, "component_conflict_resolve", "kick_new", conflict, ""
            ),
            stanzaSizeLimit=self._stanzaSizeLimit(section),
            tls=self._tls(section, "ssl"),
        )

    def _external(self, section: lua.RawSection) -> ComponentConfig:
        """
        Build an external component; it needs a secret.
        """
        settings = self._componentSettings(section)
        value = self._read(section, "component_secret", None, parseSecret, "")
        if value is None:
            raise ConfigError(
                self._location(section),
                f"{hostLabel(section)}: no component_secret is set for this "
                "component or in the global section",
            )
        return ComponentConfig(
            domain=self._domain(section),
            secret=value,
            options=self._visible(section),
            location=self._location(section),
            **settings,
        )

    def _internal(self, section: lua.RawSection) -> InternalComponentConfig:
        """
        Build an internal component; its plugin and modules must be installed.
        """
        assert section.module is not None
        if section.module not in self._plugins:
            raise ConfigError(
                self._location(section),
                f"{hostLabel(section)}: there is no component plugin "
                f"{quote(section.module)} ({installed(self._plugins, 'component plugins')})",
            )
        settings = self._componentSettings(section)
        modules: tuple[str, ...] = ()
        option = section.options.get("modules_enabled")
        if option is not None:
            where = Location(option.file, option.line)
            prefix = f"{hostLabel(section)}: modules_enabled"
            value = option.value
            items = value if isinstance(value, tuple) else (value,)
            if not all(isinstance(item, str) for item in items):
                raise ConfigError(where, f"{prefix}: expected a list of module names")
            for item in items:
                if item not in self._modules:
                    raise ConfigError(
                        where,
                        f"{prefix}: module {quote(item)} is not installed "
                        f"({installed(self._modules, 'component modules')})",
                    )
            modules = tuple(dict.fromkeys(items))
        return InternalComponentConfig(
            domain=self._domain(section),
            plugin=section.module,
            modules=modules,
            name=settings["name"],
            discoHidden=settings["discoHidden"],
            options=self._visible(section),
            location=self._location(section),
        )

    def _listeners(self) -> tuple[ListenerConfig, ...]:
        """
        C{component_ports} (and C{component_direct_tls_ports}) times the
        interfaces, Prosody's way: C{component_interfaces}, else
        C{component_interface}, else C{local_interfaces}, else loopback;
        each port with its options (L{PortOptions}).
        """
        section = self._global
        ports = self._list(section, "component_ports", (DEFAULT_PORT,), parsePort)
        tlsPorts = self._list(section, "component_direct_tls_ports", (), parsePort)
        default = tuple(
            address
            for address, option in (("127.0.0.1", "use_ipv4"), ("::1", "use_ipv6"))
            if self._boolean(section, option, True)
        )
        interfaces = default
        for name in ("local_interfaces", "component_interface", "component_interfaces"):
            if name in section.options:
                interfaces = self._list(section, name, (), parseInterface)
        both = set(ports) & set(tlsPorts)
        if both:
            option = section.options["component_direct_tls_ports"]
            raise ConfigError(
                Location(option.file, option.line),
                f"component_direct_tls_ports: port {min(both)} is also in component_ports",
            )
        options = PortOptions(section, self.accessRules, self._baseDir, ports + tlsPorts)
        listeners = []
        for port in ports + tlsPorts:
            settings = options.settings(port, port in tlsPorts)
            declared = section.options.get(
                "component_direct_tls_ports" if port in tlsPorts else "component_ports"
            )
            where = Location(declared.file, declared.line) if declared is not None else None
            for interface in interfaces:
                listeners.append(ListenerConfig(port, interface, location=where, **settings))
        return tuple(listeners)

    def _accessConfig(
        self,
    ) -> tuple[dict[str, tuple[ACLPattern, ...]], dict[str, tuple[AccessClause, ...]]]:
        """
        C{acl} and C{access_rules}: MongooseIM's C{[acl]} and C{[access]}
        written as Lua tables.
        """
        classes: dict[str, tuple[ACLPattern, ...]] = {}
        rules: dict[str, tuple[AccessClause, ...]] = {}
        option = self._global.options.get("acl")
        if option is not None:
            where = Location(option.file, option.line)
            for name, patterns in self._namedLists(option, "acl", '{ { server = "..." } }').items():
                built = []
                for i, pattern in enumerate(patterns, 1):
                    if not isinstance(pattern, Mapping):
                        raise ConfigError(where, f"acl.{name}[{i}]: expected a table like {{ server = \"...\" }}")
                    try:
                        built.append(patternFromMapping(pattern))
                    except SpecError as e:
                        key = f".{e.key}" if e.key else ""
                        raise ConfigError(where, f"acl.{name}[{i}]{key}: {e.message}") from None
                classes[name] = tuple(built)
        option = self._global.options.get("access_rules")
        if option is not None:
            where = Location(option.file, option.line)
            example = '{ { acl = "all"; value = "allow" } }'
            for name, clauses in self._namedLists(option, "access_rules", example).items():
                built2 = []
                for i, clause in enumerate(clauses, 1):
                    label = f"access_rules.{name}[{i}]"
                    if not isinstance(clause, Mapping) or set(clause) != {"acl", "value"}:
                        raise ConfigError(where, f"{label}: expected a table like {{ acl = \"...\"; value = \"allow\" }}")
                    acl, value = clause["acl"], clause["value"]
                    if not isinstance(acl, str):
                        raise ConfigError(where, f"{label}.acl: expected the name of an access class")
                    if isinstance(value, bool) or not isinstance(value, (str, int)):
                        raise ConfigError(where, f"{label}.value: expected a string or an integer")
                    if acl != "all" and acl not in classes:
                        self._warnings.append(
                            f"{where}: {label}.acl: there is no access class {quote(acl)} in acl; "
                            "this clause never matches"
                        )
                    built2.append(AccessClause(acl, value))
                rules[name] = tuple(built2)
        return classes, rules

    def _namedLists(
        self, option: lua.RawOption, name: str, example: str
    ) -> Mapping[str, tuple[object, ...]]:
        """
        A table of name = { list }, as C{acl} and C{access_rules} are.
        """
        value = option.value
        if value == ():
            return {}
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise ConfigError(
                Location(option.file, option.line),
                f"{name}: expected a table of names, like {{ trusted = {example} }}",
            )
        result = {}
        for key, item in value.items():
            if item == ():
                item = ()
            elif isinstance(item, Mapping):
                raise ConfigError(
                    Location(option.file, option.line), f"{name}.{key}: expected a list like {example}"
                )
            elif not isinstance(item, tuple):
                item = (item,)
            result[key] = item
        return result

    def _list(
        self,
        section: lua.RawSection,
        name: str,
        default: tuple[_T, ...],
        convert: Callable[[object], _T],
    ) -> tuple[_T, ...]:
        """
        An option that is one value or a list of them (duplicates dropped).
        """
        option = section.options.get(name)
        if option is None:
            return default
        values = option.value if isinstance(option.value, tuple) else (option.value,)
        try:
            return tuple(dict.fromkeys(convert(v) for v in values))
        except ValueError as e:
            raise ConfigError(Location(option.file, option.line), f"{name}: {e}") from None

    def _log(self) -> tuple[LogSink, ...]:
        """
        The C{log} option, in the forms Prosody documents.
        """
        debug = self._boolean(self._global, "debug", False)
        option = self._global.options.get("log")
        if option is None:
            # twistd's own log (--logfile, --syslog) is where Prosody's
            # default console output would go; no second sink.
            return ()
        try:
            sinks = logSinks(option.value, "debug" if debug else "info")
        except ValueError as e:
            raise ConfigError(Location(option.file, option.line), f"log: {e}") from None
        return tuple(
            LogSink(level, target if target.startswith("*") else self._path(target))
            for level, target in dict.fromkeys(sinks)
        )

    # Warnings

    def _checkNames(self, section: lua.RawSection) -> None:
        """
        Warn about unknown options, misplaced ones, and values that cannot be
        used from Python.
        """
        where = "" if section is self._global else f" under {hostLabel(section)}"
        for name, option in section.options.items():
            at = Location(option.file, option.line)
            if not isinstance(name, str):
                self._warnings.append(f"{at}: ignoring option {name!r}{where}: option names are strings")
            elif section is not self._global and (
                name in GLOBAL_ONLY or MISPLACED.search(name)
            ):
                self._warnings.append(
                    f"{at}: option '{name}'{where} has no effect: it belongs in the "
                    "global section, above the first VirtualHost or Component"
                )
            elif not isKnown(name):
                known = sorted(GLOBAL_ONLY | PER_HOST)
                close = difflib.get_close_matches(name, known, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                self._warnings.append(f"{at}: unknown option '{name}'{where}{hint}")
            elif isinstance(option.value, lua.LuaOpaque):
                self._warnings.append(
                    f"{at}: option '{name}'{where} is {quote(option.value)}, "
                    "which xcomp cannot use; ignoring it"
                )


def loadProsody(source: str, plugins: Collection[str], modules: Collection[str]) -> RouterConfig:
    """
    Load a Prosody-style file: evaluate it as Lua (L{lua.evaluate}), then
    build the model.

    @param source: The file name, as messages should give it.
    @param plugins: The installed component plugin names.
    @param modules: The installed component module names.
    @raise ConfigError: For any mistake, as C{file:line: what is wrong}.
    """
    try:
        raw = lua.evaluate(source)
    except lua.EvaluationError as e:
        location = None
        if e.file is not None and e.line is not None:
            location = Location(e.file, e.line)
        elif e.file is not None:
            raise ConfigError(None, f"{e.file}: {e.message}") from None
        raise ConfigError(location, e.message) from None
    return Builder(raw, plugins, modules).build()
