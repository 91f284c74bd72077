"""crm-sync end to end through Megaplan (the fake Megaplan v3 over HTTP) and the webhook
adapter (a real HTTP receiver on 127.0.0.1), like amoCRM and Bitrix24: call events in on
``cb:calls``, the CRM's records out."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
import redis.asyncio as aioredis

from cbcontracts.crm import CallSynced
from cbcrm.fakes import FakeMegaplan
from cbcrm.rules import ActionPatch, RulesConfig
from cbcrm.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from cbruntime import Secret
from crm_sync.main import CrmSyncService
from crm_sync.remote_settings import MegaplanSyncSettings, RemoteLimits
from crm_sync.settings import CrmSyncSettings, ExecutorSettings, RecordingSettings, WebhookSettings
from crm_sync.testing import CallScript, crm_events, eventually, publish_calls

IVAN, NEW = "+79161234567", "+79990002233"


@pytest.fixture
def base(redis_url: str, redis_prefix: str) -> CrmSyncSettings:
    p = redis_prefix
    return CrmSyncSettings(
        redis_url=redis_url, key_prefix=p, instance="t1", calls_stream=f"{p}calls",
        commands_stream=f"{p}crm:commands", events_stream=f"{p}crm:events", dead_stream=f"{p}dead",
        block_ms=20, executor=ExecutorSettings(backoff_ms=0, retry_every_s=0.01, max_attempts=3),
        recordings=RecordingSettings(base_url="https://cb.test", secret=Secret("rec")),
    )  # fmt: skip


@contextlib.asynccontextmanager
async def running(settings: CrmSyncSettings) -> AsyncIterator[None]:
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(CrmSyncService(settings).run(stop))
        try:
            yield
        finally:
            stop.set()


async def synced(redis: aioredis.Redis, settings: CrmSyncSettings, count: int) -> list[Any]:
    async def enough() -> bool:
        events = await crm_events(redis, settings.events_stream)
        return sum(isinstance(e, CallSynced) for e in events) >= count

    await eventually(enough, within=20)
    return [e for e in await crm_events(redis, settings.events_stream) if isinstance(e, CallSynced)]


def answered(call_id: str, phone: str, operator: str, **ended: Any) -> list[Any]:
    s = CallScript(call_id, phone)
    return [s.started(), s.ringing(operator), s.answered(operator, 2.0),
            s.ended("answered", 47.0, answered_by=operator, extension=operator,
                    rang=(operator,), talk_seconds=45, **ended)]  # fmt: skip


def missed(call_id: str, phone: str, rang: str) -> list[Any]:
    s = CallScript(call_id, phone)
    return [s.started(), s.ringing(rang), s.ended("missed", 20.0, rang=(rang,))]


async def test_megaplan_end_to_end_known_and_new_callers_answered_and_missed(
    redis_client: aioredis.Redis, base: CrmSyncSettings
) -> None:
    async with FakeMegaplan() as mp:
        anna, boris = mp.add_employee("Anna"), mp.add_employee("Boris")
        ivan = mp.add_contractor("Ivan", ["8 (916) 123-45-67"])
        boiler = mp.add_deal("Boiler", ivan)
        settings = dataclasses.replace(base, adapter="megaplan", megaplan=MegaplanSyncSettings(
            base_url=mp.url, username=mp.username, password=Secret(mp.password), program_id="7",
            extensions={anna: "100", boris: "101"},
            limits=RemoteLimits(rate=20, burst=5, retry_base_s=0.01, retry_deadline_s=5)),
            rules=RulesConfig(default_user_id=anna, scenarios={
                "missed_unknown": ActionPatch(create_deal=True)}))  # fmt: skip
        events = [
            *answered("5.1", IVAN, "101", recording_file="5.1.wav"),
            *answered("5.2", NEW, "100"),
            *missed("5.3", "+79990004455", "101"),
        ]
        async with running(settings):
            await publish_calls(redis_client, settings.calls_stream, events)
            done = await synced(redis_client, settings, 3)
        assert sorted(e.call_id for e in done) == ["5.1", "5.2", "5.3"]
        by_deal = {c["deal"]: c for c in mp.comments}
        assert len(mp.comments) == 3  # each call once
        known = by_deal[boiler]  # the known caller's open deal
        assert "https://cb.test/v1/recordings/5.1?expires=" in known["content"]
        assert known["workTime"]["value"] == 45
        new_deals = [d for d in mp.deals.values() if d["id"] != boiler]
        assert len(new_deals) == 2  # one each for the two new callers
        assert {d["program"]["id"] for d in new_deals} == {"7"}
        assert all(d["id"] in by_deal for d in new_deals)
        assert len(mp.contractors) == 3
        [task] = mp.tasks  # the missed call's
        assert "+79990004455" in str(task)


class Receiver:
    """An HTTP/1.1 endpoint on 127.0.0.1 recording every request (headers, body)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")
        headers = {k.lower(): v for k, _, v in (h.partition(": ") for h in head[1:] if h)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append((headers, body))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()


async def test_webhook_end_to_end_signed_events_for_a_new_callers_call(
    redis_client: aioredis.Redis, base: CrmSyncSettings
) -> None:
    rcv = Receiver()
    server = await asyncio.start_server(rcv.handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
    settings = dataclasses.replace(base, adapter="webhook", webhook=WebhookSettings(
        urls=[url], secret=Secret("hook-secret"), attempts=3, timeout_s=2.0),
        rules=RulesConfig(default_user_id="1"))  # fmt: skip
    async with server, running(settings):
        await publish_calls(redis_client, settings.calls_stream,
                            [*answered("6.1", NEW, "100", recording_file="6.1.wav"),
                             *missed("6.2", NEW, "101")])  # fmt: skip
        await synced(redis_client, settings, 2)
    bodies = []
    for headers, body in rcv.requests:
        assert verify("hook-secret", body, headers[TIMESTAMP_HEADER.lower()],
                      headers[SIGNATURE_HEADER.lower()])  # fmt: skip
        bodies.append(msgspec.json.decode(body))
    calls = [b["data"] for b in bodies if b["data"].get("call_id")]
    assert sorted(c["call_id"] for c in calls) == ["6.1", "6.2"]  # each call once
    talk = next(c for c in calls if c["call_id"] == "6.1")
    assert (talk["duration_s"], talk["extension"]) == (45, "100")
    assert talk["recording_url"].startswith("https://cb.test/v1/recordings/6.1?expires=")
    kinds = sorted(b["type"] for b in bodies)
    assert kinds.count("task.create") == 1, kinds  # the missed call's task
    assert len({b["key"] for b in bodies}) == len(bodies)  # one delivery per key
