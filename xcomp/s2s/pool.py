# -*- test-case-name: xcomp.test.test_s2s_pool,xcomp.test.test_s2s_outbound_loopback -*-
"""
L{OutboundPool}: the router's remote route.  Every stanza for a domain
xcomp neither hosts nor has configured comes here, and goes out over the
link of its (sender's domain, recipient's domain) pair, one link per pair
(L{xcomp.s2s.outboundlink.OutboundLink}).

What cannot be delivered is answered, never dropped silently: the queue
bound of the remote domain is reached (C{resource-constraint}), its name
does not resolve (C{remote-server-not-found}), or the link could not be
set up in time (C{remote-server-timeout}).  Each answer goes to the sender
with the stanza's id; error stanzas are never answered.

The pool is also where s2s-in's receiving side asks a remote's
authoritative server about a dialback key (L{OutboundPool.verify}).
"""

from __future__ import annotations

from typing import Callable, Iterable

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTCP, IReactorTime
from zope.interface import implementer

from xcomp.config.model import S2SConfig
from xcomp.errors import bounce
from xcomp.interfaces import IRoute, IRouter
from xcomp.logsinks import Logger
from xcomp.router import hostOf, preparedHost
from xcomp.s2s.dialback import DialbackSecret
from xcomp.s2s.outboundlink import OutboundLink
from xcomp.s2s.outboundtypes import ClientTLS, Policy, Resolver, wireBytes
from xcomp.stanza import Stanza

__all__ = ["MAX_LINKS", "OutboundPool"]

#: Bound on the (local, remote) pairs with a link at once: remote servers
#: can make xcomp open links (dialback verification), and every link holds
#: a connection.
MAX_LINKS = 10000

#: How long L{OutboundPool.close} waits for remotes to let go.
CLOSE_TIMEOUT = 5.0

_ERROR_TYPES = {
    "remote-server-not-found": "cancel",
    "remote-server-timeout": "wait",
    "resource-constraint": "wait",
    "not-allowed": "cancel",
}


