"""The shape rule: a service's ``src/`` never imports another service, nor test support
(the AMI simulator, the CRM fakes, another package's ``testing`` module)."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {p.name: next((p / "src").iterdir()).name for p in (ROOT / "services").iterdir()
            if (p / "src").is_dir()}  # fmt: skip
PACKAGES = set(SERVICES.values())
TEST_SUPPORT = ("amisim", "cbcrm.fakes")


def imported(path: Path, package: str) -> list[str]:
    """Absolute module names imported by ``path`` (relative imports resolved)."""
    tree = ast.parse(path.read_text(), str(path))
    here = list(path.parts[path.parts.index(package) : -1])  # the module's package
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            out.append(mod)
            out += [f"{mod}.{a.name}" for a in node.names]
    return out


def violations(package: str, modules: list[str]) -> list[str]:
    bad = []
    for mod in modules:
        top = mod.split(".")[0]
        if top in PACKAGES and top != package:
            bad.append(f"{mod}: another service")
        elif any(mod == t or mod.startswith(t + ".") for t in TEST_SUPPORT):
            bad.append(f"{mod}: test support")
        elif ".testing" in f".{mod}." and top != package and mod.endswith("testing"):
            bad.append(f"{mod}: another package's test support")
    return bad


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_a_services_source_imports_no_other_service_and_no_test_support(service: str) -> None:
    package = SERVICES[service]
    src = ROOT / "services" / service / "src" / package
    found = {
        f"{path.relative_to(ROOT)}: {v}"
        for path in sorted(src.rglob("*.py"))
        for v in violations(package, imported(path, package))
    }
    assert not found, "\n".join(sorted(found))


def test_the_check_catches_what_it_must() -> None:
    assert violations("api_gateway", ["call_tracker.model"])
    assert violations("ami_ingest", ["amisim"])
    assert violations("ami_ingest", ["amisim.replay.Capture"])
    assert violations("crm_sync", ["cbcrm.fakes.amocrm"])
    assert violations("voice_bot", ["cbspeech.testing"])
    assert violations("voice_bot", ["aioami.testing"])
    assert not violations("voice_bot", ["voice_bot.testing", "cbcrm.adapter", "cbspeech"])


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_a_service_declares_no_other_service_nor_the_simulator(service: str) -> None:
    project = tomllib.loads((ROOT / "services" / service / "pyproject.toml").read_text())
    names = {re.split(r"[\[<>=~! ;]", d, maxsplit=1)[0]
             for d in project["project"]["dependencies"]}  # fmt: skip
    assert not names & ({*SERVICES} - {service} | {"amisim"}), names
