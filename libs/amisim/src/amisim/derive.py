"""Derive scenario templates from real captures (``python -m amisim.derive CAPTURES OUT``).

Each capture's call frames are kept in order with their headers untouched, except that
every per-call value becomes a placeholder (see :mod:`amisim._template`): channel names,
Uniqueids/Linkedids, bridge ids, the customer's number, the DID, operator extensions,
SIP Call-IDs and wall-clock times. The recorder's own login frames and the Goodbye are
dropped; an action response in the stream (Originate, BlindTransfer, Atxfer) is dropped
too and starts a new phase.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["derive_template"]

_PHASES = {"bxfer": "transfer", "atxfer": "transfer", "c2c": "call"}
_CHANNEL = re.compile(r"(?:PJSIP|Local)/[^\s,;]+?-[0-9a-f]{8}")
_UID = re.compile(r"(?<![\d.])1[0-9]{9}\.[0-9]+(?![\d])")
_BRIDGE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_SIPID = re.compile(r"\b[0-9]+-[0-9]+@127\.0\.0\.1\b")
_PHONE = re.compile(r"(?<!\d)7[0-9]{10}(?!\d)")
_DID = re.compile(r"(?<!\d)495[0-9]{7}(?!\d)")
_EXT = re.compile(r"(?:(?<=^)|(?<=[/ <\"]))(10[0-2])(?=$|[@,>\" ;-])")
_NUMERIC = re.compile(
    r"Priority|Uptime|LastReload|Sent\w*|Report\d\w*|Duration|BillableSeconds|Cause"
    r"|ChannelState|Reason|SSRC|PT|MES|ReportCount|\w*Time\w*|Penalty|CallsTaken|LastCall"
    r"|LastPause|Wrapuptime|Status|Position|Count|Paused|InCall|Ringinuse|Ringtime|Holdtime"
)
_EXT_VARS = {"DIALEDPEERNUMBER"}


class _Namer:
    """Maps concrete values to placeholder names, in order of first appearance."""

    def __init__(self, origin: float) -> None:
        self.origin = origin
        self.names: dict[str, str] = {}
        self.counts: dict[str, int] = {}
        self.channels: list[str] = []

    def name(self, prefix: str, value: str) -> str:
        if value not in self.names:
            self.counts[prefix] = self.counts.get(prefix, 0) + 1
            self.names[value] = f"{prefix}{self.counts[prefix]}"
        return self.names[value]


def derive_template(ami: bytes, times: list[dict[str, object]], description: str) -> str:
    """Turn one capture (bytes and its ``times.jsonl`` rows) into template text."""
    rows = [r for r in times if r.get("banner") is None][1:]  # drop banner + login reply
    frames = [(float(str(r["t"])), _frame(ami, r)) for r in rows]
    frames = [(t, f) for t, f in frames if not _is_recorder_noise(f)]
    origin = _origin(frames)
    namer = _Namer(origin)
    _name_channels(namer, frames)
    out = ["# derived by amisim.derive; timing and header order as captured"]
    out[0] += f"\n%description {description}"
    out += [f"%channel {namer.names[ch]} {_device(namer, ch)}" for ch in namer.channels]
    out.append("%phase call")
    for t, frame in frames:
        if frame.startswith("Response: "):
            action_id = _header(frame, "ActionID") or ""
            phase = _PHASES.get(action_id.split("-")[0], "next")
            if phase != "call":
                out.append(f"%phase {phase}")
            continue
        out.append(f"@{t - origin:.3f}\n" + _substitute(namer, frame))
    return "\n\n".join(out) + "\n"


def _frame(ami: bytes, row: dict[str, object]) -> str:
    start, length = int(str(row["offset"])), int(str(row["length"]))
    return ami[start : start + length].decode().removesuffix("\r\n\r\n").replace("\r\n", "\n")


def _is_recorder_noise(frame: str) -> bool:
    if frame.startswith(("Response: Goodbye", "Event: FullyBooted")):
        return True
    return frame.startswith("Event: SuccessfulAuth") and "Service: AMI" in frame


def _origin(frames: list[tuple[float, str]]) -> float:
    """Time zero: the action response that started the call, else the first event."""
    if frames and frames[0][1].startswith("Response: "):
        return frames[0][0]
    return frames[0][0] if frames else 0.0


def _header(frame: str, key: str) -> str | None:
    match = re.search(rf"^{key}: (.*)$", frame, re.M)
    return match[1] if match else None


def _name_channels(namer: _Namer, frames: list[tuple[float, str]]) -> None:
    for _, frame in frames:
        if frame.startswith("Event: Newchannel"):
            chan = _header(frame, "Channel") or ""
            base, _, half = chan.partition(";")
            if base not in namer.names:
                namer.channels.append(base)
                namer.name("c", base)
            suffix = f"_{half}" if half else ""
            namer.names[_header(frame, "Uniqueid") or ""] = namer.names[base] + suffix + "_uid"


def _device(namer: _Namer, channel: str) -> str:
    device = channel.rsplit("-", 1)[0]
    text = _EXT.sub(lambda m: "{" + namer.name("ext", m[1]) + "}", device)
    return text + (" local" if device.startswith("Local/") else "")


def _substitute(namer: _Namer, frame: str) -> str:
    lines = frame.split("\n")
    variable = ""
    for i, line in enumerate(lines):
        key, sep, value = line.partition(": ")
        if not sep:
            continue
        if key == "Variable":
            variable = value
        lines[i] = f"{key}: {_value(namer, key, value, variable)}"
    return "\n".join(lines)


def _value(namer: _Namer, key: str, value: str, variable: str) -> str:
    if key == "ActionID":
        return "{action_id}"
    if key in ("Linkedid", "DestLinkedid") and value == _first_uid(namer):
        return "{linkedid}"
    value = _times(namer, key, value)
    value = _CHANNEL.sub(lambda m: "{" + namer.names.get(m[0], m[0]) + "}", value)
    value = _UID.sub(lambda m: "{" + namer.names.get(m[0], m[0]) + "}", value)
    value = _BRIDGE.sub(lambda m: "{" + namer.name("bridge", m[0]) + "}", value)
    value = _SIPID.sub(lambda m: "{" + namer.name("sip", m[0]) + "}", value)
    value = _PHONE.sub("{phone}", value)
    value = _DID.sub("{did}", value)
    numeric = _NUMERIC.fullmatch(key) or (key == "Value" and variable not in _EXT_VARS)
    if numeric and not re.search(r"[A-Za-z]", value):
        return value
    return _EXT.sub(lambda m: "{" + namer.name("ext", m[1]) + "}", value)


def _first_uid(namer: _Namer) -> str:
    for value, name in namer.names.items():
        if name == "c1_uid" or name == "c1_1_uid":
            return value
    return ""


def _times(namer: _Namer, key: str, value: str) -> str:
    if key in ("EventTV", "SessionTV") and value:
        when = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
        return f"{{tv@{when - namer.origin:.3f}}}"
    if key in ("StartTime", "AnswerTime", "EndTime") and value:
        when = datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
        return f"{{cdr@{when - int(namer.origin):.0f}}}"
    if key == "LoginTime" and value.isdigit():
        return f"{{epoch@{int(value) - int(namer.origin)}}}"
    if key == "SentNTP" and value:
        return f"{{ntp@{float(value) - namer.origin:.6f}}}"
    return value


def main(captures: Path, out: Path) -> None:
    expected = json.loads((captures / "EXPECTED.json").read_text())
    for ami_path in sorted(captures.glob("*.ami")):
        name = ami_path.stem
        times = [json.loads(line) for line in (captures / f"{name}.times.jsonl").open()]
        desc = str(expected.get(name, {}).get("description", name)).replace("\n", " ")
        text = derive_template(ami_path.read_bytes(), times, desc)
        (out / f"{name}.tmpl").write_text(text, "utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
