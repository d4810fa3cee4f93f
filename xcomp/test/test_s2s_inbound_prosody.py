# -*- test-case-name: xcomp.test.test_s2s_inbound_prosody -*-
"""
A real Prosody (Debian's 0.12) as the remote server that connects to
xcomp's s2s port: a Prosody user's message and iq reach an external
component on xcomp, and the component's answers go back over xcomp's own
outgoing link.  Certificates come from a throwaway CA; SASL EXTERNAL is
used when xcomp trusts Prosody's certificate, dialback when it does not.

Name resolution needs no DNS: Prosody reads a hosts file the test writes
(lua-unbound's C{hoststxt}) and, without SRV records, connects to
xcomp's domain's A record on port 5269, so each server listens on 5269 of
its own 127.0.1.x address; xcomp finds Prosody through
C{s2s_connect_overrides}.

A small harness of its own starts Prosody; s2s-env's prosodypeer is meant
to replace it.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import sys

from twisted.internet import defer, reactor, utils
from twisted.logger import capturedLogs
from twisted.trial.unittest import SkipTest, TestCase

from xcomp.config import ListenerConfig, RouterConfig, TLSConfig
from xcomp.config.model import S2SConfig, S2SListenerConfig
from xcomp.service import RouterService
from xcomp.test.certs import TestCA
from xcomp.test.helpers import makeConfig
from xcomp.test.loopback import ChildProcess, ComponentClient, freePort

PROSODY = "pro.example"
COMPONENT = "comp.xcomp.example"
SECRET = "s3cret"
PASSWORD = "alice-password"


def _pickAddresses() -> tuple[str, str]:
    """
    Two 127.0.1.x addresses whose port 5269 is free (other test runs use
    others at the same time).
    """
    for _ in range(50):
        x = random.randint(10, 249)
        pair = (f"127.0.1.{x}", f"127.0.1.{x + 1}")
        try:
            for address in pair:
                with socket.socket() as s:
                    s.bind((address, 5269))
        except OSError:
            continue
        return pair
    raise RuntimeError("no free pair of 127.0.1.x addresses for port 5269")


class ProsodyConnectsTests(TestCase):
    """
    Prosody, serving L{PROSODY} with user alice, federating with xcomp,
    serving component L{COMPONENT}.
    """

    def setUp(self) -> None:
        if shutil.which("prosody") is None or shutil.which("prosodyctl") is None:
            raise SkipTest("Debian's prosody is not installed (.ci/system-deps installs it)")
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(os.path.join(self.directory, "data"))
        self.ca = TestCA(self.directory)
        self.prosodyAddress, self.xcompAddress = _pickAddresses()

    async def startProsody(self) -> int:
        """
        Start Prosody with alice registered; return its c2s port.
        """
        d = self.directory
        certificate = self.ca.issue(PROSODY)
        with open(os.path.join(d, "hosts"), "w") as f:
            f.write(f"{self.xcompAddress} {COMPONENT}\n{self.prosodyAddress} {PROSODY}\n")
        c2s = freePort(self.prosodyAddress)
        config = os.path.join(d, "prosody.cfg.lua")
        with open(config, "w") as f:
            f.write(
                f"""
run_as_root = true
pidfile = "{d}/prosody.pid"
data_path = "{d}/data"
log = {{ info = "*console"; debug = "{d}/prosody.log" }}
interfaces = {{ "{self.prosodyAddress}" }}
c2s_ports = {{ {c2s} }}
c2s_direct_tls_ports = {{ }}
s2s_ports = {{ 5269 }}
s2s_interfaces = {{ "{self.prosodyAddress}" }}
modules_enabled = {{ "roster"; "saslauth"; "tls"; "dialback"; "disco"; "ping" }}
authentication = "internal_plain"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
s2s_require_encryption = true
s2s_secure_auth = false
ssl = {{ cafile = "{self.ca.path}" }}
unbound = {{ hoststxt = "{d}/hosts" }}
VirtualHost "{PROSODY}"
  ssl = {{ certificate = "{certificate.certificate}"; key = "{certificate.key}" }}
"""
            )
        out, err, code = await utils.getProcessOutputAndValue(
            "prosodyctl", ["--config", config, "register", "alice", PROSODY, PASSWORD], env=os.environ
        )
        self.assertEqual(code, 0, out + err)
        child = ChildProcess(reactor)
        reactor.spawnProcess(child, "prosody", ["prosody", "--config", config, "-F"], env=os.environ)

        async def stop() -> None:
            child.signal("TERM")
            await child.ended()

        self.addCleanup(stop)
        await child.waitFor(rb"Activated service 's2s' on \[")
        await child.waitFor(rb"Activated service 'c2s' on \[")
        return c2s

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
            connectOverrides={PROSODY: (self.prosodyAddress, 5269)},
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

    async def user(self, c2s: int, mode: str) -> str:
        """
        Run alice's client to the end; return what it printed last.
        """
        out, err, code = await utils.getProcessOutputAndValue(
            sys.executable,
            ["-m", "xcomp.test.s2sinc2s", self.prosodyAddress, str(c2s), f"alice@{PROSODY}/t", PASSWORD, COMPONENT, mode],
            env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
        )
        lines = out.decode().strip().splitlines()
        return lines[-1] if lines else err.decode()

    async def exchange(self, trustProsody: bool, mode: str) -> tuple[str, set[str]]:
        """
        Alice sends to the component, which answers; return what alice
        printed and how xcomp authenticated Prosody's incoming streams.
        """
        config = self.startXcomp(trustProsody)
        component = ComponentClient(reactor, COMPONENT, SECRET)
        await component.connect(config.listeners[0].port)
        self.addCleanup(component.disconnect)
        c2s = await self.startProsody()
        with capturedLogs() as events:
            running = defer.ensureDeferred(self.user(c2s, mode))
            stanza = await component.next(lambda e: e.name in ("message", "iq"))
            self.assertEqual(stanza["from"], f"alice@{PROSODY}/t")
            if stanza.name == "message":
                self.assertEqual(str(stanza.body), "hello from prosody")
                component.send(
                    f"<message from='{COMPONENT}' to='alice@{PROSODY}/t' type='chat'><body>hello from xcomp</body></message>"
                )
            else:
                component.send(f"<iq type='result' id='{stanza['id']}' from='{COMPONENT}' to='alice@{PROSODY}/t'/>")
            printed = await running
        methods = {
            e["method"]
            for e in events
            if e.get("log_namespace", "").startswith("xcomp.s2s.inbound") and e.get("remote") == PROSODY and "method" in e
        }
        return printed, methods

    async def test_messageWithSASLExternal(self) -> None:
        """
        xcomp trusts Prosody's certificate: Prosody authenticates with SASL
        EXTERNAL; alice's message reaches the component and its answer
        reaches alice.
        """
        printed, methods = await self.exchange(trustProsody=True, mode="message")
        self.assertEqual(printed, "GOT hello from xcomp")
        self.assertEqual(methods, {"EXTERNAL"})

    async def test_iqWithDialback(self) -> None:
        """
        xcomp does not trust Prosody's CA: Prosody authenticates with
        dialback (xcomp asks Prosody's authoritative side back); alice's
        iq reaches the component and its result reaches alice.
        """
        printed, methods = await self.exchange(trustProsody=False, mode="iq")
        self.assertEqual(printed, "IQ result")
        self.assertEqual(methods, {"dialback"})
