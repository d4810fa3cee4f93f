#!/usr/bin/env python3
"""
CPU cost of xcomp's pass-through path, in process: bytes into one
authenticated component stream, through the parser, listener and router, out
of another stream's transport.  No sockets, so the figure is the router's own
work per stanza, free of the kernel and of the load generator; use it to
compare changes to the hot path.  The whole-process figures come from
bench/run.

    python3 bench/hotpath.py [--stanzas 500000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import re
import time

from twisted.internet.abstract import FileDescriptor
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactor, StringTransport

from xcomp.config import ComponentConfig, RouterConfig
from xcomp.listener import ComponentListenerFactory, ComponentStream, handshakeDigest
from xcomp.router import Router

HEADER = (
    b"<stream:stream xmlns='jabber:component:accept' "
    b"xmlns:stream='http://etherx.jabber.org/streams' to='%s'>"
)


class NullTransport(FileDescriptor):
    """
    Twisted's own buffering write path (what a TCP transport does per write
    call), with a socket that takes everything: L{drain} empties the buffer
    as the reactor would once the socket is writable.
    """

    def __init__(self) -> None:
        super().__init__(MemoryReactor())  # type: ignore[arg-type]
        self.connected = 1
        self.written = 0

    def drain(self) -> None:
        self.written += len(self.dataBuffer) - self.offset + self._tempDataLen
        self.dataBuffer, self.offset = b"", 0
        self._tempDataBuffer, self._tempDataLen = [], 0
        self.stopWriting()

    def getPeer(self) -> None:  # type: ignore[override]
        return None


def connect(factory: ComponentListenerFactory, domain: str, secret: str) -> tuple[ComponentStream, NullTransport]:
    stream = factory.buildProtocol(None)
    setup = StringTransport()
    stream.makeConnection(setup)
    stream.dataReceived(HEADER % domain.encode())
    streamId = re.search(rb"id='([^']+)'", setup.value()).group(1).decode()  # type: ignore[union-attr]
    stream.dataReceived(b"<handshake>%s</handshake>" % handshakeDigest(streamId, secret))
    transport = NullTransport()
    stream.transport = transport
    return stream, transport


def chunks(count: int, size: int = 65536) -> list[bytes]:
    body = b"x" * 120
    stanzas = [
        b"<message from='a.bench' to='b.bench' id='%d' type='normal'><body>%s</body></message>"
        % (n, body)
        for n in range(count)
    ]
    out, current, length = [], [], 0
    for stanza in stanzas:
        current.append(stanza)
        length += len(stanza)
        if length >= size:
            out.append(b"".join(current))
            current, length = [], 0
    if current:
        out.append(b"".join(current))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stanzas", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    clock = Clock()
    config = RouterConfig(
        components={
            d: ComponentConfig(domain=d, secret="s") for d in ("a.bench", "b.bench")
        }
    )
    router = Router(clock, components=config.components)
    factory = ComponentListenerFactory(router, config, clock)
    data = chunks(args.stanzas)
    total = sum(map(len, data))
    results = []
    for _ in range(args.repeat):
        a, _ = connect(factory, "a.bench", "s")
        b, out = connect(factory, "b.bench", "s")
        started = time.process_time()
        for chunk in data:
            a.dataReceived(chunk)
            out.drain()
        elapsed = time.process_time() - started
        assert out.written == total, (out.written, total)
        results.append(elapsed)
        a.connectionLost()
        b.connectionLost()
    best = min(results)
    print(
        f"{args.stanzas / best:,.0f} stanzas per CPU second "
        f"({best / args.stanzas * 1e6:.2f} us/stanza, best of {args.repeat}; "
        f"{total / args.stanzas:.0f} bytes each)"
    )


if __name__ == "__main__":
    main()
