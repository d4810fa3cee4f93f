#!/usr/bin/env python3
"""
CPU cost of holding and replaying stanzas for a component that restarts
(xcomp.hold), in process, next to the ordinary pass-through path measured
the same way (bench/hotpath.py): component a sends N stanzas to component
b while b is connected (pass-through), while b is away (each one held),
and then b reconnects (its handshake replays everything held, in one
read).  Every stanza is checked to come out once and in order.

    python3 bench/hold.py [--stanzas 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import re
import time

from hotpath import HEADER, NullTransport, chunks, connect

from xcomp.config import ComponentConfig, RouterConfig
from xcomp.listener import ComponentListenerFactory, ComponentStream, handshakeDigest
from xcomp.router import Router
from twisted.internet.task import Clock

ID = re.compile(rb" id='(\d+)'")


def written(transport: NullTransport) -> bytes:
    """
    What was written to C{transport} since it was last drained.
    """
    data = transport.dataBuffer[transport.offset :] + b"".join(transport._tempDataBuffer)
    transport.dataBuffer, transport.offset = b"", 0
    transport._tempDataBuffer, transport._tempDataLen = [], 0
    return bytes(data)


def reconnect(factory: ComponentListenerFactory, domain: str, secret: str) -> tuple[ComponentStream, NullTransport, float, bytes]:
    """
    Connect C{domain} again on a transport that keeps what is written;
    the CPU time of the read that carried the handshake (where what was
    held is delivered), and what the stream wrote after its header.
    """
    transport = NullTransport()
    stream = factory.buildProtocol(None)
    stream.makeConnection(transport)
    stream.dataReceived(HEADER % domain.encode())
    streamId = re.search(rb"id='([^']+)'", written(transport)).group(1).decode()  # type: ignore[union-attr]
    handshake = b"<handshake>%s</handshake>" % handshakeDigest(streamId, secret)
    started = time.process_time()
    stream.dataReceived(handshake)
    elapsed = time.process_time() - started
    return stream, transport, elapsed, written(transport)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stanzas", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    clock = Clock()
    config = RouterConfig(
        components={
            "a.bench": ComponentConfig(domain="a.bench", secret="s"),
            "b.bench": ComponentConfig(
                domain="b.bench", secret="s", holdStanzas=args.stanzas, holdBytes=1 << 30
            ),
        }
    )
    router = Router(clock, components=config.components)
    factory = ComponentListenerFactory(router, config, clock)
    data = chunks(args.stanzas)
    total = sum(map(len, data))
    expected = [b"%d" % n for n in range(args.stanzas)]
    passing, holding, replaying = [], [], []
    for _ in range(args.repeat):
        a, _ = connect(factory, "a.bench", "s")
        b, out = connect(factory, "b.bench", "s")
        started = time.process_time()
        for chunk in data:
            a.dataReceived(chunk)
            out.drain()
        passing.append(time.process_time() - started)
        assert out.written == total, (out.written, total)

        b.connectionLost()
        started = time.process_time()
        for chunk in data:
            a.dataReceived(chunk)
        holding.append(time.process_time() - started)
        assert router.heldTotal() == args.stanzas, router.heldTotal()

        b, out, elapsed, replayed = reconnect(factory, "b.bench", "s")
        replaying.append(elapsed)
        assert replayed.startswith(b"<handshake/>"), replayed[:40]
        assert ID.findall(replayed) == expected, "lost, duplicated or reordered"
        assert router.heldTotal() == 0
        a.connectionLost()
        b.connectionLost()
        router.holds.stop()
    n = args.stanzas
    for label, results in (
        ("pass-through (b connected)", passing),
        ("held (b away)", holding),
        ("replayed on reconnect", replaying),
    ):
        best = min(results)
        print(f"{label:28} {n / best:>12,.0f} stanzas per CPU second ({best / n * 1e6:.2f} us/stanza)")
    print(
        f"best of {args.repeat}; {n} stanzas of {total // n} bytes; replay of {n} "
        f"in one handshake read: {min(replaying) * 1e3:.1f} ms CPU"
    )


if __name__ == "__main__":
    main()
