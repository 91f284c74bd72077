"""A burst: 1,000 calls ending together are each logged exactly once in the fake amoCRM and the
fake Bitrix24 by two replicas each, and neither fake ever receives more than its limit
(measured from the fakes' own arrival times)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import pytest

from cbcrm.adapter import CallLog, CrmAdapter
from cbcrm.fakes import FakeAmoCrm, FakeBitrix24, max_in_window, max_leaky_level

from .conftest import MakeAmo, MakeB24

log = logging.getLogger(__name__)
CALLS = 1000
PHONES = [f"+7916{n:07d}" for n in range(50)]


def burst(user_ids: list[int]) -> list[CallLog]:
    return [
        CallLog(
            call_id=f"burst-{n}",
            direction="inbound" if n % 3 else "outbound",
            phone=PHONES[n % len(PHONES)],
            started_at=1_700_000_000 + n,
            duration_s=n % 120,
            result="answered" if n % 120 else "missed",
            user_id=str(user_ids[n % len(user_ids)]),
            recording_url=f"https://cb.example/r/burst-{n}?sig=x" if n % 2 else "",
        )
        for n in range(CALLS)
    ]


async def log_all(adapters: Sequence[CrmAdapter], calls: list[CallLog]) -> float:
    """Every call handed at once to the replicas, alternately."""

    async def log(n: int, call: CallLog) -> None:
        await adapters[n % len(adapters)].log_call(call, key=f"{call.call_id}:log")

    started = time.monotonic()
    async with asyncio.TaskGroup() as tg:
        for n, call in enumerate(calls):
            tg.create_task(log(n, call))
    return time.monotonic() - started


@pytest.mark.timeout(120)
async def test_a_thousand_calls_are_logged_once_each_in_amocrm_within_seven_requests_a_second(
    amo: FakeAmoCrm, make_amo: MakeAmo
) -> None:
    users = [amo.state.add_user(f"Operator {n}") for n in range(5)]
    for phone in PHONES:
        amo.state.add_contact(f"Client {phone}", [phone])
    replicas = [await make_amo(), await make_amo()]

    took = await log_all(replicas, burst(users))

    uniqs = [c["uniq"] for c in amo.state.calls]
    assert len(uniqs) == len(set(uniqs)) == CALLS
    arrivals = [r.at for r in amo.requests]
    peak = max_in_window(arrivals, 1.0)
    log.info("%s=%s", "amocrm_peak_requests_per_s", peak)
    log.info("%s=%s", "amocrm_requests", len(arrivals))
    log.info("%s=%s", "amocrm_seconds", round(took, 2))
    assert peak <= 7
    assert amo.record_count("/api/v4/calls", status=429) == 0
    assert took < 30


@pytest.mark.timeout(120)
async def test_a_thousand_calls_are_logged_once_each_in_bitrix24_within_its_leaky_bucket(
    b24: FakeBitrix24, make_b24: MakeB24
) -> None:
    users = [b24.state.add_user(f"Operator {n}", str(100 + n)) for n in range(5)]
    replicas = [await make_b24(), await make_b24()]

    took = await log_all(replicas, burst(users))

    external = [r["EXTERNAL_CALL_ID"] for r in b24.state.finished]
    assert len(external) == len(set(external)) == CALLS
    recorded = sum(1 for c in b24.state.calls.values() if c["records"])
    assert recorded == CALLS // 2
    arrivals = [r.at for r in b24.requests if r.path.startswith("/rest/")]
    level = max_leaky_level(arrivals, rate=2.0)
    log.info("%s=%s", "bitrix24_peak_bucket_level", round(level, 2))
    log.info("%s=%s", "bitrix24_peak_requests_per_s", max_in_window(arrivals, 1.0))
    log.info("%s=%s", "bitrix24_requests", len(arrivals))
    log.info("%s=%s", "bitrix24_seconds", round(took, 2))
    assert level <= 50
    assert not [r for r in b24.requests if r.status == 503]
    assert took < 40
