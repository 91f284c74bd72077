"""Re-driving finished calls to the CRM (after a CRM outage or a rule change): each call's
events are read back from the calls stream and planned again by the planner's own code
(:meth:`Planner.handle`: the answer/transfer legs, then ``call.ended`` -> ``crm.sync_call``),
so each command has the same idempotency key ``{event_id}/sync`` as the first time.

A command whose key is already done (``cb:crm:done:{key}``) is not published again: the call
is reported as already in the CRM. Otherwise the command goes to the commands stream for the
executors (which, like the adapters, skip a key done meanwhile: nothing is written twice),
and dead letters holding the same command are dropped (they would re-drive a duplicate).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal, cast

import msgspec
import redis.asyncio as aioredis

from cbcontracts import CallAnswered, CallEnded, CallTransferred
from cbcontracts.crm import SyncCall
from cbrecords import RecordStore
from cbstreams.deadletter import DeadLetters
from cbstreams.fields import F_DATA

from .planner import Planner
from .publisher import CrmPublisher

__all__ = ["Redriven", "redrive_calls"]

Outcome = Literal["replanned", "already_in_crm", "not_finished", "no_record", "not_for_crm"]


@dataclass(frozen=True)
class Redriven:
    pbx: str
    call_id: str
    outcome: Outcome
    key: str = ""
    detail: str = ""


async def redrive_calls(
    redis: aioredis.Redis,
    planner: Planner,
    publisher: CrmPublisher,
    calls: list[tuple[str, str]],
    *,
    prefix: str = "cb:",
    calls_stream: str = "cb:calls",
    dead_stream: str = "cb:dead",
) -> list[Redriven]:
    """Re-plan the CRM commands of ``calls`` ((pbx, call_id) pairs); one result each."""
    records = RecordStore(redis, prefix)
    out: list[Redriven] = []
    planned: list[SyncCall] = []
    for pbx, call_id in calls:
        record = await records.get(pbx, call_id)
        if record is None:
            out.append(Redriven(pbx, call_id, "no_record"))
            continue
        events = await records.timeline(calls_stream, pbx, call_id, record.started_at)
        ended = next((e for e in events if isinstance(e, CallEnded)), None)
        if ended is None:
            out.append(Redriven(pbx, call_id, "not_finished", detail="no call.ended in "
                                f"{calls_stream} (trimmed?)"))  # fmt: skip
            continue
        for event in events:  # who talked when, as the planner first saw it (idempotent)
            if isinstance(event, CallAnswered | CallTransferred):
                await planner.handle(event)
        commands = [c for c in await planner.handle(ended) if isinstance(c, SyncCall)]
        if not commands:
            out.append(Redriven(pbx, call_id, "not_for_crm", detail="no outside number"))
            continue
        command = commands[0]
        done = cast(bytes | None, await redis.get(f"{prefix}crm:done:{command.key}"))
        if done is not None:
            out.append(Redriven(pbx, call_id, "already_in_crm", command.key,
                                done.decode(errors="replace")))  # fmt: skip
            continue
        planned.append(command)
        out.append(Redriven(pbx, call_id, "replanned", command.key))
    if planned:
        await publisher.commands(planned)
        await _drop_dead(redis, dead_stream, {c.key for c in planned})
    return out


async def _drop_dead(redis: aioredis.Redis, dead_stream: str, keys: set[str]) -> None:
    letters = DeadLetters(redis, dead_stream)
    after = "-"
    while True:
        batch = await letters.list(500, after)
        for entry in batch:
            try:
                body = json.loads(entry.payload.get(F_DATA, b"{}"))
            except (ValueError, msgspec.DecodeError):
                continue
            if isinstance(body, dict) and body.get("key") in keys:
                await letters.drop(entry.dead_id)
        if len(batch) < 500:
            return
        after = batch[-1].dead_id
