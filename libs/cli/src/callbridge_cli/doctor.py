"""``callbridge doctor --config FILE``: check a deployment's Redis, PBXs, CRM and public URL.

Every check is read-only on the parts it checks, except two harmless AMI probes that make the
PBX emit one event of a class: ``SetVar CALLBRIDGE_PROBE`` (a global variable, ``VarSet`` in
class ``dialplan``) and ``DEVICE_STATE(Custom:CALLBRIDGE_PROBE)`` set to INUSE then back to
NOT_INUSE (``DeviceStateChange`` in class ``call``). ``FullyBooted`` at login shows ``system``.
``agent`` has no side-effect-free probe: it is read from ``manager show user`` when the AMI
user may run CLI commands. docs/pbx-setup.md explains each finding's fix.

The file is a suite config (``[ingest]``, ``[tracker]``, ``[crm_sync]``, ``[gateway]``) or one
service's own file; each part present is checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import ssl
import tomllib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import click
import httpx
import redis.asyncio as aioredis

from aioami import ActionError, AMIClient, AMIError, AuthenticationError, FrameBatch, event_name
from ami_ingest import IngestError, PbxSettings
from ami_ingest import load as load_ingest
from ami_ingest.settings import ami_config
from api_gateway.settings import GatewaySettings
from api_gateway.settings import load as load_gateway
from cbcrm.exceptions import CrmAuthError, CrmAuthPaused, CrmError
from cbruntime import SettingsError
from cbstreams import connect
from crm_sync.adapters import open_adapter
from crm_sync.auth import AuthBreaker
from crm_sync.settings import CrmSyncSettings
from crm_sync.settings import load as load_crm_sync

__all__ = [
    "COMMANDS",
    "NEEDED_READ",
    "Finding",
    "Targets",
    "check_crm",
    "check_gateway",
    "check_pbx",
    "check_redis",
    "load_targets",
    "run_checks",
]

Status = Literal["ok", "warn", "fail"]

#: AMI read classes the suite needs and what each carries (docs/pbx-setup.md).
NEEDED_READ: dict[str, str] = {
    "system": "FullyBooted",
    "call": "channels, dials, bridges, hangups, transfers, holds, parking, pickups",
    "agent": "queue callers and agents (QueueCallerJoin, AgentCalled, AgentConnect...)",
    "dialplan": "the recording file (VarSet MIXMONITOR_FILENAME) and IVR/voicemail/bot/"
    "conference outcomes (Newexten)",
}
#: AMI write classes: Originate (click-to-call), Redirect/BlindTransfer, CoreShowChannels.
NEEDED_WRITE: dict[str, str] = {
    "call": "Redirect, BlindTransfer, Hangup and the doctor's SetVar probes",
    "originate": "Originate (click-to-call)",
    "system": "CoreShowChannels (the resync after a reconnect; 'reporting' also does)",
}
PROBE_VAR = "CALLBRIDGE_PROBE"
PROBE_DEVICE = "Custom:CALLBRIDGE_PROBE"
MIN_REDIS = (6, 2)
#: CRMs whose adapters keep OAuth tokens, rate limits and idempotency records in Redis.
REMOTE_CRMS = frozenset({"amocrm", "bitrix24", "megaplan"})


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's result: ``fix`` says what to change when it is not ok."""

    part: str  # "redis", "pbx main", "crm megaplan", "gateway"
    check: str
    status: Status
    detail: str
    fix: str = ""


@dataclass(frozen=True, kw_only=True)
class Targets:
    """What a config file asks the doctor to check."""

    redis_urls: list[str] = field(default_factory=list)
    pbx: dict[str, PbxSettings] = field(default_factory=dict)
    crm: CrmSyncSettings | None = None
    gateway: GatewaySettings | None = None


# -- the config ------------------------------------------------------------------------------


