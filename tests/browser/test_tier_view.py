"""Our own /view page in real Chromium, played from the Janus audience tier: handed over by
the relay's door (proxy) and sent there by a 307; and a plain browser WHEP player straight at
the tier."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from janus import JanusTier, janus_tier
from pagetools import collect_errors, wait_brightness, wait_playing
from playwright.async_api import Browser
from tierkit import pushes, relay_feeding, viewer_token

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(
  `${e.violatedDirective} ${e.blockedURI}`));
"""


@pytest.fixture(scope="module")
def tier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JanusTier]:
    with janus_tier(tmp_path_factory.mktemp("janus"), ["bochum", "tsukuba"]) as t:
        yield t


@pytest.mark.parametrize("handoff", ["proxy", "redirect"])
async def test_the_view_page_plays_from_the_tier(browser: Browser, tier: JanusTier,
                                                 tmp_path: Path, handoff: str) -> None:
    async with relay_feeding(tmp_path, [tier], handoff=handoff) as (server, _):
        page = await browser.new_page()
        await page.add_init_script(WATCH_CSP)  # the 307 must pass the page's connect-src
        errors = collect_errors(page)
        try:
            await page.goto(f"{server.url}/view/bochum#token={viewer_token(server)}")
            await wait_playing(page)
            await wait_brightness(page, above=120)
            assert len(server.relay.feed("bochum").viewers) == pushes(1)  # not the relay
            assert tier.stats()["bochum"] >= 1
            if handoff == "proxy":
                assert len(server.tier.viewers_of("bochum")) == 1
            assert await page.evaluate("window.__csp") == []
            assert errors == []
        finally:
            await page.close()


PLAYER = """async ([url, token]) => {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video', {direction: 'recvonly'});
  const v = document.createElement('video');
  v.muted = true; v.autoplay = true; document.body.appendChild(v);
  pc.ontrack = (e) => { v.srcObject = new MediaStream([e.track]); };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((r) => setTimeout(r, 500));
  const r = await fetch(url, {method: 'POST', body: pc.localDescription.sdp,
    headers: {'Content-Type': 'application/sdp', Authorization: 'Bearer ' + token}});
  if (r.status !== 201) return 'status ' + r.status;
  await pc.setRemoteDescription({type: 'answer', sdp: await r.text()});
  return 'ok';
}"""


async def test_a_browser_whep_player_plays_straight_from_the_tier(
        browser: Browser, tier: JanusTier, tmp_path: Path) -> None:
    async with relay_feeding(tmp_path, [tier]):
        page = await browser.new_page()
        try:
            await page.goto(tier.whep_base + "/healthcheck")
            assert await page.evaluate(PLAYER, [tier.whep_url("bochum"), tier.whep_token]) == "ok"
            await wait_playing(page)
            await wait_brightness(page, above=120)
        finally:
            await page.close()


async def test_the_admin_page_shows_the_tier(browser: Browser, tier: JanusTier,
                                             tmp_path: Path) -> None:
    async with relay_feeding(tmp_path, [tier]) as (server, _):
        page = await browser.new_page()
        try:
            await page.goto(f"{server.url}/view/bochum#token={viewer_token(server)}")
            await wait_playing(page)
            await server.tier.poll_once()
            admin = await browser.new_page(viewport={"width": 1400, "height": 1000})
            await admin.goto(f"{server.url}/admin#token={viewer_token(server, role='admin')}")
            row = admin.locator("dt:text('Audience tier') + dd").first
            await row.wait_for(timeout=10000)
            await admin.wait_for_function(
                "() => [...document.querySelectorAll('dd')].some(d => "
                "/connected · 1\\/1 instances · [1-9][0-9]* viewers there/.test(d.textContent))",
                timeout=10000)
            text = await row.text_content() or ""
            assert "always, proxy" in text
            assert await admin.locator("td:text('tier')").count() == 1  # the handed session
            await admin.close()
        finally:
            await page.close()
