"""The audience tier with real Janus (Debian), simple-whip-server (Debian's JavaScript),
janus-whep-server (npm) and real aiortc peers: the relay feeds each Janus instance once and
hands the /view link's viewers over; the tier's door stays shut to anyone else."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from janus import JanusTier, janus_tier
from peers import delete, publish, watch, watch_url
from servers import running, small_config
from tierkit import (
    bright,
    offer_sdp,
    post,
    pushes,
    relay_feeding,
    tier_config,
    viewer_token,
    wait_tier_fed,
)

from window.auth.roles import Role
from window.auth.tokens import mint
from window.signalling.tier import JOIN_KEYFRAMES_S, mint_ticket

pytestmark = pytest.mark.asyncio(loop_scope="module")

SITES = ["bochum", "tsukuba"]


@pytest.fixture(scope="module")
def tiers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[JanusTier]]:
    """Two Janus instances, each with its WHIP and WHEP servers, for the whole module."""
    with janus_tier(tmp_path_factory.mktemp("janus-a"), SITES) as a, \
            janus_tier(tmp_path_factory.mktemp("janus-b"), SITES) as b:
        yield [a, b]


# 1. push interop ---------------------------------------------------------------------------------

async def test_the_relay_push_publishes_into_janus_and_a_janus_subscriber_receives_it(
        tiers: list[JanusTier], tmp_path: Path) -> None:
    async with relay_feeding(tmp_path, tiers[:1]) as (_server, track):
        v = await watch_url(tiers[0].whep_url("bochum"), tiers[0].whep_token)
        try:
            await bright(v)
            track.level = 40  # the camera darkens: the Janus subscriber sees it
            await v.wait_for(lambda img: img.mean() < 90)
        finally:
            await v.close()


# 2./3. the /view link, served by the tier -------------------------------------------------------

async def test_a_view_link_viewer_is_served_by_the_tier_not_the_relay(
        tiers: list[JanusTier], tmp_path: Path) -> None:
    async with relay_feeding(tmp_path, tiers[:1]) as (server, _):
        token = viewer_token(server)
        v = await watch(server.url, "bochum", token)
        try:
            assert v.peer.location.startswith("/whep/bochum/")  # our door, our session path
            await bright(v)
            assert len(server.relay.feed("bochum").viewers) == pushes(1)  # only the push
            assert tiers[0].stats()["bochum"] >= 1
            await server.tier.poll_once()
            status = server.tier.snapshot("bochum")
            assert status is not None and status["connected"] and status["open_here"] == 1
            assert await delete(server.url, v.peer.location, token) == 200
            assert server.tier.viewers_of("bochum") == []
        finally:
            await v.close()


async def test_a_bad_or_missing_token_gets_nothing_from_the_tier(
        tiers: list[JanusTier], tmp_path: Path) -> None:
    async with relay_feeding(tmp_path, tiers[:1]) as (server, _):
        sdp = await offer_sdp()
        before = tiers[0].stats()["bochum"]
        for token in (None, "not-a-token", viewer_token(server, ttl_s=-60),
                      viewer_token(server, "tsukuba")):
            resp = await post(server.url + "/whep/bochum", token, sdp)
            assert resp.status in (401, 403), (token, resp.status)
        # The tier's own door: no credential, a viewer's token, the relay's push token,
        # a forged or expired ticket: all 403.
        url = tiers[0].whep_url("bochum")
        for token in (None, viewer_token(server), tiers[0].push_token):
            assert (await post(url, token, sdp)).status == 403
        until = int(time.time()) + 600
        forged = mint_ticket("some-other-secret", "bochum", 60, until)
        expired = mint_ticket(tiers[0].whep_token, "bochum", -5, until)
        wrong_site = mint_ticket(tiers[0].whep_token, "tsukuba", 60, until)
        for ticket in (forged, expired, wrong_site, "garbage"):
            assert (await post(f"{url}?ticket={ticket}", None, sdp)).status == 403
        assert tiers[0].stats()["bochum"] == before
        assert server.tier.viewers_of("bochum") == []


async def test_screens_stay_on_the_relay(tiers: list[JanusTier], tmp_path: Path) -> None:
    async with relay_feeding(tmp_path, tiers[:1]) as (server, _):
        screen = viewer_token(server, "tsukuba", "screen")  # Tsukuba's screen shows Bochum
        v = await watch(server.url, "bochum", screen)
        try:
            await bright(v)
            assert len(server.relay.feed("bochum").viewers) == pushes(1) + 1  # and the screen
            assert server.tier.viewers_of("bochum") == []
        finally:
            await v.close()


async def test_overflow_sends_only_the_viewers_the_relay_has_no_room_for(
        tiers: list[JanusTier], tmp_path: Path) -> None:
    cfg = tier_config(tmp_path, tiers[:1], use="overflow")
    # Room for two viewer sessions (pushes are not sessions), one of them kept for screens
    # and operators (issue 14): one viewer-token viewer on the relay, the next to the tier.
    cfg.server.max_viewers_per_site = 2
    cfg.limits.reserved_per_site = 1
    async with running(cfg) as server:
        peer, _ = await publish(server.url, "bochum", viewer_token(server, "bochum", "camera"))
        await wait_tier_fed(tiers[:1])
        first = await watch(server.url, "bochum", viewer_token(server))
        second = await watch(server.url, "bochum", viewer_token(server))
        try:
            await bright(first)
            await bright(second)
            assert len(server.relay.feed("bochum").viewers) == pushes(1) + 1
            assert len(server.tier.viewers_of("bochum")) == 1
        finally:
            await first.close()
            await second.close()
            await peer.pc.close()


async def test_a_viewer_handed_to_the_tier_still_counts_against_its_tokens_cap(
        tiers: list[JanusTier], tmp_path: Path) -> None:
    """Issue 14's per-token cap holds across the door: 429 before the hand-over, and a
    viewer open at the tier by proxy keeps its token's slot until it hangs up."""
    async with relay_feeding(tmp_path, tiers[:1]) as (server, _):
        token = mint(server.cfg, server.keys, role=Role.VIEWER, ttl_s=600, max_sessions=1)[0]
        v = await watch(server.url, "bochum", token)
        try:
            assert len(server.tier.viewers_of("bochum")) == 1
            resp = await post(server.url + "/whep/bochum", token, await offer_sdp())
            assert resp.status == 429
            assert "Retry-After" in resp.headers
            assert len(server.tier.viewers_of("bochum")) == 1  # nothing more at the tier
            assert len(server.relay.feed("bochum").viewers) == pushes(1)  # nor at the relay
            assert await delete(server.url, v.peer.location, token) == 200
        finally:
            await v.close()
        again = await watch(server.url, "bochum", token)  # its slot is free again
        await again.close()


