"""The reducer's decision on each frame of a call, derived from outside the reducer: the
frames are applied one by one to the pure reducer (from an empty state) and what changed in
the calls' state is put in words — a call created or finished, a leg (channel) joined, rang,
answered, stopped ringing or left, and every other field of the call that moved.

Used by ``callbridge calls explain`` through ``cbrecords.explain_call(decisions=…)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from .reducer import RawEntry, reduce
from .reducer.model import LEG_DONE, LEG_NEW, LEG_RINGING, LEG_UP, Call, TrackerState
from .reducer.topology import Topology
from .window import entry_from_fields

__all__ = ["frame_decider", "frame_decisions"]

Row = tuple[bytes, dict[bytes, bytes]]
#: Fields of a call that are bookkeeping, not decisions.
_QUIET = frozenset({"seq", "legs", "linkedid", "start_at", "emitted", "ringing"})
_LEG_STATES = {LEG_NEW: "new", LEG_RINGING: "ringing", LEG_UP: "answered",
               LEG_DONE: "stopped ringing"}  # fmt: skip


def _snapshot(call: Call) -> dict[str, Any]:
    data = msgspec.to_builtins(msgspec.structs.asdict(call))
    assert isinstance(data, dict)  # noqa: S101 - asdict gives a dict
    data["legs"] = {uid: (leg.chan, leg.ext, leg.state) for uid, leg in call.legs.items()}
    return data


def _leg_name(chan: str, ext: str) -> str:
    return f"{chan} (extension {ext})" if ext else chan


def _describe(lid: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    if after is None:
        return [f"call {lid} finished: state dropped"]
    out: list[str] = []
    if before is None:
        out.append(f"call {lid} created: {after['direction']}"
                   + (" (reconstructed)" if after.get("reconstructed") else ""))  # fmt: skip
        before = {**after, "legs": {}}
    for uid, (chan, ext, state) in after["legs"].items():
        old = before["legs"].get(uid)
        if old is None:
            out.append(f"leg created: {_leg_name(chan, ext)}")
            if state != LEG_NEW:
                out.append(f"{_leg_name(chan, ext)}: {_LEG_STATES.get(state, state)}")
        elif old[2] != state:
            out.append(f"{_leg_name(chan, ext)}: {_LEG_STATES.get(state, state)}")
    for uid, (chan, ext, _) in before["legs"].items():
        if uid not in after["legs"]:
            out.append(f"leg gone: {_leg_name(chan, ext)}")
    for name, value in after.items():
        if name in _QUIET or before.get(name) == value:
            continue
        old = before.get(name)
        if isinstance(value, list) and isinstance(old, list) and value[: len(old)] == old:
            out.append(f"{name} += {', '.join(map(str, value[len(old) :]))}")
        else:
            out.append(f"{name}: {old!r} -> {value!r}")
    return out


def frame_decisions(rows: Sequence[Row], topology: Topology) -> dict[str, list[str]]:
    """Entry id -> what applying that entry changed in the calls' state, in words."""
    state = TrackerState(topology)
    out: dict[str, list[str]] = {}
    for entry_id, f in rows:
        entry: RawEntry = entry_from_fields(entry_id, f)
        before = {k: _snapshot(c) for k, c in state.calls.items()}
        reduce(state, entry)
        after = {k: _snapshot(c) for k, c in state.calls.items()}
        lines: list[str] = []
        for lid in [*before, *(k for k in after if k not in before)]:
            if before.get(lid) != after.get(lid):
                lines += _describe(lid, before.get(lid), after.get(lid))
        if lines:
            out[entry.id] = lines
    return out


def frame_decider(topology: Topology) -> Callable[[Sequence[Row]], dict[str, list[str]]]:
    """:func:`frame_decisions` bound to a PBX (the ``decisions`` of ``explain_call``)."""
    return lambda rows: frame_decisions(rows, topology)
