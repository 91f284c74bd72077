"""The calls stream keeps its retention window: entries older than it are trimmed (MINID)."""

from __future__ import annotations

import redis.asyncio as aioredis

from call_tracker.publisher import CallPublisher
from cbcontracts import CallStarted
from cbstreams import Trimmer


async def test_calls_older_than_the_retention_window_are_trimmed_as_new_ones_are_written(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    stream = f"{redis_prefix}calls"
    await redis_client.xadd(stream, {b"data": b"old"}, id="1000-0")  # 1970: far past
    trimmer = Trimmer(retention_ms=3_600_000, exact=True)
    publisher = CallPublisher(stream, prefix=redis_prefix, trimmer=trimmer)
    event = CallStarted(event_id="main/1-0/0", call_id="1.1", pbx="main", seq=1, at=1)
    async with redis_client.pipeline(transaction=True) as pipe:
        publisher.add(pipe, [event])
        await pipe.execute()
    ids = [row[0] for row in await redis_client.xrange(stream) or []]
    assert len(ids) == 1
    assert ids != [b"1000-0"]  # the old entry is gone, the new one stays
