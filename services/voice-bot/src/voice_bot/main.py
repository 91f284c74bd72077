"""Wiring only: settings -> Redis, speech providers, TTS cache, CRM, dialogs -> FastAGI
server -> run until stopped. ``VoiceBot.handle`` is the per-call coroutine."""

from __future__ import annotations

import asyncio
import logging
import os
import time
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
from cbspeech.speechkit3 import SpeechKitStreaming
from cbstreams import connect

from .agi import AgiChannel
from .audiosocket import AudioSocketServer
from .callio import AgiCallIO, Paths
from .crm import CallerInfo, CrmLink
from .dialog import Dialog, load_dialog
from .exceptions import AgiError, AgiHangup, DialogError
from .prompts import prompt_app
from .runner import DialogRunner
from .server import FastAgiServer, Limits
from .settings import VoiceBotSettings, YandexSettings
from .streamio import StreamCallIO, VoiceMetrics
from .transcript import Transcript, TranscriptPublisher

__all__ = ["VoiceBot", "load_dialogs", "serve", "speechkit"]

log = logging.getLogger(__name__)


def load_dialogs(directory: Path) -> dict[str, Dialog]:
    dialogs = {p.stem: load_dialog(p) for p in sorted(directory.glob("*.yaml"))}
    if not dialogs:
        raise DialogError(f"no dialogs (*.yaml) in {directory}")
    return dialogs


def speechkit_auth(y: YandexSettings) -> SpeechKitAuth:
    if y.api_key is not None:
        return SpeechKitAuth("api-key", y.api_key.reveal())
    if y.iam_token is not None:
        return SpeechKitAuth("iam", y.iam_token.reveal(), y.folder_id)
    raise DialogError("yandex speech needs yandex.api_key or yandex.iam_token")


def speechkit(y: YandexSettings) -> SpeechKitClient:
    return SpeechKitClient(speechkit_auth(y), tts_url=y.tts_url, stt_url=y.stt_url, topic=y.topic)


def check_file_mode(s: VoiceBotSettings) -> None:
    """The file mode's directories: created if missing, writable, or a clear error at start
    (Asterisk's view of them is checked on the first call: :meth:`VoiceBot.check_pbx_view`)."""
    for name, path in (("sounds_dir", s.sounds_dir), ("recordings_dir", s.recordings_dir)):
        try:
            path.mkdir(parents=True, exist_ok=True)
            probe = path / f".voicebot-probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise DialogError(
                f"audio = files needs {name} = {path} to be a writable directory shared with "
                f"Asterisk: {exc.strerror or exc}"
            ) from None


