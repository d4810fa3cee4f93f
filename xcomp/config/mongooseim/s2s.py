# -*- test-case-name: xcomp.test.test_tomlcfg_s2s -*-
"""
Server-to-server federation in MongooseIM's TOML: the C{[[listen.s2s]]}
blocks (where remote servers connect) and the C{[s2s]} section (policy,
STARTTLS, certificates, the dialback secret, outgoing connections and
DNS).  s2s is on when the file has either; without both, nothing listens
on 5269.

MongooseIM's C{use_starttls} maps to xcomp's two switches: C{"false"} and
C{"optional"} leave encryption optional, C{"required"} requires it, and
C{"required_trusted"} also requires a valid certificate (no dialback).
C{certfile} (and C{domain_certfile}'s) is a PEM file with the certificate
and its key, as MongooseIM has it.
"""

from __future__ import annotations

from typing import Callable, Mapping

from xcomp.config.domains import prepDomain
from xcomp.config.model import (
    DEFAULT_S2S_DNS_RETRIES,
    DEFAULT_S2S_DNS_TIMEOUT,
    DEFAULT_S2S_PORT,
    DEFAULT_STANZA_SIZE_LIMIT,
    S2SConfig,
    S2SListenerConfig,
    ShaperConfig,
    TLSConfig,
    VERIFY_MODES,
)
from xcomp.config.mongooseim.checks import Checker, quote
from xcomp.config.mongooseim.locate import Path, showPath

__all__ = ["readS2S"]

_S2S_OPTIONS = (
    "default_policy host_policy use_starttls certfile domain_certfile shared address "
    "ciphers max_retry_delay outgoing dns"
).split()
_LISTEN_OPTIONS = "port ip_address ip_version proto shaper max_stanza_size tls".split()
# Listener options MongooseIM has that mean nothing for xcomp.
_IGNORED_LISTEN_OPTIONS = frozenset({"hibernate_after", "num_acceptors", "backlog", "access", "state_timeout"})
_TLS_OPTIONS = "mode certfile keyfile cacertfile dhfile ciphers verify_mode protocol_options".split()
_STARTTLS = ("false", "optional", "required", "required_trusted")


