# -*- test-case-name: xcomp.test.test_s2s_peers -*-
"""
Real remote servers for the s2s tests: Debian's Prosody (and, in
L{xcomp.test.ejabberdpeer}, ejabberd), each started in a temporary
directory with its own configuration, data, pidfile and log, a domain of
its own whose certificate a throwaway CA signed, c2s on a free loopback
port, and s2s on port 5269 of an address of its own in 127.0.0.0/8.

Names are resolved without DNS: Prosody resolves through lua-unbound,
told to read a hosts file the test writes (C{unbound = { hoststxt = ...
}}); with no SRV record it connects to the A record on 5269, so each
server gets a distinct 127.0.x.y.  The c2s users log in with
L{C2SClient} (slixmpp, in a child process).
"""

from __future__ import annotations

import glob
import os
import random
import re
import shutil
import socket
import sys
from typing import Callable, Iterable
from xml.etree import ElementTree

from twisted.internet import defer, task
from twisted.internet.error import ConnectError
from twisted.internet.interfaces import IReactorCore, IReactorProcess, IReactorTCP, IReactorTime
from twisted.internet.protocol import ClientFactory, Protocol
from twisted.trial.unittest import SkipTest, TestCase

from xcomp.test.certs import Issued, TestCA
from xcomp.test.loopback import ChildProcess, freePort

__all__ = ["C2SClient", "ProsodyPeer", "ServerPeer", "pickAddress", "waitForPort", "writeHosts"]

#: Seconds a server may take to start listening, a client to log in, a
#: stanza to arrive.
READY_TIMEOUT = 30.0
STANZA_TIMEOUT = 20.0


def pickAddress(prefix: str, port: int = 5269, tries: int = 20, rng: random.Random | None = None) -> str:
    """
    A random C{PREFIX.x} address (x in 10..250) where C{port} can be bound
    right now, for a server that must listen on a fixed port.

    @param prefix: Three octets, such as C{"127.0.3"}.
    @raise SkipTest: When none of C{tries} addresses is free.
    """
    rng = rng or random.Random()
    for _ in range(tries):
        address = f"{prefix}.{rng.randint(10, 250)}"
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((address, port))
            except OSError:
                continue
        return address
    raise SkipTest(f"no free address in {prefix}.0/24 for port {port}")


def writeHosts(path: str, names: dict[str, str]) -> str:
    """
    Write a hosts file: each name at its address.
    """
    with open(path, "w") as f:
        for name, address in names.items():
            f.write(f"{address} {name}\n")
    return path


async def waitForPort(reactor: IReactorTCP, host: str, port: int, timeout: float = READY_TIMEOUT) -> None:
    """
    Wait until something accepts TCP connections on C{host:port}, trying
    every 0.1 s, for C{timeout} seconds at most.

    @raise AssertionError: On timeout.
    """
    for _ in range(int(timeout / 0.1)):
        connected: defer.Deferred[bool] = defer.Deferred()

        class Probe(ClientFactory):
            protocol = Protocol

            def clientConnectionFailed(self, connector: object, reason: object) -> None:
                connected.callback(False)

            def buildProtocol(self, addr: object) -> Protocol:
                connected.callback(True)
                return _Hangup()

        reactor.connectTCP(host, port, Probe(), timeout=1)
        if await connected:
            return
        await task.deferLater(reactor, 0.1, lambda: None)  # type: ignore[arg-type]
    raise AssertionError(f"nothing listens on {host}:{port} after {timeout} s")


class _Hangup(Protocol):
    """
    Closes the connection as soon as it is made: a probe.
    """

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.loseConnection()


_PROSODY_CONFIG = """\
-- Written by xcomp.test.prosodypeer for one test.
run_as_root = true
daemonize = false
pidfile = {pidfile}
data_path = {data}
log = {{ {{ levels = {{ min = "debug" }}, to = "file", filename = {log} }} }}
plugin_paths = {{}}
modules_enabled = {{ "roster", "saslauth", "tls", "dialback", "disco", "ping", "posix" }}
modules_disabled = {{ "admin_socket" }}
authentication = "internal_plain"
storage = "internal"
c2s_ports = {{ {c2s} }}
c2s_interfaces = {{ "127.0.0.1" }}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
s2s_ports = {{ 5269 }}
s2s_interfaces = {{ {address} }}
s2s_require_encryption = true
s2s_secure_auth = {secure}
component_ports = {{}}
http_ports = {{}}
https_ports = {{}}
ssl = {{ certificate = {certificate}, key = {key}, cafile = {cafile} }}
unbound = {{ hoststxt = {hosts} }}
{extra}
VirtualHost {domain}
"""