class VoiceBot:
    def __init__(
        self,
        s: VoiceBotSettings,
        redis: aioredis.Redis,
        tts: Synthesizer,
        stt: Recognizer,
        dialogs: dict[str, Dialog],
        crm: CrmLink | None,
        audio: AudioSocketServer | None = None,
    ) -> None:
        self.settings, self.stt, self.dialogs, self.crm = s, stt, dialogs, crm
        self.audio = audio
        self.metrics = VoiceMetrics()
        self._pbx_view_ok = False
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
            s.prompts_url,
        )

    def lang(self, dialog: Dialog) -> str:
        """The language of a call: the deployment's ``language``, else the dialog's."""
        return self.settings.language or dialog.lang

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
        t0 = time.perf_counter()
        runner: DialogRunner | None = None
        try:
            await agi.answer()
            if self.audio is not None:
                runner = await self._stream_call(agi, dialog, t, caller)
            else:
                await self.check_pbx_view(agi)
                voice = dialog.voice_for(self.lang(dialog))
                io = AgiCallIO(agi, self.cache, self.stt, self.paths, voice)
                runner = DialogRunner(dialog, io, t, caller, self.crm, self.lang(dialog))
                await runner.run()
        except AgiHangup:
            t.outcome = "caller_hangup"
        except AgiError:
            t.outcome = "error"
            raise
        finally:
            final = t.finish()
            log.info(
                "call call=%s dialog=%s caller=%s outcome=%s turns=%d transfer=%s ms=%.0f",
                final.call_id,
                final.dialog,
                final.caller,
                final.outcome or "failed",
                len(final.turns),
                final.transfer_to or "-",
                (time.perf_counter() - t0) * 1000,
            )
            await self._record(final, runner.info if runner else caller)

    async def check_pbx_view(self, agi: AgiChannel) -> None:
        """File mode, once per process: does Asterisk see the bot's sounds directory where
        ``sounds_dir_pbx`` says? A probe file is written and looked for with ``STAT()``."""
        if self._pbx_view_ok or self.settings.prompts_url:
            return  # prompts over HTTP: Asterisk needs no view of the sounds directory
        check_file_mode(self.settings)
        probe = self.settings.sounds_dir / "voicebot-visible.txt"
        await asyncio.to_thread(probe.write_text, "callbridge voice-bot\n")
        where = self.paths.pbx_sound(probe.with_suffix("")) + ".txt"
        reply = await agi.command("GET FULL VARIABLE", f"${{STAT(e,{where})}}")
        if reply.data.strip() != "1":
            log.error(
                "audio = files: Asterisk does not see %s (sounds_dir %s, sounds_dir_pbx %r): "
                "share the directory with Asterisk or use audio = audiosocket",
                where,
                self.settings.sounds_dir,
                self.settings.sounds_dir_pbx,
            )
            raise AgiError(f"Asterisk does not see the sounds directory at {where}")
        self._pbx_view_ok = True

    async def _stream_call(
        self, agi: AgiChannel, dialog: Dialog, t: Transcript, caller: CallerInfo
    ) -> DialogRunner:
        """The dialog over AudioSocket: FastAGI runs ``AudioSocket(<id>,<us>)`` and waits;
        the audio flows on its own connection; when the dialog ends the bot closes it, the
        application returns, and the result goes back over FastAGI."""
        assert self.audio is not None  # noqa: S101 - the caller checked
        s = self.settings
        stream = self.audio.expect()
        target = s.audiosocket_advertise or f"{agi.local_host}:{self.audio.port}"
        running = asyncio.create_task(agi.exec("AudioSocket", f"{stream.id},{target}"))
        try:
            connected = asyncio.create_task(stream.connected.wait())
            await asyncio.wait(
                {connected, running},
                timeout=s.audiosocket_connect_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
            connected.cancel()
            if not stream.connected.is_set():
                when = "at once" if running.done() else f"within {s.audiosocket_connect_s:g} s"
                raise AgiError(
                    f"Asterisk did not open the AudioSocket to {target} {when} (is "
                    f"app_audiosocket loaded, is {target} reachable from Asterisk?)"
                )
            voice = dialog.voice_for(self.lang(dialog))
            io = StreamCallIO(stream, self.cache, self.stt, voice, self.metrics)
            runner = DialogRunner(dialog, io, t, caller, self.crm, self.lang(dialog))
            await runner.run()
        finally:
            self.audio.forget(stream)
            await stream.hangup()
            try:
                async with asyncio.timeout(s.read_timeout_s):
                    await asyncio.shield(running)
            except TimeoutError:
                running.cancel()
            except AgiError as exc:  # AudioSocket() failed, or the caller hung up meanwhile:
                log.info("AudioSocket() on %s ended: %s", agi.env.channel, exc)  # noted above
        if t.outcome != "caller_hangup" and not agi.hung_up:
            if io.transfer_to:
                await agi.set_variable("VOICEBOT_TRANSFER", io.transfer_to)
            if io.outcome:
                await agi.set_variable("VOICEBOT_RESULT", io.outcome)
        return runner

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
        if s.stt == "yandex" and s.yandex.stt_api == "v3":  # streaming gRPC (official SDK)
            streaming = SpeechKitStreaming(
                speechkit_auth(s.yandex), target=s.yandex.stt_v3_target, lang=s.yandex.lang
            )
            stack.push_async_callback(streaming.aclose)
            stt = streaming
        crm = None
        if s.crm == "builtin":
            adapter = await BuiltinCrm.open(s.builtin.path, seed=s.builtin.seed)
            stack.push_async_callback(adapter.aclose)
            lookups = LookupCache(redis, adapter.lookup, crm=adapter.name, prefix=s.key_prefix)
            users = UserDirectory(redis, adapter.users, crm=adapter.name, prefix=s.key_prefix)
            crm = CrmLink(
                adapter, lookups, Router(lookups, users, region=s.region), region=s.region
            )
        audio = None
        if s.audio == "audiosocket":
            audio = AudioSocketServer(
                host=s.audiosocket_host, port=s.audiosocket_port, allow_from=s.allow_from
            )
        else:
            check_file_mode(s)
        bot = VoiceBot(s, redis, tts, stt, dialogs, crm, audio)
        server = FastAgiServer(
            bot.handle,
            host=s.host,
            port=s.port,
            read_timeout_s=s.read_timeout_s,
            env_timeout_s=s.env_timeout_s,
            drain_s=s.drain_s,
            max_calls=s.max_calls,
            allow_from=s.allow_from,
            limits=Limits(
                max_line_bytes=s.max_line_bytes,
                max_env_lines=s.max_env_lines,
                max_env_bytes=s.max_env_bytes,
                max_pending=s.max_pending,
            ),
        )
        http_stop = asyncio.Event()  # the HTTP endpoint outlives the drain (prompts, probes)

        async def calls() -> None:
            try:
                await server.serve(stop)
            finally:
                http_stop.set()

        health: HealthServer | None = None
        async with asyncio.TaskGroup() as tg:
            if s.metrics_port >= 0:
                health = HealthServer(
                    new_registry(),
                    # draining: send no new calls here; Redis down: not ready either
                    ready=lambda: not stop.is_set() and bot.publisher.link.up,
                    host=s.metrics_host,
                    port=s.metrics_port,
                    extra=prompt_app(s.sounds_dir),  # GET /prompts/<sha256>.wav
                )
                tg.create_task(health.serve(http_stop))
            tg.create_task(bot.publisher.run(stop, drain_s=s.drain_s))
            tg.create_task(calls())
            if audio is not None:
                tg.create_task(audio.serve(http_stop))
            if ready is not None:
                await server.ready.wait()
                if audio is not None:
                    await audio.ready.wait()
                if health is not None:
                    await health.wait_started()
                ready.set()