def load_targets(path: str | Path, environ: Mapping[str, str] | None = None) -> Targets:
    """The parts of a suite file or of one service's file; raises :class:`SettingsError`."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{path}: {exc}") from None
    suite = any(isinstance(data.get(s), dict) for s in ("ingest", "tracker", "crm_sync", "gateway"))

    def has(section: str, single: bool) -> str | Literal[False] | None:
        if suite:
            return section if isinstance(data.get(section), dict) else False
        return None if single else False

    raw_pbx = data.get("pbx")
    pbx_tables: dict[str, Any] = raw_pbx if isinstance(raw_pbx, dict) else {}
    is_ingest = any(
        isinstance(p, dict) and ("host" in p or "username" in p) for p in pbx_tables.values()
    )
    is_crm = "adapter" in data or any(
        k in data for k in ("builtin", "amocrm", "bitrix24", "megaplan", "webhook")
    )
    is_gateway = "public_url" in data or "tenants" in data
    redis_urls: list[str] = []
    pbx: dict[str, PbxSettings] = {}
    crm = gateway = None
    if (section := has("ingest", is_ingest)) is not False:
        try:
            ingest = load_ingest(path, environ, section=section)
        except IngestError as exc:
            raise SettingsError(f"{path}: [ingest]: {exc}") from None
        pbx, redis_urls = dict(ingest.pbx), [ingest.redis_url]
    if (section := has("crm_sync", is_crm)) is not False:
        crm = load_crm_sync(path, environ, section=section)
        redis_urls.append(crm.redis_url)
    if (section := has("gateway", is_gateway)) is not False:
        gateway = load_gateway(path, environ, section=section)
        redis_urls.append(gateway.redis_url)
    if not redis_urls and isinstance(data.get("redis_url"), str):
        redis_urls.append(data["redis_url"])
    return Targets(redis_urls=list(dict.fromkeys(redis_urls)), pbx=pbx, crm=crm, gateway=gateway)


# -- Redis -----------------------------------------------------------------------------------


async def _config_get(client: aioredis.Redis, name: str) -> str | None:
    """One CONFIG GET value, None when CONFIG is disabled (managed Redis)."""
    try:
        got = await client.config_get(name)
    except aioredis.ResponseError:
        return None
    value = got.get(name)
    return None if value is None else str(value)


async def check_redis(url: str) -> list[Finding]:
    part = "redis"
    client = connect(url)
    try:
        try:
            async with asyncio.timeout(5):
                await client.ping()
                info: dict[str, Any] = await client.info()
        except (aioredis.RedisError, OSError, TimeoutError) as exc:
            return [
                Finding(
                    part,
                    "reachable",
                    "fail",
                    f"no answer from Redis: {exc}",
                    "start Redis or fix redis_url (host, port, password, TLS)",
                )
            ]
        out = [Finding(part, "reachable", "ok", "PING answered")]
        version = str(info.get("redis_version", "0"))
        parts = tuple(int(x) for x in re.findall(r"\d+", version)[:2])
        out.append(
            Finding(part, "version", "ok", f"Redis {version}")
            if parts >= MIN_REDIS
            else Finding(
                part,
                "version",
                "fail",
                f"Redis {version} is too old",
                "Redis 6.2 or newer (7.x recommended): streams use XAUTOCLAIM",
            )
        )
        out.append(await _persistence(client, info))
        cluster = str(info.get("cluster_enabled", "0")) == "1"
        out.append(
            Finding(
                part,
                "cluster mode",
                "ok",
                "Redis Cluster" if cluster else "standalone (no cluster)",
            )
        )
        policy = str(info.get("maxmemory_policy") or await _config_get(client, "maxmemory-policy"))
        out.append(
            Finding(part, "maxmemory-policy", "ok", "noeviction")
            if policy == "noeviction"
            else Finding(
                part,
                "maxmemory-policy",
                "fail",
                f"{policy}: Redis may evict stream and call keys under memory pressure",
                "set maxmemory-policy noeviction",
            )
        )
        return out
    finally:
        await client.aclose()


async def _persistence(client: aioredis.Redis, info: Mapping[str, Any]) -> Finding:
    aof = str(info.get("aof_enabled", "0")) == "1"
    save = await _config_get(client, "save")
    if aof:
        return Finding("redis", "persistence", "ok", "AOF on")
    if save is None:
        return Finding(
            "redis",
            "persistence",
            "warn",
            "AOF off; RDB schedule unknown (CONFIG disabled)",
            "set appendonly yes (appendfsync everysec)",
        )
    if save.strip():
        return Finding(
            "redis",
            "persistence",
            "warn",
            f"RDB only (save {save}): a crash loses writes since the last snapshot",
            "set appendonly yes (appendfsync everysec)",
        )
    return Finding(
        "redis",
        "persistence",
        "fail",
        'none (appendonly no, save ""): a restart loses every stream and call',
        "set appendonly yes (appendfsync everysec)",
    )


# -- a PBX -----------------------------------------------------------------------------------


def _classes(text: str) -> set[str]:
    return {c.strip().lower() for c in text.split(",") if c.strip()}


def parse_manager_user(output: str) -> tuple[set[str], set[str]] | None:
    """The read and write classes in ``manager show user NAME`` output, or None."""
    read = re.search(r"read perm:\s*(.*)", output)
    write = re.search(r"write perm:\s*(.*)", output)
    if read is None or write is None:
        return None
    return _classes(read.group(1)), _classes(write.group(1))


@contextlib.asynccontextmanager
async def _events(client: AMIClient) -> AsyncIterator[list[bytes]]:
    """Every event frame the session receives (from the login on) while the block runs."""
    seen: list[bytes] = []

    async def collect() -> None:
        async for batch in client.raw_batches():
            if isinstance(batch, FrameBatch):
                seen.extend(batch.frames)

    task = asyncio.create_task(collect())
    try:
        yield seen
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _arrives(seen: list[bytes], name: bytes, marker: bytes, limit: float) -> bool:
    """Whether an event ``name`` containing ``marker`` is (or within ``limit`` s gets) seen."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while True:
        if any(event_name(f) == name and marker in f for f in seen):
            return True
        if loop.time() >= end:
            return False
        await asyncio.sleep(0.05)


