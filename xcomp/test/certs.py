# -*- test-case-name: xcomp.test.test_tls -*-
"""
Throwaway certificates for tests, made when a test runs (no key is ever
committed): a CA, and server or client certificates it signs.
"""

from __future__ import annotations

import datetime
import os

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


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

    def __init__(self, directory: str) -> None:
        """
        Make the CA's key and self-signed certificate.

        @param directory: Where every file goes; it is created if needed.
        """
        directory = os.path.abspath(directory)
        os.makedirs(directory, exist_ok=True)
        self._directory = directory
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        self._certificate = (
            x509.CertificateBuilder()
            .subject_name(_name("xcomp test CA"))
            .issuer_name(_name("xcomp test CA"))
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

    def issue(self, name: str, *, selfSigned: bool = False) -> Issued:
        """
        Issue a certificate for C{name} (a DNS name or an IP address).

        @param selfSigned: Sign it with its own key instead of the CA's.
        """
        import ipaddress

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
        stem = os.path.join(self._directory, name + ("-self" if selfSigned else ""))
        issued = Issued(stem + ".crt", stem + ".key")
        with open(issued.certificate, "wb") as f:
            f.write(certificate.public_bytes(serialization.Encoding.PEM))
        with open(issued.key, "wb") as f:
            f.write(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        return issued
