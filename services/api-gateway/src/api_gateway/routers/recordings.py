"""Recordings: ``GET /v1/calls/{id}/recording`` streams the file with HTTP Range for a key
with ``recordings:read``; ``GET /v1/recordings/{id}?expires=&sig=`` does for anyone holding a
signed link (``cbcrm.links``, shared with crm-sync); ``POST …/recording/link`` makes one."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import FileResponse, StreamingResponse
from starlette.background import BackgroundTask

from cbcontracts import CallRecord

from ..auth import require
from ..deps import RecordingsReader, ServicesDep, pbx_for
from ..errors import not_found, unauthenticated
from ..schemas import RecordingLink
from ..services.recordings import content_type
from ..state import Services

router = APIRouter(tags=["recordings"])
CallId = Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")
_PASS = ("content-range", "content-length", "accept-ranges", "last-modified", "etag")


async def _record(services: Services, pbxs: list[str], call_id: str) -> CallRecord:
    for pbx in pbxs:
        record = await services.records.get(pbx, call_id)
        if record is not None and record.recording_file:
            return record
    raise not_found("no-recording", "this call has no recording")


async def _pbxs_for_key(
    request: Request, services: Services, call_id: str, pbx: str | None
) -> list[str]:
    key = await require("recordings:read")(request)
    owned = services.settings.tenant_pbxs(key.tenant)
    if key.extensions:  # a restricted key: only calls of its extensions
        record = await _record(services, owned, call_id)
        if not set(key.extensions) & set(record.extensions):
            raise not_found("no-recording", "this call has no recording")
    return [pbx_for(services.settings, key.tenant, pbx)] if pbx else owned


async def _stream(request: Request, services: Services, record: CallRecord) -> Response:
    name = record.recording_file
    media = content_type(name)
    if not services.recordings.is_remote:
        path = services.recordings.local_path(name)
        return FileResponse(path, media_type=media, content_disposition_type="inline")
    upstream = await services.recordings.open_remote(name, request.headers.get("range"))
    headers = {k: v for k, v in upstream.headers.items() if k.lower() in _PASS}
    headers.setdefault("accept-ranges", "bytes")
    return StreamingResponse(
        upstream.aiter_raw(),
        status_code=upstream.status_code,
        headers=headers,
        media_type=media,
        background=BackgroundTask(upstream.aclose),
    )


_AUDIO: dict[int | str, dict[str, Any]] = {
    200: {"content": {"audio/*": {}}},
    206: {"description": "a byte range"},
}


@router.get("/v1/calls/{call_id}/recording", response_class=Response, responses=_AUDIO)
async def get_recording(
    request: Request,
    services: ServicesDep,
    call_id: str = CallId,
    pbx: str | None = Query(None, max_length=64),
) -> Response:
    """The recording's bytes (wav/mp3/ogg), whole or the requested ``Range`` (206)."""
    pbxs = await _pbxs_for_key(request, services, call_id, pbx)
    return await _stream(request, services, await _record(services, pbxs, call_id))


@router.get("/v1/recordings/{call_id}", response_class=Response, responses=_AUDIO)
async def get_signed_recording(
    request: Request,
    services: ServicesDep,
    call_id: str = CallId,
    expires: int = Query(ge=0, le=2**40),
    sig: str = Query(pattern=r"^[0-9a-f]{64}$"),
) -> Response:
    """The same bytes through a signed link (``cbcrm.links``), no key needed until
    ``expires``; made by ``POST /v1/calls/{id}/recording/link`` or by crm-sync."""
    if services.links is None or not services.links.verify(call_id, expires, sig):
        raise unauthenticated("the link is invalid or expired")
    pbxs = [p for t in services.settings.tenants.values() for p in t.pbx]
    return await _stream(request, services, await _record(services, pbxs, call_id))


@router.post("/v1/calls/{call_id}/recording/link")
async def make_link(
    key: RecordingsReader,
    services: ServicesDep,
    call_id: str = CallId,
    pbx: str | None = Query(None, max_length=64),
) -> RecordingLink:
    """A signed link to the recording (``recordings.link_ttl_s``), needing no key."""
    if services.links is None:
        raise not_found(
            "links-disabled", "signed links are not configured (recordings.link_secret)"
        )
    pbxs = (
        [pbx_for(services.settings, key.tenant, pbx)]
        if pbx
        else services.settings.tenant_pbxs(key.tenant)
    )
    record = await _record(services, pbxs, call_id)
    if key.extensions and not set(key.extensions) & set(record.extensions):
        raise not_found("no-recording", "this call has no recording")
    now = int(time.time())
    return RecordingLink(
        url=services.links.url(call_id, now=now), expires_at=now + services.links.ttl_s
    )
