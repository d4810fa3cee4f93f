# -*- test-case-name: xcomp.test.test_portoptions -*-
"""
The options of each component port in a Prosody-style configuration: the
global options, overridden per port by C{component_port_options}.
"""

from __future__ import annotations

import difflib
from typing import Callable, Mapping, NotRequired, TypedDict, TypeVar

from xcomp.config import lua
from xcomp.config.acl import AccessClause
from xcomp.config.ssl import parseSSL

from xcomp.config.values import (
    EMPTY,
    parseAccessName,
    parseBoolean,
    parseConflict,
    parseDomainPatterns,
    parsePositive,
    parseSeconds,
    parseSecret,
    parseShaper,
    parseTable,
    quote,
    toInteger,
)
from xcomp.config.model import (
    DEFAULT_KEEPALIVE_INTERVAL,
    DEFAULT_MAX_OUTPUT_BUFFER,
    DEFAULT_SEND_TIMEOUT,
    DEFAULT_STATE_TIMEOUT,
    ConfigError,
    Location,
    ShaperConfig,
    TLSConfig,
)

_T = TypeVar("_T")


class ListenerSettings(TypedDict):
    """
    The keyword arguments of L{ListenerConfig} that a port's options set.
    """

    tls: NotRequired[TLSConfig]
    password: str | None
    access: str
    shaper: ShaperConfig | None
    checkFrom: bool | None
    hiddenComponents: bool
    conflictResolve: str | None
    stanzaSizeLimit: int | None
    maxConnections: int | None
    reusePort: bool
    stateTimeout: float | None
    keepaliveInterval: float | None
    sendTimeout: float | None
    maxOutputBuffer: int
    passwordDomains: tuple[str, ...] | None
    proxyProtocol: bool


