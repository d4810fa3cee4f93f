# -*- test-case-name: xcomp.test.test_tomlcfg -*-
"""
C{[general]}: C{hosts} become VirtualHosts, C{loglevel} the lowest level
logged; the options MongooseIM has there and xcomp does not use are
accepted silently.
"""

from __future__ import annotations

from typing import Mapping

from xcomp.config.domains import prepDomain
from xcomp.config.model import VirtualHostConfig
from xcomp.config.mongooseim.checks import Checker, quote
from xcomp.config.mongooseim.locate import Path

__all__ = ["readGeneral"]

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


def readGeneral(
    check: Checker, document: Mapping[str, object]
) -> tuple[dict[str, VirtualHostConfig], str | None]:
    """
    Read C{[general]}.

    @param check: The document's checker.
    @param document: The whole document.
    @return: The VirtualHosts by domain, and the log level (L{None} if not
        set).
    """
    general = check.table(document.get("general", {}), ("general",))
    hosts: dict[str, VirtualHostConfig] = {}
    logLevel = None
    for key, value in general.items():
        path: Path = ("general", key)
        if key == "hosts":
            for i, name in enumerate(check.strings(value, path)):
                try:
                    domain = prepDomain(name)
                except ValueError as e:
                    check.fail(path + (i,), f"{quote(name)} is not a valid domain: {e}")
                if domain in hosts:
                    check.fail(path + (i,), f"{quote(domain)} is listed twice")
                hosts[domain] = VirtualHostConfig(domain=domain, location=check.at(path))
        elif key == "loglevel":
            name = check.string(value, path)
            if name not in _LOG_LEVELS:
                check.fail(path, f"expected one of {', '.join(_LOG_LEVELS)}, not {quote(name)}")
            logLevel = _LOG_LEVELS[name]
        elif key not in _IGNORED_GENERAL:
            check.unknown(path, ["hosts", "loglevel", *_IGNORED_GENERAL])
    return hosts, logLevel
