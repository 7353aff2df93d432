"""The soak benchmark's load: aiortc cameras and viewers over loopback that come and go at
random, the operator's moves, and the client processes it SIGKILLs (``benchmarks/soak.py``)."""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


WIDTH, HEIGHT, FPS = 640, 360, 30
CAMERA_FPS = 15  # the camera side only has to keep the feed live, not to be pretty
SITES = ("bochum", "tsukuba")
SCRIPT = str(Path(__file__).resolve().with_name("soak.py"))  # (its --victim and --serve)


# ---------------------------------------------------------------------------------------------
# clients
# ---------------------------------------------------------------------------------------------
class PatternTrack(MediaStreamTrack):
    """A cheap camera: a bar moving over grey, yuv420p, paced at ``fps``."""

    kind = "video"

    def __init__(self, fps: int = CAMERA_FPS) -> None:
        super().__init__()
        self.fps = fps
        self._start: float | None = None
        self._count = 0
        self._planes = []
        for i in range(8):
            img = np.full((HEIGHT * 3 // 2, WIDTH), 128, np.uint8)
            x = i * WIDTH // 8
            img[:HEIGHT, x:x + 40] = 230
            self._planes.append(img)

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        self._count += 1
        await asyncio.sleep(max(0.0, self._start + self._count / self.fps - time.monotonic()))
        frame = av.VideoFrame.from_ndarray(self._planes[self._count % 8], format="yuv420p")
        frame.pts = self._count * 90000 // self.fps
        frame.time_base = __import__("fractions").Fraction(1, 90000)
        return frame


class CountingQueue(queue.Queue):  # type: ignore[type-arg]
    """Replaces a receiver's decoder queue: counts assembled frames instead of decoding."""

    def __init__(self, counter: list[int]) -> None:
        super().__init__()
        self.counter = counter

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:  # the receiver stops: let its idle decoder thread end
            super().put(item, block, timeout)
        else:
            self.counter[0] += 1


async def wait_gathered(pc: RTCPeerConnection) -> None:
    while pc.iceGatheringState != "complete":
        await asyncio.sleep(0.01)


async def offer(http: aiohttp.ClientSession, url: str, token: str, pc: RTCPeerConnection,
                apply: bool = True) -> str:
    """POST ``pc``'s offer; apply the answer (unless ``apply`` is false); the Location."""
    await pc.setLocalDescription(await pc.createOffer())
    await wait_gathered(pc)
    async with http.post(url, data=pc.localDescription.sdp,
                         headers={"Content-Type": "application/sdp",
                                  "Authorization": f"Bearer {token}"}) as resp:
        body = await resp.text()
        if resp.status != 201:
            raise RuntimeError(f"{resp.status} {body.strip()[:80]}")
        location = resp.headers["Location"]
    if apply:
        await pc.setRemoteDescription(RTCSessionDescription(body, "answer"))
    return location


async def delete(http: aiohttp.ClientSession, url: str, token: str) -> int:
    async with http.delete(url, headers={"Authorization": f"Bearer {token}"}) as resp:
        await resp.read()
        return resp.status


def new_camera_pc() -> RTCPeerConnection:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver(PatternTrack(), direction="sendonly")
    return pc


def new_viewer_pc(counter: list[int]) -> RTCPeerConnection:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    tr = pc.addTransceiver("video", direction="recvonly")
    tr.receiver._RTCRtpReceiver__decoder_queue = CountingQueue(counter)  # type: ignore[attr-defined]
    return pc


async def wait_connected(pc: RTCPeerConnection, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while pc.connectionState != "connected":
        if pc.connectionState in ("failed", "closed") or time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def victim_main(args: argparse.Namespace) -> None:
    """A client process that the load SIGKILLs: a camera or a few viewers, no goodbye."""
    url, token = os.environ["SOAK_URL"], os.environ["SOAK_TOKEN"]
    pcs: list[RTCPeerConnection] = []
    counters: list[list[int]] = []
    async with aiohttp.ClientSession() as http:
        for _ in range(args.count):
            if args.victim == "camera":
                pc = new_camera_pc()
            else:
                counters.append([0])
                pc = new_viewer_pc(counters[-1])
            await offer(http, url, token, pc)
            pcs.append(pc)
        ok = all(await asyncio.gather(*(wait_connected(pc) for pc in pcs)))
        print(json.dumps({"ready": ok}), flush=True)
        while True:
            await asyncio.sleep(1.0)
            print(json.dumps({"frames": [c[0] for c in counters]}), flush=True)


# ---------------------------------------------------------------------------------------------
# the load (this process)
# ---------------------------------------------------------------------------------------------
@dataclass
class Tally:
    joins: collections.Counter[str] = field(default_factory=collections.Counter)
    leaves: collections.Counter[str] = field(default_factory=collections.Counter)
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    ops: collections.Counter[str] = field(default_factory=collections.Counter)
    viewers_with_frames: int = 0
    viewers_checked: int = 0
    camera_sessions: collections.Counter[str] = field(default_factory=collections.Counter)
    victims: int = 0


class Load:
    def __init__(self, args: argparse.Namespace, info: dict[str, Any]) -> None:
        self.args = args
        self.url = info["url"]
        self.tokens = info["tokens"]
        self.rng = random.Random(args.seed)
        self.stop = asyncio.Event()
        self.tally = Tally()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.victims: set[subprocess.Popen[str]] = set()
        self.http: aiohttp.ClientSession | None = None
        self.far: Any = None  # farlink.FarRelay when the soak relay pushes

    def spawn(self, coro: Any) -> None:
        t = asyncio.create_task(coro)
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    async def hold(self, seconds: float) -> None:
        """Sleep ``seconds`` or until the load stops."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)

    async def run(self, seconds: float) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
            self.http = http
            for site in SITES:
                self.spawn(self.camera_loop(site))
            self.spawn(self.viewer_arrivals())
            if self.args.ops_every > 0:
                self.spawn(self.operator_loop())
            if self.far is not None:
                self.spawn(self.partner_loop(self.far))
            await self.hold(seconds)
            self.stop.set()
            # every client leaves by its chosen way; victims are killed
            deadline = time.monotonic() + 60
            while self.tasks and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            for t in list(self.tasks):
                t.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
        for p in list(self.victims):
            self.kill(p)

    def kill(self, p: subprocess.Popen[str]) -> None:
        with contextlib.suppress(ProcessLookupError):
            p.send_signal(signal.SIGKILL)
        p.wait()
        self.victims.discard(p)

    async def start_victim(self, kind: str, site: str, count: int) -> subprocess.Popen[str] | None:
        role = "camera" if kind == "camera" else "viewer"
        path = "whip" if kind == "camera" else "whep"
        env = {**os.environ, "SOAK_URL": f"{self.url}/{path}/{site}",
               "SOAK_TOKEN": self.tokens[site][role]}
        p = subprocess.Popen([sys.executable, SCRIPT, "--victim", kind,  # noqa: ASYNC220
                              "--count", str(count)], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, text=True, env=env, cwd=str(ROOT))
        self.victims.add(p)
        self.tally.victims += 1
        assert p.stdout is not None
        line = await asyncio.to_thread(p.stdout.readline)
        ready = bool(line) and json.loads(line).get("ready", False)
        if not ready:
            self.tally.errors[f"{kind} victim not ready"] += 1
        # keep its stdout drained
        threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()  # type: ignore[union-attr]
        return p

    # cameras ------------------------------------------------------------------------------------
    async def camera_loop(self, site: str) -> None:
        await self.hold(self.rng.uniform(0, 3))
        while not self.stop.is_set():
            on = self.rng.expovariate(self.args.rate / 60.0) + 5
            way = self.rng.choices(["delete", "vanish", "kill"], [0.45, 0.35, 0.2])[0]
            self.tally.joins[f"camera {way}"] += 1
            try:
                if way == "kill":
                    p = await self.start_victim("camera", site, 1)
                    await self.hold(on)
                    if p is not None:
                        self.kill(p)
                else:
                    await self.camera_session(site, on, way)
                self.tally.leaves[f"camera {way}"] += 1
            except Exception as e:
                self.tally.errors[f"camera: {type(e).__name__} {str(e)[:40]}"] += 1
            await self.hold(self.rng.uniform(2, 15))

    async def camera_session(self, site: str, on: float, way: str) -> None:
        assert self.http is not None
        pc = new_camera_pc()
        token = self.tokens[site]["camera"]
        try:
            location = await offer(self.http, f"{self.url}/whip/{site}", token, pc)
            if not await wait_connected(pc):
                self.tally.errors["camera did not connect"] += 1
            await self.hold(on)
            if way == "delete":
                status = await delete(self.http, self.url + location, token)
                if status != 200:
                    self.tally.errors[f"camera DELETE {status}"] += 1
        finally:
            await pc.close()

    # operator -----------------------------------------------------------------------------------
    async def partner_loop(self, far: Any) -> None:
        """The partner relay goes away (SIGKILL or SIGTERM) about every ``--push-every``
        seconds and comes back 5–60 s later on the same port."""
        while not self.stop.is_set():
            await self.hold(self.rng.expovariate(1 / self.args.push_every))
            if self.stop.is_set():
                break
            await far.stop(self.rng.choice(["kill", "term"]))
            await self.hold(self.rng.uniform(5, 60))
            await far.start()  # back even when the load stops: the push must reconnect

    async def operator_loop(self) -> None:
        """An operator on the admin API: curtain down and up, privacy mode away and back."""
        assert self.http is not None
        head = {"Authorization": f"Bearer {self.tokens['admin']}"}
        modes = ["faces", "people", "curtain", "full"]
        while not self.stop.is_set():
            await self.hold(self.rng.expovariate(1 / self.args.ops_every))
            if self.stop.is_set():
                break
            site = self.rng.choice(SITES)
            base = f"{self.url}/api/sites/{site}"
            curtain = self.rng.random() < 0.5
            try:
                if curtain:
                    first: tuple[str, str, dict[str, Any]] = ("post", "/curtain",
                                                              {"down": True})
                    back: tuple[str, str, dict[str, Any]] = ("post", "/curtain", {"down": False})
                else:
                    first = ("put", "/privacy", {"mode": self.rng.choice(modes)})
                    back = ("put", "/privacy", {"mode": "full"})
                for i, (method, path, body) in enumerate((first, back)):
                    if i:
                        await asyncio.sleep(self.rng.uniform(10, 60))  # even when stopping
                    async with self.http.request(method, base + path, json=body,
                                                 headers=head) as resp:
                        await resp.read()
                        if resp.status != 200:
                            self.tally.errors[f"operator {path} {resp.status}"] += 1
                    key = f"op {path[1:]} {'down' if body.get('down') else body.get('mode', 'up')}"
                    self.tally.ops[key] += 1
            except Exception as e:
                self.tally.errors[f"operator: {type(e).__name__} {str(e)[:40]}"] += 1

    # viewers ------------------------------------------------------------------------------------
    async def viewer_arrivals(self) -> None:
        per_s = self.args.viewers_per_hour * self.args.rate / 3600
        while not self.stop.is_set():
            await self.hold(self.rng.expovariate(per_s))
            if self.stop.is_set():
                break
            site = self.rng.choice(SITES)
            way = self.rng.choices(["delete", "vanish", "kill", "ghost", "hasty"],
                                   [0.4, 0.35, 0.1, 0.1, 0.05])[0]
            life = self.rng.uniform(5, 60)
            if way == "kill":
                count = self.rng.randint(1, 3)
                self.tally.joins["viewer kill"] += count
                self.spawn(self.viewer_victim(site, count, life))
            else:
                self.tally.joins[f"viewer {way}"] += 1
                self.spawn(self.viewer_session(site, life, way))

    async def viewer_victim(self, site: str, count: int, life: float) -> None:
        try:
            p = await self.start_victim("viewer", site, count)
            await self.hold(life)
            if p is not None:
                self.kill(p)
            self.tally.leaves["viewer kill"] += count
        except Exception as e:
            self.tally.errors[f"viewer victim: {type(e).__name__} {str(e)[:40]}"] += 1

    async def viewer_session(self, site: str, life: float, way: str) -> None:
        assert self.http is not None
        counter = [0]
        pc = new_viewer_pc(counter)
        token = self.tokens[site]["viewer"]
        try:
            location = await offer(self.http, f"{self.url}/whep/{site}", token, pc,
                                   apply=way != "ghost")
            if way == "hasty":
                # hangs up the moment ICE connects, while DTLS is still shaking hands
                deadline = time.monotonic() + 10
                while (pc.iceConnectionState not in ("completed", "connected", "failed")
                       and time.monotonic() < deadline):
                    await asyncio.sleep(0.002)
                status = await delete(self.http, self.url + location, token)
                if status != 200:
                    self.tally.errors[f"viewer DELETE {status}"] += 1
            elif way != "ghost":
                if not await wait_connected(pc):
                    self.tally.errors["viewer did not connect"] += 1
                await self.hold(life)
                self.tally.viewers_checked += 1
                self.tally.viewers_with_frames += counter[0] > 0
                if way == "delete":
                    status = await delete(self.http, self.url + location, token)
                    if status != 200:
                        self.tally.errors[f"viewer DELETE {status}"] += 1
            self.tally.leaves[f"viewer {way}"] += 1
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self.tally.errors[f"viewer: {type(e).__name__} {str(e)[:40]}"] += 1
        finally:
            await pc.close()
