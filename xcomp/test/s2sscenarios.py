# -*- test-case-name: xcomp.test.test_s2s_prosody,xcomp.test.test_s2s_ejabberd -*-
"""
The federation scenarios of issue 11 end to end, written once and run
against each real remote server (L{xcomp.test.test_s2s_prosody} with
Debian's Prosody 0.12, L{xcomp.test.test_s2s_ejabberd} with Debian's
ejabberd 23.01): slixmpp users logged in to the remote server over c2s
reach the built-in C{muc} and external components that xcomp hosts on its
own 127.0.x.y address, and the components reach them.

The mixins here are not test cases themselves (so that no module runs
them twice); each test module makes them one with the peer class it sets
as L{Scenario.peerClass}.

Names: the remote server resolves xcomp's domains from a hosts file the
test writes (Prosody through lua-unbound's C{hoststxt}, ejabberd through
the DNS server of L{xcomp.test.ejabberdpeer} that serves it), and xcomp
resolves the remote domain through the same hosts file given to its
C{twisted.names} resolver as the only source (L{S2SConfig.hostsFile}): no
connect override, so the resolver's A-record fallback on 5269 is what
finds the peer.  Both sides trust one throwaway CA, except where a test
makes xcomp trust another one.
"""

from __future__ import annotations

import os
import random
import sys
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Iterable, Protocol, cast

from twisted.internet import reactor
from twisted.internet.defer import ensureDeferred
from twisted.internet.interfaces import IReactorProcess
from twisted.logger import ILogObserver, globalLogPublisher
from twisted.trial.unittest import TestCase

from xcomp.config import ComponentConfig, InternalComponentConfig, ListenerConfig, RouterConfig, TLSConfig
from xcomp.config.model import S2SConfig, S2SListenerConfig
from xcomp.service import RouterService
from xcomp.test.certs import TestCA
from xcomp.test.loopback import ChildProcess, ComponentClient, freePort
from xcomp.test.prosodypeer import C2SClient, childText, pickAddress, tag, writeHosts

if TYPE_CHECKING:
    _Base = TestCase
else:
    _Base = object

REMOTE = "remote.test"
MUC = "muc.xcomp.test"
ECHO = "echo.xcomp.test"
BOT = "bot.xcomp.test"
UNKNOWN = "nosuch.xcomp.test"
SECRET = "component-secret"
DISCO_INFO = "http://jabber.org/protocol/disco#info"
MUC_NS = "http://jabber.org/protocol/muc"


def _address() -> str:
    """
    A free 127.0.N.x address for port 5269, N in 4..254 as the final
    tests use.
    """
    return pickAddress(f"127.0.{random.randint(4, 254)}")


class RemotePeer(Protocol):
    """
    What the scenarios use of a real remote server
    (L{xcomp.test.prosodypeer.ProsodyPeer},
    L{xcomp.test.ejabberdpeer.EjabberdPeer}).
    """

    domain: str

    async def start(self) -> None: ...

    def client(self, name: str, password: str) -> C2SClient: ...

    def logText(self) -> str: ...


class PeerClass(Protocol):
    """
    The constructor of a L{RemotePeer}.
    """

    def __call__(
        self,
        testCase: TestCase,
        reactor: IReactorProcess,
        domain: str,
        ca: TestCA,
        hosts: str,
        *,
        address: str,
        users: Iterable[tuple[str, str]] = (),
    ) -> RemotePeer: ...


