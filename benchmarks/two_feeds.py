"""Both cities at once: two 1280×720 30 fps feeds through the whole relay, privacy on.

The relay (`window serve`, privacy mode `people` unless --mode says otherwise) runs in its own
process; this process publishes the two synthetic street scenes over WHIP (`window.camera`)
and watches each feed with one aiortc viewer. After a warm-up it samples, over a window:
the relay's CPU (/proc/<pid>/stat), each feed's fps in/out, privacy latency p50/p95 and the
frames pixelated whole by reason (from /api/status), and the frames each viewer received.
Note the cameras and viewers share the machine's 2 cores with the relay.

    .venv/bin/python benchmarks/two_feeds.py [--mode people] [--warmup 20] [--window 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from proc import proc_cpu_s

from window.camera.publisher import WhipPublisher
from window.camera.sources import SyntheticSource

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


async def viewer(url: str, site: str, tok: str, counts: dict[str, int]) -> RTCPeerConnection:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    tasks: list[asyncio.Future[None]] = []

    @pc.on("track")
    def on_track(track: Any) -> None:
        async def pull() -> None:
            try:
                while True:
                    await track.recv()
                    counts[site] += 1
            except MediaStreamError:
                pass

        tasks.append(asyncio.ensure_future(pull()))

    await pc.setLocalDescription(await pc.createOffer())
    req = urllib.request.Request(f"{url}/whep/{site}", data=pc.localDescription.sdp.encode(),
                                 method="POST", headers={"Authorization": f"Bearer {tok}",
                                                         "Content-Type": "application/sdp"})
    answer = await asyncio.to_thread(lambda: urllib.request.urlopen(req).read().decode())
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
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
        publishers = [asyncio.create_task(WhipPublisher(
            url, site, token(data, env, "--role", "camera", "--site", site),
            SyntheticSource(1280, 720, 30, seed=i)).run(stop)) for i, site in enumerate(SITES)]
        counts = dict.fromkeys(SITES, 0)
        for site in SITES:
            pcs.append(await viewer(url, site, token(data, env, "--role", "viewer"), counts))
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
    asyncio.run(main(parser.parse_args()))