@implementer(IRoute)
class OutboundPool:
    """
    The outgoing links to remote servers, one per (local, remote) pair.

    @ivar domain: L{IRoute}'s domain: none in particular.
    """

    domain = "*"
    _log = Logger()

    def __init__(
        self,
        router: IRouter,
        config: S2SConfig,
        reactor: IReactorTCP,
        *,
        tls: ClientTLS,
        resolver: Resolver,
        secret: DialbackSecret,
        isLocal: Callable[[str], bool],
    ) -> None:
        """
        @param router: Where bounces go.
        @param reactor: Connects, and (as an L{IReactorTime}) keeps the
            deadlines.
        @param tls: The client side of TLS per (local, remote) pair.
        @param resolver: Where each remote domain's s2s service is.
        @param secret: Our dialback keys, as originating server.
        @param isLocal: Whether a (nameprep'd) domain is one xcomp serves:
            only those may originate stanzas here.
        """
        self._router = router
        self._config = config
        self._reactor = reactor
        self._clock: IReactorTime = reactor  # type: ignore[assignment]
        self._tls = tls
        self._resolver = resolver
        self._secret = secret
        self._isLocal = isLocal
        self._links: dict[tuple[str, str], OutboundLink] = {}
        # remote domain -> its links, for the per-remote queue bound.
        self._byRemote: dict[str, set[OutboundLink]] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"<OutboundPool {len(self._links)} links>"

    # IRoute

    def send(self, stanza: Stanza) -> None:
        """
        Send C{stanza} to its remote domain, or answer it with why not.
        """
        if self._closed:
            self._bounce(stanza, "remote-server-timeout", "Shutting down")
            return
        sender, recipient = stanza.sender or "", stanza.to or ""
        # Addresses as components write them are mostly prepared already:
        # an existing link is found without nameprep.
        link = self._links.get((hostOf(sender), hostOf(recipient)))
        if link is None:
            local, remote = preparedHost(sender), preparedHost(recipient)
            if local is None or remote is None or not self._isLocal(local):
                # The router lets only its own domains' stanzas come here;
                # one that is not is refused rather than sent under a name
                # we cannot authenticate.
                self._bounce(stanza, "not-allowed", "Not from a domain served here")
                return
            if not self._config.allows(remote):
                # MongooseIM's s2s.host_policy / default_policy.
                self._bounce(stanza, "not-allowed", f"Communication with {remote} is restricted")
                return
            link = self._link(local, remote)
        else:
            remote = link.remote
        if link is None:
            self._bounce(stanza, "resource-constraint", "Too many server-to-server links")
            return
        data = wireBytes(stanza)
        if link.state != "up":
            config = self._config
            links = self._byRemote.get(remote, ())
            count = sum(each.queuedCount for each in links)
            size = sum(each.queuedBytes for each in links)
            if count >= config.queueStanzas or size + len(data) > config.queueBytes:
                self._bounce(
                    stanza,
                    "resource-constraint",
                    f"Too much is waiting for the link to {remote}",
                )
                if not link.busy:
                    self.linkDone(link)
                return
        link.send(stanza, data)

    # For s2s-in

    def verify(self, receiving: str, originating: str, streamID: str, key: str) -> defer.Deferred[bool]:
        """
        Ask C{originating}'s authoritative server whether C{key} is the
        dialback key it gave C{receiving} on stream C{streamID}
        (C{<db:verify/>}, XEP-0220 section 2.3), over the link from
        C{receiving}.  Fires with its answer; with False on any failure, or
        when no answer came within C{s2s_timeout}.
        """
        if (
            self._closed
            or not self._isLocal(receiving)
            or self._isLocal(originating)
            or not self._config.allows(originating)
        ):
            # A remote claiming one of our own domains is not asked about.
            return defer.succeed(False)
        link = self._link(receiving, originating)
        if link is None:
            return defer.succeed(False)
        return link.verify(receiving, originating, streamID, key)

    def close(self) -> defer.Deferred[None]:
        """
        End every link (C{</stream:stream>}), answer what is queued with
        C{remote-server-timeout} and pending verifications with False.
        Fires once every connection is gone, or after a few seconds.
        """
        self._closed = True
        waits = [
            link.shutdown("remote-server-timeout", "Shutting down") for link in list(self._links.values())
        ]
        done = defer.DeferredList(waits, consumeErrors=True)
        done.addTimeout(CLOSE_TIMEOUT, self._clock)
        ended: defer.Deferred[None] = done.addBoth(lambda _: None)
        return ended

    def links(self) -> Iterable[OutboundLink]:
        """
        The links there are now (for tests and status).
        """
        return list(self._links.values())

    # What links tell

    def bounceAll(self, stanzas: list[Stanza], condition: str, text: str) -> None:
        for stanza in stanzas:
            self._bounce(stanza, condition, text)

    def linkDone(self, link: OutboundLink) -> None:
        key = (link.local, link.remote)
        if self._links.get(key) is link and not link.busy:
            del self._links[key]
            remotes = self._byRemote.get(link.remote)
            if remotes is not None:
                remotes.discard(link)
                if not remotes:
                    del self._byRemote[link.remote]

    # Inside

    def _link(self, local: str, remote: str) -> OutboundLink | None:
        link = self._links.get((local, remote))
        if link is not None:
            return link
        if len(self._links) >= MAX_LINKS:
            return None
        config = self._config
        secure = (
            config.secureAuth or remote in config.secureDomains
        ) and remote not in config.insecureDomains
        link = OutboundLink(
            self,
            Policy(
                local,
                remote,
                requireEncryption=config.requireEncryption,
                requireValidCertificate=secure,
                offerCertificate=local in config.certificates,
                stanzaSizeLimit=config.stanzaSizeLimit,
                maxOutput=config.queueBytes,
                sendTimeout=config.timeout,
            ),
            self._reactor,
            self._clock,
            tls=self._tls,
            resolver=self._resolver,
            secret=self._secret,
            timeout=config.timeout,
            connectTimeout=config.connectTimeout,
            idleTimeout=config.idleTimeout,
        )
        self._links[local, remote] = link
        self._byRemote.setdefault(remote, set()).add(link)
        return link

    def _bounce(self, stanza: Stanza, condition: str, text: str) -> None:
        """
        Answer C{stanza} on the next turn: this runs inside the router's
        C{route}, which must not be re-entered.
        """
        reply = bounce(stanza, condition, type=_ERROR_TYPES[condition], text=text)
        if reply is not None:
            self._clock.callLater(0, self._router.route, reply)
