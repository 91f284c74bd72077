"""Recordings: ``GET /v1/calls/{id}/recording`` streams the file with HTTP Range for a caller
with ``recordings:read`` that took part in the call (:func:`..authz.recording`);
``GET /v1/recordings/{tenant}/{id}?expires=&sig=`` does for anyone holding a signed link
(``cbcrm.links``, shared with crm-sync: signed over tenant and call, resolved in that tenant
only); ``POST …/recording/link`` makes one."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import FileResponse, StreamingResponse
from starlette.background import BackgroundTask

from cbcontracts import CallRecord

from .. import authz
from ..deps import RecordingsReader, ServicesDep
from ..errors import not_found
from ..schemas import RecordingLink
from ..services.recordings import content_type
from ..state import Services

router = APIRouter(tags=["recordings"])
CallId = Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")
_PASS = ("content-range", "content-length", "accept-ranges", "last-modified", "etag")


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
    who: RecordingsReader,
    services: ServicesDep,
    call_id: str = CallId,
    pbx: str | None = Query(None, max_length=64),
) -> Response:
    """The recording's bytes (wav/mp3/ogg), whole or the requested ``Range`` (206)."""
    return await _stream(request, services, await authz.recording(services, who, call_id, pbx))


@router.get("/v1/recordings/{tenant}/{call_id}", response_class=Response, responses=_AUDIO)
async def get_signed_recording(
    request: Request,
    services: ServicesDep,
    tenant: str = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$"),
    call_id: str = CallId,
    expires: int = Query(ge=0, le=2**40),
    sig: str = Query(pattern=r"^[0-9a-f]{64}$"),
) -> Response:
    """The same bytes through a signed link (``cbcrm.links``), no key needed until
    ``expires``; made by ``POST /v1/calls/{id}/recording/link`` or by crm-sync."""
    record = await authz.signed_recording(services, tenant, call_id, expires, sig)
    return await _stream(request, services, record)


@router.post("/v1/calls/{call_id}/recording/link")
async def make_link(
    who: RecordingsReader,
    services: ServicesDep,
    call_id: str = CallId,
    pbx: str | None = Query(None, max_length=64),
) -> RecordingLink:
    """A signed link to the recording (``recordings.link_ttl_s``), needing no key."""
    if services.links is None:
        raise not_found(
            "links-disabled", "signed links are not configured (recordings.link_secret)"
        )
    await authz.recording(services, who, call_id, pbx)
    now = int(time.time())
    url = services.links.url(call_id, tenant=who.tenant, now=now)
    return RecordingLink(url=url, expires_at=now + services.links.ttl_s)
