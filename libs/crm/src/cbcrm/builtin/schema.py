# ruff: noqa: RUF001  (Russian demo names)
"""The built-in CRM's tables and its demo data.

Contacts and companies share one ``entities`` table (one id space, so a deal's owner id is
unambiguous); phones are E.164, indexed, several per entity and shared between entities
(duplicates are real life). ``idempotency`` maps each write's key to its result.
"""

from __future__ import annotations

import aiosqlite

__all__ = ["SCHEMA", "migrate", "seed_demo"]

SCHEMA = """
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, extension TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS entities (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('contact', 'company')),
    name TEXT NOT NULL, company_id INTEGER REFERENCES entities(id),
    responsible_user_id TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL,
    unsorted INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS phones (
    entity_id INTEGER NOT NULL REFERENCES entities(id), phone TEXT NOT NULL,
    PRIMARY KEY (phone, entity_id));
CREATE TABLE IF NOT EXISTS deals (
    id INTEGER PRIMARY KEY, entity_id INTEGER NOT NULL REFERENCES entities(id),
    name TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'new', is_open INTEGER NOT NULL DEFAULT 1,
    amount REAL NOT NULL DEFAULT 0, responsible_user_id TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS deals_entity ON deals(entity_id);
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY, call_id TEXT NOT NULL, direction TEXT NOT NULL, phone TEXT NOT NULL,
    started_at INTEGER NOT NULL, duration_s INTEGER NOT NULL, result TEXT NOT NULL,
    user_id TEXT NOT NULL, extension TEXT NOT NULL, entity_id INTEGER,
    recording_url TEXT NOT NULL DEFAULT '', note TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS calls_entity ON calls(entity_id);
CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY, text TEXT NOT NULL, entity_id INTEGER,
    responsible_user_id TEXT NOT NULL, deadline INTEGER NOT NULL,
    done INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, result BLOB NOT NULL);
"""


async def migrate(db: aiosqlite.Connection) -> None:
    """Bring a database made by an older version up to SCHEMA (columns added since)."""
    columns = {row[1] for row in await db.execute_fetchall("PRAGMA table_info(calls)")}
    if "note" not in columns:
        await db.execute("ALTER TABLE calls ADD COLUMN note TEXT NOT NULL DEFAULT ''")
        await db.commit()


T0 = 1_700_000_000  # demo creation times: the oldest entity wins Kommo's rule

USERS = [("1", "Анна Смирнова", "100"), ("2", "Борис Петров", "101"), ("3", "Вера Иванова", "102")]
# (id, kind, name, company id, responsible, created, phones)
ENTITIES = [
    (1, "company", "ООО «Ромашка»", None, "1", T0, ["+74951234567"]),
    (2, "company", "АО «Вектор»", None, "2", T0 + 10, ["+78123334455"]),
    (3, "contact", "Иван Кузнецов", 1, "1", T0 + 100, ["+79161234567", "+74951234567"]),
    (4, "contact", "Мария Соколова", 2, "2", T0 + 200, ["+79031112233"]),
    (5, "contact", "Ольга Новикова", None, "3", T0 + 300, ["+79265554433"]),
    (6, "contact", "Ольга Новикова (дубль)", None, "2", T0 + 400, ["+79265554433"]),
    (7, "contact", "Пётр Волков", None, "", T0 + 500, ["+79857776655"]),
]
# (id, entity, name, status, open, amount, responsible)
DEALS = [
    (1, 3, "Поставка оборудования", "negotiation", 1, 250000.0, "1"),
    (2, 4, "Сервисный контракт", "new", 1, 90000.0, "2"),
    (3, 4, "Расширение лицензий", "proposal", 1, 40000.0, "2"),
    (4, 5, "Разовая консультация", "won", 0, 15000.0, "3"),
]


async def seed_demo(db: aiosqlite.Connection) -> bool:
    """Insert the demo data into an empty CRM; False if it already had users."""
    async with db.execute("SELECT count(*) FROM users") as cur:
        row = await cur.fetchone()
    if row and row[0]:
        return False
    await db.executemany("INSERT INTO users VALUES (?, ?, ?)", USERS)
    for eid, kind, name, company, resp, created, phones in ENTITIES:
        await db.execute(
            "INSERT INTO entities (id, kind, name, company_id, responsible_user_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (eid, kind, name, company, resp, created),
        )
        await db.executemany("INSERT INTO phones VALUES (?, ?)", [(eid, p) for p in phones])
    await db.executemany(
        "INSERT INTO deals (id, entity_id, name, status, is_open, amount, responsible_user_id,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(*d, T0 + 1000 + d[0]) for d in DEALS],
    )
    await db.commit()
    return True
