#!/usr/bin/env python3
"""
CPU cost of the incoming s2s path, in process: bytes into one
authenticated incoming server stream (jabber:server), through the parser,
the stream's pair check and namespace step, and the router, out of a
component stream's transport.  The same measure as bench/hotpath.py, whose
figure for the component-to-component path it is meant to be read beside.

    python3 bench/s2s_inbound_hotpath.py [--stanzas 500000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import time

from hotpath import NullTransport, connect
from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from xcomp.config import ComponentConfig, RouterConfig
from xcomp.config.model import S2SConfig
from xcomp.listener import ComponentListenerFactory
from xcomp.router import Router
from xcomp.s2s.dialback import DialbackSecret
from xcomp.s2s.inboundfactory import InboundListenerFactory

HEADER = (
    b"<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
    b"xmlns:db='jabber:server:dialback' to='b.bench' from='remote.bench' version='1.0'>"
)


class Valid:
    """
    A verifier that finds every dialback key valid.
    """

    def verify(self, receiving: str, originating: str, streamID: str, key: str) -> defer.Deferred[bool]:
        return defer.succeed(True)


def chunks(count: int, size: int = 65536) -> list[bytes]:
    body = b"x" * 120
    out, current, length = [], [], 0
    for n in range(count):
        stanza = (
            b"<message from='u@remote.bench/r' to='b.bench' id='%d' type='normal'><body>%s</body></message>"
            % (n, body)
        )
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
    config = RouterConfig(components={"b.bench": ComponentConfig(domain="b.bench", secret="s")})
    router = Router(clock, components=config.components)
    components = ComponentListenerFactory(router, config, clock)
    s2s = InboundListenerFactory(
        router,
        S2SConfig(requireEncryption=False),
        clock,
        secret=DialbackSecret(),
        verifier=Valid(),
        tls=None,
        isLocal=lambda domain: domain == "b.bench",
        outbox=components.outbox,
    )
    data = chunks(args.stanzas)
    # The component receives each stanza's bytes as they arrived.
    total = sum(map(len, data))
    results = []
    for _ in range(args.repeat):
        b, out = connect(components, "b.bench", "s")
        remote = s2s.buildProtocol(None)
        remote.makeConnection(StringTransport())
        remote.dataReceived(HEADER)
        remote.dataReceived(b"<db:result from='remote.bench' to='b.bench'>key</db:result>")
        assert remote.pairs, "not authenticated"
        started = time.process_time()
        for chunk in data:
            remote.dataReceived(chunk)
            out.drain()
        elapsed = time.process_time() - started
        assert out.written == total, (out.written, total)
        results.append(elapsed)
        remote.connectionLost()
        b.connectionLost()
    best = min(results)
    print(
        f"{args.stanzas / best:,.0f} stanzas per CPU second "
        f"({best / args.stanzas * 1e6:.2f} us/stanza, best of {args.repeat}; "
        f"{total / args.stanzas:.0f} bytes each)"
    )


if __name__ == "__main__":
    main()
