#!/usr/bin/env python3
"""
A deliberately minimal XEP-0114 "router" for calibrating bench/load.py.

It accepts components on loopback, checks the handshake against one shared
secret (any domain is accepted), splits the incoming bytes into top-level
elements with a regular expression over the tags (no XML parser, no
validation, no namespaces), and writes each stanza unchanged to the stream
bound to the domain of its ``to`` attribute.  Stanzas for unknown domains are
dropped.

It is not an XMPP server.  It only tells how fast the generator and the
machine's loopback are when the router costs almost nothing, so that a real
router's figures can be read against that ceiling (``bench/run --server
null``).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import re
import signal
from typing import Callable

from load import HEADER_RE, STREAM_NS, handshake_digest

# Shared with bench/byte_forwarder.py, the other calibration server.
TO_RE = re.compile(rb"\sto=['\"]([^'\"]*)['\"]")
HANDSHAKE_RE = re.compile(rb"<handshake>([^<]*)</handshake>")
NOT_AUTHORIZED = (
    b"<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
    b"</stream:error></stream:stream>"
)


def header_reply(stream_id: str, domain: str) -> bytes:
    """The router's stream header, with the id the handshake is made over."""
    return (
        f"<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
        f"xmlns:stream='{STREAM_NS}' id='{stream_id}' from='{domain}'>"
    ).encode()


# One tag: group 1 is "/" for an end tag, group 2 is "/" for an empty element.
TAG_RE = re.compile(rb"<(/?)[^\s>/!?]+(?:[^>]*?)(/?)>")


def domain_of(jid: bytes) -> bytes:
    """The domain part of a JID, as bytes."""
    return jid.split(b"/", 1)[0].rsplit(b"@", 1)[-1].lower()


class Router:
    """The routing table: domain -> the stream that authenticated for it."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.routes: dict[bytes, ComponentStream] = {}
        self.counter = 0

    def new_stream_id(self) -> str:
        self.counter += 1
        return f"null{os.getpid()}x{self.counter}"

    def route(self, stanza: bytes) -> None:
        to = TO_RE.search(stanza, 0, stanza.find(b">"))
        if to is not None:
            target = self.routes.get(domain_of(to.group(1)))
            if target is not None:
                target.send(stanza)


class ComponentStream(asyncio.Protocol):
    """One accepted component connection."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.domain: bytes | None = None
        self.stream_id = router.new_stream_id()
        self.authenticated = False
        self.depth = 0
        self.stanza_start = 0
        self.scan_pos = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def send(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.domain is None and not self._read_header():
            return
        if not self.authenticated and not self._read_handshake():
            return
        self._split_stanzas()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.domain is not None and self.router.routes.get(self.domain) is self:
            del self.router.routes[self.domain]

    def _read_header(self) -> bool:
        header = HEADER_RE.search(self.buf)
        if header is None:
            return False
        to = TO_RE.search(header.group(0))
        self.domain = domain_of(to.group(1)) if to else b""
        self.buf = self.buf[header.end():]
        self.send(header_reply(self.stream_id, self.domain.decode()))
        return True

    def _read_handshake(self) -> bool:
        found = HANDSHAKE_RE.search(self.buf)
        if found is None:
            return False
        want = handshake_digest(self.stream_id, self.router.secret)
        if found.group(1).strip().decode() != want or self.domain is None:
            self.send(NOT_AUTHORIZED)
            if self.transport is not None:
                self.transport.close()
            return False
        self.authenticated = True
        self.router.routes[self.domain] = self
        self.buf = self.buf[found.end():]
        self.send(b"<handshake/>")
        return True

    def _split_stanzas(self) -> None:
        """Route every complete top-level element in the buffer."""
        buf, depth, start = self.buf, self.depth, self.stanza_start
        pos = consumed = 0
        for tag in TAG_RE.finditer(buf, self.scan_pos):
            pos = tag.end()
            if tag.group(1):  # end tag
                depth -= 1
                if depth < 0:  # </stream:stream>
                    if self.transport is not None:
                        self.transport.close()
                    return
            else:
                if depth == 0:
                    start = tag.start()
                if not tag.group(2):  # start tag, not an empty element
                    depth += 1
            if depth == 0:
                self.router.route(buf[start:pos])
                consumed = pos
        self.buf = buf[consumed:]
        self.depth = depth
        self.scan_pos = max(pos, self.scan_pos) - consumed
        self.stanza_start = start - consumed if depth else 0


async def serve(host: str, port: int, secret: str, lifetime: float) -> None:
    """Listen until SIGTERM/SIGINT or C{lifetime} seconds, whichever is first."""
    router = Router(secret)
    await serve_until_stopped(lambda: ComponentStream(router), host, port, lifetime)


async def serve_until_stopped(
    factory: Callable[[], asyncio.Protocol], host: str, port: int, lifetime: float, backlog: int = 100
) -> None:
    """Serve C{factory}'s protocols until SIGTERM/SIGINT or C{lifetime} seconds."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, host, port, backlog=backlog)
    stop = loop.create_future()

    def request_stop() -> None:
        if not stop.done():
            stop.set_result(None)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, request_stop)
    try:
        await asyncio.wait_for(stop, lifetime)
    except TimeoutError:
        pass
    finally:
        server.close()


def main() -> None:
    p = argparse.ArgumentParser(description="Minimal XEP-0114 forwarder for calibration.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--secret", default="benchsecret")
    p.add_argument("--lifetime", type=float, default=3600.0, help="exit after this many seconds")
    a = p.parse_args()
    if not ipaddress.ip_address(a.host).is_loopback:
        p.error("--host must be a loopback address")
    asyncio.run(serve(a.host, a.port, a.secret, a.lifetime))


if __name__ == "__main__":
    main()
