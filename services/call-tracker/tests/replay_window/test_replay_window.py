"""``replay_window``: a window of the raw stream through the current reducer into a scratch
prefix equals the live run on every fixture and capture; a changed rule shows in the diff;
live keys are never written."""

from __future__ import annotations

import msgspec
import pytest
import redis.asyncio as aioredis

from call_tracker.reducer import RawEntry, reduce
from call_tracker.reducer.model import TrackerState
from call_tracker.window import Window, replay_window
from cbcontracts import CallEnded, CallEvent

from .support import TOPOLOGY, capture_names, entries_of, fixture_names, live_run

CASES = [("fixture", n) for n in fixture_names()] + [("capture", n) for n in capture_names()]


async def _keys(redis: aioredis.Redis, prefix: str) -> dict[bytes, bytes | None]:
    """Every key under the prefix with its value (DUMP)."""
    out = {}
    async for key in redis.scan_iter(match=prefix + "*", count=1000):
        out[key] = await redis.dump(key)
    return out


@pytest.mark.parametrize(("kind", "name"), CASES, ids=[f"{k}:{n}" for k, n in CASES])
async def test_a_replay_of_the_whole_window_equals_the_live_run(
    redis_client: aioredis.Redis, redis_prefix: str, kind: str, name: str
) -> None:
    await live_run(redis_client, redis_prefix, entries_of(kind, name))
    before = await _keys(redis_client, redis_prefix)
    result = await replay_window(redis_client, TOPOLOGY, Window(), prefix=redis_prefix)
    assert result.diffs == []
    assert [r.call_id for r in result.replayed] == [r.call_id for r in result.stored]
    if name != "registration":
        assert result.stored, "the live run made records"
    assert result.partial == []
    assert result.open == []
    assert await _keys(redis_client, redis_prefix) == before, "live keys untouched, scratch gone"


async def test_one_call_of_a_stream_of_many_is_replayed_on_its_own(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    entries = [*entries_of("fixture", "sync_outage"), *_shifted(entries_of("fixture", "hold"))]
    await live_run(redis_client, redis_prefix, entries)
    everything = await replay_window(redis_client, TOPOLOGY, Window(), prefix=redis_prefix)
    assert len(everything.stored) >= 2
    assert everything.diffs == []
    one = everything.stored[-1]
    result = await replay_window(
        redis_client, TOPOLOGY, Window(call_id=one.call_id), prefix=redis_prefix
    )
    assert [r.call_id for r in result.stored] == [one.call_id]
    assert result.replayed == result.stored
    assert result.diffs == []


def _busy_is_missed(state: TrackerState, entry: RawEntry) -> tuple[TrackerState, list[CallEvent]]:
    """A test-only rule change: a busy call ends as missed."""
    state, events = reduce(state, entry)
    return state, [
        msgspec.structs.replace(e, result="missed")
        if isinstance(e, CallEnded) and e.result == "busy"
        else e
        for e in events
    ]


def _shifted(entries: list[RawEntry], by_us: int = 3_600_000_000) -> list[RawEntry]:
    return [e._replace(rx=e.rx + by_us) for e in entries]


async def test_a_changed_reducer_rule_shows_in_the_diff(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    busy = entries_of("fixture", "inbound_busy")
    await live_run(redis_client, redis_prefix, [*entries_of("fixture", "inbound_answered"),
                                                *_shifted(busy)])  # fmt: skip
    result = await replay_window(
        redis_client, TOPOLOGY, Window(), prefix=redis_prefix, reducer=_busy_is_missed
    )
    busy_call = next(r for r in result.stored if r.result == "busy")
    assert [(d.call_id, d.field, d.stored, d.replayed) for d in result.diffs] == [
        (busy_call.call_id, "result", "busy", "missed")
    ]


async def test_a_time_window_compares_only_the_calls_that_started_in_it(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    first, second = entries_of("fixture", "inbound_answered"), entries_of("fixture", "outbound")
    await live_run(redis_client, redis_prefix, [*first, *_shifted(second)])
    since = _shifted(second)[0].rx
    result = await replay_window(redis_client, TOPOLOGY, Window(since=since), prefix=redis_prefix)
    assert [r.direction for r in result.stored] == ["outbound"]
    assert result.diffs == []
