"""
Tests for L{xcomp.stream.restricted}: what RFC 6120 restricts, other
encodings, and malformed XML end the stream with the right condition.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from xcomp.test.streamhelpers import (
    DECLARATION,
    HEADER,
    ROOT,
    RecordingReceiver,
    parse,
    pieces,
)


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
