# -*- test-case-name: xcomp.test.test_muc_store -*-
"""
Storage for a C{muc} component: persistent rooms and the XEP-0313 archive,
in one SQLite database (ARCHITECTURE.md, decision 6).

L{SQLiteStore} provides L{IRoomStore} and L{IArchiveStore}.  Its SQL runs
through a runner with adbapi's C{runInteraction} signature: for a file,
L{twisted.enterprise.adbapi.ConnectionPool} (one connection on one thread,
so writes are applied in order and the reactor never waits on the disk);
for an in-memory database, L{SynchronousRunner}, which runs each interaction
at once (tests use it too, with no threads).
"""

from __future__ import annotations

import sqlite3
from typing import Any, Callable, Mapping, Protocol, Sequence

import attrs
from twisted.enterprise import adbapi
from twisted.internet import defer
from twisted.internet.interfaces import IReactorCore
from zope.interface import implementer

from xcomp.interfaces import IArchiveStore, IRoomStore

#: The schema version this code writes.
SCHEMA_VERSION = 1

_SCHEMA = (
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    "CREATE TABLE rooms (jid TEXT PRIMARY KEY, data TEXT NOT NULL)",
    """CREATE TABLE archive (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        room TEXT NOT NULL,
        id TEXT NOT NULL UNIQUE,
        stamp REAL NOT NULL,
        nick TEXT NOT NULL,
        occupant_id TEXT NOT NULL,
        jid TEXT NOT NULL,
        stanza TEXT NOT NULL
    )""",
    "CREATE INDEX archive_room_seq ON archive (room, seq)",
    "CREATE INDEX archive_stamp ON archive (stamp)",
)


class StoreError(Exception):
    """
    The database cannot be used (for example, a newer schema).
    """


class ItemNotFound(Exception):
    """
    A query named an archive id that is not in the room's archive.
    """


@attrs.frozen
class ArchiveEntry:
    """
    One archived groupchat message.

    @ivar id: its XEP-0359 stanza id.
    @ivar stamp: when it was sent, POSIX time.
    @ivar nick: the sender's nick then.
    @ivar occupantId: the sender's XEP-0421 occupant id.
    @ivar jid: the sender's real bare JID.
    @ivar stanza: the message as occupants received it, without C{to}.
    """

    room: str
    id: str
    stamp: float
    nick: str
    occupantId: str
    jid: str
    stanza: str


@attrs.frozen
class ArchiveQuery:
    """
    What to find: the filters of the C{urn:xmpp:mam:2} form and the XEP-0059
    page.

    @ivar start: only messages at or after this POSIX time.
    @ivar end: only messages at or before it.
    @ivar nick: only messages sent under this nick.
    @ivar jid: only messages from this real bare JID.
    @ivar afterId: only messages archived after this id (C{after-id}).
    @ivar beforeId: only messages archived before this id (C{before-id}).
    @ivar ids: only these ids.
    @ivar max: the page size.
    @ivar after: the page after this id (RSM C{<after/>}).
    @ivar before: the page before this id (RSM C{<before/>}); C{""} for the
        last page.
    """

    start: float | None = None
    end: float | None = None
    nick: str | None = None
    jid: str | None = None
    afterId: str | None = None
    beforeId: str | None = None
    ids: tuple[str, ...] | None = None
    max: int = 20
    after: str | None = None
    before: str | None = None


@attrs.frozen
class ArchivePage:
    """
    One page of results, oldest first.

    @ivar complete: no more results lie beyond this page in the direction
        of paging.
    @ivar count: how many messages match the filters in all.
    @ivar index: the position of the first entry among them.
    """

    entries: tuple[ArchiveEntry, ...]
    complete: bool
    count: int
    index: int


class Runner(Protocol):
    """
    Something that runs a function with a cursor in a transaction, like
    L{adbapi.ConnectionPool.runInteraction}.
    """

    def runInteraction(self, interaction: Callable[..., Any], *args: object) -> defer.Deferred[Any]:
        ...

    def close(self) -> None:
        ...


class SynchronousRunner:
    """
    Runs each interaction at once, in the calling thread, on one SQLite
    connection; for in-memory databases and tests.
    """

    def __init__(self, path: str = ":memory:") -> None:
        self._connection = sqlite3.connect(path)

    def runInteraction(self, interaction: Callable[..., Any], *args: object) -> defer.Deferred[Any]:
        cursor = self._connection.cursor()
        try:
            result = interaction(cursor, *args)
        except BaseException:
            self._connection.rollback()
            return defer.fail()
        finally:
            cursor.close()
        self._connection.commit()
        return defer.succeed(result)

    def close(self) -> None:
        self._connection.close()


