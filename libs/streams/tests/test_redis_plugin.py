"""The Redis test plugin gives a live server and a per-test prefix."""

import redis.asyncio as aioredis


async def test_redis_fixture_answers_ping_and_prefixes_are_unique(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    assert await redis_client.ping()
    await redis_client.set(f"{redis_prefix}k", b"v")
    assert await redis_client.get(f"{redis_prefix}k") == b"v"
    assert redis_prefix.endswith(":")
