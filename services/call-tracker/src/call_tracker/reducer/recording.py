"""The recording file (``VarSet MIXMONITOR_FILENAME``, the only VarSet parsed)."""

from __future__ import annotations

from aioami import Message

from .emit import Ctx
from .legs import find_leg, hdr

__all__ = ["on_varset"]


def on_varset(ctx: Ctx, m: Message) -> None:
    if hdr(m, "Variable") != "MIXMONITOR_FILENAME":
        return
    found = find_leg(ctx, m, create=False)
    if found is not None and not found[0].recording:
        found[0].recording = hdr(m, "Value")
