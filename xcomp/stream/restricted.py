# -*- test-case-name: xcomp.test.test_stream_restricted -*-
"""
What a stream may not contain: the XML that RFC 6120 section 11.1
restricts (DTDs, entity declarations, comments, processing instructions:
C{restricted-xml}), encodings other than UTF-8 (C{unsupported-encoding}),
and, as expat finds it, malformed XML (C{not-well-formed}).

The handlers here are set on every expat parser the stream uses; each one
refuses by raising L{StreamFailed}, which leaves expat.
"""

from __future__ import annotations

from typing import NoReturn
from xml.parsers import expat

from xcomp.stream.failures import StreamFailed

__all__ = ["checkStart", "conditionOf", "refuseRestricted"]

_ENCODING_ERRORS = frozenset(
    {
        expat.errors.codes[expat.errors.XML_ERROR_UNKNOWN_ENCODING],
        expat.errors.codes[expat.errors.XML_ERROR_INCORRECT_ENCODING],
    }
)


def conditionOf(error: expat.ExpatError) -> str:
    """
    The stream error condition for what expat found wrong with the input.
    """
    return "unsupported-encoding" if error.code in _ENCODING_ERRORS else "not-well-formed"


def checkStart(head: bytes) -> None:
    """
    At the start of the stream, refuse UTF-16 (or UTF-32), which expat
    would detect and follow even though it was told the input is UTF-8.

    @param head: the stream's first two bytes, or all of it if shorter.

    @raise StreamFailed: with C{unsupported-encoding}, for a byte order mark
        or a NUL byte.
    """
    if head in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in head:
        raise StreamFailed("unsupported-encoding", "Only UTF-8 is supported, not UTF-16")


def refuseRestricted(parser: expat.XMLParserType) -> None:
    """
    Set C{parser}'s handlers for the XML declaration and for what RFC 6120
    restricts.
    """
    parser.XmlDeclHandler = _xmlDeclaration
    parser.StartDoctypeDeclHandler = _doctype
    parser.EntityDeclHandler = _entityDeclaration
    parser.CommentHandler = _comment
    parser.ProcessingInstructionHandler = _processingInstruction


def _xmlDeclaration(version: str, encoding: str | None, standalone: int) -> None:
    """
    expat's XmlDeclHandler: the declaration is allowed, an encoding other
    than UTF-8 is not.
    """
    if encoding is not None and encoding.lower() != "utf-8":
        raise StreamFailed("unsupported-encoding", f"Only UTF-8 is supported, not {encoding}")


def _doctype(
    name: str, systemId: str | None, publicId: str | None, hasInternalSubset: int
) -> NoReturn:
    """
    expat's StartDoctypeDeclHandler, called before anything in the DTD is
    read, so no entity is ever declared, let alone expanded.
    """
    raise StreamFailed("restricted-xml", "A DTD is not allowed")


def _entityDeclaration(*args: object) -> NoReturn:
    """
    expat's EntityDeclHandler.  Only reachable through a DTD, which
    L{_doctype} refuses first; kept in case that ever changes.
    """
    raise StreamFailed("restricted-xml", "Entity declarations are not allowed")


def _comment(data: str) -> NoReturn:
    """
    expat's CommentHandler.
    """
    raise StreamFailed("restricted-xml", "Comments are not allowed")


def _processingInstruction(target: str, data: str) -> NoReturn:
    """
    expat's ProcessingInstructionHandler (the XML declaration is not one).
    """
    raise StreamFailed("restricted-xml", "Processing instructions are not allowed")
