"""The card's CRM buttons in real headless Chromium against the whole suite (the built-in CRM
in a file, as `callbridge run` has it): "Create deal" makes the deal and the card lists it;
"Open in CRM" opens the built-in CRM's page of the contact with its name and deals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import expect

from callbridge_cli.stack import Stack, StackConfig, embedded_stack

from .conftest import BROWSER_TEST, OpenPage

pytestmark = BROWSER_TEST

MARIA = "Мария Соколова"  # the demo CRM's contact at +7 903 111-22-33


@pytest.fixture
async def stack(redis_url: str, redis_prefix: str, tmp_path: Path) -> AsyncIterator[Stack]:
    config = StackConfig(
        redis_url=redis_url,
        prefix=redis_prefix,
        recordings=tmp_path / "rec",
        crm_path=str(tmp_path / "crm.sqlite3"),
        rate=0,
        speed=1.0,
    )
    async with embedded_stack(config) as running:
        yield running


async def test_create_deal_and_open_in_crm_from_the_card(
    stack: Stack, operator_page: OpenPage, artifacts: Path
) -> None:
    anna = await operator_page("100")
    stack.sim.start_call("inbound_answered", phone="79031112233", ext1="100", speed=0.2)
    card = anna.locator(".card")
    await expect(card.locator(".card-name")).to_have_text(MARIA, timeout=5000)
    await card.get_by_role("button", name="Create deal").click()
    await expect(card.locator(".card-deal-note")).to_contain_text("Deal created", timeout=10_000)
    await expect(card.locator(".card-deals")).to_contain_text("Deal from +79031112233")
    await card.screenshot(path=artifacts / "card-deal-created.png")
    href = await card.get_by_role("link", name="Open in CRM").get_attribute("href")
    assert href
    assert "/crm/entities/" in href
    await anna.goto(href)
    await expect(anna.locator(".entity-name")).to_have_text(MARIA, timeout=10_000)
    await expect(anna.locator(".entity-deals")).to_contain_text("Deal from +79031112233")
    await anna.screenshot(path=artifacts / "crm-entity.png")
