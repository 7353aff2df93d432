"""The impaired link (tests/netimpair.py) really impairs, and sits in the real media path; a
viewer and a camera behind a long lossy link get their picture back after an outage."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import av
import numpy as np
from netimpair import GilbertElliott, ImpairedLink, ImpairedSignalling, Impairment
from peers import PatternTrack, publish, watch
from servers import running, small_config

from window.app import Server
from window.auth.roles import Role
from window.auth.tokens import mint
from window.config import PushConfig


class Endpoint(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.got: list[tuple[float, int]] = []  # (arrival, sequence number)
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.got.append((time.monotonic(), int.from_bytes(data[:4], "big")))


async def udp_pair(link_args: dict[str, Impairment], seed: int = 7
                   ) -> tuple[ImpairedLink, Endpoint, Endpoint]:
    loop = asyncio.get_running_loop()
    _, server = await loop.create_datagram_endpoint(Endpoint, local_addr=("127.0.0.1", 0))
    _, client = await loop.create_datagram_endpoint(Endpoint, local_addr=("127.0.0.1", 0))
    assert server.transport is not None and client.transport is not None
    link = await ImpairedLink("127.0.0.1", None, server.transport.get_extra_info("sockname"),
                              to_server=link_args.get("to_server", Impairment()),
                              to_client=link_args.get("to_client", Impairment()),
                              seed=seed).start()
    return link, client, server


async def send(client: Endpoint, link: ImpairedLink, n: int) -> list[float]:
    assert client.transport is not None
    sent = []
    for i in range(n):
        sent.append(time.monotonic())
        client.transport.sendto(i.to_bytes(4, "big") + bytes(100), link.client_facing)
        if i % 10 == 9:
            await asyncio.sleep(0.002)
    return sent


async def test_the_link_delays_drops_reorders_and_duplicates() -> None:
    imp = Impairment(delay_ms=60, jitter_ms=20, loss=0.1, duplicate=0.05)
    link, client, server = await udp_pair({"to_server": imp})
    sent = await send(client, link, 1000)
    await asyncio.sleep(0.3)
    seqs = [s for _, s in server.got]
    c = link.to_server.counters
    assert c.received == 1000
    assert 50 <= c.lost_random <= 150, c  # ≈ 10 %
    assert len(set(seqs)) == 1000 - c.lost_random
    assert len(seqs) - len(set(seqs)) == c.duplicated > 0
    assert seqs != sorted(seqs) and c.reordered > 0  # ± 20 ms jitter reorders, like netem
    # nothing arrives before delay - jitter (a lower bound: a slow machine cannot break it)
    assert min(at - sent[s] for at, s in server.got) >= 0.039
    link.close()


async def test_jitter_without_reordering_and_burst_loss() -> None:
    burst = GilbertElliott(p=0.01, r=0.2, loss_bad=1.0)
    imp = Impairment(delay_ms=20, jitter_ms=15, keep_order=True, burst=burst)
    link, client, server = await udp_pair({"to_server": imp})
    await send(client, link, 3000)
    await asyncio.sleep(0.2)
    seqs = [s for _, s in server.got]
    assert seqs == sorted(seqs) and link.to_server.counters.reordered == 0
    missing = sorted(set(range(3000)) - set(seqs))
    assert len(missing) == link.to_server.counters.lost_burst > 0
    runs = sum(1 for i, s in enumerate(missing) if i == 0 or missing[i - 1] != s - 1)
    assert len(missing) / runs > 2.5  # bursts (mean 1/r = 5), not single random losses
    link.close()


async def test_an_outage_drops_everything_both_ways_until_it_ends() -> None:
    link, client, server = await udp_pair({})
    link.set_outage(True)
    await send(client, link, 50)
    await asyncio.sleep(0.1)
    assert server.got == [] and link.to_server.counters.lost_outage == 50
    link.set_outage(False)
    await send(client, link, 50)
    await asyncio.sleep(0.1)
    assert len(server.got) == 50
    link.close()


def tokens(server: Server):  # type: ignore[no-untyped-def]
    return lambda role, site=None: mint(server.cfg, server.keys, role=Role(role), ttl_s=600,
                                        site=site)[0]


async def remote_rtt(server: Server) -> float:
    (session,) = server.relay.viewers_of("bochum")
    for report in (await session.pc.getStats()).values():
        # None until a receiver report that answers one of our sender reports came back
        if report.type == "remote-inbound-rtp" and report.roundTripTime is not None:
            return float(report.roundTripTime)
    return 0.0


async def test_a_viewer_behind_a_long_lossy_link_gets_the_video(tmp_path: Path) -> None:
    imp = Impairment(delay_ms=100, jitter_ms=10, loss=0.03)
    async with running(small_config(tmp_path)) as server, \
            ImpairedSignalling(server.url, to_client=imp, to_server=imp, seed=3) as proxy:
        token = tokens(server)
        pub, _ = await publish(server.url, "bochum", token("camera", "bochum"))
        viewer = await watch(proxy.url, "bochum", token("viewer"), repair_ms=600)
        await viewer.wait_frames(90, timeout=20)
        down = proxy.totals()["to_client"]
        assert down.delivered > 100 and down.lost_random > 0
        assert proxy.totals()["to_server"].delivered > 5  # RTCP (and STUN) went back through it
        # every packet took the link: the relay measures the link's round trip, not loopback's
        deadline = time.monotonic() + 10
        while (rtt := await remote_rtt(server)) == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        assert rtt >= 0.18
        await viewer.close()
        await pub.pc.close()


class NoiseTrack(PatternTrack):
    """New coarse noise every frame: after the relay's pixelation still several packets a
    frame (a real street's packet rate), where a flat pattern makes one."""

    def __init__(self) -> None:
        super().__init__()
        self._rng = np.random.default_rng(1)

    async def recv(self) -> av.VideoFrame:
        small = self._rng.integers(0, 256, (self.height // 32, self.width // 32, 3), np.uint8)
        self.image = np.repeat(np.repeat(small, 32, axis=0), 32, axis=1)
        return await super().recv()


def bright(img: np.ndarray) -> bool:
    return float(img.mean()) > 150


def dark(img: np.ndarray) -> bool:
    return float(img.mean()) < 100


async def outage(proxy: ImpairedSignalling, seconds: float) -> None:
    proxy.set_outage(True)
    await asyncio.sleep(seconds)
    proxy.set_outage(False)


async def test_a_far_viewer_gets_the_picture_back_after_a_5s_outage(tmp_path: Path) -> None:
    imp = Impairment(delay_ms=125, jitter_ms=15, loss=0.01)
    async with running(small_config(tmp_path)) as server, \
            ImpairedSignalling(server.url, to_client=imp, to_server=imp, seed=5) as proxy:
        token = tokens(server)
        pub, _ = await publish(server.url, "bochum", token("camera", "bochum"))
        viewer = await watch(proxy.url, "bochum", token("viewer"), repair_ms=600)
        await viewer.wait_frames(60, timeout=20)
        await outage(proxy, 5.0)
        before = viewer.count
        assert viewer.frames[-1][0] < time.monotonic() - 4  # the outage froze the picture
        # aiortc's own buffer would wait for 512 newer packets (> 10 s at this rate)
        await viewer.wait_frames(30, timeout=6)
        await viewer.wait_for(bright, timeout=2)
        assert viewer.count >= before + 30
        await viewer.close()
        await pub.pc.close()


async def test_a_far_camera_is_live_again_after_a_5s_outage(tmp_path: Path) -> None:
    """The relay's own receiving side (Relay.publish): a camera (or a partner relay's push)
    behind a long link with an outage is live again soon after the link is back."""
    imp = Impairment(delay_ms=125, jitter_ms=15, loss=0.01)
    cfg = small_config(tmp_path, media={"camera_timeout_s": 10.0})
    async with running(cfg) as server, \
            ImpairedSignalling(server.url, to_client=imp, to_server=imp, seed=9) as proxy:
        token = tokens(server)
        pub, _ = await publish(proxy.url, "bochum", token("camera", "bochum"))
        viewer = await watch(server.url, "bochum", token("viewer"))
        await viewer.wait_for(bright, timeout=20)
        feed = server.relay.feeds["bochum"]
        await outage(proxy, 5.0)
        frames_in = feed.frames_in.total
        deadline = time.monotonic() + 6
        while feed.frames_in.total < frames_in + 30:
            assert time.monotonic() < deadline, "the camera's frames did not come back"
            await asyncio.sleep(0.1)
        await viewer.close()
        await pub.pc.close()


async def test_a_jittery_link_does_not_make_the_sender_resend_everything(tmp_path: Path) -> None:
    """± 30 ms of jitter reorders most packets; aiortc's own receiver NACKs every reordered
    packet (and all missing ones again at each new gap): here the sender resent more
    packets than it sent (1878 for 1595). A receiving relay asks only for packets that stay
    missing, twice (≈ 2 × the 2 % lost, plus the odd late one)."""
    imp = Impairment(delay_ms=60, jitter_ms=30, loss=0.02)
    async with running(small_config(tmp_path, media={"width": 1280, "height": 720})) as server, \
            ImpairedSignalling(server.url, to_client=imp, to_server=imp, seed=4) as proxy:
        token = tokens(server)
        pub, _ = await publish(server.url, "bochum", token("camera", "bochum"), NoiseTrack())
        viewer = await watch(proxy.url, "bochum", token("viewer"), repair_ms=600)
        await viewer.wait_frames(60, timeout=60)
        (link,) = proxy.links
        media, resent = link.media(link.to_client), link.retransmissions(link.to_client)
        assert link.to_client.counters.reordered > media / 4 and link.rtx
        assert resent > 0  # real losses were repaired...
        assert resent < 0.25 * media, (resent, media)  # ...but not every reordered packet
        await viewer.close()
        await pub.pc.close()


async def test_a_push_across_the_world_is_back_soon_after_a_5s_outage(tmp_path: Path) -> None:
    """Bochum's relay pushes to Tsukuba's through a 250 ms, lossy link that goes down for
    5 s: Tsukuba's viewer (on its own relay) has the live picture again soon after the link
    is back, on the same push session (no reconnect needed)."""
    far = Server(small_config(tmp_path / "far"))
    await far.start()
    imp = Impairment(delay_ms=125, jitter_ms=15, loss=0.01)
    origin: Server | None = None
    try:
        async with ImpairedSignalling(far.url, to_client=imp, to_server=imp, seed=11) as proxy:
            cfg = small_config(tmp_path / "origin")
            relay_token = tokens(far)("relay", "bochum")
            cfg.sites["bochum"].push = [PushConfig(url=f"{proxy.url}/whip/bochum",
                                                   token=relay_token)]
            origin = Server(cfg)
            await origin.start()
            pub, _ = await publish(origin.url, "bochum", tokens(origin)("camera", "bochum"))
            viewer = await watch(far.url, "bochum", tokens(far)("viewer"))
            await viewer.wait_for(bright, timeout=25)
            await viewer.wait_frames(30)
            await outage(proxy, 5.0)
            await viewer.wait_for(dark, timeout=3)  # Tsukuba shows "camera offline" meanwhile
            await viewer.wait_for(bright, timeout=6)
            await viewer.wait_frames(30, timeout=6)
            assert len(proxy.links) == 1  # the same push session came back
            await viewer.close()
            await pub.pc.close()
    finally:
        if origin is not None:
            await origin.close()
        await far.close()
