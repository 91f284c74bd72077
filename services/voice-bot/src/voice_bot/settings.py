"""voice-bot settings: one frozen type, loaded once from TOML and/or ``CB_*`` env vars
(``CB_PORT``, ``CB_SOUNDS_DIR``, ``CB_YANDEX__API_KEY``…), passed down."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cbruntime import Secret, load_settings

__all__ = ["BuiltinCrmSettings", "VoiceBotSettings", "YandexSettings", "load"]

_HERE = Path(__file__).resolve().parents[2]  # services/voice-bot


@dataclass(frozen=True, kw_only=True)
class YandexSettings:
    api_key: Secret | None = None  # service account: Authorization: Api-Key
    iam_token: Secret | None = None  # Authorization: Bearer (12 h; refresh outside)
    folder_id: str = ""  # with a user's IAM token only
    tts_url: str = "https://tts.api.cloud.yandex.net/speech/v1/tts:synthesize"
    stt_url: str = "https://stt.api.cloud.yandex.net/speech/v1/stt:recognize"
    lang: str = "ru-RU"
    topic: str = "general"
    stt_api: Literal["v1", "v3"] = "v3"  # v3: gRPC streaming through the official SDK
    stt_v3_target: str = "stt.api.cloud.yandex.net:443"


@dataclass(frozen=True, kw_only=True)
class BuiltinCrmSettings:
    path: str = "callbridge-crm.sqlite3"
    seed: bool = True


@dataclass(frozen=True, kw_only=True)
class VoiceBotSettings:
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "cb:"
    host: str = "127.0.0.1"  # FastAGI has no authentication: bind wider only with allow_from
    port: int = 4573
    allow_from: tuple[str, ...] = ("127.0.0.1", "::1")  # the PBXs' addresses / CIDRs
    read_timeout_s: float = 10.0
    env_timeout_s: float = 5.0
    drain_s: float = 30.0
    max_calls: int = 200
    max_pending: int = 16  # connections still sending their environment
    max_line_bytes: int = 8192
    max_env_lines: int = 200
    max_env_bytes: int = 32_768
    # how the call's audio travels: "audiosocket" (streamed over TCP: no shared disk, barge-in,
    # end-of-speech detection) or "files" (STREAM FILE / RECORD FILE on a directory Asterisk
    # shares with the bot: only where the bot runs on Asterisk's host)
    audio: Literal["audiosocket", "files"] = "audiosocket"
    audiosocket_host: str = "127.0.0.1"  # where the bot listens for Asterisk's AudioSocket
    audiosocket_port: int = 4574
    # host:port Asterisk connects to; "" = this bot's address on the FastAGI connection (the
    # pod's own IP in Kubernetes, so a call's audio reaches the replica that runs its dialog)
    audiosocket_advertise: str = ""
    audiosocket_connect_s: float = 5.0  # Asterisk must connect within this, else the call fails
    language: str = ""  # "ru" for a Russian deployment: dialog texts and voices in it
    dialogs_dir: Path = _HERE / "dialogs"
    default_dialog: str = "sample"
    sounds_dir: Path = Path("/var/lib/callbridge/voice/sounds")
    sounds_dir_pbx: str = ""  # where Asterisk sees sounds_dir ("" = same path)
    # files mode: prompts fetched by Asterisk from the bot's HTTP endpoint (metrics_host/port,
    # path /prompts) instead of a shared sounds directory, e.g. "http://voicebot:9104/prompts"
    prompts_url: str = ""
    recordings_dir: Path = Path("/var/lib/callbridge/voice/recordings")
    recordings_dir_pbx: str = ""
    keep_recordings: bool = False
    tts: Literal["local", "yandex"] = "local"
    stt: Literal["local", "yandex"] = "local"
    tts_cache_ttl_s: int = 30 * 86_400
    yandex: YandexSettings = field(default_factory=YandexSettings)
    crm: Literal["builtin", "none"] = "builtin"
    builtin: BuiltinCrmSettings = field(default_factory=BuiltinCrmSettings)
    region: str = "RU"
    transcripts_stream: str = "cb:voice:transcripts"
    transcripts_retention_s: int = 7 * 86_400
    log_transcripts_to_crm: bool = True
    metrics_host: str = "127.0.0.1"  # /healthz, /readyz, /metrics
    metrics_port: int = -1
    log_level: str = "INFO"
    log_json: bool = True


def load(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> VoiceBotSettings:
    return load_settings(VoiceBotSettings, path, environ)
