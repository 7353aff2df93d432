"""Audience tier benchmark: what viewers on a Janus tier cost the relay, compared in one run
with the same viewers on the relay itself.

Prints figures (this is not a test). One relay (``window serve`` in a child process, so its CPU
time can be read alone from ``/proc``) with three sites at 640×360, 30 fps, privacy ``full``,
each with a camera (the synthetic street with a barcode of the capture time, 32 px blocks,
which survive the pixelation and two encodes):

* ``bochum``: tier with ``handoff = "proxy"``, pushed into one Janus instance (Debian's janus,
  simple-whip-server, janus-whep-server: ``tests/janus.py``);
* ``lyon``: the same tier instance, ``handoff = "redirect"`` (307);
* ``tsukuba``: no tier, viewers on the relay.

Figures:

1. relay CPU with 1 and with N (50) viewers of bochum on the tier, then with 1 and N viewers
   of tsukuba on the relay: the change from 1 to N, in % of one core, side by side;
2. capture → decoded latency of one decoding viewer, on the tier and on the relay (p50, p90),
   at N = 1: the difference is what the tier adds (push, Janus's forwarder, Streaming);
3. a tier viewer's first decoded frame after its WHEP answer, over ``--joins`` joins, next to a
   relay viewer's;
4. signalling: POST → answer through the relay's door (proxy) vs POST → 307 → POST at the
   tier → answer; and straight at the tier, for reference;
5. the relay's cost of each tier instance: its push is one viewer of the shared encoder.

    .venv/bin/python benchmarks/tier.py            # ≈ 3 minutes
    .venv/bin/python benchmarks/tier.py --viewers 20 --window 6   # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "tests")]

import av  # noqa: E402
import numpy as np  # noqa: E402
from aiortc.mediastreams import MediaStreamError  # noqa: E402
from fanout import CountingQueue, ViewerStats, machine_cpu, wait_gathered  # noqa: E402
from janus import janus_tier  # noqa: E402
from proc import proc_cpu_s  # noqa: E402

from window.auth.keys import load_keys  # noqa: E402
from window.auth.roles import Role  # noqa: E402
from window.auth.tokens import mint  # noqa: E402
from window.camera.marker import decode_marker, marker_height  # noqa: E402
from window.config import load  # noqa: E402

WIDTH, HEIGHT, FPS, BLOCK = 640, 360, 30, 32
SECRET = "benchmark-secret-0123456789abcdef0123"


MARK_ROWS = marker_height(WIDTH, BLOCK)


def read_stamp(frame: av.VideoFrame) -> float | None:
    """The capture time drawn into ``frame`` (yuv420p), from the top rows of its Y plane."""
    plane = frame.planes[0]
    rows = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)  # type: ignore[arg-type]
    return decode_marker(rows[:MARK_ROWS, :frame.width], BLOCK)


async def consume(track: MediaStreamTrack, v: ViewerStats) -> None:
    try:
        while True:
            frame = await track.recv()
            now = time.time()
            v.frames += 1
            v.last = now
            stamp = read_stamp(frame) if isinstance(frame, av.VideoFrame) else None
            if stamp is None:
                v.undecodable += 1
            else:
                v.samples.append((now, stamp))
    except MediaStreamError:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def relay_toml(port: int, data: Path, tier: Any) -> str:
    def tier_site(site: str, handoff: str) -> str:
        return f"""
[sites.{site}]
timezone = "UTC"

[sites.{site}.tier]
whep_urls = ["{tier.whep_url(site)}"]
token = "{tier.whep_token}"
handoff = "{handoff}"

[[sites.{site}.push]]
url = "{tier.whip_url(site)}"
token = "{tier.push_token}"
"""
    return f"""
[server]
port = {port}
data_dir = "{data}"
max_viewers_per_site = 200
max_sessions_total = 400

[media]
width = {WIDTH}
height = {HEIGHT}
fps = {FPS}
bitrate_kbps = 800

