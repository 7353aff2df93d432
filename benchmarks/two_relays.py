"""Two relays, side by side: what receiving a partner's feed costs, and what it adds.

Prints figures (this is not a test). Two relays run, each in its own child process so that
its CPU time can be read alone from ``/proc/<pid>/stat``:

* the **origin** (Bochum's relay): one 1280×720 30 fps camera (``SyntheticSource``, the
  street with real faces and a barcode of the capture time), privacy mode ``people``
  (decode, layered privacy, one shared encode), pushing the feed to
* the **far** relay (Tsukuba's), which receives it with a ``relay`` token and forwards the
  arriving VP8 frames to its viewers without decoding and encoding them again, while its
  audit decodes them and searches ``audit.fps`` frames a second for faces.

This process is the camera and one decoding viewer on each relay. Phases, one run:

1. **CPU, forwarding**: origin and far CPU over the same window (audit included).
2. **CPU, the naive way**: the far relay treats the arriving feed as a camera (decode →
   privacy ``people`` → encode, what the audit switches to); the ratio is against phase 1.
3. **Latency**: the origin switches to mode ``full`` (the 32 px barcode survives its
   32 px pixelation; ``people`` blurs the moving barcode); capture → decoded at each viewer;
   the extra latency of the far viewer is the difference of the p50s.
4. **Audit catch time**: a "partner" with a relay token pushes the street unblurred to the
   far relay (site tsukuba), five times; time from its first arriving frame to the alert.

    .venv/bin/python benchmarks/two_relays.py            # ≈ 3 minutes
    .venv/bin/python benchmarks/two_relays.py --quick    # ≈ 1.5 minutes
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
import av
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fanout import (  # noqa: E402
    BLOCK,
    machine_cpu,
    pct,
    post,
    read_stamp,
    thread_cpu_s,
    thread_group,
)
from proc import proc_cpu_s, stdin_commands  # noqa: E402

WIDTH, HEIGHT, FPS = 1280, 720, 30


# ---------------------------------------------------------------------------------------------
# relay side (child process)
# ---------------------------------------------------------------------------------------------
async def relay_main(args: argparse.Namespace) -> None:
    """Child: one relay; answers lines on stdin (stats, local, forward, mode M, clear S)."""
    from window.app import Server
    from window.auth.roles import Role
    from window.auth.tokens import mint
    from window.config import PrivacyMode, PushConfig, load

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("window").setLevel(logging.CRITICAL)
    cfg = load(None, env={}, flags={
        "server": {"port": 0, "data_dir": tempfile.mkdtemp(prefix=f"two-relays-{args.serve}-")},
        "media": {"width": WIDTH, "height": HEIGHT, "fps": args.fps},
        "privacy": {"mode": "people"},
        "log": {"level": "warning"},
    })
    if args.push_url:
        cfg.sites["bochum"].push = [PushConfig(url=args.push_url, token=args.push_token)]
    srv = Server(cfg)
    await srv.start()

    def token(role: Role, site: str | None = None) -> str:
        return mint(cfg, srv.keys, role=role, ttl_s=3600, site=site)[0]

    print(json.dumps({"url": srv.url, "camera": token(Role.CAMERA, "bochum"),
                      "viewer": token(Role.VIEWER), "relay_bochum": token(Role.RELAY, "bochum"),
                      "relay_tsukuba": token(Role.RELAY, "tsukuba")}), flush=True)
    commands = stdin_commands(asyncio.get_running_loop())
    while (cmd := await commands.get()) != "quit":
        word, _, arg = cmd.partition(" ")
        feed = srv.relay.feeds["bochum"]
        if word == "local" and feed.ingest is not None:
            feed.ingest.go_local()
        elif word == "forward" and feed.ingest is not None:
            feed.ingest.go_forward()
        elif word == "mode":
            feed.privacy.set_mode(PrivacyMode(arg))
            feed.wake()
        elif word == "clear":
            await srv.relay.clear_audit(arg)
        reply = {name: f.snapshot() for name, f in srv.relay.feeds.items()}
        reply["pushes"] = [p.snapshot() for p in srv.relay.pushes.pushes]
        reply["threads"] = {str(t.native_id): t.name for t in threading.enumerate()}
        print(json.dumps(reply, default=str), flush=True)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(srv.close(), 10)


class Child:
    def __init__(self, kind: str, *extra: str) -> None:
        self.kind = kind
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve", kind, *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=str(ROOT))
        self.info: dict[str, Any] = {}

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.kind} relay exited ({self.proc.poll()})")
        return line

    async def start(self) -> None:
        self.info = json.loads(await asyncio.to_thread(self._line))

    async def ask(self, cmd: str = "stats") -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return json.loads(await asyncio.to_thread(self._line))  # type: ignore[no-any-return]

    def cpu_s(self) -> float:
        return proc_cpu_s(self.proc.pid)

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
        try:
            await asyncio.to_thread(self.proc.wait, 15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# ---------------------------------------------------------------------------------------------
# client side (this process)
# ---------------------------------------------------------------------------------------------
class Viewer:
    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTransceiver("video", direction="recvonly")
        self.frames = 0
        self.samples: list[tuple[float, float]] = []  # (decoded at, captured at)
        self.task: asyncio.Task[None] | None = None

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if self.task is None:
                self.task = asyncio.create_task(self._consume(track))

    async def _consume(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                now = time.time()
                self.frames += 1
                stamp = read_stamp(frame) if isinstance(frame, av.VideoFrame) else None
                if stamp is not None:
                    self.samples.append((now, stamp))

    def latencies(self, t0: float, t1: float) -> list[float]:
        return [(a - c) * 1000 for a, c in self.samples if t0 <= a <= t1]


def _frames(origin_snap: dict[str, Any], far_snap: dict[str, Any]) -> tuple[int, int]:
    """Frames the origin took from its camera, frames that arrived at the far relay."""
    relay = far_snap["bochum"]["relay"] or {}
    return int(origin_snap["bochum"]["privacy"]["frames"]), int(relay.get("frames", 0))


async def others_busy(children: list[Child], seconds: float = 1.0) -> float:
    """% of a core used by processes other than ours, over ``seconds``."""
    t0, m0, c0 = time.monotonic(), machine_cpu(), [c.cpu_s() for c in children] + [proc_cpu_s()]
    await asyncio.sleep(seconds)
    t1, m1, c1 = time.monotonic(), machine_cpu(), [c.cpu_s() for c in children] + [proc_cpu_s()]
    busy = (m1[0] - m0[0]) / max(1, m1[1] - m0[1]) * (os.cpu_count() or 1) * 100
    return busy - sum(b - a for a, b in zip(c0, c1, strict=True)) / (t1 - t0) * 100


PATIENCE = [60.0]  # seconds, --patience


async def wait_quiet(children: list[Child], limit: float = 25.0) -> None:
    """The machine is shared: wait (up to ``patience`` s) for other processes to calm down."""
    started = time.monotonic()
    while (other := await others_busy(children)) > limit:
        if time.monotonic() - started > PATIENCE[0]:
            print(f"  (other processes still use {other:.0f} % of a core: figures are noisy)",
                  flush=True)
            return


async def cpu_window(origin: Child, far: Child, seconds: float,
                     viewers: list[Viewer]) -> dict[str, Any]:
    await wait_quiet([origin, far])
    fr0 = _frames(await origin.ask(), await far.ask())
    th0 = [thread_cpu_s(origin.proc.pid), thread_cpu_s(far.proc.pid)]
    t0, o0, f0, c0, m0 = time.time(), origin.cpu_s(), far.cpu_s(), proc_cpu_s(), machine_cpu()
    n0 = [v.frames for v in viewers]
    await asyncio.sleep(seconds)
    t1, o1, f1, c1, m1 = time.time(), origin.cpu_s(), far.cpu_s(), proc_cpu_s(), machine_cpu()
    th1 = [thread_cpu_s(origin.proc.pid), thread_cpu_s(far.proc.pid)]
    replies = [await origin.ask(), await far.ask()]
    fr1 = _frames(*replies)
    span = t1 - t0
    cores = os.cpu_count() or 1
    busy = (m1[0] - m0[0]) / max(1, m1[1] - m0[1]) * cores * 100
    ours = ((o1 - o0) + (f1 - f0) + (c1 - c0)) / span * 100
    groups: list[dict[str, float]] = []
    for before, after, reply in zip(th0, th1, replies, strict=True):
        g: dict[str, float] = {}
        for tid, cpu in after.items():
            name = thread_group(reply["threads"].get(tid, "native"))
            g[name] = g.get(name, 0.0) + (cpu - before.get(tid, 0.0)) / (t1 - t0) * 100
        groups.append({k: round(v, 1) for k, v in sorted(g.items(), key=lambda kv: -kv[1])
                       if v >= 0.3})
    return {"origin_threads": groups[0], "far_threads": groups[1],
            "origin": (o1 - o0) / span * 100, "far": (f1 - f0) / span * 100,
            "clients": (c1 - c0) / span * 100, "others": busy - ours,
            "origin_ms_per_frame": (o1 - o0) * 1000 / max(1, fr1[0] - fr0[0]),
            "far_ms_per_frame": (f1 - f0) * 1000 / max(1, fr1[1] - fr0[1]),
            "origin_fps_in": (fr1[0] - fr0[0]) / span, "far_fps_in": (fr1[1] - fr0[1]) / span,
            "fps_origin_viewer": (viewers[0].frames - n0[0]) / span,
            "fps_far_viewer": (viewers[1].frames - n0[1]) / span, "t0": t0, "t1": t1}


def _cpu_line(what: str, w: dict[str, Any]) -> str:
    return (f"CPU, {what}: origin {w['origin']:.1f} % of a core ({w['origin_ms_per_frame']:.1f}"
            f" ms a camera frame, {w['origin_fps_in']:.1f} fps)  far {w['far']:.1f} % "
            f"({w['far_ms_per_frame']:.1f} ms an arriving frame, {w['far_fps_in']:.1f} fps); "
            f"far/origin {w['far'] / w['origin']:.3f}; clients {w['clients']:.0f} %, others "
            f"{w['others']:.0f} %; viewers {w['fps_origin_viewer']:.1f} / "
            f"{w['fps_far_viewer']:.1f} fps\n  origin threads {w['origin_threads']}\n"
            f"  far threads {w['far_threads']}")


async def audit_rounds(http: aiohttp.ClientSession, far: Child, rounds: int, fps: int
                       ) -> list[float]:
    """Seconds from a rogue partner's first arriving frame to the alert, per round."""
    from window.camera.sources import SyntheticSource

    out: list[float] = []
    for _ in range(rounds):
        source = SyntheticSource(WIDTH, HEIGHT, fps, seed=5)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTransceiver(source.view(), direction="sendonly")
        await post(http, far.info["url"] + "/whip/tsukuba", far.info["relay_tsukuba"], pc)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            snap = (await far.ask())["tsukuba"]
            alert, relay = snap["audit_alert"], snap["relay"]
            if alert and relay and relay["first_frame_at"]:
                out.append(alert["at"] - relay["first_frame_at"])
                break
            await asyncio.sleep(0.1)
        else:
            print("  audit: no alert within 20 s", flush=True)
        await pc.close()
        source.stop()
        await far.ask("clear tsukuba")
        await asyncio.sleep(1.0)
    return out


