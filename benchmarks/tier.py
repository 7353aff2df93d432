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

1. relay CPU with 1, N (50) and 1 again viewers of bochum on the tier, then the same on
   tsukuba on the relay: N minus the mean of the two 1-viewer windows, in % of one core, side
   by side. The N viewers are cheap clients in processes of their own
   (``cheap_viewers.py``: real ICE/DTLS/SRTP peers that count packets and frames, no decoding,
   no feedback, niced), so the machine's load or their own lateness does not change the
   sender's work. Per window: the relay's CPU from ``/proc``, its encoded fps from
   ``/metrics`` (a window set whose encoded fps differ by more than 5 % is NOT VALID: the
   relay was short of CPU), the tier's, our clients' and everyone else's CPU, the load average;
2. latency: one decoding viewer on the tier and one on the relay (an operator), same frames:
   the difference per frame is what the tier adds (push, Janus's forwarder, Streaming);
3. a tier viewer's first decoded frame after its WHEP answer, over ``--joins`` joins, next to a
   relay viewer's;
4. signalling: POST → answer through the relay's door (proxy) vs POST → 307 → POST at the
   tier → answer; and straight at the tier, for reference;
5. the relay's cost of each tier instance: its push is one viewer of the shared encoder.

    flock /work/wt/bench.lock .venv/bin/python benchmarks/tier.py --window 15  # ≈ 3.5 min
    .venv/bin/python benchmarks/tier.py --viewers 20 --window 6   # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import platform
import re
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
        """A token that may hold all the benchmark's sessions (the per-token cap is 2)."""
        return mint(self.cfg, self.keys, role=Role(role), ttl_s=3600, site=site,
                    max_sessions=500)[0]

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


class Workers:
    """``benchmarks/cheap_viewers.py`` processes: the many viewers, off this process."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.procs: list[asyncio.subprocess.Process] = []

    async def start(self) -> None:
        for _ in range(self.count):
            # niced: on a busy machine they give way to the relay, whose CPU is measured
            # (they send no feedback, so their own lateness changes nothing at the sender)
            self.procs.append(await asyncio.create_subprocess_exec(
                "nice", "-n", "5", sys.executable, str(ROOT / "benchmarks" / "cheap_viewers.py"),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                cwd=str(ROOT / "benchmarks")))

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    async def ask(self, i: int, cmd: dict[str, Any]) -> dict[str, Any]:
        proc = self.procs[i]
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write((json.dumps(cmd) + "\n").encode())
        await proc.stdin.drain()
        line = await asyncio.wait_for(proc.stdout.readline(), 120)
        if not line:
            raise RuntimeError("a viewer process died")
        return dict(json.loads(line))

    async def add(self, url: str, token: str, n: int, have: int) -> list[float]:
        """``n`` more viewers, spread so that each process holds about as many."""
        share = [0] * self.count
        for k in range(have, have + n):
            share[k % self.count] += 1
        got = await asyncio.gather(*(self.ask(i, {"cmd": "add", "url": url, "token": token,
                                                  "n": m})
                                     for i, m in enumerate(share) if m))
        return [t for g in got for t in g["post_s"]]

    async def counts(self) -> tuple[list[int], float]:
        got = await asyncio.gather(*(self.ask(i, {"cmd": "counts"})
                                     for i in range(self.count)))
        return [f for g in got for f in g["frames"]], sum(g["cpu_s"] for g in got)

    async def keep(self, n: int) -> None:
        """Keep the first ``n`` viewers (of process 0), hang up the rest."""
        await asyncio.gather(*(self.ask(i, {"cmd": "keep", "n": n if i == 0 else 0})
                               for i in range(self.count)))

    async def stop(self) -> None:
        for i, proc in enumerate(self.procs):
            with contextlib.suppress(Exception):
                await self.ask(i, {"cmd": "quit"})
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            await proc.wait()


async def encoded_frames(relay: Relay) -> float:
    """Frames the relay's shared encoders made so far, all sites (from /metrics)."""
    async with aiohttp.ClientSession() as http, http.get(
            relay.url + "/metrics",
            headers={"Authorization": f"Bearer {relay.token('admin')}"}) as r:
        text = await r.text()
    return sum(float(m.group(1)) for m in re.finditer(
        r"^window_feed_frames_encoded_total\{[^}]*\} ([0-9.e+]+)$", text, re.M))


async def cpu_window(relay: Relay, tier_pids: list[int], workers: Workers, seconds: float
                     ) -> dict[str, Any]:
    """CPU of the relay, the tier (janus + node), our clients (this process and the
    viewer processes), everyone else; the relay's encoded fps; the load average."""
    load0 = os.getloadavg()[0]
    e0, (f0, w0) = await encoded_frames(relay), await workers.counts()
    t0, r0, m0, c0 = time.time(), relay.cpu_s(), machine_cpu(), proc_cpu_s()
    o0 = [proc_cpu_s(p) for p in tier_pids]
    await asyncio.sleep(seconds)
    t1, r1, m1, c1 = time.time(), relay.cpu_s(), machine_cpu(), proc_cpu_s()
    o1 = [proc_cpu_s(p) for p in tier_pids]
    e1, (f1, w1) = await encoded_frames(relay), await workers.counts()
    span = t1 - t0
    cores = os.cpu_count() or 1
    machine = (m1[0] - m0[0]) / max(1, m1[1] - m0[1]) * cores * 100
    relay_pct = (r1 - r0) / span * 100
    tier_pct = sum(b - a for a, b in zip(o0, o1, strict=True)) / span * 100
    clients = ((c1 - c0) + (w1 - w0)) / span * 100
    fps = [(b - a) / span for a, b in zip(f0, f1, strict=False)]
    return {"relay": relay_pct, "tier": tier_pct, "clients": clients, "machine": machine,
            "others": max(0.0, machine - relay_pct - tier_pct - clients),
            "encoded_fps": (e1 - e0) / span, "load": (load0, os.getloadavg()[0]),
            "fps_med": statistics.median(fps) if fps else float("nan"),
            "fps_min": min(fps, default=float("nan"))}


def show(label: str, n: int, p: dict[str, Any]) -> None:
    print(f"  {label:5s} N={n:3d}: relay {p['relay']:5.1f} % (encodes {p['encoded_fps']:.1f} "
          f"fps) · tier {p['tier']:5.1f} % · our clients {p['clients']:5.1f} % · others "
          f"{p['others']:5.1f} % · machine {p['machine']:5.1f} % · load "
          f"{p['load'][0]:.2f}→{p['load'][1]:.2f} · viewer fps med {p['fps_med']:.1f} "
          f"min {p['fps_min']:.1f}", flush=True)


async def wait_playing(workers: Workers, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frames, _ = await workers.counts()
        if frames and min(frames) > 0:
            return
        await asyncio.sleep(0.5)
    raise RuntimeError("some viewers received no frames")


async def phase(relay: Relay, url: str, n: int, window: float, tier_pids: list[int],
                workers: Workers, token: str) -> float:
    """Viewers at ``url``: 1, then ``n``, then 1 again, a CPU window at each; returns the
    relay's CPU at ``n`` minus the mean of the two 1-viewer windows (drift cancels)."""
    out: dict[str, dict[str, Any]] = {}
    try:
        await workers.add(url, token, 1, 0)
        for label, target in (("1", 1), ("N", n), ("1 again", 1)):
            if target == n:
                await workers.add(url, token, n - 1, 1)
            elif label == "1 again":
                await workers.keep(1)
            await wait_playing(workers)
            await asyncio.sleep(3)
            out[label] = await cpu_window(relay, tier_pids, workers, window)
            show(label[:5], target, out[label])
    finally:
        await workers.keep(0)
    # Valid only if the relay did the same work in all three windows: a starved relay
    # encodes fewer frames (and spends less), which would flatter the N window.
    fps = [w["encoded_fps"] for w in out.values()]
    if min(fps) < 0.95 * max(fps):
        print(f"   NOT VALID: the relay's encoded fps varied ({min(fps):.1f}–{max(fps):.1f}): "
              "it was short of CPU", flush=True)
    return float(out["N"]["relay"] - (out["1"]["relay"] + out["1 again"]["relay"]) / 2)


async def paired_latency(relay: Relay, window: float) -> None:
    """One decoding viewer of bochum on the tier (viewer token) and one on the relay (the
    partner's screen token: screens stay), at the same time: per capture stamp seen by both,
    the tier's arrival minus the relay's. Paired, so the machine's load mostly cancels."""
    async with aiohttp.ClientSession() as http:
        tier_v, _, _ = await viewer(http, f"{relay.url}/whep/bochum", relay.token("viewer"), True)
        relay_v, _, _ = await viewer(http, f"{relay.url}/whep/bochum", relay.token("admin"),
                                     True)  # operators stay on the relay
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
    ap.add_argument("--processes", type=int, default=2, help="cheap-viewer processes")
    args = ap.parse_args()
    from window.camera.sources import SyntheticSource

    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the start")
    print(f"tier benchmark · {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC · "
          f"{platform.node()} · {os.cpu_count()} cores · "
          f"{platform.processor() or platform.machine()}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        with janus_tier(tmp / "tier", ["bochum", "lyon"]) as tier:
            pids = [tier.janus_pid, *tier.node_pids]
            relay = Relay(tmp, tier)
            workers = Workers(args.processes)
            cams: list[RTCPeerConnection] = []
            sources = []
            try:
                await relay.wait_up()
                await workers.start()
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
                token = relay.token("viewer")
                print(f"1. relay CPU (% of one core), {args.viewers} cheap viewers in "
                      f"{workers.count} processes; tier viewers (bochum, proxy):", flush=True)
                dt = await phase(relay, f"{relay.url}/whep/bochum", args.viewers, args.window,
                                 pids, workers, token)
                await asyncio.sleep(3)
                print("   the same viewers on the relay (tsukuba):", flush=True)
                dr = await phase(relay, f"{relay.url}/whep/tsukuba", args.viewers, args.window,
                                 pids, workers, token)
                n1 = args.viewers - 1
                print(f"   1 → {args.viewers} viewers (N minus the mean of the two 1-viewer "
                      f"windows): relay CPU {dt:+.1f} % of a core on the tier vs {dr:+.1f} % "
                      f"on the relay ({dr / n1:.2f} % per viewer)", flush=True)
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
                print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")
                print("5. each tier instance is one push: one more viewer of the shared encoder "
                      "(see 1: the relay's cost per viewer)")
            finally:
                await workers.stop()
                for pc in cams:
                    await pc.close()
                for src in sources:
                    src.stop()
                relay.stop()


if __name__ == "__main__":
    asyncio.run(main())
