"""A screen behind a firewall: Chromium restricted to TURN relay candidates still plays the
partner's feed, with ICE servers and credentials it got from the relay (RFC 9725 Link)."""

from __future__ import annotations

from pathlib import Path

import pytest
from coturn import coturn, turn_relay_config
from pagetools import collect_errors, wait_brightness, wait_playing
from peers import PatternTrack, publish
from playwright.async_api import Browser

from window.app import Server
from window.auth.roles import Role
from window.auth.tokens import mint

# Keep every RTCPeerConnection the page makes, to read its stats.
RECORD_PEERS = """(() => { const Native = window.RTCPeerConnection; window.__peers = [];
  window.RTCPeerConnection = function (...args) { const pc = new Native(...args);
    window.__peers.push(pc); return pc; };
  window.RTCPeerConnection.prototype = Native.prototype; })();"""

PEER_STATES = """async () => { const out = [];
  for (const pc of window.__peers) { const c = [];
    (await pc.getStats()).forEach((s) => { if (s.type === 'local-candidate'
      || s.type === 'remote-candidate') {
        c.push(`${s.type[0]}:${s.candidateType}:${s.address}:${s.port}`); }
      if (s.type === 'candidate-pair') c.push(`pair:${s.state}`); });
    out.push({ice: pc.iceConnectionState, gathering: pc.iceGatheringState,
              conn: pc.connectionState, candidates: c}); }
  return out; }"""

SELECTED_LOCAL_TYPES = """async () => { const out = [];
  for (const pc of window.__peers) { if (pc.connectionState !== 'connected') continue;
    const stats = await pc.getStats(); const byId = new Map();
    stats.forEach((s) => byId.set(s.id, s));
    stats.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) {
      const pair = byId.get(s.selectedCandidatePairId);
      out.push(byId.get(pair.localCandidateId).candidateType); } }); }
  return out; }"""

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


async def test_screen_plays_through_turn_only(browser: Browser, tmp_path: Path) -> None:
    with coturn(tmp_path) as turn_url:
        cfg = turn_relay_config(tmp_path, turn_url)
        server = Server(cfg)
        await server.start()
        page = await browser.new_page()
        await page.add_init_script(RECORD_PEERS)
        errors = collect_errors(page)
        try:
            track = PatternTrack(320, 180)
            track.level = 220
            cam = mint(cfg, server.keys, role=Role.CAMERA, ttl_s=60, site="tsukuba")[0]
            pub, _ = await publish(server.url, "tsukuba", cam, track)
            screen = mint(cfg, server.keys, role=Role.SCREEN, ttl_s=600, site="bochum",
                          subject="kiosk-turn")[0]
            await page.goto(f"{server.url}/screen/bochum#token={screen}&ice=relay")
            try:
                await wait_playing(page, timeout=20)
            except AssertionError as e:  # say what ICE did: a failure here is hard to replay
                states = await page.evaluate(PEER_STATES)
                turn = (tmp_path / "turn.log").read_text(errors="replace")
                raise AssertionError(f"{e}; peers {states}; page errors {errors}; "
                                     f"turn.log tail {turn[-1500:]}") from None
            await wait_brightness(page, above=150)
            # the candidate pair carrying the video: its local end is a TURN relay candidate
            types = await page.evaluate(SELECTED_LOCAL_TYPES)
            assert types == ["relay"], types
            log = (tmp_path / "turn.log").read_text(errors="replace")
            # the page's own allocation, under the credentials minted for its token's subject
            assert ":kiosk-turn>: incoming packet ALLOCATE processed, success" in log
            assert not errors, errors
            await pub.pc.close()
        finally:
            await page.close()
            await server.close()
