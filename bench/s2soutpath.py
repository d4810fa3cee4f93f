#!/usr/bin/env python3
"""
CPU cost of xcomp's outgoing s2s path, in process, beside the
component-to-component one: bytes into one authenticated component stream,
through the parser, listener and router, to the remote route
(L{xcomp.s2s.pool.OutboundPool}) and out of an authenticated outgoing s2s
stream's transport.  No sockets and no TLS (the link is up in the clear), so
the figure is xcomp's own work per stanza; bench/hotpath.py measures the
same stanzas between two components.

    python3 bench/s2soutpath.py [--stanzas 500000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from twisted.internet.testing import MemoryReactorClock, StringTransport

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hotpath import NullTransport, chunks, connect  # noqa: E402

from xcomp.config import ComponentConfig, RouterConfig  # noqa: E402
from xcomp.config.model import S2SConfig  # noqa: E402
from xcomp.listener import ComponentListenerFactory  # noqa: E402
from xcomp.router import Router  # noqa: E402
from xcomp.s2s.dialback import DialbackSecret  # noqa: E402
from xcomp.s2s.outbound import OutboundStream  # noqa: E402
from xcomp.s2s.pool import OutboundPool  # noqa: E402

REMOTE_HEADER = (
    b"<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'"
    b" xmlns:db='jabber:server:dialback' id='r1' from='b.bench' version='1.0'>"
    b"<stream:features/>"
)


class Resolver:
    def resolve(self, domain: str) -> object:
        from twisted.internet import defer

        return defer.succeed([Target()])


class Target:
    host, port, directTLS = "127.0.0.1", 5269, False


def upLink(pool: OutboundPool, reactor: MemoryReactorClock, factory: ComponentListenerFactory) -> NullTransport:
    """
    Open and authenticate the a.bench -> b.bench link; return the transport
    its stanzas are written to.
    """
    sender, _ = connect(factory, "a.bench", "s")
    sender.dataReceived(b"<message from='a.bench' to='b.bench' id='open'/>")
    stream = reactor.tcpClients[-1][2].buildProtocol(None)
    assert isinstance(stream, OutboundStream)
    stream.makeConnection(StringTransport())
    stream.dataReceived(REMOTE_HEADER)
    stream.dataReceived(b"<db:result from='b.bench' to='a.bench' type='valid'/>")
    transport = NullTransport()
    stream.transport = transport
    stream._output._transport = transport  # the bound looks at the new transport
    sender.connectionLost()
    return transport


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stanzas", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    reactor = MemoryReactorClock()
    config = RouterConfig(components={"a.bench": ComponentConfig(domain="a.bench", secret="s")})
    router = Router(reactor, components=config.components)
    factory = ComponentListenerFactory(router, config, reactor)
    pool = OutboundPool(
        router,
        S2SConfig(requireEncryption=False),
        reactor,
        tls=None,  # type: ignore[arg-type]
        resolver=Resolver(),  # type: ignore[arg-type]
        secret=DialbackSecret(),
        isLocal=lambda domain: domain == "a.bench",
    )
    router.setRemote(pool)
    out = upLink(pool, reactor, factory)
    data = chunks(args.stanzas)
    total = sum(map(len, data))
    results = []
    for _ in range(args.repeat):
        a, _ = connect(factory, "a.bench", "s")
        out.written = 0
        started = time.process_time()
        for chunk in data:
            a.dataReceived(chunk)
            out.drain()
        elapsed = time.process_time() - started
        assert out.written == total, (out.written, total)
        results.append(elapsed)
        a.connectionLost()
    best = min(results)
    print(
        f"{args.stanzas / best:,.0f} stanzas per CPU second "
        f"({best / args.stanzas * 1e6:.2f} us/stanza, best of {args.repeat}; "
        f"{total / args.stanzas:.0f} bytes each)"
    )


if __name__ == "__main__":
    main()
