"""voice-bot figures, with the local engines (espeak-ng, sox, pocketsphinx) and a private
redis-server (or REDIS_URL). Prints ``name=value`` lines:

* ``tts_cache_hit_ms``   — median time to get an already-synthesised prompt (Redis index
  GETEX + a stat of the file);
* ``tts_miss_ms``        — the first synthesis of that prompt (espeak-ng + sox + write);
* ``bot_turn_ms``        — one say + listen turn over a real FastAGI socket: the cached
  prompt played (STREAM FILE answered at once), the answer recorded (the caller's speaking
  time excluded: the fake PBX writes a pre-spoken "yes" instantly), read, resampled and
  recognised by pocketsphinx with the dialog's grammar, and the branch taken;
* ``stt_ms``             — the recognition part of that turn.

On a live call (real Asterisk 22 from ``../shared/asterisk``, sipp callers speaking espeak-ng
audio over G.711; skipped when the kit or sipp is missing), the bot in the AudioSocket mode:

* ``bot_turn_latency_ms_p50`` / ``_p99`` — from the caller's end of speech (the arrival of
  their last voiced frame) to the first audio frame of the bot's next prompt: end-of-speech
  detection (0.5 s of silence) + recognition + the prompt from the cache; target p50 ≤ 700;
* ``barge_in_stop_ms``   — median, from the first voiced frame of a caller who talks over a
  prompt to the prompt's stop (VAD onset ~120 ms + the player's reaction).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from cbspeech import EspeakSynthesizer, SphinxRecognizer, TtsCache, VoiceParams, write_wav
from cbstreams import connect
from cbstreams.localredis import local_redis_server
from voice_bot.agi import AgiChannel
from voice_bot.callio import AgiCallIO, Heard, Paths
from voice_bot.crm import CallerInfo
from voice_bot.dialog import parse_dialog
from voice_bot.runner import DialogRunner
from voice_bot.server import FastAgiServer
from voice_bot.testing import AgiPeer, Command, default_answer
from voice_bot.transcript import Transcript

TURN = """
name: bench
steps:
  - id: ask
    do: listen
    prompt: "Would you like to talk to your manager? Say yes or no."
    intents: {"yes": {phrases: ["yes"]}, "no": {phrases: ["no"]}}
    goto: {"yes": done, "no": done}
  - {id: done, do: set, vars: {ok: "1"}, next: end}
