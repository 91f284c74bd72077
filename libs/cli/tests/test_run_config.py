"""``callbridge run --config``: deploy/config/callbridge.example.toml loads into every
service's own settings, and the suite it describes runs in one process against a private
Redis, with the AMI simulator standing in for the PBX: a call flows to the calls stream and
the gateway answers; one stop ends it all."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from amisim import Simulator, TrafficConfig, TrafficGenerator
from callbridge_cli.suite import load_suite, running_suite
from cbstreams import connect

EXAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "config" / "callbridge.example.toml"


def test_the_example_loads_into_each_services_settings_with_shared_keys_inherited() -> None:
    settings = load_suite(EXAMPLE, environ={})
    assert settings.ingest.pbx["main"].host == "192.0.2.10"
    assert settings.tracker.pbx["main"].tenant == "acme"
    assert settings.crm_sync.adapter == "builtin"
    assert settings.gateway.tenants["acme"].pbx == ["main"]
    for s in (settings.ingest, settings.tracker, settings.crm_sync, settings.gateway):
        assert s.redis_url == "redis://127.0.0.1:6379/0"
        assert s.key_prefix == "cb:"
    assert settings.ingest.instance == settings.crm_sync.instance == "callbridge-1"
    env = {"CB_REDIS_URL": "redis://other:6379/1"}
    assert load_suite(EXAMPLE, environ=env).tracker.redis_url == "redis://other:6379/1"


async def test_run_config_starts_the_suite_against_a_pbx_and_a_call_reaches_the_calls_stream(
    redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    p = redis_prefix
    async with Simulator(secret="s3cret", speed=20.0) as sim:
        env = {
            "CB_REDIS_URL": redis_url,
            "CB_KEY_PREFIX": p,
            "CB_LOG_JSON": "false",
            "CB_CALLS_STREAM": f"{p}calls",
            "CB_COMMANDS_STREAM": f"{p}crm:commands",
            "CB_EVENTS_STREAM": f"{p}crm:events",
            "CB_DEAD_STREAM": f"{p}dead",
            "CB_FEEDS__CALLS_STREAM": f"{p}calls",
            "CB_FEEDS__CRM_STREAM": f"{p}crm:events",
            "CB_PBX__MAIN__HOST": sim.host,
            "CB_PBX__MAIN__PORT": str(sim.port),
            "CB_PBX__MAIN__USERNAME": sim.username,
            "CB_PBX__MAIN__SECRET": "s3cret",
            "CB_HTTP__PORT": "-1",
            "CB_PORT": "0",
            "CB_BUILTIN__PATH": str(tmp_path / "crm.sqlite3"),
            "CB_RECORDINGS__ROOT": str(tmp_path),
        }
        settings = load_suite(EXAMPLE, environ=env)
        redis = connect(redis_url)
        try:
            async with running_suite(settings) as suite:
                lines = "\n".join(suite.lines())
                assert f"api-gateway: {suite.url}" in lines
                assert f"{p}{{main}}:ami" in lines
                assert f"{p}calls" in lines
                async with httpx.AsyncClient(base_url=suite.url, timeout=5) as http:
                    assert (await http.get("/ui/")).status_code == 200
                traffic = TrafficGenerator(
                    sim.pbx,
                    TrafficConfig(rate=0, concurrency=1, max_calls=1, mix={"inbound_answered": 1}),
                )
                await traffic.run()
                deadline = time.monotonic() + 15
                while not await redis.xlen(f"{p}calls"):
                    if time.monotonic() > deadline:
                        pytest.fail("no call event reached the calls stream")
                    await asyncio.sleep(0.05)
        finally:
            await redis.aclose()
