"""Both cities at once: two 1280×720 30 fps feeds through the whole relay, privacy on.

The relay (`window serve`, privacy mode `people` unless --mode says otherwise) runs in its own
process; this process publishes the two synthetic street scenes over WHIP and watches each
feed with one aiortc viewer. After a warm-up it samples, over a window: the relay's CPU
(/proc/<pid>/stat), each feed's fps in/out, privacy latency p50/p95 and the frames pixelated
whole by reason (from /api/status), and the frames each viewer received.

The cameras and viewers share the machine's 2 cores with the relay. `--light-clients`
(the default) keeps their share small, as if they ran elsewhere: each camera encodes a
3-second loop of its scene once and then sends those packets (the relay still receives and
decodes every frame), and the viewers count assembled frames instead of decoding them.
`--real-clients` uses `window.camera` and decoding viewers instead.

    .venv/bin/python benchmarks/two_feeds.py [--mode people] [--real-clients]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

import av
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from proc import proc_cpu_s

from window.camera.publisher import WhipPublisher
from window.camera.scene import TestScene
from window.camera.sources import SyntheticSource
from window.media.encoder import TIME_BASE, Vp8Encoder

SITES = ("bochum", "tsukuba")


def token(data: str, env: dict[str, str], *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "window", "token", "create", *args,
                          "--data", data], capture_output=True, text=True, env=env, check=True)
    return out.stdout.strip()


def status(url: str, admin: str) -> dict[str, Any]:
    req = urllib.request.Request(url + "/api/status",
                                 headers={"Authorization": f"Bearer {admin}"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return dict(json.load(r))


class PacketLoop(MediaStreamTrack):
    """A camera that costs almost nothing: a pre-encoded loop of the scene, sent at 30 fps."""

    kind = "video"

    def __init__(self, seed: int, seconds: float = 3.0, fps: int = 30) -> None:
        super().__init__()
        scene = TestScene(1280, 720, fps, seed)
        encoder = Vp8Encoder(1280, 720, fps, 2_000_000)
        self.packets = []
        for i in range(int(seconds * fps)):
            image = scene.render(1_800_000_000 + i / fps)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            self.packets.extend(encoder.encode(frame, i * 3000, keyframe=i == 0))
        self.fps = fps
        self.count = 0
        self.start: float | None = None

    async def recv(self) -> Any:
        if self.start is None:
            self.start = time.monotonic()
        await asyncio.sleep(max(0.0, self.start + self.count / self.fps - time.monotonic()))
        packet = self.packets[self.count % len(self.packets)]
        packet.pts = self.count * (90000 // self.fps)
        packet.time_base = TIME_BASE
        self.count += 1
        return packet


async def light_camera(url: str, site: str, tok: str, seed: int) -> RTCPeerConnection:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    transceiver = pc.addTransceiver(PacketLoop(seed), direction="sendonly")
    caps = RTCRtpSender.getCapabilities("video")
    transceiver.setCodecPreferences([c for c in caps.codecs if c.mimeType == "video/VP8"])
    await exchange(pc, f"{url}/whip/{site}", tok)
    return pc


async def exchange(pc: RTCPeerConnection, url: str, tok: str) -> None:
    await pc.setLocalDescription(await pc.createOffer())
    req = urllib.request.Request(url, data=pc.localDescription.sdp.encode(), method="POST",
                                 headers={"Authorization": f"Bearer {tok}",
                                          "Content-Type": "application/sdp"})
    answer = await asyncio.to_thread(lambda: urllib.request.urlopen(req).read().decode())
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))


class CountingQueue(queue.Queue):  # type: ignore[type-arg]
    """Stands in for a receiver's decoder queue: counts assembled frames, decodes none."""

    def __init__(self, counts: dict[str, int], site: str) -> None:
        super().__init__()
        self.counts, self.site = counts, site

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            super().put(item, block, timeout)
        else:
            self.counts[self.site] += 1


