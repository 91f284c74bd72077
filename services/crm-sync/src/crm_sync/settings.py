"""crm-sync settings: one frozen type, loaded once from TOML and/or ``CB_*`` env vars
(``CB_REDIS_URL``, ``CB_ADAPTER``, ``CB_RECORDINGS__SECRET``…), passed down."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cbcrm.effective import EffectiveRule
from cbcrm.rules import RulesConfig
from cbruntime import Secret, load_settings

from .remote_settings import AmoSyncSettings, B24SyncSettings, MegaplanSyncSettings

__all__ = [
    "BuiltinSettings",
    "CrmSyncSettings",
    "ExecutorSettings",
    "LookupSettings",
    "RecordingSettings",
    "WebhookSettings",
    "load",
]


@dataclass(frozen=True, kw_only=True)
class BuiltinSettings:
    path: str = "callbridge-crm.sqlite3"  # ":memory:" for a throwaway CRM
    seed: bool = True  # demo data into an empty CRM


@dataclass(frozen=True, kw_only=True)
class WebhookSettings:
    urls: list[str] = field(default_factory=list)
    secret: Secret | None = None
    attempts: int = 5
    timeout_s: float = 5.0


@dataclass(frozen=True, kw_only=True)
class LookupSettings:
    ttl_s: int = 300
    negative_ttl_s: int = 30
    lock_ms: int = 3000
    users_ttl_s: int = 300


@dataclass(frozen=True, kw_only=True)
class ExecutorSettings:
    workers: int = 16  # commands run concurrently per executor
    card_workers: int = 64  # the same for the cards lane (cheap, coalesced, urgent)
    batch: int = 64
    max_attempts: int = 20  # transient failures before the dead-letter stream (~1 h)
    backoff_ms: int = 1000  # first retry delay; doubles per attempt
    backoff_max_ms: int = 300_000
    retry_every_s: float = 0.5  # how often due retries and orphans are looked for
    orphan_idle_ms: int = 60_000  # claim entries a dead executor left pending this long
    card_stale_s: float = 60.0  # a card show/hide older than this is dropped, not sent


@dataclass(frozen=True, kw_only=True)
class RecordingSettings:
    base_url: str = "http://127.0.0.1:8080"
    secret: Secret | None = None  # no secret: calls are logged without recording links
    ttl_s: int = 30 * 86_400


@dataclass(frozen=True, kw_only=True)
class CrmSyncSettings:
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "cb:"
    instance: str = field(default_factory=socket.gethostname)
    calls_stream: str = "cb:calls"
    commands_stream: str = "cb:crm:commands"
    events_stream: str = "cb:crm:events"
    dead_stream: str = "cb:dead"
    planner_group: str = "crm-sync"
    executor_group: str = "crm-executor"
    run_planner: bool = True  # as a standby unless this replica holds the planner lease
    planner_lease_ttl_ms: int = 3000  # {prefix}crm:lease:planner; a dead planner's lapses
    planner_lease_renew_s: float = 1.0
    planner_standby_poll_s: float = 0.5
    route_ttl_s: int = 3600  # {prefix}route:{tenant}:{digits} for the gateway; 0 = not kept
    run_executor: bool = True
    adapter: str = "builtin"  # builtin | webhook | amocrm | bitrix24 | megaplan
    region: str = "RU"
    block_ms: int = 1000
    batch: int = 100
    commands_retention_s: int = 7 * 86_400
    events_retention_s: int = 86_400
    builtin: BuiltinSettings = field(default_factory=BuiltinSettings)
    webhook: WebhookSettings = field(default_factory=WebhookSettings)
    amocrm: AmoSyncSettings = field(default_factory=AmoSyncSettings)
    bitrix24: B24SyncSettings = field(default_factory=B24SyncSettings)
    megaplan: MegaplanSyncSettings = field(default_factory=MegaplanSyncSettings)
    lookup: LookupSettings = field(default_factory=LookupSettings)
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)
    recordings: RecordingSettings = field(default_factory=RecordingSettings)
    rules: RulesConfig = field(default_factory=RulesConfig)
    effective: EffectiveRule = field(default_factory=EffectiveRule)
    metrics_port: int = -1
    log_level: str = "INFO"
    log_json: bool = True


def load(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    section: str | None = None,
) -> CrmSyncSettings:
    return load_settings(CrmSyncSettings, path, environ, section=section)
