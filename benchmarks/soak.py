"""Soak benchmark: does the relay stay flat when cameras and viewers come and go for hours?

Prints figures (this is not a test). The relay (``window.app.Server``, both default sites,
640×360 at 30 fps, privacy mode ``full``) runs in a child process that samples itself every
``--interval`` seconds and prints one JSON line per sample on stdout:

* RSS (``VmRSS``), open file descriptors, asyncio tasks (and the ten most common task
  coroutines), threads, CPU seconds;
* the relay's sessions (publishers, viewers), each feed's viewers, fps in and out;
* every ``--gc-every`` seconds, after ``gc.collect()``: live ``RTCPeerConnection`` objects
  (and how many of them are not closed), and other aiortc / aioice / relay objects by type
  (transports, senders, receivers, ICE connections, ``FeedTrack``, ``Session``).

This process is the load: aiortc peers over loopback, at random.

* Cameras, one per site, publish for a random while (mean ``60 s / --rate``), then leave in
  one of three ways: ``delete`` (DELETE, then close: a clean hang-up), ``vanish`` (close the
  peer connection, no DELETE: DTLS close_notify is the only goodbye), ``kill`` (the camera
  runs in its own process that gets SIGKILL: no goodbye at all, the relay must notice by ICE
  consent failure); they come back 2–15 s later, sometimes before the dead one was reaped
  (then the new camera replaces it).
* Viewers arrive as a Poisson process, ``1000 × --rate`` per hour by default, each on a
  random site, stay 5–60 s and leave by ``delete`` (40 %), ``vanish`` (35 %), ``kill`` (10 %:
  a separate process holding 1–3 viewers is SIGKILLed), ``ghost`` (10 %: the offer is POSTed
  but the client never applies the answer: ICE never connects and the relay's reaper must
  close it after ``server.connect_timeout_s``) or ``hasty`` (5 %: DELETE the moment ICE
  connects, while DTLS is still shaking hands, like a tab closed at once). Viewers count the
  frames they assemble instead of decoding them, so that the load fits next to the relay on
  2 cores.
* An operator (admin token, every ``--ops-every`` s on average) lowers a site's curtain or
  switches its privacy mode (faces, people, curtain, full) and 10–60 s later puts it back.

After ``--minutes`` the load stops (every client leaves by its chosen way), the relay is given
up to ``--drain`` seconds to reap what vanished, and a last sample is taken: sessions and
peer connections must be back to 0 and tasks to the count before the first client. Then the
relay is closed and counts its tasks once more.

Reported: a table of samples over time; RSS growth after warm-up (the first 20 % of the load
phase excluded): median of the first and of the last 10 % of the remaining samples, and a
least-squares slope in MB per hour; fds, tasks, sessions and peers at the end.

    .venv/bin/python benchmarks/soak.py --minutes 30            # ≈ 500 joins and leaves
    .venv/bin/python benchmarks/soak.py --minutes 5 --rate 6    # quick: ≈ 500 in 5 minutes
    .venv/bin/python benchmarks/soak.py --minutes 20 --rate 3 --tracemalloc   # who grows?

This file holds the command line, the relay's child process and the driver; the relay's
self-sampling is in ``soak_probe.py``, the load's clients in ``soak_load.py``, the figures
and plot from a run's samples in ``soak_report.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import gc
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

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from proc import stdin_commands  # noqa: E402
from soak_load import (  # noqa: E402
    FPS,
    HEIGHT,
    SCRIPT,
    SITES,
    WIDTH,
    Load,
    new_camera_pc,
    new_viewer_pc,
    victim_main,
    wait_connected,
)
from soak_probe import Sampler, _task_label, patch_close, patch_reaper, rss_kb  # noqa: E402


async def relay_main(args: argparse.Namespace) -> None:
    """Child process: run the relay; sample it; answer lines on stdin (see ``commands``)."""
    from window.app import Server

    if args.fix_reaper:
        patch_reaper()
    if args.fix_close:
        patch_close()
    from window.auth.roles import Role
    from window.auth.tokens import mint
    from window.config import load

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    data = tempfile.mkdtemp(prefix="soak-")
    cfg = load(None, env={}, flags={
        "server": {"port": 0, "data_dir": data,
                   "connect_timeout_s": args.connect_timeout},
        "media": {"width": WIDTH, "height": HEIGHT, "fps": FPS},
        "privacy": {"mode": "full"},
        "log": {"level": "warning", "format": "text"},
    })
    server = Server(cfg)
    await server.start()
    if args.push_url:  # the partner relay (benchmarks/farlink.py): one more viewer, pushed
        from window.config import PushConfig

        server.relay.pushes.add("bochum", PushConfig(url=args.push_url, token=args.push_token))
    ttl = int(args.minutes * 60 + 3600)
    info: dict[str, Any] = {"type": "info", "url": server.url, "pid": os.getpid(),
                            "tokens": {}}
    for site in SITES:
        info["tokens"][site] = {
            "camera": mint(cfg, server.keys, role=Role.CAMERA, ttl_s=ttl, site=site)[0],
            # one token for every soak viewer: a link shared by many (see limits)
            "viewer": mint(cfg, server.keys, role=Role.VIEWER, ttl_s=ttl, site=site,
                           max_sessions=100_000)[0],
        }
    if args.abuse:
        from abuse import mint_tokens

        info["abuse"] = mint_tokens(cfg, server.keys, SITES, ttl)
    info["tokens"]["admin"] = mint(cfg, server.keys, role=Role.ADMIN, ttl_s=ttl,
                                   subject="soak-operator")[0]
    sampler = Sampler(server)
    await asyncio.sleep(2.0)  # let the feeds settle before the baseline
    commands = stdin_commands(asyncio.get_running_loop())

    def emit(d: dict[str, Any]) -> None:
        print(json.dumps(d), flush=True)

    async def periodic() -> None:
        while True:
            await asyncio.sleep(args.interval)
            full = time.monotonic() - sampler.last_gc >= args.gc_every - 0.5
            emit({"type": "sample", **sampler.sample(full)})

    ticker = asyncio.create_task(periodic(), name="soak-sampler")
    info["baseline"] = sampler.sample(True, "baseline")
    emit(info)
    while True:
        cmd = await commands.get()
        if cmd == "quit":
            break
        if cmd == "tracemalloc-start":
            import tracemalloc

            if not tracemalloc.is_tracing():
                tracemalloc.start(8)
            gc.collect()
            sampler.snap0 = tracemalloc.take_snapshot()
            emit({"type": "ack", "cmd": cmd})
        elif cmd.startswith("sample"):
            d = sampler.sample(True, cmd.partition(" ")[2])
            d["tracemalloc"] = sampler.tracemalloc_top() if "final" in cmd else []
            if "final" in cmd:
                d["holders"] = sampler.holders()
                # Freed but kept by the allocator, or still in use? glibc gives back what it can.
                with contextlib.suppress(Exception):
                    import ctypes

                    ctypes.CDLL("libc.so.6").malloc_trim(0)
                    d["rss_after_trim_kb"] = rss_kb()
            emit({"type": "sample", **d})
    ticker.cancel()
    await asyncio.gather(ticker, return_exceptions=True)
    try:
        await asyncio.wait_for(server.close(), 15)
        closed_ok = True
    except Exception as e:  # report it, never hang the benchmark
        closed_ok = False
        print(f"server.close failed: {e!r}", file=sys.stderr, flush=True)
    await asyncio.sleep(0.5)
    sampler.server = None
    after = sampler.sample(True, "after close")
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    after["left_tasks"] = [_task_label(t) for t in others]
    after["threads_alive"] = [t.name for t in threading.enumerate()]
    after["closed_ok"] = closed_ok
    emit({"type": "closed", **after})


class RelayProcess:
    def __init__(self, args: argparse.Namespace, log: Any) -> None:
        argv = [sys.executable, SCRIPT, "--serve",
                "--minutes", str(args.minutes), "--interval", str(args.interval),
                "--gc-every", str(args.gc_every), "--connect-timeout",
                str(args.connect_timeout)] + (["--fix-reaper"] if args.fix_reaper else []) + (
                    ["--fix-close"] if args.fix_close else []) + (
                    ["--abuse"] if args.abuse else []) + (
                    ["--push-url", args.push_url, "--push-token", args.push_token]
                    if args.push_url else [])
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=open(args.relay_log, "w"), text=True,
                                     cwd=str(ROOT))
        self.lines: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.samples: list[dict[str, Any]] = []
        self.log = log
        self.phase = "idle"
        # every sample as it comes (a long run leaves figures even if it is cut short)
        self.jsonl = open(args.jsonl, "a") if args.jsonl else None
        loop = asyncio.get_running_loop()

        def reader() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                with contextlib.suppress(ValueError):
                    loop.call_soon_threadsafe(self.lines.put_nowait, json.loads(line))
            loop.call_soon_threadsafe(self.lines.put_nowait, {"type": "eof"})

        threading.Thread(target=reader, daemon=True).start()
        self.pump_task: asyncio.Task[None] | None = None
        self.replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def first(self) -> dict[str, Any]:
        d = await asyncio.wait_for(self.lines.get(), 60)
        if d.get("type") != "info":
            raise RuntimeError(f"relay did not start: {d}")
        self.pump_task = asyncio.create_task(self.pump())
        return d

    async def pump(self) -> None:
        while True:
            d = await self.lines.get()
            if d.get("type") == "sample" and not d.get("tag"):
                d["phase"] = self.phase
                self.samples.append(d)
                if self.jsonl is not None:
                    self.jsonl.write(json.dumps(d) + "\n")
                    self.jsonl.flush()
                self.log(row(d))
            else:
                await self.replies.put(d)
            if d.get("type") == "eof":
                return

    async def command(self, cmd: str, want: str = "sample") -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        while True:
            d = await asyncio.wait_for(self.replies.get(), 120)
            if d.get("type") in (want, "eof"):
                return d


HEADER = (f"{'t s':>7} {'phase':<6} {'RSS MB':>7} {'fds':>5} {'tasks':>5} {'thr':>4} "
          f"{'sess':>4} {'pub':>3} {'view':>4} {'fviews':>7} {'PCs':>5} {'open':>4} "
          f"{'fps out':>8} {'cpu %':>5}")


def row(d: dict[str, Any] | None, prev: list[dict[str, Any]] = []) -> str:  # noqa: B006
    """One line of the table (``None``: forget the previous sample, for the CPU column)."""
    if d is None:
        prev.clear()
        return ""
    cpu = ""
    if prev:
        dt = d["t"] - prev[-1]["t"]
        if dt > 0:
            cpu = f"{(d['cpu_s'] - prev[-1]['cpu_s']) / dt * 100:.0f}"
    prev[:] = [d]
    feeds = d.get("feeds", {})
    fv = "/".join(str(f["viewers"]) for f in feeds.values())
    fps = "/".join(f"{f['fps_out']:.0f}" for f in feeds.values())
    return (f"{d['t']:7.0f} {d.get('phase', d.get('tag', '')):<6.6} {d['rss_kb'] / 1024:7.1f} "
            f"{d['fds']:5d} {d['tasks']:5d} {d['threads']:4d} {d.get('sessions', '-'):>4} "
            f"{d.get('publishers', '-'):>3} {d.get('viewers', '-'):>4} {fv:>7} "
            f"{d.get('pcs', ''):>5} {d.get('pcs_open', ''):>4} {fps:>8} {cpu:>5}")


def slope_mb_per_h(points: list[tuple[float, float]]) -> float:
    if len(points) < 3:
        return float("nan")
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den * 3600 / 1024


async def driver(args: argparse.Namespace) -> int:
    out = open(args.out, "w") if args.out else None  # noqa: ASYNC230

    def say(text: str = "") -> None:
        print(text, flush=True)

    started = datetime.datetime.now().isoformat(timespec="seconds")
    say(f"soak: {args.minutes} min, rate ×{args.rate} "
        f"(≈ {args.viewers_per_hour * args.rate:.0f} viewer joins/h), relay {WIDTH}×{HEIGHT} "
        f"@{FPS} privacy full, {os.cpu_count()} cores, {platform.platform()}, "
        f"Python {platform.python_version()}, started {started}")
    far = None
    if args.push_every > 0:
        from farlink import FarRelay

        far = FarRelay("bochum", args.relay_log + ".far" if args.relay_log != os.devnull
                       else os.devnull)
        await far.start()
        args.push_url = far.whip_url
        args.push_token = far.token(int(args.minutes * 60 + 3600))
        say(f"push: bochum -> partner relay {far.whip_url} (down about every "
            f"{args.push_every:.0f} s, SIGKILL or SIGTERM, back 5-60 s later)")
    relay = RelayProcess(args, say)
    info = await relay.first()
    base = info["baseline"]
    say(f"baseline: RSS {base['rss_kb'] / 1024:.1f} MB, fds {base['fds']}, tasks "
        f"{base['tasks']}, threads {base['threads']}, PCs {base['pcs']}")
    say(HEADER)
    relay.phase = "load"
    load = Load(args, info)
    load.far = far
    seconds = args.minutes * 60
    warm = 0.2 * seconds
    traced = False

    async def tracer() -> None:
        nonlocal traced
        await asyncio.sleep(warm)
        await relay.command("tracemalloc-start", "ack")
        traced = True

    tr_task = asyncio.create_task(tracer()) if args.tracemalloc else None
    t_load0 = time.monotonic()
    abuse = None
    if args.abuse:  # the misbehaving client beside the honest ones (benchmarks/abuse.py)
        from abuse import Abuse

        abuse = Abuse(info["url"], info["abuse"], load.stop, new_viewer_pc, new_camera_pc,
                      wait_connected)
        abuse_task = asyncio.create_task(abuse.run())
    await load.run(seconds)
    if abuse is not None:
        await asyncio.wait_for(abuse_task, 90)
    load_s = time.monotonic() - t_load0
    if tr_task is not None:
        tr_task.cancel()
    relay.phase = "drain"
    # The relay must now reap what vanished: ICE consent (≈ 30 s) or connect timeout.
    deadline = time.monotonic() + args.drain
    end: dict[str, Any] = {}
    while time.monotonic() < deadline:
        await asyncio.sleep(5)
        end = await relay.command("sample drain")
        say(row({**end, "phase": "drain*"}) + f"   objects {end.get('objects')}")
        if end.get("sessions") == 0 and end.get("pcs", 1) == 0:
            break
    drained_s = args.drain - max(0.0, deadline - time.monotonic())
    await asyncio.sleep(3)
    end = await relay.command("sample final")
    push_end = end.get("push")
    closed = await relay.command("quit", "closed")
    if far is not None:
        await far.stop("term")
    await asyncio.to_thread(relay.proc.wait, 30)

    # ------------------------------------------------------------------ report
    samples = [s for s in relay.samples if s["phase"] == "load"]
    say()
    say("samples (every ~1/20 of the run):")
    say(HEADER)
    step = max(1, len(samples) // 20)
    row(None)  # reset the cpu column
    for s in samples[::step] + samples[-1:]:
        say(row(s))
    post = [s for s in samples if s["t"] - samples[0]["t"] >= warm] if samples else []
    tenth = max(1, len(post) // 10)
    rss_a = statistics.median(s["rss_kb"] for s in post[:tenth]) / 1024 if post else float("nan")
    rss_b = statistics.median(s["rss_kb"] for s in post[-tenth:]) / 1024 if post else float("nan")
    growth = (rss_b - rss_a) / rss_a * 100
    slope = slope_mb_per_h([(s["t"], s["rss_kb"]) for s in post])
    fds_post = [s["fds"] for s in post]
    full = [s for s in post if "pcs" in s]
    t = load.tally
    result = {
        "started": started, "minutes": args.minutes, "rate": args.rate,
        "load_s": round(load_s), "machine": f"{os.cpu_count()} cores, {platform.platform()}",
        "joins": dict(t.joins), "leaves": dict(t.leaves), "errors": dict(t.errors),
        "operator": dict(t.ops),
        "viewers_with_frames": f"{t.viewers_with_frames}/{t.viewers_checked}",
        "victim_processes": t.victims,
        "rss_mb": {"baseline": round(base["rss_kb"] / 1024, 1),
                   "after_warmup": round(rss_a, 1), "end_of_load": round(rss_b, 1),
                   "max": round(max(s["rss_kb"] for s in samples) / 1024, 1),
                   "growth_pct": round(growth, 2), "slope_mb_per_h": round(slope, 2),
                   "after_drain": round(end["rss_kb"] / 1024, 1),
                   "after_trim": round(end.get("rss_after_trim_kb", 0) / 1024, 1)},
        "fds": {"baseline": base["fds"], "max_load": max(fds_post, default=0),
                "end": end["fds"]},
        "tasks": {"baseline": base["tasks"], "end": end["tasks"],
                  "after_close": closed.get("tasks"), "left_after_close":
                  closed.get("left_tasks")},
        "threads": {"baseline": base["threads"], "end": end["threads"],
                    "after_close": closed.get("threads")},
        "sessions_end": end.get("sessions"), "pcs_end": end.get("pcs"),
        "pcs_open_end": end.get("pcs_open"), "drain_s": round(drained_s),
        "pcs_max_load": max((s["pcs"] for s in full), default=None),
        "objects_baseline": base.get("objects"), "objects_end": end.get("objects"),
        "task_kinds_end": end.get("task_kinds"),
        "tracemalloc_top": end.get("tracemalloc", []) if traced else [],
        "closed_ok": closed.get("closed_ok"),
    }
    joins = sum(t.joins.values())
    say()
    say(f"load: {load_s / 60:.1f} min, {joins} joins ({dict(t.joins)}), "
        f"{sum(t.leaves.values())} leaves, {t.victims} SIGKILLed client processes")
    say(f"operator actions: {dict(t.ops) or 'none'}")
    say(f"viewers that received frames: {result['viewers_with_frames']}; errors: "
        f"{dict(t.errors) or 'none'}")
    r = result["rss_mb"]
    say(f"RSS: baseline {r['baseline']} MB, after warm-up {r['after_warmup']} MB, end of load "
        f"{r['end_of_load']} MB, max {r['max']} MB -> growth {r['growth_pct']:+.2f} % "
        f"(slope {r['slope_mb_per_h']:+.2f} MB/h); after drain {r['after_drain']} MB, after "
        f"malloc_trim(0) {r['after_trim']} MB")
    say(f"fds: baseline {base['fds']}, max under load {result['fds']['max_load']}, "
        f"end {end['fds']}")
    say(f"tasks: baseline {base['tasks']}, end {end['tasks']} ({end.get('task_kinds')}), "
        f"after close {closed.get('tasks')} {closed.get('left_tasks')}")
    say(f"threads: baseline {base['threads']}, end {end['threads']}, after close "
        f"{closed.get('threads')}")
    say(f"end (after {drained_s:.0f} s drain): sessions {end.get('sessions')}, "
        f"RTCPeerConnections {end.get('pcs')} ({end.get('pcs_open')} not closed), "
        f"max under load {result['pcs_max_load']}")
    grew = {k: (base["objects"].get(k, 0), v) for k, v in end["objects"].items()
            if v != base["objects"].get(k, 0)}
    say(f"objects baseline -> end (changed only): {grew}")
    for kind, chains in (end.get("holders") or {}).items():
        for c in chains:
            say(f"  still alive: {kind} <- {c}")
    if result["tracemalloc_top"]:
        say("tracemalloc, end vs. end of warm-up:")
        for line in result["tracemalloc_top"]:
            say("  " + line)
    if far is not None:
        result["push"] = {**far.summary(), "end": push_end}
        say(f"push: partner relay started {far.starts}x, taken down {far.downs}; at the end "
            f"{push_end}")
    verdict = {
        "memory flat (growth <= 5 %)": growth <= 5.0,
        "RSS slope <= 1 %/h after warm-up": slope <= 0.01 * rss_a,
        "no sessions left": end.get("sessions") == 0,
        # the push's own connection stays, when it is connected
        "no peer connections left": end.get("pcs") == (
            1 if (end.get("push") or {}).get("state") == "connected" else 0),
        "tasks back to baseline (±2)": abs(end["tasks"] - base["tasks"]) <= 2,
        "fds back to baseline (±4)": abs(end["fds"] - base["fds"]) <= 4,
        "no task left after close": not closed.get("left_tasks"),
    }
    if far is not None:
        verdict["push connected again after the last outage"] = bool(
            push_end and push_end["state"] == "connected")
    if abuse is not None:
        result["abuse"] = abuse.report()
        say(f"abuse: {json.dumps(result['abuse'])}")
        verdict.update(abuse.verdict())
    result["verdict"] = verdict
    for k, v in verdict.items():
        say(f"  [{'ok' if v else 'FAIL'}] {k}")
    if relay.jsonl is not None:
        relay.jsonl.write(json.dumps({"type": "result", **result}) + "\n")
        relay.jsonl.close()
    if out is not None:
        json.dump({"result": result, "samples": relay.samples}, out, indent=1)
        out.close()
        say(f"samples and result: {args.out}")
    return 0 if all(verdict.values()) else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0, help="length of the load phase")
    ap.add_argument("--rate", type=float, default=1.0,
                    help="multiplier of viewer arrivals and camera drops")
    ap.add_argument("--viewers-per-hour", type=float, default=1000.0,
                    help="viewer joins per hour at --rate 1")
    ap.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    ap.add_argument("--gc-every", type=float, default=30.0,
                    help="seconds between samples that count objects (gc.collect)")
    ap.add_argument("--connect-timeout", type=float, default=20.0,
                    help="the relay's server.connect_timeout_s")
    ap.add_argument("--drain", type=float, default=120.0,
                    help="seconds the relay gets to reap what vanished at the end")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tracemalloc", action="store_true",
                    help="trace allocations in the relay after warm-up; print the top growth")
    ap.add_argument("--fix-reaper", action="store_true",
                    help="run the relay with the suggested fix of Relay._reap (see patch_reaper)")
    ap.add_argument("--fix-close", action="store_true",
                    help="run the relay with the suggested fix of Relay._close_session "
                         "(see patch_close)")
    ap.add_argument("--abuse", action="store_true",
                    help="run a misbehaving client and honest screens beside the load "
                         "(benchmarks/abuse.py)")
    ap.add_argument("--ops-every", type=float, default=120.0,
                    help="mean seconds between operator actions (curtain down/up, privacy "
                         "mode away and back to full); 0: none")
    ap.add_argument("--out", default="", help="write samples and result as JSON here")
    ap.add_argument("--jsonl", default="",
                    help="append every sample here as it comes (one JSON line each)")
    ap.add_argument("--relay-log", default=os.devnull, help="the relay's stderr")
    ap.add_argument("--push-every", type=float, default=0.0,
                    help="push bochum to a partner relay that goes away about every this "
                         "many seconds and comes back (benchmarks/farlink.py); 0: no push")
    ap.add_argument("--push-url", default="", help=argparse.SUPPRESS)
    ap.add_argument("--push-token", default="", help=argparse.SUPPRESS)
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--victim", choices=["camera", "viewer"], help=argparse.SUPPRESS)
    ap.add_argument("--count", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        # The relay process as `window serve` starts it (two glibc arenas, OpenCV without
        # its own thread pool), so the soak measures what is deployed.
        from window.tuning import limit_malloc_arenas, limit_opencv_threads

        limit_malloc_arenas()
        limit_opencv_threads()
        asyncio.run(relay_main(args))
        return 0
    if args.victim:
        logging.basicConfig(level=logging.CRITICAL)
        asyncio.run(victim_main(args))
        return 0
    logging.basicConfig(level=logging.CRITICAL)
    return asyncio.run(driver(args))


if __name__ == "__main__":
    sys.exit(main())
