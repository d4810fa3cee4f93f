"""
Tests for L{xcomp.stream} as a whole: its public names, the events a
receiver is told about, the stream header and the end of the stream.
"""

from __future__ import annotations

import operator

from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

import xcomp.stream
import xcomp.stream.header
import xcomp.stream.parser
from xcomp.interfaces import IStreamReceiver
from xcomp.stanza import COMPONENT_NS, STREAMS_NS, Stanza
from xcomp.stream import StreamHeader, StreamParser
from xcomp.stream.header import HeaderScope, readHeader
from xcomp.test.streamhelpers import FOOTER, HEADER, RecordingReceiver, parse, pieces


class ReceiverTests(SynchronousTestCase):
    """
    The test double itself.
    """

    def test_recordingReceiverProvidesInterface(self) -> None:
        """
        L{RecordingReceiver} provides L{IStreamReceiver}.
        """
        self.assertTrue(verifyObject(IStreamReceiver, RecordingReceiver()))


class PublicNamesTests(SynchronousTestCase):
    """
    What other modules, embedders and C{bench/} import from L{xcomp.stream}.
    """

    def test_names(self) -> None:
        """
        L{xcomp.stream} exports L{StreamParser} and L{StreamHeader}, the
        same objects as the modules that define them.
        """
        self.assertEqual(sorted(xcomp.stream.__all__), ["StreamHeader", "StreamParser"])
        self.assertIs(StreamParser, xcomp.stream.parser.StreamParser)
        self.assertIs(StreamHeader, xcomp.stream.header.StreamHeader)


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


class HeaderScopeTests(SynchronousTestCase):
    """
    L{readHeader} gives, besides the L{StreamHeader}, the header's
    declarations as the stanzas after it see them.
    """

    def test_scope(self) -> None:
        """
        The scope has the root's qualified name, the declarations, and the
        prefixes a stanza could use undeclared: neither the default
        namespace nor C{xml}.
        """
        namespaces = {"": COMPONENT_NS, "stream": STREAMS_NS, "xml": "urn:x", "db": "urn:db"}
        name = STREAMS_NS + "\x01stream\x01stream"
        attributes = {"to": "a", "urn:x\x01lang\x01xml": "en"}
        header, scope = readHeader(name, attributes, namespaces)
        self.assertEqual(header, StreamHeader("stream", STREAMS_NS, {"to": "a"}, namespaces))
        self.assertEqual(scope.rootName, "stream:stream")
        self.assertEqual(scope.namespaces, namespaces)
        self.assertEqual(scope.prefixes, (b"stream:", b"db:"))

    def test_scopeIsImmutable(self) -> None:
        """
        A L{HeaderScope} is a frozen copy of the declarations it was given.
        """
        namespaces = {"": COMPONENT_NS}
        scope = HeaderScope("stream", namespaces)
        namespaces["x"] = "urn:x"
        self.assertEqual(scope.namespaces, {"": COMPONENT_NS})
        self.assertRaises(TypeError, operator.setitem, scope.namespaces, "x", "y")
        self.assertEqual(scope.prefixes, ())


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
