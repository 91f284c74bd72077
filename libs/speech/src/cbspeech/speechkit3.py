"""SpeechKit v3 streaming recognition (gRPC ``speechkit.stt.v3.Recognizer/RecognizeStreaming``)
through Yandex Cloud's official SDK (``yandexcloud``: the generated v3 stubs and messages).

One call streams one utterance: the session options first (raw LINEAR16_PCM, 8000 Hz, mono;
the language restricted to ``lang``), then the audio in 100 ms chunks, then the end of the
stream; the ``final`` results' first alternatives make the text (``final_refinement``'s
normalised text when it comes). Auth is metadata: ``authorization: Api-Key …`` (service
account) or ``Bearer …`` with ``x-folder-id`` (a user's IAM token). gRPC statuses map to the
same errors as v1: INVALID_ARGUMENT → :class:`SpeechBadRequest`, UNAUTHENTICATED /
PERMISSION_DENIED → :class:`SpeechAuthError`, RESOURCE_EXHAUSTED →
:class:`SpeechQuotaExceeded`, anything else (UNAVAILABLE, DEADLINE_EXCEEDED…) →
:class:`SpeechUnavailable`. Limits: a session is at most 5 min / 10 MB (checked before
sending). Secrets never appear in errors or reprs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import grpc  # type: ignore[import-untyped]
from yandex.cloud.ai.stt.v3 import stt_pb2, stt_service_pb2_grpc

from .base import Audio, Recognition
from .exceptions import (
    SpeechAuthError,
    SpeechBadRequest,
    SpeechLimitExceeded,
    SpeechQuotaExceeded,
    SpeechUnavailable,
)
from .yandex import SpeechKitAuth

__all__ = ["STT_V3_TARGET", "SpeechKitStreaming"]

STT_V3_TARGET = "stt.api.cloud.yandex.net:443"
CHUNK_BYTES = 1600  # 100 ms of 8 kHz 16-bit mono
MAX_SESSION_BYTES = 10 * 1024 * 1024
MAX_SESSION_S = 300


class SpeechKitStreaming:
    """A :class:`~cbspeech.base.Recognizer` over SpeechKit v3 streaming."""

    name = "yandex-v3"

    def __init__(
        self,
        auth: SpeechKitAuth,
        *,
        target: str = STT_V3_TARGET,
        lang: str = "ru-RU",
        model: str = "general",
        tls: bool = True,
        timeout_s: float = 30.0,
    ) -> None:
        self._auth, self.lang, self.model, self.timeout_s = auth, lang, model, timeout_s
        creds = grpc.ssl_channel_credentials() if tls else None
        self._channel = (
            grpc.aio.secure_channel(target, creds) if creds else grpc.aio.insecure_channel(target)
        )
        self._stub = stt_service_pb2_grpc.RecognizerStub(self._channel)

    def __repr__(self) -> str:
        return f"SpeechKitStreaming({self._auth!r}, lang={self.lang!r})"

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        md = [("authorization", self._auth.header())]
        if self._auth.kind == "iam" and self._auth.folder_id:
            md.append(("x-folder-id", self._auth.folder_id))
        return tuple(md)

    def _options(self) -> stt_pb2.StreamingRequest:
        raw = stt_pb2.RawAudio(
            audio_encoding=stt_pb2.RawAudio.LINEAR16_PCM,
            sample_rate_hertz=8000,
            audio_channel_count=1,
        )
        model = stt_pb2.RecognitionModelOptions(
            model=self.model,
            audio_format=stt_pb2.AudioFormatOptions(raw_audio=raw),
            text_normalization=stt_pb2.TextNormalizationOptions(
                text_normalization=stt_pb2.TextNormalizationOptions.TEXT_NORMALIZATION_ENABLED
            ),
            language_restriction=stt_pb2.LanguageRestrictionOptions(
                restriction_type=stt_pb2.LanguageRestrictionOptions.WHITELIST,
                language_code=[self.lang],
            ),
        )
        return stt_pb2.StreamingRequest(
            session_options=stt_pb2.StreamingOptions(recognition_model=model)
        )

    async def _requests(self, pcm: bytes) -> AsyncIterator[stt_pb2.StreamingRequest]:
        yield self._options()
        for off in range(0, len(pcm), CHUNK_BYTES):
            yield stt_pb2.StreamingRequest(
                chunk=stt_pb2.AudioChunk(data=pcm[off : off + CHUNK_BYTES])
            )

    async def recognize(self, audio: Audio, *, phrases: Sequence[str] = ()) -> Recognition:
        if audio.rate != 8000:
            raise SpeechBadRequest("SpeechKit streaming here takes 8 kHz audio")
        if len(audio.pcm) > MAX_SESSION_BYTES or audio.duration_s > MAX_SESSION_S:
            raise SpeechLimitExceeded("a streaming session is at most 5 min / 10 MB")
        finals: list[tuple[str, float]] = []
        refined: list[str] = []
        try:
            call = self._stub.RecognizeStreaming(
                self._requests(audio.pcm), metadata=self._metadata(), timeout=self.timeout_s
            )
            async for response in call:
                event = response.WhichOneof("Event")
                if event == "final" and response.final.alternatives:
                    alt = response.final.alternatives[0]
                    finals.append((alt.text, alt.confidence))
                elif event == "final_refinement":
                    alts = response.final_refinement.normalized_text.alternatives
                    if alts:
                        refined.append(alts[0].text)
        except grpc.aio.AioRpcError as exc:
            raise _error(exc) from None
        text = " ".join(t for t in (refined or [t for t, _ in finals]) if t).strip()
        confidence = min((c for _, c in finals), default=0.0) if text else 0.0
        return Recognition(text=text, confidence=confidence, provider=self.name)

    async def aclose(self) -> None:
        await self._channel.close()


def _error(exc: grpc.aio.AioRpcError) -> Exception:
    code, detail = exc.code(), (exc.details() or "")[:200]
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return SpeechBadRequest(f"SpeechKit v3: {detail}")
    if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
        return SpeechAuthError(f"SpeechKit v3: {code.name}: {detail}")
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return SpeechQuotaExceeded(f"SpeechKit v3: {detail}")
    return SpeechUnavailable(f"SpeechKit v3: {code.name}: {detail}")
