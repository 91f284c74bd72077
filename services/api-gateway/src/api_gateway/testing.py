"""Test helpers (as ``ami_ingest.testing``): settings for a test's Redis prefix, the app served
by a real uvicorn on 127.0.0.1 port 0, call events and live calls written as the call-tracker
writes them."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any, Literal

import redis.asyncio as aioredis
from fastapi import FastAPI

from cbcontracts import CallEnded, CallEvent, encode_event, record_from_ended
from cbrecords import LiveCall, RecordWriter
from cbruntime import listen_socket
from cbstreams.fields import F_DATA
from cbstreams.publisher import queue_entries

from .server import make_server
from .settings import (
    CrmSettings,
    FeedSettings,
    GatewaySettings,
    OriginateSettings,
    TenantSettings,
)

__all__ = ["publish_events", "publish_live", "serving", "settings_for"]


def settings_for(redis_url: str, prefix: str, **over: Any) -> GatewaySettings:
    """Tenants ``acme`` (PBX ``main``) and ``globex`` (PBX ``other``), every key under
    ``prefix``, a short feed block, a 3 s action deadline and a small deny-list; the CRM is
    acme's."""
    base = GatewaySettings(
        redis_url=redis_url,
        key_prefix=prefix,
        tenants={"acme": TenantSettings(pbx=["main"]), "globex": TenantSettings(pbx=["other"])},
        originate=OriginateSettings(action_timeout_s=3.0, deny_prefixes=["900", "+882", "0088"]),
        feeds=FeedSettings(
            calls_stream=f"{prefix}calls", crm_stream=f"{prefix}crm:events", block_ms=200
        ),
        crm=CrmSettings(commands_stream=f"{prefix}crm:commands", tenant="acme"),
    )
    return replace(base, **over)


async def publish_events(
    redis: aioredis.Redis, settings: GatewaySettings, events: list[CallEvent]
) -> list[str]:
    """Write call events as the call-tracker does (the ``cb:calls`` entries, and the call
    record with its indexes for a ``call.ended``, through ``cbrecords``); the entry ids."""
    records = RecordWriter(settings.key_prefix)
    async with redis.pipeline(transaction=True) as pipe:
        entries = [(F_DATA, encode_event(event)) for event in events]
        queue_entries(pipe, settings.feeds.calls_stream, entries)
        for event in events:
            if isinstance(event, CallEnded):
                records.add_record(pipe, record_from_ended(event))
        replies = await pipe.execute()
    return [r.decode() for r in replies if isinstance(r, bytes)]


async def publish_live(
    redis: aioredis.Redis, settings: GatewaySettings, calls: list[LiveCall]
) -> None:
    """Calls in progress, in the live-call view the call-tracker keeps (``cbrecords``)."""
    records = RecordWriter(settings.key_prefix)
    async with redis.pipeline(transaction=True) as pipe:
        for call in calls:
            records.set_live(pipe, call.pbx, {call.call_id: call})
        await pipe.execute()


@contextlib.asynccontextmanager
async def serving(app: FastAPI, timeout_s: float = 10.0) -> AsyncIterator[str]:
    """``app`` served by uvicorn on 127.0.0.1, any free port; yields its base URL."""
    lifespan: Literal["on", "off"] = "off" if hasattr(app.state, "services") else "on"
    server = make_server(app, lifespan=lifespan, grace_s=1)
    sock = listen_socket("127.0.0.1", 0)
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(server.serve(sockets=[sock]))
        end = time.monotonic() + timeout_s
        while not server.started:
            assert not task.done(), "uvicorn stopped"  # noqa: S101
            assert time.monotonic() < end, "uvicorn did not start"  # noqa: S101
            await asyncio.sleep(0.01)
        try:
            yield f"http://127.0.0.1:{sock.getsockname()[1]}"
        finally:
            server.should_exit = True
    sock.close()
