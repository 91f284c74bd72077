"""Exporting a window of ``cb:{pbx}:ami``, or one call, to a capture file: ``NAME.ami`` +
``NAME.times.jsonl`` + ``NAME.chunks.jsonl`` (the format of ``shared/captures``; see
``amisim.capfile``), which :func:`call_tracker.replay.capture_entries` reads back.

A call's frames are those of its Linkedid and of every channel related to it
(``cbrecords.related_frames``), with the sync entries of its time span. Each times
row also carries the stream entry id (``id``), the receive time in µs (``rx``) and the AMI
connection (``sess``); a sync entry is a row ``event: callbridge.sync`` of length 0 with its
``snap`` (the JSON as in the stream) — so a replay of the file reproduces the call exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from cbrecords import RecordStore, related_frames
from cbstreams import PbxKeys, fields

from .redact import Redactor
from .window import _MAX_US, read_entries

__all__ = ["ExportResult", "export_capture"]

_BANNER = b"Asterisk Call Manager/11.0.0"
_MARGIN_MS = 5000
_Row = tuple[bytes, dict[bytes, bytes]]


@dataclass(frozen=True)
class ExportResult:
    ami: Path
    times: Path
    chunks: Path
    frames: int
    syncs: int


async def export_capture(
    redis: aioredis.Redis,
    pbx: str,
    out: Path,
    *,
    prefix: str = "cb:",
    since: int | None = None,
    until: int | None = None,
    start_id: str | None = None,
    end_id: str | None = None,
    call_id: str | None = None,
    redact: Redactor | None = None,
) -> ExportResult:
    """Write the capture ``out`` (``NAME`` or ``NAME.ami``) of a window or of one call."""
    if call_id is not None:
        record = await RecordStore(redis, prefix).get(pbx, call_id)
        if record is None:
            raise LookupError(f"no record of call {call_id} on {pbx}")
        start = f"{record.started_at // 1000 - _MARGIN_MS}-0"
        end = f"{record.ended_at // 1000 + _MARGIN_MS}"
    else:
        start = start_id or f"{(since or 0) // 1000}-0"
        end = end_id or (f"{until // 1000}" if until is not None and until < _MAX_US else "+")
    stream = PbxKeys(pbx, prefix).ami
    rows: list[_Row] = []
    cursor = start
    while True:
        got = await read_entries(redis, stream, cursor, end, count=10_000)
        rows += got
        if len(got) < 10_000:
            break
        cursor = "(" + got[-1][0].decode()
    if call_id is not None:
        rows = related_frames(rows, call_id)
    return _write(out, rows, redact)


def _write(out: Path, rows: list[_Row], redact: Redactor | None) -> ExportResult:
    base = out.with_suffix("") if out.suffix == ".ami" else out
    ami, times, chunks = (base.with_name(base.name + s) for s in (".ami", ".times.jsonl",
                                                                  ".chunks.jsonl"))  # fmt: skip
    banner = next((f[fields.F_BANNER] for _, f in rows if fields.F_BANNER in f), _BANNER)
    data = bytearray(banner + b"\r\n")
    t0 = int(rows[0][1].get(fields.F_RX, b"0")) / 1e6 if rows else 0.0
    time_rows: list[dict[str, Any]] = [
        {"t": t0, "event": None, "banner": banner.decode(), "offset": 0, "length": len(data)}
    ]
    chunk_rows: list[dict[str, Any]] = [{"t": t0, "offset": 0, "length": len(data)}]
    syncs = 0
    for entry_id, f in rows:
        rx = int(f.get(fields.F_RX, b"0"))
        meta = {"id": entry_id.decode(), "rx": rx, "sess": int(f.get(fields.F_SESS, b"0"))}
        if f.get(fields.F_EV) == fields.SYNC_EVENT:
            snap = f.get(fields.F_SNAP, b"[]")
            if redact is not None:
                snap = json.dumps([redact.header_map(m) for m in json.loads(snap)]).encode()
            time_rows.append({"t": rx / 1e6, "event": fields.SYNC_EVENT.decode(),
                              "offset": len(data), "length": 0, **meta,
                              "snap": snap.decode()})  # fmt: skip
            syncs += 1
            continue
        raw = f.get(fields.F_RAW, b"")
        if redact is not None:
            raw = redact.frame(raw)
        frame = raw + b"\r\n\r\n"
        row: dict[str, Any] = {"t": rx / 1e6, "event": f.get(fields.F_EV, b"").decode() or None}
        if raw.startswith(b"Response: "):
            row["response"] = raw.split(b"\r\n", 1)[0].removeprefix(b"Response: ").decode()
        time_rows.append({**row, "offset": len(data), "length": len(frame), **meta})
        chunk_rows.append({"t": rx / 1e6, "offset": len(data), "length": len(frame)})
        data += frame
    ami.write_bytes(bytes(data))
    for path, lines in ((times, time_rows), (chunks, chunk_rows)):
        path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    return ExportResult(ami, times, chunks, len(chunk_rows) - 1, syncs)
