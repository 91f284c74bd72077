"""presence settings: one frozen type, loaded once (TOML + ``CB_*`` variables)."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cbruntime import Secret, SettingsError, load_settings

__all__ = ["PbxPresence", "PresenceSettings", "load"]

Event = Literal["dialog", "presence"]


@dataclass(frozen=True, kw_only=True)
class PbxPresence:
    """How to watch one PBX's extensions over SIP."""

    host: str = "127.0.0.1"
    port: int = 5060
    transport: Literal["udp", "tcp", "tls"] = "udp"
    #: The SIP user the service authenticates as (a PJSIP endpoint with an auth section;
    #: its ``subscribe_context`` or ``context`` must hold the extensions' hints).
    username: str = "callbridge-presence"
    password: Secret | None = None
    #: The domain of the From/To URIs; the PBX's host when empty.
    domain: str = ""
    #: Extensions to watch (each needs a hint on the PBX).
    extensions: list[str] = field(default_factory=list)
    #: Or discover them: every extension with a hint in this dialplan context (asked from
    #: the PBX's ami-ingest with ExtensionStateList, again every ``discover_every_s``).
    discover_context: str = ""
    discover_every_s: float = 300.0
    #: ``dialog`` gives calls (ringing, talking, held); ``presence`` gives registration and
    #: the presence state (dnd, away). Both by default.
    events: list[Event] = field(default_factory=lambda: ["dialog", "presence"])
    #: Resource lists (RFC 4662) per event, e.g. ``{dialog = ["team-dialog"]}``: one
    #: subscription for all the extensions a list names. Asterisk cannot send a NOTIFY
    #: over 64 KB, so keep a list to about 50 extensions for ``presence`` (~1 KB each)
    #: and 150 for ``dialog``, and name several. When the PBX refuses a list, the
    #: extensions no other list covers get one subscription each (said once in the log).
    lists: dict[str, list[str]] = field(default_factory=dict)
    expires: int = 600
    #: The address our socket binds to and that the PBX sends NOTIFYs back to.
    local_host: str = "127.0.0.1"
    #: OPTIONS ping period: a PBX that stops answering and comes back (a restart) gets
    #: every subscription made anew.
    keepalive_s: float = 5.0
    #: Transaction timeout (no final answer to a SUBSCRIBE/OPTIONS within it = failure).
    timeout_s: float = 4.0
    #: TLS: verify the PBX's certificate against ``ca_file`` (or the system's CAs).
    tls_verify: bool = True
    ca_file: str = ""


@dataclass(frozen=True, kw_only=True)
class PresenceSettings:
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "cb:"
    instance: str = field(default_factory=socket.gethostname)
    #: How long presence changes stay on ``{prefix}{pbx}:presence``.
    retention_s: int = 86_400
    #: /metrics, /healthz, /readyz on 127.0.0.1; negative disables, 0 picks a free port.
    metrics_port: int = -1
    log_level: str = "INFO"
    log_json: bool = True
    pbx: dict[str, PbxPresence] = field(default_factory=dict)


def load(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    section: str | None = None,
) -> PresenceSettings:
    settings = load_settings(PresenceSettings, path, environ, section=section)
    if not settings.pbx:
        raise SettingsError("no PBX configured: add a [pbx.NAME] table")
    for name, p in settings.pbx.items():
        if not p.extensions and not p.discover_context:
            raise SettingsError(
                f"pbx.{name}: list the extensions to watch, or set discover_context to "
                "watch every hint of a dialplan context"
            )
        unknown = set(p.lists) - {"dialog", "presence"}
        if unknown:
            raise SettingsError(f"pbx.{name}.lists: unknown event {sorted(unknown)[0]!r}")
    return settings
