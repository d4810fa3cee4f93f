# -*- test-case-name: xcomp.test.test_http_browser -*-
"""
The status page as a person sees it, in a real headless Chromium (Debian's
C{chromium}, which C{.ci/system-deps} installs), and C{python -m xcomp
status} as an admin runs it: both against a real C{twistd xcomp} child on
loopback, with real components connecting and leaving.
"""

from __future__ import annotations

import os
import shutil
import sys

from twisted.internet import defer, protocol, reactor
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SkipTest, TestCase

from xcomp.test.loopback import (
    PROCESS_TIMEOUT,
    ChildProcess,
    ComponentClient,
    childEnvironment,
    freePort,
    startRouter,
)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TOKEN = "browser-token-0123456789"


class _Output(protocol.ProcessProtocol):
    """
    A child whose standard output is kept apart from its standard error.
    """

    def __init__(self) -> None:
        self.out = bytearray()
        self.err = bytearray()
        self.ended: defer.Deferred[int | None] = defer.Deferred()

    def outReceived(self, data: bytes) -> None:
        self.out += data

    def errReceived(self, data: bytes) -> None:
        self.err += data

    def processEnded(self, reason: object) -> None:
        self.ended.callback(reason.value.exitCode)  # type: ignore[attr-defined]


def config(componentPort: int, httpPort: int, extra: str = "") -> str:
    return (
        f"component_ports = {{ {componentPort} }}\n"
        'component_interfaces = { "127.0.0.1" }\n'
        'statistics = "internal"\n'
        'modules_enabled = { "http_openmetrics"; "xcomp_status" }\n'
        f"http_ports = {{ {httpPort} }}\n"
        + extra
        + 'Component "a.example"\n  component_secret = "a-secret"\n'
        'Component "b.example"\n  component_secret = "b-secret"\n'
    )


class RouterTestCase(TestCase):
    """
    A C{twistd xcomp} child with its status page on.
    """

    timeout = 120

    async def startRouter(self, extra: str = "") -> None:
        self.componentPort = freePort()
        self.httpPort = freePort()
        self.child, self.directory = await startRouter(
            self, reactor, config(self.componentPort, self.httpPort, extra)
        )
        await self.child.waitFor(rb"Serving /metrics")

    async def connect(self, domain: str, secret: str) -> ComponentClient:
        client = ComponentClient(reactor, domain, secret)
        self.addCleanup(client.disconnect)
        await client.connect(self.componentPort)
        await self.child.waitFor(rb"Component " + domain.encode() + rb" bound")
        return client


