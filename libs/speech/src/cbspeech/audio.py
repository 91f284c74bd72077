"""Audio conversions: WAV <-> PCM, resampling with sox, and running local tools.

Asterisk plays and records 8 kHz 16-bit mono (``slin``; a ``.wav`` file is the same with a
RIFF header). Subprocesses run with a fixed argv (no shell) and a deadline; a tool that
overstays it is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import wave
from collections.abc import Sequence
from pathlib import Path

from .base import ASTERISK_RATE, Audio
from .exceptions import SpeechEngineError

__all__ = ["read_wav", "resample", "run_tool", "to_asterisk", "wav_bytes", "write_wav"]


async def run_tool(argv: Sequence[str], data: bytes = b"", *, timeout_s: float = 20.0) -> bytes:
    """Run ``argv`` with ``data`` on stdin; its stdout. Raises SpeechEngineError."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise SpeechEngineError(f"cannot run {argv[0]}: {exc.strerror}", provider=argv[0]) from None
    try:
        async with asyncio.timeout(timeout_s):
            out, err = await proc.communicate(data)
    except TimeoutError:
        raise SpeechEngineError(f"{argv[0]} took over {timeout_s} s", provider=argv[0]) from None
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    if proc.returncode != 0:
        tail = err.decode(errors="replace").strip()[-300:]
        raise SpeechEngineError(f"{argv[0]} exited {proc.returncode}: {tail}", provider=argv[0])
    return out


def read_wav(data: bytes) -> Audio:
    """A 16-bit mono WAV file's samples. Raises SpeechEngineError for other formats."""
    try:
        with wave.open(io.BytesIO(data)) as w:
            if w.getsampwidth() != 2 or w.getnchannels() != 1:
                raise SpeechEngineError("need 16-bit mono WAV", provider="wav")
            return Audio(w.readframes(w.getnframes()), w.getframerate())
    except (wave.Error, EOFError) as exc:
        raise SpeechEngineError(f"bad WAV: {exc}", provider="wav") from None


def wav_bytes(audio: Audio) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(audio.rate)
        w.writeframes(audio.pcm)
    return buf.getvalue()


def write_wav(path: Path, audio: Audio) -> None:
    """Write atomically (temp file + rename): a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(wav_bytes(audio))
    tmp.replace(path)


def _raw(rate: int) -> list[str]:
    return ["-t", "raw", "-r", str(rate), "-e", "signed-integer", "-b", "16", "-c", "1"]


async def resample(audio: Audio, rate: int, *, sox: str = "sox") -> Audio:
    """``audio`` at ``rate`` Hz (sox's default high-quality resampler)."""
    if audio.rate == rate or not audio.pcm:
        return Audio(audio.pcm, rate)
    out = await run_tool([sox, *_raw(audio.rate), "-", *_raw(rate), "-"], audio.pcm)
    return Audio(out, rate)


async def to_asterisk(data: bytes, *, sox: str = "sox", kind: str = "wav") -> Audio:
    """Any file sox reads (``kind``: wav, ogg, mp3…) as 8 kHz 16-bit mono."""
    out = await run_tool([sox, "-t", kind, "-", *_raw(ASTERISK_RATE), "-"], data)
    return Audio(out, ASTERISK_RATE)
