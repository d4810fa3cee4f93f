#!/usr/bin/env python3
"""
CPU cost of holding and replaying stanzas for a component that restarts
(xcomp.hold), in process, next to the ordinary pass-through path measured
the same way (bench/hotpath.py): component a sends N stanzas to component
b while b is connected (pass-through), while b is away (each one held),
and then b reconnects (its handshake replays everything held, in one
read).  Every stanza is checked to come out once and in order.

With --process, the same three flows against a whole xcomp process
(twistd, from this checkout, as bench/run starts it) over loopback TCP:
wall time and server CPU per stanza, the hold's and the replay's next to
pass-through.

    python3 bench/hold.py [--stanzas 10000] [--repeat 5]
    python3 bench/hold.py --process [--stanzas 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import re
import socket
import tempfile
import time
from pathlib import Path

from hotpath import HEADER, NullTransport, chunks, connect
from servers import HOST, SECRET, SERVERS, ServerProcess, free_port

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


def inProcess(args: argparse.Namespace) -> None:
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


# The whole process, over loopback TCP


class Peer:
    """
    A blocking XEP-0114 component socket, enough for this benchmark.
    """

    def __init__(self, port: int, domain: str) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(HEADER % domain.encode())
        header = self.until(rb"<stream:stream[^>]*>")
        streamId = re.search(rb"id='([^']+)'", header).group(1).decode()  # type: ignore[union-attr]
        self.handshake = b"<handshake>%s</handshake>" % handshakeDigest(streamId, SECRET)
        self.buffer = b""

    def until(self, pattern: bytes, data: bytes = b"") -> bytes:
        while not re.search(pattern, data):
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed while waiting for {pattern!r}: {data[-200:]!r}")
            data += chunk
        return data

    def authenticate(self) -> bytes:
        self.sock.sendall(self.handshake)
        return self.until(rb"<handshake/>")

    def receive(self, count: int, data: bytes = b"") -> list[bytes]:
        """
        Read until C{count} message ids have come; return them, in order.
        """
        ids: list[bytes] = []
        data = data.partition(b"<handshake/>")[2] if b"<handshake/>" in data else data
        while True:
            cut = data.rfind(b"<")
            ids += ID.findall(data, 0, cut)
            data = data[cut:]
            if len(ids) >= count:
                return ids
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError(f"closed after {len(ids)} of {count}")
            data += chunk

    def close(self) -> None:
        """
        End the stream as a component that restarts does: send the end,
        read until the router's.
        """
        self.sock.sendall(b"</stream:stream>")
        try:
            self.until(rb"</stream:stream>")
        finally:
            self.sock.close()


def sync(peer: Peer, n: int) -> None:
    """
    A disco#info round trip to the VirtualHost: once answered, the router
    has processed everything C{peer} sent before.
    """
    peer.sock.sendall(
        b"<iq type='get' id='sync%d' from='c1.bench.local' to='bench.local'>"
        b"<query xmlns='http://jabber.org/protocol/disco#info'/></iq>" % n
    )
    peer.until(rb"id='sync%d'" % n)


def wholeProcess(args: argparse.Namespace) -> None:
    data = b"".join(chunks(args.stanzas)).replace(b"'a.bench'", b"'c1.bench.local'").replace(
        b"'b.bench'", b"'c2.bench.local'"
    )
    expected = [b"%d" % n for n in range(args.stanzas)]
    extra = [
        f"component_hold_stanzas = {args.stanzas}",
        "component_hold_bytes = 1073741824",
        "component_hold_total_bytes = 1073741824",
    ]
    rows: dict[str, list[tuple[float, float]]] = {"pass-through": [], "held": [], "replayed": []}
    with tempfile.TemporaryDirectory(prefix="xcomp-hold-") as workdir:
        server = ServerProcess(SERVERS["xcomp"], Path(workdir), free_port(), 2, extra)
        server.start(30.0)
        try:
            a = Peer(server.port, "c1.bench.local")
            a.authenticate()
            for round in range(args.repeat):
                b = Peer(server.port, "c2.bench.local")
                b.authenticate()
                cpu, wall = server.cpu(), time.perf_counter()
                a.sock.sendall(data)
                assert b.receive(args.stanzas) == expected, "pass-through: lost or reordered"
                rows["pass-through"].append((time.perf_counter() - wall, server.cpu() - cpu))  # type: ignore[operator]
                b.close()

                cpu, wall = server.cpu(), time.perf_counter()
                a.sock.sendall(data)
                sync(a, round)
                rows["held"].append((time.perf_counter() - wall, server.cpu() - cpu))  # type: ignore[operator]

                b = Peer(server.port, "c2.bench.local")
                cpu, wall = server.cpu(), time.perf_counter()
                first = b.authenticate()
                assert b.receive(args.stanzas, first) == expected, "replay: lost or reordered"
                rows["replayed"].append((time.perf_counter() - wall, server.cpu() - cpu))  # type: ignore[operator]
                b.close()
            a.close()
        finally:
            server.stop()
    n = args.stanzas
    for label, results in rows.items():
        wall = min(r[0] for r in results)
        cpu = min(r[1] for r in results)
        print(
            f"{label:14} {n / wall:>10,.0f} stanzas/s wall ({wall * 1e3:7.1f} ms for {n}), "
            f"server CPU {cpu / n * 1e6:.2f} us/stanza"
        )
    print(f"best of {args.repeat}; xcomp as a process on loopback; server CPU from /proc (10 ms ticks)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stanzas", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--process", action="store_true", help="against a whole xcomp process over loopback TCP")
    args = parser.parse_args()
    if args.process:
        wholeProcess(args)
    else:
        inProcess(args)


if __name__ == "__main__":
    main()
