"""Transcripts of calls that end while Redis is down are published once it is back (the
outbox waits the outage out), each once, in order; none is lost."""

from __future__ import annotations

import asyncio
from typing import Any

from cbcontracts.voice import VoiceTranscript, decode_transcript
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
