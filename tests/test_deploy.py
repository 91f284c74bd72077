"""The deploy files agree with the code: the k8s ingest config loads as IngestSettings, and the
manifest runs a command the CLI has, with probes on the endpoints the health server serves."""

from pathlib import Path

import yaml
from click.testing import CliRunner

from ami_ingest.settings import load
from callbridge_cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "deploy" / "k8s" / "base"


def test_the_kubernetes_ingest_config_loads_with_secrets_from_the_environment() -> None:
    env = {"CB_REDIS_URL": "redis://redis:6379/0", "CB_PBX__MAIN__SECRET": "from-secret"}
    settings = load(BASE / "ingest.toml", env)
    assert settings.redis_url == "redis://redis:6379/0"
    assert settings.pbx["main"].secret.reveal() == "from-secret"
    assert settings.http.port == 9101


def test_the_example_config_loads() -> None:
    settings = load(ROOT / "deploy" / "config" / "ingest.example.toml", {})
    assert "main" in settings.pbx


def test_the_ingest_deployment_runs_a_real_cli_command_with_probes_on_health_paths() -> None:
    docs = list(yaml.safe_load_all((BASE / "ami-ingest.yaml").read_text()))
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    assert args[:2] == ["callbridge", "ingest"]
    result = CliRunner().invoke(cli, [*args[1:2], "--help"])
    assert result.exit_code == 0
    assert "--config" in result.output
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert deployment["spec"]["replicas"] == 2
