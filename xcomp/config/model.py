# -*- test-case-name: xcomp.test.test_config -*-
"""
The router's configuration as one frozen model: what both loaders
(L{xcomp.config.prosody}, L{xcomp.config.mongooseim}) build and what the
service layer reads.  It knows nothing of the file formats, of TLS contexts
or of ports being bound: file names stay file names until the service layer
opens them.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

import attrs

from xcomp.config.acl import AccessClause, ACLPattern

__all__ = [
    "ACLPattern",
    "AccessClause",
    "ClusterConfig",
    "ComponentConfig",
    "ConfigError",
    "HTTPHandlerConfig",
    "HTTPListenerConfig",
    "InternalComponentConfig",
    "ListenerConfig",
    "Location",
    "LogSink",
    "RouterConfig",
    "S2SConfig",
    "S2SListenerConfig",
    "ShaperConfig",
    "TLSConfig",
    "VirtualHostConfig",
]


#: The component port when C{component_ports} is not set.
DEFAULT_PORT = 5347
#: C{component_stanza_size_limit} when neither it nor
#: C{s2s_stanza_size_limit} is set.
DEFAULT_STANZA_SIZE_LIMIT = 512 * 1024
#: The values of C{component_conflict_resolve}; the first is the default.
CONFLICT_POLICIES = ("kick_new", "kick_old", "balance")

#: Seconds stanzas for a component that disconnected are held for its next
#: connection (C{component_hold_time}); 0 bounces them at once.
DEFAULT_HOLD_TIME = 30.0
#: The most stanzas held for one component (C{component_hold_stanzas}).
DEFAULT_HOLD_STANZAS = 10_000
#: The most bytes held for one component (C{component_hold_bytes}): as much
#: as may wait for a connected component that does not read.
DEFAULT_HOLD_BYTES = 4 * 1024 * 1024
#: The most bytes held for all components together
#: (C{component_hold_total_bytes}): whatever the number of domains, holding
#: never takes more memory than this.
DEFAULT_HOLD_TOTAL_BYTES = 64 * 1024 * 1024

#: An empty read-only mapping, the default for C{options}.
_NO_OPTIONS: Mapping[str, object] = MappingProxyType({})


def _frozen(mapping: Mapping[str, object]) -> Mapping[str, object]:
    """
    A read-only view of C{mapping}, for models built in code with a dict.
    """
    return mapping if isinstance(mapping, MappingProxyType) else MappingProxyType(dict(mapping))


@attrs.frozen
class Location:
    """
    A place in a configuration file.

    @ivar file: The file, as given to L{loadConfig} (or resolved from an
        C{Include} in it).
    @ivar line: The line number, from 1.
    """

    file: str
    line: int

    def __str__(self) -> str:
        """
        C{file:line}.
        """
        return f"{self.file}:{self.line}"


class ConfigError(Exception):
    """
    The configuration is wrong; C{str()} is C{"file:line: what is wrong"}.

    @ivar location: Where, or L{None} when no line applies (an unreadable
        top-level file, in which case the message names the file).
    @ivar message: What is wrong.
    """

    def __init__(self, location: Location | None, message: str) -> None:
        """
        @param location: See L{location}.
        @param message: See L{message}.
        """
        super().__init__(location, message)
        self.location = location
        self.message = message

    def __str__(self) -> str:
        """
        C{file:line: message}, or the message alone without a location.
        """
        if self.location is None:
            return self.message
        return f"{self.location}: {self.message}"


#: The values of L{TLSConfig.verifyMode}; the first is the default.
VERIFY_MODES = ("none", "peer", "selfsigned_peer")
#: The values of L{TLSConfig.versions}, oldest first, as MongooseIM spells
#: them (C{versions = ["tlsv1.2", "tlsv1.3"]}).
TLS_VERSIONS = ("tlsv1", "tlsv1.1", "tlsv1.2", "tlsv1.3")

#: MongooseIM's default C{state_timeout}, in seconds.
DEFAULT_STATE_TIMEOUT = 5.0
#: Seconds without reading anything from a bound component before it is sent
#: a whitespace keepalive.
DEFAULT_KEEPALIVE_INTERVAL = 60.0
#: Seconds a write may stall before the stream is closed.
DEFAULT_SEND_TIMEOUT = 60.0
#: Bytes that may wait for a component that does not read, on top of the
#: transport's own buffer, before it is disconnected.
DEFAULT_MAX_OUTPUT_BUFFER = 4 * 1024 * 1024


@attrs.frozen
class TLSConfig:
    """
    The TLS settings of a direct-TLS listener: Prosody's C{ssl = {
    certificate = ..., key = ... }}, MongooseIM's C{tls} subsection.

    @ivar certificate: Absolute path of the PEM certificate (chain).
    @ivar key: Absolute path of the PEM private key.
    @ivar caCertificates: Absolute path of a PEM file of CA certificates that
        client certificates are checked against (C{cacertfile}, Prosody's
        C{cafile}); L{None} for the system's.
    @ivar verifyMode: C{"none"}: no client certificate is asked for;
        C{"peer"}: one is required and must chain to C{caCertificates};
        C{"selfsigned_peer"}: one is required and must be valid, but may be
        self-signed.
    @ivar ciphers: An OpenSSL cipher string, or L{None} for Twisted's
        defaults.
    @ivar protocolOptions: OpenSSL options by name (C{"no_tlsv1_2"},
        C{"cipher_server_preference"}, ...).
    @ivar keyPassword: The passphrase of an encrypted C{key} (MongooseIM's
        C{tls.password}, Prosody's C{password}); never shown.
    @ivar dhParameters: Absolute path of a PEM file of Diffie-Hellman
        parameters (C{dhfile}, Prosody's C{dhparam}), for the C{DHE}
        ciphers; L{None} for none.
    @ivar versions: The TLS versions allowed, a subset of L{TLS_VERSIONS}
        (C{versions}, Prosody's C{protocol}); empty for OpenSSL's and
        Twisted's defaults.
    @ivar crlFiles: Absolute paths of PEM files of certificate revocation
        lists that client certificates are checked against (C{crl_files}).
    @ivar location: Where these settings were configured, for messages
        about the files (which the service layer opens).
    @ivar label: The option's name as messages give it (C{"ssl"},
        C{"listen.component[1].tls"}).
    """

    certificate: str
    key: str
    caCertificates: str | None = attrs.field(default=None, kw_only=True)
    verifyMode: str = attrs.field(
        default=VERIFY_MODES[0], kw_only=True, validator=attrs.validators.in_(VERIFY_MODES)
    )
    ciphers: str | None = attrs.field(default=None, kw_only=True)
    protocolOptions: tuple[str, ...] = attrs.field(default=(), kw_only=True)
    keyPassword: str | None = attrs.field(default=None, kw_only=True, repr=False)
    dhParameters: str | None = attrs.field(default=None, kw_only=True)
    versions: tuple[str, ...] = attrs.field(
        default=(),
        kw_only=True,
        validator=attrs.validators.deep_iterable(attrs.validators.in_(TLS_VERSIONS)),
    )
    crlFiles: tuple[str, ...] = attrs.field(default=(), kw_only=True)
    location: Location | None = attrs.field(default=None, kw_only=True, eq=False)
    label: str | None = attrs.field(default=None, kw_only=True, eq=False)


@attrs.frozen
class ShaperConfig:
    """
    A traffic shaper: the most bytes per second a connection may send us.

    @ivar name: Its name (MongooseIM's C{[shaper.NAME]}), for messages.
    @ivar maxRate: Bytes per second.
    @ivar burst: Seconds' worth of C{maxRate} that may arrive at once
        before reading is paused.
    """

    name: str
    maxRate: int
    burst: float = 1.0


@attrs.frozen
class ListenerConfig:
    """
    One address to accept component connections on, and the options of
    that listener (MongooseIM's C{[[listen.component]]}).

    Options that are L{None} defer to the component's own setting (and, for
    a domain that is not a configured component, to the global one on
    L{RouterConfig}).

    @ivar port: The TCP port.
    @ivar interface: The IP address to bind (C{"0.0.0.0"} or C{"::"} for all).
    @ivar tls: For a direct-TLS port, the certificate to present.
    @ivar password: A secret any domain may authenticate with, except
        configured components (they use their own secret), VirtualHosts and
        internal components.  Never shown.
    @ivar access: The access rule that decides who may send to the
        components connected here; C{"all"} lets everyone.
    @ivar shaper: The byte-rate limit per connection, if any.
    @ivar checkFrom: Whether a stanza's C{from} must be within the
        component's domain; L{None} for the component's own setting.
        C{False} is trusted mode.
    @ivar hiddenComponents: Leave the components connected here out of
        disco#items.
    @ivar conflictResolve: C{"kick_new"}, C{"kick_old"} or C{"balance"};
        L{None} for the component's own setting.
    @ivar maxConnections: The most connections open at once; L{None} for no
        limit.
    @ivar reusePort: Set C{SO_REUSEPORT}, so several processes can listen on
        the port.
    @ivar stateTimeout: Seconds a connection has to complete the handshake;
        L{None} for no limit.
    @ivar stanzaSizeLimit: The largest stanza in bytes; L{None} for the
        component's own limit.
    @ivar keepaliveInterval: Seconds without reading from a bound component
        before it is sent whitespace, and its stream hibernates (see
        L{xcomp.stream.StreamParser.hibernate}); L{None} for no whitespace
        (streams then hibernate after L{DEFAULT_KEEPALIVE_INTERVAL}).
    @ivar sendTimeout: Seconds a write may stall before the stream is closed;
        L{None} for no limit.
    @ivar maxOutputBuffer: Bytes that may wait for a component that does
        not read before it is disconnected.
    @ivar passwordDomains: The domains C{password} may bind: exact domains,
        or C{"*.example.org"} for any subdomain of C{example.org}; L{None}
        for any domain that is not configured otherwise.
    @ivar proxyProtocol: Every connection starts with an HAProxy PROXY
        protocol header (version 1 or 2), and the address it gives is the
        peer's, for access rules, logs and C{max_connections}.
    @ivar holdTime: Seconds stanzas are held for a domain bound here that
        disconnected; L{None} for the component's own setting.
    @ivar holdStanzas: The most stanzas held for one domain; L{None} for the
        component's own setting.
    @ivar holdBytes: The most bytes held for one domain; L{None} likewise.
    @ivar location: Where the listener was configured, for messages.
    """

    port: int
    interface: str
    tls: TLSConfig | None = None
    password: str | None = attrs.field(default=None, kw_only=True, repr=False)
    access: str = attrs.field(default="all", kw_only=True)
    shaper: ShaperConfig | None = attrs.field(default=None, kw_only=True)
    checkFrom: bool | None = attrs.field(default=None, kw_only=True)
    hiddenComponents: bool = attrs.field(default=False, kw_only=True)
    conflictResolve: str | None = attrs.field(
        default=None,
        kw_only=True,
        validator=attrs.validators.optional(attrs.validators.in_(CONFLICT_POLICIES)),
    )
    maxConnections: int | None = attrs.field(default=None, kw_only=True)
    reusePort: bool = attrs.field(default=False, kw_only=True)
    stateTimeout: float | None = attrs.field(default=DEFAULT_STATE_TIMEOUT, kw_only=True)
    stanzaSizeLimit: int | None = attrs.field(default=None, kw_only=True)
    keepaliveInterval: float | None = attrs.field(
        default=DEFAULT_KEEPALIVE_INTERVAL, kw_only=True
    )
    sendTimeout: float | None = attrs.field(default=DEFAULT_SEND_TIMEOUT, kw_only=True)
    maxOutputBuffer: int = attrs.field(default=DEFAULT_MAX_OUTPUT_BUFFER, kw_only=True)
    passwordDomains: tuple[str, ...] | None = attrs.field(default=None, kw_only=True)
    proxyProtocol: bool = attrs.field(default=False, kw_only=True)
    holdTime: float | None = attrs.field(default=None, kw_only=True)
    holdStanzas: int | None = attrs.field(default=None, kw_only=True)
    holdBytes: int | None = attrs.field(default=None, kw_only=True)
    location: Location | None = attrs.field(default=None, kw_only=True, eq=False)


@attrs.frozen(kw_only=True)
class VirtualHostConfig:
    """
    A C{VirtualHost}: a domain the router answers for itself.

    @ivar domain: The nameprep'd domain.
    @ivar name: Its C{name} option, if set.
    @ivar options: Every option visible to the host (global, then its own).
    @ivar location: Its C{VirtualHost} statement.
    """

    domain: str
    name: str | None = None
    options: Mapping[str, object] = attrs.field(default=_NO_OPTIONS, repr=False)
    location: Location | None = None


@attrs.frozen(kw_only=True)
class ComponentConfig:
    """
    An external (XEP-0114) component.

    @ivar domain: The nameprep'd domain.
    @ivar secret: The handshake secret (C{component_secret}); never shown.
    @ivar name: The C{name} option (disco item name), if set.
    @ivar discoHidden: C{disco_hidden}: leave it out of disco items.
    @ivar validateFrom: C{validate_from_addresses}: check each stanza's
        C{from} is within the domain.
    @ivar conflictResolve: C{component_conflict_resolve}: C{"kick_new"},
        C{"kick_old"} or C{"balance"}.
    @ivar stanzaSizeLimit: C{component_stanza_size_limit}, in bytes.
    @ivar holdTime: C{component_hold_time}: seconds stanzas are held for the
        component's next connection after it disconnects; 0 for none.
    @ivar holdStanzas: C{component_hold_stanzas}: the most stanzas held.
    @ivar holdBytes: C{component_hold_bytes}: the most bytes held.
    @ivar tls: The component's C{ssl}, if any.
    @ivar options: Every option visible to it (global, then its own), except
        C{component_secret}.
    @ivar location: Its C{Component} statement.
    """

    domain: str
    secret: str = attrs.field(repr=False)
    name: str | None = None
    discoHidden: bool = False
    validateFrom: bool = True
    conflictResolve: str = attrs.field(
        default=CONFLICT_POLICIES[0], validator=attrs.validators.in_(CONFLICT_POLICIES)
    )
    stanzaSizeLimit: int = DEFAULT_STANZA_SIZE_LIMIT
    holdTime: float = DEFAULT_HOLD_TIME
    holdStanzas: int = DEFAULT_HOLD_STANZAS
    holdBytes: int = DEFAULT_HOLD_BYTES
    tls: TLSConfig | None = None
    options: Mapping[str, object] = attrs.field(default=_NO_OPTIONS, repr=False)
    location: Location | None = None


@attrs.frozen(kw_only=True)
class InternalComponentConfig:
    """
    A C{Component "domain" "plugin"}, run in-process by a plugin.

    @ivar domain: The nameprep'd domain.
    @ivar plugin: The plugin name.
    @ivar modules: Its own C{modules_enabled} (components do not inherit the
        global list).
    @ivar name: The C{name} option, if set.
    @ivar discoHidden: C{disco_hidden}.
    @ivar options: Every option visible to it (global, then its own), except
        C{component_secret}.
    @ivar location: Its C{Component} statement.
    """

    domain: str
    plugin: str
    modules: tuple[str, ...] = ()
    name: str | None = None
    discoHidden: bool = False
    options: Mapping[str, object] = attrs.field(default=_NO_OPTIONS, repr=False)
    location: Location | None = None


#: Prosody's log levels, lowest first.
LOG_LEVELS = ("debug", "info", "warn", "error")

#: The C{syslog_facility} names a sink may give.
SYSLOG_FACILITIES = frozenset(
    """auth authpriv cron daemon ftp kern local0 local1 local2 local3 local4
    local5 local6 local7 lpr mail news syslog user uucp""".split()
)


def _fromLevel(sink: LogSink) -> frozenset[str]:
    return frozenset(LOG_LEVELS[LOG_LEVELS.index(sink.level) :])


def _checkLevels(sink: LogSink, attribute: object, value: frozenset[str]) -> None:
    # The lowest level is what the log gate lets through, so it must agree
    # with the set the sink filters on.
    if not value or not value <= frozenset(LOG_LEVELS):
        raise ValueError(f"levels must be some of {', '.join(LOG_LEVELS)}, not {sorted(value)}")
    if min(value, key=LOG_LEVELS.index) != sink.level:
        raise ValueError(f"level {sink.level!r} is not the lowest of {sorted(value)}")


@attrs.frozen
class LogSink:
    """
    One destination of the C{log} option.

    @ivar level: The lowest level written: C{debug}, C{info}, C{warn} or
        C{error}.
    @ivar target: An absolute file path, C{"*console"} or C{"*syslog"}.
    @ivar levels: Every level written (Prosody's C{levels} may name levels
        that are not a range, e.g. C{{ "debug", "error" }}); by default
        L{level} and every level above it.  C{error} includes Twisted's
        C{critical}.
    @ivar timestamps: Prosody's C{timestamps}: L{None} for the sink's usual
        time stamps, C{False} for none, C{True} for the usual ones, or a
        C{strftime} format.
    @ivar syslogFacility: Prosody's C{syslog_facility}, for C{"*syslog"}.
    """

    level: str = attrs.field(validator=attrs.validators.in_(LOG_LEVELS))
    target: str
    levels: frozenset[str] = attrs.field(
        default=attrs.Factory(_fromLevel, takes_self=True),
        validator=_checkLevels,
        kw_only=True,
    )
    timestamps: bool | str | None = attrs.field(default=None, kw_only=True)
    syslogFacility: str = attrs.field(
        default="daemon", validator=attrs.validators.in_(SYSLOG_FACILITIES), kw_only=True
    )


#: Prosody's s2s port, once s2s is enabled at all.
DEFAULT_S2S_PORT = 5269
#: Prosody's C{s2s_timeout}: seconds an s2s stream may take to authenticate,
#: and an outgoing link to be set up, before it is given up.
DEFAULT_S2S_TIMEOUT = 90.0
#: Seconds an outgoing s2s link may carry nothing before it is closed.
DEFAULT_S2S_IDLE_TIMEOUT = 300.0
#: Stanzas, and bytes, that may wait for one remote domain while its link is
#: being set up; past either, each further stanza bounces
#: C{resource-constraint}.
DEFAULT_S2S_QUEUE_STANZAS = 1000
DEFAULT_S2S_QUEUE_BYTES = 1024 * 1024
#: Seconds one DNS query for a remote server may take, and how many times
#: it is sent again (MongooseIM's C{s2s.dns} defaults).
DEFAULT_S2S_DNS_TIMEOUT = 10.0
DEFAULT_S2S_DNS_RETRIES = 2


@attrs.frozen
class S2SListenerConfig:
    """
    One (port, interface) that remote servers connect to.

    @ivar directTLS: TLS from the first byte (XEP-0368, Prosody's
        C{s2s_direct_tls_ports}) instead of STARTTLS.
    """

    port: int
    interface: str
    directTLS: bool = attrs.field(default=False, kw_only=True)
    location: Location | None = attrs.field(default=None, kw_only=True, eq=False)


@attrs.frozen(kw_only=True)
class S2SConfig:
    """
    Server-to-server federation for every domain xcomp hosts (its
    components, external and internal, and its virtual hosts).  Present on
    L{RouterConfig} only when the configuration asks for s2s.

    @ivar listeners: Where remote servers connect (C{s2s_ports},
        C{s2s_interfaces}, C{s2s_direct_tls_ports}).
    @ivar requireEncryption: C{s2s_require_encryption}.
    @ivar secureAuth: C{s2s_secure_auth}: only certificate (SASL EXTERNAL)
        authentication, never dialback.
    @ivar secureDomains: C{s2s_secure_domains}: remote domains that must
        authenticate with a certificate even when L{secureAuth} is off.
    @ivar insecureDomains: C{s2s_insecure_domains}: remote domains that may
        use dialback even when L{secureAuth} is on.
    @ivar timeout: C{s2s_timeout}, seconds.
    @ivar idleTimeout: Seconds of silence after which an outgoing link closes.
    @ivar certificates: The TLS identity of each local domain (nameprep'd),
        found as Prosody finds it; a domain without one cannot offer TLS.
    @ivar caCertificates: C{ssl = { cafile = ... }}: absolute path of the
        PEM trust store for remote certificates; L{None} for the system's.
    @ivar dialbackSecret: C{dialback_secret}; L{None} for a random secret
        per process.  Never shown.
    @ivar connectOverrides: C{s2s_connect_overrides}: remote domain ->
        (host, port) to connect to instead of resolving it.
    @ivar queueStanzas: Bound, by count, on stanzas waiting for one remote
        domain's link.
    @ivar queueBytes: The same bound, by bytes.
    @ivar stanzaSizeLimit: C{s2s_stanza_size_limit}.
    @ivar maxConnections: Bound on simultaneous incoming s2s connections,
        or L{None}.
    @ivar shaper: Rate limit of each incoming s2s connection, or L{None}.
    @ivar dnsTimeout: Seconds before one DNS query is given up (MongooseIM's
        C{s2s.dns.timeout}).
    @ivar dnsRetries: Times a DNS query is sent again (C{s2s.dns.retries}).
    @ivar ipVersions: The address families looked up for remote servers, in
        order of preference (C{s2s.outgoing.ip_versions}).
    @ivar outgoingPort: The port of a remote server found without SRV
        records (C{s2s.outgoing.port}).
    @ivar connectTimeout: Seconds a TCP connect to a remote server may take
        (C{s2s.outgoing.connection_timeout}); L{None} for L{timeout}.
    @ivar defaultPolicy: C{"allow"} or C{"deny"}: whether remote domains
        not in L{hostPolicy} may federate (MongooseIM's
        C{s2s.default_policy}).
    @ivar hostPolicy: Remote domain -> C{"allow"} or C{"deny"}
        (C{s2s.host_policy}).
    @ivar hostsFile: A hosts file read instead of C{/etc/hosts} (tests); not
        a configuration option.
    @ivar nameservers: (address, port) of the nameservers to ask instead of
        C{resolv.conf}'s (tests); not a configuration option.
    """

    listeners: tuple[S2SListenerConfig, ...] = ()
    requireEncryption: bool = True
    secureAuth: bool = False
    secureDomains: frozenset[str] = frozenset()
    insecureDomains: frozenset[str] = frozenset()
    timeout: float = DEFAULT_S2S_TIMEOUT
    idleTimeout: float = DEFAULT_S2S_IDLE_TIMEOUT
    certificates: Mapping[str, TLSConfig] = attrs.field(default=_NO_OPTIONS, converter=_frozen)
    caCertificates: str | None = None
    dialbackSecret: str | None = attrs.field(default=None, repr=False)
    connectOverrides: Mapping[str, tuple[str, int]] = attrs.field(
        default=_NO_OPTIONS, converter=_frozen
    )
    queueStanzas: int = DEFAULT_S2S_QUEUE_STANZAS
    queueBytes: int = DEFAULT_S2S_QUEUE_BYTES
    stanzaSizeLimit: int = DEFAULT_STANZA_SIZE_LIMIT
    maxConnections: int | None = None
    shaper: ShaperConfig | None = None
    dnsTimeout: float = DEFAULT_S2S_DNS_TIMEOUT
    dnsRetries: int = DEFAULT_S2S_DNS_RETRIES
    ipVersions: tuple[int, ...] = (4, 6)
    outgoingPort: int = DEFAULT_S2S_PORT
    connectTimeout: float | None = None
    defaultPolicy: str = attrs.field(default="allow", validator=attrs.validators.in_(("allow", "deny")))
    hostPolicy: Mapping[str, str] = attrs.field(default=_NO_OPTIONS, converter=_frozen)
    hostsFile: str | None = None
    nameservers: tuple[tuple[str, int], ...] = ()
    location: Location | None = attrs.field(default=None, eq=False)

    def allows(self, remote: str) -> bool:
        """
        Whether the policy lets C{remote} (nameprep'd) federate with xcomp,
        either way.
        """
        return self.hostPolicy.get(remote, self.defaultPolicy) == "allow"


#: Prosody's C{http_ports} default, xcomp's HTTP port unless told.
DEFAULT_HTTP_PORT = 5280
#: What the HTTP port serves: C{"metrics"} (OpenMetrics at C{/metrics}) and
#: C{"status"} (the status page at C{/} and C{/status.json}).
HTTP_HANDLERS = ("metrics", "status")
#: The shortest credential the HTTP port accepts: a guessable one is none.
MIN_HTTP_TOKEN_LENGTH = 16


@attrs.frozen(kw_only=True)
class HTTPHandlerConfig:
    """
    One thing the HTTP port serves (Prosody's C{http_openmetrics} module,
    MongooseIM's C{mongoose_prometheus_handler}; xcomp's status page).

    @ivar kind: One of L{HTTP_HANDLERS}.
    @ivar path: Where: C{/metrics} for metrics; for the status page, the
        page itself, with C{status.json} beside it.
    @ivar token: The credential a request must carry (C{Authorization:
        Bearer TOKEN}, or Basic with it as the password); L{None} for none,
        which only a loopback port may have.  Never shown.
    @ivar allowFrom: The networks requests may come from (Prosody's
        C{openmetrics_allow_ips} and C{openmetrics_allow_cidr}), as
        C{ipaddress} network texts; empty for any address.
    """

    kind: str = attrs.field(validator=attrs.validators.in_(HTTP_HANDLERS))
    path: str
    token: str | None = attrs.field(default=None, repr=False)
    allowFrom: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class HTTPListenerConfig:
    """
    One address of the HTTP port (operations: metrics and status), with
    what it serves.

    @ivar port: The TCP port.
    @ivar interface: The IP address to bind.
    @ivar handlers: What it serves, at which paths.
    @ivar location: Where it was configured, for messages.
    """

    port: int
    interface: str
    handlers: tuple[HTTPHandlerConfig, ...]
    location: Location | None = attrs.field(default=None, eq=False)


#: Seconds a node's claim on its domains lasts unless renewed: a node that
#: dies stops owning them within this (C{cluster_lease}).
DEFAULT_CLUSTER_LEASE = 5.0
#: Stanzas each node's Redis stream holds at most (C{cluster_stream_length}):
#: the bound on what may wait in Redis for one node: room for the bursts of
#: many busy components, in about 30 MB of Redis memory at 300 bytes a
#: stanza.
DEFAULT_CLUSTER_STREAM_LENGTH = 100_000


@attrs.frozen(kw_only=True)
class ClusterConfig:
    """
    Several xcomp nodes acting as one router through Redis (L{xcomp.cluster}).
    Present on L{RouterConfig} only when the configuration names a Redis
    (C{cluster_redis}).

    @ivar host: The Redis server's host name or address.
    @ivar port: Its port.
    @ivar db: The database number (the URL's path).
    @ivar tls: C{rediss://}: TLS to Redis, its certificate checked against
        L{cafile} or the system's trust store.
    @ivar cafile: Absolute path of the CA certificates for L{tls}, if set.
    @ivar username: The Redis ACL user, if any.
    @ivar password: The Redis password (never in a repr or log).
    @ivar node: This node's name, unique in the cluster (C{cluster_node};
        the host name by default).
    @ivar lease: C{cluster_lease}, seconds.
    @ivar streamLength: C{cluster_stream_length}.
    """

    host: str
    port: int = 6379
    db: int = 0
    tls: bool = False
    cafile: str | None = None
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    node: str
    lease: float = DEFAULT_CLUSTER_LEASE
    streamLength: int = DEFAULT_CLUSTER_STREAM_LENGTH
    location: Location | None = attrs.field(default=None, eq=False)

    @property
    def url(self) -> str:
        """
        The Redis URL as a log line may show it: with the user, never the
        password.
        """
        scheme = "rediss" if self.tls else "redis"
        user = f"{self.username}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{user}{host}:{self.port}/{self.db}"


@attrs.frozen(kw_only=True)
class RouterConfig:
    """
    Everything the router needs, validated.

    @ivar source: The configuration file, as given.
    @ivar listeners: Every (port, interface) to listen on.
    @ivar virtualHosts: The enabled C{VirtualHost}s by domain.
    @ivar components: The enabled components by domain.
    @ivar stanzaSizeLimit: The global C{component_stanza_size_limit}, for
        streams that have not named their component yet.
    @ivar log: Where to log.
    @ivar logLevel: The lowest level logged anywhere (MongooseIM's
        C{general.loglevel}): C{debug}, C{info}, C{warn} or C{error}; when
        L{None}, the lowest level of L{log}, or everything without it.
    @ivar pidfile: Absolute path of C{pidfile}, if set.
    @ivar dataPath: Absolute path of C{data_path}, if set.
    @ivar warnings: C{"file:line: ..."} texts about unknown or misplaced
        options, for the caller to log.
    @ivar notices: C{"file:line: ..."} texts about options xcomp leaves to
        Prosody on purpose (its C{pidfile} and C{log}), logged at info.
    @ivar options: The global section, except C{component_secret}.
    @ivar validateFrom: The global C{validate_from_addresses}, for domains
        that are not configured components (bound with a listener's
        C{password}).
    @ivar discoHidden: The global C{disco_hidden}, likewise.
    @ivar conflictResolve: The global C{component_conflict_resolve},
        likewise.
    @ivar holdTime: The global C{component_hold_time}, likewise.
    @ivar holdStanzas: The global C{component_hold_stanzas}, likewise.
    @ivar holdBytes: The global C{component_hold_bytes}, likewise.
    @ivar holdTotalBytes: C{component_hold_total_bytes}: the most bytes
        held for all domains together.
    @ivar acl: The access classes (MongooseIM's C{[acl]}) by name.
    @ivar accessRules: The access rules (MongooseIM's C{[access]}) by name.
    @ivar s2s: Server-to-server federation, or L{None} when the
        configuration does not ask for it (then nothing listens on 5269).
    @ivar http: The HTTP port's addresses (metrics and the status page);
        empty when neither is enabled.
    @ivar cluster: The cluster this node is part of, or L{None} when it runs
        alone.
    """

    source: str = "<built in code>"
    listeners: tuple[ListenerConfig, ...] = ()
    virtualHosts: Mapping[str, VirtualHostConfig] = attrs.field(
        default=_NO_OPTIONS, converter=_frozen
    )
    components: Mapping[str, ComponentConfig | InternalComponentConfig] = attrs.field(
        default=_NO_OPTIONS, converter=_frozen
    )
    stanzaSizeLimit: int = DEFAULT_STANZA_SIZE_LIMIT
    log: tuple[LogSink, ...] = ()
    logLevel: str | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.in_(LOG_LEVELS)),
    )
    pidfile: str | None = None
    dataPath: str | None = None
    warnings: tuple[str, ...] = ()
    notices: tuple[str, ...] = attrs.field(default=(), eq=False)
    options: Mapping[str, object] = attrs.field(default=_NO_OPTIONS, repr=False)
    validateFrom: bool = True
    discoHidden: bool = False
    conflictResolve: str = attrs.field(
        default=CONFLICT_POLICIES[0], validator=attrs.validators.in_(CONFLICT_POLICIES)
    )
    holdTime: float = DEFAULT_HOLD_TIME
    holdStanzas: int = DEFAULT_HOLD_STANZAS
    holdBytes: int = DEFAULT_HOLD_BYTES
    holdTotalBytes: int = DEFAULT_HOLD_TOTAL_BYTES
    acl: Mapping[str, tuple[ACLPattern, ...]] = attrs.field(
        default=_NO_OPTIONS, converter=_frozen, repr=False
    )
    accessRules: Mapping[str, tuple[AccessClause, ...]] = attrs.field(
        default=_NO_OPTIONS, converter=_frozen, repr=False
    )
    s2s: S2SConfig | None = None
    http: tuple[HTTPListenerConfig, ...] = ()
    cluster: ClusterConfig | None = None
