"""Action requests and replies over ``{prefix}{pbx}:actions``: the requester's side.

A request is one stream entry (fields in :mod:`cbstreams.fields`); its reply is one
msgspec-JSON :class:`ActionReply` LPUSHed to the request's reply list, which the requester
BLPOPs until the request's deadline.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Literal

import msgspec
import redis.asyncio as aioredis

from . import fields as F
from .exceptions import ActionReplyTimeout, MalformedEntry, redis_errors
from .keys import PbxKeys

__all__ = ["ActionReply", "ActionRequest", "HeaderMap", "Status", "request_action"]

HeaderMap = dict[str, str | list[str]]
"""AMI headers; a repeated header (``Variable``) has a list of values, in order."""

Status = Literal["ok", "error", "expired", "unknown", "failed"]


class ActionRequest(msgspec.Struct, frozen=True, kw_only=True):
    action: str
    headers: HeaderMap
    id: str
    reply: str
    deadline_ms: int
    list_action: bool | None = None

    def entry(self) -> list[bytes | str | int]:
        out: list[bytes | str | int] = [
            F.F_ACTION,
            self.action,
            F.F_HEADERS,
            _enc.encode(self.headers),
            F.F_ID,
            self.id,
            F.F_REPLY,
            self.reply,
            F.F_DEADLINE,
            self.deadline_ms,
        ]
        if self.list_action is not None:
            out += [F.F_LIST, b"1" if self.list_action else b"0"]
        return out

    @classmethod
    def from_entry(cls, data: Mapping[bytes, bytes]) -> ActionRequest:
        try:
            flag = data.get(F.F_LIST)
            return cls(
                action=data[F.F_ACTION].decode(),
                headers=_headers_dec.decode(data.get(F.F_HEADERS, b"{}")),
                id=data[F.F_ID].decode(),
                reply=data[F.F_REPLY].decode(),
                deadline_ms=int(data[F.F_DEADLINE]),
                list_action=None if flag is None else flag == b"1",
            )
        except (KeyError, ValueError, msgspec.DecodeError) as exc:
            raise MalformedEntry(f"bad action request: {exc!r}") from None


class ActionReply(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """``status``: ok (Asterisk said Success), error (Asterisk said Error; see response),
    expired (deadline passed, not executed), unknown (may or may not have been executed:
    connection lost or timed out mid-action, or a re-delivered request), failed (not executed:
    no AMI connection, bad request)."""

    id: str
    status: Status
    response: HeaderMap | None = None
    events: list[HeaderMap] = []
    error: str | None = None


_enc = msgspec.json.Encoder()
_headers_dec = msgspec.json.Decoder(HeaderMap)
reply_decoder = msgspec.json.Decoder(ActionReply)


async def request_action(
    redis: aioredis.Redis,
    keys: PbxKeys,
    action: str,
    headers: Mapping[str, str | list[str]] | None = None,
    timeout: float = 5.0,  # noqa: ASYNC109 - the deadline travels with the request
    *,
    list_action: bool | None = None,
) -> ActionReply:
    """Ask the PBX's active ami-ingest to run ``action``; its reply within ``timeout`` s.

    Raises ActionReplyTimeout (the action may still run if the executor picked it up just
    before the deadline) or StreamUnavailable.
    """
    action_id = uuid.uuid4().hex
    deadline_ms = int(time.time() * 1000 + timeout * 1000)
    request = ActionRequest(
        action=action,
        headers=dict(headers or {}),
        id=action_id,
        reply=keys.reply(action_id),
        deadline_ms=deadline_ms,
        list_action=list_action,
    )
    with redis_errors():
        await redis.execute_command("XADD", keys.actions, "*", *request.entry())  # type: ignore[no-untyped-call]
        while (left := deadline_ms / 1000 - time.time()) > 0:
            got = await redis.blpop([request.reply], timeout=round(max(0.01, min(left, 1.0)), 3))
            if got is not None:
                await redis.delete(request.reply)
                return reply_decoder.decode(got[1])
    raise ActionReplyTimeout(f"no reply to {action} {action_id} within {timeout}s")
