# -*- test-case-name: xcomp.test.test_config -*-
"""
Reading Prosody option values: ports, interfaces, and the
option names xcomp and Prosody know.  Pure functions; each raises
L{ValueError} with the reason a value is refused, and L{xcomp.config.prosody}
turns that into a L{xcomp.config.ConfigError} at the option's line.
"""

from __future__ import annotations

import ipaddress
import json
import re
from types import MappingProxyType
from typing import Mapping

from xcomp.config import lua
from xcomp.config.domains import prepDomain
from xcomp.config.acl import AccessClause
from xcomp.config.model import CONFLICT_POLICIES, ShaperConfig

# Options xcomp reads from the global section only.
GLOBAL_ONLY = frozenset(
    """component_ports component_interfaces component_interface local_interfaces
    use_ipv4 use_ipv6 component_direct_tls_ports component_direct_tls_ssl log debug
    pidfile data_path component_password component_access acl access_rules limits
    component_max_connections component_reuse_port component_timeout
    component_port_options network_settings component_password_domains
    component_proxy_protocol syslog_facility component_hold_total_bytes dialback_secret""".split()
)
# Options xcomp reads per host, falling back to the global section.
PER_HOST = frozenset(
    """component_secret validate_from_addresses component_conflict_resolve
    component_stanza_size_limit s2s_stanza_size_limit name disco_hidden ssl
    modules_enabled enabled component_hold_time component_hold_stanzas
    component_hold_bytes""".split()
)
# Options Prosody knows that xcomp does not use: no warning for these.
KNOWN = frozenset(
    """admins modules_disabled authentication storage default_storage sql
    certificates certificate allow_registration plugin_paths installer_plugin_path
    prosody_user prosody_group run_as_root daemonize use_libevent network_backend
    umask gc tls_profile contact_info server_contact_info disco_items
    interfaces interface external_addresses trusted_proxies statistics
    statistics_interval statistics_config component_tcp_keepalives tcp_keepalives
    require_encryption allow_unencrypted_plain_auth hide_os_type welcome_message
    motd_text anonymous_login restrict_room_creation max_history_messages
    default_archive_policy archive_expires_after max_archive_query_results
    network_default_read_size multiplex_buffer_size
    buffer_size_limit body_size_limit admin_socket console_banner
    console_prettyprint_settings use_dane gc_settings lua_gc_stepmul lua_gc_pause
    component_module load_global_modules defined""".split()
)
KNOWN_PREFIXES = (
    "c2s_", "s2s_", "http_", "https_", "bosh_", "websocket_", "muc_", "mam_",
    "archive_", "storage_", "sql_", "turn_", "proxy65_", "http_file_share_",
    "upload_", "legacy_ssl_", "ldap_", "cyrus_", "vcard_", "offline_", "smacks_",
    "csi_", "limits_", "registration_", "allow_", "statistics_", "openmetrics_",
    "network_", "tls_", "ssl_", "certificate", "default_", "disco_", "contact_",
    "server_", "pep_", "push_", "invites_", "roster_", "groups_", "motd_",
    "welcome_", "announce_", "external_", "trusted_", "access_control_",
    "consider_", "console_", "auth_", "anonymous_", "cross_domain_", "admin_",
)
# xcomp's own pidfile and log, beside Prosody's pidfile and log in a shared
# file (xcomp.config.prosody); global only, like Prosody's.
GLOBAL_ONLY |= {"xcomp_pidfile", "xcomp_log"}
# The HTTP port's (xcomp.config.prosody.http): its own ports and interfaces
# beside a running Prosody's http_ports, and its credential.
GLOBAL_ONLY |= {"xcomp_http_ports", "xcomp_http_interfaces", "xcomp_http_token"}
# The cluster's (xcomp.config.prosody.cluster).
GLOBAL_ONLY |= {
    "cluster_redis",
    "cluster_redis_password",
    "cluster_redis_cafile",
    "cluster_node",
    "cluster_lease",
    "cluster_stream_length",
}
# Prosody's "this belongs in the global section" patterns (prosodyctl check).
MISPLACED = re.compile(r"^interfaces?$|_ports?$|_interfaces?$|(?<![cs]2s)_ssl$")


def quote(value: object) -> str:
    """
    Show a value from the configuration in a message.
    """
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bytes):
        return "text that is not valid UTF-8"
    if isinstance(value, lua.LuaOpaque):
        return f"a Lua {value.luaType}"
    if isinstance(value, tuple):
        return "{ " + ", ".join(quote(v) for v in value) + " }" if value else "{}"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def hostLabel(section: lua.RawSection) -> str:
    """
    Name a section in a message: C{Component "x"} or C{VirtualHost "x"}.
    """
    label = f"{section.kind} {quote(section.name)}"
    if section.module is not None:
        label += f" {quote(section.module)}"
    return label


def isKnown(name: str) -> bool:
    """
    Whether an option name is one xcomp or Prosody knows.
    """
    return (
        name in GLOBAL_ONLY
        or name in PER_HOST
        or name in KNOWN
        or name.startswith(KNOWN_PREFIXES)
        or MISPLACED.search(name) is not None
    )


def kind(value: object) -> str:
    """
    Name the Lua type of a converted value, for a message that must not show
    the value itself.
    """
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, (tuple, Mapping)):
        return "a table"
    if isinstance(value, lua.LuaOpaque):
        return f"a Lua {value.luaType}"
    return "a string"


def installed(names: list[str], what: str) -> str:
    """
    Say what is installed, for an error message.
    """
    if not names:
        return f"no {what} are installed"
    return "installed: " + ", ".join(names)


