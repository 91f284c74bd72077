"""The calls no capture shows, as the simulator plays them (amisim's composed templates),
give the call events the tracker's hand-written scenarios pinned: the same kinds of events
for the same extensions, result, transfer, ring and talk seconds (±1), who hung up."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import amisim
from call_tracker.reducer import RawEntry
from call_tracker.reducer.topology import Topology
from call_tracker.replay import replay
from cbcontracts import CallEnded, CallEvent, CallTransferred

TOPOLOGY = Topology(pbx="test")
CALLER = {"phone": "79161234567", "did": "4951234567"}


@dataclass(frozen=True)
class Pinned:
    """What the hand-written scenario's expected events said (extensions as numbers)."""

    values: dict[str, str]
    events: list[tuple[str, str]]  # (type, extension or reason/kind)
    result: str
    ring: int
    talk: int
    hangup_by: str
    rang: tuple[str, ...]
    answered_by: str = ""
    transfer: tuple[str, str, str] | None = None  # kind, from, to


PINNED: dict[str, Pinned] = {
    "internal": Pinned(
        {"ext1": "100", "ext2": "101"},
        [("call.started", "100"), ("call.ringing", "101"), ("call.answered", "101")],
        "answered", 3, 4, "callee", ("101",), "101",
    ),
    "dial_timeout": Pinned(
        {**CALLER, "ext1": "100"},
        [("call.started", ""), ("call.ringing", "100"), ("call.ringing_stopped", "no_answer")],
        "missed", 20, 0, "system", ("100",),
    ),
    "queue_abandon": Pinned(
        {**CALLER, "did": "4951112233", "ext1": "100", "ext2": "101"},
        [
            ("call.started", ""),
            ("call.ringing", "100"),
            ("call.ringing", "101"),
            ("call.ringing_stopped", "caller_gave_up"),
            ("call.ringing_stopped", "caller_gave_up"),
        ],
        "abandoned", 8, 0, "caller", ("100", "101"),
    ),
    "redirect_transfer": Pinned(
        {**CALLER, "ext1": "100", "ext2": "101"},
        [
            ("call.started", ""),
            ("call.ringing", "100"),
            ("call.answered", "100"),
            ("call.transferred", "redirect"),
            ("call.ringing", "101"),
            ("call.answered", "101"),
        ],
        "answered", 2, 10, "caller", ("100", "101"), "100", ("redirect", "100", "101"),
    ),
    "pickup": Pinned(
        {**CALLER, "ext1": "100", "ext2": "102"},
        [
            ("call.started", ""),
            ("call.ringing", "100"),
            ("call.ringing_stopped", "answered_elsewhere"),
            ("call.answered", "102"),
        ],
        # the picker's phone never rang (was listed in rang before the live truth said no)
        "answered", 3, 6, "caller", ("100",), "102",
    ),
    "hold": Pinned(
        {**CALLER, "ext1": "100"},
        [
            ("call.started", ""),
            ("call.ringing", "100"),
            ("call.answered", "100"),
            ("call.held", "100"),
            ("call.resumed", "100"),
        ],
        "answered", 2, 7, "callee", ("100",), "100",
    ),
}  # fmt: skip


def _events(name: str, values: dict[str, str], seed: int) -> list[CallEvent]:
    frames = amisim.render_call(name, values, seed=seed)
    entries = [
        RawEntry(f"{i + 1}-0", data.removesuffix(b"\r\n\r\n"), int((1.8e9 + at) * 1e6))
        for i, (at, data) in enumerate(frames)
    ]
    return replay(entries, TOPOLOGY)


def _label(event: CallEvent) -> tuple[str, str]:
    kind = str(type(event).__struct_config__.tag)
    for attr in ("reason", "kind"):
        if hasattr(event, attr):
            return kind, str(getattr(event, attr))
    return kind, str(getattr(event, "extension", ""))


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("name", sorted(PINNED))
def test_the_simulated_call_gives_the_pinned_call_events(name: str, seed: int) -> None:
    pinned = PINNED[name]
    events = _events(name, pinned.values, seed)
    assert len({e.call_id for e in events}) == 1
    *during, ended = events
    assert [_label(e) for e in during] == pinned.events
    assert isinstance(ended, CallEnded)
    assert ended.result == pinned.result
    assert abs(ended.ring_seconds - pinned.ring) <= 1
    assert abs(ended.talk_seconds - pinned.talk) <= 1
    assert ended.hangup_by == pinned.hangup_by
    assert ended.rang == pinned.rang
    assert ended.answered_by == pinned.answered_by
    transfers = [e for e in during if isinstance(e, CallTransferred)]
    if pinned.transfer is None:
        assert not transfers
    else:
        (moved,) = transfers
        assert (moved.kind, moved.from_extension, moved.to_extension) == pinned.transfer
        assert moved.caller == pinned.values["phone"]
        assert ended.transferred_to == (pinned.transfer[2],)
    if "phone" in pinned.values:
        assert {getattr(e, "external", "") for e in events} == {pinned.values["phone"]}
        assert {getattr(e, "did", "") for e in events} == {pinned.values["did"]}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_the_simulated_call_is_right_whichever_extensions_it_gets(name: str) -> None:
    pinned = PINNED[name]
    given = {k: v for k, v in pinned.values.items() if not k.startswith("ext")}
    events = _events(name, given, seed=9)
    ended = events[-1]
    assert isinstance(ended, CallEnded)
    assert ended.result == pinned.result
    assert len(ended.rang) == len(pinned.rang)
