"""Every page loads without a single failed request in real Chromium: its favicon
included (the pages used to log a 404 for /favicon.ico)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
import pytest
from playwright.async_api import Browser, Response

from window.app import Server

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


async def test_pages_load_without_a_failed_request(browser: Browser, relay: Server,
                                                   mint_token: Callable[..., str]) -> None:
    pages = {"/": "", "/view/bochum": mint_token("viewer", "bochum"),
             "/screen/tsukuba": mint_token("screen", "tsukuba"), "/admin": mint_token("admin")}
    for path, token in pages.items():
        page = await browser.new_page()
        failed: list[str] = []
        icons: list[Response] = []

        def on_response(r: Response, failed: list[str] = failed,
                        icons: list[Response] = icons) -> None:
            if r.status >= 400:
                failed.append(f"{r.status} {r.url}")
            if "favicon" in r.url:
                icons.append(r)

        page.on("response", on_response)
        try:
            await page.goto(relay.url + path + (f"#token={token}" if token else ""))
            await page.wait_for_load_state("networkidle")
            for _ in range(40):  # the icon is fetched after the load
                if icons:
                    break
                await asyncio.sleep(0.05)
            assert not failed, f"{path}: {failed}"
            assert icons and icons[0].status == 200, f"{path}: no favicon fetched"
        finally:
            await page.close()


async def test_favicon_ico_is_served(relay: Server) -> None:
    async with aiohttp.ClientSession() as http, http.get(relay.url + "/favicon.ico") as r:
        assert r.status == 200
        assert r.content_type == "image/svg+xml"
        assert "<svg" in await r.text()
