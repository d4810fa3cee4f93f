# -*- test-case-name: xcomp.test.test_tomlcfg -*-
"""
C{[[listen.component]]} (and MongooseIM 4-5's C{[[listen.service]]}): one
L{ListenerConfig} each, with its C{tls} subsection (just_tls's options).
C{[[listen.c2s]]}, C{[[listen.s2s]]} and C{[[listen.http]]} are accepted
silently.
"""

from __future__ import annotations

import ipaddress
from typing import Callable, Mapping, TypeVar

from xcomp.config.acl import AccessClause
from xcomp.config.model import (
    DEFAULT_KEEPALIVE_INTERVAL,
    DEFAULT_MAX_OUTPUT_BUFFER,
    DEFAULT_SEND_TIMEOUT,
    DEFAULT_STATE_TIMEOUT,
    TLS_VERSIONS,
    VERIFY_MODES,
    ListenerConfig,
    ShaperConfig,
    TLSConfig,
)
from xcomp.config.mongooseim.checks import Checker, quote
from xcomp.config.mongooseim.locate import Path, showPath

__all__ = ["INFINITE_STANZA_SIZE", "ListenerReader"]

_T = TypeVar("_T")

#: What C{max_stanza_size = "infinity"} means: xcomp never parses without a
#: bound, so a very large one (with a warning).
INFINITE_STANZA_SIZE = 64 * 1024 * 1024

_IGNORED_LISTENERS = frozenset({"c2s", "s2s", "http"})
# Listener options MongooseIM has that mean nothing for xcomp's listeners.
_IGNORED_LISTENER_OPTIONS = frozenset({"hibernate_after", "num_acceptors", "backlog"})

_LISTENER_OPTIONS = (
    "port ip_address ip_version proto password access shaper check_from "
    "hidden_components conflict_behaviour max_connections reuse_port "
    "state_timeout max_stanza_size tls keepalive_interval send_timeout "
    "max_output_buffer proxy_protocol password_domains hold_time hold_stanzas hold_bytes"
).split()
_TLS_OPTIONS = (
    "mode certfile keyfile password cacertfile verify_mode ciphers protocol_options "
    "dhfile versions crl_files"
).split()
_UNSUPPORTED_TLS_OPTIONS = frozenset(
    """disconnect_on_failure server_name_indication early_data module""".split()
)


def _optional(value: float) -> float | None:
    """
    A default duration, typed as the optional durations it stands for.
    """
    return value


def _getter(
    table: Mapping[str, object], path: Path
) -> Callable[[str, _T, Callable[[object, Path], _T]], _T]:
    """
    Read the key of C{table} with C{convert}, or give C{default} when it is
    not set.
    """

    def get(key: str, default: _T, convert: Callable[[object, Path], _T]) -> _T:
        return convert(table[key], path + (key,)) if key in table else default

    return get


