# -*- test-case-name: xcomp.test.test_stream_framing,xcomp.test.test_stream_splits -*-
"""
Stanza framing: from expat's element events to the stream's own.  The root
element's start tag is the stream header, each child of the root a stanza,
reported as the exact bytes that arrived, and the root's end tag the end of
the stream.  This is the router's hottest code.

The hot path is kept short: no handler for character data, no start-tag
events for a stanza's descendants (see L{StanzaFramer._end}), one slice of
the input per stanza, and the check for header prefixes done once per
input rather than once per stanza.

A stanza is self-contained (C{raw} is set) unless its own element is
prefixed or it uses a prefix declared only on the stream header; then it is
given the header's declarations as its context, so that L{Stanza.element}
can parse it.  A self-contained stanza parses the same without them, with
its own namespace as the default, so it is given none.
"""

from __future__ import annotations

from typing import Callable
from xml.parsers import expat

from xcomp.interfaces import IStreamReceiver
from xcomp.stanza import Stanza
from xcomp.stream.backlog import Backlog
from xcomp.stream.failures import StreamOver
from xcomp.stream.header import HeaderScope, readHeader
from xcomp.stream.limits import StreamLimits
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

__all__ = ["StanzaFramer"]

# Whether this expat reports element ends where lazy parsing needs them.
_LAZY = probeLazyPositions()

# Larger than any stream offset.
_NO_HIT = 1 << 62

# Past this many prefixes on the header, stanzas are not searched for them,
# since each search scans the input once per prefix: every stanza is parsed
# on its own instead (standsAlone), which costs what its size does.  Streams
# declare one or two.
_MAX_SEARCHED_PREFIXES = 16


