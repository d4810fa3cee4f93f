# -*- test-case-name: xcomp.test.test_s2s_inbound_prosody -*-
"""
A real Prosody (Debian's 0.12, s2s-env's L{ProsodyPeer}) as the remote
server that connects to xcomp's s2s port: a Prosody user's message and iq
reach an external component on xcomp, and the component's answers go back
over xcomp's own outgoing link.  What is checked here is the incoming side:
which method authenticated Prosody's incoming stream, SASL EXTERNAL when
xcomp trusts Prosody's certificate, dialback when it does not.

Name resolution needs no DNS: Prosody reads the hosts file the test writes
(lua-unbound's C{hoststxt}) and, without SRV records, connects to xcomp's
domain's A record on port 5269, so xcomp's s2s port is 5269 of its own
127.0.1.x address; xcomp finds Prosody through C{s2s_connect_overrides}.
"""

from __future__ import annotations

import os
from xml.etree import ElementTree

from twisted.internet import reactor
from twisted.logger import capturedLogs
from twisted.trial.unittest import TestCase

from xcomp.config import ListenerConfig, RouterConfig, TLSConfig
from xcomp.config.model import S2SConfig, S2SListenerConfig
from xcomp.service import RouterService
from xcomp.test.certs import TestCA
from xcomp.test.helpers import makeConfig
from xcomp.test.loopback import ComponentClient, freePort
from xcomp.test.prosodypeer import ProsodyPeer, childText, pickAddress, tag, writeHosts

PROSODY = "pro.example"
COMPONENT = "comp.xcomp.example"
SECRET = "s3cret"
PASSWORD = "alice-password"


class ProsodyConnectsTests(TestCase):
    """
    Prosody, serving L{PROSODY} with user alice, federating with xcomp,
    serving the external component L{COMPONENT}.
    """

    def setUp(self) -> None:
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(self.directory)
        self.ca = TestCA(self.directory)
        self.xcompAddress = pickAddress("127.0.1")
        prosodyAddress = pickAddress("127.0.1")
        while prosodyAddress == self.xcompAddress:
            prosodyAddress = pickAddress("127.0.1")
        hosts = writeHosts(
            os.path.join(self.directory, "hosts"), {COMPONENT: self.xcompAddress, PROSODY: prosodyAddress}
        )
        self.prosody = ProsodyPeer(
            self, reactor, PROSODY, self.ca, hosts, address=prosodyAddress, users=[("alice", PASSWORD)]
        )

    def startXcomp(self, trustProsody: bool) -> RouterConfig:
        """
        Start xcomp with its s2s port on 5269 of its address and a
        certificate for L{COMPONENT}; it trusts Prosody's CA only if
        C{trustProsody}.
        """
        own = self.ca.issue(COMPONENT)
        trust = self.ca.path if trustProsody else TestCA(os.path.join(self.directory, "other"), "other CA").path
        s2s = S2SConfig(
            listeners=(S2SListenerConfig(5269, self.xcompAddress),),
            certificates={COMPONENT: TLSConfig(own.certificate, own.key)},
            caCertificates=trust,
            connectOverrides={PROSODY: (self.prosody.address, 5269)},
        )
        config = makeConfig(
            components={COMPONENT: {"secret": SECRET}},
            listeners=(ListenerConfig(freePort(), "127.0.0.1"),),
            s2s=s2s,
        )
        service = RouterService(config, reactor=reactor)
        service.privilegedStartService()
        service.startService()
        self.addCleanup(service.stopService)
        return config

    async def exchange(self, trustProsody: bool, stanza: str, answer: str) -> tuple[ElementTree.Element, set[str]]:
        """
        Alice sends C{stanza} (with C{{to}} for the component) to the
        component, which answers with C{answer} (with C{{to}} for alice and
        C{{id}}); return what alice received and how xcomp authenticated
        Prosody's incoming streams.
        """
        config = self.startXcomp(trustProsody)
        component = ComponentClient(reactor, COMPONENT, SECRET)
        await component.connect(config.listeners[0].port)
        self.addCleanup(component.disconnect)
        await self.prosody.start()
        alice = await self.prosody.client("alice", PASSWORD).login()
        with capturedLogs() as events:
            alice.send(stanza.format(to=COMPONENT))
            received = await component.next(lambda e: e.name in ("message", "iq"))
            self.assertEqual(received["from"], alice.fullJID)
            component.send(answer.format(to=alice.fullJID, id=received.getAttribute("id", "")))
            reply = await alice.next(lambda s: s.get("from") == COMPONENT)
        methods = {
            e["method"]
            for e in events
            if e.get("log_namespace", "").startswith("xcomp.s2s.inbound") and e.get("remote") == PROSODY and "method" in e
        }
        return reply, methods

    async def test_messageWithSASLExternal(self) -> None:
        """
        xcomp trusts Prosody's certificate: Prosody authenticates with SASL
        EXTERNAL; alice's message reaches the component and its answer
        reaches alice.
        """
        reply, methods = await self.exchange(
            True,
            "<message to='{to}' type='chat' id='m1'><body>hello from prosody</body></message>",
            f"<message from='{COMPONENT}' to='{{to}}' type='chat'><body>hello from xcomp</body></message>",
        )
        self.assertEqual((tag(reply), childText(reply, "body")), ("message", "hello from xcomp"))
        self.assertEqual(methods, {"EXTERNAL"})

    async def test_iqWithDialback(self) -> None:
        """
        xcomp does not trust Prosody's CA: Prosody authenticates with
        dialback (xcomp asks Prosody's authoritative side back); alice's
        iq reaches the component and its result reaches alice.
        """
        reply, methods = await self.exchange(
            False,
            "<iq to='{to}' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>",
            f"<iq type='result' id='{{id}}' from='{COMPONENT}' to='{{to}}'/>",
        )
        self.assertEqual((tag(reply), reply.get("type"), reply.get("id")), ("iq", "result", "p1"))
        self.assertEqual(methods, {"dialback"})
