"""
Tests for L{xcomp.stream}.
"""

from __future__ import annotations

import operator
import tracemalloc
from typing import Iterable, Iterator, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from xcomp.stream import framing, limits
from xcomp.interfaces import IStreamReceiver
from xcomp.stanza import COMPONENT_NS, STREAMS_NS, Stanza
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


class ReceiverTests(SynchronousTestCase):
    """
    The test double itself.
    """

    def test_recordingReceiverProvidesInterface(self) -> None:
        """
        L{RecordingReceiver} provides L{IStreamReceiver}.
        """
        self.assertTrue(verifyObject(IStreamReceiver, RecordingReceiver()))


class HeaderTests(SynchronousTestCase):
    """
    The stream header is reported once, as a L{StreamHeader}.
    """

    def test_headerReported(self) -> None:
        """
        The root's start tag gives its name, namespace, unqualified
        attributes (values unescaped) and the namespaces it declares.
        """
        _, receiver = parse(
            b"<stream:stream xmlns='jabber:component:accept' xml:lang='en'"
            b" xmlns:stream='http://etherx.jabber.org/streams' to='a&amp;b.example'"
            b' id="x&apos;1" version="1.0" is_subdomain="true">'
        )
        self.assertEqual(
            receiver.events,
            [
                (
                    "started",
                    StreamHeader(
                        "stream",
                        STREAMS_NS,
                        {
                            "to": "a&b.example",
                            "id": "x'1",
                            "version": "1.0",
                            "is_subdomain": "true",
                        },
                        {"": COMPONENT_NS, "stream": STREAMS_NS},
                    ),
                )
            ],
        )

    def test_headerIsImmutable(self) -> None:
        """
        A L{StreamHeader} is a frozen value: its mappings cannot be changed.
        """
        header = StreamHeader("stream", STREAMS_NS, {"to": "a"}, {"": COMPONENT_NS})
        self.assertRaises(TypeError, operator.setitem, header.attributes, "to", "b")
        self.assertRaises(AttributeError, setattr, header, "name", "x")

    def test_headerOneByteAtATime(self) -> None:
        """
        A header fed a byte at a time is reported once, when complete.
        """
        _, receiver = parse(pieces(HEADER, 1))
        [header] = receiver.headers
        self.assertEqual((header.name, header.attributes["to"]), ("stream", "echo.example"))
        self.assertEqual(header.namespaces, {"": COMPONENT_NS, "stream": STREAMS_NS})

    def test_headerNotJudged(self) -> None:
        """
        The parser reports any root element; judging it is the listener's
        job.
        """
        _, receiver = parse(b"<feed xmlns='urn:example:other'>")
        self.assertEqual(
            receiver.headers,
            [StreamHeader("feed", "urn:example:other", {}, {"": "urn:example:other"})],
        )

    def test_headerWithoutNamespaces(self) -> None:
        """
        A root without namespace declarations has an empty URI and no
        namespaces.
        """
        _, receiver = parse(b"<stream to='x'>")
        self.assertEqual(receiver.headers, [StreamHeader("stream", "", {"to": "x"}, {})])

    def test_emptyRoot(self) -> None:
        """
        A root that is an empty-element tag starts and ends the stream.
        """
        _, receiver = parse(HEADER[:-1] + b"/>")
        self.assertEqual([e[0] for e in receiver.events], ["started", "ended"])