[privacy]
mode = "full"

[log]
level = "warning"
{tier_site("bochum", "proxy")}{tier_site("lyon", "redirect")}
[sites.tsukuba]
timezone = "UTC"
"""


class Relay:
    def __init__(self, tmp: Path, tier: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cfgfile = tmp / "window.toml"
        cfgfile.write_text(relay_toml(self.port, tmp / "data", tier))
        env = {**os.environ, "WINDOW_SECRET": SECRET}
        self.cfg = load(cfgfile, env={"WINDOW_SECRET": SECRET})
        self.keys = load_keys(self.cfg)
        self.proc = subprocess.Popen([sys.executable, "-m", "window", "serve", "--config",
                                      str(cfgfile)], env=env, stdout=subprocess.DEVNULL)

    def token(self, role: str, site: str | None = None) -> str:
        return mint(self.cfg, self.keys, role=Role(role), ttl_s=3600, site=site)[0]

    def cpu_s(self) -> float:
        return proc_cpu_s(self.proc.pid)

    async def wait_up(self) -> None:
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(self.url + "/healthz") as r:
                        if r.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise RuntimeError("the relay did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


async def exchange(http: aiohttp.ClientSession, url: str, token: str, pc: RTCPeerConnection
                   ) -> tuple[float, float]:
    """POST the offer (following a 307 as a browser does: same body, no Authorization on
    another origin); returns (seconds until the answer, time the answer was applied)."""
    await pc.setLocalDescription(await pc.createOffer())
    await wait_gathered(pc)
    sdp = pc.localDescription.sdp
    started = time.perf_counter()
    headers = {"Content-Type": "application/sdp"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    for _ in range(3):
        async with http.post(url, data=sdp, headers=headers, allow_redirects=False) as resp:
            body = await resp.text()
            if resp.status == 307:
                url = resp.headers["Location"]
                headers = {"Content-Type": "application/sdp"}
                continue
            if resp.status != 201:
                raise RuntimeError(f"{url}: {resp.status} {body.strip()}")
            took = time.perf_counter() - started
            await pc.setRemoteDescription(RTCSessionDescription(body, "answer"))
            return took, time.time()
    raise RuntimeError("too many redirects")


async def viewer(http: aiohttp.ClientSession, url: str, token: str, decoding: bool
                 ) -> tuple[ViewerStats, float, float]:
    v = ViewerStats(decoding)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    v.pc = pc
    tr = pc.addTransceiver("video", direction="recvonly")
    if not decoding:
        tr.receiver._RTCRtpReceiver__decoder_queue = CountingQueue(v)  # type: ignore[attr-defined]

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        if decoding and v.task is None:
            v.task = asyncio.create_task(consume(track, v))

    took, answered = await exchange(http, url, token, pc)
    return v, took, answered


async def close_all(viewers: list[ViewerStats]) -> None:
    for v in viewers:
        if v.task:
            v.task.cancel()
    await asyncio.gather(*(v.pc.close() for v in viewers if v.pc), return_exceptions=True)


async def cpu_window(relay: Relay, pids: list[int], seconds: float) -> dict[str, float]:
    t0, r0, m0 = time.time(), relay.cpu_s(), machine_cpu()
    o0 = [proc_cpu_s(p) for p in pids]
    await asyncio.sleep(seconds)
    t1, r1, m1 = time.time(), relay.cpu_s(), machine_cpu()
    o1 = [proc_cpu_s(p) for p in pids]
    span = t1 - t0
    return {"relay": (r1 - r0) / span * 100,
            "tier": sum(b - a for a, b in zip(o0, o1, strict=True)) / span * 100,
            "machine": (m1[0] - m0[0]) / max(1, m1[1] - m0[1]) * (os.cpu_count() or 1) * 100}


async def phase(relay: Relay, url: str, n: int, window: float, pids: list[int]
                ) -> list[dict[str, Any]]:
    """Viewers at ``url``: 1, then ``n``; CPU and the decoding viewer's latency at each."""
    out: list[dict[str, Any]] = []
    viewers: list[ViewerStats] = []
    token = relay.token("viewer")
    async with aiohttp.ClientSession() as http:
        try:
            for target in (1, n):
                while len(viewers) < target:
                    batch = min(8, target - len(viewers))
                    got = await asyncio.gather(*(viewer(http, url, token, not viewers and i == 0)
                                                 for i in range(batch)))
                    viewers += [g[0] for g in got]
                deadline = time.monotonic() + 30
                while any(v.frames == 0 for v in viewers) and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                await asyncio.sleep(3)
                f0 = [v.frames for v in viewers]
                t0 = time.time()
                cpu = await cpu_window(relay, pids, window)
                t1 = time.time()
                fps = [(v.frames - a) / (t1 - t0) for v, a in zip(viewers, f0, strict=True)]
                lat = [(a - c) * 1000 for a, c in viewers[0].samples if t0 <= a <= t1]
                out.append({"n": target, **cpu, "fps_med": statistics.median(fps),
                            "fps_min": min(fps), "lat_p50": pct(lat, .5),
                            "lat_p90": pct(lat, .9)})
                p = out[-1]
                print(f"  N={target:3d}: relay {p['relay']:5.1f} % · tier (janus+node) "
                      f"{p['tier']:5.1f} % · machine {p['machine']:5.1f} % · viewer fps med "
                      f"{p['fps_med']:.1f} min {p['fps_min']:.1f} · latency p50 "
                      f"{p['lat_p50']:.0f} ms p90 {p['lat_p90']:.0f} ms", flush=True)
        finally:
            await close_all(viewers)
    return out


