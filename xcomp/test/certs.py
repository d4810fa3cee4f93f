# -*- test-case-name: xcomp.test.test_tls -*-
"""
Throwaway certificates for tests, made when a test runs (no key is ever
committed): a CA, server or client certificates it signs (with an ECDSA or
RSA key, encrypted or not), its revocation lists, and DH parameters.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import warnings
from typing import Iterator

import attrs
from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dh, ec, rsa
from cryptography.x509.oid import NameOID


#: The passphrase of the tests' encrypted keys.
PASSPHRASE = "correct horse battery staple"


@attrs.frozen
class Issued:
    """
    A certificate and its key, written as PEM files.

    @ivar certificate: The certificate's path.
    @ivar key: The key's path.
    """

    certificate: str
    key: str


def _name(common: str) -> x509.Name:
    """
    A subject or issuer name with only a common name.
    """
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


class TestCA:
    """
    A certificate authority that lives in a directory for one test.

    @ivar path: The CA certificate's PEM file.
    """

    def __init__(self, directory: str, name: str = "xcomp test CA") -> None:
        """
        Make the CA's key and self-signed certificate.

        @param directory: Where every file goes; it is created if needed.
        @param name: The CA's common name (two CAs in one trust file need
            two names: OpenSSL finds an issuer by its name).
        """
        directory = os.path.abspath(directory)
        os.makedirs(directory, exist_ok=True)
        self._directory = directory
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        self._certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self.path = os.path.join(directory, "ca.pem")
        with open(self.path, "wb") as f:
            f.write(self._certificate.public_bytes(serialization.Encoding.PEM))

    def issue(
        self, name: str, *, selfSigned: bool = False, rsaKey: bool = False, password: str | None = None
    ) -> Issued:
        """
        Issue a certificate for C{name} (a DNS name or an IP address).

        @param selfSigned: Sign it with its own key instead of the CA's.
        @param rsaKey: Give it an RSA key (which the C{DHE-RSA} ciphers
            need) instead of an ECDSA one.
        @param password: Encrypt the key's file with this passphrase.
        """
        import ipaddress

        key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
        if rsaKey:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            key = ec.generate_private_key(ec.SECP256R1())
        try:
            alternative: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(name))
        except ValueError:
            alternative = x509.DNSName(name)
        now = datetime.datetime.now(datetime.timezone.utc)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name) if selfSigned else self._certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([alternative]), critical=False)
            .sign(key if selfSigned else self._key, hashes.SHA256())
        )
        stem = os.path.join(
            self._directory, name + ("-self" if selfSigned else "") + ("-rsa" if rsaKey else "")
        )
        issued = Issued(stem + ".crt", stem + ".key")
        with open(issued.certificate, "wb") as f:
            f.write(certificate.public_bytes(serialization.Encoding.PEM))
        with open(issued.key, "wb") as f:
            f.write(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.BestAvailableEncryption(password.encode("utf-8"))
                    if password is not None
                    else serialization.NoEncryption(),
                )
            )
        return issued

    def revocationList(self, revoked: list[Issued], name: str = "crl.pem") -> str:
        """
        Write a CRL, signed by this CA, that revokes C{revoked}.

        @return: Its path.
        """
        now = datetime.datetime.now(datetime.timezone.utc)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self._certificate.subject)
            .last_update(now - datetime.timedelta(days=1))
            .next_update(now + datetime.timedelta(days=2))
        )
        for issued in revoked:
            with open(issued.certificate, "rb") as f:
                serial = x509.load_pem_x509_certificate(f.read()).serial_number
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(now - datetime.timedelta(hours=1))
                .build()
            )
        path = os.path.join(self._directory, name)
        with open(path, "wb") as f:
            f.write(builder.sign(self._key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
        return path


#: The DH parameters of this test run, made on first use: making them takes
#: seconds.
_dhParameters: list[bytes] = []


def writeDHParameters(directory: str) -> str:
    """
    Write 2048-bit DH parameters (the smallest OpenSSL's default security
    level takes) into C{directory}, the same ones for every test of a run.

    @return: The file's path.
    """
    if not _dhParameters:
        with _finiteFieldDH():
            parameters = dh.generate_parameters(generator=2, key_size=2048)
            _dhParameters.append(
                parameters.parameter_bytes(serialization.Encoding.PEM, serialization.ParameterFormat.PKCS3)
            )
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(os.path.abspath(directory), "dhparams.pem")
    with open(path, "wb") as f:
        f.write(_dhParameters[0])
    return path


def dhPrime(path: str) -> bytes:
    """
    The prime of the DH parameters in C{path}, big-endian, as a TLS 1.2
    server's key exchange sends it.
    """
    with open(path, "rb") as f, _finiteFieldDH():
        parameters = serialization.load_pem_parameters(f.read())
    assert isinstance(parameters, dh.DHParameters)
    prime = parameters.parameter_numbers().p
    return prime.to_bytes((prime.bit_length() + 7) // 8, "big")


@contextlib.contextmanager
def _finiteFieldDH() -> Iterator[None]:
    """
    Silence C{cryptography}'s deprecation of finite-field DH: C{dhfile}
    configures exactly that, for the clients that still need it.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        yield