class StanzaTests(SynchronousTestCase):
    """
    Every child of the root is reported as a L{Stanza} holding its exact
    bytes.
    """

    def test_stanzaBytesExact(self) -> None:
        """
        The stanza's bytes are exactly those received: character and entity
        references stay as they were, and whitespace in end tags is kept.
        """
        body = (
            b"<message to='a@b.example' from=\"c.example\" type='chat' id='1'>"
            b"<body>caf\xc3\xa9 &amp; &#x263A; \"x\" 'y' &lt;&gt; ></body></message >"
        )
        _, receiver = parse(HEADER + body)
        self.assertEqual(receiver.sources, [body])
        [s] = receiver.stanzas
        self.assertEqual((s.name, s.uri, s.raw), ("message", COMPONENT_NS, body))
        self.assertEqual(
            s.attributes, {"to": "a@b.example", "from": "c.example", "type": "chat", "id": "1"}
        )
        self.assertEqual(str(s.element().body), "caf\xe9 & \u263a \"x\" 'y' <> >")

    def test_attributesUnescaped(self) -> None:
        """
        Attribute values are reported unescaped.
        """
        _, receiver = parse(HEADER + b"<iq id='a&lt;&amp;&#65;&quot;' to=\"&apos;\"/>")
        self.assertEqual(receiver.stanzas[0].attributes, {"id": "a<&A\"", "to": "'"})

    def test_qualifiedAttributesLeftOut(self) -> None:
        """
        Only unqualified attributes are in C{attributes}; C{xml:lang} and
        other qualified ones stay in the bytes and the element.
        """
        data = b"<message xmlns:x='urn:x' xml:lang='en' x:y='1' to='a'><body/></message>"
        _, receiver = parse(HEADER + data)
        [s] = receiver.stanzas
        self.assertEqual(s.attributes, {"to": "a"})
        self.assertEqual(s.raw, data)
        self.assertEqual(s.element().getAttribute(("urn:x", "y")), "1")

    def test_emptyElementWithGreaterThanInAttribute(self) -> None:
        """
        An empty-element stanza ends at its own C{/>}, even when C{>} and
        C{/>} occur in its attribute values.
        """
        stanzas = [
            b"<presence to='a' status='>'/>",
            b'<presence to="/>" x=\'">\'/>',
            b"<iq id='>/>'\n\t/>",
        ]
        _, receiver = parse(HEADER + b"".join(stanzas) + b"<presence/>")
        self.assertEqual(receiver.sources, stanzas + [b"<presence/>"])
        self.assertEqual(receiver.stanzas[1].attributes, {"to": "/>", "x": '">'})

    def test_emptyStanzaThenFooter(self) -> None:
        """
        An empty-element stanza immediately followed by the root's end tag
        ends where its own tag does.
        """
        _, receiver = parse(HEADER + b"<presence to='a>'/>" + FOOTER)
        self.assertEqual(receiver.sources, [b"<presence to='a>'/>"])
        self.assertEqual(receiver.events[-1], ("ended",))

    def test_stanzaNamedLikeRoot(self) -> None:
        """
        A child named like the root (C{stream:stream}) is a stanza like any
        other.
        """
        children = [b"<stream:stream a='>'/>", b"<stream:stream><stream:stream/></stream:stream>"]
        _, receiver = parse(HEADER + b"".join(children) + FOOTER)
        self.assertEqual(receiver.sources, children)
        self.assertEqual([(s.name, s.uri) for s in receiver.stanzas], [("stream", STREAMS_NS)] * 2)
        self.assertEqual(receiver.events[-1], ("ended",))

    def test_nestedElementWithStanzaName(self) -> None:
        """
        A descendant with the stanza's own name (a forwarded message, say)
        does not end the stanza early.
        """
        stanzas = [
            b"<message id='1'><result xmlns='urn:xmpp:mam:2'><forwarded xmlns='urn:xmpp:forward:0'>"
            b"<message xmlns='jabber:client' to='x'><body>hi</body></message>"
            b"</forwarded></result></message>",
            b"<message><message/><x><message a='/>'/></x>"
            b"<message><message></message></message></message>",
            b"<message><messages/><message-x a='1'/><body>x</body></message>",
            b"<iq><query><iq/></query><iq></iq ></iq>",
        ]
        _, receiver = parse(HEADER + b" ".join(stanzas) + b"<presence/>")
        self.assertEqual(receiver.sources, stanzas + [b"<presence/>"])

    def test_nestedElementWithStanzaNameSplit(self) -> None:
        """
        A stanza with a descendant of the same name is found when it arrives
        in pieces too.
        """
        stanza = b"<message><message><message/></message><b>x</b></message>"
        for size in range(1, len(stanza) + 1):
            _, receiver = parse([HEADER, *pieces(stanza + b"<iq/>", size)])
            self.assertEqual(receiver.sources, [stanza, b"<iq/>"], size)

    def test_cdataLooksLikeMarkup(self) -> None:
        """
        Markup inside a CDATA section is text: it neither ends the stanza
        nor opens anything.
        """
        stanza = b"<message><body><![CDATA[<message></message> </body> />]]></body></message>"
        _, receiver = parse(HEADER + stanza + b"<iq/>")
        self.assertEqual(receiver.sources, [stanza, b"<iq/>"])

    def test_whitespaceBetweenStanzasDiscarded(self) -> None:
        """
        Whitespace (keepalives) and other character data between stanzas
        is not reported and not kept.
        """
        parser, receiver = parse([HEADER, b" \n\t ", b"<iq/>", b"  ", b"\r\n"])
        self.assertEqual(receiver.sources, [b"<iq/>"])
        self.assertEqual(len(parser._framer._backlog), 0)

    def test_stanzaAcrossFeeds(self) -> None:
        """
        A stanza that arrives over several calls is reported once complete,
        with all its bytes.
        """
        stanza = b"<message to='a'><body>one</body></message>"
        parser, receiver = parse([HEADER, stanza[:5]])
        parser.feed(stanza[5:20])
        self.assertEqual(receiver.stanzas, [])
        parser.feed(stanza[20:-1])
        self.assertEqual(receiver.stanzas, [])
        parser.feed(stanza[-1:] + b"<iq")
        self.assertEqual(receiver.sources, [stanza])
        parser.feed(b"/>")
        self.assertEqual(receiver.sources, [stanza, b"<iq/>"])

    def test_largeInputSliced(self) -> None:
        """
        Input larger than one slice is parsed piecewise; stanzas across the
        slice boundaries, and across calls, are whole, and those using a
        header prefix are found wherever they are.
        """
        stanza = b"<message id='%d'><body>%s</body>%s</message>"
        stanzas = [
            stanza % (i, b"x" * (i % 97), b"<stream:x/>" if i % 7 == 0 else b"<y/>")
            for i in range(3000)
        ]
        data = HEADER + b"\n".join(stanzas) + FOOTER
        self.assertGreater(len(data), 3 * limits.SLICE)
        for size in [len(data), 100_003, limits.SLICE + 1, 4099]:
            _, receiver = parse(pieces(data, size))
            self.assertEqual(receiver.sources, stanzas)
            self.assertEqual(
                [s.raw is None for s in receiver.stanzas], [i % 7 == 0 for i in range(3000)]
            )
            self.assertEqual(receiver.events[-1], ("ended",))

    def test_multibyteCharacterSplit(self) -> None:
        """
        A multibyte UTF-8 character split between calls is read correctly,
        in text and in attribute values.
        """
        text = "\u00e9\u263a\U0001f600"
        stanza = f"<message to='{text}'><body>{text}</body></message>".encode()
        for cut in range(1, len(stanza)):
            _, receiver = parse([HEADER, stanza[:cut], stanza[cut:]])
            self.assertEqual(receiver.sources, [stanza])
            self.assertEqual(receiver.stanzas[0].attributes["to"], text)

    def test_elementParsesReceivedBytes(self) -> None:
        """
        L{Stanza.element} builds the element from the bytes, self-contained
        or not.
        """
        _, receiver = parse(
            HEADER + b"<message to='a'><body>x</body></message>"
            b"<message to='b'><stream:x/></message>"
        )
        first, second = (s.element() for s in receiver.stanzas)
        self.assertEqual((first.uri, first["to"], str(first.body)), (COMPONENT_NS, "a", "x"))
        self.assertEqual((second.uri, next(second.elements()).uri), (COMPONENT_NS, STREAMS_NS))


