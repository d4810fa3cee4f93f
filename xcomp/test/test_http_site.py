# -*- test-case-name: xcomp.test.test_http_site -*-
"""
Tests for L{xcomp.http.site}: the paths the HTTP port serves and the guard
in front of each (allowed networks, the token), as HTTP requests parsed by
C{twisted.web} over a L{StringTransport}.
"""

from __future__ import annotations

import base64
import json

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from xcomp.config import HTTPHandlerConfig, HTTPListenerConfig, ListenerConfig
from xcomp.http.site import makeSite
from xcomp.service import RouterService
from xcomp.test.helpers import makeConfig
from xcomp.test.listenerhelpers import SECRET, authenticateTo

TOKEN = "correct-horse-battery-staple"


def get(
    site: object, path: str, headers: dict[str, str] | None = None, client: str = "127.0.0.1"
) -> tuple[int, dict[str, str], bytes]:
    """
    GET C{path} from C{site} as a client at C{client}: the status, the
    headers (lower-case names) and the body.
    """
    address = (IPv6Address if ":" in client else IPv4Address)("TCP", client, 40000)
    channel = site.buildProtocol(address)  # type: ignore[attr-defined]
    transport = StringTransport(peerAddress=address)
    channel.makeConnection(transport)
    lines = [f"GET {path} HTTP/1.1", "Host: localhost", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    channel.dataReceived(("\r\n".join(lines) + "\r\n\r\n").encode())
    head, _, body = transport.value().partition(b"\r\n\r\n")
    status, *rest = head.decode("latin-1").split("\r\n")
    fields = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in rest)}
    if fields.get("transfer-encoding") == "chunked":
        chunks, data = [], body
        while data:
            size, _, data = data.partition(b"\r\n")
            n = int(size, 16)
            chunks.append(data[:n])
            data = data[n + 2 :]
        body = b"".join(chunks)
    return int(status.split()[1]), fields, body


class SiteTestCase(SynchronousTestCase):
    """
    A router with one component listener, and a site made for the
    handlers a test gives.
    """

    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        self.service = RouterService(
            makeConfig(components={"a.example": {"secret": SECRET}}, listeners=(ListenerConfig(5347, "127.0.0.1"),)),
            reactor=self.reactor,
        )
        self.service.startService()
        self.addCleanup(self.service.stopService)

    def site(self, *handlers: HTTPHandlerConfig) -> object:
        return makeSite(self.service, HTTPListenerConfig(port=5280, interface="127.0.0.1", handlers=handlers))


class PathTests(SiteTestCase):
    """
    What is served where.
    """

    def test_statusPaths(self) -> None:
        """
        The status page at its path, its JSON beside it, 404 elsewhere.
        """
        site = self.site(HTTPHandlerConfig(kind="status", path="/"))
        code, headers, body = get(site, "/")
        self.assertEqual((code, headers["content-type"]), (200, "text/html; charset=utf-8"))
        self.assertIn(b"<title>xcomp status</title>", body)
        code, headers, body = get(site, "/status.json")
        self.assertEqual((code, headers["content-type"]), (200, "application/json"))
        self.assertEqual(json.loads(body)["listeners"][0]["port"], 5347)
        self.assertEqual(get(site, "/other")[0], 404)
        self.assertEqual(get(site, "/metrics")[0], 404)

    def test_otherPath(self) -> None:
        """
        A status page configured at C{/ops} has its JSON at
        C{/ops/status.json}, and a query string does not matter.
        """
        site = self.site(HTTPHandlerConfig(kind="status", path="/ops"))
        self.assertEqual(get(site, "/ops?x=1")[0], 200)
        self.assertEqual(get(site, "/ops/status.json")[0], 200)
        self.assertEqual(get(site, "/")[0], 404)

    def test_componentShown(self) -> None:
        """
        A connected component is in the JSON and on the page.
        """
        authenticateTo(self.service.factories[0], "a.example", SECRET)
        site = self.site(HTTPHandlerConfig(kind="status", path="/"))
        [component] = json.loads(get(site, "/status.json")[2])["components"]
        self.assertEqual((component["domain"], component["connections"][0]["peer"]), ("a.example", "127.0.0.1:40000"))
        self.assertIn(b'<tr class="component" data-domain="a.example">', get(site, "/")[2])

    def test_noRequestLog(self) -> None:
        """
        Requests are not logged one by one (Prometheus scrapes every few
        seconds).
        """
        site = self.site(HTTPHandlerConfig(kind="status", path="/"))
        with capturedLogs() as events:
            get(site, "/status.json")
        self.assertEqual([e for e in events if "status.json" in repr(e)], [])


class GuardTests(SiteTestCase):
    """
    The token and the allowed networks.
    """

    def test_tokenRequired(self) -> None:
        """
        With a token, a request without it, or with another, gets 401 and
        a Basic challenge (so a browser asks for it).
        """
        site = self.site(HTTPHandlerConfig(kind="status", path="/", token=TOKEN))
        code, headers, body = get(site, "/status.json")
        self.assertEqual((code, headers["www-authenticate"]), (401, 'Basic realm="xcomp", charset="UTF-8"'))
        self.assertNotIn(b"a.example", body)
        self.assertEqual(get(site, "/", {"Authorization": "Bearer nope"})[0], 401)
        self.assertEqual(get(site, "/", {"Authorization": f"Bearer {TOKEN}x"})[0], 401)
        self.assertEqual(get(site, "/", {"Authorization": "Basic !!!"})[0], 401)

    def test_bearerAndBasic(self) -> None:
        """
        C{Bearer TOKEN} (Prometheus's C{authorization}) and Basic with the
        token as the password (a browser) are both accepted.
        """
        site = self.site(HTTPHandlerConfig(kind="status", path="/", token=TOKEN))
        self.assertEqual(get(site, "/status.json", {"Authorization": f"Bearer {TOKEN}"})[0], 200)
        basic = base64.b64encode(f"admin:{TOKEN}".encode()).decode()
        self.assertEqual(get(site, "/", {"Authorization": f"Basic {basic}"})[0], 200)

    def test_allowedNetworks(self) -> None:
        """
        A handler with allowed networks (Prosody's C{openmetrics_allow_*})
        answers 403 to any other address, token or not; an IPv4-mapped
        IPv6 address counts as its IPv4 address.
        """
        site = self.site(HTTPHandlerConfig(kind="status", path="/", allowFrom=("127.0.0.1/32", "10.0.0.0/8")))
        self.assertEqual(get(site, "/", client="127.0.0.1")[0], 200)
        self.assertEqual(get(site, "/", client="10.1.2.3")[0], 200)
        self.assertEqual(get(site, "/", client="::ffff:10.1.2.3")[0], 200)
        self.assertEqual(get(site, "/", client="192.168.1.1")[0], 403)
        self.assertEqual(get(site, "/", client="::1")[0], 403)

    def test_tokenNotShown(self) -> None:
        """
        The token is in no repr, and not in what a refused request gets.
        """
        handler = HTTPHandlerConfig(kind="status", path="/", token=TOKEN)
        site = self.site(handler)
        self.assertNotIn(TOKEN, repr(handler))
        self.assertNotIn(TOKEN.encode(), get(site, "/")[2])
        self.assertNotIn(TOKEN, repr(site.resource._paths))  # type: ignore[attr-defined]
