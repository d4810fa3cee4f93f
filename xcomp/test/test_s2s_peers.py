# -*- test-case-name: xcomp.test.test_s2s_peers -*-
"""
The test peers proven on their own, before xcomp is put between them: two
Prosody servers, and ejabberd with Prosody, federate over s2s
(certificates from one throwaway CA, names from a hosts file and, for
ejabberd, the test's DNS server), and a user of each reaches the other.
"""

from __future__ import annotations

import os

from twisted.internet import reactor
from twisted.names import dns
from twisted.test.proto_helpers import FakeDatagramTransport
from twisted.trial.unittest import SynchronousTestCase, TestCase

from xcomp.test.certs import TestCA
from xcomp.test.ejabberdpeer import EjabberdPeer, SRVServer, readHosts
from xcomp.test.prosodypeer import ProsodyPeer, pickAddress, tag, writeHosts


class ProsodyPairTests(TestCase):
    """
    Prosody <-> Prosody.
    """

    timeout = 120

    async def test_messageBothWays(self) -> None:
        """
        A message from a user of one server reaches a user of the other,
        and the answer comes back.
        """
        ca = TestCA(self.mktemp())
        first, second = pickAddress("127.0.3"), pickAddress("127.0.3")
        while second == first:
            second = pickAddress("127.0.3")
        hosts = writeHosts(os.path.abspath(self.mktemp()), {"a.test": first, "b.test": second})
        a = ProsodyPeer(self, reactor, "a.test", ca, hosts, address=first, users=[("alice", "pw")])
        b = ProsodyPeer(self, reactor, "b.test", ca, hosts, address=second, users=[("bob", "pw")])
        await a.start()
        await b.start()
        alice = await a.client("alice", "pw").login()
        bob = await b.client("bob", "pw").login()
        alice.send("<message to='bob@b.test' type='chat' id='m1'><body>hello</body></message>")
        received = await bob.next(lambda s: tag(s) == "message" and s.get("id") == "m1")
        self.assertEqual(received.get("from", "").partition("/")[0], "alice@a.test")
        bob.send("<message to='alice@a.test' type='chat' id='m2'><body>hi</body></message>")
        answer = await alice.next(lambda s: tag(s) == "message" and s.get("id") == "m2")
        self.assertEqual(answer.get("type"), "chat")
        log = a.logText()
        self.assertIn("b.test", log)


class EjabberdProsodyTests(TestCase):
    """
    ejabberd <-> Prosody: ejabberd finds Prosody through the SRV answer of
    its test DNS server, Prosody finds ejabberd in the hosts file.
    """

    timeout = 120

    async def test_messageBothWays(self) -> None:
        """
        A message from a user of ejabberd reaches a user of Prosody, and
        the answer comes back; ejabberd asked its DNS server for Prosody's
        C{_xmpp-server} record.
        """
        ca = TestCA(self.mktemp())
        first, second = pickAddress("127.0.3"), pickAddress("127.0.3")
        while second == first:
            second = pickAddress("127.0.3")
        hosts = writeHosts(os.path.abspath(self.mktemp()), {"e.test": first, "p.test": second})
        e = EjabberdPeer(self, reactor, "e.test", ca, hosts, address=first, users=[("alice", "pw")])
        p = ProsodyPeer(self, reactor, "p.test", ca, hosts, address=second, users=[("bob", "pw")])
        await e.start()
        await p.start()
        alice = await e.client("alice", "pw").login()
        bob = await p.client("bob", "pw").login()
        alice.send("<message to='bob@p.test' type='chat' id='m1'><body>hello</body></message>")
        received = await bob.next(lambda s: tag(s) == "message" and s.get("id") == "m1")
        self.assertEqual(received.get("from", "").partition("/")[0], "alice@e.test")
        bob.send("<message to='alice@e.test' type='chat' id='m2'><body>hi</body></message>")
        answer = await alice.next(lambda s: tag(s) == "message" and s.get("id") == "m2")
        self.assertEqual(answer.get("type"), "chat")
        assert e.dns is not None
        self.assertIn(("_xmpp-server._tcp.p.test", 33), e.dns.questions)


    async def test_secureAuthRefusesDialback(self) -> None:
        """
        With C{secureAuth} (no C{mod_s2s_dialback}), ejabberd refuses a
        Prosody whose certificate it does not trust: no dialback to fall
        back on, so Prosody's user gets an error.
        """
        ca, other = TestCA(self.mktemp()), TestCA(self.mktemp(), "another CA")
        first, second = pickAddress("127.0.3"), pickAddress("127.0.3")
        while second == first:
            second = pickAddress("127.0.3")
        hosts = writeHosts(os.path.abspath(self.mktemp()), {"e.test": first, "p.test": second})
        e = EjabberdPeer(self, reactor, "e.test", ca, hosts, address=first, users=[("alice", "pw")], secureAuth=True)
        p = ProsodyPeer(self, reactor, "p.test", other, hosts, address=second, users=[("bob", "pw")])
        await e.start()
        await p.start()
        await e.client("alice", "pw").login()
        bob = await p.client("bob", "pw").login()
        bob.send("<message to='alice@e.test' type='chat' id='m1'><body>hello</body></message>")
        error = await bob.next(lambda s: tag(s) == "message" and s.get("id") == "m1")
        self.assertEqual(error.get("type"), "error")
        self.assertNotIn("dialback authentication", e.logText())

