"""A scripted AMI server per test, and a client config pointing at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from aioami import AMIConfig
from aioami.testing import ScriptedAMI

SECRET = "s3cret-pw-do-not-log"

ConfigFactory = Callable[..., AMIConfig]


@pytest.fixture
async def server() -> AsyncIterator[ScriptedAMI]:
    async with ScriptedAMI(username="crm", secret=SECRET) as srv:
        yield srv


@pytest.fixture
def make_config(server: ScriptedAMI) -> ConfigFactory:
    """AMIConfig for ``server`` with test-sized timings; keyword arguments override."""

    def make(**overrides: Any) -> AMIConfig:
        base: dict[str, Any] = {
            "port": server.port,
            "username": "crm",
            "secret": SECRET,
            "connect_timeout": 2.0,
            "action_timeout": 2.0,
            "ping_interval": 30.0,
            "reconnect_initial": 0.02,
            "reconnect_max": 0.1,
            "snapshot_action": None,
        }
        return AMIConfig(**(base | overrides))

    return make
