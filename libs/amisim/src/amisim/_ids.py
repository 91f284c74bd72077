"""Fresh per-call values: Uniqueids, channel names, bridge ids, numbers, times."""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache

from ._template import _PLACEHOLDER, ChannelSpec, Template

__all__ = ["IdSource", "bind"]


class IdSource:
    """Counters shared by every call of one simulator, like Asterisk's own.

    Uniqueids are ``<epoch>.<n>`` from one counter; PJSIP channel names get an 8-digit
    hex suffix from a second counter and Local channels from a third.
    """

    def __init__(self, *, seed: int | None = None, start: int = 0) -> None:
        self.rng = random.Random(seed)
        self._uid = start
        self._chan = start
        self._local = 0

    def uid(self, epoch: float) -> str:
        n, self._uid = self._uid, self._uid + 1
        return f"{int(epoch)}.{n}"

    def channel(self, device: str, *, local: bool = False) -> str:
        if local:
            n, self._local = self._local, self._local + 1
        else:
            n, self._chan = self._chan, self._chan + 1
        return f"{device}-{n:08x}"

    def bridge(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def phone(self) -> str:
        return "79" + "".join(self.rng.choices("0123456789", k=9))

    def sip_id(self) -> str:
        return f"{self.rng.randint(1, 9)}-{self.rng.randint(10000, 99999)}@127.0.0.1"


def bind(
    template: Template,
    ids: IdSource,
    start: float,
    given: Mapping[str, str],
) -> dict[str, str]:
    """Values for every placeholder of ``template``: ``given`` first, the rest fresh.

    ``start`` is the call's start (unix seconds); times and Uniqueid epochs are
    ``start`` plus the frame's offset in the template.
    """
    values = dict(given)
    devices = {spec.role: spec for spec in template.channels}
    for key, make in _plan(template):
        if key not in values:
            values[key] = make(ids, start, values, devices)
    values.setdefault("linkedid", values.get("c1_uid") or values.get("c1_1_uid") or "")
    return values


_Maker = Callable[[IdSource, float, dict[str, str], dict[str, ChannelSpec]], str]


@cache
def _plan(template: Template) -> tuple[tuple[str, _Maker], ...]:
    return tuple((key, _maker(key, template)) for key in template.keys if key != "linkedid")


def _maker(key: str, template: Template) -> _Maker:
    kind, _, arg = key.partition("@")
    if arg:
        offset = float(arg)
        fmt = _TIME_FORMATS[kind]
        return lambda ids, start, values, devices: fmt(start + offset)
    if key.endswith("_uid"):
        at = template.first_at[key]
        return lambda ids, start, values, devices: ids.uid(start + at)
    if re.fullmatch(r"c\d+", key):
        return _channel_maker(key)
    return _SIMPLE.get(re.sub(r"\d+$", "", key), _unknown(key))


def _channel_maker(role: str) -> _Maker:
    def make(
        ids: IdSource, start: float, values: dict[str, str], devices: dict[str, ChannelSpec]
    ) -> str:
        spec = devices[role]
        device = _PLACEHOLDER.sub(lambda m: values[m[1]], spec.device)
        return ids.channel(device, local=spec.local)

    return make


def _unknown(key: str) -> _Maker:
    def make(
        ids: IdSource, start: float, values: dict[str, str], devices: dict[str, ChannelSpec]
    ) -> str:
        raise KeyError(f"no value for placeholder {key!r}")

    return make


def _tv(when: float) -> str:
    moment = datetime.fromtimestamp(when, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _cdr(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d %H:%M:%S")


_TIME_FORMATS: dict[str, Callable[[float], str]] = {
    "tv": _tv,
    "cdr": _cdr,
    "ntp": lambda when: f"{when:.6f}",
    "epoch": lambda when: str(int(when)),
}

_SIMPLE: dict[str, _Maker] = {
    "bridge": lambda ids, start, values, devices: ids.bridge(),
    "sip": lambda ids, start, values, devices: ids.sip_id(),
    "phone": lambda ids, start, values, devices: ids.phone(),
    "did": lambda ids, start, values, devices: "4951234567",
    "action_id": lambda ids, start, values, devices: f"sim-{ids.rng.getrandbits(32):08x}",
}
