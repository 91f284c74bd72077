"""ami-ingest settings: one frozen type, loaded once from TOML and/or ``CB_*`` env vars.

``CB_REDIS_URL``, ``CB_INSTANCE``, ``CB_PBX__MAIN__HOST``, ``CB_PBX__MAIN__SECRET``, … (see
docs/ami-ingest.md and deploy/config/ingest.example.toml).
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from aioami import AMIConfig
from aioami.client import tls_context
from cbruntime import Secret, load_settings

from .exceptions import IngestError

__all__ = ["HttpSettings", "IngestSettings", "PbxSettings", "ami_config", "load"]


@dataclass(frozen=True, kw_only=True)
class PbxSettings:
    """One PBX's AMI endpoint."""

    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "callbridge"
    secret: Secret = field(default_factory=lambda: Secret(""))
    auth: Literal["plain", "md5"] = "md5"
    tls: bool = False
    tls_ca: str | None = None
    #: Explicit opt-out of certificate checks (never the default).
    tls_verify: bool = True
    events: str = "on"
    ping_interval: float = 10.0
    action_timeout: float = 10.0
    #: Bytes the AMI client holds before it stops reading the socket.
    client_buffer_bytes: int = 16 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class HttpSettings:
    """The health/metrics endpoint. A negative port disables it; 0 picks a free port."""

    host: str = "127.0.0.1"
    port: int = 9101


@dataclass(frozen=True, kw_only=True)
class IngestSettings:
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "cb:"
    #: This replica's name: lease owner and action consumer. Unique per replica.
    instance: str = field(default_factory=socket.gethostname)
    retention_s: int = 86_400
    trim_every_s: float = 10.0
    lease_ttl_ms: int = 3000
    lease_renew_s: float = 1.0
    standby_poll_s: float = 0.5
    #: How long a lapsed lease stays reserved for its last owner before a standby may take it
    #: (an owner cut off by a Redis outage re-takes it, with its buffered frames).
    lease_handover_grace_ms: int = 1500
    #: Frames held while Redis is unreachable before the AMI client is no longer read.
    buffer_max_bytes: int = 64 * 1024 * 1024
    publish_batch: int = 1000
    http: HttpSettings = field(default_factory=HttpSettings)
    log_level: str = "INFO"
    log_json: bool = True
    pbx: dict[str, PbxSettings] = field(default_factory=dict)


def load(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    section: str | None = None,
) -> IngestSettings:
    """Load and check the settings; raises SettingsError or IngestError."""
    settings = load_settings(IngestSettings, path, environ, section=section)
    if not settings.pbx:
        raise IngestError("no PBX configured: add a [pbx.NAME] table or CB_PBX__NAME__HOST")
    if settings.lease_renew_s * 2 > settings.lease_ttl_ms / 1000:
        raise IngestError("lease_renew_s must be at most half of lease_ttl_ms")
    return settings


def ami_config(pbx: PbxSettings) -> AMIConfig:
    """The aioami configuration of one PBX."""
    tls = tls_context(cafile=pbx.tls_ca, verify=pbx.tls_verify) if pbx.tls else None
    return AMIConfig(
        host=pbx.host,
        port=pbx.port,
        username=pbx.username,
        secret=pbx.secret.reveal(),
        auth=pbx.auth,
        tls=tls,
        events=pbx.events,
        ping_interval=pbx.ping_interval,
        action_timeout=pbx.action_timeout,
        max_buffer_bytes=pbx.client_buffer_bytes,
    )
