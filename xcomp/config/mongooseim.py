# -*- test-case-name: xcomp.test.test_tomlcfg -*-
"""
Load MongooseIM's TOML configuration (C{mongooseim.toml}) into the same
frozen model as the Prosody loader: C{[general] hosts} become VirtualHosts,
C{general.loglevel} the lowest level logged, each C{[[listen.component]]} a
L{ListenerConfig}, and C{[shaper.NAME]}, C{[acl]} and C{[access]} the
shapers, access classes and access rules.

The sections and options MongooseIM has but xcomp does not use (C{[auth]},
C{[modules]}, C{[[listen.c2s]]}, C{hibernate_after}, ...) are accepted
silently, so that a MongooseIM file loads as it is; anything else is an
error, as is a value of the wrong type.

Errors read C{file:line: key.path: what is wrong}, with 1-based indexes for
arrays (C{listen.component[1]} is the first listener).  C{tomllib} reports
no positions for keys, so L{_Locator} finds them in the source text: the
line of the table header that holds the key (C{[[listen.component]]} headers
are counted), then, below it and before the next header, the first line
where each further key of the path is assigned (C{key =}, C{key.sub =}, or
inside an inline table), and for the n-th element of an array of inline
tables the line of its C{{}.  When the text does not show a key (written
some other way TOML allows), the message points at the nearest enclosing
header instead: never at a wrong file, at worst a few lines early.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import tomllib
from types import MappingProxyType
from typing import Callable, Mapping, NoReturn, Sequence, TypeVar

from xcomp.config.domains import prepDomain
from xcomp.config.values import parseDomainPatterns
from xcomp.config.acl import PATTERN_KEYS, ACLPattern, AccessClause, SpecError, patternFromMapping
from xcomp.config.model import (
    DEFAULT_KEEPALIVE_INTERVAL,
    DEFAULT_MAX_OUTPUT_BUFFER,
    DEFAULT_SEND_TIMEOUT,
    DEFAULT_STANZA_SIZE_LIMIT,
    DEFAULT_STATE_TIMEOUT,
    TLS_VERSIONS,
    VERIFY_MODES,
    ConfigError,
    ListenerConfig,
    Location,
    RouterConfig,
    ShaperConfig,
    TLSConfig,
    VirtualHostConfig,
)

__all__ = ["loadTOML", "INFINITE_STANZA_SIZE"]

_T = TypeVar("_T")
Path = tuple[str | int, ...]


def _optional(value: float) -> float | None:
    """
    A default duration, typed as the optional durations it stands for.
    """
    return value

#: What C{max_stanza_size = "infinity"} means: xcomp never parses without a
#: bound, so a very large one (with a warning).
INFINITE_STANZA_SIZE = 64 * 1024 * 1024

#: The largest file read.
MAX_FILE_SIZE = 16 * 1024 * 1024

# What MongooseIM has and xcomp does not use: accepted without a word.
_IGNORED_SECTIONS = frozenset(
    """auth internal_databases outgoing_pools services modules host_config s2s
    instrumentation""".split()
)
_IGNORED_GENERAL = frozenset(
    """host_types default_server_domain registration_timeout language
    all_metrics_are_global sm_backend component_backend s2s_backend
    max_fsm_queue http_server_name rdbms_server_type route_subdomains
    routing_modules replaced_wait_timeout hide_service_name domain_certfile
    max_users_per_domain mongooseimctl_access_commands""".split()
)
# MongooseIM's log levels, and the nearest of xcomp's that logs at least as
# much (xcomp cannot silence its errors).
_LOG_LEVELS = {
    "none": "error",
    "emergency": "error",
    "alert": "error",
    "critical": "error",
    "error": "error",
    "warning": "warn",
    "notice": "info",
    "info": "info",
    "debug": "debug",
    "all": "debug",
}
_IGNORED_LISTENERS = frozenset({"c2s", "s2s", "http"})
# Listener options MongooseIM has that mean nothing for xcomp's listeners.
_IGNORED_LISTENER_OPTIONS = frozenset({"hibernate_after", "num_acceptors", "backlog"})

_LISTENER_OPTIONS = (
    "port ip_address ip_version proto password access shaper check_from "
    "hidden_components conflict_behaviour max_connections reuse_port "
    "state_timeout max_stanza_size tls keepalive_interval send_timeout "
    "max_output_buffer proxy_protocol password_domains"
).split()
_TLS_OPTIONS = (
    "mode certfile keyfile password cacertfile verify_mode ciphers protocol_options "
    "dhfile versions crl_files"
).split()
_UNSUPPORTED_TLS_OPTIONS = frozenset(
    """disconnect_on_failure server_name_indication early_data module""".split()
)
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


def _quote(value: object) -> str:
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


class _Locator:
    """
    Find the line of a key path in the TOML text (see the module docstring).
    """

    _HEADER = re.compile(r"\s*(\[\[?)\s*([^\]]*?)\s*\]\]?\s*(?:#.*)?$")

    def __init__(self, text: str) -> None:
        """
        @param text: The file's text.
        """
        self._lines = text.splitlines()
        self._headers: list[tuple[int, Path]] = []
        counts: dict[tuple[str, ...], int] = {}
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
                index = counts.get(names, 0)
                counts[names] = index + 1
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


class _Loader:
    """
    Check a parsed TOML document and build the model.
    """

    def __init__(self, source: str, text: str, document: Mapping[str, object]) -> None:
        """
        @param source: The file name for messages.
        @param text: Its text, to find lines in.
        @param document: What C{tomllib} made of it.
        """
        self._source = source
        self._locator = _Locator(text)
        self._document = document
        self._warnings: list[str] = []

    # Reporting

    def _at(self, path: Path) -> Location:
        """
        The location of a key path.
        """
        return Location(self._source, self._locator.line(path))

    def _fail(self, path: Path, message: str) -> NoReturn:
        """
        Stop with C{file:line: path: message}.
        """
        raise ConfigError(self._at(path), f"{showPath(path)}: {message}")

    def _warn(self, path: Path, message: str) -> None:
        """
        Record a warning in the same form.
        """
        self._warnings.append(f"{self._at(path)}: {showPath(path)}: {message}")

    def _unknown(self, path: Path, known: Sequence[str]) -> NoReturn:
        """
        Stop for a key that has no meaning here.
        """
        close = difflib.get_close_matches(str(path[-1]), known, n=1)
        hint = f' (did you mean "{close[0]}"?)' if close else ""
        self._fail(path, f"unknown option{hint}")

    # Values

    def _table(self, value: object, path: Path) -> Mapping[str, object]:
        """
        A table.
        """
        if not isinstance(value, dict):
            self._fail(path, f"expected a table, not {_quote(value)}")
        return value

    def _string(self, value: object, path: Path) -> str:
        """
        A non-empty string.
        """
        if not isinstance(value, str):
            self._fail(path, f"expected a string, not {_quote(value)}")
        if not value:
            self._fail(path, "expected a non-empty string")
        return value

    def _boolean(self, value: object, path: Path) -> bool:
        """
        A boolean.
        """
        if not isinstance(value, bool):
            self._fail(path, f"expected true or false, not {_quote(value)}")
        return value

    def _positive(self, value: object, path: Path, infinity: bool, lowest: int = 1) -> int | None:
        """
        An integer of at least C{lowest}, or (when allowed) C{"infinity"}
        for L{None}.
        """
        if infinity and value == "infinity":
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
            what = "a positive integer" if lowest == 1 else "a non-negative integer"
            alternative = ' or "infinity"' if infinity else ""
            self._fail(path, f"expected {what}{alternative}, not {_quote(value)}")
        return value

    def _milliseconds(self, value: object, path: Path) -> float | None:
        """
        A duration in milliseconds (or C{"infinity"}), as seconds.
        """
        number = self._positive(value, path, True, lowest=0)
        return None if number is None else number / 1000

    def _choice(self, value: object, path: Path, choices: Sequence[str]) -> str:
        """
        One of C{choices}.
        """
        if value not in choices:
            shown = [f'"{c}"' for c in choices]
            listed = ", ".join(shown[:-1]) + f" or {shown[-1]}" if len(shown) > 1 else shown[0]
            self._fail(path, f"expected {listed}")
        return value  # type: ignore[return-value]

    def _strings(self, value: object, path: Path) -> list[str]:
        """
        An array of strings.
        """
        if not isinstance(value, list):
            self._fail(path, f"expected an array of strings, not {_quote(value)}")
        return [self._string(item, path + (i,)) for i, item in enumerate(value)]

    # The document

    def load(self) -> RouterConfig:
        """
        Check everything and build the model.
        """
        document = self._document
        for key in document:
            if key not in ("general", "listen", "shaper", "acl", "access") and key not in _IGNORED_SECTIONS:
                self._unknown((key,), ["general", "listen", "shaper", "acl", "access", *_IGNORED_SECTIONS])
        hosts, logLevel = self._general()
        shapers = self._shapers()
        acl = self._acl()
        rules = self._rules(acl)
        listeners = self._listeners(shapers, rules)
        limits = [l.stanzaSizeLimit for l in listeners if l.stanzaSizeLimit is not None]
        return RouterConfig(
            source=self._source,
            listeners=tuple(listeners),
            virtualHosts=MappingProxyType(hosts),
            logLevel=logLevel,
            stanzaSizeLimit=max(limits) if limits else DEFAULT_STANZA_SIZE_LIMIT,
            warnings=tuple(self._warnings),
            acl=MappingProxyType(acl),
            accessRules=MappingProxyType(rules),
        )

    def _general(self) -> tuple[dict[str, VirtualHostConfig], str | None]:
        """
        C{[general]}: C{hosts} become VirtualHosts; C{loglevel} is the
        lowest level logged.
        """
        general = self._table(self._document.get("general", {}), ("general",))
        hosts: dict[str, VirtualHostConfig] = {}
        logLevel = None
        for key, value in general.items():
            path: Path = ("general", key)
            if key == "hosts":
                for i, name in enumerate(self._strings(value, path)):
                    try:
                        domain = prepDomain(name)
                    except ValueError as e:
                        self._fail(path + (i,), f"{_quote(name)} is not a valid domain: {e}")
                    if domain in hosts:
                        self._fail(path + (i,), f"{_quote(domain)} is listed twice")
                    hosts[domain] = VirtualHostConfig(domain=domain, location=self._at(path))
            elif key == "loglevel":
                name = self._string(value, path)
                if name not in _LOG_LEVELS:
                    self._fail(path, f"expected one of {', '.join(_LOG_LEVELS)}, not {_quote(name)}")
                logLevel = _LOG_LEVELS[name]
            elif key not in _IGNORED_GENERAL:
                self._unknown(path, ["hosts", "loglevel", *_IGNORED_GENERAL])
        return hosts, logLevel

    def _shapers(self) -> dict[str, ShaperConfig]:
        """
        C{[shaper.NAME] max_rate = BYTES_PER_SECOND}.
        """
        section = self._table(self._document.get("shaper", {}), ("shaper",))
        shapers = {}
        for name, body in section.items():
            path: Path = ("shaper", name)
            body = self._table(body, path)
            if "max_rate" not in body:
                self._fail(path + ("max_rate",), "missing (bytes per second)")
            for key in body:
                if key != "max_rate":
                    self._unknown(path + (key,), ["max_rate"])
            rate = self._positive(body["max_rate"], path + ("max_rate",), False)
            assert rate is not None
            shapers[name] = ShaperConfig(name, rate)
        return shapers

    def _acl(self) -> dict[str, tuple[ACLPattern, ...]]:
        """
        C{[acl]}: each access class is an array of patterns.
        """
        section = self._table(self._document.get("acl", {}), ("acl",))
        classes = {}
        for name, patterns in section.items():
            path: Path = ("acl", name)
            if not isinstance(patterns, list):
                self._fail(path, f"expected an array of patterns like [{{user = \"alice\"}}], not {_quote(patterns)}")
            classes[name] = tuple(self._pattern(p, path + (i,)) for i, p in enumerate(patterns))
        return classes

    def _pattern(self, value: object, path: Path) -> ACLPattern:
        """
        One pattern of an access class.
        """
        table = self._table(value, path)
        try:
            return patternFromMapping(table)
        except SpecError as e:
            if e.key is not None and e.key not in PATTERN_KEYS:
                self._unknown(path + (e.key,), list(PATTERN_KEYS))
            self._fail(path + ((e.key,) if e.key else ()), e.message)

    def _rules(self, acl: Mapping[str, object]) -> dict[str, tuple[AccessClause, ...]]:
        """
        C{[access]}: each rule is an array of C{{acl = ..., value = ...}}.
        """
        section = self._table(self._document.get("access", {}), ("access",))
        rules = {}
        for name, clauses in section.items():
            path: Path = ("access", name)
            if not isinstance(clauses, list):
                self._fail(path, f'expected an array like [{{acl = "all", value = "allow"}}], not {_quote(clauses)}')
            built = []
            for i, clause in enumerate(clauses):
                where = path + (i,)
                table = self._table(clause, where)
                for key in table:
                    if key not in ("acl", "value"):
                        self._unknown(where + (key,), ["acl", "value"])
                for key in ("acl", "value"):
                    if key not in table:
                        self._fail(where + (key,), "missing")
                aclName = self._string(table["acl"], where + ("acl",))
                value = table["value"]
                if isinstance(value, bool) or not isinstance(value, (str, int)):
                    self._fail(where + ("value",), f"expected a string or an integer, not {_quote(value)}")
                if aclName != "all" and aclName not in acl:
                    self._warn(where + ("acl",), f'there is no access class "{aclName}" in [acl]; this clause never matches')
                built.append(AccessClause(aclName, value))
            rules[name] = tuple(built)
        return rules

    def _listeners(
        self, shapers: Mapping[str, ShaperConfig], rules: Mapping[str, tuple[AccessClause, ...]]
    ) -> list[ListenerConfig]:
        """
        Every C{[[listen.component]]} (and MongooseIM 4-5's
        C{[[listen.service]]}).
        """
        listen = self._table(self._document.get("listen", {}), ("listen",))
        listeners: list[ListenerConfig] = []
        seen: dict[tuple[int, str], Path] = {}
        for kind, blocks in listen.items():
            if kind in _IGNORED_LISTENERS:
                continue
            if kind not in ("component", "service"):
                self._unknown(("listen", kind), ["component", "service", *_IGNORED_LISTENERS])
            if not isinstance(blocks, list):
                self._fail(("listen", kind), f"expected [[listen.{kind}]] blocks, not {_quote(blocks)}")
            for i, block in enumerate(blocks):
                path: Path = ("listen", kind, i)
                listener = self._listener(self._table(block, path), path, shapers, rules)
                key = (listener.port, listener.interface)
                if key in seen:
                    self._fail(
                        path + ("port",),
                        f"{listener.interface}:{listener.port} is already used by {showPath(seen[key])}",
                    )
                seen[key] = path
                listeners.append(listener)
        return listeners

    def _listener(
        self,
        block: Mapping[str, object],
        path: Path,
        shapers: Mapping[str, ShaperConfig],
        rules: Mapping[str, tuple[AccessClause, ...]],
    ) -> ListenerConfig:
        """
        One listener block.
        """
        for key in block:
            if key not in _LISTENER_OPTIONS and key not in _IGNORED_LISTENER_OPTIONS:
                self._unknown(path + (key,), _LISTENER_OPTIONS)
        for key in ("port", "password"):
            if key not in block:
                self._fail(path + (key,), "missing (it is mandatory)")

        def get(key: str, default: _T, convert: Callable[[object, Path], _T]) -> _T:
            return convert(block[key], path + (key,)) if key in block else default

        def count(value: object, where: Path) -> int:
            number = self._positive(value, where, False)
            assert number is not None
            return number

        port = block["port"]
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            self._fail(path + ("port",), f"expected a port number (1-65535), not {_quote(port)}")
        version = get("ip_version", None, lambda v, p: self._choiceInt(v, p, (4, 6)))
        # Loopback unless told otherwise, as for Prosody-style files; MongooseIM's
        # own default is every address.
        interface = get("ip_address", "::1" if version == 6 else "127.0.0.1", self._address)
        if version is not None and ipaddress.ip_address(interface).version != version:
            self._fail(path + ("ip_version",), f"ip_address {interface} is not an IPv{version} address")
        get("proto", "tcp", lambda v, p: self._choice(v, p, ("tcp",)))
        password = get("password", None, self._string)
        access = get("access", "all", self._string)
        if access != "all" and access not in rules:
            self._fail(path + ("access",), f'there is no access rule "{access}" in [access]')
        for i, clause in enumerate(rules.get(access, ())):
            if clause.value not in ("allow", "deny"):
                self._fail(
                    ("access", access, i, "value"),
                    f'expected "allow" or "deny": the rule is the access of {showPath(path)}',
                )
        shaperName = get("shaper", "none", self._string)
        shaper = None
        if shaperName != "none":
            if shaperName not in shapers:
                self._fail(path + ("shaper",), f'there is no shaper "{shaperName}" in [shaper]')
            shaper = shapers[shaperName]
        conflict = get(
            "conflict_behaviour", "disconnect", lambda v, p: self._choice(v, p, ("disconnect", "kick_old"))
        )
        size = get("max_stanza_size", None, lambda v, p: self._stanzaSize(v, p))
        return ListenerConfig(
            port,
            interface,
            get("tls", None, self._tls),
            password=password,
            access=access,
            shaper=shaper,
            checkFrom=get("check_from", True, self._boolean),
            hiddenComponents=get("hidden_components", False, self._boolean),
            conflictResolve="kick_old" if conflict == "kick_old" else "kick_new",
            maxConnections=get("max_connections", None, lambda v, p: self._positive(v, p, True)),
            reusePort=get("reuse_port", False, self._boolean),
            stateTimeout=get("state_timeout", _optional(DEFAULT_STATE_TIMEOUT), self._milliseconds),
            stanzaSizeLimit=size,
            keepaliveInterval=get("keepalive_interval", _optional(DEFAULT_KEEPALIVE_INTERVAL), self._milliseconds),
            sendTimeout=get("send_timeout", _optional(DEFAULT_SEND_TIMEOUT), self._milliseconds),
            maxOutputBuffer=get("max_output_buffer", DEFAULT_MAX_OUTPUT_BUFFER, count),
            passwordDomains=get("password_domains", None, self._domainPatterns),
            proxyProtocol=get("proxy_protocol", False, self._boolean),
            location=self._at(path),
        )

    def _choiceInt(self, value: object, path: Path, choices: Sequence[int]) -> int:
        """
        One of a few integers.
        """
        if isinstance(value, bool) or value not in choices:
            self._fail(path, f"expected {' or '.join(map(str, choices))}, not {_quote(value)}")
        return value  # type: ignore[return-value]

    def _address(self, value: object, path: Path) -> str:
        """
        An IP address to listen on.
        """
        if isinstance(value, str):
            try:
                return str(ipaddress.ip_address(value))
            except ValueError:
                pass
        self._fail(path, f'expected an IP address like "127.0.0.1" or "::1", not {_quote(value)}')

    def _domainPatterns(self, value: object, path: Path) -> tuple[str, ...]:
        """
        C{password_domains}: an array of domains, exact or C{"*.example.org"}.
        """
        try:
            return parseDomainPatterns(tuple(self._strings(value, path)))
        except ValueError as e:
            self._fail(path, str(e))

    def _stanzaSize(self, value: object, path: Path) -> int:
        """
        C{max_stanza_size}: bytes, or C{"infinity"} for a very large bound.
        """
        size = self._positive(value, path, True)
        if size is None:
            self._warn(
                path,
                f'"infinity" means {INFINITE_STANZA_SIZE} bytes: xcomp always bounds '
                "what it buffers",
            )
            return INFINITE_STANZA_SIZE
        return size

    def _tls(self, value: object, path: Path) -> TLSConfig:
        """
        The C{tls} subsection: direct TLS (MongooseIM's mode C{"tls"}), with
        just_tls's options.  The files are opened by the service layer.
        """
        table = self._table(value, path)
        for key in table:
            if key in _UNSUPPORTED_TLS_OPTIONS:
                self._fail(path + (key,), "a MongooseIM option that xcomp does not support")
            if key not in _TLS_OPTIONS:
                self._unknown(path + (key,), _TLS_OPTIONS)
        if "mode" in table:
            mode = self._choice(table["mode"], path + ("mode",), ("tls", "starttls", "starttls_required"))
            if mode != "tls":
                self._fail(
                    path + ("mode",),
                    'XEP-0114 has no STARTTLS: component listeners only do direct TLS ("tls")',
                )
        for key in ("certfile", "keyfile"):
            if key not in table:
                self._fail(path + (key,), "missing (a direct-TLS listener needs a certificate and its key)")
        base = os.path.dirname(os.path.abspath(self._source))

        def file(name: object, where: Path) -> str:
            text = self._string(name, where)
            return os.path.normpath(os.path.join(base, os.path.expanduser(text)))

        def get(key: str, default: _T, convert: Callable[[object, Path], _T]) -> _T:
            return convert(table[key], path + (key,)) if key in table else default

        def strings(value: object, where: Path) -> tuple[str, ...]:
            return tuple(self._strings(value, where))

        noFiles: tuple[str, ...] = ()

        def versions(value: object, where: Path) -> tuple[str, ...]:
            chosen = strings(value, where)
            for i, version in enumerate(chosen):
                if version not in TLS_VERSIONS:
                    self._fail(where + (i,), "expected " + ", ".join(f'"{v}"' for v in TLS_VERSIONS))
            return chosen

        return TLSConfig(
            file(table["certfile"], path + ("certfile",)),
            file(table["keyfile"], path + ("keyfile",)),
            caCertificates=get("cacertfile", None, file),
            verifyMode=get("verify_mode", "none", lambda v, p: self._choice(v, p, VERIFY_MODES)),
            ciphers=get("ciphers", None, self._string),
            protocolOptions=get("protocol_options", (), strings),
            keyPassword=get("password", None, self._string),
            dhParameters=get("dhfile", None, file),
            versions=get("versions", (), versions),
            crlFiles=tuple(
                file(name, path + ("crl_files", i))
                for i, name in enumerate(get("crl_files", noFiles, strings))
            ),
            location=self._at(path),
            label=showPath(path),
        )


def loadTOML(source: str) -> RouterConfig:
    """
    Load a MongooseIM TOML file.

    @param source: The file name, as it should appear in messages.
    @raise ConfigError: For any mistake, as C{file:line: key.path: ...}.
    """
    try:
        with open(source, "rb") as f:
            data = f.read(MAX_FILE_SIZE + 1)
    except OSError as e:
        raise ConfigError(None, f"{source}: cannot read the configuration file: {e.strerror}") from None
    if len(data) > MAX_FILE_SIZE:
        raise ConfigError(None, f"{source}: larger than {MAX_FILE_SIZE} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ConfigError(Location(source, line), "the file is not valid UTF-8") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        match = re.search(r"\(at line (\d+), column \d+\)$", str(e))
        line = int(match.group(1)) if match else 1
        message = re.sub(r"\s*\(at line \d+, column \d+\)$", "", str(e))
        message = re.sub(r"\s*\(at end of document\)$", "", message)
        raise ConfigError(Location(source, line), f"not valid TOML: {message}") from None
    return _Loader(source, text, document).load()
