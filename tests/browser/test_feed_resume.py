"""The operator's page across a gateway restart, in real headless Chromium: a card shown
before the restart is hidden once the page reconnects, when its call ended while no gateway
ran (the feed resumes from a snapshot of the open cards; the page closes the others)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

from playwright.async_api import Playwright, expect

from api_gateway.main import create_app
from api_gateway.server import make_server
from api_gateway.state import open_services
from callbridge_cli.stack import Stack
from cbruntime import listen_socket

from .conftest import ARGS, BROWSER_TEST, CHROMIUM

pytestmark = BROWSER_TEST


def _free_port() -> int:
    sock = listen_socket("127.0.0.1", 0)
    port: int = sock.getsockname()[1]
    sock.close()
    return port


@contextlib.asynccontextmanager
async def _gateway(stack: Stack, port: int) -> AsyncIterator[str]:
    """One life of a gateway process on ``port`` (the suite's settings, its own services)."""
    base = f"http://127.0.0.1:{port}"
    settings = replace(stack.gateway, port=port, public_url=base)
    async with open_services(settings) as services:
        server = make_server(create_app(settings, services), lifespan="off", grace_s=1)
        sock = listen_socket("127.0.0.1", port)
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(server.serve(sockets=[sock]))
            deadline = time.monotonic() + 10
            while not server.started:
                assert not task.done(), "uvicorn stopped"
                assert time.monotonic() < deadline, "uvicorn did not start"
                await asyncio.sleep(0.01)
            try:
                yield base
            finally:
                server.should_exit = True
        sock.close()


async def test_a_card_shown_before_a_gateway_restart_is_hidden_when_its_call_ended_meanwhile(
    stack: Stack, playwright: Playwright, tmp_path: Path
) -> None:
    port = _free_port()
    context = await playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, args=ARGS, headless=True
    )
    try:
        page = context.pages[0] if context.pages else await context.new_page()
        async with _gateway(stack, port) as base:
            link = await stack.signin_link("100")
            await page.goto(link.replace(stack.url, base))
            await page.locator("#feed-state[data-state=live]").wait_for(timeout=10_000)
            call = stack.sim.start_call(
                "inbound_missed", phone="79031112233", ext1="100", pause_before="DialEnd"
            )
            await expect(page.locator(".card")).to_have_count(1, timeout=10_000)
            await call.paused.wait()
        # no gateway now: the page says so, and the call ends meanwhile
        await page.locator("#feed-state[data-state=reconnecting]").wait_for(timeout=10_000)
        call.resume()
        await call.wait()
        records = stack.services.records
        deadline = time.monotonic() + 10
        while await records.get("main", call.values["linkedid"]) is None:
            assert time.monotonic() < deadline, "the call was not recorded"
            await asyncio.sleep(0.05)
        assert await page.locator(".card").count() == 1  # nobody told the page yet
        async with _gateway(stack, port):
            await page.locator("#feed-state[data-state=live]").wait_for(timeout=20_000)
            await expect(page.locator(".card")).to_have_count(0, timeout=10_000)
            await expect(page.locator("#no-call")).to_be_visible()
    finally:
        await context.close()
