"""The operator's page works in a narrow window and from the keyboard alone."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from playwright.async_api import expect

from callbridge_cli.stack import Stack

from .conftest import BROWSER_TEST, OpenPage

pytestmark = BROWSER_TEST

MARIA = "Мария Соколова"  # the demo CRM's contact at +7 903 111-22-33


async def test_in_a_narrow_window_the_card_fits_and_call_back_is_reached_by_keyboard(
    stack: Stack, operator_page: OpenPage, artifacts: Path
) -> None:
    page = await operator_page("100")
    await page.set_viewport_size({"width": 380, "height": 800})
    call = stack.sim.start_call("inbound_answered", phone="79031112233", ext1="100", speed=1.0)
    card = page.locator(".card")
    await expect(card.locator(".card-name")).to_have_text(MARIA, timeout=5000)
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    await page.screenshot(path=str(artifacts / "narrow.png"), full_page=True)
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at 380 px wide"
    box = await card.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= 380

    focused = ""
    for _ in range(60):  # Tab through the page until the card's "Call back" has the focus
        await page.keyboard.press("Tab")
        focused = await page.evaluate("document.activeElement?.textContent?.trim() ?? ''")
        if focused == "Call back":
            break
    assert focused == "Call back", "Call back cannot be reached with Tab"
    before = len(stack.sim.received_actions)
    await page.keyboard.press("Enter")

    def originated() -> list[str | None]:
        new = stack.sim.received_actions[before:]
        return [a.get("Channel") for a in new if a.get("Action") == "Originate"]

    deadline = time.monotonic() + 10
    while not originated():  # a condition polled under a deadline
        assert time.monotonic() < deadline, "Enter on Call back sent no Originate"
        await asyncio.sleep(0.02)
    assert originated() == ["PJSIP/100"]  # the operator's own leg first
    call.fast_forward()
    await call.wait()
