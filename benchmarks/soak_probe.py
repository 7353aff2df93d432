"""The soak benchmark's relay side: the process samples itself (memory, fds, tasks, threads,
live aiortc objects) and the ``--fix-*`` patches tried on the relay (``benchmarks/soak.py``)."""

from __future__ import annotations

import asyncio
import collections
import ctypes
import gc
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from proc import proc_cpu_s  # noqa: E402

# Objects counted (after gc.collect()) in the relay, by class name.
WATCHED = {
    "RTCPeerConnection", "RTCDtlsTransport", "RTCIceTransport", "RTCIceGatherer",
    "RTCSctpTransport", "RTCRtpSender", "RTCRtpReceiver", "RTCRtpTransceiver",
    "RemoteStreamTrack", "Connection", "StunProtocol", "FeedTrack", "Session",
    "VideoFrame", "Packet", "Task", "Future", "Event", "ClientResponse", "RequestHandler",
}

def rss_kb(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0



class _Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def malloc_kb() -> dict[str, int]:
    """glibc's view of the heap (all arenas): what is in use, what is free but kept, and
    what is mmapped. RSS growth with flat ``used`` is fragmentation; growing ``used`` is
    memory someone holds."""
    try:
        f = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return {}
    f.restype = _Mallinfo2
    m = f()
    return {"heap_used_kb": (m.uordblks + m.hblkhd) // 1024, "heap_free_kb": m.fordblks // 1024,
            "mmapped_kb": m.hblkhd // 1024, "arena_kb": m.arena // 1024}


def _describe(o: Any, child: Any) -> str:
    if isinstance(o, dict):
        keys = [k for k, v in o.items() if v is child]
        return f"dict[{keys[0]!r}]" if keys else f"dict(len {len(o)})"
    if isinstance(o, (list, tuple, set, frozenset)):
        return f"{type(o).__name__}(len {len(o)})"
    if type(o).__name__ == "coroutine":
        fr = o.cr_frame
        where = f"{fr.f_code.co_filename.rsplit('/', 2)[-1]}:{fr.f_lineno}" if fr else "done"
        return f"coroutine {o.__qualname__} ({where})"
    if type(o).__name__ == "cell":
        return "cell"
    if callable(o) and hasattr(o, "__qualname__"):
        return f"{type(o).__name__} {o.__qualname__}"
    if type(o).__name__ == "method":
        return f"method {o.__func__.__qualname__}"
    return f"{type(o).__module__}.{type(o).__name__}"


def _chain(obj: Any, ignore: set[int], depth: int = 8) -> str:
    """A path of referrers from ``obj`` outwards (first referrer that is not a frame)."""
    import types as _types

    path: list[str] = []
    o, seen = obj, {id(obj), *ignore}
    for _ in range(depth):
        refs = [r for r in gc.get_referrers(o)
                if not isinstance(r, _types.FrameType) and id(r) not in seen
                and r is not path]
        if not refs:
            path.append("(no more referrers)")
            break
        # prefer something that is not a plain instance __dict__ (follow to its owner)
        r = refs[0]
        seen.add(id(r))
        seen.add(id(refs))
        path.append(_describe(r, o) + (f" +{len(refs) - 1}" if len(refs) > 1 else ""))
        o = r
    return " <- ".join(path)


def _task_label(task: asyncio.Task[Any]) -> str:
    coro = task.get_coro()
    name = getattr(coro, "__qualname__", None) or task.get_name()
    return re.sub(r"[0-9a-f]{6,}|\d+", "#", str(name))


# ---------------------------------------------------------------------------------------------
# relay side (child process)
# ---------------------------------------------------------------------------------------------
class Sampler:
    def __init__(self, server: Any) -> None:
        self.server = server
        self.t0 = time.monotonic()
        self.last_gc = float("-inf")
        self.snap0: Any = None

    def sample(self, full: bool, tag: str = "") -> dict[str, Any]:
        from window.signalling.session import SessionKind

        relay = self.server.relay if self.server is not None else None
        tasks = asyncio.all_tasks()
        s: dict[str, Any] = {
            "tag": tag,
            "t": round(time.monotonic() - self.t0, 1),
            "rss_kb": rss_kb(),
            "fds": len(os.listdir("/proc/self/fd")),
            "tasks": len(tasks),
            "threads": threading.active_count(),
            "os_threads": len(os.listdir("/proc/self/task")),
            **malloc_kb(),
            "cpu_s": round(proc_cpu_s(), 1),
        }
        if relay is not None:
            sessions = list(relay.sessions.values())
            s["sessions"] = len(sessions)
            s["publishers"] = sum(x.kind is SessionKind.PUBLISHER for x in sessions)
            s["viewers"] = sum(x.kind is SessionKind.VIEWER for x in sessions)
            s["relay_tasks"] = len(relay._tasks)
            if relay.pushes.pushes:
                p = relay.pushes.pushes[0].snapshot()
                s["push"] = {"state": p["state"], "reconnects": p["reconnects"],
                             "attempts": p["attempts"]}
            s["feeds"] = {name: {"viewers": len(f.viewers), "camera": f.publisher_id is not None,
                                 "fps_in": round(f.frames_in.rate(), 1),
                                 "fps_out": round(f.frames_out.rate(), 1)}
                          for name, f in relay.feeds.items()}
        if full:
            self.last_gc = time.monotonic()
            gc.collect()
            counts: collections.Counter[str] = collections.Counter()
            open_pcs = 0
            for o in gc.get_objects():
                name = type(o).__name__
                if name in WATCHED:
                    if name == "Session":
                        name = f"Session ({type(o).__module__})"
                    counts[name] += 1
                    if name == "RTCPeerConnection" and o.connectionState != "closed":
                        open_pcs += 1
            s["pcs"] = counts.get("RTCPeerConnection", 0)
            s["pcs_open"] = open_pcs
            s["objects"] = dict(sorted(counts.items()))
            s["gc_objects"] = len(gc.get_objects())
            s["task_kinds"] = dict(collections.Counter(_task_label(t) for t in tasks)
                                   .most_common(10))
        return s

    def holders(self, names: tuple[str, ...] = ("RTCPeerConnection", "Session", "FeedTrack"),
                limit: int = 2) -> dict[str, list[str]]:
        """For objects of these types still alive: who holds them (referrer chains)."""
        gc.collect()
        found: dict[str, list[Any]] = collections.defaultdict(list)
        everything = gc.get_objects()
        for o in everything:
            n = f"{type(o).__module__}.{type(o).__name__}"
            if type(o).__name__ in names and len(found[n]) < limit:
                found[n].append(o)
        del everything, o
        ignore = {id(found), *(id(v) for v in found.values())}
        out: dict[str, list[str]] = {}
        for n in list(found):
            out[n] = [_chain(x, ignore) for x in found[n]]
        return out

    def tracemalloc_top(self, n: int = 15) -> list[str]:
        import tracemalloc

        if not tracemalloc.is_tracing() or self.snap0 is None:
            return []
        gc.collect()
        snap = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)])
        stats = snap.compare_to(self.snap0, "lineno")
        return [str(st) for st in stats[:n]]