def _lua(text: str) -> str:
    """
    A Lua string literal.
    """
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ServerPeer:
    """
    What a remote server started for a test has whatever its kind: its own
    temporary directory with a C{data} directory, a c2s port, a
    certificate for its domain from the test's CA, and a child process the
    test stops by its PID.

    @ivar domain: Its virtual host.
    @ivar address: Where it listens for s2s (port 5269).
    @ivar c2sPort: Its c2s port on 127.0.0.1.
    @ivar directory: Its temporary directory.
    @ivar ca: The CA that signed its certificate.
    @ivar log: Its log file.
    """

    def __init__(self, testCase: TestCase, reactor: IReactorProcess, domain: str, ca: TestCA, address: str, log: str) -> None:
        self._testCase = testCase
        self._reactor = reactor
        self.domain = domain
        self.address = address
        self.ca = ca
        self.directory = os.path.abspath(testCase.mktemp())
        os.makedirs(os.path.join(self.directory, "data"))
        self.c2sPort = freePort()
        self.issued: Issued = ca.issue(domain)
        self.log = os.path.join(self.directory, log)
        self.process: ChildProcess | None = None

    async def stop(self) -> None:
        """
        Stop it: SIGTERM to its PID, then SIGKILL if it lingers.
        """
        child = self.process
        if child is None or child.done:
            return
        child.signal("TERM")
        try:
            await child.ended(10)
        except defer.TimeoutError:
            child.signal("KILL")
            await child.ended(5)

    def logText(self) -> str:
        """
        Its log so far, for failure messages.
        """
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-20000:]
        except OSError:
            return "(no log)"

    def client(self, name: str, password: str) -> C2SClient:
        """
        A c2s client for C{name@domain} (not yet logged in).
        """
        return C2SClient(self._testCase, self._reactor, f"{name}@{self.domain}", password, "127.0.0.1", self.c2sPort, self.ca.path)


class ProsodyPeer(ServerPeer):
    """
    One Prosody started for a test; its domain is a VirtualHost.
    """

    def __init__(
        self,
        testCase: TestCase,
        reactor: IReactorProcess,
        domain: str,
        ca: TestCA,
        hosts: str,
        *,
        address: str,
        users: Iterable[tuple[str, str]] = (),
        secureAuth: bool = False,
        extra: str = "",
    ) -> None:
        """
        Write its configuration, certificate and users; L{start} starts it.

        @param hosts: The hosts file lua-unbound reads (the caller writes
            every server's address in it, this one's included).
        @param users: (name, password) of the c2s accounts to create.
        @param extra: More global options, as Lua text.
        """
        if shutil.which("prosody") is None:
            raise SkipTest("Debian's prosody is not installed (apt-get install prosody)")
        if not glob.glob("/usr/lib/*/lua/*/lunbound.so"):
            # Without it Prosody falls back to its own resolver, which reads
            # no hosts file and asks the system's nameserver: real DNS.
            raise SkipTest("lua-unbound is not installed, so Prosody cannot read the test's hosts file (apt-get install lua-unbound)")
        super().__init__(testCase, reactor, domain, ca, address, "prosody.log")
        self.config = os.path.join(self.directory, "prosody.cfg.lua")
        with open(self.config, "w") as f:
            f.write(
                _PROSODY_CONFIG.format(
                    pidfile=_lua(os.path.join(self.directory, "prosody.pid")),
                    data=_lua(os.path.join(self.directory, "data")),
                    log=_lua(self.log),
                    c2s=self.c2sPort,
                    address=_lua(address),
                    secure="true" if secureAuth else "false",
                    certificate=_lua(self.issued.certificate),
                    key=_lua(self.issued.key),
                    cafile=_lua(ca.path),
                    hosts=_lua(hosts),
                    extra=extra,
                    domain=_lua(domain),
                )
            )
        for name, password in users:
            self.addUser(name, password)

    def addUser(self, name: str, password: str) -> None:
        """
        Create a c2s account, as Prosody's internal storage keeps it
        (C{data/<host>/accounts/<name>.dat}, with C{%2e} for each dot).
        """
        host = "".join(c if c.isalnum() else f"%{ord(c):02x}" for c in self.domain)
        accounts = os.path.join(self.directory, "data", host, "accounts")
        os.makedirs(accounts, exist_ok=True)
        with open(os.path.join(accounts, f"{name}.dat"), "w") as f:
            f.write(f"return {{\n\t[\"password\"] = {_lua(password)};\n}};\n")

    async def start(self) -> None:
        """
        Start Prosody and wait until it accepts c2s and s2s connections;
        the test stops it (by its PID) at cleanup.
        """
        child = ChildProcess(self._reactor)  # type: ignore[arg-type]
        self._reactor.spawnProcess(
            child, shutil.which("prosody") or "prosody", ["prosody", "--config", self.config, "-F"],
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.directory},
            path=self.directory,
        )
        self.process = child
        self._testCase.addCleanup(self.stop)
        try:
            await waitForPort(self._reactor, "127.0.0.1", self.c2sPort)  # type: ignore[arg-type]
            await waitForPort(self._reactor, self.address, 5269)  # type: ignore[arg-type]
        except AssertionError as e:
            raise AssertionError(f"{e}; prosody's log:\n{self.logText()}\n{child.output.decode(errors='replace')}") from None


