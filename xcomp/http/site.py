# -*- test-case-name: xcomp.test.test_http_site,xcomp.test.test_http_loopback -*-
"""
The HTTP port: a C{twisted.web} site serving metrics (prometheus_client's
Twisted C{MetricsResource}, on a registry of this service's own) and the
status page, at the paths the configuration gives, each behind its
handler's guard (L{Guard}): the networks it may be read from, and the
credential it needs.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import json
from typing import Callable

from prometheus_client.registry import CollectorRegistry
from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import MultiService
from twisted.internet.endpoints import TCP4ServerEndpoint, TCP6ServerEndpoint
from twisted.internet.interfaces import IStreamServerEndpoint
from twisted.web.resource import IResource, Resource
from twisted.web.server import Request, Site

from xcomp.config import HTTPHandlerConfig, HTTPListenerConfig
from xcomp.config.http import isLoopback
from xcomp.http.metrics import metricsRegistry
from xcomp.http.page import renderPage
from xcomp.http.status import Observed, snapshot
from xcomp.logsinks import Logger

__all__ = ["Guard", "HTTPService", "StatusJSON", "StatusPage", "jsonPathOf", "makeSite"]

_log = Logger()


def jsonPathOf(path: str) -> str:
    """
    Where the status page at C{path} serves its JSON.
    """
    return path.rstrip("/") + "/status.json"


class Guard(Resource):
    """
    One handler's resource, served only to requests from its allowed
    networks (403 otherwise) that carry its credential (401 otherwise):
    C{Authorization: Bearer TOKEN} (Prometheus's C{authorization}), or
    Basic with the token as the password, so a browser asks for it.
    """

    isLeaf = True

    def __init__(self, handler: HTTPHandlerConfig, resource: Callable[[], IResource]) -> None:
        """
        @param resource: Makes the guarded resource, when first needed.
        """
        super().__init__()
        self._token = handler.token.encode("utf-8") if handler.token is not None else None
        self._networks = [ipaddress.ip_network(n) for n in handler.allowFrom]
        self._make = resource
        self._resource: IResource | None = None

    def __repr__(self) -> str:
        return f"<Guard {'with' if self._token else 'without'} a token>"

    def _allowed(self, request: Request) -> bool:
        if not self._networks:
            return True
        host = getattr(request.getClientAddress(), "host", None)
        try:
            address = ipaddress.ip_address(host or "")
        except ValueError:
            return False
        if address.version == 6 and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self._networks)

    def _authorized(self, request: Request) -> bool:
        if self._token is None:
            return True
        header = request.getHeader(b"authorization") or b""
        scheme, _, value = header.partition(b" ")
        supplied = b""
        if scheme.lower() == b"bearer":
            supplied = value.strip()
        elif scheme.lower() == b"basic":
            try:
                supplied = base64.b64decode(value.strip(), validate=True).partition(b":")[2]
            except ValueError:
                supplied = b""
        return hmac.compare_digest(supplied, self._token)

    def render(self, request: Request) -> bytes | int:
        if not self._allowed(request):
            request.setResponseCode(403)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"Forbidden: not from an allowed address (openmetrics_allow_ips, openmetrics_allow_cidr)\n"
        if not self._authorized(request):
            request.setResponseCode(401)
            request.setHeader(b"www-authenticate", b'Basic realm="xcomp", charset="UTF-8"')
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"Unauthorized: give the configured token (Bearer, or as the Basic password)\n"
        if self._resource is None:
            self._resource = self._make()
        return self._resource.render(request)


class StatusPage(Resource):
    """
    The status page, as HTML.
    """

    isLeaf = True

    def __init__(self, service: Observed, jsonPath: str) -> None:
        super().__init__()
        self._service = service
        self._jsonPath = jsonPath

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        return renderPage(snapshot(self._service), self._jsonPath.rsplit("/", 1)[-1])


class StatusJSON(Resource):
    """
    The status as JSON (L{snapshot}).
    """

    isLeaf = True

    def __init__(self, service: Observed) -> None:
        super().__init__()
        self._service = service

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"application/json")
        request.setHeader(b"cache-control", b"no-store")
        return json.dumps(snapshot(self._service), indent=1, sort_keys=True).encode("utf-8") + b"\n"


class _Paths(Resource):
    """
    The site's root: each configured path to its guarded resource; any
    other path is 404.
    """

    isLeaf = True

    def __init__(self, paths: dict[bytes, IResource]) -> None:
        super().__init__()
        self._paths = paths

    def render(self, request: Request) -> bytes | int:
        resource = self._paths.get(request.path)
        if resource is None:
            request.setResponseCode(404)
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"Not found\n"
        return resource.render(request)


class _QuietSite(Site):
    """
    A site that does not log each request: Prometheus scrapes every few
    seconds.
    """

    noisy = False

    def log(self, request: object) -> None:
        pass


def _metricsResource(registry: CollectorRegistry) -> Callable[[], IResource]:
    def make() -> IResource:
        # Made on the first scrape: it starts the reactor's thread pool.
        from prometheus_client.twisted import MetricsResource

        return MetricsResource(registry=registry)

    return make


def _given(resource: IResource) -> Callable[[], IResource]:
    return lambda: resource


def makeSite(service: Observed, listener: HTTPListenerConfig) -> Site:
    """
    The site of one HTTP listener.
    """
    paths: dict[bytes, IResource] = {}
    for handler in listener.handlers:
        if handler.kind == "metrics":
            paths[handler.path.encode("utf-8")] = Guard(handler, _metricsResource(metricsRegistry(service)))
        else:
            jsonPath = jsonPathOf(handler.path)
            page = StatusPage(service, jsonPath)
            data = StatusJSON(service)
            paths[handler.path.encode("utf-8")] = Guard(handler, _given(page))
            paths[jsonPath.encode("utf-8")] = Guard(handler, _given(data))
    site = _QuietSite(_Paths(paths))
    site.displayTracebacks = False
    return site


def _endpoint(reactor: object, listener: HTTPListenerConfig) -> IStreamServerEndpoint:
    if ":" in listener.interface:
        return TCP6ServerEndpoint(reactor, listener.port, interface=listener.interface)
    return TCP4ServerEndpoint(reactor, listener.port, interface=listener.interface)


class HTTPService(MultiService):
    """
    Every HTTP listener of the configuration, as port services.
    """

    def __init__(self, service: Observed) -> None:
        super().__init__()
        self._service = service
        for listener in service.config.http:
            port = StreamServerEndpointService(_endpoint(service.reactor, listener), makeSite(service, listener))
            # A port that cannot be bound must stop startup, not be logged and ignored.
            port._raiseSynchronously = True
            port.setName(f"{listener.interface}:{listener.port}")
            port.setServiceParent(self)

    def privilegedStartService(self) -> None:
        super().privilegedStartService()
        for listener in self._service.config.http:
            served = ", ".join(
                f"{h.path} and {jsonPathOf(h.path)} (status)" if h.kind == "status" else f"{h.path} (metrics)"
                for h in listener.handlers
            )
            host = f"[{listener.interface}]" if ":" in listener.interface else listener.interface
            if isLoopback(listener.interface):
                guard = "loopback only" + (", with the configured token" if any(h.token for h in listener.handlers) else "")
            else:
                guard = "open to the network: every request needs the configured token"
            _log.info(
                "Serving {served} on http://{host}:{port} ({guard})",
                served=served,
                host=host,
                port=listener.port,
                guard=guard,
            )
