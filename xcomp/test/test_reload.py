# -*- test-case-name: xcomp.test.test_reload -*-
"""
Tests for L{xcomp.service.RouterService.reload} (L{xcomp.reload}): a
running router on real loopback ports, real component clients, and
configuration files rewritten between reloads.
"""

from __future__ import annotations

import socket

from twisted.internet import reactor
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.protocol import ClientFactory, Protocol
from twisted.python.filepath import FilePath
from twisted.trial.unittest import TestCase
from twisted.words.xish import domish
from twisted.logger import LogLevel, capturedLogs, formatEvent

from xcomp.config import ListenerConfig, RouterConfig, TLSConfig, loadConfig
from xcomp.plugin import installedModules, installedPlugins
from xcomp.reload import ReloadResult
from xcomp.service import RouterService
from xcomp.test.helpers import makeConfig
from xcomp.testing import NS_STANZAS
from xcomp.test.loopback import PROCESS_TIMEOUT, ComponentClient, freePort
from xcomp.test.tlsclient import SECRET, TLSListenerTestCase

LISTEN = 'component_ports = {{ {ports} }}\ncomponent_interfaces = {{ "127.0.0.1" }}\n'
A_AND_B = 'Component "a.example"\n  component_secret = "a"\nComponent "b.example"\n  component_secret = "b"\n'


def messages(sender: str, to: str, first: int, count: int) -> str:
    """
    C{count} messages numbered from C{first}, as one string to send.
    """
    return "".join(
        f"<message from='{sender}' to='{to}' id='m{n}'><body>{n}</body></message>"
        for n in range(first, first + count)
    )


def condition(stanza: domish.Element) -> str | None:
    """
    The defined condition of an error stanza, or L{None}.
    """
    for error in stanza.elements():
        if error.name == "error" and stanza.getAttribute("type") == "error":
            for child in error.elements(NS_STANZAS):
                if child.name != "text":
                    return str(child.name)
    return None


class ReloadTestCase(TestCase):
    """
    A running L{RouterService} made from a file the test rewrites.
    """

    timeout = 60

    def setUp(self) -> None:
        self.port = freePort()
        directory = FilePath(self.mktemp())
        directory.makedirs()
        self.path = directory.child("xcomp.cfg.lua")

    def write(self, text: str) -> None:
        """
        Replace the configuration file's text.
        """
        self.path.setContent(text.encode("utf-8"))

    def load(self) -> RouterConfig:
        """
        Read the configuration file as C{twistd xcomp} does.
        """
        return loadConfig(self.path.path, plugins=installedPlugins(), modules=installedModules())

    def start(self, text: str) -> RouterService:
        """
        Write C{text} and run a router on it.
        """
        self.write(text)
        service = RouterService(self.load(), reactor=reactor)
        service.startService()
        self.addCleanup(service.stopService)
        self.service = service
        return service

    async def reload(self, text: str) -> ReloadResult:
        """
        Write C{text} and reload the running router from it.
        """
        self.write(text)
        return await self.service.reload(self.load)

    async def connect(self, domain: str, secret: str, port: int | None = None) -> ComponentClient:
        """
        A component client authenticated as C{domain}.
        """
        client = ComponentClient(reactor, domain, secret)
        self.addCleanup(client.disconnect)
        await client.connect(port or self.port)
        return client

    async def refused(self, domain: str, secret: str, port: int | None = None) -> str | None:
        """
        Connect as C{domain} expecting a refusal; the stream error's
        condition.
        """
        client = ComponentClient(reactor, domain, secret)
        self.addCleanup(client.disconnect)
        try:
            await client.connect(port or self.port)
        except Exception:
            return client.streamError
        self.fail(f"{domain} was accepted")


