"""Scenario templates: AMI frames with ``{placeholders}``, grouped in phases, timed.

A template file (``scenarios/NAME.tmpl``, written by :mod:`amisim.derive`) looks like::

    %description 79161234567 -> DID 4951234567 -> 100 answers ...
    %channel c1 PJSIP/trunk
    %channel c2 PJSIP/{ext1}
    %phase call
    @1.916
    Event: Newchannel
    Channel: {c1}
    ...

``@T`` gives the frame's offset in seconds from the start of the call (the capture's own
timing); ``%phase NAME`` starts a phase (a point an AMI action can jump to). Placeholders
are plain names (``c2``, ``c2_uid``, ``linkedid``, ``bridge1``, ``phone``, ``did``,
``ext1``, ``sip1``, ``action_id``) or times ``tv@T`` / ``cdr@T`` / ``ntp@T`` (call start +
T seconds, formatted as EventTV, Cdr time or NTP seconds).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

__all__ = ["ChannelSpec", "Phase", "Template", "load_template", "template_names"]

_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*(?:@-?[0-9.]+)?)\}")


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A channel the scenario creates: role ``c2`` is named ``<device>-<hex counter>``."""

    role: str
    device: str  # may hold placeholders, e.g. "PJSIP/{ext1}"
    local: bool = False


@dataclass(frozen=True, slots=True)
class Phase:
    """Consecutive frames; ``offsets`` are seconds from the call start."""

    name: str
    offsets: tuple[float, ...]
    fmt: str  # %-format of all frames, each ended by CRLF CRLF
    start: float

    def render(self, values: dict[str, str]) -> list[bytes]:
        """The phase's frames (without their CRLF CRLF) with ``values`` filled in."""
        text = self.fmt % values
        return text.encode().split(b"\r\n\r\n")[:-1]


@dataclass(frozen=True, slots=True)
class Template:
    """One call scenario derived from a real capture."""

    name: str
    description: str
    channels: tuple[ChannelSpec, ...]
    phases: tuple[Phase, ...]
    keys: tuple[str, ...]  # every placeholder, in order of first appearance
    first_at: dict[str, float] = field(hash=False)
    frame_count: int = 0
    #: The operator-extension placeholders the scenario needs (``ext1``, ``ext2`` ...).
    extensions: tuple[str, ...] = ()

    def phase(self, name: str) -> Phase:
        for phase in self.phases:
            if phase.name == name:
                return phase
        raise KeyError(f"{self.name} has no phase {name!r}")


def template_names() -> list[str]:
    """Names of the bundled scenario templates."""
    folder = resources.files("amisim") / "scenarios"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".tmpl"))


@cache
def load_template(name: str) -> Template:
    """Load and compile the bundled template ``name`` (cached)."""
    text = (resources.files("amisim") / "scenarios" / f"{name}.tmpl").read_text("utf-8")
    return parse_template(name, text)


def parse_template(name: str, text: str) -> Template:
    """Compile a template file's text."""
    meta: dict[str, str] = {}
    channels: list[ChannelSpec] = []
    phases: list[tuple[str, list[tuple[float, str]]]] = []
    for block in text.split("\n\n"):
        lines = [ln for ln in block.split("\n") if ln and not ln.startswith("#")]
        while lines and lines[0].startswith("%"):
            _directive(lines.pop(0), meta, channels, phases)
        if lines:
            at = float(lines[0].removeprefix("@"))
            phases[-1][1].append((at, "\r\n".join(lines[1:])))
    return _compile(name, meta.get("description", ""), channels, phases)


def _directive(
    line: str,
    meta: dict[str, str],
    channels: list[ChannelSpec],
    phases: list[tuple[str, list[tuple[float, str]]]],
) -> None:
    word, _, rest = line[1:].partition(" ")
    if word == "channel":
        role, device, *flags = rest.split()
        channels.append(ChannelSpec(role, device, local="local" in flags))
    elif word == "phase":
        phases.append((rest.strip(), []))
    else:
        meta[word] = rest


def _compile(
    name: str,
    description: str,
    channels: list[ChannelSpec],
    raw: list[tuple[str, list[tuple[float, str]]]],
) -> Template:
    keys: dict[str, float] = {}
    phases = []
    for phase_name, frames in raw:
        for at, body in frames:
            for key in _PLACEHOLDER.findall(body):
                keys.setdefault(key, at)
        fmt = "".join(_to_format(body) + "\r\n\r\n" for _, body in frames)
        offsets = tuple(at for at, _ in frames)
        phases.append(Phase(phase_name, offsets, fmt, offsets[0] if offsets else 0.0))
    for spec in channels:
        for key in _PLACEHOLDER.findall(spec.device):
            keys.setdefault(key, 0.0)
    count = sum(len(p.offsets) for p in phases)
    exts = tuple(k for k in keys if re.fullmatch(r"ext\d+", k))
    return Template(
        name, description, tuple(channels), tuple(phases), tuple(keys), keys, count, exts
    )


def _to_format(body: str) -> str:
    return _PLACEHOLDER.sub(r"%(\1)s", body.replace("%", "%%"))
