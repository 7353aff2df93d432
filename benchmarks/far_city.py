"""Across the world: what a viewer in the far city sees through a long, lossy, jittery link.

The relay (`window serve`, 1280×720 30 fps, privacy mode `people` unless --mode says
otherwise) runs in its own process. This process publishes the synthetic street scene with a
barcode of its capture time in every frame (window/camera/marker.py) and watches the feed with
several aiortc viewers, each through its own impaired link (tests/netimpair.py, in the real
media path: STUN, DTLS, RTP and RTCP all cross it):

    clean          no impairment (the same proxy, so the comparison is fair)
    far            250 ms RTT (125 ms each way), ± 30 ms jitter, 1 % random loss, both ways
    far+burst      the same plus Gilbert–Elliott burst loss (bad 1 % of the time, 70 % lost
                   there, bursts of ≈ 5 packets)

each of the far links twice: with aiortc's own receiving jitter buffer (`stock`) and with the
relay's (`repair`, window/media/repair.py, media.repair_wait_ms), which is what a receiving
relay (the push from the partner city) and every camera use.

A frame counts as picture when its barcode reads back (a frame decoded from a broken reference
chain does not); fps and freezes (gaps over 500 ms between pictures) are over the window.
Then every far link goes down for 5 s, --outages times: "back" is from the link's return to
the first picture captured after it went down.

    .venv/bin/python benchmarks/far_city.py [--mode people] [--window 60] [--outages 3]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from netimpair import Counters, GilbertElliott, ImpairedSignalling, Impairment  # noqa: E402
from proc import proc_cpu_s  # noqa: E402

from window.camera.marker import decode_marker, marker_height  # noqa: E402
from window.camera.sources import SyntheticSource  # noqa: E402
from window.media.repair import RepairingJitterBuffer, repair_losses  # noqa: E402

WIDTH, HEIGHT, FPS = 1280, 720, 30  # what the relay sends (its defaults)
BLOCK = 32  # in the camera's frame: survives VP8 twice and a 32 px pixelation grid
SITE = "bochum"
FREEZE_S = 0.5


def read_stamp(frame: av.VideoFrame, block: int) -> float | None:
    plane = frame.planes[0]
    rows = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)  # type: ignore[arg-type]
    return decode_marker(rows[:marker_height(frame.width, block), :frame.width], block)


def far(burst: bool) -> Impairment:
    return Impairment(delay_ms=125, jitter_ms=30, loss=0.01,
                      burst=GilbertElliott(p=0.002, r=0.2, loss_bad=0.7) if burst else None)


@dataclass
class Viewer:
    name: str
    proxy: ImpairedSignalling  # the impaired link: this viewer's own, or the push's
    repair_ms: float
    block: int = BLOCK
    direct: str = ""  # watch this relay directly (push: the far relay), not via the proxy
    pc: RTCPeerConnection | None = None
    buffer: RepairingJitterBuffer | None = None
    task: asyncio.Task[None] | None = None
    packets_in_window = 0
    decoded: list[float] = field(default_factory=list)          # arrival of every frame
    pictures: list[tuple[float, float]] = field(default_factory=list)  # (arrival, stamp)

    async def start(self, tok: str) -> None:
        pc = self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        transceiver = pc.addTransceiver("video", direction="recvonly")
        self.buffer = repair_losses(transceiver.receiver, self.repair_ms)
        got: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
        pc.on("track", lambda t: got.done() or got.set_result(t))
        await pc.setLocalDescription(await pc.createOffer())
        req = urllib.request.Request(
            f"{self.direct or self.proxy.url}/whep/{SITE}", data=pc.localDescription.sdp.encode(),
            method="POST", headers={"Authorization": f"Bearer {tok}",
                                    "Content-Type": "application/sdp"})
        answer = await asyncio.to_thread(lambda: urllib.request.urlopen(req).read().decode())
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        self.task = asyncio.create_task(self._pull(await asyncio.wait_for(got, 10)))

    async def _pull(self, track: MediaStreamTrack) -> None:
        last = 0.0
        try:
            while True:
                frame = await track.recv()
                now = time.time()
                self.decoded.append(now)
                stamp = read_stamp(frame, self.block)  # type: ignore[arg-type]
                if stamp is not None and last < stamp <= now:
                    last = stamp
                    self.pictures.append((now, stamp))
        except MediaStreamError:
            pass

    def watched_relay(self, relays: list[RelayProcess]) -> RelayProcess:
        url = self.direct or self.proxy.upstream
        return next(r for r in relays if r.url == url)

    def link_counters(self) -> Counters:
        """The media direction of the impaired link: to the viewer, or, for a push, to the
        far relay."""
        return self.proxy.totals()["to_server" if self.direct else "to_client"]

    def link_packets(self) -> int:
        return self.link_counters().received

    def skips(self, relays: list[RelayProcess]) -> str:
        if self.direct:  # the far relay's receiver: from its status
            relay = self.watched_relay(relays)
            req = urllib.request.Request(relay.url + "/api/status", headers={
                "Authorization": f"Bearer {relay.token('--role', 'admin')}"})
            try:
                with urllib.request.urlopen(req, timeout=5) as resp:
                    source = json.loads(resp.read())["sites"][SITE]["relay_source"] or {}
            except (OSError, ValueError, KeyError):
                return "?"
            repair = source.get("repair")
            return str(repair["skips"]) if repair else "-"
        return str(self.buffer.skips) if self.buffer else "-"

    def window(self, t0: float, t1: float) -> dict[str, Any]:
        pics = [p for p in self.pictures if t0 <= p[0] < t1]
        gaps = [b[0] - a[0] for a, b in itertools.pairwise(pics)]
        if pics:  # a freeze running at either end of the window counts too
            gaps += [pics[0][0] - t0, t1 - pics[-1][0]]
        else:
            gaps = [t1 - t0]
        freezes = [g for g in gaps if g > FREEZE_S]
        minutes = (t1 - t0) / 60
        lat = sorted(a - s for a, s in pics)
        decoded = sum(t0 <= t < t1 for t in self.decoded)
        return {"fps": len(pics) / (t1 - t0), "decoded_fps": decoded / (t1 - t0),
                "freezes_per_min": len(freezes) / minutes,
                "frozen_s_per_min": sum(freezes) / minutes,
                "longest_s": max(gaps), "latency_ms": 1000 * lat[len(lat) // 2] if lat else 0}

    def back_after(self, down_at: float, up_at: float) -> float | None:
        for arrival, stamp in self.pictures:
            if arrival >= up_at and stamp >= down_at:
                return arrival - up_at
        return None


def token(data: str, env: dict[str, str], *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "window", "token", "create", *args,
                          "--data", data], capture_output=True, text=True, env=env, check=True)
    return out.stdout.strip()


def machine() -> str:
    with open("/proc/cpuinfo") as f:
        model = next((line.split(":", 1)[1].strip() for line in f
                      if line.startswith("model name")), platform.processor())
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


@dataclass
class RelayProcess:
    """`window serve` in a child process, with its own data dir and secret."""

    mode: str
    repair_ms: float = 600
    config: str = ""
    data: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="far-city-"))
    proc: subprocess.Popen[bytes] | None = None
    url: str = ""

    def __post_init__(self) -> None:
        self.env = {**os.environ, "WINDOW_SECRET": secrets.token_hex(32),
                    "WINDOW_PRIVACY__MODE": self.mode, "WINDOW_LOG__LEVEL": "warning",
                    "WINDOW_MEDIA__REPAIR_WAIT_MS": str(int(self.repair_ms))}
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def token(self, *args: str) -> str:
        return token(self.data, self.env, *args)

    async def start(self) -> RelayProcess:
        command = [sys.executable, "-m", "window", "serve", "--data", self.data,
                   "--port", str(self.port)] + (["--config", self.config] if self.config else [])
        self.proc = subprocess.Popen(command, env=self.env,  # noqa: ASYNC220
                                     stderr=subprocess.DEVNULL)
        for _ in range(150):
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=1)  # noqa: ASYNC210
                return self
            except OSError:
                await asyncio.sleep(0.2)
        raise RuntimeError("the relay did not start")

    def cpu_s(self) -> float:
        return proc_cpu_s(self.proc.pid) if self.proc else 0.0

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


async def publish_camera(relay: RelayProcess, source: SyntheticSource) -> RTCPeerConnection:
    camera = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    camera.addTransceiver(source.view(), direction="sendonly")
    await camera.setLocalDescription(await camera.createOffer())
    cam = relay.token("--role", "camera", "--site", SITE)
    req = urllib.request.Request(
        f"{relay.url}/whip/{SITE}", data=camera.localDescription.sdp.encode(), method="POST",
        headers={"Authorization": f"Bearer {cam}", "Content-Type": "application/sdp"})
    answer = await asyncio.to_thread(lambda: urllib.request.urlopen(req).read().decode())
    await camera.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    return camera


def variants(args: argparse.Namespace) -> list[tuple[str, Impairment, float]]:
    out = []
    for burst in (False, True)[:1 + args.burst]:
        for repair in args.repair:
            name = ("far+burst" if burst else "far") + (f" repair {repair:.0f}"
                                                        if repair else " stock")
            out.append((name, far(burst), repair))
    return out


async def main(args: argparse.Namespace) -> None:
    """--push: Bochum's relay pushes to one far relay per variant through the impaired link;
    the viewers watch their own (far) relay over a clean link. Else: WHEP viewers of one
    relay, each through its own impaired link."""
    source = SyntheticSource(args.camera_width, args.camera_width * 9 // 16, FPS,
                             marker="barcode")
    source.scene.marker_block = BLOCK
    block = BLOCK * WIDTH // args.camera_width  # the relay scales the camera's frame
    viewers: list[Viewer] = []
    relays: list[RelayProcess] = []
    camera: RTCPeerConnection | None = None
    try:
        if args.push:
            pushes = []
            for seed, (name, imp, repair) in enumerate(variants(args), start=1):
                far_relay = await RelayProcess(args.mode, repair).start()
                relays.append(far_relay)
                proxy = await ImpairedSignalling(far_relay.url, to_client=imp, to_server=imp,
                                                 seed=seed).start()
                pushes.append((proxy, far_relay.token("--role", "relay", "--site", SITE)))
                viewers.append(Viewer(name, proxy, 0, block, far_relay.url))
            config = Path(relays[0].data) / "origin.toml"
            config.write_text(f'[sites.{SITE}]\ntimezone = "Europe/Berlin"\n' + "".join(
                f'[[sites.{SITE}.push]]\nurl = "{p.url}/whip/{SITE}"\ntoken = "{t}"\n'
                for p, t in pushes))
            origin = RelayProcess(args.mode, config=str(config))
            relays.insert(0, await origin.start())
            clean = await ImpairedSignalling(origin.url).start()
            viewers.insert(0, Viewer("origin (clean)", clean, 0, block))
        else:
            origin = await RelayProcess(args.mode).start()
            relays.append(origin)
            for seed, (name, imp, repair) in enumerate(
                    [("clean", Impairment(), 0.0), *variants(args)]):
                proxy = await ImpairedSignalling(origin.url, to_client=imp, to_server=imp,
                                                 seed=seed).start()
                viewers.append(Viewer(name, proxy, repair, block))
        camera = await publish_camera(origin, source)
        for v in viewers:
            await v.start(v.watched_relay(relays).token("--role", "viewer"))
        await asyncio.sleep(args.warmup)
        cpu0, own0, t0 = [r.cpu_s() for r in relays], proc_cpu_s(), time.time()
        before = [v.link_packets() for v in viewers]
        await asyncio.sleep(args.window)
        cpu1, own1, t1 = [r.cpu_s() for r in relays], proc_cpu_s(), time.time()
        for v, n in zip(viewers, before, strict=True):
            v.packets_in_window = v.link_packets() - n
        outages: list[tuple[float, float]] = []
        for _ in range(args.outages):
            down = time.time()
            for v in viewers[1:]:
                v.proxy.set_outage(True)
            await asyncio.sleep(5.0)
            for v in viewers[1:]:
                v.proxy.set_outage(False)
            outages.append((down, time.time()))
            await asyncio.sleep(args.gap)
        span = t1 - t0
        print(f"# far_city: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {machine()}")
        relay_cpu = " ".join(f"{100 * (b - a) / span:.0f}" for a, b in zip(cpu0, cpu1,
                                                                           strict=True))
        print(f"# {'push relay to relay' if args.push else 'WHEP viewers of one relay'}, "
              f"mode {args.mode}, {WIDTH}x{HEIGHT} {FPS} fps, window {span:.0f} s, relay CPU "
              f"{relay_cpu} %, camera+viewers+links (this process) "
              f"{100 * (own1 - own0) / span:.0f} % of one core; camera "
              f"{args.camera_width} px wide; {args.outages} outages of 5 s; load "
              f"{os.getloadavg()[0]:.1f}")
        print(f"{'link':18} {'fps':>5} {'decoded':>7} {'freezes>0.5s/min':>16} "
              f"{'frozen s/min':>12} {'longest s':>9} {'latency ms':>10} "
              f"{'back after 5 s outage (s)':>26}  pkt/s  loss%  skips")
        for v in viewers:
            w = v.window(t0, t1)
            backs = [v.back_after(d, u) for d, u in outages] if v is not viewers[0] else []
            back = " ".join("never" if b is None else f"{b:.2f}" for b in backs) or "-"
            c = v.link_counters()
            loss = 100 * (c.lost - c.lost_outage) / c.received if c.received else 0.0
            rate = v.packets_in_window / span
            skips = v.skips(relays)
            print(f"{v.name:18} {w['fps']:5.1f} {w['decoded_fps']:7.1f} "
                  f"{w['freezes_per_min']:16.2f} {w['frozen_s_per_min']:12.2f} "
                  f"{w['longest_s']:9.2f} {w['latency_ms']:10.0f} {back:>26}  "
                  f"{rate:5.0f}  {loss:5.2f}  {skips}")
    finally:
        for v in viewers:
            if v.task:
                v.task.cancel()
            if v.pc:
                await v.pc.close()
            await v.proxy.close()
        if camera is not None:
            await camera.close()
        source.stop()
        for r in relays:
            r.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", default="people", choices=["people", "faces", "full"])
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--window", type=float, default=60)
    parser.add_argument("--outages", type=int, default=3)
    parser.add_argument("--gap", type=float, default=8.0, help="seconds between outages")
    parser.add_argument("--push", action="store_true",
                        help="measure the push relay to relay (viewers on the far relays)")
    parser.add_argument("--repair", type=float, nargs="+", default=[0, 600],
                        help="receivers to compare: 0 = aiortc's own, N = repair_wait_ms N")
    parser.add_argument("--burst", type=int, default=1, choices=[0, 1],
                        help="also the far links with burst loss")
    parser.add_argument("--camera-width", type=int, default=640,
                        help="the camera's frame width (the relay sends 1280×720 anyway)")
    asyncio.run(main(parser.parse_args()))
