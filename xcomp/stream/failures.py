# -*- test-case-name: xcomp.test.test_stream -*-
"""
How the parser's parts stop it: exceptions raised from within expat's
handlers, or between the slices of input handed to expat, that abandon the
rest of the input.

expat cannot resume once a handler has raised, so these are only raised
when the stream is over.  L{xcomp.stream.parser.StreamParser} catches them
and tells its receiver.
"""

from __future__ import annotations

__all__ = ["StreamFailed", "StreamOver"]


class StreamFailed(Exception):
    """
    The stream has a problem that ends it, reported with a stream error.

    @ivar condition: the stream error condition (C{policy-violation},
        C{restricted-xml}, ...).
    @ivar text: what exactly was wrong, for the peer and the log; never any
        of the input itself.
    """

    def __init__(self, condition: str, text: str) -> None:
        """
        @param condition: see L{condition}.
        @param text: see L{text}.
        """
        super().__init__(condition, text)
        self.condition = condition
        self.text = text


class StreamOver(Exception):
    """
    The root element has ended: the stream is over.
    """
