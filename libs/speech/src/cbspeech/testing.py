"""A contract-faithful fake SpeechKit v1 REST server: real HTTP on 127.0.0.1 (uvicorn).

It checks what the real service checks (per shared/reference/speechkit.md beside the repository):
the ``Authorization`` header in both forms (``Api-Key`` of a known service account, or
``Bearer`` of a known IAM token), ``folderId`` (required with a user's IAM token, refused
with an API key), the parameters, STT's 1 MB / 30 s limits, TTS's 5000 chars, and the
quotas (40 synthesis, 20 recognition requests per second; or ``quota_left`` requests).
Errors are the documented JSON body ``{"error_code", "error_message"}``; the codes' spelling
is ours (the docs show the keys, not the values). TTS answers a tone as long as the text
suggests; STT answers ``answers[...]`` or ``default_text``.

    async with FakeSpeechKit(api_keys={"k"}) as fake:
        client = SpeechKitClient(SpeechKitAuth("api-key", "k"), tts_url=fake.tts_url, ...)
"""

from __future__ import annotations

import json
import math
import socket
import struct
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Self

import uvicorn

from cbruntime import listen_socket

__all__ = ["FakeSpeechKit", "Seen"]

_Send = Callable[[dict[str, Any]], Awaitable[None]]
_Receive = Callable[[], Awaitable[dict[str, Any]]]
_RATES = {"8000", "16000", "48000"}


@dataclass(frozen=True)
class Seen:
    path: str
    auth_kind: str  # "Api-Key" | "Bearer" | ""
    params: dict[str, str]
    size: int
    status: int


@dataclass(eq=False)
class FakeSpeechKit:
    api_keys: set[str] = field(default_factory=set)
    iam_tokens: dict[str, str] = field(default_factory=dict)  # token -> "" (service) or folder
    default_text: str = ""
    answers: dict[int, str] = field(default_factory=dict)  # audio length -> text
    quota_left: int | None = None  # None: only the per-second quotas apply
    retry_after_s: int = 0
    seen: list[Seen] = field(default_factory=list)
    port: int = 0
    _server: uvicorn.Server | None = field(default=None, repr=False)
    _sock: socket.socket | None = field(default=None, repr=False)
    _window: dict[str, list[float]] = field(default_factory=dict, repr=False)

    @property
    def tts_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/speech/v1/tts:synthesize"

    @property
    def stt_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/speech/v1/stt:recognize"

    async def __aenter__(self) -> Self:
        config = uvicorn.Config(
            self._asgi, interface="asgi3", lifespan="off", log_config=None, access_log=False
        )
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        sock = listen_socket("127.0.0.1", self.port)
        try:
            self.port = sock.getsockname()[1]
            await server.startup(sockets=[sock])
        except BaseException:
            sock.close()
            raise
        self._server, self._sock = server, sock
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None and self._sock is not None:
            self._server.should_exit = self._server.force_exit = True
            await self._server.shutdown(sockets=[self._sock])
            self._sock.close()

    # -- the contract ------------------------------------------------------------------------

    def _auth(self, header: str, params: dict[str, str]) -> tuple[str, tuple[int, str, str] | None]:
        kind, _, secret = header.partition(" ")
        folder = params.get("folderId", "")
        if kind == "Api-Key" and secret in self.api_keys:
            if folder:
                return kind, (400, "BAD_REQUEST", "folderId must not be set for a service account")
            return kind, None
        if kind == "Bearer" and secret in self.iam_tokens:
            need = self.iam_tokens[secret]
            if need and folder != need:
                return kind, (401, "UNAUTHORIZED", "folderId is missing or does not match")
            return kind, None
        return kind, (401, "UNAUTHORIZED", "The token is invalid")

    def _quota(self, path: str) -> bool:
        if self.quota_left is not None:
            self.quota_left -= 1
            return self.quota_left >= 0
        now = time.monotonic()
        window = [t for t in self._window.get(path, []) if now - t < 1.0]
        window.append(now)
        self._window[path] = window
        return len(window) <= (40 if "tts" in path else 20)

    def _tts(self, p: dict[str, str]) -> tuple[int, bytes] | tuple[int, str, str]:
        if ("text" in p) == ("ssml" in p):
            return 400, "BAD_REQUEST", "exactly one of text and ssml is required"
        text = p.get("text") or p.get("ssml", "")
        if not text.strip() or len(text) > 5000:
            return 400, "BAD_REQUEST", "text must be 1..5000 characters"
        fmt, rate = p.get("format", "oggopus"), p.get("sampleRateHertz", "48000")
        if fmt not in ("lpcm", "oggopus", "mp3") or rate not in _RATES:
            return 400, "BAD_REQUEST", "bad format or sampleRateHertz"
        if not 0.1 <= float(p.get("speed", "1.0")) <= 3.0:
            return 400, "BAD_REQUEST", "speed must be 0.1..3.0"
        samples = int(int(rate) * min(5.0, 0.06 * len(text)))
        pcm = b"".join(struct.pack("<h", int(8000 * math.sin(i / 9))) for i in range(samples))
        return 200, pcm if fmt == "lpcm" else b"OggS" + pcm[:64]

    def _stt(self, p: dict[str, str], body: bytes) -> tuple[int, bytes] | tuple[int, str, str]:
        fmt, rate = p.get("format", "oggopus"), p.get("sampleRateHertz", "48000")
        if fmt not in ("lpcm", "oggopus") or rate not in _RATES:
            return 400, "BAD_REQUEST", "bad format or sampleRateHertz"
        if len(body) > 1024 * 1024:
            return 400, "BAD_REQUEST", "audio is larger than 1 MB"
        if fmt == "lpcm" and len(body) / (2 * int(rate)) > 30:
            return 400, "BAD_REQUEST", "audio is longer than 30 s"
        text = self.answers.get(len(body), self.default_text)
        return 200, json.dumps({"result": text}).encode()

    async def _asgi(self, scope: dict[str, Any], receive: _Receive, send: _Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        path = scope["path"]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        params = dict(urllib.parse.parse_qsl(scope["query_string"].decode()))
        if path.endswith("tts:synthesize"):
            params |= dict(urllib.parse.parse_qsl(body.decode()))
        kind, refused = self._auth(headers.get("authorization", ""), params)
        extra: list[tuple[bytes, bytes]] = []
        if refused is not None:
            result: tuple[int, bytes] | tuple[int, str, str] = refused
        elif not self._quota(path):
            result = (429, "RESOURCE_EXHAUSTED", "quota exceeded")
            extra = [(b"retry-after", str(self.retry_after_s).encode())]
        elif path == "/speech/v1/tts:synthesize":
            result = self._tts(params)
        elif path == "/speech/v1/stt:recognize":
            result = self._stt(params, body)
        else:
            result = (404, "NOT_FOUND", "no such method")
        status = result[0]
        if len(result) == 3:
            payload = json.dumps({"error_code": result[1], "error_message": result[2]}).encode()
        else:
            payload = result[1]
        self.seen.append(Seen(path, kind, params, len(body), status))
        hdrs = [(b"content-type", b"application/json"), *extra]
        await send({"type": "http.response.start", "status": status, "headers": hdrs})
        await send({"type": "http.response.body", "body": payload})
