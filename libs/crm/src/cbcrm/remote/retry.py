"""Retrying transient CRM errors with tenacity: exponential backoff with jitter, never
shorter than the ``Retry-After`` the CRM asked for, then the last error surfaces unchanged.
An error asking for longer than the whole ``deadline`` is not retried here at all: the caller
(crm-sync's executor) schedules it for when the CRM said. A request that is not idempotent
(``idempotent=False``: it creates something) is never repeated after an ambiguous outcome
(:class:`CrmAmbiguousError`: sent, no reply): the CRM may have done it, so the step that sent
it reconciles first (:mod:`cbcrm.once`)."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
)

from ..exceptions import CrmAmbiguousError, CrmTransientError

__all__ = ["RetryPolicy", "with_retries"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``attempts`` tries within ``deadline`` seconds; waits ``base * 2**n`` (jittered, capped
    at ``cap``) or the CRM's ``Retry-After``, whichever is longer."""

    attempts: int = 5
    base: float = 0.5
    cap: float = 30.0
    deadline: float = 120.0

    def wait(self, state: RetryCallState) -> float:
        backoff = min(self.cap, self.base * 2.0 ** (state.attempt_number - 1))
        backoff *= random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not crypto
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        asked = float(error.retry_after) if isinstance(error, CrmTransientError) else 0.0
        return max(backoff, min(asked, self.cap))


async def with_retries(
    policy: RetryPolicy, call: Callable[[], Awaitable[T]], *, idempotent: bool = True
) -> T:
    """``await call()``, retried on :class:`CrmTransientError` under ``policy`` (unless it
    asks to wait longer than ``policy.deadline``, or is ambiguous and ``call`` is not
    ``idempotent``)."""

    def retryable(e: BaseException) -> bool:
        if not isinstance(e, CrmTransientError) or e.retry_after > policy.deadline:
            return False
        return idempotent or not isinstance(e, CrmAmbiguousError)

    retrying = AsyncRetrying(
        retry=retry_if_exception(retryable),
        wait=policy.wait,
        stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.deadline),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await call()
    raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover
