"""api-gateway settings: one frozen type, loaded once from TOML and/or ``CB_*`` env vars
(``CB_REDIS_URL``, ``CB_TENANTS__ACME__PBX``...), passed down — never built at import time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cbruntime import Secret, SettingsError, load_settings

__all__ = [
    "DEFAULT_DENY_PREFIXES",
    "CrmSettings",
    "FeedSettings",
    "GatewaySettings",
    "OriginateSettings",
    "RecordingSettings",
    "RouteSettings",
    "TenantSettings",
    "load",
]


@dataclass(frozen=True, kw_only=True)
class TenantSettings:
    #: The PBXs (names as in ``cb:{pbx}:…``) this tenant owns.
    pbx: list[str] = field(default_factory=list)
    #: Bitrix24 ``auth[application_token]`` of the installed app (OnAppInstall).
    bitrix24_application_token: Secret | None = None
    #: Bitrix24 USER_ID -> PBX extension (when the event carries no EXTENSION).
    bitrix24_users: dict[str, str] = field(default_factory=dict)
    #: amoCRM integration secret (verifies the widget's ``X-Auth-Token``, HS256).
    amocrm_secret: Secret | None = None
    #: amoCRM user id -> PBX extension.
    amocrm_users: dict[str, str] = field(default_factory=dict)
    #: The amoCRM account (``account_id`` claim) whose widget tokens this tenant accepts.
    #: One integration secret may serve several accounts: set it whenever amocrm_secret is.
    amocrm_account_id: str = ""


#: International premium-rate, satellite and shared-cost ranges (ITU-T E.164: Inmarsat 870,
#: UPT 878, global satellite 881, international networks 882/883, 888, international
#: premium-rate 979), and the Russian national premium-rate 809 range (+7 809).
DEFAULT_DENY_PREFIXES: tuple[str, ...] = (
    "870", "878", "881", "882", "883", "888", "979", "7809",
)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class OriginateSettings:
    context: str = "from-internal"
    channel_tech: str = "PJSIP"
    ring_timeout_s: int = 30
    #: How long the PBX (through ami-ingest) has to accept an action before 504.
    action_timeout_s: float = 5.0
    #: Toll-fraud guard: numbers whose E.164 form starts with one of these country/area
    #: prefixes (digits after '+') are refused. Numbers are normalised first (``region``),
    #: so ``00882…``, ``810 882…`` and ``+882…`` are the same number. The default denies
    #: international premium, satellite and shared-cost ranges and Russia's 809 premium
    #: range; set your own list (``[]`` allows everything) to change it.
    deny_prefixes: list[str] = field(default_factory=lambda: list(DEFAULT_DENY_PREFIXES))
    #: The region national numbers are read in (ISO 3166 code, e.g. ``RU``: ``8 916…``).
    region: str = "RU"
    extension_pattern: str = r"^[0-9]{2,8}$"
    min_digits: int = 3
    max_digits: int = 15


@dataclass(frozen=True, kw_only=True)
class RouteSettings:
    deadline_ms: int = 150
    #: Answered when no responsible manager is known in time (e.g. a queue extension).
    fallback: str = ""
    #: Source networks allowed without a key (the PBX), CIDR -> tenant.
    allow: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class RecordingSettings:
    #: Local directory (or mounted volume) holding MixMonitor files.
    root: str = ""
    #: Or an HTTP base URL on the PBX host serving them (Range is passed through).
    base_url: str = ""
    #: MixMonitor's directory on the PBX: absolute file names under it are looked up
    #: relative to ``root`` / ``base_url`` (e.g. ``/var/spool/asterisk/monitor``).
    pbx_dir: str = ""
    link_secret: Secret | None = None
    link_ttl_s: int = 3600


@dataclass(frozen=True, kw_only=True)
class FeedSettings:
    calls_stream: str = "cb:calls"
    crm_stream: str = "cb:crm:events"
    session_ttl_s: int = 12 * 3600
    #: How long an operator's one-time sign-in link stays valid.
    signin_ttl_s: int = 24 * 3600
    block_ms: int = 5000
    #: Redis connections for feeds: each connected feed client waits in its own XREAD BLOCK.
    #: Kept apart from the pool of API calls, so feeds can never starve routing or REST.
    max_connections: int = 5000
    #: Feeds one key or operator session may hold open at once (429 beyond).
    max_per_principal: int = 10


@dataclass(frozen=True, kw_only=True)
class CrmSettings:
    #: crm-sync's command stream: "create deal" puts a ``crm.create_deal`` command there.
    commands_stream: str = "cb:crm:commands"
    #: How long "create deal" waits for crm-sync to do it before answering 202 (queued).
    wait_s: float = 5.0
    #: The built-in CRM's SQLite file (crm-sync's ``builtin.path``): its entity links
    #: (``/crm/entities/{id}``) are served as read-only pages. Empty: not served.
    builtin_path: str = ""
    #: The tenant whose CRM this is (crm-sync's and the built-in one): only its keys and
    #: operators write deals or read entities. Empty: the only tenant, if there is one.
    tenant: str = ""


@dataclass(frozen=True, kw_only=True)
class GatewaySettings:
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "cb:"
    host: str = "127.0.0.1"
    port: int = 8080
    #: Base URL clients reach the gateway at (signed recording links point there).
    public_url: str = "http://127.0.0.1:8080"
    log_level: str = "INFO"
    log_json: bool = True
    #: Requests per minute per key when the key sets none.
    default_rate_limit: int = 600
    #: Browser origins allowed to call the API (CORS), e.g. the amoCRM account of the
    #: widget: ``["https://example.amocrm.ru"]``. Empty: same origin only.
    cors_origins: list[str] = field(default_factory=list)
    #: Origins allowed to embed the operator's and CRM pages in a frame (CSP
    #: ``frame-ancestors``), e.g. the Bitrix24 portal; ``cors_origins`` are allowed too.
    embed_origins: list[str] = field(default_factory=list)
    #: Largest request body accepted (bytes); larger ones get 413 before auth or reading.
    max_body_bytes: int = 1_048_576
    #: Proxies whose ``X-Forwarded-For``/``-Proto`` are believed (addresses or CIDRs, e.g.
    #: the TLS terminator's). Empty: the headers are ignored; the peer address is the client.
    trusted_proxies: list[str] = field(default_factory=list)
    tenants: dict[str, TenantSettings] = field(default_factory=dict)
    originate: OriginateSettings = field(default_factory=OriginateSettings)
    route: RouteSettings = field(default_factory=RouteSettings)
    recordings: RecordingSettings = field(default_factory=RecordingSettings)
    feeds: FeedSettings = field(default_factory=FeedSettings)
    crm: CrmSettings = field(default_factory=CrmSettings)

    def tenant_pbxs(self, tenant: str) -> list[str]:
        found = self.tenants.get(tenant)
        return list(found.pbx) if found else []

    def pbx_tenant(self, pbx: str) -> str | None:
        return next((name for name, t in self.tenants.items() if pbx in t.pbx), None)


def load(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    section: str | None = None,
) -> GatewaySettings:
    settings = load_settings(GatewaySettings, path, environ, section=section)
    if settings.recordings.root and settings.recordings.base_url:
        raise SettingsError("recordings: set root or base_url, not both")
    return settings
