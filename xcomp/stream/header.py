# -*- test-case-name: xcomp.test.test_stream -*-
"""
The stream header: the root element's start tag, as reported to the
receiver (L{StreamHeader}) and as the stanzas after it see it
(L{HeaderScope}: the namespace declarations they may rely on).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

import attrs

from xcomp.stream.scan import splitName, unqualified

__all__ = ["HeaderScope", "StreamHeader", "readHeader"]


def _frozenMapping(value: Mapping[str, str]) -> Mapping[str, str]:
    """
    A read-only copy of C{value}.
    """
    return MappingProxyType(dict(value))


@attrs.frozen
class StreamHeader:
    """
    The start tag of a stream's root element.

    The parser does not judge it: checking the namespace, C{to} and the rest
    is the listener's job.

    @ivar name: the root element's local name (C{stream}).
    @ivar uri: the root element's namespace URI.
    @ivar attributes: the unqualified attributes (C{to}, C{from}, C{id},
        C{version}, ...), values unescaped.  Qualified ones such as
        C{xml:lang} are left out.
    @ivar namespaces: the namespace declarations made on the root element,
        prefix to URI; the default namespace is under C{""}.
    """

    name: str
    uri: str
    attributes: Mapping[str, str] = attrs.field(converter=_frozenMapping)
    namespaces: Mapping[str, str] = attrs.field(converter=_frozenMapping)


@attrs.frozen
class HeaderScope:
    """
    What the stream header declares, as the stanzas after it see it.

    @ivar rootName: the root element's qualified name as written
        (C{stream:stream}).
    @ivar namespaces: the header's namespace declarations, prefix to URI
        (the default namespace under C{""}): the context of a stanza that
        does not parse without them.
    @ivar prefixes: each prefix a stanza could use without declaring it, as
        C{b"prefix:"}.  C{xml} is not one: it is declared everywhere.
    """

    rootName: str
    namespaces: Mapping[str, str] = attrs.field(converter=_frozenMapping)
    prefixes: tuple[bytes, ...] = attrs.field(init=False)

    @prefixes.default
    def _prefixesDeclared(self) -> tuple[bytes, ...]:
        """
        The prefixes in L{namespaces}, but for the default and C{xml}.
        """
        return tuple(f"{p}:".encode("utf-8") for p in self.namespaces if p and p != "xml")


def readHeader(
    name: str, attributes: Mapping[str, str], namespaces: Mapping[str, str]
) -> tuple[StreamHeader, HeaderScope]:
    """
    Read the root element's start tag.

    @param name: the root's name as expat reports it.
    @param attributes: its attributes as expat reports them.
    @param namespaces: the namespace declarations expat reported before it.
    """
    local, uri, prefix = splitName(name)
    scope = HeaderScope(f"{prefix}:{local}" if prefix else local, namespaces)
    return StreamHeader(local, uri, unqualified(attributes), namespaces), scope
