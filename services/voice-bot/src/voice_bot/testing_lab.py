"""Test and bench support (never imported by the service): a real Asterisk from the kit in
``../shared/asterisk`` with the voice-bot lab's configs (``tests/live/asterisk``), and sipp
callers that play :class:`~voice_bot.testing_media.Script` pcaps.

    with start_pbx("22", workdir) as pbx:
        pbx.cli("dialplan set global VOICEBOT 127.0.0.1:4573")
        await run_caller(pbx, "601", script, workdir, name="yes", hold_s=20)
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .testing_media import Script, caller_scenario

__all__ = ["KIT", "LAB_CONF", "Pbx", "free_port", "run_caller", "start_pbx"]

_SERVICE = Path(__file__).resolve().parents[2]  # services/voice-bot
LAB_CONF = _SERVICE / "tests" / "live" / "asterisk"
LAB_DIALOGS = _SERVICE / "tests" / "live" / "dialogs"
KIT = Path(os.environ.get("PBXLAB_KIT", _SERVICE.parents[2] / "shared" / "asterisk"))
START = KIT / "start-asterisk"


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Pbx:
    version: str
    run: Path
    sip_port: int

    def cli(self, command: str) -> str:
        return subprocess.run(  # noqa: S603 - the kit's launcher, our arguments
            [str(START), "cli", str(self.run), command],
            capture_output=True,
            text=True,
            check=True,
            timeout=20,
        ).stdout

    def log(self) -> str:
        return (self.run / "log" / "messages.log").read_text(errors="replace")


@contextmanager
def start_pbx(version: str, run: Path, conf: Path = LAB_CONF) -> Iterator[Pbx]:
    """Asterisk ``version`` ("22", "20") with ``conf``, on free ports, until the block ends."""
    cache = os.environ.get("ASTERISK_CACHE_DIR") or str(run.parent / "asterisk-cache")
    for _ in range(3):
        sip = free_port(socket.SOCK_DGRAM)
        rtp = free_port(socket.SOCK_DGRAM) // 2 * 2
        defines = {"SIP_PORT": sip, "RTP_START": rtp, "RTP_END": rtp + 100,
                   "VOICEBOT": "127.0.0.1:1"}  # fmt: skip
        cmd = [str(START), "start", version, str(run), str(conf)]
        for name, value in defines.items():
            cmd += ["-D", f"{name}={value}"]
        done = subprocess.run(  # noqa: S603
            cmd,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "ASTERISK_CACHE_DIR": cache},
            check=False,
        )
        if done.returncode == 0:
            break
        if done.returncode != 3:  # 3: a port was taken: try others
            raise RuntimeError(f"Asterisk {version} did not start: {done.stdout}{done.stderr}")
    else:
        raise RuntimeError("no free ports for Asterisk")
    try:
        yield Pbx(version, run, sip)
    finally:
        subprocess.run(  # noqa: S603
            [str(START), "stop", str(run)], check=False, timeout=60, capture_output=True
        )


async def run_caller(
    pbx: Pbx, exten: str, script: Script, workdir: Path, *, name: str, hold_s: float
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
