# -*- test-case-name: xcomp.test.test_config -*-
"""
Prosody's C{ssl} tables, as LuaSec reads them, turned into L{TLSConfig}.

The files are named, not opened: the service layer (L{xcomp.tls}) loads
them, and reports a file it cannot use at the line that named it.
"""

from __future__ import annotations

import os
from typing import Mapping

from xcomp.config.model import TLS_VERSIONS, VERIFY_MODES, Location, TLSConfig
from xcomp.config.values import EMPTY, quote

__all__ = ["parseSSL", "parseProtocol"]

#: LuaSec's C{protocol} names for the versions of L{TLS_VERSIONS}.
_PROTOCOLS = {name.replace(".", "_"): name for name in TLS_VERSIONS}


def parseProtocol(value: object) -> tuple[str, ...]:
    """
    LuaSec's C{protocol}: C{"tlsv1_2"} for that version alone,
    C{"tlsv1_2+"} for it and every later one, C{"sslv23"} or C{"any"} for
    the defaults.

    @raise ValueError: With the reason.
    """
    if value in ("sslv23", "any"):
        return ()
    if isinstance(value, str):
        name, plus = value.removesuffix("+"), value.endswith("+")
        if name in _PROTOCOLS:
            first = TLS_VERSIONS.index(_PROTOCOLS[name])
            return TLS_VERSIONS[first:] if plus else TLS_VERSIONS[first : first + 1]
    raise ValueError(
        f'protocol: expected "tlsv1_2", "tlsv1_2+", "tlsv1_3" (or another of '
        f'{", ".join(map(quote, _PROTOCOLS))}, with or without "+"), not {quote(value)}'
    )


def _fileNames(value: object, name: str) -> tuple[str, ...]:
    """
    A file name, or a list of them.
    """
    items = value if isinstance(value, tuple) else (value,)
    if not items or not all(isinstance(item, str) and item for item in items):
        raise ValueError(f"{name}: expected a file name or a list of file names")
    return tuple(str(item) for item in items)


def parseSSL(value: object, base: str, location: Location | None, label: str) -> TLSConfig | None:
    """
    Convert a Prosody C{ssl} table: C{certificate}, C{key}, C{password}
    (of an encrypted key), C{cafile}, C{verify} (C{"none"}, C{"peer"},
    C{"selfsigned_peer"}, or LuaSec's list form), C{ciphers}, C{options}
    (OpenSSL option names), C{dhparam} (a file of DH parameters),
    C{protocol} (see L{parseProtocol}) and xcomp's C{crlfile} (a file, or a
    list, of revocation lists).  Other keys LuaSec knows (C{curve},
    C{depth}...) are ignored.  A table with neither certificate nor key
    gives L{None}.

    @param base: The directory relative file names are resolved against.
    @param location: Where the table was set, kept for messages about its
        files.
    @param label: The option's name in those messages.
    @raise ValueError: With the reason.
    """
    if value == ():
        value = EMPTY
    if not isinstance(value, Mapping):
        raise ValueError(
            f"expected a table like {{ certificate = \"...\"; key = \"...\" }}, not {quote(value)}"
        )

    def path(name: str) -> str:
        return os.path.normpath(os.path.join(base, os.path.expanduser(name)))

    certificate, key = value.get("certificate"), value.get("key")
    if certificate is None and key is None:
        return None
    if not isinstance(certificate, str) or not certificate:
        raise ValueError("certificate must be set to a file name")
    if not isinstance(key, str) or not key:
        raise ValueError("key must be set to a file name")
    files = {}
    for name in ("cafile", "dhparam"):
        given = value.get(name)
        if given is not None and (not isinstance(given, str) or not given):
            raise ValueError(f"{name} must be a file name")
        files[name] = path(given) if given else None
    password = value.get("password")
    if password is not None and not isinstance(password, str):
        raise ValueError("password: expected the key's passphrase as a string")
    verify = value.get("verify", "none")
    if isinstance(verify, tuple):
        # LuaSec's list form, { "peer", "fail_if_no_peer_cert" }.
        verify = "peer" if "peer" in verify else "none"
    if verify not in VERIFY_MODES:
        raise ValueError(f"verify: expected {', '.join(map(quote, VERIFY_MODES))}, not {quote(verify)}")
    ciphers = value.get("ciphers")
    if ciphers is not None and not isinstance(ciphers, str):
        raise ValueError("ciphers: expected an OpenSSL cipher string")
    options = value.get("options", ())
    if isinstance(options, str):
        options = (options,)
    if not isinstance(options, tuple) or not all(isinstance(o, str) for o in options):
        raise ValueError("options: expected a list of OpenSSL option names")
    crl = value.get("crlfile")
    return TLSConfig(
        path(certificate),
        path(key),
        caCertificates=files["cafile"],
        verifyMode=str(verify),
        ciphers=ciphers,
        protocolOptions=options,
        keyPassword=password,
        dhParameters=files["dhparam"],
        versions=parseProtocol(value["protocol"]) if "protocol" in value else (),
        crlFiles=tuple(map(path, _fileNames(crl, "crlfile"))) if crl is not None else (),
        location=location,
        label=label,
    )