class ComponentReloadTests(ReloadTestCase):
    """
    Components added, removed and changed by a reload.
    """

    async def test_addedBindable(self) -> None:
        """
        A component added to the file can bind once the file is reloaded,
        and not before; the result says what changed.
        """
        base = LISTEN.format(ports=self.port) + A_AND_B
        self.start(base)
        self.assertEqual(await self.refused("c.example", "c"), "host-unknown")
        result = await self.reload(base + 'Component "c.example"\n  component_secret = "c"\n')
        self.assertTrue(result.ok, result)
        self.assertEqual(result.changes, ("components added: c.example",))
        self.assertIs(self.service.lastReload, result)
        await self.connect("c.example", "c")

    async def test_removedHostGone(self) -> None:
        """
        A connected component removed from the file is disconnected with
        the C{host-gone} stream error; its domain is then unknown.  The
        other component stays connected.
        """
        self.start(LISTEN.format(ports=self.port) + A_AND_B)
        a = await self.connect("a.example", "a")
        b = await self.connect("b.example", "b")
        result = await self.reload(LISTEN.format(ports=self.port) + 'Component "b.example"\n  component_secret = "b"\n')
        await a.lost().addTimeout(PROCESS_TIMEOUT, reactor)
        self.assertEqual(a.streamError, "host-gone")
        self.assertEqual(result.changes, ("components removed: a.example",))
        self.assertFalse(b.lost().called)
        self.assertEqual(await self.refused("a.example", "a"), "host-unknown")

    async def test_removedWhileHeldAnswered(self) -> None:
        """
        Stanzas held for a component that is away when it is removed from
        the file are answered at once with C{remote-server-timeout}, not
        after its grace period; a stanza sent after the reload is answered
        as for any unknown domain (C{remote-server-not-found}), not held.
        """
        hold = 'component_hold_time = 3600\n'
        self.start(LISTEN.format(ports=self.port) + hold + A_AND_B)
        a = await self.connect("a.example", "a")
        b = await self.connect("b.example", "b")
        a.disconnect()
        await a.lost().addTimeout(PROCESS_TIMEOUT, reactor)
        b.send(messages("b.example", "a.example", 0, 1))
        # An iq to itself comes back once the router has read the message.
        b.send("<iq type='get' id='sync' from='b.example' to='b.example'/>")
        await b.next(lambda e: e.getAttribute("id") == "sync").addTimeout(PROCESS_TIMEOUT, reactor)
        self.assertEqual(self.service.router.heldStanzas(), {"a.example": 1})
        result = await self.reload(LISTEN.format(ports=self.port) + hold + 'Component "b.example"\n  component_secret = "b"\n')
        self.assertTrue(result.ok, result)
        held = await b.next(lambda e: e.getAttribute("id") == "m0")
        self.assertEqual(condition(held), "remote-server-timeout")
        b.send(messages("b.example", "a.example", 1, 1))
        after = await b.next(lambda e: e.getAttribute("id") == "m1")
        self.assertEqual(condition(after), "remote-server-not-found")
        self.assertEqual(self.service.router.heldStanzas(), {})

    async def test_secretNextHandshake(self) -> None:
        """
        A changed secret applies to the next handshake: the old one is
        refused, the new one accepted; a connected component whose secret
        changed stays connected and keeps routing.
        """
        self.start(LISTEN.format(ports=self.port) + A_AND_B)
        a = await self.connect("a.example", "a")
        b = await self.connect("b.example", "b")
        result = await self.reload(LISTEN.format(ports=self.port) + A_AND_B.replace('"b"', '"new-b"'))
        self.assertEqual(result.changes, ("components changed: b.example",))
        a.send(messages("a.example", "b.example", 0, 1))
        self.assertEqual((await b.next())["id"], "m0")
        await b.disconnect()
        self.assertEqual(await self.refused("b.example", "b"), "not-authorized")
        await self.connect("b.example", "new-b")

    async def test_unchangedKeepsRoutingInOrder(self) -> None:
        """
        A reload in the middle of a stream of stanzas between two components
        whose configuration did not change: every stanza arrives, in order,
        on the same stream.
        """
        base = LISTEN.format(ports=self.port) + A_AND_B
        self.start(base)
        a = await self.connect("a.example", "a")
        b = await self.connect("b.example", "b")
        streamOfB = b.xs
        a.send(messages("a.example", "b.example", 0, 2000))
        reloaded = self.service.reload(lambda: self._rewrite(base + 'Component "c.example"\n  component_secret = "c"\n'))
        a.send(messages("a.example", "b.example", 2000, 2000))
        result = await reloaded
        self.assertTrue(result.ok, result)
        a.send(messages("a.example", "b.example", 4000, 2000))
        await b.next(lambda e: e.getAttribute("id") == "m5999")
        ids = [e["id"] for e in b.received]
        self.assertEqual(ids, [f"m{n}" for n in range(6000)])
        self.assertIs(b.xs, streamOfB)
        self.assertFalse(a.lost().called or b.lost().called)

    def _rewrite(self, text: str) -> RouterConfig:
        self.write(text)
        return self.load()