async def check_pbx(name: str, pbx: PbxSettings, *, wait_s: float = 2.0) -> list[Finding]:
    part = f"pbx {name}"
    where = f"{pbx.host}:{pbx.port}"
    try:
        async with asyncio.timeout(5):
            _, writer = await asyncio.open_connection(pbx.host, pbx.port)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    except (OSError, TimeoutError) as exc:
        return [
            Finding(
                part,
                "reachable",
                "fail",
                f"cannot connect to {where}: {exc or 'timeout'}",
                "check host/port here and [general] bindaddr/port/enabled in "
                "manager.conf; open the port in the firewall",
            )
        ]
    out = [Finding(part, "reachable", "ok", f"TCP {where}")]
    if not pbx.tls and pbx.host not in ("127.0.0.1", "::1", "localhost"):
        out.append(
            Finding(
                part,
                "tls",
                "warn",
                "plain AMI over the network: the secret and every call cross it readable",
                "enable [general] tlsenable in manager.conf and set tls = true (docs/pbx-setup.md)",
            )
        )
    config = replace(ami_config(pbx), snapshot_action=None, events="on")
    client = AMIClient(config)
    try:
        try:
            await client.start()
        except AuthenticationError:
            out.append(
                Finding(
                    part,
                    "login",
                    "fail",
                    f"user {pbx.username!r} was refused",
                    "check username/secret here and the [user] section, its "
                    "permit/deny, in manager.conf; then 'manager reload' (with "
                    "allowmultiplelogin = no, a running ami-ingest holds the only session)",
                )
            )
            return out
        except ssl.SSLError as exc:
            out.append(
                Finding(
                    part,
                    "tls",
                    "fail",
                    f"TLS handshake failed: {exc.reason}",
                    "check tls_ca and the PBX's certificate (tlscertfile)",
                )
            )
            return out
        except (AMIError, OSError) as exc:
            out.append(
                Finding(
                    part,
                    "login",
                    "fail",
                    f"{type(exc).__name__}: {exc}",
                    "is this port AMI (manager.conf [general] port)?",
                )
            )
            return out
        if pbx.tls:
            out.append(Finding(part, "tls", "ok", "TLS session established"))
        out.append(Finding(part, "login", "ok", f"logged in as {pbx.username!r}"))
        async with _events(client) as seen:
            out += await _pbx_session(part, client, pbx, seen, wait_s)
    finally:
        await client.close()
    return out


