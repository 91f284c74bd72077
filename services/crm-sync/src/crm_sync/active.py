"""One planner at a time: the replica holding the lease ``{prefix}crm:lease:planner`` plans,
the others wait as standbys (executors run everywhere).

The planner must be alone: two planners in the group would split a call's events between
them (a ``call.ended`` planned before its ``call.answered`` loses a leg). The active replica
renews the lease (``renew_s``); if it dies, the lease lapses after its TTL and a standby
(polling every ``poll_s``) takes it, first claiming every entry the previous planner read
and did not ack, then continuing. A replica that finds its lease gone stops planning at
once (before its next batch). Commands are keyed by event, so a batch planned twice around
a handover is executed once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from cbstreams import Lease, LeaseLost, StreamUnavailable

from .planner import Planner

__all__ = ["SingleActive"]

log = logging.getLogger(__name__)


class SingleActive:
    def __init__(self, lease: Lease, *, renew_s: float = 1.0, poll_s: float = 0.5) -> None:
        self.lease, self.renew_s, self.poll_s = lease, renew_s, poll_s

    async def run(self, planner: Planner, stop: asyncio.Event) -> None:
        """Plan while holding the lease, stand by otherwise, until ``stop`` (then release it;
        a replica cancelled or killed leaves it to lapse)."""
        while await self._acquired(stop):
            log.info("planner active", extra={"lease": self.lease.key})
            try:
                async with asyncio.TaskGroup() as tg:
                    keeper = tg.create_task(self.lease.keep(self.renew_s))
                    await planner.run(stop, active=lambda: self.lease.held)
                    keeper.cancel()
            except* LeaseLost:
                log.warning("planner lease lost: standing by", extra={"lease": self.lease.key})
            except* StreamUnavailable as group:
                log.warning("redis unavailable", extra={"error": str(group.exceptions[0])})
        with contextlib.suppress(StreamUnavailable):
            if self.lease.held:
                await self.lease.release()

    async def _acquired(self, stop: asyncio.Event) -> bool:
        """True once the lease is ours; False if ``stop`` came first."""
        while not stop.is_set():
            try:
                if await self.lease.acquire():
                    self.lease.link.ok()
                    return True
                self.lease.link.ok()
            except StreamUnavailable as exc:
                await self.lease.link.failed(exc, stop)
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_s):
                    await stop.wait()
        return False
