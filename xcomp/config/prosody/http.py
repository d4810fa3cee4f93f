# -*- test-case-name: xcomp.test.test_config_http -*-
"""
The HTTP port of a Prosody-style file, enabled as Prosody 0.12 enables
its own metrics: C{statistics = "internal"} and C{"http_openmetrics"} in
the global C{modules_enabled} serve OpenMetrics at C{/metrics};
C{"xcomp_status"} there serves the status page at C{/} and
C{/status.json}.  Both are on C{http_ports} and C{http_interfaces}
(C{xcomp_http_ports} and C{xcomp_http_interfaces} win, for a file shared
with a running Prosody, whose own HTTP server has those ports).

One deliberate difference: Prosody's C{http_interfaces} default is every
interface; xcomp's is 127.0.0.1, and any other address needs
C{xcomp_http_token}.
"""

from __future__ import annotations

import ipaddress

from xcomp.config.http import isLoopback, tokenProblem
from xcomp.config.model import (
    DEFAULT_HTTP_PORT,
    ConfigError,
    HTTPHandlerConfig,
    HTTPListenerConfig,
    Location,
)
from xcomp.config.prosody.options import Options
from xcomp.config.values import parseInterface, parsePort, quote

__all__ = ["METRICS_MODULE", "STATUS_MODULE", "readHTTP"]

#: The global module that serves metrics, as in Prosody 0.12.
METRICS_MODULE = "http_openmetrics"
#: The global module that serves xcomp's status page.
STATUS_MODULE = "xcomp_status"
#: Who may read /metrics when neither allow option is set: Prosody's
#: C{openmetrics_allow_ips} default.
_PROSODY_ALLOWED = ("::1/128", "127.0.0.1/32")


def _globalModules(options: Options) -> tuple[frozenset[str], Location | None]:
    """
    The global C{modules_enabled} (every name, Prosody's own included), and
    where it was set.
    """
    option = options.global_.options.get("modules_enabled")
    if option is None:
        return frozenset(), None
    value = option.value if isinstance(option.value, tuple) else (option.value,)
    return frozenset(v for v in value if isinstance(v, str)), Location(option.file, option.line)


def _where(options: Options, *names: str) -> tuple[str, Location | None]:
    """
    The first of C{names} that is set, and its line; the first name and
    L{None} when none is.
    """
    for name in names:
        option = options.global_.options.get(name)
        if option is not None:
            return name, Location(option.file, option.line)
    return names[0], None


def _allowed(options: Options) -> tuple[str, ...]:
    """
    Prosody's C{openmetrics_allow_ips} (addresses) and
    C{openmetrics_allow_cidr} (one network), as networks.
    """
    section = options.global_

    def address(value: object) -> str:
        if isinstance(value, str):
            try:
                return str(ipaddress.ip_network(value))
            except ValueError:
                pass
        raise ValueError(f"{quote(value)} is not an IP address")

    allowed = options.listOf(section, "openmetrics_allow_ips", _PROSODY_ALLOWED, address)
    option = section.options.get("openmetrics_allow_cidr")
    if option is not None:
        value = option.value
        try:
            if not isinstance(value, str):
                raise ValueError
            network = str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ConfigError(
                Location(option.file, option.line),
                f"openmetrics_allow_cidr: {quote(value)} is not a network (for example \"10.0.0.0/8\")",
            ) from None
        allowed += (network,)
    return allowed


def readHTTP(options: Options, warnings: list[str]) -> tuple[HTTPListenerConfig, ...]:
    """
    The HTTP port's addresses, with what each serves; none when neither
    module is enabled.

    @param warnings: Where to add a warning about C{statistics}.
    @raise ConfigError: A port, interface, credential or allow option is
        wrong, or a credential is missing for an address that is not
        loopback; at the option's line.
    """
    modules, modulesAt = _globalModules(options)
    section = options.global_
    metrics = METRICS_MODULE in modules
    if metrics:
        statistics = options.string(section, "statistics")
        if statistics != "internal":
            # Prosody's own openmetrics module serves nothing without it.
            problem = "is not set" if statistics is None else f"is {quote(statistics)}"
            warnings.append(
                f"{modulesAt}: {METRICS_MODULE} needs statistics = \"internal\" (it {problem}); "
                "/metrics is not served"
            )
            metrics = False
    status = STATUS_MODULE in modules
    if not (metrics or status):
        return ()
    token = options.string(section, "xcomp_http_token")
    if token is not None:
        weak = tokenProblem(token)
        if weak is not None:
            option = section.options["xcomp_http_token"]
            raise ConfigError(Location(option.file, option.line), f"xcomp_http_token: {weak}")
    handlers = []
    if metrics:
        handlers.append(HTTPHandlerConfig(kind="metrics", path="/metrics", token=token, allowFrom=_allowed(options)))
    if status:
        handlers.append(HTTPHandlerConfig(kind="status", path="/", token=token))
    portsName, portsAt = _where(options, "xcomp_http_ports", "http_ports")
    ports = options.listOf(section, portsName, (DEFAULT_HTTP_PORT,), parsePort)
    interfacesName, interfacesAt = _where(options, "xcomp_http_interfaces", "http_interfaces")
    interfaces = options.listOf(section, interfacesName, ("127.0.0.1",), parseInterface)
    enabled = ", ".join(name for name, on in ((METRICS_MODULE, metrics), (STATUS_MODULE, status)) if on)
    if token is None:
        for interface in interfaces:
            if not isLoopback(interface):
                raise ConfigError(
                    interfacesAt or modulesAt,
                    f"{interfacesName}: {interface} is not loopback, so the HTTP port "
                    f"({enabled}) needs a credential: "
                    "set xcomp_http_token",
                )
    return tuple(
        HTTPListenerConfig(
            port=port, interface=interface, handlers=tuple(handlers), location=portsAt or modulesAt
        )
        for port in ports
        for interface in interfaces
    )
