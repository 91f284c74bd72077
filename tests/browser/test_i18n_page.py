# ruff: noqa: RUF001  (Russian text on the page)
"""The operator's page in Russian and in English, in real headless Chromium against the whole
suite: the language the browser prefers (navigator.languages / Accept-Language), translated
labels, dates in the locale's format (ru: 02.12.2026, 14:05), +7 numbers grouped on the card
and in the history, and the page's language switch (remembered in localStorage). The CRM
pages take the CRM user's language: Bitrix24's ?LANG=ru, amoCRM's AMOCRM.lang_id."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.async_api import Playwright, expect

from api_gateway.main import WEB
from callbridge_cli.stack import Stack

from .conftest import ARGS, BROWSER_TEST, CHROMIUM, OpenPage

pytestmark = BROWSER_TEST

RU_DATE = re.compile(r"\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2}")  # 02.12.2026, 14:05
EN_DATE = re.compile(r"\d{1,2}/\d{1,2}/\d{2}, \d{1,2}:\d{2}\s?[AP]M")  # 12/2/26, 2:05 PM


async def test_the_page_in_russian_when_the_browser_prefers_it(
    stack: Stack, operator_page: OpenPage, artifacts: Path
) -> None:
    page = await operator_page("100", locale="ru-RU")
    assert await page.evaluate("navigator.languages[0]") == "ru-RU"
    await expect(page.locator("html")).to_have_attribute("lang", "ru")
    await expect(page.locator("#who")).to_have_text("Анна Смирнова · доб. 100")
    await expect(page.locator("#cards-title")).to_have_text("Звонки на ваш телефон")
    await expect(page.locator("#feed-state")).to_have_text("На связи")
    await expect(page.get_by_role("button", name="Позвонить", exact=True)).to_be_visible()
    await expect(page.locator("#history thead")).to_contain_text("Когда")
    assert await page.title() == "Звонки · 100 · callbridge"

    await stack.sim.play("inbound_answered", phone="79857776655", ext1="100", speed=0)
    row = page.locator("#history tbody tr", has_text="+7 985 777-66-55")
    await expect(row).to_have_count(1, timeout=10_000)
    await expect(row.locator("time")).to_have_text(RU_DATE)
    await expect(row.locator("time")).to_have_attribute("title", re.compile(r"сейчас|назад"))
    await expect(row).to_contain_text("входящий")
    await expect(row).to_contain_text("отвечен")
    await expect(row.get_by_role("button", name="Позвонить на +7 985 777-66-55")).to_be_visible()
    await expect(page.locator("#history [data-status]")).to_have_text(re.compile(r"^1 звонок$"))

    call = stack.sim.start_call("inbound_answered", phone="79031112233", ext1="100", speed=1.0)
    card = page.locator(".card")
    await expect(card.locator(".card-number")).to_contain_text("+7 903 111-22-33", timeout=5000)
    await expect(card).to_contain_text("Почему эта карточка")
    await expect(card.locator(".card-reason")).to_contain_text(
        "единственный контакт (2 открытые сделки)"
    )
    await expect(card.get_by_role("button", name="Перезвонить")).to_be_visible()
    await expect(card.get_by_role("button", name="Закрыть карточку")).to_be_visible()
    await page.screenshot(path=artifacts / "operator-ru.png")
    await call.wait()


async def test_the_page_in_english_and_the_switch_to_russian_is_remembered(
    stack: Stack, operator_page: OpenPage, artifacts: Path
) -> None:
    page = await operator_page("100", locale="en-US")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("#who")).to_have_text("Анна Смирнова · ext. 100")
    await expect(page.locator("#cards-title")).to_have_text("Calls to your phone")

    await stack.sim.play("inbound_answered", phone="79857776655", ext1="100", speed=0)
    row = page.locator("#history tbody tr", has_text="+7 985 777-66-55")
    await expect(row).to_have_count(1, timeout=10_000)
    await expect(row.locator("time")).to_have_text(EN_DATE)
    await expect(row.locator("time")).to_have_attribute("title", re.compile(r"now|ago"))
    formatted = await page.evaluate(
        """async () => {
          const api = await import("/ui/api.js");
          const i18n = await import("/ui/i18n.js");
          return [api.formatNumber("+375291234567"), api.formatNumber("380671234567"),
            api.formatNumber("+12125550100"), api.formatNumber("89031112233"),
            api.formatNumber("100"), i18n.formatDuration(3725), i18n.formatDuration(65),
            i18n.formatDateTime(Date.UTC(2026, 11, 2, 11, 5))];
        }"""
    )
    assert formatted[:7] == [
        "+375 29 123-45-67", "+380 67 123 45 67", "+1 212 555-0100", "+7 903 111-22-33",
        "100", "1:02:05", "1:05",
    ]  # fmt: skip
    assert EN_DATE.fullmatch(formatted[7])
    await expect(row).to_contain_text("inbound")
    await page.screenshot(path=artifacts / "operator-en.png")

    await page.locator("#lang").select_option("ru")
    await expect(page.locator("#cards-title")).to_have_text("Звонки на ваш телефон")
    assert await page.evaluate("localStorage.getItem('callbridge.lang')") == "ru"
    await page.reload()  # remembered over the browser's preference
    await expect(page.locator("#who")).to_have_text("Анна Смирнова · доб. 100")
    await expect(page.locator("#history tbody tr time").first).to_have_text(RU_DATE)


async def test_the_crm_pages_speak_the_crm_users_language(
    stack: Stack, playwright: Playwright, tmp_path: Path, artifacts: Path
) -> None:
    context = await playwright.chromium.launch_persistent_context(
        str(tmp_path / "crm"), executable_path=CHROMIUM, args=ARGS, headless=True,
        viewport={"width": 420, "height": 600}, locale="en-US",
    )  # fmt: skip
    page = context.pages[0] if context.pages else await context.new_page()
    await page.goto(f"{stack.url}/ui/crm/bitrix24.html?LANG=ru&DOMAIN=example.bitrix24.ru")
    await page.get_by_label("Ссылка для входа").fill(await stack.signin_link("100"))
    await page.get_by_role("button", name="Войти").click()
    await expect(page.get_by_role("status")).to_have_text("Анна Смирнова · доб. 100")
    await expect(page.locator("#title")).to_have_text("Звонки на ваш телефон")
    assert await page.title() == "callbridge · карточка звонящего"
    await page.screenshot(path=artifacts / "bitrix24-ru.png")

    async with httpx.AsyncClient() as http:
        code = (await stack.signin_link("101")).rpartition("code=")[2]
        session = (await http.post(f"{stack.url}/v1/sessions/exchange", json={"code": code})).json()
    i18n = (WEB / "crm" / "amocrm" / "i18n" / "ru.json").read_text("utf-8")
    await page.goto(f"{stack.url}/healthz")
    await page.set_content("<html><head></head><body><h1>amoCRM</h1></body></html>")
    await page.evaluate(
        """([base, token, strings]) => {
          window.AMOCRM = { lang_id: "ru" };
          window.define = (deps, factory) => {
            const widget = new (factory(null))();
            widget.get_settings = () => ({ gateway_url: base, tenant: "demo" });
            widget.$authorizedAjax = () => Promise.resolve({ token });
            widget.i18n = (section) => JSON.parse(strings)[section];
            widget.callbacks.init();
          };
        }""",
        [stack.url, session["token"], i18n],
    )
    await page.add_script_tag(content=(WEB / "crm" / "amocrm" / "script.js").read_text())
    panel = page.get_by_role("complementary", name="Карточки звонящих callbridge")
    await expect(panel.get_by_role("status")).to_have_text(
        "Борис Петров · доб. 101", timeout=10_000
    )
    await context.close()
