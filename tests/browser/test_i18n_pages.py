"""Every page in German, Japanese and English in real Chromium: `<html lang>` and the words.

The kiosk speaks the language of the site it stands in (config `sites.*.language`), the viewer
page the browser's language (with a switch that is remembered), the admin page the operator's
choice. The browser's language is set the way a person's is: Chromium's locale.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from pagetools import collect_errors, shot, wait_attr
from peers import publish
from playwright.async_api import Browser, Page

from window.app import Server
from window.sites import DAYS, parse_hours

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
HD = {"width": 1920, "height": 1080}
LOCALES = {"de": "de-DE", "ja": "ja-JP", "en": "en-US"}
# a few words of each page, per language
VIEW = {"de": ("Ortszeit", "Vollbild", "Sprache"), "ja": ("現地時間", "全画面", "言語"),
        "en": ("Local time", "Full screen", "Language")}
ADMIN = {"de": ("Virtuelles Fenster · Betrieb", "Vorhang zu · Bochum", "Schlüssel erstellen"),
         "ja": ("バーチャルウィンドウ · 運営", "カーテンを閉じる · ボーフム", "キーを作成"),
         "en": ("Virtual Window · operators", "Curtain down · Bochum", "Create token")}


async def _lang(page: Page) -> str:
    return str(await page.evaluate("document.documentElement.lang"))


async def test_screens_speak_their_sites_language(browser: Browser, relay: Server,
                                                  mint_token: Callable[..., str]) -> None:
    """Tsukuba's screen in Japanese, Bochum's in German, whatever the browser's locale; a
    link may say otherwise (`&lang=en`)."""
    for here, lang, city, native, offline in [
            ("tsukuba", "ja", "ボーフム", "Bochum", "ボーフムのカメラは現在停止しています"),
            ("bochum", "de", "Tsukuba", "つくば", "Die Kamera in Tsukuba ist gerade aus"),
            ("tsukuba", "en", "Bochum", "", "The camera in Bochum is offline")]:
        context = await browser.new_context(locale="en-US", viewport=HD)
        page = await context.new_page()
        errors = collect_errors(page)
        try:
            url = f"{relay.url}/screen/{here}#token={mint_token('screen', here)}"
            await page.goto(url + ("&lang=en" if lang == "en" else ""))
            await wait_attr(page, "feedState", "offline", 10)
            await page.wait_for_function("(l) => document.documentElement.lang === l", arg=lang)
            assert await page.text_content("#city") == city
            assert await page.text_content("#city-native") == native
            if native:  # the partner's own name, marked as its language
                assert await page.get_attribute("#city-native", "lang") in ("de", "ja")
            assert offline in (await page.text_content("#slate") or "")
            local = {"ja": "現地時間", "de": "Ortszeit", "en": "local time"}[lang]
            assert await page.text_content("#local-time") == local
            # large type for a few metres: the city's name ≥ 5 % of the screen's height, white
            # on (nearly) black
            size, colour, back = await page.eval_on_selector(
                ".label", "e => { const s = getComputedStyle(e); "
                "return [parseFloat(getComputedStyle(document.getElementById('city')).fontSize),"
                " s.color, s.backgroundColor]; }")
            assert size >= 0.05 * HD["height"], size
            assert colour == "rgb(255, 255, 255)" and back.startswith("rgba(0, 0, 0, 0.8")
            assert errors == []
        finally:
            await context.close()


async def test_tsukuba_screen_says_when_bochum_opens_in_japanese(
        browser: Browser, relay: Server, mint_token: Callable[..., str]) -> None:
    pub, _ = await publish(relay.url, "bochum", mint_token("camera", "bochum"))
    page = await browser.new_page(viewport=HD)
    try:
        await page.goto(f"{relay.url}/screen/tsukuba#token={mint_token('screen', 'tsukuba')}")
        await wait_attr(page, "feedState", "live", 10)
        clock = relay.relay.clocks["bochum"]
        later = clock.now() + timedelta(hours=3)
        day = DAYS[later.weekday()]
        clock.spans = parse_hours([f"{day} {later:%H}:00-{later:%H}:30"])
        await wait_attr(page, "feedState", "closed", 3)
        weekday = "月火水木金土日"[later.weekday()]
        text = await page.text_content("#slate") or ""
        assert "ボーフムは現在、公開時間外です" in text
        assert f"{later:%H}:00 ({weekday})" in text, text  # Intl's ja-JP: "08:00 (土)"
        clock.spans = []
    finally:
        await page.close()
        await pub.pc.close()


@pytest.mark.parametrize("lang", list(LOCALES))
async def test_view_follows_the_browser_language(browser: Browser, relay: Server,
                                                 mint_token: Callable[..., str],
                                                 lang: str) -> None:
    context = await browser.new_context(locale=LOCALES[lang], viewport={"width": 1280,
                                                                        "height": 800})
    page = await context.new_page()
    errors = collect_errors(page)
    relay.cfg.sites["bochum"].hours = ["mon-fri 08:00-22:00"]  # shown; the clock stays open
    try:
        await page.goto(f"{relay.url}/view/bochum#token={mint_token('viewer', 'bochum')}")
        await wait_attr(page, "feedState", "offline", 10)
        assert await _lang(page) == lang
        header = await page.text_content("header") or ""
        for words in VIEW[lang]:
            assert words in header, (words, header)
        title = {"de": "Bochum", "ja": "ボーフム", "en": "Bochum"}[lang]
        assert await page.text_content("#title") == title
        notice = await page.text_content("#notice") or ""
        assert {"de": "Die Kamera in Bochum", "ja": "ボーフムのカメラ",
                "en": "The camera in Bochum"}[lang] in notice
        assert await page.text_content("#hours") == {
            "de": "Mo–Fr 08:00–22:00", "ja": "月–金 08:00–22:00",
            "en": "Mon–Fri 08:00–22:00"}[lang]  # Intl's weekday names
        assert await page.eval_on_selector("#lang", "s => s.value") == lang
        assert errors == []
    finally:
        await context.close()


async def test_view_language_switch_rewrites_the_page_and_is_remembered(
        browser: Browser, relay: Server, mint_token: Callable[..., str]) -> None:
    context = await browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    try:
        url = f"{relay.url}/view/bochum#token={mint_token('viewer', 'bochum')}"
        await page.goto(url)
        await wait_attr(page, "feedState", "offline", 10)
        assert await _lang(page) == "de"
        await page.wait_for_function("() => document.getElementById('video').srcObject !== null")
        await page.evaluate("window.__stream = document.getElementById('video').srcObject")
        await page.select_option("#lang", "ja")
        await page.wait_for_function("() => document.documentElement.lang === 'ja'")
        assert "現地時間" in (await page.text_content("header") or "")
        assert "ボーフムのカメラ" in (await page.text_content("#notice") or "")
        # the same page and the same video stream: the switch did not reload or reconnect
        assert await page.evaluate(
            "window.__stream === document.getElementById('video').srcObject")
        await page.goto("about:blank")
        await page.goto(url)
        await page.wait_for_function("() => document.documentElement.lang === 'ja'")
        await wait_attr(page, "feedState", "offline", 10)
        assert "現地時間" in (await page.text_content("header") or "")
    finally:
        await context.close()


@pytest.mark.parametrize("lang", list(LOCALES))
async def test_admin_in_each_language(browser: Browser, relay: Server,
                                      mint_token: Callable[..., str], lang: str) -> None:
    context = await browser.new_context(locale=LOCALES[lang], viewport=HD)
    page = await context.new_page()
    errors = collect_errors(page)
    try:
        await page.goto(f"{relay.url}/admin#token={mint_token('admin', subject='ops')}")
        await page.wait_for_selector('article[data-site="bochum"] .health dt')
        assert await _lang(page) == lang
        text = await page.text_content("body") or ""
        for words in ADMIN[lang]:
            assert words in text, words
        assert errors == []
    finally:
        await context.close()


async def test_admin_language_is_the_operators_choice(browser: Browser, relay: Server,
                                                      mint_token: Callable[..., str]) -> None:
    context = await browser.new_context(locale="en-US", viewport=HD)
    page = await context.new_page()
    try:
        url = f"{relay.url}/admin#token={mint_token('admin', subject='ops')}"
        await page.goto(url)
        curtain = page.locator('article[data-site="tsukuba"] button.curtain')
        await page.wait_for_function(
            "() => document.querySelector('article[data-site=tsukuba] button.curtain')"
            "?.textContent === 'Curtain down · Tsukuba'")
        await page.select_option("#lang", "de")
        await page.wait_for_function("() => document.documentElement.lang === 'de'")
        assert await curtain.text_content() == "Vorhang zu · Tsukuba"
        assert "Kamera" in (await page.text_content('article[data-site="tsukuba"] .health')
                            or "")
        await page.goto("about:blank")
        await page.goto(url)  # remembered
        await page.wait_for_function(
            "() => document.querySelector('article[data-site=tsukuba] button.curtain')"
            "?.textContent === 'Vorhang zu · Tsukuba'")
        await page.select_option("#lang", "ja")
        await page.wait_for_function(
            "() => document.querySelector('article[data-site=tsukuba] button.curtain')"
            "?.textContent === 'カーテンを閉じる · つくば'")
        await shot(page, "admin-ja.png")
    finally:
        await context.close()


@pytest.mark.parametrize("lang", list(LOCALES))
async def test_index_in_each_language(browser: Browser, relay: Server, lang: str) -> None:
    context = await browser.new_context(locale=LOCALES[lang])
    page = await context.new_page()
    try:
        await page.goto(f"{relay.url}/")
        await page.wait_for_function("(l) => document.documentElement.lang === l", arg=lang)
        words = {"de": "Virtuelles Fenster", "ja": "バーチャルウィンドウ", "en": "Virtual Window"}
        assert await page.text_content("h1") == words[lang]
    finally:
        await context.close()
