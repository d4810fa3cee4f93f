"""
Tests for L{xcomp.stream.hibernation}: L{StreamParser.hibernate} lets go of
expat between stanzas, and the stream carries on as if it had not.
"""

from __future__ import annotations

import tracemalloc
from xml.parsers import expat

from twisted.trial.unittest import SynchronousTestCase

from xcomp.stanza import COMPONENT_NS, STREAMS_NS
from xcomp.stream.header import HeaderScope
from xcomp.stream.hibernation import prime, primer
from xcomp.test.streamhelpers import FOOTER, HEADER, parse


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


class PrimerTests(SynchronousTestCase):
    """
    The start tag that brings a new expat parser to where the old one was.
    """

    def test_primerDeclaresHeader(self) -> None:
        """
        The primer is a start tag for the root declaring what the header
        declared, and is shared between streams with the same header.
        """
        namespaces = (("", COMPONENT_NS), ("stream", STREAMS_NS))
        data = primer("stream:stream", namespaces)
        self.assertEqual(
            data,
            b"<stream:stream xmlns='jabber:component:accept'"
            b" xmlns:stream='http://etherx.jabber.org/streams'>",
        )
        self.assertIs(primer("stream:stream", tuple(namespaces)), data)

    def test_primeParser(self) -> None:
        """
        A primed parser has read the primer, and reads what follows with
        the header's declarations in scope.
        """
        scope = HeaderScope("s:stream", {"": COMPONENT_NS, "s": STREAMS_NS})
        parser = expat.ParserCreate("UTF-8", " ")
        fed = prime(parser, scope)
        self.assertEqual(fed, len(primer("s:stream", tuple(scope.namespaces.items()))))
        names: list[str] = []
        parser.StartElementHandler = lambda name, attributes: names.append(name)
        parser.Parse(b"<s:features/><iq/>", False)
        self.assertEqual(names, [f"{STREAMS_NS} features", f"{COMPONENT_NS} iq"])
