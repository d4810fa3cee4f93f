# -*- test-case-name: xcomp.test.test_stream_limits -*-
"""
The bytes kept between calls to L{xcomp.stream.StreamParser.feed}: the
start of whatever is in progress when the input runs out, so that a stanza
that arrives over several reads can be sliced out whole once it ends.

Offsets are "stream offsets", counted in the bytes the current expat parser
has been given.  Nothing else of earlier input is kept, and the limits
(L{xcomp.stream.limits}) bound what is in progress, so the backlog is
bounded too.
"""

from __future__ import annotations

__all__ = ["Backlog"]


class Backlog:
    """
    The kept bytes, and the stream offset of the first.
    """

    __slots__ = ("_kept", "_start")

    def __init__(self) -> None:
        """
        Nothing kept.
        """
        self._kept = bytearray()
        self._start = 0

    def __len__(self) -> int:
        """
        How many bytes are kept.
        """
        return len(self._kept)

    def since(self, start: int, rest: bytes) -> bytes:
        """
        The kept bytes from stream offset C{start} on, then C{rest}, the
        input that follows them.
        """
        return bytes(self._kept[start - self._start :]) + rest

    def keep(self, start: int, data: bytes, base: int) -> None:
        """
        At the end of an input, keep what is needed from stream offset
        C{start} on and let go of the rest.

        @param start: where what is in progress began, or -1 if nothing is.
        @param data: the input, all of it parsed.
        @param base: the stream offset of its first byte.
        """
        if start < 0:
            if self._kept:
                self._kept = bytearray()
        elif start >= base:
            self._kept = bytearray(memoryview(data)[start - base :])
            self._start = start
        else:
            kept = self._kept
            del kept[: start - self._start]
            kept += data
            self._start = start

    def clear(self) -> None:
        """
        Let go of everything kept.
        """
        self._kept = bytearray()
