"""amoCRM under faults: 429 storms, 500s, an outage — retried within the rate limit."""

from __future__ import annotations

import httpx
import pytest

from cbcrm.adapter import CallLog
from cbcrm.exceptions import CrmTransientError
from cbcrm.fakes import FakeAmoCrm, max_in_window
from cbcrm.remote import RetryPolicy

from .conftest import MakeAmo


def ivan_call(call_id: str) -> CallLog:
    return CallLog(
        call_id=call_id, direction="inbound", phone="+79161234567", started_at=1, duration_s=5
    )


async def test_a_429_storm_is_ridden_out_without_ever_exceeding_seven_requests_a_second(
    amo: FakeAmoCrm, make_amo: MakeAmo
) -> None:
    amo.state.add_contact("Ivan", ["+79161234567"])
    adapter = await make_amo(retry=RetryPolicy(attempts=10, base=0.01, cap=0.2))
    amo.faults.fail(6, status=429)

    for n in range(5):
        await adapter.log_call(ivan_call(f"s{n}"), key=f"s{n}")

    assert amo.record_count("/api/v4/calls", status=429) == 6
    assert len(amo.state.calls) == 5
    assert max_in_window([r.at for r in amo.requests]) <= 7


async def test_a_few_500s_are_retried_and_the_call_is_logged_once(
    amo: FakeAmoCrm, make_amo: MakeAmo
) -> None:
    amo.state.add_contact("Ivan", ["+79161234567"])
    adapter = await make_amo()
    amo.faults.fail(2, status=500)

    await adapter.log_call(ivan_call("f1"), key="f1")

    assert [r.status for r in amo.requests if r.path == "/api/v4/calls"] == [500, 500, 200]
    assert [c["uniq"] for c in amo.state.calls] == ["f1"]


async def test_500s_that_outlast_the_retries_surface_as_a_transient_error(
    amo: FakeAmoCrm, make_amo: MakeAmo
) -> None:
    adapter = await make_amo(retry=RetryPolicy(attempts=3, base=0.01, cap=0.05))
    amo.faults.fail(100, status=502)

    with pytest.raises(CrmTransientError) as failed:
        await adapter.log_call(ivan_call("f2"), key="f2")

    assert failed.value.status == 502
    assert amo.record_count("/api/v4/calls") == 3


async def test_an_outage_is_transient_and_after_recovery_the_call_is_logged_exactly_once(
    amo: FakeAmoCrm, make_amo: MakeAmo
) -> None:
    amo.state.add_contact("Ivan", ["+79161234567"])
    adapter = await make_amo(retry=RetryPolicy(attempts=3, base=0.01, cap=0.05))
    await adapter.lookup("+79161234567")  # a pooled connection that the outage will cut
    await amo.stop()

    with pytest.raises(CrmTransientError, match="unreachable"):
        await adapter.log_call(ivan_call("o1"), key="o1")
    await amo.start()
    await adapter.log_call(ivan_call("o1"), key="o1")  # the command, redelivered
    await adapter.log_call(ivan_call("o1"), key="o1")

    assert [c["uniq"] for c in amo.state.calls] == ["o1"]


async def test_a_client_that_ignores_the_limit_is_refused_with_429_and_then_blocked(
    amo: FakeAmoCrm,
) -> None:
    amo.block_after, amo.block_for = 5, 60.0
    async with httpx.AsyncClient(base_url=amo.url) as raw:
        statuses = [(await raw.get("/api/v4/users")).status_code for _ in range(20)]

    assert statuses[:7] == [401] * 7
    assert statuses[7:12] == [429] * 5
    assert set(statuses[12:]) == {403}
