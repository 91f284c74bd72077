"""The sample config loads, env wins, secrets stay hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

from ami_ingest import IngestError, ami_config, load

EXAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "config" / "ingest.example.toml"


def test_the_example_config_loads_and_env_overrides_it() -> None:
    settings = load(EXAMPLE, {"CB_PBX__MAIN__SECRET": "hunter2", "CB_HTTP__PORT": "0"})
    assert settings.http.port == 0
    main = settings.pbx["main"]
    assert main.auth == "md5"
    assert "hunter2" not in repr(settings)
    config = ami_config(main)
    assert config.secret == "hunter2"
    assert "hunter2" not in repr(config)


def test_a_config_without_pbx_is_refused() -> None:
    with pytest.raises(IngestError, match="no PBX"):
        load(None, {"CB_REDIS_URL": "redis://x"})