async def paired_latency(relay: Relay, window: float) -> None:
    """One decoding viewer of bochum on the tier (viewer token) and one on the relay (the
    partner's screen token: screens stay), at the same time: per capture stamp seen by both,
    the tier's arrival minus the relay's. Paired, so the machine's load mostly cancels."""
    async with aiohttp.ClientSession() as http:
        tier_v, _, _ = await viewer(http, f"{relay.url}/whep/bochum", relay.token("viewer"), True)
        relay_v, _, _ = await viewer(http, f"{relay.url}/whep/bochum",
                                     relay.token("screen", "tsukuba"), True)
        try:
            await asyncio.sleep(3)
            t0 = time.time()
            await asyncio.sleep(window)
            t1 = time.time()
            at_relay = {round(c * 1000): a for a, c in relay_v.samples if t0 <= a <= t1}
            pairs = [(a - at_relay[round(c * 1000)]) * 1000 for a, c in tier_v.samples
                     if round(c * 1000) in at_relay]
            e2e_t = [(a - c) * 1000 for a, c in tier_v.samples if t0 <= a <= t1]
            e2e_r = [(a - c) * 1000 for a, c in relay_v.samples if t0 <= a <= t1]
            print(f"2. latency, one viewer of the same feed each, same frames ({len(pairs)} "
                  f"pairs): tier adds p50 {pct(pairs, .5):.0f} ms, p90 {pct(pairs, .9):.0f} ms; "
                  f"capture → decoded p50 tier {pct(e2e_t, .5):.0f} ms, relay "
                  f"{pct(e2e_r, .5):.0f} ms", flush=True)
        finally:
            await close_all([tier_v, relay_v])


