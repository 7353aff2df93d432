"""What the tier tests share: a relay whose feed is pushed into Janus tier instances."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from janus import JanusTier
from peers import PatternTrack, Viewer, publish, watch_url
from servers import running, small_config

from window.app import Server
from window.auth.roles import Role
from window.auth.tokens import mint


def tier_config(tmp: Path, tiers: list[JanusTier], site: str = "bochum", **tier: Any
                ) -> Any:
    sites: dict[str, Any] = {
        "bochum": {"timezone": "Europe/Berlin", "partner": "tsukuba", "title": "Bochum"},
        "tsukuba": {"timezone": "Asia/Tokyo", "partner": "bochum", "title": "Tsukuba"},
    }
    sites[site]["tier"] = {"whep_urls": [t.whep_url(site) for t in tiers],
                           "token": tiers[0].whep_token, **tier}
    sites[site]["push"] = [{"url": t.whip_url(site), "token": t.push_token} for t in tiers]
    return small_config(tmp, sites=sites)


def pushes(n: int) -> int:
    """Viewers of the feed that are pushes into ``n`` tier instances (one each)."""
    return n


def viewer_token(server: Server, site: str | None = None, role: str = "viewer",
                 ttl_s: int = 600) -> str:
    return mint(server.cfg, server.keys, role=Role(role), ttl_s=ttl_s, site=site)[0]


@asynccontextmanager
async def relay_feeding(tmp: Path, tiers: list[JanusTier], **tier: Any
                        ) -> AsyncIterator[tuple[Server, PatternTrack]]:
    """A relay whose bochum feed (a camera of level 200) is pushed into every tier."""
    async with AsyncExitStack() as stack:
        server = await stack.enter_async_context(running(tier_config(tmp, tiers, **tier)))
        peer, track = await publish(server.url, "bochum", viewer_token(server, "bochum",
                                                                       "camera"))
        stack.push_async_callback(peer.pc.close)
        assert isinstance(track, PatternTrack)
        await wait_tier_fed(tiers)
        yield server, track


async def wait_tier_fed(tiers: list[JanusTier], site: str = "bochum",
                        timeout: float = 30) -> None:
    """Every tier instance plays the site (a direct WHEP viewer there decodes frames)."""
    for t in tiers:
        deadline = time.monotonic() + timeout
        while True:
            try:
                v = await watch_url(t.whep_url(site), t.whep_token)
                try:
                    await v.wait_frames(3, timeout=5)
                    break
                finally:
                    await v.close()
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)


async def bright(v: Viewer) -> None:
    """The viewer decodes frames of the camera's picture (level 200, pixelated: bright)."""
    await v.wait_frames(10)
    await v.wait_for(lambda img: img.mean() > 120)


async def post(url: str, token: str | None, sdp: str = "v=0\r\n",
               redirects: bool = False) -> aiohttp.ClientResponse:
    headers = {"Content-Type": "application/sdp"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with aiohttp.ClientSession() as http, http.post(
            url, data=sdp, headers=headers, allow_redirects=redirects) as resp:
        await resp.read()
        return resp


async def offer_sdp() -> str:
    from aiortc import RTCPeerConnection

    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return str(sdp)
