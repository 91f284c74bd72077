"""Colleagues' line states for the gateway: the presence service's view and stream
(``cb:{pbx}:presence[:view]``, docs/presence.md) shaped for one principal.

Who sees what is :func:`..authz.presence_filter`'s decision; this module only applies it
to the view (``GET /v1/presence``) and to the stream (the presence feed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
import redis.asyncio as aioredis

from cbcontracts.presence import PresenceState, decode_presence
from cbstreams import PbxKeys
from cbstreams.exceptions import redis_errors

__all__ = ["PresenceFilter", "presence_view"]

_PARTIES = ("remote", "remote_name", "call_id", "direction")


@dataclass(frozen=True, slots=True)
class PresenceFilter:
    """``pbxs``: the tenant's PBXs (in feed stream order); ``extensions``: the ones this
    principal may see (None: all); ``parties``: the extensions whose call partner (caller,
    Call-ID) it may see (None: all)."""

    pbxs: tuple[str, ...]
    extensions: frozenset[str] | None = None
    parties: frozenset[str] | None = None

    def shape(self, p: PresenceState) -> dict[str, Any] | None:
        if p.pbx not in self.pbxs:
            return None
        if self.extensions is not None and p.extension not in self.extensions:
            return None
        out: dict[str, Any] = msgspec.to_builtins(p)
        out.pop("type", None)
        if self.parties is not None and p.extension not in self.parties:
            for name in _PARTIES:
                out.pop(name, None)
        return out

    def __call__(self, stream: int, fields: dict[bytes, bytes]) -> list[dict[str, Any]]:
        try:
            p = decode_presence(fields[b"data"])
        except (KeyError, msgspec.DecodeError):
            return []
        shaped = self.shape(p)
        return [] if shaped is None else [{"type": "presence.state", "state": shaped}]


async def presence_view(
    redis: aioredis.Redis, prefix: str, keep: PresenceFilter
) -> list[dict[str, Any]]:
    """The current state of every extension ``keep`` lets through, by PBX and extension."""
    out: list[dict[str, Any]] = []
    for pbx in keep.pbxs:
        with redis_errors():
            view: dict[bytes, bytes] = await redis.hgetall(PbxKeys(pbx, prefix).presence_view)  # type: ignore[assignment]
        for _ext, raw in sorted(view.items()):
            try:
                shaped = keep.shape(decode_presence(raw))
            except msgspec.DecodeError:
                continue
            if shaped is not None:
                out.append(shaped)
    return out
