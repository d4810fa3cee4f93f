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
    L{Stanza.element}.  C{raw} is set unless the bytes need the header's
    namespace declarations to parse (see L{xcomp.stream.framing}).
  - C{streamEnded()} for C{</stream:stream>}.  Anything after it, in the same
    call or later, is ignored: the stream is over, and the other side is
    going to close the connection.
  - C{streamFailed(condition, text)} at the first problem.  Nothing is
    reported after it and later input is ignored.

Character data between stanzas (whitespace keepalives, or anything else) is
discarded without being reported.  Memory is bounded: the parser keeps the
bytes of what is in progress and nothing else (L{xcomp.stream.limits}).
Between stanzas, the owner may tell the parser to
L{hibernate<StreamParser.hibernate>}: it lets go of expat, most of what an
idle stream costs (L{xcomp.stream.hibernation}).

The modules, in the order the bytes meet them:

  - L{xcomp.stream.parser}: L{StreamParser}, which feeds expat and puts the
    rest together;
  - L{xcomp.stream.restricted}: what a stream may not contain;
  - L{xcomp.stream.limits}: the size bounds, checked between slices of input;
  - L{xcomp.stream.framing}: expat's element events to the header, stanzas
    and the end (the hot path), with L{xcomp.stream.header} for the header
    and L{xcomp.stream.backlog} for bytes kept between reads;
  - L{xcomp.stream.scan}: what is read from the raw bytes themselves;
  - L{xcomp.stream.hibernation}: letting go of expat between stanzas.
"""

from xcomp.stream.header import StreamHeader
from xcomp.stream.parser import StreamParser

__all__ = ["StreamHeader", "StreamParser"]