def patch_reaper() -> None:
    """``--fix-reaper``: the suggested fix for the reaper, to check that it is enough.

    ``Relay._reap`` keeps its loop variable ``s`` (the last session it looked at) alive in its
    frame while it sleeps; when no session follows, that closed session, its
    ``RTCPeerConnection`` with its transports and SRTP contexts and its ``FeedTrack`` stay
    alive until the next one comes. The same loop with the pass in its own function does not.
    """
    from window.relay import Relay

    async def _reap(self: Any) -> None:
        timeout = self.cfg.server.connect_timeout_s
        while True:
            await asyncio.sleep(min(5.0, timeout / 2))
            await _reap_once(self, timeout)

    async def _reap_once(self: Any, timeout: float) -> None:
        now = time.monotonic()
        for s in list(self.sessions.values()):
            state = s.pc.connectionState
            if state in ("failed", "closed"):
                await self._close_session(s, "reaped: " + state)
            elif s.connected_at is None and now - s.created > timeout:
                await self._close_session(s, "reaped: never connected")

    Relay._reap = _reap  # type: ignore[method-assign]


def patch_close() -> None:
    """``--fix-close``: the suggested fix for peers closed during their DTLS handshake.

    aiortc's ``RTCPeerConnection.__connect`` awaits the DTLS handshake, then calls
    ``sender.send()`` without checking whether ``close()`` ran meanwhile; ``close()`` already
    stopped the (not yet started) sender, so the RTCP loop started afterwards never ends and
    keeps the closed connection and its ``FeedTrack`` alive. Before closing, make ``send`` a
    no-op so nothing can start late.
    """
    from window.relay import Relay

    original = Relay._close_session

    async def _no_send(*_: Any, **__: Any) -> None:
        return None

    async def _close_session(self: Any, session: Any, reason: str) -> None:
        for t in session.pc.getTransceivers():
            t.sender.send = _no_send
        await original(self, session, reason)

    Relay._close_session = _close_session  # type: ignore[method-assign]
