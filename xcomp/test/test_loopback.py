"""
Interop over real loopback sockets: C{twistd xcomp} runs as its own process
from a config file, and Twisted's, wokkel's and slixmpp's component clients
connect to it.
"""

from __future__ import annotations

import os
import signal
import socket
import sys

from twisted.internet import defer, reactor
from twisted.trial.unittest import TestCase
from twisted.words.protocols.jabber.xmlstream import IQ
from twisted.words.xish import domish

from xcomp._wokkel import component as wokkelComponent, subprotocols
from xcomp.test.loopback import ChildProcess, ComponentClient, freePort, spawnTwistd, startRouter

NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
SECRETS = {
    "tw.example.org": "tw-s3cret",
    "peer.example.org": "peer-s3cret",
    "slix.example.org": "slix-s3cret",
    "wk.example.org": "wk-s3cret",
}

CONFIG = """
-- A config as a Prosody admin writes it.
component_ports = {{ {port} }}
component_interfaces = {{ "127.0.0.1" }}

VirtualHost "example.org"
    name = "Test host"

Component "tw.example.org"
    component_secret = "tw-s3cret"
    name = "Twisted client"
Component "peer.example.org"
    component_secret = "peer-s3cret"
Component "slix.example.org"
    component_secret = "slix-s3cret"
Component "wk.example.org"
    component_secret = "wk-s3cret"
Component "offline.example.org"
    component_secret = "offline-s3cret"
Component "hidden.example.org"
    component_secret = "hidden-s3cret"
    disco_hidden = true
"""


def errorOf(element: domish.Element) -> tuple[str | None, list[str]]:
    [error] = [c for c in element.elements() if c.name == "error"]
    return error.getAttribute("type"), [c.name for c in error.elements()]


class LoopbackTestCase(TestCase):
    timeout = 60

    async def startRouter(self, *extra: str) -> ChildProcess:
        self.port = freePort()
        child, self.directory = await startRouter(self, reactor, CONFIG.format(port=self.port), *extra)
        return child

    async def component(self, domain: str, secret: str | None = None) -> ComponentClient:
        client = ComponentClient(reactor, domain, secret or SECRETS[domain])
        self.addCleanup(client.disconnect)
        return await client.connect(self.port)


class RoutingOverTCPTests(LoopbackTestCase):
    """
    Stanzas and errors between components connected to a real router process.
    """

    async def test_messageIqPresence(self) -> None:
        """
        A message, an iq round trip and a presence pass between two Twisted
        component clients, unchanged.
        """
        await self.startRouter()
        tw = await self.component("tw.example.org")
        peer = await self.component("peer.example.org")

        tw.send(
            "<message from='bot@tw.example.org' to='user@peer.example.org/r' id='m1'>"
            "<body>caf\u00e9 &lt;3</body></message>"
        )
        message = await peer.next(lambda e: e.name == "message")
        self.assertEqual((message["from"], message["id"], str(message.body)), ("bot@tw.example.org", "m1", "caf\u00e9 <3"))

        iq = IQ(tw.xs, "get")
        iq["to"] = "peer.example.org"
        iq.addElement(("urn:xmpp:ping", "ping"))
        answered = iq.send()
        request = await peer.next(lambda e: e.name == "iq")
        peer.send(f"<iq type='result' to='{request['from']}' id='{request['id']}'/>")
        result = await answered
        self.assertEqual(result["type"], "result")

        peer.send("<presence from='peer.example.org' to='tw.example.org'><show>away</show></presence>")
        presence = await tw.next(lambda e: e.name == "presence")
        self.assertEqual(str(presence.show), "away")

    async def test_errors(self) -> None:
        """
        Over the wire: an unknown domain gets C{remote-server-not-found}, a
        configured component that is not connected gets
        C{remote-server-timeout} with C{not-connected}, a user of the
        VirtualHost gets C{service-unavailable}.
        """
        await self.startRouter()
        tw = await self.component("tw.example.org")
        cases = {
            "nowhere.example.net": ("cancel", ["remote-server-not-found"]),
            "offline.example.org": ("wait", ["remote-server-timeout", "not-connected"]),
            "alice@example.org": ("cancel", ["service-unavailable"]),
        }
        for n, to in enumerate(cases):
            tw.send(f"<message from='tw.example.org' to='{to}' id='e{n}'><body>x</body></message>")
        for n, (to, expected) in enumerate(cases.items()):

            def isReply(e: domish.Element, id: str = f"e{n}") -> bool:
                return e.getAttribute("id") == id

            reply = await tw.next(isReply)
            self.assertEqual((reply["type"], reply["from"]), ("error", to))
            self.assertEqual(errorOf(reply), expected)

    async def test_discoOnVirtualHost(self) -> None:
        """
        disco#items on the VirtualHost lists its components by name, leaving
        out the hidden one.
        """
        await self.startRouter()
        tw = await self.component("tw.example.org")
        tw.send(
            "<iq type='get' from='tw.example.org' to='example.org' id='d1'>"
            "<query xmlns='http://jabber.org/protocol/disco#items'/></iq>"
        )
        reply = await tw.next(lambda e: e.getAttribute("id") == "d1")
        items = {
            i["jid"]: i.getAttribute("name")
            for i in reply.query.elements("http://jabber.org/protocol/disco#items", "item")
        }
        self.assertEqual(items["tw.example.org"], "Twisted client")
        self.assertIn("offline.example.org", items)
        self.assertNotIn("hidden.example.org", items)

    async def test_wrongSecret(self) -> None:
        """
        A component with the wrong secret gets C{not-authorized} and its
        connection is closed.
        """
        await self.startRouter()
        client = ComponentClient(reactor, "tw.example.org", "not-the-secret")
        with self.assertRaises(Exception):
            await client.connect(self.port)
        await client.lost()
        self.assertEqual(client.streamError, "not-authorized")

    async def test_invalidFrom(self) -> None:
        """
        A spoofed C{from} ends the sender's stream with C{invalid-from}, and
        the stanza is not delivered.
        """
        await self.startRouter()
        tw = await self.component("tw.example.org")
        peer = await self.component("peer.example.org")
        tw.send("<message from='admin@example.org' to='peer.example.org' id='spoof'/>")
        await tw.lost()
        self.assertEqual(tw.streamError, "invalid-from")
        peer.send("<iq type='get' from='peer.example.org' to='nowhere.example.net' id='after'/>")
        await peer.next(lambda e: e.getAttribute("id") == "after")
        self.assertEqual([e for e in peer.received if e.getAttribute("id") == "spoof"], [])

    async def test_kickNewOverTCP(self) -> None:
        """
        A second connection for a connected component gets C{conflict}.
        """
        await self.startRouter()
        await self.component("tw.example.org")
        second = ComponentClient(reactor, "tw.example.org", SECRETS["tw.example.org"])
        with self.assertRaises(Exception):
            await second.connect(self.port)
        self.assertEqual(second.streamError, "conflict")


