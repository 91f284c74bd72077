"""TtsCache on real Redis: content-addressed files, a shared index, single flight."""

from __future__ import annotations

import asyncio
from pathlib import Path

import redis.asyncio as aioredis

from cbspeech import Audio, TtsCache, VoiceParams, prompt_key, read_wav


class CountingTone:
    """A synthesizer that returns a fixed tone and counts calls; it waits for ``gate``."""

    name = "tone"

    def __init__(self) -> None:
        self.calls = 0
        self.started = asyncio.Event()
        self.gate = asyncio.Event()
        self.gate.set()

    async def synthesize(self, text: str, voice: VoiceParams) -> Audio:
        self.calls += 1
        self.started.set()
        await self.gate.wait()
        return Audio(b"\x01\x00" * 800)


async def test_the_same_prompt_is_synthesised_once_and_then_hit(
    redis_client: aioredis.Redis, redis_prefix: str, tmp_path: Path
) -> None:
    synth = CountingTone()
    cache = TtsCache(redis_client, tmp_path, synth, prefix=redis_prefix)
    first = await cache.get("Hello", VoiceParams(voice="en-us"))
    second = await cache.get("Hello", VoiceParams(voice="en-us"))
    assert (first.hit, second.hit, synth.calls) == (False, True, 1)
    assert first.path == second.path == tmp_path / first.key[:2] / f"{first.key}.wav"
    assert read_wav(first.path.read_bytes()).rate == 8000
    assert first.stem.suffix == ""


async def test_voice_text_and_provider_each_change_the_key() -> None:
    base = prompt_key("espeak-ng", VoiceParams(), "Hello")
    assert base != prompt_key("espeak-ng", VoiceParams(speed=1.1), "Hello")
    assert base != prompt_key("espeak-ng", VoiceParams(), "Hello!")
    assert base != prompt_key("yandex", VoiceParams(), "Hello")


async def test_concurrent_identical_requests_share_one_synthesis(
    redis_client: aioredis.Redis, redis_prefix: str, tmp_path: Path
) -> None:
    synth = CountingTone()
    synth.gate.clear()
    cache = TtsCache(redis_client, tmp_path, synth, prefix=redis_prefix)
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(cache.get("Same")) for _ in range(5)]
        await synth.started.wait()
        synth.gate.set()
    assert synth.calls == 1
    assert len({t.result().path for t in tasks}) == 1


async def test_a_second_replica_hits_the_first_ones_index(
    redis_client: aioredis.Redis, redis_prefix: str, tmp_path: Path
) -> None:
    one, two = CountingTone(), CountingTone()
    await TtsCache(redis_client, tmp_path, one, prefix=redis_prefix).get("Shared")
    hit = await TtsCache(redis_client, tmp_path, two, prefix=redis_prefix).get("Shared")
    assert hit.hit
    assert two.calls == 0
    assert await redis_client.ttl(f"{redis_prefix}voice:tts:{hit.key}") > 0


async def test_a_lost_file_is_synthesised_again(
    redis_client: aioredis.Redis, redis_prefix: str, tmp_path: Path
) -> None:
    synth = CountingTone()
    cache = TtsCache(redis_client, tmp_path, synth, prefix=redis_prefix)
    (await cache.get("Gone")).path.unlink()
    again = await cache.get("Gone")
    assert (again.hit, synth.calls) == (False, 2)
    assert again.path.is_file()


async def test_instances_with_different_directories_share_the_index_without_paths(
    redis_client: aioredis.Redis, redis_prefix: str, tmp_path: Path
) -> None:
    """Two bots (other pods, other working directories) on one Redis: the index holds no
    path, so neither trips over the other's directory; each plays from its own disk."""
    one, two = CountingTone(), CountingTone()
    a = await TtsCache(redis_client, tmp_path / "a", one, prefix=redis_prefix).get("Shared")
    b = await TtsCache(redis_client, tmp_path / "b", two, prefix=redis_prefix).get("Shared")
    assert a.key == b.key
    assert b.path == tmp_path / "b" / b.key[:2] / f"{b.key}.wav"
    assert b.path.is_file()
    assert two.calls == 1
    stored = await redis_client.get(f"{redis_prefix}voice:tts:{a.key}")
    assert stored is not None
    assert b"/" not in stored
    again = await TtsCache(redis_client, tmp_path / "b", two, prefix=redis_prefix).get("Shared")
    assert again.hit
    assert two.calls == 1
