"""Wiring only: settings -> Redis, speech providers, TTS cache, CRM, dialogs -> FastAGI
server -> run until stopped. ``VoiceBot.handle`` is the per-call coroutine."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from pathlib import Path

import redis.asyncio as aioredis

from cbcontracts.voice import VoiceTranscript
from cbcrm.builtin import BuiltinCrm
from cbcrm.exceptions import CrmError
from cbcrm.lookup import LookupCache
from cbcrm.routing import Router, UserDirectory
from cbruntime import HealthServer, new_registry
from cbspeech import (
    EspeakSynthesizer,
    Recognizer,
    SpeechKitAuth,
    SpeechKitClient,
    SphinxRecognizer,
    Synthesizer,
    TtsCache,
)
from cbstreams import connect

from .agi import AgiChannel
from .callio import AgiCallIO, Paths
from .crm import CallerInfo, CrmLink
from .dialog import Dialog, load_dialog
from .exceptions import AgiHangup, DialogError
from .runner import DialogRunner
from .server import FastAgiServer
from .settings import VoiceBotSettings, YandexSettings
from .transcript import Transcript, TranscriptPublisher

__all__ = ["VoiceBot", "load_dialogs", "serve", "speechkit"]

log = logging.getLogger(__name__)


def load_dialogs(directory: Path) -> dict[str, Dialog]:
    dialogs = {p.stem: load_dialog(p) for p in sorted(directory.glob("*.yaml"))}
    if not dialogs:
        raise DialogError(f"no dialogs (*.yaml) in {directory}")
    return dialogs


def speechkit(y: YandexSettings) -> SpeechKitClient:
    if y.api_key is not None:
        auth = SpeechKitAuth("api-key", y.api_key.reveal())
    elif y.iam_token is not None:
        auth = SpeechKitAuth("iam", y.iam_token.reveal(), y.folder_id)
    else:
        raise DialogError("yandex speech needs yandex.api_key or yandex.iam_token")
    return SpeechKitClient(auth, tts_url=y.tts_url, stt_url=y.stt_url, topic=y.topic)


class VoiceBot:
    def __init__(
        self,
        s: VoiceBotSettings,
        redis: aioredis.Redis,
        tts: Synthesizer,
        stt: Recognizer,
        dialogs: dict[str, Dialog],
        crm: CrmLink | None,
    ) -> None:
        self.settings, self.stt, self.dialogs, self.crm = s, stt, dialogs, crm
        self.cache = TtsCache(
            redis, s.sounds_dir, tts, prefix=s.key_prefix, ttl_s=s.tts_cache_ttl_s
        )
        self.publisher = TranscriptPublisher(redis, s.transcripts_stream, s.transcripts_retention_s)
        self.paths = Paths(
            s.sounds_dir,
            s.recordings_dir,
            s.sounds_dir_pbx,
            s.recordings_dir_pbx,
            s.keep_recordings,
        )

    def dialog_for(self, script: str) -> Dialog:
        """``agi://host/dialog`` -> the default dialog; ``agi://host/dialog/<name>`` -> it."""
        parts = [p for p in script.split("?", 1)[0].split("/") if p]
        name = parts[-1] if parts and parts[-1] != "dialog" else self.settings.default_dialog
        return self.dialogs.get(name) or self.dialogs[self.settings.default_dialog]

    async def handle(self, agi: AgiChannel) -> None:
        dialog = self.dialog_for(agi.env.script)
        number = agi.env.callerid
        caller = CallerInfo(number=self.crm.normalise(number) if self.crm else number)
        t = Transcript(
            call_id=agi.env.uniqueid,
            channel=agi.env.channel,
            caller=caller.number,
            dialog=dialog.name,
        )
        runner = DialogRunner(
            dialog,
            AgiCallIO(agi, self.cache, self.stt, self.paths, dialog.voice),
            t,
            caller,
            self.crm,
        )
        try:
            await agi.answer()
            await runner.run()
        except AgiHangup:
            t.outcome = "caller_hangup"
        finally:
            await self._record(t.finish(), runner.info)

    async def _record(self, final: VoiceTranscript, info: CallerInfo) -> None:
        self.publisher.submit(final)  # published by the outbox, through Redis outages
        if self.crm is not None and self.settings.log_transcripts_to_crm:
            try:
                await self.crm.log_transcript(info, final)
            except CrmError as exc:
                log.warning("transcript of %s not logged in the CRM: %s", final.call_id, exc)


async def serve(
    s: VoiceBotSettings, stop: asyncio.Event, *, ready: asyncio.Event | None = None
) -> None:
    dialogs = load_dialogs(s.dialogs_dir)
    async with AsyncExitStack() as stack:
        redis = connect(s.redis_url)
        stack.push_async_callback(redis.aclose)
        tts: Synthesizer = EspeakSynthesizer()
        stt: Recognizer = SphinxRecognizer()
        if "yandex" in (s.tts, s.stt):
            client = speechkit(s.yandex)
            stack.push_async_callback(client.aclose)
            tts, stt = (
                (client if s.tts == "yandex" else tts),
                (client if s.stt == "yandex" else stt),
            )
        crm = None
        if s.crm == "builtin":
            adapter = await BuiltinCrm.open(s.builtin.path, seed=s.builtin.seed)
            stack.push_async_callback(adapter.aclose)
            lookups = LookupCache(redis, adapter.lookup, crm=adapter.name, prefix=s.key_prefix)
            users = UserDirectory(redis, adapter.users, crm=adapter.name, prefix=s.key_prefix)
            crm = CrmLink(
                adapter, lookups, Router(lookups, users, region=s.region), region=s.region
            )
        bot = VoiceBot(s, redis, tts, stt, dialogs, crm)
        server = FastAgiServer(
            bot.handle,
            host=s.host,
            port=s.port,
            read_timeout_s=s.read_timeout_s,
            env_timeout_s=s.env_timeout_s,
            drain_s=s.drain_s,
            max_calls=s.max_calls,
        )
        async with asyncio.TaskGroup() as tg:
            if s.metrics_port >= 0:
                health = HealthServer(new_registry(), ready=lambda: bot.publisher.link.up,
                                      port=s.metrics_port)  # fmt: skip
                tg.create_task(health.serve(stop))
            tg.create_task(bot.publisher.run(stop, drain_s=s.drain_s))
            tg.create_task(server.serve(stop))
            if ready is not None:
                await server.ready.wait()
                ready.set()
