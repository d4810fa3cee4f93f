"""
Tests for L{xcomp.stream.framing}: every child of the root is reported as a
L{Stanza} holding its exact bytes, self-contained unless it needs the
header's declarations.
"""

from __future__ import annotations

from typing import Sequence

from twisted.trial.unittest import SynchronousTestCase

from xcomp.stanza import COMPONENT_NS, STREAMS_NS, Stanza
from xcomp.stream import framing
from xcomp.stream.limits import SLICE
from xcomp.test.streamhelpers import DIALBACK_NS, FOOTER, HEADER, keptBytes, parse, pieces


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
        self.assertEqual(keptBytes(parser), 0)

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
        self.assertGreater(len(data), 3 * SLICE)
        for size in [len(data), 100_003, SLICE + 1, 4099]:
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
        context = s._context
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

    def test_manyHeaderPrefixes(self) -> None:
        """
        With more prefixes on the header than are worth looking for, each
        stanza is still found to need them or not, whole or across calls.
        """
        declarations = b"".join(b" xmlns:p%d='urn:p%d'" % (n, n) for n in range(100))
        header = HEADER[:-1] + declarations + b">"
        stanzas = [b"<message><p42:x/></message>", b"<message><p:x xmlns:p='u'/></message>"]
        data = b"".join(stanzas)
        for cut in range(1, len(data)):
            _, receiver = parse([header, data[:cut], data[cut:]])
            self.assertEqual([s.raw for s in receiver.stanzas], [None, stanzas[1]], cut)
            self.assertEqual(receiver.stanzas[0].element().firstChildElement().uri, "urn:p42")

    def test_manyHeaderPrefixesNotSearched(self) -> None:
        """
        The input is not searched for each of many header prefixes, which
        would cost a scan of every read per prefix.
        """
        searched: list[int] = []

        def firstOf(buf: bytes, needles: Sequence[bytes], start: int) -> int:
            """
            Note how many needles were looked for.
            """
            searched.append(len(needles))
            return -1

        self.patch(framing, "firstOf", firstOf)
        declarations = b"".join(b" xmlns:p%d='urn:p%d'" % (n, n) for n in range(100))
        data = b"<message><x/></message>"
        parse([HEADER[:-1] + declarations + b">", data[:5], data[5:], data])
        self.assertEqual(searched, [])
        parse([HEADER, data[:5], data[5:], data])
        self.assertEqual(searched, [1, 1])


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