async def test_a_hand_over_asks_the_relays_encoder_for_keyframes(
        tiers: list[JanusTier], tmp_path: Path) -> None:
    """Janus passes a new viewer's keyframe request on only once a second; the relay, which
    knows when it hands a viewer over, asks for keyframes itself (JOIN_KEYFRAMES_S)."""
    async with relay_feeding(tmp_path, tiers[:1]) as (server, _):
        feed = server.relay.feed("bochum")
        before = feed.keyframe_requests
        v = await watch(server.url, "bochum", viewer_token(server))
        try:
            deadline = time.monotonic() + 5  # Janus's own: one per join, one per 10 s
            while feed.keyframe_requests - before < len(JOIN_KEYFRAMES_S):
                assert time.monotonic() < deadline, feed.keyframe_requests - before
                await asyncio.sleep(0.1)
            await bright(v)
        finally:
            await v.close()


async def test_a_307_sends_the_viewer_to_the_tier_with_a_ticket(
        tiers: list[JanusTier], tmp_path: Path) -> None:
    async with relay_feeding(tmp_path, tiers[:1], handoff="redirect") as (server, _):
        sdp = await offer_sdp()
        resp = await post(server.url + "/whep/bochum", viewer_token(server), sdp)
        assert resp.status == 307
        location = resp.headers["Location"]
        assert location.startswith(tiers[0].whep_url("bochum") + "?ticket=")
        # What a browser does: POST the same offer there, without our token.
        v = await watch_url(location, "")
        try:
            await bright(v)
        finally:
            await v.close()
        assert (await post(server.url + "/whep/bochum", None, sdp)).status == 401


