"""The voice bot on a real Asterisk (22 and 20), callers played by sipp: speech made by
espeak-ng and sent as G.711 RTP, keys as RFC 4733 events, both from pcaps generated here.

The bot runs in its own temporary working directory with the AudioSocket mode: Asterisk and
the bot share no path (Asterisk's run directory is elsewhere; the bot's prompt cache is its
own). All scenarios of one Asterisk run at once (one sipp per caller), so a version costs the
longest call, not the sum.

Scenarios: barge-in by voice and by key, "123#" collected whole, a late speaker not cut off,
noise and off-topic speech reprompted, spoken digits confirmed, and a bot that cannot be
reached sending the caller to the queue (``AGISTATUS=FAILURE`` → ``Queue(support)``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import pytest
import redis.asyncio as aioredis

from cbcontracts.voice import VoiceTranscript, VoiceTurn, decode_transcript
from cbruntime import HealthServer, new_registry
from cbruntime.http import Receive, Send
from cbspeech import EspeakSynthesizer, SphinxRecognizer, VoiceParams
from cbstreams import connect
from voice_bot.audiosocket import AudioSocketServer
from voice_bot.main import VoiceBot, check_file_mode, load_dialogs
from voice_bot.prompts import prompt_app
from voice_bot.server import FastAgiServer
from voice_bot.settings import VoiceBotSettings
from voice_bot.testing_lab import Asterisk, available, log_of, run_caller, start_pbx
from voice_bot.testing_media import Script

HERE = Path(__file__).parent

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.skipif(bool(available()), reason=available()),
]


@pytest.fixture(scope="module", params=["22", "20"])
def pbx(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Asterisk]:
    version = str(request.param)
    with start_pbx(version, tmp_path_factory.mktemp(f"asterisk{version}")) as pbx:
        for module in ("app_audiosocket.so", "res_audiosocket.so", "chan_audiosocket.so"):
            assert "Running" in pbx.cli(f"module show like {module}"), module
        yield pbx


@dataclass
class Call:
    name: str
    exten: str
    script: Script
    hold_s: float
    caller: str = ""


PROMPT_601 = (
    "Welcome to the callbridge test line. This message is long on purpose, so that you can "
    "interrupt it. Would you like to talk to a manager? Say yes or no."
)
PROMPT_602 = "Please say your order number, or key it in and press the hash key."


async def prompt_s(text: str) -> float:
    """How long the bot's prompt plays (the same engine and voice as the dialogs')."""
    return (await EspeakSynthesizer().synthesize(text, VoiceParams(voice="en-us"))).duration_s


async def calls() -> list[Call]:
    p601, p602 = await prompt_s(PROMPT_601), await prompt_s(PROMPT_602)
    late = Script().silence(p601 + 2.6).say("yes", "answer").silence(4)
    noise = Script().silence(p601 + 0.8).noise(1.5, name="noise").silence(4.0)
    noise.say("yes", "answer").silence(4)
    offtopic = Script().silence(p601 + 0.8)
    offtopic.say("I would like to order a large pizza with extra cheese", "pizza").silence(4.5)
    offtopic.say("no", "answer").silence(4)
    # whatever the recogniser made of the digits is read back; the caller says no (the
    # local engine hears "one eight two three" here) and keys them instead
    spoken = Script().silence(p602 + 0.6).say("one two three", "digits").silence(1.6)
    spoken.say("no", "confirm").silence(1.5).keys("123#", name="keys").silence(5)
    return [
        Call("barge_voice", "601", Script().silence(2.0).say("yes", "answer").silence(5), 20),
        Call("barge_key", "601", Script().silence(2.0).keys("2", name="key").silence(5), 20),
        Call("keys_123", "602", Script().silence(1.5).keys("123#", name="keys").silence(6), 20),
        Call("late", "601", late, 30),
        Call("noise", "601", noise, 40),
        Call("offtopic", "601", offtopic, 40),
        Call("spoken_digits", "602", spoken, 30),
        Call("fallback", "9601", Script().silence(6), 12),
        Call("as_fallback", "8601", Script().silence(8), 14),
    ]


async def run_sipp(pbx: Asterisk, call: Call, workdir: Path) -> str:
    return await run_caller(pbx, call.exten, call.script, workdir, name=call.name,
                            hold_s=call.hold_s)  # fmt: skip


def bot_turns(t: VoiceTranscript) -> list[VoiceTurn]:
    return [x for x in t.turns if x.who == "bot"]


def caller_turns(t: VoiceTranscript) -> list[VoiceTurn]:
    return [x for x in t.turns if x.who == "caller"]


async def test_live_calls(pbx: Asterisk, redis_url: str, tmp_path: Path) -> None:
    botdir = tmp_path / "bot"  # the bot's own working directory: nothing shared with Asterisk
    botdir.mkdir()
    prefix = f"live{pbx.version}:{os.getpid()}:"
    s = VoiceBotSettings(
        key_prefix=prefix,
        sounds_dir=botdir / "sounds",
        recordings_dir=botdir / "recordings",
        dialogs_dir=HERE / "dialogs",
        default_dialog="601",
        transcripts_stream=f"{prefix}voice:transcripts",
        crm="none",
    )
    redis: aioredis.Redis = connect(redis_url)
    audio = AudioSocketServer(port=0)
    bot = VoiceBot(
        s, redis, EspeakSynthesizer(), SphinxRecognizer(), load_dialogs(s.dialogs_dir), None,
        audio,
    )  # fmt: skip
    server = FastAgiServer(bot.handle, port=0)
    # the same bot, but Asterisk is told to stream its audio to a port where nobody listens
    noaudio = VoiceBot(
        replace(s, audiosocket_advertise="127.0.0.1:1", audiosocket_connect_s=3), redis,
        EspeakSynthesizer(), SphinxRecognizer(), load_dialogs(s.dialogs_dir), None, audio,
    )  # fmt: skip
    noaudio_server = FastAgiServer(noaudio.handle, port=0)
    stop = asyncio.Event()
    scenario = await calls()
    work = tmp_path / "callers"
    work.mkdir()
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(server.serve(stop))
            tg.create_task(noaudio_server.serve(stop))
            tg.create_task(audio.serve(stop))
            # transcripts go out through each bot's outbox (published until stop, then drained)
            tg.create_task(bot.publisher.run(stop))
            tg.create_task(noaudio.publisher.run(stop))
            await server.ready.wait()
            await noaudio_server.ready.wait()
            await audio.ready.wait()
            pbx.cli(f"dialplan set global VOICEBOT 127.0.0.1:{server.port}")
            pbx.cli(f"dialplan set global VOICEBOT_NOAUDIO 127.0.0.1:{noaudio_server.port}")
            first = [c for c in scenario if c.name != "as_fallback"]
            sipps = [tg.create_task(run_sipp(pbx, c, work)) for c in first]
            # Asterisk (20 and 22) closes a file descriptor twice when AudioSocket() cannot
            # connect: a call whose AudioSocket opens at that very moment loses it ("Bad file
            # descriptor"). The unreachable-AudioSocket call starts once the others' are open.
            async with asyncio.timeout(30):
                while audio.paired < len(first) - 1:  # all but "fallback" (no bot)
                    audio.paired_changed.clear()
                    await audio.paired_changed.wait()
            (late,) = [c for c in scenario if c.name == "as_fallback"]
            sipps.append(tg.create_task(run_sipp(pbx, late, work)))
            scenario = [*first, late]
            outputs = await asyncio.gather(*sipps)
            stop.set()
        entries = await redis.xrange(s.transcripts_stream)
    finally:
        await redis.aclose()
    transcripts = [decode_transcript(cast(bytes, f[b"data"])) for _, f in entries or [] if f]
    by_exten = {c.name: o for c, o in zip(scenario, outputs, strict=True)}
    texts = "\n\n".join(t.text() + f"\n[{t.outcome}]" for t in transcripts)
    failed = {n: o for n, o in by_exten.items() if "rc=0" not in o}
    assert not failed, f"{failed}\n{texts}"
    # one transcript per bot call; which is which: by what the caller did
    assert len(transcripts) == 8, [t.text() for t in transcripts]
    try:
        check_scenarios(transcripts, pbx)
    except AssertionError:
        audiosocket = [x for x in log_of(pbx).splitlines() if "udioSocket" in x]
        print("\n".join(audiosocket[-30:]))  # noqa: T201 - shown with the failure
        raise
    assert not list((botdir / "recordings").glob("*")) if (botdir / "recordings").exists() else True


def check_scenarios(all_transcripts: list[VoiceTranscript], pbx: Asterisk) -> None:
    transcripts = [t for t in all_transcripts if t.outcome != "error"]
    texts = "\n\n".join(t.text() + f"\n[{t.outcome}]" for t in transcripts)

    def find(pred: object, what: str) -> VoiceTranscript:
        found = [t for t in transcripts if callable(pred) and pred(t)]
        assert found, f"no call where {what}:\n{texts}"
        return found[0]

    def decisions(t: VoiceTranscript) -> list[str]:
        return [x.decision for x in caller_turns(t)]

    # barge-in by voice: the first prompt stopped by speech, "yes" taken
    t = find(lambda t: bot_turns(t)[0].interrupted == "speech" and decisions(t) == ["yes"],
             "speech interrupted the prompt and yes was taken")  # fmt: skip
    assert bot_turns(t)[-1].text == "You said yes. Goodbye."
    # barge-in by key
    t = find(lambda t: bot_turns(t)[0].interrupted == "dtmf" and decisions(t) == ["no"],
             "a key interrupted the prompt and meant no")  # fmt: skip
    # "123#": one answer, the whole digit string, terminator not part of it
    t = find(lambda t: [x.text for x in caller_turns(t)] == ["123"], "123# was collected whole")
    assert bot_turns(t)[-1].text == "Order 123. Goodbye."
    # spoken digits read back for confirmation; "no" drops them; the keys then count
    t = find(lambda t: any(x.text.startswith("You said 1") for x in bot_turns(t)),
             "spoken digits were read back for confirmation")  # fmt: skip
    assert "nomatch: not confirmed" in decisions(t) or decisions(t)[:2] == ["digits", "no"], texts
    assert [x.text for x in caller_turns(t)][-1] == "123", texts
    assert bot_turns(t)[-1].text == "Order 123. Goodbye.", texts
    # a late speaker (2.6 s after the prompt ended) is heard, not reprompted over
    t = find(lambda t: not bot_turns(t)[0].interrupted and decisions(t) == ["yes"]
             and len(bot_turns(t)) == 2, "a late yes was heard without a reprompt")  # fmt: skip
    # noise and off-topic speech: no intent forced, reprompted, then the real answer taken
    reprompted = [t for t in transcripts
                  if any(x.text.startswith("Sorry") for x in bot_turns(t))]  # fmt: skip
    assert len(reprompted) >= 2, texts
    for t in reprompted:
        first = caller_turns(t)[0]
        assert first.decision.startswith("nomatch"), texts
        assert decisions(t)[-1] in ("yes", "no"), texts
    assert {decisions(t)[-1] for t in reprompted} == {"yes", "no"}, texts
    # the bot that cannot be reached, and the bot whose AudioSocket cannot be: the caller
    # reaches the queue's agent either way
    log = log_of(pbx)
    assert "agent 900 answered fallback" in log, log[-3000:]
    assert "agent 900 answered as_fallback" in log, log[-3000:]
    (failed,) = [t for t in all_transcripts if not t.turns]
    assert failed.outcome == "error", texts
    assert failed.turns == (), texts  # nothing was said: no prompt line


async def test_file_mode_plays_prompts_over_http(
    pbx: Asterisk, redis_url: str, tmp_path: Path
) -> None:
    """FastAGI alone (no AudioSocket): the prompts reach Asterisk over HTTP (its media cache
    fetches them from the bot), so the bot's sounds directory is shared with nobody; a key
    stops the prompt and answers."""
    botdir = tmp_path / "bot"
    prefix = f"livehttp{pbx.version}:{os.getpid()}:"
    served: list[str] = []
    s = VoiceBotSettings(
        key_prefix=prefix, audio="files", sounds_dir=botdir / "sounds",
        recordings_dir=botdir / "recordings", dialogs_dir=HERE / "dialogs",
        default_dialog="601", transcripts_stream=f"{prefix}voice:transcripts", crm="none",
    )  # fmt: skip
    redis: aioredis.Redis = connect(redis_url)
    stop = asyncio.Event()
    try:
        async with asyncio.TaskGroup() as tg:
            app = prompt_app(s.sounds_dir)

            async def counting(scope: dict[str, Any], receive: Receive, send: Send) -> None:
                served.append(scope["path"])
                await app(scope, receive, send)

            health = HealthServer(new_registry(), port=0, extra=counting)
            tg.create_task(health.serve(stop))
            await health.wait_started()
            s = replace(s, prompts_url=f"{health.url}/prompts")
            bot = VoiceBot(
                s, redis, EspeakSynthesizer(), SphinxRecognizer(), load_dialogs(s.dialogs_dir),
                None,
            )  # fmt: skip
            check_file_mode(s)
            server = FastAgiServer(bot.handle, port=0)
            tg.create_task(server.serve(stop))
            tg.create_task(bot.publisher.run(stop))  # the transcript outbox
            await server.ready.wait()
            pbx.cli(f"dialplan set global VOICEBOT 127.0.0.1:{server.port}")
            script = Script().silence(2.5).keys("1").silence(6)
            out = await run_caller(pbx, "601", script, tmp_path, name="http", hold_s=20)
            stop.set()
        entries = await redis.xrange(s.transcripts_stream)
    finally:
        await redis.aclose()
    assert "rc=0" in out, out
    (t,) = [decode_transcript(cast(bytes, f[b"data"])) for _, f in entries or [] if f]
    assert [x.decision for x in caller_turns(t)] == ["yes"], t.text()
    assert bot_turns(t)[-1].text == "You said yes. Goodbye."
    assert len(served) >= 2  # both prompts fetched over HTTP
    assert all(p.startswith("/prompts/") and p.endswith(".wav") for p in served)
