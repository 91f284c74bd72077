"""A contract-faithful fake of SpeechKit v3 streaming recognition: a real gRPC server on
127.0.0.1 serving ``speechkit.stt.v3.Recognizer/RecognizeStreaming`` with the SDK's own
service definition.

It checks what the service checks: the ``authorization`` metadata (``Api-Key`` of a known
service account, or ``Bearer`` of a known IAM token with ``x-folder-id`` of its folder),
that the first message is ``session_options`` and no other message is, raw LINEAR16_PCM at
8000/16000/48000 Hz mono, the 10 MB session limit, and a quota of concurrent sessions.
Errors are gRPC statuses (UNAUTHENTICATED, INVALID_ARGUMENT, RESOURCE_EXHAUSTED). It answers
like the service: ``partial`` updates while audio comes, then one ``final`` (text and
confidence from ``answers[len(audio)]`` or ``default_text``) and a ``final_refinement`` with
the normalised text.

    async with FakeSpeechKitV3(api_keys={"k"}, default_text="да") as fake:
        stt = SpeechKitStreaming(SpeechKitAuth("api-key", "k"), target=fake.target, tls=False)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Self

import grpc  # type: ignore[import-untyped]
from yandex.cloud.ai.stt.v3 import stt_pb2, stt_service_pb2_grpc

__all__ = ["FakeSpeechKitV3"]

_RATES = {8000, 16000, 48000}
_MAX_BYTES = 10 * 1024 * 1024


@dataclass(eq=False)
class FakeSpeechKitV3(stt_service_pb2_grpc.RecognizerServicer):
    api_keys: set[str] = field(default_factory=set)
    iam_tokens: dict[str, str] = field(default_factory=dict)  # token -> folder id
    default_text: str = ""
    confidence: float = 0.9
    answers: dict[int, str] = field(default_factory=dict)  # audio bytes -> text
    max_sessions: int = 60
    sessions: list[dict[str, Any]] = field(default_factory=list)  # what each session sent
    port: int = 0
    _server: Any = field(default=None, repr=False)
    _active: int = 0

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def __aenter__(self) -> Self:
        self._server = grpc.aio.server()
        stt_service_pb2_grpc.add_RecognizerServicer_to_server(self, self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._server.stop(grace=None)

    def _auth(self, context: Any) -> str:
        md = dict(context.invocation_metadata() or ())
        auth, folder = md.get("authorization", ""), md.get("x-folder-id", "")
        kind, _, secret = auth.partition(" ")
        if kind == "Api-Key" and secret in self.api_keys:
            return "Api-Key"
        if kind == "Bearer" and secret in self.iam_tokens and self.iam_tokens[secret] == folder:
            return "Bearer"
        return ""

    @staticmethod
    def _fail(context: Any, code: Any, message: str) -> None:
        """End the call with a status (set, then return: ``abort`` inside a streaming
        handler races with the client's half-close and may come out as INTERNAL)."""
        context.set_code(code)
        context.set_details(message)

    async def RecognizeStreaming(
        self, request_iterator: AsyncIterator[Any], context: Any
    ) -> AsyncIterator[Any]:
        auth = self._auth(context)
        if not auth:
            self._fail(context, grpc.StatusCode.UNAUTHENTICATED, "unknown credentials")
            return
        if self._active >= self.max_sessions:
            self._fail(context, grpc.StatusCode.RESOURCE_EXHAUSTED, "too many sessions")
            return
        self._active += 1
        try:
            session: dict[str, Any] = {"auth": auth, "chunks": 0, "bytes": 0}
            self.sessions.append(session)
            first = True
            async for req in request_iterator:
                event = req.WhichOneof("Event")
                if first != (event == "session_options"):
                    self._fail(
                        context,
                        grpc.StatusCode.INVALID_ARGUMENT,
                        "session_options must come first, and only first",
                    )
                    return
                if first:
                    first = False
                    model = req.session_options.recognition_model
                    raw = model.audio_format.raw_audio
                    if (
                        raw.audio_encoding != stt_pb2.RawAudio.LINEAR16_PCM
                        or raw.sample_rate_hertz not in _RATES
                        or raw.audio_channel_count != 1
                    ):
                        self._fail(context, grpc.StatusCode.INVALID_ARGUMENT, "bad audio format")
                        return
                    session["lang"] = list(model.language_restriction.language_code)
                    session["rate"] = raw.sample_rate_hertz
                    continue
                if event == "chunk":
                    session["chunks"] += 1
                    session["bytes"] += len(req.chunk.data)
                    if session["bytes"] > _MAX_BYTES:
                        self._fail(context, grpc.StatusCode.INVALID_ARGUMENT, "over 10 MB")
                        return
                    if session["chunks"] % 5 == 0:
                        yield stt_pb2.StreamingResponse(
                            partial=stt_pb2.AlternativeUpdate(
                                alternatives=[stt_pb2.Alternative(text="…")]
                            )
                        )
            if first:
                self._fail(context, grpc.StatusCode.INVALID_ARGUMENT, "no session_options")
                return
            text = self.answers.get(session["bytes"], self.default_text)
            alt = stt_pb2.Alternative(text=text, confidence=self.confidence)
            yield stt_pb2.StreamingResponse(final=stt_pb2.AlternativeUpdate(alternatives=[alt]))
            norm = stt_pb2.Alternative(text=text, confidence=self.confidence)
            yield stt_pb2.StreamingResponse(
                final_refinement=stt_pb2.FinalRefinement(
                    normalized_text=stt_pb2.AlternativeUpdate(alternatives=[norm])
                )
            )
        finally:
            self._active -= 1
