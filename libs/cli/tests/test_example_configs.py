"""Every example and deployment config in the repository loads with the service it is for,
under the strict loader (an unknown key is an error naming the key and the file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ami_ingest.settings import load as load_ingest
from api_gateway.settings import load as load_gateway
from call_tracker.settings import load as load_tracker
from callbridge_cli.suite import load_suite
from cbruntime.exceptions import SettingsError
from crm_sync.settings import load as load_crm_sync
from presence.settings import load as load_presence
from voice_bot.settings import load as load_voice_bot

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "deploy" / "config"


def test_the_suite_example_loads() -> None:
    assert load_suite(CONFIG / "callbridge.example.toml", environ={}).crm_sync.adapter


@pytest.mark.parametrize("path", [CONFIG / "ingest.example.toml",
                                  ROOT / "deploy" / "k8s" / "base" / "ingest.toml"])  # fmt: skip
def test_the_ingest_configs_load(path: Path) -> None:
    env = {"CB_PBX__MAIN__SECRET": "s"}
    assert load_ingest(path, env).pbx


@pytest.mark.parametrize("crm", ["amocrm", "bitrix24", "megaplan", "webhook"])
def test_each_crm_example_loads_for_its_adapter(crm: str) -> None:
    settings = load_crm_sync(CONFIG / f"crm-sync.{crm}.example.toml", environ={})
    assert settings.adapter == crm
    assert settings.rules.default_user_id


def test_the_voice_bot_deployment_config_loads() -> None:
    path = ROOT / "deploy" / "k8s" / "base" / "voice-bot.toml"
    assert load_voice_bot(path, {"CB_REDIS_URL": "redis://redis:6379/0"}).dialogs_dir


@pytest.mark.parametrize(
    ("name", "loader"),
    [("tracker.toml", load_tracker), ("crm-sync.toml", load_crm_sync),
     ("gateway.toml", load_gateway), ("presence.toml", load_presence)],
)  # fmt: skip
def test_the_kubernetes_service_configs_load(name: str, loader: Any) -> None:
    assert loader(ROOT / "deploy" / "k8s" / "base" / name, {"CB_REDIS_URL": "redis://r:6379/0"})


def test_every_config_file_in_deploy_is_covered() -> None:
    covered = (
        {"callbridge.example.toml", "ingest.example.toml", "ingest.toml"}
        | {"voice-bot.toml", "tracker.toml", "crm-sync.toml", "gateway.toml", "presence.toml"}
        | {f"crm-sync.{c}.example.toml" for c in ("amocrm", "bitrix24", "megaplan", "webhook")}
    )
    assert {p.name for p in (ROOT / "deploy").rglob("*.toml")} == covered


def test_an_unknown_key_is_an_error_naming_the_key_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "crm.toml"
    path.write_text('adapter = "amocrm"\n[amocrm]\nclient_idd = "x"\n[rules]\ndefault_user = "1"\n')
    with pytest.raises(SettingsError) as caught:
        load_crm_sync(path, environ={})
    assert str(path) in str(caught.value)
    assert "amocrm.client_idd" in str(caught.value)
    assert "rules.default_user" in str(caught.value)


def test_an_unknown_key_in_a_suite_table_is_named_with_its_table(tmp_path: Path) -> None:
    text = (CONFIG / "callbridge.example.toml").read_text()
    path = tmp_path / "suite.toml"
    path.write_text(text.replace("[crm_sync.builtin]\n", "[crm_sync.builtin]\npaht = 'x'\n"))
    with pytest.raises(SettingsError, match=r"crm_sync\.builtin\.paht"):
        load_suite(path, environ={})
