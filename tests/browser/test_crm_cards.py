"""The same caller card inside the CRMs, in real headless Chromium: the Bitrix24
application page (opened by a POST, signed in with the one-time link) and the amoCRM widget
(its script.js run as amoCRM runs it: an AMD module whose $authorizedAjax gives a session)."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.async_api import Page, Playwright, expect

from api_gateway.main import WEB
from callbridge_cli.stack import Stack

from .conftest import ARGS, BROWSER_TEST, CHROMIUM

pytestmark = BROWSER_TEST


async def _page(playwright: Playwright, tmp_path: Path, name: str) -> Page:
    context = await playwright.chromium.launch_persistent_context(
        str(tmp_path / name), executable_path=CHROMIUM, args=ARGS, headless=True,
        viewport={"width": 420, "height": 800},
    )  # fmt: skip
    return context.pages[0] if context.pages else await context.new_page()


async def test_the_bitrix24_page_shows_the_card_of_the_signed_in_operator(
    stack: Stack, playwright: Playwright, tmp_path: Path, artifacts: Path
) -> None:
    page = await _page(playwright, tmp_path, "b24")
    await page.goto(f"{stack.url}/ui/crm/bitrix24.html")
    await page.get_by_label("Sign-in link").fill(await stack.signin_link("100"))
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("status")).to_have_text("Анна Смирнова · ext. 100")
    call = stack.sim.start_call("inbound_answered", phone="79161234567", ext1="100", speed=1.0)
    await expect(page.locator(".card .card-name")).to_have_text("Иван Кузнецов", timeout=2000)
    await page.screenshot(path=artifacts / "bitrix24-card.png")
    await call.wait()
    await expect(page.locator(".card")).to_have_count(0, timeout=10_000)
    await page.context.close()


async def test_the_amocrm_widget_loads_the_shared_card_and_shows_its_operators_calls(
    stack: Stack, playwright: Playwright, tmp_path: Path
) -> None:
    async with httpx.AsyncClient() as http:
        code = (await stack.signin_link("101")).rpartition("code=")[2]
        session = (await http.post(f"{stack.url}/v1/sessions/exchange", json={"code": code})).json()
    page = await _page(playwright, tmp_path, "amo")
    await page.goto(f"{stack.url}/healthz")  # an origin; amoCRM's page would be elsewhere
    await page.set_content("<html><head></head><body><h1>amoCRM</h1></body></html>")
    await page.evaluate(
        """([base, token]) => {
          window.define = (deps, factory) => {
            const Widget = factory(null);
            const widget = new Widget();
            widget.get_settings = () => ({ gateway_url: base, tenant: "demo" });
            widget.$authorizedAjax = () => Promise.resolve({ token });
            window.widget = widget;
            widget.callbacks.render();
            widget.callbacks.init();
          };
        }""",
        [stack.url, session["token"]],
    )
    await page.add_script_tag(content=(WEB / "crm" / "amocrm" / "script.js").read_text())
    panel = page.locator("#callbridge-cards")
    await expect(panel.get_by_role("status")).to_contain_text("ext. 101", timeout=10_000)
    call = stack.sim.start_call("inbound_answered", phone="79857776655", ext1="101", speed=1.0)
    await expect(panel.locator(".card .card-name")).to_have_text("Пётр Волков", timeout=2000)
    await call.wait()
    await page.context.close()
