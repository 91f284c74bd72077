"""Actions from cb:{pbx}:actions are executed once on the PBX and answered in time;
expired requests are answered but never sent to the PBX."""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from ami_ingest.testing import SECRET, read_until, running, settings_for, syncs
from amisim import Simulator
from cbstreams import ActionRequest, PbxKeys, request_action
from cbstreams.actions import reply_decoder


async def test_an_originate_request_is_executed_once_and_its_reply_returned(
    redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    keys = PbxKeys("main", prefix=redis_prefix)
    async with (
        Simulator(secret=SECRET, speed=0) as sim,
        running(settings_for(redis_url, redis_prefix, sim)),
    ):
        await read_until(redis_client, keys.ami, lambda e: bool(syncs(e)))
        reply = await request_action(
            redis_client,
            keys,
            "Originate",
            {
                "Channel": "PJSIP/102",
                "Context": "from-internal",
                "Exten": "79031112233",
                "Priority": "1",
                "Async": "true",
                "Variable": ["A=1", "B=2"],
            },
            timeout=10,
        )
        listed = await request_action(redis_client, keys, "CoreShowChannels", timeout=10)
    assert reply.status == "ok"
    assert reply.response is not None
    assert reply.response["Message"] == "Originate successfully queued"
    originates = [a for a in sim.received_actions if a["Action"] == "Originate"]
    assert len(originates) == 1
    assert originates[0].getall("Variable") == ["A=1", "B=2"]
    assert listed.status == "ok"
    assert listed.events[-1]["Event"] == "CoreShowChannelsComplete"


async def test_an_expired_request_is_answered_expired_and_never_reaches_the_pbx(
    redis_url: str, redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    keys = PbxKeys("main", prefix=redis_prefix)
    stale = ActionRequest(
        action="Originate",
        headers={"Channel": "PJSIP/100", "Application": "Wait"},
        id="stale1",
        reply=keys.reply("stale1"),
        deadline_ms=int(time.time() * 1000) - 1,
    )
    await redis_client.execute_command("XADD", keys.actions, "*", *stale.entry())  # type: ignore[no-untyped-call]
    async with (
        Simulator(secret=SECRET, speed=0) as sim,
        running(settings_for(redis_url, redis_prefix, sim)),
    ):
        got = await redis_client.blpop([stale.reply], timeout=10)
        assert got is not None
        assert reply_decoder.decode(got[1]).status == "expired"
    assert not [a for a in sim.received_actions if a["Action"] == "Originate"]