class PortOptions:
    """
    The options of each component port, read Prosody-style: from
    C{component_port_options = { [PORT] = { ... } }} when that port's table
    sets them, else from the global option of the same name.

    The options that are also per-component settings
    (C{validate_from_addresses}, C{disco_hidden},
    C{component_conflict_resolve}, C{component_stanza_size_limit}) are read
    from the port's table only: globally they are already every component's
    default.
    """

    #: The names a port's table may set.
    NAMES = (
        "component_password component_access limits validate_from_addresses "
        "disco_hidden component_conflict_resolve component_stanza_size_limit "
        "component_max_connections component_reuse_port component_timeout "
        "network_settings ssl component_password_domains component_proxy_protocol"
    ).split()
    _PER_PORT_ONLY = frozenset(
        "validate_from_addresses disco_hidden component_conflict_resolve "
        "component_stanza_size_limit ssl".split()
    )

    def __init__(
        self,
        global_: lua.RawSection,
        accessRules: Mapping[str, tuple[AccessClause, ...]],
        baseDir: str,
        ports: tuple[int, ...],
    ) -> None:
        """
        Check C{component_port_options}.

        @param global_: The global section.
        @param accessRules: The access rules, which C{component_access} names.
        @param baseDir: The directory relative file names are resolved against.
        @param ports: Every configured component port.
        """
        self._global = global_
        self._accessRules = accessRules
        self._baseDir = baseDir
        self._tables: dict[int, Mapping[object, object]] = {}
        option = self._global.options.get("component_port_options")
        self._option = option
        if option is None or option.value == ():
            return
        where = Location(option.file, option.line)
        if not isinstance(option.value, Mapping):
            raise ConfigError(
                where,
                "component_port_options: expected a table of ports, like "
                "{ [5347] = { component_timeout = 10 } }",
            )
        for port, table in option.value.items():
            number = toInteger(port)
            if number not in ports:
                raise ConfigError(
                    where,
                    f"component_port_options: port {quote(port)} is not in component_ports "
                    "or component_direct_tls_ports",
                )
            assert number is not None
            if table == ():
                table = EMPTY
            if not isinstance(table, Mapping):
                raise ConfigError(where, f"component_port_options[{number}]: expected a table of options")
            for name in table:
                if name not in self.NAMES:
                    close = difflib.get_close_matches(str(name), self.NAMES, n=1)
                    hint = f" (did you mean '{close[0]}'?)" if close else ""
                    raise ConfigError(
                        where, f"component_port_options[{number}]: unknown option '{name}'{hint}"
                    )
            self._tables[number] = table

    def _get(
        self, port: int, name: str, default: _T, convert: Callable[[object], _T]
    ) -> _T:
        """
        Read one option of a port and convert it; a value C{convert}
        refuses (L{ValueError}) is a L{ConfigError} at the line that set it.
        """
        table = self._tables.get(port, EMPTY)
        if name in table:
            assert self._option is not None
            value = table[name]
            where = Location(self._option.file, self._option.line)
            label = f"component_port_options[{port}].{name}"
        elif name in self._PER_PORT_ONLY or name not in self._global.options:
            return default
        else:
            option = self._global.options[name]
            value, where, label = option.value, Location(option.file, option.line), name
        if isinstance(value, tuple) and len(value) == 1:
            value = value[0]
        try:
            return convert(value)
        except ValueError as e:
            raise ConfigError(where, f"{label}: {e}") from None

    def settings(self, port: int, tls: bool) -> ListenerSettings:
        """
        The keyword arguments of L{ListenerConfig} for C{port}.

        @param tls: Whether it is a direct-TLS port.
        """
        rules = self._accessRules
        access = self._get(port, "component_access", "all", lambda v: parseAccessName(v, rules))
        network = self._get(port, "network_settings", EMPTY, parseTable)
        settings: ListenerSettings = {
            "password": self._get(port, "component_password", None, parseSecret),
            "passwordDomains": self._get(port, "component_password_domains", None, parseDomainPatterns),
            "proxyProtocol": self._get(port, "component_proxy_protocol", False, parseBoolean),
            "access": access,
            "shaper": self._get(port, "limits", None, parseShaper),
            "checkFrom": self._get(port, "validate_from_addresses", None, parseBoolean),
            "hiddenComponents": self._get(port, "disco_hidden", False, parseBoolean),
            "conflictResolve": self._get(port, "component_conflict_resolve", None, parseConflict),
            "stanzaSizeLimit": self._get(port, "component_stanza_size_limit", None, parsePositive),
            "maxConnections": self._get(port, "component_max_connections", None, parsePositive),
            "reusePort": self._get(port, "component_reuse_port", False, parseBoolean),
            "stateTimeout": self._get(port, "component_timeout", DEFAULT_STATE_TIMEOUT, parseSeconds),
            "keepaliveInterval": self._get(
                port, "network_settings", DEFAULT_KEEPALIVE_INTERVAL,
                lambda v: parseSeconds(network.get("read_timeout", DEFAULT_KEEPALIVE_INTERVAL), "read_timeout: "),
            ),
            "sendTimeout": self._get(
                port, "network_settings", DEFAULT_SEND_TIMEOUT,
                lambda v: parseSeconds(network.get("send_timeout", DEFAULT_SEND_TIMEOUT), "send_timeout: "),
            ),
            "maxOutputBuffer": self._get(
                port, "network_settings", DEFAULT_MAX_OUTPUT_BUFFER,
                lambda v: parsePositive(network.get("max_send_buffer_size", DEFAULT_MAX_OUTPUT_BUFFER), "max_send_buffer_size: "),
            ),
        }
        if tls:
            settings["tls"] = self._certificate(port)
        return settings

    def _certificate(self, port: int) -> TLSConfig:
        """
        The certificate of a direct-TLS port: the port's own C{ssl}, else
        C{component_direct_tls_ssl} (its C{[PORT]} entry, as Prosody's port
        manager reads per-port C{*_ssl} tables, else itself), else C{ssl}.
        """
        label = f"component_port_options[{port}].ssl"
        where = Location(self._option.file, self._option.line) if self._option is not None else None
        tls = self._get(port, "ssl", None, lambda v: parseSSL(v, self._baseDir, where, label))
        for name in ("component_direct_tls_ssl", "ssl"):
            option = self._global.options.get(name)
            if tls is None and option is not None:
                where = Location(option.file, option.line)
                value = option.value
                if isinstance(value, Mapping) and port in value:
                    value = value[port]
                try:
                    tls = parseSSL(value, self._baseDir, where, name)
                except ValueError as e:
                    raise ConfigError(where, f"{name}: {e}") from None
        if tls is None:
            option = self._global.options["component_direct_tls_ports"]
            raise ConfigError(
                Location(option.file, option.line),
                "component_direct_tls_ports: no certificate; set "
                "component_direct_tls_ssl or ssl to { certificate = \"...\"; key = \"...\" }",
            )
        return tls
