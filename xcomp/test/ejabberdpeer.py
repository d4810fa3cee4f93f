# -*- test-case-name: xcomp.test.test_s2s_peers -*-
"""
Debian's ejabberd (23.01) as a real remote server for the s2s tests, with
the interface of L{xcomp.test.prosodypeer.ProsodyPeer}: started in a
temporary directory with its own YAML configuration, Mnesia directory and
log, one virtual host whose certificate the test's CA signed, c2s on a
free loopback port and s2s (C{ejabberd_s2s_in}) on port 5269 of an
address of its own.

It is started the way C{ejabberdctl foreground} starts it, minus the
C{su} to the ejabberd user and the Erlang distribution: no node name, so
no epmd daemon outlives the test, and the PID held is beam.smp's.  Without
the distribution C{ejabberdctl register} cannot reach the node, and
ejabberd's configuration has no list of accounts, so the users are
created by the same C{erl -eval} that starts ejabberd: it calls
C{ejabberd_auth:try_register/3} once the application has started (every
listener is up by then) and prints C{XCOMP-USERS} with the results, which
L{EjabberdPeer.start} waits for.

Names are resolved without real DNS, but not through a hosts file: the
XMPP library of 23.01 (p1_xmpp 1.6.1, C{xmpp_stream_out}) asks
C{inet_res:getbyname} for the SRV records (DNS only, whatever the
C{lookup} order of C{ERL_INETRC}) and then C{net:getaddrinfo} for the
address (libc's resolver, which does not read C{ERL_INETRC} at all).  So
each peer starts a small DNS server on a loopback UDP port (L{SRVServer})
that answers C{_xmpp-server._tcp.NAME} for every name of the test's hosts
file with port 5269 of the name's address, the target written as the
address itself (which getaddrinfo turns into that address without asking
anyone); C{ERL_INETRC} makes it ejabberd's only nameserver
(C{{resolv_conf, ""}} drops the system's) and the hosts file its
C{inet} hosts file.
"""

from __future__ import annotations

import os
import shutil
from typing import Iterable

from twisted.internet import defer
from twisted.internet.interfaces import IReactorProcess
from twisted.internet.protocol import DatagramProtocol
from twisted.names import dns
from twisted.trial.unittest import SkipTest, TestCase

from xcomp.test.certs import TestCA
from xcomp.test.ejabberdcommand import NOT_INSTALLED, ejabberdCommand, ejabberdLib, ejabberdVersion
from xcomp.test.loopback import ChildProcess
from xcomp.test.prosodypeer import READY_TIMEOUT, ServerPeer

__all__ = ["EjabberdPeer", "SRVServer", "ejabberdCommand", "ejabberdLib", "ejabberdVersion", "readHosts"]

def readHosts(path: str) -> dict[str, str]:
    """
    The names of a hosts file (as L{xcomp.test.prosodypeer.writeHosts}
    writes it), each with its address.
    """
    names: dict[str, str] = {}
    with open(path) as f:
        for line in f:
            fields = line.split("#", 1)[0].split()
            for name in fields[1:]:
                names.setdefault(name.lower().rstrip("."), fields[0])
    return names


class SRVServer(DatagramProtocol):
    """
    A DNS server for one test, on UDP: C{_xmpp-server._tcp.NAME} SRV is
    port 5269 of NAME's address, with the address as the target; any other
    question is NXDOMAIN (so no C{_xmpps-server} target is tried).  The
    answer echoes the question's RD bit, which Erlang's C{inet_res}
    insists on.

    @ivar questions: Each (name, type) asked, in order.
    """

    def __init__(self, names: dict[str, str], port: int = 5269) -> None:
        self._names = names
        self._port = port
        self.questions: list[tuple[str, int]] = []

    def datagramReceived(self, datagram: bytes, address: tuple[str, int]) -> None:
        try:
            query = dns.Message()
            query.fromStr(datagram)
        except Exception:
            return
        answer = dns.Message(id=query.id, answer=True, opCode=query.opCode, recDes=query.recDes, auth=True)
        answer.queries = query.queries
        answer.rCode = dns.ENAME
        for question in query.queries[:1]:
            name = question.name.name.decode("ascii", "replace").lower().rstrip(".")
            self.questions.append((name, question.type))
            service, _, host = name.partition("._tcp.")
            if question.type == dns.SRV and service == "_xmpp-server" and host in self._names:
                record = dns.Record_SRV(0, 0, self._port, self._names[host], ttl=60)
                answer.answers.append(dns.RRHeader(question.name.name, dns.SRV, dns.IN, 60, record, auth=True))
                answer.rCode = dns.OK
            elif question.type == dns.A and name in self._names:
                # For inet's lookups (ejabberd's own go through libc).
                record_a = dns.Record_A(self._names[name], ttl=60)
                answer.answers.append(dns.RRHeader(question.name.name, dns.A, dns.IN, 60, record_a, auth=True))
                answer.rCode = dns.OK
        assert self.transport is not None
        self.transport.write(answer.toStr(), address)


_EJABBERD_CONFIG = """\
# Written by xcomp.test.ejabberdpeer for one test (ejabberd {version}).
loglevel: info
hosts:
  - {domain}
certfiles:
  - {certificate}
  - {key}
ca_file: {cafile}
# No ACME requests: there is no network here.
acme:
  auto: false
auth_method: internal
auth_password_format: plain
s2s_use_starttls: required
s2s_access: s2s
s2s_dns_timeout: 5
s2s_dns_retries: 1
outgoing_s2s_families:
  - ipv4
access_rules:
  s2s:
    allow: all
listen:
  -
    port: {c2s}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls: true
  -
    port: 5269
    ip: {address}
    module: ejabberd_s2s_in
modules:
  mod_disco: {{}}
  mod_ping: {{}}
  mod_roster: {{}}
{dialback}{extra}
"""


