"""The presence service against a real Asterisk (22 with PJSIP phones, 20 with chan_sip
phones), phones played by sipp: registration, a call ringing and answered, DND and away,
unregistering, and an Asterisk restart — each change reaches the Redis view and stream."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis.asyncio as aioredis
import trustme

import cbruntime
from aioami import AMIClient
from ami_ingest.main import IngestService
from ami_ingest.settings import HttpSettings, IngestSettings, PbxSettings
from cbcontracts.presence import PresenceState, decode_presence
from cbruntime import Secret
from cbstreams import PbxKeys
from pbxlab import Hangup, Talk
from pbxlab.asterisk import AMI_SECRET, AMI_USER, Asterisk, free_port, kit_dir, start_asterisk
from pbxlab.sipp import Phone
from presence.main import PresenceService
from presence.settings import PbxPresence, PresenceSettings

CONF = Path(__file__).parent / "asterisk"
SECRET = "watcher-Secret-42"

pytestmark = pytest.mark.skipif(kit_dir() is None, reason="no ../shared/asterisk")


@dataclass
class Pbx:
    ast: Asterisk
    workdir: Path
    version: str
    phones: tuple[str, str]
    _phones: dict[str, Phone] = field(default_factory=dict)

    def restart(self) -> None:
        self.ast.stop()
        self.ast = start_asterisk(self.version, self.workdir, CONF, defines=self.ast.ports)
        for phone in self._phones.values():
            phone.ast = self.ast

    def phone(self, ext: str) -> Phone:
        """One phone per extension: it keeps its port (its registered contact)."""
        if ext not in self._phones:
            self._phones[ext] = Phone(self.ast, self.workdir / "sipp", ext)
        return self._phones[ext]


@pytest.fixture(scope="module", params=["22", "20"])
def pbx(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
        pbxlab_cache: Path) -> Iterator[Pbx]:  # fmt: skip
    version = request.param
    workdir = tmp_path_factory.mktemp(f"presence{version}")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(workdir / "key.pem")
    cert.cert_chain_pems[0].write_to_path(workdir / "cert.pem")
    ca.cert_pem.write_to_path(workdir / "ca.pem")
    defines: dict[str, str | int] = {
        "SIP_TCP_PORT": free_port(),
        "SIP_TLS_PORT": free_port(),
        "TLS_CERT": str(workdir / "cert.pem"),
        "TLS_KEY": str(workdir / "key.pem"),
        "WATCHER_SECRET": SECRET,
    }
    ast = start_asterisk(version, workdir, CONF, defines=defines, cache_dir=pbxlab_cache)
    phones = ("200", "201") if version == "20" else ("100", "101")
    p = Pbx(ast, workdir, version, phones)
    try:
        yield p
    finally:
        p.ast.stop()


def settings(pbx: Pbx, redis_url: str, prefix: str, **over: object) -> PresenceSettings:
    watched = [*pbx.phones, "102"]
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": pbx.ast.sip_port,
        "username": "watcher",
        "password": Secret(SECRET),
        "extensions": watched,
        "lists": {"dialog": ["team-dialog"], "presence": ["team-presence"]},
        "keepalive_s": 0.3,
        "timeout_s": 2.0,
    }
    values.update(over)
    return PresenceSettings(
        redis_url=redis_url,
        key_prefix=prefix,
        pbx={"lab": PbxPresence(**values)},  # type: ignore[arg-type]
    )


@contextlib.asynccontextmanager
async def service(s: PresenceSettings) -> AsyncIterator[PresenceService]:
    svc = PresenceService(s)
    stop = asyncio.Event()
    task = asyncio.create_task(svc.run(stop))
    try:
        yield svc
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def view(redis: aioredis.Redis, prefix: str, ext: str) -> PresenceState | None:
    raw: bytes | None = await redis.hget(PbxKeys("lab", prefix).presence_view, ext)  # type: ignore[assignment]
    return decode_presence(raw) if raw else None


async def wait_state(
    redis: aioredis.Redis, prefix: str, ext: str, state: str, within: float = 10.0
) -> PresenceState:
    deadline = time.monotonic() + within
    last = None
    while time.monotonic() < deadline:
        last = await view(redis, prefix, ext)
        if last is not None and last.state == state:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"{ext} never became {state} (last: {last})")


async def wait_view(
    redis: aioredis.Redis, prefix: str, ext: str, within: float = 10.0
) -> PresenceState:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = await view(redis, prefix, ext)
        if found is not None:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{ext} never got a state")


async def states(redis: aioredis.Redis, prefix: str, ext: str) -> list[str]:
    entries: list[tuple[bytes, dict[bytes, bytes]]] = await redis.xrange(  # type: ignore[assignment]
        PbxKeys("lab", prefix).presence
    )
    out: list[str] = []
    for _id, fields in entries:
        p = decode_presence(fields[b"data"])
        if p.extension == ext and (not out or out[-1] != p.state):
            out.append(p.state)
    return out


async def test_a_call_registration_dnd_and_a_restart_are_followed(
    pbx: Pbx, redis_client: aioredis.Redis, redis_url: str, redis_prefix: str
) -> None:
    a, b = pbx.phones
    r, pfx = redis_client, redis_prefix
    async with service(settings(pbx, redis_url, pfx)) as svc:
        # Nobody registered yet: unavailable; an extension without a phone stays so.
        await wait_state(r, pfx, a, "unavailable")
        await wait_state(r, pfx, "102", "unavailable")
        await pbx.phone(a).register()
        await pbx.phone(b).register()
        await wait_state(r, pfx, a, "idle")
        await wait_state(r, pfx, b, "idle")

        # a calls b: b rings (with a as the caller), answers, they talk, a hangs up.
        uas = await pbx.phone(b).answer(ring=1.5)
        uac = await pbx.phone(a).call(b, then=[Talk(1.5), Hangup()])
        ringing = await wait_state(r, pfx, b, "ringing")
        assert ringing.remote == a
        assert ringing.direction == "inbound"
        await wait_state(r, pfx, b, "in_call")
        await wait_state(r, pfx, a, "in_call")
        await uac.done(30)
        await uas.done(30)
        await wait_state(r, pfx, b, "idle")
        await wait_state(r, pfx, a, "idle")
        assert await states(r, pfx, b) == ["unavailable", "idle", "ringing", "in_call", "idle"]

        # DND and away are the PBX's presence state of the extension.
        async with pbx_ami(pbx) as ami:
            await ami.setvar(f"PRESENCE_STATE(CustomPresence:{a})", "dnd")
            await wait_state(r, pfx, a, "dnd")
            await ami.setvar(f"PRESENCE_STATE(CustomPresence:{a})", "away,,lunch")
            away = await wait_state(r, pfx, a, "away")
            assert away.message == "lunch"
            await ami.setvar(f"PRESENCE_STATE(CustomPresence:{a})", "available")
            await wait_state(r, pfx, a, "idle")

        # Unregistering makes it unavailable.
        await pbx.phone(b).register(expires=0)
        await wait_state(r, pfx, b, "unavailable")

        # Asterisk restarts: the service subscribes anew and follows changes again.
        pbx.restart()
        await pbx.phone(b).register()
        await wait_state(r, pfx, b, "idle", within=20)
        assert all(s.established for s in svc.watchers[0].subscriptions)


@contextlib.asynccontextmanager
async def pbx_ami(pbx: Pbx) -> AsyncIterator[Ami]:
    async with AMIClient(pbx.ast.ami_config()) as client:
        yield Ami(client)


@dataclass
class Ami:
    client: AMIClient

    async def setvar(self, name: str, value: str) -> None:
        """Raises AMIError unless Asterisk answers Success."""
        await self.client.send_action("Setvar", {"Variable": name, "Value": value}, timeout=5)


@pytest.mark.parametrize("transport", ["tcp", "tls"])
async def test_tcp_and_tls_with_one_subscription_per_extension(
    pbx: Pbx, redis_client: aioredis.Redis, redis_url: str, redis_prefix: str, transport: str
) -> None:
    """Over TCP and TLS (the PBX's certificate checked against the test CA), with one
    subscription per extension and package: asked for (TLS), or after the PBX refused a
    resource list that does not exist (TCP)."""
    a = pbx.phones[0]
    r, pfx = redis_client, redis_prefix
    port = pbx.ast.ports["SIP_TCP_PORT" if transport == "tcp" else "SIP_TLS_PORT"]
    s = settings(
        pbx, redis_url, pfx, transport=transport, port=int(port),
        lists={"dialog": ["no-such-list"]} if transport == "tcp" else {},
        ca_file=str(pbx.workdir / "ca.pem"),
    )  # fmt: skip
    async with service(s) as svc:
        await pbx.phone(a).register()
        await wait_state(r, pfx, a, "idle")
        async with pbx_ami(pbx) as ami:
            await ami.setvar(f"PRESENCE_STATE(CustomPresence:{a})", "dnd")
            await wait_state(r, pfx, a, "dnd")
            await ami.setvar(f"PRESENCE_STATE(CustomPresence:{a})", "available")
            await wait_state(r, pfx, a, "idle")
        subs = svc.watchers[0].subscriptions
        assert len(subs) == 6  # 3 extensions x 2 packages
        assert all(sub.established for sub in subs)


async def test_extensions_discovered_from_the_pbxs_hints_through_ami_ingest(
    pbx: Pbx, redis_client: aioredis.Redis, redis_url: str, redis_prefix: str
) -> None:
    """No extension listed: the service asks ami-ingest (ExtensionStateList over the actions
    stream) for the hints of its context and watches each of them."""
    r, pfx = redis_client, redis_prefix
    ingest = IngestSettings(
        redis_url=redis_url, key_prefix=pfx, instance="ingest-a", http=HttpSettings(port=-1),
        pbx={"lab": PbxSettings(
            port=pbx.ast.ami_port, username=AMI_USER, secret=Secret(AMI_SECRET), auth="md5",
        )},
    )  # fmt: skip
    s = settings(pbx, redis_url, pfx, extensions=[], discover_context="presence-hints", lists={})
    async with cbruntime.running(IngestService(ingest)), service(s) as svc:
        hinted = {"100", "101", "102"} | ({"200", "201"} if pbx.version == "20" else set())
        for ext in sorted(hinted):  # each discovered extension gets its first state
            await wait_view(r, pfx, ext, within=40)
        assert hinted <= svc.watchers[0].watched
        a = pbx.phones[0]
        await pbx.phone(a).register()
        await wait_state(r, pfx, a, "idle")
        async with pbx_ami(pbx) as ami:  # and follows its changes
            await ami.setvar(f"PRESENCE_STATE(CustomPresence:{a})", "dnd")
            await wait_state(r, pfx, a, "dnd")
            await ami.setvar(f"PRESENCE_STATE(CustomPresence:{a})", "available")
            await wait_state(r, pfx, a, "idle")
