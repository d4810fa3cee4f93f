# -*- test-case-name: xcomp.test.test_tls -*-
"""
TLS for direct-TLS component listeners: the server side's OpenSSL context,
built with pyOpenSSL through Twisted's L{CertificateOptions} from a
L{TLSConfig}.  Certificates and keys are handed over as C{cryptography}
objects: pyOpenSSL (24.3 and later) takes them, and has deprecated its own.

The configuration names the files; they are opened here, when the service
is built (L{tlsError} gives the C{file:line:} of the option that named a
file that cannot be used), so a missing, unreadable or mismatched
certificate or key stops startup with a message naming it.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from OpenSSL import SSL, crypto
from twisted.internet.ssl import (
    AcceptableCiphers,
    CertificateOptions,
    Certificate,
    platformTrust,
    trustRootFromCertificates,
)

from xcomp.config import ConfigError, Location, RouterConfig, TLSConfig

__all__ = ["PROTOCOL_OPTIONS", "checkListeners", "contextFactory", "tlsError"]

#: The names accepted in C{protocol_options} (Prosody's C{options}): the
#: OpenSSL C{SSL_OP_*} flags, lower case, without the prefix.
PROTOCOL_OPTIONS = {
    name[3:].lower(): getattr(SSL, name)
    for name in (
        "OP_NO_SSLv2",
        "OP_NO_SSLv3",
        "OP_NO_TLSv1",
        "OP_NO_TLSv1_1",
        "OP_NO_TLSv1_2",
        "OP_NO_TLSv1_3",
        "OP_NO_TICKET",
        "OP_NO_COMPRESSION",
        "OP_NO_RENEGOTIATION",
        "OP_CIPHER_SERVER_PREFERENCE",
        "OP_SINGLE_DH_USE",
        "OP_SINGLE_ECDH_USE",
    )
    if hasattr(SSL, name)
}


def _read(path: str, what: str) -> bytes:
    """
    Read a PEM file.

    @raise ValueError: Naming the file, if it cannot be read.
    """
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ValueError(f"cannot read the {what} {path}: {e.strerror}") from None


def _certificates(path: str, what: str) -> list[x509.Certificate]:
    """
    Every certificate in a PEM file, in order.

    @raise ValueError: Naming the file, if it has none or cannot be read.
    """
    data = _read(path, what)
    try:
        loaded = x509.load_pem_x509_certificates(data)
    except ValueError:
        loaded = []
    if not loaded:
        raise ValueError(f"the {what} {path} holds no PEM certificate")
    return loaded


def contextFactory(tls: TLSConfig) -> CertificateOptions:
    """
    Build the server-side TLS settings of a listener, and check them by
    making the OpenSSL context once.

    @raise ValueError: With a message that names the file at fault.
    """
    chain = _certificates(tls.certificate, "certificate")
    keyData = _read(tls.key, "key")
    try:
        key = load_pem_private_key(keyData, None)
    except (ValueError, TypeError):
        raise ValueError(
            f"the key {tls.key} holds no PEM private key (or it is encrypted)"
        ) from None
    trustRoot = None
    if tls.verifyMode == "peer" and tls.caCertificates is not None:
        # Twisted's trust roots still wrap pyOpenSSL certificates.
        trustRoot = trustRootFromCertificates(
            [
                Certificate(crypto.X509.from_cryptography(c))
                for c in _certificates(tls.caCertificates, "CA certificate file")
            ]
        )
    elif tls.verifyMode != "none":
        # "peer" without a cacertfile checks against the system's CAs;
        # "selfsigned_peer" replaces the check below.
        trustRoot = platformTrust()
    ciphers = None
    if tls.ciphers is not None:
        ciphers = AcceptableCiphers.fromOpenSSLCipherString(tls.ciphers)
        if not ciphers._ciphers:  # type: ignore[attr-defined]
            raise ValueError(f"no cipher OpenSSL knows matches {tls.ciphers!r}")
    options = CertificateOptions(
        privateKey=key,  # type: ignore[arg-type]
        certificate=chain[0],  # type: ignore[arg-type]
        extraCertChain=chain[1:],  # type: ignore[arg-type]
        trustRoot=trustRoot,
        acceptableCiphers=ciphers,
    )
    try:
        # Made once and cached by CertificateOptions: the changes below
        # apply to every connection.
        context = options.getContext()
    except SSL.Error:
        raise ValueError(
            f"the key {tls.key} does not belong to the certificate {tls.certificate}"
        ) from None
    if tls.verifyMode == "selfsigned_peer":
        # A certificate is required, and any is accepted.
        context.set_verify(
            SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, lambda *args: True
        )
    flags = 0
    for name in tls.protocolOptions:
        if name not in PROTOCOL_OPTIONS:
            raise ValueError(
                f"unknown protocol option {name!r} (known: {', '.join(sorted(PROTOCOL_OPTIONS))})"
            )
        flags |= PROTOCOL_OPTIONS[name]
    if flags:
        context.set_options(flags)
    return options


def tlsError(tls: TLSConfig, fallback: Location | None, what: str, error: ValueError) -> ConfigError:
    """
    The configuration error for TLS settings that cannot be used: at the
    line of the option that set them, when known.

    @param fallback: Where to report it otherwise (the listener).
    @param what: What to name otherwise (the listener's address).
    """
    if tls.location is not None and tls.label is not None:
        return ConfigError(tls.location, f"{tls.label}: {error}")
    return ConfigError(fallback, f"{what}: {error}")


def checkListeners(config: RouterConfig) -> None:
    """
    Load the certificate and key of every direct-TLS listener once, so that
    a file that cannot be used stops startup before anything listens.

    @raise ConfigError: Naming the file and the option that named it.
    """
    for listener in config.listeners:
        if listener.tls is not None:
            try:
                contextFactory(listener.tls)
            except ValueError as e:
                raise tlsError(
                    listener.tls, listener.location, f"{listener.interface}:{listener.port}", e
                ) from None
