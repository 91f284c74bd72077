"""The extensions to watch, from the PBX's own hints: the PBX's active ami-ingest runs
``ExtensionStateList`` for us (through the actions stream, like every action the suite
sends) and we keep the extensions whose hint lives in the configured context."""

from __future__ import annotations

import logging

import redis.asyncio as aioredis

from cbstreams import ActionReplyTimeout, PbxKeys, StreamUnavailable, request_action

__all__ = ["DiscoveryFailed", "hinted_extensions"]

log = logging.getLogger(__name__)


class DiscoveryFailed(Exception):
    """No list of hints this time (ingest not running, AMI down, action refused)."""


async def hinted_extensions(
    redis: aioredis.Redis, keys: PbxKeys, context: str, *, within_s: float = 5.0
) -> list[str]:
    """The extensions with a hint in ``context`` (sorted, digits and names alike)."""
    try:
        reply = await request_action(
            redis, keys, "ExtensionStateList", timeout=within_s, list_action=True
        )
    except (ActionReplyTimeout, StreamUnavailable) as exc:
        raise DiscoveryFailed(f"no answer from ami-ingest: {exc}") from exc
    if reply.status != "ok":
        raise DiscoveryFailed(f"ExtensionStateList: {reply.status} {reply.error or ''}".strip())
    found = {
        str(ev.get("Exten"))
        for ev in reply.events
        if ev.get("Event") == "ExtensionStatus" and ev.get("Context") == context and ev.get("Exten")
    }
    return sorted(found)
