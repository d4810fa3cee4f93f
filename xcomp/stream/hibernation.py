# -*- test-case-name: xcomp.test.test_stream_hibernation -*-
"""
Hibernation: letting go of expat while a stream is idle between stanzas,
and bringing a new expat parser to where the old one was when input comes.

An expat parser holds ~10 KB once it has read a stream header (its name
tables, pools and buffers), most of what an idle connection costs.  Between
stanzas with nothing pending, all that the old parser knew that matters is
the header's namespace declarations; a new parser fed a start tag for the
root that declares them (its I{primer}) continues the stream as the old one
would have.  See L{xcomp.stream.StreamParser.hibernate}.
"""

from __future__ import annotations

import functools
from xml.parsers import expat

from xcomp.stanza import namespaceDeclarations
from xcomp.stream.header import HeaderScope

__all__ = ["prime", "primer"]


@functools.lru_cache(maxsize=64)
def primer(rootName: str, namespaces: tuple[tuple[str, str], ...]) -> bytes:
    """
    A start tag for the stream's root that declares what its header
    declared.  Nearly every stream has the same header, so the bytes are
    shared.
    """
    return b"<%s%s>" % (rootName.encode("utf-8"), namespaceDeclarations(namespaces))


def prime(parser: expat.XMLParserType, scope: HeaderScope) -> int:
    """
    Bring a new expat parser, with no element handlers set yet, inside the
    stream's root as its header declared it.

    @return: the number of bytes fed to it, the stream offset from which
        the stream's input goes on.
    """
    data = primer(scope.rootName, tuple(scope.namespaces.items()))
    parser.Parse(data, False)
    return len(data)
