"""The capture format of ``shared/captures`` (beside the repository): ``.ami`` +
``.times.jsonl`` + ``.chunks.jsonl``.

* ``NAME.ami``: the bytes as received, banner line first;
* ``NAME.times.jsonl``: one line per frame (the banner is frame 0):
  ``{"t", "event", ["banner" | "response", "actionid"], "offset", "length"}``, ``length``
  including the blank line that ends the frame;
* ``NAME.chunks.jsonl``: one line per socket read: ``{"t", "offset", "length"}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["capture_paths", "frame_record", "frame_spans", "read_jsonl", "write_jsonl"]

_FIRST_LINE = re.compile(rb"^(Event|Response): ([^\r\n]*)")
_ACTION_ID = re.compile(rb"\r\nActionID: ([^\r\n]*)")


def capture_paths(base: str | Path) -> tuple[Path, Path, Path]:
    """``(NAME.ami, NAME.times.jsonl, NAME.chunks.jsonl)`` for ``NAME`` or ``NAME.ami``."""
    path = Path(base)
    if path.suffix == ".ami":
        path = path.with_suffix("")
    stem = path.name
    return (
        path.with_name(f"{stem}.ami"),
        path.with_name(f"{stem}.times.jsonl"),
        path.with_name(f"{stem}.chunks.jsonl"),
    )


def frame_spans(data: bytes | bytearray, start: int = 0) -> tuple[list[tuple[int, int]], int]:
    """Complete frames in ``data[start:]`` as ``(offset, length)``, and where the rest begins.

    The banner (a first line without ``:``) counts as a frame of its own.
    """
    spans: list[tuple[int, int]] = []
    pos = start
    if pos == 0:
        end = data.find(b"\r\n")
        if end < 0:
            return spans, 0
        if b": " not in data[:end]:
            spans.append((0, end + 2))
            pos = end + 2
    while (end := data.find(b"\r\n\r\n", pos)) >= 0:
        spans.append((pos, end + 4 - pos))
        pos = end + 4
    return spans, pos


def frame_record(t: float, data: bytes | bytearray, offset: int, length: int) -> dict[str, Any]:
    """A ``times.jsonl`` row for the frame at ``data[offset:offset+length]``."""
    raw = bytes(data[offset : offset + length])
    match = _FIRST_LINE.match(raw)
    if match is None:
        banner = raw.rstrip(b"\r\n").decode("utf-8", "replace")
        return {"t": t, "event": None, "banner": banner, "offset": offset, "length": length}
    if match[1] == b"Event":
        return {"t": t, "event": match[2].decode(), "offset": offset, "length": length}
    action_id = _ACTION_ID.search(raw)
    return {
        "t": t,
        "event": None,
        "response": match[2].decode(),
        "actionid": action_id[1].decode() if action_id else None,
        "offset": offset,
        "length": length,
    }


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row) + "\n")
