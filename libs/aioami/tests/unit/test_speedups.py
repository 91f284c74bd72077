"""The C speedup and the pure-Python parser give the same Messages, frame for frame."""

from __future__ import annotations

import glob
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioami import FrameSplitter, parse_frames
from aioami.message import Message, parse_frames_py

try:
    from aioami import _speedups
except ImportError:  # pragma: no cover - a build without a C compiler
    _speedups = None  # type: ignore[assignment]

pytestmark = pytest.mark.skipif(_speedups is None, reason="the C speedup was not built here")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
KEYS = st.text(
    alphabet=st.characters(whitelist_categories=("Lu", "Ll", "Nd"), whitelist_characters="-_()"),
    min_size=1,
    max_size=20,
)
# Values as AMI carries them: anything on one line, colons, spaces and non-ASCII included.
VALUES = st.text(alphabet=st.characters(blacklist_characters="\r\n", codec="utf-8"), max_size=40)
LINES = st.lists(st.tuples(KEYS, VALUES), min_size=1, max_size=25)


def _pairs(msgs: list[Message]) -> list[list[tuple[str, str]]]:
    return [m.pairs() for m in msgs]


@given(st.lists(LINES, min_size=1, max_size=8))
def test_generated_frames_parse_alike_in_c_and_in_python(
    frames: list[list[tuple[str, str]]],
) -> None:
    raw = ["\r\n".join(f"{k}: {v}" for k, v in lines).encode() for lines in frames]
    assert _pairs(parse_frames(raw)) == _pairs(parse_frames_py(raw))


@given(st.lists(st.binary(max_size=200), min_size=1, max_size=6))
def test_arbitrary_bytes_parse_alike_or_fall_back_to_the_careful_path(frames: list[bytes]) -> None:
    fast = parse_frames(frames)
    assert len(fast) == len(frames)
    assert all(isinstance(m, Message) for m in fast)


def test_every_recorded_frame_parses_alike_in_c_and_in_python() -> None:
    files = sorted(glob.glob(str(FIXTURES / "*.ami")))
    assert files, f"no fixtures in {FIXTURES}"
    for name in files:
        data = Path(name).read_bytes()
        frames = FrameSplitter().feed(data)
        assert _pairs(parse_frames(frames)) == _pairs(parse_frames_py(frames)), name


def test_repeated_keys_and_legacy_replies_take_the_careful_path_in_c() -> None:
    frames = [
        b"Event: Newexten\r\nVariable: A=1\r\nVariable: B=2",
        b"Response: Follows\r\nPrivilege: Command\r\nActionID: 1\r\nup: 2 h\n--END COMMAND--",
    ]
    assert _speedups is not None
    assert _speedups.parse_fast(frames, Message) == [None, None]
    multi, legacy = parse_frames(frames)
    assert multi.getall("Variable") == ["A=1", "B=2"]
    assert legacy.getall("Output") == ["up: 2 h"]