class StanzaFramer:
    """
    The element handlers of one stream's expat parser, and what they need
    to cut stanzas out of the input.

    Its owner, L{xcomp.stream.parser.StreamParser}, drives it: L{attach}
    an expat parser; for each input, L{begin}, then for each slice advance
    L{parsed}, call C{Parse} and ask L{pendingFrom}, and at the end L{end};
    L{detach} to hibernate, L{release} once the stream is over.

    "Stream offsets" count the bytes the current expat parser has been
    given; they start again when a new one is attached (see L{attach}).

    @ivar scope: the header's declarations, once the header has been read.
    @ivar parsed: the stream offset up to which input has been handed to
        expat; the owner advances it before each call to C{Parse}.
    """

    __slots__ = (
        "scope",
        "parsed",
        "_receiver",
        "_deliver",
        "_limits",
        "_backlog",
        "_startHandler",
        "_parser",
        "_data",
        "_base",
        "_depth",
        "_lazy",
        "_stanzaStart",
        "_stanzaName",
        "_stanzaAttributes",
        "_idle",
        "_tagAt",
        "_hitAt",
        "_names",
        "_declared",
    )

    def __init__(self, receiver: IStreamReceiver, limits: StreamLimits) -> None:
        """
        @param receiver: told about the header and every stanza.
        @param limits: the bound on a stanza's size.
        """
        self.scope: HeaderScope | None = None
        self.parsed = 0
        self._receiver = receiver
        self._deliver: Callable[[Stanza], object] = receiver.stanzaReceived
        self._limits = limits
        self._backlog = Backlog()
        # One bound method for the start handler, which is unset and set
        # again for every stanza (see _end) and on every new expat parser.
        self._startHandler = self._start
        self._parser: expat.XMLParserType | None = None
        # The input being parsed, and the stream offset of its first byte.
        self._data = b""
        self._base = 0
        # Open elements counted: 1 inside the root, 2 or more in a stanza.
        # While lazy (see _end), 2 for the whole stanza.
        self._depth = 0
        self._lazy = False
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
        # The root's namespace declarations, until the header is read.
        self._declared: dict[str, str] = {}

    # The expat parser and the input

    def attach(self, parser: expat.XMLParserType, offset: int) -> None:
        """
        Handle C{parser}'s element events from now on, between stanzas (or
        before the header) at stream offset C{offset}.
        """
        if self.scope is None:
            parser.StartNamespaceDeclHandler = self._declare
        parser.StartElementHandler = self._startHandler
        parser.EndElementHandler = self._end
        self._parser = parser
        self.parsed = self._idle = offset
        self._tagAt = -1

    def atRest(self) -> bool:
        """
        Whether the stream is between stanzas with nothing pending, so that
        the expat parser may be let go of.
        """
        parser = self._parser
        return (
            parser is not None
            and self._depth == 1
            and not self._backlog
            # Something unfinished that is not markup: character data
            # ending in part of a reference or of a UTF-8 sequence.
            and parser.CurrentByteIndex == self.parsed
        )

    def detach(self) -> None:
        """
        Let go of the expat parser, and of what was learnt while using it.
        """
        self._parser = None
        self._names = {}
        self._stanzaAttributes = {}

    def begin(self, data: bytes) -> int:
        """
        Start on the next input, which follows what was parsed so far.

        @return: the stream offset of its first byte.
        """
        self._data = data
        self._base = base = self.parsed
        self._hitAt = -1
        return base

    def pendingFrom(self, sliceStart: int, sliceEnd: int) -> int:
        """
        After expat has been given the input up to stream offset
        C{sliceEnd}, the stream offset where what is in progress began: the
        header, the open stanza, or markup between stanzas; C{sliceEnd} if
        nothing is.
        """
        depth = self._depth
        if depth >= 2:
            return self._stanzaStart
        if depth == 0:
            return 0
        pendingFrom = self._tagAt
        if pendingFrom < self._idle:
            # Left over from before the last stanza.
            pendingFrom = -1
        parser = self._parser
        assert parser is not None
        consumed = parser.CurrentByteIndex
        if 0 <= pendingFrom < consumed:
            # That markup was complete and reported nothing to us (a CDATA
            # section, say): back to idle.
            pendingFrom = self._tagAt = -1
            self._idle = consumed
        if pendingFrom < 0:
            # Markup begins with "<", and "<" occurs neither in character
            # data nor in attribute values; so the first one since the last
            # stanza, if any, begins what is pending.
            base = self._base
            found = self._data.find(b"<", max(self._idle, sliceStart) - base, sliceEnd - base)
            if found < 0:
                self._idle = pendingFrom = sliceEnd
            else:
                pendingFrom = self._tagAt = base + found
        return pendingFrom

    def end(self) -> None:
        """
        The input has all been parsed: keep the bytes of what is in
        progress and let go of the rest.
        """
        depth = self._depth
        if depth >= 2:
            keep = self._stanzaStart
        elif depth == 1 and self._tagAt >= self._idle:
            keep = self._tagAt
        else:
            keep = -1
        self._backlog.keep(keep, self._data, self._base)
        self._data = b""

    def release(self) -> None:
        """
        The stream is over: let go of everything held.
        """
        self.detach()
        self._data = b""
        self._backlog.clear()

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

        While a stanza is open the framer is I{lazy}: descendants' start
        tags go unreported, so depth is not counted, and an end tag with the
        stanza's name is the stanza's own unless a descendant with the same
        name began before it.  When one did (rare), what has arrived of the
        stanza is parsed again to count what is open, and the rest of the
        stanza is parsed element by element.

        @raise StreamOver: at the root's end.
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
                    raise StreamOver()
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
            data = self._backlog.since(start, self._data[: self.parsed - base])
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
                and not self._closesStanza(data, s, i, startTag)
            ):
                return
            source = data[s : data.index(b">", i) + 1]
        else:
            source = data[s : endOfElement(data, s, i)]
        if lazy:
            self._lazy = False
            self._depth = 1
            parser.StartElementHandler = self._startHandler
        limits = self._limits
        if len(source) > limits.maxStanzaSize:
            limits.refuseStanza()
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
                clean = self._prefixFree(source)
            if clean or standsAlone(source):
                # It parses the same without the header's declarations.
                self._deliver(Stanza(local, uri, attributes, source))
                return
        scope = self.scope
        assert scope is not None
        self._deliver(
            Stanza(local, uri, attributes, source, selfContained=False, context=scope.namespaces)
        )

    def _closesStanza(self, data: bytes, s: int, i: int, startTag: bytes) -> bool:
        """
        Whether the end of an element named like the open stanza, reported
        at offset C{i} of C{data}, is the stanza's own end, given that
        C{startTag} occurs between the stanza's start tag (at C{s}) and
        C{i}.

        If it is not, the rest of the stanza is parsed element by element:
        L{_start} and L{_end} count depth from here on.
        """
        if findStartTag(data, startTag, s + 1, i) < 0:
            # Only longer names that begin the same way.
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
        there is none; or C{start} if there are too many to look for.
        """
        scope = self.scope
        assert scope is not None
        prefixes = scope.prefixes
        if len(prefixes) > _MAX_SEARCHED_PREFIXES:
            return start
        base = self._base
        found = firstOf(self._data, prefixes, start - base)
        return _NO_HIT if found < 0 else base + found

    def _prefixFree(self, source: bytes) -> bool:
        """
        Whether no prefix declared on the stream header occurs, followed by
        a colon, in C{source}; C{False} if there are too many to look for.
        """
        scope = self.scope
        assert scope is not None
        prefixes = scope.prefixes
        return len(prefixes) <= _MAX_SEARCHED_PREFIXES and firstOf(source, prefixes, 0) < 0

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

    # The header

    def _declare(self, prefix: str | None, uri: str | None) -> None:
        """
        expat's StartNamespaceDeclHandler until the header has been read.
        """
        self._declared[prefix or ""] = uri or ""

    def _rootStarted(self, name: str, attributes: dict[str, str]) -> None:
        """
        Report the stream header.
        """
        parser = self._parser
        assert parser is not None
        parser.StartNamespaceDeclHandler = None
        header, self.scope = readHeader(name, attributes, self._declared)
        self._declared = {}
        # Just past the header's "<": the next "<" begins what follows it.
        self._idle = parser.CurrentByteIndex + 1
        self._receiver.streamStarted(header)