async def client_main(args: argparse.Namespace) -> None:
    from window.camera.sources import SyntheticSource

    warm, window = (5, 15) if args.quick else (10, 30)
    far = Child("far", "--fps", str(args.fps))
    await far.start()
    origin = Child("origin", "--fps", str(args.fps), "--push-url",
                   far.info["url"] + "/whip/bochum", "--push-token", far.info["relay_bochum"])
    await origin.start()
    source = SyntheticSource(WIDTH, HEIGHT, args.fps, marker="barcode")
    source.scene.marker_block = BLOCK
    pub = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pub.addTransceiver(source.view(), direction="sendonly")
    viewers = [Viewer(), Viewer()]
    results: dict[str, Any] = {}
    try:
        async with aiohttp.ClientSession() as http:
            await post(http, origin.info["url"] + "/whip/bochum", origin.info["camera"], pub)
            await post(http, origin.info["url"] + "/whep/bochum", origin.info["viewer"],
                       viewers[0].pc)
            await post(http, far.info["url"] + "/whep/bochum", far.info["viewer"], viewers[1].pc)
            deadline = time.monotonic() + 60
            while any(v.frames == 0 for v in viewers) and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            await asyncio.sleep(warm)
            snap = await far.ask()
            print(f"far relay: bochum source {snap['bochum']['source']}, "
                  f"audit {snap['bochum']['audit_alert'] or 'clean'}", flush=True)

            fwd = await cpu_window(origin, far, window, viewers)
            snap = await far.ask()
            results["forward"] = fwd
            results["far_encodes_while_forwarding"] = snap["bochum"]["fps_out"]
            print(_cpu_line("far forwarding", fwd) + f"; far encodes "
                  f"{snap['bochum']['fps_out']} fps", flush=True)

            await far.ask("local")
            await asyncio.sleep(warm)
            naive = await cpu_window(origin, far, window, viewers)
            results["local"] = naive
            print(_cpu_line("far processing it locally (the naive way)", naive), flush=True)
            print(f"forwarding costs the far relay {fwd['far'] / naive['far']:.2f} of the naive "
                  f"way ({fwd['far_ms_per_frame'] / naive['far_ms_per_frame']:.2f} per frame)",
                  flush=True)
            await far.ask("forward")

            await origin.ask("mode full")
            await asyncio.sleep(warm)
            await wait_quiet([origin, far])
            t0 = time.time()
            await asyncio.sleep(window)
            t1 = time.time()
            near_ms = viewers[0].latencies(t0, t1)
            far_ms = viewers[1].latencies(t0, t1)
            results["latency"] = {"origin_p50": pct(near_ms, .5), "origin_p90": pct(near_ms, .9),
                                  "far_p50": pct(far_ms, .5), "far_p90": pct(far_ms, .9),
                                  "samples": [len(near_ms), len(far_ms)]}
            lat = results["latency"]
            print(f"latency capture → decoded, ms: origin viewer p50 {lat['origin_p50']:.0f} "
                  f"p90 {lat['origin_p90']:.0f}; far viewer p50 {lat['far_p50']:.0f} p90 "
                  f"{lat['far_p90']:.0f}; extra p50 {lat['far_p50'] - lat['origin_p50']:.0f} "
                  f"({len(near_ms)}/{len(far_ms)} stamps)", flush=True)

            catch = await audit_rounds(http, far, 3 if args.quick else 5, args.fps)
            results["audit_catch_s"] = catch
            if catch:
                print(f"audit: unblurred partner caught after {statistics.median(catch):.2f} s "
                      f"median (max {max(catch):.2f} s, {len(catch)} rounds) from its first "
                      f"arriving frame", flush=True)
    finally:
        for v in viewers:
            await v.pc.close()
        await pub.close()
        source.stop()
        await origin.stop()
        await far.stop()
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "date": datetime.date.today().isoformat()}
    if args.json:
        text = json.dumps(results, indent=2, default=str)
        await asyncio.to_thread(Path(args.json).write_text, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", choices=["origin", "far"], help=argparse.SUPPRESS)
    parser.add_argument("--push-url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--push-token", default="", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--fps", type=int, default=FPS,
                        help="camera and feed frame rate (lower it on a busy machine: the "
                             "ratio is per frame)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--patience", type=float, default=PATIENCE[0],
                        help="seconds to wait for a quiet machine before each window")
    args = parser.parse_args()
    PATIENCE[0] = args.patience
    if args.serve:
        asyncio.run(relay_main(args))
    else:
        logging.basicConfig(level=logging.ERROR)
        asyncio.run(client_main(args))


if __name__ == "__main__":
    main()
