# -*- test-case-name: xcomp.test.test_config_http -*-
"""
The HTTP port of a MongooseIM file: each C{[[listen.http]]} with a
C{[[listen.http.handlers.mongoose_prometheus_handler]]} (metrics, at its
C{path}, C{/metrics} in MongooseIM's example) or a
C{[[listen.http.handlers.xcomp_status_handler]]} (xcomp's status page) is
one of xcomp's HTTP listeners.  The other handlers MongooseIM has (BOSH,
WebSocket, GraphQL, REST) are accepted and not served, and a
C{[[listen.http]]} with none of xcomp's is left alone.

As for component listeners, C{ip_address} defaults to 127.0.0.1 (MongooseIM:
every address); any other address needs a C{token} on each of xcomp's
handlers.
"""

from __future__ import annotations

import difflib
import ipaddress
from typing import Mapping

from xcomp.config.http import isLoopback, tokenProblem
from xcomp.config.model import ConfigError, HTTPHandlerConfig, HTTPListenerConfig
from xcomp.config.mongooseim.checks import Checker, quote
from xcomp.config.mongooseim.locate import Path, showPath

__all__ = ["readHTTP"]

#: xcomp's handlers: what each serves, and its path when none is given.
_OURS = {
    "mongoose_prometheus_handler": ("metrics", "/metrics"),
    "xcomp_status_handler": ("status", "/"),
}
#: MongooseIM's own handlers (6.x, and the older names), accepted silently.
_THEIRS = frozenset(
    """mongoose_bosh_handler mongoose_websocket_handler mongoose_graphql_handler
    mongoose_admin_api mongoose_client_api mod_bosh mod_websockets mongoose_api
    mongoose_api_admin mongoose_api_client mongoose_client_api_messages
    mongoose_client_api_sse mongoose_domain_handler mod_revproxy lasse_handler
    cowboy_static mongoose_graphql_cowboy_handler""".split()
)
_HANDLER_OPTIONS = ("host", "path", "token")


def _handlers(check: Checker, block: Mapping[str, object], path: Path) -> list[tuple[Path, str, Mapping[str, object]]]:
    """
    xcomp's handlers of one C{[[listen.http]]}: (path, kind, table) each.
    """
    if "handlers" not in block:
        return []
    handlers = check.table(block["handlers"], path + ("handlers",))
    found = []
    for name, entries in handlers.items():
        where = path + ("handlers", name)
        if name in _THEIRS:
            continue
        if name not in _OURS:
            close = difflib.get_close_matches(name, [*_OURS, *sorted(_THEIRS)], n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            # The line of its own [[...]] header, which counts from 0 here.
            raise ConfigError(check.at(where + (0,)), f"{showPath(where)}: unknown handler{hint}")
        if not isinstance(entries, list):
            check.fail(where, f"expected [[{showPath(where)}]] blocks, not {quote(entries)}")
        for i, entry in enumerate(entries):
            found.append((where + (i,), _OURS[name][0], check.table(entry, where + (i,))))
    return found


def _handler(check: Checker, where: Path, kind: str, table: Mapping[str, object]) -> HTTPHandlerConfig:
    """
    One of xcomp's handlers.
    """
    for key in table:
        if key not in _HANDLER_OPTIONS:
            check.unknown(where + (key,), _HANDLER_OPTIONS)
    if "host" in table:
        # MongooseIM matches the request's Host; xcomp serves any ("_").
        check.string(table["host"], where + ("host",))
    path = _OURS[str(where[-2])][1]
    if "path" in table:
        path = check.string(table["path"], where + ("path",))
        if not path.startswith("/"):
            check.fail(where + ("path",), f'expected a path starting with "/", not {quote(path)}')
    token = None
    if "token" in table:
        token = check.string(table["token"], where + ("token",))
        problem = tokenProblem(token)
        if problem is not None:
            check.fail(where + ("token",), problem)
    return HTTPHandlerConfig(kind=kind, path=path, token=token)


def readHTTP(check: Checker, document: Mapping[str, object]) -> tuple[HTTPListenerConfig, ...]:
    """
    Every C{[[listen.http]]} with one of xcomp's handlers.
    """
    listen = document.get("listen", {})
    if not isinstance(listen, dict) or not isinstance(listen.get("http", []), list):
        # The component listeners' reader says what is wrong with these.
        return ()
    listeners = []
    bound: dict[tuple[int, str], Path] = {}
    for i, block in enumerate(listen.get("http", [])):
        path: Path = ("listen", "http", i)
        block = check.table(block, path)
        handlers = _handlers(check, block, path)
        if not handlers:
            continue
        if "port" not in block:
            check.fail(path + ("port",), "missing (it is mandatory)")
        port = block["port"]
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            check.fail(path + ("port",), f"expected a port number (1-65535), not {quote(port)}")
        version = check.choiceInt(block["ip_version"], path + ("ip_version",), (4, 6)) if "ip_version" in block else None
        interface = "::1" if version == 6 else "127.0.0.1"
        if "ip_address" in block:
            interface = check.address(block["ip_address"], path + ("ip_address",))
        if version is not None and ipaddress.ip_address(interface).version != version:
            check.fail(path + ("ip_version",), f"ip_address {interface} is not an IPv{version} address")
        if "tls" in block:
            check.fail(
                path + ("tls",),
                "xcomp's HTTP port has no TLS: serve it on loopback, behind a proxy that has",
            )
        if (port, interface) in bound:
            check.fail(path + ("port",), f"{interface}:{port} is already used by {showPath(bound[port, interface])}")
        bound[port, interface] = path
        made = []
        seen: dict[str, Path] = {}
        for where, kind, table in handlers:
            handler = _handler(check, where, kind, table)
            if handler.token is None and not isLoopback(interface):
                check.fail(
                    where,
                    f"ip_address {interface} is not loopback, so this handler needs a credential: set token",
                )
            for served in (handler.path, handler.path.rstrip("/") + "/status.json") if kind == "status" else (handler.path,):
                if served in seen:
                    check.fail(where + ("path",), f"{served} is already served by {showPath(seen[served])}")
                seen[served] = where
            made.append(handler)
        listeners.append(
            HTTPListenerConfig(port=port, interface=interface, handlers=tuple(made), location=check.at(path))
        )
    return tuple(listeners)
