"""The line state of an extension from what the PBX said (pure), on Asterisk's own bodies."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cbsip import DialogInfo, DialogState, Pidf, parse_dialog_info, parse_pidf
from presence.state import ExtensionFacts, PresenceBook, line_state

BODIES = Path(__file__).resolve().parents[3] / "libs" / "sip" / "tests" / "bodies"


def asterisk(name: str) -> bytes:
    return (BODIES / name).read_bytes().partition(b"\n\n")[2]


def dialogs(*states: tuple[str, bool]) -> ExtensionFacts:
    f = ExtensionFacts(seen_dialog=True)
    for i, (state, held) in enumerate(states):
        f.dialogs[str(i)] = DialogState(id=str(i), state=state, held=held)
    return f


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (ExtensionFacts(), "unknown"),
        (dialogs(), "idle"),
        (dialogs(("early", False)), "ringing"),
        (dialogs(("confirmed", False)), "in_call"),
        (dialogs(("confirmed", True)), "on_hold"),
        (dialogs(("confirmed", True), ("confirmed", False)), "in_call"),
        (dialogs(("confirmed", True), ("early", False)), "on_hold"),  # call waiting
        (ExtensionFacts(pidf=Pidf("e", "closed")), "unavailable"),
        (ExtensionFacts(pidf=Pidf("e", "open", presence_type="dnd")), "dnd"),
        (ExtensionFacts(pidf=Pidf("e", "open", presence_type="xa")), "away"),
        (ExtensionFacts(pidf=Pidf("e", "open", presence_type="unavailable")), "unavailable"),
        (ExtensionFacts(pidf=Pidf("e", "open", presence_type="not_set")), "idle"),
    ],
)
def test_the_line_state_rules(facts: ExtensionFacts, expected: str) -> None:
    assert line_state(facts)[0] == expected


def test_a_call_beats_dnd_and_unregistered_beats_dnd() -> None:
    f = dialogs(("confirmed", False))
    f.pidf = Pidf("e", "open", presence_type="dnd")
    assert line_state(f)[0] == "in_call"
    f = dialogs()
    f.pidf = Pidf("e", "closed", presence_type="dnd")
    assert line_state(f)[0] == "unavailable"


def test_asterisks_call_sequence_keeps_the_caller_after_the_answer() -> None:
    book = PresenceBook("pbx")
    book.apply_pidf("101", parse_pidf(asterisk("pidf-ready.txt")))
    seen: list[tuple[str, str, str]] = []
    for name in ("dialog-idle.txt", "dialog-ringing.txt", "dialog-confirmed.txt",
                 "dialog-held.txt", "dialog-idle.txt"):  # fmt: skip
        info = parse_dialog_info(asterisk(name))
        info = DialogInfo(info.entity, len(seen), info.full, info.dialogs)  # in order
        book.apply_dialog("101", "sub", info)
        change = book.change("101", 1000 * len(seen))
        assert change is not None
        seen.append((change.state, change.remote, change.direction))
    assert seen == [
        ("idle", "", ""),
        ("ringing", "100", "inbound"),
        ("in_call", "100", "inbound"),
        ("on_hold", "100", "inbound"),
        ("idle", "", ""),
    ]


def test_nothing_is_published_until_every_package_spoke_and_nothing_twice() -> None:
    book = PresenceBook("pbx")
    book.apply_dialog("100", "s1", DialogInfo("e", 0, True, ()))
    assert book.change("100", 1) is None  # presence not heard yet
    book.apply_pidf("100", Pidf("e", "closed"))
    first = book.change("100", 2)
    assert first is not None
    assert (first.state, first.since) == ("unavailable", 2)
    assert book.change("100", 3) is None  # same state: no new entry
    book.apply_pidf("100", Pidf("e", "open"))
    later = book.change("100", 4)
    assert later is not None
    assert (later.state, later.since) == ("idle", 4)


def test_stale_versions_are_dropped_but_a_restarted_servers_zero_is_not() -> None:
    book = PresenceBook("pbx", ("dialog",))
    ringing = (DialogState(id="1", state="early"),)
    assert book.apply_dialog("100", "s", DialogInfo("e", 5, True, ringing))
    assert not book.apply_dialog("100", "s", DialogInfo("e", 4, True, ()))  # reordered
    assert not book.apply_dialog("100", "s", DialogInfo("e", 5, True, ()))  # repeated
    assert not book.apply_dialog("100", "s", DialogInfo("e", 0, False, ()))
    assert book.apply_dialog("100", "s", DialogInfo("e", 0, True, ()))  # restart
    assert book.apply_dialog("100", "other-subscription", DialogInfo("e", 0, True, ringing))


@given(st.permutations(range(8)))
def test_any_arrival_order_ends_in_the_newest_versions_state(order: list[int]) -> None:
    states = [
        "early",
        "confirmed",
        "terminated",
        "early",
        "confirmed",
        "confirmed",
        "early",
        "confirmed",
    ]
    book = PresenceBook("pbx", ("dialog",))
    for v in order:
        d = DialogState(id="1", state=states[v], held=v == 5)
        book.apply_dialog("100", "s", DialogInfo("e", v + 1, True, (d,)))
    assert line_state(book.facts["100"])[0] == "in_call"  # version 8: confirmed, not held


def test_a_partial_notify_changes_only_the_dialogs_it_names() -> None:
    book = PresenceBook("pbx", ("dialog",))
    a, b = DialogState(id="a", state="confirmed"), DialogState(id="b", state="early")
    book.apply_dialog("100", "s", DialogInfo("e", 1, True, (a, b)))
    book.apply_dialog(
        "100", "s", DialogInfo("e", 2, False, (DialogState(id="a", state="terminated"),))
    )
    assert line_state(book.facts["100"])[0] == "ringing"
