"""Fixture files of the golden tests: one JSON entry per line (``id``, ``rx`` µs, ``raw``
frame text; sync entries carry ``ev`` and ``snap``)."""

from __future__ import annotations

import json
from pathlib import Path

from .reducer import RawEntry

__all__ = ["load_fixture"]


def load_fixture(path: Path) -> list[RawEntry]:
    entries = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        ev = row.get("ev", "").encode()
        snap = json.dumps(row["snap"]).encode() if "snap" in row else b""
        entries.append(RawEntry(row["id"], row.get("raw", "").encode(), row["rx"], ev, snap))
    return entries