async def _pbx_session(
    part: str, client: AMIClient, pbx: PbxSettings, seen: list[bytes], wait_s: float
) -> list[Finding]:
    out: list[Finding] = []
    try:
        listed = await client.send_list_action("CoreShowChannels")
        out.append(Finding(part, "CoreShowChannels", "ok", f"{len(listed.events) - 1} channel(s)"))
    except ActionError as exc:
        out.append(
            Finding(
                part,
                "CoreShowChannels",
                "fail",
                str(exc),
                "add system (or reporting) to the user's write = classes",
            )
        )
    perms: tuple[set[str], set[str]] | None = None
    try:
        perms = parse_manager_user(await client.command(f"manager show user {pbx.username}"))
    except ActionError:
        out.append(
            Finding(
                part,
                "user classes",
                "warn",
                "cannot read the user's classes (no write = command): 'agent' is not verified",
                f"check read/write of [{pbx.username}] by hand, or allow command "
                "while running the doctor",
            )
        )
    if perms is not None:
        out += _perm_findings(part, *perms)
    out += await _probes(part, client, seen, wait_s)
    if pbx.events not in ("on", "all"):
        out.append(
            Finding(
                part,
                "events",
                "warn",
                f"ingest logs in with Events: {pbx.events}",
                'set events = "on" for the PBX (the tracker needs every class above)',
            )
        )
    return out


def _perm_findings(part: str, read: set[str], write: set[str]) -> list[Finding]:
    out: list[Finding] = []
    missing_r = [c for c in NEEDED_READ if c not in read and "all" not in read]
    missing_w = [c for c in NEEDED_WRITE if c not in write and "all" not in write]
    if "system" in missing_w and "reporting" in write:
        missing_w.remove("system")
    for c in missing_r:
        out.append(
            Finding(
                part,
                f"read {c}",
                "fail",
                f"read = lacks {c}: no {NEEDED_READ[c]}",
                f"add {c} to read = (docs/pbx-setup.md), then 'manager reload'",
            )
        )
    for c in missing_w:
        out.append(
            Finding(
                part,
                f"write {c}",
                "fail",
                f"write = lacks {c}: {NEEDED_WRITE[c]} denied",
                f"add {c} to write = , then 'manager reload'",
            )
        )
    if not missing_r and not missing_w:
        out.append(
            Finding(
                part,
                "user classes",
                "ok",
                f"read {','.join(sorted(read))}; write {','.join(sorted(write))}",
            )
        )
    return out


async def _set(client: AMIClient, variable: str, value: str) -> str | None:
    """SetVar without a channel; the error text if denied."""
    try:
        await client.send_action("SetVar", {"Variable": variable, "Value": value})
    except ActionError as exc:
        return str(exc)
    return None


