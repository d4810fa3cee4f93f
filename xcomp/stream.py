# -*- test-case-name: xcomp.test.test_stream -*-
"""
The stream parser: the bytes of one XMPP stream in, stream events out.

L{StreamParser} drives expat directly.  It reports the stream header, then
every top-level element (a stanza) as the exact bytes that arrived, so that
pass-through traffic can be forwarded without being parsed into a tree and
serialised again (ARCHITECTURE.md, decision 1).  It also enforces what a
router must refuse before anything else sees the input: oversized stanzas
(C{policy-violation}), the XML that RFC 6120 section 11.1 restricts (DTDs,
entity declarations, comments, processing instructions: C{restricted-xml}),
encodings other than UTF-8 (C{unsupported-encoding}) and malformed XML
(C{not-well-formed}).

What is reported, and how:

  - C{streamStarted(StreamHeader)} once, for the root element's start tag.
  - C{stanzaReceived(Stanza)} for every child of the root.  Its
    C{attributes} are the unqualified attributes of the stanza's top element
    only (C{to}, C{from}, C{type}, C{id}, ...), values unescaped; qualified
    attributes such as C{xml:lang} are left out, as
    L{Stanza.fromElement} leaves them out, and are still in the bytes and in
    L{Stanza.element}.  The stanza is self-contained (C{raw} is set) unless
    its own element is prefixed or it uses a prefix declared only on the
    stream header; then it is given the header's declarations as its
    context, so that L{Stanza.element} can parse it.  A self-contained
    stanza parses the same without them, with its own namespace as the
    default, so it is given none.
  - C{streamEnded()} for C{</stream:stream>}.  Anything after it, in the same
    call or later, is ignored: the stream is over, and the other side is
    going to close the connection.
  - C{streamFailed(condition, text)} at the first problem.  Nothing is
    reported after it and later input is ignored.

Character data between stanzas (whitespace keepalives, or anything else) is
discarded without being reported.

The hot path is kept short: no handler for character data, no start-tag
events for a stanza's descendants (see L{StreamParser._end}), one slice of
the input per stanza, and the check for header prefixes done once per
input rather than once per stanza.

Memory is bounded: the parser keeps the bytes of the stanza in progress and
nothing else, and fails with C{policy-violation} as soon as the stanza in
progress, the header, or a run of markup at the top level grows past
L{StreamParser.maxStanzaSize}.  Input is handed to expat in slices of at most
4 KiB and the bound is checked after each, so neither the parser nor expat
ever holds much more than the limit plus one slice.  One markup token (a
tag, say) longer than L{StreamParser.maxTokenSize} also fails: expat
re-scans an incomplete token every time more input arrives, so a peer that
sent an endless tag a byte at a time could otherwise cost time quadratic in
the size limit.

Between stanzas, the owner may tell the parser to
L{hibernate<StreamParser.hibernate>}: it lets go of expat, most of what an
idle stream costs, and starts a new one, primed with the header's namespace
declarations, when more input comes.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping, NoReturn
from xml.parsers import expat

import attrs

from xcomp._xmlscan import (
    SEP,
    endOfElement,
    endOfTag,
    openElements,
    primer,
    probeLazyPositions,
    splitName,
    standsAlone,
    unqualified,
)
from xcomp.interfaces import IStreamReceiver
from xcomp.stanza import Stanza

__all__ = ["StreamHeader", "StreamParser"]

# The largest piece of input handed to expat in one call; the size limits are
# checked between pieces.  Small, because expat copies each piece into a
# buffer of its own that never shrinks: with 64 KiB pieces, every connection
# that once had a full read kept ~70 KiB for good; with 4 KiB, ~18 KiB.  The
# extra calls cost nothing measurable (bench/hotpath.py).
_SLICE = 4 * 1024

# Larger than any stream offset.
_NO_HIT = 1 << 62

# What may follow the name in a start tag.
_AFTER_NAME = frozenset([b" ", b"\t", b"\r", b"\n", b"/", b">"])

_ENCODING_ERRORS = frozenset(
    {
        expat.errors.codes[expat.errors.XML_ERROR_UNKNOWN_ENCODING],
        expat.errors.codes[expat.errors.XML_ERROR_INCORRECT_ENCODING],
    }
)


_LAZY = probeLazyPositions()


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


class _Stopped(Exception):
    """
    Raised to abandon the rest of the input once the stream has ended or
    failed.
    """


class StreamParser:
    """
    Parse one XMPP stream and report it to an L{IStreamReceiver}.

    Every receiver method is called from within L{feed}.  If one raises, the
    exception propagates out of L{feed} and the parser is finished (expat
    cannot resume after a handler fails).

    @ivar maxStanzaSize: the most bytes one stanza may have; also the bound on
        the bytes before the stream header is complete, and on markup pending
        between stanzas.  The owner may change it between calls to L{feed},
        for example once the header has named the component; it applies from
        the next check on, including to a stanza already in progress.
    @ivar maxTokenSize: the most bytes one piece of markup (a start tag, for
        instance) may have before it is complete.  Legitimate XMPP never
        comes near it; it keeps expat's re-scanning of incomplete tokens
        cheap.
    """

    MAX_TOKEN_SIZE = 16 * 1024

    __slots__ = (
        "maxStanzaSize",
        "maxTokenSize",
        "_receiver",
        "_deliver",
        "_startHandler",
        "_parser",
        "_done",
        "_depth",
        "_lazy",
        "_data",
        "_base",
        "_parsed",
        "_kept",
        "_keptFrom",
        "_stanzaStart",
        "_stanzaName",
        "_stanzaAttributes",
        "_idle",
        "_tagAt",
        "_hitAt",
        "_names",
        "_namespaces",
        "_context",
        "_prefixes",
        "_rootName",
        "_head",
    )

    def __init__(self, receiver: IStreamReceiver, maxStanzaSize: int = 512 * 1024) -> None:
        """
        @param receiver: told about everything the stream contains.
        @param maxStanzaSize: the initial value of L{maxStanzaSize}.
        """
        self.maxStanzaSize = maxStanzaSize
        self.maxTokenSize = self.MAX_TOKEN_SIZE
        self._receiver = receiver
        self._deliver = receiver.stanzaReceived
        # One bound method for the start handler, which is unset and set
        # again for every stanza (see _end) and on every new expat parser.
        self._startHandler = self._start
        self._parser: expat.XMLParserType | None = self._newParser()
        self._parser.StartNamespaceDeclHandler = self._headerNamespace
        self._done = False
        # Open elements counted: 1 inside the root, 2 or more in a stanza.
        # While lazy (see _end), 2 for the whole stanza.
        self._depth = 0
        self._lazy = False
        # "Stream offsets" here count the bytes the current expat parser has
        # been given; they start again after hibernating (see _wake).
        # The input being parsed, and the stream offset of its first byte.
        self._data = b""
        self._base = 0
        # The stream offset up to which input has been handed to expat.
        self._parsed = 0
        # Bytes from earlier calls to feed that are still needed (the start
        # of the stanza in progress), and the stream offset of the first.
        self._kept = bytearray()
        self._keptFrom = 0
        # The open stanza: the stream offset of its "<", its name as expat
        # reports it, its attributes.
        self._stanzaStart = 0
        self._stanzaName = ""
        self._stanzaAttributes: dict[str, str] = {}
        # Between stanzas: the stream offset after which only character data
        # was seen, and that of the "<" of markup not yet reported (or -1).
        self._idle = 0
        self._tagAt = -1
        # The stream offset of the next header prefix in the input (see
        # _nextHit), or -1 when not looked for yet.
        self._hitAt = -1
        # Stanza element names as expat reports them -> see _nameEntry.
        self._names: dict[str, tuple[str, str, bytes, int, bool]] = {}
        # Declared on the stream header: prefix -> URI, the prefixes as
        # b"prefix:", and the same as given to stanzas.
        self._namespaces: dict[str, str] = {}
        self._prefixes: tuple[bytes, ...] = ()
        self._context: Mapping[str, str] = {}
        # The root element's qualified name, for _wake.
        self._rootName = ""
        # The first two bytes of the stream, until there are two.
        self._head = b""

    def _newParser(self) -> expat.XMLParserType:
        """
        A new expat parser with this stream's handlers set, except the one
        for namespace declarations, which only the stream header needs.
        """
        # No interning: it would cost a lookup per name, and the intern
        # dictionary would grow with every new name the peer sends.
        parser = expat.ParserCreate("UTF-8", SEP, intern=None)
        parser.namespace_prefixes = True
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        if hasattr(parser, "SetReparseDeferralEnabled"):
            # expat 2.6 may hold back a token that a small later chunk
            # completes until still more input arrives, which would delay a
            # stanza indefinitely on a quiet stream.  maxTokenSize bounds the
            # re-scanning cost that deferral exists to avoid.
            parser.SetReparseDeferralEnabled(False)
        # No CharacterDataHandler: text needs no handling, and expat skips it
        # fastest when nobody listens.
        parser.StartElementHandler = self._startHandler
        parser.EndElementHandler = self._end
        parser.XmlDeclHandler = self._xmlDeclaration
        parser.StartDoctypeDeclHandler = self._doctype
        parser.EntityDeclHandler = self._entityDeclaration
        parser.CommentHandler = self._comment
        parser.ProcessingInstructionHandler = self._processingInstruction
        return parser

    def feed(self, data: bytes) -> None:
        """
        Parse more of the stream.

        Never raises because of the input: problems are reported with
        C{streamFailed}, after which, as after C{streamEnded}, this does
        nothing.

        @param data: the next bytes received, split anywhere.
        """
        if self._done:
            return
        if type(data) is not bytes:
            data = bytes(data)
        parser = self._parser
        if parser is None:
            parser = self._wake()
        base = self._parsed
        if base < 2 and self._refuseUTF16(data):
            return
        self._data = data
        self._base = base
        self._hitAt = -1
        size = len(data)
        try:
            if size <= _SLICE:
                self._parsed = base + size
                parser.Parse(data, False)
                self._checkBounds(parser, base, base + size)
            else:
                view = memoryview(data)
                for offset in range(0, size, _SLICE):
                    stop = min(offset + _SLICE, size)
                    self._parsed = base + stop
                    parser.Parse(view[offset:stop], False)
                    self._checkBounds(parser, base + offset, base + stop)
        except _Stopped:
            return
        except expat.ExpatError as e:
            if self._done or not parser.ErrorCode:
                # Raised by the receiver, not about our input.
                self._finish()
                raise
            condition = "unsupported-encoding" if e.code in _ENCODING_ERRORS else "not-well-formed"
            self._fail(condition, str(e))
            return
        except BaseException:
            self._finish()
            raise
        self._keepInProgress()

    def hibernate(self) -> bool:
        """
        Let go of expat, if the stream is between stanzas with nothing
        pending, until more input arrives.

        An expat parser holds ~10 KB once it has read a stream header (its
        name tables, pools and buffers), most of what an idle connection
        costs.  L{feed} creates a new one, primed with the stream header's
        namespace declarations, when it is next called; that costs a few
        microseconds, so this is meant for streams that have been quiet for
        a while, or that have just authenticated, not after every read.

        Must not be called from within L{feed} (that is, from a receiver
        method).

        @return: whether expat was let go of.
        """
        parser = self._parser
        if (
            parser is None
            or self._depth != 1
            or self._kept
            # Something unfinished that is not markup: character data
            # ending in part of a reference or of a UTF-8 sequence.
            or parser.CurrentByteIndex != self._parsed
        ):
            return False
        self._parser = None
        self._names = {}
        self._stanzaAttributes = {}
        return True

    @property
    def hibernating(self) -> bool:
        """
        Whether L{hibernate} has let go of expat and no input has come since.
        """
        return self._parser is None and not self._done

    def _wake(self) -> expat.XMLParserType:
        """
        Replace the expat parser that L{hibernate} let go of: a new one, in
        the state the old one was in between stanzas.

        Stream offsets are offsets in what the current expat parser was
        given, so they start again after the header fed to the new one.
        """
        parser = self._newParser()
        header = primer(self._rootName, tuple(self._namespaces.items()))
        parser.StartElementHandler = None
        parser.Parse(header, False)
        parser.StartElementHandler = self._startHandler
        self._parser = parser
        self._parsed = self._idle = len(header)
        self._tagAt = -1
        return parser

    def _refuseUTF16(self, data: bytes) -> bool:
        """
        At the start of the stream, refuse UTF-16 (or UTF-32), which expat
        would detect and follow even though it was told the input is UTF-8:
        a byte order mark or a NUL byte in the first two bytes.

        @return: whether the stream failed.
        """
        head = self._head = (self._head + data)[:2]
        if head in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in head:
            self._fail("unsupported-encoding", "Only UTF-8 is supported, not UTF-16")
            return True
        return False

    # Bookkeeping between slices and calls

    def _checkBounds(self, parser: expat.XMLParserType, sliceStart: int, sliceEnd: int) -> None:
        """
        After expat has been given the input up to stream offset
        C{sliceEnd}, fail if what is in progress has grown too large.

        @raise _Stopped: if it has.
        """
        depth = self._depth
        if depth >= 2:
            pendingFrom = self._stanzaStart
        elif depth == 1:
            pendingFrom = self._tagAt
            if pendingFrom < self._idle:
                # Left over from before the last stanza.
                pendingFrom = -1
            consumed = parser.CurrentByteIndex
            if 0 <= pendingFrom < consumed:
                # That markup was complete and reported nothing to us (a
                # CDATA section, say): back to idle.
                pendingFrom = self._tagAt = -1
                self._idle = consumed
            if pendingFrom < 0:
                # Markup begins with "<", and "<" occurs neither in character
                # data nor in attribute values; so the first one since the
                # last stanza, if any, begins what is pending.
                base = self._base
                found = self._data.find(b"<", max(self._idle, sliceStart) - base, sliceEnd - base)
                if found < 0:
                    self._idle = pendingFrom = sliceEnd
                else:
                    pendingFrom = self._tagAt = base + found
        else:
            pendingFrom = 0
        if sliceEnd - pendingFrom > self.maxStanzaSize:
            what = "stanza" if depth else "stream header"
            self._fail("policy-violation", f"The {what} exceeds {self.maxStanzaSize} bytes")
            raise _Stopped()
        # After a call to Parse, expat's position is where the token it has
        # not finished begins.
        tokenStart = parser.CurrentByteIndex
        if tokenStart >= 0 and sliceEnd - tokenStart > self.maxTokenSize:
            self._fail("policy-violation", f"A tag exceeds {self.maxTokenSize} bytes")
            raise _Stopped()

    def _keepInProgress(self) -> None:
        """
        At the end of L{feed}, keep the bytes of what is in progress and let
        go of the rest.
        """
        depth = self._depth
        if depth >= 2:
            keep = self._stanzaStart
        elif depth == 1 and self._tagAt >= self._idle:
            keep = self._tagAt
        else:
            keep = -1
        data = self._data
        self._data = b""
        if keep < 0:
            if self._kept:
                self._kept = bytearray()
        elif keep >= self._base:
            self._kept = bytearray(memoryview(data)[keep - self._base :])
            self._keptFrom = keep
        else:
            kept = self._kept
            del kept[: keep - self._keptFrom]
            kept += data
            self._keptFrom = keep

    def _fail(self, condition: str, text: str) -> None:
        """
        Stop for good and tell the receiver why.
        """
        self._finish()
        self._receiver.streamFailed(condition, text)

    def _abort(self, condition: str, text: str) -> NoReturn:
        """
        L{_fail} from inside an expat handler.

        @raise _Stopped: always, to leave expat.
        """
        self._fail(condition, text)
        raise _Stopped()

    def _finish(self) -> None:
        """
        Ignore all further input and let go of everything held.
        """
        self._done = True
        self._parser = None
        self._data = b""
        self._kept = bytearray()
        self._stanzaAttributes = {}
        self._names = {}

    # Element handlers: the hot path

    def _start(self, name: str, attributes: dict[str, str]) -> None:
        """
        expat's StartElementHandler while no stanza is open, or while one is
        parsed element by element (see L{_end}).
        """
        depth = self._depth + 1
        self._depth = depth
        if depth == 2:
            parser: expat.XMLParserType = self._parser  # type: ignore[assignment]
            self._stanzaStart = parser.CurrentByteIndex
            self._stanzaName = name
            self._stanzaAttributes = attributes
            if _LAZY:
                # Without a handler, expat does not even build descendants'
                # attributes.
                self._lazy = True
                parser.StartElementHandler = None
        elif depth == 1:
            self._rootStarted(name, attributes)

    def _end(self, name: str) -> None:
        """
        expat's EndElementHandler; delivers a stanza when its element closes.

        While a stanza is open the parser is I{lazy}: descendants' start
        tags go unreported, so depth is not counted, and an end tag with the
        stanza's name is the stanza's own unless a descendant with the same
        name began before it.  When one did (rare), what has arrived of the
        stanza is parsed again to count what is open, and the rest of the
        stanza is parsed element by element.
        """
        lazy = self._lazy
        if lazy:
            if name != self._stanzaName:
                return
        else:
            depth = self._depth - 1
            self._depth = depth
            if depth != 1:
                if depth == 0:
                    self._finish()
                    self._receiver.streamEnded()
                    raise _Stopped()
                return
        parser: expat.XMLParserType = self._parser  # type: ignore[assignment]
        at = parser.CurrentByteIndex
        start = self._stanzaStart
        try:
            local, uri, startTag, startTagLength, unprefixed = self._names[name]
        except KeyError:
            local, uri, startTag, startTagLength, unprefixed = self._nameEntry(name)
        # The bytes holding the stanza, and the stream offset of the first.
        base = self._base
        if start >= base:
            data = self._data
        else:
            data = self._spanningBytes(start)
            base = start
        s = start - base
        i = at - base
        if i == s:
            # An empty-element tag, reported where it begins (because the
            # start handler is unset, see _start).
            source = data[s : endOfTag(data, s)]
        elif _LAZY:
            # The stanza's end tag, or a descendant's, begins at i.
            if (
                lazy
                and data.find(startTag, s + 1, i + startTagLength) >= 0
                and not self._closesStanza(data, s, i, startTag, startTagLength)
            ):
                return
            source = data[s : data.index(b">", i) + 1]
        else:
            source = data[s : endOfElement(data, s, i)]
        if lazy:
            self._lazy = False
            self._depth = 1
            parser.StartElementHandler = self._startHandler
        if len(source) > self.maxStanzaSize:
            self._abort("policy-violation", f"The stanza exceeds {self.maxStanzaSize} bytes")
        attributes = self._stanzaAttributes
        for key in attributes:
            if SEP in key:
                attributes = unqualified(attributes)
                break
        end = self._idle = start + len(source)
        if unprefixed:
            # Does the stanza use a prefix declared on the stream header?
            # Only if one of those prefixes, followed by a colon, occurs in
            # its bytes.  The next occurrence in the input is looked for
            # once and reused until a stanza goes past it.
            if start >= self._base:
                hit = self._hitAt
                if hit < start:
                    hit = self._hitAt = self._nextHit(start)
                clean = hit >= end
            else:
                clean = all(source.find(prefix) < 0 for prefix in self._prefixes)
            if clean or standsAlone(source):
                # It parses the same without the header's declarations.
                self._deliver(Stanza(local, uri, attributes, source))
                return
        self._deliver(
            Stanza(local, uri, attributes, source, selfContained=False, context=self._context)
        )

    def _closesStanza(
        self, data: bytes, s: int, i: int, startTag: bytes, startTagLength: int
    ) -> bool:
        """
        Whether the end of an element named like the open stanza, reported
        at offset C{i} of C{data}, is the stanza's own end, given that
        C{startTag} occurs between the stanza's start tag (at C{s}) and
        C{i}.

        If it is not, the rest of the stanza is parsed element by element:
        L{_start} and L{_end} count depth from here on.
        """
        limit = i + startTagLength
        found = data.find(startTag, s + 1, limit)
        while found >= 0:
            if data[found + startTagLength : found + startTagLength + 1] in _AFTER_NAME:
                break
            # A longer name that begins the same way.
            found = data.find(startTag, found + 1, limit)
        else:
            return True
        # A descendant has the stanza's name.  Count what is open once the
        # token just reported is over.
        if data.startswith(b"</", i):
            tokenEnd = data.index(b">", i) + 1
        else:
            # An empty-element tag, reported where it begins.
            tokenEnd = endOfTag(data, i)
        depth = openElements(data[s:tokenEnd])
        if depth == 0:
            return True
        self._lazy = False
        self._depth = 1 + depth
        parser = self._parser
        assert parser is not None
        parser.StartElementHandler = self._startHandler
        return False

    def _nextHit(self, start: int) -> int:
        """
        The stream offset of the first occurrence, in the current input at
        or after stream offset C{start}, of a prefix declared on the stream
        header followed by a colon; or a number larger than any offset if
        there is none.
        """
        hit = _NO_HIT
        base = self._base
        data = self._data
        for prefix in self._prefixes:
            found = data.find(prefix, start - base)
            if 0 <= found and base + found < hit:
                hit = base + found
        return hit

    def _nameEntry(self, name: str) -> tuple[str, str, bytes, int, bool]:
        """
        Work out, and remember, what L{_end} needs to know about a stanza's
        element name: its local name, its URI, C{b"<"} and its qualified
        name, the length of that, and whether it is unprefixed.
        """
        local, uri, prefix = splitName(name)
        startTag = ("<" + (f"{prefix}:{local}" if prefix else local)).encode("utf-8")
        entry = (local, uri, startTag, len(startTag), not prefix)
        names = self._names
        if len(names) >= 256:
            # Names come from the peer: do not let them pile up.
            names.clear()
        names[name] = entry
        return entry

    def _spanningBytes(self, start: int) -> bytes:
        """
        The bytes from stream offset C{start}, which was in an earlier call
        to L{feed}, to the end of what expat has been given.
        """
        return bytes(self._kept[start - self._keptFrom :]) + self._data[: self._parsed - self._base]

    # The header

    def _headerNamespace(self, prefix: str | None, uri: str | None) -> None:
        """
        expat's StartNamespaceDeclHandler until the header has been parsed.
        """
        self._namespaces[prefix or ""] = uri or ""

    def _rootStarted(self, name: str, attributes: dict[str, str]) -> None:
        """
        Report the stream header.
        """
        parser = self._parser
        assert parser is not None
        parser.StartNamespaceDeclHandler = None
        local, uri, prefix = splitName(name)
        self._rootName = f"{prefix}:{local}" if prefix else local
        namespaces = self._namespaces
        self._context = MappingProxyType(namespaces)
        # The prefixes a stanza could use without declaring them ("xml" is
        # declared everywhere).
        self._prefixes = tuple(f"{p}:".encode("utf-8") for p in namespaces if p and p != "xml")
        # Just past the header's "<": the next "<" begins what follows it.
        self._idle = parser.CurrentByteIndex + 1
        self._receiver.streamStarted(StreamHeader(local, uri, unqualified(attributes), namespaces))

    # What RFC 6120 section 11.1 restricts, and the XML declaration

    def _xmlDeclaration(self, version: str, encoding: str | None, standalone: int) -> None:
        """
        expat's XmlDeclHandler: the declaration is allowed, an encoding other
        than UTF-8 is not.
        """
        if encoding is not None and encoding.lower() != "utf-8":
            self._abort("unsupported-encoding", f"Only UTF-8 is supported, not {encoding}")

    def _doctype(
        self, name: str, systemId: str | None, publicId: str | None, hasInternalSubset: int
    ) -> NoReturn:
        """
        expat's StartDoctypeDeclHandler, called before anything in the DTD
        is read, so no entity is ever declared, let alone expanded.
        """
        self._abort("restricted-xml", "A DTD is not allowed")

    def _entityDeclaration(self, *args: object) -> NoReturn:
        """
        expat's EntityDeclHandler.  Only reachable through a DTD, which
        L{_doctype} refuses first; kept in case that ever changes.
        """
        self._abort("restricted-xml", "Entity declarations are not allowed")

    def _comment(self, data: str) -> NoReturn:
        """
        expat's CommentHandler.
        """
        self._abort("restricted-xml", "Comments are not allowed")

    def _processingInstruction(self, target: str, data: str) -> NoReturn:
        """
        expat's ProcessingInstructionHandler (the XML declaration is not
        one).
        """
        self._abort("restricted-xml", "Processing instructions are not allowed")
