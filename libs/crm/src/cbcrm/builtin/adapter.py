"""The built-in CRM: a :class:`~cbcrm.adapter.CrmAdapter` on SQLite (aiosqlite).

The embedded default: contacts, companies, deals, users with extensions, a call log and
tasks in one file (or ``:memory:``), seeded with demo data. Every write runs in one
transaction together with its idempotency record, so a retried command returns the first
result and never writes twice. Writers are serialised by a lock (one connection).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Self, TypeVar

import aiosqlite
import msgspec

from ..adapter import (
    CallLog,
    CrmUser,
    Deal,
    Entity,
    Lookup,
    NewContact,
    NewDeal,
    NewTask,
    NoCallCard,
)
from ..exceptions import CrmPermanentError
from .schema import SCHEMA, migrate, seed_demo

__all__ = ["BuiltinCrm"]

T = TypeVar("T")

_ENTITY_SQL = """
SELECT e.id, e.kind, e.name, coalesce(c.name, ''), e.responsible_user_id, e.created_at
FROM entities e LEFT JOIN entities c ON c.id = e.company_id WHERE e.id = ?"""
_MATCH_SQL = "SELECT DISTINCT entity_id FROM phones WHERE phone = ? ORDER BY entity_id"


class BuiltinCrm(NoCallCard):
    """The SQLite CRM. Build it with :meth:`open`."""

    name = "builtin"

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._write = asyncio.Lock()

    @classmethod
    async def open(cls, path: str = ":memory:", *, seed: bool = True) -> Self:
        db = await aiosqlite.connect(path)
        await db.executescript(SCHEMA)
        await migrate(db)
        if seed:
            await seed_demo(db)
        return cls(db)

    async def aclose(self) -> None:
        await self._db.close()

    # -- reads ----------------------------------------------------------------------------

    async def lookup(self, phone: str) -> Lookup:
        ids = [row[0] for row in await self._rows(_MATCH_SQL, (phone,))]
        entities = [await self.entity(str(i)) for i in ids]
        deals = {e.id: tuple(await self.deals_of(e.id)) for e in entities}
        return Lookup(
            phone=phone, entities=tuple(entities), deals={k: v for k, v in deals.items() if v}
        )

    async def entity(self, entity_id: str) -> Entity:
        rows = await self._rows(_ENTITY_SQL, (int(entity_id),))
        if not rows:
            raise CrmPermanentError(f"no entity {entity_id}", crm=self.name, status=404)
        eid, kind, name, company, resp, created = rows[0]
        phones = await self._rows("SELECT phone FROM phones WHERE entity_id = ?", (eid,))
        return Entity(
            kind=kind, id=str(eid), name=name, company=company, responsible_user_id=resp,
            created_at=created, phones=tuple(p[0] for p in phones), url=f"/crm/entities/{eid}",
        )  # fmt: skip

    async def deals_of(self, entity_id: str) -> list[Deal]:
        rows = await self._rows(
            "SELECT id, name, status, is_open, amount, responsible_user_id FROM deals"
            " WHERE entity_id = ? ORDER BY id",
            (int(entity_id),),
        )
        return [
            Deal(id=str(i), name=n, status=s, is_open=bool(o), amount=a, responsible_user_id=r)
            for i, n, s, o, a, r in rows
        ]

    async def users(self) -> list[CrmUser]:
        rows = await self._rows("SELECT id, name, extension FROM users ORDER BY id", ())
        return [CrmUser(id=i, name=n, extension=e) for i, n, e in rows]

    async def calls(self, entity_id: str | None = None) -> list[dict[str, Any]]:
        """The call log (of one entity), oldest first, as column -> value."""
        where, args = ("WHERE entity_id = ?", (int(entity_id),)) if entity_id else ("", ())
        return await self._dicts(f"SELECT * FROM calls {where} ORDER BY id", args)  # noqa: S608

    async def call_count(self) -> int:
        return int((await self._rows("SELECT count(*) FROM calls", ()))[0][0])

    async def tasks(self) -> list[dict[str, Any]]:
        return await self._dicts("SELECT * FROM tasks ORDER BY id", ())

    # -- writes (idempotent by key) ---------------------------------------------------------

    async def create_contact(self, contact: NewContact, *, key: str) -> Entity:
        async def write() -> Entity:
            cur = await self._db.execute(
                "INSERT INTO entities (kind, name, responsible_user_id, created_at, unsorted)"
                " VALUES ('contact', ?, ?, ?, ?)",
                (contact.name, contact.responsible_user_id, int(time.time()), contact.unsorted),
            )
            await self._db.execute(
                "INSERT INTO phones VALUES (?, ?)", (cur.lastrowid, contact.phone)
            )
            return Entity(
                kind="contact", id=str(cur.lastrowid), name=contact.name, phones=(contact.phone,),
                responsible_user_id=contact.responsible_user_id, created_at=int(time.time()),
                url=f"/crm/entities/{cur.lastrowid}",
            )  # fmt: skip

        return await self._once(key, write, Entity)

    async def create_deal(self, deal: NewDeal, *, key: str) -> Deal:
        async def write() -> Deal:
            cur = await self._db.execute(
                "INSERT INTO deals (entity_id, name, responsible_user_id, created_at)"
                " VALUES (?, ?, ?, ?)",
                (int(deal.entity.id), deal.name, deal.responsible_user_id, int(time.time())),
            )
            return Deal(
                id=str(cur.lastrowid), name=deal.name, status="new",
                responsible_user_id=deal.responsible_user_id,
            )  # fmt: skip

        return await self._once(key, write, Deal)

    async def create_task(self, task: NewTask, *, key: str) -> str:
        async def write() -> str:
            cur = await self._db.execute(
                "INSERT INTO tasks (text, entity_id, responsible_user_id, deadline)"
                " VALUES (?, ?, ?, ?)",
                (task.text, _entity_id(task.entity), task.responsible_user_id, task.deadline),
            )
            return str(cur.lastrowid)

        return await self._once(key, write, str)

    async def log_call(self, call: CallLog, *, key: str) -> str:
        async def write() -> str:
            cur = await self._db.execute(
                "INSERT INTO calls (call_id, direction, phone, started_at, duration_s, result,"
                " user_id, extension, entity_id, recording_url, note)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    call.call_id, call.direction, call.phone, call.started_at, call.duration_s,
                    call.result, call.user_id, call.extension, _entity_id(call.entity),
                    call.recording_url, "; ".join(filter(None, [call.reason, call.chain_text()])),
                ),
            )  # fmt: skip
            return str(cur.lastrowid)

        return await self._once(key, write, str)

    # -- call card: the built-in CRM's card is the gateway's web UI, fed by cb:crm:events ------

    # -- helpers ----------------------------------------------------------------------------

    async def _once(self, key: str, write: Callable[[], Awaitable[T]], typ: type[T]) -> T:
        async with self._write:
            rows = await self._rows("SELECT result FROM idempotency WHERE key = ?", (key,))
            if rows:
                return msgspec.json.decode(rows[0][0], type=typ)
            try:
                result = await write()
                await self._db.execute(
                    "INSERT INTO idempotency VALUES (?, ?)", (key, msgspec.json.encode(result))
                )
                await self._db.commit()
            except aiosqlite.IntegrityError as exc:
                await self._db.rollback()
                raise CrmPermanentError(f"rejected: {exc}", crm=self.name, status=422) from None
            except BaseException:
                await self._db.rollback()
                raise
            return result

    async def _rows(self, sql: str, args: tuple[Any, ...]) -> list[Any]:
        async with self._db.execute(sql, args) as cur:
            return list(await cur.fetchall())

    async def _dicts(self, sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
        async with self._db.execute(sql, args) as cur:
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in await cur.fetchall()]


def _entity_id(entity: Entity | None) -> int | None:
    return int(entity.id) if entity is not None and entity.id.isdigit() else None
