# -*- test-case-name: xcomp.test.test_tlsopts,xcomp.test.test_tls -*-
"""
TLS for direct-TLS component listeners: the server side's OpenSSL context,
built with pyOpenSSL through Twisted's L{CertificateOptions} from a
L{TLSConfig}.  Certificates and keys are handed over as C{cryptography}
objects: pyOpenSSL (24.3 and later) takes them, and has deprecated its own.

What L{CertificateOptions} can say (the key and chain, the trust roots,
the ciphers, the DH parameters, the oldest and newest TLS version) is said
through it; the rest (a gap in the versions, C{protocol_options}, the CRLs,
C{selfsigned_peer}) is set on the context it makes, once, before any
connection uses it.

The configuration names the files; they are opened here, when the service
is built (L{tlsError} gives the C{file:line:} of the option that named a
file that cannot be used), so a missing, unreadable or mismatched
certificate, key, CA file, DH parameter file or CRL, or a wrong key
passphrase, stops startup with a message naming the file.  The passphrase
itself is never part of a message.  At runtime, a client certificate that
is refused is logged with the peer, its subject and OpenSSL's reason.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar

import attrs
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key
from OpenSSL import SSL, crypto
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.ssl import (
    AcceptableCiphers,
    Certificate,
    CertificateOptions,
    DiffieHellmanParameters,
    TLSVersion,
    platformTrust,
    trustRootFromCertificates,
)
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOProtocol
from twisted.python.filepath import FilePath

from xcomp.config import TLS_VERSIONS, ConfigError, Location, RouterConfig, TLSConfig

if TYPE_CHECKING:
    # Twisted exports the trust roots, not their interface.
    from twisted.internet._sslverify import IOpenSSLTrustRoot

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

#: Twisted's constant, and the OpenSSL option that turns it off, for each
#: of L{TLS_VERSIONS}, in the same order.
_VERSIONS = dict(
    zip(
        TLS_VERSIONS,
        (
            (TLSVersion.TLSv1_0, SSL.OP_NO_TLSv1),
            (TLSVersion.TLSv1_1, SSL.OP_NO_TLSv1_1),
            (TLSVersion.TLSv1_2, SSL.OP_NO_TLSv1_2),
            (TLSVersion.TLSv1_3, SSL.OP_NO_TLSv1_3),
        ),
    )
)

#: OpenSSL's C{X509_V_ERR_CERT_REVOKED}.
_CERT_REVOKED = 23

#: The C{X509_V_ERR_*} codes a client certificate most often meets, in
#: OpenSSL's words, for the log (pyOpenSSL has no public way to ask).
#: The verification failures that say only that a certificate, or the root
#: of its chain, is self-signed: what C{selfsigned_peer} lets through.  Any
#: other (expired, unknown CA, revoked, bad signature) still refuses, as
#: MongooseIM's "valid, but self-signed allowed" says.
_SELF_SIGNED = frozenset({18, 19})

_VERIFY_ERRORS = {
    2: "unable to get issuer certificate",
    3: "unable to get certificate CRL",
    7: "certificate signature failure",
    9: "certificate is not yet valid",
    10: "certificate has expired",
    12: "CRL has expired",
    18: "self-signed certificate",
    19: "self-signed certificate in certificate chain",
    20: "unable to get local issuer certificate",
    21: "unable to verify the first certificate",
    _CERT_REVOKED: "certificate revoked",
}

#: The PEM armour of DH parameters (PKCS#3, and X9.42 as OpenSSL writes
#: them).
_DH_PEM = re.compile(rb"-----BEGIN (X9\.42 )?DH PARAMETERS-----")


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


def _privateKey(tls: TLSConfig) -> PrivateKeyTypes:
    """
    The private key, decrypted with C{tls.keyPassword} if it is encrypted.
    A passphrase given for a key that has none is not needed, and not an
    error (OpenSSL ignores it too).

    @raise ValueError: Naming the key file, never the passphrase.
    """
    data = _read(tls.key, "key")
    password = None if tls.keyPassword is None else tls.keyPassword.encode("utf-8")
    try:
        return load_pem_private_key(data, password)
    except TypeError:
        # Either no password for an encrypted key, or one for a plain key.
        if password is None:
            raise ValueError(f"the key {tls.key} is encrypted, and no password is set for it") from None
    except ValueError:
        if password is not None and b"ENCRYPTED" in data:
            raise ValueError(f"the password set does not decrypt the key {tls.key}") from None
        raise ValueError(f"the key {tls.key} holds no PEM private key") from None
    return load_pem_private_key(data, None)


def _publicBytes(key: PublicKeyTypes) -> bytes:
    """
    The DER SubjectPublicKeyInfo of a public key, to compare two.
    """
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _dhParameters(path: str) -> DiffieHellmanParameters:
    """
    DH parameters from a PEM file, tried on a scratch context so that a
    file OpenSSL would refuse (too small a group for its security level)
    is refused now.

    @raise ValueError: Naming the file.
    """
    if not _DH_PEM.search(_read(path, "DH parameter file")):
        raise ValueError(f"the DH parameter file {path} holds no PEM DH parameters")
    try:
        SSL.Context(SSL.TLS_SERVER_METHOD).load_tmp_dh(path)
    except SSL.Error as e:
        raise ValueError(f"OpenSSL refuses the DH parameters in {path}: {_reason(e)}") from None
    return DiffieHellmanParameters.fromFile(FilePath(path))


def _revocationLists(
    paths: tuple[str, ...], authorities: list[x509.Certificate] | None
) -> list[x509.CertificateRevocationList]:
    """
    Every CRL of C{crl_files}, each checked against the CA certificates
    when those are configured: a CRL no CA signed would never apply, and
    every client certificate of its CA would then be refused.

    @raise ValueError: Naming the file.
    """
    crls = []
    for path in paths:
        data = _read(path, "CRL")
        try:
            crl = x509.load_pem_x509_crl(data)
        except ValueError:
            raise ValueError(f"the CRL {path} holds no PEM certificate revocation list") from None
        if authorities is not None and not any(
            ca.subject == crl.issuer and crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
            for ca in authorities
        ):
            raise ValueError(f"the CRL {path} is not signed by a CA of the CA certificate file")
        crls.append(crl)
    return crls


def _versionBounds(versions: tuple[str, ...]) -> tuple[dict[str, TLSVersion], int]:
    """
    The oldest and newest of the allowed versions, as L{CertificateOptions}
    takes them, and the OpenSSL options that turn off the versions between
    them that are not allowed (C{["tlsv1.1", "tlsv1.3"]}).
    """
    if not versions:
        return {}, 0
    listed = [name for name in TLS_VERSIONS if name in versions]
    first, last = TLS_VERSIONS.index(listed[0]), TLS_VERSIONS.index(listed[-1])
    gaps = 0
    for name in TLS_VERSIONS[first : last + 1]:
        if name not in versions:
            gaps |= _VERSIONS[name][1]
    # insecurelyLowerMinimumTo: the configuration asked for it by name.
    bounds = {
        "insecurelyLowerMinimumTo": _VERSIONS[listed[0]][0],
        "lowerMaximumSecurityTo": _VERSIONS[listed[-1]][0],
    }
    return bounds, gaps


def _reason(error: SSL.Error) -> str:
    """
    OpenSSL's reasons in an error, without the library and function names.
    """
    reasons = [
        str(entry[-1]) for entry in (error.args[0] if error.args else ()) if isinstance(entry, tuple)
    ]
    return ", ".join(reasons) or "unknown error"


@attrs.frozen
class _ClientCertificateCheck:
    """
    OpenSSL's verification callback for client certificates: OpenSSL's
    verdict (C{peer}), or that verdict forgiving only self-signedness
    (C{selfsigned_peer}); a refusal is logged with the peer and the
    reason, which the client only sees as an alert.

    @ivar selfSigned: Whether this is C{selfsigned_peer}.
    """

    selfSigned: bool
    _log: ClassVar[Logger] = Logger()

    def __call__(
        self, connection: SSL.Connection, certificate: crypto.X509, errno: int, depth: int, ok: int
    ) -> bool:
        """
        Decide on one certificate of the client's chain.
        """
        if ok or (self.selfSigned and errno in _SELF_SIGNED):
            return True
        transport = getattr(connection.get_app_data(), "transport", None)
        address = getattr(transport, "getPeer", lambda: None)()
        self._log.warn(
            "Client certificate from {peer} refused: {reason} ({subject}, depth {depth})",
            peer=f"{address.host}:{address.port}" if isinstance(address, (IPv4Address, IPv6Address)) else "-",
            reason=_VERIFY_ERRORS.get(errno, f"OpenSSL verification error {errno}"),
            subject=certificate.to_cryptography().subject.rfc4514_string(),
            depth=depth,
        )
        return False


class _ListenerTLSOptions(CertificateOptions):
    """
    L{CertificateOptions} whose connections know their protocol, for
    L{_ClientCertificateCheck} to name the peer.
    """

    def serverConnectionForTLS(self, protocol: TLSMemoryBIOProtocol) -> SSL.Connection:
        """
        A server connection, with C{protocol} as its application data.
        """
        connection = super().serverConnectionForTLS(protocol)
        connection.set_app_data(protocol)
        return connection


def _protocolOptions(names: tuple[str, ...]) -> int:
    """
    The OpenSSL options named by C{protocol_options}.

    @raise ValueError: Naming an unknown one.
    """
    flags = 0
    for name in names:
        if name not in PROTOCOL_OPTIONS:
            raise ValueError(
                f"unknown protocol option {name!r} (known: {', '.join(sorted(PROTOCOL_OPTIONS))})"
            )
        flags |= PROTOCOL_OPTIONS[name]
    return flags


def _trustRoot(
    verifyMode: str, authorities: list[x509.Certificate] | None
) -> IOpenSSLTrustRoot | None:
    """
    What client certificates are checked against: the CAs of
    C{cacertfile}, or the system's without one; nothing for C{none}.
    """
    if verifyMode == "none":
        return None
    if authorities is None:
        return platformTrust()
    # Twisted's trust roots still wrap pyOpenSSL certificates.
    return trustRootFromCertificates([Certificate(crypto.X509.from_cryptography(c)) for c in authorities])


def _requireClientCertificates(
    context: SSL.Context, verifyMode: str, crls: list[x509.CertificateRevocationList]
) -> None:
    """
    Require a client certificate (C{peer}, C{selfsigned_peer}), checked
    by L{_ClientCertificateCheck}, and against C{crls}.
    """
    # selfsigned_peer too has the chain checked, for the CRLs to apply.
    context.set_verify(
        SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT | SSL.VERIFY_CLIENT_ONCE,
        _ClientCertificateCheck(verifyMode == "selfsigned_peer"),
    )
    if crls:
        store = context.get_cert_store()
        assert store is not None, "an OpenSSL context always has a store"
        for crl in crls:
            store.add_crl(crl)
        # The client's own certificate is checked; an intermediate CA's
        # revocation would need the CRL of the CA above it, which
        # crl_files may not hold.
        store.set_flags(crypto.X509StoreFlags.CRL_CHECK)


def contextFactory(tls: TLSConfig) -> CertificateOptions:
    """
    Build the server-side TLS settings of a listener, and check them by
    making the OpenSSL context once.

    @raise ValueError: With a message that names the file at fault.
    """
    chain = _certificates(tls.certificate, "certificate")
    key = _privateKey(tls)
    if _publicBytes(key.public_key()) != _publicBytes(chain[0].public_key()):
        raise ValueError(f"the key {tls.key} does not belong to the certificate {tls.certificate}")
    authorities = None
    if tls.caCertificates is not None:
        authorities = _certificates(tls.caCertificates, "CA certificate file")
    crls = _revocationLists(tls.crlFiles, authorities)
    dhParameters = None if tls.dhParameters is None else _dhParameters(tls.dhParameters)
    trustRoot = _trustRoot(tls.verifyMode, authorities)
    ciphers = None
    if tls.ciphers is not None:
        ciphers = AcceptableCiphers.fromOpenSSLCipherString(tls.ciphers)
        if not ciphers._ciphers:
            raise ValueError(f"no cipher OpenSSL knows matches {tls.ciphers!r}")
    bounds, flags = _versionBounds(tls.versions)
    flags |= _protocolOptions(tls.protocolOptions)
    options = _ListenerTLSOptions(
        privateKey=key,  # type: ignore[arg-type]
        certificate=chain[0],  # type: ignore[arg-type]
        extraCertChain=chain[1:],  # type: ignore[arg-type]
        trustRoot=trustRoot,
        acceptableCiphers=ciphers,
        dhParameters=dhParameters,
        **bounds,
    )
    try:
        # Made once and cached by CertificateOptions: the changes below
        # apply to every connection.
        context = options.getContext()
    except SSL.Error as e:
        raise ValueError(f"OpenSSL refuses these TLS settings: {_reason(e)}") from None
    if tls.ciphers is not None:
        # Twisted keeps the ciphers and drops OpenSSL's directives, such
        # as the @SECLEVEL=0 that TLS 1.0 and 1.1 need.
        context.set_cipher_list(tls.ciphers.encode("ascii"))
    if tls.verifyMode != "none":
        _requireClientCertificates(context, tls.verifyMode, crls)
    if flags:
        context.set_options(flags)
    _checkUsable(context, tls)
    return options


def _checkUsable(context: SSL.Context, tls: TLSConfig) -> None:
    """
    Check that a handshake can start with these settings, by writing a
    ClientHello with the same options (the versions turned off among them)
    and ciphers: versions that OpenSSL's security level rules out, or
    ciphers that none of the versions can use, would otherwise only show
    as every client's handshake failing.  The check uses a scratch
    context: pyOpenSSL allows no change to one that a connection has used.

    @raise ValueError: With OpenSSL's reason.
    """
    scratch = SSL.Context(SSL.TLS_METHOD)
    # set_options answers with the options now set.
    scratch.set_options(context.set_options(0))
    scratch.set_cipher_list((tls.ciphers or "DEFAULT").encode("ascii"))
    probe = SSL.Connection(scratch, None)
    probe.set_connect_state()
    try:
        probe.do_handshake()
    except SSL.WantReadError:
        return
    except SSL.Error as e:
        message = "no handshake is possible with " + (", ".join(tls.versions) or "the default versions")
        if tls.ciphers is not None:
            message += f" and the ciphers {tls.ciphers!r}"
        message += f": {_reason(e)}"
        if {"tlsv1", "tlsv1.1"} & set(tls.versions):
            message += ' (OpenSSL allows TLS 1.0 and 1.1 only with ciphers = "...:@SECLEVEL=0")'
        raise ValueError(message) from None


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
    Build the TLS settings of every direct-TLS listener once, so that a
    file that cannot be used, or a key that cannot be decrypted, stops
    startup before anything listens.

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
