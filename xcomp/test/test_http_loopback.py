# -*- test-case-name: xcomp.test.test_http_loopback -*-
"""
The HTTP port over real loopback sockets: a L{RouterService} in this
process, real component clients (Twisted's own XEP-0114 client), and
C{twisted.web}'s HTTP client reading C{/metrics} (prometheus_client's
Twisted resource, in the reactor's thread pool) and C{/status.json}.
"""

from __future__ import annotations

import json

from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import reactor
from twisted.trial.unittest import TestCase
from twisted.web.client import Agent, readBody
from twisted.web.http_headers import Headers

from xcomp.config import HTTPHandlerConfig, HTTPListenerConfig, ListenerConfig
from xcomp.service import RouterService
from xcomp.test.helpers import makeConfig
from xcomp.test.loopback import PROCESS_TIMEOUT, ComponentClient, freePort

TOKEN = "loopback-token-0123456789"


class HTTPLoopbackTests(TestCase):
    """
    A router with its HTTP port on loopback.
    """

    timeout = 60

    async def start(self, token: str | None = None) -> None:
        self.componentPort = freePort()
        self.httpPort = freePort()
        handlers = (
            HTTPHandlerConfig(kind="metrics", path="/metrics", token=token, allowFrom=("127.0.0.1/32",)),
            HTTPHandlerConfig(kind="status", path="/", token=token),
        )
        config = makeConfig(
            components={"a.example": {"secret": "a-secret"}, "b.example": {"secret": "b-secret"}},
            listeners=(ListenerConfig(self.componentPort, "127.0.0.1"),),
            http=(HTTPListenerConfig(port=self.httpPort, interface="127.0.0.1", handlers=handlers),),
        )
        self.service = RouterService(config, reactor=reactor)
        self.service.privilegedStartService()
        self.service.startService()
        self.addCleanup(self.service.stopService)

    async def get(self, path: str, token: str | None = None) -> tuple[int, bytes]:
        headers = Headers({b"authorization": [b"Bearer " + token.encode()]} if token else {})
        agent = Agent(reactor)
        response = await agent.request(
            b"GET", f"http://127.0.0.1:{self.httpPort}{path}".encode(), headers
        ).addTimeout(PROCESS_TIMEOUT, reactor)
        body = await readBody(response).addTimeout(PROCESS_TIMEOUT, reactor)
        return response.code, body

    async def metrics(self, token: str | None = None) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        code, body = await self.get("/metrics", token)
        self.assertEqual(code, 200, body)
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode())
            for s in family.samples
        }

    async def connect(self, domain: str, secret: str) -> ComponentClient:
        client = ComponentClient(reactor, domain, secret)
        self.addCleanup(client.disconnect)
        await client.connect(self.componentPort)
        return client

    async def test_trafficShows(self) -> None:
        """
        Two components exchange stanzas: C{/metrics} counts them as
        delivered and the connections as connected; C{/status.json} lists
        both, with stanzas in and out.
        """
        await self.start()
        port = (("port", str(self.componentPort)),)
        before = await self.metrics()
        self.assertEqual(before["xcomp_components_connected", port], 0)
        a = await self.connect("a.example", "a-secret")
        b = await self.connect("b.example", "b-secret")
        for n in range(5):
            a.send(f"<message from='a.example' to='b.example' id='m{n}'><body>{n}</body></message>")
        await b.next(lambda e: e.getAttribute("id") == "m4")
        got = await self.metrics()
        self.assertEqual(got["xcomp_components_connected", port], 2)
        self.assertEqual(got["xcomp_stanzas_routed_total", (("kind", "message"), ("outcome", "delivered"))], 5)
        self.assertGreater(got["xcomp_bytes_received_total", port], 0)
        code, body = await self.get("/status.json")
        self.assertEqual(code, 200)
        rows = {c["domain"]: c["connections"][0] for c in json.loads(body)["components"]}
        self.assertEqual(sorted(rows), ["a.example", "b.example"])
        self.assertEqual((rows["a.example"]["stanzasIn"], rows["b.example"]["stanzasOut"]), (5, 5))

    async def test_bounceCounted(self) -> None:
        """
        A stanza for an unknown domain comes back as an error, and the
        bounce shows by condition.
        """
        await self.start()
        a = await self.connect("a.example", "a-secret")
        a.send("<message from='a.example' to='nowhere.example' id='x'/>")
        reply = await a.next(lambda e: e.getAttribute("id") == "x")
        self.assertEqual(reply.getAttribute("type"), "error")
        got = await self.metrics()
        self.assertEqual(got["xcomp_bounces_total", (("condition", "remote-server-not-found"),)], 1)

    async def test_token(self) -> None:
        """
        With a token, both handlers refuse a request without it (401) and
        serve one with it.
        """
        await self.start(TOKEN)
        self.assertEqual((await self.get("/metrics"))[0], 401)
        self.assertEqual((await self.get("/status.json"))[0], 401)
        self.assertEqual((await self.get("/status.json", TOKEN))[0], 200)
        got = await self.metrics(TOKEN)
        self.assertIn(("xcomp_held_stanzas", ()), got)
