# -*- test-case-name: xcomp.test.test_stream -*-
"""
What the stream parser's tests share: a receiver that records what it is
told, streams to feed, and ways to cut them up.
"""

from __future__ import annotations

from typing import Iterable, Iterator

from zope.interface import implementer

from xcomp.interfaces import IStreamReceiver
from xcomp.stanza import Stanza
from xcomp.stream import StreamHeader, StreamParser

DECLARATION = b"<?xml version='1.0'?>"
ROOT = (
    b"<stream:stream xmlns='jabber:component:accept'"
    b" xmlns:stream='http://etherx.jabber.org/streams' to='echo.example'>"
)
HEADER = DECLARATION + ROOT
FOOTER = b"</stream:stream>"
DIALBACK_NS = "jabber:server:dialback"


@implementer(IStreamReceiver)
class RecordingReceiver:
    """
    Records what a parser reports, in order.

    @ivar events: C{("started", header)}, C{("stanza", stanza)},
        C{("ended",)} and C{("failed", condition, text)} tuples.
    """

    def __init__(self) -> None:
        """
        Nothing recorded yet.
        """
        self.events: list[tuple[object, ...]] = []

    def streamStarted(self, header: StreamHeader) -> None:
        """
        Record the header.
        """
        self.events.append(("started", header))

    def stanzaReceived(self, stanza: Stanza) -> None:
        """
        Record a stanza.
        """
        self.events.append(("stanza", stanza))

    def streamEnded(self) -> None:
        """
        Record the end.
        """
        self.events.append(("ended",))

    def streamFailed(self, condition: str, text: str | None) -> None:
        """
        Record a failure.
        """
        self.events.append(("failed", condition, text))

    @property
    def headers(self) -> list[StreamHeader]:
        """
        The headers reported.
        """
        return [e[1] for e in self.events if e[0] == "started"]  # type: ignore[misc]

    @property
    def stanzas(self) -> list[Stanza]:
        """
        The stanzas reported.
        """
        return [e[1] for e in self.events if e[0] == "stanza"]  # type: ignore[misc]

    @property
    def sources(self) -> list[bytes]:
        """
        The bytes of the stanzas reported.
        """
        return [s._source for s in self.stanzas]  # type: ignore[misc]

    @property
    def failures(self) -> list[str]:
        """
        The conditions of the failures reported.
        """
        return [e[1] for e in self.events if e[0] == "failed"]  # type: ignore[misc]

    def summary(self) -> list[tuple[object, ...]]:
        """
        The events as plain values, for comparing two runs.
        """
        out: list[tuple[object, ...]] = []
        for event in self.events:
            if event[0] == "stanza":
                s = event[1]
                assert isinstance(s, Stanza)
                out.append(
                    ("stanza", s.name, s.uri, dict(s.attributes), s._source, s.raw is not None)
                )
            elif event[0] == "failed":
                out.append(event[:2])
            else:
                out.append(event)
        return out


def parse(
    chunks: bytes | Iterable[bytes], maxStanzaSize: int = 512 * 1024, hibernate: bool = False
) -> tuple[StreamParser, RecordingReceiver]:
    """
    Feed C{chunks} (or one piece of bytes) to a new parser.

    @param hibernate: ask the parser to hibernate after every chunk.
    """
    receiver = RecordingReceiver()
    parser = StreamParser(receiver, maxStanzaSize)
    for chunk in [chunks] if isinstance(chunks, bytes) else chunks:
        parser.feed(chunk)
        if hibernate:
            parser.hibernate()
    return parser, receiver


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    """
    C{data} in pieces of C{size} bytes.
    """
    return (data[i : i + size] for i in range(0, len(data), size))


def splitAt(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    """
    C{data} cut at the given offsets.
    """
    bounds = [0, *sorted(set(cuts)), len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


def keptBytes(parser: StreamParser) -> int:
    """
    How many bytes of earlier input C{parser} holds on to.
    """
    return len(parser._framer._backlog)