def _yaml(text: str) -> str:
    """
    A double-quoted YAML scalar.
    """
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _erlangBinary(text: str) -> str:
    """
    An Erlang binary literal of UTF-8 text.
    """
    return "<<" + ",".join(str(b) for b in text.encode("utf-8")) + ">>"


class EjabberdPeer(ServerPeer):
    """
    One ejabberd started for a test.

    @ivar dns: The DNS server it asks, once started.
    @ivar version: The installed ejabberd's version.
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
        Write its configuration and certificate; L{start} starts it.

        @param hosts: The test's hosts file, which the caller writes with
            every server's address (this one's included) before L{start}:
            the SRV answers of L{dns} come from it.
        @param users: (name, password) of the c2s accounts to create.
        @param secureAuth: Without dialback (C{mod_s2s_dialback} not
            loaded), so that only SASL EXTERNAL authenticates a stream:
            ejabberd's counterpart of Prosody's C{s2s_secure_auth}.
        @param extra: More top-level options, as YAML text.
        """
        if ejabberdLib() is None or shutil.which("erl") is None:
            raise SkipTest(NOT_INSTALLED)
        super().__init__(testCase, reactor, domain, ca, address, "ejabberd.log")
        self.hosts = hosts
        self.version = ejabberdVersion() or "unknown"
        self.users = list(users)
        self.config = os.path.join(self.directory, "ejabberd.yml")
        with open(self.config, "w") as f:
            f.write(
                _EJABBERD_CONFIG.format(
                    version=self.version,
                    domain=_yaml(domain),
                    certificate=_yaml(self.issued.certificate),
                    key=_yaml(self.issued.key),
                    cafile=_yaml(ca.path),
                    c2s=self.c2sPort,
                    address=_yaml(address),
                    dialback="" if secureAuth else "  mod_s2s_dialback: {}\n",
                    extra=extra,
                )
            )
        self.dns: SRVServer | None = None

    def addUser(self, name: str, password: str) -> None:
        """
        One more c2s account, created when L{start} boots ejabberd.
        """
        if self.process is not None:
            raise RuntimeError("ejabberd creates its users when it starts: add them before start()")
        self.users.append((name, password))

    def _inetrc(self, port: int) -> str:
        """
        Write the VM's resolver configuration: the test's DNS server as
        the only nameserver, the test's hosts file for C{inet}.
        """
        path = os.path.join(self.directory, "inetrc")
        with open(path, "w") as f:
            f.write('{resolv_conf, ""}.\n')
            f.write(f"{{hosts_file, {_yaml(self.hosts)}}}.\n")
            f.write(f"{{nameserver, {{127,0,0,1}}, {port}}}.\n")
            f.write("{lookup, [file, dns]}.\n")
        return path

    def _boot(self) -> str:
        """
        The C{-eval} that starts ejabberd and then creates the users.
        """
        registrations = ", ".join(
            f"ejabberd_auth:try_register({_erlangBinary(name)}, {_erlangBinary(self.domain)}, {_erlangBinary(password)})"
            for name, password in self.users
        )
        return (
            "case application:ensure_all_started(ejabberd) of "
            f"{{ok, _}} -> io:format(\"XCOMP-USERS ~p~n\", [[{registrations}]]); "
            "Error -> io:format(\"XCOMP-FAILED ~p~n\", [Error]), erlang:halt(3) end."
        )

    async def start(self) -> None:
        """
        Start the DNS server and ejabberd, and wait until ejabberd has
        created the users (its listeners are up by then); the test stops
        both at cleanup.
        """
        self.dns = SRVServer(readHosts(self.hosts))
        udp = self._reactor.listenUDP(0, self.dns, interface="127.0.0.1")  # type: ignore[attr-defined]
        self._testCase.addCleanup(udp.stopListening)
        inetrc = self._inetrc(udp.getHost().port)
        command = ejabberdCommand(
            self.config, self.directory, log=self.log, inetrc=inetrc, boot=("-eval", self._boot())
        )
        child = ChildProcess(self._reactor)  # type: ignore[arg-type]
        self._reactor.spawnProcess(
            child, command[0], command,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.directory},
            path=self.directory,
        )
        self.process = child
        self._testCase.addCleanup(self.stop)
        try:
            match = await child.waitFor(rb"XCOMP-USERS ([^\n]*)\n|XCOMP-FAILED[^\n]*\n", READY_TIMEOUT)
        except (AssertionError, defer.TimeoutError) as e:
            raise AssertionError(f"ejabberd did not start ({e}); its log:\n{self.logText()}") from None
        results = match.group(1)
        if results is None or results.strip() != b"[" + b",".join(b"ok" for _ in self.users) + b"]":
            raise AssertionError(
                f"ejabberd did not start or create its users: {match.group(0)!r}; its log:\n{self.logText()}"
            )

    def logText(self) -> str:
        """
        ejabberd's log and output so far, for failure messages.
        """
        text = super().logText()
        if self.process is not None:
            text += "\n" + self.process.output.decode(errors="replace")[-5000:]
        return text
