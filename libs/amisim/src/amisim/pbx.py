"""The simulated PBX: starts calls from templates and acts on live channels."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from aioami import event_name

from ._ids import IdSource, bind
from ._teardown import hangup_frames
from ._template import Template, load_template
from .calls import Call, Timed, render
from .channels import ChannelTable, LiveChannel
from .truth import PlayedCall, played_call

__all__ = ["Pbx", "PbxError"]

Broadcast = Callable[[list[bytes], bytes], None]
Spawn = Callable[[Coroutine[Any, Any, Any], str | None], "asyncio.Task[Any]"]

_REDIRECT_DROP = (b"BlindTransfer", b"Unhold")


class PbxError(Exception):
    """An action cannot be carried out; the message is the AMI error text."""


class Pbx:
    """Calls, the live-channel table and the id counters of one simulator."""

    def __init__(
        self,
        broadcast: Broadcast,
        spawn: Spawn,
        *,
        extensions: Sequence[str] = ("100", "101", "102"),
        speed: float = 1.0,
        seed: int | None = None,
    ) -> None:
        self._broadcast = broadcast
        self._spawn = spawn
        self.extensions = list(extensions)
        self.speed = speed
        self.table = ChannelTable()
        self.ids = IdSource(seed=seed)
        self.calls: set[Call] = set()
        #: The truth of every call played to its end (``PlayedCall``), in order of ending.
        self.played: list[PlayedCall] = []
        #: Called after every emitted batch (the SIP presence server watches the lines).
        self.watchers: list[Callable[[], None]] = []

    # Host protocol for Call ------------------------------------------------------------
    def emit(self, frames: list[bytes], owner: object | None = None) -> None:
        """Deliver event frames to the clients, updating the channel table first."""
        for data in frames:
            self.table.observe(data, owner)
        self._broadcast(frames, b"".join(frames))
        for watcher in self.watchers:
            watcher()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        return self._spawn(coro, name)

    # Starting calls ----------------------------------------------------------------------
    def start_call(
        self,
        scenario: str,
        values: Mapping[str, str] | None = None,
        *,
        speed: float | None = None,
        pause_before: str | None = None,
        idle_only: bool = False,
    ) -> Call:
        """Start scenario ``scenario``; ``values`` fix placeholders (``phone``, ``did``,
        ``ext1``, ``c1_uid``, ``action_id`` ...), the rest is fresh. ``idle_only``: the
        extensions it picks are none that is in a call (:meth:`busy_extensions`), as a PBX
        answers busy to a second call; `PbxError` when too few are idle."""
        template = load_template(scenario)
        given = self._defaults(template, dict(values or {}), idle_only=idle_only)
        values = bind(template, self.ids, time.time(), given)
        call = Call(self, template, values, speed=self._speed(speed), pause_before=pause_before)
        self._track(call)
        call.play(_fix_action_id(render(template.phases, values), values))
        return call

    def busy_extensions(self) -> set[str]:
        """Extensions in a call: given to a call still playing, or with a live channel."""
        busy = {
            call.values[key]
            for call in self.calls
            if not call.done
            for key in call.template.extensions
            if key in call.values
        }
        for channel in self.table:
            tech, _, rest = channel.name.partition("/")
            if tech:
                busy.add(rest.rpartition("-")[0])
        return busy & set(self.extensions)

    def _defaults(
        self, template: Template, params: dict[str, str], *, idle_only: bool = False
    ) -> dict[str, str]:
        given = dict(params)
        wanted = [k for k in template.extensions if k not in given]
        taken = set(given.values()) | (self.busy_extensions() if idle_only else set())
        free = [e for e in self.extensions if e not in taken]
        if len(free) < len(wanted):
            raise PbxError(f"{template.name} needs {len(template.extensions)} idle extensions")
        given.update(zip(wanted, self.ids.rng.sample(free, len(wanted)), strict=True))
        return given

    def _speed(self, speed: float | None) -> float:
        return self.speed if speed is None else speed

    def _track(self, call: Call) -> None:
        self.calls.add(call)
        self.spawn(self._forget_when_done(call, time.time()), f"call-{call.id}-watch")

    async def _forget_when_done(self, call: Call, started_at: float) -> None:
        await call.wait()
        self.calls.discard(call)
        truth = played_call(call, started_at, time.time())
        if truth is not None:
            self.played.append(truth)

    # Acting on live channels ---------------------------------------------------------------
    def find_channel(self, name: str) -> LiveChannel | None:
        """A live channel by exact name, or by ``/regex/`` like Asterisk's Hangup action."""
        if len(name) > 1 and name.startswith("/") and name.endswith("/"):
            pattern = re.compile(name[1:-1])
            return next((c for c in self.table if pattern.search(c.name)), None)
        return self.table.by_name(name)

    async def hangup(self, channel: LiveChannel) -> None:
        """End the call ``channel`` belongs to (the whole call: every channel it has)."""
        call = channel.owner if isinstance(channel.owner, Call) else None
        if call is not None:
            await call.interrupt()
        channels = self.table.owned_by(call) if call is not None else [channel]
        self.emit(hangup_frames(self.table, channels, channel), call)
        if call is not None:
            call.finish()

    async def transfer(self, transferer: LiveChannel, exten: str, *, blind: bool = True) -> None:
        """``transferer``'s bridge peer is sent to ``exten``, which rings and answers
        (the post-transfer part of the blind-transfer capture)."""
        peers = self.table.bridge_peers(transferer)
        call = transferer.owner
        if len(peers) != 1 or not isinstance(call, Call):
            raise PbxError("Channel is not in a two-party bridge")
        await call.interrupt()
        frames = self._transfer_frames(call, transferer, peers[0], exten)
        if not blind:
            frames = [(at, f) for at, f in frames if event_name(f) not in _REDIRECT_DROP]
        call.play(frames)

    def _transfer_frames(
        self, call: Call, transferer: LiveChannel, transferee: LiveChannel, exten: str
    ) -> Timed:
        template = load_template("blind_transfer_ami")
        phase = template.phase("transfer")
        given = {
            "c1": transferee.name,
            "c1_uid": transferee.uniqueid,
            "c2": transferer.name,
            "c2_uid": transferer.uniqueid,
            "linkedid": transferee.linkedid,
            "bridge1": transferer.bridge,
            "phone": transferee.fields.get("CallerIDNum", ""),
            "did": call.values.get("did", transferee.fields.get("Exten", "")),
            "ext1": transferer.fields.get("CallerIDNum", ""),
            "ext2": exten,
        }
        values = bind(template, self.ids, time.time() - phase.start, given)
        return render([phase], values, relative=True)


def _fix_action_id(frames: Timed, values: dict[str, str]) -> Timed:
    """Without an ActionID, Asterisk leaves the header out of OriginateResponse."""
    if values.get("action_id"):
        return frames
    return [(at, f.replace(b"\r\nActionID: \r\n", b"\r\n")) for at, f in frames]
