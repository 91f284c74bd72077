"""A Russian turn over AudioSocket with SpeechKit v3 streaming recognition: the client plays
Asterisk (real sockets, frames paced in real time), the recogniser is the faithful fake gRPC
server. The caller talks over the Russian prompt (barge-in), "да" is recognised and taken."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from cbspeech import EspeakSynthesizer, SpeechKitAuth, TtsCache
from cbspeech.speechkit3 import SpeechKitStreaming
from cbspeech.testing_v3 import FakeSpeechKitV3
from voice_bot.audiosocket import KIND_AUDIO, KIND_UUID, AudioSocketServer, encode
from voice_bot.crm import CallerInfo
from voice_bot.dialog import parse_dialog
from voice_bot.runner import DialogRunner
from voice_bot.streamio import StreamCallIO
from voice_bot.testing_media import speech_pcm
from voice_bot.transcript import Transcript

pytestmark = pytest.mark.timeout(30)

DIALOG = """
name: ru
lang: ru
steps:
  - id: ask
    do: listen
    prompt: {ru: "Позвать менеджера? Скажите да или нет.", en: "Yes or no?"}
    intents:
      "yes": {phrases: {ru: ["да"], en: ["yes"]}, dtmf: "1"}
      "no": {phrases: {ru: ["нет"], en: ["no"]}, dtmf: "2"}
    dtmf_fallback: false
  - {id: bye, do: hangup, text: {ru: "До свидания.", en: "Goodbye."}}
"""


async def test_a_russian_answer_over_audiosocket_recognised_by_speechkit_v3(
    redis_client: aioredis.Redis, redis_prefix: str, tmp_path: Path
) -> None:
    dialog = parse_dialog(DIALOG)
    server = AudioSocketServer(port=0)
    stop = asyncio.Event()
    async with FakeSpeechKitV3(api_keys={"k"}, default_text="да", confidence=0.91) as fake:
        stt = SpeechKitStreaming(SpeechKitAuth("api-key", "k"), target=fake.target, tls=False)
        cache = TtsCache(redis_client, tmp_path, EspeakSynthesizer(), prefix=redis_prefix)
        t = Transcript(call_id="ru1")
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(server.serve(stop))
                await server.ready.wait()
                stream = server.expect()
                _, writer = await asyncio.open_connection("127.0.0.1", server.port)
                writer.write(encode(KIND_UUID, stream.id.bytes))
                await writer.drain()
                await stream.connected.wait()

                async def caller() -> None:
                    """0.6 s into the prompt: "да" (Russian voice), then silence."""
                    audio = b"\0" * 320 * 30 + speech_pcm("да", voice="ru") + b"\0" * 320 * 60
                    loop = asyncio.get_running_loop()
                    start = loop.time()
                    for n, off in enumerate(range(0, len(audio) - 319, 320)):
                        writer.write(encode(KIND_AUDIO, audio[off : off + 320]))
                        await writer.drain()
                        await asyncio.sleep(max(0.0, start + (n + 1) * 0.02 - loop.time()))

                talking = tg.create_task(caller())
                io = StreamCallIO(stream, cache, stt, dialog.voice_for("ru"))
                runner = DialogRunner(dialog, io, t, CallerInfo(number="1"), lang="ru")
                await runner.run()
                await talking
                await stream.hangup()
                writer.close()
                stop.set()
        finally:
            await stt.aclose()
    assert runner.vars["answer"] == "yes"
    bot = [x for x in t.turns if x.who == "bot"]
    said = [x for x in t.turns if x.who == "caller"]
    assert bot[0].text == "Позвать менеджера? Скажите да или нет."
    assert bot[0].interrupted == "speech"  # the caller talked over it
    assert [(x.text, x.decision, x.confidence) for x in said] == [("да", "yes", 0.91)]
    assert bot[-1].text == "До свидания."
    (session,) = fake.sessions
    assert session["lang"] == ["ru-RU"]
    assert session["rate"] == 8000