class SRVServerTests(SynchronousTestCase):
    """
    The DNS server that ejabberd asks.
    """

    def ask(self, name: str, kind: int, recursion: bool = True) -> dns.Message:
        """
        One question to a server for C{e.test} at 127.0.3.7; its answer.
        """
        server = SRVServer({"e.test": "127.0.3.7"})
        transport = FakeDatagramTransport()
        server.makeConnection(transport)
        query = dns.Message(id=7, recDes=recursion)
        query.addQuery(name.encode("ascii"), kind)
        server.datagramReceived(query.toStr(), ("127.0.0.1", 5353))
        [(datagram, address)] = transport.written
        self.assertEqual(address, ("127.0.0.1", 5353))
        answer = dns.Message()
        answer.fromStr(datagram)
        self.assertEqual((answer.id, answer.answer, answer.recDes), (7, True, recursion))
        self.assertEqual(server.questions, [(name.lower(), kind)])
        return answer

    def test_srv(self) -> None:
        """
        C{_xmpp-server._tcp.NAME} is port 5269 of NAME's address, written as
        the target.
        """
        answer = self.ask("_xmpp-server._tcp.E.test", dns.SRV)
        self.assertEqual(answer.rCode, dns.OK)
        [record] = answer.answers
        payload = record.payload
        assert isinstance(payload, dns.Record_SRV)
        self.assertEqual((payload.port, str(payload.target)), (5269, "127.0.3.7"))

    def test_recursionBitEchoed(self) -> None:
        """
        The answer's RD bit is the question's, as Erlang's C{inet_res}
        requires.
        """
        self.ask("_xmpp-server._tcp.e.test", dns.SRV, recursion=False)

    def test_nxdomain(self) -> None:
        """
        Direct TLS records, and names the hosts file does not have, are not
        found.
        """
        self.assertEqual(self.ask("_xmpps-server._tcp.e.test", dns.SRV).rCode, dns.ENAME)
        self.assertEqual(self.ask("_xmpp-server._tcp.other.test", dns.SRV).rCode, dns.ENAME)

    def test_readHosts(self) -> None:
        """
        The hosts file gives each name its address; comments and case do
        not matter.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("# test\n127.0.3.7 E.test e2.test. # two names\n\n127.0.3.8 f.test\n")
        self.assertEqual(readHosts(path), {"e.test": "127.0.3.7", "e2.test": "127.0.3.7", "f.test": "127.0.3.8"})
