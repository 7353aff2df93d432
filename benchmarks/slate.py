"""Slate benchmark: what setting slates in Noto Sans CJK with Pillow costs, next to the
OpenCV Hershey slate it replaced (which could not write "ö", "ß" or any Japanese), and what
the road not taken would cost: a slate per language, each its own VP8 encoding of the feed.

Prints figures (not a test); the machine is shared, so compare the ratios of one run:

* render: ms per 1280×720 slate (median of N), Hershey (the old code, inline here) against
  Pillow with one language and with two (what a feed shared by both cities' screens shows);
* the font's cost once: first render (FreeType opens the 16 MB OTF), resident memory added;
* encode: ms and bytes per slate frame with the relay's VP8 encoder (window.media.encoder),
  which a slate per language would add per extra language for every frame at media.slate_fps
  (plus one encoder's memory and a keyframe per switch), against zero extra for one bilingual
  slate.

    .venv/bin/python benchmarks/slate.py [--n 40]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import av
import cv2
import numpy as np


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def hershey_slate(width: int, height: int, title: str, reason: str, local: datetime) -> np.ndarray:
    """The slate as it was (commit 287994d): OpenCV's Hershey font, English only."""
    img = np.zeros((height, width, 3), np.uint8)
    ramp = np.linspace(70, 18, height, dtype=np.float32)[:, None]
    img[:, :, 0] = ramp.astype(np.uint8)
    img[:, :, 1] = (ramp * 0.55).astype(np.uint8)
    img[:, :, 2] = (ramp * 0.35).astype(np.uint8)
    s = height / 720

    def centered(text: str, y: int, scale: float, color: tuple[int, int, int], th: int) -> None:
        font = cv2.FONT_HERSHEY_DUPLEX
        (tw, _), _ = cv2.getTextSize(text, font, scale, th)
        cv2.putText(img, text, (max(0, (width - tw) // 2), y), font, scale, color, th,
                    cv2.LINE_AA)

    centered(title, int(height * 0.38), 2.6 * s, (240, 240, 240), max(1, int(3 * s)))
    centered(reason, int(height * 0.52), 1.2 * s, (200, 210, 220), max(1, int(2 * s)))
    centered(local.strftime("%H:%M  %a %d %b"), int(height * 0.64), 1.0 * s,
             (170, 190, 205), max(1, int(2 * s)))
    centered("Opens Sat 08:00", int(height * 0.73), 0.8 * s, (150, 170, 185), max(1, int(s)))
    return img


def median_ms(fn, n: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    args = ap.parse_args()
    w, h, n = args.width, args.height, args.n
    local = datetime(2026, 12, 2, 21, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    opening = local + timedelta(hours=11)
    print(f"machine: {platform.node()} {platform.processor() or platform.machine()}, "
          f"{len(__import__('os').sched_getaffinity(0))} cores; {time.strftime('%Y-%m-%d')}")

    hershey = median_ms(lambda: hershey_slate(w, h, "Bochum", "Closed - outside opening hours",
                                              local), n)
    from window.media import slate

    before = rss_kb()
    titles = {"de": "Bochum", "ja": "ボーフム", "en": "Bochum"}
    t = time.perf_counter()
    slate.render_slate(w, h, titles, ["ja", "de"], "closed", local, opening)
    first = (time.perf_counter() - t) * 1000
    font_rss = rss_kb() - before
    one = median_ms(lambda: slate.render_slate(w, h, titles, ["de"], "closed", local, opening), n)
    two = median_ms(lambda: slate.render_slate(w, h, titles, ["ja", "de"], "closed", local,
                                               opening), n)
    print(f"render {w}x{h}, median of {n}:")
    print(f"  Hershey (old, English only)  {hershey:6.1f} ms")
    print(f"  Pillow + Noto, one language  {one:6.1f} ms   ({one / hershey:.1f}x Hershey)")
    print(f"  Pillow + Noto, two languages {two:6.1f} ms   ({two / hershey:.1f}x Hershey)")
    print(f"  first render (opens the font, Babel's locale data) {first:.0f} ms; "
          f"resident memory +{font_rss / 1024:.1f} MB")
    print(f"  font file: {slate.font_path()} "
          f"({(slate.font_path() or Path('/dev/null')).stat().st_size / 1e6:.1f} MB)")

    # the alternative: one more VP8 encoding per language for every slate frame
    from window.media.encoder import Vp8Encoder
    from window.media.feed import to_i420

    picture = slate.render_slate(w, h, titles, ["ja", "de"], "closed", local, opening)
    frame_i420 = to_i420(picture)
    before = rss_kb()
    encoder = Vp8Encoder(w, h, 30, 1500 * 1000)
    sizes: list[int] = []
    times: list[float] = []
    key_bytes = 0
    for i in range(n):
        frame = av.VideoFrame.from_ndarray(frame_i420, format="yuv420p")
        t = time.perf_counter()
        packets = encoder.encode(frame, i * 18000, keyframe=i == 0)
        times.append((time.perf_counter() - t) * 1000)
        size = sum(p.size for p in packets)
        if i == 0:
            key_bytes = size
        else:
            sizes.append(size)
    encoder_rss = rss_kb() - before  # libvpx allocates on its first frames
    enc = statistics.median(times[1:])
    print(f"VP8 encode of a slate frame (the relay's encoder, {w}x{h}, 1500 kbit/s):")
    print(f"  keyframe {key_bytes / 1000:.1f} kB; repeated frame {enc:.1f} ms, "
          f"{statistics.median(sizes)} bytes; encoder memory +{encoder_rss / 1024:.1f} MB")
    slate_fps = 5
    print(f"  a slate per language: +{enc * slate_fps:.0f} ms of CPU a second per extra "
          f"language per feed at slate_fps {slate_fps}, +{encoder_rss / 1024:.1f} MB, a keyframe "
          f"({key_bytes / 1000:.0f} kB) to each viewer on every switch; one bilingual slate: "
          f"{two:.0f} ms once per change (at most once a minute), no extra encode")


if __name__ == "__main__":
    main()
