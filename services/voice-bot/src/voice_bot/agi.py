"""One FastAGI call: the environment, then commands and their replies.

Every read has a deadline (``read_timeout_s``, plus the command's own duration for those that
wait on the caller, like RECORD FILE); a peer that stops answering ends the call with
:class:`AgiTimeout`. ``HANGUP`` lines (sent by Asterisk when the caller hangs up, at any
moment, also while we wait for a reply) are noted and skipped: the pending command still gets
its reply (usually ``result=-1``), and the next command raises :class:`AgiHangup` without
being sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from .agiproto import AgiEnv, Reply, Status, format_command, parse_env_line, parse_reply
from .exceptions import (
    AgiClosed,
    AgiCommandError,
    AgiDeadChannel,
    AgiError,
    AgiHangup,
    AgiTimeout,
    AgiUsageError,
)

__all__ = ["AgiChannel", "read_env"]

log = logging.getLogger(__name__)


async def _line(reader: asyncio.StreamReader, timeout_s: float) -> str:
    try:
        async with asyncio.timeout(timeout_s):
            raw = await reader.readline()
    except TimeoutError:
        raise AgiTimeout(f"no line from Asterisk in {timeout_s:g} s") from None
    except (ValueError, asyncio.LimitOverrunError):
        raise AgiError("line too long") from None
    except ConnectionError as exc:
        raise AgiClosed(f"connection lost: {exc}") from None
    if not raw.endswith(b"\n"):
        raise AgiClosed("Asterisk closed the connection")
    return raw.decode("utf-8", errors="replace").rstrip("\r\n")


async def read_env(
    reader: asyncio.StreamReader,
    timeout_s: float,
    *,
    max_lines: int = 200,
    max_bytes: int = 32_768,
) -> AgiEnv:
    """Read ``agi_*: value`` lines up to the empty line, all within ``timeout_s``; at most
    ``max_lines`` lines and ``max_bytes`` bytes in all (each line is also bounded by the
    reader's ``limit``): a peer that sends more is dropped with :class:`AgiError`."""
    values: dict[str, str] = {}
    size = lines = 0
    try:
        async with asyncio.timeout(timeout_s):
            while (item := parse_env_line(line := await _line(reader, timeout_s))) is not None:
                size, lines = size + len(line) + 1, lines + 1
                if lines > max_lines or size > max_bytes:
                    raise AgiError(f"AGI environment over {max_lines} lines or {max_bytes} bytes")
                values[item[0]] = item[1]
    except TimeoutError:
        raise AgiTimeout(f"no complete AGI environment in {timeout_s:g} s") from None
    except ValueError as exc:
        raise AgiError(str(exc)) from None
    return AgiEnv(values=values)


class AgiChannel:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        env: AgiEnv,
        *,
        read_timeout_s: float = 10.0,
    ) -> None:
        self._reader, self._writer, self.env = reader, writer, env
        self.read_timeout_s = read_timeout_s
        self.hung_up = False

    @property
    def local_host(self) -> str:
        """Our address on this connection (as Asterisk reached us)."""
        name = self._writer.get_extra_info("sockname")
        return str(name[0]) if isinstance(name, tuple) and name else "127.0.0.1"

    async def command(self, *words: str, wait_s: float = 0.0) -> Reply:
        """Send a command; its 200 reply. Raises AgiHangup (before sending, once the caller
        hung up), AgiDeadChannel (511), AgiCommandError (510…), AgiUsageError (520)."""
        if self.hung_up:
            raise AgiHangup(f"caller hung up; {words[0]} not sent")
        line = format_command(*words)
        self._writer.write(line)
        try:
            await self._writer.drain()
        except ConnectionError as exc:
            raise AgiClosed(f"connection lost: {exc}") from None
        return await self._reply(words[0], self.read_timeout_s + wait_s)

    async def _reply(self, command: str, timeout_s: float) -> Reply:
        while True:
            text = await _line(self._reader, timeout_s)
            if text.startswith("HANGUP"):
                log.debug("HANGUP from Asterisk while waiting for %s", command)
                self.hung_up = True
                continue
            try:
                reply = parse_reply(text)
            except ValueError as exc:
                raise AgiError(str(exc)) from None
            if isinstance(reply, Reply):
                return reply
            raise await self._status_error(reply, command, timeout_s)

    async def _status_error(self, status: Status, command: str, timeout_s: float) -> AgiError:
        if status.code == 511:
            self.hung_up = True
            return AgiDeadChannel(status.text)
        if status.code != 520:
            return AgiCommandError(status.code, status.text, command)
        usage: list[str] = []
        while status.more:
            text = await _line(self._reader, timeout_s)
            if text.startswith("520 "):
                break
            usage.append(text)
        return AgiUsageError(status.text, "\n".join(usage), command)

    # -- the commands the bot uses ------------------------------------------------------------

    async def answer(self) -> Reply:
        return await self.command("ANSWER")

    async def stream_file(self, stem: str, escape: str = "", *, wait_s: float = 60.0) -> Reply:
        """Play ``stem`` (no extension); ``reply.digit`` if the caller pressed ``escape``."""
        reply = await self.command("STREAM FILE", stem, escape, wait_s=wait_s)
        if reply.code == -1:
            raise AgiHangup(f"STREAM FILE {stem} failed or the caller hung up")
        return reply

    async def record_file(
        self,
        stem: str,
        *,
        fmt: str = "wav",
        escape: str = "#",
        timeout_ms: int = 5000,
        silence_s: int = 0,
        beep: bool = False,
    ) -> Reply:
        """Record to ``stem.fmt``; ``data`` says why it stopped: dtmf/timeout/hangup."""
        words = ["RECORD FILE", stem, fmt, escape, str(timeout_ms)]
        words += ["BEEP"] if beep else []
        words += [f"s={silence_s}"] if silence_s else []
        reply = await self.command(*words, wait_s=timeout_ms / 1000)
        if reply.code == -1 or reply.data == "hangup":
            raise AgiHangup("the caller hung up while recording")
        return reply

    async def get_data(self, stem: str, timeout_ms: int = 5000, max_digits: int = 1) -> Reply:
        """Play ``stem`` and collect up to ``max_digits`` digits (``result``)."""
        wait = timeout_ms * (max_digits + 1) / 1000 + 30
        reply = await self.command("GET DATA", stem, str(timeout_ms), str(max_digits), wait_s=wait)
        if reply.code == -1:
            raise AgiHangup("the caller hung up during GET DATA")
        return reply

    async def set_variable(self, name: str, value: str) -> Reply:
        return await self.command("SET VARIABLE", name, value)

    async def get_variable(self, name: str) -> str | None:
        reply = await self.command("GET VARIABLE", name)
        return reply.data if reply.code == 1 else None

    async def exec(self, app: str, options: str = "") -> Reply:
        return await self.command("EXEC", app, options, wait_s=3600)

    async def verbose(self, message: str, level: int = 1) -> Reply:
        return await self.command("VERBOSE", message, str(level))

    async def hangup(self) -> Reply:
        return await self.command("HANGUP")

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()