async def _probes(part: str, client: AMIClient, seen: list[bytes], wait_s: float) -> list[Finding]:
    out: list[Finding] = []
    if await _arrives(seen, b"FullyBooted", b"", wait_s):
        out.append(Finding(part, "events system", "ok", "FullyBooted arrived"))
    else:
        out.append(
            Finding(
                part,
                "events system",
                "fail",
                "no FullyBooted after login",
                "add system to read = ; let 'Event: FullyBooted' through eventfilter",
            )
        )
    token = secrets.token_hex(6)
    denied = await _set(client, PROBE_VAR, token)
    if denied is not None:
        return [
            *out,
            Finding(
                part,
                "events dialplan/call",
                "fail",
                f"probe not sent: {denied}",
                "add call to write = (SetVar)",
            ),
        ]
    if await _arrives(seen, b"VarSet", token.encode(), wait_s):
        out.append(
            Finding(
                part,
                "events dialplan",
                "ok",
                "VarSet arrived (recording names, IVR/voicemail outcomes)",
            )
        )
    else:
        out.append(
            Finding(
                part,
                "events dialplan",
                "fail",
                "a VarSet never arrived: recording "
                "files (VarSet MIXMONITOR_FILENAME) and IVR/voicemail/bot outcomes "
                "(Newexten) are lost",
                "add dialplan to read = ; keep the VarSet and Newexten eventfilter "
                "lines of docs/pbx-setup.md",
            )
        )
    await _set(client, PROBE_VAR, "")
    device = f"DEVICE_STATE({PROBE_DEVICE})"
    await _set(client, device, "INUSE")
    try:
        arrived = await _arrives(
            seen, b"DeviceStateChange", f"{PROBE_DEVICE}\r\nState: INUSE".encode(), wait_s
        )
    finally:
        await _set(client, device, "NOT_INUSE")
    if arrived:
        out.append(Finding(part, "events call", "ok", "DeviceStateChange arrived"))
    else:
        out.append(
            Finding(
                part,
                "events call",
                "fail",
                "a DeviceStateChange never arrived: calls cannot be tracked",
                "add call to read = ; keep the eventfilter lines of "
                "docs/pbx-setup.md (they let the doctor's probes through)",
            )
        )
    return out


# -- the CRM and the gateway ---------------------------------------------------------------------


async def check_crm(settings: CrmSyncSettings, *, timeout_s: float = 15.0) -> list[Finding]:
    part = f"crm {settings.adapter}"
    db = settings.builtin.path
    builtin = settings.adapter == "builtin" and db != ":memory:"
    if builtin and not await asyncio.to_thread(Path(db).exists):
        return [
            Finding(
                part,
                "database",
                "warn",
                f"{db} does not exist yet: crm-sync creates it "
                "on its first start (no users, so no user↔extension map, until then)",
                "start crm-sync once, or fix [crm_sync.builtin] path",
            )
        ]
    redis = connect(settings.redis_url)
    try:
        try:
            adapter = await open_adapter(settings, redis)
        except SettingsError as exc:
            return [Finding(part, "settings", "fail", str(exc), "complete [crm_sync] settings")]
        # The adapter itself, not crm-sync's circuit breaker around it: the doctor only reads,
        # and must neither open the breaker nor be refused by one already open.
        inner = adapter.inner if isinstance(adapter, AuthBreaker) else adapter
        paused: bytes | None = None
        if isinstance(adapter, AuthBreaker):
            paused = await redis.get(adapter.keys.dead)  # type: ignore[assignment]
        try:
            async with asyncio.timeout(timeout_s):
                users = await inner.users()
        except (CrmAuthError, CrmAuthPaused) as exc:
            return [
                Finding(
                    part,
                    "credentials",
                    "fail",
                    f"rejected: {exc}",
                    f"renew the {settings.adapter} credentials (token, password, "
                    "OAuth app) and its scopes, then `callbridge crm-sync auth`; "
                    "docs/crm-adapters.md",
                )
            ]
        except (CrmError, OSError, TimeoutError, aioredis.RedisError) as exc:
            return [
                Finding(
                    part,
                    "credentials",
                    "fail",
                    f"{type(exc).__name__}: {exc}",
                    "check the CRM's base URL and that it answers",
                )
            ]
        finally:
            await adapter.aclose()
    finally:
        await redis.aclose()
    out = [Finding(part, "credentials", "ok", f"accepted ({len(users)} user(s) read)")]
    if paused is not None:
        out.append(
            Finding(
                part,
                "circuit",
                "fail",
                "crm-sync stopped sending to the CRM after it refused the credentials "
                f"({paused.decode(errors='replace')[:120]}); the credentials work now",
                f"resume with `callbridge crm-sync auth {settings.adapter}` "
                "(docs/crm-sync.md, Re-authorisation)",
            )
        )
    if settings.adapter == "webhook":
        return out
    mapped = [u for u in users if u.extension]
    if mapped:
        out.append(
            Finding(part, "user↔extension", "ok", f"{len(mapped)} user(s) with an extension")
        )
    else:
        out.append(
            Finding(
                part,
                "user↔extension",
                "fail",
                "no CRM user has a PBX extension: cards and responsible users cannot be matched",
                f"map users to extensions ([crm_sync.{settings.adapter}] extensions "
                "or the CRM's own field)",
            )
        )
    return out


