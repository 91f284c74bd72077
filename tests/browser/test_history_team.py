"""History that lives and the supervisor's view, in real Chromium against the whole suite:
a call shows in the history as it starts and becomes its record when it ends (no click, the
filters kept); a missed call no one has called back is marked and listed first, and a call
back dialled from a colleague's page clears the mark on this page; a supervisor's page shows
the team (a caller waiting in a queue, the day's counts), an operator's page does not."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import expect

from callbridge_cli.stack import Stack

from .conftest import BROWSER_TEST, OpenPage

pytestmark = BROWSER_TEST


async def test_a_call_shows_in_the_history_as_it_starts_and_ends_without_a_click(
    stack: Stack, operator_page: OpenPage
) -> None:
    anna = await operator_page("100")
    await anna.locator("#history select[name=direction]").select_option("inbound")
    await expect(anna.locator("#history [data-status]")).not_to_have_text("Loading…")
    call = stack.sim.start_call(
        "inbound_missed", phone="79857776655", ext1="100", pause_before="DialEnd"
    )
    row = anna.locator("#history tbody tr", has_text="+7 985 777-66-55")
    await expect(row).to_have_class("live", timeout=5_000)  # while it rings
    await expect(row).to_contain_text("In progress")
    await call.paused.wait()
    call.resume()
    await call.wait()
    await expect(row.locator(".result")).to_contain_text("missed", timeout=10_000)  # no click
    await expect(row).to_have_count(1)
    assert "live" not in (await row.get_attribute("class") or "")
    assert await anna.locator("#history select[name=direction]").input_value() == "inbound"


async def test_a_missed_call_is_marked_first_and_a_colleagues_call_back_clears_it(
    stack: Stack, operator_page: OpenPage
) -> None:
    anna = await operator_page("100")
    boris = await operator_page("101")
    await stack.sim.play("inbound_missed", phone="79265554433", ext1="100", speed=0)
    await stack.sim.play("inbound_answered", phone="79031112233", ext1="100", speed=0)
    rows = anna.locator("#history tbody tr")
    await expect(rows).to_have_count(2, timeout=10_000)
    await expect(rows.first).to_contain_text("+7 926 555-44-33")  # older, yet first
    await expect(rows.first).to_have_class("callback")
    await expect(rows.first.locator(".callback-mark")).to_have_text("Call back")
    await expect(rows.nth(1).locator(".callback-mark")).to_have_count(0)

    await boris.locator("#dial input[name=number]").fill("+7 926 555-44-33")
    await boris.locator("#dial button[type=submit]").click()  # the PBX answers the call back
    marked = anna.locator("#history tbody tr.callback")
    await expect(marked).to_have_count(0, timeout=20_000)
    await expect(anna.locator("#history tbody tr", has_text="+7 926 555-44-33")).to_have_count(1)


async def test_the_supervisor_sees_the_team_and_an_operator_does_not(
    stack: Stack, operator_page: OpenPage, artifacts: Path
) -> None:
    boss = await operator_page("102", supervisor=True)
    anna = await operator_page("100")
    team = boss.locator("#team")
    await expect(team).to_be_visible()
    await stack.sim.play("inbound_missed", phone="79265554433", ext1="100", speed=0)
    await expect(team.locator("[data-callbacks] li.callback")).to_have_count(1, timeout=10_000)
    missed = team.locator("tr[data-extension='100'] td:nth-child(3)")  # answered, missed, talk
    await expect(missed).to_have_text("1", timeout=10_000)
    queued = stack.sim.start_call("inbound_queue", phone="79161234567", pause_before="DialState")
    waiting = team.locator("[data-waiting] li", has_text="+7 916 123-45-67")
    await expect(waiting).to_contain_text("in queue", timeout=10_000)
    await queued.paused.wait()
    queued.resume()
    await queued.wait()
    await expect(waiting).to_have_count(0, timeout=10_000)
    await expect(anna.locator("#team")).to_be_hidden()
    await team.screenshot(path=artifacts / "team.png")


async def test_a_supervisor_sees_why_a_call_went_as_it_did(
    stack: Stack, operator_page: OpenPage
) -> None:
    """The supervisor's history offers "Why" on each call: the decisions each AMI frame
    caused and what crm-sync did; an ordinary operator's history does not."""
    await stack.sim.play("inbound_answered", phone="79857776655", ext1="102", speed=0)
    await stack.sim.play("inbound_answered", phone="79857776644", ext1="100", speed=0)
    boss = await operator_page("102", supervisor=True)
    row = boss.locator("#history tbody tr", has_text="+7 985 777-66-55")
    await expect(row).to_have_count(1, timeout=10_000)
    await row.get_by_role("button", name="How the call with +7 985 777-66-55 was handled").click()
    steps = boss.locator("#history [data-explain] li")
    await expect(steps.first).to_be_visible(timeout=10_000)
    await expect(boss.locator("#history [data-explain]")).to_contain_text("answered by 102")
    anna = await operator_page("100")
    mine = anna.locator("#history tbody tr", has_text="+7 985 777-66-44")
    await expect(mine).to_have_count(1, timeout=10_000)
    await expect(mine.locator("[data-why]")).to_have_count(0)
