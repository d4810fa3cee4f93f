# -*- test-case-name: xcomp.test.test_s2s_resolver -*-
"""
Where to connect to reach a remote XMPP server (RFC 6120 section 3.2,
XEP-0368): the connect override of the domain if there is one; else the
C{_xmpps-server._tcp} (direct TLS) and C{_xmpp-server._tcp} (STARTTLS) SRV
records, merged in RFC 2782 order (priority, then a weighted random pick);
else the domain's own A/AAAA records on port 5269.  Every host name is
resolved here, so each L{Target} is an address to connect to at once.

Lookups go through C{twisted.names}: the hosts file first, then the
nameservers of C{resolv.conf} (or the ones given, for tests), each query
with bounded retries and the whole resolution with a deadline.  A domain
that cannot be resolved fails with L{ServerNotFound}, which the outgoing
side bounces as C{remote-server-not-found}.
"""

from __future__ import annotations

import ipaddress
import random
from typing import Iterable, Sequence, cast

import attrs
from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime, IResolver
from twisted.logger import Logger
from twisted.names import cache, client, dns, hosts, resolve
from twisted.names.error import DNSNameError, DomainError
from twisted.python.failure import Failure
from zope.interface import implementer

from xcomp.config.model import DEFAULT_S2S_PORT, S2SConfig
from xcomp.interfaces import IServerResolver

__all__ = ["IServerResolver", "ServerNotFound", "ServerResolver", "Target", "orderSRV"]

#: The most SRV records of one service, and target hosts in all, that are
#: looked at: a hostile zone could list thousands.
MAX_SRV_RECORDS = 16
#: The most addresses kept per host name.
MAX_ADDRESSES = 4


@attrs.frozen
class Target:
    """
    One place to try, in order.

    @ivar host: An IP address (v4 or v6) as text.
    @ivar port: The TCP port.
    @ivar directTLS: TLS from the first byte (an C{_xmpps-server} record,
        XEP-0368), rather than STARTTLS.
    @ivar name: The host name the address was found for, for logs.
    """

    host: str
    port: int
    directTLS: bool = False
    name: str = attrs.field(default="", kw_only=True, eq=False)


class ServerNotFound(Exception):
    """
    The domain has no server that can be reached: no such domain, no
    address for it or its SRV targets, the service is decidedly not
    available (an SRV target of C{.}), or the lookups timed out.

    @ivar domain: The domain looked up.
    @ivar reason: Why, for logs.
    """

    def __init__(self, domain: str, reason: str) -> None:
        super().__init__(domain, reason)
        self.domain = domain
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.domain}: {self.reason}"


def orderSRV(records: Iterable[tuple[dns.Record_SRV, bool]], rng: random.Random) -> list[tuple[dns.Record_SRV, bool]]:
    """
    Order SRV records as RFC 2782 says: by priority, lowest first; among
    equal priorities, repeatedly pick one at random with a chance in
    proportion to its weight (records of weight 0 come first in the running
    sum, so that they are picked last but still
    picked).

    @param records: Each record with whether it is direct TLS.
    """
    byPriority: dict[int, list[tuple[dns.Record_SRV, bool]]] = {}
    for record in records:
        byPriority.setdefault(record[0].priority, []).append(record)
    ordered = []
    for priority in sorted(byPriority):
        group = sorted(byPriority[priority], key=lambda r: r[0].weight)
        while group:
            total = sum(r[0].weight for r in group)
            threshold = rng.randint(0, total)
            running = 0
            for index, record in enumerate(group):
                running += record[0].weight
                if running >= threshold:
                    ordered.append(group.pop(index))
                    break
    return ordered


