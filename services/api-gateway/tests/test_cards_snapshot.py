"""The snapshot a resumed operator feed starts from agrees with the cards the events open and
close: replaying every recorded scenario through the tracker's reducer, after every entry,
the cards a connected feed has open are the cards a feed resumed at that point lists (with
the same answered state), for every extension."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from api_gateway.services.cards import CALLS, Message, OperatorCards
from call_tracker.fixtures import load_fixture
from call_tracker.reducer import Topology, new_state, reduce
from call_tracker.store import live_view

FIXTURES = Path(__file__).resolve().parents[2] / "call-tracker" / "tests" / "unit" / "fixtures"
NAMES = sorted(p.name.removesuffix(".jsonl") for p in FIXTURES.glob("*.jsonl"))
EXTENSIONS = ("100", "101", "102")


@pytest.mark.parametrize("name", NAMES)
def test_the_snapshot_lists_exactly_the_cards_the_events_left_open(name: str) -> None:
    topology = Topology(pbx="test")
    state = new_state(topology)
    feeds = {ext: OperatorCards({"test"}, ext) for ext in EXTENSIONS}
    by_events: dict[str, dict[str, bool]] = {ext: {} for ext in EXTENSIONS}
    past: list[tuple[int, dict[bytes, bytes]]] = []
    for step, entry in enumerate(load_fixture(FIXTURES / f"{name}.jsonl")):
        state, events = reduce(state, entry)
        for event in events:
            fields = {b"data": msgspec.json.encode(event)}
            past.append((CALLS, fields))
            for ext, feed in feeds.items():
                for message in feed(CALLS, fields):
                    _apply(by_events[ext], message)
        live = [live_view(call, topology) for call in state.calls.values()]
        for ext in EXTENSIONS:
            snapshot = OperatorCards({"test"}, ext).resume(past, live)
            resumed = {c["call_id"]: c["answered"] for c in snapshot["cards"]}
            assert resumed == by_events[ext], (step, entry.raw[:60], ext)


def _apply(cards: dict[str, bool], message: Message) -> None:
    if message["type"] == "card.show":
        cards[message["call_id"]] = False
    elif message["type"] == "card.answered":
        cards[message["call_id"]] = True
    elif message["type"] in ("card.hide", "call.ended"):
        cards.pop(message["call_id"], None)
