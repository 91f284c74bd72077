"""Click-to-call, hang-up and transfer through the PBX's action stream (``request_action``):
the one path the REST API and the CRM webhooks share."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import redis.asyncio as aioredis

from cbstreams import ActionReply, ActionReplyTimeout, PbxKeys, StreamUnavailable, request_action

from ..errors import ApiError
from ..settings import OriginateSettings
from .numbers import NumberPolicy

__all__ = ["CallControl", "Originated"]


@dataclass(frozen=True)
class Originated:
    call_id: str
    pbx: str
    extension: str
    number: str


class CallControl:
    def __init__(self, redis: aioredis.Redis, prefix: str, settings: OriginateSettings) -> None:
        self._redis = redis
        self._prefix = prefix
        self._settings = settings
        self.policy = NumberPolicy(settings)

    async def originate(
        self, pbx: str, extension: str, number: str, *, variables: dict[str, str] | None = None
    ) -> Originated:
        """Ring ``extension`` first; when it answers the PBX dials ``number``. The operator's
        phone shows the client's number. Returns once the PBX accepted the request."""
        ext = self.policy.extension(extension)
        dial = self.policy.number(number)
        call_id = f"cb-{uuid.uuid4().hex}"
        s = self._settings
        extra = [f"{k}={v}" for k, v in (variables or {}).items()]
        headers: dict[str, str | list[str]] = {
            "Channel": f"{s.channel_tech}/{ext}",
            "Context": s.context,
            "Exten": dial,
            "Priority": "1",
            "CallerID": f'"{dial}" <{dial}>',
            "Timeout": str(s.ring_timeout_s * 1000),
            "Async": "true",
            "ChannelId": call_id,
            "Variable": [f"CB_CALL_ID={call_id}", *extra],
        }
        await self._run(pbx, "Originate", headers)
        return Originated(call_id=call_id, pbx=pbx, extension=ext, number=dial)

    async def channels(self, pbx: str, call_id: str) -> list[dict[str, str]]:
        """The live channels of a call (CoreShowChannels, by Linkedid), oldest first."""
        reply = await self._run(pbx, "CoreShowChannels", {}, list_action=True)
        out = [
            {k: v if isinstance(v, str) else v[0] for k, v in ev.items()}
            for ev in reply.events
            if ev.get("Event") == "CoreShowChannel" and ev.get("Linkedid") == call_id
        ]
        if not out:
            raise ApiError(404, "no-such-call", "Not found", "no live call with this id")
        return out

    async def hangup(self, pbx: str, call_id: str) -> None:
        channels = await self.channels(pbx, call_id)
        first = next((c for c in channels if c.get("Uniqueid") == call_id), channels[0])
        await self._run(pbx, "Hangup", {"Channel": first["Channel"], "Cause": "16"})

    async def transfer(
        self, pbx: str, call_id: str, to: str, *, mode: str, from_extension: str | None
    ) -> None:
        target = self.policy.extension(to)
        channels = await self.channels(pbx, call_id)
        prefix = f"{self._settings.channel_tech}/{from_extension}-" if from_extension else None
        chosen = next(
            (c for c in channels if prefix and c.get("Channel", "").startswith(prefix)), None
        ) or next((c for c in channels if c.get("Uniqueid") == call_id), None)
        if chosen is None:
            raise ApiError(409, "no-transferer", "Conflict", "name from_extension on this call")
        action = "BlindTransfer" if mode == "blind" else "Redirect"
        headers: dict[str, str | list[str]] = {
            "Channel": chosen["Channel"],
            "Exten": target,
            "Context": self._settings.context,
        }
        if action == "Redirect":
            headers["Priority"] = "1"
        await self._run(pbx, action, headers)

    async def _run(
        self,
        pbx: str,
        action: str,
        headers: dict[str, str | list[str]],
        *,
        list_action: bool | None = None,
    ) -> ActionReply:
        keys = PbxKeys(pbx, self._prefix)
        try:
            reply = await request_action(
                self._redis,
                keys,
                action,
                headers,
                timeout=self._settings.action_timeout_s,
                list_action=list_action,
            )
        except ActionReplyTimeout:
            raise ApiError(
                504, "pbx-timeout", "PBX did not answer", f"no answer to {action} in time"
            ) from None
        except StreamUnavailable:
            raise ApiError(503, "backend-unavailable", "Service unavailable", "Redis") from None
        return _checked(action, reply)


def _checked(action: str, reply: ActionReply) -> ActionReply:
    if reply.status == "ok":
        return reply
    if reply.status == "error":
        message = reply.response.get("Message", "") if reply.response else ""
        text = message if isinstance(message, str) else "; ".join(message)
        raise ApiError(502, "pbx-refused", "PBX refused the action", f"{action}: {text}")
    if reply.status == "expired":
        raise ApiError(504, "pbx-timeout", "PBX did not answer", f"{action} expired unsent")
    raise ApiError(502, "pbx-unavailable", "PBX unavailable", f"{action}: {reply.status}")
