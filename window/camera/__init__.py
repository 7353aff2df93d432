"""The camera agent: ``window camera --server URL --site SITE --token TOKEN [--source SPEC]``.

* ``sources``: the video sources (synthetic street with real faces, looped file, RTSP, V4L2).
* ``scene`` / ``faces`` / ``marker``: the synthetic scene, reusable by the demo and
  benchmarks, with barcode and flash latency markers.
* ``publisher``: the WHIP client that keeps the source published, with backoff.

``run_camera`` is the entry point the CLI and the demo call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import urllib.parse

from .publisher import Backoff, WhipPublisher
from .scene import TestScene
from .sources import SourceError, VideoSource, open_source, parse_spec

__all__ = ["Backoff", "SourceError", "TestScene", "VideoSource", "WhipPublisher",
           "open_source", "run_camera"]

log = logging.getLogger("window.camera")

_SITE = re.compile(r"[a-z0-9-]+")


async def run_camera(
    server: str,
    site: str,
    token: str,
    source: str = "test",
    *,
    stop: asyncio.Event | None = None,
) -> int:
    """Publish ``source`` to ``server`` for ``site`` until stopped; returns an exit code.

    0 after a clean stop (``stop`` set, SIGINT/SIGTERM, or cancellation, which is re-raised
    after the session is deleted). 2 for a bad argument: server URL, site name, or a source
    that cannot be opened at all (a missing file). Refusals by the relay (401/403/404) do
    not end the agent: it retries slowly (see ``publisher``). When ``stop`` is None the agent
    installs its own SIGINT/SIGTERM handlers; a caller that passes ``stop`` owns signals.
    """
    url = urllib.parse.urlsplit(server)
    if url.scheme not in ("http", "https") or not url.netloc:
        log.error("camera: --server must be an http(s) URL, got %r", server)
        return 2
    if not _SITE.fullmatch(site):
        log.error("camera: --site must match [a-z0-9-]+, got %r", site)
        return 2
    if not token.strip():
        log.error("camera: --token is empty")
        return 2
    try:
        spec = parse_spec(source)
        video = await asyncio.to_thread(open_source, source, label=spec.label or site)
    except (SourceError, ValueError) as exc:
        log.error("camera %s: cannot open source %r: %s", site, source, exc)
        return 2

    stop_event = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    if stop is None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stop_event.set)
                installed.append(sig)
    log.info("camera %s: publishing %s to %s", site, source if spec.kind != "rtsp" else "rtsp",
             server)
    try:
        return await WhipPublisher(server, site, token.strip(), video).run(stop_event)
    finally:
        video.stop()
        for sig in installed:
            loop.remove_signal_handler(sig)