class _Reader:
    """
    The s2s parts of one document.
    """

    def __init__(self, check: Checker, shapers: Mapping[str, ShaperConfig]) -> None:
        self._check = check
        self._shapers = shapers

    def known(self, table: Mapping[str, object], path: Path, known: list[str], ignored: frozenset[str] = frozenset()) -> None:
        """
        Refuse keys of C{table} that mean nothing.
        """
        for key in table:
            if key not in known and key not in ignored:
                self._check.unknown(path + (key,), known)

    def listeners(self, blocks: object) -> tuple[list[S2SListenerConfig], dict[str, object]]:
        """
        The C{[[listen.s2s]]} blocks, and the settings they share: the
        shaper, the stanza size limit, the TLS files.
        """
        check = self._check
        if not isinstance(blocks, list):
            check.fail(("listen", "s2s"), f"expected [[listen.s2s]] blocks, not {quote(blocks)}")
        listeners: list[S2SListenerConfig] = []
        shared: dict[str, object] = {}
        seen: dict[tuple[int, str], Path] = {}
        for i, block in enumerate(blocks):
            path: Path = ("listen", "s2s", i)
            table = check.table(block, path)
            self.known(table, path, _LISTEN_OPTIONS, _IGNORED_LISTEN_OPTIONS)
            if "port" not in table:
                check.fail(path + ("port",), "missing (it is mandatory)")
            port = table["port"]
            if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
                check.fail(path + ("port",), f"expected a port number (1-65535), not {quote(port)}")
            version = check.choiceInt(table["ip_version"], path + ("ip_version",), (4, 6)) if "ip_version" in table else None
            # Loopback unless told otherwise, as for the component listeners.
            interface = (
                check.address(table["ip_address"], path + ("ip_address",))
                if "ip_address" in table
                else ("::1" if version == 6 else "127.0.0.1")
            )
            if "proto" in table:
                check.choice(table["proto"], path + ("proto",), ("tcp",))
            if "shaper" in table:
                name = check.string(table["shaper"], path + ("shaper",))
                if name != "none":
                    if name not in self._shapers:
                        check.fail(path + ("shaper",), f'there is no shaper "{name}" in [shaper]')
                    shared["shaper"] = self._shapers[name]
            if "max_stanza_size" in table:
                shared["stanzaSizeLimit"] = check.count(table["max_stanza_size"], path + ("max_stanza_size",))
            direct = False
            if "tls" in table:
                direct = self.tls(table["tls"], path + ("tls",), shared)
            if (port, interface) in seen:
                check.fail(path + ("port",), f"{interface}:{port} is already used by {showPath(seen[(port, interface)])}")
            seen[(port, interface)] = path
            listeners.append(S2SListenerConfig(port, interface, directTLS=direct, location=check.at(path)))
        return listeners, shared

    def tls(self, value: object, path: Path, shared: dict[str, object]) -> bool:
        """
        A listener's C{tls} subsection; whether it asks for direct TLS
        (C{mode = "tls"}, XEP-0368) rather than STARTTLS.
        """
        check = self._check
        table = check.table(value, path)
        self.known(table, path, _TLS_OPTIONS)
        mode = check.choice(table.get("mode", "starttls"), path + ("mode",), ("tls", "starttls", "starttls_required"))
        if "certfile" in table:
            certificate = self._check.file(table["certfile"], path + ("certfile",))
            key = self._check.file(table["keyfile"], path + ("keyfile",)) if "keyfile" in table else certificate
            shared["tls"] = TLSConfig(
                certificate,
                key,
                ciphers=check.string(table["ciphers"], path + ("ciphers",)) if "ciphers" in table else None,
                dhParameters=self._check.file(table["dhfile"], path + ("dhfile",)) if "dhfile" in table else None,
                protocolOptions=tuple(check.strings(table["protocol_options"], path + ("protocol_options",)))
                if "protocol_options" in table
                else (),
                location=check.at(path),
                label=showPath(path),
            )
        if "cacertfile" in table:
            shared["cafile"] = self._check.file(table["cacertfile"], path + ("cacertfile",))
        if "verify_mode" in table:
            check.choice(table["verify_mode"], path + ("verify_mode",), VERIFY_MODES)
        if mode == "starttls_required":
            shared["required"] = True
        return mode == "tls"

    def policy(self, section: Mapping[str, object]) -> dict[str, str]:
        """
        C{host_policy}: an array of C{{host = "...", policy = "allow"}}.
        """
        check = self._check
        path: Path = ("s2s", "host_policy")
        items = section["host_policy"]
        if not isinstance(items, list):
            check.fail(path, f'expected an array like [{{host = "x.org", policy = "deny"}}], not {quote(items)}')
        policies = {}
        for i, item in enumerate(items):
            entry = check.table(item, path + (i,))
            self.known(entry, path + (i,), ["host", "policy"])
            for key in ("host", "policy"):
                if key not in entry:
                    check.fail(path + (i, key), "missing (it is mandatory)")
            policies[self.domain(entry["host"], path + (i, "host"))] = check.choice(
                entry["policy"], path + (i, "policy"), ("allow", "deny")
            )
        return policies

    def domain(self, value: object, path: Path) -> str:
        """
        A domain, nameprep'd.
        """
        try:
            return prepDomain(self._check.string(value, path))
        except ValueError as e:
            self._check.fail(path, str(e))

    def addresses(self, section: Mapping[str, object]) -> dict[str, tuple[str, int]]:
        """
        C{address}: C{[{host = "x.org", ip_address = "...", port = 5269}]}.
        """
        check = self._check
        path: Path = ("s2s", "address")
        items = section["address"]
        if not isinstance(items, list):
            check.fail(path, f'expected an array like [{{host = "x.org", ip_address = "127.0.0.1"}}], not {quote(items)}')
        overrides = {}
        for i, item in enumerate(items):
            entry = check.table(item, path + (i,))
            self.known(entry, path + (i,), ["host", "ip_address", "port"])
            for key in ("host", "ip_address"):
                if key not in entry:
                    check.fail(path + (i, key), "missing (it is mandatory)")
            port = entry.get("port", DEFAULT_S2S_PORT)
            if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
                check.fail(path + (i, "port"), f"expected a port number (1-65535), not {quote(port)}")
            overrides[self.domain(entry["host"], path + (i, "host"))] = (
                check.address(entry["ip_address"], path + (i, "ip_address")),
                port,
            )
        return overrides

    def domainCertificates(self, section: Mapping[str, object], ciphers: str | None) -> dict[str, TLSConfig]:
        """
        C{domain_certfile}: C{[{domain = "x.org", certfile = "x.pem"}]}.
        """
        check = self._check
        path: Path = ("s2s", "domain_certfile")
        items = section["domain_certfile"]
        if not isinstance(items, list):
            check.fail(path, f'expected an array like [{{domain = "x.org", certfile = "x.pem"}}], not {quote(items)}')
        found = {}
        for i, item in enumerate(items):
            entry = check.table(item, path + (i,))
            self.known(entry, path + (i,), ["domain", "certfile"])
            for key in ("domain", "certfile"):
                if key not in entry:
                    check.fail(path + (i, key), "missing (it is mandatory)")
            name = self._check.file(entry["certfile"], path + (i, "certfile"))
            found[self.domain(entry["domain"], path + (i, "domain"))] = TLSConfig(
                name, name, ciphers=ciphers, location=check.at(path + (i,)), label=showPath(path + (i,))
            )
        return found