"""


class TimedIO(AgiCallIO):
    stts: list[float]

    async def listen(self, phrases: Sequence[str], *, timeout_s: float, silence_s: int) -> Heard:
        heard = await super().listen(phrases, timeout_s=timeout_s, silence_s=silence_s)
        self.stts.append(heard.stt_ms)
        return heard


@contextlib.asynccontextmanager
async def redis_url() -> AsyncIterator[str]:
    if url := os.environ.get("REDIS_URL"):
        yield url
        return
    with local_redis_server() as url:
        yield url


async def main() -> None:
    dialog = parse_dialog(TURN)
    async with redis_url() as url:
        redis = connect(url)
        prefix = f"bench{time.time_ns()}:"
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            cache = TtsCache(redis, root / "snd", EspeakSynthesizer(), prefix=prefix)
            stt = SphinxRecognizer()
            t0 = time.perf_counter()
            prompt = dialog.text(dialog.steps[0].prompt, "en")  # type: ignore[union-attr]
            await cache.get(prompt, VoiceParams())
            print(f"tts_miss_ms={(time.perf_counter() - t0) * 1000:.1f}")
            hits = []
            for _ in range(200):
                t0 = time.perf_counter()
                await cache.get(prompt, VoiceParams())
                hits.append(time.perf_counter() - t0)
            print(f"tts_cache_hit_ms={statistics.median(hits) * 1000:.3f}")

            answer = await EspeakSynthesizer().synthesize("yes", VoiceParams())
            await stt.prepare(dialog.steps[0].phrases())  # type: ignore[union-attr]
            turns: list[float] = []
            stts: list[float] = []
            outcomes: list[str] = []

            async def handle(agi: AgiChannel) -> None:
                io = TimedIO(agi, cache, stt, Paths(root / "snd", root / "rec"), VoiceParams())
                io.stts = stts
                runner = DialogRunner(dialog, io, Transcript(call_id="b"), CallerInfo(number="1"))
                t0 = time.perf_counter()
                await runner.run()
                turns.append(time.perf_counter() - t0)
                outcomes.append(runner.vars["answer"])

            async def speak(cmd: Command) -> Sequence[str]:
                if cmd.name == "RECORD FILE":
                    await asyncio.to_thread(write_wav, Path(cmd.words[2] + ".wav"), answer)
                    return ["200 result=0 (timeout) endpos=5000"]
                return await default_answer(cmd)

            server = FastAgiServer(handle, port=0)
            stop = asyncio.Event()
            async with asyncio.TaskGroup() as tg:
                tg.create_task(server.serve(stop))
                await server.ready.wait()
                for _ in range(20):
                    await AgiPeer("127.0.0.1", server.port).run(speak)
                stop.set()
            if set(outcomes) != {"yes"}:
                raise SystemExit(f"misrecognised: {outcomes}")
            print(f"bot_turn_ms={statistics.median(turns) * 1000:.1f}")
            print(f"stt_ms={statistics.median(stts):.1f}")
        keys = [k async for k in redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


async def live(url: str, calls: int = 4) -> None:
    from voice_bot.audiosocket import AudioSocketServer
    from voice_bot.dialog import Listen
    from voice_bot.main import VoiceBot, load_dialogs
    from voice_bot.settings import VoiceBotSettings
    from voice_bot.testing_lab import LAB_DIALOGS, available, run_caller, start_pbx
    from voice_bot.testing_media import Script

    if why := available():
        print(f"# live figures skipped: {why}")
        return
    espeak = EspeakSynthesizer()
    d = load_dialogs(LAB_DIALOGS)["603"]
    prompts = [d.text(step.prompt, d.lang) for step in d.steps if isinstance(step, Listen)]
    voice = d.voice_for(d.lang)
    q = [(await espeak.synthesize(p, voice)).duration_s for p in prompts]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        redis = connect(url)
        prefix = f"benchlive{time.time_ns()}:"
        s = VoiceBotSettings(
            key_prefix=prefix, sounds_dir=root / "bot" / "sounds", dialogs_dir=LAB_DIALOGS,
            transcripts_stream=f"{prefix}voice:transcripts", crm="none",
        )  # fmt: skip
        audio = AudioSocketServer(port=0)
        bot = VoiceBot(s, redis, espeak, SphinxRecognizer(), load_dialogs(LAB_DIALOGS), None, audio)
        server = FastAgiServer(bot.handle, port=0)
        for p in prompts:  # warm the prompt cache and the decoder, as a running bot is
            await bot.cache.get(p, voice)
        await bot.stt.prepare(["yes", "no"])  # type: ignore[attr-defined]
        # barge into question one after 1.5 s; answer two and three 0.8 s after they end
        # (the bot's next prompt starts ~0.6 s after the answer: the caller's timeline allows
        # for it; a barge-in is fine too)
        script = Script().silence(1.5).say("yes").silence(0.7 + q[1] + 0.8)
        script.say("no").silence(0.7 + q[2] + 0.8).say("yes").silence(5)
        work = root / "callers"
        work.mkdir()
        stop = asyncio.Event()
        with start_pbx("22", root / "asterisk") as pbx:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(server.serve(stop))
                tg.create_task(audio.serve(stop))
                await server.ready.wait()
                await audio.ready.wait()
                pbx.cli(f"dialplan set global VOICEBOT 127.0.0.1:{server.port}")
                outs = await asyncio.gather(*(
                    run_caller(pbx, "603", script, work, name=f"bench{i}", hold_s=30)
                    for i in range(calls)
                ))  # fmt: skip
                stop.set()
        await redis.delete(*[k async for k in redis.scan_iter(match=f"{prefix}*")] or ["-"])
        await redis.aclose()
    lat = sorted(bot.metrics.turn_latency_ms)
    if not lat or any("rc=0" not in o for o in outs):
        print(f"# live calls failed: {outs}")
        return
    p99 = lat[min(len(lat) - 1, round(0.99 * (len(lat) - 1)))]
    print(f"bot_turn_latency_ms_p50={statistics.median(lat):.0f}")
    print(f"bot_turn_latency_ms_p99={p99:.0f}")
    print(f"bot_turn_latency_samples={len(lat)}")
    barge = list(bot.metrics.barge_in_stop_ms)
    if barge:
        print(f"barge_in_stop_ms={statistics.median(barge):.0f}")


async def run_all() -> None:
    await main()
    async with redis_url() as url:
        await live(url)


if __name__ == "__main__":
    asyncio.run(run_all())