class OtherClientsTests(LoopbackTestCase):
    """
    slixmpp and wokkel components against the router process.
    """

    async def test_slixmppComponent(self) -> None:
        """
        slixmpp's C{ComponentXMPP}, in its own process, authenticates,
        receives a message and answers it, and answers a XEP-0199 ping.
        """
        await self.startRouter()
        peer = ChildProcess(reactor)
        reactor.spawnProcess(
            peer,
            sys.executable,
            [sys.executable, "-m", "xcomp.test.slixpeer", "slix.example.org", SECRETS["slix.example.org"], str(self.port), "30"],
            env=None,
        )

        def kill() -> defer.Deferred[int | None]:
            peer.signal("KILL")
            return peer.ended()

        self.addCleanup(kill)
        await peer.waitFor(rb"READY")
        tw = await self.component("tw.example.org")
        tw.send("<message from='a@tw.example.org' to='bot@slix.example.org' id='s1'><body>hello</body></message>")
        echo = await tw.next(lambda e: e.name == "message")
        self.assertEqual(str(echo.body), "echo: hello")
        await peer.waitFor(rb"MESSAGE a@tw.example.org hello")

        iq = IQ(tw.xs, "get")
        iq["to"] = "slix.example.org"
        iq.addElement(("urn:xmpp:ping", "ping"))
        result = await iq.send()
        self.assertEqual(result["type"], "result")

        tw.send("<presence from='a@tw.example.org' to='bot@slix.example.org'><show>away</show></presence>")
        await peer.waitFor(rb"PRESENCE a@tw.example.org away")
        presence = await tw.next(lambda e: e.name == "presence")
        self.assertEqual((presence["from"], str(presence.show)), ("slix.example.org", "dnd"))

        tw.send("<message from='tw.example.org' to='slix.example.org'><body>bounce x@nowhere.example.net</body></message>")
        await peer.waitFor(rb"ERROR-MESSAGE x@nowhere.example.net remote-server-not-found")

    async def test_wokkelComponent(self) -> None:
        """
        wokkel's C{Component} service with an ordinary XMPPHandler answers
        messages routed to it.
        """
        await self.startRouter()
        ready: defer.Deferred[None] = defer.Deferred()

        class Echo(subprotocols.XMPPHandler):
            def connectionInitialized(self) -> None:
                self.xmlstream.addObserver("/message", self.onMessage)
                ready.callback(None)

            def onMessage(self, message: domish.Element) -> None:
                reply = domish.Element((None, "message"))
                reply["to"] = message["from"]
                reply.addElement("body", content="wokkel: " + str(message.body))
                self.send(reply)

        service = wokkelComponent.Component("127.0.0.1", self.port, "wk.example.org", SECRETS["wk.example.org"])
        service.factory.maxRetries = 0
        Echo().setHandlerParent(service)
        service.startService()
        self.addCleanup(service.stopService)
        await ready.addTimeout(20, reactor)

        tw = await self.component("tw.example.org")
        tw.send("<message from='tw.example.org' to='wk.example.org'><body>hi</body></message>")
        reply = await tw.next(lambda e: e.name == "message")
        self.assertEqual((reply["from"], str(reply.body)), ("wk.example.org", "wokkel: hi"))


