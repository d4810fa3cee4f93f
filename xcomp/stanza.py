# -*- test-case-name: xcomp.test.test_stanza -*-
"""
The routed unit: one top-level element of a stream, kept as the bytes that
arrived plus the few attributes routing needs.

A L{domish.Element} is built only when something asks for it (an internal
component, an error bounce, a rewrite the byte form cannot express); ordinary
pass-through traffic is written to its destination as it was received
(ARCHITECTURE.md, decision 1).
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping

from twisted.words.xish import domish

COMPONENT_NS = "jabber:component:accept"
STREAMS_NS = "http://etherx.jabber.org/streams"


class Stanza:
    """
    One top-level element of a stream.

    @ivar name: the element's local name (C{message}, C{presence}, C{iq}, ...).
    @ivar uri: the element's namespace.
    @ivar attributes: the element's unqualified attributes (C{to}, C{from},
        C{type}, C{id}, ...), values unescaped.  Treat as read-only.
    @ivar raw: the element's exact bytes when they stand alone in any stream
        whose default namespace is L{uri}; C{None} when they use a namespace
        prefix declared outside the element (on the stream header), so that
        writing them elsewhere would need the element re-serialised.
    """

    __slots__ = ("name", "uri", "attributes", "raw", "_source", "_context", "_element")

    def __init__(
        self,
        name: str,
        uri: str,
        attributes: Mapping[str, str],
        source: bytes | None = None,
        *,
        selfContained: bool = True,
        context: Mapping[str, str] | None = None,
        element: domish.Element | None = None,
    ) -> None:
        """
        @param source: the exact bytes of the element as received, or C{None}
            for a stanza made from an element.
        @param selfContained: whether C{source} can be written to another
            stream unchanged (see L{raw}).
        @param context: the namespace declarations in scope where the element
            appeared (prefix to URI, the default namespace under C{""}),
            needed to parse C{source} when it is not self-contained.
        @param element: an already built element, if there is one.
        """
        self.name = name
        self.uri = uri
        self.attributes = attributes
        self._source = source
        self.raw = source if selfContained else None
        self._context = context
        self._element = element

    @classmethod
    def fromElement(cls, element: domish.Element) -> Stanza:
        """
        Wrap an element built in-process (a bounce, an internal component's
        reply).  Its bytes are serialised on demand by L{toBytes}.
        """
        attributes = {k: v for k, v in element.attributes.items() if isinstance(k, str)}
        return cls(element.name, element.uri or COMPONENT_NS, attributes, element=element)

    def __repr__(self) -> str:
        # Only the top tag: bodies are user data and never belong in logs.
        return "<Stanza {} {}>".format(
            self.name, " ".join(f"{k}={v!r}" for k, v in sorted(self.attributes.items()))
        )

    @property
    def to(self) -> str | None:
        return self.attributes.get("to")

    @property
    def sender(self) -> str | None:
        return self.attributes.get("from")

    @property
    def type(self) -> str | None:
        return self.attributes.get("type")

    @property
    def id(self) -> str | None:
        return self.attributes.get("id")

    def element(self) -> domish.Element:
        """
        The stanza as a L{domish.Element}, parsed from the received bytes the
        first time it is asked for.
        """
        if self._element is None:
            assert self._source is not None
            self._element = parseElement(self._source, self._context or {"": self.uri})
        return self._element

    def toBytes(self) -> bytes:
        """
        The bytes to write to a stream whose default namespace is
        L{COMPONENT_NS}.
        """
        if self.raw is not None:
            return self.raw
        return self.element().toXml(defaultUri=COMPONENT_NS).encode("utf-8")

    def withSender(self, sender: str) -> Stanza:
        """
        A copy of this stanza with its C{from} set to C{sender}.

        The byte form is kept by inserting the attribute into the start tag,
        so stamping a missing C{from} does not cost a parse.
        """
        attributes = dict(self.attributes)
        attributes["from"] = sender
        if self.raw is not None and "from" not in self.attributes:
            # The name was received unprefixed when raw is set (see the parser),
            # so the start tag is literally "<" + name.
            cut = len(self.name) + 1
            if self.raw[:cut] == b"<" + self.name.encode("ascii", "replace"):
                raw = b"".join((self.raw[:cut], b" from=", quoteAttribute(sender), self.raw[cut:]))
                return Stanza(self.name, self.uri, attributes, raw)
        element = self.element()
        element["from"] = sender
        return Stanza(self.name, self.uri, attributes, element=element)


# What must be escaped in an attribute value; whitespace other than a space
# as well, or a parser would normalise it to spaces.
_ATTRIBUTE_SPECIALS = re.compile("[&<>'\"\t\n\r]")
_ATTRIBUTE_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "'": "&apos;",
        '"': "&quot;",
        "\t": "&#9;",
        "\n": "&#10;",
        "\r": "&#13;",
    }
)


def quoteAttribute(value: str) -> bytes:
    """
    C{value} as a single-quoted, escaped XML attribute value, in UTF-8.
    """
    # Addresses, the usual values, rarely need escaping: look before copying.
    if _ATTRIBUTE_SPECIALS.search(value) is not None:
        value = value.translate(_ATTRIBUTE_ESCAPES)
    return b"'%s'" % value.encode("utf-8")


def namespaceDeclarations(namespaces: Iterable[tuple[str, str]]) -> bytes:
    """
    The attributes that declare C{namespaces} (prefix, URI; C{""} for the
    default namespace), each preceded by a space.
    """
    return b"".join(
        b" xmlns%s=%s" % ((b":" + prefix.encode("utf-8")) if prefix else b"", quoteAttribute(uri))
        for prefix, uri in namespaces
    )


def parseElement(data: bytes, context: Mapping[str, str]) -> domish.Element:
    """
    Parse one element's bytes into a L{domish.Element}, with the namespace
    declarations in C{context} in scope.

    @raise ValueError: if C{data} is not exactly one well-formed element.
    """
    declarations = namespaceDeclarations(context.items())
    found: list[domish.Element] = []
    stream = domish.elementStream()
    stream.DocumentStartEvent = lambda root: None
    stream.ElementEvent = found.append
    stream.DocumentEndEvent = lambda: None
    try:
        stream.parse(b"<wrap" + declarations + b">" + data + b"</wrap>")
    except domish.ParserError as e:
        raise ValueError(f"not a well-formed element: {e}") from e
    if len(found) != 1:
        raise ValueError(f"expected one element, found {len(found)}")
    element = found[0]
    element.parent = None
    return element
