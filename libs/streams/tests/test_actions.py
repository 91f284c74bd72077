"""Action request/reply: executed once, replied within the deadline; expired requests are
answered but never run; pending entries are re-read after a crash, never re-run."""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis

from cbstreams import (
    ActionExecutor,
    ActionReply,
    ActionRequest,
    PbxKeys,
    ensure_group,
    request_action,
)
from cbstreams.actions import reply_decoder


class Recorder:
    """An Execute callback that records what it ran and answers Success."""

    def __init__(self) -> None:
        self.ran: list[ActionRequest] = []

    async def __call__(self, request: ActionRequest, left: float) -> ActionReply:
        assert left > 0
        self.ran.append(request)
        return ActionReply(
            id=request.id,
            status="ok",
            response={"Response": "Success"},
            events=[{"Event": "X", "Variable": ["a=1", "b=2"]}],
        )


def _request(keys: PbxKeys, n: int, deadline_ms: int) -> ActionRequest:
    return ActionRequest(
        action="Ping",
        headers={"N": str(n)},
        id=f"req{n}",
        reply=keys.reply(f"req{n}"),
        deadline_ms=deadline_ms,
    )


async def _put(redis: aioredis.Redis, keys: PbxKeys, request: ActionRequest) -> None:
    await redis.execute_command("XADD", keys.actions, "*", *request.entry())  # type: ignore[no-untyped-call]


async def _reply(redis: aioredis.Redis, request: ActionRequest) -> ActionReply:
    got = await redis.blpop([request.reply], timeout=5)
    assert got is not None
    return reply_decoder.decode(got[1])


async def test_a_request_is_executed_once_and_its_reply_returned(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    keys = PbxKeys("main", prefix=redis_prefix)
    ran = Recorder()
    executor = ActionExecutor(redis_client, keys, ran, consumer="c1")
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(executor.run(block_ms=100))
        reply = await request_action(
            redis_client,
            keys,
            "Originate",
            {"Channel": "PJSIP/100", "Variable": ["a=1"]},
            timeout=5,
        )
        task.cancel()
    assert reply.status == "ok"
    assert reply.events == [{"Event": "X", "Variable": ["a=1", "b=2"]}]
    assert [r.action for r in ran.ran] == ["Originate"]
    assert ran.ran[0].headers == {"Channel": "PJSIP/100", "Variable": ["a=1"]}
    assert (await redis_client.xpending(keys.actions, "ami-ingest"))["pending"] == 0


async def test_an_expired_request_is_answered_expired_and_not_executed(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    keys = PbxKeys("main", prefix=redis_prefix)
    ran = Recorder()
    stale = _request(keys, 1, int(time.time() * 1000) - 1)
    await _put(redis_client, keys, stale)
    executor = ActionExecutor(redis_client, keys, ran, consumer="c1")
    assert await executor.run_once(block_ms=100) == 1
    assert (await _reply(redis_client, stale)).status == "expired"
    assert ran.ran == []


async def test_own_pending_requests_are_reread_on_start_before_new_ones(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    keys = PbxKeys("main", prefix=redis_prefix)
    deadline = int(time.time() * 1000) + 30_000
    first, second = _request(keys, 1, deadline), _request(keys, 2, deadline)
    await ensure_group(redis_client, keys.actions, "ami-ingest")
    await _put(redis_client, keys, first)
    # c1 read it and crashed before running it: pending, no marker.
    await redis_client.xreadgroup("ami-ingest", "c1", {keys.actions: ">"})
    await _put(redis_client, keys, second)
    ran = Recorder()
    executor = ActionExecutor(redis_client, keys, ran, consumer="c1")
    await executor.start()
    assert [r.id for r in ran.ran] == ["req1"]
    assert await executor.run_once(block_ms=100) == 1
    assert [r.id for r in ran.ran] == ["req1", "req2"]
    assert (await _reply(redis_client, first)).status == "ok"
    assert (await redis_client.xpending(keys.actions, "ami-ingest"))["pending"] == 0


async def test_a_redelivered_request_that_had_started_is_not_run_again(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    keys = PbxKeys("main", prefix=redis_prefix)
    request = _request(keys, 1, int(time.time() * 1000) + 30_000)
    await ensure_group(redis_client, keys.actions, "ami-ingest")
    await _put(redis_client, keys, request)
    # c0 read it, started running it (marker set) and died: c1 claims it.
    await redis_client.xreadgroup("ami-ingest", "c0", {keys.actions: ">"})
    await redis_client.set(keys.action_marker("req1"), "c0")
    ran = Recorder()
    await ActionExecutor(redis_client, keys, ran, consumer="c1").start()
    assert ran.ran == []
    assert (await _reply(redis_client, request)).status == "unknown"
    assert (await redis_client.xpending(keys.actions, "ami-ingest"))["pending"] == 0


async def test_request_without_executor_times_out(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    import pytest

    from cbstreams import ActionReplyTimeout

    keys = PbxKeys("main", prefix=redis_prefix)
    with pytest.raises(ActionReplyTimeout):
        await request_action(redis_client, keys, "Ping", timeout=0.2)
