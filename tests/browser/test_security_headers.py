"""Every page works under its Content-Security-Policy: real Chromium reports not one
``securitypolicyviolation`` on /view, /screen (two-way, with its own camera) and /admin, and
the pages carry the security headers (frame-ancestors, no-referrer, nosniff)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pagetools import collect_errors, wait_attr, wait_playing
from peers import ghost, publish
from playwright.async_api import Browser, Page

from window.app import Server

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(
  `${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


async def violations(page: Page) -> list[str]:
    return list(await page.evaluate("window.__csp"))


def check_headers(headers: dict[str, str]) -> None:
    csp = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert headers.get("referrer-policy") == "no-referrer"
    assert headers.get("x-content-type-options") == "nosniff"


async def test_pages_work_under_their_csp(browser: Browser, relay: Server,
                                          mint_token: Callable[..., str]) -> None:
    pub, _ = await publish(relay.url, "bochum", mint_token("camera", "bochum"))
    # a refused camera attempt, for the admin page's list
    assert (await ghost(relay.url, "/whip/bochum", mint_token("camera", "bochum")))[0] == 409
    context = await browser.new_context()
    await context.add_init_script(WATCH_CSP)
    try:
        view = await context.new_page()
        errors = collect_errors(view)
        resp = await view.goto(f"{relay.url}/view/bochum#token={mint_token('viewer')}")
        assert resp is not None
        check_headers(await resp.all_headers())
        await wait_playing(view)

        screen = await context.new_page()
        errors += collect_errors(screen)
        resp = await screen.goto(f"{relay.url}/screen/tsukuba"
                                 f"#token={mint_token('screen', 'tsukuba')}"
                                 f"&camera={mint_token('camera', 'tsukuba')}")
        assert resp is not None
        check_headers(await resp.all_headers())
        await wait_playing(screen, "#video" if await screen.locator("#video").count()
                           else "video")
        await wait_attr(screen, "publishing", "live", timeout=15)

        admin = await context.new_page()
        errors += collect_errors(admin)
        resp = await admin.goto(f"{relay.url}/admin#token={mint_token('admin')}")
        assert resp is not None
        check_headers(await resp.all_headers())
        await wait_playing(admin, 'article[data-site="bochum"] video')
        # the refused camera attempt is shown to the operator
        await admin.wait_for_selector('#refused tr[data-reason="camera_live"]', timeout=5000)
        # minting shows a QR code (an SVG parsed in the page)
        await admin.locator("#mint select[name=role]").select_option("viewer")
        await admin.locator("#mint button[type=submit]").click()
        await admin.wait_for_selector("#mint-qr svg", timeout=5000)

        for page in (view, screen, admin):
            assert await violations(page) == [], page.url
        assert errors == []
    finally:
        await context.close()
        await pub.pc.close()
