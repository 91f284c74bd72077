"""Settings load from TOML and CB_* env, typed, with masked secrets."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cbruntime import Secret, SettingsError, load_settings


@dataclass(frozen=True, kw_only=True)
class Peer:
    host: str = "127.0.0.1"
    port: int = 5038
    secret: Secret = field(default_factory=lambda: Secret(""))


@dataclass(frozen=True, kw_only=True)
class Conf:
    redis_url: str = "redis://127.0.0.1:6379/0"
    peers: dict[str, Peer] = field(default_factory=dict)


def test_env_overrides_the_file_and_strings_become_typed_values(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('redis_url = "redis://a"\n[peers.main]\nport = 1\nsecret = "s3cr3t"\n')
    env = {"CB_PEERS__MAIN__PORT": "6000", "CB_PEERS__TWO__HOST": "10.0.0.2", "OTHER": "x"}
    conf = load_settings(Conf, path, env)
    assert conf.redis_url == "redis://a"
    assert conf.peers["main"].port == 6000
    assert conf.peers["two"].host == "10.0.0.2"
    assert conf.peers["main"].secret.reveal() == "s3cr3t"


def test_secrets_never_show_in_repr(tmp_path: Path) -> None:
    conf = load_settings(Conf, None, {"CB_PEERS__MAIN__SECRET": "hunter2"})
    assert "hunter2" not in repr(conf)
    assert "hunter2" not in str(conf.peers["main"].secret)


def test_config_file_can_be_named_by_cb_config(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('redis_url = "redis://b"\n')
    assert load_settings(Conf, None, {"CB_CONFIG": str(path)}).redis_url == "redis://b"


def test_wrong_type_is_reported_without_the_value() -> None:
    with pytest.raises(SettingsError, match="port") as info:
        load_settings(Conf, None, {"CB_PEERS__MAIN__PORT": "notanumber-xyz"})
    assert "notanumber-xyz" not in str(info.value)


def test_missing_file_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings(Conf, tmp_path / "absent.toml", {})
