"""Where the tracker keeps its work: per PBX a checkpoint (the last applied entry id) and the
live calls (hash Linkedid -> msgpack Call). A commit writes them together with the call
events and call records of the batch in one MULTI/EXEC, fenced by WATCH on the checkpoint:
after a crash at any moment the tracker resumes exactly where the last commit left it.

The same commit keeps the live-call view (``cbrecords.LiveCall``, the contract other readers
use) in step with the live calls: :func:`live_view` is the one projection of a call."""

from __future__ import annotations

from typing import cast

import redis.asyncio as aioredis
from redis.exceptions import WatchError

from cbcontracts import CallEvent
from cbrecords import LiveCall
from cbstreams import LeaseLost, PbxKeys
from cbstreams.exceptions import redis_errors

from .publisher import CallPublisher
from .reducer.model import LEG_UP, Call, TrackerState, decode_call, encode_call, entry_key
from .reducer.topology import Topology

__all__ = ["TrackerStore", "live_view"]


def live_view(call: Call, topology: Topology) -> LiveCall:
    """What readers may know of a live call (the contract), from the tracker's state."""
    legs = call.legs.values()
    seen = dict.fromkeys((*call.rang, *call.ringing, call.answered_by, call.last_answer,
                          call.operator, *(leg.ext for leg in legs)))  # fmt: skip
    talking = dict.fromkeys(leg.ext for leg in legs if leg.ext and leg.state == LEG_UP)
    return LiveCall(
        call_id=call.linkedid,
        pbx=topology.pbx,
        tenant=topology.tenant,
        direction=call.direction,  # type: ignore[arg-type]
        started_at=call.start_at,
        caller=call.caller,
        called=call.called,
        external=call.external,
        did=call.did,
        extension=call.operator,
        answered_by=call.answered_by,
        answered_at=call.answer_at,
        extensions=tuple(e for e in seen if e and e != call.external),
        ringing=tuple(call.ringing),
        talking=tuple(talking),
        held=call.held,
        queue=call.queue,
        originate_id=call.originate_id,
        reconstructed=call.reconstructed,
    )


class TrackerStore:
    def __init__(
        self,
        redis: aioredis.Redis,
        topology: Topology,
        publisher: CallPublisher,
        *,
        prefix: str = "cb:",
    ) -> None:
        self._redis = redis
        self.topology = topology
        self._publisher = publisher
        base = PbxKeys(topology.pbx, prefix).base
        self.checkpoint_key = f"{base}:tracker:checkpoint"
        self.calls_key = f"{base}:tracker:calls"
        self._committed = "0-0"

    async def load(self) -> TrackerState:
        """The state of the last commit (an empty state if none)."""
        state = TrackerState(self.topology, track_dirty=True)
        with redis_errors():
            last = cast(bytes | None, await self._redis.get(self.checkpoint_key))
            stored = cast(dict[bytes, bytes], await self._redis.hgetall(self.calls_key))
        self._committed = last.decode() if last else "0-0"
        if last:
            state.last = entry_key(self._committed)
        state.calls = {k.decode(): decode_call(v) for k, v in stored.items()}
        return state

    async def commit(self, state: TrackerState, events: list[CallEvent]) -> None:
        """Write the batch's effects atomically. Raises LeaseLost if another tracker
        committed since our last commit (the checkpoint moved under us)."""
        dirty = state.dirty if state.dirty is not None else set()
        with redis_errors():
            await self._commit(state, events, dirty)
        dirty.clear()
        self._committed = state.last_id

    async def _commit(self, state: TrackerState, events: list[CallEvent], dirty: set[str]) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            await pipe.watch(self.checkpoint_key)
            current = cast(bytes | None, await pipe.get(self.checkpoint_key))
            if (current.decode() if current else "0-0") != self._committed:
                raise LeaseLost(f"checkpoint {self.checkpoint_key} moved: another tracker")
            pipe.multi()  # type: ignore[no-untyped-call]
            live = {k: encode_call(state.calls[k]) for k in dirty if k in state.calls}
            gone = [k for k in dirty if k not in state.calls]
            if live:
                pipe.hset(self.calls_key, mapping=live)  # type: ignore[arg-type]
            if gone:
                pipe.hdel(self.calls_key, *gone)
            pbx = self.topology.pbx
            records = self._publisher.records
            records.set_live(pipe, pbx, {k: live_view(state.calls[k], self.topology) for k in live})
            records.drop_live(pipe, pbx, gone)
            self._publisher.add(pipe, events)
            pipe.set(self.checkpoint_key, state.last_id)
            try:
                await pipe.execute()
            except WatchError:
                raise LeaseLost(
                    f"checkpoint {self.checkpoint_key} moved: another tracker"
                ) from None
