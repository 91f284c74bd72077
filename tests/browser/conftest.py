"""The whole suite in-process (simulator, ami-ingest, call-tracker, crm-sync on the built-in
CRM, the api-gateway on a real uvicorn) and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Protocol

import pytest
from playwright.async_api import BrowserContext, Page, Playwright, async_playwright

from callbridge_cli.stack import Stack, StackConfig, embedded_stack

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


class OpenPage(Protocol):
    def __call__(
        self, extension: str, locale: str = "en-US", *, supervisor: bool = False
    ) -> Awaitable[Page]: ...


#: Every browser test module's marks: Debian's chromium present, a bound on each test.
BROWSER_TEST = [
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="no /usr/bin/chromium"),
    pytest.mark.timeout(120),
]


@pytest.fixture
async def stack(redis_url: str, redis_prefix: str, tmp_path: Path) -> AsyncIterator[Stack]:
    config = StackConfig(
        redis_url=redis_url, prefix=redis_prefix, recordings=tmp_path / "rec", rate=0, speed=1.0
    )
    async with embedded_stack(config) as running:
        yield running


@pytest.fixture
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as p:
        yield p


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
async def operator_page(
    playwright: Playwright, stack: Stack, tmp_path: Path
) -> AsyncIterator[OpenPage]:
    """``await operator_page("100")``: a fresh browser (own profile) signed in as that
    operator through a one-time link; ``locale="ru-RU"`` for a browser that prefers Russian
    (navigator.languages and Accept-Language; the default is English); ``supervisor=True``:
    a supervisor's session (the page shows the team)."""
    contexts: list[BrowserContext] = []

    async def open_page(extension: str, locale: str = "en-US", *, supervisor: bool = False) -> Page:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / f"profile-{extension}-{len(contexts)}"),
            executable_path=CHROMIUM,
            args=ARGS,
            headless=True,
            viewport={"width": 1280, "height": 800},
            locale=locale,
        )
        contexts.append(context)
        page = context.pages[0] if context.pages else await context.new_page()
        await page.goto(await stack.signin_link(extension, supervisor=supervisor))
        signed_in = re.compile(rf" {extension}$")  # "… · ext. 100" / "… · доб. 100"
        await page.locator("#who").filter(has_text=signed_in).wait_for(timeout=10_000)
        await page.locator("#feed-state[data-state=live]").wait_for(timeout=10_000)
        return page

    yield open_page
    for context in contexts:
        await context.close()
