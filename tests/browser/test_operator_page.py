# ruff: noqa: RUF001  (the demo CRM's Russian names)
"""The operator's page in real headless Chromium against the whole suite: sign-in by a
one-time link, the caller card of this operator's phone only, hidden when a colleague
answers, the call history with a playable recording, click-to-call from the history."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from playwright.async_api import expect

from callbridge_cli.stack import Stack

from .conftest import BROWSER_TEST, OpenPage

pytestmark = BROWSER_TEST

MARIA = "Мария Соколова"  # the demo CRM's contact at +7 903 111-22-33


async def _poll(check: Callable[[], bool], what: str, limit_s: float = 10.0) -> None:
    deadline = time.monotonic() + limit_s
    while not check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)


async def test_a_one_time_link_signs_the_operator_in_once(
    stack: Stack, operator_page: OpenPage
) -> None:
    page = await operator_page("100")
    await expect(page.locator("#who")).to_have_text("Анна Смирнова · ext. 100")
    assert "code=" not in page.url  # the code leaves the address bar at once
    link = await stack.signin_link("100")

    async def open_without_session() -> None:
        await page.evaluate("localStorage.clear()")
        await page.goto("about:blank")
        await page.goto(link)

    await open_without_session()
    await expect(page.locator("#who")).to_contain_text("ext. 100")
    await open_without_session()  # the same link again
    await expect(page.locator("#signin")).to_contain_text("already used")
    await expect(page.locator("#app")).to_be_hidden()


async def test_the_ringing_operator_sees_the_card_with_the_contact_within_a_second(
    stack: Stack, operator_page: OpenPage, artifacts: Path
) -> None:
    anna = await operator_page("100")
    boris = await operator_page("101")
    started = time.monotonic()
    call = stack.sim.start_call("inbound_answered", phone="79031112233", ext1="100", speed=1.0)
    card = anna.locator(".card")
    await expect(card.locator(".card-name")).to_have_text(MARIA, timeout=1000)
    assert time.monotonic() - started < 1.0
    await expect(card.locator(".card-number")).to_contain_text("+7 903 111-22-33")
    await expect(card).to_contain_text("Why this card")
    await expect(card).to_contain_text("АО «Вектор»")
    await card.screenshot(path=artifacts / "card.png")
    await anna.screenshot(path=artifacts / "operator-100-ringing.png")
    assert await boris.locator(".card").count() == 0
    await expect(boris.locator("#no-call")).to_be_visible()
    await call.wait()
    await expect(card).to_have_count(0, timeout=10_000)  # hidden when the call ended
    assert await boris.locator(".card").count() == 0


async def test_a_ring_group_answered_by_a_colleague_hides_the_card(
    stack: Stack, operator_page: OpenPage
) -> None:
    anna = await operator_page("100")
    boris = await operator_page("101")
    call = stack.sim.start_call(
        "inbound_group", phone="79161234567", ext1="100", ext2="101", speed=1.0
    )
    await expect(anna.locator(".card .card-name")).to_have_text("Иван Кузнецов", timeout=2000)
    await expect(boris.locator(".card .card-name")).to_have_text("Иван Кузнецов", timeout=2000)
    await expect(anna.locator(".card")).to_have_count(0, timeout=10_000)  # 101 answered
    await expect(boris.locator(".card .card-state")).to_have_text("On the call")
    await call.wait()
    await expect(boris.locator(".card")).to_have_count(0, timeout=10_000)


async def test_a_finished_call_is_in_the_history_and_its_recording_plays(
    stack: Stack, operator_page: OpenPage, artifacts: Path
) -> None:
    anna = await operator_page("100")
    call = await stack.sim.play("inbound_answered", phone="79857776655", ext1="100", speed=0)
    wav = stack.config.recordings / f"{call.values['c1_uid']}.wav"
    await _poll(wav.exists, "the demo recording was not written")
    row = anna.locator("#history tbody tr", has_text="+7 985 777-66-55")
    await expect(row).to_have_count(1, timeout=10_000)
    await row.get_by_role("button", name="Play the recording").click()
    audio = anna.locator("#history audio")
    await expect(audio).to_be_visible()
    await anna.wait_for_function(
        "() => { const a = document.querySelector('#history audio');"
        " return a && isFinite(a.duration) && a.duration > 0; }",
        timeout=10_000,
    )
    duration = await audio.evaluate("a => a.duration")
    assert 4 <= duration <= 16
    seeked = await audio.evaluate(
        "a => new Promise(done => { a.addEventListener('seeked', () => done(a.currentTime),"
        " {once: true}); a.currentTime = a.duration - 1; })"
    )
    assert seeked > 2  # the player seeks (HTTP Range on the signed link)
    await anna.locator("#history").screenshot(path=artifacts / "history.png")


async def test_click_to_call_from_the_history_rings_the_operator_first(
    stack: Stack, operator_page: OpenPage
) -> None:
    anna = await operator_page("100")
    await stack.sim.play("inbound_missed", phone="79265554433", ext1="100", speed=0)
    row = anna.locator("#history tbody tr", has_text="+7 926 555-44-33")
    await expect(row).to_have_count(1, timeout=10_000)
    await row.get_by_role("button", name="Call +7 926 555-44-33").click()

    def originated() -> bool:
        return any(a.get("Action") == "Originate" for a in stack.sim.received_actions)

    await _poll(originated, "no Originate reached the PBX")
    action = next(a for a in stack.sim.received_actions if a.get("Action") == "Originate")
    assert action["Channel"] == "PJSIP/100"
    assert action["Exten"] == "+79265554433"  # E.164: what the deny-list checked
    await expect(anna.locator(".toast")).to_contain_text("Your phone (100) rings now")