class SelfContainedTests(SynchronousTestCase):
    """
    A stanza's bytes are forwarded as they are (C{raw} is set) unless they
    use a namespace prefix declared on the stream header.
    """

    def stanzaFrom(self, data: bytes, header: bytes = HEADER) -> Stanza:
        """
        The one stanza parsed from C{data} after C{header}.
        """
        _, receiver = parse(header + data)
        [s] = receiver.stanzas
        return s

    def test_plainStanzaSelfContained(self) -> None:
        """
        A stanza using no header prefix is self-contained.
        """
        data = (
            b"<message><body>x</body>"
            b"<active xmlns='http://jabber.org/protocol/chatstates'/></message>"
        )
        self.assertEqual(self.stanzaFrom(data).raw, data)

    def test_headerPrefixOnDescendant(self) -> None:
        """
        A descendant element with a header prefix makes the stanza not
        self-contained; its context is the header's declarations.
        """
        s = self.stanzaFrom(b"<message><stream:x/></message>")
        self.assertIsNone(s.raw)
        context = s._context  # type: ignore[attr-defined]
        self.assertEqual(context, {"": COMPONENT_NS, "stream": STREAMS_NS})
        self.assertEqual(s.toBytes(), s.element().toXml(defaultUri=COMPONENT_NS).encode())

    def test_headerPrefixOnAttribute(self) -> None:
        """
        An attribute with a header prefix makes the stanza not
        self-contained.
        """
        s = self.stanzaFrom(b"<message><x stream:a='1'/></message>")
        self.assertIsNone(s.raw)
        self.assertEqual(s.attributes, {})

    def test_headerPrefixOnStanzaAttribute(self) -> None:
        """
        So does such an attribute on the stanza's own element, which is left
        out of C{attributes}.
        """
        s = self.stanzaFrom(b"<message stream:a='1' to='x'/>")
        self.assertIsNone(s.raw)
        self.assertEqual(s.attributes, {"to": "x"})

    def test_prefixedStanza(self) -> None:
        """
        A stanza whose own element is prefixed has the right name and
        namespace, and is never self-contained.
        """
        s = self.stanzaFrom(
            b"<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"
        )
        self.assertEqual((s.name, s.uri, s.raw), ("error", STREAMS_NS, None))
        self.assertEqual(s.element().name, "error")

    def test_prefixedStanzaDeclaringItsPrefix(self) -> None:
        """
        A prefixed stanza is not self-contained even when it declares its
        prefix itself (L{Stanza.withSender} relies on raw stanzas being
        unprefixed).
        """
        header = HEADER[:-1] + b" xmlns:db='jabber:server:dialback'>"
        s = self.stanzaFrom(
            b"<db:result xmlns:db='jabber:server:dialback' to='a'>k</db:result>", header
        )
        self.assertEqual(
            (s.name, s.uri, s.raw, s.attributes), ("result", DIALBACK_NS, None, {"to": "a"})
        )

    def test_dialbackPrefixFromHeader(self) -> None:
        """
        A C{db:} stanza using the header's declaration has the right name
        and namespace.
        """
        header = HEADER[:-1] + b" xmlns:db='jabber:server:dialback'>"
        s = self.stanzaFrom(b"<db:result to='a'>k</db:result>", header)
        self.assertEqual((s.name, s.uri, s.raw), ("result", DIALBACK_NS, None))
        self.assertEqual(str(s.element()), "k")

    def test_prefixDeclaredInside(self) -> None:
        """
        A stanza that declares the prefixes it uses is self-contained, even
        a prefix the header also declares.
        """
        data = b"<message xmlns:stream='urn:other'><stream:x/><y:z xmlns:y='urn:y'/></message>"
        self.assertEqual(self.stanzaFrom(data).raw, data)

    def test_prefixTextOnly(self) -> None:
        """
        A header prefix that occurs only in text does not matter.
        """
        data = b"<message><body>upstream: <b a='stream:x'/></body></message>"
        self.assertEqual(self.stanzaFrom(data).raw, data)

    def test_xmlPrefix(self) -> None:
        """
        The C{xml} prefix is declared everywhere, so using it keeps a stanza
        self-contained.
        """
        header = HEADER[:-1] + b" xmlns:xml='http://www.w3.org/XML/1998/namespace'>"
        data = b"<message xml:lang='en'><body xml:lang='fr'>x</body></message>"
        self.assertEqual(self.stanzaFrom(data, header).raw, data)

    def test_prefixAcrossFeeds(self) -> None:
        """
        The check holds for a stanza received over several calls.
        """
        data = b"<message><a/><stream:x/></message>"
        for cut in range(1, len(data)):
            _, receiver = parse([HEADER, data[:cut], data[cut:], b"<message/>"])
            self.assertEqual([s.raw for s in receiver.stanzas], [None, b"<message/>"], cut)