class ChromiumTests(RouterTestCase):
    """
    The page in Chromium: what C{--dump-dom} shows once it has loaded.
    """

    def setUp(self) -> None:
        if not os.access(CHROMIUM, os.X_OK):
            raise SkipTest(f"{CHROMIUM} is not installed (apt-get install chromium; .ci/system-deps does)")

    async def dump(self, path: str = "/") -> str:
        """
        The page's DOM, as headless Chromium has it after loading it.
        """
        profile = FilePath(self.mktemp())
        profile.makedirs()
        arguments = ["--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     f"--user-data-dir={profile.path}"]
        if os.getuid() == 0:
            arguments.append("--no-sandbox")
        child = _Output()
        process = reactor.spawnProcess(
            child, CHROMIUM, [CHROMIUM, *arguments, "--dump-dom", f"http://127.0.0.1:{self.httpPort}{path}"],
            env=dict(os.environ, HOME=profile.path),
        )

        def stop() -> None:
            if not child.ended.called:
                process.signalProcess("KILL")

        self.addCleanup(stop)
        code = await child.ended.addTimeout(PROCESS_TIMEOUT * 3, reactor)
        self.assertEqual(code, 0, bytes(child.err).decode(errors="replace")[-2000:])
        return bytes(child.out).decode("utf-8")

    async def test_rowsFollowComponents(self) -> None:
        """
        A component's row appears when it connects over loopback (with its
        peer address and stanza counts) and is gone once it has left; the
        page says it refreshes itself.
        """
        await self.startRouter()
        page = await self.dump()
        self.assertIn("<h1>xcomp status</h1>", page)
        self.assertIn('<meta http-equiv="refresh" content="5">', page)
        self.assertNotIn("a.example", page.split('<table id="components">')[1])
        a = await self.connect("a.example", "a-secret")
        b = await self.connect("b.example", "b-secret")
        a.send("<message from='a.example' to='b.example' id='hello'/>")
        await b.next(lambda e: e.getAttribute("id") == "hello")
        page = await self.dump()
        row = page.split('<tr class="component" data-domain="a.example">', 1)[1].split("</tr>", 1)[0]
        port = a.xs.transport.getHost().port  # type: ignore[union-attr]
        self.assertIn(f"<td>127.0.0.1:{port}</td>", row)
        self.assertIn("<td>no</td><td>1</td><td>0</td>", row)  # no TLS, 1 in, 0 out
        self.assertIn('<tr class="component" data-domain="b.example">', page)
        await a.disconnect()
        await self.child.waitFor(rb"Component a.example unbound")
        page = await self.dump()
        self.assertNotIn('<tr class="component" data-domain="a.example">', page)
        self.assertIn('<tr class="component" data-domain="b.example">', page)
        # Its stanzas are held for its return (component_hold_time).
        self.assertIn('<tr class="held" data-domain="a.example"><td>a.example</td><td>(away: holding)</td>', page)

    async def test_tokenAsked(self) -> None:
        """
        With a token nothing of the page is shown without it (a browser is
        asked for it: 401 with a Basic challenge, which headless Chromium
        cannot answer).
        """
        await self.startRouter(f'xcomp_http_token = "{TOKEN}"\n')
        page = await self.dump()
        self.assertNotIn("xcomp status", page)
        self.assertNotIn("a.example", page)


def runStatus(testCase: TestCase, *arguments: str) -> ChildProcess:
    """
    Run C{python -m xcomp status ARGUMENTS} as a child process.
    """
    child = ChildProcess(reactor)
    reactor.spawnProcess(
        child, sys.executable, [sys.executable, "-m", "xcomp", "status", *arguments], env=childEnvironment()
    )

    def stop() -> None:
        child.signal("KILL")

    testCase.addCleanup(stop)
    return child


class StatusCommandTests(RouterTestCase):
    """
    C{python -m xcomp status}.
    """

    async def test_byConfig(self) -> None:
        """
        C{-c FILE} finds the status page in the file, and prints the
        connected components.
        """
        await self.startRouter()
        await self.connect("a.example", "a-secret")
        command = runStatus(self, "-c", self.directory.child("xcomp.cfg.lua").path)
        self.assertEqual(await command.ended(), 0, bytes(command.output))
        output = bytes(command.output).decode()
        self.assertTrue(output.startswith("xcomp "), output)
        self.assertIn(" is running, up ", output)
        self.assertIn(f"  127.0.0.1:{self.componentPort} TCP: 1 bound of 1 connections", output)
        self.assertRegex(output, r"\n  a\.example 127\.0\.0\.1:\d+ since .*, TLS no, in 0, out 0, held 0\n")

    async def test_json(self) -> None:
        """
        C{--url} and C{--json}: the JSON as it is; the token from the
        configuration is used, and a wrong one given with C{--token} is
        refused with exit status 1.
        """
        await self.startRouter(f'xcomp_http_token = "{TOKEN}"\n')
        path = self.directory.child("xcomp.cfg.lua").path
        command = runStatus(self, "-c", path, "--json")
        self.assertEqual(await command.ended(), 0, bytes(command.output))
        self.assertIn(b'"components": []', bytes(command.output))
        url = f"http://127.0.0.1:{self.httpPort}/status.json"
        command = runStatus(self, "--url", url, "--token", "x" * 20)
        self.assertEqual(await command.ended(), 1)
        self.assertEqual(
            bytes(command.output).decode(),
            f"xcomp status: {url}: HTTP 401 Unauthorized (give the token with --token, or -c CONFIG that has it)\n",
        )
        command = runStatus(self, "--url", url, "--token", TOKEN)
        self.assertEqual(await command.ended(), 0, bytes(command.output))

    async def test_notRunning(self) -> None:
        """
        Nothing answering is exit status 3 (LSB's "not running"), with one
        line.
        """
        port = freePort()
        url = f"http://127.0.0.1:{port}/status.json"
        command = runStatus(self, "--url", url)
        self.assertEqual(await command.ended(), 3)
        self.assertEqual(
            bytes(command.output).decode(), f"xcomp status: {url}: Connection refused; is xcomp running?\n"
        )

    async def test_noStatusPage(self) -> None:
        """
        A configuration that enables no status page says so, exit status 1.
        """
        directory = FilePath(self.mktemp())
        directory.makedirs()
        path = directory.child("x.cfg.lua")
        path.setContent(b'Component "a.example"\n  component_secret = "s"\n')
        command = runStatus(self, "-c", path.path)
        self.assertEqual(await command.ended(), 1)
        self.assertIn(b"enables no status page", bytes(command.output))
