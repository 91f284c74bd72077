"""Reading feeds out of Redis Streams with exact resume.

A feed follows one or more streams; its position is a *cursor*: the last entry id seen in
each stream, joined by ``_`` (``1712345678901-0_0-0`` for calls + CRM events). A client that
reconnects with the cursor of the last message it got receives exactly the entries after
it. If entries after that position may have been trimmed (retention) or deleted, a ``gap``
marker comes first, naming where the stream resumes (always after the cursor): the cursor's
own entry is gone and the stream now starts after it, or ``XINFO STREAM`` says an entry after
it was deleted.

:meth:`FeedReader.snapshot` reads the streams' tails and the call-tracker's live calls in one
MULTI/EXEC: the tracker commits its events and its live calls together, so the snapshot is
exactly the state after those tails (an operator's feed resumes from it).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis
import redis.exceptions

from ..errors import ApiError
from ..settings import FeedSettings

__all__ = [
    "Entry",
    "FeedReader",
    "Filter",
    "Gap",
    "Snapshot",
    "Start",
    "ami_filter",
    "format_cursor",
    "id_key",
    "messages",
    "parse_cursor",
]

_ID = re.compile(r"^[0-9]{1,20}-[0-9]{1,20}$")  # ASCII digits only (\d matches any script)
_U64 = 2**64
Entry = tuple[int, str, dict[bytes, bytes]]  # (stream index, entry id, fields)


def id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def parse_cursor(text: str, streams: int) -> list[str]:
    parts = text.split("_")
    if len(parts) != streams or not all(_ID.match(p) and _fits(p) for p in parts):
        raise ApiError(
            422, "invalid-cursor", "Invalid cursor", "pass back the id of the last message seen"
        )
    return parts


def _fits(entry_id: str) -> bool:
    """Both halves of a stream id are unsigned 64-bit numbers in Redis."""
    return all(int(half) < _U64 for half in entry_id.split("-"))


def format_cursor(ids: Sequence[str]) -> str:
    return "_".join(ids)


@dataclass(frozen=True)
class Gap:
    stream: int
    after: str
    resume_from: str


Start = tuple[list[str], list[Gap]]


@dataclass(frozen=True)
class Snapshot:
    ids: list[str]  # each stream's newest entry when it was taken
    live: list[list[bytes]]  # per hash asked for: its values (the live calls, encoded)


class FeedReader:
    def __init__(self, redis: aioredis.Redis, settings: FeedSettings) -> None:
        self._redis = redis
        self.settings = settings

    async def tail(self, stream: str) -> str:
        """The id of the newest entry (``0-0`` for an empty or missing stream)."""
        rows = cast(list[tuple[bytes, Any]], await self._redis.xrevrange(stream, count=1))
        return rows[0][0].decode() if rows else "0-0"

    async def start(self, streams: Sequence[str], since: str | None) -> Start:
        """The positions to read from, and the gaps a resume from ``since`` has to report."""
        if since is None:
            return [await self.tail(s) for s in streams], []
        ids = parse_cursor(since, len(streams))
        gaps = []
        for index, (stream, last) in enumerate(zip(streams, ids, strict=True)):
            gap = await self._gap(stream, last)
            if gap is not None:
                gaps.append(Gap(index, last, gap))
        return ids, gaps

    async def _gap(self, stream: str, last: str) -> str | None:
        """Where the stream resumes if entries after ``last`` may have been trimmed or
        deleted, else None. ``last`` itself still there, or older than nothing, is no gap."""
        try:
            info = {
                _text(k): v
                for k, v in cast(dict[Any, Any], await self._redis.xinfo_stream(stream)).items()
            }
        except redis.exceptions.ResponseError:  # no such stream: nothing was missed
            return None
        first = info.get("first-entry")
        first_id = _text(first[0]) if first else _text(info.get("last-generated-id", "0-0"))
        deleted = _text(info.get("max-deleted-entry-id") or "0-0")
        if last == "0-0":
            lost = int(info.get("entries-added", 0)) > int(info.get("length", 0))
        elif id_key(deleted) > id_key(last):
            lost = True
        else:
            lost = id_key(first_id) > id_key(last) and not await self._redis.xrange(
                stream, min=last, max=last
            )
        if not lost:
            return None
        if id_key(first_id) > id_key(last):
            return first_id
        # an entry after ``last`` was deleted: the stream resumes at the next one still there
        # (or, if none is, after the newest id it ever gave)
        after = cast(
            list[tuple[bytes, Any]],
            await self._redis.xrange(stream, min="(" + last, count=1),
        )
        return after[0][0].decode() if after else _text(info.get("last-generated-id", last))

    async def snapshot(self, streams: Sequence[str], hashes: Sequence[str]) -> Snapshot:
        """The streams' tails and the values of ``hashes``, read in one MULTI/EXEC."""
        async with self._redis.pipeline(transaction=True) as pipe:
            for stream in streams:
                pipe.xrevrange(stream, count=1)
            for key in hashes:
                pipe.hvals(key)
            replies: list[Any] = await pipe.execute()
        ids = [rows[0][0].decode() if rows else "0-0" for rows in replies[: len(streams)]]
        return Snapshot(ids, [list(values) for values in replies[len(streams) :]])

    async def window(
        self, streams: Sequence[str], until: Sequence[str], oldest_ms: int, limit: int
    ) -> list[Entry]:
        """The entries of ``streams`` up to ``until`` (each stream's id) and not older than
        ``oldest_ms``, oldest first, merged in id order; at most the newest ``limit`` of each
        stream: the past a resumed operator feed replays to rebuild its cards."""
        out: list[Entry] = []
        for index, (stream, top) in enumerate(zip(streams, until, strict=True)):
            rows: list[tuple[bytes, dict[bytes, bytes]]] = []
            while len(rows) < limit:
                page = cast(
                    list[tuple[bytes, dict[bytes, bytes]]],
                    await self._redis.xrevrange(
                        stream, max=top, min=f"{oldest_ms}-0", count=min(1000, limit)
                    ),
                )
                rows += page
                if len(page) < min(1000, limit):
                    break
                top = "(" + page[-1][0].decode()
            out += [(index, entry_id.decode(), fields) for entry_id, fields in rows[:limit]]
        out.sort(key=lambda e: id_key(e[1]))
        return out

    async def follow(self, streams: Sequence[str], ids: list[str]) -> AsyncIterator[list[Entry]]:
        """Batches of new entries, forever (empty batches when ``block_ms`` passes idle),
        read after ``ids``: the consumer advances ``ids[i]`` in place as it handles entries."""
        index = {name: i for i, name in enumerate(streams)}
        while True:
            reply = await self._redis.xread(
                dict(zip(streams, ids, strict=True)), count=500, block=self.settings.block_ms
            )
            batch: list[Entry] = []
            for name, rows in cast(
                list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]], reply or []
            ):
                i = index[name.decode()]
                for entry_id, fields in rows:
                    batch.append((i, entry_id.decode(), fields))
            batch.sort(key=lambda e: id_key(e[1]))
            yield batch


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


