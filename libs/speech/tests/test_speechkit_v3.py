"""SpeechKit v3 streaming recognition against the faithful fake gRPC server (real gRPC on
127.0.0.1, the SDK's own service definition)."""

from __future__ import annotations

import pytest

from cbspeech import Audio, SpeechAuthError, SpeechKitAuth, SpeechLimitExceeded
from cbspeech.speechkit3 import SpeechKitStreaming
from cbspeech.testing_v3 import FakeSpeechKitV3


async def test_an_utterance_streams_in_chunks_and_comes_back_as_the_final_text() -> None:
    async with FakeSpeechKitV3(api_keys={"k1"}, default_text="да", confidence=0.87) as fake:
        stt = SpeechKitStreaming(SpeechKitAuth("api-key", "k1"), target=fake.target, tls=False)
        try:
            got = await stt.recognize(Audio(b"\1\0" * 8000))  # 1 s
        finally:
            await stt.aclose()
    assert (got.text, got.confidence, got.provider) == ("да", 0.87, "yandex-v3")
    (session,) = fake.sessions
    assert session == {"auth": "Api-Key", "chunks": 10, "bytes": 16000, "lang": ["ru-RU"],
                       "rate": 8000}  # fmt: skip


async def test_iam_tokens_need_their_folder_and_bad_credentials_are_auth_errors() -> None:
    async with FakeSpeechKitV3(iam_tokens={"t1": "f1"}, default_text="нет") as fake:
        good = SpeechKitStreaming(SpeechKitAuth("iam", "t1", "f1"), target=fake.target, tls=False)
        bad = SpeechKitStreaming(SpeechKitAuth("iam", "t1", "other"), target=fake.target, tls=False)
        try:
            assert (await good.recognize(Audio(b"\0\1" * 800))).text == "нет"
            with pytest.raises(SpeechAuthError, match="UNAUTHENTICATED") as err:
                await bad.recognize(Audio(b"\0\1" * 800))
            assert "t1" not in str(err.value)  # the token is never in an error
            assert "t1" not in repr(bad)
        finally:
            await good.aclose()
            await bad.aclose()


async def test_the_session_limit_is_checked_before_sending() -> None:
    stt = SpeechKitStreaming(SpeechKitAuth("api-key", "k"), target="127.0.0.1:9", tls=False)
    try:
        with pytest.raises(SpeechLimitExceeded):
            await stt.recognize(Audio(b"\0" * (11 * 1024 * 1024)))
    finally:
        await stt.aclose()