class ProcessTests(LoopbackTestCase):
    """
    The process as an administrator sees it: logs, signals, startup errors.
    """

    async def test_sigtermSystemShutdown(self) -> None:
        """
        SIGTERM closes every component stream with C{system-shutdown}, and
        the process shuts down cleanly (twistd then ends itself with the
        signal it received, as Twisted does).
        """
        child = await self.startRouter()
        tw = await self.component("tw.example.org")
        child.signal("TERM")
        await tw.lost()
        self.assertEqual(tw.streamError, "system-shutdown")
        await child.ended()
        self.assertIn(child.exitSignal, (None, signal.SIGTERM))
        self.assertIn(child.exitCode, (None, 0))
        self.assertIn(b"Server Shut Down.", child.output)
        self.assertNotIn(b"Traceback", child.output)

    async def test_logs(self) -> None:
        """
        The log has one line per bind and unbind with the peer address, one
        per stream error with condition and peer, and never a secret or a
        message body.
        """
        child = await self.startRouter()
        tw = await self.component("tw.example.org")
        tw.send("<message from='tw.example.org' to='nowhere.example.net'><body>private words</body></message>")
        await tw.next()
        await tw.disconnect()
        bad = ComponentClient(reactor, "peer.example.org", "wrong")
        with self.assertRaises(Exception):
            await bad.connect(self.port)
        await child.waitFor(rb"Stream error not-authorized to 127\.0\.0\.1:\d+")
        await child.waitFor(rb"Component tw\.example\.org unbound \(127\.0\.0\.1:\d+\)")
        output = bytes(child.output)
        self.assertEqual(output.count(b"Component tw.example.org bound (127.0.0.1:"), 1)
        for secret in [*SECRETS.values(), "private words"]:
            self.assertNotIn(secret.encode(), output)

    async def test_verbose(self) -> None:
        """
        With C{--verbose}, each routed stanza's top tag is logged, never its
        body.
        """
        child = await self.startRouter("--verbose")
        tw = await self.component("tw.example.org")
        tw.send("<message from='tw.example.org' to='tw.example.org' id='v1'><body>private words</body></message>")
        await tw.next()
        await child.waitFor(rb"Routing <Stanza message [^>]*id='v1'")
        self.assertNotIn(b"private words", bytes(child.output))

    async def test_portInUse(self) -> None:
        """
        A port that cannot be bound stops startup with a clear message and no
        traceback.
        """
        blocker = socket.socket()
        self.addCleanup(blocker.close)
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        directory = self.mktemp()
        os.makedirs(directory)
        path = os.path.join(directory, "xcomp.cfg.lua")
        with open(path, "w") as f:
            f.write(CONFIG.format(port=port))
        child = spawnTwistd(self, reactor, ["-n", "--pidfile=", "--logfile=-", "xcomp", "-c", path])
        self.assertNotEqual(await child.ended(), 0)
        output = bytes(child.output)
        self.assertIn(f"127.0.0.1:{port}".encode(), output)
        self.assertIn(b"in use", output)
        self.assertNotIn(b"Traceback", output)

    async def test_badConfig(self) -> None:
        """
        A mistake in the config file is reported as C{file:line: what is
        wrong}, with no traceback, and nothing starts.
        """
        directory = self.mktemp()
        os.makedirs(directory)
        path = os.path.join(directory, "broken.cfg.lua")
        with open(path, "w") as f:
            f.write('component_ports = { 5347 }\n\nComponent "nosecret.example.org"\n')
        child = spawnTwistd(self, reactor, ["-n", "--pidfile=", "--logfile=-", "xcomp", "-c", path])
        self.assertNotEqual(await child.ended(), 0)
        output = bytes(child.output)
        self.assertIn(f"{path}:3:".encode(), output)
        self.assertNotIn(b"Traceback", output)