class ListenerReader:
    """
    Read the listeners, checking the shapers and access rules they name.
    """

    def __init__(
        self,
        check: Checker,
        shapers: Mapping[str, ShaperConfig],
        rules: Mapping[str, tuple[AccessClause, ...]],
    ) -> None:
        """
        @param check: The document's checker.
        @param shapers: The shapers, by name.
        @param rules: The access rules, by name.
        """
        self._check = check
        self._shapers = shapers
        self._rules = rules

    def listeners(self, document: Mapping[str, object]) -> list[ListenerConfig]:
        """
        Every component listener of the document; no two on one address
        and port.
        """
        check = self._check
        listen = check.table(document.get("listen", {}), ("listen",))
        listeners: list[ListenerConfig] = []
        seen: dict[tuple[int, str], Path] = {}
        for kind, blocks in listen.items():
            if kind in _IGNORED_LISTENERS:
                continue
            if kind not in ("component", "service"):
                check.unknown(("listen", kind), ["component", "service", *_IGNORED_LISTENERS])
            if not isinstance(blocks, list):
                check.fail(("listen", kind), f"expected [[listen.{kind}]] blocks, not {quote(blocks)}")
            for i, block in enumerate(blocks):
                path: Path = ("listen", kind, i)
                listener = self._listener(check.table(block, path), path)
                key = (listener.port, listener.interface)
                if key in seen:
                    check.fail(
                        path + ("port",),
                        f"{listener.interface}:{listener.port} is already used by {showPath(seen[key])}",
                    )
                seen[key] = path
                listeners.append(listener)
        return listeners

    def _listener(self, block: Mapping[str, object], path: Path) -> ListenerConfig:
        """
        One listener block.
        """
        check = self._check
        for key in block:
            if key not in _LISTENER_OPTIONS and key not in _IGNORED_LISTENER_OPTIONS:
                check.unknown(path + (key,), _LISTENER_OPTIONS)
        for key in ("port", "password"):
            if key not in block:
                check.fail(path + (key,), "missing (it is mandatory)")
        get = _getter(block, path)
        port = block["port"]
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            check.fail(path + ("port",), f"expected a port number (1-65535), not {quote(port)}")
        version = get("ip_version", None, lambda v, p: check.choiceInt(v, p, (4, 6)))
        # Loopback unless told otherwise, as for Prosody-style files; MongooseIM's
        # own default is every address.
        interface = get("ip_address", "::1" if version == 6 else "127.0.0.1", check.address)
        if version is not None and ipaddress.ip_address(interface).version != version:
            check.fail(path + ("ip_version",), f"ip_address {interface} is not an IPv{version} address")
        get("proto", "tcp", lambda v, p: check.choice(v, p, ("tcp",)))
        password = get("password", None, check.string)
        access = self._access(get("access", "all", check.string), path)
        shaper = self._shaper(get("shaper", "none", check.string), path)
        conflict = get(
            "conflict_behaviour",
            "disconnect",
            lambda v, p: check.choice(v, p, ("disconnect", "kick_old", "balance")),
        )
        size = get("max_stanza_size", None, self._stanzaSize)
        return ListenerConfig(
            port,
            interface,
            get("tls", None, self._tls),
            password=password,
            access=access,
            shaper=shaper,
            checkFrom=get("check_from", True, check.boolean),
            hiddenComponents=get("hidden_components", False, check.boolean),
            conflictResolve="kick_new" if conflict == "disconnect" else conflict,
            maxConnections=get("max_connections", None, lambda v, p: check.positive(v, p, True)),
            reusePort=get("reuse_port", False, check.boolean),
            stateTimeout=get("state_timeout", _optional(DEFAULT_STATE_TIMEOUT), check.milliseconds),
            stanzaSizeLimit=size,
            keepaliveInterval=get("keepalive_interval", _optional(DEFAULT_KEEPALIVE_INTERVAL), check.milliseconds),
            sendTimeout=get("send_timeout", _optional(DEFAULT_SEND_TIMEOUT), check.milliseconds),
            maxOutputBuffer=get("max_output_buffer", DEFAULT_MAX_OUTPUT_BUFFER, check.count),
            passwordDomains=get("password_domains", None, check.domainPatterns),
            proxyProtocol=get("proxy_protocol", False, check.boolean),
            # Milliseconds, as every duration of a listener; "infinity" would
            # hold without end, which no bound on memory allows.
            holdTime=get("hold_time", None, lambda v, p: self._count(v, p, 0) / 1000),
            holdStanzas=get("hold_stanzas", None, lambda v, p: self._count(v, p, 1)),
            holdBytes=get("hold_bytes", None, lambda v, p: self._count(v, p, 1)),
            location=check.at(path),
        )

    def _count(self, value: object, path: Path, lowest: int) -> int:
        """
        An integer of at least C{lowest}, never C{"infinity"}.
        """
        number = self._check.positive(value, path, False, lowest)
        assert number is not None
        return number

    def _access(self, access: str, path: Path) -> str:
        """
        The access rule a listener names; each of its clauses allows or
        denies.
        """
        if access != "all" and access not in self._rules:
            self._check.fail(path + ("access",), f'there is no access rule "{access}" in [access]')
        for i, clause in enumerate(self._rules.get(access, ())):
            if clause.value not in ("allow", "deny"):
                self._check.fail(
                    ("access", access, i, "value"),
                    f'expected "allow" or "deny": the rule is the access of {showPath(path)}',
                )
        return access

    def _shaper(self, name: str, path: Path) -> ShaperConfig | None:
        """
        The shaper a listener names (L{None} for C{"none"}).
        """
        if name == "none":
            return None
        if name not in self._shapers:
            self._check.fail(path + ("shaper",), f'there is no shaper "{name}" in [shaper]')
        return self._shapers[name]

    def _stanzaSize(self, value: object, path: Path) -> int:
        """
        C{max_stanza_size}: bytes, or C{"infinity"} for a very large bound.
        """
        size = self._check.positive(value, path, True)
        if size is None:
            self._check.warn(
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
        check = self._check
        table = check.table(value, path)
        for key in table:
            if key in _UNSUPPORTED_TLS_OPTIONS:
                check.fail(path + (key,), "a MongooseIM option that xcomp does not support")
            if key not in _TLS_OPTIONS:
                check.unknown(path + (key,), _TLS_OPTIONS)
        if "mode" in table:
            mode = check.choice(table["mode"], path + ("mode",), ("tls", "starttls", "starttls_required"))
            if mode != "tls":
                check.fail(
                    path + ("mode",),
                    'XEP-0114 has no STARTTLS: component listeners only do direct TLS ("tls")',
                )
        for key in ("certfile", "keyfile"):
            if key not in table:
                check.fail(path + (key,), "missing (a direct-TLS listener needs a certificate and its key)")
        def strings(value: object, where: Path) -> tuple[str, ...]:
            return tuple(check.strings(value, where))

        def versions(value: object, where: Path) -> tuple[str, ...]:
            chosen = strings(value, where)
            for i, version in enumerate(chosen):
                if version not in TLS_VERSIONS:
                    check.fail(where + (i,), "expected " + ", ".join(f'"{v}"' for v in TLS_VERSIONS))
            return chosen

        get = _getter(table, path)
        noFiles: tuple[str, ...] = ()
        return TLSConfig(
            check.file(table["certfile"], path + ("certfile",)),
            check.file(table["keyfile"], path + ("keyfile",)),
            caCertificates=get("cacertfile", None, check.file),
            verifyMode=get("verify_mode", "none", lambda v, p: check.choice(v, p, VERIFY_MODES)),
            ciphers=get("ciphers", None, check.string),
            protocolOptions=get("protocol_options", (), strings),
            keyPassword=get("password", None, check.string),
            dhParameters=get("dhfile", None, check.file),
            versions=get("versions", (), versions),
            crlFiles=tuple(
                check.file(name, path + ("crl_files", i))
                for i, name in enumerate(get("crl_files", noFiles, strings))
            ),
            location=check.at(path),
            label=showPath(path),
        )