def toInteger(value: object) -> int | None:
    """
    An integer from a Lua number or a decimal string, as Lua's C{tonumber}
    would give; L{None} for anything else.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    return None


def parsePort(value: object) -> int:
    """
    A TCP port number.
    """
    number = toInteger(value)
    if number is None or not 1 <= number <= 65535:
        raise ValueError(f"{quote(value)} is not a port number (1-65535)")
    return number


def parseInterface(value: object) -> str:
    """
    An IP address to listen on; C{"*"} is every IPv4 address.
    """
    if value == "*":
        return "0.0.0.0"
    if isinstance(value, str):
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            pass
    raise ValueError(
        f"{quote(value)} is not an IP address (for example \"127.0.0.1\", \"::1\", "
        "or \"*\" for every IPv4 address)"
    )


#: An empty table.
EMPTY: Mapping[object, object] = MappingProxyType({})


def parseTable(value: object) -> Mapping[object, object]:
    """
    A table (possibly empty).
    """
    if value == ():
        return EMPTY
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a table, not {quote(value)}")
    return value


def parseSecret(value: object) -> str:
    """
    A secret: a non-empty string (a number is taken as its text).
    """
    if isinstance(value, bytes):
        raise ValueError("the secret is not valid UTF-8")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a string, not {kind(value)}")
    if not value:
        raise ValueError("the secret is empty")
    return value


def parseBoolean(value: object) -> bool:
    """
    C{true}/C{false}, also C{"true"}/C{"false"} and 1/0 as Prosody accepts.
    """
    if value in (True, "true") or (type(value) is int and value == 1):
        return True
    if value in (False, "false") or (type(value) is int and value == 0):
        return False
    raise ValueError(f"{quote(value)} is not true or false")


def parseConflict(value: object) -> str:
    """
    A conflict policy.
    """
    if value not in CONFLICT_POLICIES:
        raise ValueError(f"{quote(value)} is not one of {', '.join(map(quote, CONFLICT_POLICIES))}")
    return str(value)


def parsePositive(value: object, prefix: str = "") -> int:
    """
    An integer of at least 1.
    """
    number = toInteger(value)
    if number is None or number < 1:
        raise ValueError(f"{prefix}{quote(value)} is not an integer of at least 1")
    return number


def parseSeconds(value: object, prefix: str = "") -> float:
    """
    A number of seconds, at least 0.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{prefix}{quote(value)} is not a number of seconds")
    return float(value)


def parseAccessName(value: object, rules: Mapping[str, tuple[AccessClause, ...]]) -> str:
    """
    The name of an access rule fit for a listener: C{"all"}, or a rule of
    C{access_rules} whose values are all C{"allow"} or C{"deny"}.
    """
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected the name of an access rule, not {quote(value)}")
    if value == "all" and value not in rules:
        return value
    if value not in rules:
        raise ValueError(f"there is no access rule {quote(value)} in access_rules")
    for i, clause in enumerate(rules[value], 1):
        if clause.value not in ("allow", "deny"):
            raise ValueError(
                f"access_rules.{value}[{i}].value: expected \"allow\" or \"deny\", not {quote(clause.value)}"
            )
    return value


def parseDomainPatterns(value: object) -> tuple[str, ...]:
    """
    The domains a listener's password may bind: a list of domains, each
    exact (C{"irc.example.org"}) or C{"*.example.org"} for any subdomain
    of C{example.org} (not C{example.org} itself); nameprep'd.
    """
    items = value if isinstance(value, (tuple, list)) else (value,)
    patterns = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f'expected domains like "irc.example.org" or "*.example.org", not {quote(item)}')
        wildcard = item.startswith("*.")
        try:
            domain = prepDomain(item[2:] if wildcard else item)
        except ValueError as e:
            raise ValueError(f"{quote(item)}: {e}") from None
        patterns.append("*." + domain if wildcard else domain)
    return tuple(patterns)


_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parseShaper(value: object, key: str = "component") -> ShaperConfig | None:
    """
    Prosody's C{limits} table: its C{component} entry (or the one C{key}
    names: C{s2sin} for incoming s2s), C{{ rate = "10kb/s"; burst = "2s" }},
    is the shaper of component connections.  A rate is
    bytes per second, a number or C{"N[kmg]b/s"} (powers of 1024, as
    Prosody counts); a burst is seconds, a number or C{"Ns"}.
    """
    table = parseTable(value)
    limit = table.get(key)
    if limit is None:
        return None
    if limit == ():
        limit = EMPTY
    if not isinstance(limit, Mapping):
        raise ValueError(key + ': expected a table like { rate = "10kb/s"; burst = "2s" }')
    rate = limit.get("rate")
    if isinstance(rate, str):
        match = re.fullmatch(r"\s*(\d+)\s*([kmg]?)b/s\s*", rate, re.IGNORECASE)
        rate = int(match.group(1)) * _UNITS[match.group(2).lower()] if match else None
    if isinstance(rate, bool) or not isinstance(rate, int) or rate < 1:
        raise ValueError(
            f"{key}.rate: {quote(limit.get('rate'))} is not a rate like \"10kb/s\" or a number of bytes per second"
        )
    burst = limit.get("burst", 1.0)
    if isinstance(burst, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*s\s*", burst)
        burst = float(match.group(1)) if match else None
    if isinstance(burst, bool) or not isinstance(burst, (int, float)) or burst < 0:
        raise ValueError(
            f"{key}.burst: {quote(limit.get('burst'))} is not a duration like \"2s\""
        )
    return ShaperConfig(f"limits.{key}", rate, float(burst))