Filter = Callable[[int, dict[bytes, bytes]], list[dict[str, Any]]]


async def messages(
    reader: FeedReader,
    streams: Sequence[str],
    labels: Sequence[str],
    start: Start,
    keep: Filter,
    first: Sequence[dict[str, Any]] = (),
) -> AsyncIterator[dict[str, Any] | None]:
    """The feed's messages, each with ``id`` = the cursor to resume after it; gap markers
    first, then ``first`` (e.g. an operator's snapshot); None when idle (a keepalive)."""
    ids, gaps = start
    for gap in gaps:
        yield {
            "type": "gap",
            "id": format_cursor(ids),
            "stream": labels[gap.stream],
            "after": gap.after,
            "resume_from": gap.resume_from,
        }
    for message in first:
        yield {**message, "id": format_cursor(ids)}
    async for batch in reader.follow(streams, ids):
        if not batch:
            yield None
        for i, entry_id, fields in batch:
            ids[i] = entry_id
            for message in keep(i, fields):
                message["id"] = format_cursor(ids)
                yield message


def ami_filter(stream: int, fields: dict[bytes, bytes]) -> list[dict[str, Any]]:
    """Raw AMI entries as they are (the authenticated amiws): frame text, event, session."""
    ev = fields.get(b"ev", b"").decode("utf-8", "replace")
    out: dict[str, Any] = {
        "type": "ami",
        "ev": ev,
        "sess": fields.get(b"sess", b"").decode(),
        "raw": fields.get(b"raw", b"").decode("utf-8", "replace"),
    }
    if ev == "callbridge.sync":
        out["type"] = "sync"
        out["snap"] = fields.get(b"snap", b"[]").decode("utf-8", "replace")
    return [out]
