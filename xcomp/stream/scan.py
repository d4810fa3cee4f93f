# -*- test-case-name: xcomp.test.test_stream_scan -*-
"""
Byte scanning: what the stream parser reads from the raw bytes itself, and
from throwaway expat parsers, rather than from the stream's own expat
parser.

expat says where an element ends but not where its start tag ends, nor
whether a fragment would parse without the stream header around it; the
functions here answer those questions for L{xcomp.stream.framing}.  They
take bytes and offsets and keep no state.  Names are as expat reports
them with namespace processing and prefixes on (L{SEP}-separated).
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence
from xml.parsers import expat

__all__ = [
    "SEP",
    "endOfElement",
    "endOfTag",
    "findStartTag",
    "firstOf",
    "openElements",
    "probeLazyPositions",
    "splitName",
    "standsAlone",
    "unqualified",
]

# expat reports a namespaced name as "uri SEP local [SEP prefix]".  U+0001 is
# not an XML 1.0 character, not even through a character reference, so it can
# occur in neither a name nor a namespace URI.
SEP = "\x01"

SLASH = ord("/")

# What may follow the name in a start tag.
AFTER_NAME = frozenset([b" ", b"\t", b"\r", b"\n", b"/", b">"])

# A start or empty-element tag, from its "<".  Attribute values are skipped as
# wholes, since ">" may occur in them (and "<" may not).
TAG = re.compile(rb"""<(?>[^'">]*)(?>(?:'[^']*+'|"[^"]*+")[^'">]*+)*+>""")


def splitName(name: str) -> tuple[str, str, str]:
    """
    Split a name as expat reports it with namespace processing and prefixes.

    @return: C{(local name, namespace URI, prefix)}, with C{""} for a missing
        namespace or prefix.
    """
    parts = name.split(SEP)
    if len(parts) == 3:
        return parts[1], parts[0], parts[2]
    if len(parts) == 2:
        return parts[1], parts[0], ""
    return name, "", ""


def unqualified(attributes: Mapping[str, str]) -> dict[str, str]:
    """
    The attributes whose names have no namespace.
    """
    return {k: v for k, v in attributes.items() if SEP not in k}


def standsAlone(source: bytes) -> bool:
    """
    Whether an element's bytes are namespace-well-formed on their own, that
    is whether every prefix they use is declared inside them.

    The bytes were accepted by the stream's parser with the stream header's
    declarations in scope, so an unbound prefix is the only thing that can
    fail here.
    """
    parser = expat.ParserCreate("UTF-8", SEP)
    try:
        parser.Parse(source, True)
    except expat.ExpatError:
        return False
    return True


def openElements(fragment: bytes) -> int:
    """
    How many elements are open at the end of C{fragment}, well-formed XML so
    far that begins with a start tag.  Prefixes are not resolved (they may
    be declared outside the fragment).
    """
    parser = expat.ParserCreate("UTF-8")
    depth = 0

    def start(name: str, attributes: object) -> None:
        """
        One more open element.
        """
        nonlocal depth
        depth += 1

    def end(name: str) -> None:
        """
        One fewer.
        """
        nonlocal depth
        depth -= 1

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.Parse(fragment, False)
    return depth


def endOfTag(buf: bytes, start: int) -> int:
    """
    The offset just past the start or empty-element tag at C{start} in
    C{buf}.
    """
    # The tag ends at the first ">" outside attribute values.  When only one
    # kind of quote occurs before the first ">", those quotes all delimit
    # values, so an even number of them means that ">" is outside.
    first = buf.find(b">", start)
    if buf.find(b'"', start, first) < 0:
        if not buf.count(b"'", start, first) & 1:
            return first + 1
    elif buf.find(b"'", start, first) < 0 and not buf.count(b'"', start, first) & 1:
        return first + 1
    match = TAG.match(buf, start)
    assert match is not None, "expat reported a tag that is not there"
    return match.end()


def endOfElement(buf: bytes, start: int, at: int) -> int:
    """
    The offset just past the element whose start tag is at C{start} in
    C{buf} and whose end expat reported at C{at}: where its end tag begins,
    unless the element is an empty-element tag (which expat reports ending
    where the tag ends, when a start handler is set).
    """
    tagEnd = endOfTag(buf, start)
    if buf[tagEnd - 2] == SLASH:
        return tagEnd
    return buf.index(b">", at) + 1


def findStartTag(buf: bytes, startTag: bytes, start: int, end: int) -> int:
    """
    The offset of the first start (or empty-element) tag with a given name
    that begins at C{start}, at C{end} or between them; -1 if there is none.

    In well-formed XML, C{<} occurs neither in text nor in attribute values,
    so a match is markup, except inside a CDATA section: treat it as a
    candidate to be confirmed (with L{openElements}, say).

    @param startTag: C{b"<"} and the qualified name; a longer name that
        begins the same way does not match.
    """
    length = len(startTag)
    limit = end + length
    found = buf.find(startTag, start, limit)
    while found >= 0:
        if buf[found + length : found + length + 1] in AFTER_NAME:
            return found
        found = buf.find(startTag, found + 1, limit)
    return -1


def firstOf(buf: bytes, needles: Sequence[bytes], start: int) -> int:
    """
    The lowest offset at or after C{start} where one of C{needles} occurs in
    C{buf}, or -1 if none does.
    """
    first = -1
    for needle in needles:
        found = buf.find(needle, start)
        if 0 <= found and (first < 0 or found < first):
            first = found
    return first


def probeLazyPositions() -> bool:
    """
    Check that expat reports element ends where L{xcomp.stream.framing}
    expects when it parses lazily (see L{xcomp.stream.framing.StanzaFramer}):
    an end tag where it begins, and an empty-element tag, once no start
    handler is set, where the tag begins.

    expat has behaved this way for a very long time.  Should a version
    differ, the parser falls back to counting every element and finding
    where a stanza ends from its start tag.
    """
    document = b"<r><a x='>'/><b><c/></b ></r>"
    parser = expat.ParserCreate("UTF-8")
    seen = []
    depth = 0

    def start(name: str, attributes: object) -> None:
        """
        Unset the start handler for the children of the root's children.
        """
        nonlocal depth
        depth += 1
        if depth == 2:
            parser.StartElementHandler = None

    def end(name: str) -> None:
        """
        Note where each end is reported; set the start handler again after
        a child of the root.
        """
        nonlocal depth
        seen.append((name, parser.CurrentByteIndex))
        if name in ("a", "b"):
            depth = 1
            parser.StartElementHandler = start

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.Parse(document, True)
    return seen == [
        ("a", document.index(b"<a")),
        ("c", document.index(b"<c")),
        ("b", document.index(b"</b")),
        ("r", document.index(b"</r")),
    ]
