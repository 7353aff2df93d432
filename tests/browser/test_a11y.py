"""Accessibility, measured by axe-core in real Chromium on the live pages: no finding at all
on /view, /screen and /admin, at desktop and phone sizes (with video playing, a session row,
a minted link: what an operator really sees)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pagetools import axe_findings, wait_attr, wait_playing
from peers import publish
from playwright.async_api import Browser

from window.app import Server

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("size", list(SIZES))
async def test_view_has_no_axe_findings(browser: Browser, relay: Server,
                                        mint_token: Callable[..., str], size: str) -> None:
    pub, _ = await publish(relay.url, "bochum", mint_token("camera", "bochum"))
    page = await browser.new_page(viewport=SIZES[size])
    try:
        await page.goto(f"{relay.url}/view/bochum#token={mint_token('viewer', 'bochum')}")
        await wait_playing(page)
        await wait_attr(page, "feedState", "live")
        assert await axe_findings(page) == []
        # and with a message over the video
        await page.goto("about:blank")
        await page.goto(f"{relay.url}/view/bochum#token=broken")
        await page.wait_for_selector("#fatal:not(.hidden)")
        assert await axe_findings(page) == []
    finally:
        await page.close()
        await pub.pc.close()


@pytest.mark.parametrize("size", list(SIZES))
async def test_screen_has_no_axe_findings(browser: Browser, relay: Server,
                                          mint_token: Callable[..., str], size: str) -> None:
    page = await browser.new_page(viewport=SIZES[size])
    try:
        # no camera in bochum: the tsukuba screen shows its offline slate
        await page.goto(f"{relay.url}/screen/tsukuba#token={mint_token('screen', 'tsukuba')}")
        await wait_attr(page, "feedState", "offline")
        assert await axe_findings(page) == []
        pub, _ = await publish(relay.url, "bochum", mint_token("camera", "bochum"))
        try:
            await wait_attr(page, "feedState", "live", 5)
            await wait_playing(page, "#video")
            assert await axe_findings(page) == []
        finally:
            await pub.pc.close()
    finally:
        await page.close()


@pytest.mark.parametrize("size", list(SIZES))
async def test_admin_has_no_axe_findings(browser: Browser, relay: Server,
                                         mint_token: Callable[..., str], size: str) -> None:
    pub, _ = await publish(relay.url, "bochum", mint_token("camera", "bochum"))
    page = await browser.new_page(viewport=SIZES[size])
    try:
        await page.goto(f"{relay.url}/admin#token={mint_token('admin', subject='ops')}")
        await page.wait_for_selector('article[data-site="bochum"] tbody.sessions tr',
                                     timeout=10000)
        await page.select_option("#mint-site", "tsukuba")
        await page.click("#mint button[type=submit]")
        await page.wait_for_selector("#mint-qr svg")
        await page.wait_for_selector('#audit tr[data-action="token.mint"]')
        assert await axe_findings(page) == []
    finally:
        await page.close()
        await pub.pc.close()
