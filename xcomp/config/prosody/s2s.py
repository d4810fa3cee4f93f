# -*- test-case-name: xcomp.test.test_config_s2s -*-
"""
Server-to-server federation in a Prosody-style file: on only when the
global section asks for a listener outright (L{S2S_SWITCHES}: C{s2s_ports}
or C{s2s_direct_tls_ports}).  The other s2s options (L{S2S_OPTIONS}) only
configure it: Debian's stock prosody.cfg.lua sets C{s2s_secure_auth =
true}, and xcomp pointed at the configuration of a running Prosody must not
try to take Prosody's port 5269.  Those options are still checked, and
L{offNotice} says in one line that federation is off and why.
C{modules_disabled = { "s2s" }} turns it off whatever else is set, as in
Prosody.

Certificates are found as Prosody's certmanager finds them, for each
domain xcomp hosts: the host's own C{ssl} table; else, in the
C{certificates} directory (default C{certs} beside the file),
C{<domain>.crt} with C{<domain>.key} or C{<domain>/fullchain.pem} with
C{<domain>/privkey.pem}; else, for a direct subdomain of a
C{VirtualHost}, that host's certificate; else the global C{ssl} table.
Only the files' existence is looked at here; the service opens them.
"""

from __future__ import annotations

import os
from typing import Callable, Mapping, TypeVar

from xcomp.config.domains import prepDomain
from xcomp.config.lua import RawOption, RawSection
from xcomp.config.model import (
    DEFAULT_S2S_PORT,
    DEFAULT_S2S_TIMEOUT,
    DEFAULT_STANZA_SIZE_LIMIT,
    ConfigError,
    Location,
    S2SConfig,
    S2SListenerConfig,
    TLSConfig,
)
from xcomp.config.prosody.options import Options
from xcomp.config.values import (
    parseInterface,
    parsePort,
    parseSecret,
    parseSeconds,
    parseShaper,
    parseTable,
    quote,
)

__all__ = ["S2S_OPTIONS", "S2S_SWITCHES", "offNotice", "readS2S"]

_T = TypeVar("_T")

#: The options whose presence in the global section turns s2s on: each
#: asks for a listener.
S2S_SWITCHES = ("s2s_ports", "s2s_direct_tls_ports")

#: The global options of s2s, switches or not.
S2S_OPTIONS = (
    "s2s_ports",
    "s2s_interfaces",
    "s2s_direct_tls_ports",
    "s2s_require_encryption",
    "s2s_secure_auth",
    "s2s_secure_domains",
    "s2s_insecure_domains",
    "s2s_timeout",
    "dialback_secret",
    "s2s_connect_overrides",
)


def _where(option: RawOption) -> Location:
    """
    The place of an option.
    """
    return Location(option.file, option.line)


def _domains(value: object) -> frozenset[str]:
    """
    A list of remote domains (C{s2s_secure_domains}), nameprep'd.
    """
    items = value if isinstance(value, tuple) else (value,)
    domains = set()
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f'expected a list of domains like {{ "example.net" }}, not {quote(item)}')
        try:
            domains.add(prepDomain(item))
        except ValueError as e:
            raise ValueError(f"{quote(item)}: {e}") from None
    return frozenset(domains)


def _overrides(value: object) -> dict[str, tuple[str, int]]:
    """
    C{s2s_connect_overrides}, as mod_s2soutinjection writes it:
    C{{ ["example.net"] = { "127.0.0.1", 5269 } }}; the port may be left
    out (5269), and the host may be given alone as a string.
    """
    table = parseTable(value)
    overrides = {}
    for domain, target in table.items():
        if not isinstance(domain, str):
            raise ValueError(f'expected remote domains as keys, like ["example.net"], not {quote(domain)}')
        try:
            prepped = prepDomain(domain)
        except ValueError as e:
            raise ValueError(f"{quote(domain)}: {e}") from None
        if isinstance(target, str):
            target = (target,)
        if not isinstance(target, tuple) or not 1 <= len(target) <= 2 or not isinstance(target[0], str) or not target[0]:
            raise ValueError(f'{quote(domain)}: expected {{ "host", port }}, not {quote(target)}')
        try:
            port = parsePort(target[1]) if len(target) == 2 else DEFAULT_S2S_PORT
        except ValueError as e:
            raise ValueError(f"{quote(domain)}: {e}") from None
        overrides[prepped] = (target[0], port)
    return overrides


