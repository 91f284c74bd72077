"""A Redis outage and the voice-bot: transcripts of calls that end while Redis is down are
published once it is back (the outbox waits the outage out), each once, in order; prompts are
still spoken (the TTS cache finds its files by key without its Redis index)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from cbcontracts.voice import VoiceTranscript, decode_transcript
from cbspeech import EspeakSynthesizer
from cbspeech.cache import TtsCache
from cbstreams import connect
from cbstreams.localredis import RedisProcess
from voice_bot.transcript import TranscriptPublisher


def transcript(n: int) -> VoiceTranscript:
    return VoiceTranscript(event_id=f"voice:{n}", call_id=str(n), outcome="completed")


async def test_transcripts_of_calls_ended_during_an_outage_are_published_after_it(
    restartable_redis: RedisProcess,
) -> None:
    redis = connect(restartable_redis.url)
    publisher = TranscriptPublisher(redis, "voice:transcripts")
    stop = asyncio.Event()
    task = asyncio.create_task(publisher.run(stop))
    try:
        publisher.submit(transcript(1))
        await asyncio.wait_for(publisher.drained(), 10)
        restartable_redis.stop()
        for n in (2, 3):  # calls that end during the outage
            publisher.submit(transcript(n))

        deadline = asyncio.get_running_loop().time() + 10
        while publisher.link.up:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        assert publisher.waiting == 2
        await asyncio.to_thread(restartable_redis.start)
        await asyncio.wait_for(publisher.drained(), 20)
        rows: Any = await redis.xrange("voice:transcripts")
        assert [decode_transcript(f[b"data"]).call_id for _, f in rows] == ["1", "2", "3"]
        assert publisher.link.outages == 1
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await redis.aclose()


async def test_prompts_are_spoken_during_an_outage_without_the_cache_index(
    restartable_redis: RedisProcess, tmp_path: Path
) -> None:
    redis = connect(restartable_redis.url)
    cache = TtsCache(redis, tmp_path, EspeakSynthesizer())
    try:
        first = await cache.get("Здравствуйте")
        restartable_redis.stop()
        again = await cache.get("Здравствуйте")  # the file is known by its key
        fresh = await cache.get("До свидания")  # synthesised; indexed when Redis is back
        assert again.path == first.path
        assert again.hit
        assert fresh.path.is_file()
        assert cache.synthesised == 2
    finally:
        await redis.aclose()
