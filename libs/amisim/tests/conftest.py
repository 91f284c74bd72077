"""Fixtures: a simulator on 127.0.0.1:0 (speed 0) and a logged-in test client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from amisim import Simulator
from amisim.testing import Client

SECRET = "s3cret"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(secret=SECRET, speed=0, seed=7) as simulator:
        yield simulator


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[Client]:
    conn = await Client.connect(sim.host, sim.port)
    reply = await conn.login(SECRET)
    assert reply.response == "Success"
    await conn.first(lambda m: m.event == "SuccessfulAuth")
    yield conn
    await conn.close()
