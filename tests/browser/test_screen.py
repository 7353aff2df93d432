"""The kiosk page in real Chromium: the partner full-screen, slates, and recovery by itself."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from datetime import timedelta

import jwt
import pytest
from pagetools import collect_errors, frames, shot, wait_attr, wait_brightness, wait_playing
from peers import publish
from playwright.async_api import Browser

from window.app import Server
from window.sites import DAYS, parse_hours

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
HD = {"width": 1920, "height": 1080}


async def test_screen_shows_partner_with_slates(browser: Browser, relay: Server,
                                                mint_token: Callable[..., str]) -> None:
    pub, _ = await publish(relay.url, "bochum", mint_token("camera", "bochum"))
    page = await browser.new_page(viewport=HD)
    errors = collect_errors(page)
    try:
        # a screen standing in tsukuba shows bochum (told to speak English by its link: the
        # Japanese it speaks by default is checked in test_i18n_pages.py)
        await page.goto(f"{relay.url}/screen/tsukuba#token={mint_token('screen', 'tsukuba')}"
                        "&lang=en")
        await wait_playing(page, "#video")
        await wait_attr(page, "feedState", "live")
        await wait_brightness(page, above=150, sel="#video")
        assert await page.text_content("#city") == "Bochum"
        local = relay.relay.clocks["bochum"].now().strftime("%H:%M")
        assert (await page.text_content("#clock") or "")[:4] == local[:4]
        assert await page.get_attribute("#slate", "aria-hidden") == "true"
        cursor = await page.evaluate("getComputedStyle(document.body).cursor")
        assert cursor == "none"
        assert await page.locator("button, a, input").count() == 0  # no controls
        await shot(page, "screen.png")

        await pub.pc.close()
        await wait_attr(page, "feedState", "offline", 5)
        assert await page.get_attribute("#slate", "aria-hidden") == "false"
        assert "offline" in (await page.text_content("#slate") or "")
        await asyncio.sleep(0.7)  # let the overlay fade in for the picture
        await shot(page, "screen-offline.png")
        pub, _ = await publish(relay.url, "bochum", mint_token("camera", "bochum"))
        await wait_attr(page, "feedState", "live", 5)
        await wait_brightness(page, above=150, sel="#video", timeout=5)

        # outside opening hours: the calm slate says when the partner opens (local time)
        clock = relay.relay.clocks["bochum"]
        later = clock.now() + timedelta(hours=3)
        day = DAYS[later.weekday()]
        clock.spans = parse_hours([f"{day} {later:%H}:00-{later:%H}:30"])
        await wait_attr(page, "feedState", "closed", 3)
        assert f"Opens {day.capitalize()} {later:%H}:00" in (await page.text_content("#slate")
                                                           or "")
        await asyncio.sleep(0.7)
        await shot(page, "screen-closed.png")
        clock.spans = []
        await wait_attr(page, "feedState", "live", 3)
        assert errors == []
    finally:
        await page.close()
        await pub.pc.close()


async def test_screen_recovers_from_server_restart(browser: Browser, relay: Server,
                                                   mint_token: Callable[..., str]) -> None:
    pub, _ = await publish(relay.url, "bochum", mint_token("camera", "bochum"))
    page = await browser.new_page(viewport={"width": 960, "height": 540})
    again: Server | None = None
    try:
        await page.goto(f"{relay.url}/screen/tsukuba#token={mint_token('screen', 'tsukuba')}")
        await wait_playing(page, "#video")
        await wait_brightness(page, above=150, sel="#video")
        port = relay.port
        await pub.pc.close()
        await relay.close()
        await asyncio.sleep(1.5)  # the relay is gone for a while
        cfg = dataclasses.replace(relay.cfg,
                                  server=dataclasses.replace(relay.cfg.server, port=port))
        again = Server(cfg)
        await again.start()
        restarted = time.monotonic()
        pub, _ = await publish(again.url, "bochum", mint_token("camera", "bochum"))
        await wait_attr(page, "feedState", "live", 20)
        await wait_brightness(page, above=150, sel="#video", timeout=20)
        before = await frames(page, "#video")
        await wait_playing(page, "#video", n=10, timeout=10)
        assert await frames(page, "#video") > before
        assert len(again.relay.viewers_of("bochum")) == 1
        print(f"kiosk recovered {time.monotonic() - restarted:.1f} s after the restart")
    finally:
        await page.close()
        await pub.pc.close()
        if again is not None:
            await again.close()


async def test_screen_renews_token_and_publishes_camera(browser: Browser, relay: Server,
                                                        mint_token: Callable[..., str]) -> None:
    screen = mint_token("screen", "bochum", ttl_s=20)
    camera = mint_token("camera", "bochum")
    page = await browser.new_page(viewport={"width": 960, "height": 540})
    try:
        await page.goto(f"{relay.url}/screen/bochum#token={screen}&camera={camera}")
        # two-way: the page's own (fake) camera becomes bochum's feed
        deadline = time.monotonic() + 15
        while str(relay.relay.feed("bochum").state()) != "live":
            assert time.monotonic() < deadline, "the screen's camera never went live"
            await asyncio.sleep(0.2)
        # the token is past half its life at once (20 s): renewed, same id, longer life
        await page.wait_for_function(f"() => !location.hash.includes({screen[-20:]!r})",
                                     timeout=10000)
        fragment = await page.evaluate("location.hash")
        renewed = fragment.split("token=")[1].split("&")[0]
        old = jwt.decode(screen, options={"verify_signature": False})
        new = jwt.decode(renewed, options={"verify_signature": False})
        assert new["jti"] == old["jti"] and new["exp"] > old["exp"]
        assert f"camera={camera}" in fragment
        await wait_playing(page, "#video")  # it shows tsukuba's (offline) slate meanwhile
    finally:
        await page.close()
