"""Coalescing concurrent requests into bulk ones (amoCRM ``POST /api/v4/calls`` with an array
body, Bitrix24 ``batch``), without a background task.

Every caller queues its item and then takes turns at a lock. Whoever holds the lock sends
up to ``max_items`` of the queued items (its own among them, unless an earlier holder already
sent it) in one request and hands each caller its own result. While a holder waits for the
rate limiter, more items queue up, so the busier it gets the fuller each request is.

One bad item must not fail the others: when a bulk request is refused as a whole for
validation (:class:`CrmPermanentError`, e.g. amoCRM's 400 ``validation-errors``), it is split
in halves and each half sent again, down to the single bad item, which alone gets the error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ..exceptions import CrmPermanentError, CrmTransientError

__all__ = ["Coalescer"]

T = TypeVar("T")
R = TypeVar("R")

# One bulk request: items in, one result (or exception) per item out, in the same order.
Send = Callable[[Sequence[T]], Awaitable[Sequence[R | BaseException]]]


@dataclass(eq=False)
class _Pending(Generic[T, R]):
    item: T
    weight: int
    future: asyncio.Future[R] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Coalescer(Generic[T, R]):
    """``await coalescer.submit(item)`` → that item's result from a bulk ``send``."""

    def __init__(self, send: Send[T, R], *, max_items: int) -> None:
        self._send, self._max = send, max_items
        self._queue: list[_Pending[T, R]] = []
        self._lock = asyncio.Lock()

    async def submit(self, item: T, *, weight: int = 1) -> R:
        """Queue ``item`` (``weight`` slots of ``max_items``, e.g. three batch commands)."""
        pending: _Pending[T, R] = _Pending(item, min(weight, self._max))
        self._queue.append(pending)
        try:
            while not pending.future.done():
                async with self._lock:
                    if not pending.future.done():
                        await self._flush()
        except BaseException:
            if pending in self._queue:
                self._queue.remove(pending)
            raise
        return pending.future.result()

    def _take(self) -> list[_Pending[T, R]]:
        taken: list[_Pending[T, R]] = []
        used = 0
        while self._queue and used + self._queue[0].weight <= self._max:
            used += self._queue[0].weight
            taken.append(self._queue.pop(0))
        return taken

    async def _flush(self) -> None:
        batch = self._take()
        if not batch:
            return
        try:
            results: Sequence[R | BaseException] = await self._split_send([p.item for p in batch])
        except asyncio.CancelledError:
            lost = CrmTransientError("bulk request cancelled before its outcome was known")
            results = [lost] * len(batch)
            self._settle(batch, results)
            raise
        except Exception as exc:
            results = [exc] * len(batch)
        self._settle(batch, results)

    async def _split_send(self, items: list[T]) -> Sequence[R | BaseException]:
        """``send(items)``; refused as a whole for validation: each half on its own (a half's
        failure of any kind is its items' own outcome, not the other half's)."""
        try:
            return await self._send(items)
        except CrmPermanentError:
            if len(items) == 1:
                raise
        half = len(items) // 2
        out: list[R | BaseException] = []
        for part in (items[:half], items[half:]):
            try:
                out += await self._split_send(part)
            except Exception as exc:
                out += [exc] * len(part)
        return out

    @staticmethod
    def _settle(batch: list[_Pending[T, R]], results: Sequence[R | BaseException]) -> None:
        for p, result in zip(batch, results, strict=True):
            if p.future.done():
                continue
            if isinstance(result, BaseException):
                p.future.set_exception(result)
            else:
                p.future.set_result(result)
