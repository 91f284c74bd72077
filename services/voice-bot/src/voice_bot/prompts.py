"""Prompts over HTTP for the FastAGI file mode: ``GET /prompts/<sha256>.wav`` serves a cached
prompt (8 kHz WAV) so Asterisk plays ``STREAM FILE http://bot/prompts/<sha256>.wav`` through
its HTTP media cache (``res_http_media_cache``) — the sounds directory is then not shared.
Names are the content addresses only (64 hex digits): nothing else on disk can be read."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from cbruntime.http import App, Receive, Send

__all__ = ["prompt_app"]

_NAME = re.compile(r"^/prompts/([0-9a-f]{64})\.wav$")


def prompt_app(directory: Path) -> App:
    async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        m = _NAME.match(scope["path"])
        body, status, ctype = b"not found\n", 404, b"text/plain"
        if m and scope["method"] in ("GET", "HEAD"):
            h = m[1]
            try:
                body = await asyncio.to_thread((directory / h[:2] / f"{h}.wav").read_bytes)
                status, ctype = 200, b"audio/wav"
            except OSError:
                pass
        headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )

    return app
