"""The coalescer's blast radius: a bulk request refused for one bad item is split until the
bad items stand alone; every good item is done exactly once, each bad one gets its error."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from cbcrm.exceptions import CrmPermanentError, CrmTransientError
from cbcrm.remote import Coalescer


class Crm:
    """A bulk endpoint that refuses a whole request if any item is bad (amoCRM's 400)."""

    def __init__(self, bad: set[int], flaky: set[int] = frozenset()) -> None:  # type: ignore[assignment]
        self.bad, self.flaky = bad, set(flaky)
        self.done: list[int] = []
        self.requests = 0

    async def send(self, items: Sequence[int]) -> list[int]:
        self.requests += 1
        await asyncio.sleep(0)
        if self.bad & set(items):
            raise CrmPermanentError("amocrm: HTTP 400 Request validation failed", status=400)
        if self.flaky & set(items):
            self.flaky -= set(items)
            raise CrmTransientError("amocrm: HTTP 503", status=503)
        self.done += items
        return [i * 10 for i in items]


async def submit_all(crm: Crm, n: int, max_items: int) -> list[int | BaseException]:
    coalescer: Coalescer[int, int] = Coalescer(crm.send, max_items=max_items)

    async def one(i: int) -> int | BaseException:
        try:
            return await coalescer.submit(i)
        except Exception as exc:
            return exc

    return list(await asyncio.gather(*(one(i) for i in range(n))))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 60), max_items=st.integers(1, 50), data=st.data())
def test_bad_items_fail_alone_and_good_ones_are_done_once(
    n: int, max_items: int, data: st.DataObject
) -> None:
    bad = set(data.draw(st.lists(st.integers(0, n - 1), max_size=4)))
    crm = Crm(bad)
    results = asyncio.run(submit_all(crm, n, max_items))
    for i, result in enumerate(results):
        if i in bad:
            assert isinstance(result, CrmPermanentError)
        else:
            assert result == i * 10
    assert sorted(crm.done) == [i for i in range(n) if i not in bad]  # each once


def test_a_transient_failure_of_one_half_is_not_the_other_halfs() -> None:
    # the first caller sends [0] alone; the others queue up and go together: [1..5]
    crm = Crm(bad={5}, flaky={2})
    results = asyncio.run(submit_all(crm, 6, 10))
    assert results[0] == 0
    assert isinstance(results[1], CrmTransientError)  # [1, 2]: the flaky half
    assert isinstance(results[2], CrmTransientError)
    assert results[3:5] == [30, 40]  # [3, 4, 5] split down to the bad item
    assert isinstance(results[5], CrmPermanentError)
    assert sorted(crm.done) == [0, 3, 4]