async def test_two_janus_instances_each_fed_once_share_the_viewers(
        tiers: list[JanusTier], tmp_path: Path) -> None:
    async with relay_feeding(tmp_path, tiers) as (server, _):
        assert len(server.relay.feed("bochum").viewers) == pushes(2)  # one per instance
        viewers = [await watch(server.url, "bochum", viewer_token(server)) for _ in range(4)]
        try:
            for v in viewers:
                await bright(v)
            used = {s.instance.url for s in server.tier.viewers_of("bochum")}
            assert used == {t.whep_url("bochum") for t in tiers}
            assert len(server.relay.feed("bochum").viewers) == pushes(2)
        finally:
            for v in viewers:
                await v.close()


async def test_revoking_a_token_ends_its_viewer_at_the_tier(
        tiers: list[JanusTier], tmp_path: Path) -> None:
    async with relay_feeding(tmp_path, tiers[:1]) as (server, _):
        token, grant = mint(server.cfg, server.keys, role=Role.VIEWER, ttl_s=600)
        v = await watch(server.url, "bochum", token)
        try:
            await bright(v)
            admin = viewer_token(server, role="admin")
            async with aiohttp.ClientSession() as http, http.delete(
                    f"{server.url}/api/tokens/{grant.jti}", json={},
                    headers={"Authorization": f"Bearer {admin}"}) as resp:
                assert resp.status == 200
                assert (await resp.json())["sessions_ended"] == 1
            assert server.tier.viewers_of("bochum") == []
            count = len(v.frames)
            await asyncio.sleep(2)
            assert len(v.frames) - count < 10  # Janus hung up: the picture stops
        finally:
            await v.close()


async def test_when_the_tier_does_not_answer_the_relay_serves_the_viewer(
        tmp_path: Path) -> None:
    cfg = small_config(tmp_path, sites={"bochum": {"tier": {
        "whep_urls": ["http://127.0.0.1:9/whep/endpoint/bochum"], "token": "x" * 16}}})
    async with running(cfg) as server:
        peer, _ = await publish(server.url, "bochum", viewer_token(server, "bochum", "camera"))
        v = await watch(server.url, "bochum", viewer_token(server))
        try:
            await bright(v)
            assert len(server.relay.feed("bochum").viewers) == 1
            snap = server.tier.snapshot("bochum")
            assert snap is not None and snap["fallbacks"] == 1
            assert snap["instances"][0]["failures"] == 1
        finally:
            await v.close()
            await peer.pc.close()


async def test_operators_see_the_tier_in_status_and_metrics(
        tiers: list[JanusTier], tmp_path: Path) -> None:
    async with relay_feeding(tmp_path, tiers[:1]) as (server, _):
        v = await watch(server.url, "bochum", viewer_token(server))
        try:
            await bright(v)
            await server.tier.poll_once()
            admin = viewer_token(server, role="admin")
            async with aiohttp.ClientSession() as http:
                async with http.get(server.url + "/api/status",
                                    headers={"Authorization": f"Bearer {admin}"}) as resp:
                    tier = (await resp.json())["sites"]["bochum"]["tier"]
                async with http.get(server.url + "/metrics",
                                    headers={"Authorization": f"Bearer {admin}"}) as resp:
                    metrics = await resp.text()
            assert tier["connected"] is True and tier["viewers"] >= 1
            assert tier["instances"][0]["url"] == tiers[0].whep_url("bochum")
            assert 'window_tier_up{instance="' in metrics
            assert "window_tier_viewers{" in metrics
        finally:
            await v.close()