def _read(option: RawOption | None, convert: Callable[[object], _T], default: _T) -> _T:
    """
    Convert one global option, with a L{ConfigError} at its line.
    """
    if option is None:
        return default
    try:
        return convert(option.value)
    except ValueError as e:
        raise ConfigError(_where(option), f"{option.name}: {e}") from None


class _Certificates:
    """
    Prosody's search for a host's certificate.
    """

    def __init__(self, options: Options, sections: Mapping[str, RawSection]) -> None:
        self._options = options
        self._sections = sections
        option = options.global_.options.get("certificates")
        directory = options.string(options.global_, "certificates") or "certs"
        self._directory = options.path(directory)
        self._where = _where(option) if option is not None else None
        self._global = options.tls(options.global_, "ssl")

    def _own(self, domain: str) -> TLSConfig | None:
        """
        The host's own C{ssl}, else the pair in the certificates directory.
        """
        section = self._sections.get(domain)
        if section is not None and "ssl" in section.options:
            own = self._options.tls(section, "ssl")
            if own is not None:
                return own
        for certificate, key in (
            (f"{domain}.crt", f"{domain}.key"),
            (os.path.join(domain, "fullchain.pem"), os.path.join(domain, "privkey.pem")),
        ):
            certificate = os.path.join(self._directory, certificate)
            key = os.path.join(self._directory, key)
            if os.path.exists(certificate) and os.path.exists(key):
                return TLSConfig(certificate, key, location=self._where, label="certificates")
        return None

    def find(self, domain: str, virtualHosts: frozenset[str]) -> TLSConfig | None:
        """
        The certificate of C{domain}, as Prosody would choose it.
        """
        found = self._own(domain)
        parent = domain.partition(".")[2]
        if found is None and parent in virtualHosts:
            found = self._own(parent)
        return found if found is not None else self._global


def _listeners(options: Options) -> tuple[S2SListenerConfig, ...]:
    """
    C{s2s_ports} (5269 when not set) and C{s2s_direct_tls_ports}, on each
    of C{s2s_interfaces} (loopback when not set, unlike Prosody's every
    interface: federation is opened to the world on purpose).
    """
    section = options.global_
    ports = options.listOf(section, "s2s_ports", (DEFAULT_S2S_PORT,), parsePort)
    tlsPorts = options.listOf(section, "s2s_direct_tls_ports", (), parsePort)
    both = set(ports) & set(tlsPorts)
    if both:
        option = section.options["s2s_direct_tls_ports"]
        raise ConfigError(_where(option), f"s2s_direct_tls_ports: port {min(both)} is also in s2s_ports")
    interfaces = tuple(
        address
        for address, name in (("127.0.0.1", "use_ipv4"), ("::1", "use_ipv6"))
        if options.boolean(section, name, True)
    )
    interfaces = options.listOf(section, "s2s_interfaces", interfaces, parseInterface)
    listeners = []
    for port in ports + tlsPorts:
        direct = port in tlsPorts
        declared = section.options.get("s2s_direct_tls_ports" if direct else "s2s_ports")
        where = _where(declared) if declared is not None else None
        for interface in interfaces:
            listeners.append(S2SListenerConfig(port, interface, directTLS=direct, location=where))
    return tuple(listeners)


