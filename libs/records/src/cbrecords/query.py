"""Querying call records: filters, newest first, cursor pagination.

The most selective index among the filters is walked (number > extension > result > time)
between ``since`` and ``until`` (unix µs); the other filters are applied to the records.
The cursor is opaque: ``"{score}:{member}"`` of the last record returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import redis.asyncio as aioredis

from cbcontracts import CallRecord, decode_record

from .keys import RecordKeys

__all__ = ["CdrQuery", "Page", "query_records"]


@dataclass(frozen=True, kw_only=True)
class CdrQuery:
    since: int | None = None
    until: int | None = None
    number: str | None = None
    extension: str | None = None
    result: str | None = None
    pbx: str | None = None
    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True)
class Page:
    records: list[CallRecord]
    next_cursor: str | None


def _index(keys: RecordKeys, q: CdrQuery) -> str:
    if q.number:
        return keys.number(q.number)
    if q.extension:
        return keys.extension(q.extension)
    if q.result:
        return keys.result(q.result)
    return keys.time()


def _matches(r: CallRecord, q: CdrQuery) -> bool:
    return (
        (q.number is None or r.external == q.number)
        and (q.extension is None or q.extension in r.extensions)
        and (q.result is None or r.result == q.result)
        and (q.pbx is None or r.pbx == q.pbx)
    )


async def query_records(redis: aioredis.Redis, q: CdrQuery, *, prefix: str = "cb:") -> Page:
    keys = RecordKeys(prefix)
    index = _index(keys, q)
    high: float | str = q.until if q.until is not None else "+inf"
    low: float | str = q.since if q.since is not None else "-inf"
    after: tuple[float, str] | None = None
    if q.cursor:
        at, _, cursor_member = q.cursor.partition(":")
        high, after = float(at), (float(at), cursor_member)
    out: list[CallRecord] = []
    last: tuple[float, str] | None = None
    while len(out) < q.limit:
        raw = await redis.zrevrangebyscore(
            index, high, low, start=0, num=q.limit * 2 + 1, withscores=True
        )
        rows = [(m.decode(), s) for m, s in cast(list[tuple[bytes, float]], raw)]
        if after is not None:
            rows = [(m, s) for m, s in rows if (s, m) < after]
        if not rows:
            return Page(out, None)
        blobs = await redis.mget([keys.record(m) for m, _ in rows])
        for (member, score), blob in zip(rows, blobs, strict=True):
            last = (score, member)
            if blob is not None and _matches(record := decode_record(blob), q):
                out.append(record)
                if len(out) == q.limit:
                    break
        if last is not None:
            high, after = last[0], last
    return Page(out, f"{int(last[0])}:{last[1]}" if last else None)
