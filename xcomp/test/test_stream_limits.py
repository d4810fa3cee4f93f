"""
Tests for L{xcomp.stream.limits} and L{xcomp.stream.backlog}: what is in
progress never grows much beyond L{StreamParser.maxStanzaSize}.
"""

from __future__ import annotations

import tracemalloc

from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from xcomp.interfaces import IStreamReceiver
from xcomp.stanza import Stanza
from xcomp.stream import StreamHeader, StreamParser
from xcomp.stream.backlog import Backlog
from xcomp.stream.failures import StreamFailed
from xcomp.stream.limits import MAX_TOKEN_SIZE, SLICE, StreamLimits
from xcomp.test.streamhelpers import HEADER, RecordingReceiver, keptBytes, parse, pieces


class SizeLimitTests(SynchronousTestCase):
    """
    What is in progress never grows much beyond L{StreamParser.maxStanzaSize}.
    """

    def test_stanzaAtLimit(self) -> None:
        """
        A stanza of exactly the limit is accepted; one byte more is a
        C{policy-violation}.
        """
        stanza = b"<message><body>" + b"x" * 100 + b"</body></message>"
        _, receiver = parse(HEADER + stanza, maxStanzaSize=len(stanza))
        self.assertEqual(receiver.sources, [stanza])
        _, receiver = parse(HEADER + stanza, maxStanzaSize=len(stanza) - 1)
        self.assertEqual(receiver.failures, ["policy-violation"])
        self.assertEqual(receiver.stanzas, [])

    def test_emptyStanzaTooLarge(self) -> None:
        """
        The limit applies to empty-element stanzas too.
        """
        _, receiver = parse(HEADER + b"<iq id='%s'/>" % (b"x" * 200,), maxStanzaSize=100)
        self.assertEqual(receiver.failures, ["policy-violation"])

    def test_stanzaTooLargeBeforeItEnds(self) -> None:
        """
        A stanza is refused as soon as what has arrived of it exceeds the
        limit, without waiting for its end.
        """
        parser, receiver = parse([HEADER, b"<message><body>"], maxStanzaSize=1000)
        for chunk in pieces(b"x" * 990, 10):
            parser.feed(chunk)
        self.assertEqual(receiver.failures, ["policy-violation"])
        self.assertEqual(receiver.stanzas, [])

    def test_limitRaisedBetweenFeeds(self) -> None:
        """
        Raising the limit between calls lets a stanza in progress grow
        beyond the old one.
        """
        stanza = b"<message><body>" + b"x" * 200 + b"</body></message>"
        parser, receiver = parse([HEADER, stanza[:90]], maxStanzaSize=100)
        parser.maxStanzaSize = 1000
        parser.feed(stanza[90:])
        self.assertEqual(receiver.sources, [stanza])

    def test_limitLoweredBetweenFeeds(self) -> None:
        """
        Lowering the limit applies at the next call, to the stanza in
        progress too.
        """
        parser, receiver = parse([HEADER, b"<message><body>" + b"x" * 80], maxStanzaSize=1000)
        parser.maxStanzaSize = 50
        parser.feed(b"x")
        self.assertEqual(receiver.failures, ["policy-violation"])

    def test_headerTooLarge(self) -> None:
        """
        The bytes before the header is complete are bounded by the limit.
        """
        parser, receiver = parse(
            [b"<?xml version='1.0'?>  ", b"<stream:stream xmlns:stream='s' to='"], maxStanzaSize=200
        )
        for chunk in pieces(b"x" * 190, 10):
            parser.feed(chunk)
        self.assertEqual(receiver.failures, ["policy-violation"])
        self.assertEqual(receiver.headers, [])

    def test_topLevelMarkupTooLarge(self) -> None:
        """
        An unterminated start tag between stanzas is bounded by the limit.
        """
        parser, receiver = parse([HEADER, b"<iq/>  <message to='"], maxStanzaSize=200)
        fed = 0
        while not receiver.failures and fed < 10_000:
            parser.feed(b"x" * 10)
            fed += 10
        self.assertEqual(receiver.failures, ["policy-violation"])
        self.assertLess(fed, 200)

    def test_keepalivesUnbounded(self) -> None:
        """
        Any amount of whitespace between stanzas is fine.
        """
        parser, receiver = parse([HEADER, b"<iq/>"], maxStanzaSize=100)
        for _ in range(300):
            parser.feed(b" ")
        parser.feed(b"\n" * 100_000)
        parser.feed(b"<iq/>")
        self.assertEqual(receiver.failures, [])
        self.assertEqual(receiver.sources, [b"<iq/>", b"<iq/>"])

    def test_topLevelCDATAForgotten(self) -> None:
        """
        A complete CDATA section between stanzas does not count against the
        limit afterwards.
        """
        parser, receiver = parse([HEADER, b"<![CDATA[<x>]]>"], maxStanzaSize=100)
        for _ in range(30):
            parser.feed(b"      ")
        parser.feed(b"<iq/>")
        self.assertEqual(receiver.failures, [])
        self.assertEqual(receiver.sources, [b"<iq/>"])

    def test_bufferBoundedForHugeStanza(self) -> None:
        """
        While a 10 MB stanza is fed in chunks, the parser never keeps more
        than the limit plus one slice, and stops at the limit.
        """
        limit = 512 * 1024
        parser, receiver = parse([HEADER, b"<message><body>"], maxStanzaSize=limit)
        chunk = b"y" * 100_000
        calls = 0
        while not receiver.failures and calls < 100:
            parser.feed(chunk)
            calls += 1
            self.assertLessEqual(keptBytes(parser), limit + SLICE)
        self.assertEqual(receiver.failures, ["policy-violation"])
        self.assertEqual(calls, limit // len(chunk) + 1)
        self.assertEqual(keptBytes(parser), 0)

    def test_memoryBoundedForEndlessTag(self) -> None:
        """
        An endless start tag fed in chunks allocates memory in proportion to
        the limit, not to the input: expat's own buffer is bounded too.
        """
        limit = 256 * 1024
        receiver = RecordingReceiver()
        parser = StreamParser(receiver, limit)
        parser.maxTokenSize = 10**9
        parser.feed(HEADER + b"<message to='")
        chunk = b"z" * 65536
        tracemalloc.start()
        try:
            for _ in range(160):
                parser.feed(chunk)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        self.assertEqual(receiver.failures, ["policy-violation"])
        self.assertLess(peak, 4 * (limit + SLICE))

    def test_memoryKeptAfterALargeRead(self) -> None:
        """
        What a parser keeps once a full 64 KiB read of stanzas has been
        processed stays small: expat's buffer, which never shrinks, is only
        ever given one slice, so an idle connection does not hold on to the
        size of its largest read (10,000 connections must fit in memory).
        """

        @implementer(IStreamReceiver)
        class Discarding:
            def streamStarted(self, header: StreamHeader) -> None:
                pass

            def stanzaReceived(self, stanza: Stanza) -> None:
                pass

            def streamEnded(self) -> None:
                pass

            def streamFailed(self, condition: str, text: str | None) -> None:
                raise AssertionError(condition)

        parser = StreamParser(Discarding())
        parser.feed(HEADER)
        read = b"".join(
            b"<message to='b.example' id='%d'><body>%s</body></message>" % (n, b"y" * 150)
            for n in range(300)
        )[:65536]
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            parser.feed(read)
            kept = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        self.assertLess(kept, 32 * 1024)

    def test_tokenTooLarge(self) -> None:
        """
        One tag longer than L{StreamParser.maxTokenSize} is a
        C{policy-violation}, even within the stanza limit, so that expat
        never re-scans long incomplete tokens.
        """
        parser, receiver = parse([HEADER, b"<message><body a='"], maxStanzaSize=10**6)
        fed = 0
        while not receiver.failures and fed < 100_000:
            parser.feed(b"x" * 1000)
            fed += 1000
        self.assertEqual(receiver.failures, ["policy-violation"])
        self.assertLessEqual(fed, parser.maxTokenSize + 1000)

    def test_longTextIsNotAToken(self) -> None:
        """
        Character data, however long, is not held as a token.
        """
        text = b"t" * 200_000
        stanza = b"<message><body>" + text + b"</body></message>"
        _, receiver = parse([HEADER, *pieces(stanza, 1000)], maxStanzaSize=10**6)
        self.assertEqual(receiver.sources, [stanza])


class StreamLimitsTests(SynchronousTestCase):
    """
    L{StreamLimits.check} compares what is in progress with the bounds.
    """

    def test_atBounds(self) -> None:
        """
        What is in progress may be exactly as large as the bounds.
        """
        StreamLimits(100, 10).check(1100, 1000, 1090, inHeader=False)
        StreamLimits(100, 10).check(1100, 1100, -1, inHeader=False)

    def test_pendingTooLarge(self) -> None:
        """
        One byte more than L{StreamLimits.maxStanzaSize} is a
        C{policy-violation} naming what was in progress.
        """
        limits = StreamLimits(100, 10)
        for inHeader, what in [(False, "stanza"), (True, "stream header")]:
            e = self.assertRaises(StreamFailed, limits.check, 1101, 1000, 1100, inHeader)
            text = f"The {what} exceeds 100 bytes"
            self.assertEqual((e.condition, e.text), ("policy-violation", text))

    def test_tokenTooLarge(self) -> None:
        """
        One byte more than L{StreamLimits.maxTokenSize} since expat's
        position is a C{policy-violation}; no unfinished token is fine.
        """
        limits = StreamLimits(100, 10)
        e = self.assertRaises(StreamFailed, limits.check, 1011, 1000, 1000, False)
        self.assertEqual((e.condition, e.text), ("policy-violation", "A tag exceeds 10 bytes"))
        limits.check(1011, 1000, -1, False)

    def test_boundsChangeable(self) -> None:
        """
        The bounds may be changed, as L{StreamParser} lets its owner do.
        """
        limits = StreamLimits(100)
        self.assertEqual(limits.maxTokenSize, MAX_TOKEN_SIZE)
        limits.maxStanzaSize = 200
        limits.check(1200, 1000, -1, False)
        parser = StreamParser(RecordingReceiver(), 300)
        parser.maxTokenSize = 20
        self.assertEqual((parser.maxStanzaSize, parser.maxTokenSize), (300, 20))


class BacklogTests(SynchronousTestCase):
    """
    L{Backlog} keeps the bytes of what is in progress between inputs, and
    nothing else.
    """

    def test_keepFromInput(self) -> None:
        """
        What began in the last input is kept from where it began.
        """
        backlog = Backlog()
        backlog.keep(105, b"0123456789", 100)
        self.assertEqual(len(backlog), 5)
        self.assertEqual(backlog.since(107, b"abc"), b"789abc")

    def test_keepAcrossInputs(self) -> None:
        """
        What began in an earlier input is kept with all the input since,
        the bytes before it let go of.
        """
        backlog = Backlog()
        backlog.keep(105, b"0123456789", 100)
        backlog.keep(107, b"abcdef", 110)
        self.assertEqual(backlog.since(107, b""), b"789abcdef")
        self.assertEqual(len(backlog), 9)

    def test_nothingInProgress(self) -> None:
        """
        When nothing is in progress, nothing is kept.
        """
        backlog = Backlog()
        backlog.keep(105, b"0123456789", 100)
        backlog.keep(-1, b"abcdef", 110)
        self.assertEqual(len(backlog), 0)
        backlog.keep(115, b"ghijkl", 116)
        backlog.clear()
        self.assertEqual(len(backlog), 0)
