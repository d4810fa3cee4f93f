# -*- test-case-name: xcomp.test.test_stream -*-
"""
L{StreamParser}: one stream's bytes in, its events out, through an expat
parser it owns.

The parser feeds expat in bounded slices and puts its parts together: the
stanza framer (L{xcomp.stream.framing}) as expat's element handlers, the
size bounds (L{xcomp.stream.limits}) checked between slices, the refusal of
restricted XML (L{xcomp.stream.restricted}) as expat's other handlers, and
hibernation (L{xcomp.stream.hibernation}) between stanzas.  Those parts
stop the stream by raising (L{xcomp.stream.failures}); this is where the
receiver is told.
"""

from __future__ import annotations

from xml.parsers import expat

from xcomp.interfaces import IStreamReceiver
from xcomp.stream.failures import StreamFailed, StreamOver
from xcomp.stream.framing import StanzaFramer
from xcomp.stream.hibernation import prime
from xcomp.stream.limits import MAX_TOKEN_SIZE, SLICE, StreamLimits
from xcomp.stream.restricted import checkStart, conditionOf, refuseRestricted
from xcomp.stream.scan import SEP

__all__ = ["StreamParser"]


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

    MAX_TOKEN_SIZE = MAX_TOKEN_SIZE

    __slots__ = ("_receiver", "_limits", "_framer", "_parser", "_done", "_head")

    def __init__(self, receiver: IStreamReceiver, maxStanzaSize: int = 512 * 1024) -> None:
        """
        @param receiver: told about everything the stream contains.
        @param maxStanzaSize: the initial value of L{maxStanzaSize}.
        """
        self._receiver = receiver
        self._limits = StreamLimits(maxStanzaSize, self.MAX_TOKEN_SIZE)
        self._framer = StanzaFramer(receiver, self._limits)
        self._parser: expat.XMLParserType | None = self._newParser()
        self._framer.attach(self._parser, 0)
        self._done = False
        # The first two bytes of the stream, until there are two.
        self._head = b""

    @property
    def maxStanzaSize(self) -> int:
        """
        See the class's L{maxStanzaSize}; kept in L{StreamLimits}.
        """
        return self._limits.maxStanzaSize

    @maxStanzaSize.setter
    def maxStanzaSize(self, value: int) -> None:
        """
        Change the bound from the next check on.
        """
        self._limits.maxStanzaSize = value

    @property
    def maxTokenSize(self) -> int:
        """
        See the class's L{maxTokenSize}; kept in L{StreamLimits}.
        """
        return self._limits.maxTokenSize

    @maxTokenSize.setter
    def maxTokenSize(self, value: int) -> None:
        """
        Change the bound from the next check on.
        """
        self._limits.maxTokenSize = value

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
        framer = self._framer
        try:
            if framer.parsed < 2:
                head = self._head = (self._head + data)[:2]
                checkStart(head)
            base = framer.begin(data)
            size = len(data)
            if size <= SLICE:
                framer.parsed = base + size
                parser.Parse(data, False)
                self._checkBounds(parser, base, base + size)
            else:
                view = memoryview(data)
                for offset in range(0, size, SLICE):
                    stop = min(offset + SLICE, size)
                    framer.parsed = base + stop
                    parser.Parse(view[offset:stop], False)
                    self._checkBounds(parser, base + offset, base + stop)
        except StreamFailed as e:
            self._fail(e.condition, e.text)
            return
        except StreamOver:
            self._finish()
            self._receiver.streamEnded()
            return
        except expat.ExpatError as e:
            if self._done or not parser.ErrorCode:
                # Raised by the receiver, not about our input.
                self._finish()
                raise
            self._fail(conditionOf(e), str(e))
            return
        except BaseException:
            self._finish()
            raise
        framer.end()

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
        if not self._framer.atRest():
            return False
        self._parser = None
        self._framer.detach()
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
        """
        framer = self._framer
        assert framer.scope is not None
        parser = self._newParser()
        framer.attach(parser, prime(parser, framer.scope))
        self._parser = parser
        return parser

    def _newParser(self) -> expat.XMLParserType:
        """
        A new expat parser that refuses restricted XML, its element handlers
        not set yet.
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
        refuseRestricted(parser)
        return parser

    def _checkBounds(self, parser: expat.XMLParserType, sliceStart: int, sliceEnd: int) -> None:
        """
        After expat has been given the input up to stream offset
        C{sliceEnd}, refuse what is in progress if it has grown too large.

        @raise StreamFailed: if it has.
        """
        framer = self._framer
        self._limits.check(
            sliceEnd,
            framer.pendingFrom(sliceStart, sliceEnd),
            parser.CurrentByteIndex,
            framer.scope is None,
        )

    def _fail(self, condition: str, text: str) -> None:
        """
        Stop for good and tell the receiver why.
        """
        self._finish()
        self._receiver.streamFailed(condition, text)

    def _finish(self) -> None:
        """
        Ignore all further input and let go of everything held.
        """
        self._done = True
        self._parser = None
        self._framer.release()