class ErrorReloadTests(ReloadTestCase):
    """
    A reload that cannot be applied keeps the running configuration.
    """

    async def test_configErrorKept(self) -> None:
        """
        A mistake in the file: the result is C{file:line: message}, the
        running configuration and its connected components are kept.
        """
        base = LISTEN.format(ports=self.port) + A_AND_B
        service = self.start(base)
        running = service.config
        a = await self.connect("a.example", "a")
        b = await self.connect("b.example", "b")
        with capturedLogs() as events:
            result = await self.reload(base + 'Component "c.example"\n')
        self.assertFalse(result.ok)
        self.assertTrue(result.message.startswith(f'{self.path.path}:7: Component "c.example": '), result.message)
        self.assertTrue(result.message.endswith("(the running configuration is kept)"), result.message)
        self.assertIs(service.config, running)
        self.assertIs(service.lastReload, result)
        lines = [formatEvent(e) for e in events if e.get("log_level") == LogLevel.error]
        self.assertEqual(lines, [f"Reload: {result.message}"])
        a.send(messages("a.example", "b.example", 0, 1))
        self.assertEqual((await b.next())["id"], "m0")

    async def test_portInUseKept(self) -> None:
        """
        A new listener whose port cannot be bound: the error names its line
        and address, nothing else is applied (the component added in the
        same reload cannot bind).
        """
        held = socket.socket()
        self.addCleanup(held.close)
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        other = held.getsockname()[1]
        self.start(LISTEN.format(ports=self.port) + A_AND_B)
        result = await self.reload(
            LISTEN.format(ports=f"{self.port}, {other}") + A_AND_B + 'Component "c.example"\n  component_secret = "c"\n'
        )
        self.assertEqual(
            result.message,
            f"{self.path.path}:1: cannot listen for components on 127.0.0.1:{other}: Address already in use"
            " (the running configuration is kept)",
        )
        self.assertEqual(sorted(self.service.ports), [("127.0.0.1", self.port)])
        self.assertEqual(await self.refused("c.example", "c"), "host-unknown")


class _Probe(Protocol):
    pass


async def connectionRefused(port: int) -> bool:
    """
    Whether a TCP connection to 127.0.0.1:C{port} is refused.
    """
    from twisted.internet.endpoints import TCP4ClientEndpoint

    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=PROCESS_TIMEOUT)
    try:
        protocol = await endpoint.connect(ClientFactory.forProtocol(_Probe))
    except ConnectionRefusedError:
        return True
    assert isinstance(protocol, _Probe) and protocol.transport is not None
    protocol.transport.loseConnection()
    return False


