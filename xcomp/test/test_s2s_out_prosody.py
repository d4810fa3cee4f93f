# -*- test-case-name: xcomp.test.test_s2s_out_prosody -*-
"""
The outgoing side against a real Prosody (Debian's C{prosody}) as the
remote server: a component on xcomp asks Prosody's host for its disco#info
and gets the answer, which comes back over Prosody's own link to xcomp's
s2s port.  SASL EXTERNAL when Prosody trusts xcomp's certificate, dialback
when it does not; with secure auth on and a Prosody
certificate xcomp does not trust, nothing is sent and the component gets
remote-server-timeout.

Prosody runs on a random 127.0.2.x, port 5269, and finds xcomp's domain
through lua-unbound's C{hoststxt} (a hosts file the test writes, naming
another 127.0.2.y, where xcomp's s2s port listens on 5269); xcomp finds
Prosody through C{s2s_connect_overrides}, and its resolver reads only an
empty hosts file, so nothing needs DNS.  Prosody is s2s-env's
L{ProsodyPeer}; its scenario tests (test_s2s_prosody) cover the issue's
list, these the outgoing side's authentication choices.
"""

from __future__ import annotations

import os
from typing import cast

from twisted.internet import reactor
from twisted.logger import ILogObserver, globalLogPublisher
from twisted.trial.unittest import TestCase

from xcomp.config import ListenerConfig, RouterConfig, TLSConfig
from xcomp.config.model import S2SConfig, S2SListenerConfig
from xcomp.service import RouterService
from xcomp.test.certs import Issued, TestCA
from xcomp.test.helpers import makeConfig
from xcomp.test.loopback import ComponentClient, freePort
from xcomp.test.prosodypeer import ProsodyPeer, pickAddress, writeHosts

HOST = "prosody.test"
LOCAL = "comp.xcomp.test"
SECRET = "s3cret"
DISCO = "http://jabber.org/protocol/disco#info"


class ProsodyRemoteTests(TestCase):
    """
    xcomp's component reaches a real Prosody host over s2s.
    """

    def setUp(self) -> None:
        self.ca = TestCA(self.mktemp())
        self.events: list[dict[str, object]] = []
        observer = cast(ILogObserver, self.events.append)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)

    def linksUp(self) -> list[object]:
        """
        The method of each outgoing link that came up, from xcomp's log.
        """
        return [
            e["method"]
            for e in self.events
            if str(e.get("log_format", "")).startswith("s2s link {local} -> {remote} up ")
        ]

    async def startProsody(self, xcompAddress: str) -> str:
        """
        Start Prosody for L{HOST} (s2s-env's L{ProsodyPeer}), trusting the
        test's CA and finding L{LOCAL} at C{xcompAddress}; return its
        address once it listens.
        """
        address = xcompAddress
        while address == xcompAddress:
            address = pickAddress("127.0.2")
        hosts = writeHosts(os.path.abspath(self.mktemp()), {LOCAL: xcompAddress, HOST: address})
        self.prosody = ProsodyPeer(
            self,
            reactor,
            HOST,
            self.ca,
            hosts,
            address=address,
        )
        await self.prosody.start()
        return address

    def startXcomp(self, address: str, prosody: str, certificate: Issued, **s2s: object) -> RouterConfig:
        """
        Start xcomp with the external component L{LOCAL} and an s2s port
        on C{address}:5269.
        """
        hostsFile = os.path.abspath(self.mktemp())
        with open(hostsFile, "w"):
            pass
        certificates = {LOCAL: TLSConfig(certificate.certificate, certificate.key)}
        config = makeConfig(
            components={LOCAL: {"secret": SECRET}},
            listeners=(ListenerConfig(freePort(), "127.0.0.1"),),
            s2s=S2SConfig(
                listeners=(S2SListenerConfig(5269, address),),
                certificates=certificates,
                caCertificates=str(s2s.pop("caCertificates", self.ca.path)),
                connectOverrides={HOST: (prosody, 5269)},
                hostsFile=hostsFile,
                timeout=15.0,
                **s2s,  # type: ignore[arg-type]
            ),
        )
        service = RouterService(config, reactor=reactor)
        service.privilegedStartService()
        service.startService()
        self.addCleanup(service.stopService)
        return config

    async def ask(self, certificate: Issued, **s2s: object) -> ComponentClient:
        """
        Start both servers and send Prosody's host a disco#info request
        from the component, whose domain has C{certificate}.
        """
        xcompAddress = pickAddress("127.0.2")
        prosody = await self.startProsody(xcompAddress)
        config = self.startXcomp(xcompAddress, prosody, certificate, **s2s)
        client = ComponentClient(reactor, LOCAL, SECRET)
        await client.connect(config.listeners[0].port)
        self.addCleanup(client.disconnect)
        client.send(f"<iq type='get' id='d1' from='{LOCAL}' to='{HOST}'><query xmlns='{DISCO}'/></iq>")
        return client

    async def test_saslExternal(self) -> None:
        """
        With certificates both sides trust, xcomp's link authenticates with
        SASL EXTERNAL, and the disco#info result comes back over Prosody's
        own link to xcomp.
        """
        client = await self.ask(self.ca.issue(LOCAL))
        answer = await client.next(lambda e: e.name == "iq")
        self.assertEqual((answer["type"], answer["from"], answer["id"]), ("result", HOST, "d1"))
        self.assertIn(DISCO, answer.toXml())
        self.assertIn(f"Accepting SASL EXTERNAL identity from {LOCAL}", self.log())
        self.assertEqual(self.linksUp(), ["sasl"])

    async def test_dialback(self) -> None:
        """
        With a certificate Prosody does not trust (another CA's), xcomp's
        link (over STARTTLS) uses dialback: Prosody asks xcomp's s2s port
        to verify the key, and the disco#info result comes back over
        Prosody's own link to xcomp.
        """
        other = TestCA(self.mktemp(), "another CA")
        client = await self.ask(other.issue(LOCAL))
        answer = await client.next(lambda e: e.name == "iq")
        self.assertEqual((answer["type"], answer["from"], answer["id"]), ("result", HOST, "d1"))
        self.assertIn(DISCO, answer.toXml())
        log = self.log()
        self.assertNotIn(f"Accepting SASL EXTERNAL identity from {LOCAL}", log)
        self.assertIn(f"Incoming s2s connection {LOCAL}->{HOST} complete", log)
        self.assertEqual(self.linksUp(), ["dialback"])

    async def test_secureAuthUntrusted(self) -> None:
        """
        With secure auth on and Prosody's certificate from a CA xcomp does
        not trust, nothing reaches Prosody: remote-server-timeout.
        """
        other = TestCA(self.mktemp(), "another CA")
        client = await self.ask(self.ca.issue(LOCAL), secureAuth=True, caCertificates=other.path)
        answer = await client.next(lambda e: e.name == "iq")
        self.assertEqual((answer["type"], answer["from"], answer["id"]), ("error", HOST, "d1"))
        self.assertIn("remote-server-timeout", answer.toXml())
        self.assertNotIn("Received[s2sin]: <iq", self.log())
        self.assertEqual(self.linksUp(), [])

    def log(self) -> str:
        """
        Everything Prosody wrote so far.
        """
        return self.prosody.logText()
