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


def test_the_voice_bot_needs_no_volume_shared_with_asterisk() -> None:
    from voice_bot.settings import load as load_voice_bot

    s = load_voice_bot(BASE / "voice-bot.toml", {"CB_REDIS_URL": "redis://redis:6379/0"})
    anywhere = "0.0.0.0"  # noqa: S104 - the pod listens on its IP; allow_from guards it
    assert (s.audio, s.host, s.audiosocket_host) == ("audiosocket", anywhere, anywhere)
    assert s.allow_from
    assert "0.0.0.0/0" not in s.allow_from
    assert s.language == "ru"
    docs = list(yaml.safe_load_all((BASE / "voice-bot.yaml").read_text()))
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"][:2] == ["callbridge", "voice-bot"]
    result = CliRunner().invoke(cli, ["voice-bot", "--help"])
    assert result.exit_code == 0
    assert "--config" in result.output
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"fastagi": s.port, "audiosocket": s.audiosocket_port, "http": s.metrics_port}
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # only its config and its own cache: no persistent or shared volume
    kinds = {next(k for k in v if k != "name") for v in pod["volumes"]}
    assert kinds == {"configMap", "emptyDir"}
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert any(str(s.sounds_dir).startswith(m) for m in mounts)  # the cache is on the emptyDir
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    assert "voice-bot.yaml" in kustomization["resources"]
