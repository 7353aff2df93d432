"""NAT traversal: a viewer and a camera that may use TURN relay candidates only still work,
through a real coturn on loopback, with credentials the relay mints per session."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
)
from aiortc.mediastreams import MediaStreamTrack
from coturn import SECRET, allocations, coturn, turn_relay_config
from peers import PatternTrack, post_offer
from servers import make_config

from window.app import Server
from window.auth.roles import Role
from window.auth.tokens import mint

LINK = re.compile(r'<([^>]+)>; rel="ice-server"; username="([^"]+)"; credential="([^"]+)"')


async def ice_from_options(url: str, token: str) -> list[RTCIceServer]:
    async with aiohttp.ClientSession() as http, http.options(
            url, headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 204
        links = r.headers.getall("Link", [])
    servers = []
    for link in links:
        m = LINK.match(link)
        assert m, link
        servers.append(RTCIceServer(m.group(1), username=m.group(2), credential=m.group(3)))
    return servers


async def test_media_flows_through_turn_only(tmp_path: Path) -> None:
    with coturn(tmp_path) as turn_url:
        cfg = turn_relay_config(tmp_path, turn_url)
        server = Server(cfg)
        await server.start()
        try:
            cam = mint(cfg, server.keys, role=Role.CAMERA, ttl_s=60, site="bochum")[0]
            view = mint(cfg, server.keys, role=Role.VIEWER, ttl_s=60)[0]
            # without a token, OPTIONS hands out no TURN credentials
            async with aiohttp.ClientSession() as http, http.options(
                    f"{server.url}/whep/bochum") as r:
                assert "Link" not in r.headers
            relay_only = RTCIceTransportPolicy.RELAY

            servers = await ice_from_options(f"{server.url}/whip/bochum", cam)
            assert servers and servers[0].urls == turn_url
            pub_pc = RTCPeerConnection(RTCConfiguration(iceServers=servers,
                                                        iceTransportPolicy=relay_only))
            track = PatternTrack(320, 180)
            track.level = 220
            pub_pc.addTransceiver(track, direction="sendonly")
            await post_offer(server.url, "/whip/bochum", cam, pub_pc)
            offer_types = set(re.findall(r"typ (\w+)", pub_pc.localDescription.sdp))
            assert offer_types == {"relay"}, offer_types

            servers = await ice_from_options(f"{server.url}/whep/bochum", view)
            view_pc = RTCPeerConnection(RTCConfiguration(iceServers=servers,
                                                         iceTransportPolicy=relay_only))
            view_pc.addTransceiver("video", direction="recvonly")
            got: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
            view_pc.on("track", lambda t: got.done() or got.set_result(t))
            await post_offer(server.url, "/whep/bochum", view, view_pc)
            remote = await asyncio.wait_for(got, 10)
            levels = []
            async with asyncio.timeout(20):
                while len(levels) < 10 or max(levels) < 150:
                    frame = await remote.recv()
                    levels.append(float(frame.to_ndarray(format="gray").mean()))
            assert max(levels) > 150  # the camera's bright picture, via TURN both ways
            assert allocations(tmp_path) >= 2
            await view_pc.close()
            await pub_pc.close()
        finally:
            await server.close()


async def test_link_headers_carry_fresh_credentials(tmp_path: Path) -> None:
    import base64
    import hashlib
    import hmac
    import time

    cfg = make_config(tmp_path, turn={"urls": ["turn:turn.example.org:3478?transport=udp",
                                               "stun:stun.example.org:3478"],
                                      "secret": SECRET, "credential_ttl_s": 600},
                      media={"width": 320, "height": 180}, privacy={"mode": "full"})
    server = Server(cfg)
    await server.start()
    try:
        tok = mint(cfg, server.keys, role=Role.VIEWER, ttl_s=3600, subject="kiosk-7")[0]
        async with aiohttp.ClientSession() as http, http.options(
                f"{server.url}/whep/bochum", headers={"Authorization": f"Bearer {tok}"}) as r:
            links = r.headers.getall("Link")
        assert links[1] == '<stun:stun.example.org:3478>; rel="ice-server"'
        m = LINK.match(links[0])
        assert m and m.group(1) == "turn:turn.example.org:3478?transport=udp"
        username, credential = m.group(2), m.group(3)
        expiry, subject = username.split(":")
        assert subject == "kiosk-7" and 590 < int(expiry) - time.time() <= 600
        expected = base64.b64encode(hmac.new(SECRET.encode(), username.encode(),
                                             hashlib.sha1).digest()).decode()
        assert credential == expected
        assert links[0].endswith('credential-type="password"')
        # an expired token still gets the contract's 204 for OPTIONS, without credentials
        old = mint(cfg, server.keys, role=Role.VIEWER, ttl_s=1, now=time.time() - 3600)[0]
        async with aiohttp.ClientSession() as http, http.options(
                f"{server.url}/whep/bochum", headers={"Authorization": f"Bearer {old}"}) as r:
            assert r.status == 204 and r.headers["Accept-Post"] == "application/sdp"
            assert "Link" not in r.headers
    finally:
        await server.close()


async def test_camera_agent_takes_turn_from_the_relay(tmp_path: Path) -> None:
    """`window camera` asks the relay for ICE servers and allocates on its TURN server."""
    from window.camera import run_camera

    with coturn(tmp_path) as turn_url:
        cfg = turn_relay_config(tmp_path, turn_url)
        server = Server(cfg)
        await server.start()
        stop = asyncio.Event()
        try:
            cam = mint(cfg, server.keys, role=Role.CAMERA, ttl_s=60, site="bochum",
                       subject="cam-bochum")[0]
            task = asyncio.create_task(run_camera(server.url, "bochum", cam,
                                                  "test?width=320&height=180&fps=10",
                                                  stop=stop))
            async with asyncio.timeout(20):
                while server.relay.feeds["bochum"].state() != "live":
                    await asyncio.sleep(0.2)
            wanted = ":cam-bochum>: incoming packet ALLOCATE processed, success"
            async with asyncio.timeout(5):  # coturn writes its log a little later
                while wanted not in (tmp_path / "turn.log").read_text(errors="replace"):
                    await asyncio.sleep(0.1)
            stop.set()
            assert await task == 0
        finally:
            stop.set()
            await server.close()
