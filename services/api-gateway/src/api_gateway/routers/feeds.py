"""Live feeds over WebSocket and SSE, and operator sessions.

* ``/v1/feeds/events`` — an operator session (``?token=cbs_…``) gets its extension's cards;
  a key with ``events:read`` gets its tenant's call and CRM events.
* ``/v1/feeds/ami/{pbx}`` — an ``admin`` key without extension limits follows the raw AMI of
  one of its tenant's PBXs.
* ``/v1/feeds/presence`` — colleagues' line states (``events:read``): a ``presence.snapshot``
  of the current states first, then a ``presence.state`` per change (docs/presence.md).

What each caller sees, and how many feeds it may hold, is :mod:`..authz`'s decision.

Resume: ``?since=<id>`` (WebSocket) or ``Last-Event-ID`` (SSE) with the ``id`` of the last
message received; an operator's feed resumes from a snapshot of its open cards
(``services.cards``). WebSocket refusals close the handshake with 4000 + the HTTP status;
while Redis is unreachable that is 4503 (SSE: 503 ``backend-unavailable``), and an open feed
whose Redis goes away is closed with 1013 (try again later): the client resumes with its
cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from fastapi import APIRouter, Query, Request, WebSocket, status
from fastapi.responses import StreamingResponse
from starlette.requests import HTTPConnection

from cbstreams import PbxKeys

from .. import authz
from ..authz import services_of
from ..deps import Admin, ServicesDep
from ..errors import UNAVAILABLE, ApiError, backend_unavailable
from ..schemas import SessionCreate, SessionOut
from ..services.cards import OperatorCards, resume_operator
from ..services.feeds import ami_filter, messages
from ..services.presence import presence_view

router = APIRouter(tags=["feeds"])
log = logging.getLogger(__name__)
_enc = msgspec.json.Encoder()
Feed = AsyncIterator[dict[str, Any] | None]


@router.post("/v1/sessions", status_code=status.HTTP_201_CREATED)
async def create_session(body: SessionCreate, admin: Admin, services: ServicesDep) -> SessionOut:
    """An operator session bound to one user and one extension (for the browser's feed);
    ``supervisor``: it also sees the team (``GET /v1/team``)."""
    authz.may_issue_for(admin, (body.extension,))
    ttl = body.ttl_s or services.settings.feeds.session_ttl_s
    session, token = await services.sessions.issue(
        admin.tenant, body.user, body.extension, ttl, admin.id, supervisor=body.supervisor
    )
    return SessionOut.of(session, token)


async def _opening(opening: Any) -> Feed:
    """Open a feed; Redis unreachable meanwhile → 503 ``backend-unavailable``."""
    try:
        feed: Feed = await opening
    except UNAVAILABLE as exc:
        log.warning("feed refused: redis unavailable", extra={"error": type(exc).__name__})
        raise backend_unavailable() from None
    return feed


async def _events_feed(conn: HTTPConnection, since: str | None) -> Feed:
    services = services_of(conn)
    who = await authz.require("events:read", query=True)(conn)
    keep = authz.feed_filter(services, who)
    feeds = services.feeds
    streams = [feeds.settings.calls_stream, feeds.settings.crm_stream]
    labels = ["calls", "crm"]
    if not isinstance(keep, OperatorCards) or since is None:
        start = await feeds.start(streams, since)
        return authz.hold_feed(services, who, messages(feeds, streams, labels, start, keep))
    # an operator's feed resumes from a snapshot of its open cards
    start, first = await resume_operator(feeds, services.records, streams, since, keep)
    feed = messages(feeds, streams, labels, start, keep, [first])
    return authz.hold_feed(services, who, feed)


async def _ami_feed(conn: HTTPConnection, pbx: str, since: str | None) -> Feed:
    services = services_of(conn)
    who = await authz.require("events:read", query=True)(conn)
    name = authz.ami_access(services, who, pbx)
    stream = PbxKeys(name, services.settings.key_prefix).ami
    start = await services.feeds.start([stream], since)
    feed = messages(services.feeds, [stream], ["ami"], start, ami_filter)
    return authz.hold_feed(services, who, feed)


async def _presence_feed(conn: HTTPConnection, since: str | None) -> Feed:
    services = services_of(conn)
    who = await authz.require("events:read", query=True)(conn)
    keep = authz.presence_filter(services, who)
    prefix = services.settings.key_prefix
    streams = [PbxKeys(pbx, prefix).presence for pbx in keep.pbxs]
    start = await services.feeds.start(streams, since)
    # The snapshot makes the states right whatever was missed (a gap, a first connect).
    states = await presence_view(services.redis, prefix, keep)
    first = [{"type": "presence.snapshot", "states": states}]
    feed = messages(services.feeds, streams, list(keep.pbxs), start, keep, first)
    return authz.hold_feed(services, who, feed)


async def _sse(feed: Feed) -> AsyncIterator[bytes]:
    yield b": connected\n\n"
    try:
        async for message in feed:
            if message is None:
                yield b": keepalive\n\n"
                continue
            yield b"id: %s\nevent: %s\ndata: %s\n\n" % (
                message["id"].encode(),
                message["type"].encode(),
                _enc.encode(message),
            )
    except UNAVAILABLE as exc:  # the stream ends; EventSource resumes with Last-Event-ID
        log.warning("feed closed: redis unavailable", extra={"error": type(exc).__name__})


def _sse_response(feed: Feed) -> StreamingResponse:
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(_sse(feed), media_type="text/event-stream", headers=headers)


def _since(request: Request, since: str | None) -> str | None:
    return request.headers.get("last-event-id") or since


@router.get("/v1/feeds/events", response_class=StreamingResponse)
async def events_sse(
    request: Request, since: str | None = Query(None, max_length=100)
) -> StreamingResponse:
    """Server-sent events: cards (operator session) or tenant events (key)."""
    return _sse_response(await _opening(_events_feed(request, _since(request, since))))


@router.get("/v1/feeds/ami/{pbx}", response_class=StreamingResponse)
async def ami_sse(
    request: Request, pbx: str, since: str | None = Query(None, max_length=100)
) -> StreamingResponse:
    """Server-sent raw AMI frames of one PBX (``events:read`` + ``admin``)."""
    return _sse_response(await _opening(_ami_feed(request, pbx, _since(request, since))))


@router.get("/v1/feeds/presence", response_class=StreamingResponse)
async def presence_sse(
    request: Request, since: str | None = Query(None, max_length=400)
) -> StreamingResponse:
    """Server-sent line states of the caller's colleagues (``events:read``)."""
    return _sse_response(await _opening(_presence_feed(request, _since(request, since))))


async def _serve_ws(ws: WebSocket, opening: Any) -> None:
    try:
        feed = await _opening(opening)
    except ApiError as err:
        await ws.close(code=4000 + err.status, reason=err.error_id)
        return
    metrics = services_of(ws).metrics.feeds.labels("ws")
    await ws.accept()
    metrics.inc()

    async def pump() -> None:
        async for message in feed:
            if message is not None:
                await ws.send_text(_enc.encode(message).decode())

    try:
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(pump())
            while (await ws.receive())["type"] != "websocket.disconnect":
                pass
            task.cancel()
    except* UNAVAILABLE as errors:  # resumable: the client reconnects with its cursor
        log.warning("feed closed: redis unavailable", extra={"error": repr(errors.exceptions[0])})
        with contextlib.suppress(OSError, RuntimeError):
            await ws.close(code=1013, reason="backend-unavailable")
    except* (OSError, RuntimeError) as errors:  # the client went away mid-send
        log.info("feed client gone", extra={"error": repr(errors.exceptions[0])})
    finally:
        metrics.dec()


@router.websocket("/v1/feeds/events")
async def events_ws(ws: WebSocket, since: str | None = None) -> None:
    await _serve_ws(ws, _events_feed(ws, since))


@router.websocket("/v1/feeds/ami/{pbx}")
async def ami_ws(ws: WebSocket, pbx: str, since: str | None = None) -> None:
    await _serve_ws(ws, _ami_feed(ws, pbx, since))


@router.websocket("/v1/feeds/presence")
async def presence_ws(ws: WebSocket, since: str | None = None) -> None:
    await _serve_ws(ws, _presence_feed(ws, since))