def _configure(connection: sqlite3.Connection) -> None:
    """
    Per-connection settings for a database file.
    """
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")


@implementer(IRoomStore, IArchiveStore)
class SQLiteStore:
    """
    Rooms and archive in one SQLite database.
    """

    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self._closed = False

    @classmethod
    def inMemory(cls) -> SQLiteStore:
        """
        A store that lasts as long as the process.
        """
        return cls(SynchronousRunner())

    @classmethod
    def atPath(cls, path: str, reactor: IReactorCore) -> SQLiteStore:
        """
        A store in the database file C{path} (created if missing), used
        from one database thread.
        """
        pool = adbapi.ConnectionPool(
            "sqlite3",
            path,
            check_same_thread=False,
            cp_min=1,
            cp_max=1,
            cp_openfun=_configure,
            cp_reactor=reactor,
        )
        return cls(pool)

    # Schema

    def open(self) -> defer.Deferred[None]:
        return self._runner.runInteraction(_migrate)

    def close(self) -> defer.Deferred[None]:
        if not self._closed:
            self._closed = True
            self._runner.close()
        return defer.succeed(None)

    # Rooms

    def loadRooms(self) -> defer.Deferred[list[tuple[str, str]]]:
        return self._runner.runInteraction(_select, "SELECT jid, data FROM rooms ORDER BY jid", ())

    def saveRoom(self, room: str, data: str) -> defer.Deferred[None]:
        return self._runner.runInteraction(
            _execute, "INSERT OR REPLACE INTO rooms (jid, data) VALUES (?, ?)", (room, data)
        )

    def deleteRoom(self, room: str) -> defer.Deferred[None]:
        return self._runner.runInteraction(_execute, "DELETE FROM rooms WHERE jid = ?", (room,))

    # Archive

    def append(self, entries: Sequence[ArchiveEntry]) -> defer.Deferred[None]:
        rows = [(e.room, e.id, e.stamp, e.nick, e.occupantId, e.jid, e.stanza) for e in entries]
        return self._runner.runInteraction(
            _executeMany,
            "INSERT INTO archive (room, id, stamp, nick, occupant_id, jid, stanza) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def query(self, room: str, query: ArchiveQuery) -> defer.Deferred[ArchivePage]:
        return self._runner.runInteraction(_query, room, query)

    def entry(self, room: str, stanzaId: str) -> defer.Deferred[ArchiveEntry]:
        return self._runner.runInteraction(_entry, room, stanzaId)

    def replaceStanza(self, room: str, stanzaId: str, stanza: str) -> defer.Deferred[None]:
        return self._runner.runInteraction(_replaceStanza, room, stanzaId, stanza)

    def deleteArchive(self, room: str) -> defer.Deferred[None]:
        return self._runner.runInteraction(_execute, "DELETE FROM archive WHERE room = ?", (room,))

    def expire(self, before: float) -> defer.Deferred[int]:
        return self._runner.runInteraction(_execute, "DELETE FROM archive WHERE stamp < ?", (before,))

    def recent(self, limits: Mapping[str, int], since: float | None) -> defer.Deferred[dict[str, list[ArchiveEntry]]]:
        return self._runner.runInteraction(_recent, dict(limits), since)


# Interactions: each runs with a cursor inside one transaction.


def _migrate(cursor: sqlite3.Cursor) -> None:
    """
    Create the schema in an empty database; refuse one written by a newer
    version.
    """
    cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'")
    if cursor.fetchone() is None:
        for statement in _SCHEMA:
            cursor.execute(statement)
        cursor.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        return
    cursor.execute("SELECT MAX(version) FROM schema_version")
    (version,) = cursor.fetchone()
    if version is None or version > SCHEMA_VERSION:
        raise StoreError(
            f"the database has schema version {version}; this xcomp knows up to {SCHEMA_VERSION}"
        )
    # Later versions add their upgrade steps here, from `version` up.


def _select(cursor: sqlite3.Cursor, sql: str, args: Sequence[object]) -> list[tuple[Any, ...]]:
    cursor.execute(sql, args)
    return [tuple(row) for row in cursor.fetchall()]


def _execute(cursor: sqlite3.Cursor, sql: str, args: Sequence[object]) -> int:
    cursor.execute(sql, args)
    return cursor.rowcount


def _executeMany(cursor: sqlite3.Cursor, sql: str, rows: Sequence[Sequence[object]]) -> None:
    cursor.executemany(sql, rows)


def _entry(cursor: sqlite3.Cursor, room: str, stanzaId: str) -> ArchiveEntry:
    cursor.execute(
        "SELECT room, id, stamp, nick, occupant_id, jid, stanza FROM archive WHERE room = ? AND id = ?",
        (room, stanzaId),
    )
    row = cursor.fetchone()
    if row is None:
        raise ItemNotFound(stanzaId)
    return ArchiveEntry(*row)


def _replaceStanza(cursor: sqlite3.Cursor, room: str, stanzaId: str, stanza: str) -> None:
    cursor.execute("UPDATE archive SET stanza = ? WHERE room = ? AND id = ?", (stanza, room, stanzaId))
    if cursor.rowcount == 0:
        raise ItemNotFound(stanzaId)


def _seq(cursor: sqlite3.Cursor, room: str, stanzaId: str) -> int:
    cursor.execute("SELECT seq FROM archive WHERE room = ? AND id = ?", (room, stanzaId))
    row = cursor.fetchone()
    if row is None:
        raise ItemNotFound(stanzaId)
    return int(row[0])


def _query(cursor: sqlite3.Cursor, room: str, query: ArchiveQuery) -> ArchivePage:
    """
    Find one page of a room's archive.
    """
    where: list[str] = ["room = ?"]
    args: list[object] = [room]
    for clause, value in (
        ("stamp >= ?", query.start),
        ("stamp <= ?", query.end),
        ("nick = ?", query.nick),
        ("jid = ?", query.jid),
    ):
        if value is not None:
            where.append(clause)
            args.append(value)
    if query.ids is not None:
        where.append(f"id IN ({', '.join('?' * len(query.ids))})" if query.ids else "0")
        args.extend(query.ids)
    if query.afterId is not None:
        where.append("seq > ?")
        args.append(_seq(cursor, room, query.afterId))
    if query.beforeId is not None:
        where.append("seq < ?")
        args.append(_seq(cursor, room, query.beforeId))
    filters = " AND ".join(where)
    cursor.execute(f"SELECT COUNT(*) FROM archive WHERE {filters}", args)
    (count,) = cursor.fetchone()
    page, pageArgs = [filters], list(args)
    if query.after:
        page.append("seq > ?")
        pageArgs.append(_seq(cursor, room, query.after))
    if query.before:
        page.append("seq < ?")
        pageArgs.append(_seq(cursor, room, query.before))
    backwards = query.before is not None
    cursor.execute(
        "SELECT seq, room, id, stamp, nick, occupant_id, jid, stanza FROM archive WHERE "
        + " AND ".join(page)
        + (" ORDER BY seq DESC" if backwards else " ORDER BY seq ASC")
        + " LIMIT ?",
        pageArgs + [query.max + 1],
    )
    rows = cursor.fetchall()
    complete = len(rows) <= query.max
    rows = rows[: query.max]
    if backwards:
        rows.reverse()
    index = 0
    if rows:
        cursor.execute(f"SELECT COUNT(*) FROM archive WHERE {filters} AND seq < ?", args + [rows[0][0]])
        (index,) = cursor.fetchone()
    entries = tuple(ArchiveEntry(*row[1:]) for row in rows)
    return ArchivePage(entries, complete, int(count), int(index))


def _recent(cursor: sqlite3.Cursor, limits: Mapping[str, int], since: float | None) -> dict[str, list[ArchiveEntry]]:
    """
    The last messages of each room, oldest first.
    """
    # One indexed query per room (archive_room_seq, read backwards), all in
    # one transaction: cheaper than a window over the whole archive.
    found: dict[str, list[ArchiveEntry]] = {}
    for room, limit in limits.items():
        if limit <= 0:
            continue
        cursor.execute(
            "SELECT room, id, stamp, nick, occupant_id, jid, stanza FROM archive"
            " WHERE room = ? AND stamp >= ? ORDER BY seq DESC LIMIT ?",
            (room, float("-inf") if since is None else since, limit),
        )
        rows = cursor.fetchall()
        rows.reverse()
        found[room] = [ArchiveEntry(*row) for row in rows]
    return found
