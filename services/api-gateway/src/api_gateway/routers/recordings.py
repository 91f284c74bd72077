"""Recordings: ``GET /v1/calls/{id}/recording`` streams the file with HTTP Range, for a key
with ``recordings:read`` or anyone holding a valid signed link (``?pbx=&exp=&sig=``);
``POST …/recording/link`` makes such a link."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import FileResponse, StreamingResponse
from starlette.background import BackgroundTask

from cbcontracts import CallRecord

from ..auth import require
from ..deps import RecordingsReader, ServicesDep, pbx_for
from ..errors import ApiError, not_found, unauthenticated
from ..schemas import RecordingLink
from ..services.recordings import content_type
from ..state import Services

router = APIRouter(prefix="/v1/calls", tags=["recordings"])
CallId = Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")
_PASS = ("content-range", "content-length", "accept-ranges", "last-modified", "etag")


async def _record(services: Services, pbxs: list[str], call_id: str) -> CallRecord:
    for pbx in pbxs:
        record = await services.records.get(pbx, call_id)
        if record is not None and record.recording_file:
            return record
    raise not_found("no-recording", "this call has no recording")


async def _pbxs_for_request(
    request: Request,
    services: Services,
    call_id: str,
    pbx: str | None,
    exp: int | None,
    sig: str | None,
) -> list[str]:
    if exp is not None or sig is not None:
        if not (pbx and exp is not None and sig and services.links.verify(pbx, call_id, exp, sig)):
            raise unauthenticated("the link is invalid or expired")
        return [pbx]
    key = await require("recordings:read")(request)
    if key.extensions:  # a restricted key: only calls of its extensions
        record = await _record(services, services.settings.tenant_pbxs(key.tenant), call_id)
        if not set(key.extensions) & set(record.extensions):
            raise not_found("no-recording", "this call has no recording")
    return (
        [pbx_for(services.settings, key.tenant, pbx)]
        if pbx
        else services.settings.tenant_pbxs(key.tenant)
    )


@router.get(
    "/{call_id}/recording",
    response_class=Response,
    responses={200: {"content": {"audio/*": {}}}, 206: {"description": "a byte range"}},
)
async def get_recording(
    request: Request,
    services: ServicesDep,
    call_id: str = CallId,
    pbx: str | None = Query(None, max_length=64),
    exp: int | None = Query(None, ge=0, le=2**40),
    sig: str | None = Query(None, max_length=100),
) -> Response:
    """The recording's bytes (wav/mp3/ogg), whole or the requested ``Range`` (206)."""
    pbxs = await _pbxs_for_request(request, services, call_id, pbx, exp, sig)
    record = await _record(services, pbxs, call_id)
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


@router.post("/{call_id}/recording/link")
async def make_link(
    key: RecordingsReader,
    services: ServicesDep,
    call_id: str = CallId,
    pbx: str | None = Query(None, max_length=64),
    ttl_s: int | None = Query(None, ge=10, le=7 * 86_400),
) -> RecordingLink:
    """A signed link to the recording, valid ``ttl_s`` seconds, needing no key."""
    if not services.links.enabled:
        raise ApiError(501, "links-disabled", "Not configured", "recordings.link_secret is unset")
    pbxs = (
        [pbx_for(services.settings, key.tenant, pbx)]
        if pbx
        else services.settings.tenant_pbxs(key.tenant)
    )
    record = await _record(services, pbxs, call_id)
    if key.extensions and not set(key.extensions) & set(record.extensions):
        raise not_found("no-recording", "this call has no recording")
    url, expires = services.links.link(services.settings.public_url, record.pbx, call_id, ttl_s)
    return RecordingLink(url=url, expires_at=expires)
