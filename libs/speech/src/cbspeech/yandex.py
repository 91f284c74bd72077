"""Yandex SpeechKit API v1 REST: ``tts:synthesize`` and ``stt:recognize``.

Auth is a service account's API key (``Authorization: Api-Key …``, no folderId) or an IAM
token (``Authorization: Bearer …``; a user's token needs ``folderId``). Errors come as
``{"error_code": …, "error_message": …}`` and are mapped here, at one boundary: 400 ->
SpeechBadRequest, 401/403 -> SpeechAuthError, 429 -> retried after ``Retry-After`` (at most
``retries_429`` times) then SpeechQuotaExceeded, 5xx/network -> SpeechUnavailable. STT's
documented limits (1 MB, 30 s, mono) and TTS's 5000 characters are checked before sending.
Secrets live in :class:`cbruntime.Secret`-like holders and never reach a message or repr.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Literal

import httpx
import msgspec

from .base import Audio, Recognition, VoiceParams
from .exceptions import (
    SpeechAuthError,
    SpeechBadRequest,
    SpeechError,
    SpeechLimitExceeded,
    SpeechQuotaExceeded,
    SpeechUnavailable,
)

__all__ = ["STT_MAX_BYTES", "STT_MAX_SECONDS", "TTS_MAX_CHARS", "SpeechKitAuth", "SpeechKitClient"]

TTS_URL = "https://tts.api.cloud.yandex.net/speech/v1/tts:synthesize"
STT_URL = "https://stt.api.cloud.yandex.net/speech/v1/stt:recognize"
STT_MAX_BYTES = 1024 * 1024
STT_MAX_SECONDS = 30.0
TTS_MAX_CHARS = 5000
NAME = "yandex"


class SpeechKitAuth:
    """``kind="api-key"`` (service account) or ``"iam"`` (Bearer IAM token, 12 h)."""

    __slots__ = ("_secret", "folder_id", "kind")

    def __init__(self, kind: Literal["api-key", "iam"], secret: str, folder_id: str = "") -> None:
        self.kind, self._secret, self.folder_id = kind, secret, folder_id

    def header(self) -> str:
        return f"{'Api-Key' if self.kind == 'api-key' else 'Bearer'} {self._secret}"

    def __repr__(self) -> str:
        return f"SpeechKitAuth({self.kind!r}, '***', folder_id={self.folder_id!r})"


class _ErrorBody(msgspec.Struct):
    error_code: str = ""
    error_message: str = ""


class _SttBody(msgspec.Struct):
    result: str = ""


class SpeechKitClient:
    """Implements both :class:`Synthesizer` and :class:`Recognizer` (LPCM, 8 kHz)."""

    name = NAME

    def __init__(
        self,
        auth: SpeechKitAuth,
        *,
        tts_url: str = TTS_URL,
        stt_url: str = STT_URL,
        timeout_s: float = 10.0,
        retries_429: int = 2,
        max_wait_s: float = 5.0,
        topic: str = "general",
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.auth, self.tts_url, self.stt_url, self.topic = auth, tts_url, stt_url, topic
        self.retries_429, self.max_wait_s = retries_429, max_wait_s
        self._client = client or httpx.AsyncClient(timeout=timeout_s)

    def __repr__(self) -> str:
        return f"SpeechKitClient({self.auth!r})"

    async def aclose(self) -> None:
        await self._client.aclose()

    def _common(self) -> dict[str, str]:
        return {"folderId": self.auth.folder_id} if self.auth.folder_id else {}

    async def synthesize_raw(
        self, text: str, voice: VoiceParams, *, fmt: str = "lpcm", sample_rate: int = 8000
    ) -> bytes:
        """The audio bytes SpeechKit returns (LPCM: raw 16-bit mono, no header)."""
        if not text.strip() or len(text) > TTS_MAX_CHARS:
            raise SpeechLimitExceeded(f"TTS text must be 1..{TTS_MAX_CHARS} chars", provider=NAME)
        form = {"ssml" if voice.ssml else "text": text, "format": fmt, **self._common()}
        form |= {
            k: v
            for k, v in (("lang", voice.lang), ("voice", voice.voice), ("emotion", voice.emotion))
            if v
        }
        if voice.speed != 1.0:
            form["speed"] = f"{voice.speed:g}"
        if fmt == "lpcm":
            form["sampleRateHertz"] = str(sample_rate)
        return await self._post(self.tts_url, data=form)

    async def synthesize(self, text: str, voice: VoiceParams) -> Audio:
        return Audio(await self.synthesize_raw(text, voice, sample_rate=8000), 8000)

    async def recognize_raw(
        self,
        data: bytes,
        *,
        fmt: str = "lpcm",
        sample_rate: int = 8000,
        lang: str = "ru-RU",
        duration_s: float | None = None,
    ) -> str:
        """Recognise ``data``; for oggopus pass ``duration_s`` to have it checked."""
        if len(data) > STT_MAX_BYTES:
            raise SpeechLimitExceeded(f"STT audio over 1 MB ({len(data)} bytes)", provider=NAME)
        if duration_s is None and fmt == "lpcm":
            duration_s = len(data) / (2 * sample_rate)
        if duration_s is not None and duration_s > STT_MAX_SECONDS:
            raise SpeechLimitExceeded(f"STT audio over 30 s ({duration_s:.1f} s)", provider=NAME)
        params = {"lang": lang, "topic": self.topic, "format": fmt, **self._common()}
        if fmt == "lpcm":
            params["sampleRateHertz"] = str(sample_rate)
        body = await self._post(self.stt_url, content=data, params=params)
        try:
            return msgspec.json.decode(body, type=_SttBody).result
        except msgspec.DecodeError:
            raise SpeechUnavailable("SpeechKit STT: unreadable reply", provider=NAME) from None

    async def recognize(
        self, audio: Audio, *, phrases: Sequence[str] = (), lang: str = "ru-RU"
    ) -> Recognition:
        text = await self.recognize_raw(audio.pcm, sample_rate=audio.rate, lang=lang)
        return Recognition(text=text, confidence=1.0 if text else 0.0, provider=NAME)

    async def _post(self, url: str, **kwargs: object) -> bytes:
        headers = {"Authorization": self.auth.header()}
        for attempt in range(self.retries_429 + 1):
            try:
                r = await self._client.post(url, headers=headers, **kwargs)  # type: ignore[arg-type]
            except httpx.HTTPError as exc:
                raise SpeechUnavailable(f"SpeechKit: {type(exc).__name__}", provider=NAME) from None
            if r.status_code == 200:
                return r.content
            error = _error(r)
            if not isinstance(error, SpeechQuotaExceeded) or attempt == self.retries_429:
                raise error
            await asyncio.sleep(min(error.retry_after_s, self.max_wait_s))
        raise AssertionError("unreachable")


def _error(r: httpx.Response) -> SpeechError:
    try:
        body = msgspec.json.decode(r.content, type=_ErrorBody)
    except (msgspec.DecodeError, msgspec.ValidationError):
        body = _ErrorBody()
    msg = f"SpeechKit {r.status_code} {body.error_code}: {body.error_message}"[:500]
    kw = {"provider": NAME, "code": body.error_code}
    if r.status_code == 400:
        return SpeechBadRequest(msg, **kw)
    if r.status_code in (401, 403):
        return SpeechAuthError(msg, **kw)
    if r.status_code == 429:
        try:
            wait = float(r.headers.get("retry-after", "1"))
        except ValueError:
            wait = 1.0
        return SpeechQuotaExceeded(msg, retry_after_s=max(0.0, wait), **kw)
    if r.status_code >= 500:
        return SpeechUnavailable(msg, **kw)
    return SpeechBadRequest(msg, **kw)
