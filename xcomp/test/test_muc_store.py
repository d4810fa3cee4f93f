"""
Tests for L{xcomp.muc.store} on a database file, through
L{twisted.enterprise.adbapi} and its thread, as the running service uses it.
"""

from __future__ import annotations

import sqlite3

from twisted.internet import reactor
from twisted.python.filepath import FilePath
from twisted.trial.unittest import TestCase
from zope.interface.verify import verifyObject

from xcomp.interfaces import IArchiveStore, IRoomStore
from xcomp.muc.store import SCHEMA_VERSION, ArchiveEntry, ArchiveQuery, ItemNotFound, SQLiteStore, StoreError

ROOM = "room@muc.example"


def entry(n: int, room: str = ROOM, nick: str = "alice") -> ArchiveEntry:
    return ArchiveEntry(room, f"id{n}", 100.0 + n, nick, "occ", "alice@example.org", f"<message><body>{n}</body></message>")


class SQLiteFileTests(TestCase):
    """
    L{SQLiteStore.atPath}.
    """

    timeout = 30

    def setUp(self) -> None:
        self.path = FilePath(self.mktemp()).path

    async def openStore(self) -> SQLiteStore:
        store = SQLiteStore.atPath(self.path, reactor)
        await store.open()
        self.addCleanup(store.close)
        return store

    async def test_interfaces(self) -> None:
        """
        The store provides both storage interfaces.
        """
        store = await self.openStore()
        self.assertTrue(verifyObject(IRoomStore, store))
        self.assertTrue(verifyObject(IArchiveStore, store))

    async def test_schemaVersion(self) -> None:
        """
        A new database records the schema version.
        """
        await self.openStore()
        with sqlite3.connect(self.path) as connection:
            [(version,)] = connection.execute("SELECT version FROM schema_version").fetchall()
        self.assertEqual(version, SCHEMA_VERSION)

    async def test_newerSchemaRefused(self) -> None:
        """
        A database written by a newer version is not used.
        """
        store = await self.openStore()
        await store.close()
        with sqlite3.connect(self.path) as connection:
            connection.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
        other = SQLiteStore.atPath(self.path, reactor)
        self.addCleanup(other.close)
        with self.assertRaises(StoreError):
            await other.open()

    async def test_roomsSurviveReopening(self) -> None:
        """
        Saved rooms are loaded from the file by a new store; replaced and
        deleted ones as last written.
        """
        store = await self.openStore()
        await store.saveRoom("a@muc.example", '{"v": 1}')
        await store.saveRoom("b@muc.example", '{"v": 1}')
        await store.saveRoom("a@muc.example", '{"v": 2}')
        await store.deleteRoom("b@muc.example")
        await store.close()
        again = SQLiteStore.atPath(self.path, reactor)
        await again.open()
        self.addCleanup(again.close)
        self.assertEqual(await again.loadRooms(), [("a@muc.example", '{"v": 2}')])

    async def test_archive(self) -> None:
        """
        Entries come back a page at a time, with counts and positions;
        expiry removes old ones; an unknown id is L{ItemNotFound}.
        """
        store = await self.openStore()
        await store.append([entry(n) for n in range(5)] + [entry(9, room="other@muc.example")])
        page = await store.query(ROOM, ArchiveQuery(max=2, after="id1"))
        self.assertEqual(([e.id for e in page.entries], page.complete, page.count, page.index), (["id2", "id3"], False, 5, 2))
        page = await store.query(ROOM, ArchiveQuery(max=3, before=""))
        self.assertEqual(([e.id for e in page.entries], page.complete), (["id2", "id3", "id4"], False))
        with self.assertRaises(ItemNotFound):
            await store.query(ROOM, ArchiveQuery(afterId="nosuch"))
        self.assertEqual(await store.expire(102.5), 3)
        page = await store.query(ROOM, ArchiveQuery())
        self.assertEqual([e.id for e in page.entries], ["id3", "id4"])
        await store.deleteArchive(ROOM)
        self.assertEqual((await store.query(ROOM, ArchiveQuery())).count, 0)
        self.assertEqual((await store.query("other@muc.example", ArchiveQuery())).count, 1)

    async def test_recent(self) -> None:
        """
        L{SQLiteStore.recent} gives each room's last entries, oldest first,
        at most its limit, none before C{since}.
        """
        store = await self.openStore()
        await store.append([entry(n) for n in range(5)] + [entry(9, room="other@muc.example")])
        found = await store.recent({ROOM: 2, "other@muc.example": 5, "empty@muc.example": 3}, None)
        self.assertEqual(
            {room: [e.id for e in entries] for room, entries in found.items()},
            {ROOM: ["id3", "id4"], "other@muc.example": ["id9"], "empty@muc.example": []},
        )
        found = await store.recent({ROOM: 5}, 102.5)
        self.assertEqual([e.id for e in found[ROOM]], ["id3", "id4"])