class ListenerReloadTests(ReloadTestCase):
    """
    Listeners opened and closed by a reload.
    """

    async def test_portMoved(self) -> None:
        """
        A port replaced by another in C{component_ports}: the new one
        accepts components, the old one refuses connections, and a
        component connected through the old one stays connected and routes.
        """
        self.start(LISTEN.format(ports=self.port) + A_AND_B)
        a = await self.connect("a.example", "a")
        newPort = freePort()
        result = await self.reload(LISTEN.format(ports=newPort) + A_AND_B)
        self.assertEqual(
            result.changes,
            (f"listening on: 127.0.0.1:{newPort}", f"no longer listening on: 127.0.0.1:{self.port}"),
        )
        self.assertTrue(await connectionRefused(self.port))
        b = await self.connect("b.example", "b", newPort)
        a.send(messages("a.example", "b.example", 0, 1))
        self.assertEqual((await b.next())["id"], "m0")
        b.send(messages("b.example", "a.example", 1, 1))
        self.assertEqual((await a.next())["id"], "m1")

    async def test_optionChangedSamePort(self) -> None:
        """
        A listener option other than the address (here the stanza size
        limit) changes the factory in place: the connected component stays,
        and a new connection gets the new option.
        """
        base = LISTEN.format(ports=self.port) + A_AND_B
        self.start(base)
        a = await self.connect("a.example", "a")
        result = await self.reload("component_timeout = 2\n" + base)
        self.assertEqual(result.changes, (f"listener options changed on: 127.0.0.1:{self.port}",))
        [factory] = self.service.factories
        self.assertEqual(factory.listener.stateTimeout, 2)
        self.assertFalse(a.lost().called)
        self.assertIn(factory.listener, self.service.config.listeners)


class InternalReloadTests(ReloadTestCase):
    """
    Internal components started and stopped by a reload.
    """

    async def test_startStop(self) -> None:
        """
        An internal component added to the file starts and answers; removed,
        it stops, and its domain is no longer served.
        """
        base = LISTEN.format(ports=self.port) + A_AND_B
        self.start(base)
        a = await self.connect("a.example", "a")
        result = await self.reload(base + 'Component "rooms.example" "muc"\n')
        self.assertEqual(result.changes, ("internal components started: rooms.example",))
        muc = self.service.components["rooms.example"]
        self.assertTrue(muc.running)  # type: ignore[attr-defined]
        a.send(
            "<iq type='get' from='a.example' to='rooms.example' id='d1'>"
            "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>"
        )
        reply = await a.next(lambda e: e.getAttribute("id") == "d1")
        self.assertEqual(reply["type"], "result")
        result = await self.reload(base)
        self.assertEqual(result.changes, ("internal components stopped: rooms.example",))
        self.assertFalse(muc.running)  # type: ignore[attr-defined]
        self.assertNotIn("rooms.example", self.service.components)
        a.send(
            "<iq type='get' from='a.example' to='rooms.example' id='d2'>"
            "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>"
        )
        reply = await a.next(lambda e: e.getAttribute("id") == "d2")
        [error] = [c for c in reply.elements() if c.name == "error"]
        self.assertEqual([c.name for c in error.elements()], ["remote-server-not-found"])


class TLSReloadTests(TLSListenerTestCase):
    """
    A listener whose TLS setting changes is opened again on its port.
    """

    timeout = 60

    async def test_plainToTLS(self) -> None:
        """
        TLS added to a plain port: the port is opened again with TLS, a
        component connects through TLS, and the component connected in the
        clear before stays bound.
        """
        port = freePort()
        components = {"a.example": {"secret": SECRET}, "b.example": {"secret": "b"}}
        service = RouterService(
            makeConfig(components=components, listeners=(ListenerConfig(port, "127.0.0.1"),)), reactor=reactor
        )
        service.startService()
        self.addCleanup(service.stopService)
        b = ComponentClient(reactor, "b.example", "b")
        self.addCleanup(b.disconnect)
        await b.connect(port)
        tls = TLSConfig(self.server.certificate, self.server.key)
        new = makeConfig(components=components, listeners=(ListenerConfig(port, "127.0.0.1", tls),))
        result = await service.reload(lambda: new)
        self.assertEqual(result.changes, (f"listening again on: 127.0.0.1:{port}",))
        self.port = port
        await self.assertAuthenticates(service, self.clientOptions())
        self.assertFalse(b.lost().called)
        self.assertIsNotNone(service.router.lookup("b.example"))