async def viewer(url: str, site: str, tok: str, counts: dict[str, int], decode: bool = True
                 ) -> RTCPeerConnection:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    transceiver = pc.addTransceiver("video", direction="recvonly")
    tasks: list[asyncio.Future[None]] = []
    if not decode:
        transceiver.receiver._RTCRtpReceiver__decoder_queue = CountingQueue(counts, site)

    @pc.on("track")
    def on_track(track: Any) -> None:
        async def pull() -> None:
            try:
                while True:
                    await track.recv()
                    counts[site] += 1
            except MediaStreamError:
                pass

        if decode:
            tasks.append(asyncio.ensure_future(pull()))

    await exchange(pc, f"{url}/whep/{site}", tok)
    return pc


async def main(args: argparse.Namespace) -> None:
    data = tempfile.mkdtemp(prefix="two-feeds-")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "WINDOW_SECRET": secrets.token_hex(32),
           "WINDOW_PRIVACY__MODE": args.mode, "WINDOW_LOG__LEVEL": "warning"}
    command = [sys.executable, "-m", "window", "serve", "--data", data, "--port", str(port)]
    relay = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)  # noqa: ASYNC220
    url = f"http://127.0.0.1:{port}"
    stop = asyncio.Event()
    pcs: list[RTCPeerConnection] = []
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url + "/healthz", timeout=1)  # noqa: ASYNC210
                break
            except OSError:
                await asyncio.sleep(0.2)
        admin = token(data, env, "--role", "admin")
        publishers = []
        for i, site in enumerate(SITES):
            cam = token(data, env, "--role", "camera", "--site", site)
            if args.real_clients:
                publishers.append(asyncio.create_task(WhipPublisher(
                    url, site, cam, SyntheticSource(1280, 720, 30, seed=i)).run(stop)))
            else:
                pcs.append(await light_camera(url, site, cam, seed=i))
        counts = dict.fromkeys(SITES, 0)
        for site in SITES:
            pcs.append(await viewer(url, site, token(data, env, "--role", "viewer"), counts,
                                    decode=args.real_clients))
        await asyncio.sleep(args.warmup)
        before, cpu0, t0 = status(url, admin), proc_cpu_s(relay.pid), time.monotonic()
        own0 = proc_cpu_s(os.getpid())
        frames0 = dict(counts)
        await asyncio.sleep(args.window)
        after, cpu1, t1 = status(url, admin), proc_cpu_s(relay.pid), time.monotonic()
        own1 = proc_cpu_s(os.getpid())
        span = t1 - t0
        print(f"relay CPU {100 * (cpu1 - cpu0) / span:.0f} % of one core, cameras and viewers "
              f"(this process) {100 * (own1 - own0) / span:.0f} % (2 cores = 200 %), "
              f"mode {args.mode}, window {span:.0f} s")
        print("site      fps in  fps out  viewer fps  privacy p50/p95 ms  whole-frame blurs "
              "in the window (by reason)")
        for site in SITES:
            f0, f1 = before["sites"][site]["feed"], after["sites"][site]["feed"]
            p0, p1 = f0["privacy"], f1["privacy"]
            whole = {k: v - p0["whole_frame_blurs"].get(k, 0)
                     for k, v in p1["whole_frame_blurs"].items()
                     if v - p0["whole_frame_blurs"].get(k, 0)}
            frames = p1["frames"] - p0["frames"]
            print(f"{site:9s} {f1['fps_in']:6.1f} {f1['fps_out']:8.1f} "
                  f"{(counts[site] - frames0[site]) / span:11.1f}  "
                  f"{p1['latency_ms_p50']}/{p1['latency_ms_p95']}  "
                  f"{sum(whole.values())} of {frames} {whole}")
        stop.set()
        await asyncio.gather(*publishers, return_exceptions=True)
    finally:
        stop.set()
        for pc in pcs:
            await pc.close()
        relay.terminate()
        relay.wait(timeout=20)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", default="people", choices=["people", "faces", "full"])
    parser.add_argument("--warmup", type=float, default=20)
    parser.add_argument("--window", type=float, default=30)
    parser.add_argument("--real-clients", action="store_true",
                        help="window.camera publishers and decoding viewers")
    asyncio.run(main(parser.parse_args()))
