"""The dead-letter stream: add, list, re-drive exactly the original entry, drop."""

from __future__ import annotations

import redis.asyncio as aioredis

from cbstreams.deadletter import DeadLetters, dead_key


async def test_a_dead_entry_keeps_its_origin_error_attempts_and_exact_payload(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    dead = DeadLetters(redis_client, dead_key(redis_prefix))
    fields = {b"data": b'{"type":"x"}', b"bin": bytes(range(256))}
    await dead.add(f"{redis_prefix}cmds", b"1-1", fields, "422 rejected", 3, group="exec")
    [entry] = await dead.list()
    assert (entry.stream, entry.id, entry.group, entry.error, entry.attempts) == (
        f"{redis_prefix}cmds", "1-1", "exec", "422 rejected", 3)  # fmt: skip
    assert entry.payload == fields


async def test_a_redrive_appends_the_original_entry_again_and_removes_the_dead_one(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    dead = DeadLetters(redis_client, dead_key(redis_prefix))
    stream = f"{redis_prefix}cmds"
    await dead.add(stream, "5-0", {b"data": b"payload"}, "boom", 1)
    [entry] = await dead.list()
    new_id = await dead.redrive(entry.dead_id)
    assert new_id is not None
    assert await redis_client.xrange(stream) == [(new_id, {b"data": b"payload"})]
    assert await dead.list() == []
    assert await dead.redrive(entry.dead_id) is None


async def test_listing_pages_after_an_id_and_drop_removes(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    dead = DeadLetters(redis_client, dead_key(redis_prefix))
    for i in range(3):
        await dead.add("s", f"{i}-0", {b"n": str(i).encode()}, "e", 1)
    first, *rest = await dead.list()
    assert [e.id for e in await dead.list(after=first.dead_id)] == [e.id for e in rest]
    assert await dead.drop(first.dead_id)
    assert len(await dead.list()) == 2
