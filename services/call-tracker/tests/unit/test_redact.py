"""Redaction of AMI frames: consistent, the same shape, nothing original left."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from call_tracker.redact import Redactor

numbers = st.from_regex(r"\+?[1-9][0-9]{5,14}", fullmatch=True)


@given(numbers)
def test_a_number_maps_to_one_other_number_of_its_shape(number: str) -> None:
    r = Redactor(key=b"k" * 16)
    fake = r.number(number)
    assert fake != number
    assert len(fake) == len(number)
    assert fake[: 1 + number.startswith("+")] == number[: 1 + number.startswith("+")]
    assert fake.lstrip("+").isdigit()
    assert r.number(number) == fake


@given(st.lists(numbers, min_size=2, max_size=20, unique=True))
def test_different_numbers_stay_different(many: list[str]) -> None:
    r = Redactor()
    fakes = [r.number(n) for n in many]
    assert len(set(fakes)) == len(many)


@given(numbers, st.text(alphabet=st.characters(categories=["L"]), min_size=1, max_size=20))
def test_a_frame_keeps_its_headers_ids_and_extensions(number: str, name: str) -> None:
    frame = (f"Event: Newchannel\r\nChannel: PJSIP/trunk-00000001\r\nCallerIDNum: {number}\r\n"
             f"CallerIDName: {name}\r\nExten: 100\r\nUniqueid: 1795740925.12\r\n"
             f"Linkedid: 1795740925.12\r\nSecret: hunter2").encode()  # fmt: skip
    r = Redactor()
    out = r.frame(frame).decode()
    lines = dict(line.split(": ", 1) for line in out.split("\r\n"))
    assert list(lines) == ["Event", "Channel", "CallerIDNum", "CallerIDName", "Exten",
                           "Uniqueid", "Linkedid", "Secret"]  # fmt: skip
    assert lines["Channel"] == "PJSIP/trunk-00000001"
    assert lines["Exten"] == "100"
    assert lines["Uniqueid"] == lines["Linkedid"] == "1795740925.12"
    assert lines["CallerIDNum"] == r.number(number)
    assert lines["CallerIDName"] == "Person 1"
    assert lines["Secret"] == "REDACTED"
    assert number not in out.replace(lines["CallerIDNum"], "")
    assert r.frame(frame) == out.encode()
