"""Feeds scale past redis-py's default pool of 100 connections, and never starve the API:
every connected feed client waits in its own XREAD BLOCK on the feeds' own pool."""

from __future__ import annotations

import asyncio

from api_gateway.services.feeds import FeedReader
from api_gateway.state import open_services
from api_gateway.testing import settings_for

SUBSCRIBERS = 150  # more than redis-py's default pool of 100


async def _first_entry(reader: FeedReader, stream: str, ready: asyncio.Event) -> str:
    ids = ["0-0"]
    follow = reader.follow([stream], ids)
    ready.set()
    async for batch in follow:
        if batch:
            return batch[0][1]
    raise AssertionError("feed ended")


async def test_a_hundred_and_fifty_waiting_feeds_all_get_the_next_entry_and_api_calls_still_work(
    redis_url: str, redis_prefix: str
) -> None:
    settings = settings_for(redis_url, redis_prefix)
    stream = settings.feeds.calls_stream
    async with open_services(settings) as services:
        readies = [asyncio.Event() for _ in range(SUBSCRIBERS)]
        async with asyncio.TaskGroup() as tg:
            tasks = [
                tg.create_task(_first_entry(services.feeds, stream, ready)) for ready in readies
            ]
            await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 10)
            # the API's own pool is free while every feed waits in XREAD BLOCK
            assert await asyncio.wait_for(services.redis.ping(), 5)
            added = await services.redis.xadd(stream, {b"data": b"x"})
            entry = added.decode() if isinstance(added, bytes) else added
            results = await asyncio.wait_for(asyncio.gather(*tasks), 20)
        assert results == [entry] * SUBSCRIBERS
        await services.redis.delete(stream)