def _isAddress(host: str) -> bool:
    """
    Whether C{host} is an IP address literal.
    """
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@implementer(IServerResolver)
class ServerResolver:
    """
    L{IServerResolver} through a C{twisted.names} resolver.

    @ivar overrides: Remote domain -> (host, port) to use instead of DNS.
    """

    _log = Logger()

    def __init__(
        self,
        resolver: IResolver,
        reactor: IReactorTime,
        *,
        overrides: dict[str, tuple[str, int]] | None = None,
        queryTimeout: Sequence[int] = (2, 4),
        deadline: float = 15.0,
        ipVersions: Sequence[int] = (4, 6),
        defaultPort: int = DEFAULT_S2S_PORT,
        rng: random.Random | None = None,
    ) -> None:
        """
        @param resolver: An C{IResolver} (the chain L{fromConfig} builds,
            or any other).
        @param queryTimeout: Seconds before each query is sent again; the
            query fails after the last.
        @param deadline: Seconds the whole resolution of one domain may take.
        @param ipVersions: Which address families to look up, in order of
            preference.
        """
        self._resolver = resolver
        self._reactor = reactor
        self.overrides = dict(overrides or {})
        self._queryTimeout = tuple(queryTimeout)
        self._deadline = deadline
        self._ipVersions = tuple(ipVersions)
        self._defaultPort = defaultPort
        self._rng = rng if rng is not None else random.SystemRandom()

    @classmethod
    def fromConfig(
        cls,
        config: S2SConfig,
        reactor: IReactorTime,
        *,
        hostsFile: str | None = None,
        servers: Sequence[tuple[str, int]] | None = None,
        resolvConf: str | None = None,
        caching: bool = True,
        rng: random.Random | None = None,
    ) -> ServerResolver:
        """
        The resolver the s2s service uses: the hosts file (the system's
        unless C{hostsFile}), then, unless only a hosts file was given
        for a test, a cache and the nameservers of C{servers} or
        C{resolv.conf}.

        @param hostsFile: A hosts file to read instead of C{/etc/hosts};
            with neither C{servers} nor C{resolvConf}, the only source.
        """
        hostsFile = hostsFile or config.hostsFile
        servers = servers or config.nameservers
        sources: list[IResolver] = [hosts.Resolver(file=(hostsFile or "/etc/hosts").encode())]
        if hostsFile is None or servers or resolvConf:
            if caching:
                sources.append(cache.CacheResolver(reactor=reactor))
            sources.append(
                client.Resolver(
                    resolv=None if servers else (resolvConf or "/etc/resolv.conf"),
                    servers=list(servers) if servers else None,
                    timeout=cls._queryTimeouts(config),
                    reactor=reactor,
                )
            )
        return cls(
            resolve.ResolverChain(sources),
            reactor,
            overrides=dict(config.connectOverrides),
            queryTimeout=cls._queryTimeouts(config),
            deadline=config.timeout,
            ipVersions=config.ipVersions,
            defaultPort=config.outgoingPort,
            rng=rng,
        )

    @staticmethod
    def _queryTimeouts(config: S2SConfig) -> tuple[int, ...]:
        """
        The per-query timeouts: MongooseIM's C{dns.timeout} once, then
        once per C{dns.retries}, in whole seconds as C{twisted.names}
        takes them.
        """
        return (max(1, round(config.dnsTimeout)),) * (1 + config.dnsRetries)

    def close(self) -> None:
        """
        Stop the timers of the resolver chain: the cache's expiries and
        the re-reading of C{resolv.conf}.
        """
        for source in getattr(self._resolver, "resolvers", ()):
            if isinstance(source, cache.CacheResolver):
                for call in list(source.cancel.values()):
                    if call.active():
                        call.cancel()
                source.cancel.clear()
            # client.Resolver re-reads resolv.conf on a timer it keeps to
            # itself.
            parse = getattr(source, "_parseCall", None)
            if parse is not None and parse.active():
                parse.cancel()

    def resolve(self, domain: str) -> defer.Deferred[list[Target]]:
        """
        Where to connect for C{domain}, best first.

        @return: A L{defer.Deferred} that fires with a non-empty list of
            L{Target}, or fails with L{ServerNotFound}.
        """
        d = defer.Deferred.fromCoroutine(self._resolve(domain))
        d.addTimeout(self._deadline, self._reactor)

        def failed(failure: Failure) -> Failure:
            while isinstance(failure.value, defer.FirstError):
                failure = failure.value.subFailure
            if not failure.check(ServerNotFound):
                # The deadline cancels the lookups under way.
                timedOut = failure.check(defer.TimeoutError, defer.CancelledError)
                reason = "timed out" if timedOut else str(failure.value)
                self._log.info("s2s: {domain} not resolved: {reason}", domain=domain, reason=reason)
                return Failure(ServerNotFound(domain, reason or failure.type.__name__))
            return failure

        return d.addErrback(failed)

    async def _resolve(self, domain: str) -> list[Target]:
        """
        The steps of L{resolve}, without its deadline.
        """
        override = self.overrides.get(domain)
        if override is not None:
            host, port = override
            return [Target(address, port, name=host) for address in await self._addresses(domain, host)]
        if _isAddress(domain):
            return [Target(domain, self._defaultPort, name=domain)]
        secure, plain = await defer.gatherResults(
            [
                defer.Deferred.fromCoroutine(self._srv("_xmpps-server._tcp." + domain)),
                defer.Deferred.fromCoroutine(self._srv("_xmpp-server._tcp." + domain)),
            ],
            consumeErrors=True,
        )
        records = [(r, True) for r in secure] + [(r, False) for r in plain]
        if records:
            usable = [(r, tls) for r, tls in records if r.target.name not in (b"", b".")]
            if not usable:
                raise ServerNotFound(domain, "its SRV records say there is no XMPP server")
            return await self._targets(domain, orderSRV(usable[:MAX_SRV_RECORDS], self._rng))
        return [Target(address, self._defaultPort, name=domain) for address in await self._addresses(domain, domain)]

    async def _srv(self, name: str) -> list[dns.Record_SRV]:
        """
        The SRV records of C{name}; none when there are none, the name does
        not exist or the lookup fails (then the A/AAAA fallback applies, as
        RFC 6120 section 3.2.1 allows).
        """
        try:
            result = await self._resolver.lookupService(name, timeout=self._queryTimeout)
        except (DomainError, NotImplementedError, defer.TimeoutError):
            return []
        except defer.CancelledError:
            raise
        except Exception as e:
            self._log.info("s2s: SRV lookup of {name} failed: {error}", name=name, error=str(e) or type(e).__name__)
            return []
        answers: list[dns.RRHeader] = list(result[0])  # type: ignore[call-overload]
        # mypy-zope cannot narrow an interface to the class by isinstance.
        return [cast(dns.Record_SRV, a.payload) for a in answers if a.type == dns.SRV][:MAX_SRV_RECORDS]

    async def _targets(self, domain: str, ordered: list[tuple[dns.Record_SRV, bool]]) -> list[Target]:
        """
        Each SRV record's addresses, in the records' order; a target with
        none is skipped.
        """
        names = list(dict.fromkeys(r.target.name.decode("ascii", "replace").rstrip(".") for r, _ in ordered))
        found = await defer.gatherResults(
            [defer.Deferred.fromCoroutine(self._addressesOrNone(domain, name)) for name in names],
            consumeErrors=True,
        )
        addresses = dict(zip(names, found))
        targets = []
        for record, directTLS in ordered:
            name = record.target.name.decode("ascii", "replace").rstrip(".")
            for address in addresses[name]:
                targets.append(Target(address, record.port, directTLS, name=name))
        if not targets:
            raise ServerNotFound(domain, "no address for any of its SRV targets " + ", ".join(names))
        return targets

    async def _addressesOrNone(self, domain: str, name: str) -> list[str]:
        """
        L{_addresses}, with none for a name that has none.
        """
        try:
            return await self._addresses(domain, name)
        except ServerNotFound:
            return []

    async def _addresses(self, domain: str, name: str) -> list[str]:
        """
        The addresses of C{name}, in the order of the configured IP
        versions.

        @raise ServerNotFound: If it has none.
        """
        if _isAddress(name):
            return [name]
        lookups = {4: "lookupAddress", 6: "lookupIPV6Address"}
        results = await defer.DeferredList(
            [
                getattr(self._resolver, lookups[version])(name, timeout=self._queryTimeout)
                for version in self._ipVersions
            ],
            consumeErrors=True,
        )
        addresses: list[str] = []
        reasons = []
        for ok, result in results:
            if not ok:
                # The deadline cancelled the lookups: stop here.
                result.trap(Exception)
                if result.check(defer.CancelledError):
                    result.raiseException()
                reasons.append(_why(result))
                continue
            answers = result[0]
            kept = [a.payload.dottedQuad() for a in answers if a.type == dns.A] + [
                ipaddress.ip_address(a.payload.address).compressed for a in answers if a.type == dns.AAAA
            ]
            addresses.extend(kept[:MAX_ADDRESSES])
        if not addresses:
            raise ServerNotFound(domain, f"no address for {name}" + (f" ({reasons[0]})" if reasons else ""))
        return list(dict.fromkeys(addresses))


def _why(failure: Failure) -> str:
    """
    A lookup failure in words.
    """
    if failure.check(DNSNameError, DomainError):
        return "no such name"
    if failure.check(defer.TimeoutError):
        return "timed out"
    return str(failure.value) or type(failure.value).__name__
