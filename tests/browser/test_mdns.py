"""A real screen hides its addresses behind mDNS `.local` candidates (Chromium's default).
The relay still connects: by resolving them, or through peer-reflexive candidates."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from pagetools import CHROMIUM, FLAGS, wait_playing
from peers import publish
from playwright.async_api import async_playwright

from window.app import Server

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

# Chromium as a kiosk runs it: no switch that turns mDNS candidates off.
REAL_FLAGS = [f for f in FLAGS if "WebRtcHideLocalIpsWithMdns" not in f
              and "fake-ui" not in f]


async def test_view_connects_with_mdns_candidates(relay: Server,
                                                  mint_token: Callable[..., str]) -> None:
    pub, _ = await publish(relay.url, "bochum", mint_token("camera", "bochum"))
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=REAL_FLAGS)
        try:
            page = await browser.new_page()
            offers: list[str] = []
            page.on("request", lambda r: offers.append(r.post_data or "")
                    if r.method == "POST" and "/whep/" in r.url else None)
            started = time.monotonic()
            await page.goto(f"{relay.url}/view/bochum#token={mint_token('viewer')}")
            await wait_playing(page, timeout=20)
            assert time.monotonic() - started < 10
            assert offers and ".local" in offers[0], "Chromium offered no mDNS candidate"
        finally:
            await browser.close()
    await pub.pc.close()
