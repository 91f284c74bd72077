"""Recording bytes: from a local root (no path escapes it: resolved, symlinks followed and
re-checked) or proxied from an HTTP base URL with the client's Range header. Ranges of local
files are served by Starlette's ``FileResponse`` (206, Content-Range, 416, multi-range)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from urllib.parse import quote

import httpx

from ..errors import ApiError, not_found
from ..settings import RecordingSettings

__all__ = ["CONTENT_TYPES", "RecordingSource", "content_type"]

CONTENT_TYPES = {
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".gsm": "audio/gsm",
}


def content_type(name: str) -> str:
    return CONTENT_TYPES.get(PurePosixPath(name).suffix.lower(), "application/octet-stream")


class RecordingSource:
    def __init__(self, settings: RecordingSettings, http: httpx.AsyncClient) -> None:
        self._root = Path(settings.root).resolve() if settings.root else None
        self._base_url = settings.base_url.rstrip("/")
        self._pbx_dir = PurePosixPath(settings.pbx_dir) if settings.pbx_dir else None
        self._http = http

    def _relative(self, name: str) -> str:
        """``name`` relative to the root when it lies under the PBX's MixMonitor directory
        (a name the PBX reported with a NUL or control character names no file: 404)."""
        if any(ord(c) < 32 for c in name):
            raise not_found("no-recording", "this call has no recording")
        path = PurePosixPath(name)
        if self._pbx_dir is not None and path.is_relative_to(self._pbx_dir):
            return str(path.relative_to(self._pbx_dir))
        return name

    @property
    def is_remote(self) -> bool:
        return self._root is None and bool(self._base_url)

    def local_path(self, name: str) -> Path:
        """The file ``name`` (MixMonitor's file, relative or absolute under the root)."""
        if self._root is None:
            raise not_found("no-recording", "recordings are not configured")
        name = self._relative(name)
        candidate = Path(name) if Path(name).is_absolute() else self._root / name
        resolved = candidate.resolve()
        if not resolved.is_relative_to(self._root) or not resolved.is_file():
            raise not_found("no-recording", "this call has no recording")
        return resolved

    async def open_remote(self, name: str, range_header: str | None) -> httpx.Response:
        """A streaming response from the recordings server (the caller closes it)."""
        parts = PurePosixPath(self._relative(name).lstrip("/")).parts
        if not parts or any(p in ("..", ".") for p in parts):
            raise not_found("no-recording", "this call has no recording")
        url = f"{self._base_url}/{'/'.join(quote(p) for p in parts)}"
        headers = {"Range": range_header} if range_header else {}
        request = self._http.build_request("GET", url, headers=headers)
        try:
            response = await self._http.send(request, stream=True)
        except httpx.HTTPError:
            raise ApiError(
                502, "recording-unavailable", "Bad gateway", "recordings server"
            ) from None
        if response.status_code in (200, 206):
            return response
        await response.aclose()
        if response.status_code == 416:
            raise ApiError(416, "range-not-satisfiable", "Range not satisfiable")
        raise not_found("no-recording", "this call has no recording")
