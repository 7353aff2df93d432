"""How fast does "pause the window" act? Curtain and privacy-mode latency, as a viewer sees it.

Prints figures (this is not a test). A relay (``window.app.Server``, 640×360 at 30 fps,
privacy mode ``full``) on 127.0.0.1, one aiortc camera publishing bright frames, and one
decoding aiortc viewer that records the mean brightness of every frame it decodes. An operator
(admin token, the HTTP API) lowers the curtain ``--rounds`` times and raises it again:

* *API*: from the POST to its answer;
* *dark*: from the POST to the first frame the viewer decodes that is dark (the slate);
* *light*: after raising it, from the POST to the first bright frame again.

Reported: p50, p90 and max of each, in ms. The product's promise is that an operator's pause
takes effect at once (well within a second); the tests only check that it happens.

    .venv/bin/python benchmarks/curtain.py --rounds 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from peers import publish, watch  # noqa: E402
from servers import running, small_config  # noqa: E402

from window.auth.roles import Role  # noqa: E402
from window.auth.tokens import mint  # noqa: E402


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


async def first_frame_after(viewer, t0: float, dark: bool, timeout: float = 10.0) -> float:  # type: ignore[no-untyped-def]
    """Seconds from ``t0`` to the first decoded frame after ``t0`` that is dark (or bright)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for t, level in viewer.frames:
            if t >= t0 and ((level < 80) if dark else (level > 150)):
                return t - t0
        await asyncio.sleep(0.005)
    raise RuntimeError("the viewer never saw the change")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = small_config(Path(tmp))
        async with running(cfg) as server, aiohttp.ClientSession() as http:
            def token(role: Role, site: str | None = None) -> str:
                return mint(server.cfg, server.keys, role=role, ttl_s=3600, site=site)[0]

            pub, _ = await publish(server.url, "bochum", token(Role.CAMERA, "bochum"))
            viewer = await watch(server.url, "bochum", token(Role.VIEWER))
            await viewer.wait_frames(60, timeout=30)
            admin = {"Authorization": f"Bearer {token(Role.ADMIN)}"}
            url = f"{server.url}/api/sites/bochum/curtain"
            api, dark, light = [], [], []
            for _ in range(args.rounds):
                for down, into in ((True, dark), (False, light)):
                    t0 = time.monotonic()
                    async with http.post(url, json={"down": down}, headers=admin) as r:
                        r.raise_for_status()
                    api.append(time.monotonic() - t0)
                    into.append(await first_frame_after(viewer, t0, dark=down))
                    viewer.frames.clear()
                    await asyncio.sleep(args.pause)
            await viewer.close()
            await pub.pc.close()
    print(f"curtain: {args.rounds} rounds, relay 640×360 @30, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    for name, xs in (("API answer", api), ("dark at the viewer", dark),
                     ("bright again", light)):
        ms = [x * 1000 for x in xs]
        print(f"  {name:<20} p50 {statistics.median(ms):6.0f} ms   p90 {pct(ms, 0.9):6.0f} ms"
              f"   max {max(ms):6.0f} ms")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--pause", type=float, default=1.0, help="seconds between changes")
    asyncio.run(main(ap.parse_args()))