class Scenario(_Base):
    """
    A remote server and xcomp started for each test, with the users logged
    in; mixed into a L{TestCase} with L{peerClass} set.

    @cvar peerClass: The remote server.
    """

    peerClass: PeerClass
    timeout = 120
    #: Whether xcomp trusts the CA of the remote server's certificate.
    trustRemote = True
    #: xcomp's s2s_secure_auth.
    secureAuth = False

    def setUp(self) -> Any:
        """
        Start the remote server (users alice and bob) and xcomp (C{muc},
        the echo and bot components' domains), and log both users in.
        """
        self.events: list[dict[str, Any]] = []
        # A log observer is any callable taking the event.
        observer = cast(ILogObserver, self.events.append)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        return ensureDeferred(self.start())

    async def start(self) -> None:
        """
        The steps of L{setUp}.
        """
        self.ca = TestCA(self.mktemp())
        self.remoteAddress = _address()
        self.xcompAddress = _address()
        while self.xcompAddress == self.remoteAddress:
            self.xcompAddress = _address()
        hosts = writeHosts(
            os.path.abspath(self.mktemp()),
            {REMOTE: self.remoteAddress, MUC: self.xcompAddress, ECHO: self.xcompAddress, BOT: self.xcompAddress, UNKNOWN: self.xcompAddress},
        )
        self.remote = self.peerClass(
            cast(TestCase, self), reactor, REMOTE, self.ca, hosts, address=self.remoteAddress,
            users=[("alice", "pw-a"), ("bob", "pw-b")],
        )
        self.config = self.xcompConfig(hosts)
        service = RouterService(self.config, reactor=reactor)
        service.privilegedStartService()
        service.startService()
        self.addCleanup(service.stopService)
        await self.remote.start()
        self.alice = await self.remote.client("alice", "pw-a").login()
        self.bob = await self.remote.client("bob", "pw-b").login()

    def xcompConfig(self, hosts: str) -> RouterConfig:
        """
        xcomp's configuration: s2s on 5269 of its address, a certificate
        for each domain, the hosts file as its only name source.
        """
        certificates = {}
        for domain in (MUC, ECHO, BOT, UNKNOWN):
            issued = self.ca.issue(domain)
            certificates[domain] = TLSConfig(issued.certificate, issued.key)
        trust = self.ca.path if self.trustRemote else TestCA(self.mktemp(), "another CA").path
        s2s = S2SConfig(
            listeners=(S2SListenerConfig(5269, self.xcompAddress),),
            certificates=certificates,
            caCertificates=trust,
            secureAuth=self.secureAuth,
            hostsFile=hosts,
        )
        components = {
            MUC: InternalComponentConfig(domain=MUC, plugin="muc"),
            ECHO: ComponentConfig(domain=ECHO, secret=SECRET),
            BOT: ComponentConfig(domain=BOT, secret=SECRET),
        }
        return RouterConfig(
            components=MappingProxyType(components),
            listeners=(ListenerConfig(freePort(), "127.0.0.1"),),
            s2s=s2s,
        )

    def methods(self) -> set[str]:
        """
        How xcomp authenticated the remote server's incoming streams.
        """
        return {
            e["method"]
            for e in self.events
            if str(e.get("log_namespace", "")).startswith("xcomp.s2s.inbound") and e.get("remote") == REMOTE and "method" in e
        }

    async def component(self, domain: str) -> ComponentClient:
        """
        A Twisted component client connected to xcomp for C{domain}.
        """
        client = ComponentClient(reactor, domain, SECRET)
        await client.connect(self.config.listeners[0].port)
        self.addCleanup(client.disconnect)
        return client

    async def join(self, user: C2SClient, nick: str) -> None:
        """
        Join C{room@MUC} as C{nick} and wait for the self-presence.
        """
        user.send(f"<presence to='room@{MUC}/{nick}'><x xmlns='{MUC_NS}'/></presence>")
        await user.next(
            lambda s: tag(s) == "presence" and s.get("from") == f"room@{MUC}/{nick}" and s.get("type") is None
        )