class EndTests(SynchronousTestCase):
    """
    The end of the stream, and what follows it.
    """

    def test_footerEndsStream(self) -> None:
        """
        C{</stream:stream>} reports the end; anything after it, in the same
        call or later, is ignored.
        """
        parser, receiver = parse(HEADER + b"<iq/>" + FOOTER + b"<iq/>junk<")
        parser.feed(b"<message/>")
        self.assertEqual([e[0] for e in receiver.events], ["started", "stanza", "ended"])

    def test_nothingAfterFailure(self) -> None:
        """
        After a failure, later input is ignored.
        """
        parser, receiver = parse(HEADER + b"<iq/><a></b><iq/>")
        parser.feed(b"<message/>" + FOOTER)
        self.assertEqual([e[0] for e in receiver.events], ["started", "stanza", "failed"])
        self.assertIsNone(parser._parser)

    def test_receiverExceptionPropagates(self) -> None:
        """
        An exception raised by the receiver propagates out of
        L{StreamParser.feed}, and the parser is finished.
        """
        receiver = RecordingReceiver()

        def broken(stanza: Stanza) -> None:
            """
            Fail.
            """
            raise ZeroDivisionError()

        receiver.stanzaReceived = broken  # type: ignore[method-assign]
        parser = StreamParser(receiver)
        self.assertRaises(ZeroDivisionError, parser.feed, HEADER + b"<iq/>")
        parser.feed(b"<iq/>")
        self.assertEqual([e[0] for e in receiver.events], ["started"])


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
            self.assertLessEqual(len(parser._framer._backlog), limit + limits.SLICE)
        self.assertEqual(receiver.failures, ["policy-violation"])
        self.assertEqual(calls, limit // len(chunk) + 1)
        self.assertEqual(len(parser._framer._backlog), 0)

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
        self.assertLess(peak, 4 * (limit + limits.SLICE))

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


class RestrictedXMLTests(SynchronousTestCase):
    """
    What RFC 6120 section 11.1 forbids is refused with C{restricted-xml};
    the XML declaration is allowed.
    """

    def assertFails(self, data: bytes, condition: str) -> RecordingReceiver:
        """
        Parsing C{data} in one piece, and a byte at a time, fails with
        C{condition} and nothing else.
        """
        _, receiver = parse(data)
        self.assertEqual(receiver.failures, [condition])
        _, oneByOne = parse(pieces(data, 1))
        self.assertEqual(oneByOne.summary(), receiver.summary())
        return receiver

    def test_xmlDeclarationAllowed(self) -> None:
        """
        The XML declaration, with or without a UTF-8 encoding, is not a
        processing instruction.
        """
        for declaration in [
            b"<?xml version='1.0'?>",
            b"<?xml version='1.0' encoding='UTF-8'?>",
            b'<?xml version="1.0" encoding="utf-8" standalone="yes"?>\n',
        ]:
            _, receiver = parse(declaration + ROOT + b"<iq/>")
            self.assertEqual([e[0] for e in receiver.events], ["started", "stanza"])

    def test_otherEncodingRefused(self) -> None:
        """
        An encoding other than UTF-8 is C{unsupported-encoding}.
        """
        self.assertFails(
            b"<?xml version='1.0' encoding='ISO-8859-1'?>" + ROOT, "unsupported-encoding"
        )

    def test_utf16Refused(self) -> None:
        """
        UTF-16 and UTF-32, which expat would recognise even when told the
        input is UTF-8, are C{unsupported-encoding}.
        """
        self.assertFails("<stream/>".encode("utf-16"), "unsupported-encoding")
        self.assertFails(b"\xfe\xff" + "<stream/>".encode("utf-16-be"), "unsupported-encoding")
        self.assertFails("<stream/>".encode("utf-16-le"), "unsupported-encoding")
        self.assertFails("<stream/>".encode("utf-16-be"), "unsupported-encoding")
        self.assertFails(" <stream/>".encode("utf-32"), "unsupported-encoding")

    def test_utf8ByteOrderMarkAllowed(self) -> None:
        """
        A UTF-8 byte order mark is allowed.
        """
        _, receiver = parse(b"\xef\xbb\xbf" + HEADER + b"<iq/>")
        self.assertEqual(receiver.sources, [b"<iq/>"])

    def test_doctypeRefused(self) -> None:
        """
        A document type declaration is C{restricted-xml}, before the header.
        """
        receiver = self.assertFails(b"<!DOCTYPE stream:stream>" + ROOT, "restricted-xml")
        self.assertEqual(receiver.headers, [])

    def test_externalEntityRefused(self) -> None:
        """
        A DTD declaring an external entity is refused before it is read.
        """
        self.assertFails(
            b"<?xml version='1.0'?><!DOCTYPE s [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
            b"<s>&x;</s>",
            "restricted-xml",
        )

    def test_billionLaughsRefused(self) -> None:
        """
        The billion laughs document is refused at its DTD, before any entity
        is declared or expanded.
        """
        entities = b"".join(
            b"<!ENTITY lol%d '%s'>" % (n, b"&lol%d;" % (n - 1) * 10) for n in range(1, 10)
        )
        receiver = self.assertFails(
            b"<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol0 'lol'>"
            + entities
            + b"]><lolz>&lol9;</lolz>",
            "restricted-xml",
        )
        self.assertEqual(receiver.headers, [])

    def test_commentRefused(self) -> None:
        """
        Comments are refused wherever they are.
        """
        self.assertFails(b"<!-- hi -->" + ROOT, "restricted-xml")
        receiver = self.assertFails(
            HEADER + b"<iq/><message><!-- hi --></message>", "restricted-xml"
        )
        self.assertEqual(receiver.sources, [b"<iq/>"])
        self.assertFails(HEADER + b"<!---->", "restricted-xml")

    def test_processingInstructionRefused(self) -> None:
        """
        Processing instructions are refused wherever they are.
        """
        self.assertFails(DECLARATION + b"<?xml-stylesheet href='a'?>" + ROOT, "restricted-xml")
        self.assertFails(HEADER + b"<message><?pi x?></message>", "restricted-xml")


class MalformedTests(SynchronousTestCase):
    """
    Malformed input is C{not-well-formed}; the stanzas before it are still
    reported.
    """

    def assertNotWellFormed(self, data: bytes) -> RecordingReceiver:
        """
        C{data} fails with C{not-well-formed}, in one piece or a byte at a
        time, after whatever came before the problem.
        """
        _, receiver = parse(data)
        self.assertEqual(receiver.failures, ["not-well-formed"], data)
        self.assertIsInstance(receiver.events[-1][2], str)
        _, oneByOne = parse(pieces(data, 1))
        self.assertEqual(oneByOne.summary(), receiver.summary())
        return receiver

    def test_invalidUTF8(self) -> None:
        """
        Bytes that are not UTF-8 are not well-formed, in text or in markup.
        """
        for bad in [b"\xff", b"\xc3(", b"\xe2\x82", b"\xc0\xaf", b"\xed\xa0\x80"]:
            self.assertNotWellFormed(HEADER + b"<message><body>" + bad + b"</body></message>")
            self.assertNotWellFormed(HEADER + b"<message to='" + bad + b"'/>")

    def test_stanzasBeforeErrorReported(self) -> None:
        """
        Stanzas complete before the problem are reported first.
        """
        receiver = self.assertNotWellFormed(HEADER + b"<iq/><presence/><message></presence>")
        self.assertEqual(receiver.sources, [b"<iq/>", b"<presence/>"])

    def test_malformedMarkup(self) -> None:
        """
        Mismatched tags, undefined entities, unbound prefixes, a C{<} in an
        attribute value, duplicate attributes, text before the root, C{]]>}
        in text and characters XML excludes are all not well-formed.
        """
        for data in [
            HEADER + b"<message><body></message>",
            HEADER + b"<message>&nbsp;</message>",
            HEADER + b"<foo:message/>",
            HEADER + b"<message to='<'/>",
            HEADER + b"<message to='a' to='b'/>",
            HEADER + b"<message></message></stream:x>",
            b"hello" + HEADER,
            HEADER + b"<message><![CDATA[x]]>]]></message>",
            HEADER + b"<message>]]></message>",
            HEADER + b"<message>\x01</message>",
            HEADER + b"<message>&#1;</message>",
            HEADER + b"<message></stream:stream>",
        ]:
            self.assertNotWellFormed(data)


class LazyPositionTests(SynchronousTestCase):
    """
    The positions expat reports, which the fast path relies on.
    """

    def test_probeSucceeds(self) -> None:
        """
        This expat reports element ends where the fast path expects.
        """
        self.assertTrue(framing._LAZY)

    def test_fallbackWithoutLazyPositions(self) -> None:
        """
        Without those positions the parser counts every element and still
        finds the same stanzas.
        """
        self.patch(framing, "_LAZY", False)
        stanzas = [
            b"<presence to='a>'/>",
            b"<message><message/><message><b/></message></message >",
            b"<iq><query xmlns='q'/></iq>",
        ]
        for size in (1, 3, 1000):
            _, receiver = parse([HEADER, *pieces(b"".join(stanzas) + FOOTER, size)])
            self.assertEqual(receiver.sources, stanzas)
            self.assertEqual(receiver.events[-1], ("ended",))


# Building blocks for generated streams: what a stanza may contain.
_text = st.lists(
    st.sampled_from(
        ["a", " ", "\n", ">", "/>", "'", '"', "é", "☺", "😀"]
        + ["&amp;", "&lt;", "&#x263A;", "stream:"]
    ),
    max_size=8,
).map("".join)


def _attributeValue(quote: str) -> st.SearchStrategy[str]:
    """
    Attribute values that may contain C{>}, C{/>} and the other quote.
    """
    other = '"' if quote == "'" else "'"
    pieces = ["a", ">", "/>", other, "é", " ", "&amp;", "&lt;", "stream:"]
    return st.lists(st.sampled_from(pieces), max_size=5).map("".join)


@st.composite
def _element(draw: st.DrawFn, depth: int = 0) -> str:
    """
    One element: sometimes named like its ancestors, sometimes empty, with
    attributes quoted either way.
    """
    name = draw(st.sampled_from(["message", "iq", "body", "x", "stream:x", "y:z", "messages"]))
    attributes = []
    keys = st.sampled_from(["to", "id", "xml:lang", "stream:a", "type"])
    for key in draw(st.lists(keys, unique=True, max_size=3)):
        quote = draw(st.sampled_from(["'", '"']))
        attributes.append(f"{key}={quote}{draw(_attributeValue(quote))}{quote}")
    if name == "y:z":
        attributes.append("xmlns:y='urn:y'")
    space = draw(st.sampled_from(["", " ", "\n\t"]))
    head = "<" + " ".join([name, *attributes]) + space
    if draw(st.booleans()) or depth > 3:
        return head + "/>"
    cdata = st.just("<![CDATA[<message></message>]]>")
    children = draw(st.lists(_element(depth + 1) | _text | cdata, max_size=3))
    tail = draw(st.sampled_from(["", " ", "\n"]))
    return head + ">" + "".join(children) + "</" + name + tail + ">"


@st.composite
def _stanza(draw: st.DrawFn) -> bytes:
    """
    One top-level element.
    """
    top = draw(_element())
    return top.encode("utf-8")


class SplitInvarianceTests(SynchronousTestCase):
    """
    However the input is split, the same stanzas are reported.
    """

    def check(self, stanzas: Sequence[bytes], gaps: Sequence[bytes], cuts: Iterable[int]) -> None:
        """
        The stream made of C{stanzas} separated by C{gaps} gives exactly
        those stanzas, whole or cut at C{cuts}.
        """
        body = b"".join(g + s for g, s in zip(gaps, stanzas))
        data = HEADER + body + FOOTER
        _, whole = parse(data)
        self.assertEqual(whole.failures, [])
        self.assertEqual(whole.sources, list(stanzas))
        self.assertEqual(whole.events[-1], ("ended",))
        _, split = parse(splitAt(data, cuts))
        self.assertEqual(split.summary(), whole.summary())
        _, hibernating = parse(splitAt(data, cuts), hibernate=True)
        self.assertEqual(hibernating.summary(), whole.summary())

    @settings(max_examples=300, deadline=None)
    @given(st.data())
    def test_anySplitSameStanzas(self, data: st.DataObject) -> None:
        """
        Generated streams give the same events however they are cut, and
        whether or not the parser hibernates between pieces.  Text between
        stanzas, split inside a character or a reference, is where
        hibernating would be wrong.
        """
        stanzas = data.draw(st.lists(_stanza(), min_size=1, max_size=5))
        gap = st.sampled_from([b"", b" ", b"\n  ", b"\t", b" caf\xc3\xa9 &amp; "])
        gaps = data.draw(st.lists(gap, min_size=len(stanzas), max_size=len(stanzas)))
        length = len(HEADER) + sum(map(len, stanzas)) + sum(map(len, gaps)) + len(FOOTER)
        cuts = data.draw(st.lists(st.integers(1, length - 1), max_size=20))
        self.check(stanzas, gaps, cuts)

    @settings(max_examples=100, deadline=None)
    @given(st.data())
    def test_anySplitSameStanzasWithoutLazyPositions(self, data: st.DataObject) -> None:
        """
        The same holds for the fallback that counts every element.
        """
        stanzas = data.draw(st.lists(_stanza(), min_size=1, max_size=4))
        gaps = [b" "] * len(stanzas)
        length = len(HEADER) + sum(map(len, stanzas)) + len(stanzas) + len(FOOTER)
        cuts = data.draw(st.lists(st.integers(1, length - 1), max_size=20))
        original = framing._LAZY
        framing._LAZY = False
        try:
            self.check(stanzas, gaps, cuts)
        finally:
            framing._LAZY = original

    def test_oneByteAtATime(self) -> None:
        """
        A stream fed one byte at a time gives the same events as in one
        piece.
        """
        stanzas = [
            b"<message to='a' id='>'><body>caf\xc3\xa9 &amp; \xf0\x9f\x98\x80</body>"
            b"<x xmlns='u'/></message>",
            b"<presence to='a/>'/>",
            b"<message><message><message/></message></message>",
            b"<stream:error><c/></stream:error>",
        ]
        self.check(stanzas, [b" "] * len(stanzas), range(1, 10_000))


class HibernationTests(SynchronousTestCase):
    """
    L{StreamParser.hibernate} lets go of expat between stanzas, and the
    stream carries on as if it had not.
    """

    MESSAGE = b"<message to='b.example' id='1'><body>hi</body></message>"

    def test_hibernatesBetweenStanzas(self) -> None:
        """
        Between stanzas the parser hibernates; the next input wakes it, and
        the stanzas after are reported as they would have been, the header
        only once.
        """
        parser, receiver = parse(HEADER + self.MESSAGE + b" ")
        self.assertTrue(parser.hibernate())
        self.assertTrue(parser.hibernating)
        self.assertFalse(parser.hibernate())
        parser.feed(self.MESSAGE + b"<stream:error><c/></stream:error>" + FOOTER)
        self.assertFalse(parser.hibernating)
        _, awake = parse(HEADER + self.MESSAGE + b" " + self.MESSAGE)
        self.assertEqual(receiver.summary()[:3], awake.summary())
        self.assertEqual(len(receiver.headers), 1)
        error = receiver.stanzas[-1]
        self.assertEqual((error.name, error.uri), ("error", STREAMS_NS))
        self.assertEqual(error.element().firstChildElement().name, "c")
        self.assertEqual(receiver.events[-1], ("ended",))

    def test_notWhilePending(self) -> None:
        """
        It does not hibernate before the header is complete, inside a
        stanza, with markup pending between stanzas, or with text pending
        that ends in part of a character or of a reference.
        """
        for pending in [
            HEADER[:20],
            HEADER + b"<message><body>",
            HEADER + b"<mess",
            HEADER + b" caf\xc3",
            HEADER + b" &am",
        ]:
            parser, receiver = parse(pending)
            self.assertFalse(parser.hibernate(), pending)
            self.assertFalse(parser.hibernating)
            self.assertEqual(receiver.failures, [])

    def test_notOnceOver(self) -> None:
        """
        A stream that has ended or failed has nothing to hibernate.
        """
        for data in [HEADER + FOOTER, HEADER + b"<!-- -->"]:
            parser, receiver = parse(data)
            self.assertFalse(parser.hibernate())
            self.assertFalse(parser.hibernating)
            parser.feed(self.MESSAGE)
            self.assertEqual(receiver.stanzas, [])

    def test_headerNamespacesRestored(self) -> None:
        """
        The header's namespace declarations hold after waking, whatever
        their URIs contain: a stanza using a prefix declared only on the
        header gets the same namespace and context as before.
        """
        odd = "urn:x\t&\"'<>\n\r"
        escaped = b"urn:x&#9;&amp;&quot;'&lt;>&#10;&#13;"
        header = b"<s:stream xmlns:s='%s' xmlns:x=\"%s\" xmlns='jabber:component:accept'>" % (
            STREAMS_NS.encode(),
            escaped,
        )
        parser, receiver = parse(header)
        self.assertEqual(receiver.headers[0].namespaces["x"], odd)
        self.assertTrue(parser.hibernate())
        parser.feed(b"<x:thing a='1'/><s:features/>")
        thing, features = receiver.stanzas
        self.assertEqual((thing.name, thing.uri), ("thing", odd))
        self.assertEqual((features.name, features.uri), ("features", STREAMS_NS))
        self.assertEqual(dict(thing._context or {}), receiver.headers[0].namespaces)

    def test_boundsAfterWaking(self) -> None:
        """
        The size limits still hold after waking: they count from the input
        fed since, not from the start of the new parser.
        """
        parser, receiver = parse(HEADER, maxStanzaSize=1024)
        self.assertTrue(parser.hibernate())
        parser.feed(b"<message>" + b"a" * 900)
        self.assertEqual(receiver.failures, [])
        parser.feed(b"a" * 200)
        self.assertEqual(receiver.failures, ["policy-violation"])

    def test_refusedRestrictedXMLAfterWaking(self) -> None:
        """
        What RFC 6120 restricts is still refused after waking.
        """
        parser, receiver = parse(HEADER)
        self.assertTrue(parser.hibernate())
        parser.feed(b"<?pi x?>")
        self.assertEqual(receiver.failures, ["restricted-xml"])

    def test_expatMemoryReleased(self) -> None:
        """
        Hibernating gives back most of what a parser holds once it has read
        a header and a handshake: the expat parser and its buffers, several
        KiB each.
        """
        tracemalloc.start()
        try:
            parsers = [parse(HEADER + b"<handshake>00ff</handshake>")[0] for _ in range(50)]
            before = tracemalloc.get_traced_memory()[0]
            for parser in parsers:
                self.assertTrue(parser.hibernate())
            released = before - tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        self.assertGreater(released / len(parsers), 6 * 1024)
