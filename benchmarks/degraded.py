"""Privacy on degraded footage: fog, dusk, rain, motion blur, tilt, occlusion, a cheap
camera's H.264, exposure jumps, people walking in at the edges or stopping, scene cuts and
a moved camera; each condition alone and combined (``tests/privacy/degrade.py``).

Every frame goes through the layered filter (mode ``people``, onnxruntime 1 thread); every
``--check-every``-th frame is judged three ways, next to deface's approach on the same frame:

* **rule** (no detector): a face ≥ 24 px wide whose box in the output keeps ≥ 50 % of its
  raw band-pass detail (eye/nose/mouth scale, ``degrade.detail_kept``) is *exposed*. Judged
  on every face in the frame by ground truth, found by a detector or not, unless someone in
  front covers more than half of it (then the detail in its box is theirs);
* **CenterFace** at full resolution (score ≥ 0.5) and **MTCNN** (confidence ≥ 0.9) on a crop
  around each face: present when found in the raw frame, leaked when found in the output.

Stopped people (condition ``stopped``): frames where a stopped person's head and torso keep
≥ 50 % of their detail. ``--stand-minutes 3`` adds one long run: people walk in and stand
for that long, checked every second.

    .venv/bin/python benchmarks/degraded.py                 # ≈ 15 min on 2 cores
    .venv/bin/python benchmarks/degraded.py --clips 1 --frames 60 --no-mtcnn   # quick
    .venv/bin/python benchmarks/degraded.py --only haze,lowlight --methods people
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "privacy"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from degrade import COMBINED, CONDITIONS, Clip, Truth, detail_kept  # noqa: E402
from privacy import Deface, Mtcnn, machine, make, pct, second_reference  # noqa: E402
from scenes import overlaps  # noqa: E402

from window.privacy.faces import CenterFace  # noqa: E402
from window.privacy.filter import FilterResult  # noqa: E402
from window.privacy.layered import LayeredFilter  # noqa: E402
from window.privacy.pixelate import Image  # noqa: E402

VERBOSE = False
SIZES = (20, 24, 32, 48, 64, 96, 120)
EXPOSED = 0.5


def size_bucket(px: float) -> int:
    return min(SIZES, key=lambda b: abs(b - px))


def cf_finds(ref: CenterFace, img: Image, box: tuple[float, ...]) -> bool:
    """Does CenterFace, at full resolution, find a face at ``box``?"""
    h, w = img.shape[:2]
    x0, y0, x1, y1 = box[:4]
    m = max(x1 - x0, y1 - y0, 16)
    cx0, cy0 = max(0, int(x0 - m)), max(0, int(y0 - m))
    cx1, cy1 = min(w, int(x1 + m)), min(h, int(y1 + m))
    if cx1 - cx0 < 8 or cy1 - cy0 < 8:  # (a box moved out of the picture)
        return False
    found = ref.detect(np.ascontiguousarray(img[cy0:cy1, cx0:cx1]))
    found[:, 0:4:2] += cx0
    found[:, 1:4:2] += cy0
    return any(overlaps(f, box, 0.3) for f in found)


@dataclass
class Tally:
    # by face size bucket
    rule_n: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    rule_exposed: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    cf_n: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    cf_leak: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    mt_n: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    mt_leak: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    worst: float = 0.0  # the highest share of detail kept by a face ≥ 24 px
    stopped_n: int = 0  # stopped people checked (person × frame)
    stopped_exposed: int = 0  # ...whose head and torso kept ≥ 50 %
    frames: int = 0
    whole: int = 0
    reasons: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    restarts: int = 0
    ms: list[float] = field(default_factory=list)
    share: list[float] = field(default_factory=list)

    def exposed(self) -> int:
        return sum(self.rule_exposed.values()) + sum(self.cf_leak.values()) + sum(
            self.mt_leak.values())


def judge(t: Tally, raw: Image, out: Image, truths: list[Truth], ref: CenterFace,
          ref2: Mtcnn | None, seen_cf: list[bool], seen_mt: list[bool]) -> None:
    for k, tr in enumerate(truths):
        b = size_bucket(tr.px)
        if tr.px >= 24 and tr.shown >= 0.5:  # (not a face hidden by someone in front)
            kept = detail_kept(raw, out, tr.face, tr.px)
            t.rule_n[b] += 1
            t.worst = max(t.worst, kept)
            if kept >= EXPOSED:
                t.rule_exposed[b] += 1
                if VERBOSE:
                    print(f"    exposed: frame {t.frames - 1} px {tr.px} kept {kept:.2f} "
                          f"{'still' if tr.still else 'stopped' if tr.stopped else 'walking'} "
                          f"box {[round(v) for v in tr.face]}", flush=True)
        if seen_cf[k]:
            t.cf_n[b] += 1
            t.cf_leak[b] += cf_finds(ref, out, tr.face)
        if ref2 is not None and seen_mt[k]:
            t.mt_n[b] += 1
            t.mt_leak[b] += ref2.finds(out, tr.face)
        if tr.stopped and tr.px >= 12:
            t.stopped_n += 1
            t.stopped_exposed += detail_kept(raw, out, tr.body, tr.px) >= EXPOSED


def run_condition(name: str, conds: tuple[str, ...], clips: int, frames: int, every: int,
                  methods: list[str], ref: CenterFace, ref2: Mtcnn | None
                  ) -> dict[str, Tally]:
    tallies = {m: Tally() for m in methods}
    for c in range(clips):
        filters: dict[str, LayeredFilter | Deface] = {m: make(m, 1) for m in methods}
        for i, (img, truths) in enumerate(Clip(seed=100 * c + zlib.crc32(name.encode()) % 97,
                                                conditions=conds, frames=frames)):
            check = i % every == every - 1
            seen_cf = [cf_finds(ref, img, tr.face) for tr in truths] if check else []
            seen_mt = ([ref2.finds(img, tr.face) if tr.whole else False for tr in truths]
                       if check and ref2 is not None else [False] * len(truths))
            for m, flt in filters.items():
                if m == "deface" and not check:
                    continue  # stateless: only the judged frames
                t = tallies[m]
                started = time.perf_counter()
                r: FilterResult = flt.apply(img.copy())
                t.ms.append((time.perf_counter() - started) * 1000)
                t.frames += 1
                t.whole += r.whole
                if r.whole:
                    t.reasons[r.whole_reason] += 1
                t.share.append(r.blurred_share)
                if check:
                    judge(t, img, r.image, truths, ref, ref2, seen_cf, seen_mt)
        for m, flt in filters.items():
            if isinstance(flt, LayeredFilter):
                tallies[m].restarts += flt.restarts
            flt.close()
    return tallies


def stand(minutes: float, ref: CenterFace) -> tuple[int, int, float]:
    """People walk in and stand for ``minutes``: (checks, exposed, worst share kept)."""
    frames = int(minutes * 60 * 30) + 60
    flt = make("people", 1)
    n = exposed = 0
    worst = 0.0
    for i, (img, truths) in enumerate(Clip(seed=7, conditions=("stopped",), frames=frames)):
        r = flt.apply(img.copy())
        if i >= 60 and i % 30 == 0:
            for tr in truths:
                if tr.stopped:
                    kept = detail_kept(img, r.image, tr.body, tr.px)
                    worst = max(worst, kept)
                    n += 1
                    exposed += kept >= EXPOSED
    flt.close()
    return n, exposed, worst


def rate(a: dict[int, int], n: dict[int, int], b: int) -> str:
    return f"{a[b]}/{n[b]}" if n[b] else "–"


def report(name: str, tallies: dict[str, Tally]) -> None:
    for m, t in tallies.items():
        rule = " ".join(f"{b}:{rate(t.rule_exposed, t.rule_n, b)}" for b in SIZES[1:])
        cf = " ".join(f"{b}:{rate(t.cf_leak, t.cf_n, b)}" for b in SIZES if t.cf_n[b])
        mt = " ".join(f"{b}:{rate(t.mt_leak, t.mt_n, b)}" for b in SIZES if t.mt_n[b])
        stopped = f" stopped {t.stopped_exposed}/{t.stopped_n}" if t.stopped_n else ""
        why = ",".join(f"{k}:{v}" for k, v in sorted(t.reasons.items()))
        stopped += f" restarts {t.restarts} whole by {why or '-'}"
        print(f"{name:10} {m:7} ms p50 {pct(t.ms, 50):5.1f} whole {t.whole / t.frames:.2f} "
              f"blurred {np.mean(t.share):.2f} worst kept {t.worst:.2f}{stopped}\n"
              f"{'':18} rule exposed {rule}\n{'':18} CenterFace leaked {cf or '–'}\n"
              f"{'':18} MTCNN leaked {mt or '–'}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=3, help="clips per condition")
    ap.add_argument("--frames", type=int, default=120, help="frames per clip")
    ap.add_argument("--check-every", type=int, default=3)
    ap.add_argument("--only", default="", help="comma-separated conditions (default: all)")
    ap.add_argument("--methods", default="people,deface")
    ap.add_argument("--no-mtcnn", action="store_true")
    ap.add_argument("--stand-minutes", type=float, default=0.0)
    ap.add_argument("--verbose", action="store_true", help="print every exposed face")
    args = ap.parse_args()
    global VERBOSE
    VERBOSE = args.verbose
    print(f"machine: {machine()}; load average at start {os.getloadavg()[0]:.2f}")
    started = time.time()
    ref = CenterFace(threshold=0.5, threads=2)
    ref2 = second_reference(not args.no_mtcnn)
    names = {c: (c,) for c in CONDITIONS} | COMBINED
    if args.only:
        names = {k: v for k, v in names.items() if k in args.only.split(",")}
    methods = args.methods.split(",")
    total: dict[str, int] = defaultdict(int)
    for name, conds in names.items():
        tallies = run_condition(name, conds, args.clips, args.frames, args.check_every,
                                methods, ref, ref2)
        report(name, tallies)
        for m, t in tallies.items():
            total[m] += t.exposed()
    print("exposed or leaked, all conditions: "
          + ", ".join(f"{m} {n}" for m, n in total.items()))
    if args.stand_minutes:
        n, exposed, worst = stand(args.stand_minutes, ref)
        print(f"standing {args.stand_minutes} min: {exposed} of {n} checks (person × second) "
              f"kept ≥ 50 % of head-and-torso detail; worst {worst:.2f}")
    print(f"load average at end {os.getloadavg()[0]:.2f}; took {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
