"""
How many stanzas per second L{xcomp.stream.StreamParser} delivers.

The stream is a component stream header followed by ~200-byte <message>
stanzas, fed in 64 KiB chunks to a receiver that only counts.  For scale it
also times expat alone over the same chunks, with no handlers (an upper
bound), and with start/end handlers that only track depth (what any
boundary-finding pass must at least do).

Run:  python3 bench/parser_speed.py [--stanza body|rich|empty] [--stanzas N] [--repeat R]

CPU time is measured (time.process_time), best of R runs, so other load on
the machine disturbs the figures less.
"""

from __future__ import annotations

import argparse
import time
from typing import Callable
from xml.parsers import expat

from zope.interface import implementer

from xcomp.interfaces import IStreamReceiver
from xcomp.stanza import Stanza
from xcomp.stream import StreamHeader, StreamParser

HEADER = (
    b"<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept'"
    b" xmlns:stream='http://etherx.jabber.org/streams' to='bench.example'>"
)
STANZAS = {
    # The figure to compare: a ~200-byte message with a body.
    "body": (
        b"<message to='romeo@montague.example/orchard' from='juliet@bench.example/balcony'"
        b" type='chat' id='ktx72v49-%08d'><body>Art thou not Romeo, and a Montague?"
        b" Neither, fair saint.</body></message>"
    ),
    # A message as clients send them, with a few extension elements.
    "rich": (
        b"<message to='romeo@montague.example/orchard' from='juliet@bench.example/balcony'"
        b" type='chat' id='ktx72v49-%08d'><body>Art thou not Romeo?</body>"
        b"<active xmlns='http://jabber.org/protocol/chatstates'/>"
        b"<request xmlns='urn:xmpp:receipts'/><origin-id xmlns='urn:xmpp:sid:0' id='de305d54'/>"
        b"<markable xmlns='urn:xmpp:chat-markers:0'/></message>"
    ),
    # An empty-element stanza.
    "empty": (
        b"<presence to='romeo@montague.example/orchard' from='juliet@bench.example/balcony'"
        b" id='ktx72v49-%08d' type='unavailable'/>"
    ),
}
CHUNK = 64 * 1024


@implementer(IStreamReceiver)
class Counter:
    """
    A receiver that counts stanzas.
    """

    def __init__(self) -> None:
        """
        None counted yet.
        """
        self.count = 0

    def streamStarted(self, header: StreamHeader) -> None:
        """
        Ignored.
        """

    def stanzaReceived(self, stanza: Stanza) -> None:
        """
        Count it.
        """
        self.count += 1

    def streamEnded(self) -> None:
        """
        Ignored.
        """

    def streamFailed(self, condition: str, text: str | None) -> None:
        """
        The benchmark stream is valid: this is a bug.
        """
        raise RuntimeError(f"{condition}: {text}")


def makeChunks(count: int, stanza: bytes = STANZAS["body"]) -> list[bytes]:
    """
    The benchmark stream, cut into L{CHUNK}-sized pieces.

    @param stanza: a stanza with a C{%d} for a serial number.
    """
    data = HEADER + b"".join(stanza % i for i in range(count))
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


def timeParser(chunks: list[bytes], count: int) -> float:
    """
    Seconds of CPU for L{StreamParser} to deliver every stanza.
    """
    receiver = Counter()
    parser = StreamParser(receiver)
    started = time.process_time()
    for chunk in chunks:
        parser.feed(chunk)
    elapsed = time.process_time() - started
    assert receiver.count == count, receiver.count
    return elapsed


def timeExpat(chunks: list[bytes], count: int, handlers: bool) -> float:
    """
    Seconds of CPU for bare expat, with or without depth-tracking handlers.
    """
    parser = expat.ParserCreate("UTF-8", "\x01")
    parser.namespace_prefixes = True
    depth = 0
    seen = 0

    def start(name: str, attributes: dict[str, str]) -> None:
        """
        One more open element.
        """
        nonlocal depth
        depth += 1

    def end(name: str) -> None:
        """
        One fewer; count the children of the root.
        """
        nonlocal depth, seen
        depth -= 1
        if depth == 1:
            seen += 1

    if handlers:
        parser.StartElementHandler = start
        parser.EndElementHandler = end
    started = time.process_time()
    for chunk in chunks:
        parser.Parse(chunk, False)
    elapsed = time.process_time() - started
    assert seen == (count if handlers else 0)
    return elapsed


def best(run: Callable[[], float], repeat: int) -> float:
    """
    The shortest of C{repeat} runs.
    """
    return min(run() for _ in range(repeat))


def main() -> None:
    """
    Print stanzas per second for the parser and the two expat baselines.
    """
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--stanzas", type=int, default=200_000)
    options.add_argument("--repeat", type=int, default=7)
    options.add_argument("--stanza", choices=sorted(STANZAS), default="body")
    args = options.parse_args()
    count = args.stanzas
    stanza = STANZAS[args.stanza]
    chunks = makeChunks(count, stanza)
    print(
        f"{count} {args.stanza!r} stanzas of {len(stanza % 0)} bytes"
        f" in {len(chunks)} chunks of {CHUNK} bytes"
    )
    for label, run in [
        ("expat, no handlers", lambda: timeExpat(chunks, count, False)),
        ("expat, depth-tracking handlers", lambda: timeExpat(chunks, count, True)),
        ("StreamParser", lambda: timeParser(chunks, count)),
    ]:
        print(f"{label:32} {count / best(run, args.repeat):>10,.0f} stanzas/s")


if __name__ == "__main__":
    main()