def readS2S(
    check: Checker, document: Mapping[str, object], hosts: Mapping[str, object], shapers: Mapping[str, ShaperConfig]
) -> S2SConfig | None:
    """
    The s2s settings, or L{None} when the file has neither
    C{[[listen.s2s]]} nor C{[s2s]}.

    @param hosts: The local domains (C{general.hosts}).
    """
    listen = document.get("listen", {})
    blocks = listen.get("s2s") if isinstance(listen, dict) else None
    if blocks is None and "s2s" not in document:
        return None
    reader = _Reader(check, shapers)
    listeners, shared = reader.listeners(blocks) if blocks is not None else ([], {})
    section = check.table(document.get("s2s", {}), ("s2s",))
    reader.known(section, ("s2s",), _S2S_OPTIONS)
    path: Path = ("s2s",)

    def get(key: str, default: object, convert: Callable[[object, Path], object]) -> object:
        return convert(section[key], path + (key,)) if key in section else default

    starttls = str(get("use_starttls", "false", lambda v, p: check.choice(v, p, _STARTTLS)))
    ciphers = get("ciphers", None, check.string)
    assert ciphers is None or isinstance(ciphers, str)
    certificates: dict[str, TLSConfig] = {}
    common = shared.get("tls")
    if "certfile" in section:
        name = check.file(section["certfile"], path + ("certfile",))
        common = TLSConfig(name, name, ciphers=ciphers, location=check.at(path + ("certfile",)), label="s2s.certfile")
    if isinstance(common, TLSConfig):
        certificates = {domain: common for domain in hosts}
    if "domain_certfile" in section:
        certificates.update(reader.domainCertificates(section, ciphers))
    outgoing = check.table(section.get("outgoing", {}), path + ("outgoing",))
    reader.known(outgoing, path + ("outgoing",), ["port", "ip_versions", "connection_timeout"])
    dns = check.table(section.get("dns", {}), path + ("dns",))
    reader.known(dns, path + ("dns",), ["timeout", "retries"])
    outPath = path + ("outgoing",)
    versions = (
        [check.choiceInt(v, outPath + ("ip_versions", i), (4, 6)) for i, v in enumerate(_array(check, outgoing["ip_versions"], outPath + ("ip_versions",)))]
        if "ip_versions" in outgoing
        else [4, 6]
    )
    if not versions:
        check.fail(outPath + ("ip_versions",), "expected at least one of 4 and 6")
    connectTimeout = check.milliseconds(outgoing["connection_timeout"], outPath + ("connection_timeout",)) if "connection_timeout" in outgoing else 10.0
    get("max_retry_delay", None, check.count)
    dnsTimeout = DEFAULT_S2S_DNS_TIMEOUT
    if "timeout" in dns:
        dnsTimeout = float(check.count(dns["timeout"], path + ("dns", "timeout")))
    dnsRetries = DEFAULT_S2S_DNS_RETRIES
    if "retries" in dns:
        dnsRetries = check.positive(dns["retries"], path + ("dns", "retries"), False, lowest=0) or 0
    cafile = shared.get("cafile")
    secret = get("shared", None, check.string)
    size = shared.get("stanzaSizeLimit", DEFAULT_STANZA_SIZE_LIMIT)
    shaper = shared.get("shaper")
    assert cafile is None or isinstance(cafile, str)
    assert secret is None or isinstance(secret, str)
    assert isinstance(size, int)
    assert shaper is None or isinstance(shaper, ShaperConfig)
    return S2SConfig(
        listeners=tuple(listeners),
        requireEncryption=starttls in ("required", "required_trusted") or bool(shared.get("required")),
        secureAuth=starttls == "required_trusted",
        certificates=certificates,
        caCertificates=cafile,
        dialbackSecret=secret,
        connectOverrides=reader.addresses(section) if "address" in section else {},
        stanzaSizeLimit=size,
        shaper=shaper,
        defaultPolicy=str(get("default_policy", "allow", lambda v, p: check.choice(v, p, ("allow", "deny")))),
        hostPolicy=reader.policy(section) if "host_policy" in section else {},
        outgoingPort=_port(check, outgoing, outPath),
        ipVersions=tuple(dict.fromkeys(versions)),
        connectTimeout=connectTimeout,
        dnsTimeout=dnsTimeout,
        dnsRetries=dnsRetries,
        location=check.at(("listen", "s2s", 0) if blocks else path),
    )


def _array(check: Checker, value: object, path: Path) -> list[object]:
    """
    A TOML array.
    """
    if not isinstance(value, list):
        check.fail(path, f"expected an array, not {quote(value)}")
    return value


def _port(check: Checker, outgoing: Mapping[str, object], path: Path) -> int:
    """
    C{outgoing.port}: where a remote server without SRV records is
    reached.
    """
    if "port" not in outgoing:
        return DEFAULT_S2S_PORT
    port = outgoing["port"]
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        check.fail(path + ("port",), f"expected a port number (1-65535), not {quote(port)}")
    return port