async def check_gateway(settings: GatewaySettings) -> list[Finding]:
    if not settings.public_url:
        return [
            Finding(
                "gateway",
                "public URL",
                "fail",
                "[gateway] public_url is empty",
                "set it to the address operators and CRMs reach",
            )
        ]
    url = settings.public_url.rstrip("/") + "/healthz"
    try:
        async with httpx.AsyncClient(timeout=5, follow_redirects=True) as http:
            reply = await http.get(url)
    except httpx.HTTPError as exc:
        return [
            Finding(
                "gateway",
                "public URL",
                "fail",
                f"{url}: {type(exc).__name__}",
                "start the gateway; make [gateway] public_url the address operators "
                "and CRMs reach (proxy, DNS, TLS)",
            )
        ]
    if reply.status_code != 200:
        return [
            Finding(
                "gateway",
                "public URL",
                "fail",
                f"{url}: HTTP {reply.status_code}",
                "the proxy in front of the gateway must pass /healthz through",
            )
        ]
    return [Finding("gateway", "public URL", "ok", f"{url} answers")]


async def run_checks(targets: Targets) -> list[Finding]:
    out: list[Finding] = []
    down: set[str] = set()
    for url in targets.redis_urls:
        found = await check_redis(url)
        if found[0].status == "fail":
            down.add(url)
        out += found
    for name, pbx in targets.pbx.items():
        out += await check_pbx(name, pbx)
    crm = targets.crm
    if crm is not None and crm.adapter in REMOTE_CRMS and crm.redis_url in down:
        out.append(
            Finding(
                f"crm {crm.adapter}",
                "credentials",
                "warn",
                "not checked: the adapters keep tokens and rate limits in Redis, "
                "which is unreachable",
                "fix Redis first",
            )
        )
    elif crm is not None:
        out += await check_crm(crm)
    if targets.gateway is not None:
        out += await check_gateway(targets.gateway)
    return out


# -- the command -----------------------------------------------------------------------------

_MARK: dict[Status, str] = {"ok": "ok", "warn": "WARN", "fail": "FAIL"}


def render(findings: list[Finding]) -> str:
    """A plain-text table: part, check, status, detail; fixes below each problem."""
    rows = [(f.part, f.check, _MARK[f.status], f.detail) for f in findings]
    w = [
        max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(("part", "check", "status"))
    ]
    lines = [f"{'part':<{w[0]}}  {'check':<{w[1]}}  {'status':<{w[2]}}  detail"]
    for f, r in zip(findings, rows, strict=True):
        lines.append(f"{r[0]:<{w[0]}}  {r[1]:<{w[1]}}  {r[2]:<{w[2]}}  {r[3]}")
        if f.status != "ok" and f.fix:
            lines.append(f"{'':<{w[0] + w[1] + w[2] + 6}}fix: {f.fix}")
    return "\n".join(lines)


@click.command("doctor")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A suite config (callbridge.example.toml) or one service's file.",
)
def doctor(config_path: Path) -> None:
    """Check Redis, each PBX's AMI user, the CRM and the public URL; print what is wrong and
    how to fix it. Exit 1 when a check fails (warnings do not fail)."""
    try:
        targets = load_targets(config_path)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    findings = asyncio.run(run_checks(targets))
    if not findings:
        raise click.ClickException(
            f"{config_path}: nothing to check (no redis_url, PBX, CRM or gateway)"
        )
    click.echo(render(findings))
    failed = sum(f.status == "fail" for f in findings)
    warned = sum(f.status == "warn" for f in findings)
    click.echo(f"\n{failed} failed, {warned} warning(s), {len(findings)} checks")
    if failed:
        raise SystemExit(1)


COMMANDS = [doctor]
