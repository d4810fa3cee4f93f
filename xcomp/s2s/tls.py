# -*- test-case-name: xcomp.test.test_s2s_tls -*-
"""
TLS for server-to-server streams: one OpenSSL context per local domain
that has a certificate, the server side choosing among them by the name
the peer asks for (SNI), the client side presenting the local domain's
certificate, and the check that a peer's certificate is valid for the
domain it claims (the chain against the trust store, the name with
service-identity, as XEP-0178 and RFC 6125 ask).

Neither side fails the handshake over the peer's certificate: a peer
whose certificate does not validate may still authenticate with dialback
(XEP-0220) where policy allows, so the decision is L{S2STLS.peerValidFor}'s,
after the handshake.  TLS 1.0 and 1.1 are never allowed, whatever the
C{ssl} options say.

The files the configuration names are opened here, when the service is
built: a certificate, key or CA file that cannot be used stops startup
with the C{file:line:} of the option that named it.
"""

from __future__ import annotations

import ssl
from typing import Callable, Iterable, Union

from cryptography import x509
from OpenSSL import SSL, crypto
from service_identity import CertificateError, VerificationError
from service_identity.cryptography import extract_patterns
from service_identity.hazmat import DNS_ID, SRV_ID, ServiceID, verify_service_identity
from twisted.internet.interfaces import (
    IOpenSSLClientConnectionCreator,
    IOpenSSLServerConnectionCreator,
)
from twisted.protocols.tls import TLSMemoryBIOProtocol
from zope.interface import implementer

from xcomp.config.model import ConfigError, S2SConfig, TLSConfig
from xcomp.tls import contextFactory, tlsError

__all__ = ["S2STLS", "PeerCertificate"]

#: What L{S2STLS.peerValidFor} accepts: an OpenSSL connection, a TLS
#: transport or protocol (anything with C{getHandle()}), or a certificate.
PeerCertificate = Union[SSL.Connection, crypto.X509, x509.Certificate, object]

#: The most certificates a peer's chain may have for L{S2STLS.peerValidFor}
#: to look at; a longer chain is not valid (OpenSSL's own depth limit is
#: 100, far more than any real chain).
_MAX_CHAIN = 10


def _acceptAll(connection: SSL.Connection, certificate: crypto.X509, errno: int, depth: int, ok: int) -> bool:
    """
    OpenSSL's verification callback that lets every handshake go on: the
    peer's certificate is judged later, by L{S2STLS.peerValidFor}, because
    an invalid one still allows dialback.
    """
    return True


def _selectALPN(connection: SSL.Connection, offered: list[bytes]) -> bytes | SSL._NoOverlappingProtocols:
    """
    The ALPN answer to a client that offers protocols (Prosody does):
    XEP-0368's C{xmpp-server}, or none at all.  Twisted's own callback
    answers an empty name when it knows no protocol, which OpenSSL turns
    into an internal-error alert, so no such client could connect.
    """
    return b"xmpp-server" if b"xmpp-server" in offered else SSL.NO_OVERLAPPING_PROTOCOLS


def _trustStore(cafile: str | None) -> crypto.X509Store:
    """
    The store that remote certificates are checked against: the
    certificates of C{cafile}, or the system's default locations.

    @raise ValueError: Naming the file, if it holds no certificate.
    """
    store = crypto.X509Store()
    if cafile is not None:
        try:
            with open(cafile, "rb") as f:
                authorities = x509.load_pem_x509_certificates(f.read())
        except OSError as e:
            raise ValueError(f"cannot read the CA certificate file {cafile}: {e.strerror}") from None
        except ValueError:
            authorities = []
        if not authorities:
            raise ValueError(f"the CA certificate file {cafile} holds no PEM certificate")
        for authority in authorities:
            store.add_cert(crypto.X509.from_cryptography(authority))
        return store
    paths = ssl.get_default_verify_paths()
    if paths.cafile is not None or paths.capath is not None:
        store.load_locations(paths.cafile, paths.capath)
    return store


def _domainContext(tls: TLSConfig) -> SSL.Context:
    """
    The context of one local domain, as a direct-TLS component listener
    would build it from the same C{ssl} settings, then made fit for s2s:
    the peer's certificate asked for and kept, TLS 1.2 at least.

    @raise ValueError: Naming the file at fault.
    """
    context = contextFactory(tls).getContext()
    context.set_verify(SSL.VERIFY_PEER, _acceptAll)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    context.set_alpn_select_callback(_selectALPN)
    return context


