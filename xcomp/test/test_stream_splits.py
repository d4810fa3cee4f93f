"""
Tests for L{xcomp.stream.framing} against generated streams: however the
input is split, and whether or not the parser hibernates between pieces,
the same stanzas are reported.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from xcomp.stream import framing
from xcomp.test.streamhelpers import FOOTER, HEADER, parse, splitAt


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
