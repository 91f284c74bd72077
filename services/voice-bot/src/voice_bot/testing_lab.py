"""Test and bench support (never imported by the service): a real Asterisk (pbxlab's
``start_asterisk``) with the voice-bot lab's configs (``tests/live/asterisk``: a caller
endpoint without auth, the bot's dialplan with its fallback to a queue), and sipp callers that
play :class:`~voice_bot.testing_media.Script` pcaps.

    with start_pbx("22", workdir) as pbx:
        pbx.cli("dialplan set global VOICEBOT 127.0.0.1:4573")
        await run_caller(pbx, "601", script, workdir, name="yes", hold_s=20)
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pbxlab import Asterisk, free_port, kit_dir, start_asterisk

from .testing_media import Script, caller_scenario

__all__ = ["LAB_CONF", "LAB_DIALOGS", "Asterisk", "log_of", "run_caller", "start_pbx"]

_SERVICE = Path(__file__).resolve().parents[2]  # services/voice-bot
LAB_CONF = _SERVICE / "tests" / "live" / "asterisk"
LAB_DIALOGS = _SERVICE / "tests" / "live" / "dialogs"


def available() -> str:
    """Why live calls cannot run here ("" when they can)."""
    if kit_dir() is None:
        return "no Asterisk kit (../shared/asterisk)"
    if shutil.which("sipp") is None:
        return "sipp is not installed"
    return ""


@contextmanager
def start_pbx(version: str, run: Path, conf: Path = LAB_CONF) -> Iterator[Asterisk]:
    """Asterisk ``version`` ("22", "20") with the voice-bot lab's configs until the block ends;
    the dialplan's ``VOICEBOT`` global (the bot's FastAGI address) is set with the CLI."""
    cache = os.environ.get("ASTERISK_CACHE_DIR")
    pbx = start_asterisk(
        version,
        run,
        conf,
        defines={"VOICEBOT": "127.0.0.1:1"},
        cache_dir=Path(cache) if cache else None,
    )
    with pbx:
        yield pbx


def log_of(pbx: Asterisk) -> str:
    return (pbx.rundir / "log" / "messages.log").read_text(errors="replace")


async def run_caller(
    pbx: Asterisk, exten: str, script: Script, workdir: Path, *, name: str, hold_s: float
) -> str:
    """One sipp call from ``name`` to ``exten`` playing ``script``; ``rc=0`` when it completed
    (sipp's error log otherwise)."""
    pcap = await asyncio.to_thread(script.pcap, workdir / f"{name}.pcap")
    xml = workdir / f"{name}.xml"
    await asyncio.to_thread(xml.write_text, caller_scenario(pcap, hold_s=hold_s, caller=name))
    proc = await asyncio.create_subprocess_exec(
        "sipp", "-sf", str(xml), "-s", exten, "-m", "1", "-i", "127.0.0.1",
        "-p", str(free_port(socket.SOCK_DGRAM)), "-mp", str(free_port(socket.SOCK_DGRAM)),
        "-timeout", str(int(hold_s + 20)), "-timeout_error", "-nostdin", "-trace_err",
        f"127.0.0.1:{pbx.sip_port}",
        cwd=workdir, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    await proc.wait()
    logs = await asyncio.to_thread(lambda: list(workdir.glob(f"{name}_*errors.log")))
    errors = b"".join([await asyncio.to_thread(p.read_bytes) for p in logs])
    return f"rc={proc.returncode} {errors.decode(errors='replace')[-600:]}"
