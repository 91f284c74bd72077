"""The colleagues panel in real headless Chromium against the whole suite: line states as
the presence service writes them (``cb:{pbx}:presence`` and its view) appear, change and
age on the operator's page; a colleague's caller is not shown; a click calls the colleague
(the operator's phone rings first, as every click-to-call)."""

from __future__ import annotations

import time
from pathlib import Path

from playwright.async_api import expect

from callbridge_cli.stack import PBX, Stack
from cbcontracts.presence import PresenceState, encode_presence
from cbstreams import PbxKeys, connect

from .conftest import BROWSER_TEST, OpenPage

pytestmark = BROWSER_TEST


async def publish(stack: Stack, ext: str, state: str, **kw: str) -> None:
    """What the presence service does on a change."""
    now = int(time.time() * 1000)
    p = PresenceState(pbx=PBX, extension=ext, state=state, since=now, at=now, **kw)  # type: ignore[arg-type]
    keys = PbxKeys(PBX, stack.config.prefix)
    redis = connect(stack.config.redis_url)
    try:
        await redis.xadd(keys.presence, {b"data": encode_presence(p)})
        await redis.hset(keys.presence_view, ext, encode_presence(p))
    finally:
        await redis.aclose()


async def test_colleagues_states_follow_the_presence_feed(
    stack: Stack, operator_page: OpenPage, artifacts: Path
) -> None:
    await publish(stack, "101", "idle")
    page = await operator_page("100")
    panel = page.locator("#colleagues")
    colleague = panel.locator('[data-extension="101"]')
    await expect(colleague.locator(".presence")).to_have_text("Free")
    await expect(panel.locator('[data-extension="100"]')).to_have_count(0)  # not oneself

    await publish(stack, "101", "ringing", remote="79161234567", direction="inbound")
    await expect(colleague.locator(".presence")).to_have_text("Ringing")
    await expect(colleague.locator(".presence")).to_have_attribute("data-state", "ringing")
    await expect(panel).not_to_contain_text("916")  # a colleague's caller stays private
    await publish(stack, "102", "dnd")
    await expect(panel.locator('[data-extension="102"] .presence')).to_have_text("Do not disturb")
    await publish(stack, "101", "in_call")
    await expect(colleague.locator(".presence")).to_have_text("On a call")
    await expect(colleague.locator(".since")).to_have_text("0:01", timeout=5000)  # it ages
    await page.screenshot(path=artifacts / "colleagues.png")

    # A click calls the colleague: the operator's own phone (100) rings first.
    await colleague.get_by_role("button", name="Call 101").click()
    await expect(page.locator(".toast")).to_contain_text("Your phone (100) rings now")


async def test_the_panel_in_russian(stack: Stack, operator_page: OpenPage) -> None:
    await publish(stack, "102", "away", message="lunch")
    page = await operator_page("100", locale="ru-RU")
    await expect(page.locator("#colleagues-title")).to_have_text("Коллеги")
    await expect(page.locator('#colleagues [data-extension="102"] .presence')).to_have_text(
        "Отошёл"
    )


async def test_transfer_my_call_to_a_free_colleague(stack: Stack, operator_page: OpenPage) -> None:
    """100 talks; the panel offers Transfer next to free colleagues only; a click moves the
    caller to 101, whose page then shows the caller's card."""
    await publish(stack, "101", "idle")
    await publish(stack, "102", "in_call")
    anna = await operator_page("100")
    boris = await operator_page("101")
    call = stack.sim.start_call(
        "inbound_answered", phone="79031112233", ext1="100", pause_before="HangupRequest"
    )
    await expect(anna.locator(".card")).to_have_count(1, timeout=10_000)
    colleague = anna.locator('#colleagues [data-extension="101"]')
    move = colleague.get_by_role("button", name="Transfer my call to 101")
    await expect(move).to_be_visible(timeout=10_000)  # once the call is answered
    await expect(
        anna.locator('#colleagues [data-extension="102"]').get_by_role("button", name="Transfer")
    ).to_have_count(0)  # 102 is on a call
    await move.click()
    await expect(anna.locator(".toast")).to_contain_text("Your call goes to 101")
    await expect(boris.locator(".card .card-number")).to_contain_text(
        "+7 903 111-22-33", timeout=10_000
    )
    await call.interrupt()


async def test_the_panel_follows_a_simulated_call_through_the_real_presence_service(
    stack: Stack, operator_page: OpenPage
) -> None:
    """The embedded demo: the presence service's SIP subscriptions to the simulator drive
    the panel — 102 rings, talks and is free again as the simulated call plays."""
    page = await operator_page("100")
    state = page.locator('#colleagues [data-extension="102"] .presence')
    await expect(state).to_have_text("Free")
    call = stack.sim.start_call(
        "inbound_answered", phone="79031112233", ext1="102", pause_before="BridgeEnter"
    )
    await call.paused.wait()
    await expect(state).to_have_text("On a call")  # answered: Newstate Up came before
    call.resume()
    await call.wait()
    await expect(state).to_have_text("Free")
