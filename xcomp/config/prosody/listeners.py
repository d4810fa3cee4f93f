# -*- test-case-name: xcomp.test.test_config_listeners -*-
"""
The component listeners of a Prosody-style file: C{component_ports} (and
C{component_direct_tls_ports}) times the interfaces, each port with its
options (L{xcomp.config.ports.PortOptions}).
"""

from __future__ import annotations

from typing import Mapping

from xcomp.config.acl import AccessClause
from xcomp.config.model import DEFAULT_PORT, ConfigError, ListenerConfig, Location
from xcomp.config.ports import PortOptions
from xcomp.config.prosody.options import Options
from xcomp.config.values import parseInterface, parsePort

__all__ = ["readListeners"]


def readListeners(
    options: Options, accessRules: Mapping[str, tuple[AccessClause, ...]]
) -> tuple[ListenerConfig, ...]:
    """
    Every listener, Prosody's way: the interfaces are
    C{component_interfaces}, else C{component_interface}, else
    C{local_interfaces}, else loopback (as C{use_ipv4} and C{use_ipv6}
    allow).

    @param options: The configuration's options.
    @param accessRules: The access rules, which C{component_access} names.
    """
    section = options.global_
    ports = options.listOf(section, "component_ports", (DEFAULT_PORT,), parsePort)
    tlsPorts = options.listOf(section, "component_direct_tls_ports", (), parsePort)
    interfaces = tuple(
        address
        for address, option in (("127.0.0.1", "use_ipv4"), ("::1", "use_ipv6"))
        if options.boolean(section, option, True)
    )
    for name in ("local_interfaces", "component_interface", "component_interfaces"):
        if name in section.options:
            interfaces = options.listOf(section, name, (), parseInterface)
    both = set(ports) & set(tlsPorts)
    if both:
        option = section.options["component_direct_tls_ports"]
        raise ConfigError(
            Location(option.file, option.line),
            f"component_direct_tls_ports: port {min(both)} is also in component_ports",
        )
    portOptions = PortOptions(section, accessRules, options.baseDir, ports + tlsPorts)
    listeners = []
    for port in ports + tlsPorts:
        settings = portOptions.settings(port, port in tlsPorts)
        declared = section.options.get(
            "component_direct_tls_ports" if port in tlsPorts else "component_ports"
        )
        where = Location(declared.file, declared.line) if declared is not None else None
        for interface in interfaces:
            listeners.append(ListenerConfig(port, interface, location=where, **settings))
    return tuple(listeners)
