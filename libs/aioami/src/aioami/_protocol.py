"""One AMI connection as an ``asyncio.Protocol``: reads split into frames, replies to our own
pending actions routed to them, everything else handed on to the feeds, per socket read.

Knows nothing of login, keepalive or reconnects (see ``_connect``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from ._actions import ActionIds, Headers, Pending, encode_action
from ._feeds import EventHub, RawFeed
from ._framing import FrameSplitter
from ._types import AMIConfig, ClientStats, FrameBatch, Snapshot
from .exceptions import ConnectionLost, FrameError
from .message import parse_frame

__all__ = ["AMIProtocol"]

log = logging.getLogger("aioami")

_BANNER_MARK = b"Call Manager"


class AMIProtocol(asyncio.Protocol):
    """``session`` is the number this connection carries once logged in; ``banner`` and
    ``closed`` are futures resolved by the banner line and by the end of the connection."""

    def __init__(
        self,
        config: AMIConfig,
        *,
        session: int,
        stats: ClientStats,
        feeds: tuple[RawFeed, EventHub],
        ids: ActionIds,
    ) -> None:
        self.session = session
        self.peer = f"{config.host}:{config.port}"
        self.pending: dict[str, Pending] = {}
        self.snapshot_id = ""
        self.paused = False
        self.pause_count = 0
        #: Called first thing when the connection ends (the client clears its "ready").
        self.on_lost: Callable[[], None] | None = None
        loop = asyncio.get_running_loop()
        self.banner: asyncio.Future[str] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self._stats = stats
        self._raw, self._hub = feeds
        self._marker = ids.marker
        self._ids = ids
        self._transport: asyncio.Transport | None = None
        self._splitter = FrameSplitter(
            max_frame_bytes=config.max_frame_bytes, max_headers=config.max_headers
        )

    # -- actions ---------------------------------------------------------------------------

    def request(self, action: str, headers: Headers | None, *, is_list: bool = False) -> Pending:
        """Send an action; its reply will resolve the returned Pending's future."""
        if self._transport is None or self.closed.done():
            raise ConnectionLost(f"connection to {self.peer} is closed; {action} not sent")
        action_id = self._ids.next()
        data = encode_action(action, action_id, headers)
        pending = self.pending[action_id] = Pending(action, action_id, is_list=is_list)
        self._transport.write(data)
        return pending

    def forget(self, pending: Pending) -> None:
        if self.pending.get(pending.action_id) is pending:
            del self.pending[pending.action_id]

    # -- transport control -----------------------------------------------------------------

    def set_reading(self, on: bool) -> None:
        transport = self._transport
        if transport is None or transport.is_closing() or on != self.paused:
            return
        self.paused = not on
        if on:
            transport.resume_reading()
        else:
            self.pause_count += 1
            transport.pause_reading()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # noqa: S101 - stream sockets only
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        rx_us = time.time_ns() // 1000
        self._stats.bytes_in += len(data)
        try:
            frames = self._splitter.feed(data)
            if not self.banner.done():
                self._check_banner()
            if frames:
                self._stats.frames_in += len(frames)
                self._deliver(frames, rx_us)
        except FrameError as exc:
            self._deliver(self._splitter.salvaged, rx_us)
            self._drop(exc)
        except Exception:
            log.exception("aioami: unexpected error handling data from %s", self.peer)
            self._drop(FrameError("unexpected error handling data"))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.on_lost is not None:
            self.on_lost()
        if not self.banner.done():
            self.banner.set_exception(ConnectionLost(f"{self.peer} closed before the banner"))
            self.banner.exception()
        for pending in self.pending.values():
            pending.fail(
                ConnectionLost(
                    f"connection to {self.peer} lost before the reply to {pending.action} "
                    f"(ActionID {pending.action_id}); the action was not re-sent"
                )
            )
        self.pending.clear()
        if not self.closed.done():
            self.closed.set_result(None)

    # -- routing ---------------------------------------------------------------------------

    def _check_banner(self) -> None:
        banner = self._splitter.banner
        if banner is None:
            return
        if _BANNER_MARK not in banner:
            raise FrameError(f"not an AMI banner: {banner[:60]!r}")
        self.banner.set_result(banner.decode("utf-8", "replace"))

    def _drop(self, exc: FrameError) -> None:
        self._stats.frame_errors += 1
        log.error("aioami: %s from %s; dropping the connection", exc, self.peer)
        if not self.banner.done():
            self.banner.set_exception(exc)
            self.banner.exception()
        self.abort()

    def _deliver(self, frames: list[bytes], rx_us: int) -> None:
        if self.pending:
            frames = self._route(frames, rx_us)
        self._emit(frames, rx_us)

    def _route(self, frames: list[bytes], rx_us: int) -> list[bytes]:
        """Take out the frames answering our pending actions. A completed snapshot is put
        in the raw feed right where its last frame was."""
        kept: list[bytes] = []
        for frame in frames:
            claimed, done = self._claim(frame) if self._marker in frame else (False, None)
            if not claimed:
                kept.append(frame)
            elif done is not None and done.action_id == self.snapshot_id:
                self._emit(kept, rx_us)
                kept = []
                self._put_snapshot(done, rx_us)
        return kept

    def _claim(self, frame: bytes) -> tuple[bool, Pending | None]:
        """(claimed by a pending action, that action if the frame completed it)."""
        msg = parse_frame(frame)
        pending = self.pending.get(msg.action_id or "")
        if pending is None:
            return False, None
        claimed, complete = pending.feed(msg)
        if not complete:
            return claimed, None
        del self.pending[pending.action_id]
        pending.finish()
        return True, pending

    def _emit(self, frames: list[bytes], rx_us: int) -> None:
        if frames:
            self._raw.put(FrameBatch(self.session, rx_us, frames))
            self._hub.publish(frames)

    def _put_snapshot(self, pending: Pending, rx_us: int) -> None:
        assert pending.response is not None  # noqa: S101 - complete implies a response
        banner = self.banner.result() if self.banner.done() else ""
        self._raw.put(Snapshot(self.session, rx_us, banner, pending.response, pending.events))