async def first_frames(url: str, token: str, joins: int) -> tuple[list[float], list[float]]:
    """(answer → first decoded frame, POST → answer) of ``joins`` viewers, one at a time;
    the first frame is noticed within 5 ms."""
    firsts, signalling = [], []
    async with aiohttp.ClientSession() as http:
        for _ in range(joins):
            v, took, answered = await viewer(http, url, token, True)
            deadline = time.monotonic() + 10
            while v.frames == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            if v.frames:
                firsts.append(time.time() - answered)
            signalling.append(took)
            await close_all([v])
            await asyncio.sleep(0.5)
    return firsts, signalling


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--viewers", type=int, default=50)
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--joins", type=int, default=10)
    args = ap.parse_args()
    from window.camera.sources import SyntheticSource

    print(f"tier benchmark · {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC · "
          f"{platform.node()} · {os.cpu_count()} cores · "
          f"{platform.processor() or platform.machine()}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        with janus_tier(tmp / "tier", ["bochum", "lyon"]) as tier:
            pids = [tier.janus_pid, *tier.node_pids]
            relay = Relay(tmp, tier)
            cams: list[RTCPeerConnection] = []
            sources = []
            try:
                await relay.wait_up()
                async with aiohttp.ClientSession() as http:
                    for site in ("bochum", "tsukuba"):
                        src = SyntheticSource(WIDTH, HEIGHT, FPS, marker="barcode")
                        src.scene.marker_block = BLOCK
                        sources.append(src)
                        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
                        pc.addTransceiver(src.view(), direction="sendonly")
                        cams.append(pc)
                        await exchange(http, f"{relay.url}/whip/{site}",
                                       relay.token("camera", site), pc)
                await asyncio.sleep(8)  # pushes connect, Janus forwards
                print("1. relay CPU, tier viewers (bochum, proxy):")
                on_tier = await phase(relay, f"{relay.url}/whep/bochum", args.viewers,
                                      args.window, pids)
                await asyncio.sleep(3)
                print("   relay CPU, the same viewers on the relay (tsukuba):")
                on_relay = await phase(relay, f"{relay.url}/whep/tsukuba", args.viewers,
                                       args.window, pids)
                dt = on_tier[-1]["relay"] - on_tier[0]["relay"]
                dr = on_relay[-1]["relay"] - on_relay[0]["relay"]
                n1 = args.viewers - 1
                print(f"   1 → {args.viewers} viewers: relay CPU {dt:+.1f} % of a core on the "
                      f"tier vs {dr:+.1f} % on the relay ({dr / n1:.2f} % per viewer); the tier "
                      f"itself {on_tier[-1]['tier'] - on_tier[0]['tier']:+.1f} %")
                await paired_latency(relay, args.window)
                print("3./4. joins, one at a time:")
                async with aiohttp.ClientSession() as http:  # the 307 site's camera, now
                    src = SyntheticSource(WIDTH, HEIGHT, FPS, marker="barcode")
                    sources.append(src)
                    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
                    pc.addTransceiver(src.view(), direction="sendonly")
                    cams.append(pc)
                    await exchange(http, f"{relay.url}/whip/lyon",
                                   relay.token("camera", "lyon"), pc)
                await asyncio.sleep(6)
                viewer_token = relay.token("viewer")
                rows = [("tier, proxy (relay's door)", f"{relay.url}/whep/bochum", viewer_token),
                        ("tier, 307 + ticket", f"{relay.url}/whep/lyon", viewer_token),
                        ("tier, straight (its credential)", tier.whep_url("bochum"),
                         tier.whep_token),
                        ("relay itself", f"{relay.url}/whep/tsukuba", viewer_token)]
                for label, url, token in rows:
                    firsts, sig = await first_frames(url, token, args.joins)
                    print(f"   {label:32s} answer → first frame p50 "
                          f"{pct(firsts, .5) * 1000:4.0f} ms max "
                          f"{max(firsts, default=float('nan')) * 1000:4.0f} ms · POST → answer "
                          f"p50 {pct(sig, .5) * 1000:4.0f} ms ({len(firsts)}/{args.joins} "
                          "played)", flush=True)
                print("5. each tier instance is one push: one more viewer of the shared encoder "
                      "(see 1: the relay's cost per viewer)")
            finally:
                for pc in cams:
                    await pc.close()
                for src in sources:
                    src.stop()
                relay.stop()


if __name__ == "__main__":
    asyncio.run(main())
