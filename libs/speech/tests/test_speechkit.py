"""SpeechKitClient against the fake SpeechKit over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from cbspeech import (
    Audio,
    SpeechAuthError,
    SpeechBadRequest,
    SpeechKitAuth,
    SpeechKitClient,
    SpeechLimitExceeded,
    SpeechQuotaExceeded,
    VoiceParams,
)
from cbspeech.testing import FakeSpeechKit

KEY, TOKEN, FOLDER = "AQVN-key-secret", "t1.iam-secret", "b1gfolder"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSpeechKit]:
    async with FakeSpeechKit(api_keys={KEY}, iam_tokens={TOKEN: FOLDER}) as server:
        yield server


def client(fake: FakeSpeechKit, auth: SpeechKitAuth, **kw: int) -> SpeechKitClient:
    return SpeechKitClient(auth, tts_url=fake.tts_url, stt_url=fake.stt_url, **kw)  # type: ignore[arg-type]


async def test_api_key_synthesises_lpcm_at_8khz_without_folder_id(fake: FakeSpeechKit) -> None:
    sk = client(fake, SpeechKitAuth("api-key", KEY))
    voice = VoiceParams(voice="alena", lang="ru-RU", emotion="good", speed=1.2)
    audio = await sk.synthesize("Здравствуйте", voice)
    await sk.aclose()
    assert audio.rate == 8000
    assert audio.duration_s > 0.3
    seen = fake.seen[-1]
    assert (seen.auth_kind, seen.status) == ("Api-Key", 200)
    assert "folderId" not in seen.params
    expected = {"format": "lpcm", "sampleRateHertz": "8000", "voice": "alena", "speed": "1.2"}
    assert expected.items() <= seen.params.items()
    assert seen.params["emotion"] == "good"


async def test_iam_token_sends_bearer_and_folder_id(fake: FakeSpeechKit) -> None:
    fake.default_text = "да"
    sk = client(fake, SpeechKitAuth("iam", TOKEN, folder_id=FOLDER))
    result = await sk.recognize(Audio(b"\x00\x01" * 8000))
    await sk.aclose()
    assert result.text == "да"
    seen = fake.seen[-1]
    assert seen.auth_kind == "Bearer"
    assert seen.params["folderId"] == FOLDER
    assert seen.params["sampleRateHertz"] == "8000"
    assert seen.params["topic"] == "general"


async def test_iam_token_without_folder_id_is_401_with_the_error_body(fake: FakeSpeechKit) -> None:
    sk = client(fake, SpeechKitAuth("iam", TOKEN))
    with pytest.raises(SpeechAuthError) as caught:
        await sk.synthesize("hello", VoiceParams())
    await sk.aclose()
    assert caught.value.code == "UNAUTHORIZED"
    assert "folderId" in str(caught.value)


async def test_a_wrong_key_is_401_and_the_key_never_shows(fake: FakeSpeechKit) -> None:
    sk = client(fake, SpeechKitAuth("api-key", "wrong-secret-value"))
    with pytest.raises(SpeechAuthError) as caught:
        await sk.synthesize("hello", VoiceParams())
    await sk.aclose()
    assert "wrong-secret-value" not in f"{caught.value} {caught.value!r} {sk!r} {sk.auth!r}"


async def test_a_bad_parameter_is_400_with_the_error_code(fake: FakeSpeechKit) -> None:
    sk = client(fake, SpeechKitAuth("api-key", KEY))
    with pytest.raises(SpeechBadRequest) as caught:
        await sk.synthesize_raw("hello", VoiceParams(), sample_rate=11025)
    await sk.aclose()
    assert caught.value.code == "BAD_REQUEST"
    assert fake.seen[-1].status == 400


async def test_429_is_retried_after_retry_after_then_raised(fake: FakeSpeechKit) -> None:
    fake.quota_left = 1  # one request left, then RESOURCE_EXHAUSTED with Retry-After: 0
    sk = client(fake, SpeechKitAuth("api-key", KEY), retries_429=2)
    await sk.synthesize("one", VoiceParams())
    with pytest.raises(SpeechQuotaExceeded) as caught:
        await sk.synthesize("two", VoiceParams())
    await sk.aclose()
    assert caught.value.transient
    assert caught.value.code == "RESOURCE_EXHAUSTED"
    assert [s.status for s in fake.seen] == [200, 429, 429, 429]


async def test_429_then_success_returns_the_text(fake: FakeSpeechKit) -> None:
    fake.quota_left, fake.answers[16000] = 0, "ok"
    impatient = client(fake, SpeechKitAuth("api-key", KEY), retries_429=0)
    with pytest.raises(SpeechQuotaExceeded):
        await impatient.recognize_raw(b"\0\0")
    await impatient.aclose()
    fake.quota_left = None
    sk = client(fake, SpeechKitAuth("api-key", KEY))
    assert await sk.recognize_raw(b"\x00" * 16000) == "ok"
    await sk.aclose()


async def test_stt_limits_are_checked_before_sending(fake: FakeSpeechKit) -> None:
    sk = client(fake, SpeechKitAuth("api-key", KEY))
    with pytest.raises(SpeechLimitExceeded, match="1 MB"):
        await sk.recognize_raw(b"\x00" * (1024 * 1024 + 2), sample_rate=48000)
    with pytest.raises(SpeechLimitExceeded, match="30 s"):
        await sk.recognize(Audio(b"\x00\x00" * 8000 * 31))
    with pytest.raises(SpeechLimitExceeded, match="30 s"):
        await sk.recognize_raw(b"OggS", fmt="oggopus", duration_s=30.5)
    with pytest.raises(SpeechLimitExceeded):
        await sk.synthesize("x" * 5001, VoiceParams())
    await sk.aclose()
    assert fake.seen == []


async def test_the_fake_enforces_the_limits_for_clients_that_do_not(fake: FakeSpeechKit) -> None:
    import httpx

    async with httpx.AsyncClient() as http:
        headers = {"Authorization": f"Api-Key {KEY}"}
        params = {"format": "lpcm", "sampleRateHertz": "8000"}
        r = await http.post(fake.stt_url, params=params, headers=headers,
                            content=b"\0\0" * 8000 * 31)  # fmt: skip
        assert r.status_code == 400
        assert r.json()["error_code"] == "BAD_REQUEST"
        r = await http.post(fake.tts_url, headers=headers, data={"text": "a", "ssml": "<speak/>"})
        assert r.status_code == 400
