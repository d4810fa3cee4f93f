# -*- test-case-name: xcomp.test.test_cluster_loopback -*-
"""
What other nodes sent this one: read from its Redis stream with a blocking
C{XREAD} on a connection of its own, parsed by the same stream parser the
component port uses, and handed to the router in the order it was written.

Entries are deleted once their stanzas are routed, and taken off the
stream's count, so that the stream holds only what is still waiting: the
count is what the senders' bound checks, and when this node dies, what is
left is what it never delivered.
"""

from __future__ import annotations

from typing import Callable

from twisted.internet import defer
from zope.interface import implementer

from xcomp.cluster.connection import RedisLink
from xcomp.cluster.keys import DONE, TRIM, Keys
from xcomp.interfaces import IStreamReceiver
from xcomp.logsinks import Logger
from xcomp.stanza import Stanza
from xcomp.stream.parser import StreamParser

#: Milliseconds one XREAD blocks before it is sent again.
BLOCK_MS = 1000
#: Entries one XREAD returns at most.
COUNT = 100

_HEADER = (
    b"<stream:stream xmlns='jabber:component:accept'"
    b" xmlns:stream='http://etherx.jabber.org/streams'>"
)


@implementer(IStreamReceiver)
class _Collect:
    def __init__(self) -> None:
        self.stanzas: list[Stanza] = []
        self.failed: str | None = None

    def streamStarted(self, header: object) -> None:
        pass

    def stanzaReceived(self, stanza: Stanza) -> None:
        self.stanzas.append(stanza)

    def streamEnded(self) -> None:
        pass

    def streamFailed(self, condition: str, text: str | None) -> None:
        self.failed = f"{condition}: {text}"


class EntryReader:
    """
    The stanzas of stream entries, parsed by the component port's own
    parser as if they came one after the other on one stream.
    """

    _log = Logger()

    def __init__(self) -> None:
        self._collect = _Collect()
        self._parser = self._newParser()

    def _newParser(self) -> StreamParser:
        parser = StreamParser(self._collect)
        parser.feed(_HEADER)
        return parser

    def stanzas(self, fields: list[bytes]) -> list[Stanza]:
        """
        The stanzas of one entry's fields (C{f}, then C{s} per stanza); one
        that cannot be parsed is logged and left out.
        """
        collect = self._collect
        for name, value in zip(fields[::2], fields[1::2]):
            if name != b"s":
                continue
            self._parser.feed(value)
            if collect.failed is not None:
                self._log.error(
                    "Cluster: an unreadable stanza from another node: {error}", error=collect.failed
                )
                collect.failed = None
                self._parser = self._newParser()
        stanzas, collect.stanzas = collect.stanzas, []
        return stanzas


def isControl(fields: list[bytes]) -> bool:
    """
    Whether an entry is a control message rather than stanzas.
    """
    return fields[:1] == [b"k"]


class ClusterInbox:
    """
    @ivar received: stanzas read from the stream.
    """

    _log = Logger()

    def __init__(
        self,
        reader: RedisLink,
        keys: Keys,
        deliver: Callable[[Stanza], None],
        control: Callable[[bytes, dict[bytes, bytes]], None],
    ) -> None:
        """
        @param reader: the connection that blocks in XREAD; the deletes of
            what was read go over it too.
        @param deliver: hands one stanza to the router.
        @param control: takes a control entry: its kind and its fields.
        """
        self._reader = reader
        self._keys = keys
        self._deliver = deliver
        self._control = control
        self._last = b"0-0"
        self._generation = 0
        self._stopped = False
        self.received = 0
        self._parse = EntryReader()

    def start(self) -> None:
        """
        Read (called each time the reader connects): a read pending on a
        connection that went away is not waited for.
        """
        if self._stopped:
            return
        self._generation += 1
        protocol = self._reader.current()
        if protocol is not None and self._last != b"0-0":
            # What the last connection routed but could not delete.
            defer.maybeDeferred(
                protocol.eval, TRIM, [self._keys.inbox, self._keys.pending], [self._last]
            ).addErrback(lambda f: None)
        self._read(self._generation)

    def stop(self) -> None:
        self._stopped = True

    def _read(self, generation: int) -> None:
        protocol = self._reader.current()
        if protocol is None or self._stopped or generation != self._generation:
            return
        d = defer.maybeDeferred(protocol.execute_command, 
            b"XREAD", b"COUNT", COUNT, b"BLOCK", BLOCK_MS, b"STREAMS", self._keys.inbox, self._last
        )
        # A failed read is the connection going away; the next connection
        # starts reading again.
        d.addCallbacks(self._entries, lambda f: None, (generation,))

    def _entries(self, reply: object, generation: int) -> None:
        if generation != self._generation:
            return
        done: list[bytes] = []
        count = 0
        if reply:
            for _stream, entries in reply:  # type: ignore[attr-defined]
                for entryId, fields in entries:
                    self._last = entryId
                    done.append(entryId)
                    count += self._take(fields)
        if done:
            # On the reader, just before its next XREAD: one write and one
            # event for Redis instead of one on each connection.
            reader = self._reader.current()
            if reader is not None:
                defer.maybeDeferred(
                    reader.eval, DONE, [self._keys.inbox, self._keys.pending], [count, *done]
                ).addErrback(lambda f: None)
        self._read(generation)

    def _take(self, fields: list[bytes]) -> int:
        """
        Route one entry's stanzas, or act on its control message; how many
        stanzas the entry held, as its sender counted them.
        """
        if isControl(fields):
            pairs = dict(zip(fields[::2], fields[1::2]))
            self._control(pairs[b"k"], pairs)
            return 0
        stanzas = self._parse.stanzas(fields)
        self.received += len(stanzas)
        for stanza in stanzas:
            self._deliver(stanza)
        return (len(fields) - 2) // 2