class _ClientProcess(ChildProcess):
    """
    The slixmpp child: its C{STANZA} lines parsed as they arrive, and
    whoever waits for one told.
    """

    def __init__(self, reactor: IReactorTime) -> None:
        super().__init__(reactor)
        self.stanzas: list[ElementTree.Element] = []
        self._partial = b""
        self._waiting: list[defer.Deferred[None]] = []

    def outReceived(self, data: bytes) -> None:
        super().outReceived(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            if line.startswith(b"STANZA "):
                self.stanzas.append(ElementTree.fromstring(line[7:].decode("utf-8")))
        self._wake()

    def processEnded(self, reason: object) -> None:
        super().processEnded(reason)
        self._wake()

    def _wake(self) -> None:
        waiting, self._waiting = self._waiting, []
        for waiter in waiting:
            waiter.callback(None)

    def changed(self) -> defer.Deferred[None]:
        """
        Fire at the next output or at the end of the process.
        """
        waiter: defer.Deferred[None] = defer.Deferred()
        self._waiting.append(waiter)
        return waiter


class C2SClient:
    """
    A user logged in over c2s with slixmpp (L{xcomp.test.slixclient}), in a
    child process the test ends at cleanup.
    """

    def __init__(
        self, testCase: TestCase, reactor: IReactorProcess, jid: str, password: str, host: str, port: int, cafile: str
    ) -> None:
        self._testCase = testCase
        self._reactor = reactor
        self.jid = jid
        self._arguments = [jid, password, host, str(port), cafile]
        self.process: _ClientProcess | None = None
        self.fullJID = ""
        self._seen = 0

    async def login(self, timeout: float = READY_TIMEOUT) -> C2SClient:
        """
        Start the client and wait until its session has started.
        """
        child = _ClientProcess(self._reactor)  # type: ignore[arg-type]
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        self._reactor.spawnProcess(
            child,
            sys.executable,
            [sys.executable, "-m", "xcomp.test.slixclient", *self._arguments, "120"],
            env={**os.environ, "PYTHONPATH": root},
            path=root,
        )
        self.process = child
        self._testCase.addCleanup(self.stop)
        match = await child.waitFor(rb"READY (\S+)\n|FAILED[^\n]*\n", timeout)
        if not match.group(1):
            raise AssertionError(f"{self.jid} could not log in: {child.output.decode(errors='replace')}")
        self.fullJID = match.group(1).decode()
        return self

    def send(self, xml: str) -> None:
        """
        Send one stanza, as XML text on one line.
        """
        assert self.process is not None and self.process.transport is not None
        self.process.transport.write(xml.replace("\n", " ").encode("utf-8") + b"\n")

    async def next(
        self, predicate: Callable[[ElementTree.Element], bool], timeout: float = STANZA_TIMEOUT
    ) -> ElementTree.Element:
        """
        The first stanza not yet returned by L{next} that C{predicate}
        accepts, waiting C{timeout} seconds at most.
        """
        child = self.process
        assert child is not None
        deadline = self._reactor.seconds() + timeout  # type: ignore[attr-defined]
        while True:
            for index in range(self._seen, len(child.stanzas)):
                if predicate(child.stanzas[index]):
                    self._seen = index + 1
                    return child.stanzas[index]
            left = deadline - self._reactor.seconds()  # type: ignore[attr-defined]
            if child.done or left <= 0:
                break
            try:
                await child.changed().addTimeout(left, self._reactor)  # type: ignore[arg-type]
            except defer.TimeoutError:
                break
        raise AssertionError(
            f"{self.jid}: no matching stanza within {timeout} s; output:\n"
            + child.output.decode(errors="replace")[-5000:]
        )

    async def stop(self) -> None:
        """
        End the client by its PID.
        """
        child = self.process
        if child is None or child.done:
            return
        if child.transport is not None:
            child.transport.closeStdin()
        try:
            await child.ended(5)
        except defer.TimeoutError:
            child.signal("KILL")
            await child.ended(5)


def tag(element: ElementTree.Element) -> str:
    """
    The local name of an element (without its namespace).
    """
    return element.tag.rpartition("}")[2]


def childText(element: ElementTree.Element, name: str) -> str | None:
    """
    The text of the first child of C{element} named C{name} (in any
    namespace), or L{None}.
    """
    for child in element:
        if tag(child) == name:
            return child.text or ""
    return None
