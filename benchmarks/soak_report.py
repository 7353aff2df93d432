"""Figures and a plot from a soak run's samples (``benchmarks/soak.py --jsonl FILE``).

Prints the figures that go into ``docs/performance.md`` (RSS after warm-up and its slope in
MB/h and in % per hour, fds, asyncio tasks, threads, sessions; the run's result line when the
run finished) and writes an SVG plot (RSS, fds, tasks, threads and sessions over time), drawn
by hand so that the benchmark needs nothing beyond the standard library.

    .venv/bin/python benchmarks/soak_report.py /work/soak/soak.jsonl --svg docs/soak.svg

Works on a run that is still going or was cut short (it uses the samples there are). Also
reads the ``--out`` JSON of ``soak.py`` (``{"result": ..., "samples": [...]}``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any


def load(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The load-phase samples and the result (``None`` if the run has not finished)."""
    text = path.read_text()
    samples: list[dict[str, Any]] = []
    result: dict[str, Any] | None = None
    try:
        doc = json.loads(text)  # soak.py --out
    except ValueError:
        doc = None
    if isinstance(doc, dict) and "samples" in doc:
        return [s for s in doc["samples"] if s.get("phase") == "load"], doc.get("result")
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            d = json.loads(line)
        except ValueError:
            continue  # a line cut off when the run was stopped
        if d.get("type") == "result":
            result = d
        elif d.get("type") == "sample" and d.get("phase", "load") == "load":
            samples.append(d)
    return samples, result


