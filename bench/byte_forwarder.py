#!/usr/bin/env python3
"""
The ceiling of this machine for bench/load.py: a "router" that does no XML
work at all once a component is authenticated.

It accepts XEP-0114 components on loopback and does the handshake (stream
header in, stream header with an id out, hex SHA-1 of id + secret checked,
``<handshake/>`` out), exactly as a router would.  After that it never looks
at the bytes again: everything component c(2k+1) sends is written, unchanged
and in the chunks it was read in, to component c(2k+2), and the other way
round.  That is the pairing bench/load.py uses (pair i is A = c(2i+1),
B = c(2i+2)), so the generator sees what a router would deliver; nothing is
parsed, split, addressed or copied beyond asyncio's own buffers.

It is not a router: the ``to`` attribute is never read.  It only tells how
fast the generator and loopback TCP can go when the router costs next to
nothing, so that a real router's figures can be read against it
(``bench/run --server forwarder``; ``bench/compare`` runs it as a reference).
bench/null_router.py is the other reference: it does split stanzas and route
by ``to``, with regular expressions, so it stands for the cheapest Python
stanza router rather than for the machine's limit.

Flow control: when the destination's socket buffer is full, reading from the
source stops until it drains (asyncio's pause/resume), so memory stays
bounded whatever the load.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import re

from load import HEADER_RE, handshake_digest
# The same handshake, start and stop as the null router.
from null_router import HANDSHAKE_RE, NOT_AUTHORIZED, TO_RE, header_reply, serve_until_stopped
STREAM_END = b"</stream:stream>"
MAX_EARLY_BYTES = 4 * 1024 * 1024  # kept for a partner that has not connected yet
HIGH_WATER = 1024 * 1024


class Forwarder:
    """Who is connected, by component number."""

    def __init__(self, secret: str, domain_fmt: str) -> None:
        self.secret = secret
        pattern = re.escape(domain_fmt).replace(re.escape("{}"), r"(\d+)")
        self.domain_re = re.compile(("^" + pattern + "$").encode())
        self.by_number: dict[int, Link] = {}
        self.counter = 0

    def new_stream_id(self) -> str:
        self.counter += 1
        return f"fwd{os.getpid()}x{self.counter}"

    def number_of(self, domain: bytes) -> int | None:
        found = self.domain_re.match(domain)
        return int(found.group(1)) if found else None


def partner_number(n: int) -> int:
    """c1 <-> c2, c3 <-> c4, ..."""
    return n + 1 if n % 2 else n - 1


class Link(asyncio.Protocol):
    """One component connection; after the handshake, a pipe to its partner."""

    def __init__(self, fwd: Forwarder) -> None:
        self.fwd = fwd
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.stream_id = fwd.new_stream_id()
        self.domain: bytes | None = None
        self.number: int | None = None
        self.authenticated = False
        self.partner: Link | None = None
        self.early: list[bytes] = []
        self.early_bytes = 0

    # -- asyncio.Protocol ---------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=HIGH_WATER, low=HIGH_WATER // 4)

    def data_received(self, data: bytes) -> None:
        if self.authenticated:
            self.forward(data)
            return
        self.buf += data
        if len(self.buf) > 65536:
            self.transport.close()  # type: ignore[union-attr]
            return
        if self.domain is None and not self._read_header():
            return
        self._read_handshake()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.number is not None and self.fwd.by_number.get(self.number) is self:
            del self.fwd.by_number[self.number]
        partner = self.partner
        self.partner = None
        if partner is not None and partner.partner is self:
            partner.partner = None

    # Our own output buffer is full: stop reading from whoever fills it.
    def pause_writing(self) -> None:
        if self.partner is not None and self.partner.transport is not None:
            self.partner.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.partner is not None and self.partner.transport is not None:
            self.partner.transport.resume_reading()

    # -- forwarding ---------------------------------------------------------

    def forward(self, data: bytes) -> None:
        """Write C{data} to the partner, unchanged (the stream's end excepted)."""
        if data.endswith(STREAM_END):
            data = data[: -len(STREAM_END)]
            self.transport.close()  # type: ignore[union-attr]
        partner = self.partner or self._find_partner()
        if partner is None:
            if self.early_bytes + len(data) <= MAX_EARLY_BYTES:
                self.early.append(data)
                self.early_bytes += len(data)
            return
        if data:
            partner.transport.write(data)  # type: ignore[union-attr]

    def _find_partner(self) -> Link | None:
        if self.number is None:
            return None
        partner = self.fwd.by_number.get(partner_number(self.number))
        if partner is None or partner.transport is None or partner.transport.is_closing():
            return None
        self.partner, partner.partner = partner, self
        for link in (self, partner):  # whatever either side sent before the other came
            if link.early:
                chunks, link.early, link.early_bytes = link.early, [], 0
                link.partner.transport.write(b"".join(chunks))  # type: ignore[union-attr]
        return partner

    # -- handshake ----------------------------------------------------------

    def _send(self, data: bytes) -> None:
        self.transport.write(data)  # type: ignore[union-attr]

    def _read_header(self) -> bool:
        header = HEADER_RE.search(self.buf)
        if header is None:
            return False
        to = TO_RE.search(header.group(0))
        self.domain = to.group(1).lower() if to else b""
        self.buf = self.buf[header.end():]
        self._send(header_reply(self.stream_id, self.domain.decode(errors="replace")))
        return True

    def _read_handshake(self) -> None:
        found = HANDSHAKE_RE.search(self.buf)
        if found is None:
            return
        want = handshake_digest(self.stream_id, self.fwd.secret)
        number = self.fwd.number_of(self.domain or b"")
        if found.group(1).strip().decode(errors="replace") != want or number is None:
            self._send(NOT_AUTHORIZED)
            self.transport.close()  # type: ignore[union-attr]
            return
        old = self.fwd.by_number.get(number)
        if old is not None and old.transport is not None:
            old.transport.close()  # the newest connection for a domain wins
        self.number = number
        self.fwd.by_number[number] = self
        self.authenticated = True
        rest = self.buf[found.end():]
        self.buf = b""
        self._send(b"<handshake/>")
        self._find_partner()
        if rest:
            self.forward(rest)


async def serve(host: str, port: int, secret: str, domain_fmt: str, lifetime: float,
                backlog: int) -> None:
    """Listen until SIGTERM/SIGINT or C{lifetime} seconds, whichever is first."""
    fwd = Forwarder(secret, domain_fmt)
    await serve_until_stopped(lambda: Link(fwd), host, port, lifetime, backlog)


def main() -> None:
    p = argparse.ArgumentParser(description="Pairwise byte forwarder for calibrating bench/load.py.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--secret", default="benchsecret")
    p.add_argument("--domain-fmt", default="c{}.bench.local",
                   help="component domains; c(2k+1) is paired with c(2k+2)")
    p.add_argument("--backlog", type=int, default=128, help="listen queue length")
    p.add_argument("--lifetime", type=float, default=3600.0, help="exit after this many seconds")
    a = p.parse_args()
    if not ipaddress.ip_address(a.host).is_loopback:
        p.error("--host must be a loopback address")
    asyncio.run(serve(a.host, a.port, a.secret, a.domain_fmt, a.lifetime, a.backlog))


if __name__ == "__main__":
    main()