def _plainContext() -> SSL.Context:
    """
    The client context of a local domain without a certificate: it can
    still encrypt, and authenticate with dialback.
    """
    context = SSL.Context(SSL.TLS_METHOD)
    context.set_verify(SSL.VERIFY_PEER, _acceptAll)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    context.set_options(SSL.OP_NO_COMPRESSION)
    return context


def _peerChain(peer: PeerCertificate) -> tuple[x509.Certificate, list[x509.Certificate]] | None:
    """
    The peer's certificate and the rest of the chain it sent, from what
    L{S2STLS.peerValidFor} was given; L{None} when there is none.
    """
    if isinstance(peer, x509.Certificate):
        return peer, []
    if isinstance(peer, crypto.X509):
        return peer.to_cryptography(), []
    getHandle = getattr(peer, "getHandle", None)
    if getHandle is not None:
        peer = getHandle()
    if not isinstance(peer, SSL.Connection):
        return None
    leaf = peer.get_peer_certificate(as_cryptography=True)
    if leaf is None:
        return None
    # A client's chain (what a server sees) leaves out the leaf, a
    # server's has it first: either way, the rest is untrusted extras.
    chain = peer.get_peer_cert_chain(as_cryptography=True) or []
    return leaf, [c for c in chain if c != leaf]


@implementer(IOpenSSLClientConnectionCreator)
class _ClientCreator:
    """
    The client side of one (local, remote) link: the local domain's
    context, SNI naming the remote domain, and the ALPN protocols offered
    (none, or XEP-0368's C{xmpp-server} for direct TLS).
    """

    def __init__(self, context: SSL.Context, remote: str, alpn: list[bytes] | None = None) -> None:
        self._context = context
        self._serverName = remote.encode("idna")
        self._alpn = alpn

    def clientConnectionForTLS(self, tlsProtocol: TLSMemoryBIOProtocol) -> SSL.Connection:
        """
        A client connection for one stream.
        """
        connection = SSL.Connection(self._context, None)
        connection.set_app_data(tlsProtocol)
        connection.set_connect_state()
        connection.set_tlsext_host_name(self._serverName)
        if self._alpn:
            connection.set_alpn_protos(self._alpn)
        return connection


@implementer(IOpenSSLServerConnectionCreator)
class _ServerCreator:
    """
    The server side: the context of the domain the peer names by SNI, else
    that of C{default}.
    """

    def __init__(self, context: SSL.Context) -> None:
        self._context = context

    def serverConnectionForTLS(self, tlsProtocol: TLSMemoryBIOProtocol) -> SSL.Connection:
        """
        A server connection for one stream.
        """
        connection = SSL.Connection(self._context, None)
        connection.set_app_data(tlsProtocol)
        return connection

    def getContext(self) -> SSL.Context:
        """
        The default context, for the APIs that still ask for a context
        factory.
        """
        return self._context


