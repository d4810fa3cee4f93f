# -*- test-case-name: xcomp.test.test_s2s_service -*-
"""
Tests for L{xcomp.s2s.service}: the s2s listeners in the service tree,
over real loopback sockets, with a remote server played by
L{RawServerPeer} and a real component connected to xcomp.
"""

from __future__ import annotations

import socket

import attrs
from twisted.internet import reactor
from twisted.trial.unittest import TestCase

from xcomp.config import ListenerConfig, RouterConfig
from xcomp.config.model import S2SConfig, S2SListenerConfig
from xcomp.s2s.service import S2SService
from xcomp.service import RouterService
from xcomp.tap import CommandLineService
from xcomp.test.helpers import makeConfig
from xcomp.test.loopback import ComponentClient, freePort
from xcomp.test.s2srawpeer import FakePool, connectPeer, s2sHeader

COMPONENT = "comp.example.org"
HOST = "example.org"
REMOTE = "remote.example.net"
SECRET = "s3cret"


def s2sConfig(port: int, **options: object) -> RouterConfig:
    """
    A router with one component listener, one s2s listener on C{port},
    L{COMPONENT} and L{HOST}.
    """
    s2s = S2SConfig(listeners=(S2SListenerConfig(port, "127.0.0.1"),), **options)  # type: ignore[arg-type]
    return makeConfig(
        components={COMPONENT: {"secret": SECRET}},
        virtualHosts=[HOST],
        listeners=(ListenerConfig(freePort(), "127.0.0.1"),),
        s2s=s2s,
    )


class ServiceTests(TestCase):
    """
    L{S2SService} in a running router.
    """

    def start(self, config: RouterConfig) -> tuple[RouterService, S2SService, FakePool]:
        """
        Start the router with C{config}'s component listener and an
        L{S2SService} for its s2s listeners around a L{FakePool}.
        """
        service = RouterService(attrs.evolve(config, s2s=None), reactor=reactor)
        pool = FakePool()
        s2s = S2SService(config, service.router, reactor, pool=pool)
        s2s.setServiceParent(service)
        service.privilegedStartService()
        service.startService()
        self.addCleanup(service.stopService)
        return service, s2s, pool

    async def component(self, config: RouterConfig) -> ComponentClient:
        client = ComponentClient(reactor, COMPONENT, SECRET)
        await client.connect(config.listeners[0].port)
        self.addCleanup(client.disconnect)
        return client

    async def test_dialbackBothWays(self) -> None:
        """
        A remote server authenticates with dialback (verified by the pool)
        and its message reaches the component; the component's answer goes
        to the remote route.
        """
        config = s2sConfig(freePort(), requireEncryption=False)
        service, s2s, pool = self.start(config)
        self.assertIs(service.router._remote, pool)
        client = await self.component(config)
        peer = await connectPeer(reactor, config.s2s.listeners[0].port)  # type: ignore[union-attr]
        self.addCleanup(peer.disconnect)
        peer.send(s2sHeader(COMPONENT, REMOTE))
        await peer.waitFor(rb"<dialback xmlns='urn:xmpp:features:dialback'>")
        peer.send(f"<db:result from='{REMOTE}' to='{COMPONENT}'>abc</db:result>".encode())
        await peer.waitFor(rb"<db:result [^>]*type='valid'/>")
        self.assertEqual(pool.verified[0][:2], (COMPONENT, REMOTE))
        peer.send(f"<message from='u@{REMOTE}/r' to='{COMPONENT}' id='m1'><body>ping</body></message>".encode())
        message = await client.next(lambda e: e.name == "message")
        self.assertEqual((message["from"], str(message.body)), (f"u@{REMOTE}/r", "ping"))
        answered = pool.next()
        client.send(f"<message from='{COMPONENT}' to='u@{REMOTE}/r' id='m2'><body>pong</body></message>")
        self.assertEqual((await answered).attributes["to"], f"u@{REMOTE}/r")

    async def test_authoritative(self) -> None:
        """
        A C{db:verify} over the s2s port is answered from this process's
        dialback secret.
        """
        config = s2sConfig(freePort(), requireEncryption=False, dialbackSecret="sekrit")
        _, s2s, _ = self.start(config)
        key = s2s.factory.secret.key(REMOTE, COMPONENT, "id1")
        peer = await connectPeer(reactor, config.s2s.listeners[0].port)  # type: ignore[union-attr]
        self.addCleanup(peer.disconnect)
        peer.send(s2sHeader(COMPONENT, REMOTE))
        peer.send(f"<db:verify from='{REMOTE}' to='{COMPONENT}' id='id1'>{key}</db:verify>".encode())
        await peer.waitFor(rb"<db:verify from='comp.example.org' to='remote.example.net' id='id1' type='valid'/>")

    async def test_stopEndsStreams(self) -> None:
        """
        Stopping the service ends incoming streams with C{system-shutdown},
        closes the pool and takes the remote route away.
        """
        config = s2sConfig(freePort(), requireEncryption=False)
        service, s2s, pool = self.start(config)
        peer = await connectPeer(reactor, config.s2s.listeners[0].port)  # type: ignore[union-attr]
        peer.send(s2sHeader(COMPONENT, REMOTE))
        await peer.waitFor(rb"</stream:features>")
        await s2s.stopService()
        await peer.waitFor(rb"<system-shutdown")
        await peer.lost()
        self.assertTrue(pool.closed)
        self.assertIsNone(service.router._remote)

    def test_portInUse(self) -> None:
        """
        An s2s port that cannot be bound stops startup with one line that
        says it is the server port.
        """
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            port = busy.getsockname()[1]
            config = s2sConfig(port)
            root = CommandLineService(config)
            service = RouterService(attrs.evolve(config, s2s=None), reactor=reactor)
            S2SService(config, service.router, reactor, pool=FakePool()).setServiceParent(service)
            service.setServiceParent(root)
            with self.assertRaises(SystemExit) as raised:
                root.privilegedStartService()
        self.assertIn(f"cannot listen for servers on 127.0.0.1:{port}", str(raised.exception))
        self.addCleanup(root.stopService)

