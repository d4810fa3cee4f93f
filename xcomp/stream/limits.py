# -*- test-case-name: xcomp.test.test_stream_limits -*-
"""
The bounds on what one stream may make the parser hold.

The parser keeps the bytes of what is in progress (the stanza, the header,
or markup pending between stanzas) and nothing else.  Input is handed to
expat in slices of at most L{SLICE} bytes and L{StreamLimits.check} runs
after each, so neither the parser nor expat ever holds much more than the
stanza size limit plus one slice.  One markup token (a tag, say) is bounded
on its own too: expat re-scans an incomplete token every time more input
arrives, so a peer that sent an endless tag a byte at a time could
otherwise cost time quadratic in the size limit.
"""

from __future__ import annotations

from typing import NoReturn

from xcomp.stream.failures import StreamFailed

__all__ = ["MAX_TOKEN_SIZE", "SLICE", "StreamLimits"]

# The largest piece of input handed to expat in one call; the size limits are
# checked between pieces.  Small, because expat copies each piece into a
# buffer of its own that never shrinks: with 64 KiB pieces, every connection
# that once had a full read kept ~70 KiB for good; with 4 KiB, ~18 KiB.  The
# extra calls cost nothing measurable (bench/hotpath.py).
SLICE = 4 * 1024

#: The default bound on one token; legitimate XMPP never comes near it.
MAX_TOKEN_SIZE = 16 * 1024


class StreamLimits:
    """
    The size bounds of one stream, which its owner may change between calls
    to L{xcomp.stream.StreamParser.feed}.

    @ivar maxStanzaSize: the most bytes one stanza may have; also the bound
        on the bytes before the stream header is complete, and on markup
        pending between stanzas.
    @ivar maxTokenSize: the most bytes one piece of markup may have before
        it is complete.
    """

    __slots__ = ("maxStanzaSize", "maxTokenSize")

    def __init__(self, maxStanzaSize: int, maxTokenSize: int = MAX_TOKEN_SIZE) -> None:
        """
        @param maxStanzaSize: see L{maxStanzaSize}.
        @param maxTokenSize: see L{maxTokenSize}.
        """
        self.maxStanzaSize = maxStanzaSize
        self.maxTokenSize = maxTokenSize

    def check(self, end: int, pendingFrom: int, tokenStart: int, inHeader: bool) -> None:
        """
        After expat has been given the input up to stream offset C{end},
        refuse what is in progress if it has grown too large.

        @param pendingFrom: the stream offset where what is in progress
            began (C{end} if nothing is).
        @param tokenStart: expat's position, where the token it has not
            finished begins (negative if it has none).
        @param inHeader: whether what is in progress is the stream header.

        @raise StreamFailed: with C{policy-violation}, if it has.
        """
        if end - pendingFrom > self.maxStanzaSize:
            self.refuseStanza("stream header" if inHeader else "stanza")
        if tokenStart >= 0 and end - tokenStart > self.maxTokenSize:
            raise StreamFailed("policy-violation", f"A tag exceeds {self.maxTokenSize} bytes")

    def refuseStanza(self, what: str = "stanza") -> NoReturn:
        """
        Refuse a stanza (or C{what} else) larger than L{maxStanzaSize}.

        @raise StreamFailed: always, with C{policy-violation}.
        """
        raise StreamFailed("policy-violation", f"The {what} exceeds {self.maxStanzaSize} bytes")
