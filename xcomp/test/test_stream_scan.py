"""
Tests for L{xcomp.stream.scan}: what the parser reads from the raw bytes.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from xcomp.stream.scan import (
    SEP,
    endOfElement,
    endOfTag,
    findStartTag,
    firstOf,
    openElements,
    probeLazyPositions,
    splitName,
    standsAlone,
    unqualified,
)


class NameTests(SynchronousTestCase):
    """
    Names and attributes as expat reports them.
    """

    def test_splitName(self) -> None:
        """
        A name is split into local name, URI and prefix, whichever of the
        last two it has.
        """
        self.assertEqual(splitName(f"urn:a{SEP}x{SEP}p"), ("x", "urn:a", "p"))
        self.assertEqual(splitName(f"urn:a{SEP}x"), ("x", "urn:a", ""))
        self.assertEqual(splitName("x"), ("x", "", ""))

    def test_unqualified(self) -> None:
        """
        Only the attributes without a namespace are kept.
        """
        attributes = {"to": "a", f"urn:x{SEP}lang{SEP}xml": "en", "id": "1"}
        self.assertEqual(unqualified(attributes), {"to": "a", "id": "1"})


class TagTests(SynchronousTestCase):
    """
    Where tags and elements end, and where a start tag is.
    """

    def test_endOfTag(self) -> None:
        """
        A tag ends at the first C{>} outside its attribute values, whatever
        quotes they use and contain.
        """
        for tag in [
            b"<a>",
            b"<a x='1'/>",
            b"<a x='>'>",
            b'<a x="/>" y=\'">\'/>',
            b"<a x='\"' y=\"'>\">",
            b"<a\n\tx='>/>'\n/>",
        ]:
            buf = b"xx" + tag + b"<b y='>'/>"
            self.assertEqual(endOfTag(buf, 2), 2 + len(tag), tag)

    def test_endOfElement(self) -> None:
        """
        An element ends after its end tag, or after its own tag if that is
        an empty-element tag.
        """
        buf = b"<r><a x='>'><b/></a ><c x='/>'/></r>"
        at = buf.index(b"</a")
        self.assertEqual(buf[: endOfElement(buf, 3, at)], b"<r><a x='>'><b/></a >")
        start = buf.index(b"<c")
        self.assertEqual(buf[start : endOfElement(buf, start, start)], b"<c x='/>'/>")

    def test_findStartTag(self) -> None:
        """
        A start or empty-element tag with exactly the name is found if it
        begins in the range, its ends included; longer names that begin the
        same way are not.
        """
        buf = b"<m><ms/><m-x/><m\n/><m a='1'></m></m>"
        at = buf.index(b"<m\n")
        self.assertEqual(findStartTag(buf, b"<m", 1, len(buf)), at)
        self.assertEqual(findStartTag(buf, b"<m", 1, at), at)
        self.assertEqual(findStartTag(buf, b"<m", 1, at - 1), -1)
        self.assertEqual(findStartTag(buf, b"<m", 0, 0), 0)
        self.assertEqual(findStartTag(b"<a><m>", b"<m", 4, 5), -1)

    def test_firstOf(self) -> None:
        """
        The first occurrence of any needle at or after the start is found.
        """
        buf = b"<a x:y='1'><z:b/><x:c/></a>"
        self.assertEqual(firstOf(buf, [b"z:", b"x:"], 0), buf.index(b"x:"))
        self.assertEqual(firstOf(buf, [b"x:", b"z:"], 6), buf.index(b"z:"))
        self.assertEqual(firstOf(buf, [b"q:"], 0), -1)
        self.assertEqual(firstOf(buf, [], 0), -1)


class FragmentTests(SynchronousTestCase):
    """
    Throwaway parses of a fragment.
    """

    def test_standsAlone(self) -> None:
        """
        Bytes that declare every prefix they use stand alone; bytes that
        use an undeclared one do not.
        """
        self.assertTrue(standsAlone(b"<m><x:y xmlns:x='urn:x'/></m>"))
        self.assertTrue(standsAlone(b"<m>stream:text</m>"))
        self.assertFalse(standsAlone(b"<m><stream:x/></m>"))
        self.assertFalse(standsAlone(b"<m stream:a='1'/>"))

    def test_openElements(self) -> None:
        """
        The elements still open at the end of a fragment are counted,
        undeclared prefixes and CDATA sections notwithstanding.
        """
        self.assertEqual(openElements(b"<m><m><x:m/>"), 2)
        self.assertEqual(openElements(b"<m><![CDATA[<m>]]><m></m>"), 1)
        self.assertEqual(openElements(b"<m></m>"), 0)

    def test_probeLazyPositions(self) -> None:
        """
        This expat reports element ends where lazy framing expects them.
        """
        self.assertTrue(probeLazyPositions())
