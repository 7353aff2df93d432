"""A public screen in Tsukuba, on Tsukuba's own relay, shows Bochum pushed from Bochum's relay."""

from __future__ import annotations

from pathlib import Path

import pytest
from pagetools import collect_errors, frames, shot, wait_attr, wait_brightness, wait_playing
from peers import PatternTrack, publish
from playwright.async_api import Browser
from two_relays import SceneTrack, token, two_relays

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


async def test_screen_on_the_far_relay_shows_the_pushed_feed(browser: Browser,
                                                              tmp_path: Path) -> None:
    async with two_relays(tmp_path) as pair:
        pub, track = await publish(pair.origin.url, "bochum",
                                   token(pair.origin, "camera", "bochum"))
        page = await browser.new_page(viewport={"width": 960, "height": 540})
        errors = collect_errors(page)
        try:
            await page.goto(f"{pair.far.url}/screen/tsukuba#token="
                            f"{token(pair.far, 'screen', 'tsukuba')}")
            await wait_playing(page, "#video")
            await wait_attr(page, "feedState", "live")
            await wait_brightness(page, above=150, sel="#video", timeout=10)
            assert pair.far.relay.feeds["bochum"].snapshot_source() == "relay"
            await shot(page, "screen-two-relays.png")
            # the camera's picture changes in Bochum: the screen in Tsukuba follows
            assert isinstance(track, PatternTrack)
            track.level = 40
            await wait_brightness(page, below=100, sel="#video", timeout=5)
            # Bochum's relay restarts: the screen keeps playing what arrives afterwards
            await pub.pc.close()
            await pair.restart_origin()
            pub, track = await publish(pair.origin.url, "bochum",
                                       token(pair.origin, "camera", "bochum"))
            await wait_brightness(page, above=150, sel="#video", timeout=20)
            before = await frames(page, "#video")
            await wait_playing(page, "#video", n=10, timeout=10)
            assert await frames(page, "#video") > before
            assert errors == []
        finally:
            await page.close()
            await pub.pc.close()


async def test_admin_pages_show_the_link_and_the_audit_alert(browser: Browser,
                                                             tmp_path: Path) -> None:
    async with two_relays(tmp_path) as pair:
        pub, _ = await publish(pair.origin.url, "bochum", token(pair.origin, "camera", "bochum"))
        page = await browser.new_page(viewport={"width": 1600, "height": 1000})
        errors = collect_errors(page)
        try:
            # Bochum's operators see their push
            await page.goto(f"{pair.origin.url}/admin#token={token(pair.origin, 'admin')}")
            link = page.locator('article[data-site="bochum"] .link')
            await page.wait_for_selector(
                'article[data-site="bochum"] .link dd:has-text("connected")', timeout=10000)
            assert "Push to" in (await link.text_content() or "")
            # Tsukuba's operators see the feed arriving from a relay, audit clean ...
            await page.goto(f"{pair.far.url}/admin#token={token(pair.far, 'admin')}")
            bochum = page.locator('article[data-site="bochum"]')
            await page.wait_for_selector(
                'article[data-site="bochum"] .link dd:has-text("forwarded as it arrives")',
                timeout=10000)
            assert await bochum.get_attribute("data-audit") == "clean"
            # ... until a stolen relay token pushes faces: the alert, then the button
            await pub.pc.close()
            await pair.origin.close()
            rogue, _ = await publish(pair.far.url, "bochum",
                                     token(pair.far, "relay", "bochum", "rogue"), SceneTrack())
            await page.wait_for_selector('article[data-site="bochum"][data-audit="alert"]',
                                         timeout=20000)
            assert "rogue" in (await bochum.locator(".audit-alert").text_content() or "")
            await shot(page, "admin-audit-alert.png")
            await rogue.pc.close()
            await bochum.locator("button.audit-clear").click()
            await page.wait_for_selector('article[data-site="bochum"][data-audit="clean"]',
                                         timeout=5000)
            await page.wait_for_selector('#audit tr[data-action="audit.clear"]', timeout=5000)
            assert pair.far.relay.feeds["bochum"].audit_alert is None
            assert errors == []
        finally:
            await page.close()
            await pub.pc.close()
