"""
Tests for L{xcomp.stanza} and L{xcomp.errors}.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase
from twisted.words.xish import domish

from xcomp.errors import bounce, streamErrorBytes
from xcomp.stanza import COMPONENT_NS, Stanza, parseElement, quoteAttribute
from xcomp.test.helpers import errorCondition, stanza


class StanzaTests(SynchronousTestCase):
    """
    The byte form, the lazy element, and rewrites.
    """

    def test_elementIsParsedOnDemand(self) -> None:
        """
        The element is built only when asked for, once, from the bytes.
        """
        s = stanza("<message to='b'><body>a &amp; b</body></message>")
        self.assertIsNone(s._element)
        element = s.element()
        self.assertIs(s.element(), element)
        self.assertEqual((element.uri, str(element.body)), (COMPONENT_NS, "a & b"))

    def test_withSenderKeepsBytes(self) -> None:
        """
        Stamping a C{from} inserts it into the start tag; the rest of the
        bytes are untouched.
        """
        s = stanza("<message to='b'><body>x</body></message>").withSender("a.example")
        self.assertEqual(s.raw, b"<message from='a.example' to='b'><body>x</body></message>")
        self.assertEqual(s.sender, "a.example")

    def test_withSenderEscapes(self) -> None:
        """
        The stamped value is escaped as an attribute value.
        """
        s = stanza("<message to='b'/>").withSender("a'<&\"")
        self.assertEqual(s.element()["from"], "a'<&\"")

    def test_notSelfContainedIsReserialised(self) -> None:
        """
        A stanza using a prefix declared on the stream header is written as a
        re-serialised element that declares what it uses.
        """
        s = Stanza(
            "message",
            COMPONENT_NS,
            {"to": "b"},
            b"<message to='b'><x:y/></message>",
            selfContained=False,
            context={"": COMPONENT_NS, "x": "urn:example:x"},
        )
        self.assertIsNone(s.raw)
        again = parseElement(s.toBytes(), {"": COMPONENT_NS})
        self.assertEqual([(c.uri, c.name) for c in again.elements()], [("urn:example:x", "y")])

    def test_reprShowsTopTagOnly(self) -> None:
        """
        The repr, which logs use, has the attributes but not the payload.
        """
        text = repr(stanza("<message to='b' id='1'><body>private</body></message>"))
        self.assertIn("to='b'", text)
        self.assertNotIn("private", text)

    def test_fromElementSerialisesWithoutNamespace(self) -> None:
        """
        An element made in-process serialises without an C{xmlns}, ready for
        a component stream.
        """
        element = domish.Element((COMPONENT_NS, "presence"))
        element["to"] = "b"
        self.assertEqual(Stanza.fromElement(element).toBytes(), b"<presence to='b'/>")


class QuoteAttributeTests(SynchronousTestCase):
    """
    L{quoteAttribute} writes values that parse back to themselves.
    """

    def test_roundTrip(self) -> None:
        """
        Markup characters, both quotes and whitespace other than a space
        survive being written and parsed again; a plain address is written
        as it is.
        """
        self.assertEqual(quoteAttribute("c1.bench.local"), b"'c1.bench.local'")
        for value in ["a&b", "<x>", "it's", 'say "hi"', "tab\there", "two\nlines\r", "caf\u00e9"]:
            element = parseElement(b"<x a=" + quoteAttribute(value) + b"/>", {})
            self.assertEqual(element["a"], value)


class BounceTests(SynchronousTestCase):
    """
    L{bounce} and L{streamErrorBytes}.
    """

    def test_bounceSwapsAddressesAndDropsPayload(self) -> None:
        """
        A bounce goes back to the sender with the same id and no payload.
        """
        reply = bounce(
            stanza("<message from='a' to='b' id='9'><body>long text</body></message>"),
            "service-unavailable",
        )
        assert reply is not None
        self.assertEqual((reply.to, reply.sender, reply.id, reply.type), ("a", "b", "9", "error"))
        self.assertNotIn(b"long text", reply.toBytes())
        self.assertEqual(errorCondition(reply), ("cancel", "service-unavailable"))

    def test_neverBounceErrorsOrResults(self) -> None:
        """
        Errors and iq results are never answered; other iq types and a
        message result-like type are.
        """
        self.assertIsNone(bounce(stanza("<message type='error' from='a'/>"), "bad-request"))
        self.assertIsNone(bounce(stanza("<iq type='result' from='a'/>"), "bad-request"))
        self.assertIsNotNone(bounce(stanza("<iq type='set' from='a'/>"), "bad-request"))

    def test_streamErrorBytes(self) -> None:
        """
        A stream error is the condition, an escaped text, and the closing tag.
        """
        self.assertEqual(
            streamErrorBytes("conflict", "a < b"),
            b"<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
            b"<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>a &lt; b</text>"
            b"</stream:error></stream:stream>",
        )
        self.assertRaises(ValueError, streamErrorBytes, "no-such-condition")
