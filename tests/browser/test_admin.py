"""The operators' dashboard in real Chromium: feeds, curtain, mode, kick, tokens, audit log."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pagetools import collect_errors, shot, wait_playing
from peers import publish, watch
from playwright.async_api import Browser

from window.app import Server

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


async def test_admin_dashboard(browser: Browser, relay: Server,
                               mint_token: Callable[..., str]) -> None:
    pub, _ = await publish(relay.url, "bochum", mint_token("camera", "bochum"))
    guest = await watch(relay.url, "bochum", mint_token("viewer", "bochum", subject="guest"))
    page = await browser.new_page(viewport={"width": 1920, "height": 1080})
    errors = collect_errors(page)
    try:
        await page.goto(f"{relay.url}/admin#token={mint_token('admin', subject='ops-anna')}")
        bochum = page.locator('article[data-site="bochum"]')
        await bochum.wait_for()
        assert await page.locator("article.site").count() == 2
        await wait_playing(page, 'article[data-site="bochum"] video')
        await wait_playing(page, 'article[data-site="tsukuba"] video', n=3)
        await page.wait_for_function(
            "() => document.querySelector('article[data-site=bochum]').dataset.state === 'live'")
        # health: camera and the guest among the sessions (after a status poll)
        await page.wait_for_selector('article[data-site="bochum"] td:has-text("guest")',
                                     timeout=5000)
        assert "connected" in (await bochum.locator(".health").text_content() or "")

        # the big curtain button: the feed is paused (well within a second on a quiet machine;
        # the bound here is loose so that a loaded CI machine does not fail it), and audited
        curtain = bochum.locator("button.curtain")
        await curtain.click()
        await page.wait_for_function(
            "() => document.querySelector('article[data-site=bochum]').dataset.state === 'paused'",
            timeout=5000, polling=50)
        await guest.wait_for(lambda img: img.mean() < 80, 5)
        assert await curtain.get_attribute("aria-pressed") == "true"
        await curtain.click()
        await page.wait_for_function(
            "() => document.querySelector('article[data-site=bochum]').dataset.state === 'live'",
            timeout=2000)

        # privacy mode; 'off' is not even offered on a normal relay
        modes = await bochum.locator("select.mode option").all_text_contents()
        assert "off" not in modes and "faces" in modes
        await bochum.locator("select.mode").select_option("faces")
        await page.wait_for_selector('#audit tr[data-action="privacy.set"]', timeout=10000)
        assert str(relay.relay.feed("bochum").privacy.mode) == "faces"

        # kick the guest
        row = bochum.locator('tr:has(td:has-text("guest"))')
        await row.locator("button").click()
        await page.wait_for_selector('#audit tr[data-action="session.kick"]', timeout=10000)
        assert relay.relay.viewers_of("bochum") == [] or all(
            s.grant.subject != "guest" for s in relay.relay.viewers_of("bochum"))

        # mint a screen token: a copyable link that opens the kiosk page
        await page.select_option("#mint select[name=role]", "screen")
        await page.select_option("#mint-site", "tsukuba")
        await page.fill("#mint input[name=subject]", "screen-station-1")
        await page.click("#mint button[type=submit]")
        await page.wait_for_selector("#mint-result:not(.hidden)")
        link = await page.text_content("#mint-link") or ""
        assert link.startswith(f"{relay.url}/screen/tsukuba#token=")
        await page.wait_for_selector("#mint-qr svg")  # a QR code of that link
        jti = await page.text_content("#mint-jti") or ""
        await page.wait_for_selector('#audit tr[data-action="token.mint"]', timeout=10000)

        # revoke it
        await page.fill("#revoke input[name=jti]", jti)
        await page.click("#revoke button[type=submit]")
        await page.wait_for_selector('#audit tr[data-action="token.revoke"]', timeout=10000)
        actions = await page.locator("#audit tr").evaluate_all(
            "rows => rows.map(r => r.dataset.action)")
        assert actions[:6] == ["token.revoke", "token.mint", "session.kick", "privacy.set",
                               "curtain.up", "curtain.down"]
        who = await page.locator("#audit tr td:nth-child(2)").first.text_content() or ""
        assert who.startswith("ops-anna#")
        await page.evaluate("window.scrollTo(0, 0)")
        await shot(page, "admin.png")
        await page.set_viewport_size({"width": 1920, "height": 2000})
        await shot(page, "admin-full.png")
        assert errors == []
    finally:
        await page.close()
        await guest.close()
        await pub.pc.close()
