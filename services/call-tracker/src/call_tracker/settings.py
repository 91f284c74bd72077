"""call-tracker settings: one frozen type, loaded once from TOML and/or ``CB_*`` env vars
(``CB_REDIS_URL``, ``CB_PBX__MAIN__TRUNKS``...), passed down."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cbruntime import SettingsError, load_settings

from .reducer.topology import Topology

__all__ = ["PbxTopology", "TrackerSettings", "load"]


@dataclass(frozen=True, kw_only=True)
class PbxTopology:
    trunks: list[str] = field(default_factory=lambda: ["trunk"])
    inbound_contexts: list[str] = field(default_factory=lambda: ["from-trunk"])
    tenant: str = ""


@dataclass(frozen=True, kw_only=True)
class TrackerSettings:
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "cb:"
    #: The calls stream. With Redis Cluster give it the PBX hash tag's slot or run one
    #: Redis per PBX: events, checkpoint and state are committed in one MULTI/EXEC.
    calls_stream: str = "cb:calls"
    instance: str = field(default_factory=socket.gethostname)
    batch: int = 2000
    block_ms: int = 1000
    lease_ttl_ms: int = 3000
    lease_renew_s: float = 1.0
    standby_poll_s: float = 0.5
    retention_s: int = 90 * 86_400
    #: How long call events stay on the calls stream (replay, feed resume); older are trimmed.
    calls_retention_s: int = 7 * 86_400
    #: /metrics, /healthz on 127.0.0.1; negative disables, 0 picks a free port.
    metrics_port: int = -1
    log_level: str = "INFO"
    log_json: bool = True
    pbx: dict[str, PbxTopology] = field(default_factory=dict)

    def topologies(self) -> list[Topology]:
        return [
            Topology(
                pbx=name,
                trunks=frozenset(p.trunks),
                inbound_contexts=frozenset(p.inbound_contexts),
                tenant=p.tenant,
            )
            for name, p in self.pbx.items()
        ]


def load(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    section: str | None = None,
) -> TrackerSettings:
    settings = load_settings(TrackerSettings, path, environ, section=section)
    if not settings.pbx:
        raise SettingsError("no PBX configured: add a [pbx.NAME] table or CB_PBX__NAME__TRUNKS")
    return settings
