"""schemathesis against the app's own OpenAPI (served by a real uvicorn in a thread): every
operation's generated cases, with an admin key and without, bounded (6 examples each) and
derandomized — never a 5xx.

The feeds (endless streams) are excluded; their auth is covered by the auth matrix."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

from ami_ingest.testing import SECRET, running
from ami_ingest.testing import settings_for as ingest_settings
from amisim import Simulator
from api_gateway.main import create_app
from api_gateway.settings import GatewaySettings, OriginateSettings, RecordingSettings
from api_gateway.testing import serving, settings_for
from cbruntime import Secret


@pytest.fixture
def served(redis_url: str, redis_prefix: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(base URL, admin token) of a gateway running in its own thread and event loop, with
    the real ami-ingest and the simulator behind it (so the PBX answers)."""
    config: GatewaySettings = settings_for(redis_url, redis_prefix)
    config = replace(
        config,
        originate=OriginateSettings(action_timeout_s=5),
        recordings=RecordingSettings(root=str(tmp_path), link_secret=Secret("x" * 32)),
    )
    ready, stop = threading.Event(), threading.Event()
    out: list[str] = []

    async def main() -> None:
        app = create_app(config)
        async with (
            Simulator(secret=SECRET, speed=0) as sim,
            running(ingest_settings(redis_url, redis_prefix, sim)),
            serving(app) as base,
        ):
            _, token = await app.state.services.keys.create("acme", ("admin",), rate_limit=100_000)
            out.extend([base, token])
            ready.set()
            await asyncio.to_thread(stop.wait)

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(15), "gateway did not start"
    try:
        yield out[0], out[1]
    finally:
        stop.set()
        thread.join(15)


def test_no_operation_answers_a_server_error(served: tuple[str, str]) -> None:
    base, token = served
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    tried = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        if operation.path.startswith("/v1/feeds"):
            continue
        tried += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=6,
            derandomize=True,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case: Any) -> None:
            for headers in ({"Authorization": f"Bearer {token}"}, {}):
                response = case.call(headers=headers, timeout=10)
                where = f"{case.method} {case.formatted_path}"
                assert response.status_code < 500, f"{where}: {response.text[:300]}"

        check()
    assert tried >= 14