def slope_per_h(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of ``(seconds, value)`` points, per hour."""
    if len(points) < 3:
        return float("nan")
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    if den == 0:
        return float("nan")
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den * 3600


def figures(samples: list[dict[str, Any]], warm_fraction: float = 0.2) -> dict[str, Any]:
    """What the docs report: the same definitions as ``soak.py``'s own summary."""
    if not samples:
        raise SystemExit("no load samples yet")
    t0, t1 = samples[0]["t"], samples[-1]["t"]
    warm = warm_fraction * (t1 - t0)
    post = [s for s in samples if s["t"] - t0 >= warm] or samples
    tenth = max(1, len(post) // 10)
    first, last = post[:tenth], post[-tenth:]

    def med(xs: list[dict[str, Any]], key: str) -> float:
        return float(statistics.median(float(s[key]) for s in xs))

    rss_a, rss_b = med(first, "rss_kb") / 1024, med(last, "rss_kb") / 1024
    slope = slope_per_h([(s["t"], s["rss_kb"] / 1024) for s in post])
    out: dict[str, Any] = {
        "load_minutes": round((t1 - t0) / 60, 1),
        "samples": len(samples),
        "warmup_minutes": round(warm / 60, 1),
        "rss_mb": {"start": round(samples[0]["rss_kb"] / 1024, 1),
                   "after_warmup": round(rss_a, 1), "end": round(rss_b, 1),
                   "max": round(max(s["rss_kb"] for s in samples) / 1024, 1),
                   "growth_pct": round((rss_b - rss_a) / rss_a * 100, 2),
                   "slope_mb_per_h": round(slope, 2),
                   "slope_pct_per_h": round(slope / rss_a * 100, 2)},
    }
    for key in ("fds", "tasks", "threads", "sessions"):
        vals = [s[key] for s in post if key in s]
        if vals:
            out[key] = {"after_warmup": med(first, key), "end": med(last, key),
                        "min": min(vals), "max": max(vals),
                        "slope_per_h": round(slope_per_h([(s["t"], s[key]) for s in post]), 2)}
    cpu = [(s["t"], s["cpu_s"]) for s in samples if "cpu_s" in s]
    if len(cpu) > 1 and cpu[-1][0] > cpu[0][0]:
        out["relay_cpu_pct"] = round((cpu[-1][1] - cpu[0][1]) / (cpu[-1][0] - cpu[0][0]) * 100)
    return out


# ------------------------------------------------------------------------------ the plot
SERIES = (  # key, label, colour, scale (value shown = sample[key] * scale), panel
    ("rss_kb", "RSS (MB)", "#c0392b", 1 / 1024, 0),
    ("fds", "open fds", "#2980b9", 1.0, 1),
    ("tasks", "asyncio tasks", "#27ae60", 1.0, 1),
    ("threads", "threads", "#8e44ad", 1.0, 1),
    ("sessions", "sessions", "#7f8c8d", 1.0, 1),
)


def svg(samples: list[dict[str, Any]], fig: dict[str, Any], title: str) -> str:
    """Two panels over time (minutes): RSS above; fds, tasks, threads, sessions below."""
    w, h, left, right, top, gap, ph = 900, 560, 70, 160, 40, 50, 210
    t0 = float(samples[0]["t"])
    tmax = max((float(samples[-1]["t"]) - t0) / 60, 1e-9)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             f'viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">',
             f'<rect width="{w}" height="{h}" fill="white"/>',
             f'<text x="{left}" y="22" font-size="14">{_esc(title)}</text>']
    for panel in (0, 1):
        y0 = top + panel * (ph + gap)
        series = [s for s in SERIES if s[4] == panel]
        vals = [x[key] * sc for x in samples for key, _, _, sc, _ in series if key in x]
        if not vals:
            continue
        lo, hi = (min(vals), max(vals)) if panel == 0 else (0.0, max(vals))
        if hi - lo < 1e-9:
            hi = lo + 1
        pad = (hi - lo) * 0.05
        lo, hi = (lo - pad if panel == 0 else lo), hi + pad
        pw = w - left - right

        def X(t: float, pw: int = pw) -> float:
            return left + (t - t0) / 60 / tmax * pw

        def Y(v: float, y0: int = y0, lo: float = lo, hi: float = hi) -> float:
            return y0 + ph - (v - lo) / (hi - lo) * ph

        parts.append(f'<rect x="{left}" y="{y0}" width="{pw}" height="{ph}" fill="none" '
                     f'stroke="#999"/>')
        for i in range(6):  # y grid and labels
            v = lo + (hi - lo) * i / 5
            y = Y(v)
            parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" '
                         f'stroke="#eee"/><text x="{left - 6}" y="{y + 4:.1f}" '
                         f'text-anchor="end">{v:.0f}</text>')
        for i in range(7):  # x labels (minutes)
            m = tmax * i / 6
            x = left + m / tmax * pw
            parts.append(f'<text x="{x:.1f}" y="{y0 + ph + 16}" text-anchor="middle">'
                         f'{m:.{0 if tmax >= 10 else 1}f}</text>')
        if panel == 0:
            warm = fig["warmup_minutes"]
            xw = left + warm / tmax * pw
            parts.append(f'<line x1="{xw:.1f}" y1="{y0}" x2="{xw:.1f}" y2="{y0 + ph}" '
                         f'stroke="#aaa" stroke-dasharray="4 3"/><text x="{xw + 4:.1f}" '
                         f'y="{y0 + 14}" fill="#777">warm-up ends</text>')
            # the fitted line after warm-up
            r = fig["rss_mb"]
            post = [x for x in samples if (x["t"] - t0) / 60 >= warm]
            if len(post) > 2 and r["slope_mb_per_h"] == r["slope_mb_per_h"]:
                mx = statistics.fmean(x["t"] for x in post)
                my = statistics.fmean(x["rss_kb"] / 1024 for x in post)
                k = r["slope_mb_per_h"] / 3600
                ta, tb = post[0]["t"], post[-1]["t"]
                parts.append(f'<line x1="{X(ta):.1f}" y1="{Y(my + k * (ta - mx)):.1f}" '
                             f'x2="{X(tb):.1f}" y2="{Y(my + k * (tb - mx)):.1f}" '
                             f'stroke="black" stroke-width="1" stroke-dasharray="6 3"/>')
        for n, (key, label, colour, sc, _) in enumerate(series):
            pts = " ".join(f"{X(x['t']):.1f},{Y(x[key] * sc):.1f}" for x in samples if key in x)
            parts.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" '
                         f'stroke-width="1.3"/>')
            ly = y0 + 16 + n * 18
            parts.append(f'<line x1="{left + pw + 12}" y1="{ly - 4}" x2="{left + pw + 32}" '
                         f'y2="{ly - 4}" stroke="{colour}" stroke-width="2"/>'
                         f'<text x="{left + pw + 38}" y="{ly}">{_esc(label)}</text>')
    parts.append(f'<text x="{left + (w - left - right) / 2}" y="{h - 8}" '
                 f'text-anchor="middle">minutes of load</text></svg>')
    return "\n".join(parts) + "\n"


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("samples", type=Path, help="soak.py --jsonl file (or its --out JSON)")
    ap.add_argument("--svg", type=Path, help="write the plot here")
    ap.add_argument("--warmup", type=float, default=0.2,
                    help="fraction of the load phase left out as warm-up")
    ap.add_argument("--title", default="")
    args = ap.parse_args()
    samples, result = load(args.samples)
    fig = figures(samples, args.warmup)
    r = fig["rss_mb"]
    print(f"load phase: {fig['load_minutes']} min, {fig['samples']} samples, warm-up "
          f"{fig['warmup_minutes']} min left out" + ("" if result else " (run not finished)"))
    print(f"RSS: start {r['start']} MB, after warm-up {r['after_warmup']} MB, end {r['end']} MB,"
          f" max {r['max']} MB; growth {r['growth_pct']:+.2f} %; slope "
          f"{r['slope_mb_per_h']:+.2f} MB/h = {r['slope_pct_per_h']:+.2f} %/h "
          f"[{'ok' if r['slope_pct_per_h'] <= 1.0 else 'FAIL'}: target <= 1 %/h]")
    for key in ("fds", "tasks", "threads", "sessions"):
        if key in fig:
            f = fig[key]
            print(f"{key}: after warm-up {f['after_warmup']:g}, end {f['end']:g}, range "
                  f"{f['min']}-{f['max']}, slope {f['slope_per_h']:+.2f}/h")
    if "relay_cpu_pct" in fig:
        print(f"relay CPU: {fig['relay_cpu_pct']} % of a core on average")
    if result:
        print(f"joins: {sum(result['joins'].values())} {result['joins']}")
        print(f"operator actions: {result.get('operator')}")
        print(f"viewers that received frames: {result['viewers_with_frames']}; client errors: "
              f"{result['errors'] or 'none'}")
        print(f"end (after {result['drain_s']} s drain): sessions {result['sessions_end']}, "
              f"peer connections {result['pcs_end']}, fds {result['fds']}, tasks "
              f"{result['tasks']}, threads {result['threads']}")
        print(f"RSS after drain {result['rss_mb']['after_drain']} MB, after malloc_trim "
              f"{result['rss_mb']['after_trim']} MB")
        for k, v in result.get("verdict", {}).items():
            print(f"  [{'ok' if v else 'FAIL'}] {k}")
    print(json.dumps(fig))
    if args.svg:
        title = args.title or (f"soak: {fig['load_minutes']} min load, RSS slope after warm-up "
                               f"{r['slope_mb_per_h']:+.1f} MB/h ({r['slope_pct_per_h']:+.2f} %/h)")
        args.svg.write_text(svg(samples, fig, title))
        print(f"plot: {args.svg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