class ScenarioTests(Scenario):
    """
    Remote users reach xcomp's components, and the components reach them.

    @cvar method: How the remote server's streams are expected to
        authenticate.
    """

    method = "EXTERNAL"

    async def test_discoInfoOnMUC(self) -> None:
        """
        A remote user's disco#info on the MUC service is answered with a
        conference identity and the MUC feature.
        """
        self.alice.send(f"<iq type='get' id='d1' to='{MUC}'><query xmlns='{DISCO_INFO}'/></iq>")
        answer = await self.alice.next(lambda s: tag(s) == "iq" and s.get("id") == "d1")
        self.assertEqual((answer.get("type"), answer.get("from")), ("result", MUC))
        query = answer.find(f"{{{DISCO_INFO}}}query")
        assert query is not None
        identities = [(i.get("category"), i.get("type")) for i in query.findall(f"{{{DISCO_INFO}}}identity")]
        self.assertIn(("conference", "text"), identities)
        self.assertIn(MUC_NS, [f.get("var") for f in query.findall(f"{{{DISCO_INFO}}}feature")])

    async def test_roomGroupchat(self) -> None:
        """
        A remote user creates and joins a room, a second remote user
        joins, and the first one's groupchat message reaches both.
        """
        await self.join(self.alice, "alice")
        # A room made by joining is locked until its owner accepts the
        # default configuration (XEP-0045 10.1.2).
        self.alice.send(
            f"<iq type='set' id='c1' to='room@{MUC}'><query xmlns='{MUC_NS}#owner'>"
            "<x xmlns='jabber:x:data' type='submit'/></query></iq>"
        )
        configured = await self.alice.next(lambda s: tag(s) == "iq" and s.get("id") == "c1")
        self.assertEqual(configured.get("type"), "result")
        await self.join(self.bob, "bob")
        self.alice.send(f"<message to='room@{MUC}' type='groupchat' id='g1'><body>hello room</body></message>")
        for user in (self.bob, self.alice):
            message = await user.next(lambda s: tag(s) == "message" and s.get("type") == "groupchat" and s.get("id") == "g1")
            self.assertEqual(message.get("from"), f"room@{MUC}/alice")
            self.assertEqual(childText(message, "body"), "hello room")

    async def test_messageToExternalComponent(self) -> None:
        """
        A remote user's message reaches a slixmpp external component on
        xcomp, whose answer comes back over s2s.
        """
        peer = ChildProcess(reactor)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        reactor.spawnProcess(
            peer,
            sys.executable,
            [sys.executable, "-m", "xcomp.test.slixpeer", ECHO, SECRET, str(self.config.listeners[0].port), "60"],
            env={**os.environ, "PYTHONPATH": root},
        )
        # Cleanups run last first: the signal, then the wait for the end.
        self.addCleanup(peer.ended)
        self.addCleanup(lambda: None if peer.done else peer.signal("TERM"))
        await peer.waitFor(rb"READY")
        self.alice.send(f"<message to='{ECHO}' type='chat' id='e1'><body>hi</body></message>")
        await peer.waitFor(rb"MESSAGE alice@remote.test/\S+ hi")
        answer = await self.alice.next(lambda s: tag(s) == "message" and s.get("from", "").startswith(ECHO))
        self.assertEqual(childText(answer, "body"), "echo: hi")

    async def test_componentIqToFullJID(self) -> None:
        """
        A component starts an iq to a remote user's full JID (a XEP-0199
        ping); the user's client answers, and the result reaches it.
        """
        bot = await self.component(BOT)
        bot.send(f"<iq type='get' id='p1' from='{BOT}' to='{self.alice.fullJID}'><ping xmlns='urn:xmpp:ping'/></iq>")
        answer = await bot.next(lambda e: e.name == "iq" and e.getAttribute("id") == "p1")
        self.assertEqual((answer["type"], answer["from"]), ("result", self.alice.fullJID))

    async def test_unknownDomain(self) -> None:
        """
        A stanza to a domain that resolves to xcomp but that xcomp does not
        host comes back to the user as an error.
        """
        self.alice.send(f"<message to='x@{UNKNOWN}' type='chat' id='u1'><body>anyone?</body></message>")
        error = await self.alice.next(lambda s: tag(s) == "message" and s.get("id") == "u1")
        self.assertEqual(error.get("type"), "error")

    async def test_authentication(self) -> None:
        """
        The remote server authenticated its stream with L{method}: SASL
        EXTERNAL when xcomp trusts its certificate.
        """
        await self.test_messageToComponent()
        self.assertEqual(self.methods(), {self.method})

    async def test_messageToComponent(self) -> None:
        """
        A remote user's message reaches a Twisted component on xcomp and
        the component's answer reaches the user.
        """
        bot = await self.component(BOT)
        self.alice.send(f"<message to='{BOT}' type='chat' id='b1'><body>ping</body></message>")
        stanza = await bot.next(lambda e: e.name == "message")
        self.assertEqual(stanza["from"], self.alice.fullJID)
        bot.send(f"<message from='{BOT}' to='{self.alice.fullJID}' type='chat' id='b2'><body>pong</body></message>")
        answer = await self.alice.next(lambda s: tag(s) == "message" and s.get("id") == "b2")
        self.assertEqual(childText(answer, "body"), "pong")


class DialbackScenarioTests(ScenarioTests):
    """
    xcomp does not trust the remote server's CA and secure auth is off:
    the remote server authenticates with dialback, and everything works as
    before.
    """

    trustRemote = False
    method = "dialback"


class SecureAuthRefuses(Scenario):
    """
    xcomp does not trust the remote server's CA and requires secure auth
    (C{s2s_secure_auth = true}): the remote server's streams are refused,
    nothing reaches the component, and the user gets an error.
    """

    trustRemote = False
    secureAuth = True

    async def test_refused(self) -> None:
        """
        The user's message bounces with an error; the component receives
        nothing, and no stream from the remote server was authenticated.
        """
        bot = await self.component(BOT)
        self.alice.send(f"<message to='{BOT}' type='chat' id='r1'><body>let me in</body></message>")
        error = await self.alice.next(lambda s: tag(s) == "message" and s.get("id") == "r1")
        self.assertEqual(error.get("type"), "error")
        self.assertEqual(bot.received, [])
        self.assertEqual(self.methods(), set())