def readS2S(
    options: Options, sections: Mapping[str, RawSection], virtualHosts: frozenset[str]
) -> S2SConfig | None:
    """
    The s2s settings, or L{None} when the file asks for no s2s.

    @param sections: The enabled host sections (components and virtual
        hosts) by domain: each is an s2s domain of its own.
    @param virtualHosts: The domains of the enabled virtual hosts.
    """
    section = options.global_
    present = [section.options[name] for name in S2S_OPTIONS if name in section.options]
    if not present or _disabled(options):
        return None
    first = min(present, key=lambda o: (o.file, o.line))
    get = section.options.get
    timeout = _read(get("s2s_timeout"), _positiveSeconds, DEFAULT_S2S_TIMEOUT)
    limitOption = get("limits")
    shaper = _read(limitOption, lambda v: parseShaper(v, "s2sin"), None)
    certificates = _Certificates(options, sections)
    found = {}
    for domain in sorted(sections):
        tls = certificates.find(domain, virtualHosts)
        if tls is not None:
            found[domain] = tls
    cafile = _cafile(options)
    config = S2SConfig(
        listeners=_listeners(options),
        requireEncryption=options.boolean(section, "s2s_require_encryption", True),
        secureAuth=options.boolean(section, "s2s_secure_auth", False),
        secureDomains=_read(get("s2s_secure_domains"), _domains, frozenset[str]()),
        insecureDomains=_read(get("s2s_insecure_domains"), _domains, frozenset[str]()),
        timeout=timeout,
        certificates=found,
        caCertificates=cafile,
        dialbackSecret=_read(get("dialback_secret"), _optionalSecret, None),
        connectOverrides=_read(get("s2s_connect_overrides"), _overrides, {}),
        stanzaSizeLimit=options.integer(section, "s2s_stanza_size_limit", DEFAULT_STANZA_SIZE_LIMIT),
        shaper=shaper,
        location=_where(first),
    )
    # Built (and so checked) even when off: a mistake shows now, not on
    # the day s2s_ports is added.
    return config if any(name in section.options for name in S2S_SWITCHES) else None


def offNotice(options: Options) -> str | None:
    """
    The line that says federation is off although s2s options are set,
    at the first of them; L{None} when s2s is on, disabled, or never
    mentioned.
    """
    found = options.global_.options
    present = [found[name] for name in S2S_OPTIONS if name in found]
    if not present or _disabled(options) or any(name in found for name in S2S_SWITCHES):
        return None
    first = min(present, key=lambda o: (o.file, o.line))
    return (
        f"{_where(first)}: {first.name} is set but s2s_ports is not: federation is off "
        "(s2s_ports = { 5269 } turns it on)"
    )


def _disabled(options: Options) -> bool:
    """
    Whether C{modules_disabled} names C{s2s}.
    """
    disabled = options.global_.options.get("modules_disabled")
    return disabled is not None and "s2s" in _asTuple(disabled.value)


def _optionalSecret(value: object) -> str | None:
    """
    C{dialback_secret}: a non-empty string.
    """
    return parseSecret(value)


def _asTuple(value: object) -> tuple[object, ...]:
    """
    A list option as a tuple, a single value as a tuple of one.
    """
    return value if isinstance(value, tuple) else (value,)


def _positiveSeconds(value: object) -> float:
    """
    A number of seconds above 0.
    """
    seconds = parseSeconds(value)
    if seconds <= 0:
        raise ValueError(f"{quote(value)} is not a number of seconds above 0")
    return seconds


def _cafile(options: Options) -> str | None:
    """
    The global C{ssl} table's C{cafile}: the trust store for remote
    servers' certificates.
    """
    option = options.global_.options.get("ssl")
    if option is None or not isinstance(option.value, Mapping):
        return None
    cafile = option.value.get("cafile")
    if cafile is None:
        return None
    if not isinstance(cafile, str) or not cafile:
        raise ConfigError(_where(option), "ssl: cafile must be a file name")
    return options.path(cafile)
