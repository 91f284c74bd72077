"""A scripted Asterisk for tests and the bench: it connects to a FastAGI server over a real
socket, sends ``agi_network``/the environment/the blank line, then answers each command
line with what ``answer`` returns (lines; ``HANGUP`` may come first). ``answer`` returning
None makes it stop answering (but keep the socket open), as a stuck PBX would.

    peer = AgiPeer("127.0.0.1", port, script="dialog", env={"agi_callerid": "+7916…"})
    commands = await peer.run(answer)
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["AgiPeer", "Answer", "Command", "default_answer"]


@dataclass(frozen=True)
class Command:
    line: str

    @property
    def words(self) -> list[str]:
        """The line split like Asterisk's parser splits it (quotes honoured)."""
        return shlex.split(self.line, posix=True)

    @property
    def name(self) -> str:
        """``"STREAM FILE"``, ``"RECORD FILE"``, ``"ANSWER"``… (the command's own words)."""
        w = self.words
        two = " ".join(w[:2])
        singles = {"ANSWER", "EXEC", "HANGUP", "VERBOSE", "NOOP"}
        return w[0] if w and w[0] in singles else two


Answer = Callable[[Command], Awaitable[Sequence[str] | None]]


async def default_answer(cmd: Command) -> Sequence[str]:
    """What a live channel answers when the caller does nothing."""
    if cmd.name == "RECORD FILE":
        return ["200 result=0 (timeout) endpos=0"]
    if cmd.name == "GET DATA":
        return ["200 result= (timeout)"]
    if cmd.name in ("STREAM FILE", "ANSWER"):
        return ["200 result=0 endpos=8000" if cmd.name == "STREAM FILE" else "200 result=0"]
    if cmd.name == "GET VARIABLE":
        return ["200 result=0"]
    if cmd.name == "GET FULL" and cmd.words[3].startswith("${STAT(e,"):
        # STAT(e,path) on a PBX on this host: does it see the file?
        seen = await asyncio.to_thread(Path(cmd.words[3][9:-2]).exists)
        return [f"200 result=1 ({int(seen)})"]
    return ["200 result=1"]


@dataclass
class AgiPeer:
    host: str
    port: int
    script: str = "dialog"
    env: dict[str, str] = field(default_factory=dict)
    commands: list[Command] = field(default_factory=list)
    closed_by_server: bool = False

    def env_lines(self) -> list[str]:
        base = {
            "agi_request": f"agi://{self.host}:{self.port}/{self.script}",
            "agi_channel": "PJSIP/trunk-00000001",
            "agi_language": "en",
            "agi_type": "PJSIP",
            "agi_uniqueid": "1700000000.1",
            "agi_version": "20.5.0",
            "agi_callerid": "+79161234567",
            "agi_calleridname": "unknown",
            "agi_context": "from-trunk",
            "agi_extension": "74951234567",
            "agi_priority": "2",
            "agi_enhanced": "0.0",
            "agi_accountcode": "",
            "agi_threadid": "140000000000000",
        }
        lines = ["agi_network: yes", f"agi_network_script: {self.script}"]
        return lines + [f"{k}: {v}" for k, v in (base | self.env).items()]

    async def run(self, answer: Answer = default_answer) -> list[Command]:
        """Play one call; returns the commands received once the server closes the socket."""
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(("\n".join(self.env_lines()) + "\n\n").encode())
            await writer.drain()
            while line := await reader.readline():
                cmd = Command(line.decode().rstrip("\n"))
                self.commands.append(cmd)
                lines = await answer(cmd)
                if lines is None:  # stuck: read on without answering, until the server gives up
                    continue
                writer.write("".join(f"{x}\n" for x in lines).encode())
                await writer.drain()
            self.closed_by_server = True
        except ConnectionError:
            self.closed_by_server = True
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        return self.commands
