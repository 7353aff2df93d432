"""RTSP camera agent benchmark: CPU of the agent for a 720p30 H.264 IP camera, three ways.

Prints figures (this is not a test). A real RTSP server (``tests/rtsp_server.py``: GStreamer's
RTSP server, x264 constrained baseline, a keyframe a second, run by ``/usr/bin/python3``)
serves 1280×720 at 30 fps on loopback; a relay (``window.app.Server``, in this process,
640×360 feeds, privacy ``full``: it is not what is measured) receives the camera. The agent
runs in its own process and publishes the RTSP stream:

* ``passthrough``: H.264 packets as they come, not decoded, not encoded (the default for
  ``--source rtsp://…``);
* ``vp8``: decoded (PyAV) and encoded again as VP8 (``?passthrough=0``: what the agent did
  before);
* ``h264``: decoded and encoded again as H.264 (libx264 through aiortc).

For each: the agent's CPU (user + system, all threads, from ``/proc``) over ``--seconds``
after a settling time, the frames per second the relay receives from it, CPU per frame
delivered (a starved encoder delivers fewer frames, so its CPU share alone flatters it), and
its RSS.
The ratio to ``vp8`` is the figure that matters (the machine is shared and noisy).

    .venv/bin/python benchmarks/rtsp_camera.py --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from proc import proc_cpu_s  # noqa: E402
from rtsp import RtspServer  # noqa: E402


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def agent_main(mode: str, server: str, token: str, url: str) -> None:
    """The agent process: a LiveSource on the RTSP URL and the WHIP publisher."""
    from window.camera.publisher import WhipPublisher
    from window.camera.sources import LiveSource

    source = LiveSource.rtsp(url, passthrough=mode == "passthrough")
    if mode == "h264":
        source.codec = "video/H264"  # decoded here, encoded again as H.264
    stop = asyncio.Event()
    await WhipPublisher(server, "bochum", token, source).run(stop)


async def measure(mode: str, seconds: float, settle: float, rtsp: RtspServer) -> dict[str, float]:
    import tempfile

    from servers import running, small_config

    from window.auth.roles import Role
    from window.auth.tokens import mint

    with tempfile.TemporaryDirectory() as data:
        async with running(small_config(Path(data))) as server:
            token, _ = mint(server.cfg, server.keys, role=Role.CAMERA, ttl_s=600, site="bochum")
            proc = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--agent", mode, server.url, token, rtsp.url,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            feed = server.relay.feed("bochum")
            try:
                deadline = time.monotonic() + 30
                while feed.frames_in.rate() < 5 and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                await asyncio.sleep(settle)
                c0, t0 = proc_cpu_s(proc.pid), time.monotonic()
                fps: list[float] = []
                while time.monotonic() - t0 < seconds:
                    await asyncio.sleep(1.0)
                    fps.append(feed.frames_in.rate())
                c1, t1 = proc_cpu_s(proc.pid), time.monotonic()
                size = feed.camera_size
                rss = rss_mb(proc.pid)
            finally:
                proc.terminate()
                await proc.wait()
    return {"cpu_pct": (c1 - c0) / (t1 - t0) * 100, "fps": sum(fps) / max(1, len(fps)),
            "rss_mb": rss, "width": size[0] if size else 0, "height": size[1] if size else 0}


async def main_async(args: argparse.Namespace) -> int:
    rtsp = RtspServer()
    await rtsp.start(args.width, args.height, args.fps)
    print(f"rtsp_camera: {args.width}×{args.height}@{args.fps} H.264 over RTSP/TCP on loopback, "
          f"{args.seconds:.0f} s per mode after {args.settle:.0f} s; {os.cpu_count()} cores, "
          f"{platform.platform()}, Python {platform.python_version()}, "
          f"{datetime.datetime.now().isoformat(timespec='seconds')}, load "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    results: dict[str, dict[str, float]] = {}
    try:
        for mode in args.modes.split(","):
            r = await measure(mode, args.seconds, args.settle, rtsp)
            results[mode] = r
            r["ms_per_frame"] = r["cpu_pct"] * 10 / max(r["fps"], 0.1)
            print(f"{mode:>12}: agent CPU {r['cpu_pct']:5.1f} % of a core, relay receives "
                  f"{r['fps']:4.1f} fps at {r['width']:.0f}×{r['height']:.0f}, "
                  f"{r['ms_per_frame']:.2f} ms CPU per frame delivered, agent RSS "
                  f"{r['rss_mb']:.0f} MB", flush=True)
    finally:
        await rtsp.stop()
    if "vp8" in results:
        base = results["vp8"]["cpu_pct"]
        for mode, r in results.items():
            if mode != "vp8":
                print(f"ratio {mode}/vp8: agent CPU {r['cpu_pct'] / base:.3f}, CPU per frame "
                      f"{r['ms_per_frame'] / results['vp8']['ms_per_frame']:.3f}")
    print(f"load at the end: {os.getloadavg()[0]:.1f}")
    return 0


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--agent":
        import logging

        logging.basicConfig(level=logging.WARNING)
        asyncio.run(agent_main(*sys.argv[2:6]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--settle", type=float, default=5.0)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--modes", default="passthrough,vp8,h264")
    return asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
