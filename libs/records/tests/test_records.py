"""cbrecords against real Redis: records written through the writer come back by id, by
window and by query; the live-call view is set and dropped; record diffs are field-level."""

from __future__ import annotations

import msgspec
import redis.asyncio as aioredis
from hypothesis import given
from hypothesis import strategies as st

from cbcontracts import CallRecord
from cbrecords import CdrQuery, LiveCall, RecordStore, RecordWriter, diff_records


def record(call_id: str, started_at: int, **kw: object) -> CallRecord:
    base: dict[str, object] = {"call_id": call_id, "pbx": "main", "direction": "inbound",
                               "result": "answered", "started_at": started_at,
                               "ended_at": started_at + 5_000_000, "external": "79161234567",
                               "rang": ("100",), "answered_by": "100"}  # fmt: skip
    return CallRecord(**{**base, **kw})  # type: ignore[arg-type]


async def test_records_come_back_by_id_window_and_query(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    writer = RecordWriter(redis_prefix)
    records = [record(f"1.{i}", 1_800_000_000_000_000 + i * 1_000_000) for i in range(5)]
    records.append(record("1.9", 1_800_000_100_000_000, result="missed", answered_by=""))
    async with redis_client.pipeline(transaction=True) as pipe:
        for r in records:
            writer.add_record(pipe, r)
        await pipe.execute()
    store = RecordStore(redis_client, redis_prefix)
    assert await store.get("main", "1.3") == records[3]
    assert await store.get("main", "nope") is None
    window = await store.window("main", records[1].started_at, records[3].started_at)
    assert [r.call_id for r in window] == ["1.1", "1.2", "1.3"]
    page = await store.query(CdrQuery(result="missed"))
    assert [r.call_id for r in page.records] == ["1.9"]
    assert await store.window("other", 0, 2**62) == []


async def test_the_live_view_is_set_and_dropped(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    writer = RecordWriter(redis_prefix)
    live = LiveCall(call_id="2.1", pbx="main", direction="inbound", started_at=1,
                    extensions=("100", "101"), ringing=("101",))  # fmt: skip
    async with redis_client.pipeline(transaction=True) as pipe:
        writer.set_live(pipe, "main", {"2.1": live})
        await pipe.execute()
    store = RecordStore(redis_client, redis_prefix)
    assert await store.live("main", "2.1") == live
    assert await store.is_live("main", "2.1")
    assert await store.live_calls("main") == [live]
    async with redis_client.pipeline(transaction=True) as pipe:
        writer.drop_live(pipe, "main", ["2.1"])
        await pipe.execute()
    assert await store.live("main", "2.1") is None
    assert not await store.is_live("main", "2.1")


def test_a_diff_names_each_changed_field_and_calls_on_one_side() -> None:
    a = record("3.1", 10)
    b = msgspec.structs.replace(a, result="missed", answered_by="")
    diffs = diff_records([a, record("3.2", 20)], [b, record("3.3", 30)], ignore=frozenset())
    assert [(d.call_id, d.field, d.stored, d.replayed) for d in diffs] == [
        ("3.1", "result", "answered", "missed"),
        ("3.1", "answered_by", "100", ""),
        ("3.2", "*", "present", None),
        ("3.3", "*", None, "present"),
    ]


@given(st.lists(st.sampled_from(["answered", "missed", "busy"]), min_size=1, max_size=8))
def test_records_equal_to_themselves_never_differ(results: list[str]) -> None:
    records = [record(f"4.{i}", i, result=r) for i, r in enumerate(results)]
    assert diff_records(records, list(reversed(records))) == []
