"""Building call events: ids, per-call sequence numbers, the fields every event carries."""

from __future__ import annotations

from typing import Any

from cbcontracts import CallEvent, CallStarted

from .model import Call, TrackerState

__all__ = ["Ctx"]


class Ctx:
    """The context of one applied entry: the state, the entry's id and time, and the call
    events produced so far (``event_id`` = ``{pbx}/{entry id}/{index}``)."""

    __slots__ = ("at", "entry_id", "events", "state")

    def __init__(self, state: TrackerState, entry_id: str, at: int) -> None:
        self.state = state
        self.entry_id = entry_id
        self.at = at
        self.events: list[CallEvent] = []

    def touch(self, call: Call) -> None:
        if self.state.dirty is not None:
            self.state.dirty.add(call.linkedid)

    def emit(self, call: Call, cls: type[CallEvent], **fields: Any) -> None:
        """Append an event of type ``cls`` for ``call`` (sending call.started first)."""
        if not call.emitted and cls is not CallStarted:
            self.start(call)
        topology = self.state.topology
        call.seq += 1
        event = cls(
            event_id=f"{topology.pbx}/{self.entry_id}/{len(self.events)}",
            call_id=call.linkedid,
            pbx=topology.pbx,
            seq=call.seq,
            at=self.at,
            direction=call.direction,  # type: ignore[arg-type]
            external=call.external,
            did=call.did,
            tenant=topology.tenant,
            **fields,
        )
        self.events.append(event)

    def start(self, call: Call) -> None:
        """Send call.started once."""
        if call.emitted:
            return
        call.emitted = True
        self.emit(
            call,
            CallStarted,
            caller=call.caller,
            called=call.called,
            extension=call.operator if call.direction != "inbound" else "",
            originate_id=call.originate_id,
            reconstructed=call.reconstructed,
        )
