"""TTS cache: a prompt is synthesised once per (provider, voice params, text).

Files are content-addressed by that key's SHA-256 — ``{dir}/{h[:2]}/{h}.wav`` (8 kHz 16-bit
mono, what Asterisk plays) — written atomically, so replicas sharing the directory can never
see half a file and two replicas racing on one prompt write the same bytes. The index lives
in Redis (``{prefix}voice:tts:{h}`` -> the file's path, refreshed to ``ttl_s`` on every hit),
shared by replicas: a prompt one replica synthesised is a hit for all. Concurrent requests
for one prompt in a process share one synthesis (single flight).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from pathlib import Path
from typing import cast

import msgspec
import redis.asyncio as aioredis

from cbstreams.exceptions import REDIS_DOWN

from .audio import write_wav
from .base import Synthesizer, VoiceParams

__all__ = ["CachedPrompt", "TtsCache", "prompt_key"]

_VERSION = "1"  # bump when the stored audio format changes


def prompt_key(provider: str, voice: VoiceParams, text: str) -> str:
    """The content address of a prompt: SHA-256 hex of its canonical description."""
    blob = msgspec.json.encode([_VERSION, provider, voice, text])
    return hashlib.sha256(blob).hexdigest()


class CachedPrompt(msgspec.Struct, frozen=True):
    key: str
    path: Path  # the .wav file
    hit: bool

    @property
    def stem(self) -> Path:
        """The path without extension (what STREAM FILE takes)."""
        return self.path.with_suffix("")


class TtsCache:
    def __init__(
        self,
        redis: aioredis.Redis,
        directory: Path,
        synth: Synthesizer,
        *,
        prefix: str = "cb:",
        ttl_s: int = 30 * 86_400,
    ) -> None:
        self._redis, self.directory, self.synth = redis, directory, synth
        self.prefix, self.ttl_s = prefix, ttl_s
        self._flights: dict[str, asyncio.Future[CachedPrompt]] = {}
        self.synthesised = 0  # syntheses this process ran (for tests and metrics)

    def index_key(self, key: str) -> str:
        return f"{self.prefix}voice:tts:{key}"

    def path_of(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.wav"

    async def get(self, text: str, voice: VoiceParams | None = None) -> CachedPrompt:
        """The prompt's file, synthesising it if no replica has yet."""
        voice = voice or VoiceParams()
        key = prompt_key(self.synth.name, voice, text)
        try:
            known = cast(bytes | None, await self._redis.getex(self.index_key(key), ex=self.ttl_s))
        except REDIS_DOWN:  # an outage: the file's path is known without the index
            known = str(self.path_of(key)).encode()
        if known is not None and await asyncio.to_thread(Path(known.decode()).is_file):
            return CachedPrompt(key, Path(known.decode()), True)
        flight = self._flights.get(key)
        if flight is not None:
            return await asyncio.shield(flight)
        flight = asyncio.get_running_loop().create_future()
        self._flights[key] = flight
        try:
            prompt = await self._synthesise(key, text, voice)
            flight.set_result(prompt)
            return prompt
        except BaseException as exc:
            flight.set_exception(exc)
            flight.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        finally:
            del self._flights[key]

    async def _synthesise(self, key: str, text: str, voice: VoiceParams) -> CachedPrompt:
        path = self.path_of(key)
        if not await asyncio.to_thread(
            path.is_file
        ):  # another replica wrote it but its index entry expired
            audio = await self.synth.synthesize(text, voice)
            await asyncio.to_thread(write_wav, path, audio)
            self.synthesised += 1
        with contextlib.suppress(*REDIS_DOWN):  # the file is there; the index catches up later
            await self._redis.set(self.index_key(key), str(path), ex=self.ttl_s)
        return CachedPrompt(key, path, False)
