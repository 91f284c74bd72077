"""Real Asterisk 22 byte streams replayed with their real read boundaries: the splitter must
give exactly the frames the capture's index lists, at every read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aioami import FrameSplitter, event_name, parse_frames

REPO = Path(__file__).resolve().parents[4]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SHARED = REPO.parent / "shared" / "captures"


def scenarios(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.ami")) if directory.is_dir() else []


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def replay(capture: Path) -> None:
    data = capture.read_bytes()
    chunks = read_jsonl(capture.with_suffix(".chunks.jsonl"))
    index = read_jsonl(capture.with_suffix(".times.jsonl"))
    banner, entries = index[0], index[1:]
    expected = []
    for entry in entries:
        start, length = int(str(entry["offset"])), int(str(entry["length"]))
        wire = data[start : start + length]
        assert wire.endswith(b"\r\n\r\n")
        expected.append(wire[:-4])
    splitter = FrameSplitter()
    got: list[bytes] = []
    for chunk in chunks:
        start, length = int(str(chunk["offset"])), int(str(chunk["length"]))
        got += splitter.feed(data[start : start + length])
    assert splitter.banner == str(banner["banner"]).encode()
    assert splitter.buffered == 0
    assert got == expected
    names = [entry.get("event") for entry in entries]
    assert [event_name(f).decode() or None for f in got] == names
    responses = [m.response for m in parse_frames(got)]
    assert responses == [entry.get("response") for entry in entries]


@pytest.mark.parametrize("capture", scenarios(FIXTURES), ids=lambda p: p.stem)
def test_project_fixture_replays_to_the_indexed_frames(capture: Path) -> None:
    replay(capture)


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared captures not found at {SHARED}")
@pytest.mark.parametrize("name", [p.stem for p in scenarios(SHARED)] or ["none"])
def test_shared_capture_replays_to_the_indexed_frames(name: str) -> None:
    replay(SHARED / f"{name}.ami")


def test_the_project_fixtures_are_present() -> None:
    assert len(scenarios(FIXTURES)) >= 2
