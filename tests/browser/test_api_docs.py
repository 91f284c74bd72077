"""The API docs in real headless Chromium: Swagger UI renders from files this origin serves
(``swagger-ui-bundle-v2``), under the page's Content-Security-Policy, with no request leaving
the origin and no CSP violation (issue 12 row 15: no CDN script on the session's origin)."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Playwright, expect

from callbridge_cli.stack import Stack

from .conftest import ARGS, BROWSER_TEST, CHROMIUM

pytestmark = BROWSER_TEST


async def test_the_api_docs_render_from_this_origin_only(
    playwright: Playwright, stack: Stack, tmp_path: Path
) -> None:
    context = await playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile-docs"), executable_path=CHROMIUM, args=ARGS, headless=True
    )
    try:
        page = context.pages[0] if context.pages else await context.new_page()
        requested: list[str] = []
        console: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        page.on("console", lambda m: console.append(m.text))
        await page.goto(f"{stack.url}/docs")
        await expect(page.locator(".swagger-ui .info .title")).to_contain_text(
            "callbridge api-gateway", timeout=10_000
        )
        await expect(page.locator(".opblock-summary-path").first).to_be_visible()
    finally:
        await context.close()
    assert requested
    assert all(url.startswith(stack.url) for url in requested), requested
    assert not [c for c in console if "Content Security Policy" in c], console
