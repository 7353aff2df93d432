"""The relay is not a scanner: remote ICE candidates are capped and filtered before the relay
sends them a single STUN packet. Real UDP sockets on loopback stand in for the hosts a viewer
would like the relay to probe; the test counts what actually arrives at each."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection
from servers import running, small_config

from window.auth.roles import Role
from window.auth.tokens import mint

STUN_WAIT_S = 4.0  # aioice checks every pair within about a second on loopback


@contextmanager
def udp_sockets(hosts: list[str]) -> Iterator[list[socket.socket]]:
    socks = []
    try:
        for host in hosts:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((host, 0))
            s.setblocking(False)
            socks.append(s)
        yield socks
    finally:
        for s in socks:
            s.close()


def received(s: socket.socket) -> int:
    """Datagrams waiting on ``s`` (STUN binding requests from the relay)."""
    n = 0
    while True:
        try:
            s.recv(4096)
        except BlockingIOError:
            return n
        n += 1


def candidate(n: int, host: str, port: int) -> str:
    return f"a=candidate:{n} 1 udp {2130706431 - n} {host} {port} typ host"


def targets(socks: list[socket.socket]) -> list[str]:
    return [candidate(i, *s.getsockname()) for i, s in enumerate(socks)]


async def offer_with(candidates: list[str]) -> tuple[RTCPeerConnection, str]:
    """A real aiortc offer whose candidates are replaced by ``candidates`` (more may be
    trickled: no end-of-candidates)."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    lines = [x for x in pc.localDescription.sdp.split("\r\n")
             if not x.startswith(("a=candidate", "a=end-of-candidates"))]
    at = next(i for i, x in enumerate(lines) if x.startswith("a=ice-ufrag"))
    lines[at:at] = candidates
    return pc, "\r\n".join(lines)


async def post(url: str, token: str, sdp: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.post(
            url, data=sdp, headers={"Content-Type": "application/sdp",
                                    "Authorization": f"Bearer {token}"}) as r:
        return r.status, r.headers.get("Location", "") + (await r.text() if r.status >= 300
                                                            else "")


async def patch(url: str, token: str, frag: str) -> int:
    async with aiohttp.ClientSession() as http, http.patch(
            url, data=frag, headers={"Content-Type": "application/trickle-ice-sdpfrag",
                                     "Authorization": f"Bearer {token}"}) as r:
        return r.status


async def test_an_offer_of_900_candidates_is_cut_to_the_cap(tmp_path: Path) -> None:
    cfg = small_config(tmp_path)
    cap = cfg.candidates.max_per_offer
    async with running(cfg) as srv:
        token = mint(cfg, srv.keys, role=Role.VIEWER, ttl_s=60)[0]
        with udp_sockets(["127.0.0.1"] * 40) as socks:
            junk = [candidate(100 + i, "127.0.0.1", 20000 + i) for i in range(860)]
            pc, sdp = await offer_with(targets(socks) + junk)
            status, text = await post(f"{srv.url}/whep/bochum", token, sdp)
            assert status == 201, text
            await asyncio.sleep(STUN_WAIT_S)
            probed = sum(1 for s in socks if received(s))
            assert 0 < probed <= cap, f"{probed} of 40 addresses got STUN (cap {cap})"
            await pc.close()


async def test_a_denied_range_gets_no_stun_from_offer_or_trickle(tmp_path: Path) -> None:
    cfg = small_config(tmp_path, candidates={"deny": ["127.0.0.2/32"]})
    async with running(cfg) as srv:
        token = mint(cfg, srv.keys, role=Role.VIEWER, ttl_s=60)[0]
        with udp_sockets(["127.0.0.2", "127.0.0.3", "127.0.0.2", "127.0.0.3"]) as socks:
            denied, allowed, denied_later, allowed_later = socks
            pc, sdp = await offer_with(targets([denied, allowed]))
            status, location = await post(f"{srv.url}/whep/bochum", token, sdp)
            assert status == 201, location
            frag = "m=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n"
            frag += "\r\n".join(candidate(10 + i, *s.getsockname())
                                for i, s in enumerate([denied_later, allowed_later])) + "\r\n"
            assert await patch(srv.url + location, token, frag) == 204
            await asyncio.sleep(STUN_WAIT_S)
            assert received(allowed) > 0 and received(allowed_later) > 0  # checks do run
            assert received(denied) == 0, "the relay probed a denied address (offer)"
            assert received(denied_later) == 0, "the relay probed a denied address (PATCH)"
            await pc.close()


async def test_trickle_is_capped_per_session(tmp_path: Path) -> None:
    cfg = small_config(tmp_path, candidates={"max_per_offer": 4, "max_per_session": 6})
    async with running(cfg) as srv:
        token = mint(cfg, srv.keys, role=Role.VIEWER, ttl_s=60)[0]
        with udp_sockets(["127.0.0.1"] * 24) as socks:
            pc, sdp = await offer_with(targets(socks[:2]))
            status, location = await post(f"{srv.url}/whep/bochum", token, sdp)
            assert status == 201, location
            for chunk in (socks[2:8], socks[8:16], socks[16:24]):
                frag = "a=mid:0\r\n" + "\r\n".join(
                    candidate(50 + socks.index(s), *s.getsockname()) for s in chunk) + "\r\n"
                assert await patch(srv.url + location, token, frag) == 204
            await asyncio.sleep(STUN_WAIT_S)
            probed = sum(1 for s in socks if received(s))
            assert 0 < probed <= 6, f"{probed} addresses got STUN over one session (cap 6)"
            await pc.close()


async def test_multicast_link_local_and_names_are_never_checked(tmp_path: Path) -> None:
    cfg = small_config(tmp_path)
    async with running(cfg) as srv:
        f = srv.relay.candidates
        for host in ("224.0.0.251", "169.254.1.1", "0.0.0.0", "255.255.255.255", "fe80::1",
                     "ff02::1", "::", "intranet.example.org", "::ffff:169.254.0.1"):
            assert f.why_not(candidate(1, host, 40000)) is not None, host
        assert f.why_not(candidate(1, "127.0.0.1", 53)) == "port"
        for host in ("127.0.0.1", "192.168.1.20", "203.0.113.7",
                     "3f0b8a2e-0c1d-4e5f-9a8b-7c6d5e4f3a2b.local"):
            assert f.why_not(candidate(1, host, 40000)) is None, host
