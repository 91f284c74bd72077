"""The whole bot over a real FastAGI socket with the local engines: the scripted Asterisk
speaks the caller's answers with espeak-ng into the file each RECORD FILE names, the bot's
pocketsphinx hears them, the dialog takes the branch; transcripts land on the Redis stream
and callback requests in the built-in CRM."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest
import redis.asyncio as aioredis

from cbcontracts.voice import VoiceTranscript, decode_transcript
from cbcrm.builtin import BuiltinCrm
from cbcrm.lookup import LookupCache
from cbcrm.routing import Router, UserDirectory
from cbspeech import Audio, EspeakSynthesizer, SphinxRecognizer, VoiceParams, write_wav
from voice_bot.crm import CrmLink
from voice_bot.main import VoiceBot, load_dialogs
from voice_bot.server import FastAgiServer
from voice_bot.settings import VoiceBotSettings
from voice_bot.testing import AgiPeer, Command, default_answer

pytestmark = [
    pytest.mark.skipif(
        not (shutil.which("espeak-ng") and shutil.which("sox")), reason="needs espeak-ng and sox"
    ),
    pytest.mark.timeout(60),
]
DIALOGS = Path(__file__).resolve().parents[2] / "dialogs"
IVAN = "+79161234567"  # demo CRM: Иван Кузнецов, manager Анна Смирнова at extension 100


@dataclass
class Bot:
    port: int
    crm: BuiltinCrm
    settings: VoiceBotSettings
    redis: aioredis.Redis
    bot: VoiceBot

    async def transcripts(self) -> list[VoiceTranscript]:
        # the outbox publishes them in the background
        await asyncio.wait_for(self.bot.publisher.drained(), 10)
        entries = await self.redis.xrange(self.settings.transcripts_stream)
        return [decode_transcript(cast(bytes, f[b"data"])) for _, f in entries or [] if f]


@pytest.fixture
async def bot(
    redis_client: aioredis.Redis, redis_prefix: str, tmp_path: Path
) -> AsyncIterator[Bot]:
    s = VoiceBotSettings(
        key_prefix=redis_prefix,
        sounds_dir=tmp_path / "sounds",
        recordings_dir=tmp_path / "rec",
        dialogs_dir=DIALOGS,
        transcripts_stream=f"{redis_prefix}voice:transcripts",
    )
    crm = await BuiltinCrm.open(":memory:")
    lookups = LookupCache(redis_client, crm.lookup, crm="builtin", prefix=redis_prefix)
    users = UserDirectory(redis_client, crm.users, crm="builtin", prefix=redis_prefix)
    link = CrmLink(crm, lookups, Router(lookups, users))
    vb = VoiceBot(
        s, redis_client, EspeakSynthesizer(), SphinxRecognizer(), load_dialogs(DIALOGS), link
    )
    server = FastAgiServer(vb.handle, port=0)
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(server.serve(stop))
        tg.create_task(vb.publisher.run(stop))
        await server.ready.wait()
        try:
            yield Bot(server.port, crm, s, redis_client, vb)
        finally:
            stop.set()
    await crm.aclose()


class Caller:
    """Answers RECORD FILE by speaking the next answer into the file it names (8 kHz WAV);
    ``key:N`` presses N during the recording, ``keys:NNN`` answers a GET DATA."""

    def __init__(self, answers: Sequence[str]) -> None:
        self.answers = list(answers)
        self.voice = EspeakSynthesizer()

    async def __call__(self, cmd: Command) -> Sequence[str]:
        if cmd.name == "STREAM FILE":
            wav = Path(cmd.words[2] + ".wav")
            assert await asyncio.to_thread(wav.is_file), "the bot plays a file it wrote"
        if cmd.name == "RECORD FILE" and self.answers:
            answer = self.answers.pop(0)
            if answer.startswith("key:"):
                return [f"200 result={ord(answer[4])} (dtmf) endpos=800"]
            audio = await self.voice.synthesize(answer, VoiceParams())
            audio = audio if audio.pcm else Audio(b"\0\0" * 16000)  # "" = two seconds' silence
            await asyncio.to_thread(write_wav, Path(cmd.words[2] + ".wav"), audio)
            return [f"200 result=0 (timeout) endpos={len(audio.pcm) // 2}"]
        if cmd.name == "GET DATA" and self.answers and self.answers[0].startswith("keys:"):
            return [f"200 result={self.answers.pop(0)[5:]}"]
        return await default_answer(cmd)


def sets(commands: list[Command]) -> dict[str, str]:
    return {c.words[2]: c.words[3] for c in commands if c.name == "SET VARIABLE"}


async def test_yes_transfers_a_known_caller_to_the_responsible_manager(bot: Bot) -> None:
    peer = AgiPeer("127.0.0.1", bot.port, env={"agi_callerid": IVAN, "agi_uniqueid": "1.1"})
    commands = await peer.run(Caller(["yes"]))
    assert sets(commands) == {"VOICEBOT_TRANSFER": "100", "VOICEBOT_RESULT": "transfer"}
    (t,) = await bot.transcripts()
    assert (t.call_id, t.outcome, t.transfer_to, t.caller) == ("1.1", "transfer", "100", IVAN)
    assert t.turns[0].text == "Hello, Иван Кузнецов."
    assert [x.text for x in t.turns if x.who == "caller"] == ["yes"]


async def test_no_then_spoken_digits_take_the_order_branch(bot: Bot) -> None:
    peer = AgiPeer("127.0.0.1", bot.port, env={"agi_callerid": IVAN, "agi_uniqueid": "1.2"})
    await peer.run(Caller(["no", "one two three"]))
    (t,) = await bot.transcripts()
    assert t.outcome == "completed"
    assert t.turns[-1].text == "Thank you. Your order 123 is on its way. Goodbye."
    assert [x.text for x in t.turns if x.who == "caller"] == ["no", "one two three"]


async def test_call_me_back_becomes_a_crm_task_for_the_manager(bot: Bot) -> None:
    peer = AgiPeer("127.0.0.1", bot.port, env={"agi_callerid": IVAN, "agi_uniqueid": "1.3"})
    commands = await peer.run(Caller(["call me back"]))
    assert sets(commands) == {"VOICEBOT_RESULT": "callback"}
    (task,) = await bot.crm.tasks()
    assert (task["entity_id"], task["responsible_user_id"]) == (3, "1")
    assert "caller: call" in task["text"]
    (t,) = await bot.transcripts()
    assert (t.outcome, t.crm_ref) == ("callback", f"task:{task['id']}")
    (logged,) = await bot.crm.calls()
    assert logged["call_id"] == "1.3/voice-bot"
    assert "voice-bot transcript:" in logged["note"]
    assert "call" in logged["note"]  # what the caller said is in the CRM's call log


async def test_silence_falls_back_to_keys_and_an_unknown_caller_gets_a_contact(bot: Bot) -> None:
    peer = AgiPeer(
        "127.0.0.1", bot.port, env={"agi_callerid": "+79990001122", "agi_uniqueid": "1.4"}
    )
    commands = await peer.run(Caller(["", "", "keys:3"]))
    assert [c.name for c in commands].count("RECORD FILE") == 2  # one try and one retry
    assert "GET DATA" in [c.name for c in commands]
    (t,) = await bot.transcripts()
    assert t.outcome == "callback"
    assert t.turns[0].text == "Hello, thank you for calling."
    (task,) = await bot.crm.tasks()
    lookup = await bot.crm.lookup("+79990001122")
    assert task["entity_id"] == int(lookup.entities[0].id)


async def test_a_key_pressed_while_recording_is_a_dtmf_answer(bot: Bot) -> None:
    peer = AgiPeer("127.0.0.1", bot.port, env={"agi_callerid": IVAN, "agi_uniqueid": "1.5"})
    commands = await peer.run(Caller(["key:1"]))
    assert sets(commands)["VOICEBOT_TRANSFER"] == "100"


async def test_a_hangup_mid_dialog_still_publishes_the_transcript(bot: Bot) -> None:
    async def hang_up_on_record(cmd: Command) -> Sequence[str]:
        if cmd.name == "RECORD FILE":
            return ["HANGUP", "200 result=-1 (hangup) endpos=0"]
        return await default_answer(cmd)

    peer = AgiPeer("127.0.0.1", bot.port, env={"agi_callerid": IVAN, "agi_uniqueid": "1.6"})
    await peer.run(hang_up_on_record)
    (t,) = await bot.transcripts()
    assert t.outcome == "caller_hangup"