class S2STLS:
    """
    The TLS identities of the local domains and the trust store, built from
    an L{S2SConfig} once, when the s2s service is made.

    @ivar domains: The local domains that have a certificate.
    """

    def __init__(self, config: S2SConfig) -> None:
        """
        Open and check every certificate, key and the CA file.

        @raise ConfigError: At the option that named a file that cannot be
            used.
        """
        self._contexts: dict[str, SSL.Context] = {}
        for domain, tls in sorted(config.certificates.items()):
            try:
                self._contexts[domain] = _domainContext(tls)
            except ValueError as e:
                raise tlsError(tls, config.location, f"the certificate of {domain}", e) from None
        try:
            self._store = _trustStore(config.caCertificates)
        except ValueError as e:
            raise ConfigError(config.location, f"ssl.cafile: {e}") from None
        for context in self._contexts.values():
            context.set_tlsext_servername_callback(self._chooseByName)
        self._plain = _plainContext()
        self.domains = frozenset(self._contexts)

    def __repr__(self) -> str:
        return f"<S2STLS domains={sorted(self.domains)}>"

    def _contextFor(self, domain: str) -> SSL.Context | None:
        """
        The context of C{domain}, else that of its parent domain: a
        component that binds a subdomain of a configured host at run time
        (a listener's C{password}) shows the host's certificate, as Prosody
        uses a VirtualHost's for its direct subdomains.
        """
        context = self._contexts.get(domain)
        if context is None:
            context = self._contexts.get(domain.partition(".")[2])
        return context

    def hasCertificate(self, domain: str) -> bool:
        """
        Whether C{domain} (nameprep'd) has a certificate (its own or its
        parent domain's), that is, whether a stream for it can offer
        STARTTLS.
        """
        return self._contextFor(domain) is not None

    def _chooseByName(self, connection: SSL.Connection) -> None:
        """
        The SNI callback: switch to the context of the domain the client
        names, when it is one of ours; otherwise keep the default.
        """
        name = connection.get_servername()
        if name is None:
            return
        context = self._contextFor(name.decode("ascii", "replace").lower().rstrip("."))
        if context is not None:
            connection.set_context(context)

    def serverOptions(self, default: str | None = None) -> IOpenSSLServerConnectionCreator | None:
        """
        What C{transport.startTLS} (or a direct-TLS listener) takes for an
        incoming stream.

        @param default: The domain whose certificate is shown when the
            peer names none by SNI, or one xcomp has no certificate for:
            the stream header's C{to} for STARTTLS; for direct TLS, where
            nothing is known yet, L{None} takes the first domain in
            alphabetical order.
        @return: L{None} when no domain has a certificate (no TLS can be
            offered), or C{default} has none and nothing else does either.
        """
        context = self._contextFor(default) if default is not None else None
        if context is None and self._contexts:
            context = self._contexts[min(self._contexts)]
        return None if context is None else _ServerCreator(context)

    def clientOptions(self, local: str, remote: str, *, directTLS: bool = False) -> IOpenSSLClientConnectionCreator:
        """
        What C{transport.startTLS} takes for a link from C{local} to
        C{remote}: C{local}'s certificate when it has one (for the peer to
        offer SASL EXTERNAL), SNI naming C{remote}.  The remote's
        certificate is kept for L{peerValidFor}, never refused here.

        @param directTLS: TLS from the first byte (an C{_xmpps-server}
            target): ALPN offers C{xmpp-server}, as XEP-0368 asks, so that
            a port shared with other protocols knows the stream is s2s.
            STARTTLS needs no ALPN; none is offered there.
        """
        alpn = [b"xmpp-server"] if directTLS else None
        return _ClientCreator(self._contextFor(local) or self._plain, remote, alpn)

    def chainValid(self, peer: PeerCertificate) -> bool:
        """
        Whether the peer's certificate chains to the trust store and is
        within its validity dates (the name is not checked).
        """
        found = _peerChain(peer)
        if found is None:
            return False
        leaf, extras = found
        if len(extras) >= _MAX_CHAIN:
            return False
        check = crypto.X509StoreContext(
            self._store,
            crypto.X509.from_cryptography(leaf),
            [crypto.X509.from_cryptography(c) for c in extras],
        )
        try:
            check.verify_certificate()
        except crypto.X509StoreContextError:
            return False
        return True

    def peerValidFor(self, peer: PeerCertificate, domain: str) -> bool:
        """
        Whether the peer's certificate is valid for C{domain}: it chains to
        the trust store, and names C{domain} as a DNS-ID (wildcards as RFC
        6125 allows) or as the SRV-ID C{_xmpp-server.domain}.

        @param peer: An C{OpenSSL.SSL.Connection} after its handshake, a TLS
            transport or protocol (C{getHandle()} gives the connection), or
            the certificate itself (then no intermediate is known).
        """
        found = _peerChain(peer)
        if found is None or not self.chainValid(peer):
            return False
        return _namesDomain(found[0], domain)


def _namesDomain(certificate: x509.Certificate, domain: str) -> bool:
    """
    Whether a certificate names C{domain} as one of the identities XMPP
    servers are known by.
    """
    try:
        patterns = extract_patterns(certificate)
    except CertificateError:
        return False
    wanted: Iterable[Callable[[], ServiceID]] = (
        lambda: DNS_ID(domain),
        lambda: SRV_ID("_xmpp-server." + domain),
    )
    for make in wanted:
        try:
            verify_service_identity(patterns, obligatory_ids=[make()], optional_ids=[])
        except (VerificationError, CertificateError, ValueError):
            continue
        return True
    return False
