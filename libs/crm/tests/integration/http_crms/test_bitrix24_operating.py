"""Bitrix24's per-method operating budget (480 s of execution per method per 10 minutes)
through the fake portal over real HTTP and real Redis: a method near its budget is held back
before the portal refuses it while other methods go on; a budget spent by another application
gives 429 → a transient error that waits exactly until ``operating_reset_at``; ``batch``
commands count toward their own methods. The fake's clock is advanced, never waited for."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from cbcrm.adapter import CallLog
from cbcrm.bitrix24 import OperatingTracker
from cbcrm.exceptions import CrmTransientError
from cbcrm.fakes import FakeBitrix24

from .conftest import MakeB24

REGISTER = "telephony.externalCall.register"
FINISH = "telephony.externalCall.finish"


def call(user: int, n: int) -> CallLog:
    return CallLog(
        call_id=f"op-{n}",
        direction="inbound",
        phone="+79161234567",
        started_at=1_700_000_000 + n,
        duration_s=5,
        user_id=str(user),
    )


def statuses(b24: FakeBitrix24) -> list[int]:
    return [r.status for r in b24.requests if r.path.startswith("/rest/")]


def tracker(b24: FakeBitrix24, redis_client: aioredis.Redis, prefix: str) -> OperatingTracker:
    return OperatingTracker(redis_client, f"{prefix}b24:operating", clock=b24.operating.now)


async def test_a_method_near_its_budget_is_held_until_its_reset_while_others_go_through(
    b24: FakeBitrix24, make_b24: MakeB24, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    anna = b24.state.add_user("Anna", "101")
    b24.state.add_entity("contacts", "Ivan", ["+79161234567"])
    b24.operating.set_cost(REGISTER, 20.0)  # 19 calls: 380 s (79 %); the 20th: 400 s (83 %)
    first, second = await make_b24(), await make_b24()

    for n in range(20):
        await (first if n % 2 else second).log_call(call(anna, n), key=f"op-{n}:log")
    assert b24.operating.operating(REGISTER) == pytest.approx(400.0)
    sent = len(b24.requests)

    with pytest.raises(CrmTransientError) as held:  # the other replica knows it too (Redis)
        await second.log_call(call(anna, 20), key="op-20:log")
    wait = b24.operating.reset_at(REGISTER) - b24.operating.now()
    assert held.value.retry_after == pytest.approx(wait, abs=1.0)
    assert 400 < held.value.retry_after <= 600  # until the reset, not a generic 10 s
    assert len(b24.requests) == sent  # held here: nothing was sent

    lookup = await first.lookup("+79161234567")  # other methods are not held
    assert [e.name for e in lookup.entities] == ["Ivan"]
    assert 429 not in statuses(b24)

    b24.operating.advance(held.value.retry_after + 1)
    assert await second.log_call(call(anna, 20), key="op-20:log")
    assert len(b24.state.finished) == 21
    assert 429 not in statuses(b24)


async def test_a_budget_spent_by_another_app_gives_429_then_succeeds_after_the_reset(
    b24: FakeBitrix24, make_b24: MakeB24, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    anna = b24.state.add_user("Anna", "101")
    adapter = await make_b24()
    await adapter.log_call(call(anna, 0), key="op-0:log")
    b24.operating.advance(120)  # the other application's time lands two minutes later
    b24.operating.preload("telephony.externalcall.show", 480.0)

    with pytest.raises(CrmTransientError) as refused:
        await adapter.card_show("op-0", [str(anna)])
    reset_at = b24.operating.reset_at("telephony.externalCall.show")
    assert refused.value.status == 429
    assert "OPERATION_TIME_LIMIT" in str(refused.value)
    assert refused.value.retry_after == pytest.approx(reset_at - b24.operating.now(), abs=1.0)
    assert refused.value.retry_after > 500  # until the reset, not a generic 10 s
    assert statuses(b24).count(429) == 1  # not hammered in the meantime
    operating, known_reset = await tracker(b24, redis_client, redis_prefix).figures(
        "telephony.externalCall.show"
    )
    assert (operating, known_reset) == (480.0, reset_at)

    with pytest.raises(CrmTransientError):  # held by every replica now, without a request
        await (await make_b24()).card_show("op-0", [str(anna)])
    assert statuses(b24).count(429) == 1
    await adapter.log_call(call(anna, 1), key="op-1:log")  # other methods go on

    b24.operating.advance(refused.value.retry_after + 1)
    await adapter.card_show("op-0", [str(anna)])
    assert statuses(b24)[-1] == 200
    assert statuses(b24).count(429) == 1


async def test_batch_commands_count_toward_their_own_methods_and_hold_the_next_batch(
    b24: FakeBitrix24, make_b24: MakeB24, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    for n in range(4):
        b24.state.add_entity("contacts", f"Client {n}", ["+79161234567"])
    b24.operating.set_cost("crm.contact.get", 100.0)
    adapter = await make_b24()

    lookup = await adapter.lookup("+79161234567")

    assert len(lookup.entities) == 4
    batch = [r for r in b24.requests if r.path == "/rest/batch.json"][-1]
    assert batch.status == 200
    assert b24.operating.operating("crm.contact.get") == pytest.approx(400.0)
    assert b24.operating.operating("batch") == pytest.approx(0.05)
    track = tracker(b24, redis_client, redis_prefix)
    operating, _ = await track.figures("crm.contact.get")
    assert 100.0 <= operating <= 400.0  # per command, from result_time
    assert (await track.figures("crm.duplicate.findbycomm"))[0] == pytest.approx(0.05)

    with pytest.raises(CrmTransientError) as held:
        await adapter.lookup("+79161234567")  # findbycomm goes; the batch is held
    assert held.value.retry_after > 500
    assert 429 not in statuses(b24)
