"""One token cannot take a city's screen off the air: sessions per token id, slots kept for
screens, cameras never locked out, sessions that end with their token, and a camera that
cannot be hijacked by another token. Real peers, a real relay on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import numpy as np
from peers import PatternTrack, delete, ghost, publish, watch
from servers import running, small_config

from window.app import Server
from window.auth.roles import Role
from window.auth.tokens import mint


def tok(srv: Server, role: str, site: str | None = None, ttl_s: int = 600, **kw: object) -> str:
    return mint(srv.cfg, srv.keys, role=Role(role), ttl_s=ttl_s, site=site, **kw)[0]  # type: ignore[arg-type]


def bright(img: np.ndarray) -> bool:
    return float(img.mean()) > 150


def dark(img: np.ndarray) -> bool:
    return float(img.mean()) < 100


async def api(srv: Server, method: str, path: str, token: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    async with aiohttp.ClientSession() as http, http.request(
            method, srv.url + path, headers={"Authorization": f"Bearer {token}"}) as r:
        return r.status, (await r.json() if r.content_type == "application/json" else {})


# 1. sessions per token id, reserved slots -----------------------------------------------------
async def test_third_session_of_one_viewer_token_is_429_and_a_screen_still_gets_in(
        server: Server) -> None:
    viewer = tok(server, "viewer")
    a = await watch(server.url, "bochum", viewer)
    status, _h, _t = await ghost(server.url, "/whep/tsukuba", viewer)  # pending counts too
    assert status == 201
    status, headers, text = await ghost(server.url, "/whep/bochum", viewer)
    assert status == 429 and int(headers["Retry-After"]) > 0, text
    # the screen of the partner city is not affected
    screen = await watch(server.url, "bochum", tok(server, "screen", "tsukuba"))
    await screen.wait_frames(5)
    # hanging one up frees a slot for the same token
    assert await delete(server.url, a.peer.location, viewer) == 200
    await a.close()
    b = await watch(server.url, "bochum", viewer)
    await b.close()
    await screen.close()


async def test_a_burst_of_parallel_offers_from_one_token_gets_only_its_cap(
        server: Server) -> None:
    viewer = tok(server, "viewer")
    results = await asyncio.gather(*(ghost(server.url, "/whep/bochum", viewer)
                                     for _ in range(12)))
    statuses = sorted(r[0] for r in results)
    assert statuses.count(201) == 2 and statuses.count(429) == 10, statuses


async def test_viewers_never_crowd_out_screens_and_cameras(tmp_path: Path) -> None:
    cfg = small_config(tmp_path, server={"max_viewers_per_site": 6, "max_sessions_total": 8},
                       limits={"reserved_per_site": 2, "reserved_total": 2})
    async with running(cfg) as srv:
        # many viewer tokens, each with never-connecting offers, as fast as they are refused
        statuses = [(await ghost(srv.url, "/whep/bochum", tok(srv, "viewer")))[0]
                    for _ in range(6)]
        assert statuses == [201] * 4 + [503] * 2, statuses  # 6 - 2 kept for screens
        statuses = [(await ghost(srv.url, "/whep/tsukuba", tok(srv, "viewer")))[0]
                    for _ in range(4)]
        assert statuses == [201] * 2 + [503] * 2, statuses  # 8 in all - 2 kept
        # the screens still get in: bochum's and tsukuba's, and tsukuba's camera publishes
        s1 = await watch(srv.url, "bochum", tok(srv, "screen", "tsukuba"))
        s2 = await watch(srv.url, "tsukuba", tok(srv, "screen", "bochum"))
        pub, _ = await publish(srv.url, "tsukuba", tok(srv, "camera", "tsukuba"))
        await s2.wait_for(bright)
        await s1.wait_frames(5)
        assert srv.relay.admission.refused[("at_capacity", "bochum", "viewer")] == 2
        for v in (s1, s2):
            await v.close()
        await pub.pc.close()


async def test_a_token_minted_for_a_class_may_hold_more(server: Server) -> None:
    shared = tok(server, "viewer", max_sessions=4)
    for _ in range(4):
        assert (await ghost(server.url, "/whep/bochum", shared))[0] == 201
    assert (await ghost(server.url, "/whep/bochum", shared))[0] == 429


# 2. sessions end with their token ------------------------------------------------------------
async def test_a_session_of_a_3s_token_stops_receiving_frames(tmp_path: Path) -> None:
    async with running(small_config(tmp_path, auth={"leeway_s": 1})) as srv:
        pub, _ = await publish(srv.url, "bochum", tok(srv, "camera", "bochum"))
        viewer = await watch(srv.url, "bochum", tok(srv, "viewer", ttl_s=3))
        await viewer.wait_frames(10)
        deadline = time.monotonic() + 15
        while srv.relay.viewers_of("bochum") and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert not srv.relay.viewers_of("bochum"), "the session outlived its token"
        await asyncio.sleep(1.0)
        n = viewer.count
        await asyncio.sleep(1.5)
        assert viewer.count == n, "frames still arrive after the token expired"
        await viewer.close()
        await pub.pc.close()


async def test_renewal_extends_the_session_and_the_owner_hangs_up_with_the_old_token(
        tmp_path: Path) -> None:
    async with running(small_config(tmp_path, auth={"leeway_s": 1})) as srv:
        pub, _ = await publish(srv.url, "bochum", tok(srv, "camera", "bochum"))
        old = tok(srv, "screen", "tsukuba", ttl_s=4)
        viewer = await watch(srv.url, "bochum", old)
        await asyncio.sleep(1.5)  # past half its life (less the leeway)
        async with aiohttp.ClientSession() as http, http.post(
                srv.url + "/api/renew", headers={"Authorization": f"Bearer {old}"}) as r:
            assert r.status == 200, await r.text()
        await asyncio.sleep(6.5)  # the old token is over, leeway and a reaper round included
        assert srv.relay.viewers_of("bochum"), "the renewed session was closed"
        n = viewer.count
        await viewer.wait_frames(5)
        assert viewer.count > n
        # the page still has the session's Location and the token it opened it with
        assert await delete(srv.url, viewer.peer.location, old) == 200
        assert not srv.relay.viewers_of("bochum")
        # someone else's expired token does not hang up anyone
        await viewer.close()
        await pub.pc.close()


async def test_an_expired_token_of_another_id_cannot_hang_up(server: Server) -> None:
    owner = tok(server, "viewer")
    v = await watch(server.url, "bochum", owner)
    other = mint(server.cfg, server.keys, role=Role.VIEWER, ttl_s=5,
                 now=time.time() - 600)[0]
    assert await delete(server.url, v.peer.location, other) == 401
    await v.close()


# 3. a camera cannot be hijacked --------------------------------------------------------------
async def test_a_second_camera_token_gets_409_while_the_first_publishes(
        server: Server) -> None:
    first, intruder = tok(server, "camera", "bochum"), tok(server, "camera", "bochum")
    pub, _track = await publish(server.url, "bochum", first)
    viewer = await watch(server.url, "bochum", tok(server, "screen", "tsukuba"))
    await viewer.wait_for(bright)
    for _ in range(3):  # again and again: the real camera stays on the screen
        status, _h, text = await ghost(server.url, "/whip/bochum", intruder)
        assert status == 409, text
    await asyncio.sleep(0.5)
    assert server.relay.publisher_of("bochum").grant.jti == server.guard.grant(first).jti  # type: ignore[union-attr]
    await viewer.wait_for(bright)
    # operators see it: /api/status, /metrics
    admin = tok(server, "admin")
    _s, status_body = await api(server, "GET", "/api/status", admin)
    refused = status_body["refused"]
    assert refused["by_reason"]["camera_live"] == 3
    assert refused["recent"][0]["reason"] == "camera_live"
    assert refused["recent"][0]["jti"] == server.guard.grant(intruder).jti
    async with aiohttp.ClientSession() as http, http.get(
            server.url + "/metrics", headers={"Authorization": f"Bearer {admin}"}) as r:
        text = await r.text()
    assert 'window_sessions_refused_total{reason="camera_live",role="camera",site="bochum"} 3.0' \
        in text
    # the same token (a camera that reconnects) replaces its own session at once
    track2 = PatternTrack()
    track2.level = 40
    pub2, _ = await publish(server.url, "bochum", first, track2)
    await viewer.wait_for(dark, timeout=5)
    # once the camera is silent for media.camera_timeout_s, another token may take over
    await pub2.pc.close()
    await pub.pc.close()
    await asyncio.sleep(server.cfg.media.camera_timeout_s + 0.5)
    pub3, _ = await publish(server.url, "bochum", intruder)
    await viewer.wait_for(bright, timeout=8)
    await viewer.close()
    await pub3.pc.close()


async def test_an_admin_replaces_a_live_camera_at_once(server: Server) -> None:
    pub, _ = await publish(server.url, "bochum", tok(server, "camera", "bochum"))
    await asyncio.sleep(0.5)
    pub2, _ = await publish(server.url, "bochum", tok(server, "admin"))
    assert server.relay.publisher_of("bochum").grant.role is Role.ADMIN  # type: ignore[union-attr]
    await pub.pc.close()
    await pub2.pc.close()


async def test_a_relay_token_is_held_to_the_takeover_rule_like_a_camera(
        server: Server) -> None:
    """A partner relay's token (role ``relay``) publishes like a camera: while the site's
    camera is live it gets 409 too, and the camera stays on the screen."""
    camera = tok(server, "camera", "bochum")
    pub, _track = await publish(server.url, "bochum", camera)
    viewer = await watch(server.url, "bochum", tok(server, "screen", "tsukuba"))
    await viewer.wait_for(bright)
    status, _h, text = await ghost(server.url, "/whip/bochum", tok(server, "relay", "bochum"))
    assert status == 409, text
    assert server.relay.publisher_of("bochum").grant.jti == server.guard.grant(camera).jti  # type: ignore[union-attr]
    await viewer.wait_for(bright)
    await viewer.close()
    await pub.pc.close()
